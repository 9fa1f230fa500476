# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller half of a controller/host pair: an action plugin that decides on the controller
and runs its internal host module (named ``<action>_host``) for what only the host can read or write."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase


class HostPairAction(ActionBase):
    """Set ``HOST_MODULE`` to the fully qualified name of the host half."""

    HOST_MODULE = None

    def _host_call(self, args, task_vars):
        """Run the host half with ``args``; its result as returned (``failed`` included)."""
        return self._execute_module(module_name=self.HOST_MODULE, module_args=args, task_vars=task_vars)
