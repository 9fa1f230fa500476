# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The play layers of every plugin's options: the warden_* play variables, then the warden.yaml named
by ``warden_config`` (or ``WARDEN_CONFIG``), under what the task sets (``_settings/layers.py``).

Action plugins call :func:`apply_play_defaults`, lookups :func:`set_lookup_options`. The environment
variables and defaults are applied later, where each option group is read (GateSettings,
OpenBaoSettings, the local CA, AuditLog), only to what is still unset here.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible import constants as C
from ansible.errors import AnsibleActionFail, AnsibleLookupError
from ansible.utils.display import Display

from ansible_collections.netkingdom.warden.plugins.module_utils.errors import WardenError
from ansible_collections.netkingdom.warden.plugins.module_utils._inventory.host_names import INVENTORY_VARIABLE, host_cert_names
from ansible_collections.netkingdom.warden.plugins.module_utils._settings.layers import (
    ACTOR_SOURCE,
    FILE_OPTIONS,
    PLAY_VARIABLES,
    SIGNING_OPTIONS,
    fill_options,
    is_set,
    layered,
)
from ansible_collections.netkingdom.warden.plugins.module_utils._settings.warden_config import (
    CONFIG_ENV,
    CONFIG_VARIABLE,
    load_config,
)

display = Display()


def task_var(task_vars, templar, name):
    """The play variable ``name``, templated; None when it is not set."""
    if name not in (task_vars or {}):
        return None
    return templar.template(task_vars[name])


def host_cert_principals(configured, task_vars, templar, field):
    """The names of this host's certificate: ``configured`` (the task's option), else the inventory variable
    ``warden_host_cert_principals``, else ``inventory_hostname`` (+ ``ansible_host`` when a DNS name)."""
    return host_cert_names(configured, (task_vars or {}).get('inventory_hostname'),
                           task_var(task_vars, templar, 'ansible_host'), field=field,
                           variable=task_var(task_vars, templar, INVENTORY_VARIABLE))


def _config(path, error):
    """The loaded warden_config file (None when no path), its warnings shown once per run."""
    if not path:
        return None
    try:
        config = load_config(path)
    except WardenError as exc:
        raise error(str(exc))
    for warning in config.warnings:
        display.warning(warning)  # shown once: the controller de-duplicates warnings
    return config


def play_config(task_vars, templar):
    """The warden.yaml named by the play variable ``warden_config``, else ``WARDEN_CONFIG``; or None.

    Raises AnsibleActionFail (the task fails with the message) when the file is unreadable or wrong.
    """
    task_vars = task_vars or {}
    path = templar.template(task_vars[CONFIG_VARIABLE]) if CONFIG_VARIABLE in task_vars else None
    return _config(path or os.environ.get(CONFIG_ENV) or None, AnsibleActionFail)


def play_audit_log(task_vars, templar):
    """The audit log the play names: ``warden_audit_log``, else the warden_config file's; or None
    (then WARDEN_AUDIT_LOG and the default apply)."""
    task_vars = task_vars or {}
    if task_vars.get(PLAY_VARIABLES['audit_log']) is not None:
        path = templar.template(task_vars[PLAY_VARIABLES['audit_log']])
        if path:
            return path
    config = play_config(task_vars, templar)
    return config.get('audit_log') if config is not None else None


def apply_play_defaults(args, task_vars, templar, signing=False):
    """Fill actors / inventory_file / policy (and, for signing, backend / openbao / local_ca /
    audit_log) from warden_* play variables, then from the warden_config file.

    The actor source is taken from the play only when the task names neither actors nor
    inventory_file, and from the file only when neither the task nor the play names one, so a task
    can always override the play and the play the file.
    """
    task_vars = task_vars or {}

    def var(name):
        if name not in task_vars:
            return None
        return templar.template(task_vars[name])

    actor_source = args.get('actors') is not None or bool(args.get('inventory_file'))
    if not actor_source:
        actors = var(PLAY_VARIABLES['actors'])
        if actors is not None:
            args['actors'] = actors
        else:
            args['inventory_file'] = var(PLAY_VARIABLES['inventory_file'])
        actor_source = actors is not None or bool(args.get('inventory_file'))
    policy = args.get('policy') or {}
    if not is_set(policy):
        args['policy'] = var(PLAY_VARIABLES['policy']) or {}
    if signing:
        for option in SIGNING_OPTIONS:
            value = args.get(option)
            if not is_set(value):
                args[option] = var(PLAY_VARIABLES[option]) if var(PLAY_VARIABLES[option]) is not None else value
    config = play_config(task_vars, templar)
    if config is not None:
        chosen = dict((option, args.get(option)) for option in ['policy', 'inventory_file'] + (
            list(SIGNING_OPTIONS) if signing else []))
        if 'subject' in args:
            chosen['subject'] = args['subject']
        args.update(fill_options(chosen, config, actor_source))
    return args


def play_signer_openbao(plugin, variables):
    """The ``openbao`` options the play gives the signer (``warden_openbao`` over the warden_config
    file), for a lookup that must recognise the signer's token without ever using it (credential)."""
    variables = variables or {}
    templar = getattr(plugin, '_templar', None)

    def var(name):
        if name not in variables:
            return None
        return templar.template(variables[name]) if templar is not None else variables[name]

    config = _config(var(CONFIG_VARIABLE) or os.environ.get(CONFIG_ENV) or None, AnsibleLookupError)
    play = var(PLAY_VARIABLES['openbao'])
    return layered('openbao', play if isinstance(play, dict) else None,
                   config.get('openbao') if config is not None else None) or {}


def lookup_var_options(plugin, variables):
    """The play variables a lookup reads options from (its ``vars:`` sources), templated.

    Ansible hands a lookup those variables as written, so ``warden_local_ca: {key_path:
    "{{ inventory_dir }}/ca_key"}`` or ``warden_openbao: {token: "{{ vaulted_token }}"}`` would
    reach the plugin as literal text. Only the variables the plugin's options name are templated.
    Pass the result to ``set_options(var_options=...)``.
    """
    templar = getattr(plugin, '_templar', None)
    if not variables or templar is None:
        return variables
    definitions = C.config.get_configuration_definitions(plugin.plugin_type, plugin._load_name) or {}
    names = set(entry['name'] for definition in definitions.values() for entry in definition.get('vars') or [])
    return dict((name, templar.template(variables[name])) for name in sorted(names) if name in variables)


def set_lookup_options(plugin, variables, direct):
    """``plugin.set_options`` for a lookup, with the warden_config file layered in.

    The file (option ``warden_config``: the lookup's keyword, else the play variable, else
    ``WARDEN_CONFIG``) fills what neither the keyword arguments nor the play variables set, before
    environment variables and defaults. Returns the loaded config, or None.
    """
    var_options = lookup_var_options(plugin, variables) or {}
    direct = dict(direct or {})
    definitions = C.config.get_configuration_definitions(plugin.plugin_type, plugin._load_name) or {}
    path = None
    if CONFIG_VARIABLE in definitions:
        path = direct.get(CONFIG_VARIABLE) or var_options.get(CONFIG_VARIABLE) or os.environ.get(CONFIG_ENV)
    config = _config(path, AnsibleLookupError)
    if config is not None:
        chosen = {}
        for option in [o for o in FILE_OPTIONS if o in definitions] + (
                ['subject'] if 'subject' in definitions else []):
            value = direct.get(option)
            if not is_set(value):
                value = var_options.get(PLAY_VARIABLES.get(option))
            chosen[option] = value
        actor_source = any(is_set(direct.get(o)) for o in ACTOR_SOURCE) or any(
            var_options.get(PLAY_VARIABLES[o]) is not None for o in ACTOR_SOURCE)
        for option, value in fill_options(chosen, config, actor_source).items():
            if value is not None and value != chosen[option]:
                direct[option] = value  # above the play variable, which it already includes
    plugin.set_options(var_options=var_options, direct=direct)
    return config
