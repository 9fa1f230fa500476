#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: sshd_trust_host
short_description: Host half of netkingdom.warden.sshd_trust (internal) - read sshd's trust files, or write them, check and reload
version_added: 0.1.0
description:
  - The host half of M(netkingdom.warden.sshd_trust), run on each host by that action plugin. Not meant to be called
    directly; use M(netkingdom.warden.sshd_trust).
  - Until release 1.0.0 the former name C(netkingdom.warden.sshd_trust_files) still runs this module, with a deprecation
    warning.
  - With O(state=inspect) it returns, in one round trip, the text, mode and owner of every file in
    O(paths), whether each file of O(stat_paths) exists, and for every key in O(host_keys) its public key
    and current certificate. Private keys are never read.
  - With O(state=apply) it writes every file of O(files), each atomically (temporary file in the same
    directory, fsync, rename), after a backup (C(<file>.<pid>.<date>~)) of the file it replaces;
    builds the KRL with C(ssh-keygen -k) when O(krl) is given; checks the whole configuration with C(sshd -t); and reloads sshd.
    When C(sshd -t) or the reload fails, it puts every previous file back itself and fails with sshd's message.
  - With O(state=restore) it puts back the files of O(backups) (as RV(backups) returned them, a backup
    path, or null for a file that did not exist), checks with C(sshd -t) and reloads sshd.
  - A change waiting for its login check survives an interrupted run. With O(state=apply) and O(mark_pending),
    the module writes the marker O(pending_path) (atomically, root, mode 0600; a timestamp and the changed
    paths, no secret) after C(sshd -t) accepted the files and before sshd is reloaded. O(state=inspect) reports
    it as RV(verify_pending), and O(state=verified) removes it once a real login proved the change.
author:
  - netkingdom.warden developers (@netkingdom)
extends_documentation_fragment:
  - netkingdom.warden.attributes
  - netkingdom.warden.attributes.ACTIONGROUP_WARDEN
attributes:
  check_mode:
    support: full
    details: O(state=inspect) runs as usual; O(state=apply), O(state=restore) and O(state=verified) change nothing
      and report C(changed).
  diff_mode:
    support: none
    details: M(netkingdom.warden.sshd_trust) builds the diff from the inspection.
  platform:
    support: full
    platforms: posix
options:
  state:
    description:
      - V(inspect) reads, V(apply) writes, checks and reloads, V(restore) puts back the previous files,
        V(verified) removes the pending-verification marker O(pending_path).
    type: str
    choices: [inspect, apply, restore, verified]
    default: inspect
  paths:
    description: Text files to read with O(state=inspect) (a missing file is reported with C(content=null)).
    type: list
    elements: path
    default: []
  stat_paths:
    description: Files whose existence only is reported with O(state=inspect) (for example the binary KRL).
    type: list
    elements: path
    default: []
  host_keys:
    description:
      - Private host key paths; O(state=inspect) reads C(<key>.pub) and C(<key>-cert.pub), never the key itself.
    type: list
    elements: path
    default: []
  actor_keys:
    description:
      - Private key paths of workload actors; O(state=inspect) reads C(<key>.pub) and C(<key>-cert.pub), never the
        key itself. A missing key is reported with C(public_key=null).
    type: list
    elements: path
    default: []
  files:
    description: Files to write with O(state=apply), in order.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path of the file.
        type: path
        required: true
      content:
        description: The whole new text of the file.
        type: str
        required: true
      mode:
        description: Octal mode; default keep the current one (V(0644) for a new file).
        type: str
      owner:
        description: Owner (name or uid); default keep the current one (the module's user for a new file).
        type: str
      group:
        description: Group (name or gid); default keep the current one.
        type: str
      public_key:
        description:
          - For a certificate, the public key it certifies; the write is refused when the key on the host
            (the path without C(-cert.pub), plus C(.pub)) is no longer that key.
        type: str
  krl:
    description:
      - Build the KRL with O(state=apply) after the files are written, from its specification.
    type: dict
    suboptions:
      path:
        description: The KRL file.
        type: path
        required: true
      spec:
        description: The specification file (written through O(files)).
        type: path
        required: true
      ca_path:
        description: The CA public keys file for C(serial:) lines (C(ssh-keygen -k -s)).
        type: path
        required: true
  pending_path:
    description:
      - The marker of a change whose login check has not passed yet (see O(mark_pending)).
    type: path
    default: /var/lib/warden/sshd-trust.pending
  keep_backups:
    description:
      - With O(state=apply), how many backups of each replaced file to keep beside it (C(<file>.<pid>.<date>~));
        older ones are removed after a successful change. This change's own backup is always the newest kept.
      - V(0) keeps every backup.
    type: int
    default: 5
  mark_pending:
    description:
      - With O(state=apply), write the marker O(pending_path) before sshd is reloaded, so that a run
        interrupted before its login check still verifies on the next run.
      - M(netkingdom.warden.sshd_trust) sets it when trust (CA keys, principals, KRL, drop-in) changes; a
        renewed host certificate alone needs no login check.
    type: bool
    default: false
  backups:
    description:
      - With O(state=restore), path to backup file (or null to remove a file that did not exist before).
    type: dict
    default: {}
  sshd_config:
    description: The main sshd configuration checked with C(sshd -t -f).
    type: path
    default: /etc/ssh/sshd_config
  sshd_bin:
    description: The sshd binary.
    type: path
    default: /usr/sbin/sshd
  reload_method:
    description:
      - V(service) reloads O(sshd_service) through systemd when it runs, else C(service <name> reload), else the
        init script; V(command) runs O(reload_command); V(none) does not reload.
    type: str
    choices: [service, command, none]
    default: service
  sshd_service:
    description: The service name for O(reload_method=service).
    type: str
    default: ssh
  reload_command:
    description: The command for O(reload_method=command) (split like a shell would, run without a shell).
    type: str
requirements:
  - C(sshd) on the host; C(ssh-keygen) when O(krl) is given.
seealso:
  - module: netkingdom.warden.sshd_trust
"""

EXAMPLES = r"""
# What netkingdom.warden.sshd_trust sends to the host; call that action plugin instead.
- name: Read the CA file, the drop-in and the host key with its certificate
  netkingdom.warden.sshd_trust_host:
    paths: [/etc/ssh/ca/ca_user.pub, /etc/ssh/sshd_config.d/20-netkingdom-warden.conf]
    host_keys: [/etc/ssh/ssh_host_ed25519_key]
  register: seen

- name: A real login proved the change; forget the pending verification
  netkingdom.warden.sshd_trust_host:
    state: verified

- name: Put back what a failed change replaced
  netkingdom.warden.sshd_trust_host:
    state: restore
    backups: "{{ trust.backups }}"
"""

RETURN = r"""
files:
  description: With O(state=inspect), path to C(content) (null when missing), C(exists), C(mode), C(uid), C(gid).
  returned: state=inspect
  type: dict
host_keys:
  description: With O(state=inspect), per key C(key), C(public_key) (null when missing), C(cert_path), C(certificate).
  returned: state=inspect
  type: list
  elements: dict
verify_pending:
  description: Whether the marker O(pending_path) exists (a change still waits for its login check).
  returned: state=inspect
  type: bool
actor_keys:
  description: With O(state=inspect), per O(actor_keys) item C(key), C(public_key) (null when missing), C(cert_path), C(certificate).
  returned: state=inspect
  type: list
  elements: dict
hostname:
  description: The host's short name, as the host reports it (shown, never signed).
  returned: state=inspect
  type: str
fqdn:
  description: The host's fully qualified name, as the host reports it (shown, never signed).
  returned: state=inspect
  type: str
changed_files:
  description: Paths written (O(state=apply)) or put back (O(state=restore)).
  returned: state=apply or state=restore
  type: list
  elements: str
pending:
  description: Whether this call wrote the marker O(pending_path).
  returned: state=apply
  type: bool
pruned_backups:
  description: Old backups this call removed (see O(keep_backups)).
  returned: success of state=apply
  type: list
  elements: str
backups:
  description: Path to its backup, or null for a file this call created; what O(state=restore) takes.
  returned: state=apply
  type: dict
reloaded:
  description: Whether sshd was reloaded.
  returned: state=apply or state=restore
  type: bool
restored:
  description: Whether a failed O(state=apply) put the previous files back.
  returned: failure of state=apply
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netkingdom.warden.plugins.module_utils._host.sshd_trust_apply import (
    apply,
    inspect,
    restore_state,
    verified,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type='str', choices=['inspect', 'apply', 'restore', 'verified'], default='inspect'),
            pending_path=dict(type='path', default='/var/lib/warden/sshd-trust.pending'),
            mark_pending=dict(type='bool', default=False),
            keep_backups=dict(type='int', default=5),
            paths=dict(type='list', elements='path', default=[]),
            stat_paths=dict(type='list', elements='path', default=[]),
            host_keys=dict(type='list', elements='path', default=[], no_log=False),  # paths of keys, not keys
            actor_keys=dict(type='list', elements='path', default=[], no_log=False),  # paths of keys, not keys
            files=dict(type='list', elements='dict', default=[], options=dict(
                path=dict(type='path', required=True),
                content=dict(type='str', required=True),
                mode=dict(type='str'),
                owner=dict(type='str'),
                group=dict(type='str'),
                public_key=dict(type='str'),
            )),
            krl=dict(type='dict', options=dict(
                path=dict(type='path', required=True),
                spec=dict(type='path', required=True),
                ca_path=dict(type='path', required=True),
            )),
            backups=dict(type='dict', default={}),
            sshd_config=dict(type='path', default='/etc/ssh/sshd_config'),
            sshd_bin=dict(type='path', default='/usr/sbin/sshd'),
            reload_method=dict(type='str', choices=['service', 'command', 'none'], default='service'),
            sshd_service=dict(type='str', default='ssh'),
            reload_command=dict(type='str'),
        ),
        supports_check_mode=True,
    )
    state = module.params['state']
    if state == 'inspect':
        inspect(module)
    elif state == 'apply':
        apply(module)
    elif state == 'verified':
        verified(module)
    else:
        restore_state(module)


if __name__ == '__main__':
    main()
