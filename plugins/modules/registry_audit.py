#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: registry_audit
short_description: Record a flex-auth registry deploy in the audit trail
version_added: 0.1.0
description:
  - Appends one C(kind=registry) record to the controller's audit trail for a registry deploy on a flex-auth host,
    with the digest that was there (O(old_digest)), the digest deployed (O(new_digest)), the O(outcome) and the
    O(reason).
  - The C(netkingdom.warden.flex_auth_registry) role records every deploy this way; read them back with
    M(netkingdom.warden.activity) (O(netkingdom.warden.activity#module:kind=registry)).
  - In check mode nothing is written; the record that would be written is returned. Never reports C(changed).
author:
  - netkingdom.warden developers (@netkingdom)
extends_documentation_fragment:
  - netkingdom.warden.attributes
  - netkingdom.warden.attributes.ACTIONGROUP_WARDEN
  - netkingdom.warden.attributes.CONTROLLER
  - netkingdom.warden.audit
attributes:
  check_mode:
    support: full
    details: Validates the record and writes nothing.
  diff_mode:
    support: none
options:
  outcome:
    description:
      - V(deployed) - the new snapshot is installed and passed its checks.
      - V(unchanged) - the host already had it.
      - V(rolled_back) - it failed its checks and the previous snapshot is back.
      - V(failed) - it failed and the rollback failed too.
    type: str
    required: true
    choices: [ deployed, unchanged, rolled_back, failed ]
  old_digest:
    description:
      - Digest of the snapshot the host had before (C(sha256:...)); empty for a first deploy.
    type: str
  new_digest:
    description:
      - Digest of the snapshot deployed (or attempted).
    type: str
  reason:
    description:
      - Why, in words (the changes deployed, or why the checks failed). Cut at 2000 characters.
      - Like every audit value it is refused when it looks like secret material.
    type: str
  host:
    description:
      - The flex-auth host. Default the inventory name of the host the task runs for.
    type: str
seealso:
  - module: netkingdom.warden.activity
  - module: netkingdom.warden.registry_file
"""

EXAMPLES = r"""
- name: Record the deploy
  netkingdom.warden.registry_audit:
    old_digest: "{{ deployed.previous_digest }}"
    new_digest: "{{ deployed.digest }}"
    outcome: deployed
    reason: "{{ deployed.changes | join('; ') }}"
"""

RETURN = r"""
record:
  description: The audit record written (or, in check mode, that would be written).
  returned: success
  type: dict
  sample:
    ts: "2026-11-26T10:00:00.123456Z"
    kind: registry
    host: flex-auth-1
    old_digest: sha256:3b1f...
    new_digest: sha256:9c2e...
    outcome: deployed
    reason: "add actor agt-new-bridge (agt): principals agt-task-bridge, TTL cap 24h"
    node: controller-1
path:
  description: The audit file.
  returned: success
  type: str
written:
  description: Whether the record was written (false in check mode).
  returned: success
  type: bool
"""
