#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: policy_check
short_description: Ask the policy gate whether an actor may get an SSH certificate
version_added: 0.1.0
description:
  - Builds the flex-auth C(POST /v1/check) request that precedes every signing (action C(sign) on
    C(ssh-cert:actor/<actor>) in system C(ops-warden)) and returns the decision.
  - The decision comes from the embedded evaluator (the same rules as flex-auth, against a registry
    snapshot), from a remote flex-auth PDP, or is skipped when the gate is off.
  - Runs on the controller (action plugin); the PDP token never reaches a target. Never reports C(changed).
  - A deny fails the task with the deny reason unless O(fail_on_deny=false).
author:
  - netkingdom.warden developers (@netkingdom)
extends_documentation_fragment:
  - netkingdom.warden.attributes
  - netkingdom.warden.attributes.ACTIONGROUP_WARDEN
  - netkingdom.warden.attributes.CONTROLLER
  - netkingdom.warden.policy_gate
  - netkingdom.warden.policy_gate.ACTORS
attributes:
  check_mode:
    support: full
    details: A policy check changes nothing, so it runs the same in check mode.
  diff_mode:
    support: none
options:
  actor:
    description:
      - The actor asking for a certificate, with its type prefix, for example V(agt-state-hub-bridge).
    type: str
    required: true
  public_key:
    description:
      - The OpenSSH public key line to be signed; its SHA256 fingerprint is sent as C(context.pubkey_fingerprint).
      - Mutually exclusive with O(pubkey_fingerprint).
    type: str
  pubkey_fingerprint:
    description:
      - The key's fingerprint (C(SHA256:...)) when the key itself is not at hand.
      - Mutually exclusive with O(public_key). Without either, the gate denies with C(pubkey_fingerprint_missing).
    type: str
  principals:
    description:
      - Principals requested. Default the actor's principals from the inventory.
    type: list
    elements: str
  ttl_hours:
    description:
      - Requested certificate lifetime in hours. Default the actor's C(ttl_hours) from the inventory.
      - Above the type maximum (adm 48, agt 24, atm 8) the gate denies with C(ttl_out_of_bounds).
    type: float
  subject:
    description:
      - Subject id sent as C(subject.id), for example an IAM subject V(iam:agt-state-hub-bridge).
      - Default the environment variable E(WARDEN_POLICY_SUBJECT), else the actor name.
    type: str
  fail_on_deny:
    description:
      - Fail the task when the gate denies. With V(false) a deny is returned as data (C(allowed=false)).
    type: bool
    default: true
notes:
  - An actor that is not in the local inventory is still sent to the gate, which answers C(unknown_actor_resource).
seealso:
  - plugin: netkingdom.warden.policy_decision
    plugin_type: lookup
  - module: netkingdom.warden.registry_snapshot
"""

EXAMPLES = r"""
- name: Check that the bridge agent may get its certificate (embedded gate, inventory in vars)
  netkingdom.warden.policy_check:
    actor: agt-state-hub-bridge
    public_key: "{{ lookup('ansible.builtin.file', 'files/bridge.pub') }}"
    actors: "{{ warden_actors }}"

- name: Ask the production flex-auth PDP, without failing on a deny
  netkingdom.warden.policy_check:
    actor: adm-example
    pubkey_fingerprint: SHA256:Zr6eP0g9mXxFQ0x8bB0pUq7p3sVb0Xr5f9m1pP4cJ2c
    ttl_hours: 12
    inventory_file: /etc/warden/inventory.yaml
    fail_on_deny: false
    policy:
      mode: flex_auth
      url: https://flex-auth.example.internal:8080
      ca_cert: /etc/warden/flex-auth-ca.pem
  register: gate

- name: Show the deny reason
  ansible.builtin.debug:
    msg: "{{ gate.reason }}"
  when: not gate.allowed
"""

RETURN = r"""
allowed:
  description: Whether signing may go ahead.
  returned: success
  type: bool
  sample: true
effect:
  description: V(allow) or V(deny).
  returned: success
  type: str
  sample: allow
decision_id:
  description:
    - The decision id (C(decision:<16 hex>)) recorded as C(policy_decision_id) with the signing.
    - Null when the gate is off, or when the PDP was unavailable and O(policy.fail_closed=false).
  returned: success
  type: str
  sample: decision:032b096c433ad80c
reason:
  description:
    - Why. V(signing_policy_matched) on allow; the PDP's deny reason as is (for example V(ttl_out_of_bounds),
      V(unknown_actor_resource)); V(policy_unavailable) when the PDP could not answer; V(policy_gate_off).
  returned: success
  type: str
  sample: signing_policy_matched
rule:
  description:
    - On a deny, the rule of the flex-auth package that failed first (for example V(valid_ttl) with reason
      V(ttl_out_of_bounds)); null on an allow, or when the PDP names no rule. The rule to reason table is in
      docs/policy-gate.md.
  returned: success
  type: str
  sample: valid_ttl
detail:
  description: What went wrong talking to the PDP, when C(reason=policy_unavailable). No secrets.
  returned: success
  type: str
  sample: "POST http://127.0.0.1:8181/v1/check failed after 3 attempt(s): no answer within 5.0s"
mode:
  description: The gate mode that decided.
  returned: success
  type: str
  sample: embedded
decision:
  description: The decision envelope (id, effect, reason, rule on a deny, matched_rule, provenance); null when none
    was made.
  returned: success
  type: dict
  sample:
    id: decision:032b096c433ad80c
    effect: allow
    reason: signing_policy_matched
    matched_rule: ops_warden.sign.allow
    provenance:
      evaluator: netkingdom.warden.embedded
      mode: embedded
      policy_id: ops-warden.ssh-certificate.sign
      policy_version: ops-warden-sign/1
      decision_time: "2026-11-26T10:00:00.000000Z"
request:
  description: The request sent to the gate (contains no secret).
  returned: success
  type: dict
"""
