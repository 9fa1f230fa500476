# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """The policy gate options (documented once, used by every gated plugin)."""

    DOCUMENTATION = r"""
options:
  policy:
    description:
      - How the policy gate decides before anything is signed or fetched.
      - Each sub-option falls back to its environment variable, then to its default, so AWX
        credentials can inject them as environment variables.
      - In the action plugins, default the play variable C(warden_policy). Sub-options left unset are then
        taken from the C(policy) section of the ops-warden C(warden.yaml) named by the play variable
        C(warden_config) (or E(WARDEN_CONFIG)), before the environment variables;
        see C(docs/migration-from-ops-warden.md).
    type: dict
    default: {}
    suboptions:
      mode:
        description:
          - V(off) checks nothing (recorded as C(policy_gate_off), with a warning). Refused unless the
            controller's environment has E(WARDEN_ALLOW_UNGATED=1); inventory alone cannot turn the gate off.
          - V(embedded) evaluates in-process against a registry snapshot, the same rules as flex-auth.
          - V(flex_auth) asks a remote flex-auth PDP with C(POST /v1/check).
          - Environment variable E(WARDEN_POLICY_MODE). Default V(embedded).
        type: str
        choices: [ 'off', embedded, flex_auth ]
      registry:
        description:
          - Path (on the controller) of a registry snapshot file for V(embedded) mode.
          - When not given, the snapshot is built in memory from O(actors) or O(inventory_file).
          - Environment variable E(WARDEN_POLICY_REGISTRY).
        type: path
      url:
        description:
          - Base URL of the flex-auth PDP, for example V(https://flex-auth.example.internal:8080).
          - Required when O(policy.mode=flex_auth). Environment variable E(WARDEN_POLICY_URL).
          - C(http://) only to a loopback address (C(127.0.0.0/8), C(::1), C(localhost)); to any other host it is
            refused before anything is sent, unless O(policy.allow_insecure_http=true).
        type: str
      fail_closed:
        description:
          - When the PDP cannot be asked (unreachable, too slow, connection cut, TLS failure, HTTP 5xx),
            V(true) denies with reason C(policy_unavailable) and nothing is signed.
          - V(false) allows with a warning and records C(policy_decision_id) as null. Only with
            O(policy.mode=flex_auth), and refused unless the controller's environment has E(WARDEN_ALLOW_UNGATED=1).
          - An answer that refuses or cannot be read (HTTP 4xx or 3xx, a body that is not JSON, an unknown
            effect, an allow without an id) is always a deny with reason C(policy_answer_invalid), whatever
            this option says.
          - Environment variable E(WARDEN_POLICY_FAIL_CLOSED). Default V(true).
        type: bool
      tenant:
        description:
          - Tenant sent in every request. Environment variable E(WARDEN_POLICY_TENANT).
          - Default V(tenant:platform).
        type: str
      system:
        description:
          - Protected system name sent as C(resource.system). Default V(ops-warden).
        type: str
      token:
        description:
          - Bearer token for the PDP. Never logged or returned.
          - Environment variable E(WARDEN_POLICY_TOKEN).
        type: str
      client_cert:
        description:
          - Client certificate (PEM) for mutual TLS with the PDP. Environment variable E(WARDEN_POLICY_CLIENT_CERT).
        type: path
      client_key:
        description:
          - Private key of O(policy.client_cert), when not in the same file. Environment variable E(WARDEN_POLICY_CLIENT_KEY).
        type: path
      ca_cert:
        description:
          - CA bundle used to verify the PDP's TLS certificate. Environment variable E(WARDEN_POLICY_CA_CERT).
        type: path
      validate_certs:
        description:
          - Verify the PDP's TLS certificate. Only turn off for throw-away test beds.
          - Environment variable E(WARDEN_POLICY_VALIDATE_CERTS). Default V(true).
        type: bool
      timeout:
        description:
          - Seconds to wait for each PDP answer. Environment variable E(WARDEN_POLICY_TIMEOUT). Default V(5).
        type: float
      retries:
        description:
          - Extra attempts, with backoff, after a connection error, a timeout or a 5xx answer (never after a
            4xx or an unreadable answer).
          - Environment variable E(WARDEN_POLICY_RETRIES). Default V(2).
        type: int
      subject_env:
        description:
          - Name of the environment variable that holds the IAM subject sent as C(subject.id) when no subject is
            given (ops-warden's C(policy.subject_env)). Default V(WARDEN_POLICY_SUBJECT).
        type: str
      allow_insecure_http:
        description:
          - Allow a PDP O(policy.url) of C(http://) to a host that is not loopback, on purpose. The bearer token and
            the decisions then cross that network unprotected.
          - Environment variable E(WARDEN_ALLOW_INSECURE_HTTP). Default V(false).
        type: bool
"""

    ACTORS = r"""
options:
  actors:
    description:
      - The actor inventory, in the shape of ops-warden's C(inventory.yaml); usually the variable C(warden_actors).
      - Each actor name carries its type prefix (V(adm-), V(agt-), V(atm-)) and has C(type), C(principals),
        C(ttl_hours) (at most 48, 24 or 8 by type; never clamped), optional C(description) and C(subjects).
      - Mutually exclusive with O(inventory_file). In the action plugins, default the play variable
        C(warden_actors), else the file named by C(warden_inventory_file).
    type: dict
  inventory_file:
    description:
      - Path (on the controller) of an actor inventory YAML file (C(actors:) mapping, as ops-warden's C(inventory.yaml)).
      - Mutually exclusive with O(actors).
    type: path
"""

    # Lookups read the same options from play variables too.
    PLUGINS = r"""
options:
  policy:
    vars:
      - name: warden_policy
  actors:
    vars:
      - name: warden_actors
  inventory_file:
    vars:
      - name: warden_inventory_file
"""
