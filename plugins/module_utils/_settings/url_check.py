# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one rule for the URLs the collection sends a token to (or trusts an answer from).

OpenBao (``openbao.url``: the signing token, the CA public key every host trusts), the flex-auth
PDP (``policy.url``: its bearer token, the decision), the registry checks and the reload endpoint
of the ``flex_auth_registry`` role all go through :func:`url_problem`:

- ``https://`` is always accepted;
- ``http://`` is accepted only to a loopback address (``127.0.0.0/8``, ``::1``, ``localhost``),
  where nothing crosses a network;
- ``http://`` to any other host is refused, before any connection is made, unless the operator
  opts in with the option ``allow_insecure_http`` (``openbao.allow_insecure_http``,
  ``policy.allow_insecure_http``, ...) or the environment variable ``WARDEN_ALLOW_INSECURE_HTTP``.

A host name is not resolved: ``localhost`` is the only loopback name, anything else is judged
by its spelling (an IP literal in the loopback range, or not loopback).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import os

try:
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover - Python 2
    from urlparse import urlsplit  # type: ignore

from ansible_collections.netkingdom.warden.plugins.module_utils._settings.resolver import parse_bool

OPTION = 'allow_insecure_http'
ENV = 'WARDEN_ALLOW_INSECURE_HTTP'
LOOPBACK_NAMES = ('localhost', 'localhost.')


def is_loopback(host):
    """True for ``localhost`` and IP literals in 127.0.0.0/8 or ``::1`` (an IPv4-mapped form too)."""
    if not isinstance(host, str) or not host:
        return False
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host.strip('[]').split('%', 1)[0])
    except ValueError:
        return False
    mapped = getattr(address, 'ipv4_mapped', None)
    return (mapped or address).is_loopback


def insecure_http_allowed(value=None, env=None):
    """The opt-in: ``value`` (the option) when set, else ``WARDEN_ALLOW_INSECURE_HTTP``; default false."""
    if value is None:
        env = os.environ if env is None else env
        value = env.get(ENV) or None
    if value is None:
        return False
    parsed = parse_bool(value)
    return bool(parsed)


def url_problem(url, allow_insecure_http=False, option=OPTION):
    """Why ``url`` may not be used (a message for the URL's field), or None when it may.

    ``option`` is the name of the opt-in as the caller's user sets it (``openbao.allow_insecure_http``).
    """
    if not isinstance(url, str) or not url.strip():
        return 'must be an https:// address'
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:
        return 'is not a valid URL'
    scheme = (parts.scheme or '').lower()
    if scheme not in ('http', 'https') or not host:
        return 'must be an https:// address with a host name (http:// only to a loopback address)'
    if scheme == 'https' or is_loopback(host) or allow_insecure_http:
        return None
    return ('is plain http:// to %s, which is not a loopback address: a token sent there (and the answer that '
            'comes back) would cross the network unprotected. Use https://, or set %s: true (or %s=1) to allow '
            'it on purpose' % (host, option, ENV))
