# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What one controller process keeps about OpenBao: a logged-in session per settings, and the
roles that refused a key id (with the warning to show once).

Many signs (a loop, many lookups in one worker) then log in once. hvac and requests are imported
on the first request that needs the network (``libs()``), never when this file is imported:
``import hvac`` costs a noticeable fraction of a second per process.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import threading

from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.auth import OpenBaoError

try:
    from importlib.util import find_spec
    HAS_HVAC = find_spec('hvac') is not None
except (ImportError, ValueError):  # pragma: no cover
    HAS_HVAC = False


class Session(object):
    """One logged-in client per settings, shared by every client object in the process."""

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


def session_for(settings):
    """The process's session for these settings (``settings.session_key()``), made on first use."""
    key = settings.session_key()
    with _SESSIONS_LOCK:
        return _SESSIONS.setdefault(key, Session())


def key_id_refused(url, mount, role):
    """Whether ``<mount>/sign/<role>`` at ``url`` refused a key_id earlier in this process."""
    with _KEY_ID_LOCK:
        return (url, mount, role) in _KEY_ID_REFUSED


def remember_key_id_refused(url, mount, role, warning):
    """Remember that the role refused a key_id; ``warning`` is shown once (the first time only)."""
    with _KEY_ID_LOCK:
        if (url, mount, role) in _KEY_ID_REFUSED:
            return
        _KEY_ID_REFUSED.add((url, mount, role))
        _PENDING_WARNINGS.append(warning)


def take_warnings():
    """Warnings this process has not shown yet (each once)."""
    with _KEY_ID_LOCK:
        pending = list(_PENDING_WARNINGS)
        del _PENDING_WARNINGS[:]
    return pending


def reset_sessions():
    """Forget every cached client and token (tests; or after credentials changed)."""
    with _SESSIONS_LOCK:
        _SESSIONS.clear()
    with _KEY_ID_LOCK:
        _KEY_ID_REFUSED.clear()
        del _PENDING_WARNINGS[:]


def libs():
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
