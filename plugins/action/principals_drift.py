# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Principals drift: read the host once (principals_drift_host), compare on the controller.

The wanted state and the actor inventory stay on the controller; the host only sends back the text
of its principals files and its CA file. Never changes anything.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.netkingdom.warden.plugins.module_utils._inventory.actors import resolve_actors
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import WardenError
from ansible_collections.netkingdom.warden.plugins.module_utils._host.ca_keys import validate_ca_keys
from ansible_collections.netkingdom.warden.plugins.module_utils._host.drift import (
    PRINCIPALS_DRIFT_EXCLUSIVE,
    PRINCIPALS_DRIFT_SPEC,
    drift_report,
)
from ansible_collections.netkingdom.warden.plugins.module_utils._host.principals import validate_principals_map
from ansible_collections.netkingdom.warden.plugins.plugin_utils.host_pair import HostPairAction
from ansible_collections.netkingdom.warden.plugins.plugin_utils.task_vars import apply_play_defaults

# option -> play variable used when the task does not set it
DRIFT_VARIABLES = {
    'principals': 'warden_host_principals',
    'trusted_ca_keys': 'warden_trusted_ca_keys',
}


class ActionModule(HostPairAction):
    HOST_MODULE = 'netkingdom.warden.principals_drift_host'

    def _var(self, task_vars, name):
        if name not in task_vars:
            return None
        return self._templar.template(task_vars[name])

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}
        dummy, args = self.validate_argument_spec(argument_spec=PRINCIPALS_DRIFT_SPEC,
                                                  mutually_exclusive=PRINCIPALS_DRIFT_EXCLUSIVE)
        args = apply_play_defaults(args, task_vars, self._templar)
        for option, variable in DRIFT_VARIABLES.items():
            if args.get(option) is None:
                args[option] = self._var(task_vars, variable)
        host = task_vars.get('inventory_hostname', 'localhost')
        result['changed'] = False

        try:
            if args['principals'] is None:
                raise WardenError('principals is required (or set warden_host_principals for the host)')
            desired = validate_principals_map(args['principals'])
            ca_keys = None
            if args['trusted_ca_keys'] is not None:
                ca_keys = validate_ca_keys(args['trusted_ca_keys'])
            actors = None
            if args.get('actors') is not None or args.get('inventory_file'):
                actors, warnings = resolve_actors(args.get('actors'), args.get('inventory_file'))
                for warning in warnings:
                    self._display.warning(warning)
        except WardenError as exc:
            result.update(failed=True, msg=str(exc))
            return result

        read_args = {'accounts': sorted(desired), 'path_template': args['path_template'],
                     'ca_path': args['ca_path'] if ca_keys is not None else ''}
        observed = self._host_call(read_args, task_vars)
        if observed.get('failed') or observed.get('unreachable'):
            result.update(failed=True, msg='reading the principals files on %s failed: %s' % (host, observed.get('msg')))
            if observed.get('unreachable'):
                result['unreachable'] = True
            return result

        report = drift_report(host, desired, observed, trusted_ca_keys=ca_keys, actors=actors)
        result.update(report, changed=False, host=host)
        if report['drift']:
            result['msg'] = 'principals drift on %s:\n- %s' % (host, '\n- '.join(report['summary']))
            if args['fail_on_drift']:
                result['failed'] = True
        else:
            result['msg'] = 'no principals drift on %s' % host
        return result
