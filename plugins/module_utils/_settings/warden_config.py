# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read an existing ops-warden ``warden.yaml`` and map it onto the collection's options.

The play variable ``warden_config`` (or the environment variable ``WARDEN_CONFIG``) names the
file; its values sit under the task and the play variables, above the environment
(``_settings/layers.py``). What the file may hold is the table ``FIELDS`` (plus ``ALIASES``):
every key of ops-warden's documented ``warden.yaml``. A mapped field is validated and converted
(relative paths against the file's directory); ops-warden's own defaults fill what the file
leaves out where they differ from the collection's (``ops_warden_defaults``); a field with no
equivalent (``NO_EQUIVALENT``) or an unknown one is a warning, never a failure; a local-CLI field
(``LOCAL_CLI``) is ignored; a secret is an error that never shows the value (secrets reach the
controller as environment variables). Pure logic, no Ansible import.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib
import os
import re

from ansible_collections.netkingdom.warden.plugins.module_utils._inventory.actors import ACTOR_TYPES, load_yaml_text
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError
from ansible_collections.netkingdom.warden.plugins.module_utils._settings.resolver import ENV_NAME_RE, parse_bool
from ansible_collections.netkingdom.warden.plugins.module_utils._audit.secret_guard import describe, find_secrets

CONFIG_VARIABLE = 'warden_config'
CONFIG_ENV = 'WARDEN_CONFIG'
INVENTORY_NAME = 'inventory.yaml'  # ops-warden keeps it beside warden.yaml (~/.config/warden/)
OPS_WARDEN_INVENTORY = '~/.config/warden/inventory.yaml'  # ops-warden's default inventory_path
AUDIT_NAME = 'audit.jsonl'  # the collection's audit file inside ops-warden's state_dir


# warden.yaml field -> (option, sub-option or None, kind). The option names are the collection's.
FIELDS = {
    'backend': ('backend', None, 'backend'),
    'ca_key': ('local_ca', 'key_path', 'path'),  # ops-warden's local CA key (local backend)
    'inventory': ('inventory_file', None, 'path'),
    'audit_log': ('audit_log', None, 'path'),
    'state_dir': ('audit_log', None, 'state_dir'),
    'policy.enabled': ('policy', 'mode', 'enabled'),
    'policy.mode': ('policy', 'mode', 'mode'),
    'policy.flex_auth_url': ('policy', 'url', 'url'),
    'policy.tenant': ('policy', 'tenant', 'str'),
    'policy.fail_closed': ('policy', 'fail_closed', 'bool'),
    'policy.subject': ('subject', None, 'str'),
    'policy.subject_env': ('policy', 'subject_env', 'env_name'),
    'policy.system': ('policy', 'system', 'str'),
    'policy.timeout': ('policy', 'timeout', 'seconds'),
    'policy.retries': ('policy', 'retries', 'count'),
    'policy.ca_cert': ('policy', 'ca_cert', 'path'),
    'policy.validate_certs': ('policy', 'validate_certs', 'bool'),
    'policy.registry': ('policy', 'registry', 'path'),
    'vault.addr': ('openbao', 'url', 'url'),
    'vault.mount': ('openbao', 'mount', 'str'),
    'vault.roles': ('openbao', 'role_map', 'role_map'),
    'vault.host_role': ('openbao', 'host_role', 'str'),
    'vault.host_mount': ('openbao', 'host_mount', 'str'),
    'vault.token_env': ('openbao', 'token_env', 'env_name'),
    'vault.namespace': ('openbao', 'namespace', 'str'),
    'vault.ca_cert': ('openbao', 'ca_cert', 'path'),
    'vault.skip_verify': ('openbao', 'validate_certs', 'inverse_bool'),
    'vault.timeout': ('openbao', 'timeout', 'seconds'),
    'vault.retries': ('openbao', 'retries', 'count'),
    'vault.auth_method': ('openbao', 'auth_method', 'auth_method'),
    'vault.auth_mount': ('openbao', 'mount_point', 'str'),
    'vault.role_id': ('openbao', 'role_id', 'str'),
    'local.ca_key': ('local_ca', 'key_path', 'path'),
    'local.create': ('local_ca', 'create', 'bool'),
    'local.key_type': ('local_ca', 'key_type', 'key_type'),
}
# Other spellings of the same field (section or full field) -> the name in FIELDS.
SECTION_ALIASES = {'openbao': 'vault', 'local_ca': 'local'}
ALIASES = {
    'inventory_file': 'inventory',
    'inventory_path': 'inventory',  # ops-warden's name
    'vault.address': 'vault.addr',
    'vault.url': 'vault.addr',
    'vault.role_map': 'vault.roles',
    'local.key_path': 'local.ca_key',
}
# Secret fields: never read from a file; where the secret comes from instead.
SECRET_FIELDS = {
    'policy.token': 'the environment variable WARDEN_POLICY_TOKEN',
    'vault.token': 'the environment variable vault.token_env names, or WARDEN_OPENBAO_TOKEN (the AWX credential '
                   'type injects it there), or warden_openbao.token from Ansible Vault',
    'vault.secret_id': 'the environment variable BAO_SECRET_ID or VAULT_SECRET_ID',
    'vault.jwt': 'the environment variable WARDEN_OPENBAO_JWT',
    'vault.password': 'the environment variable WARDEN_OPENBAO_PASSWORD',
    'local.passphrase': 'the environment variable WARDEN_LOCAL_CA_PASSPHRASE',
}
# ops-warden fields with no equivalent here: a warning names each, with what to do instead.
NO_EQUIVALENT = {
    'vault.token_file': 'the collection never reads a token file (no ~/.vault-token fallback): inject BAO_TOKEN '
                        'or VAULT_TOKEN, or log in with openbao.auth_method',
    'signatures_log': 'the collection writes one audit trail (audit_log); signatures.log is left as it is',
    'access_audit_log': 'the collection writes one audit trail (audit_log); access-audit.log is left as it is',
    'ttl_hours': "certificate lifetimes come from each actor's ttl_hours in the inventory, at most 48/24/8 hours "
                 'for adm/agt/atm',
    'default_ttl_hours': "certificate lifetimes come from each actor's ttl_hours in the inventory, at most "
                         '48/24/8 hours for adm/agt/atm',
    'catalog': 'set warden_routing_catalog (or WARDEN_ROUTING_CATALOG) for the credential lookups',
}
DEFAULT_FLEX_AUTH_URL = 'http://127.0.0.1:8080'
# Purely local-CLI concerns of the ops-warden command line: accepted and ignored.
LOCAL_CLI = ('color', 'editor', 'log_level', 'output', 'version', 'worker')
DERIVED = ('enabled', 'state_dir')  # fields that only fill an option no other field sets
KNOWN = sorted(set(FIELDS) | set(ALIASES) | set(['vault.validate_certs']) | set(NO_EQUIVALENT) | set(LOCAL_CLI))


def _known_for(name):
    """The known fields of the section ``name`` is in (for a top-level name: the top-level ones)."""
    if '.' in name:
        section = name.split('.', 1)[0] + '.'
        return [k for k in KNOWN if k.startswith(section)]
    return [k for k in KNOWN if '.' not in k] + ['local:', 'policy:', 'vault: (or openbao:)']


class WardenConfig(object):
    """A loaded warden.yaml: ``options`` (collection option -> value), ``warnings``, ``ignored``,
    ``defaults`` (ops-warden's defaults for what the file leaves out: option (dotted) -> (value, env names))."""

    def __init__(self, path, options, warnings, ignored, fields, defaults=None):
        self.path = path
        self.options = options
        self.warnings = warnings
        self.ignored = ignored
        self.fields = fields  # collection option (dotted) -> the warden.yaml field it came from
        self.defaults = defaults or {}

    def get(self, option):
        return self.options.get(option)


def _fail(path, problems):
    raise ValidationError(problems, what='warden_config file %s' % path)


# The option groups' names and lists are imported when a file is read, not with this module: every
# plugin loads it (plugin_utils/task_vars.py), most runs without a warden.yaml.

def ops_warden_defaults():
    """ops-warden's defaults where they differ from the collection's: option (dotted) -> (value, the
    environment variables that win over it, the file field that implies it or None). Applied by
    fill_options, under the environment: they replace the collection's defaults, nothing more."""
    from ansible_collections.netkingdom.warden.plugins.module_utils._gate.settings import POLICY
    from ansible_collections.netkingdom.warden.plugins.module_utils._signing.backends import BACKEND_ENV
    return {
        'backend': ('local', (BACKEND_ENV,), None),
        'policy.url': (DEFAULT_FLEX_AUTH_URL, tuple(POLICY.env_names('url')), 'policy.mode'),  # the file enables the gate
    }


def _resolve_path(value, base):
    value = os.path.expanduser(value)
    if not os.path.isabs(value):
        value = os.path.join(base, value)
    return os.path.normpath(value)


def _convert(value, kind, base):
    """(value, problem): the option value for one field, or why it is wrong (never echoing secrets;
    the document was scanned for secret-looking values before this runs)."""
    from ansible_collections.netkingdom.warden.plugins.module_utils._gate.settings import MODES
    from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.auth import AUTH_METHODS
    from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.settings import HOST_ROLE_KEY
    from ansible_collections.netkingdom.warden.plugins.module_utils._signing.backends import BACKENDS
    if kind in ('bool', 'inverse_bool', 'enabled'):
        parsed = parse_bool(value) if isinstance(value, (bool, str)) else None
        if parsed is None:
            return None, 'must be true or false, got %r' % (value,)
        if kind == 'inverse_bool':
            return not parsed, None
        if kind == 'enabled':
            return ('flex_auth' if parsed else None), None
        return parsed, None
    if kind in ('seconds', 'count'):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None, 'must be a number, got %r' % (value,)
        if kind == 'count':
            if int(value) != value or value < 0:
                return None, 'must be a whole number of 0 or more, got %r' % (value,)
            return int(value), None
        if value <= 0:
            return None, 'must be a number of seconds greater than 0, got %r' % (value,)
        return float(value), None
    if kind == 'role_map':
        if not isinstance(value, dict) or not value:
            return None, 'must be a mapping of actor type (adm, agt, atm) to an OpenBao SSH role name'
        for actor_type, role in value.items():
            if actor_type not in ACTOR_TYPES and actor_type != HOST_ROLE_KEY:  # the host role, like host_role
                return None, 'unknown actor type %r (expected adm, agt, atm, or host for the host role)' % (actor_type,)
            if not isinstance(role, str) or not role.strip():
                return None, 'the role for %s must be a non-empty string' % actor_type
        return dict(value), None
    if not isinstance(value, str) or not value.strip():
        return None, 'must be a non-empty string, got %r' % (value,)
    value = value.strip()
    if kind in ('path', 'state_dir'):
        return _resolve_path(value, base), None
    if kind == 'url':
        if not value.startswith(('http://', 'https://')):
            return None, 'must start with http:// or https://, got %r' % (value,)
        return value.rstrip('/'), None
    if kind == 'backend':
        backends = dict([(name, name) for name in BACKENDS], vault='openbao')  # and ops-warden's name for OpenBao
        if value not in backends:
            return None, 'must be one of vault, openbao, local, got %r' % (value,)
        return backends[value], None
    if kind == 'mode':
        if value not in MODES:
            return None, 'must be one of %s, got %r' % (', '.join(MODES), value)
        return value, None
    if kind == 'auth_method':
        if value not in AUTH_METHODS:
            return None, 'must be one of %s, got %r' % (', '.join(sorted(AUTH_METHODS)), value)
        return value, None
    if kind == 'key_type':
        if value not in ('ed25519', 'ecdsa', 'rsa'):
            return None, 'must be one of ed25519, ecdsa, rsa, got %r' % (value,)
    if kind == 'env_name':
        if not ENV_NAME_RE.match(value):
            return None, 'must be the name of an environment variable (letters, digits and _), got %r' % (value,)
    return value, None


def _flatten(data, problems):
    """{dotted field: value} for the document: top-level scalars and one level of sections."""
    flat = {}
    for key, value in data.items():
        if not isinstance(key, str):
            problems.append(('%r' % (key,), 'field names must be strings'))
            continue
        section = SECTION_ALIASES.get(key, key)
        is_section = section in ('policy', 'vault', 'local')
        if is_section and value is not None:
            if not isinstance(value, dict):
                problems.append((key, 'must be a mapping of %s fields, got %s' % (section, type(value).__name__)))
                continue
            for sub, sub_value in value.items():
                name = '%s.%s' % (section, sub)
                flat.setdefault(name, []).append(('%s.%s' % (key, sub), sub_value))
        elif not is_section:
            flat.setdefault(key, []).append((key, value))
    return flat


def parse_config(data, path, exists=os.path.exists):
    """Map a parsed warden.yaml document (``data``) read from ``path`` onto collection options.

    Returns a WardenConfig; raises ValidationError naming the file and every bad field.
    """
    base = os.path.dirname(os.path.abspath(path))
    if data is None:
        data = {}
    if not isinstance(data, dict):
        _fail(path, [('', 'must be a mapping of warden.yaml fields, got %s' % type(data).__name__)])
    problems = []
    # Secrets first, so no later message can repeat one: the secret guard over every field and value,
    # then the fields that hold secrets by name, whatever their shape.
    for where, kind in find_secrets(data):
        problems.append((where, 'holds what looks like %s (%s); secrets are never read from warden.yaml, '
                         'the value is not shown: remove it and inject it as an environment variable'
                         % (describe(kind), kind)))
    if problems:
        _fail(path, problems)
    flat = _flatten(data, problems)
    options = {}
    fields = {}
    warnings = []
    ignored = []
    mapped = []  # (canonical field, where, value), primary fields before derived ones
    for name in sorted(flat):
        values = [(where, value) for where, value in flat[name] if value is not None]
        if not values:
            continue  # an empty field (``token:``) is no value at all
        where, value = values[0]
        if len(values) > 1:
            problems.append((values[1][0], 'is given twice (also as %s)' % where))
            continue
        if name in SECRET_FIELDS:
            problems.append((where, 'is a secret and is never read from warden.yaml (the value is not shown): '
                             'remove it and use %s' % SECRET_FIELDS[name]))
        elif name in NO_EQUIVALENT:
            warnings.append('%s: field %s has no equivalent in netkingdom.warden and is ignored: %s'
                            % (path, where, NO_EQUIVALENT[name]))
        elif name in LOCAL_CLI:
            ignored.append(where)
        elif name == 'vault.validate_certs':  # the positive spelling of vault.skip_verify
            parsed = parse_bool(value) if isinstance(value, (bool, str)) else None
            mapped.append(('vault.skip_verify', where, (not parsed) if parsed is not None else value))
        elif ALIASES.get(name, name) in FIELDS:
            mapped.append((ALIASES.get(name, name), where, value))
        else:
            warnings.append(_unknown_warning(path, where, name))
    mapped.sort(key=lambda item: FIELDS[item[0]][2] in DERIVED)
    for canonical, where, value in mapped:
        option, sub, kind = FIELDS[canonical]
        target = '%s.%s' % (option, sub) if sub else option
        if target in fields:
            if kind not in DERIVED:
                problems.append((where, 'is given twice (also as %s)' % fields[target]))
            continue  # policy.mode wins over policy.enabled, audit_log over state_dir
        converted, problem = _convert(value, kind, base)
        if problem:
            problems.append((where, problem))
            continue
        if converted is None:  # policy.enabled: false leaves the mode to the play, the environment or the default
            continue
        if kind == 'state_dir':
            converted = os.path.join(converted, AUDIT_NAME)
        if target == 'local_ca.key_path':
            problem = _key_mode_problem(converted)
            if problem:
                problems.append((where, problem))
                continue
        if sub:
            options.setdefault(option, {})[sub] = converted
        else:
            options[option] = converted
        fields[target] = where
    if problems:
        _fail(path, problems)
    if 'inventory_file' not in options:
        for candidate, how in ((os.path.join(base, INVENTORY_NAME), '(%s beside warden.yaml)' % INVENTORY_NAME),
                               (os.path.expanduser(OPS_WARDEN_INVENTORY), "(ops-warden's default inventory_path)")):
            if exists(candidate):
                options['inventory_file'] = candidate
                fields['inventory_file'] = how
                break
    defaults = {}
    for target, (value, env_names, implied_by) in ops_warden_defaults().items():
        option, dummy, sub = target.partition('.')
        given = options.get(option, {}).get(sub) if sub else options.get(option)
        if given is None and (implied_by is None or _implies(options, implied_by, target)):
            defaults[target] = (value, env_names)
    return WardenConfig(path, options, warnings, ignored, fields, defaults)


def _key_mode_problem(path):
    """ops-warden keeps its CA key at mode 600: one open to group or others is refused (as ssh refuses an
    unprotected private key). A key that does not exist yet (local.create) is checked when it is made."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    if mode & 0o077:
        return 'CA key %s is open to group or others (mode %04o): chmod 600 it' % (path, mode & 0o7777)
    return None


def _implies(options, field, target):
    """Whether the file's ``field`` calls for ops-warden's default of ``target`` (only the remote gate
    needs a PDP address: the file turned it on)."""
    option, dummy, sub = field.partition('.')
    return target == 'policy.url' and options.get(option, {}).get(sub) == 'flex_auth'


def _unknown_warning(path, where, name):
    close = difflib.get_close_matches(name, KNOWN, n=3, cutoff=0.6)
    hint = ('; did you mean %s?' % ' or '.join(close)) if close else \
        ' (known: %s)' % ', '.join(_known_for(name))
    return '%s: field %s is not a setting netkingdom.warden uses and is ignored%s' % (path, where, hint)


_CACHE = {}


def load_config(path):
    """Read, validate and map the warden.yaml at ``path`` (cached while the file is unchanged)."""
    if not isinstance(path, str) or not path.strip():
        raise ValidationError([(CONFIG_VARIABLE, 'must be the path of an ops-warden warden.yaml')], what='options')
    path = os.path.abspath(os.path.expanduser(path.strip()))
    try:
        stat = os.stat(path)
    except OSError as exc:
        raise ValidationError([(CONFIG_VARIABLE, 'cannot read %s: %s' % (path, exc.strerror))], what='options')
    key = (path, stat.st_mtime_ns, stat.st_size)
    if key in _CACHE:
        return _CACHE[key]
    try:
        with open(path, 'rb') as handle:
            text = handle.read().decode('utf-8')
    except (IOError, OSError) as exc:
        raise ValidationError([(CONFIG_VARIABLE, 'cannot read %s: %s' % (path, exc.strerror))], what='options')
    except UnicodeDecodeError:
        _fail(path, [('', 'is not UTF-8 text')])
    try:
        data = load_yaml_text(text, path)
    except ValidationError as exc:
        # the parser's message quotes the offending line, which could hold a secret: keep only where
        detail = exc.problems[0][1] if exc.problems else ''
        line = re.search(r'line [0-9]+', detail)
        _fail(path, [('', 'is not valid YAML%s' % ((' (near %s)' % line.group(0)) if line else ''))])
    config = parse_config(data, path)
    _CACHE[key] = config
    return config
