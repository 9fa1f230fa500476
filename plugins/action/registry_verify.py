# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side health, digest and smoke check of one flex-auth instance after a registry deploy.

The PDP bearer token (policy.token / WARDEN_POLICY_TOKEN) is used here, on the controller; it is
never sent to the flex-auth host."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase

from ansible_collections.netkingdom.warden.plugins.module_utils.errors import WardenError
from ansible_collections.netkingdom.warden.plugins.module_utils._gate.settings import GateSettings
from ansible_collections.netkingdom.warden.plugins.module_utils._registry.validate import load_snapshot_file
from ansible_collections.netkingdom.warden.plugins.module_utils._registry.checks import VERIFY_SPEC, make_client, verify_instance
from ansible_collections.netkingdom.warden.plugins.plugin_utils.task_vars import apply_play_defaults


class ActionModule(ActionBase):
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        dummy, args = self.validate_argument_spec(argument_spec=VERIFY_SPEC)
        args = apply_play_defaults(args, task_vars, self._templar)
        client = None
        try:
            # Only the connection options count here (token, TLS, timeout): the URL is this instance's.
            policy = dict((k, v) for k, v in (args.get('policy') or {}).items() if k not in ('mode', 'url'))
            settings = GateSettings(policy)
            snapshot = load_snapshot_file(args['snapshot']) if args['snapshot'] else None
            if args['smoke'] and snapshot is None:
                raise WardenError('snapshot (the snapshot file on the controller) is required for the smoke check; '
                                  'or set smoke=false')
            if args['wait'] < 0:
                raise WardenError('wait must not be negative, got %s' % args['wait'])
            client = make_client(args['url'], settings)
            outcome = verify_instance(client, wait=args['wait'], expect_digest=args['expect_digest'] or None,
                                      snapshot=snapshot, smoke=args['smoke'], actor=args['smoke_actor'] or None,
                                      subject=args['smoke_subject'] or None)
        except WardenError as exc:
            result.update(failed=True, changed=False, msg=str(exc))
            return result
        finally:
            if client is not None:
                client.close()
        result.update(outcome, changed=False)
        result['url'] = client.display
        if not outcome['ok']:
            result['failed'] = True
        return result
