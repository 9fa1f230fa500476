# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``openbao`` options: validated settings with ``BAO_*`` then ``VAULT_*`` environment fallbacks.

``OpenBaoSettings(options, env)`` is what every OpenBao client, the signer and the SSH engine module
read; option names follow community.hashi_vault. Nothing here talks to OpenBao.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import math
import os
import re

try:
    from urllib.parse import urlsplit, urlunsplit
except ImportError:  # pragma: no cover - Python 2
    from urlparse import urlsplit, urlunsplit  # type: ignore

from ansible_collections.netkingdom.warden.plugins.module_utils._inventory.actors import ACTOR_TYPES
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.auth import (
    AUTH_METHODS,
    DEFAULT_KUBERNETES_TOKEN_PATH,
    WHAT,
    auth_method_for,
)
from ansible_collections.netkingdom.warden.plugins.module_utils._settings.durations import parse_duration
from ansible_collections.netkingdom.warden.plugins.module_utils._settings.values import parse_bool
from ansible_collections.netkingdom.warden.plugins.module_utils._settings.url_check import ENV as INSECURE_HTTP_ENV, url_problem

DEFAULT_ROLE_MAP = (('adm', 'adm-role'), ('agt', 'agt-role'), ('atm', 'atm-role'))

# option name -> (default, environment variables in order, kind).
# Standard OpenBao/Vault client variables where one exists (BAO_* first, then VAULT_*),
# otherwise WARDEN_OPENBAO_<OPTION>. There is no ~/.vault-token fallback: credentials are explicit.
OPENBAO_OPTIONS = {
    'url': (None, ['BAO_ADDR', 'VAULT_ADDR'], 'str'),
    'auth_method': ('token', ['WARDEN_OPENBAO_AUTH_METHOD'], 'str'),
    # WARDEN_OPENBAO_TOKEN first: the collection's signing token has a variable of its own, so it is never
    # taken for "the caller's own token" (BAO_TOKEN / VAULT_TOKEN) by the credential lookup.
    'token': (None, ['WARDEN_OPENBAO_TOKEN', 'BAO_TOKEN', 'VAULT_TOKEN'], 'str'),
    'token_env': (None, [], 'str'),
    'role_id': (None, ['BAO_ROLE_ID', 'VAULT_ROLE_ID'], 'str'),
    'secret_id': (None, ['BAO_SECRET_ID', 'VAULT_SECRET_ID'], 'str'),
    'jwt': (None, ['WARDEN_OPENBAO_JWT'], 'str'),
    'username': (None, ['WARDEN_OPENBAO_USERNAME'], 'str'),
    'password': (None, ['WARDEN_OPENBAO_PASSWORD'], 'str'),
    'mount_point': (None, ['WARDEN_OPENBAO_MOUNT_POINT'], 'str'),
    'kubernetes_token_path': (DEFAULT_KUBERNETES_TOKEN_PATH, ['WARDEN_OPENBAO_KUBERNETES_TOKEN_PATH'], 'path'),
    'cert_auth_public_key': (None, ['BAO_CLIENT_CERT', 'VAULT_CLIENT_CERT'], 'path'),
    'cert_auth_private_key': (None, ['BAO_CLIENT_KEY', 'VAULT_CLIENT_KEY'], 'path'),
    'namespace': (None, ['BAO_NAMESPACE', 'VAULT_NAMESPACE'], 'str'),
    'ca_cert': (None, ['BAO_CACERT', 'BAO_CAPATH', 'VAULT_CACERT', 'VAULT_CAPATH'], 'path'),
    'validate_certs': (True, ['BAO_SKIP_VERIFY', 'VAULT_SKIP_VERIFY'], 'bool'),
    'timeout': (10.0, ['BAO_CLIENT_TIMEOUT', 'VAULT_CLIENT_TIMEOUT'], 'duration'),
    'retries': (2, ['BAO_MAX_RETRIES', 'VAULT_MAX_RETRIES'], 'int'),
    'mount': ('ssh', ['WARDEN_OPENBAO_MOUNT'], 'str'),
    # The host CA's own mount (OpenBao's two-mount layout); default: the user CA's mount.
    'host_mount': (None, ['WARDEN_OPENBAO_HOST_MOUNT'], 'str'),
    'role_map': (None, ['WARDEN_OPENBAO_ROLE_MAP'], 'dict'),
    'host_role': ('host-role', ['WARDEN_OPENBAO_HOST_ROLE'], 'str'),
    'allow_insecure_http': (False, [INSECURE_HTTP_ENV], 'bool'),
}
# The role_map key that names the host role (the same as host_role).
HOST_ROLE_KEY = 'host'
# Environment variables that mean the opposite of their option.
INVERTED_ENV = frozenset(['BAO_SKIP_VERIFY', 'VAULT_SKIP_VERIFY'])
SECRET_OPENBAO_OPTIONS = ('token', 'secret_id', 'jwt', 'password')
# Options that identify the logged-in session (everything else may differ between signers sharing it).
SESSION_OPTIONS = ('url', 'namespace', 'ca_cert', 'validate_certs', 'timeout', 'auth_method', 'token', 'role_id',
                   'secret_id', 'jwt', 'username', 'password', 'mount_point', 'kubernetes_token_path',
                   'cert_auth_public_key', 'cert_auth_private_key')
ARGSPEC_TYPES = {'str': 'str', 'path': 'path', 'bool': 'bool', 'int': 'int', 'duration': 'float', 'dict': 'dict'}

PATH_RE = re.compile(r'^[A-Za-z0-9_-][A-Za-z0-9._-]*(?:/[A-Za-z0-9_-][A-Za-z0-9._-]*)*\Z')
NAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._@-]*\Z')
ENV_NAME_RE = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*\Z')
TIMEOUT_UNITS = ('ms', 's', 'm', 'h')  # a bare number is seconds


def split_host_role(role_map, host_role, host_role_given, prefix=''):
    """``(actor role map, host role, problems)``: ``role_map.host`` is another name for ``host_role``.

    ops-warden keeps every role name in one map; the collection also has ``host_role``. Both may be
    given when they agree; the actor-type map returned never holds the ``host`` key.
    """
    role_map = dict(role_map or {})
    problems = []
    if HOST_ROLE_KEY in role_map:
        named = role_map.pop(HOST_ROLE_KEY)
        if host_role_given and named != host_role:
            problems.append(('%srole_map.host' % prefix, 'names the host role %r, but %shost_role says %r: give '
                             'one of them' % (named, prefix, host_role)))
        else:
            host_role = named
    return role_map, host_role, problems


def openbao_argument_spec():
    """The ``openbao`` option (a dict) for action plugins and modules.

    Defaults and environment fallbacks are applied by OpenBaoSettings, not by the argument
    spec, and there is no default dict: the validator would fill one in place.
    """
    options = {}
    for name, (dummy, dummy2, kind) in OPENBAO_OPTIONS.items():
        options[name] = {'type': ARGSPEC_TYPES[kind], 'no_log': name in SECRET_OPENBAO_OPTIONS}
    options['auth_method']['choices'] = sorted(AUTH_METHODS)
    return {'type': 'dict', 'options': options}


def redact_url(url):
    """The URL without user:password, for messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return '<unparseable url>'
    if parts.username or parts.password:
        host = parts.hostname or ''
        if parts.port:
            host += ':%d' % parts.port
        parts = parts._replace(netloc=host)
    return urlunsplit(parts._replace(query='', fragment=''))


def _problem(name, message):
    return ValidationError([('openbao.%s' % name, message)], what=WHAT)


def _shown(name, value):
    """How a bad value may appear in a message: secrets never do."""
    return 'a %s' % type(value).__name__ if name in SECRET_OPENBAO_OPTIONS else repr(value)


def _coerce(name, value, kind):
    if kind == 'bool':
        parsed = parse_bool(value)
        if parsed is None:
            raise _problem(name, 'must be a boolean, got %s' % _shown(name, value))
        return parsed
    if kind == 'int':
        if isinstance(value, bool):
            raise _problem(name, 'must be a whole number, got a boolean')
        try:
            number = int(str(value).strip()) if not isinstance(value, int) else value
        except (TypeError, ValueError):
            raise _problem(name, 'must be a whole number, got %s' % _shown(name, value))
        if number < 0:
            raise _problem(name, 'must not be negative, got %d' % number)
        return number
    if kind == 'duration':
        if isinstance(value, bool):
            raise _problem(name, 'must be a number of seconds, got a boolean')
        if isinstance(value, (int, float)):
            try:
                seconds = float(value)
            except OverflowError:  # an int too large for a float
                raise _problem(name, 'is too large, got %r' % (value,))
        else:
            seconds = parse_duration(str(value), TIMEOUT_UNITS, 's')
            if seconds is None:
                raise _problem(name, 'must be a number of seconds (or "<n>s", "<n>m"), got %s' % _shown(name, value))
        if math.isnan(seconds) or math.isinf(seconds) or seconds <= 0:
            raise _problem(name, 'must be greater than 0')
        return seconds
    if kind == 'dict':
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise _problem(name, 'must be a mapping (or a JSON object in the environment variable)')
        if not isinstance(value, dict):
            raise _problem(name, 'must be a mapping, got %s' % type(value).__name__)
        return dict(value)
    if not isinstance(value, str):
        raise _problem(name, 'must be a string, got %s' % type(value).__name__)
    return os.path.expanduser(value) if kind == 'path' else value


class OpenBaoSettings(object):
    """Validated ``openbao`` options: explicit value, else environment, else default.

    ``require_auth=False`` skips the auth method's checks, for callers that only read the
    unauthenticated CA public key or health; ``OpenBaoSigner.login()`` checks them anyway.
    """

    def __init__(self, options=None, env=None, require_auth=True):
        options = dict(options or {})
        env = os.environ if env is None else env
        unknown = sorted(set(options) - set(OPENBAO_OPTIONS))
        if unknown:
            raise ValidationError([('openbao.%s' % k, 'unknown option (known: %s)' % ', '.join(sorted(OPENBAO_OPTIONS)))
                                   for k in unknown], what=WHAT)
        self.sources = {}
        token_env = options.get('token_env')
        for name, (default, env_names, kind) in OPENBAO_OPTIONS.items():
            if name == 'token' and isinstance(token_env, str) and ENV_NAME_RE.match(token_env):
                env_names = [token_env] + [e for e in env_names if e != token_env]  # ops-warden's vault.token_env
            value, source = options.get(name), 'option'
            if value is None:
                for env_name in env_names:
                    if env.get(env_name) not in (None, ''):
                        value, source = env[env_name], env_name
                        break
            if value is None:
                value, source = default, 'default'
            else:
                value = _coerce(name, value, kind)
                if source in INVERTED_ENV:
                    value = not value
            setattr(self, name, value)
            self.sources[name] = source
        self._normalize()
        problems = self._problems()
        if require_auth and not problems:
            problems = auth_method_for(self).problems()
        if problems:
            raise ValidationError(problems, what=WHAT)

    def _normalize(self):
        if isinstance(self.url, str):
            self.url = self.url.strip().rstrip('/')
        for name in ('mount', 'host_mount', 'mount_point', 'namespace'):
            value = getattr(self, name)
            if isinstance(value, str):
                setattr(self, name, value.strip().strip('/') or None)
        if self.host_mount is None:
            self.host_mount = self.mount
        if isinstance(self.auth_method, str):
            self.auth_method = self.auth_method.strip().lower()
        role_map = dict(DEFAULT_ROLE_MAP)
        role_map.update(self.role_map or {})
        self.role_map, self.host_role, self._host_problems = split_host_role(
            role_map, self.host_role, self.sources.get('host_role') != 'default', 'openbao.')

    def _problems(self):
        problems = []
        if not self.url:
            problems.append(('openbao.url', 'is required: the OpenBao API address, e.g. '
                             'https://openbao.example.internal:8200%s' % self.env_hint('url')))
        elif url_problem(self.url, self.allow_insecure_http, 'openbao.allow_insecure_http'):
            problems.append(('openbao.url', url_problem(self.url, self.allow_insecure_http,
                                                        'openbao.allow_insecure_http')))
        if self.token_env is not None and not ENV_NAME_RE.match(self.token_env):
            problems.append(('openbao.token_env', 'must be the name of an environment variable (letters, digits '
                             'and _), got %r' % (self.token_env,)))
        if self.auth_method not in AUTH_METHODS:
            problems.append(('openbao.auth_method', 'must be one of %s, got %r'
                             % (', '.join(sorted(AUTH_METHODS)), self.auth_method)))
        if not self.mount or not PATH_RE.match(self.mount):
            problems.append(('openbao.mount', 'must be a mount path such as "ssh" or "team/ssh"'))
        if not self.host_mount or not PATH_RE.match(self.host_mount):
            problems.append(('openbao.host_mount', 'must be a mount path such as "ssh-host-signer"'))
        problems.extend(self._host_problems)
        if self.mount_point and not PATH_RE.match(self.mount_point):
            problems.append(('openbao.mount_point', 'must be an auth mount path such as "approle"'))
        if self.namespace and not PATH_RE.match(self.namespace):
            problems.append(('openbao.namespace', 'must be a namespace path such as "team" or "org/team"'))
        if not isinstance(self.host_role, str) or not NAME_RE.match(self.host_role):
            problems.append(('openbao.host_role', 'must be an OpenBao SSH role name'))
        for key in sorted(self.role_map, key=str):
            role = self.role_map[key]
            if key not in ACTOR_TYPES:
                problems.append(('openbao.role_map.%s' % key, 'is not an actor type (adm, agt, atm) or host'))
            elif not isinstance(role, str) or not NAME_RE.match(role):
                problems.append(('openbao.role_map.%s' % key, 'must be an OpenBao SSH role name'))
        if self.ca_cert and not os.path.exists(self.ca_cert):
            problems.append(('openbao.ca_cert', 'CA bundle %s does not exist' % self.ca_cert))
        return problems

    def env_hint(self, name):
        names = OPENBAO_OPTIONS[name][1]
        if name == 'token' and self.token_env and ENV_NAME_RE.match(self.token_env):
            names = [self.token_env] + [e for e in names if e != self.token_env]
        if not names:
            return ''
        return ' (or set %s)' % ' / '.join(names)

    def secret_values(self):
        """The secret option values (to scrub from any text shown to a user)."""
        return [getattr(self, n) for n in SECRET_OPENBAO_OPTIONS if getattr(self, n, None)]

    def session_key(self):
        """Identifies a logged-in session; a digest, so no secret sits in a cache key."""
        material = json.dumps([getattr(self, n) for n in SESSION_OPTIONS], sort_keys=True, default=str)
        return hashlib.sha256(material.encode('utf-8')).hexdigest()

    def __repr__(self):
        return '<OpenBaoSettings url=%s auth_method=%s mount=%s>' % (
            redact_url(self.url or ''), self.auth_method, self.mount)
