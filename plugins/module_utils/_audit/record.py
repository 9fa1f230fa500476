# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An audit record: its schema (``FIELDS``, ``EXTRA_FIELDS``, ``KINDS``), its checks and its timestamps.

A record holds metadata only: the secret guard refuses any value that looks like a token, a
key, a certificate body or a long random string, and the refusal (``AuditRefused``) names the
field and the kind of material, never the value. ``build_record`` is the one place a record is
checked and put in schema order, for the writer (``log.py``) and for a check before signing.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import math
import re

from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError, WardenError
from ansible_collections.netkingdom.warden.plugins.module_utils._audit.secret_guard import describe, find_secrets

KINDS = ('sign', 'policy', 'rotate', 'registry', 'access')

# The record schema from the design, in the order fields are written.
FIELDS = (
    'ts', 'kind', 'actor', 'actor_type', 'subject', 'host', 'principals', 'ttl_hours', 'backend',
    'serial', 'key_id', 'valid_after', 'valid_before', 'ca_fingerprint', 'pubkey_fingerprint',
    'policy_decision_id', 'outcome', 'reason',
)

# The few extra keys some events need.  None of them may hold secret material either.
EXTRA_FIELDS = (
    'cert_type',    # sign: user or host
    'account',      # rotate: the host account whose principals changed
    'gate_mode',    # sign/policy: off, embedded or flex_auth (not_gated: a host certificate)
    'policy_reason',  # sign/policy: the gate decision's reason (signing_policy_matched, policy_gate_off, ...)
    'policy_detail',  # sign/policy: why the gate could not decide (the PDP's failure), when it could not
    'old_digest',   # registry: digest of the snapshot that was replaced (sha256:...)
    'new_digest',   # registry: digest of the snapshot deployed
    'need_id',      # access: catalog entry id of the credential need
    'owner',        # access: owning subsystem / repository
    'domain',       # access: domain placeholder resolved for the route
    'action',       # access: advise, fetch or exec
    'node',         # the controller / execution node that wrote the record (filled in)
    'job_id',       # AWX job id (awx_job_id), when there is one
)
ALL_FIELDS = FIELDS + EXTRA_FIELDS

MAX_STRING = 4096   # characters in one value: the audit holds metadata, not documents
MAX_ITEMS = 256     # entries in one list value

_TS_RE = re.compile(
    r'^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?'
    r'(Z|z|[+-]\d{2}:?\d{2})?$'
)


class AuditRefused(WardenError):
    """A record was refused because a value looks like secret material; nothing was written.

    ``problems`` is a list of ``(field, kind)``; the message names both, never the value.
    """

    def __init__(self, problems):
        self.problems = list(problems)
        parts = ['%s looks like %s (%s)' % (field, describe(kind), kind) for field, kind in self.problems]
        super(AuditRefused, self).__init__(
            'audit record refused, nothing was written: %s; the audit trail holds metadata only, '
            'never a token, key, certificate body or secret value' % '; '.join(parts))

    @property
    def fields(self):
        """The refused fields."""
        return [field for field, dummy in self.problems]


def utc_now():
    """Now, as an aware UTC datetime."""
    return datetime.datetime.now(_UTC)


class _Utc(datetime.tzinfo):
    def utcoffset(self, dt):
        return datetime.timedelta(0)

    def dst(self, dt):
        return datetime.timedelta(0)

    def tzname(self, dt):
        return 'UTC'


_UTC = _Utc()


def format_ts(when=None):
    """UTC ISO-8601 with microseconds and ``Z``: ``2026-11-26T10:00:00.123456Z``."""
    when = utc_now() if when is None else when
    if when.tzinfo is not None:
        when = when.astimezone(_UTC)
    return when.strftime('%Y-%m-%dT%H:%M:%S.%fZ')


def parse_ts(text):
    """An aware UTC datetime from an ISO-8601 timestamp (no zone means UTC), or None."""
    if not isinstance(text, str):
        return None
    match = _TS_RE.match(text.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, frac, zone = match.groups()
    try:
        when = datetime.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                                 int((frac or '0').ljust(6, '0')[:6]), tzinfo=_UTC)
    except ValueError:
        return None
    if zone and zone not in ('Z', 'z'):
        sign = 1 if zone[0] == '+' else -1
        digits = zone[1:].replace(':', '')
        when -= sign * datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return when


def _check_value(field, value, problems):
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            problems.append((field, 'is longer than %d characters' % MAX_STRING))
        return
    if isinstance(value, int):
        return
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            problems.append((field, 'must be a finite number'))
        return
    if isinstance(value, (list, tuple)):
        if len(value) > MAX_ITEMS:
            problems.append((field, 'has more than %d items' % MAX_ITEMS))
        for index, item in enumerate(value):
            if not isinstance(item, str):
                problems.append(('%s[%d]' % (field, index), 'must be a string, got %s' % type(item).__name__))
            elif len(item) > MAX_STRING:
                problems.append(('%s[%d]' % (field, index), 'is longer than %d characters' % MAX_STRING))
        return
    problems.append((field, 'must be a string, number, boolean, null or a list of strings, got %s'
                     % type(value).__name__))


def build_record(fields, node=None, job_id=None):
    """Validate ``fields`` and return the record dict, in schema order, ready to write.

    The secret guard runs first, over keys and values, so no error message below
    can ever quote secret material.  Raises AuditRefused or ValidationError.
    """
    found = find_secrets(dict((str(k), v) for k, v in fields.items()))
    if found:
        raise AuditRefused(found)
    problems = []
    for name in sorted(set(fields) - set(ALL_FIELDS)):
        problems.append((name, 'unknown audit field (known: %s)' % ', '.join(ALL_FIELDS)))
    kind = fields.get('kind')
    if kind is None:
        problems.append(('kind', 'is required (one of %s)' % ', '.join(KINDS)))
    elif kind not in KINDS:
        problems.append(('kind', 'must be one of %s, got %r' % (', '.join(KINDS), kind)))
    for name in ALL_FIELDS:
        if name in fields:
            _check_value(name, fields[name], problems)
    ts = fields.get('ts')
    if ts is not None and parse_ts(ts) is None:
        problems.append(('ts', 'must be an ISO-8601 timestamp such as 2026-11-26T10:00:00Z, got %r' % (ts,)))
    ttl = fields.get('ttl_hours')
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, (int, float))):
        problems.append(('ttl_hours', 'must be a number of hours'))
    principals = fields.get('principals')
    if principals is not None and not isinstance(principals, (list, tuple)):
        problems.append(('principals', 'must be a list of strings'))
    if problems:
        raise ValidationError(problems, what='audit record')
    record = {}
    for name in ALL_FIELDS:
        if name in fields:
            value = fields[name]
            record[name] = list(value) if isinstance(value, tuple) else value
    if record.get('ts') is None:
        record['ts'] = format_ts()
    if record.get('node') is None and node:
        record['node'] = node
    if record.get('job_id') is None and job_id:
        record['job_id'] = job_id
    # schema order, ts first
    return dict((name, record[name]) for name in ALL_FIELDS if name in record)
