# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The logged-in OpenBao client: one request with retries, the login, health, capabilities and the
generic API (``request_json``/``read``/``write``/``list_keys``, used by ``openbao_ssh_engine``).

``OpenBaoSigner`` (signer.py) and ``KvReader`` (kv.py) are clients; the login itself is shared per
process and settings (session.py). Retried: connection errors, timeouts, 429 and 5xx. Messages never
hold a secret (``scrub``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import time

from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.auth import (
    HttpStatusError,
    OpenBaoError,
    auth_method_for,
    check_response,
    response_json,
)
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.session import libs, session_for
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.settings import redact_url

BACKOFF = 0.2
# HTTP method -> the policy capabilities that allow it (for permission-denied messages).
ADMIN_CAPABILITIES = {'get': ('read',), 'list': ('list',), 'post': ('create', 'update'),
                      'put': ('create', 'update'), 'patch': ('patch',), 'delete': ('delete',)}


class OpenBaoRequestError(OpenBaoError):
    """OpenBao answered a generic request with a non-2xx status (``status``, ``errors``)."""

    def __init__(self, message, status, errors):
        super(OpenBaoRequestError, self).__init__(message)
        self.status = status
        self.errors = list(errors or [])


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


class OpenBaoClient(object):
    """An OpenBao API client on the process's shared login for ``settings`` (an OpenBaoSettings).

    Construct one per call if convenient: the logged-in client is cached per process and
    per settings, so ``login()`` talks to OpenBao once for many client objects.
    """

    def __init__(self, settings, backoff=BACKOFF, sleep=time.sleep):
        self.settings = settings
        self.url = redact_url(settings.url)
        self.backoff = backoff
        self._sleep = sleep
        self._session = session_for(settings)

    def __repr__(self):
        return '<%s %s auth_method=%s>' % (type(self).__name__, self.url, self.settings.auth_method)

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
                hvac, dummy = libs()
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
        dummy, requests = libs()
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


class _Ok(object):
    """A stand-in 2xx response for requests whose answer was already consumed."""

    status_code = 200
