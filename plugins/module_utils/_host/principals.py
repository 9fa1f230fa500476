# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AuthorizedPrincipalsFile handling: check the wanted principals, parse a file, plan a change.

Everything here is pure (text in, data out) so the host module that writes a principals file
and the controller-side drift check (``drift.py``) share one reading of the file, and it matches sshd's:

* ``#`` starts a comment anywhere on a line; blank lines are ignored;
* a line with inner whitespace is ``<options> <principal>``: the **last** field is the principal.

A file written by :func:`render_principals` holds a header comment and one plain principal per
line, in the order given (first occurrence wins), so a second run renders the same bytes. Account
names and the path template are ``accounts.py``; the CA keys file is ``ca_keys.py``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.netkingdom.warden.plugins.module_utils._host.accounts import account_problem
from ansible_collections.netkingdom.warden.plugins.module_utils._inventory.actors import principal_problem, shown
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError

HEADER = '# managed by netkingdom.warden'


# --- validation --------------------------------------------------------------------------------
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
