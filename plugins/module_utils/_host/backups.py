# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backups of host files beside them, and pruning them (or any list of old files) to the newest few.

Apart from ``fileio.py`` because it is a policy on top of the file I/O: a backup is a copy made with
``read_file``/``write_file``, pruning is ``remove_file``. Standard library only (AnsiballZ ships it).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import time

from ansible_collections.netkingdom.warden.plugins.module_utils._host.fileio import read_file, remove_file, write_file
from ansible_collections.netkingdom.warden.plugins.module_utils._host.safe_path import UnsafePath, absolute

BACKUP_STAMP = '%Y-%m-%d@%H:%M:%S'
_BACKUP_RE = r'\.(\d+)\.(\d{4}-\d{2}-\d{2}@\d{2}:\d{2}:\d{2})~'


def backup_file(path, trust=None, now=None):
    """Copy ``path`` beside it as ``<file>.<pid>.<YYYY-mm-dd@HH:MM:SS>~`` (the name
    AnsibleModule.backup_local gives), with its owner, mode and times; the copy's path, or None
    when there is no file."""
    found = read_file(path, trust, max_bytes=None)
    if found is None:
        return None
    backup = '%s.%d.%s~' % (absolute(path), os.getpid(), time.strftime(BACKUP_STAMP, time.localtime(now)))
    write_file(backup, found.data, found.mode, found.uid, found.gid, trust=trust,
               times_ns=(found.atime_ns, found.mtime_ns))
    return backup


def backups_of(path):
    """Backups of ``path`` beside it, oldest first (by the time in the name, then mtime)."""
    directory, name = os.path.split(path)
    pattern = re.compile(re.escape(name) + _BACKUP_RE + r'\Z')
    try:
        entries = os.listdir(directory or '.')
    except OSError:
        return []
    found = []
    for entry in entries:
        match = pattern.match(entry)
        if match is None:
            continue
        full = os.path.join(directory, entry)
        try:
            mtime = os.lstat(full).st_mtime
        except OSError:
            continue
        found.append((match.group(2), mtime, full))
    return [full for dummy, dummy2, full in sorted(found)]


def prune(paths, keep, protect=(), trust=None):
    """Remove all but the ``keep`` newest of ``paths`` (oldest first; ``keep`` < 1 keeps every one),
    never one in ``protect``. Returns ``(removed, problems)``: a file that cannot be removed is a
    problem to report, never a reason to fail the change that was just made."""
    if keep is None or keep < 1:
        return [], []
    excess = len(paths) - keep
    removed, problems = [], []
    for path in paths:
        if excess <= 0:
            break
        if path in protect:
            continue
        excess -= 1
        try:
            if remove_file(path, trust):
                removed.append(path)
        except (OSError, UnsafePath) as exc:
            problems.append('%s: %s' % (path, getattr(exc, 'strerror', None) or exc))
    return removed, problems


def prune_backups(path, keep, trust=None):
    """Keep only the ``keep`` newest backups of ``path`` (see :func:`backups_of`, :func:`prune`)."""
    return prune(backups_of(path), keep, trust=trust)
