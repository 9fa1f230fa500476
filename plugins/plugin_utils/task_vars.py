# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Play variables that action plugins use when the task does not say otherwise."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible import constants as C

# option -> play variable read when the option is not set on the task
VARIABLE_DEFAULTS = {
    'actors': 'warden_actors',
    'inventory_file': 'warden_inventory_file',
    'policy': 'warden_policy',
}
# signing options -> play variable
SIGNING_DEFAULTS = {
    'openbao': 'warden_openbao',
    'local_ca': 'warden_local_ca',
    'backend': 'warden_signing_backend',
    'audit_log': 'warden_audit_log',
}


def apply_play_defaults(args, task_vars, templar, signing=False):
    """Fill actors / inventory_file / policy from warden_* play variables.

    The actor source is taken from the play only when the task names neither
    actors nor inventory_file, so a task can always override the play.
    """
    task_vars = task_vars or {}

    def var(name):
        if name not in task_vars:
            return None
        return templar.template(task_vars[name])

    if args.get('actors') is None and not args.get('inventory_file'):
        actors = var(VARIABLE_DEFAULTS['actors'])
        if actors is not None:
            args['actors'] = actors
        else:
            args['inventory_file'] = var(VARIABLE_DEFAULTS['inventory_file'])
    policy = args.get('policy') or {}
    if not any(v is not None for v in policy.values()):
        args['policy'] = var(VARIABLE_DEFAULTS['policy']) or {}
    if signing:
        for option, name in SIGNING_DEFAULTS.items():
            value = args.get(option)
            if value is None or (isinstance(value, dict) and not any(v is not None for v in value.values())):
                args[option] = var(name) if var(name) is not None else value
    return args


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
