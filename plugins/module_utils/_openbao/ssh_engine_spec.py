# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The wanted state of the OpenBao SSH engine, from the module options: ``build_spec`` -> ``EngineSpec``.

Every problem names its option (ValidationError). One mount holds the user CA and every role;
``host_mount`` gives the host role and a CA of its own a second mount. Role TTLs are capped by
actor type (refused above the cap, never clamped); ``roles`` overrides role fields by hand.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
import re

from ansible_collections.netkingdom.warden.plugins.module_utils._inventory.actors import ACTOR_TYPES, parse_ttl_hours
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.settings import (
    PATH_RE,
    ROLE_NAME_RE,
    openbao_argument_spec,
    role_map_problems,
    split_host_role,
)
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.ssh_engine import (
    DURATION_FIELDS,
    duration_seconds,
    format_duration,
    list_items,
    normalise,
    parse_bool,
)
from ansible_collections.netkingdom.warden.plugins.module_utils._openssh.keys import parse_public_key

WHAT = 'openbao_ssh_engine options'
DEFAULT_POLICY_NAME = 'warden-ssh-signer'
DEFAULT_HOST_DOMAINS = ('*',)
DEFAULT_HOST_MAX_TTL_HOURS = 720
DEFAULT_EXTENSIONS = ('permit-pty', 'permit-port-forwarding', 'permit-agent-forwarding', 'permit-user-rc')

# ca.key_type -> (OpenBao's key_type, public key types it produces, allowed key_bits)
CA_KEY_TYPES = {
    'ed25519': ('ed25519', ('ssh-ed25519',), ()),
    'rsa': ('rsa', ('ssh-rsa',), (2048, 3072, 4096)),
    'ecdsa': ('ec', ('ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521'), (256, 384, 521)),
}
ECDSA_BITS = {256: 'ecdsa-sha2-nistp256', 384: 'ecdsa-sha2-nistp384', 521: 'ecdsa-sha2-nistp521'}

FIELD_RE = re.compile(r'^[a-z][a-z0-9_]*\Z')
ISSUER_NAME_RE = re.compile(r'^[A-Za-z0-9_-]+\Z')
POLICY_NAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]*\Z')
RESERVED_POLICIES = ('root', 'default')
RESERVED_MOUNTS = ('sys', 'auth', 'identity', 'cubbyhole')

# Fields the module sets on every role, besides ttl/max_ttl. Security-relevant fields are set to
# OpenBao's defaults explicitly, so a hand change to them is seen as drift and put back.
USER_ROLE_FIELDS = (
    ('key_type', 'ca'),
    ('allow_user_certificates', True),
    ('allow_host_certificates', False),
    # Any principal: the collection's policy gate decides which principals an actor gets before
    # every signing; the role cannot know the actor inventory.
    ('allowed_users', '*'),
    ('allow_user_key_ids', True),       # key ids embed the policy decision id
    ('allow_empty_principals', False),  # a certificate without principals is valid for every account
    ('allowed_extensions', ''),         # callers cannot ask for extensions beyond the defaults
    ('allowed_critical_options', ''),
)
HOST_ROLE_FIELDS = (
    ('key_type', 'ca'),
    ('allow_host_certificates', True),
    ('allow_user_certificates', False),
    ('allow_user_key_ids', True),       # key ids name the host
    ('allow_subdomains', True),
    ('allow_bare_domains', True),
    ('allow_empty_principals', False),
)


class EngineSpec(object):
    """The validated wanted state: ``mount``, ``host_mount``, ``cas`` (mount -> CA options), ``roles``
    (name -> fields) with ``role_mount`` (name -> mount), ``policy_name``.

    One mount holds every role and the one CA, unless ``host_mount`` differs from ``mount``: then the
    host role and a CA of its own live there (OpenBao's two-mount layout: a user CA and a host CA).
    """

    def __init__(self):
        self.mount = None
        self.host_mount = None
        self.ca = {}
        self.cas = {}
        self.roles = {}
        self.role_purpose = {}
        self.role_mount = {}
        self.overrides = {}
        self.policy_name = None
        self.role_map = {}
        self.host_role = None

    @property
    def mounts(self):
        """The mounts this spec manages, the user CA's first."""
        return [self.mount] + ([self.host_mount] if self.host_mount != self.mount else [])

    def policy_text(self):
        """The least-privilege signer policy: sign on each role, list the CA issuers, nothing else."""
        lines = ['# Managed by netkingdom.warden (openbao_ssh_engine): sign SSH certificates on mount%s %s, '
                 'nothing else.' % ('s' if len(self.mounts) > 1 else '', ' and '.join(m + '/' for m in self.mounts)),
                 '# Changes made by hand are put back on the next run.']
        for role in sorted(self.roles):
            lines += ['path "%s/sign/%s" {' % (self.role_mount[role], role), '  capabilities = ["create", "update"]',
                      '}']
        lines.append('# Every CA of the mount, so hosts can trust old and new CA during a rotation.')
        for mount in self.mounts:
            lines += ['path "%s/issuers" {' % mount, '  capabilities = ["list"]', '}']
        return '\n'.join(lines) + '\n'


def _hours_to_seconds(hours):
    return int(round(float(hours) * 3600))


def _hours(value):
    """parse_ttl_hours, and a number of seconds that fits (ValueError if not)."""
    hours = parse_ttl_hours(value)
    if math.isinf(float(hours) * 3600):
        raise ValueError('is too large, got %r' % (value,))
    return hours


def _ttl_cap_problems(field, seconds, cap_hours, kind):
    if seconds > cap_hours * 3600:
        return [(field, '%s is above the %s maximum of %dh: certificate lifetimes are capped by actor type '
                 '(adm 48h, agt 24h, atm 8h) and a longer one is refused, never clamped'
                 % (format_duration(seconds), kind, cap_hours))]
    return []


def _string_list(value, field, problems, what):
    if isinstance(value, str):
        value = list_items(value)
    if not isinstance(value, (list, tuple)) or not value:
        problems.append((field, 'must be a non-empty list of %s' % what))
        return []
    items = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item.strip() or re.search(r'[\s,]', item.strip()):
            problems.append(('%s[%d]' % (field, index), 'must be a %s without spaces or commas, got %r'
                             % (what, item)))
        else:
            items.append(item.strip())
    return items


def _ca_spec(ca, problems, field='ca'):
    """The CA options of one mount (``ca``, or ``host_ca`` for the host CA's own mount), validated."""
    ca = dict(ca or {})
    found = []
    unknown = sorted(set(ca) - set(['generate', 'key_type', 'key_bits', 'private_key', 'public_key', 'rotate',
                                    'issuer_name', 'make_default']))
    for key in unknown:
        found.append(('ca.%s' % key, 'unknown option'))
    private_key, public_key = ca.get('private_key'), ca.get('public_key')
    spec = {'key_type': ca.get('key_type') or 'ed25519', 'key_bits': ca.get('key_bits'),
            'rotate': bool(ca.get('rotate')), 'issuer_name': ca.get('issuer_name') or None,
            'make_default': bool(ca.get('make_default')), 'private_key': None, 'public_key': None}
    if private_key or public_key:
        spec['mode'] = 'import'
        if not private_key or not public_key:
            found.append(('ca', 'importing a CA needs both ca.private_key and ca.public_key'))
        if private_key and (not isinstance(private_key, str) or '-----BEGIN' not in private_key):
            found.append(('ca.private_key', 'must be a PEM or OpenSSH private key (text starting with -----BEGIN)'))
        if public_key:
            try:
                key_type = parse_public_key(public_key, 'ca.public_key')[0]
                spec['public_key'] = public_key.strip()
                spec['import_type'] = key_type
            except ValidationError as exc:
                found.extend(exc.problems)
        spec['private_key'] = private_key
        if ca.get('generate') is True:
            found.append(('ca.generate', 'cannot be true together with ca.private_key (import)'))
    elif ca.get('generate') is False:
        spec['mode'] = 'none'
    else:
        spec['mode'] = 'generate'
    if spec['key_type'] not in CA_KEY_TYPES:
        found.append(('ca.key_type', 'must be one of %s, got %r' % (', '.join(sorted(CA_KEY_TYPES)), spec['key_type'])))
    elif spec['key_bits'] is not None:
        allowed = CA_KEY_TYPES[spec['key_type']][2]
        if spec['key_bits'] not in allowed:
            found.append(('ca.key_bits', 'must be one of %s for key_type %s' % (
                ', '.join(str(b) for b in allowed) or 'nothing (unset it)', spec['key_type'])))
    name = spec['issuer_name']
    if name is not None and (not isinstance(name, str) or not ISSUER_NAME_RE.match(name) or name == 'default'):
        found.append(('ca.issuer_name', 'must be letters, digits, "-" or "_" (and not "default"), got %r' % (name,)))
    if spec['rotate'] and not name:
        found.append(('ca.rotate', 'needs ca.issuer_name: the name of the new CA issuer to add'))
    if spec['rotate'] and spec['mode'] == 'none':
        found.append(('ca.rotate', 'needs a CA to add: ca.generate or ca.private_key/ca.public_key'))
    if spec['make_default'] and not spec['rotate']:
        found.append(('ca.make_default', 'only applies with ca.rotate'))
    for where, message in found:  # the same rules name host_ca.* for the host CA's own mount
        if field != 'ca':
            where, message = field + where[2:], message.replace('ca.', field + '.')
        problems.append((where, message))
    return spec


def build_spec(options, settings):
    """An EngineSpec from the module options; ``settings`` (OpenBaoSettings) gives the fallbacks.

    Raises ValidationError naming every bad option.
    """
    problems = []
    spec = EngineSpec()
    mount = (options.get('mount') or settings.mount or 'ssh').strip().strip('/')
    if not PATH_RE.match(mount) or mount.split('/')[0] in RESERVED_MOUNTS:
        problems.append(('mount', 'must be a mount path such as "ssh" or "team/ssh", got %r' % (mount,)))
    # the host CA's mount follows the user CA's unless one is named (here, or in openbao.host_mount)
    named = settings.host_mount if settings.sources.get('host_mount') != 'default' else None
    host_mount = options.get('host_mount') or named or mount
    host_mount = host_mount.strip().strip('/') if isinstance(host_mount, str) else host_mount
    if not isinstance(host_mount, str) or not PATH_RE.match(host_mount) or host_mount.split('/')[0] in RESERVED_MOUNTS:
        problems.append(('host_mount', 'must be a mount path such as "ssh-host-signer", got %r' % (host_mount,)))
        host_mount = mount
    spec.mount, spec.host_mount = mount, host_mount
    spec.ca = _ca_spec(options.get('ca'), problems)
    spec.cas[mount] = spec.ca
    if host_mount != mount:  # with one mount, the CA of ``ca`` signs host certificates too: host_ca is unused
        spec.cas[host_mount] = _ca_spec(options.get('host_ca'), problems, 'host_ca')

    role_map = dict(settings.role_map)
    for key, value in (options.get('role_map') or {}).items():
        role_map[key] = value
    role_map, host_role, found = split_host_role(role_map, options.get('host_role') or settings.host_role,
                                                 bool(options.get('host_role')))
    problems.extend(found)
    problems.extend(role_map_problems(role_map, '', show_value=True))
    if not isinstance(host_role, str) or not ROLE_NAME_RE.match(host_role):
        problems.append(('host_role', 'must be an OpenBao SSH role name, got %r' % (host_role,)))
    names = [role_map.get(t) for t in sorted(ACTOR_TYPES)] + [host_role]
    for name in sorted(set(n for n in names if names.count(n) > 1 and isinstance(n, str))):
        problems.append(('role_map', 'role %s is named for more than one purpose (each actor type and the host role '
                         'need their own role: their TTL caps differ)' % name))
    spec.role_map, spec.host_role = role_map, host_role

    caps = dict(ACTOR_TYPES)
    given = options.get('max_ttl_hours') or {}
    if not isinstance(given, dict):
        problems.append(('max_ttl_hours', 'must be a mapping of actor type to hours'))
        given = {}
    for key in sorted(given, key=str):
        if key not in ACTOR_TYPES:
            problems.append(('max_ttl_hours.%s' % key, 'is not an actor type (adm, agt, atm)'))
            continue
        try:
            hours = _hours(given[key])
        except ValueError as exc:
            problems.append(('max_ttl_hours.%s' % key, str(exc)))
            continue
        problems.extend(_ttl_cap_problems('max_ttl_hours.%s' % key, _hours_to_seconds(hours), ACTOR_TYPES[key], key))
        caps[key] = hours
    host_hours = options.get('host_max_ttl_hours')
    host_hours = DEFAULT_HOST_MAX_TTL_HOURS if host_hours is None else host_hours
    try:
        host_hours = _hours(host_hours)
    except ValueError as exc:
        problems.append(('host_max_ttl_hours', str(exc)))
        host_hours = DEFAULT_HOST_MAX_TTL_HOURS
    domains = options.get('host_domains')
    domains = _string_list(list(DEFAULT_HOST_DOMAINS) if domains is None else domains, 'host_domains', problems,
                           'DNS domain (or *)')
    extensions = options.get('default_extensions')
    extensions = _string_list(list(DEFAULT_EXTENSIONS) if extensions is None else extensions,
                              'default_extensions', problems, 'extension name')

    for actor_type in sorted(ACTOR_TYPES):
        name = role_map.get(actor_type)
        seconds = _hours_to_seconds(caps[actor_type])
        fields = dict(USER_ROLE_FIELDS)
        fields.update(default_extensions=dict((e, '') for e in extensions), ttl=seconds, max_ttl=seconds)
        spec.roles[name] = fields
        spec.role_purpose[name] = actor_type
        spec.role_mount[name] = mount
    seconds = _hours_to_seconds(host_hours)
    fields = dict(HOST_ROLE_FIELDS)
    fields.update(allowed_domains=domains, ttl=seconds, max_ttl=seconds)
    spec.roles[host_role] = fields
    spec.role_purpose[host_role] = 'host'
    spec.role_mount[host_role] = host_mount

    _apply_overrides(spec, options.get('roles') or {}, problems)

    policy = options.get('policy_name') or DEFAULT_POLICY_NAME
    if not isinstance(policy, str) or not POLICY_NAME_RE.match(policy) or policy in RESERVED_POLICIES:
        problems.append(('policy_name', 'must be a policy name (letters, digits, ".", "_", "-"; not root or '
                         'default), got %r' % (policy,)))
    spec.policy_name = policy
    if problems:
        raise ValidationError(problems, what=WHAT)
    return spec


def _apply_overrides(spec, overrides, problems):
    if not isinstance(overrides, dict):
        problems.append(('roles', 'must be a mapping of role name to role fields'))
        return
    for name in sorted(overrides, key=str):
        fields = overrides[name]
        where = 'roles.%s' % name
        if name not in spec.roles:
            problems.append((where, 'is not a role this module manages (%s); role names come from role_map and '
                             'host_role' % ', '.join(sorted(spec.roles))))
            continue
        if not isinstance(fields, dict):
            problems.append((where, 'must be a mapping of OpenBao SSH role fields'))
            continue
        merged = dict(spec.roles[name])
        for field in sorted(fields, key=str):
            value = fields[field]
            if not isinstance(field, str) or not FIELD_RE.match(field):
                problems.append(('%s.%s' % (where, field), 'is not an OpenBao role field name'))
                continue
            try:
                normalise(field, value)
            except (ValueError, TypeError, AttributeError) as exc:
                problems.append(('%s.%s' % (where, field), str(exc)))
                continue
            if field == 'key_type' and value != 'ca':
                problems.append(('%s.key_type' % where, 'must stay "ca": this collection signs with an SSH CA'))
            elif field == 'allow_empty_principals' and parse_bool(value):
                problems.append(('%s.allow_empty_principals' % where, 'cannot be true: a certificate without '
                                 'principals is valid for every account'))
            merged[field] = duration_seconds(value) if field in DURATION_FIELDS else value
        purpose = spec.role_purpose[name]
        for field in ('ttl', 'max_ttl'):
            if field in fields and purpose in ACTOR_TYPES and field in merged and isinstance(merged[field], int):
                problems.extend(_ttl_cap_problems('%s.%s' % (where, field), merged[field], ACTOR_TYPES[purpose],
                                                  purpose))
        if isinstance(merged.get('ttl'), int) and isinstance(merged.get('max_ttl'), int) \
                and merged['ttl'] > merged['max_ttl']:
            problems.append(('%s.ttl' % where, 'must not be above max_ttl (%s > %s)'
                             % (format_duration(merged['ttl']), format_duration(merged['max_ttl']))))
        spec.roles[name] = merged
        spec.overrides[name] = sorted(fields)


CA_OPTIONS = {
    'generate': {'type': 'bool'},
    'key_type': {'type': 'str', 'default': 'ed25519', 'choices': sorted(CA_KEY_TYPES)},
    'key_bits': {'type': 'int'},
    'private_key': {'type': 'str', 'no_log': True},
    'public_key': {'type': 'str'},
    'rotate': {'type': 'bool', 'default': False},
    'issuer_name': {'type': 'str'},
    'make_default': {'type': 'bool', 'default': False},
}
ENGINE_SPEC = {
    'openbao': openbao_argument_spec(),
    'mount': {'type': 'str'},
    'host_mount': {'type': 'str'},
    'ca': {'type': 'dict', 'default': {}, 'options': CA_OPTIONS},
    'host_ca': {'type': 'dict', 'options': CA_OPTIONS},
    'role_map': {'type': 'dict'},
    'host_role': {'type': 'str'},
    'max_ttl_hours': {'type': 'dict'},
    'host_max_ttl_hours': {'type': 'float', 'default': 720},
    'host_domains': {'type': 'list', 'elements': 'str'},
    'default_extensions': {'type': 'list', 'elements': 'str'},
    'roles': {'type': 'dict', 'default': {}},
    'policy_name': {'type': 'str', 'default': DEFAULT_POLICY_NAME},
}
