#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ssh_cert
short_description: Ensure a policy-gated SSH certificate for a key on the target
version_added: 0.1.0
description:
  - Ensures the certificate file next to a public key on the target. The public key and any existing
    certificate are read from the host; the decision, the policy check and the signing happen on the
    controller; only the certificate is written back, atomically. The private key never leaves the host,
    the OpenBao token and the PDP token never reach it.
  - An existing certificate is kept while it is signed by the current CA, certifies this public key, has
    the same type and principals, and is valid beyond the renewal window. Otherwise it is renewed, and
    RV(reason) says why.
  - User certificates are for an O(actor) of the inventory; its principals and TTL come from the inventory
    and O(principals) / O(ttl_hours) may only narrow them. A TTL above the actor's or the type maximum
    (adm 48h, agt 24h, atm 8h) is rejected before any call, never clamped.
  - The order is validate, gate, sign, audit, write. A deny, a gate failure (C(policy_unavailable) with
    fail_closed, C(policy_answer_invalid) always), a backend error or an audit log that cannot take the
    record leaves the host untouched and fails the task. A write that fails on the host after signing adds
    a C(write_failed) audit record.
  - The gate decision's warnings (gate off, PDP unavailable with O(policy.fail_closed=false)) are shown as
    warnings of the task.
  - The certificate's key id is C(warden:<actor>:<decision id>) (C(warden:host:<host>) for host
    certificates), so sshd's login log lines lead to the policy decision.
author:
  - netkingdom.warden developers (@netkingdom)
extends_documentation_fragment:
  - netkingdom.warden.attributes
  - netkingdom.warden.attributes.ACTIONGROUP_WARDEN
  - netkingdom.warden.policy_gate
  - netkingdom.warden.policy_gate.ACTORS
  - netkingdom.warden.signing
  - netkingdom.warden.audit
  - netkingdom.warden.openbao
attributes:
  check_mode:
    support: full
    details: Reads the host, decides, and reports what would be signed; signs and writes nothing.
  diff_mode:
    support: full
    details: Shows principals, validity and serial before and after.
  action:
    description: Runs as an action plugin; the host is only read and written, never given a token.
    support: full
  async:
    description: Supports being used with the C(async) keyword.
    support: none
  platform:
    support: full
    platforms: posix
options:
  type:
    description: V(user) for an actor's certificate, V(host) for a host key certificate.
    type: str
    choices: [user, host]
    default: user
  actor:
    description:
      - The actor whose certificate this is (user certificates), for example V(agt-state-hub-bridge).
    type: str
  key:
    description:
      - The private key path on the host. Its public key is C(<key>.pub) and the certificate C(<key>-cert.pub).
      - Default for O(type=host) V(/etc/ssh/ssh_host_ed25519_key). Mutually exclusive with O(public_key_path).
    type: path
  public_key_path:
    description:
      - The public key on the host, when it is not C(<key>.pub).
    type: path
  path:
    description:
      - The certificate path on the host. Default the public key path with C(.pub) replaced by C(-cert.pub).
    type: path
  principals:
    description:
      - User certificates, a subset of the actor's principals (default all of them).
      - Host certificates, the names the host answers to (DNS names or IP addresses). Default the inventory variable
        C(warden_host_cert_principals), else C(inventory_hostname) plus C(ansible_host) when that is a DNS name. What
        the host reports about itself is never signed; a warning shows it when it differs.
    type: list
    elements: str
  ttl_hours:
    description:
      - Lifetime in hours. User certificates default to the actor's C(ttl_hours) and may not exceed it;
        host certificates default to 720.
    type: float
  renew_before:
    description:
      - Renew when the certificate expires within this window, in hours or as a duration such as V(90m), V(12h), V(2d).
      - Default renew when less than a third of the lifetime is left.
    type: str
  force:
    description: Sign a new certificate even when the current one is valid.
    type: bool
    default: false
  generate_key:
    description:
      - Generate the key pair on the host (with C(ssh-keygen)) when the private key does not exist.
        The private key is created on the host and never leaves it; a missing key directory is created
        with mode C(0700).
    type: bool
    default: false
  key_type:
    description: Key type for O(generate_key).
    type: str
    choices: [ed25519, ecdsa, rsa]
    default: ed25519
  owner:
    description: Owner of the certificate file.
    type: str
  group:
    description: Group of the certificate file.
    type: str
  mode:
    description: Mode of the certificate file.
    type: raw
    default: '0644'
notes:
  - Host certificates are not actor-gated (there is no actor); they are limited by the OpenBao host role
    and recorded in the audit log with a null decision id.
  - Signing is not idempotent in OpenBao; a retried request may create a certificate that is never used.
    Only the written certificate counts.
seealso:
  - module: netkingdom.warden.policy_check
  - plugin: netkingdom.warden.ssh_cert
    plugin_type: lookup
  - plugin: netkingdom.warden.ssh_ca_public_key
    plugin_type: lookup
"""

EXAMPLES = r"""
- name: Certificate for the bridge agent's key on its host, signed by OpenBao
  netkingdom.warden.ssh_cert:
    actor: agt-state-hub-bridge
    key: /home/bridge/.ssh/id_ed25519
    owner: bridge
    generate_key: true
    openbao:
      url: https://openbao.example.internal:8200
      auth_method: approle
      role_id: "{{ openbao_role_id }}"
      secret_id: "{{ openbao_secret_id }}"

- name: Host certificate for the host's ed25519 key (names from the inventory and the host)
  netkingdom.warden.ssh_cert:
    type: host
  notify: Reload sshd

- name: Renew early, at most 8 hours of an atm certificate, with the embedded local CA
  netkingdom.warden.ssh_cert:
    actor: atm-backup-daily
    key: /var/lib/backup/.ssh/id_ed25519
    ttl_hours: 4
    renew_before: 2h
    backend: local
    local_ca:
      key_path: /etc/warden/ca/ca_key
"""

RETURN = r"""
reason:
  description:
    - Why a certificate was signed, or V(valid) when it was kept. One of V(missing), V(invalid) (the file
      is not a certificate), V(key_changed), V(ca_changed), V(type_changed), V(principals_changed),
      V(expiring), V(signature_invalid) (it names the trusted CA but that CA did not sign it - forged or damaged),
      V(forced), V(valid); on a deny the gate's reason.
  returned: always
  type: str
  sample: expiring
path:
  description: The certificate path on the host.
  returned: success
  type: str
serial:
  description: The certificate serial (as text; it is a 64-bit number).
  returned: success
  type: str
  sample: "16794390781217513219"
key_id:
  description: The certificate key id.
  returned: success
  type: str
  sample: warden:agt-state-hub-bridge:decision:032b096c433ad80c
principals:
  description: Principals in the certificate.
  returned: success
  type: list
  elements: str
valid_after:
  description: Start of validity, ISO-8601 UTC.
  returned: success
  type: str
valid_before:
  description: End of validity, ISO-8601 UTC.
  returned: success
  type: str
ca_fingerprint:
  description: SHA256 fingerprint of the CA that signed it.
  returned: success
  type: str
policy_decision_id:
  description: The gate decision recorded with the signing (null for host certificates or a gate that is off).
  returned: always
  type: str
generated:
  description: Whether the key pair was generated on the host.
  returned: success
  type: bool
"""
