#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: principals_drift_host
short_description: Host half of netkingdom.warden.principals_drift (internal) - read every principals file and the CA file
version_added: 0.1.0
description:
  - The host half of M(netkingdom.warden.principals_drift), run on each host by that action plugin, which compares
    the result with what the host should have on the controller. Not meant to be called directly; use
    M(netkingdom.warden.principals_drift).
  - Until release 1.0.0 the former name C(netkingdom.warden.principals_info) still runs this module, with a
    deprecation warning.
  - Returns the text of the principals file of each account in O(accounts), of every other account's
    principals file found in the principals directory, and of the C(TrustedUserCAKeys) file, in one
    round trip. Changes nothing.
  - The directory is listed only when the path template varies by account in its last component only
    (like the default V(/etc/ssh/auth_principals/%u)); hidden files and backup copies (names ending in
    C(~)) are skipped.
  - A file is read only where sshd (C(StrictModes)) would trust it; otherwise its entry has an C(error) naming the
    path and why, and no content. Refused are a symbolic link anywhere on the path, a directory on the path or the
    file owned by anyone but root and the account or writable by group or others, and a file with several hard
    links in a directory the account can write.
  - Lines that are not valid principal lines (see M(netkingdom.warden.authorized_principals)) never leave the host;
    they come back empty, their numbers in C(invalid_lines).
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
  platform:
    support: full
    platforms: posix
options:
  accounts:
    description:
      - Accounts whose principals file is read whether or not the directory listing finds it.
    type: list
    elements: str
    default: []
  path_template:
    description:
      - The C(AuthorizedPrincipalsFile) setting of sshd; C(%u) is the account, C(%h) its home, C(%U) its
        uid, C(%%) a percent sign.
    type: str
    default: /etc/ssh/auth_principals/%u
  scan:
    description:
      - List the principals directory to find files of accounts not named in O(accounts).
    type: bool
    default: true
  ca_path:
    description:
      - The C(TrustedUserCAKeys) file to read. Empty to skip it.
    type: path
    default: /etc/ssh/ca/ca_user.pub
seealso:
  - module: netkingdom.warden.principals_drift
  - module: netkingdom.warden.authorized_principals
"""

EXAMPLES = r"""
# What netkingdom.warden.principals_drift sends to the host; call that action plugin instead.
- name: Read the principals files of every account and the CA file
  netkingdom.warden.principals_drift_host:
    accounts: [deploy, backup]
  register: seen

- name: Show who may log in as deploy
  ansible.builtin.debug:
    msg: "{{ seen.files.deploy.content }}"
  when: seen.files.deploy.exists
"""

RETURN = r"""
files:
  description:
    - One entry per account (those in O(accounts) and those found by the listing), with the file's C(path),
      whether it C(exists), its C(content) (null when missing; lines that are not valid principal lines emptied),
      C(invalid_lines) (the numbers of those lines), and an C(error) when it could not be read or was refused.
  returned: success
  type: dict
  sample:
    deploy:
      path: /etc/ssh/auth_principals/deploy
      exists: true
      content: "# managed by netkingdom.warden\nagt-task-bridge\n"
      invalid_lines: []
ca:
  description: The CA file's C(path), whether it C(exists), and its C(content); null when O(ca_path) is empty.
  returned: success
  type: dict
scanned:
  description: Whether the principals directory was listed.
  returned: success
  type: bool
scan_dir:
  description: The directory that was listed, or null.
  returned: success
  type: str
"""

import os
import pwd

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.netkingdom.warden.plugins.module_utils._host.accounts import (
    account_from_filename,
    account_problem,
    expand_path_template,
    listing_pattern,
)
from ansible_collections.netkingdom.warden.plugins.module_utils._host.fileio import (
    MAX_FILE_BYTES,
    exists_directory,
    read_file,
)
from ansible_collections.netkingdom.warden.plugins.module_utils._host.principals import shareable_text
from ansible_collections.netkingdom.warden.plugins.module_utils._host.safe_path import Trust, UnsafePath
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError


def _uid(account):
    try:
        return pwd.getpwnam(account).pw_uid
    except KeyError:
        return None


def _read(entry, trust):
    """The file at ``entry['path']`` read under ``trust`` (None when missing); a file that cannot be
    read safely is noted in ``entry`` (``exists``, ``error``) and gives None."""
    try:
        return read_file(entry['path'], trust, MAX_FILE_BYTES)
    except UnsafePath as exc:
        entry.update(exists=True, error=str(exc))
    except (IOError, OSError) as exc:
        entry.update(exists=True, error=to_native(exc.strerror or exc))
    return None


def read_principals(path, account):
    """``{'path', 'exists', 'content', 'invalid_lines'[, 'error']}`` for one account's file.

    Read as sshd would trust it (StrictModes: root or the account own every directory and the file;
    no symbolic link; no hard link where the account can write). Lines that are not valid principal
    lines come back emptied, their numbers in ``invalid_lines``.
    """
    entry = {'path': path, 'exists': False, 'content': None, 'invalid_lines': []}
    found = _read(entry, Trust(uids=[_uid(account)], strict=True))
    if found is not None:
        entry['exists'] = True
        entry['content'], entry['invalid_lines'] = shareable_text(found.text)
    return entry


def read_ca(path):
    """The trusted user CA file at ``path``: ``{path, exists, content}``, with ``error`` when it cannot be read
    safely."""
    entry = {'path': path, 'exists': False, 'content': None}
    found = _read(entry, Trust())
    if found is not None:
        entry.update(exists=True, content=found.text)
    return entry


def account_path(template, account):
    """The principals file of ``account`` from sshd's path template (``%h``, ``%u``, ``%U``)."""
    home = uid = None
    if '%h' in template or '%U' in template or not template.startswith('/'):
        try:
            entry = pwd.getpwnam(account)
            home, uid = entry.pw_dir, entry.pw_uid
        except KeyError:
            pass
    return expand_path_template(template, account, home=home, uid=uid)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            accounts=dict(type='list', elements='str', default=[]),
            path_template=dict(type='str', default='/etc/ssh/auth_principals/%u'),
            scan=dict(type='bool', default=True),
            ca_path=dict(type='path', default='/etc/ssh/ca/ca_user.pub'),
        ),
        supports_check_mode=True,
    )
    params = module.params
    template = params['path_template']
    problems = [('accounts[%d]' % i, account_problem(a)) for i, a in enumerate(params['accounts'])
                if account_problem(a)]
    if problems:
        module.fail_json(msg=str(ValidationError(problems, what='accounts')))

    files = {}
    for account in params['accounts']:
        try:
            files[account] = read_principals(account_path(template, account), account)
        except ValidationError as exc:
            files[account] = {'path': None, 'exists': False, 'content': None, 'invalid_lines': [], 'error': str(exc)}

    pattern = listing_pattern(template) if params['scan'] else None
    scanned = False
    if pattern is not None:
        directory, prefix, suffix = pattern
        names = []
        try:
            if exists_directory(directory, Trust()):
                names = sorted(os.listdir(directory))
            scanned = True  # no directory: no account has a file there
        except UnsafePath as exc:
            module.warn('the principals directory was not listed: %s' % exc)
        except (IOError, OSError) as exc:
            module.warn('the principals directory %s was not listed: %s' % (directory, to_native(exc.strerror or exc)))
        for name in names:
            account = account_from_filename(name, prefix, suffix)
            if account is None or account in files or os.path.isdir(os.path.join(directory, name)):
                continue
            entry = read_principals(os.path.join(directory, name), account)
            if entry['exists']:
                files[account] = entry

    result = dict(changed=False, files=files, scanned=scanned,
                  scan_dir=pattern[0] if pattern is not None else None, ca=None)
    if params['ca_path']:
        result['ca'] = read_ca(params['ca_path'])
    module.exit_json(**result)


if __name__ == '__main__':
    main()
