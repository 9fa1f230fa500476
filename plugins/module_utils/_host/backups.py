# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backups of managed files on the host: only the newest few are kept.

Every change writes a backup ``<file>.<pid>.<YYYY-mm-dd@HH:MM:SS>~`` (AnsibleModule.backup_local)
so a failed change can be put back; without pruning, a fleet that rotates often collects one per
change forever. Only names of exactly that shape, beside the file, are ever removed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

_STAMP = r'\.(\d+)\.(\d{4}-\d{2}-\d{2}@\d{2}:\d{2}:\d{2})~'


def backups_of(path):
    """Backups of ``path`` beside it, oldest first (by the time in the name, then mtime)."""
    directory, name = os.path.split(path)
    pattern = re.compile(re.escape(name) + _STAMP + r'\Z')
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


def prune_backups(path, keep):
    """Remove all but the ``keep`` newest backups of ``path`` (``keep`` < 1 keeps every one).

    Returns ``(removed, problems)``; a backup that cannot be removed is a problem to report,
    never a reason to fail the change that was just made.
    """
    if keep is None or keep < 1:
        return [], []
    old = backups_of(path)[:-keep]
    removed, problems = [], []
    for backup in old:
        try:
            os.unlink(backup)
            removed.append(backup)
        except OSError as exc:
            problems.append('%s: %s' % (backup, exc.strerror))
    return removed, problems
