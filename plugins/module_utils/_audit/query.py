# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading the audit trail back: ``query`` (the activity module's options are ``ACTIVITY_SPEC``).

Records come from the current file and its rotated copies, oldest first, read under a shared
lock so a rotation cannot interleave, never through a symbolic link; lines that are not a JSON
object are skipped and counted.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import errno
import fcntl
import fnmatch
import json
import math
import os

from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError
from ansible_collections.netkingdom.warden.plugins.module_utils._audit.files import AuditError, log_files, open_flags, resolve_path
from ansible_collections.netkingdom.warden.plugins.module_utils._audit.record import KINDS, parse_ts, utc_now


class AuditRecords(list):
    """The records a query returned (oldest first, newest last), with what was read."""

    def __init__(self, records=(), skipped_lines=0, files=()):
        super(AuditRecords, self).__init__(records)
        self.skipped_lines = skipped_lines
        self.files = list(files)


def _read_all(path):
    """Bytes of every file, oldest first, read under a shared lock so a rotation cannot interleave."""
    lock_fd = -1
    try:
        lock_fd = os.open(path + '.lock', open_flags('O_RDONLY', 'O_CLOEXEC', 'O_NOFOLLOW'))
        fcntl.flock(lock_fd, fcntl.LOCK_SH)
    except OSError:
        lock_fd = -1  # no writer yet, or a read-only copy: read without the lock
    try:
        chunks = []
        files = []
        for name in log_files(path):
            try:
                # never through a planted link: its target's JSON lines would come back as records
                fd = os.open(name, open_flags('O_RDONLY', 'O_CLOEXEC', 'O_NOFOLLOW'))
                with os.fdopen(fd, 'rb') as handle:
                    chunks.append(handle.read())
                files.append(name)
            except (IOError, OSError) as exc:
                if exc.errno == errno.ELOOP:
                    raise AuditError('the audit log %s is a symbolic link; refusing to read through it' % name)
                if exc.errno != errno.ENOENT:
                    raise AuditError('cannot read the audit log %s: %s' % (name, exc.strerror))
        return chunks, files
    finally:
        if lock_fd >= 0:
            os.close(lock_fd)


def _matcher(name, wanted):
    if wanted is None:
        return None
    if not isinstance(wanted, str) or wanted == '':
        raise ValidationError([(name, 'must be a non-empty string')], what='audit query')
    if any(ch in wanted for ch in '*?['):
        return lambda value: isinstance(value, str) and fnmatch.fnmatchcase(value, wanted)
    return lambda value: value == wanted


def query(path=None, days=None, kind=None, actor=None, host=None, limit=None, now=None):
    """Records of the audit log (current and rotated files), oldest first, newest last.

    - ``days``: only records whose ``ts`` is within the last ``days`` days (a record without a
      readable ``ts`` is then left out);
    - ``kind``: one of ``KINDS``, or a list of them;
    - ``actor`` / ``host``: exact match, or a shell-style pattern with ``*``, ``?``, ``[...]``;
    - ``limit``: only the newest ``limit`` matching records.

    Lines that are not a JSON object are skipped and counted in ``.skipped_lines``.
    Returns an AuditRecords list (``.skipped_lines``, ``.files``).
    """
    problems = []
    if days is not None and (isinstance(days, bool) or not isinstance(days, (int, float)) or days < 0
                             or math.isnan(days) or math.isinf(days)):
        problems.append(('days', 'must be a non-negative number of days, got %r' % (days,)))
    kinds = None
    if kind is not None:
        kinds = [kind] if isinstance(kind, str) else list(kind)
        bad = [k for k in kinds if k not in KINDS]
        if bad or not kinds:
            problems.append(('kind', 'must be one of %s, got %r' % (', '.join(KINDS), kind)))
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        problems.append(('limit', 'must be a positive integer, got %r' % (limit,)))
    try:
        match_actor = _matcher('actor', actor)
        match_host = _matcher('host', host)
    except ValidationError as exc:
        problems.extend(exc.problems)
    if problems:
        raise ValidationError(problems, what='audit query')
    path = resolve_path(path)
    cutoff = None
    if days is not None:
        cutoff = (now or utc_now()) - datetime.timedelta(days=days)

    chunks, files = _read_all(path)
    records = []
    skipped = 0
    for chunk in chunks:
        for raw in chunk.split(b'\n'):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw.decode('utf-8'))
            except ValueError:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
                skipped += 1
                continue
            if not isinstance(record, dict):
                skipped += 1
                continue
            if kinds is not None and record.get('kind') not in kinds:
                continue
            if match_actor is not None and not match_actor(record.get('actor')):
                continue
            if match_host is not None and not match_host(record.get('host')):
                continue
            if cutoff is not None:
                when = parse_ts(record.get('ts'))
                if when is None or when < cutoff:
                    continue
            records.append(record)
    if limit is not None and len(records) > limit:
        records = records[-limit:]
    return AuditRecords(records, skipped_lines=skipped, files=files)


# -- the activity action's options ------------------------------------------------------------------

ACTIVITY_SPEC = {
    'path': {'type': 'path', 'aliases': ['audit_log']},
    'days': {'type': 'float'},
    'kind': {'type': 'str', 'choices': list(KINDS)},
    'actor': {'type': 'str'},
    'host': {'type': 'str'},
    'limit': {'type': 'int'},
}
