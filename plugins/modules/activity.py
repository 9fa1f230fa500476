#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: activity
short_description: Query the warden audit trail (signings, policy decisions, rotations, deploys, access)
version_added: 0.1.0
description:
  - Reads the audit trail the collection's plugins write on the controller, one JSON record per event,
    and returns the records that match the filters, oldest first and newest last.
  - Replaces ops-warden's C(warden activity) command; the result is JSON data to register, filter or
    write out, for example for a report or a SIEM upload.
  - Reads the current file and its rotated copies (C(audit.jsonl.N) ... C(audit.jsonl.1), C(audit.jsonl)),
    under a shared lock so a rotation cannot interleave with the read.
  - Lines that are not JSON records (a torn line after a crash, a hand edit) are skipped and counted in
    RV(skipped_lines), with a warning.
  - Runs on the controller (action plugin). The audit file is per controller, or per AWX execution node;
    to see a whole fleet's history, run it where each part of the work ran, or collect the files.
  - Never reports C(changed).
author:
  - netkingdom.warden developers (@netkingdom)
extends_documentation_fragment:
  - netkingdom.warden.attributes
  - netkingdom.warden.attributes.ACTIONGROUP_WARDEN
  - netkingdom.warden.attributes.CONTROLLER
attributes:
  check_mode:
    support: full
    details: Reading the audit trail changes nothing, so it runs the same in check mode.
  diff_mode:
    support: none
options:
  path:
    description:
      - The audit file on the controller.
      - Default the play variable C(warden_audit_log), else the audit log of the ops-warden file named by the
        play variable C(warden_config), else the environment variable E(WARDEN_AUDIT_LOG),
        else C(~/.local/state/warden/audit.jsonl) - the same file the signing plugins write
        (their C(audit_log) option).
      - A file that does not exist yet gives no records, not an error.
    type: path
    aliases: [ audit_log ]
  days:
    description:
      - Only records from the last O(days) days (fractions allowed, V(0.5) is twelve hours).
      - Records without a readable C(ts) are then left out.
    type: float
  kind:
    description:
      - Only records of this kind.
    type: str
    choices: [ sign, policy, rotate, registry, access ]
  actor:
    description:
      - Only records for this actor, for example V(agt-state-hub-bridge).
      - A shell-style pattern when it holds C(*), C(?) or C([), for example V(agt-*).
    type: str
  host:
    description:
      - Only records for this host, as named in the inventory.
      - A shell-style pattern when it holds C(*), C(?) or C([), for example V(web-*).
    type: str
  limit:
    description:
      - Only the newest O(limit) matching records (still returned oldest first).
    type: int
notes:
  - "Each record has C(ts) (UTC ISO-8601), C(kind), and where they apply: C(actor), C(actor_type), C(subject),
    C(host), C(principals), C(ttl_hours), C(backend), C(serial), C(key_id), C(valid_after), C(valid_before),
    C(ca_fingerprint), C(pubkey_fingerprint), C(policy_decision_id), C(outcome), C(reason); and the extra keys
    C(cert_type), C(account), C(gate_mode), C(old_digest), C(new_digest), C(need_id), C(owner), C(domain),
    C(action), C(node) (the controller or execution node that wrote it) and C(job_id) (the AWX job)."
  - The trail never holds a certificate, a key, a token or a secret value; keys are identified by fingerprint.
seealso:
  - module: netkingdom.warden.policy_check
"""

EXAMPLES = r"""
- name: Everything signed for the bridge agent in the last week
  netkingdom.warden.activity:
    kind: sign
    actor: agt-state-hub-bridge
    days: 7
  register: bridge_certs

- name: Show serials and validity
  ansible.builtin.debug:
    msg: "{{ bridge_certs.records | map(attribute='serial') | list }}"

- name: The last 20 policy denials on the web hosts
  netkingdom.warden.activity:
    kind: policy
    host: web-*
    limit: 20
  register: recent
  # records with outcome deny: recent.records | selectattr('outcome', 'equalto', 'deny')

- name: Export a day of an AWX execution node's trail for the SIEM
  netkingdom.warden.activity:
    path: /var/lib/awx/warden/audit.jsonl
    days: 1
  register: day

- name: Write it out as JSON lines
  ansible.builtin.copy:
    dest: /srv/export/warden-activity.jsonl
    content: "{% for r in day.records %}{{ r | to_json }}\n{% endfor %}"
    mode: "0600"
  delegate_to: localhost
"""

RETURN = r"""
records:
  description:
    - The matching audit records, oldest first, newest last. Each is the JSON object as written.
  returned: success
  type: list
  elements: dict
  sample:
    - ts: "2026-11-26T10:00:00.123456Z"
      kind: sign
      actor: agt-state-hub-bridge
      actor_type: agt
      subject: iam:agt-state-hub-bridge
      host: web-01
      principals: [agt-task-bridge]
      ttl_hours: 24
      backend: openbao
      serial: "1732615200123456789"
      key_id: warden:agt-state-hub-bridge:decision:032b096c433ad80c
      valid_after: "2026-11-26T09:55:00Z"
      valid_before: "2026-11-27T10:00:00Z"
      ca_fingerprint: SHA256:4d5RwMy3o1n0mCEgZsxk7v8wHb7hZ5fBq3aE0vUqY0s
      pubkey_fingerprint: SHA256:Zr6eP0g9mXxFQ0x8bB0pUq7p3sVb0Xr5f9m1pP4cJ2c
      policy_decision_id: decision:032b096c433ad80c
      outcome: signed
      reason: missing
      cert_type: user
      gate_mode: flex_auth
      policy_reason: signing_policy_matched
      policy_detail: null
      node: awx-ee-node-1
count:
  description: Number of records returned.
  returned: success
  type: int
  sample: 1
skipped_lines:
  description: Lines of the audit files that were not JSON records and were skipped.
  returned: success
  type: int
  sample: 0
path:
  description: The audit file that was read (its rotated copies sit beside it).
  returned: success
  type: str
  sample: /home/ops/.local/state/warden/audit.jsonl
files:
  description: The files read, oldest first; empty when there is no audit trail yet.
  returned: success
  type: list
  elements: str
  sample:
    - /home/ops/.local/state/warden/audit.jsonl.1
    - /home/ops/.local/state/warden/audit.jsonl
"""
