# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """Shared attribute descriptions (check mode, diff, action group)."""

    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
"""

    ACTIONGROUP_WARDEN = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/netkingdom.warden.warden) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - netkingdom.warden.warden
"""

    CONTROLLER = r"""
options: {}
attributes:
  action:
    description: Runs as an action plugin on the controller; nothing secret is sent to the target.
    support: full
  async:
    description: Supports being used with the C(async) keyword.
    support: none
  become:
    description: Is usable alongside C(become) keywords.
    support: none
  connection:
    description: Uses the target's connection.
    support: none
  delegation:
    description: Can be used in conjunction with C(delegate_to) and related keywords.
    support: none
    details: Runs on the controller; delegation changes nothing.
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: all
"""
