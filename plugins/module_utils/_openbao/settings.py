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
from ansible_collections.netkingdom.warden.plugins.module_utils._settings.resolver import ENV_NAME_RE, Option, OptionGroup
from ansible_collections.netkingdom.warden.plugins.module_utils._settings.url_check import ENV as INSECURE_HTTP_ENV, url_problem

DEFAULT_ROLE_MAP = (('adm', 'adm-role'), ('agt', 'agt-role'), ('atm', 'atm-role'))

# Standard OpenBao/Vault client variables where one exists (BAO_* first, then VAULT_*),
# otherwise WARDEN_OPENBAO_<OPTION>. There is no ~/.vault-token fallback: credentials are explicit.
OPENBAO = OptionGroup('openbao', {
    'url': Option(None, ['BAO_ADDR', 'VAULT_ADDR']),
    'auth_method': Option('token', ['WARDEN_OPENBAO_AUTH_METHOD'], choices=sorted(AUTH_METHODS)),
    # WARDEN_OPENBAO_TOKEN first: the collection's signing token has a variable of its own, so it is never
    # taken for "the caller's own token" (BAO_TOKEN / VAULT_TOKEN) by the credential lookup.
    'token': Option(None, ['WARDEN_OPENBAO_TOKEN', 'BAO_TOKEN', 'VAULT_TOKEN'], secret=True),
    'token_env': Option(None, []),  # ops-warden's vault.token_env: a variable read before the token's own
    'role_id': Option(None, ['BAO_ROLE_ID', 'VAULT_ROLE_ID']),
    'secret_id': Option(None, ['BAO_SECRET_ID', 'VAULT_SECRET_ID'], secret=True),
    'jwt': Option(None, ['WARDEN_OPENBAO_JWT'], secret=True),
    'username': Option(None, ['WARDEN_OPENBAO_USERNAME']),
    'password': Option(None, ['WARDEN_OPENBAO_PASSWORD'], secret=True),
    'mount_point': Option(None, ['WARDEN_OPENBAO_MOUNT_POINT']),
    'kubernetes_token_path': Option(DEFAULT_KUBERNETES_TOKEN_PATH, ['WARDEN_OPENBAO_KUBERNETES_TOKEN_PATH'], 'path'),
    'cert_auth_public_key': Option(None, ['BAO_CLIENT_CERT', 'VAULT_CLIENT_CERT'], 'path'),
    'cert_auth_private_key': Option(None, ['BAO_CLIENT_KEY', 'VAULT_CLIENT_KEY'], 'path'),
    'namespace': Option(None, ['BAO_NAMESPACE', 'VAULT_NAMESPACE']),
    'ca_cert': Option(None, ['BAO_CACERT', 'BAO_CAPATH', 'VAULT_CACERT', 'VAULT_CAPATH'], 'path'),
    'validate_certs': Option(True, ['BAO_SKIP_VERIFY', 'VAULT_SKIP_VERIFY'], 'bool', env_negates=True),
    'timeout': Option(10.0, ['BAO_CLIENT_TIMEOUT', 'VAULT_CLIENT_TIMEOUT'], 'duration'),
    'retries': Option(2, ['BAO_MAX_RETRIES', 'VAULT_MAX_RETRIES'], 'count'),
    'mount': Option('ssh', ['WARDEN_OPENBAO_MOUNT']),
    # The host CA's own mount (OpenBao's two-mount layout); default: the user CA's mount.
    'host_mount': Option(None, ['WARDEN_OPENBAO_HOST_MOUNT']),
    'role_map': Option(None, ['WARDEN_OPENBAO_ROLE_MAP'], 'dict'),
    'host_role': Option('host-role', ['WARDEN_OPENBAO_HOST_ROLE']),
    'allow_insecure_http': Option(False, [INSECURE_HTTP_ENV], 'bool'),
}, WHAT)
# The role_map key that names the host role (the same as host_role).
HOST_ROLE_KEY = 'host'
# Options that identify the logged-in session (everything else may differ between clients sharing it).
SESSION_OPTIONS = ('url', 'namespace', 'ca_cert', 'validate_certs', 'timeout', 'auth_method', 'token', 'role_id',
                   'secret_id', 'jwt', 'username', 'password', 'mount_point', 'kubernetes_token_path',
                   'cert_auth_public_key', 'cert_auth_private_key')

PATH_RE = re.compile(r'^[A-Za-z0-9_-][A-Za-z0-9._-]*(?:/[A-Za-z0-9_-][A-Za-z0-9._-]*)*\Z')
ROLE_NAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._@-]*\Z')  # an OpenBao SSH role name


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


def role_map_problems(role_map, prefix='', show_value=False):
    """``(field, message)`` for each entry of an actor-type role map (``host`` already split off by
    ``split_host_role``) that is not an actor type with an OpenBao SSH role name; ``show_value`` adds
    the bad role name to the message."""
    problems = []
    for key in sorted(role_map, key=str):
        role = role_map[key]
        if key not in ACTOR_TYPES:
            problems.append(('%srole_map.%s' % (prefix, key), 'is not an actor type (adm, agt, atm) or host'))
        elif not isinstance(role, str) or not ROLE_NAME_RE.match(role):
            problems.append(('%srole_map.%s' % (prefix, key), 'must be an OpenBao SSH role name, got %r' % (role,)
                             if show_value else 'must be an OpenBao SSH role name'))
    return problems


def openbao_argument_spec():
    """The ``openbao`` option (a dict) for action plugins and modules; OpenBaoSettings applies the
    environment and the defaults."""
    return OPENBAO.argument_spec()


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


def _token_env_first(token_env):
    """ops-warden's ``vault.token_env``: the variable it names is read before the token's own."""
    return {'token': token_env} if isinstance(token_env, str) and ENV_NAME_RE.match(token_env) else None


class OpenBaoSettings(object):
    """Validated ``openbao`` options: explicit value, else environment, else default.

    ``require_auth=False`` skips the auth method's checks, for callers that only read the
    unauthenticated CA public key or health; ``OpenBaoClient.login()`` checks them anyway.
    """

    def __init__(self, options=None, env=None, require_auth=True):
        options = dict(options or {})
        values, self.sources = OPENBAO.resolve(options, env, _token_env_first(options.get('token_env')))
        for name, value in values.items():
            setattr(self, name, value)
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
        if not isinstance(self.host_role, str) or not ROLE_NAME_RE.match(self.host_role):
            problems.append(('openbao.host_role', 'must be an OpenBao SSH role name'))
        problems.extend(role_map_problems(self.role_map, 'openbao.'))
        if self.ca_cert and not os.path.exists(self.ca_cert):
            problems.append(('openbao.ca_cert', 'CA bundle %s does not exist' % self.ca_cert))
        return problems

    def env_hint(self, name):
        names = OPENBAO.env_names(name, (_token_env_first(self.token_env) or {}).get(name))
        if not names:
            return ''
        return ' (or set %s)' % ' / '.join(names)

    def secret_values(self):
        """The secret option values (to scrub from any text shown to a user)."""
        return [getattr(self, n) for n in OPENBAO.secrets if getattr(self, n, None)]

    def session_key(self):
        """Identifies a logged-in session; a digest, so no secret sits in a cache key."""
        material = json.dumps([getattr(self, n) for n in SESSION_OPTIONS], sort_keys=True, default=str)
        return hashlib.sha256(material.encode('utf-8')).hexdigest()

    def __repr__(self):
        return '<OpenBaoSettings url=%s auth_method=%s mount=%s>' % (
            redact_url(self.url or ''), self.auth_method, self.mount)
