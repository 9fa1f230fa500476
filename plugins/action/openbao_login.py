# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Log in once on the controller; the session token is returned no_log and never sent to a host."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase

from ansible_collections.netkingdom.warden.plugins.module_utils.errors import WardenError
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.settings import OpenBaoSettings, openbao_argument_spec
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.signer import OpenBaoSigner
from ansible_collections.netkingdom.warden.plugins.module_utils._signing.backends import backend_name
from ansible_collections.netkingdom.warden.plugins.plugin_utils.task_vars import apply_play_defaults


class ActionModule(ActionBase):
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        dummy, args = self.validate_argument_spec(argument_spec={
            'openbao': openbao_argument_spec(),
            'only_when_needed': {'type': 'bool', 'default': False},
        })
        args = apply_play_defaults(args, task_vars, self._templar, signing=True)
        try:
            if args['only_when_needed']:
                # the same choice every signing task makes: task > warden_* variables > warden_config > env
                if backend_name(args.get('backend'), args.get('openbao')) != 'openbao':
                    return self._not_needed(result, 'the signing backend is the local CA')
                method = OpenBaoSettings(args.get('openbao'), require_auth=False).auth_method
                if method == 'token':
                    return self._not_needed(result, 'auth_method is token: every task uses the token itself')
            settings = OpenBaoSettings(args.get('openbao'))
            session = OpenBaoSigner(settings).session_settings()
        except WardenError as exc:
            result.update(failed=True, changed=False, msg=str(exc))
            return result
        # The session token is in the result: hide it from every display and callback.
        result.update(changed=False, openbao=session, auth_method=settings.auth_method, _ansible_no_log=True)
        return result

    @staticmethod
    def _not_needed(result, why):
        """No session: later tasks keep their own settings (nothing secret in the result)."""
        result.update(changed=False, skipped=True, skip_reason='no OpenBao login needed: %s' % why, openbao=None,
                      auth_method=None)
        return result
