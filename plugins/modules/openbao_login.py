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
"""

RETURN = r"""
openbao:
  description: Connection options with C(auth_method=token) and the session token, for C(warden_openbao). Secret.
  returned: success
  type: dict
auth_method:
  description: The auth method used to log in.
  returned: success
  type: str
  sample: approle
"""
