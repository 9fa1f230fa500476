#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: openbao_login
short_description: Log in to OpenBao once on the controller and hand the session to later tasks
version_added: 0.1.0
description:
  - Logs in with the configured auth method (AppRole, JWT, Kubernetes, cert, userpass, or just checks a
    token) on the controller and returns C(openbao), the same connection options with C(auth_method=token)
    and the session token, ready to be used as C(warden_openbao).
  - Ansible runs each host's task in its own process, so without this every host would log in. Run it
    once (C(run_once)) at the start of a play; the token stays in the controller's memory, is never sent
    to a host, and the result is marked C(no_log).
author:
  - netkingdom.warden developers (@netkingdom)
extends_documentation_fragment:
  - netkingdom.warden.attributes
  - netkingdom.warden.attributes.ACTIONGROUP_WARDEN
  - netkingdom.warden.attributes.CONTROLLER
  - netkingdom.warden.openbao
attributes:
  check_mode:
    support: full
    details: Logging in changes nothing, so it runs in check mode too.
  diff_mode:
    support: none
options:
  only_when_needed:
    description:
      - Decide on the controller whether a login is needed at all, from the same settings every signing task
        reads (task option, C(warden_signing_backend) / C(warden_openbao), the C(warden_config) file, then the
        environment). With the local CA, or with O(openbao.auth_method=token) (the token is the session), the
        task is reported as skipped, returns no session (RV(openbao) is null) and contacts nothing.
      - The C(netkingdom.warden.openbao_session) playbook (imported by C(cert_rollout) and
        C(rotate_principals)) sets it, so those playbooks need no C(when) on environment variables.
    type: bool
    default: false
notes:
  - Do not register the result into a fact cache (C(set_fact) with C(cacheable=true)); keep it in memory.
seealso:
  - module: netkingdom.warden.ssh_cert
"""

EXAMPLES = r"""
- name: Log in once with AppRole (credentials from BAO_ROLE_ID / BAO_SECRET_ID)
  netkingdom.warden.openbao_login:
    openbao:
      url: https://openbao.example.internal:8200
      auth_method: approle
  run_once: true
  register: openbao_session

- name: Every later task reuses the session
  ansible.builtin.set_fact:
    warden_openbao: "{{ openbao_session.openbao }}"
  no_log: true

- name: Log in only when the configured backend and auth method need it (skipped otherwise)
  netkingdom.warden.openbao_login:
    only_when_needed: true
  run_once: true
  register: openbao_session
"""

RETURN = r"""
openbao:
  description:
    - Connection options with C(auth_method=token) and the session token, for C(warden_openbao). Secret.
    - Null when O(only_when_needed) found no login needed (the result is then C(skipped)).
  returned: success
  type: dict
auth_method:
  description: The auth method used to log in (null when no login was needed).
  returned: success
  type: str
  sample: approle
"""
