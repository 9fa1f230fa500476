# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """The placeholder values a routing catalog's commands are resolved with."""

    DOCUMENTATION = r"""
options:
  domain:
    description: Value of the C(<domain>) placeholder.
    type: str
  field:
    description: Value of the C(<field>) placeholder (for a KV lane, the field to return).
    type: str
  path:
    description: Value of the C(<path>) placeholder (a path in the owner's system, not a local file).
    type: str
  placeholders:
    description:
      - "Values of any other placeholders, for example C({actor: agt-state-hub-bridge, host: bridge1})."
      - "Values may hold only letters, digits and C(_ @ % + = : , . / -), and nothing that looks like a secret."
      - A command that would still contain a placeholder is not given out or run (never guessed).
    type: dict
    default: {}
"""
