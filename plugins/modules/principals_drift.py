#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: principals_drift
short_description: Report where a host's principals files and trusted CA keys differ from what it should have
version_added: 0.1.0
description:
  - Compares, per host and account, the principals that should be accepted (O(principals), by default the
    host's C(warden_host_principals)) with the host's C(AuthorizedPrincipalsFile)s, and the CA keys the host
    should trust (O(trusted_ca_keys)) with its C(TrustedUserCAKeys) file.
  - The host is read once (M(netkingdom.warden.principals_drift_host) returns every principals file and the CA
    file in one call); the comparison runs on the controller, where the actor inventory stays.
  - Reports missing and extra principals per account, principals files of accounts that are not managed,
    missing and extra CA keys (compared by key, ignoring comments and order), and the actors none of whose
    principals any account on the host accepts. Every difference is also a sentence in RV(summary) naming
    the host, the account and the principal.
  - Never changes anything and never reports C(changed). With O(fail_on_drift=true) a host with drift fails
    the task, listing the drift.
author:
  - netkingdom.warden developers (@netkingdom)
extends_documentation_fragment:
  - netkingdom.warden.attributes
  - netkingdom.warden.attributes.ACTIONGROUP_WARDEN
attributes:
  check_mode:
    support: full
    details: Reads only; runs the same in check mode.
  diff_mode:
    support: none
  action:
    description: Runs as an action plugin; the host is only read.
    support: full
  async:
    description: Supports being used with the C(async) keyword.
    support: none
  platform:
    support: full
    platforms: posix
options:
  principals:
    description:
      - The principals each account should accept, a mapping of account name to a list of principals.
      - Default the host variable C(warden_host_principals). Principals are validated like those of the
        actor inventory; a bad one fails the task naming the account and index.
    type: dict
  trusted_ca_keys:
    description:
      - The user CA public key lines the host should trust (an item may also hold several lines, like a CA
        file). Compared by key type and key, ignoring comments and order.
      - Default the variable C(warden_trusted_ca_keys); when neither is set the CA file is not compared.
    type: list
    elements: str
  ca_path:
    description: The host's C(TrustedUserCAKeys) file.
    type: path
    default: /etc/ssh/ca/ca_user.pub
  path_template:
    description:
      - The host's C(AuthorizedPrincipalsFile) setting (C(%u), C(%h), C(%U), C(%%)).
      - Files of unmanaged accounts are found only when C(%u) is in the last path component and nothing else
        varies, like the default.
    type: str
    default: /etc/ssh/auth_principals/%u
  actors:
    description:
      - The actor inventory (C(warden_actors) by default), to report RV(unaccepted_actors).
      - Mutually exclusive with O(inventory_file).
    type: dict
  inventory_file:
    description:
      - An actor inventory file on the controller (C(warden_inventory_file) by default).
    type: path
  fail_on_drift:
    description:
      - Fail the task on a host with drift; the message lists every difference.
    type: bool
    default: false
notes:
  - Key options on a principals line (C(from=...) and so on) are ignored in the comparison; the principal
    is the last field of the line, as for sshd.
  - Backup copies (names ending in C(~)) and hidden files in the principals directory are not accounts.
seealso:
  - module: netkingdom.warden.authorized_principals
  - module: netkingdom.warden.principals_drift_host
"""

EXAMPLES = r"""
- name: Report principals and CA drift on every host (warden_host_principals per host)
  netkingdom.warden.principals_drift:
    trusted_ca_keys: "{{ query('netkingdom.warden.ssh_ca_public_key', all_issuers=true) }}"
  register: drift

- name: Fail the job on any drift (AWX job template)
  netkingdom.warden.principals_drift:
    principals:
      deploy: [agt-task-bridge, adm-oncall]
      backup: [atm-backup]
    trusted_ca_keys:
      - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDs0oBQkEvl8xNfzbCeShVj8jzF8P8QKmvsyZwN8Vq3a ca-2026
    fail_on_drift: true
"""

RETURN = r"""
drift:
  description: Whether anything differs (principals, unmanaged accounts, unreadable files, CA keys).
  returned: success
  type: bool
  sample: true
accounts:
  description:
    - Per wanted account, the file C(path), whether it is C(file_missing), the C(missing) and C(extra)
      principals, the C(principals) the file accepts, and an C(error) when it could not be read.
  returned: success
  type: dict
  sample:
    deploy:
      path: /etc/ssh/auth_principals/deploy
      file_missing: false
      missing: [adm-oncall]
      extra: [agt-rogue]
      principals: [agt-task-bridge, agt-rogue]
unmanaged_accounts:
  description: Accounts that have a principals file but are not in O(principals).
  returned: success
  type: list
  elements: str
  sample: [mallory]
ca:
  description:
    - The CA comparison - C(checked) (false without O(trusted_ca_keys)), C(path), C(file_missing),
      C(missing_keys) and C(extra_keys) (SHA256 fingerprints), C(invalid_lines) (line numbers that are not
      keys), C(keys) (fingerprints the file trusts).
  returned: success
  type: dict
  sample:
    checked: true
    path: /etc/ssh/ca/ca_user.pub
    file_missing: false
    missing_keys: []
    extra_keys: [SHA256:TKqkl4Ave6ccp2f/FoOzAwhZfBuQN06TJwLe27aLi1I]
    invalid_lines: []
    keys: [SHA256:cSMqpvTqwg7QbAEX7K7cz2253bZgrYP6D81dAiB5xYc, SHA256:TKqkl4Ave6ccp2f/FoOzAwhZfBuQN06TJwLe27aLi1I]
unaccepted_actors:
  description: Actors of the inventory none of whose principals any account on the host accepts.
  returned: success
  type: list
  elements: str
  sample: [atm-backup-daily]
summary:
  description: One sentence per difference, naming the host, the account and the principal (or the CA key).
  returned: success
  type: list
  elements: str
  sample:
    - "host1: account deploy does not accept principal adm-oncall: not in /etc/ssh/auth_principals/deploy"
    - "host1: account deploy accepts principal agt-rogue, which is not wanted (/etc/ssh/auth_principals/deploy)"
scanned:
  description: Whether the principals directory was listed to find unmanaged accounts.
  returned: success
  type: bool
host:
  description: The inventory name of the host.
  returned: success
  type: str
"""
