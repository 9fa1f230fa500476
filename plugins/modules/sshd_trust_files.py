#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: sshd_trust_files
short_description: Read sshd's trust files in one call, or write them all, check with sshd -t and reload
version_added: 0.1.0
description:
  - The host side of M(netkingdom.warden.sshd_trust); usually called by it, usable on its own.
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
"""

EXAMPLES = r"""
- name: Read the CA file, the drop-in and the host key with its certificate
  netkingdom.warden.sshd_trust_files:
    paths: [/etc/ssh/ca/ca_user.pub, /etc/ssh/sshd_config.d/20-netkingdom-warden.conf]
    host_keys: [/etc/ssh/ssh_host_ed25519_key]
  register: seen

- name: A real login proved the change; forget the pending verification
  netkingdom.warden.sshd_trust_files:
    state: verified

- name: Put back what a failed change replaced
  netkingdom.warden.sshd_trust_files:
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

import json
import os
import shutil
import socket
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native

from ansible_collections.netkingdom.warden.plugins.module_utils._host.backups import backup_file, prune_backups
from ansible_collections.netkingdom.warden.plugins.module_utils._host.certs import cert_path, certifies
from ansible_collections.netkingdom.warden.plugins.module_utils._host.fileio import (
    MAX_FILE_BYTES,
    exists,
    read_file,
    remove_file,
    write_file,
)
from ansible_collections.netkingdom.warden.plugins.module_utils._host.safe_path import UnsafePath
from ansible_collections.netkingdom.warden.plugins.module_utils._host.ids import resolve_id

FILE_MODE = 0o644
NEW_DIRECTORY = (0o755, None, None)  # the module's user: root under become


def read_entry(module, path):
    """``{'content', 'exists', 'mode', 'uid', 'gid'}``; content None for a missing file."""
    try:
        found = read_file(path, max_bytes=MAX_FILE_BYTES)
    except UnsafePath as exc:
        module.fail_json(msg=str(exc))
    except (IOError, OSError) as exc:
        module.fail_json(msg='cannot read %s: %s' % (path, to_native(exc)))
    if found is None:
        return {'content': None, 'exists': False}
    return {'content': found.text, 'exists': True, 'mode': found.mode, 'uid': found.uid, 'gid': found.gid}


def read_line(module, path):
    """The stripped text of a one-line file (a key or a certificate), or None when missing or unreadable."""
    try:
        found = read_file(path, max_bytes=MAX_FILE_BYTES)
    except UnsafePath as exc:
        module.fail_json(msg=str(exc))
    except (IOError, OSError):
        return None
    return (found.text.strip() or None) if found is not None else None


def read_key(module, key):
    """A key's public key and certificate (never the private key); None for what is missing."""
    return {'key': key, 'public_key': read_line(module, key + '.pub'), 'cert_path': cert_path(key),
            'certificate': read_line(module, cert_path(key))}


def is_there(module, path):
    try:
        return exists(path)
    except UnsafePath as exc:
        module.fail_json(msg=str(exc))


def inspect(module):
    params = module.params
    files = dict((path, read_entry(module, path)) for path in params['paths'])
    for path in params['stat_paths']:
        files[path] = {'content': None, 'exists': is_there(module, path)}
    keys = [read_key(module, key) for key in params['host_keys']]
    actor_keys = [read_key(module, key) for key in params['actor_keys']]
    module.exit_json(changed=False, files=files, host_keys=keys, actor_keys=actor_keys,
                     hostname=socket.gethostname().split('.')[0], fqdn=socket.getfqdn(),
                     verify_pending=is_there(module, params['pending_path']))


def copy_back(backup, path):
    """Put a backup back atomically, with its mode and owner."""
    found = read_file(backup, max_bytes=None)
    if found is None:
        raise OSError('the backup %s is gone' % backup)
    write_file(path, found.data, found.mode, found.uid, found.gid)


def restore(backups):
    """Put every file back; the paths that could not be restored, with why."""
    problems = []
    for path, backup in backups.items():
        try:
            if backup:
                copy_back(backup, path)
            else:
                remove_file(path)
        except (IOError, OSError, UnsafePath) as exc:
            problems.append('%s: %s' % (path, to_native(exc)))
    return problems


def build_krl(module, krl):
    """The KRL's bytes, built by ``ssh-keygen -k`` in a private directory of the module's own."""
    ssh_keygen = module.get_bin_path('ssh-keygen', required=True)
    workdir = tempfile.mkdtemp(prefix='warden-krl-', dir=module.tmpdir)
    try:
        built = os.path.join(workdir, 'krl')
        rc, out, err = module.run_command([ssh_keygen, '-k', '-f', built, '-s', krl['ca_path'], krl['spec']])
        if rc != 0:
            return None, (err or out).strip()
        with open(built, 'rb') as handle:
            return handle.read(), None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def sshd_check(module):
    params = module.params
    rc, out, err = module.run_command([params['sshd_bin'], '-t', '-f', params['sshd_config']])
    return rc == 0, (err or out or 'exit code %d' % rc).strip()


def reload_sshd(module):
    params = module.params
    method = params['reload_method']
    if method == 'none':
        return False, None
    if method == 'command':
        if not params['reload_command']:
            return False, 'reload_method=command needs reload_command'
        rc, out, err = module.run_command(params['reload_command'])
    else:
        name = params['sshd_service']
        systemctl = module.get_bin_path('systemctl')
        service = module.get_bin_path('service')
        if systemctl and os.path.isdir('/run/systemd/system'):
            cmd = [systemctl, 'reload', name]
        elif service:
            cmd = [service, name, 'reload']
        elif os.path.exists('/etc/init.d/' + name):
            cmd = ['/etc/init.d/' + name, 'reload']
        else:
            return False, 'no way to reload service %s (no systemd, service or init script)' % name
        rc, out, err = module.run_command(cmd)
    if rc != 0:
        return False, 'reloading sshd failed (rc %d): %s' % (rc, (err or out).strip())
    return True, None


def write_pending(path, changed_files):
    """The pending-verification marker: when and which files, no secret; atomic, root 0600."""
    data = json.dumps({'since': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
                       'changed_files': changed_files}, sort_keys=True) + '\n'
    write_file(path, to_bytes(data), 0o600, make_dirs=NEW_DIRECTORY)  # the module's user: root under become


def verified(module):
    path = module.params['pending_path']
    if not is_there(module, path):
        module.exit_json(changed=False, verify_pending=False)
    if not module.check_mode:
        try:
            remove_file(path)
        except (IOError, OSError, UnsafePath) as exc:
            module.fail_json(msg='cannot remove the pending-verification marker %s: %s' % (path, to_native(exc)))
    module.exit_json(changed=True, verify_pending=False)


def apply(module):
    params = module.params
    entries = params['files']
    if not entries and not params['krl']:
        module.exit_json(changed=False, changed_files=[], backups={}, reloaded=False, pending=False)
    if module.check_mode:
        module.exit_json(changed=True, changed_files=[e['path'] for e in entries], backups={}, reloaded=False,
                         pending=False)

    # Everything is checked before the first write.
    prepared = []
    for entry in entries:
        path = entry['path']
        uid = resolve_id(entry.get('owner'), 'owner')
        gid = resolve_id(entry.get('group'), 'group')
        if entry.get('owner') not in (None, '') and uid is None:
            module.fail_json(msg='owner %r does not exist on this host' % entry['owner'])
        if entry.get('group') not in (None, '') and gid is None:
            module.fail_json(msg='group %r does not exist on this host' % entry['group'])
        mode = int(entry['mode'], 8) if entry.get('mode') else None
        if entry.get('public_key'):
            base = path[:-len('-cert.pub')] if path.endswith('-cert.pub') else path
            on_host = read_line(module, base + '.pub')
            if on_host is None or on_host.split()[:2] != entry['public_key'].split()[:2] \
                    or not certifies(entry['content'], on_host):
                module.fail_json(msg='the certificate for %s does not certify the key now on the host (the key '
                                 'changed?); nothing was written' % (base + '.pub'))
        prepared.append((path, to_bytes(entry['content'], errors='surrogate_or_strict'), mode, uid, gid))

    backups = {}
    written = []

    def fail(msg, **extra):
        problems = restore(backups)
        if problems:
            msg += '; restoring failed for: ' + '; '.join(problems)
        module.fail_json(msg=msg, changed=bool(backups), changed_files=[], backups={} if not problems else backups,
                         restored=not problems, reloaded=False, **extra)

    def replace(path, data, mode, uid, gid):
        # the backup keeps the file's owner and mode; a new file is FILE_MODE, owned by the module's user
        backups[path] = backup_file(path)
        write_file(path, data, FILE_MODE if mode is None and backups[path] is None else mode, uid, gid,
                   make_dirs=NEW_DIRECTORY)
        written.append(path)

    try:
        for path, data, mode, uid, gid in prepared:
            replace(path, data, mode, uid, gid)
        krl = params['krl']
        if krl:
            data, problem = build_krl(module, krl)
            if problem is not None:
                fail('ssh-keygen -k failed to build %s: %s' % (krl['path'], problem))
            replace(krl['path'], data, FILE_MODE, None, None)
    except UnsafePath as exc:
        fail('writing the sshd trust files failed: %s' % exc)
    except (IOError, OSError) as exc:
        fail('writing the sshd trust files failed: %s' % to_native(exc))

    valid, message = sshd_check(module)
    if not valid:
        fail('sshd -t rejected the new configuration (the previous files are back in place): %s' % message)
    pending = False
    if params['mark_pending']:
        # before the reload: a run killed from here on still proves the login on the next run
        try:
            write_pending(params['pending_path'], written)
        except (IOError, OSError, UnsafePath) as exc:
            fail('writing the pending-verification marker %s failed: %s' % (params['pending_path'], to_native(exc)))
        pending = True
    reloaded, problem = reload_sshd(module)
    if problem:
        problems = restore(backups)
        if not problems:
            reload_sshd(module)
        fail_backups = backups if problems else {}
        module.fail_json(msg=problem + ('; previous files restored' if not problems else
                                        '; restoring failed for: ' + '; '.join(problems)),
                         changed=True, changed_files=[], backups=fail_backups, restored=not problems, reloaded=False)
    # Only after success: this run's own backup is the newest, so a later restore still finds it.
    pruned = []
    for path, backup in sorted(backups.items()):
        if backup:
            removed, problems = prune_backups(path, params['keep_backups'])
            pruned.extend(removed)
            for problem in problems:
                module.warn('could not remove an old backup: %s' % problem)
    module.exit_json(changed=True, changed_files=written, backups=backups, reloaded=reloaded, pending=pending,
                     pruned_backups=pruned)


def restore_state(module):
    params = module.params
    backups = params['backups'] or {}
    if not backups:
        module.exit_json(changed=False, changed_files=[], reloaded=False)
    if module.check_mode:
        module.exit_json(changed=True, changed_files=sorted(backups), reloaded=False)
    problems = restore(backups)
    if problems:
        module.fail_json(msg='restoring failed for: ' + '; '.join(problems), changed=True,
                         changed_files=sorted(backups), reloaded=False)
    valid, message = sshd_check(module)
    if not valid:
        module.fail_json(msg='the restored configuration fails sshd -t (sshd was not reloaded): %s' % message,
                         changed=True, changed_files=sorted(backups), reloaded=False)
    reloaded, problem = reload_sshd(module)
    if problem:
        module.fail_json(msg=problem, changed=True, changed_files=sorted(backups), reloaded=False)
    module.exit_json(changed=True, changed_files=sorted(backups), reloaded=reloaded)


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
