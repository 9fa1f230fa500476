# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side query of the audit trail (replaces ops-warden's ``warden activity``)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase

from ansible_collections.netkingdom.warden.plugins.module_utils._audit.files import resolve_path
from ansible_collections.netkingdom.warden.plugins.module_utils._audit.query import ACTIVITY_SPEC, query
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import WardenError
from ansible_collections.netkingdom.warden.plugins.plugin_utils.task_vars import play_audit_log


class ActionModule(ActionBase):
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        dummy, args = self.validate_argument_spec(argument_spec=ACTIVITY_SPEC)
        path = args.get('path')
        if not path:
            path = play_audit_log(task_vars, self._templar) or None  # warden_audit_log, else warden_config's
        try:
            path = resolve_path(path)
            records = query(path=path, days=args.get('days'), kind=args.get('kind'), actor=args.get('actor'),
                            host=args.get('host'), limit=args.get('limit'))
        except WardenError as exc:
            result.update(failed=True, changed=False, msg=str(exc))
            return result
        result.update(
            changed=False,
            path=path,
            records=list(records),
            count=len(records),
            skipped_lines=records.skipped_lines,
            files=records.files,
        )
        if records.skipped_lines:
            result['warnings'] = ['%d line(s) of the audit log are not JSON records and were skipped'
                                  % records.skipped_lines]
        return result
