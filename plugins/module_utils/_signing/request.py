# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What to sign: ``cert_request`` validates a user or host certificate request before any call
(narrowing only, never more than the inventory allows), and the key id sshd will log for it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.netkingdom.warden.plugins.module_utils._inventory.actors import parse_ttl_hours
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError
from ansible_collections.netkingdom.warden.plugins.module_utils._gate.rules import requested_ttl_hours
from ansible_collections.netkingdom.warden.plugins.module_utils._openssh.certificate import CERT_TYPES
from ansible_collections.netkingdom.warden.plugins.module_utils._openssh.keys import CERT_SUFFIX, fingerprint_blob, parse_public_key

DEFAULT_HOST_TTL_HOURS = 720


def cert_request(cert_type, actors=None, actor=None, principals=None, ttl_hours=None, host_names=None):
    """What to sign, validated before any call. Narrowing only: never more than the inventory allows.

    User certificates: the actor's principals from the inventory (``principals`` may narrow them)
    and a TTL of ``ttl_hours``, by default the actor's inventory ``ttl_hours``. The TTL rule is the
    gate's (0 < ttl <= the actor type's maximum, docs/policy-gate.md): any finite number is passed on
    for the gate to judge, so 0 or 49 hours for an adm is a ``ttl_out_of_bounds`` deny with a
    decision id and an audit line; ``SigningService.issue`` applies the same rule again before it
    signs (gate off, or fail-open). Never clamped. Host certificates: ``principals`` default to the
    host's names.
    """
    if cert_type not in CERT_TYPES.values():
        raise ValidationError([('type', "must be 'user' or 'host', got %r" % (cert_type,))], what='options')
    if cert_type == 'host':
        names = principals or [n for n in (host_names or []) if n]
        if not names:
            raise ValidationError([('principals', 'a host certificate needs at least one host name')], what='options')
        ttl = DEFAULT_HOST_TTL_HOURS if ttl_hours is None else _ttl(ttl_hours)
        return {'cert_type': 'host', 'actor': None, 'actor_type': None,
                'principals': sorted(set(names)), 'ttl_hours': ttl}
    if not actor:
        raise ValidationError([('actor', 'is required for a user certificate')], what='options')
    record = (actors or {}).get(actor)
    if record is None:
        raise ValidationError([('actor', '%r is not in the actor inventory (warden_actors / inventory_file)' % actor)],
                              what='options')
    allowed = list(record['principals'])
    wanted = allowed if principals is None else list(principals)
    extra = sorted(set(wanted) - set(allowed))
    if extra:
        raise ValidationError([('principals', '%s not allowed for %s (allowed: %s)'
                                % (', '.join(extra), actor, ', '.join(allowed)))], what='options')
    if not wanted:
        raise ValidationError([('principals', 'must not be empty')], what='options')
    ttl = record['ttl_hours'] if ttl_hours is None else requested_ttl_hours(ttl_hours)
    return {'cert_type': 'user', 'actor': actor, 'actor_type': record['type'],
            'principals': sorted(set(wanted)), 'ttl_hours': ttl}


def _ttl(value):
    try:
        return parse_ttl_hours(value)
    except ValueError as exc:
        raise ValidationError([('ttl_hours', str(exc))], what='options')


def key_id_for(request, decision_id, host):
    """The key id sshd logs at every login: traceable to the actor and the policy decision."""
    if request['cert_type'] == 'host':
        return 'warden:host:%s' % host
    return 'warden:%s:%s' % (request['actor'], decision_id or 'no-decision')


def plain_public_key(text, field='public_key'):
    """Validate a plain public key line; return ``(line, fingerprint)``."""
    key_type, blob, comment = parse_public_key(text, field)
    if key_type.endswith(CERT_SUFFIX):
        raise ValidationError([(field, 'is a certificate; give the plain public key')], what='public key')
    return text.strip(), fingerprint_blob(blob)
