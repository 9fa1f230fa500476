# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ensure OpenBao's SSH engine (mount, CA, roles, signer policy) from the controller.

The logic is in module_utils/_openbao/ssh_engine_spec.py (options) and ssh_engine_ensure.py (the
engine); this plugin validates the options, runs it with the controller's OpenBao session and
scrubs every secret from what it returns.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase

from ansible_collections.netkingdom.warden.plugins.module_utils.errors import WardenError
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.settings import OpenBaoSettings
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.signer import OpenBaoSigner
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.ssh_engine_ensure import SshEngine
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.ssh_engine_spec import ENGINE_SPEC, build_spec
from ansible_collections.netkingdom.warden.plugins.plugin_utils.task_vars import apply_play_defaults


def _scrub(value, scrub):
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return dict((k, _scrub(v, scrub)) for k, v in value.items())
    if isinstance(value, list):
        return [_scrub(v, scrub) for v in value]
    return value


class ActionModule(ActionBase):
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        dummy, args = self.validate_argument_spec(argument_spec=ENGINE_SPEC)
        args = apply_play_defaults(args, task_vars, self._templar, signing=True)
        private_keys = [(args.get(name) or {}).get('private_key') for name in ('ca', 'host_ca')]
        signer = None
        try:
            settings = OpenBaoSettings(args.get('openbao'))
            signer = OpenBaoSigner(settings)
            spec = build_spec(args, settings)
            outcome = SshEngine(signer, spec, check_mode=self._task.check_mode).ensure()
        except WardenError as exc:
            result.update(failed=True, changed=False, msg=self._clean(str(exc), signer, private_keys))
            return result
        diff = outcome.pop('diff')
        warnings = outcome.pop('warnings')
        if self._task.diff and diff:
            result['diff'] = diff
        if warnings:
            result['warnings'] = warnings
        if outcome['changes']:
            outcome['msg'] = '; '.join(outcome['changes'])
        else:
            mounts = [outcome['mount']] + ([outcome['host_mount']] if outcome['host_mount'] != outcome['mount'] else [])
            outcome['msg'] = 'the SSH engine on %s is as wanted: nothing to change' % ' and '.join(
                m + '/' for m in mounts)
        result.update(outcome)
        return _scrub(result, lambda text: self._clean(text, signer, private_keys))

    @staticmethod
    def _clean(text, signer, private_keys):
        if signer is not None:
            text = signer.scrub(text)
        for private_key in private_keys:
            if private_key and private_key.strip():
                text = text.replace(private_key.strip(), '<redacted>')
        return text
