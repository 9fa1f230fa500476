# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Durations written as text (``90``, ``30s``, ``12h``, OpenBao's ``1h30m``), read to seconds.

One parser for every duration option; each caller names the units it accepts, the unit of a
bare number, and its own message for text that is not a duration.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

NUMBER = r'\d+(?:\.\d+)?'
UNIT_SECONDS = {'ms': 0.001, 's': 1.0, 'm': 60.0, 'h': 3600.0, 'd': 86400.0}
_PATTERNS = {}


def _patterns(units):
    """(one duration, one part of a compound duration) for these units; ``ms`` is tried before ``m``."""
    if units not in _PATTERNS:
        choice = '|'.join(sorted(units, key=len, reverse=True))
        _PATTERNS[units] = (re.compile(r'^\s*(%s)\s*(%s)?\s*$' % (NUMBER, choice)),
                            re.compile(r'(%s)(%s)' % (NUMBER, choice)))
    return _PATTERNS[units]


def parse_duration(text, units, default_unit, compound=False):
    """The seconds (a float) ``text`` says, or None when it is not a duration of this form.

    ``text`` is a number in ``default_unit`` or a number followed by one of ``units`` (a tuple of
    ``UNIT_SECONDS`` keys), spaces allowed around and between: ``'90'``, ``'90 m'``.
    ``compound=True`` reads OpenBao's form instead: a bare number, or parts with no space inside,
    one after the other (``'1h30m'``).
    """
    one, part = _patterns(tuple(units))
    if not compound:
        match = one.match(text)
        if not match:
            return None
        return float(match.group(1)) * UNIT_SECONDS[match.group(2) or default_unit]
    if re.match(r'^%s\Z' % NUMBER, text):
        return float(text) * UNIT_SECONDS[default_unit]
    if text and part.sub('', text) == '':
        return sum(float(number) * UNIT_SECONDS[unit] for number, unit in part.findall(text))
    return None
