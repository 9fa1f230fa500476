# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: policy_decision
short_description: Policy gate decisions for actors, inside any play
version_added: 0.1.0
description:
  - Asks the policy gate (embedded evaluator, remote flex-auth PDP, or off) whether each actor in the
    terms may get an SSH certificate, exactly as M(netkingdom.warden.policy_check) does, and returns
    one decision per actor. Never fails on a deny; read C(allowed) and C(reason).
  - With a remote PDP and several actors, all are decided in one C(POST /v1/batch-check).
author:
  - netkingdom.warden developers (@netkingdom)
extends_documentation_fragment:
  - netkingdom.warden.policy_gate
  - netkingdom.warden.policy_gate.ACTORS
  - netkingdom.warden.policy_gate.PLUGINS
  - netkingdom.warden.warden_config
options:
  _terms:
    description: Actor names, for example V(agt-state-hub-bridge).
    required: true
    type: list
    elements: str
  public_key:
    description: OpenSSH public key line whose fingerprint is sent; mutually exclusive with O(pubkey_fingerprint).
    type: str
  pubkey_fingerprint:
    description: Key fingerprint (C(SHA256:...)) when the key is not at hand.
    type: str
  principals:
    description: Principals requested; default each actor's principals from the inventory.
    type: list
    elements: str
  ttl_hours:
    description: Requested lifetime in hours; default each actor's C(ttl_hours).
    type: float
  subject:
    description: Subject id; default E(WARDEN_POLICY_SUBJECT), else the actor name.
    type: str
notes:
  - Runs on the controller. Decisions are not cached; every evaluation asks again.
seealso:
  - module: netkingdom.warden.policy_check
"""

EXAMPLES = r"""
- name: Decide for the bridge agent with the embedded gate (warden_actors from the play's vars)
  ansible.builtin.set_fact:
    bridge_gate: "{{ lookup('netkingdom.warden.policy_decision', 'agt-state-hub-bridge', public_key=bridge_pub) }}"

- name: Stop unless every workload actor would be allowed by the remote PDP
  ansible.builtin.assert:
    that: item.allowed
    fail_msg: "{{ item.request.resource.id }} denied: {{ item.reason }}"
  loop: "{{ query('netkingdom.warden.policy_decision', *warden_host_actors, pubkey_fingerprint='SHA256:Zr6eP0g9mXxFQ0x8bB0pUq7p3sVb0Xr5f9m1pP4cJ2c',
            policy={'mode': 'flex_auth', 'url': 'https://flex-auth.example.internal:8080'}) }}"
"""

RETURN = r"""
_raw:
  description:
    - One decision per term, in order, each with C(allowed), C(effect), C(reason), C(rule) (the failing rule
      of a deny, else null), C(decision_id), C(mode),
      C(detail), C(decision) (the decision envelope of the PDP or of the embedded evaluator) and C(request).
  type: list
  elements: dict
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible.utils.display import Display

from ansible_collections.netkingdom.warden.plugins.module_utils._inventory.actors import resolve_actors
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import WardenError
from ansible_collections.netkingdom.warden.plugins.module_utils._gate.gate import Gate, policy_request
from ansible_collections.netkingdom.warden.plugins.module_utils._gate.settings import GateSettings
from ansible_collections.netkingdom.warden.plugins.plugin_utils.task_vars import set_lookup_options

display = Display()


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        set_lookup_options(self, variables, kwargs)
        opts = dict((name, self.get_option(name)) for name in (
            'public_key', 'pubkey_fingerprint', 'principals', 'ttl_hours', 'subject',
            'actors', 'inventory_file', 'policy'))
        if opts['public_key'] and opts['pubkey_fingerprint']:
            raise AnsibleLookupError('public_key and pubkey_fingerprint are mutually exclusive')
        try:
            actors, warnings = resolve_actors(opts['actors'], opts['inventory_file'])
            settings = GateSettings(opts['policy'])
            requests = [policy_request(term, actors=actors, principals=opts['principals'],
                                       ttl_hours=opts['ttl_hours'], public_key=opts['public_key'],
                                       pubkey_fingerprint=opts['pubkey_fingerprint'],
                                       subject=opts['subject'], settings=settings)
                        for term in terms]
            decisions = Gate(settings, actors).check_many(requests)
        except WardenError as exc:
            raise AnsibleLookupError(str(exc))
        results = []
        for request, decision in zip(requests, decisions):
            for warning in decision.warnings:
                warnings.append(warning)
            item = decision.as_dict()
            item['request'] = request
            results.append(item)
        for warning in sorted(set(warnings)):
            display.warning(warning)
        return results
