# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side policy check: the PDP token and inventory never reach a target."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase

from ansible_collections.netkingdom.warden.plugins.module_utils.errors import WardenError
from ansible_collections.netkingdom.warden.plugins.module_utils._gate.gate import (
    POLICY_CHECK_EXCLUSIVE,
    POLICY_CHECK_SPEC,
    policy_check,
)
from ansible_collections.netkingdom.warden.plugins.plugin_utils.task_vars import apply_play_defaults


class ActionModule(ActionBase):
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        dummy, args = self.validate_argument_spec(argument_spec=POLICY_CHECK_SPEC,
                                                  mutually_exclusive=POLICY_CHECK_EXCLUSIVE)
        args = apply_play_defaults(args, task_vars, self._templar)
        try:
            outcome = policy_check(args)
        except WardenError as exc:
            result.update(failed=True, changed=False, msg=str(exc))
            return result
        warnings = outcome.pop('warnings')
        if warnings:
            result['warnings'] = warnings
        result.update(outcome, changed=False)
        if not outcome['allowed'] and args['fail_on_deny']:
            result['failed'] = True
        return result
