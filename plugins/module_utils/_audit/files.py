# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit files on disk: where the log is, its rotated copies, how they are opened, AuditError.

The file lives on the controller (or execution node) that runs the play: ``resolve_path`` gives
it (option, ``$WARDEN_AUDIT_LOG``, default); auditing cannot be turned off. Rotated copies are
``<file>.1`` (newest) to ``<file>.<keep>`` (oldest).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import re

from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError, WardenError

ENV = 'WARDEN_AUDIT_LOG'
DEFAULT_PATH = '~/.local/state/warden/audit.jsonl'

_DISABLE_WORDS = ('off', 'none', 'false', 'no', '0', 'disabled', '/dev/null')


class AuditError(WardenError):
    """The audit file could not be written or read."""


def resolve_path(path=None, env=None):
    """The audit file: ``path`` when given, else ``$WARDEN_AUDIT_LOG``, else ``DEFAULT_PATH``.

    Auditing cannot be turned off: a value such as ``off`` or ``/dev/null`` is refused.
    """
    env = os.environ if env is None else env
    source = 'audit log path'
    if path in (None, ''):
        path = env.get(ENV) or None
        source = ENV
    if path is None:
        path = DEFAULT_PATH
    if not isinstance(path, str):
        raise ValidationError([(source, 'must be a file path, got %s' % type(path).__name__)], what='audit settings')
    if path.strip().lower() in _DISABLE_WORDS:
        raise ValidationError([(source, 'auditing cannot be turned off; give the path of the audit file '
                                '(default %s)' % DEFAULT_PATH)], what='audit settings')
    return os.path.abspath(os.path.expanduser(path))


def open_flags(*names):
    """The ``os.open`` flags of these names, OR-ed (a name this platform lacks counts as 0)."""
    flags = 0
    for name in names:
        flags |= getattr(os, name, 0)
    return flags


def log_files(path):
    """The current file and its rotated copies that exist, oldest first (``.N`` ... ``.1``, current)."""
    directory, base = os.path.split(path)
    pattern = re.compile(r'^%s\.(\d+)$' % re.escape(base))
    try:
        names = os.listdir(directory)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return []
        raise AuditError('cannot list the audit directory %s: %s' % (directory, exc.strerror))
    rotated = sorted((int(m.group(1)), name) for m, name in ((pattern.match(n), n) for n in names) if m)
    files = [os.path.join(directory, name) for dummy, name in reversed(rotated)]
    if base in names:
        files.append(path)
    return files
