#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: openbao_ssh_engine
short_description: Ensure the OpenBao SSH engine the collection signs with (mount, CA, roles, signer policy)
version_added: 0.1.0
description:
  - Runs on the controller and makes sure OpenBao has what the collection's signing needs, writing only
    what differs.
  - The SSH secrets engine mounted at O(mount).
  - A CA on that mount. It is created only when the mount has none and B(never replaced). An existing CA that
    is not the one the options describe is reported as a warning, not overwritten. Replacing a CA would lock out
    every host that trusts it; to move to another CA use O(ca.rotate).
  - One user role per actor type (names from O(role_map), by default C(adm-role), C(agt-role), C(atm-role))
    and one host role (O(host_role)), with C(ttl) = C(max_ttl) = the actor type's cap (O(max_ttl_hours)).
  - With O(host_mount) set to another mount, OpenBao's two-mount layout - the user CA and the user roles on
    O(mount), the host CA (O(host_ca)) and the host role on O(host_mount) - so clients trust host certificates
    (C(@cert-authority)) with a key that signs no user certificate.
  - A least-privilege ACL policy (O(policy_name)) for the signing token, granting only C(create) and C(update)
    on C(<mount>/sign/<role>) for each of those roles and C(list) on C(<mount>/issuers) of each mount.
  - Roles are compared field by field with what OpenBao reports, after normalising its answers (TTLs come back as
    seconds, lists as comma-separated strings, booleans and maps as JSON), so a second run is C(changed=false)
    and makes read requests only. A role that differs (for example a TTL changed by hand) is written again and
    the change is reported in words.
  - The token this module uses needs to manage mounts, the SSH engine and ACL policies (an administrator's
    token), unlike the signing token, which only gets the policy written here.
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
    details: Reads everything and reports every planned change in RV(changes); writes nothing.
  diff_mode:
    support: full
    details:
      - One diff per item that changes - the mount, the CA (its fingerprint only, never a key), each role (only the
        fields that differ), the policy text.
options:
  mount:
    description:
      - Path of the SSH secrets engine mount.
      - Defaults to O(openbao.mount), itself V(ssh) by default.
      - A mount at that path that is not an SSH engine is an error; it is never replaced.
    type: str
  host_mount:
    description:
      - Path of the SSH secrets engine mount of the host CA and the host role, for OpenBao's two-mount layout
        (for example V(ssh-host-signer)).
      - Defaults to O(openbao.host_mount) when that is set, else O(mount) (one CA signs both).
    type: str
  host_ca:
    description:
      - The host CA to create when O(host_mount) is a mount of its own and has none; the same sub-options and rules
        as O(ca) (never replaced, rotation with O(host_ca.rotate)). Default a generated V(ed25519) CA.
      - Unused when O(host_mount) is O(mount) (the CA of O(ca) signs host certificates too).
    type: dict
    suboptions:
      generate:
        description: Let OpenBao generate the host CA key (default unless O(host_ca.private_key) is set).
        type: bool
      key_type:
        description: Key type of a generated host CA.
        type: str
        choices: [ecdsa, ed25519, rsa]
        default: ed25519
      key_bits:
        description: Key size of a generated V(rsa) or V(ecdsa) host CA.
        type: int
      private_key:
        description:
          - B(Secret.) Import this host CA private key instead of generating one; needs O(host_ca.public_key).
        type: str
      public_key:
        description: The OpenSSH public key line of O(host_ca.private_key).
        type: str
      rotate:
        description: Add the host CA issuer O(host_ca.issuer_name) beside the current host CA (see O(ca.rotate)).
        type: bool
        default: false
      issuer_name:
        description: Name of the issuer added by O(host_ca.rotate).
        type: str
      make_default:
        description: With O(host_ca.rotate), make O(host_ca.issuer_name) the host mount's default issuer.
        type: bool
        default: false
  ca:
    description:
      - The CA to create when the mount has none.
      - When the mount already has a CA it is kept, whatever these options say. A different one is reported in
        RV(warnings) (key type for O(ca.generate), public key for an import).
    type: dict
    default: {}
    suboptions:
      generate:
        description:
          - Let OpenBao generate the CA key; the private key never leaves OpenBao.
          - V(false) without O(ca.private_key) means the CA must already exist; the module fails otherwise.
          - Defaults to V(true) unless O(ca.private_key) is set.
        type: bool
      key_type:
        description:
          - Key type of a generated CA. V(ed25519) costs OpenBao about a twentieth of the CPU of an RSA-4096 CA
            per signature.
        type: str
        choices: [ecdsa, ed25519, rsa]
        default: ed25519
      key_bits:
        description:
          - Key size of a generated V(rsa) (2048, 3072, 4096) or V(ecdsa) (256, 384, 521) CA. Unset for V(ed25519).
        type: int
      private_key:
        description:
          - B(Secret.) Import this CA private key (PEM or OpenSSH format) instead of generating one; needs
            O(ca.public_key). Never logged or returned.
        type: str
      public_key:
        description:
          - The OpenSSH public key line of O(ca.private_key).
        type: str
      rotate:
        description:
          - Add the CA issuer O(ca.issuer_name) (generated, or imported from O(ca.private_key)) beside the current
            CA, when no issuer of that name exists. The current CA stays the default, so existing trust keeps working.
          - Hosts that trust every issuer of the mount (C(list) on C(<mount>/issuers)) learn the new CA; then set
            O(ca.make_default) to sign with it.
        type: bool
        default: false
      issuer_name:
        description:
          - Name of the issuer added by O(ca.rotate). Also names the first CA when the mount has none.
        type: str
      make_default:
        description:
          - With O(ca.rotate), make O(ca.issuer_name) the mount's default issuer, so every role signs with it.
        type: bool
        default: false
  role_map:
    description:
      - "Role name per actor type, merged over O(openbao.role_map) (itself merged over
        C({adm: adm-role, agt: agt-role, atm: atm-role}))."
      - The key V(host) names the host role, like O(host_role).
    type: dict
  host_role:
    description:
      - Name of the role that signs host certificates (on O(host_mount)). Defaults to O(openbao.host_role), itself
        V(host-role).
    type: str
  max_ttl_hours:
    description:
      - "C(ttl) and C(max_ttl) of each user role, in hours, per actor type; merged over the caps
        C({adm: 48, agt: 24, atm: 8})."
      - A value above the actor type's cap is refused (never clamped); lower values are allowed.
    type: dict
  host_max_ttl_hours:
    description:
      - C(ttl) and C(max_ttl) of the host role, in hours.
    type: float
    default: 720
  host_domains:
    description:
      - C(allowed_domains) of the host role. C(allow_subdomains) and C(allow_bare_domains) are on, so
        V(example.internal) allows C(example.internal) and C(web1.example.internal).
      - The default V(*) allows any host name; narrow it to your DNS domains. Short host names (the inventory
        name) are then refused unless listed.
    type: list
    elements: str
    default: ['*']
  default_extensions:
    description:
      - Extensions every user certificate gets (C(default_extensions) of the user roles). Callers cannot ask for
        others (C(allowed_extensions) is empty).
    type: list
    elements: str
    default: [permit-pty, permit-port-forwarding, permit-agent-forwarding, permit-user-rc]
  roles:
    description:
      - "Extra or changed OpenBao role fields, per role name, merged over what the module sets, for example
        C({agt-role: {not_before_duration: 10s}})."
      - Keys must be roles this module manages. C(ttl)/C(max_ttl) stay within the actor type's cap, C(key_type)
        stays V(ca), C(allow_empty_principals) cannot be turned on. A field OpenBao does not know is an error.
    type: dict
    default: {}
  policy_name:
    description:
      - Name of the ACL policy for the signing token. V(root) and V(default) are refused.
    type: str
    default: warden-ssh-signer
notes:
  - "User roles set C(allowed_users: *): the collection's policy gate decides which principals each actor may get
     before every signing, from the actor inventory that OpenBao does not know. The signing token should hold only
     O(policy_name), so it cannot sign outside the gate's roles; a token that can bypass the gate can sign any
     principal on those roles."
  - User roles set C(allow_user_key_ids) because the collection writes key ids that embed the policy decision id,
    which sshd logs at every login.
  - A role that differs is written whole (OpenBao replaces a role on write); fields neither set by this module
    nor by O(roles) return to OpenBao's defaults then. Security-relevant ones (C(allow_empty_principals),
    C(allowed_extensions), C(allowed_critical_options), the certificate types) are always set and compared.
  - Writing C(config/ca) again on a mount that has a CA silently replaces the CA; this module reads first and never
    writes it when a CA exists.
seealso:
  - module: netkingdom.warden.ssh_cert
  - module: netkingdom.warden.openbao_login
"""

EXAMPLES = r"""
- name: Ensure the SSH engine, CA, roles and signer policy (admin token from BAO_TOKEN)
  netkingdom.warden.openbao_ssh_engine:
    openbao:
      url: https://openbao.example.internal:8200
    host_domains: [example.internal]
  register: engine

- name: Show what changed
  ansible.builtin.debug:
    var: engine.changes

- name: Shorter certificates for automation, and a custom field on the agent role
  netkingdom.warden.openbao_ssh_engine:
    max_ttl_hours:
      atm: 4
    roles:
      agt-role:
        not_before_duration: 10s

- name: OpenBao's two-mount layout - a user CA on ssh/, a host CA of its own on ssh-host-signer/
  netkingdom.warden.openbao_ssh_engine:
    mount: ssh
    host_mount: ssh-host-signer
    host_domains: [fleet.example]
  register: engine

- name: CA rotation, step 1 - add a new issuer beside the current CA
  netkingdom.warden.openbao_ssh_engine:
    ca:
      rotate: true
      issuer_name: ca-2027

- name: CA rotation, step 3 (after every host trusts both) - sign with the new CA
  netkingdom.warden.openbao_ssh_engine:
    ca:
      rotate: true
      issuer_name: ca-2027
      make_default: true
"""

RETURN = r"""
changes:
  description: What was changed (in check mode, what would be), one sentence per item. Empty when nothing differs.
  returned: success
  type: list
  elements: str
  sample:
    - "updated role agt-role on ssh/ (it had drifted): ttl 1h -> 24h"
msg:
  description: The changes joined in one line, or that nothing had to change.
  returned: success
  type: str
mount:
  description: The SSH engine mount path of the user CA.
  returned: success
  type: str
  sample: ssh
host_mount:
  description: The SSH engine mount path of the host CA (RV(mount) when one CA signs both).
  returned: success
  type: str
  sample: ssh-host-signer
host_ca_public_key:
  description: The host mount's default CA public key, for C(@cert-authority) lines (RV(ca_public_key) with one mount).
  returned: success
  type: str
host_ca_fingerprint:
  description: SHA256 fingerprint of RV(host_ca_public_key).
  returned: success
  type: str
ca_public_key:
  description: The mount's default CA public key (OpenSSH line). Null in check mode when the CA would be generated.
  returned: success
  type: str
  sample: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB6D8Db6u4fauzb+OffhtEXYNysD3VNUWe6Izpjvl7jw
ca_fingerprint:
  description: SHA256 fingerprint of RV(ca_public_key), as C(ssh-keygen -l) prints it.
  returned: success
  type: str
  sample: SHA256:usLb9UMdRnHPTF06LkqjSk77vgwEyspqjv4Rbvtlizo
policy_name:
  description: Name of the signer ACL policy.
  returned: success
  type: str
  sample: warden-ssh-signer
policy:
  description: The policy text (HCL) that the signer policy holds.
  returned: success
  type: str
roles:
  description:
    - The managed roles, by name, with the fields the module sets (TTLs in seconds, lists sorted) and
      C(purpose) (the actor type, or V(host)).
  returned: success
  type: dict
  sample:
    agt-role:
      purpose: agt
      key_type: ca
      allow_user_certificates: true
      allowed_users: ["*"]
      ttl: 86400
      max_ttl: 86400
warnings:
  description: A CA that differs from the options (kept, never replaced).
  returned: when there is one
  type: list
  elements: str
"""
