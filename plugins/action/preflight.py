# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side preflight: OpenBao, the token, the CA, flex-auth, the registry, the inventory, and
what the hosts reported (OpenSSH version, deployed registry). Reports; changes nothing."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase

from ansible_collections.netkingdom.warden.plugins.module_utils.errors import WardenError
from ansible_collections.netkingdom.warden.plugins.module_utils._preflight.checks import PREFLIGHT_EXCLUSIVE, PREFLIGHT_SPEC, run_preflight
from ansible_collections.netkingdom.warden.plugins.plugin_utils.task_vars import apply_play_defaults


class ActionModule(ActionBase):
    _requires_connection = False

    def _reports(self, task_vars, hosts, var):
        """{host: the registered result named ``var``} (None where the host has none)."""
        hostvars = task_vars.get('hostvars') or {}
        found = {}
        for host in hosts:
            try:
                value = hostvars[host].get(var) if host in hostvars else None
            except Exception:  # pylint: disable=broad-except
                value = None  # an undefined or broken variable counts as no report
            found[host] = value  # hostvars are templated on access; a registered result is data
        return found

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}
        dummy, args = self.validate_argument_spec(argument_spec=PREFLIGHT_SPEC, mutually_exclusive=PREFLIGHT_EXCLUSIVE)
        args = apply_play_defaults(args, task_vars, self._templar, signing=True)
        try:
            outcome = run_preflight(
                actors=args.get('actors'), inventory_file=args.get('inventory_file'), openbao=args.get('openbao'),
                backend=args.get('backend'), local_ca=args.get('local_ca'), policy=args.get('policy'),
                host_reports=self._reports(task_vars, args['hosts'], args['sshd_var']),
                registry_reports=self._reports(task_vars, args['flex_auth_hosts'], args['registry_var']),
                sshd_min_version=args['sshd_min_version'], sign_host_certificates=args['sign_host_certificates'],
                skip=args['skip'])
        except WardenError as exc:
            result.update(failed=True, changed=False, msg=str(exc))
            return result
        result.update(outcome, changed=False)
        if not outcome['ok'] and args['fail_on_failure']:
            result['failed'] = True
        return result
