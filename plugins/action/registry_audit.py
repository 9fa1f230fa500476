# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Record one flex-auth registry deploy (old and new digest, outcome, reason) in the controller's audit trail."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase

from ansible_collections.netkingdom.warden.plugins.module_utils._audit.log import AuditLog
from ansible_collections.netkingdom.warden.plugins.module_utils._registry.checks import MAX_REASON, REGISTRY_AUDIT_SPEC
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import WardenError
from ansible_collections.netkingdom.warden.plugins.plugin_utils.task_vars import play_audit_log


class ActionModule(ActionBase):
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}
        dummy, args = self.validate_argument_spec(argument_spec=REGISTRY_AUDIT_SPEC)
        path = args['audit_log']
        if not path:
            path = play_audit_log(task_vars, self._templar) or None  # warden_audit_log, else warden_config's
        reason = args['reason']
        if reason and len(reason) > MAX_REASON:
            reason = reason[:MAX_REASON - 3] + '...'
        fields = dict(kind='registry', host=args['host'] or task_vars.get('inventory_hostname'),
                      old_digest=args['old_digest'] or None, new_digest=args['new_digest'] or None,
                      outcome=args['outcome'], reason=reason or None)
        job_id = task_vars.get('awx_job_id')
        if job_id not in (None, ''):
            fields['job_id'] = str(job_id)
        try:
            audit = AuditLog(path)
            if self._task.check_mode:
                record = audit.check(**fields)
            else:
                record = audit.record(**fields)
        except WardenError as exc:
            result.update(failed=True, changed=False, msg=str(exc))
            return result
        result.update(changed=False, record=record, path=audit.path, written=not self._task.check_mode)
        return result
