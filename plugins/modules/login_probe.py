#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: login_probe
short_description: Prove a host accepts a principal with a real SSH login from the controller
version_added: 0.1.0
description:
  - Makes a throw-away key pair on the controller, signs it for one O(principal) with a short-lived
    certificate through the normal signing path (gated and audited, key id C(warden:<actor>:<decision>)),
    logs in to the host as O(account) with it, and removes key and certificate again, whatever happens.
  - Fails when the login is refused. Used by the C(host_principals) role after every change, before it
    keeps the change; also useful on its own after a manual change.
  - Connection multiplexing is switched off for the probe, so an open Ansible connection cannot stand in
    for the certificate login.
  - The gate decision's warnings for the probe certificate (gate off, PDP unavailable with
    O(policy.fail_closed=false)) are returned as the task's warnings.
author:
  - netkingdom.warden developers (@netkingdom)
extends_documentation_fragment:
  - netkingdom.warden.attributes
  - netkingdom.warden.attributes.ACTIONGROUP_WARDEN
  - netkingdom.warden.attributes.CONTROLLER
  - netkingdom.warden.policy_gate
  - netkingdom.warden.policy_gate.ACTORS
  - netkingdom.warden.signing
  - netkingdom.warden.audit
  - netkingdom.warden.openbao
attributes:
  check_mode:
    support: partial
    details: In check mode no certificate is signed and no login is made; the task is reported as skipped.
  diff_mode:
    support: none
options:
  account:
    description:
      - The account to log in as. Must be a plain account name (ASCII letters, digits, C(.), C(_), C(-), C(@); no
        leading C(-) or C(.)), checked before anything is signed, so it can never be read by ssh as an option.
    type: str
    required: true
  principal:
    description: The principal the probe certificate carries; the account must accept it.
    type: str
    required: true
  actor:
    description: The actor the probe certificate is signed for. Default the actor of the inventory holding O(principal).
    type: str
  ttl_hours:
    description: Lifetime of the probe certificate.
    type: float
    default: 0.1
  address:
    description:
      - Address to connect to. Default C(ansible_host), else the inventory name. Must be an IP address or a DNS
        name (checked before anything is signed); C(--) ends ssh's options before the destination.
    type: str
  port:
    description: SSH port. Default C(ansible_port), else 22.
    type: int
  ssh_args:
    description: Extra ssh options, for example the inventory's C(ansible_ssh_common_args) (host key checking).
    type: str
    default: ''
  retries:
    description: Extra login attempts (sshd refuses connections for a moment right after a reload).
    type: int
    default: 3
  timeout:
    description: Connect timeout in seconds.
    type: int
    default: 10
"""

EXAMPLES = r"""
- name: Prove the bridge account still accepts the agent's principal
  netkingdom.warden.login_probe:
    account: bridge
    principal: agt-task-bridge
    ssh_args: "{{ ansible_ssh_common_args | default('') }}"
"""

RETURN = r"""
actor:
  description: The actor the probe certificate was signed for.
  returned: success
  type: str
key_id:
  description: Key id of the probe certificate (in sshd's log line for the login).
  returned: success
  type: str
serial:
  description: Serial of the probe certificate.
  returned: success
  type: str
attempts:
  description: Login attempts made.
  returned: success
  type: int
"""
