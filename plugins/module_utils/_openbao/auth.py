# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OpenBao auth methods: one small class per method, picked by ``auth_method``.

Each class has ``validate()`` (no network; every error names the option, never
its value) and ``authenticate(client)``, which logs in with an hvac client and
leaves the client holding only the token it obtained. Adding a method is one
class and one line in ``AUTH_METHODS``.

The clients given to ``authenticate`` are built by ``OpenBaoClient`` (client.py) with
hvac's RawAdapter and ``ignore_exceptions=True``: requests return
``requests.Response`` objects and this module turns a non-2xx answer into
``HttpStatusError``, which the client retries (5xx) or turns into a message.
This module imports neither hvac nor requests.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

try:
    from urllib.parse import quote
except ImportError:  # pragma: no cover - Python 2
    from urllib import quote  # type: ignore

from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError, WardenError

DEFAULT_KUBERNETES_TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount/token'
WHAT = 'OpenBao settings'


class OpenBaoError(WardenError):
    """A problem talking to OpenBao. The message says what to do; it never holds a secret."""


class HttpStatusError(Exception):
    """OpenBao answered a non-2xx status (internal: the client turns it into an OpenBaoError)."""

    def __init__(self, status, errors, sealed=False):
        self.status = status
        self.errors = errors
        self.sealed = sealed
        super(HttpStatusError, self).__init__('HTTP %d: %s' % (status, '; '.join(errors) or 'no details'))


def response_errors(response):
    """OpenBao's ``errors`` list of a response, else a short piece of its body."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get('errors'), list):
        return [str(e) for e in data['errors'] if str(e).strip()]
    text = (getattr(response, 'text', '') or '').strip()
    return [text[:200]] if text else []


def check_response(response):
    """Return ``response`` when it is 2xx, else raise HttpStatusError."""
    status = response.status_code
    if 200 <= status < 300:
        return response
    errors = response_errors(response)
    sealed = status == 503 and any('sealed' in e.lower() for e in errors)
    raise HttpStatusError(status, errors, sealed=sealed)


def response_json(response, what):
    """The JSON object of a 2xx response (``what`` names the request in the error)."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise OpenBaoError('%s answered a body that is not a JSON object: is openbao.url the OpenBao API '
                           'address (not a proxy or UI page)?' % what)
    return data


class AuthMethodBase(object):
    """Shared parts: option checks, the login request, taking the token."""

    NAME = None
    REQUIRED = ()           # options that must be set for this method
    DEFAULT_MOUNT = None    # auth mount when openbao.mount_point is not set
    HINT = ''               # what to check when OpenBao refuses the login

    def __init__(self, settings):
        self.settings = settings

    @staticmethod
    def field(name):
        return 'openbao.%s' % name

    def _missing(self, name):
        hint = self.settings.env_hint(name) if hasattr(self.settings, 'env_hint') else ''
        return (self.field(name), 'is required for auth_method %s%s' % (self.NAME, hint))

    def problems(self):
        """(field, message) pairs; never the value of an option."""
        return [self._missing(name) for name in self.REQUIRED if not getattr(self.settings, name, None)]

    def validate(self):
        problems = self.problems()
        if problems:
            raise ValidationError(problems, what=WHAT)

    @property
    def mount_point(self):
        return (self.settings.mount_point or self.DEFAULT_MOUNT or '').strip('/')

    @property
    def login_path(self):
        return 'auth/%s/login' % self.mount_point

    def describe(self):
        return '%s login (POST %s)' % (self.NAME, self.login_path)

    def refused(self, status, errors):
        """The message for a login OpenBao refused (4xx)."""
        detail = '; '.join(errors) or 'no details'
        text = '%s login failed at %s (HTTP %d: %s)' % (self.NAME, self.login_path, status, detail)
        if status in (403, 404, 405):
            text += ('. Check openbao.mount_point: is the %s auth method enabled at auth/%s/ '
                     '(bao auth list)?' % (self.NAME, self.mount_point))
        elif self.HINT:
            text += '. ' + self.HINT
        return text

    def _login(self, client, body, **kwargs):
        """POST the login, put the obtained token on the client; return the auth metadata."""
        client.token = None  # never send an ambient or stale token along with a login
        response = check_response(client.adapter.post('/v1/' + self.login_path, json=body, **kwargs))
        auth = response_json(response, self.describe()).get('auth') or {}
        token = auth.get('client_token')
        if not token or not isinstance(token, str):
            raise OpenBaoError('%s answered without a client token' % self.describe())
        client.token = token
        return {'lease_duration': auth.get('lease_duration') or 0, 'renewable': bool(auth.get('renewable')),
                'policies': list(auth.get('policies') or [])}

    def authenticate(self, client):
        raise NotImplementedError


class TokenAuth(AuthMethodBase):
    """A token given explicitly (openbao.token, BAO_TOKEN, VAULT_TOKEN). No request is made."""

    NAME = 'token'
    REQUIRED = ('token',)

    def describe(self):
        return 'token auth'

    def authenticate(self, client):
        client.token = self.settings.token
        return {'lease_duration': 0, 'renewable': False, 'policies': []}


class AppRoleAuth(AuthMethodBase):
    NAME = 'approle'
    REQUIRED = ('role_id',)
    DEFAULT_MOUNT = 'approle'
    HINT = ('Check openbao.role_id and openbao.secret_id (BAO_ROLE_ID / BAO_SECRET_ID): the secret id may be '
            'wrong, expired, used up (secret_id_num_uses) or bound to other CIDRs.')

    def authenticate(self, client):
        body = {'role_id': self.settings.role_id}
        if self.settings.secret_id:
            body['secret_id'] = self.settings.secret_id
        return self._login(client, body)


class JwtAuth(AuthMethodBase):
    """JWT/OIDC auth with a JWT given as openbao.jwt; openbao.role_id names the OpenBao role."""

    NAME = 'jwt'
    REQUIRED = ('jwt', 'role_id')
    DEFAULT_MOUNT = 'jwt'
    HINT = ('Check openbao.jwt (expired? wrong audience or issuer for the role?) and openbao.role_id '
            '(the jwt role name).')

    def authenticate(self, client):
        return self._login(client, {'jwt': self.settings.jwt, 'role': self.settings.role_id})


class KubernetesAuth(AuthMethodBase):
    """Kubernetes auth with the pod's service-account token file; openbao.role_id names the role."""

    NAME = 'kubernetes'
    REQUIRED = ('role_id',)
    DEFAULT_MOUNT = 'kubernetes'
    HINT = ('Check openbao.role_id (the kubernetes role name) and that the role is bound to this '
            'service account and namespace.')

    def problems(self):
        problems = super(KubernetesAuth, self).problems()
        path = self.settings.kubernetes_token_path
        if not path:
            problems.append(self._missing('kubernetes_token_path'))
        elif not os.path.isfile(path):
            problems.append((self.field('kubernetes_token_path'),
                             'service-account token file %s does not exist: not running in a pod, or the '
                             'token is not mounted (automountServiceAccountToken)' % path))
        elif not os.access(path, os.R_OK):
            problems.append((self.field('kubernetes_token_path'), 'cannot read %s (permission denied)' % path))
        return problems

    def read_token(self):
        path = self.settings.kubernetes_token_path
        try:
            with open(path) as handle:
                token = handle.read().strip()
        except (IOError, OSError) as exc:
            raise ValidationError([(self.field('kubernetes_token_path'),
                                    'cannot read %s: %s' % (path, exc.strerror or type(exc).__name__))], what=WHAT)
        if not token:
            raise ValidationError([(self.field('kubernetes_token_path'), '%s is empty' % path)], what=WHAT)
        return token

    def authenticate(self, client):
        # Read at each login: projected service-account tokens are rotated by the kubelet.
        return self._login(client, {'jwt': self.read_token(), 'role': self.settings.role_id})


class CertAuth(AuthMethodBase):
    """TLS certificate auth: the client certificate is presented on the login request (https only)."""

    NAME = 'cert'
    REQUIRED = ('cert_auth_public_key',)
    DEFAULT_MOUNT = 'cert'
    HINT = ('Check openbao.cert_auth_public_key / openbao.cert_auth_private_key and that a cert role trusts '
            'their CA (openbao.role_id names one role; unset tries all).')

    def problems(self):
        problems = super(CertAuth, self).problems()
        for name in ('cert_auth_public_key', 'cert_auth_private_key'):
            path = getattr(self.settings, name, None)
            if path and not os.path.isfile(path):
                problems.append((self.field(name), 'file %s does not exist' % path))
        url = self.settings.url or ''
        if url and not url.startswith('https://'):
            problems.append((self.field('url'), 'auth_method cert needs an https:// address (the client '
                             'certificate is presented in the TLS handshake)'))
        return problems

    def authenticate(self, client):
        body = {'name': self.settings.role_id} if self.settings.role_id else {}
        key = self.settings.cert_auth_private_key
        cert = (self.settings.cert_auth_public_key, key) if key else self.settings.cert_auth_public_key
        return self._login(client, body, cert=cert)


class UserpassAuth(AuthMethodBase):
    NAME = 'userpass'
    REQUIRED = ('username', 'password')
    DEFAULT_MOUNT = 'userpass'
    HINT = 'Check openbao.username and openbao.password.'

    def problems(self):
        problems = super(UserpassAuth, self).problems()
        username = self.settings.username
        if username and ('/' in username or any(ord(ch) < 33 or ord(ch) == 127 for ch in username)):
            problems.append((self.field('username'), 'must not contain "/", whitespace or control characters'))
        return problems

    @property
    def login_path(self):
        return 'auth/%s/login/%s' % (self.mount_point, quote(self.settings.username or '', safe='@.-_+'))

    def authenticate(self, client):
        return self._login(client, {'password': self.settings.password})


AUTH_METHODS = {
    'token': TokenAuth,
    'approle': AppRoleAuth,
    'jwt': JwtAuth,
    'kubernetes': KubernetesAuth,
    'cert': CertAuth,
    'userpass': UserpassAuth,
}


def auth_method_for(settings):
    """The auth method object selected by ``settings.auth_method``."""
    cls = AUTH_METHODS.get(settings.auth_method)
    if cls is None:
        raise ValidationError([('openbao.auth_method', 'must be one of %s, got %r'
                                % (', '.join(sorted(AUTH_METHODS)), settings.auth_method))], what=WHAT)
    return cls(settings)
