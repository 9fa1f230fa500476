# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the SSH engine's role fields compare: one form for a wanted value and for OpenBao's answer.

OpenBao reports TTLs as seconds, lists as comma strings, booleans and maps as JSON; ``normalise``
brings a wanted value and OpenBao's to one comparable form, ``shown`` is how it reads in a message
or a diff, ``write_form`` how it is sent. The options are checked in ``ssh_engine_spec``; the
engine is read, compared and written in ``ssh_engine_ensure``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import math
import re

from ansible_collections.netkingdom.warden.plugins.module_utils._settings.durations import parse_duration

# How OpenBao reports SSH role fields, for comparing a wanted role with the one it has.
DURATION_FIELDS = frozenset(['ttl', 'max_ttl', 'not_before_duration'])
LIST_FIELDS = frozenset(['allowed_users', 'allowed_domains', 'allowed_extensions', 'allowed_critical_options'])
MAP_FIELDS = frozenset(['default_extensions', 'default_critical_options', 'allowed_user_key_lengths'])


# --- values ---------------------------------------------------------------------------------------
def duration_seconds(value):
    """Seconds of a role duration: a number of seconds, ``"90"``, ``"24h"``, ``"1h30m"``. ValueError if not."""
    if isinstance(value, bool) or value is None:
        raise ValueError('must be a duration such as 24h, 90m or a number of seconds')
    if isinstance(value, (int, float)):
        try:
            seconds = float(value)
        except OverflowError:  # an int too large for a float
            raise ValueError('is too large, got %r' % (value,))
    else:
        seconds = parse_duration(str(value).strip().lower(), ('h', 'm', 's'), 's', compound=True)
        if seconds is None:
            raise ValueError('must be a duration such as 24h, 90m or a number of seconds, got %r' % (value,))
    if math.isnan(seconds) or math.isinf(seconds) or seconds < 0 or seconds != int(seconds):
        raise ValueError('must be a whole, non-negative number of seconds, got %r' % (value,))
    return int(seconds)


def format_duration(seconds):
    """``86400`` -> ``24h``, ``5400`` -> ``90m``, ``45`` -> ``45s``."""
    for unit, size in (('h', 3600), ('m', 60)):
        if seconds and seconds % size == 0:
            return '%d%s' % (seconds // size, unit)
    return '%ds' % seconds


def list_items(value):
    """The non-empty, stripped items of a list or of a comma-separated string."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        parts = value
    else:
        parts = str(value).split(',')
    return [str(p).strip() for p in parts if str(p).strip()]


def parse_bool(value):
    """A boolean from a boolean, None or a yes/no word (OpenBao's answers); ValueError if not."""
    if isinstance(value, bool) or value is None:
        return bool(value)
    text = str(value).strip().lower()
    if text in ('1', 'true', 'yes', 'on', 'y', 't'):
        return True
    if text in ('0', 'false', 'no', 'off', 'n', 'f', ''):
        return False
    raise ValueError('must be a boolean, got %r' % (value,))


def _plain(value):
    """A JSON-stable form of an arbitrary value, for fields this module has no rule for."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return int(value) if float(value).is_integer() else float(value)
    if isinstance(value, dict):
        return dict((str(k), _plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    text = str(value).strip()
    if re.match(r'^-?\d+$', text):
        return int(text)
    return text


def normalise(field, value, like=None):
    """The comparable form of a role field, from a wanted value or from OpenBao's answer.

    ``like`` is OpenBao's own value of the field (when known): fields without a rule here
    are compared in the shape OpenBao reports them (a boolean, a number, a string).
    """
    if field in DURATION_FIELDS:
        return duration_seconds(value)
    if field in LIST_FIELDS:
        return sorted(set(list_items(value)))
    if field == 'default_extensions' or field == 'default_critical_options':
        return dict((str(k), '' if v is None else str(v)) for k, v in (value or {}).items())
    if field in MAP_FIELDS:
        return _plain(value or {})
    if isinstance(value, bool) or isinstance(like, bool) or field.startswith('allow_') or field.endswith('_template'):
        return parse_bool(value)
    if isinstance(like, str) and isinstance(value, (list, tuple)):
        return ','.join(list_items(value))
    return _plain(value)


def shown(field, value):
    """How a normalised field value reads in a message or a diff."""
    if field in DURATION_FIELDS and isinstance(value, int):
        return format_duration(value)
    if field in LIST_FIELDS:
        return ','.join(value) if value else '(none)'
    if field == 'default_extensions':
        return ','.join(sorted(value)) if value else '(none)'
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return '""' if value == '' else str(value)


def write_form(field, value):
    """The value as it is sent to OpenBao."""
    if field in DURATION_FIELDS:
        return '%ds' % duration_seconds(value)
    if field in LIST_FIELDS:
        return ','.join(list_items(value))
    if field == 'default_extensions' or field == 'default_critical_options':
        return dict((str(k), '' if v is None else str(v)) for k, v in (value or {}).items())
    return value
