#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: registry_verify
short_description: Check that a flex-auth instance is healthy, serves a registry snapshot and decides right
version_added: 0.1.0
description:
  - The check after a registry deploy (see the C(netkingdom.warden.flex_auth_registry) role), from the controller.
  - Waits up to O(wait) seconds for C(GET /healthz) to answer 200. When O(expect_digest) is given and the instance
    reports the registry it serves (C(registry_digest) in C(/healthz), else C(digest) of C(GET /v1/registry)), it
    also waits until that is O(expect_digest); an instance still serving another digest fails the check, with its
    last reload error when it reports one.
  - Then, unless O(smoke=false), smoke-checks C(POST /v1/check) with two requests built from O(snapshot) for the
    actor O(smoke_actor) - its principals at its inventory TTL, which must be allowed, and the same one hour above
    its TTL cap, which must be denied with C(ttl_out_of_bounds). The key fingerprint sent is a fixed placeholder;
    nothing is signed.
  - Fails with every failed check in RV(msg). Never reports C(changed).
  - Runs on the controller (action plugin); the PDP token (O(policy.token), E(WARDEN_POLICY_TOKEN)) never reaches
    the flex-auth host.
author:
  - netkingdom.warden developers (@netkingdom)
extends_documentation_fragment:
  - netkingdom.warden.attributes
  - netkingdom.warden.attributes.ACTIONGROUP_WARDEN
  - netkingdom.warden.attributes.CONTROLLER
attributes:
  check_mode:
    support: full
    details: The checks change nothing, so they run the same in check mode.
  diff_mode:
    support: none
options:
  policy:
    description:
      - How to talk to this instance - its bearer token and TLS options, in the shape of the gate's C(policy) option
        (C(warden_policy)), which is the default. Every sub-option falls back to its E(WARDEN_POLICY_*) environment
        variable.
      - C(mode), C(url), C(registry), C(fail_closed), C(tenant), C(system) and C(retries) are accepted, so
        C(warden_policy) can be passed as it is, and not used - the URL is O(url), and a wait has no retries.
    type: dict
    suboptions:
      token:
        description:
          - Bearer token of flex-auth. Never logged, returned or sent to a host. Environment variable E(WARDEN_POLICY_TOKEN).
        type: str
      ca_cert:
        description:
          - CA bundle to verify flex-auth's TLS certificate. Environment variable E(WARDEN_POLICY_CA_CERT).
        type: path
      client_cert:
        description:
          - Client certificate (PEM) for mutual TLS. Environment variable E(WARDEN_POLICY_CLIENT_CERT).
        type: path
      client_key:
        description:
          - Private key of O(policy.client_cert) when not in the same file. Environment variable E(WARDEN_POLICY_CLIENT_KEY).
        type: path
      validate_certs:
        description:
          - Verify flex-auth's TLS certificate. Environment variable E(WARDEN_POLICY_VALIDATE_CERTS). Default V(true).
        type: bool
      timeout:
        description:
          - Seconds to wait for each answer. Environment variable E(WARDEN_POLICY_TIMEOUT). Default V(5).
        type: float
      allow_insecure_http:
        description:
          - Allow an O(url) of C(http://) to a host that is not loopback, on purpose (the token and the answers
            then cross that network unprotected). Environment variable E(WARDEN_ALLOW_INSECURE_HTTP). Default V(false).
        type: bool
  url:
    description:
      - Base URL of this flex-auth instance, for example V(https://flex-auth-1.example.internal:8080).
      - C(http://) only to a loopback address (C(127.0.0.0/8), C(::1), C(localhost)) unless
        O(policy.allow_insecure_http=true); refused before anything is sent.
      - Its token and TLS settings come from O(policy).
    type: str
    required: true
  wait:
    description:
      - Seconds to wait for C(/healthz) 200 (and the expected digest) after a reload or restart.
    type: float
    default: 30
  expect_digest:
    description:
      - The digest of the snapshot the instance must serve (C(sha256:...)).
    type: str
  smoke:
    description:
      - Run the allow and deny smoke check.
    type: bool
    default: true
  snapshot:
    description:
      - Path, on the controller, of the snapshot the instance should serve; the smoke requests are built from it.
        Required when O(smoke=true).
    type: path
  smoke_actor:
    description:
      - The actor to smoke-check. Default the first actor of O(snapshot) by name.
    type: str
  smoke_subject:
    description:
      - Subject id of the smoke requests, for example V(iam:agt-state-hub-bridge) to prove an IAM subject binding.
        Default the actor name.
    type: str
seealso:
  - module: netkingdom.warden.registry_file
  - module: netkingdom.warden.registry_audit
  - module: netkingdom.warden.policy_check
"""

EXAMPLES = r"""
- name: Wait for flex-auth and smoke-check the snapshot just deployed
  netkingdom.warden.registry_verify:
    url: "https://{{ ansible_host }}:8080"
    expect_digest: "{{ deployed.digest }}"
    snapshot: /srv/warden/registry.json
    smoke_actor: agt-state-hub-bridge
    wait: 60

- name: Only wait for health (for example after a rollback)
  netkingdom.warden.registry_verify:
    url: https://flex-auth.example.internal:8080
    expect_digest: "{{ deployed.previous_digest }}"
    smoke: false
    policy:
      ca_cert: /etc/warden/flex-auth-ca.pem
"""

RETURN = r"""
msg:
  description: Every failed check, or what passed.
  returned: always
  type: str
ok:
  description: Whether every check passed.
  returned: always
  type: bool
checks:
  description: Each check with C(name) (C(healthz), C(served_digest), C(smoke_allow), C(smoke_deny)), C(ok), C(message)
    and, when it failed, C(fix).
  returned: success
  type: list
  elements: dict
served_digest:
  description: The registry digest the instance reported, or null when it does not report one.
  returned: success
  type: str
health:
  description: The simple fields of the C(/healthz) answer (status, registry_digest, generation, last_reload_error, ...).
  returned: success
  type: dict
waited:
  description: Seconds spent waiting for health.
  returned: success
  type: float
smoke_actor:
  description: The actor the smoke check used.
  returned: success
  type: str
decisions:
  description: The C(allow) and C(deny) decisions of the smoke check (C(allowed), C(reason), C(decision_id), ...).
  returned: success
  type: dict
url:
  description: The instance checked (without credentials).
  returned: success
  type: str
"""
