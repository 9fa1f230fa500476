# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of the signing plugins (``SIGNING_SPEC``; ``SSH_CERT_SPEC``, ``SSHD_TRUST_SPEC`` and
``PROBE_SPEC`` for ssh_cert, sshd_trust and login_probe) and how the ones that are not plain values
read: ``renew_before``, the key on the host."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError
from ansible_collections.netkingdom.warden.plugins.module_utils._settings.durations import parse_duration
from ansible_collections.netkingdom.warden.plugins.module_utils._gate.gate import ACTOR_SOURCE_SPEC
from ansible_collections.netkingdom.warden.plugins.module_utils._gate.settings import policy_argument_spec
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.settings import openbao_argument_spec
from ansible_collections.netkingdom.warden.plugins.module_utils._openssh.certificate import CERT_TYPES
from ansible_collections.netkingdom.warden.plugins.module_utils._signing.backends import BACKENDS, local_ca_argument_spec

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
    'type': {'type': 'str', 'choices': list(CERT_TYPES.values()), 'default': 'user'},
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
SSHD_TRUST_SPEC = dict(SIGNING_SPEC, **{
    'state': {'type': 'str', 'choices': ['present', 'restore', 'verified'], 'default': 'present'},
    'pending_path': {'type': 'path', 'default': '/var/lib/warden/sshd-trust.pending'},
    'keep_backups': {'type': 'int', 'default': 5},
    'ca_keys': {'type': 'list', 'elements': 'str', 'default': []},
    'ca_path': {'type': 'path', 'default': '/etc/ssh/ca/ca_user.pub'},
    'principals': {'type': 'dict', 'default': {}},
    'principals_dir': {'type': 'path', 'default': '/etc/ssh/auth_principals'},
    'exclusive': {'type': 'bool', 'default': True},
    'dropin': {'type': 'path', 'default': '/etc/ssh/sshd_config.d/20-netkingdom-warden.conf'},
    'dropin_content': {'type': 'str'},
    'sshd_config': {'type': 'path', 'default': '/etc/ssh/sshd_config'},
    'revoked_serials': {'type': 'list', 'elements': 'str', 'default': []},
    'revoked_keys': {'type': 'list', 'elements': 'str', 'default': []},
    'krl_path': {'type': 'path', 'default': '/etc/ssh/revoked_keys'},
    'host_keys': {'type': 'list', 'elements': 'path', 'default': []},
    'signing_ca_keys': {'type': 'list', 'elements': 'str', 'default': []},
    'host_signing_ca_keys': {'type': 'list', 'elements': 'str', 'default': []},
    'host_cert_principals': {'type': 'list', 'elements': 'str'},
    'host_cert_ttl_hours': {'type': 'float'},
    'renew_before': {'type': 'str'},
    'force': {'type': 'bool', 'default': False},
    'sshd_bin': {'type': 'path', 'default': '/usr/sbin/sshd'},
    'reload_method': {'type': 'str', 'choices': ['service', 'command'], 'default': 'service'},
    'sshd_service': {'type': 'str', 'default': 'ssh'},
    'reload_command': {'type': 'str'},
    'backups': {'type': 'dict', 'default': {}},
    'actor_certs': {'type': 'list', 'elements': 'dict', 'default': [], 'options': {
        'actor': {'type': 'str', 'required': True},
        'key': {'type': 'path', 'required': True, 'no_log': False},  # a key's path, not a key
        'force': {'type': 'bool', 'default': False},
        'renew_before': {'type': 'str'},
    }},
})


PROBE_SPEC = dict(SIGNING_SPEC, **{
    'account': {'type': 'str', 'required': True},
    'principal': {'type': 'str', 'required': True},
    'actor': {'type': 'str'},
    'ttl_hours': {'type': 'float', 'default': 0.1},
    'address': {'type': 'str'},
    'port': {'type': 'int'},
    'ssh_args': {'type': 'str', 'default': ''},
    'retries': {'type': 'int', 'default': 3},
    'timeout': {'type': 'int', 'default': 10},
})

RENEW_BEFORE_UNITS = ('s', 'm', 'h', 'd')  # a bare number is hours


def parse_renew_before(value):
    """Seconds from ``renew_before``: a number of hours, or text with a unit (90m, 12h, 2d)."""
    if value in (None, ''):
        return None
    seconds = parse_duration(str(value), RENEW_BEFORE_UNITS, 'h')
    if seconds is None:
        raise ValidationError([('renew_before', 'must be hours or a duration such as 90m, 12h or 2d, got %r'
                                % (value,))], what='options')
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
