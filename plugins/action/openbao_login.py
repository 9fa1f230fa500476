# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Log in once on the controller; the session token is returned no_log and never sent to a host."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase

from ansible_collections.netkingdom.warden.plugins.module_utils.errors import WardenError
from ansible_collections.netkingdom.warden.plugins.module_utils.openbao import (
    OpenBaoSettings,
    OpenBaoSigner,
    argument_spec,
)
from ansible_collections.netkingdom.warden.plugins.plugin_utils.task_vars import apply_play_defaults


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        dummy, args = self.validate_argument_spec(argument_spec={'openbao': argument_spec()})
        args = apply_play_defaults(args, task_vars, self._templar, signing=True)
        try:
            settings = OpenBaoSettings(args.get('openbao'))
            session = OpenBaoSigner(settings).session_settings()
        except WardenError as exc:
            result.update(failed=True, changed=False, msg=str(exc))
            return result
        # The session token is in the result: hide it from every display and callback.
        result.update(changed=False, openbao=session, auth_method=settings.auth_method, _ansible_no_log=True)
        return result
