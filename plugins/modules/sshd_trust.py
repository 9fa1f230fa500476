#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: sshd_trust
short_description: CA trust, principals per account, KRL, host certificates and the sshd drop-in in one or two round trips
version_added: 0.1.0
description:
  - Brings everything sshd trusts on a host to the wanted state, the way the C(netkingdom.warden.host_principals)
    role needs it, at the cost of one module round trip when nothing changes and two when something does.
  - B(Inspect once.) One call of M(netkingdom.warden.sshd_trust_host) reads the CA keys file, each account's
    principals file, the drop-in, the main C(sshd_config), the KRL specification, and each host key's public
    key and certificate. Private keys are never read.
  - B(Decide on the controller.) The new text of each file is computed on the controller; a host certificate
    is kept or renewed by the same rules as M(netkingdom.warden.ssh_cert) O(netkingdom.warden.ssh_cert#module:type=host)
    (signed through the same backends, recorded in the same audit trail). Nothing else happens when every file
    is already right.
  - B(Write once.) One more call writes every changed file atomically (temporary file in the same directory,
    fsync, rename; a backup C(<file>.<pid>.<date>~) of each file it replaces), builds the KRL with C(ssh-keygen -k)
    when its specification changed, checks the whole configuration with C(sshd -t -f <sshd_config>) and reloads
    sshd (never restarts it). When C(sshd -t) or the reload fails, the host puts every previous file back itself
    and the task fails with sshd's message.
  - B(Pending verification.) A trust change (anything but a host certificate alone) leaves the marker
    O(pending_path) on the host, written after C(sshd -t) and before the reload; RV(verify_pending) reports it on
    every later run until O(state=verified) removes it, so a run interrupted before its login check proves the
    login on the next run. Reading the marker is part of the one inspection, so a converged host still costs one call.
  - O(state=restore) puts back the files of a former run from its RV(backups) (used after a failed login
    verification), checks with C(sshd -t) and reloads sshd.
  - The OpenBao token and the PDP token never reach the host.
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
    details: Inspects the host and reports what would change, with a diff; signs and writes nothing.
  diff_mode:
    support: full
    details: Each file before and after; host certificates as principals, validity and serial.
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
  state:
    description:
      - V(present) inspects, decides and writes what changed; V(restore) puts back O(backups);
        V(verified) removes the pending-verification marker O(pending_path) after a real login proved the change.
    type: str
    choices: [present, restore, verified]
    default: present
  pending_path:
    description:
      - The marker a trust change leaves on the host until its login check passed (atomic, mode 0600, a timestamp
        and the changed paths, no secret). It is written before sshd is reloaded, so a run killed between the
        reload and the login check still reports RV(verify_pending) on the next run, which then verifies.
    type: path
    default: /var/lib/warden/sshd-trust.pending
  keep_backups:
    description:
      - How many backups of each replaced file to keep beside it (C(<file>.<pid>.<date>~)); older ones are removed
        after a successful change, never this change's own. V(0) keeps every backup.
    type: int
    default: 5
  ca_keys:
    description:
      - The CA public key lines sshd trusts for user certificates (C(TrustedUserCAKeys)), in this order.
      - For example the key of the C(netkingdom.warden.ssh_ca_public_key) lookup, plus the old CA during a CA rotation.
    type: list
    elements: str
    default: []
  ca_path:
    description: The C(TrustedUserCAKeys) file.
    type: path
    default: /etc/ssh/ca/ca_user.pub
  principals:
    description:
      - Account name to the list of principals it accepts, one C(AuthorizedPrincipalsFile) per account
        (C(<principals_dir>/<account>), root, C(0644)). Accounts not named are left alone.
    type: dict
    default: {}
  principals_dir:
    description: Directory of the principals files (C(AuthorizedPrincipalsFile <principals_dir>/%u)).
    type: path
    default: /etc/ssh/auth_principals
  exclusive:
    description:
      - V(true), each principals file holds exactly the listed principals.
      - V(false), missing principals are added and every other line is kept (the add phase of a rotation).
    type: bool
    default: true
  dropin:
    description: The one drop-in that names every file; its directory is included from O(sshd_config).
    type: path
    default: /etc/ssh/sshd_config.d/20-netkingdom-warden.conf
  dropin_content:
    description:
      - The drop-in's text. Default built from the options (C(TrustedUserCAKeys), C(AuthorizedPrincipalsFile),
        one C(HostCertificate) per host key, C(RevokedKeys) when a KRL is managed), with a fixed
        C(# Ansible managed) header so the text is the same on every run.
    type: str
  sshd_config:
    description:
      - The main sshd configuration. A line C(Include <dropin dir>/*.conf) is put at its top when no line matches
        C(^\s*Include\s+<dropin dir>/\*\.conf\s*$) (a matching line is rewritten to that exact text).
      - The whole configuration is checked with C(sshd -t -f) this file.
    type: path
    default: /etc/ssh/sshd_config
  revoked_serials:
    description:
      - Certificate serials (or ranges C(N-M)) to revoke in a KRL (C(RevokedKeys)). With neither this nor
        O(revoked_keys) no KRL is managed.
      - The specification is kept in C(<krl_path>.spec); the KRL is built on the host with C(ssh-keygen -k) only when
        the specification changed or the KRL is missing.
    type: list
    elements: str
    default: []
  revoked_keys:
    description: Public key lines to revoke in the KRL.
    type: list
    elements: str
    default: []
  krl_path:
    description: The KRL file.
    type: path
    default: /etc/ssh/revoked_keys
  host_keys:
    description:
      - Private host key paths. Each gets a host certificate C(<key>-cert.pub), named by a C(HostCertificate) line,
        signed on the controller for the public key C(<key>.pub) read from the host.
    type: list
    elements: path
    default: []
  signing_ca_keys:
    description:
      - The signing CA's public keys, when the play already read them once for the run (for example with the
        C(netkingdom.warden.ssh_ca_public_key) lookup, as the C(host_principals) role does).
      - Deciding whether a host certificate is still valid needs only these keys, so with them a host whose
        certificates are valid costs no signing backend at all (no CA key load, no OpenBao client or request);
        the backend is built only when a certificate must be signed.
      - Default ask the signing backend on every host.
    type: list
    elements: str
    default: []
  host_cert_principals:
    description:
      - Names in the host certificates (DNS names or IP addresses).
      - Default the inventory variable C(warden_host_cert_principals), else C(inventory_hostname) plus C(ansible_host)
        when that is a DNS name. What the host reports about itself (its FQDN, its hostname) is never signed; a warning
        shows it when it differs.
    type: list
    elements: str
  host_signing_ca_keys:
    description:
      - Like O(signing_ca_keys), for host certificates - the public keys of the CA that signs them (the
        C(netkingdom.warden.ssh_ca_public_key) lookup with C(cert_type=host)), which differ from the user CA's in
        OpenBao's two-mount layout (O(openbao.host_mount)).
      - Default O(signing_ca_keys) when one CA signs both (the local CA, or OpenBao with one mount), else ask the
        signing backend on every host.
    type: list
    elements: str
    default: []
  host_cert_ttl_hours:
    description: Lifetime of a new host certificate, in hours. Default 720.
    type: float
  renew_before:
    description:
      - Renew a host certificate expiring within this window (hours, or V(90m), V(12h), V(2d)).
      - Default renew when less than a third of the lifetime is left.
    type: str
  force:
    description: Sign new host certificates even when the current ones are valid.
    type: bool
    default: false
  sshd_bin:
    description: The sshd binary used for C(sshd -t).
    type: path
    default: /usr/sbin/sshd
  reload_method:
    description:
      - V(service) reloads O(sshd_service) (systemd when it runs, else C(service), else the init script);
        V(command) runs O(reload_command).
    type: str
    choices: [service, command]
    default: service
  sshd_service:
    description: The sshd service name (C(ssh) on Debian, C(sshd) on EL).
    type: str
    default: ssh
  reload_command:
    description: The command that reloads sshd with O(reload_method=command) (run without a shell).
    type: str
  actor_certs:
    description:
      - Workload actors whose key and certificate live on this host. The one inspection also reads each key's
        public key and certificate (never the private key; a missing key is reported missing), and the controller
        decides keep-or-renew by the same rules as M(netkingdom.warden.ssh_cert) (a valid certificate is kept and
        audited V(kept) exactly as M(netkingdom.warden.ssh_cert) does it), so a converged actor costs no round trip.
      - Nothing is signed or written for actors here. Those whose certificate must be (re)signed, whose key is
        missing, or that have a problem (an actor not in the inventory, ...) are returned in
        RV(actor_certs_pending) for an M(netkingdom.warden.ssh_cert) task (which generates the key when asked,
        gates, signs, writes, and reports any problem).
    type: list
    elements: dict
    default: []
    suboptions:
      actor:
        description: The actor (in O(actors) / O(inventory_file)); principals and TTL come from the inventory.
        type: str
        required: true
      key:
        description: Absolute path of the actor's private key on the host (its certificate is C(<key>-cert.pub)).
        type: path
        required: true
      force:
        description: Sign a new certificate even when the current one is valid (the actor is then pending).
        type: bool
        default: false
      renew_before:
        description: Renew when the certificate expires within this time (hours, or C(90m), C(12h), C(2d)).
        type: str
  backups:
    description:
      - With O(state=restore), the RV(backups) of the run to undo (path to backup, or null for a file it created).
    type: dict
    default: {}
notes:
  - Host certificates are not actor-gated (there is no actor); they are limited by the OpenBao host role
    and recorded in the audit log with a null decision id, exactly as with M(netkingdom.warden.ssh_cert).
  - The signing options (O(backend), O(openbao), O(local_ca), O(audit_log), O(policy), O(actors)) default to the
    C(warden_*) play variables, as for M(netkingdom.warden.ssh_cert). They are only used when O(host_keys) is set.
seealso:
  - module: netkingdom.warden.sshd_trust_host
  - module: netkingdom.warden.ssh_cert
  - module: netkingdom.warden.login_probe
"""

EXAMPLES = r"""
- name: CA trust, principals, host certificate and the drop-in, verified with sshd -t and reloaded
  netkingdom.warden.sshd_trust:
    ca_keys: "{{ query('netkingdom.warden.ssh_ca_public_key') }}"
    principals:
      ops: [adm-example, ops-admin]
      svc: [agt-task-bridge]
    host_keys: [/etc/ssh/ssh_host_ed25519_key]
  register: trust

- name: Add the new principal only (phase 1 of a rotation), keep what is there
  netkingdom.warden.sshd_trust:
    ca_keys: "{{ warden_trusted_ca_keys }}"
    principals:
      svc: [agt-bridge-v2]
    exclusive: false

- name: A real login proved the change; forget the pending verification
  netkingdom.warden.sshd_trust:
    state: verified
  when: trust.verify_pending

- name: Trust plus the workload actors' certificates, decided in the same one inspection
  netkingdom.warden.sshd_trust:
    ca_keys: "{{ query('netkingdom.warden.ssh_ca_public_key') }}"
    principals:
      ops: [adm-example]
    actor_certs:
      - actor: atm-backup-daily
        key: /var/lib/warden/actors/atm-backup-daily/id_ed25519
  register: trust_and_actors

- name: Sign only the actor certificates that are not valid (a converged host skips this)
  netkingdom.warden.ssh_cert:
    actor: "{{ item.actor }}"
    subject: "{{ item.subject }}"
    key: "{{ item.key }}"
    generate_key: true
  loop: "{{ trust_and_actors.actor_certs_pending }}"

- name: Undo that change after a failed login check
  netkingdom.warden.sshd_trust:
    state: restore
    backups: "{{ trust.backups }}"
  when: trust.backups | length > 0
"""

RETURN = r"""
changed_files:
  description: Files written (or, in check mode, that would be written), host certificates included.
  returned: always
  type: list
  elements: str
trust_changed:
  description: Whether anything other than a host certificate changed (what a login verification is for).
  returned: O(state=present)
  type: bool
verify_pending:
  description:
    - Whether a login check is owed on this host, because this run changed trust or an earlier run left the marker
      O(pending_path) (it was interrupted before its check passed). Run the login check, then O(state=verified).
  returned: O(state=present) or O(state=verified)
  type: bool
host_certs:
  description:
    - One entry per O(host_keys) item, with the fields M(netkingdom.warden.ssh_cert) returns.
    - C(path), C(key), C(changed), C(reason) (V(valid) when kept; else V(missing), V(expiring), V(key_changed),
      V(ca_changed), V(principals_changed), V(signature_invalid), ...), C(serial), C(key_id), C(principals), C(valid_after),
      C(valid_before), C(ca_fingerprint), C(policy_decision_id) (null for host certificates).
  returned: O(state=present)
  type: list
  elements: dict
  sample:
    - path: /etc/ssh/ssh_host_ed25519_key-cert.pub
      key: /etc/ssh/ssh_host_ed25519_key
      changed: false
      reason: valid
      serial: "16794390781217513219"
      key_id: warden:host:host1
      principals: [host1, host1.fleet.test]
      valid_before: "2026-12-26T10:00:00Z"
      policy_decision_id: null
actor_certs:
  description:
    - The O(actor_certs) whose certificate is valid and was kept (and audited V(kept)), with the fields
      M(netkingdom.warden.ssh_cert) returns for a kept certificate, plus C(actor) and C(key).
  returned: O(state=present)
  type: list
  elements: dict
  sample:
    - actor: atm-backup-daily
      key: /var/lib/warden/actors/atm-backup-daily/id_ed25519
      path: /var/lib/warden/actors/atm-backup-daily/id_ed25519-cert.pub
      changed: false
      reason: valid
      serial: "4711"
      key_id: "warden:atm-backup-daily:decision:0123456789abcdef"
      principals: [atm-backup]
      valid_before: "2026-11-27T10:00:00Z"
      policy_decision_id: "decision:0123456789abcdef"
actor_certs_pending:
  description:
    - The O(actor_certs) an M(netkingdom.warden.ssh_cert) task must handle, each with C(actor), C(key), C(path),
      C(subject) and C(reason) (V(missing) also when the key itself is missing, V(expiring), V(key_changed), V(ca_changed),
      V(forced), ..., or V(error) with C(msg) for a problem that task will report).
    - C(subject) is the subject id to send for that actor, its inventory C(subject), else the actor name (a fleet
      run never sends E(WARDEN_POLICY_SUBJECT) for every actor).
  returned: O(state=present)
  type: list
  elements: dict
backups:
  description:
    - Path of each file this run replaced to its backup, or null for a file it created; give it to O(state=restore).
    - Empty when nothing was written, and after a failure the host already undid.
  returned: O(state=present)
  type: dict
reloaded:
  description: Whether sshd was reloaded.
  returned: always
  type: bool
restored:
  description: After a failed write, C(sshd -t) or reload, whether the host put the previous files back.
  returned: failure
  type: bool
"""
