# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A catalog entry as a route: placeholders resolved, the role, the next action, one stable shape.

Placeholders (``<domain>``, ``<field>``, ``<path>``, any ``<name>``) are resolved from the
caller's values, checked first (``placeholder_values``: no secret, no shell metacharacter). A
command that would still hold a placeholder is not given out: its ``fetch_command`` is null and
``missing_placeholders`` names what to supply. The role of an entry is ``issue`` (the collection
executes it: SSH), ``assist`` (fetchable as the caller) or ``route`` (a pointer to its owner).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError
from ansible_collections.netkingdom.warden.plugins.module_utils._audit.secret_guard import describe, secret_kind

# Fields that take <placeholders>, resolved in the route; a field with one missing is null, never guessed.
# The missing ones of the first three are named in missing_placeholders (they block a fetch); the owner's
# native commands are only pointers.
COMMAND_FIELDS = ('fetch_command', 'path_template', 'cert_command', 'exec_command', 'pointer_command')
BLOCKING_FIELDS = COMMAND_FIELDS[:3]
ROLES = ('issue', 'assist', 'route')
PLACEHOLDER_RE = re.compile(r'<([A-Za-z_][A-Za-z0-9_-]*)>')
# A placeholder value goes into a shell command: no whitespace, quotes or shell metacharacters.
VALUE_RE = re.compile(r'^[A-Za-z0-9_@%+=:,./-]+\Z')
NAMED_PLACEHOLDERS = ('domain', 'field', 'path')


# -- placeholders --------------------------------------------------------------------------------

def placeholders_in(text):
    """Placeholder names in ``text`` in order of first appearance."""
    seen = []
    for name in PLACEHOLDER_RE.findall(text or ''):
        if name not in seen:
            seen.append(name)
    return seen


def placeholder_values(domain=None, field=None, path=None, placeholders=None):
    """Validated ``{name: value}`` from the named options and the ``placeholders`` dict."""
    values = {}
    problems = []
    named = {'domain': domain, 'field': field, 'path': path}
    extra = placeholders or {}
    if not isinstance(extra, dict):
        raise ValidationError([('placeholders', 'must be a mapping of placeholder name to value')], what='options')
    for name in sorted(extra, key=str):
        if name in named and named[name] not in (None, ''):
            problems.append(('placeholders.%s' % name, 'is also given as the option %s; give it once' % name))
    merged = dict((k, v) for k, v in extra.items())
    merged.update((k, v) for k, v in named.items() if v not in (None, ''))
    for name in sorted(merged, key=str):
        value = merged[name]
        where = name if name in named else 'placeholders.%s' % name
        if not isinstance(name, str) or not PLACEHOLDER_RE.match('<%s>' % name):
            problems.append(('placeholders', 'placeholder names are letters, digits, _ and -, got %r' % (name,)))
            continue
        if value is None or value == '':
            continue
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            problems.append((where, 'must be a string'))
            continue
        value = str(value)
        kind = secret_kind(value)
        if kind:
            problems.append((where, 'looks like %s (%s); placeholders name where a credential is, '
                             'never the credential itself' % (describe(kind), kind)))
        elif not VALUE_RE.match(value):
            problems.append((where, 'may hold only letters, digits and _ @ %% + = : , . / - (it goes into a '
                             'shell command), got %r' % value))
        elif '..' in value.split('/') or value.startswith('-'):
            problems.append((where, 'must not start with "-" or hold a ".." path segment, got %r' % value))
        else:
            values[name] = value
    if problems:
        raise ValidationError(problems, what='options')
    return values


def resolve(text, values):
    """``(resolved text or None, missing names)``: None when any placeholder stays unresolved."""
    if text is None:
        return None, []
    missing = [name for name in placeholders_in(text) if name not in values]
    if missing:
        return None, missing
    return PLACEHOLDER_RE.sub(lambda m: values[m.group(1)], text), []


def role_of(entry):
    """issue (the collection executes: SSH), assist (fetchable as the caller), or route (a pointer)."""
    if entry['warden_executes']:
        return 'issue'
    if entry['exec_capable']:
        return 'assist'
    return 'route'


def is_kv_command(command):
    """True when a (resolved or template) command is an OpenBao/Vault KV read the collection can run."""
    parts = (command or '').split()
    return len(parts) >= 3 and parts[0] in ('bao', 'vault') and parts[1:3] == ['kv', 'get']


def _next_action(entry, role, command, missing, cert_command, native=None):
    owner = entry['owner_repo']
    ref = entry['wiki_ref'] or entry['canon_ref']
    pointer = ' (see %s)' % ref if ref else ''
    prefix = ''
    if entry['status'] == 'draft':
        prefix = 'draft route, confirm with %s first: ' % owner
    elif entry['status'] == 'deprecated':
        prefix = 'deprecated route, ask %s for its replacement: ' % owner
    if missing:
        return prefix + ('supply %s (options %s) to get the exact command; the collection does not guess '
                         'an owner-confirmed resource name%s'
                         % (', '.join('<%s>' % m for m in missing),
                            ', '.join(m if m in NAMED_PLACEHOLDERS else 'placeholders.%s' % m for m in missing),
                            pointer))
    if role == 'issue':
        text = ('the collection issues it: netkingdom.warden.ssh_cert (action on hosts, or the lookup in a play) '
                'for the actor, gated and audited')
        if command:
            text += '; from a shell: %s' % command
        if cert_command:
            text += '; tools that take a cert_command: %s' % cert_command
        return prefix + text + pointer
    if role == 'assist' and entry['lane'] == 'login':
        return prefix + ('log in interactively as yourself: %s. The token lands in your own store; the '
                         'collection never runs a login or captures the token%s' % (command, pointer))
    if role == 'assist' and is_kv_command(command):
        return prefix + ("fetch it as yourself with lookup('netkingdom.warden.credential', '%s', ...) "
                         '(your own OpenBao token, gated by %s, audited, never stored), or run: %s%s'
                         % (entry['id'], entry['policy_ref'], command, pointer))
    if role == 'assist':
        return prefix + 'run as yourself: %s%s' % (command, pointer)
    if native:
        return prefix + '%s owns it; its own tool (%s) hands it over, run as yourself: %s%s' % (
            owner, entry['exec_owner'], native, pointer)
    if command:
        return prefix + '%s owns it: %s%s' % (owner, command, pointer)
    return prefix + 'ask %s (%s, auth %s)%s' % (owner, entry['subsystem'], entry['auth_method'], pointer)


def route_for(entry, values=None):
    """The stable route shape for one entry with the given placeholder values."""
    values = values or {}
    resolved = {}
    unresolved = {}
    missing = []
    for name in COMMAND_FIELDS:
        resolved[name], unresolved[name] = resolve(entry[name], values)
        if name in BLOCKING_FIELDS:
            missing.extend(m for m in unresolved[name] if m not in missing)
    command, path, cert_command = resolved['fetch_command'], resolved['path_template'], resolved['cert_command']
    native = (resolved['exec_command'] or resolved['pointer_command']) if entry['has_native_exec'] else None
    role = role_of(entry)
    return {
        'id': entry['id'],
        'title': entry['title'],
        'owner_repo': entry['owner_repo'],
        'subsystem': entry['subsystem'],
        'lane': entry['lane'],
        'auth_method': entry['auth_method'],
        'role': role,
        'warden_executes': entry['warden_executes'],
        'exec_capable': entry['exec_capable'],
        'fetch_command': command,
        'fetch_command_template': entry['fetch_command'],
        'path': path,
        'path_template': entry['path_template'],
        'cert_command': cert_command,
        'steps': list(entry['steps']) if entry['steps'] else None,
        'missing_placeholders': missing,
        'policy_ref': entry['policy_ref'],
        'wiki_ref': entry['wiki_ref'],
        'canon_ref': entry['canon_ref'],
        'exec_owner': entry['exec_owner'],
        'exec_command': resolved['exec_command'],
        'pointer_command': resolved['pointer_command'],
        'has_native_exec': entry['has_native_exec'],
        'reviewed': entry['reviewed'],
        'stale': entry['stale'],
        'catalog_status': entry['status'],
        'next_action': _next_action(entry, role, command, unresolved['fetch_command'], cert_command, native),
    }


EMPTY_ROUTE_KEYS = ('id', 'title', 'owner_repo', 'subsystem', 'lane', 'auth_method', 'role', 'warden_executes',
                    'exec_capable', 'fetch_command', 'fetch_command_template', 'path', 'path_template',
                    'cert_command', 'steps', 'policy_ref', 'wiki_ref', 'canon_ref', 'exec_owner', 'exec_command',
                    'pointer_command', 'has_native_exec', 'reviewed', 'stale', 'catalog_status')


def list_routes(catalog):
    """One line per entry: id, title, owner, subsystem, lane, role, status, stale."""
    return [{
        'id': e['id'], 'title': e['title'], 'owner_repo': e['owner_repo'], 'subsystem': e['subsystem'],
        'lane': e['lane'], 'auth_method': e['auth_method'], 'role': role_of(e), 'catalog_status': e['status'],
        'reviewed': e['reviewed'], 'stale': e['stale'], 'policy_ref': e['policy_ref'],
        'has_native_exec': e['has_native_exec'],
    } for e in catalog.entries]
