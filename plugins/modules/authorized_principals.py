#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: authorized_principals
short_description: Manage the principals an account accepts in its AuthorizedPrincipalsFile
version_added: 0.1.0
description:
  - Manages one account's C(AuthorizedPrincipalsFile), the certificate principals sshd accepts for a login
    as that account. The default layout is sshd's C(AuthorizedPrincipalsFile /etc/ssh/auth_principals/%u).
  - Every principal is validated first (not empty; no whitespace, comma, C(#), control character or C(*)).
    A bad one fails the task naming its index and the problem, before anything on the host is touched.
  - With O(exclusive=true) the file is rendered anew as a header comment (C(# managed by netkingdom.warden))
    and one principal per line in the order given, duplicates dropped, so a second run changes nothing.
    Other comments and key options in the file are not kept.
  - With O(exclusive=false) missing principals are appended and every other line is kept as it is.
  - Writes are atomic (temporary file in the same directory, fsync, rename) with owner and mode set before
    the rename; a missing directory is created (root, C(0755)).
  - Refuses an owner or a mode that sshd's C(StrictModes) would reject (owner other than root or the
    account; group- or world-writable), and one that leaves the file unreadable for the account (sshd
    opens it as the account), since sshd would then ignore the file and nobody could log in.
author:
  - netkingdom.warden developers (@netkingdom)
extends_documentation_fragment:
  - netkingdom.warden.attributes
  - netkingdom.warden.attributes.ACTIONGROUP_WARDEN
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: Shows the file's text before and after.
  platform:
    support: full
    platforms: posix
options:
  user:
    description:
      - The account whose principals file this is (C(%u) in O(path_template)).
    type: str
    required: true
  principals:
    description:
      - The principals. Required with O(state=present); an empty list leaves the account with no principal.
      - With O(state=absent), the principals to remove; omit it to remove the whole file.
    type: list
    elements: str
  state:
    description:
      - V(present) makes the file accept O(principals); V(absent) removes O(principals), or the file.
    type: str
    choices: [present, absent]
    default: present
  exclusive:
    description:
      - With V(true) the file holds exactly O(principals). With V(false) missing ones are added and the
        others are kept.
    type: bool
    default: true
  path_template:
    description:
      - The C(AuthorizedPrincipalsFile) setting of sshd. C(%u) is the account, C(%h) its home directory,
        C(%U) its uid, C(%%) a percent sign; a relative path is relative to the home directory.
      - Ignored when O(path) is given.
    type: str
    default: /etc/ssh/auth_principals/%u
  path:
    description:
      - The file, when it is not given by O(path_template). Takes precedence over O(path_template).
    type: path
  owner:
    description:
      - Owner of the file (name or uid); must be root or the account itself for sshd to read it.
    type: str
    default: root
  group:
    description:
      - Group of the file (name or gid).
    type: str
    default: root
  mode:
    description:
      - Octal mode of the file, for example V('0644'). Group- or world-writable modes are refused, and so are
        modes that leave the file unreadable for the account.
    type: str
    default: '0644'
  backup:
    description:
      - Keep a copy of the previous file (next to it, named C(<file>.<pid>.<timestamp>~)) before changing or
        removing it, and return its path as RV(backup_file), for a rollback.
    type: bool
    default: false
notes:
  - sshd reads the file at every login; no reload is needed after a change.
  - The principal of a line is its last field, as for sshd; the leading fields of a line are key options,
    which a managed (exclusive) file does not keep. A warning names every option dropped.
seealso:
  - module: netkingdom.warden.principals_drift
  - module: netkingdom.warden.principals_info
"""

EXAMPLES = r"""
- name: Let the bridge agent's certificates log in as deploy
  netkingdom.warden.authorized_principals:
    user: deploy
    principals:
      - agt-task-bridge
      - adm-oncall

- name: Add a principal without touching the others (first step of a rotation), keep a backup
  netkingdom.warden.authorized_principals:
    user: deploy
    principals: [agt-task-bridge-v2]
    exclusive: false
    backup: true
  register: added

- name: Remove the old principal once the new one is verified
  netkingdom.warden.authorized_principals:
    user: deploy
    principals: [agt-task-bridge]
    state: absent

- name: No certificate logins for backup any more
  netkingdom.warden.authorized_principals:
    user: backup
    state: absent
"""

RETURN = r"""
path:
  description: The principals file.
  returned: always
  type: str
  sample: /etc/ssh/auth_principals/deploy
principals:
  description: The principals the file accepts afterwards (in check mode, would accept).
  returned: success
  type: list
  elements: str
  sample: [agt-task-bridge, adm-oncall]
added:
  description: Principals added.
  returned: success
  type: list
  elements: str
removed:
  description: Principals removed.
  returned: success
  type: list
  elements: str
backup_file:
  description: The copy of the previous file, with O(backup=true) when an existing file changed or was removed.
  returned: changed and backup requested
  type: str
  sample: /etc/ssh/auth_principals/deploy.4711.2026-11-26@10:00:00~
"""

import grp
import os
import pwd
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text

from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError
from ansible_collections.netkingdom.warden.plugins.module_utils._host.ids import resolve_id
from ansible_collections.netkingdom.warden.plugins.module_utils._host.principals import (
    DEFAULT_PATH_TEMPLATE,
    MAX_FILE_BYTES,
    account_problem,
    expand_path_template,
    plan_principals_file,
    readable_by,
    validate_principals,
)


def parse_mode(value):
    text = str(value).strip()
    if text.startswith('0o'):
        text = text[2:]
    if not text or len(text) > 4 or any(ch not in '01234567' for ch in text):
        raise ValidationError([('mode', 'must be an octal mode such as 0644, got %r' % (value,))], what='options')
    mode = int(text, 8)
    if mode & 0o022:
        raise ValidationError([('mode', '%s is group- or world-writable; sshd (StrictModes) would ignore the '
                                'file and refuse every certificate login' % value)], what='options')
    return mode


def read_current(module, path):
    try:
        with open(path, 'rb') as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except (IOError, OSError) as exc:
        if os.path.lexists(path) and not os.path.isdir(path):
            module.fail_json(msg='cannot read %s: %s' % (path, to_native(exc.strerror or exc)), path=path)
        if os.path.isdir(path):
            module.fail_json(msg='%s is a directory, not a principals file' % path, path=path)
        return None
    if len(data) > MAX_FILE_BYTES:
        module.fail_json(msg='%s is larger than %d bytes; refusing to manage it' % (path, MAX_FILE_BYTES), path=path)
    return to_text(data, errors='surrogate_or_strict')


def ensure_directory(module, directory):
    """Create the missing directories (root, 0755). Returns whether any was created."""
    if os.path.isdir(directory):
        st = os.stat(directory)
        if st.st_mode & 0o022:
            module.warn('%s is group- or world-writable; sshd (StrictModes) ignores principals files below it'
                        % directory)
        return False
    if module.check_mode:
        return True
    missing = []
    current = directory
    while current and current != '/' and not os.path.isdir(current):
        missing.append(current)
        current = os.path.dirname(current)
    for path in reversed(missing):
        os.mkdir(path, 0o755)
        os.chmod(path, 0o755)  # umask
        os.chown(path, 0, 0)
    return True


def write_atomic(path, content, uid, gid, mode):
    """Temporary file in the same directory, owner and mode set, fsync, rename, fsync the directory."""
    directory = os.path.dirname(path) or '.'
    fd, tmp = tempfile.mkstemp(prefix='.warden-principals-', dir=directory)
    try:
        with os.fdopen(fd, 'wb') as handle:
            handle.write(to_bytes(content, errors='surrogate_or_strict'))
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            st = os.fstat(handle.fileno())
            if (st.st_uid, st.st_gid) != (uid, gid):
                os.fchown(handle.fileno(), uid, gid)
            os.fsync(handle.fileno())
        os.rename(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def attributes_differ(path, uid, gid, mode):
    st = os.lstat(path)
    return (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) != (uid, gid, mode)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            user=dict(type='str', required=True),
            principals=dict(type='list', elements='str'),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            exclusive=dict(type='bool', default=True),
            path_template=dict(type='str', default=DEFAULT_PATH_TEMPLATE),
            path=dict(type='path'),
            owner=dict(type='str', default='root'),
            group=dict(type='str', default='root'),
            mode=dict(type='str', default='0644'),
            backup=dict(type='bool', default=False),
        ),
        required_if=[['state', 'present', ['principals']]],
        supports_check_mode=True,
    )
    params = module.params
    user = params['user']

    # Everything is validated before the host is touched.
    try:
        why = account_problem(user)
        if why:
            raise ValidationError([('user', why)], what='options')
        principals = None
        if params['principals'] is not None:
            principals = validate_principals(params['principals'])
        mode = parse_mode(params['mode'])
        account = None
        try:
            account = pwd.getpwnam(user)
        except KeyError:
            pass
        if params['path']:
            path = params['path']
        else:
            path = expand_path_template(params['path_template'], user,
                                        home=account.pw_dir if account else None,
                                        uid=account.pw_uid if account else None)
    except ValidationError as exc:
        module.fail_json(msg=str(exc), problems=[list(p) for p in exc.problems])
    path = os.path.normpath(path)
    result = dict(changed=False, path=path, added=[], removed=[], principals=[])

    uid = resolve_id(params['owner'], 'owner')
    gid = resolve_id(params['group'], 'group')
    if uid is None:
        module.fail_json(msg='owner %r does not exist on this host' % params['owner'], **result)
    if gid is None:
        module.fail_json(msg='group %r does not exist on this host' % params['group'], **result)
    if uid != 0 and (account is None or uid != account.pw_uid):
        module.fail_json(msg='owner %r is neither root nor %s; sshd (StrictModes) would ignore the file'
                         % (params['owner'], user), **result)

    if account is not None and params['state'] == 'present':
        gids = set([account.pw_gid] + [g.gr_gid for g in grp.getgrall() if user in g.gr_mem])
        if not readable_by(mode, uid, gid, account.pw_uid, gids):
            module.fail_json(msg='mode %s with owner %s and group %s leaves the file unreadable for %s; sshd reads '
                             'it as the account and would refuse every certificate login'
                             % (params['mode'], params['owner'], params['group'], user), **result)

    current = read_current(module, path)
    plan = plan_principals_file(current, principals, params['state'], params['exclusive'])
    for warning in plan['warnings']:
        module.warn('%s: %s' % (path, warning))
    result.update(added=plan['added'], removed=plan['removed'], principals=plan['principals'])
    content = plan['content']
    changed = plan['changed']
    meta_changed = params['state'] == 'present' and current is not None and not changed \
        and attributes_differ(path, uid, gid, mode)
    result['changed'] = changed or meta_changed
    if module._diff and changed:
        result['diff'] = {'before_header': path, 'after_header': path,
                          'before': current or '', 'after': content or ''}
    if not result['changed'] or module.check_mode:
        module.exit_json(**result)

    try:
        # A backup whenever an existing file changes at all (content or owner/mode), so a rollback that
        # removes files without a backup never removes a file that existed before.
        if params['backup'] and current is not None:
            result['backup_file'] = module.backup_local(path)
        if content is None:
            os.unlink(path)
        elif changed:
            ensure_directory(module, os.path.dirname(path))
            write_atomic(path, content, uid, gid, mode)
        else:
            os.chown(path, uid, gid)
            os.chmod(path, mode)
    except (IOError, OSError) as exc:
        module.fail_json(msg='cannot write %s: %s' % (path, to_native(exc)), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
