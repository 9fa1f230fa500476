#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: registry_file
short_description: Install, read or restore the flex-auth registry snapshot on a flex-auth host
version_added: 0.1.0
description:
  - The host side of a flex-auth registry deploy (see the C(netkingdom.warden.flex_auth_registry) role).
  - With O(state=present), installs the snapshot O(content) at O(path) atomically (a temporary file in the
    same directory, fsync, one rename), only when its digest differs from the installed one, so a second run
    is C(changed=false). The snapshot is validated first, its digest included; an edited snapshot is refused.
  - The file it replaces is kept in O(backup_dir) as the very same file (a hard link; owner, mode and content
    unchanged), named C(<UTC time>-<digest prefix>.json); the newest O(keep) are kept, older ones removed.
    Nothing else in that directory is touched.
  - With O(state=restore), puts a kept snapshot back at O(path) in one rename (O(backup), else the newest kept
    one with digest O(digest), else the newest kept one). This is the rollback of a deploy.
  - With O(state=absent), removes the installed snapshot (the rollback of a first deploy).
  - With O(state=read), reports what is installed (digest, validity, kept snapshots) and changes nothing.
  - Reports the change in words a policy owner reads (RV(changes)) and, in diff mode, the snapshot before and
    after as a per-actor view (principals, TTL caps, allowed subjects) followed by the JSON.
  - Reloading flex-auth is not part of this module; the role does it after an install or a restore.
author:
  - netkingdom.warden developers (@netkingdom)
extends_documentation_fragment:
  - ansible.builtin.files
  - netkingdom.warden.attributes
  - netkingdom.warden.attributes.ACTIONGROUP_WARDEN
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    support: full
    platforms: posix
options:
  path:
    description:
      - The registry snapshot file flex-auth loads.
    type: path
    required: true
  state:
    description:
      - V(present) installs O(content); V(read) only reports; V(restore) puts a kept snapshot back;
        V(absent) removes the installed snapshot.
    type: str
    choices: [ present, read, restore, absent ]
    default: present
  content:
    description:
      - The snapshot, as JSON text or as a mapping, for example the file built by M(netkingdom.warden.registry_snapshot)
        read with C(lookup('ansible.builtin.file', ...)). Required with O(state=present).
      - It is written in the canonical form (sorted keys, indented, newline at the end).
    type: raw
  keep:
    description:
      - How many replaced snapshots to keep in O(backup_dir). At least V(1), the one a rollback restores.
    type: int
    default: 5
  backup_dir:
    description:
      - Where replaced snapshots are kept. Default O(path) followed by C(.history), for example
        C(/var/lib/flex-auth/registry.json.history). Created (mode C(0750)) on first use.
      - Must be on the same file system as O(path) for the kept snapshot to be the same file; otherwise it is a
        copy with the same owner and mode.
    type: path
  backup:
    description:
      - With O(state=restore), the kept snapshot to put back (the RV(backup) an install returned).
    type: path
  digest:
    description:
      - With O(state=restore) and no O(backup), restore the newest kept snapshot with this digest.
    type: str
  validate_command:
    description:
      - A command that must accept the candidate file before it is moved in place, with C(%s) where the path of
        the candidate goes, for example V(flex-auth validate --file %s). Run without a shell.
      - When it fails, nothing is changed and the task fails with its output.
    type: str
requirements:
  - The directory of O(path) is created (mode C(0755)) when missing.
seealso:
  - module: netkingdom.warden.registry_snapshot
  - module: netkingdom.warden.registry_verify
  - module: netkingdom.warden.registry_audit
notes:
  - The installed file keeps the owner, group and mode of the file it replaces unless O(owner), O(group) or
    O(mode) say otherwise.
"""

EXAMPLES = r"""
- name: Install the snapshot built on the controller (only when its digest differs)
  netkingdom.warden.registry_file:
    path: /var/lib/flex-auth/registry.json
    content: "{{ lookup('ansible.builtin.file', '/srv/warden/registry.json') }}"
    keep: 5
    mode: "0644"
  register: deployed

- name: Roll back to what was there before
  netkingdom.warden.registry_file:
    path: /var/lib/flex-auth/registry.json
    state: restore
    backup: "{{ deployed.backup }}"
  when: deployed.backup

- name: What does this host serve?
  netkingdom.warden.registry_file:
    path: /var/lib/flex-auth/registry.json
    state: read
  register: installed
"""

RETURN = r"""
path:
  description: The registry file.
  returned: always
  type: str
digest:
  description:
    - O(state=present), the digest of the snapshot now (or, in check mode, to be) installed.
    - O(state=read), the digest the installed file records (null when there is none).
    - O(state=restore), the digest of the restored snapshot.
  returned: success
  type: str
  sample: sha256:0f3a5c...
previous_digest:
  description: The digest the file at O(path) recorded before (null when there was no file).
  returned: O(state=present) or O(state=restore) or O(state=absent)
  type: str
rewritten:
  description:
    - Whether the snapshot content was (or, in check mode, would be) written; flex-auth must then load it again.
    - False when nothing changed or only the owner, group or mode of the file did.
  returned: O(state=present)
  type: bool
backup:
  description: Where the replaced snapshot is kept (the value O(backup) takes to roll back); null when nothing was replaced.
  returned: O(state=present)
  type: str
pruned:
  description: Kept snapshots removed because more than O(keep) were kept.
  returned: O(state=present)
  type: list
  elements: str
changes:
  description: What the new snapshot changes, in words a policy owner reads (empty when nothing changes).
  returned: O(state=present)
  type: list
  elements: str
  sample:
    - "add actor agt-new-bridge (agt): principals agt-task-bridge, TTL cap 24h"
    - "remove actor atm-old-job: signing for it will be denied (unknown_actor_resource)"
actors:
  description: Number of actors in the snapshot.
  returned: O(state=present) or O(state=read)
  type: int
exists:
  description: Whether a file is installed at O(path).
  returned: O(state=read)
  type: bool
valid:
  description: Whether the installed file is a valid snapshot whose content matches its digest.
  returned: O(state=read)
  type: bool
content_digest:
  description: What the installed content hashes to (differs from RV(digest) when the file was edited by hand).
  returned: O(state=read)
  type: str
problems:
  description: Why the installed file is not valid.
  returned: O(state=read)
  type: list
  elements: str
history:
  description: The kept snapshots, oldest first.
  returned: O(state=read)
  type: list
  elements: str
restored:
  description: The kept snapshot that was put back.
  returned: O(state=restore)
  type: str
"""

import os
import shlex

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError, WardenError
from ansible_collections.netkingdom.warden.plugins.module_utils._registry.snapshot import count_actors
from ansible_collections.netkingdom.warden.plugins.module_utils._registry.deploy import (
    DeployError,
    default_backup_dir,
    inspect_file,
    install,
    list_backups,
    pick_backup,
    plan_install,
    policy_view,
    remove,
    restore,
)


def fail(module, exc, **extra):
    """Fail the module with the message of ``exc`` and, for a ValidationError, every bad field."""
    if isinstance(exc, ValidationError):
        extra['problems'] = [{'field': f, 'message': m} for f, m in exc.problems]
    module.fail_json(msg=str(exc), **extra)


def validator(module, command):
    """``validate_command`` as a function of the candidate file (None when unset); it raises DeployError on refusal."""
    if not command:
        return None
    if '%s' not in command:
        module.fail_json(msg='validate_command must contain %%s where the candidate file goes: %s' % command)

    def run(candidate):
        argv = [candidate if word == '%s' else word.replace('%s', candidate) for word in shlex.split(command)]
        rc, out, err = module.run_command(argv)
        if rc != 0:
            raise DeployError('validate_command refused the new snapshot (exit %d): %s'
                              % (rc, (err or out or '').strip()[-1000:]))
    return run


def do_read(module, path, backup_dir):
    """state=read: the installed snapshot (digest, validity, actors) and the saved history."""
    info = inspect_file(path)
    snapshot = info['snapshot'] if info['valid'] else None
    module.exit_json(changed=False, path=path, exists=info['exists'], digest=info['digest'],
                     content_digest=info['content_digest'], valid=info['valid'], problems=info['problems'],
                     actors=count_actors(snapshot) if snapshot else 0,
                     history=[p for dummy, p, dummy2 in list_backups(backup_dir)])


def do_present(module, path, backup_dir):
    """state=present: install the snapshot when it differs, keeping the old file in the history."""
    params = module.params
    if params['content'] is None:
        module.fail_json(msg='content is required with state=present')
    plan = plan_install(path, params['content'], backup_dir=backup_dir, keep=params['keep'])
    installed = plan['installed']
    result = dict(changed=plan['changed'], rewritten=plan['changed'], path=path, digest=plan['digest'],
                  previous_digest=plan['previous_digest'], backup=None, pruned=[],
                  changes=plan['changes'], actors=plan['actors'])
    if plan['changed'] and not plan['previous_valid'] and installed['exists']:
        module.warn('the file at %s is not a valid snapshot (%s); it is replaced and kept in %s'
                    % (path, '; '.join(installed['problems'])[:300], backup_dir))
    if plan['changed'] and module._diff:
        old = installed['snapshot'] if installed['valid'] else None
        result['diff'] = [
            {'before_header': '%s (policy view)' % path, 'after_header': '%s (policy view, new)' % path,
             'before': policy_view(old) if installed['exists'] else '', 'after': policy_view(plan['snapshot'])},
            {'before_header': path, 'after_header': '%s (new)' % path,
             'before': installed['text'] or '', 'after': plan['text']},
        ]
    if plan['changed'] and not module.check_mode:
        done = install(plan, params['keep'], validate=validator(module, params['validate_command']))
        result.update(backup=done['backup'], pruned=done['pruned'])
    if os.path.exists(path):
        file_args = module.load_file_common_arguments(params)
        result['changed'] = module.set_fs_attributes_if_different(file_args, result['changed'])
    module.exit_json(**result)


def do_restore(module, path, backup_dir):
    """state=restore: put a saved snapshot back (by file or digest)."""
    params = module.params
    source = pick_backup(backup_dir, backup=params['backup'], digest=params['digest'])
    if module.check_mode:
        current = inspect_file(path)
        module.exit_json(changed=True, path=path, restored=source, digest=inspect_file(source)['digest'],
                         previous_digest=current['digest'])
    done = restore(path, source)
    module.exit_json(changed=True, path=path, restored=done['restored'], digest=done['digest'],
                     previous_digest=done['replaced_digest'])


def do_absent(module, path):
    """state=absent: remove the snapshot file."""
    current = inspect_file(path)
    if current['exists'] and not module.check_mode:
        remove(path)
    module.exit_json(changed=current['exists'], path=path, previous_digest=current['digest'], digest=None)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            state=dict(type='str', default='present', choices=['present', 'read', 'restore', 'absent']),
            content=dict(type='raw'),
            keep=dict(type='int', default=5),
            backup_dir=dict(type='path'),
            backup=dict(type='path'),
            digest=dict(type='str'),
            validate_command=dict(type='str'),
        ),
        add_file_common_args=True,
        supports_check_mode=True,
    )
    path = module.params['path']
    backup_dir = module.params['backup_dir'] or default_backup_dir(path)
    state = module.params['state']
    try:
        if state == 'read':
            do_read(module, path, backup_dir)
        elif state == 'present':
            do_present(module, path, backup_dir)
        elif state == 'restore':
            do_restore(module, path, backup_dir)
        else:
            do_absent(module, path)
    except (WardenError, ValidationError) as exc:
        fail(module, exc, path=path)
    except (IOError, OSError) as exc:
        module.fail_json(msg='registry file %s: %s' % (path, getattr(exc, 'strerror', None) or exc), path=path)


if __name__ == '__main__':
    main()
