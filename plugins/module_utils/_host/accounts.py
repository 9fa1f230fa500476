# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Accounts on a host: which names may be an account or an ssh destination's host, and where an
account's principals file is (sshd's ``%u``/``%h``/``%U`` path template).

Pure (text in, data out), shared by the host modules and the controller-side action plugins.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible_collections.netkingdom.warden.plugins.module_utils._inventory.actors import shown
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError

DEFAULT_PATH_TEMPLATE = '/etc/ssh/auth_principals/%u'

# Account names that are safe to put into a path through %u and into an ssh argument: no '/',
# no leading '-' or '.', no whitespace or control characters, printable ASCII only (POSIX portable
# names plus '@' and a trailing '$' for machine accounts).
ACCOUNT_RE = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_.@-]*\$?\Z')
# A DNS name (labels of letters, digits, '-' and '_', none starting or ending with '-').
HOSTNAME_RE = re.compile(r'^(?=.{1,253}\Z)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?'
                         r'(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?\Z')


# --- names -------------------------------------------------------------------------------------
def account_problem(name):
    """Why ``name`` cannot be an account whose principals file we manage, or None."""
    if not isinstance(name, str) or not name:
        return 'must be a non-empty account name'
    if len(name) > 256:
        return 'is too long for an account name'
    if not ACCOUNT_RE.match(name):
        return ('is not a valid account name %s (ASCII letters, digits, ".", "_", "-", "@"; '
                'no "/", whitespace or leading "-" or ".")' % shown(name))
    return None


def address_problem(address):
    """Why ``address`` cannot be the host part of an ssh destination (an IP address or a DNS
    name, so never an option such as ``-oProxyCommand=...``), or None."""
    if not isinstance(address, str) or not address:
        return 'must be an IP address or a host name'
    try:
        ipaddress.ip_address(address)
        return None
    except ValueError:
        pass
    if not HOSTNAME_RE.match(address):
        return 'is not an IP address or a DNS host name: %s' % shown(address)
    return None


# --- paths -------------------------------------------------------------------------------------
TOKENS = ('%', 'u', 'h', 'U')


def expand_path_template(template, user, home=None, uid=None):
    """Expand sshd's ``%u`` (user), ``%h`` (home), ``%U`` (uid) and ``%%`` in a path template.

    A relative result is relative to the home directory, as for sshd. Raises ValidationError
    for an unknown token, or when ``%h``/``%U`` is used and the account is unknown.
    """
    why = account_problem(user)
    if why:
        raise ValidationError([('user', why)], what='account')
    out = []
    index = 0
    while index < len(template):
        char = template[index]
        if char != '%':
            out.append(char)
            index += 1
            continue
        token = template[index + 1:index + 2]
        if token not in TOKENS:
            raise ValidationError([('path_template', 'unsupported token %%%s in %r (use %%u, %%h, %%U or %%%%)'
                                    % (token, template))], what='path template')
        if token == '%':
            out.append('%')
        elif token == 'u':
            out.append(user)
        elif token == 'h':
            if not home:
                raise ValidationError([('path_template', '%%h needs the home directory of %r, which does not '
                                        'exist on this host' % user)], what='path template')
            out.append(home)
        else:
            if uid is None:
                raise ValidationError([('path_template', '%%U needs the uid of %r, which does not exist on '
                                        'this host' % user)], what='path template')
            out.append(str(uid))
        index += 2
    path = ''.join(out)
    if not path.startswith('/'):
        if not home:
            raise ValidationError([('path_template', 'a relative path template needs the home directory of %r'
                                    % user)], what='path template')
        path = home.rstrip('/') + '/' + path
    return path


def listing_pattern(template):
    """``(directory, prefix, suffix)`` when every account's file is ``directory/prefix<user>suffix``.

    That is when ``%u`` is in the last path component only and nothing else varies by account, as in
    the default ``/etc/ssh/auth_principals/%u``. Otherwise None (the directory cannot be listed to
    find files of accounts nobody asked about).
    """
    if not template.startswith('/') or '/' not in template:
        return None
    directory, name = template.rsplit('/', 1)
    if '%' in directory.replace('%%', ''):
        return None
    marker = name.replace('%%', '\x00')
    if marker.count('%u') != 1 or '%' in marker.replace('%u', ''):
        return None
    prefix, suffix = marker.split('%u')
    return (directory.replace('%%', '%') or '/', prefix.replace('\x00', '%'), suffix.replace('\x00', '%'))


def account_from_filename(filename, prefix='', suffix=''):
    """The account a file in the listed directory belongs to, or None (backups, temp files)."""
    if filename.startswith('.') or filename.endswith('~'):
        return None  # hidden/temporary files and backup_local() copies (<file>.<pid>.<date>~)
    if not filename.startswith(prefix) or not filename.endswith(suffix):
        return None
    account = filename[len(prefix):len(filename) - len(suffix) if suffix else None]
    return account if account_problem(account) is None else None
