#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: preflight
short_description: Check everything the gate and the rollout need before they are turned on
version_added: 0.1.0
description:
  - Runs every check, reports each one as C(name), C(ok), C(message) and C(fix), and fails listing all that failed,
    each with what is wrong and what to do. Changes nothing, anywhere. Runs on the controller (action plugin).
  - C(inventory) - the actor inventory is valid and not empty; it builds the registry digest the other checks compare with.
  - With the OpenBao backend - C(openbao_reachable), C(openbao_unsealed) (and initialized), C(openbao_token) (the
    credentials are accepted), C(openbao_sign) (the token holds C(update) on C(<mount>/sign/<role>) for every actor
    type in use, read with C(sys/capabilities-self); with O(sign_host_certificates) also the host role) and
    C(signing_ca) (the mount has a CA). With the local backend, C(signing_ca) (the CA key exists; it is never created here).
  - C(flex_auth_healthz) - when the gate is remote (O(policy.mode=flex_auth)), flex-auth answers C(GET /healthz) 200.
  - C(registry_digest) - the registry flex-auth serves (when it reports it), the embedded gate's snapshot file
    (O(policy.registry)) and the file on each of O(flex_auth_hosts) have the digest the inventory builds.
  - C(sshd_version) - each of O(hosts) runs OpenSSH O(sshd_min_version) or newer (the C(Include) drop-in needs 8.2).
  - Checks that cannot run because an earlier one failed (no token check while OpenBao is down) are listed in
    RV(not_run) with the reason, not reported as more failures.
  - Host facts come from results the hosts registered earlier in the play (O(sshd_var), O(registry_var)); the
    C(netkingdom.warden.preflight) playbook registers them.
author:
  - netkingdom.warden developers (@netkingdom)
extends_documentation_fragment:
  - netkingdom.warden.attributes
  - netkingdom.warden.attributes.ACTIONGROUP_WARDEN
  - netkingdom.warden.attributes.CONTROLLER
  - netkingdom.warden.openbao
  - netkingdom.warden.policy_gate
  - netkingdom.warden.policy_gate.ACTORS
attributes:
  check_mode:
    support: full
    details: The checks change nothing, so they run the same in check mode.
  diff_mode:
    support: none
options:
  backend:
    description:
      - The signing backend to check. Default the play variable C(warden_signing_backend), else
        E(WARDEN_SIGNING_BACKEND), else V(auto) (V(openbao) when an OpenBao address is configured, else V(local)).
    type: str
    choices: [ auto, openbao, local ]
  local_ca:
    description:
      - The local CA (key_path, passphrase) checked with O(backend=local). Default the play variable C(warden_local_ca).
    type: dict
  hosts:
    description:
      - Hosts whose OpenSSH version to check, from the result each registered as O(sshd_var) (the output of
        C(sshd -V), or of C(ssh -V)). A host without that result is reported as unreachable.
    type: list
    elements: str
    default: []
  flex_auth_hosts:
    description:
      - flex-auth hosts whose installed registry to compare, from the result each registered as O(registry_var)
        (M(netkingdom.warden.registry_file) with C(state=read)).
    type: list
    elements: str
    default: []
  sshd_var:
    description:
      - Name of the registered variable holding a host's C(sshd -V) result.
    type: str
    default: warden_preflight_sshd
  registry_var:
    description:
      - Name of the registered variable holding a flex-auth host's M(netkingdom.warden.registry_file) C(state=read) result.
    type: str
    default: warden_preflight_registry
  sshd_min_version:
    description:
      - The oldest OpenSSH accepted, C(major.minor).
    type: str
    default: "8.2"
  sign_host_certificates:
    description:
      - Also require the sign capability on the host role (O(openbao.host_role)), for rollouts that sign host certificates.
    type: bool
    default: false
  skip:
    description:
      - Names of checks not to run, for example V(sshd_version).
    type: list
    elements: str
    default: []
  fail_on_failure:
    description:
      - Fail the task when a check fails. With V(false) the report is returned as data.
    type: bool
    default: true
seealso:
  - module: netkingdom.warden.registry_file
  - module: netkingdom.warden.registry_verify
"""

EXAMPLES = r"""
- name: Check OpenBao, the token, the CA, flex-auth and the registry from the controller
  netkingdom.warden.preflight:
  run_once: true

- name: Report without failing, and print what to do
  netkingdom.warden.preflight:
    fail_on_failure: false
  register: preflight
  run_once: true

- name: Show the failed checks
  ansible.builtin.debug:
    msg: "{{ preflight.failed_checks | map(attribute='fix') | list }}"
  run_once: true
"""

RETURN = r"""
ok:
  description: Whether every check passed.
  returned: success
  type: bool
checks:
  description: Every check run, in order, each C(name), C(ok), C(message), C(fix) (null when it passed) and C(host)
    for per-host checks.
  returned: success
  type: list
  elements: dict
  sample:
    - name: openbao_sign
      ok: false
      message: "the token cannot sign agt certificates: its capabilities on ssh/sign/agt-role are [deny]"
      fix: 'add to the token''s policy: path "ssh/sign/agt-role" { capabilities = ["create", "update"] }'
failed_checks:
  description: The checks that failed.
  returned: success
  type: list
  elements: dict
not_run:
  description: Checks not run, each C(name), C(why) (and C(host)).
  returned: success
  type: list
  elements: dict
backend:
  description: The signing backend checked.
  returned: success
  type: str
  sample: openbao
registry_digest:
  description: The digest of the registry the inventory builds (null when the inventory is not valid).
  returned: success
  type: str
msg:
  description: One line per failed check, with its fix; or that all passed.
  returned: always
  type: str
"""
