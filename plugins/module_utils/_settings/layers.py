# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the layers of an option combine, for every plugin::

    option set on the task  >  warden_* play variable  >  warden_config file (warden.yaml)
        >  environment variables  >  defaults

``PLAY_VARIABLES`` names the play variable of each option. The plugins apply the first three
layers (plugin_utils/task_vars.py, with ``layered`` and ``fill_options`` here); the environment
and the defaults are applied where each option group is read (``_settings/resolver.py``), only to
what is still unset. Dict options (``policy``, ``openbao``, ``local_ca``) are layered sub-option by
sub-option. The actor source is the exception: the file's inventory is used only when neither the
task nor the play names actors or an inventory file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

# option -> the play variable that sets it when the task does not
PLAY_VARIABLES = {
    'actors': 'warden_actors',
    'inventory_file': 'warden_inventory_file',
    'policy': 'warden_policy',
    'backend': 'warden_signing_backend',
    'openbao': 'warden_openbao',
    'local_ca': 'warden_local_ca',
    'audit_log': 'warden_audit_log',
}
# The options that name the actors (the file's inventory counts only when neither is set), and those
# only the signing plugins have.
ACTOR_SOURCE = ('actors', 'inventory_file')
SIGNING_OPTIONS = ('openbao', 'local_ca', 'backend', 'audit_log')
# Options a warden_config file can fill.
FILE_OPTIONS = ('policy', 'backend', 'openbao', 'local_ca', 'audit_log', 'inventory_file')
DICT_OPTIONS = ('policy', 'openbao', 'local_ca')


def is_set(value):
    """An option counts as set when it is not None and, for a dict, has a sub-option that is not None."""
    if value is None:
        return False
    if isinstance(value, dict):
        return any(v is not None for v in value.values())
    return True


def layered(option, higher, from_file):
    """The value of ``option`` with the file's value under ``higher`` (what the task or play set).

    Dict options are merged sub-option by sub-option: the higher layer's non-None sub-options win.
    """
    if option in DICT_OPTIONS:
        if not from_file:
            return higher
        merged = dict(from_file)
        merged.update((k, v) for k, v in (higher or {}).items() if v is not None)
        return merged
    return higher if is_set(higher) else (from_file if from_file is not None else higher)


def fill_options(chosen, config, actor_source_given, env=None):
    """Options with the file's values layered under ``chosen`` ({option: value the task or play set,
    or None}). The file's inventory counts only when ``actor_source_given`` is false; ``subject``
    is filled only when ``chosen`` has that key. ops-warden's defaults (``config.defaults``) fill
    what is still unset where no environment variable (``env``, default os.environ) sets it either.
    Returns a new dict."""
    result = dict(chosen)
    if config is None:
        return result
    env = os.environ if env is None else env
    for option in chosen:
        if option == 'inventory_file':
            if not actor_source_given and not is_set(chosen.get(option)):
                result[option] = config.get('inventory_file')
            continue
        result[option] = layered(option, chosen.get(option), config.get(option))
    for target, (value, env_names) in sorted(config.defaults.items()):
        option, dummy, sub = target.partition('.')
        if option not in chosen or any(env.get(name) not in (None, '') for name in env_names):
            continue
        if not sub:
            if not is_set(result.get(option)):
                result[option] = value
        elif (result.get(option) or {}).get(sub) is None:
            result[option] = dict(result.get(option) or {}, **{sub: value})
    return result
