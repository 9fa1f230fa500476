# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options of the ssh_cert action and lookup, and how they become a SigningService."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.netkingdom.warden.plugins.module_utils._inventory.actors import resolve_actors
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.settings import openbao_argument_spec
from ansible_collections.netkingdom.warden.plugins.module_utils._gate.gate import ACTOR_SOURCE_SPEC, Gate
from ansible_collections.netkingdom.warden.plugins.module_utils._gate.settings import GateSettings, policy_argument_spec
from ansible_collections.netkingdom.warden.plugins.module_utils._signing.service import (
    BACKENDS,
    SigningService,
    local_ca_argument_spec,
    make_backend,
)

DEFAULT_HOST_KEY = '/etc/ssh/ssh_host_ed25519_key'

SIGNING_SPEC = dict(ACTOR_SOURCE_SPEC, **{
    'policy': policy_argument_spec(),
    'backend': {'type': 'str', 'choices': list(BACKENDS)},
    'openbao': openbao_argument_spec(),
    'local_ca': local_ca_argument_spec(),
    'audit_log': {'type': 'path'},
    'subject': {'type': 'str'},
})

SSH_CERT_SPEC = dict(SIGNING_SPEC, **{
    'type': {'type': 'str', 'choices': ['user', 'host'], 'default': 'user'},
    'actor': {'type': 'str'},
    'key': {'type': 'path'},
    'public_key_path': {'type': 'path'},
    'path': {'type': 'path'},
    'principals': {'type': 'list', 'elements': 'str'},
    'ttl_hours': {'type': 'float'},
    'renew_before': {'type': 'str'},
    'force': {'type': 'bool', 'default': False},
    'generate_key': {'type': 'bool', 'default': False},
    'key_type': {'type': 'str', 'choices': ['ed25519', 'ecdsa', 'rsa'], 'default': 'ed25519'},
    'owner': {'type': 'str'},
    'group': {'type': 'str'},
    'mode': {'type': 'raw', 'default': '0644'},
})
SSH_CERT_EXCLUSIVE = [['key', 'public_key_path'], ['actors', 'inventory_file']]

_DURATION = re.compile(r'^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$')
_UNIT = {'': 3600, 'h': 3600, 's': 1, 'm': 60, 'd': 86400}


def parse_renew_before(value):
    """Seconds from ``renew_before``: a number of hours, or text with a unit (90m, 12h, 2d)."""
    if value in (None, ''):
        return None
    match = _DURATION.match(str(value))
    if not match:
        raise ValidationError([('renew_before', 'must be hours or a duration such as 90m, 12h or 2d, got %r'
                                % (value,))], what='options')
    seconds = float(match.group(1)) * _UNIT[match.group(2)]
    if seconds == float('inf'):
        raise ValidationError([('renew_before', 'is too large, got %r' % (value,))], what='options')
    return seconds


def default_key_path(args):
    if args.get('key'):
        return args['key']
    if args['type'] == 'host':
        return DEFAULT_HOST_KEY
    raise ValidationError([('key', 'give the private key path (key) or public_key_path of the user key on the host')],
                          what='options')


def build_service(args, user_cert=True, env=None):
    """A SigningService from validated options (actors, gate, backend, audit)."""
    from ansible_collections.netkingdom.warden.plugins.module_utils._audit.log import AuditLog
    actors, dummy = resolve_actors(args.get('actors'), args.get('inventory_file'))
    settings = GateSettings(args.get('policy'), env=env)
    gate = Gate(settings, actors) if user_cert else None
    backend = make_backend(args.get('backend'), args.get('openbao'), args.get('local_ca'), env=env)
    return SigningService(backend, gate=gate, audit=AuditLog(args.get('audit_log')), actors=actors,
                          settings=settings)


def result_fields(cert, decision):
    """The result keys every signing plugin returns for a certificate."""
    from ansible_collections.netkingdom.warden.plugins.module_utils._openssh.certificate import describe
    info = describe(cert)
    return {
        'serial': str(cert['serial']), 'key_id': cert['key_id'], 'principals': list(cert['principals']),
        'valid_after': info['valid_after'], 'valid_before': info['valid_before'],
        'ca_fingerprint': cert['ca_fingerprint'],
        'policy_decision_id': decision.decision_id if decision is not None else _decision_from_key_id(cert),
    }


def _decision_from_key_id(cert):
    """A kept certificate carries its decision id in the key id (warden:<actor>:decision:<hex>)."""
    key_id = cert.get('key_id') or ''
    marker = key_id.find(':decision:')
    return key_id[marker + 1:] if marker >= 0 else None
