# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Owner and group names to ids, on the host (used by the host modules that write files)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import grp
import pwd


def resolve_id(value, kind):
    """uid (kind ``owner``) or gid (kind ``group``) of a name or a number; None when unset or unknown."""
    if value in (None, ''):
        return None
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    try:
        return pwd.getpwnam(text).pw_uid if kind == 'owner' else grp.getgrnam(text).gr_gid
    except KeyError:
        return None
