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
  - Writes are atomic (new file in the same directory, owner and mode set on its open descriptor, fsync, rename,
    directory fsync); a missing directory is created (root, C(0755)).
  - Reads and writes only a path sshd (C(StrictModes)) would trust, and fails naming the path and why otherwise
    (for example with a O(path_template) under the home directory). Refused are a symbolic link anywhere on the path (a
    planted C(~/.ssh/authorized_principals -> /etc/shadow), or a symlinked C(~/.ssh)); a directory on the path,
    or the file, owned by anyone but root and the account, or writable by group or others; a file with several
    hard links in a directory the account can write.
  - Never returns the text of a line that is not a valid principal line (RV(invalid_lines) gives their
    numbers); O(exclusive=true) drops such lines, O(exclusive=false) keeps them as they are.
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
    details: Shows the file's text before and after (lines that are not valid principal lines emptied).
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
invalid_lines:
  description: Numbers of the lines of the file that are not valid principal lines (their text is never returned).
  returned: success
  type: list
  elements: int
backup_file:
  description: The copy of the previous file, with O(backup=true) when an existing file changed or was removed.
  returned: changed and backup requested
  type: str
  sample: /etc/ssh/auth_principals/deploy.4711.2026-11-26@10:00:00~
"""

import grp
import os
import pwd

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.netkingdom.warden.plugins.module_utils._host.accounts import (
    DEFAULT_PATH_TEMPLATE,
    account_problem,
    expand_path_template,
)
from ansible_collections.netkingdom.warden.plugins.module_utils._host.backups import backup_file
from ansible_collections.netkingdom.warden.plugins.module_utils._host.fileio import (
    MAX_FILE_BYTES,
    read_file,
    remove_file,
    write_file,
)
from ansible_collections.netkingdom.warden.plugins.module_utils._host.ids import resolve_id
from ansible_collections.netkingdom.warden.plugins.module_utils._host.principals import (
    plan_principals_file,
    readable_by,
    shareable_text,
    validate_principals,
)
from ansible_collections.netkingdom.warden.plugins.module_utils._host.safe_path import Trust, UnsafePath
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError

# Directories the module creates: root's, 0755, as sshd (StrictModes) wants them.
NEW_DIRECTORY = (0o755, 0, 0)


def parse_mode(value):
    """The file mode from ``value`` (``0644``, ``0o644``); refused when group- or world-writable, as
    StrictModes would."""
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


def read_current(module, path, trust):
    """The file as sshd would trust it (:class:`Trust` strict), or None when it does not exist."""
    try:
        return read_file(path, trust, MAX_FILE_BYTES)
    except UnsafePath as exc:
        module.fail_json(msg=str(exc), path=path)
    except (IOError, OSError) as exc:
        module.fail_json(msg='cannot read %s: %s' % (path, to_native(exc.strerror or exc)), path=path)


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

    # sshd's StrictModes: root and the account may own (and write) the file and every directory on
    # its path; no symbolic link is followed, no hard link read where the account can write.
    trust = Trust(uids=[account.pw_uid] if account else [], strict=True)
    found = read_current(module, path, trust)
    current = found.text if found is not None else None
    plan = plan_principals_file(current, principals, params['state'], params['exclusive'])
    for warning in plan['warnings']:
        module.warn('%s: %s' % (path, warning))
    result.update(added=plan['added'], removed=plan['removed'], principals=plan['principals'],
                  invalid_lines=plan['invalid_lines'])
    content = plan['content']
    changed = plan['changed']
    meta_changed = params['state'] == 'present' and found is not None and not changed \
        and (found.uid, found.gid, found.mode) != (uid, gid, mode)
    result['changed'] = changed or meta_changed
    if module._diff and changed:
        # invalid lines emptied, as everywhere else: their text never leaves the host
        result['diff'] = {'before_header': path, 'after_header': path,
                          'before': shareable_text(current or '')[0], 'after': shareable_text(content or '')[0]}
    if not result['changed'] or module.check_mode:
        module.exit_json(**result)

    try:
        # A backup whenever an existing file changes at all (content or owner/mode), so a rollback that
        # removes files without a backup never removes a file that existed before.
        if params['backup'] and found is not None:
            result['backup_file'] = backup_file(path, trust)
        if content is None:
            remove_file(path, trust)
        else:  # owner/mode alone too: a new file with the same text, owner and mode set on it
            write_file(path, content, mode, uid, gid, trust=trust, make_dirs=NEW_DIRECTORY)
    except UnsafePath as exc:
        module.fail_json(msg=str(exc), **result)
    except (IOError, OSError) as exc:
        module.fail_json(msg='cannot write %s: %s' % (path, to_native(exc)), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
