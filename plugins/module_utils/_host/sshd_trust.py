# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What sshd trusts on a host, decided on the controller from one inspection of the host.

Pure functions (text in, data out): the ``sshd_trust`` action plugin reads the host once
(``sshd_trust_host state=inspect``), calls :func:`plan_trust` to decide which files change, and
writes them all in one more call (``state=apply``). Nothing here talks to a host.

Files (defaults of the ``host_principals`` role):

* the CA keys sshd trusts for user certificates (``TrustedUserCAKeys``), one key per line;
* one ``AuthorizedPrincipalsFile`` per account (planned by :mod:`principals`);
* the drop-in that names them all, and the ``Include`` line for its directory at the top of
  the main ``sshd_config`` (the same regexp as the role's former ``lineinfile``);
* an optional KRL specification (``<krl>.spec``; the KRL itself is built on the host with
  ``ssh-keygen -k`` only when the specification changed or the KRL is missing);
* host certificates (``<key>-cert.pub``), signed on the controller (see ``_signing/job.py``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import posixpath
import re

from ansible_collections.netkingdom.warden.plugins.module_utils._host.certs import cert_path as host_cert_path
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError, WardenError
from ansible_collections.netkingdom.warden.plugins.module_utils._host.ca_keys import validate_ca_keys
from ansible_collections.netkingdom.warden.plugins.module_utils._host.principals import (
    plan_principals_file,
    validate_principals_map,
)
from ansible_collections.netkingdom.warden.plugins.module_utils._openssh.keys import CERT_SUFFIX, parse_public_key

MANAGED_HEADER = '# Ansible managed'
DROPIN_COMMENT = '# netkingdom.warden host_principals: CA trust, principals per account, host certificates.'
FILE_MODE = 0o644
ROOT = 0
SERIAL_RE = re.compile(r'^(\d+)(-\d+)?\Z')
# Paths that go into sshd_config unquoted: no blanks, quotes or control characters.
UNSAFE_PATH_RE = re.compile(r'[\s"\'\x00-\x1f\x7f#]')


# --- text of the files -------------------------------------------------------------------------
def ca_text(keys):
    """The TrustedUserCAKeys file: one key line each, in the given order."""
    return '\n'.join(keys) + '\n'


def krl_spec_text(serials, keys):
    """The ``ssh-keygen -k`` specification: ``serial: N`` lines, then one ``<type> <base64>`` line per
    key (the comment is dropped: only what was validated becomes a line)."""
    return ''.join('serial: %s\n' % str(serial).strip() for serial in serials) + ''.join(
        '%s %s\n' % tuple(key.split()[:2]) for key in keys)


def principals_path(directory, account):
    """The AuthorizedPrincipalsFile of ``account`` in ``directory`` (sshd's ``%u``)."""
    return directory.rstrip('/') + '/' + account


def dropin_text(ca_path, principals_dir, host_cert_paths=(), krl_path=None, header=MANAGED_HEADER):
    """The one drop-in: CA trust, the principals files, host certificates, the KRL."""
    lines = [header, DROPIN_COMMENT, 'TrustedUserCAKeys %s' % ca_path,
             'AuthorizedPrincipalsFile %s/%%u' % principals_dir.rstrip('/')]
    lines.extend('HostCertificate %s' % path for path in host_cert_paths)
    if krl_path:
        lines.append('RevokedKeys %s' % krl_path)
    return '\n'.join(lines) + '\n'


def include_line(dropin):
    """The main config's line that loads the drop-in's directory."""
    return 'Include %s/*.conf' % posixpath.dirname(dropin)


def plan_include(current, dropin):
    """The main config with ``Include <dropin dir>/*.conf`` ensured, as ``lineinfile`` did it.

    The last line matching ``^\\s*Include\\s+<dir>/\\*\\.conf\\s*$`` is replaced by the canonical line
    (unchanged when it already is that line); with no match the line is inserted at the top.
    """
    line = include_line(dropin)
    pattern = re.compile(r'^\s*Include\s+%s/\*\.conf\s*$' % re.escape(posixpath.dirname(dropin)))
    lines = current.splitlines(True)
    found = None
    for index, text in enumerate(lines):
        if pattern.search(text.rstrip('\r\n')):
            found = index
    if found is None:
        return line + '\n' + current
    ending = lines[found][len(lines[found].rstrip('\r\n')):] or '\n'
    if lines[found].rstrip('\r\n') == line:
        return current
    lines[found] = line + ending
    return ''.join(lines)


# --- options -----------------------------------------------------------------------------------
def validate_trust_options(args):
    """Check the wanted state before the host is read; normalised ``principals`` map.

    Raises ValidationError with every problem.
    """
    problems = []
    for field in ('ca_path', 'principals_dir', 'dropin', 'sshd_config', 'krl_path'):
        value = args.get(field)
        if not value or not value.startswith('/') or UNSAFE_PATH_RE.search(value):
            problems.append((field, 'must be an absolute path without blanks, quotes, "#" or control characters'))
    for index, key in enumerate(args.get('host_keys') or []):
        if not key.startswith('/') or UNSAFE_PATH_RE.search(key) or key.endswith('.pub'):
            problems.append(('host_keys[%d]' % index, 'must be the absolute path of a private host key '
                             '(no blanks, quotes, "#"; not the .pub file)'))
    for index, item in enumerate(args.get('actor_certs') or []):
        key = item.get('key') or ''
        if not key.startswith('/') or key.endswith('.pub'):
            problems.append(('actor_certs[%d].key' % index, 'must be the absolute path of the actor\'s private key '
                             '(not the .pub file)'))
    for index, serial in enumerate(args.get('revoked_serials') or []):
        if not SERIAL_RE.match(str(serial).strip()):
            problems.append(('revoked_serials[%d]' % index, 'must be a serial number or a range N-M'))
    for index, key in enumerate(args.get('revoked_keys') or []):
        try:
            key_type, dummy, dummy2 = parse_public_key(key, 'revoked_keys[%d]' % index)
            if key_type.endswith(CERT_SUFFIX):
                problems.append(('revoked_keys[%d]' % index, 'give the plain public key, not a certificate'))
        except ValidationError as exc:
            problems.extend(exc.problems)
    try:
        validate_ca_keys(args.get('ca_keys') or [], 'ca_keys')
    except ValidationError as exc:
        problems.extend(exc.problems)
    principals = {}
    try:
        principals = validate_principals_map(args.get('principals') or {}, 'principals')
    except ValidationError as exc:
        problems.extend(exc.problems)
    if problems:
        raise ValidationError(problems, what='options')
    return principals


def inspect_paths(args, principals):
    """``(text paths, stat-only paths)`` the host is asked about in the one inspection."""
    paths = [args['ca_path'], args['dropin'], args['sshd_config']]
    paths.extend(principals_path(args['principals_dir'], account) for account in sorted(principals))
    stat_only = []
    if args.get('revoked_serials') or args.get('revoked_keys'):
        paths.append(args['krl_path'] + '.spec')
        stat_only.append(args['krl_path'])
    return paths, stat_only


# --- the decision ------------------------------------------------------------------------------
def _needs_write(info, content, mode, uid, gid):
    if info is None or info.get('content') is None:
        return True
    if info['content'] != content:
        return True
    if mode is not None and info.get('mode') != mode:
        return True
    return (uid is not None and info.get('uid') != uid) or (gid is not None and info.get('gid') != gid)


def _change(kind, path, info, content, mode=FILE_MODE, owner=ROOT, group=ROOT, **extra):
    change = {'kind': kind, 'path': path, 'before': info.get('content') if info else None, 'after': content,
              'mode': mode, 'owner': owner, 'group': group}
    change.update(extra)
    return change


def plan_trust(args, principals, files):
    """Decide every file change from one inspection. Nothing is written here.

    ``args``: the action's options; ``principals``: from :func:`validate_trust_options`;
    ``files``: ``{path: {'content': text or None, 'mode': int, 'uid': int, 'gid': int}}`` as
    ``sshd_trust_host state=inspect`` returns them (a missing file has content None).

    Returns ``{'changes': [...], 'krl': bool, 'warnings': [...]}``; each change is
    ``{kind, path, before, after, mode, owner, group}`` (plus ``added``/``removed`` for principals).
    ``krl`` says whether the KRL must be built again from its specification.
    """
    changes = []
    warnings = []

    def want(kind, path, content, mode=FILE_MODE, owner=ROOT, group=ROOT, **extra):
        info = files.get(path)
        if _needs_write(info, content, mode, owner, group):
            changes.append(_change(kind, path, info, content, mode, owner, group, **extra))

    want('ca', args['ca_path'], ca_text(args.get('ca_keys') or []))

    for account in sorted(principals):
        path = principals_path(args['principals_dir'], account)
        info = files.get(path) or {}
        plan = plan_principals_file(info.get('content'), principals[account], 'present', args.get('exclusive', True))
        warnings.extend('%s: %s' % (path, warning) for warning in plan['warnings'])
        want('principals', path, plan['content'], added=plan['added'], removed=plan['removed'])

    revoking = bool(args.get('revoked_serials') or args.get('revoked_keys'))
    krl = False
    if revoking:
        spec_path = args['krl_path'] + '.spec'
        spec = krl_spec_text(args.get('revoked_serials') or [], args.get('revoked_keys') or [])
        spec_info = files.get(spec_path)
        krl = (spec_info or {}).get('content') != spec or (files.get(args['krl_path']) or {}).get('exists') is not True
        want('krl_spec', spec_path, spec)

    content = args.get('dropin_content')
    if content is None:
        cert_paths = [host_cert_path(key) for key in args.get('host_keys') or []]
        content = dropin_text(args['ca_path'], args['principals_dir'], cert_paths,
                              args['krl_path'] if revoking else None)
    elif not content.endswith('\n'):
        content += '\n'
    want('dropin', args['dropin'], content)

    config = files.get(args['sshd_config'])
    if config is None or config.get('content') is None:
        raise WardenError('%s does not exist on the host; it must include %s'
                          % (args['sshd_config'], include_line(args['dropin'])))
    want('sshd_config', args['sshd_config'], plan_include(config['content'], args['dropin']), mode=None,
         owner=None, group=None)
    return {'changes': changes, 'krl': krl, 'warnings': warnings}


def file_diff(change):
    """One Ansible diff entry for a planned file change."""
    return {'before_header': change['path'], 'after_header': change['path'],
            'before': change.get('before') or '', 'after': change.get('after') or ''}


def write_args(change):
    """The entry of ``sshd_trust_host state=apply`` ``files`` for a change."""
    entry = {'path': change['path'], 'content': change['after'],
             'mode': '%04o' % change['mode'] if change.get('mode') is not None else None,
             'owner': change.get('owner'), 'group': change.get('group')}
    if change.get('public_key'):
        entry['public_key'] = change['public_key']
    return entry
