# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one resolver of the option groups ``policy``, ``openbao`` and ``local_ca``.

Each group is one table (``OptionGroup``): per option its default, the environment variables read
in order, its kind and whether it is secret. From that table come the group's argument spec, and
its values: the value given (the task, play variable or warden.yaml layers: ``layers.py``), else
the first environment variable that is set and not empty, else the default, converted by its kind
(``KINDS``). Each group's own checks (URLs, names, combinations) stay with the group.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import math
import os
import re
from collections import namedtuple

from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError
from ansible_collections.netkingdom.warden.plugins.module_utils._settings.durations import parse_duration

TRUE_WORDS = ('1', 'true', 'yes', 'on', 'y', 't')
FALSE_WORDS = ('0', 'false', 'no', 'off', 'n', 'f')
# The name of an environment variable (options that name one: openbao.token_env, policy.subject_env).
ENV_NAME_RE = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*\Z')
SECONDS_UNITS = ('ms', 's', 'm', 'h')  # a "duration" option: a bare number is seconds


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


class Option(namedtuple('Option', 'default env kind secret choices env_negates')):
    """One option: ``default``, ``env`` (the variables read, in order), ``kind`` (a KINDS key),
    ``secret`` (no_log, never shown), ``choices`` (for the argument spec) and ``env_negates`` (its
    variables mean the opposite, as BAO_SKIP_VERIFY does for validate_certs)."""

    __slots__ = ()

    def __new__(cls, default=None, env=(), kind='str', secret=False, choices=None, env_negates=False):
        return super(Option, cls).__new__(cls, default, tuple(env), kind, secret, choices, env_negates)


class OptionGroup(object):
    """The options of one dict option (``name``: policy, openbao, local_ca); ``what`` names it in errors."""

    def __init__(self, name, options, what):
        self.name = name
        self.options = options
        self.what = what
        self.secrets = tuple(key for key, option in options.items() if option.secret)

    def argument_spec(self):
        """The dict option for action plugins: types, no_log, choices; never defaults (the group
        applies them, after the environment) and no default dict (the validator would fill it in place)."""
        options = {}
        for name, option in self.options.items():
            options[name] = {'type': KINDS[option.kind][0], 'no_log': option.secret}
            if option.choices:
                options[name]['choices'] = list(option.choices)
        return {'type': 'dict', 'options': options}

    def env_names(self, name, first=None):
        """The environment variables of ``name`` in the order they are read; ``first`` goes before them."""
        names = list(self.options[name].env)
        return [first] + [e for e in names if e != first] if first else names

    def problem(self, name, message):
        return ValidationError([('%s.%s' % (self.name, name), message)], what=self.what)

    def shown(self, name, value):
        """How a bad value may appear in a message: a secret's never does."""
        return 'a %s' % type(value).__name__ if self.options[name].secret else repr(value)

    def resolve(self, given=None, env=None, env_first=None):
        """``(values, sources)`` of every option: what ``given`` sets, else the environment, else the
        default (each source is ``option``, the variable's name or ``default``). ``env_first`` maps an
        option to a variable read before its own. Raises ValidationError naming the option."""
        given = dict(given or {})
        env = os.environ if env is None else env
        unknown = sorted(set(given) - set(self.options))
        if unknown:
            raise ValidationError([('%s.%s' % (self.name, k), 'unknown option (known: %s)' % ', '.join(sorted(self.options)))
                                   for k in unknown], what=self.what)
        values, sources = {}, {}
        for name, option in self.options.items():
            value, source = given.get(name), 'option'
            if value is None:
                for env_name in self.env_names(name, (env_first or {}).get(name)):
                    if env.get(env_name) not in (None, ''):
                        value, source = env[env_name], env_name
                        break
            if value is None:
                value, source = option.default, 'default'
            if value is not None:
                value = KINDS[option.kind][1](self, name, value)
                if option.env_negates and source in option.env:
                    value = not value
            values[name], sources[name] = value, source
        return values, sources


def _text(group, name, value):
    if not isinstance(value, str):
        raise group.problem(name, 'must be a string, got %s' % type(value).__name__)
    return value


def _path(group, name, value):
    return os.path.expanduser(_text(group, name, value))


def _boolean(group, name, value):
    parsed = parse_bool(value)
    if parsed is None:
        raise group.problem(name, 'must be a boolean, got %s' % group.shown(name, value))
    return parsed


def _number(group, name, value, convert):
    """Anything ``convert`` (int or float) reads, finite and not negative."""
    try:
        number = convert(value)
    except (TypeError, ValueError, OverflowError):
        raise group.problem(name, 'must be a number, got %r' % (value,))
    if isinstance(value, bool) or number < 0 or (isinstance(number, float) and not math.isfinite(number)):
        raise group.problem(name, 'must be a finite, non-negative number, got %r' % (value,))
    return number


def _count(group, name, value):
    """A whole number of 0 or more: an int, or its digits as text."""
    if isinstance(value, bool):
        raise group.problem(name, 'must be a whole number, got a boolean')
    try:
        number = int(str(value).strip()) if not isinstance(value, int) else value
    except (TypeError, ValueError):
        raise group.problem(name, 'must be a whole number, got %s' % group.shown(name, value))
    if number < 0:
        raise group.problem(name, 'must not be negative, got %d' % number)
    return number


def _duration(group, name, value):
    """Seconds greater than 0: a number, or text such as 30s, 2m, 500ms."""
    if isinstance(value, bool):
        raise group.problem(name, 'must be a number of seconds, got a boolean')
    if isinstance(value, (int, float)):
        try:
            seconds = float(value)
        except OverflowError:  # an int too large for a float
            raise group.problem(name, 'is too large, got %r' % (value,))
    else:
        seconds = parse_duration(str(value), SECONDS_UNITS, 's')
        if seconds is None:
            raise group.problem(name, 'must be a number of seconds (or "<n>s", "<n>m"), got %s'
                                % group.shown(name, value))
    if math.isnan(seconds) or math.isinf(seconds) or seconds <= 0:
        raise group.problem(name, 'must be greater than 0')
    return seconds


def _mapping(group, name, value):
    """A mapping, or a JSON object in text (an environment variable)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise group.problem(name, 'must be a mapping (or a JSON object in the environment variable)')
    if not isinstance(value, dict):
        raise group.problem(name, 'must be a mapping, got %s' % type(value).__name__)
    return dict(value)


# kind -> (argument spec type, converter)
KINDS = {
    'str': ('str', _text),
    'path': ('path', _path),
    'bool': ('bool', _boolean),
    'float': ('float', lambda group, name, value: _number(group, name, value, float)),
    'count': ('int', _count),
    'duration': ('float', _duration),
    'dict': ('dict', _mapping),
}
