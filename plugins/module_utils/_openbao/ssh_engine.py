# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ensure the OpenBao SSH secrets engine the collection signs with: mount, CA, roles, signer policy.

``build_spec(options, settings)`` validates the module options into an ``EngineSpec`` (every
problem names its option). ``SshEngine(client, spec, check_mode).ensure()`` reads what OpenBao
has, compares it with what is wanted after normalising OpenBao's answers (TTLs come back as
seconds, lists as comma strings, booleans and maps as JSON), and writes only what differs.
A second run against a converged server makes read requests only.

The CA is never replaced: writing ``config/ca`` on a mount that has a CA silently adds a new
issuer and makes it the default, so the CA is read first and created only when the mount has
none. A different CA than asked for is reported (a warning), not overwritten. An explicit
rotation (``ca.rotate`` with ``ca.issuer_name``) adds a named issuer beside the current one.

``client`` is an ``openbao.OpenBaoSigner`` (its ``request_json``/``read``/``write`` helpers).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import math
import re

from ansible_collections.netkingdom.warden.plugins.module_utils._inventory.actors import ACTOR_TYPES, parse_ttl_hours
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError, WardenError
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.client import OpenBaoRequestError
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.settings import ROLE_NAME_RE as NAME_RE, PATH_RE, split_host_role
from ansible_collections.netkingdom.warden.plugins.module_utils._openssh.keys import fingerprint, parse_public_key
from ansible_collections.netkingdom.warden.plugins.module_utils._settings.durations import parse_duration

WHAT = 'openbao_ssh_engine options'
DEFAULT_POLICY_NAME = 'warden-ssh-signer'
DEFAULT_HOST_DOMAINS = ('*',)
DEFAULT_HOST_MAX_TTL_HOURS = 720
DEFAULT_EXTENSIONS = ('permit-pty', 'permit-port-forwarding', 'permit-agent-forwarding', 'permit-user-rc')
MOUNT_DESCRIPTION = 'SSH CA of netkingdom.warden (policy-gated certificates)'

# ca.key_type -> (OpenBao's key_type, public key types it produces, allowed key_bits)
CA_KEY_TYPES = {
    'ed25519': ('ed25519', ('ssh-ed25519',), ()),
    'rsa': ('rsa', ('ssh-rsa',), (2048, 3072, 4096)),
    'ecdsa': ('ec', ('ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521'), (256, 384, 521)),
}
ECDSA_BITS = {256: 'ecdsa-sha2-nistp256', 384: 'ecdsa-sha2-nistp384', 521: 'ecdsa-sha2-nistp521'}

# How OpenBao reports SSH role fields, for comparing a wanted role with the one it has.
DURATION_FIELDS = frozenset(['ttl', 'max_ttl', 'not_before_duration'])
LIST_FIELDS = frozenset(['allowed_users', 'allowed_domains', 'allowed_extensions', 'allowed_critical_options'])
MAP_FIELDS = frozenset(['default_extensions', 'default_critical_options', 'allowed_user_key_lengths'])
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


class SshEngineError(WardenError):
    """The SSH engine cannot be brought to the wanted state (the message says why and what to do)."""


# --- values ---------------------------------------------------------------------------------------
def duration_seconds(value):
    """Seconds of a role duration: a number of seconds, ``"90"``, ``"24h"``, ``"1h30m"``. ValueError if not."""
    if isinstance(value, bool) or value is None:
        raise ValueError('must be a duration such as 24h, 90m or a number of seconds')
    if isinstance(value, (int, float)):
        try:
            seconds = float(value)
        except OverflowError:  # an int too large for a float
            raise ValueError('is too large, got %r' % (value,))
    else:
        seconds = parse_duration(str(value).strip().lower(), ('h', 'm', 's'), 's', compound=True)
        if seconds is None:
            raise ValueError('must be a duration such as 24h, 90m or a number of seconds, got %r' % (value,))
    if math.isnan(seconds) or math.isinf(seconds) or seconds < 0 or seconds != int(seconds):
        raise ValueError('must be a whole, non-negative number of seconds, got %r' % (value,))
    return int(seconds)


def format_duration(seconds):
    """``86400`` -> ``24h``, ``5400`` -> ``90m``, ``45`` -> ``45s``."""
    for unit, size in (('h', 3600), ('m', 60)):
        if seconds and seconds % size == 0:
            return '%d%s' % (seconds // size, unit)
    return '%ds' % seconds


def _items(value):
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        parts = value
    else:
        parts = str(value).split(',')
    return [str(p).strip() for p in parts if str(p).strip()]


def _bool(value):
    if isinstance(value, bool) or value is None:
        return bool(value)
    text = str(value).strip().lower()
    if text in ('1', 'true', 'yes', 'on', 'y', 't'):
        return True
    if text in ('0', 'false', 'no', 'off', 'n', 'f', ''):
        return False
    raise ValueError('must be a boolean, got %r' % (value,))


def _plain(value):
    """A JSON-stable form of an arbitrary value, for fields this module has no rule for."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return int(value) if float(value).is_integer() else float(value)
    if isinstance(value, dict):
        return dict((str(k), _plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    text = str(value).strip()
    if re.match(r'^-?\d+$', text):
        return int(text)
    return text


def normalise(field, value, like=None):
    """The comparable form of a role field, from a wanted value or from OpenBao's answer.

    ``like`` is OpenBao's own value of the field (when known): fields without a rule here
    are compared in the shape OpenBao reports them (a boolean, a number, a string).
    """
    if field in DURATION_FIELDS:
        return duration_seconds(value)
    if field in LIST_FIELDS:
        return sorted(set(_items(value)))
    if field == 'default_extensions' or field == 'default_critical_options':
        return dict((str(k), '' if v is None else str(v)) for k, v in (value or {}).items())
    if field in MAP_FIELDS:
        return _plain(value or {})
    if isinstance(value, bool) or isinstance(like, bool) or field.startswith('allow_') or field.endswith('_template'):
        return _bool(value)
    if isinstance(like, str) and isinstance(value, (list, tuple)):
        return ','.join(_items(value))
    return _plain(value)


def shown(field, value):
    """How a normalised field value reads in a message or a diff."""
    if field in DURATION_FIELDS and isinstance(value, int):
        return format_duration(value)
    if field in LIST_FIELDS:
        return ','.join(value) if value else '(none)'
    if field == 'default_extensions':
        return ','.join(sorted(value)) if value else '(none)'
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return '""' if value == '' else str(value)


def write_form(field, value):
    """The value as it is sent to OpenBao."""
    if field in DURATION_FIELDS:
        return '%ds' % duration_seconds(value)
    if field in LIST_FIELDS:
        return ','.join(_items(value))
    if field == 'default_extensions' or field == 'default_critical_options':
        return dict((str(k), '' if v is None else str(v)) for k, v in (value or {}).items())
    return value


def key_material(text):
    """``(key_type, blob)`` of an OpenSSH public key line (the comment does not count)."""
    key_type, blob, dummy = parse_public_key(text)
    return key_type, blob


# --- options ----------------------------------------------------------------------------------------
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
        value = _items(value)
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
    for key in sorted(role_map, key=str):
        if key not in ACTOR_TYPES:
            problems.append(('role_map.%s' % key, 'is not an actor type (adm, agt, atm) or host'))
        elif not isinstance(role_map[key], str) or not NAME_RE.match(role_map[key]):
            problems.append(('role_map.%s' % key, 'must be an OpenBao SSH role name, got %r' % (role_map[key],)))
    if not isinstance(host_role, str) or not NAME_RE.match(host_role):
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
            elif field == 'allow_empty_principals' and _bool(value):
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


# --- ensuring -----------------------------------------------------------------------------------------
class SshEngine(object):
    """Reads, compares and (unless ``check_mode``) writes. ``ensure()`` returns the result dict."""

    def __init__(self, client, spec, check_mode=False):
        self.client = client
        self.spec = spec
        self.check_mode = check_mode
        self.changes = []
        self.diffs = []
        self.warnings = []
        self.existing = set()  # mounts that exist (or were just mounted)

    # --- helpers
    def _say(self, present, past, rest):
        self.changes.append('%s %s' % ('would %s' % present if self.check_mode else past, rest))

    def _diff(self, header, before, after):
        self.diffs.append({'before_header': header, 'after_header': header, 'before': before, 'after': after})

    def _optional(self, method, path, missing_words=()):
        """A read that may find nothing: None on 404, or on 400 with one of ``missing_words``."""
        try:
            return self.client.request_json(method, path, missing=(404,))
        except OpenBaoRequestError as exc:
            text = '; '.join(exc.errors).lower()
            if exc.status == 400 and any(w in text for w in missing_words):
                return None
            raise

    # --- mount
    def ensure_mount(self, mount):
        info = self._optional('get', 'sys/mounts/%s' % mount, ('no secret engine mount', 'no mount'))
        if info is not None:
            data = info.get('data') or info
            kind = data.get('type')
            if kind != 'ssh':
                raise SshEngineError('%s/ is a %s secrets engine, not ssh: choose another mount (option mount or '
                                     'host_mount) or remove that engine by hand; it is never replaced'
                                     % (mount, kind or 'unknown'))
            self.existing.add(mount)
            return
        self._say('mount', 'mounted', 'the SSH secrets engine at %s/' % mount)
        self._diff('mount %s/' % mount, '', 'type: ssh\ndescription: %s\n' % MOUNT_DESCRIPTION)
        if not self.check_mode:
            self.client.write('sys/mounts/%s' % mount, {'type': 'ssh', 'description': MOUNT_DESCRIPTION})
            self.existing.add(mount)

    # --- CA
    def _read_ca(self, mount):
        if mount not in self.existing:
            return None
        answer = self._optional('get', '%s/config/ca' % mount,
                                ('no default issuer', "haven't been configured", 'not been configured',
                                 'no ca', 'not configured'))
        if answer is None:
            issuers = self.client.list_keys('%s/issuers' % mount)
            if issuers:
                raise SshEngineError('%s/ has %d CA issuer(s) but no default one: choose the default by hand '
                                     '(bao write %s/config/issuers default=<issuer>); the module never picks a CA'
                                     % (mount, len(issuers), mount))
            return None
        key = ((answer.get('data') or {}).get('public_key') or '').strip()
        return key or None

    @staticmethod
    def _ca_body(ca):
        if ca['mode'] == 'import':
            return {'private_key': ca['private_key'], 'public_key': ca['public_key']}
        body = {'generate_signing_key': True, 'key_type': CA_KEY_TYPES[ca['key_type']][0]}
        if ca['key_bits']:
            body['key_bits'] = ca['key_bits']
        return body

    @staticmethod
    def _ca_label(ca, key):
        """The CA as it reads in a message: its fingerprint, or what will make it (check mode)."""
        if key:
            return fingerprint(key)
        if ca['mode'] == 'import':
            return fingerprint(ca['public_key'])
        return 'key to be generated by OpenBao'

    @staticmethod
    def _ca_kind(ca):
        if ca['mode'] == 'import':
            return 'the imported %s CA' % ca.get('import_type', 'SSH')
        bits = '%d-bit ' % ca['key_bits'] if ca['key_bits'] else ''
        return 'a new %s%s CA' % (bits, ca['key_type'])

    def _create_ca(self, mount, ca, name=None):
        """Write a new CA (``config/ca``, or ``issuers/import/<name>`` for a named issuer); return its public key.

        In check mode nothing is written: the key is known only for an import (else None).
        """
        if self.check_mode:
            return ca['public_key'] if ca['mode'] == 'import' else None
        path = '%s/issuers/import/%s' % (mount, name) if name else '%s/config/ca' % mount
        answer = self.client.write(path, self._ca_body(ca))
        key = ((answer or {}).get('data') or {}).get('public_key')
        if not key:  # read it back: the named issuer, or the mount's (new, only) CA
            again = self.client.read('%s/issuer/%s' % (mount, name) if name else '%s/config/ca' % mount)
            key = (again or {}).get('public_key') or ''
        key = key.strip()
        if not key:
            raise SshEngineError('OpenBao answered POST %s without a CA public key' % path)
        return key

    def ensure_ca(self, mount=None):
        """Create the mount's CA only where it has none; never replace one. Returns its default CA public key."""
        mount = mount or self.spec.mount
        ca = self.spec.cas[mount]
        current = self._read_ca(mount)
        if current is None:
            if ca['mode'] == 'none':
                raise SshEngineError('%s/ has no CA and ca.generate is false with no ca.private_key to import: '
                                     'nothing can sign. Let the module generate one or import one' % mount)
            name = ca['issuer_name']
            key = self._create_ca(mount, ca, name)
            label = self._ca_label(ca, key)
            self._say('create', 'created', '%s on %s/%s (%s): the mount had no CA'
                      % (self._ca_kind(ca), mount, ' as issuer %s' % name if name else '', label))
            self._diff('ca %s/' % mount, '', 'fingerprint: %s\n' % label)
            return key
        self._compare_ca(mount, ca, current)
        if ca['rotate']:
            return self._rotate(mount, ca, current)
        return current

    def _compare_ca(self, mount, ca, current):
        """Report (never fix) a CA that is not the one the options describe."""
        have_type = key_material(current)[0]
        if ca['mode'] == 'import' and ca['public_key'] and not ca['rotate']:
            if key_material(ca['public_key']) != key_material(current):
                self.warnings.append(
                    'the CA on %s/ (%s) is not the one in ca.public_key (%s); it is kept: the module never replaces '
                    'a CA (that would lock out every host that trusts it). To move to another CA, add it with '
                    'ca.rotate and ca.issuer_name, distribute trust, then set ca.make_default'
                    % (mount, fingerprint(current), fingerprint(ca['public_key'])))
        elif ca['mode'] == 'generate' and not ca['rotate']:
            wanted = CA_KEY_TYPES[ca['key_type']][1]
            if ca['key_type'] == 'ecdsa' and ca['key_bits']:
                wanted = (ECDSA_BITS[ca['key_bits']],)
            if have_type not in wanted:
                self.warnings.append(
                    'the CA on %s/ is %s (%s), ca.key_type asks for %s; it is kept: the module never replaces a CA. '
                    'To move to another CA, add it with ca.rotate and ca.issuer_name, distribute trust, then set '
                    'ca.make_default' % (mount, have_type, fingerprint(current), ca['key_type']))

    def _rotate(self, mount, ca, current):
        """Ensure the issuer ``ca.issuer_name`` exists beside the current CA (and is the default when asked)."""
        name = ca['issuer_name']
        issuer = self._optional('get', '%s/issuer/%s' % (mount, name), ('unable to find issuer',))
        issuer = None if issuer is None else (issuer.get('data') or {})
        if issuer is None:
            key = self._create_ca(mount, ca, name)
            label = self._ca_label(ca, key)
            self._say('add', 'added', '%s as issuer %s on %s/ (%s) beside the current CA %s; hosts must trust it '
                      'before it becomes the default' % (self._ca_kind(ca), name, mount, label, fingerprint(current)))
            self._diff('ca %s/ issuer %s' % (mount, name), '', 'fingerprint: %s\n' % label)
            issuer_id, issuer_key = None, key
        else:
            issuer_id, issuer_key = issuer.get('issuer_id'), (issuer.get('public_key') or '').strip()
            if ca['mode'] == 'import' and issuer_key and key_material(issuer_key) != key_material(ca['public_key']):
                self.warnings.append('CA issuer %s on %s/ (%s) is not the one in ca.public_key (%s); it is kept: '
                                     'an issuer is never replaced' % (name, mount, fingerprint(issuer_key),
                                                                      fingerprint(ca['public_key'])))
        if not ca['make_default']:
            return current
        default_id = None
        if mount in self.existing:
            default_id = ((self.client.read('%s/config/issuers' % mount) or {}).get('default'))
        if issuer_id is not None and default_id == issuer_id:
            return issuer_key or current
        new_label = fingerprint(issuer_key) if issuer_key else '(issuer %s)' % name
        self._say('make', 'made', 'CA issuer %s the default on %s/ (new certificates are signed by %s; the previous '
                  'CA %s stays trusted where it is installed)' % (name, mount, new_label, fingerprint(current)))
        self._diff('ca %s/ default issuer' % mount, 'fingerprint: %s\n' % fingerprint(current),
                   'fingerprint: %s\n' % new_label)
        if not self.check_mode:
            self.client.write('%s/config/issuers' % mount, {'default': name})
        return issuer_key or current

    # --- roles
    def ensure_roles(self):
        for name in sorted(self.spec.roles):
            self._ensure_role(name, self.spec.roles[name])

    def _ensure_role(self, name, wanted):
        mount = self.spec.role_mount[name]
        path = '%s/roles/%s' % (mount, name)
        current = self.client.read(path) if mount in self.existing else None
        purpose = self.spec.role_purpose[name]
        kind = 'host certificates' if purpose == 'host' else '%s user certificates' % purpose
        body = dict((f, write_form(f, v)) for f, v in wanted.items())
        if current is None:
            self._say('create', 'created', 'role %s on %s/ (%s, ttl = max_ttl = %s)'
                      % (name, mount, kind, format_duration(wanted['max_ttl'])))
            self._diff('role %s' % path, '', self._render(name, wanted, sorted(wanted)))
            if not self.check_mode:
                self.client.write(path, body)
                if self.spec.overrides.get(name):
                    self._check_fields(name, self.client.read(path) or {})
            return
        self._check_fields(name, current)
        differing = []
        for field in sorted(wanted):
            if field not in current:  # a field this OpenBao does not report (overrides were checked above)
                continue
            have = normalise(field, current.get(field), current.get(field))
            want = normalise(field, wanted[field], current.get(field))
            if have != want:
                differing.append((field, have, want))
        if not differing:
            return
        words = ', '.join('%s %s -> %s' % (f, shown(f, h), shown(f, w)) for f, h, w in differing)
        self._say('update', 'updated', 'role %s on %s/ (it had drifted): %s' % (name, mount, words))
        self._diff('role %s' % path,
                   ''.join('%s: %s\n' % (f, shown(f, h)) for f, h, dummy in differing),
                   ''.join('%s: %s\n' % (f, shown(f, w)) for f, dummy, w in differing))
        if not self.check_mode:
            self.client.write(path, body)

    def _check_fields(self, name, current):
        unknown = [f for f in self.spec.overrides.get(name, ()) if f not in current]
        if unknown:
            raise SshEngineError('roles.%s: OpenBao does not know the role field(s) %s (it reports: %s)'
                                 % (name, ', '.join(unknown), ', '.join(sorted(current))))

    @staticmethod
    def _render(name, wanted, fields):
        return ''.join('%s: %s\n' % (f, shown(f, normalise(f, wanted[f]))) for f in fields)

    # --- policy
    def ensure_policy(self):
        name = self.spec.policy_name
        path = 'sys/policies/acl/%s' % name
        wanted = self.spec.policy_text()
        current = self.client.read(path)
        have = None if current is None else (current.get('policy') or '')
        if have is not None and have.strip() == wanted.strip():
            return
        verb = ('write', 'wrote') if have is None else ('rewrite', 'rewrote')
        self._say(verb[0], verb[1], 'policy %s (%s)' % (name, '; '.join(
            'create/update on %s/sign/{%s}, list on %s/issuers'
            % (mount, ','.join(sorted(r for r in self.spec.roles if self.spec.role_mount[r] == mount)), mount)
            for mount in self.spec.mounts)))
        self._diff('policy %s' % name, have or '', wanted)
        if not self.check_mode:
            self.client.write(path, {'policy': wanted}, method='put')

    # --- all
    def ensure(self):
        keys = {}
        for mount in self.spec.mounts:
            self.ensure_mount(mount)
            keys[mount] = self.ensure_ca(mount)
        key, host_key = keys[self.spec.mount], keys[self.spec.host_mount]
        self.ensure_roles()
        self.ensure_policy()
        roles = dict((name, dict((f, normalise(f, v)) for f, v in fields.items()))
                     for name, fields in self.spec.roles.items())
        purposes = dict(self.spec.role_purpose)
        return {
            'changed': bool(self.changes),
            'changes': list(self.changes),
            'ca_public_key': key,
            'ca_fingerprint': fingerprint(key) if key else None,
            'mount': self.spec.mount,
            'host_ca_public_key': host_key,
            'host_ca_fingerprint': fingerprint(host_key) if host_key else None,
            'host_mount': self.spec.host_mount,
            'policy_name': self.spec.policy_name,
            'policy': self.spec.policy_text(),
            'roles': dict((name, dict(fields, purpose=purposes[name])) for name, fields in roles.items()),
            'warnings': list(self.warnings),
            'diff': list(self.diffs),
        }
