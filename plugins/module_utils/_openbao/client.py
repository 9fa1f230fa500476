# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OpenBao SSH signing: settings, one logged-in client per process, and the signer.

``OpenBaoSettings(options, env)`` validates the ``openbao`` options (community.hashi_vault
names) with ``BAO_*`` then ``VAULT_*`` environment fallbacks. ``OpenBaoSigner(settings)``
signs with ``POST <mount>/sign/<role>``, reads the CA public keys and checks health and
capabilities. Authenticated clients are cached per process and per settings, so many signs
(a loop, many lookups in one worker) log in once.

hvac is imported on the first request that needs the network, not when this file is
imported (``import hvac`` costs a noticeable fraction of a second per process).

Signing is not idempotent on the server: a request that is retried after a timeout or a
5xx answer may have produced a certificate already. That certificate is simply unused:
only the one returned (and written) counts, and OpenBao keeps no state about it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import math
import os
import re
import threading
import time

try:
    from urllib.parse import urlsplit, urlunsplit
except ImportError:  # pragma: no cover - Python 2
    from urlparse import urlsplit, urlunsplit  # type: ignore

from ansible_collections.netkingdom.warden.plugins.module_utils._inventory.actors import ACTOR_TYPES, principal_problem
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.auth import (
    AUTH_METHODS,
    DEFAULT_KUBERNETES_TOKEN_PATH,
    HttpStatusError,
    OpenBaoError,
    auth_method_for,
    check_response,
    response_json,
)
from ansible_collections.netkingdom.warden.plugins.module_utils._settings.values import parse_bool
from ansible_collections.netkingdom.warden.plugins.module_utils._openssh.keys import CERT_SUFFIX, parse_public_key
from ansible_collections.netkingdom.warden.plugins.module_utils._settings.url_check import ENV as INSECURE_HTTP_ENV, url_problem

try:
    from importlib.util import find_spec
    HAS_HVAC = find_spec('hvac') is not None
except (ImportError, ValueError):  # pragma: no cover
    HAS_HVAC = False

__all__ = ['OpenBaoError', 'OpenBaoSettings', 'OpenBaoSigner', 'OPENBAO_OPTIONS', 'SECRET_OPENBAO_OPTIONS',
           'OpenBaoRequestError', 'argument_spec', 'openbao_argument_spec', 'reset_sessions']

WHAT = 'OpenBao settings'
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
# OpenBao's answer to a sign request with key_id on a role without allow_user_key_ids: nothing was signed.
KEY_ID_REFUSED = 'setting key_id is not allowed by role'
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
DURATION_RE = re.compile(r'^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$')
DURATION_UNITS = {None: 1.0, 's': 1.0, 'ms': 0.001, 'm': 60.0, 'h': 3600.0}
CERT_TYPES = ('user', 'host')
BACKOFF = 0.2
# HTTP method -> the policy capabilities that allow it (for permission-denied messages).
ADMIN_CAPABILITIES = {'get': ('read',), 'list': ('list',), 'post': ('create', 'update'),
                      'put': ('create', 'update'), 'patch': ('patch',), 'delete': ('delete',)}


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


class OpenBaoRequestError(OpenBaoError):
    """OpenBao answered a generic request with a non-2xx status (``status``, ``errors``)."""

    def __init__(self, message, status, errors):
        super(OpenBaoRequestError, self).__init__(message)
        self.status = status
        self.errors = list(errors or [])


def argument_spec():
    """The ``openbao`` option (a dict) for action plugins and modules.

    Defaults and environment fallbacks are applied by OpenBaoSettings, not by the argument
    spec, and there is no default dict: the validator would fill one in place.
    """
    options = {}
    for name, (dummy, dummy2, kind) in OPENBAO_OPTIONS.items():
        options[name] = {'type': ARGSPEC_TYPES[kind], 'no_log': name in SECRET_OPENBAO_OPTIONS}
    options['auth_method']['choices'] = sorted(AUTH_METHODS)
    return {'type': 'dict', 'options': options}


openbao_argument_spec = argument_spec


def _redact_url(url):
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
            match = DURATION_RE.match(str(value))
            if not match:
                raise _problem(name, 'must be a number of seconds (or "<n>s", "<n>m"), got %s' % _shown(name, value))
            seconds = float(match.group(1)) * DURATION_UNITS[match.group(2)]
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
            _redact_url(self.url or ''), self.auth_method, self.mount)


class _Session(object):
    """One logged-in client per settings, shared by every signer in the process."""

    def __init__(self):
        self.lock = threading.RLock()
        self.client = None
        self.pid = None
        self.token = None
        self.expires = None  # time.monotonic() deadline of a login's lease, None when unknown
        self.login_count = 0


_SESSIONS = {}
_SESSIONS_LOCK = threading.Lock()
_LIBS = {}
# (url, mount, role) of roles that refused a key_id in this process, and warnings not shown yet.
_KEY_ID_REFUSED = set()
_PENDING_WARNINGS = []
_KEY_ID_LOCK = threading.Lock()


def _is_key_id_refusal(errors):
    return any(KEY_ID_REFUSED in str(error).lower() for error in errors or ())


def key_id_refused(url, mount, role):
    """Whether ``<mount>/sign/<role>`` at ``url`` refused a key_id earlier in this process."""
    with _KEY_ID_LOCK:
        return (url, mount, role) in _KEY_ID_REFUSED


def _remember_key_id_refused(url, mount, role):
    with _KEY_ID_LOCK:
        if (url, mount, role) in _KEY_ID_REFUSED:
            return
        _KEY_ID_REFUSED.add((url, mount, role))
        # No host or actor in the text: the controller shows a warning once per run, however many forks repeat it.
        _PENDING_WARNINGS.append(
            'OpenBao role %s on %s/ does not allow key ids (allow_user_key_ids is false): certificates are signed '
            'without the collection\'s key id, OpenBao names them itself, and the audit log links each one to its '
            'policy decision through its serial. To keep decision ids in the key id sshd logs, allow it: '
            'bao write %s/roles/%s allow_user_key_ids=true (with the role\'s other fields), or let '
            'netkingdom.warden.openbao_ssh_ca manage the role' % (role, mount, mount, role))


def reset_sessions():
    """Forget every cached client and token (tests; or after credentials changed)."""
    with _SESSIONS_LOCK:
        _SESSIONS.clear()
    with _KEY_ID_LOCK:
        _KEY_ID_REFUSED.clear()
        del _PENDING_WARNINGS[:]


def _libs():
    """hvac and requests, imported on first use."""
    if not _LIBS:
        missing = ('the Python library hvac is required on the controller to sign with OpenBao '
                   '(pip install hvac; in an execution environment add it to the requirements)')
        if not HAS_HVAC:
            raise OpenBaoError(missing)
        try:
            import hvac
            import hvac.adapters
            import requests
        except ImportError as exc:
            raise OpenBaoError('%s: %s' % (missing, exc))
        _LIBS['hvac'] = hvac
        _LIBS['requests'] = requests
    return _LIBS['hvac'], _LIBS['requests']


def _connection_reason(exc):
    text = str(exc)
    for words in ('certificate verify failed', 'hostname mismatch', 'wrong version number'):
        if words in text.lower():
            return words
    match = re.search(r'\[Errno -?\d+\] ([^\'")\]]+)', text)
    if match:
        return match.group(1).strip().lower()
    for words in ('connection refused', 'name or service not known', 'network is unreachable',
                  'no route to host', 'connection reset', 'remotedisconnected', 'connection aborted'):
        if words in text.lower():
            return words
    return 'connection failed (%s)' % type(exc).__name__


class OpenBaoSigner(object):
    """Signs SSH public keys with OpenBao's SSH engine; reads its CA public keys.

    Construct one per call if convenient: the logged-in client is cached per process and
    per settings, so ``login()`` talks to OpenBao once for many signers.
    """

    def __init__(self, settings, backoff=BACKOFF, sleep=time.sleep):
        self.settings = settings
        self.url = _redact_url(settings.url)
        self.mount = settings.mount
        self.backoff = backoff
        self._sleep = sleep
        key = settings.session_key()
        with _SESSIONS_LOCK:
            self._session = _SESSIONS.setdefault(key, _Session())

    def __repr__(self):
        return '<OpenBaoSigner %s auth_method=%s mount=%s>' % (self.url, self.settings.auth_method, self.mount)

    @property
    def login_count(self):
        """How many times this process logged in with these settings."""
        return self._session.login_count

    # --- plumbing -----------------------------------------------------------------------
    def _scrub(self, text):
        for secret in self.settings.secret_values() + [self._session.token]:
            if secret and len(secret) >= 4:
                text = text.replace(secret, '<redacted>')
        return text

    def _fail(self, message):
        return OpenBaoError(self._scrub(message))

    def _client(self):
        """The session's hvac client, built on first use and again in a forked child."""
        session = self._session
        with session.lock:
            if session.client is None or session.pid != os.getpid():
                hvac, dummy = _libs()
                settings = self.settings
                verify = (settings.ca_cert or True) if settings.validate_certs else False
                # token='' and cert=False: hvac would otherwise read VAULT_TOKEN, ~/.vault-token and
                # VAULT_CLIENT_CERT by itself. Only the token from our own login (or openbao.token) is used.
                client = hvac.Client(url=settings.url, token='', verify=verify, cert=False,
                                     timeout=settings.timeout, namespace=settings.namespace,
                                     adapter=hvac.adapters.RawAdapter, ignore_exceptions=True)
                client.adapter.session.headers['User-Agent'] = 'netkingdom.warden'
                client.token = session.token
                session.client, session.pid = client, os.getpid()
            return session.client

    def _call(self, what, func):
        """Run ``func()`` (one request) with retries; return its 2xx response.

        Retried: connection errors, timeouts, 429 and 5xx. Not retried: a sealed server, TLS
        errors. Any other non-2xx answer is raised as HttpStatusError for the caller to explain.
        """
        dummy, requests = _libs()
        attempts = self.settings.retries + 1
        last, kind = 'no attempt made', 'unreachable'
        for attempt in range(attempts):
            if attempt:
                self._sleep(self.backoff * (2 ** (attempt - 1)))
            try:
                return check_response(func())
            except requests.exceptions.SSLError as exc:
                reason = _connection_reason(exc)
                advice = ('does the server speak TLS on that port? Check the scheme of openbao.url'
                          if 'wrong version' in reason else
                          'set openbao.ca_cert (BAO_CACERT) to the CA bundle that signed its certificate')
                raise self._fail('TLS to OpenBao at %s failed (%s): %s' % (self.url, reason, advice))
            except requests.exceptions.Timeout:
                last, kind = 'no answer within %gs' % self.settings.timeout, 'timeout'
            except requests.exceptions.ConnectionError as exc:
                last, kind = _connection_reason(exc), 'unreachable'
            except requests.exceptions.RequestException as exc:
                last, kind = 'request failed (%s)' % type(exc).__name__, 'unreachable'
            except HttpStatusError as exc:
                if exc.sealed:
                    raise self._fail('OpenBao at %s is sealed: unseal it (bao operator unseal) and run again'
                                     % self.url)
                if exc.status < 500 and exc.status != 429:
                    raise
                last, kind = 'HTTP %d (%s)' % (exc.status, '; '.join(exc.errors)[:300] or 'no details'), 'server'
        tries = '%d attempt%s' % (attempts, 's' if attempts > 1 else '')
        if kind == 'timeout':
            raise self._fail('OpenBao at %s did not answer %s: %s (%s): raise openbao.timeout or check the server. '
                             'A sign request that timed out may still have issued a certificate; it stays unused'
                             % (self.url, what, last, tries))
        if kind == 'server':
            raise self._fail('OpenBao at %s failed %s: %s (%s): check the server log'
                             % (self.url, what, last, tries))
        raise self._fail('cannot reach OpenBao at %s: %s (%s, %s): check openbao.url (BAO_ADDR / VAULT_ADDR) '
                         'and that the server is running' % (self.url, last, what, tries))

    def _api(self, method, path, authenticated=True, **kwargs):
        """One request to ``/v1/<path>``; logs in first when ``authenticated``."""
        if authenticated:
            self.login()
        client = self._client()
        return self._call('%s %s' % (method.upper(), path),
                          lambda: client.adapter.request(method, '/v1/' + path, **kwargs))

    def _expired(self):
        session = self._session
        return session.expires is not None and time.monotonic() >= session.expires

    # --- auth ---------------------------------------------------------------------------
    def login(self):
        """Authenticate once per process and settings (again only when the login lease runs out)."""
        session = self._session
        with session.lock:
            if session.token and not self._expired():
                return self
            method = auth_method_for(self.settings)
            method.validate()
            client = self._client()
            try:
                auth = self._authenticate(method, client)
            except HttpStatusError as exc:
                client.token = None
                raise self._fail(method.refused(exc.status, exc.errors))
            session.token = client.token
            lease = auth.get('lease_duration') or 0
            # log in again when a tenth of the lease (at least 5 s, at most half of it) is left
            session.expires = time.monotonic() + lease - min(max(5.0, lease / 10.0), lease / 2.0) if lease else None
            session.login_count += 1
        return self

    def _authenticate(self, method, client):
        """Run the method's login with the retry rules of ``_call`` (its answer is a dict, not a response)."""
        holder = {}

        def attempt():
            holder['auth'] = method.authenticate(client)
            return _Ok()

        self._call(method.describe(), attempt)
        return holder['auth']

    def session_settings(self):
        """Options that reuse this login: the same connection with ``auth_method: token``.

        For a play that logs in once on the controller (``openbao_login``, ``run_once``) and
        hands the token to every later task, so many hosts do not mean many logins.
        """
        self.login()
        keep = ('url', 'namespace', 'ca_cert', 'validate_certs', 'timeout', 'retries', 'mount', 'host_mount',
                'role_map', 'host_role')
        options = dict((name, getattr(self.settings, name)) for name in keep)
        options.update(auth_method='token', token=self._session.token)
        return options

    # --- SSH engine -----------------------------------------------------------------------
    def role_for(self, actor_type):
        """The SSH role that signs certificates for an actor type (``openbao.role_map``)."""
        role = self.settings.role_map.get(actor_type)
        if not role:
            raise ValidationError([('actor_type', 'no OpenBao role for actor type %r (openbao.role_map has %s)'
                                    % (actor_type, ', '.join(sorted(self.settings.role_map))))], what='signing request')
        return role

    @property
    def host_role(self):
        return self.settings.host_role

    @property
    def host_mount(self):
        return self.settings.host_mount

    def sign(self, role, public_key, principals, ttl_seconds, cert_type='user', key_id=None, mount=None):
        """Sign ``public_key`` with ``<mount>/sign/<role>``; return ``{'signed_key', 'serial_number', 'issuer_id',
        'key_id_sent'}``.

        ``mount`` defaults to ``openbao.mount``. ``ttl_seconds`` above the role's max_ttl is refused by
        OpenBao (never clamped). Not idempotent: a retried request may have issued a certificate that
        stays unused.

        ``key_id`` is sent where the role allows it. A role without ``allow_user_key_ids`` (the runbook's
        roles) answers HTTP 400 "setting key_id is not allowed by role" and signs nothing: the request is
        sent once more without it, OpenBao names the key id itself, and this process remembers the role
        (see ``key_id_refused``) so later requests go without it at once. ``take_warnings()`` then holds
        one warning that says how to allow it.
        """
        mount = mount or self.mount
        body = self._sign_body(role, public_key, principals, ttl_seconds, cert_type, key_id)
        path = '%s/sign/%s' % (mount, role)
        if 'key_id' in body and key_id_refused(self.settings.url, mount, role):
            del body['key_id']
        try:
            try:
                response = self._api('post', path, json=body)
            except HttpStatusError as exc:
                if not ('key_id' in body and exc.status == 400 and _is_key_id_refusal(exc.errors)):
                    raise
                # HTTP 400: nothing was signed, so this second request cannot produce a second certificate
                _remember_key_id_refused(self.settings.url, mount, role)
                del body['key_id']
                response = self._api('post', path, json=body)
        except HttpStatusError as exc:
            raise self._fail(self._sign_refused(exc, path, role, ttl_seconds, cert_type, mount))
        data = response_json(response, 'POST %s' % path).get('data') or {}
        signed = data.get('signed_key')
        if not isinstance(signed, str) or CERT_SUFFIX not in signed.split(' ', 1)[0]:
            raise self._fail('POST %s answered without a signed certificate (signed_key)' % path)
        return {'signed_key': signed.strip(), 'serial_number': data.get('serial_number'),
                'issuer_id': data.get('issuer_id'), 'key_id_sent': 'key_id' in body}

    @staticmethod
    def take_warnings():
        """Warnings this process has not shown yet (each once), e.g. a role that refuses key ids."""
        with _KEY_ID_LOCK:
            pending = list(_PENDING_WARNINGS)
            del _PENDING_WARNINGS[:]
        return pending

    @staticmethod
    def _sign_body(role, public_key, principals, ttl_seconds, cert_type, key_id):
        problems = []
        if not isinstance(role, str) or not NAME_RE.match(role):
            problems.append(('role', 'must be an OpenBao SSH role name, got %r' % (role,)))
        try:
            key_type = parse_public_key(public_key)[0]
            if key_type.endswith(CERT_SUFFIX):
                problems.append(('public_key', 'is a certificate, not a public key'))
        except ValidationError as exc:
            problems.extend(exc.problems)
        if isinstance(principals, str) or not isinstance(principals, (list, tuple)) or not principals:
            problems.append(('principals', 'must be a non-empty list (a certificate without principals '
                             'would be valid for every account)'))
        else:
            for index, principal in enumerate(principals):
                why = principal_problem(principal)
                if why:
                    problems.append(('principals[%d]' % index, why))
        if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, (int, float)) or ttl_seconds <= 0 \
                or int(ttl_seconds) != ttl_seconds:
            problems.append(('ttl_seconds', 'must be a positive whole number of seconds, got %r' % (ttl_seconds,)))
        if cert_type not in CERT_TYPES:
            problems.append(('cert_type', 'must be user or host, got %r' % (cert_type,)))
        if key_id is not None and (not isinstance(key_id, str) or not key_id
                                   or any(ord(ch) < 32 or ord(ch) == 127 for ch in key_id)):
            problems.append(('key_id', 'must be a non-empty string without control characters'))
        if problems:
            raise ValidationError(problems, what='signing request')
        body = {'public_key': public_key.strip(), 'valid_principals': ','.join(principals),
                'ttl': '%ds' % int(ttl_seconds), 'cert_type': cert_type}
        if key_id is not None:
            body['key_id'] = key_id
        return body

    def _sign_refused(self, exc, path, role, ttl_seconds, cert_type, mount=None):
        mount = mount or self.mount
        detail = '; '.join(exc.errors) or 'no details'
        low = detail.lower()
        if exc.status == 403:
            return ('permission denied on POST %s: the token lacks create/update on %s (or it expired or was '
                    'revoked; OpenBao also answers 403 for a mount or role the token may not see). Grant it '
                    'with a policy such as: path "%s" { capabilities = ["create", "update"] }' % (path, path, path))
        if exc.status == 404 or 'unknown role' in low or 'no handler for route' in low:
            return ('OpenBao has no SSH role %s on mount %s (%s): create the role, or fix openbao.role_map / '
                    'openbao.host_role / openbao.mount / openbao.host_mount' % (role, mount, detail))
        if 'ttl' in low and ('larger than' in low or 'max' in low):
            match = re.search(r'(\d+)\s*$', detail)
            limit = ' (%ss)' % match.group(1) if match else ''
            return ('ttl %ds is above the max_ttl of role %s on %s%s: ask for at most the role\'s max_ttl; '
                    'OpenBao rejects longer certificates, it never clamps them (%s)'
                    % (int(ttl_seconds), role, mount, limit, detail))
        if 'valid_principals' in low or 'not a valid value' in low or 'not allowed' in low and 'principal' in low:
            what = 'allowed_domains' if cert_type == 'host' else 'allowed_users'
            return ('principal not allowed by role %s on %s: %s. Request only principals in the role\'s %s, '
                    'or change the role' % (role, mount, detail, what))
        if 'cert_type' in low:
            return 'role %s on %s does not sign %s certificates (%s)' % (role, mount, cert_type, detail)
        if 'public_key' in low or 'public key' in low:
            return 'OpenBao refused the public key for %s: %s' % (path, detail)
        return 'OpenBao refused POST %s (HTTP %d): %s' % (path, exc.status, detail)

    def ca_public_key(self, mount=None):
        """The mount's default CA public key, from the unauthenticated ``GET /v1/<mount>/public_key``.

        ``mount`` defaults to ``openbao.mount`` (the user CA); ``openbao.host_mount`` gives the host CA.
        """
        mount = mount or self.mount
        path = '%s/public_key' % mount
        try:
            response = self._api('get', path, authenticated=False)
        except HttpStatusError as exc:
            raise self._fail('no SSH CA public key at %s/v1/%s (HTTP %d: %s): is the SSH engine mounted at '
                             'openbao.mount (openbao.host_mount for host certificates) with a CA configured '
                             '(config/ca)?'
                             % (self.url, path, exc.status, '; '.join(exc.errors) or 'no details'))
        key = (response.text or '').strip()
        try:
            parse_public_key(key)
        except ValidationError:
            raise self._fail('GET %s/v1/%s did not answer an OpenSSH public key: is openbao.url the OpenBao '
                             'API address?' % (self.url, path))
        return key

    def issuer_public_keys(self, mount=None):
        """Every issuer's public key on the mount (``LIST <mount>/issuers``), default first.

        Hosts that trust all of them keep accepting certificates across a CA rotation. Each item
        is ``{'issuer_id', 'issuer_name', 'public_key', 'is_default'}``. Needs ``list`` on
        ``<mount>/issuers``. ``mount`` defaults to ``openbao.mount``.
        """
        mount = mount or self.mount
        path = '%s/issuers' % mount
        try:
            response = self._api('list', path)
        except HttpStatusError as exc:
            if exc.status == 403:
                raise self._fail('permission denied on LIST %s: the token needs list on %s to read every CA '
                                 'of the mount; add to its policy: path "%s" { capabilities = ["list"] }'
                                 % (path, path, path))
            raise self._fail('cannot list the CA issuers of %s (HTTP %d: %s): is openbao.mount an SSH engine '
                             'with a CA configured?' % (mount, exc.status, '; '.join(exc.errors) or 'no details'))
        data = response_json(response, 'LIST %s' % path).get('data') or {}
        info = data.get('key_info') or {}
        issuers = []
        for issuer_id in data.get('keys') or []:
            entry = info.get(issuer_id) or {}
            key = (entry.get('public_key') or '').strip()
            if not key:  # older servers: the unauthenticated per-issuer endpoint
                key = self._issuer_key(issuer_id, mount)
            issuers.append({'issuer_id': issuer_id, 'issuer_name': entry.get('issuer_name') or '',
                            'public_key': key, 'is_default': bool(entry.get('is_default'))})
        issuers.sort(key=lambda i: (not i['is_default'], i['issuer_name'], i['issuer_id']))
        return issuers

    def _issuer_key(self, issuer_id, mount):
        path = '%s/issuer/%s/public_key' % (mount, issuer_id)
        try:
            return (self._api('get', path, authenticated=False).text or '').strip()
        except HttpStatusError as exc:
            raise self._fail('cannot read the public key of issuer %s (GET %s: HTTP %d)' % (issuer_id, path, exc.status))

    def health(self):
        """``GET /v1/sys/health`` as a dict (initialized, sealed, standby, version, ...); no login.

        A sealed or standby server is reported in the dict, not raised; an unreachable one raises.
        """
        params = {'standbyok': 'true', 'perfstandbyok': 'true', 'sealedcode': '200', 'uninitcode': '200',
                  'standbycode': '200', 'drsecondarycode': '200', 'performancestandbycode': '200'}
        try:
            response = self._api('get', 'sys/health', authenticated=False, params=params)
        except HttpStatusError as exc:
            raise self._fail('GET %s/v1/sys/health answered HTTP %d' % (self.url, exc.status))
        return response_json(response, 'GET sys/health')

    def capabilities(self, paths):
        """``{path: [capabilities]}`` of the logged-in token (``POST sys/capabilities-self``)."""
        if isinstance(paths, str):
            paths = [paths]
        paths = [p.strip('/') for p in paths]
        try:
            response = self._api('post', 'sys/capabilities-self', json={'paths': paths})
        except HttpStatusError as exc:
            raise self._fail('POST sys/capabilities-self answered HTTP %d (%s): the token may have expired'
                             % (exc.status, '; '.join(exc.errors) or 'no details'))
        data = response_json(response, 'POST sys/capabilities-self')
        data = data.get('data') or data
        return dict((p, list(data.get(p) or [])) for p in paths)

    # --- generic API (administration: openbao_ssh_engine) ----------------------------------
    def request_json(self, method, path, data=None, missing=()):
        """An authenticated request to ``/v1/<path>``: the answer's JSON object (``{}`` when empty).

        A status listed in ``missing`` (for example 404) returns None. Any other non-2xx answer
        raises OpenBaoRequestError (``status``, ``errors``); for 403 its message names the
        capability the token lacks on ``path`` and the policy stanza that grants it. Retries
        follow ``openbao.retries`` (connection errors, timeouts, 429, 5xx).
        """
        path = path.strip('/')
        what = '%s %s' % (method.upper(), path)
        kwargs = {} if data is None else {'json': data}
        try:
            response = self._api(method.lower(), path, **kwargs)
        except HttpStatusError as exc:
            if exc.status in missing:
                return None
            detail = '; '.join(exc.errors) or 'no details'
            if exc.status == 403:
                capability = ADMIN_CAPABILITIES.get(method.lower(), (method.lower(),))
                message = ('permission denied on %s: the token lacks %s on %s (or it expired or was revoked). '
                           'Grant it with a policy such as: path "%s" { capabilities = [%s] }'
                           % (what, ' or '.join(capability), path, path,
                              ', '.join('"%s"' % c for c in capability)))
            else:
                message = 'OpenBao at %s refused %s (HTTP %d): %s' % (self.url, what, exc.status, detail)
            raise OpenBaoRequestError(self._scrub(message), exc.status, exc.errors)
        if not (response.content or b'').strip():
            return {}
        return response_json(response, what)

    def read(self, path, missing=(404,)):
        """``GET /v1/<path>``: the ``data`` of the answer, or None when the status is in ``missing``."""
        answer = self.request_json('get', path, missing=missing)
        return None if answer is None else (answer.get('data') or {})

    def write(self, path, data, method='post'):
        """``POST`` (or ``PUT``) ``/v1/<path>`` with a JSON body: the whole answer (``{}`` for 204)."""
        return self.request_json(method, path, data=data)

    def scrub(self, text):
        """``text`` with every secret of these settings and the session token replaced by <redacted>."""
        return self._scrub(text)

    def list_keys(self, path):
        """``LIST /v1/<path>``: the listed keys (``[]`` when there is nothing, HTTP 404)."""
        answer = self.request_json('list', path, missing=(404,))
        return list(((answer or {}).get('data') or {}).get('keys') or [])

    # --- KV version 2 (credential fetch as the caller) ----------------------------------
    def kv2_read(self, mount, path, version=None):
        """Read one secret from a KV version 2 mount: ``GET /v1/<mount>/data/<path>[?version=N]``.

        Returns ``(data, metadata)``: the secret's key/value mapping and its version metadata.
        Nothing is cached or logged here; messages name the path, never a value. Used by the
        credential lookup with the caller's own token (settings with ``auth_method: token``).
        """
        problems = []
        mount = mount.strip('/') if isinstance(mount, str) else mount
        path = path.strip('/') if isinstance(path, str) else path
        if not isinstance(mount, str) or not PATH_RE.match(mount):
            problems.append(('mount', 'must be a KV mount path such as "secret", got %r' % (mount,)))
        if not isinstance(path, str) or not PATH_RE.match(path) or '..' in path.split('/'):
            problems.append(('path', 'must be a secret path such as "team/app", got %r' % (path,)))
        if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 1):
            problems.append(('version', 'must be a positive whole number, got %r' % (version,)))
        if problems:
            raise ValidationError(problems, what='KV read')
        api_path = '%s/data/%s' % (mount, path)
        kwargs = {'params': {'version': version}} if version else {}
        try:
            response = self._api('get', api_path, **kwargs)
        except HttpStatusError as exc:
            if exc.status == 403:
                raise self._fail('permission denied on GET %s: this token may not read it (or it expired or was '
                                 'revoked). The owner grants it with a policy such as: path "%s" '
                                 '{ capabilities = ["read"] }' % (api_path, api_path))
            if exc.status == 404:
                raise self._fail('no secret at %s (HTTP 404): check the path and the version; is %s a KV version '
                                 '2 mount? A deleted or destroyed version also answers 404' % (api_path, mount))
            raise self._fail('OpenBao refused GET %s (HTTP %d): %s'
                             % (api_path, exc.status, '; '.join(exc.errors)[:300] or 'no details'))
        body = response_json(response, 'GET %s' % api_path).get('data')
        if not isinstance(body, dict) or not isinstance(body.get('data'), dict):
            raise self._fail('GET %s answered no KV version 2 data: is %s a KV version 2 mount (a version 1 '
                             'mount has no data/ path)?' % (api_path, mount))
        return body['data'], dict(body.get('metadata') or {})


class _Ok(object):
    """A stand-in 2xx response for requests whose answer was already consumed."""

    status_code = 200
