# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How option values given as text (environment variables, AWX injectors) are read."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

TRUE_WORDS = ('1', 'true', 'yes', 'on', 'y', 't')
FALSE_WORDS = ('0', 'false', 'no', 'off', 'n', 'f')


def parse_bool(value):
    """True/False for a boolean or the words options and environment variables use; None otherwise."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    return None
