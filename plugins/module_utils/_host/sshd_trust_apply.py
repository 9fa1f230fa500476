# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host half of ``sshd_trust``: read the trust files once, write them all, check, reload, put back.

Runs on the host inside the ``sshd_trust_host`` module (the controller decides what to write
with :mod:`sshd_trust`). Every function takes the ``AnsibleModule`` and ends it with
``exit_json`` / ``fail_json`` where the module would:

* :func:`inspect`: the text, mode and owner of the files, which files exist, the public keys and
  certificates of host and actor keys (never a private key), the host's names, the pending marker;
* :func:`apply`: every file written atomically after a backup, the KRL built with ``ssh-keygen -k``,
  ``sshd -t``, the pending marker, the reload; on a failure every previous file is put back;
* :func:`restore_state`: the files of an earlier ``apply`` put back, ``sshd -t``, the reload;
* :func:`verified`: the pending-verification marker removed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shutil
import socket
import tempfile
import time

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
    """Whether ``path`` exists (a refused path fails the module)."""
    try:
        return exists(path)
    except UnsafePath as exc:
        module.fail_json(msg=str(exc))


def inspect(module):
    """``state=inspect``: read every file, key and certificate asked for, and exit with them."""
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
    """``(valid, message)`` of ``sshd -t -f <sshd_config>``."""
    params = module.params
    rc, out, err = module.run_command([params['sshd_bin'], '-t', '-f', params['sshd_config']])
    return rc == 0, (err or out or 'exit code %d' % rc).strip()


def reload_sshd(module):
    """Reload sshd as ``reload_method`` says; ``(reloaded, problem)``, problem None on success."""
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
    """``state=verified``: remove the pending-verification marker, and exit."""
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
    """``state=apply``: back up and write every file, build the KRL, ``sshd -t``, mark pending, reload.

    Every check runs before the first write; any later failure puts the previous files back.
    """
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
    """``state=restore``: put back the files of ``backups``, ``sshd -t``, reload, and exit."""
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
