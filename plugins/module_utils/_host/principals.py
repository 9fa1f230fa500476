# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AuthorizedPrincipalsFile handling: parse, plan a change, compare with what is wanted.

Everything here is pure (text in, data out) so the host module that writes a principals file
and the controller-side drift check share one reading of the file, and it matches sshd's:

* ``#`` starts a comment anywhere on a line; blank lines are ignored;
* a line with inner whitespace is ``<options> <principal>``: the **last** field is the principal.

A file written by :func:`render_principals` holds a header comment and one plain principal per
line, in the order given (first occurrence wins), so a second run renders the same bytes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible_collections.netkingdom.warden.plugins.module_utils._inventory.actors import principal_problem, shown
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError
from ansible_collections.netkingdom.warden.plugins.module_utils._openssh.keys import (
    CERT_SUFFIX,
    fingerprint_blob,
    line_break_at,
    parse_public_key,
)

HEADER = '# managed by netkingdom.warden'
DEFAULT_PATH_TEMPLATE = '/etc/ssh/auth_principals/%u'
DEFAULT_CA_PATH = '/etc/ssh/ca/ca_user.pub'
# Larger files are not read back from a host (a principals or CA file is a few hundred bytes).
MAX_FILE_BYTES = 1024 * 1024

# Account names that are safe to put into a path through %u and into an ssh argument: no '/',
# no leading '-' or '.', no whitespace or control characters, printable ASCII only (POSIX portable
# names plus '@' and a trailing '$' for machine accounts).
ACCOUNT_RE = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_.@-]*\$?\Z')
# A DNS name (labels of letters, digits, '-' and '_', none starting or ending with '-').
HOSTNAME_RE = re.compile(r'^(?=.{1,253}\Z)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?'
                         r'(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?\Z')


# --- validation --------------------------------------------------------------------------------
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


def validate_principals(principals, field='principals'):
    """Return ``principals`` de-duplicated in the given order, or raise ValidationError.

    Every bad entry is reported with its index (``principals[2]: must not contain a comma``).
    """
    if principals is None:
        return []
    if isinstance(principals, str) or not isinstance(principals, (list, tuple)):
        raise ValidationError([(field, 'must be a list of principals, got %s' % type(principals).__name__)],
                              what='principals')
    problems = []
    result = []
    for index, principal in enumerate(principals):
        why = principal_problem(principal)
        if why:
            problems.append(('%s[%d]' % (field, index), why))
        elif principal not in result:
            result.append(principal)
    if problems:
        raise ValidationError(problems, what='principals')
    return result


def validate_principals_map(mapping, field='principals'):
    """``{account: [principal, ...]}`` checked and normalised (lists de-duplicated, None → [])."""
    if mapping is None:
        mapping = {}
    if not isinstance(mapping, dict):
        raise ValidationError([(field, 'must be a mapping of account to a list of principals, got %s'
                                % type(mapping).__name__)], what='principals')
    problems = []
    result = {}
    for account in sorted(mapping, key=str):
        where = '%s[%s]' % (field, shown(account))
        why = account_problem(account)
        if why:
            problems.append((where, why))
            continue
        try:
            result[account] = validate_principals(mapping[account], where)
        except ValidationError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ValidationError(problems, what='principals')
    return result


# --- the principals file -----------------------------------------------------------------------
def parse_line(line):
    """``(principal, options)`` for one line as sshd reads it, or None for a blank/comment line."""
    text = line.split('#', 1)[0].strip(' \t\r\n')
    if not text:
        return None
    fields = text.split()
    if len(fields) == 1:
        return fields[0], ''
    # sshd: everything before the last run of blanks is key options.
    return fields[-1], text[:len(text) - len(fields[-1])].rstrip(' \t')


def _lines(text):
    # sshd splits at '\n' only; a stray '\r' or other control character makes a line invalid
    return text.split('\n') if text else []


def parse_principals(text):
    """Entries of a principals file: a list of ``{'line': n, 'principal': p, 'options': o}``.

    Only lines whose principal is valid (see :func:`principal_problem`) and that hold no control
    character; the others are :func:`invalid_lines`, whose text is never passed on.
    """
    entries = []
    for number, line in enumerate(_lines(text), 1):
        parsed = parse_line(line)
        if parsed is not None and _valid_line(line, parsed[0]):
            entries.append({'line': number, 'principal': parsed[0], 'options': parsed[1]})
    return entries


def _valid_line(line, principal):
    return principal_problem(principal) is None and _no_controls(line)


def _no_controls(line):
    return not any((ord(ch) < 32 and ch != '\t') or ord(ch) == 127 for ch in line)


def invalid_lines(text):
    """Numbers of the lines that are neither blank, a comment, nor a valid principal line (a line
    with a control character counts, comment or not)."""
    numbers = []
    for number, line in enumerate(_lines(text), 1):
        parsed = parse_line(line)
        if not _no_controls(line) or (parsed is not None and not _valid_line(line, parsed[0])):
            numbers.append(number)
    return numbers


def shareable_text(text):
    """``(text, invalid line numbers)``: the file with every invalid line emptied, for a result.

    What is not a valid principal line may be anything (another file's text, if one ever got read
    by mistake), so its text never leaves the host; the line numbers stay as they were.
    """
    if text is None:
        return None, []
    invalid = invalid_lines(text)
    if not invalid:
        return text, []
    gone = set(invalid)
    return '\n'.join('' if number in gone else line for number, line in enumerate(_lines(text), 1)), invalid


def principals_of(text):
    """The valid principals a file accepts, in file order, each once."""
    result = []
    for entry in parse_principals(text):
        if entry['principal'] not in result:
            result.append(entry['principal'])
    return result


def render_principals(principals):
    """The managed file: the header, then one principal per line."""
    return '\n'.join([HEADER] + list(principals)) + '\n'


def plan_principals_file(current, principals=None, state='present', exclusive=True):
    """Decide what a principals file becomes. Nothing is written here.

    ``current`` is the file's text, or None when it does not exist. ``principals`` must already be
    validated (see :func:`validate_principals`). Returns a dict:

    * ``content``: the new text, or None when the file is to be removed (or stays absent);
    * ``changed``, ``added``, ``removed``, ``principals`` (what the file accepts afterwards);
    * ``warnings``: options that an exclusive rewrite drops, lines that are not valid principal lines;
    * ``invalid_lines``: the numbers of those lines (their text is never returned).

    ``exclusive`` (present): the file holds exactly ``principals`` in that order, rendered anew.
    Not exclusive: missing principals are appended and every other line is kept as it is.
    ``absent`` with ``principals``: the lines naming them are removed, the rest kept; without
    ``principals`` the whole file goes.
    """
    entries = parse_principals(current)
    have = principals_of(current)
    invalid = invalid_lines(current)
    warnings = []

    def plan(content, changed, added, removed, accepted, dropped):
        if invalid:
            warnings.append('line%s %s %s not a valid principal line (its text is not shown); %s'
                            % ('s' if len(invalid) > 1 else '', ', '.join(str(n) for n in invalid),
                               'are' if len(invalid) > 1 else 'is', 'dropped' if dropped else 'kept as it is'))
        return dict(content=content, changed=changed, added=added, removed=removed, principals=accepted,
                    warnings=warnings, invalid_lines=invalid)

    if state == 'absent' and principals is None:
        return plan(None, current is not None, [], have, [], True)
    wanted = list(principals or [])

    if state == 'absent':
        drop = set(wanted)
        removed = [p for p in have if p in drop]
        if current is None or not removed:
            return plan(current, False, [], [], have, False)
        gone = set(e['line'] for e in entries if e['principal'] in drop)
        lines = current.split('\n')
        if lines[-1] == '':
            lines.pop()
        kept = [line for number, line in enumerate(lines, 1) if number not in gone]
        content = '\n'.join(kept) + '\n' if kept else ''
        return plan(content, True, [], removed, [p for p in have if p not in drop], False)

    added = [p for p in wanted if p not in have]
    if exclusive or current is None:
        for entry in entries:
            if entry['options'] and entry['principal'] in wanted:
                warnings.append('line %d: options %s for principal %s are dropped (a managed principals '
                                'file holds plain principals)' % (entry['line'], shown(entry['options']),
                                                                  shown(entry['principal'])))
        removed = [p for p in have if p not in wanted] if current is not None else []
        content = render_principals(wanted)
        return plan(content, content != current, added, removed, wanted, True)

    if not added:
        return plan(current, False, [], [], have, False)
    base = current if current.endswith('\n') or current == '' else current + '\n'
    content = base + ''.join(p + '\n' for p in added)
    return plan(content, True, added, [], have + added, False)


def readable_by(mode, file_uid, file_gid, uid, gids):
    """Whether an account (``uid``, group ids ``gids``) may read a file with these owner and mode bits.

    sshd opens the principals file as the account, so a file it cannot read accepts nobody.
    """
    if uid == 0:
        return True
    if file_uid == uid:
        return bool(mode & 0o400)
    if file_gid in gids:
        return bool(mode & 0o040)
    return bool(mode & 0o004)


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


# --- CA keys -----------------------------------------------------------------------------------
def _key_info(key_type, blob, comment):
    return {'type': key_type, 'fingerprint': fingerprint_blob(blob), 'comment': comment}


def parse_ca_keys(text):
    """Keys of a TrustedUserCAKeys file: ``(keys, invalid_lines)``; ``keys`` in file order, each once."""
    keys = []
    seen = set()
    invalid = []
    for number, line in enumerate((text or '').split('\n'), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith('#'):
            continue
        try:
            key_type, blob, comment = parse_public_key(stripped)
        except ValidationError:
            invalid.append(number)
            continue
        if blob not in seen:
            seen.add(blob)
            keys.append(_key_info(key_type, blob, comment))
    return keys, invalid


def validate_ca_keys(lines, field='trusted_ca_keys'):
    """Wanted CA keys as key infos; every bad line is reported with its index.

    Each item is a public key line, or the text of a CA file (several lines, ``#`` comments).
    """
    if isinstance(lines, str) or not isinstance(lines, (list, tuple)):
        raise ValidationError([(field, 'must be a list of OpenSSH public key lines')], what='CA keys')
    problems = []
    keys = []
    seen = set()
    for index, item in enumerate(lines):
        where = '%s[%d]' % (field, index)
        if not isinstance(item, str):
            problems.append((where, 'must be an OpenSSH public key line (text)'))
            continue
        # An item may be a whole CA file (several lines, comments), split at '\n' as sshd does; any
        # other control character would let one value become lines sshd reads differently.
        bad = line_break_at(item, allowed='\n')
        if bad is not None:
            problems.append((where, 'must not contain control characters other than line breaks between keys '
                             '(%s at position %d)' % (shown(item[bad]), bad)))
            continue
        for line in item.split('\n'):
            if line.strip().startswith('#') or (not line.strip() and '\n' in item):
                continue
            try:
                key_type, blob, comment = parse_public_key(line, where)
            except ValidationError as exc:
                problems.extend(exc.problems)
                continue
            if key_type.endswith(CERT_SUFFIX):
                problems.append((where, 'is a certificate, not a CA public key'))
            elif blob not in seen:
                seen.add(blob)
                keys.append(_key_info(key_type, blob, comment))
    if problems:
        raise ValidationError(problems, what='CA keys')
    return keys


def compare_ca_keys(wanted, text):
    """Compare wanted key infos with a CA file's text (None: the file is missing), by key only."""
    have, invalid = parse_ca_keys(text)
    have_fps = [k['fingerprint'] for k in have]
    wanted_fps = [k['fingerprint'] for k in wanted]
    return {
        'file_missing': text is None,
        'missing_keys': [k for k in wanted if k['fingerprint'] not in have_fps],
        'extra_keys': [k for k in have if k['fingerprint'] not in wanted_fps],
        'invalid_lines': invalid,
        'keys': have,
    }


# --- drift -------------------------------------------------------------------------------------
def _describe_key(key):
    text = '%s (%s' % (key['fingerprint'], key['type'])
    return text + (' %s)' % key['comment'] if key['comment'] else ')')


def _fmt_list(items):
    return ', '.join(items) if items else '(none)'


def _observed_invalid(seen):
    """Invalid lines the host reported (their text emptied there) and any left in the text."""
    return sorted(set(seen.get('invalid_lines') or []) | set(invalid_lines(seen.get('content'))))


def _fmt_numbers(numbers):
    return '%s %s' % (', '.join(str(n) for n in numbers), 'are' if len(numbers) > 1 else 'is')


def drift_report(host, desired, observed, trusted_ca_keys=None, actors=None):
    """Compare what a host should have with what was read from it.

    ``desired`` is a validated ``{account: [principal, ...]}``; ``observed`` is what the
    ``principals_info`` module returned (``files``, ``ca``, ``scanned``); ``trusted_ca_keys`` are
    key infos from :func:`validate_ca_keys`, or None to skip the CA; ``actors`` is a validated
    actor inventory (or None). Returns a JSON-friendly dict; ``drift`` is true when any account
    misses or has extra principals, a file cannot be read, an unmanaged account has a principals
    file, or the CA file differs from the wanted keys.
    """
    files = observed.get('files') or {}
    summary = []
    accounts = {}
    accepted = set()
    for account in sorted(desired):
        seen = files.get(account) or {}
        path = seen.get('path')
        exists = bool(seen.get('exists'))
        error = seen.get('error')
        have = principals_of(seen.get('content')) if exists else []
        invalid = _observed_invalid(seen) if exists else []
        accepted.update(have)
        want = desired[account]
        info = {
            'path': path,
            'file_missing': not exists and not error,
            'missing': [] if error else [p for p in want if p not in have],
            'extra': [p for p in have if p not in want],
            'principals': have,
            'invalid_lines': invalid,
        }
        if error:  # unknown content: report the failure, not guessed differences
            info['error'] = error
            summary.append('%s: account %s: cannot read its principals file %s: %s' % (host, account, path, error))
        if invalid:
            summary.append('%s: account %s: %s line %s not a valid principal line (text not shown)'
                           % (host, account, path, _fmt_numbers(invalid)))
        where = path if exists else '%s (missing)' % path
        for principal in info['missing']:
            summary.append('%s: account %s does not accept principal %s: not in %s'
                           % (host, account, principal, where))
        for principal in info['extra']:
            summary.append('%s: account %s accepts principal %s, which is not wanted (%s)'
                           % (host, account, principal, path))
        accounts[account] = info

    unmanaged = []
    for account in sorted(files):
        if account in desired:
            continue
        seen = files[account] or {}
        if not seen.get('exists'):
            continue
        unmanaged.append(account)
        if seen.get('error'):
            summary.append('%s: account %s is not managed, but has a principals file %s (cannot read it: %s)'
                           % (host, account, seen.get('path'), seen['error']))
            continue
        have = principals_of(seen.get('content'))
        accepted.update(have)
        summary.append('%s: account %s is not managed, but %s accepts principals %s'
                       % (host, account, seen.get('path'), _fmt_list(have)))
        invalid = _observed_invalid(seen)
        if invalid:
            summary.append('%s: account %s: %s line %s not a valid principal line (text not shown)'
                           % (host, account, seen.get('path'), _fmt_numbers(invalid)))

    ca = {'checked': trusted_ca_keys is not None, 'path': (observed.get('ca') or {}).get('path'),
          'file_missing': False, 'missing_keys': [], 'extra_keys': [], 'invalid_lines': []}
    if trusted_ca_keys is not None:
        seen = observed.get('ca') or {}
        if seen.get('error'):
            ca['error'] = seen['error']
            summary.append('%s: cannot read the CA file %s: %s' % (host, ca['path'], seen['error']))
        else:
            compared = compare_ca_keys(trusted_ca_keys, seen.get('content') if seen.get('exists') else None)
            ca['file_missing'] = compared['file_missing']
            ca['missing_keys'] = [k['fingerprint'] for k in compared['missing_keys']]
            ca['extra_keys'] = [k['fingerprint'] for k in compared['extra_keys']]
            ca['invalid_lines'] = compared['invalid_lines']
            ca['keys'] = [k['fingerprint'] for k in compared['keys']]
            if compared['file_missing'] and trusted_ca_keys:
                summary.append('%s: the CA file %s is missing, so no user CA is trusted' % (host, ca['path']))
            for key in compared['missing_keys']:
                summary.append('%s: CA key %s is not trusted in %s' % (host, _describe_key(key), ca['path']))
            for key in compared['extra_keys']:
                summary.append('%s: %s trusts CA key %s, which is not wanted' % (host, ca['path'], _describe_key(key)))
            for number in compared['invalid_lines']:
                summary.append('%s: %s line %d is not a public key' % (host, ca['path'], number))

    unaccepted = []
    if actors:
        for name in sorted(actors):
            if not any(p in accepted for p in actors[name].get('principals') or []):
                unaccepted.append(name)

    drift = bool(summary)
    return {
        'drift': drift,
        'accounts': accounts,
        'unmanaged_accounts': unmanaged,
        'ca': ca,
        'unaccepted_actors': unaccepted,
        'summary': summary,
        'scanned': bool(observed.get('scanned')),
    }


# --- argument specs (shared by the docs-only module and the action plugin) ----------------------
PRINCIPALS_DRIFT_SPEC = {
    'principals': {'type': 'dict'},
    'trusted_ca_keys': {'type': 'list', 'elements': 'str'},
    'ca_path': {'type': 'path', 'default': DEFAULT_CA_PATH},
    'path_template': {'type': 'str', 'default': DEFAULT_PATH_TEMPLATE},
    'actors': {'type': 'dict'},
    'inventory_file': {'type': 'path'},
    'fail_on_drift': {'type': 'bool', 'default': False},
}
PRINCIPALS_DRIFT_EXCLUSIVE = [['actors', 'inventory_file']]
