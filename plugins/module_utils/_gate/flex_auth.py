# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP client for a flex-auth policy decision point (``/v1/check``).

Two kinds of failure, kept apart because only one may ever be failed open:

- PolicyUnavailable: the PDP could not be asked (connection refused or cut, TLS failure, timeout,
  HTTP 5xx), after ``retries`` retries. ``policy.fail_closed: false`` may turn this into an allow.
- PolicyAnswerInvalid: the PDP answered, and the answer is a refusal or unreadable (any other
  non-2xx status such as 400, 401, 403 or a redirect; a body that is not JSON or cannot be
  decoded). Never retried, never failed open: a 403 must not become an allow.

Messages never carry the bearer token or a response body.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import ssl
import time

from ansible_collections.netkingdom.warden.plugins.module_utils.errors import (
    PolicyAnswerInvalid,
    PolicyUnavailable,
    ValidationError,
)

try:
    from importlib.util import find_spec
    HAS_HTTPX = find_spec('httpx') is not None
except (ImportError, ValueError):  # pragma: no cover
    HAS_HTTPX = False

httpx = None  # imported on first use: it costs ~0.3 s per process, and embedded mode never needs it


def _httpx():
    global httpx  # pylint: disable=global-statement
    if httpx is None:
        import httpx as module  # pylint: disable=import-outside-toplevel
        httpx = module
    return httpx


try:
    from urllib.parse import urlsplit, urlunsplit
except ImportError:  # pragma: no cover
    from urlparse import urlsplit, urlunsplit  # type: ignore


def redact_url(url):
    """The URL without user:password, for messages."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ''
        if parts.port:
            host += ':%d' % parts.port
        parts = parts._replace(netloc=host)
    return urlunsplit(parts)


def _ssl_context(ca_cert, validate_certs, client_cert, client_key):
    """The TLS context for httpx.

    Built here rather than with httpx's deprecated ``verify=<path>``/``cert=`` arguments:
    httpx 0.28 returns early for ``verify=<path>`` and silently drops ``cert``, so a client
    certificate would never be sent together with a custom CA.
    """
    try:
        if not validate_certs:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif ca_cert and os.path.isdir(ca_cert):
            context = ssl.create_default_context(capath=ca_cert)
        elif ca_cert:
            context = ssl.create_default_context(cafile=ca_cert)
        else:
            context = httpx.create_ssl_context()  # httpx's default trust store
    except (IOError, OSError, ssl.SSLError) as exc:
        raise ValidationError([('policy.ca_cert', 'cannot load %s: %s' % (ca_cert, _why(exc)))], what='policy settings')
    if client_cert:
        try:
            context.load_cert_chain(client_cert, client_key or None)
        except (IOError, OSError, ssl.SSLError) as exc:
            raise ValidationError([('policy.client_cert', 'cannot load the client certificate/key: %s' % _why(exc))],
                                  what='policy settings')
    return context


def _why(exc):
    return getattr(exc, 'strerror', None) or getattr(exc, 'reason', None) or type(exc).__name__


class FlexAuthClient(object):
    """One reusable connection pool per settings; safe to share in a process."""

    def __init__(self, url, token=None, ca_cert=None, validate_certs=True,
                 client_cert=None, client_key=None, timeout=5.0, retries=2, backoff=0.2):
        if not HAS_HTTPX:
            raise PolicyUnavailable('the Python library httpx is required for policy mode flex_auth '
                                    '(pip install httpx)')
        _httpx()
        self.base = url.rstrip('/')
        self.display = redact_url(self.base)
        self.retries = max(0, int(retries))
        self.backoff = backoff
        self.timeout = float(timeout)
        headers = {'Accept': 'application/json', 'User-Agent': 'netkingdom.warden'}
        if token:
            headers['Authorization'] = 'Bearer %s' % token
        self._client = httpx.Client(headers=headers,
                                    verify=_ssl_context(ca_cert, validate_certs, client_cert, client_key),
                                    timeout=self.timeout, follow_redirects=False)

    def close(self):
        self._client.close()

    def _request(self, method, path, body=None):
        url = self.base + path
        last = 'no attempt made'
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * (2 ** (attempt - 1)))
            try:
                response = self._client.request(method, url, json=body)
            except httpx.TimeoutException:
                last = 'no answer within %.1fs' % self.timeout
                continue
            except httpx.TransportError as exc:
                last = 'connection failed (%s)' % type(exc).__name__
                continue
            except httpx.RequestError as exc:
                # Not a transport error: the PDP answered something that cannot be read, e.g.
                # DecodingError for "Content-Encoding: gzip" with a body that is not gzip.
                raise PolicyAnswerInvalid('%s %s answered a body that cannot be decoded (%s)'
                                          % (method, self.display + path, type(exc).__name__))
            if response.status_code >= 500:
                last = 'HTTP %d' % response.status_code
                continue
            if not 200 <= response.status_code < 300:
                raise PolicyAnswerInvalid('%s %s answered HTTP %d' % (method, self.display + path,
                                                                      response.status_code))
            try:
                return response.json()
            except ValueError:
                raise PolicyAnswerInvalid('%s %s answered a body that is not JSON' % (method, self.display + path))
        raise PolicyUnavailable('%s %s failed after %d attempt(s): %s'
                                % (method, self.display + path, self.retries + 1, last))

    def check(self, request):
        return self._request('POST', '/v1/check', request)

    def batch_check(self, requests):
        data = self._request('POST', '/v1/batch-check', {'requests': list(requests)})
        decisions = data.get('decisions') if isinstance(data, dict) else None
        if not isinstance(decisions, list) or len(decisions) != len(requests):
            raise PolicyAnswerInvalid('POST %s/v1/batch-check answered without one decision per request'
                                      % self.display)
        return decisions

    def healthz(self):
        return self._request('GET', '/healthz')

    def registry(self):
        """``GET /v1/registry``: what the instance says about the registry it serves (digest, ...)."""
        return self._request('GET', '/v1/registry')
