# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Credential routing: the catalog, matching a need to its owner, placeholders, the route shape.

For any credential need the collection says who owns it and exactly how to get it, and never
holds a secret (ops-warden's routing charter). The catalog has the shape of ops-warden's
``registry/routing/catalog.yaml``: a list of entries (``entries:``, ``routes:`` or a bare list)
with the fields of ``FIELDS``. Loading it is strict and every problem names its place:

- unique ``id``s; required fields present and of the right type;
- ``reviewed`` is a date, not in the future; entries reviewed more than ``stale_days`` (90)
  days ago are reported as stale (a warning, not an error);
- ``exec_capable`` needs a ``fetch_command``, and a ``secret`` lane that is exec-capable needs a
  ``policy_ref`` (the gate resource of the fetch);
- ``steps`` and ``cert_command`` only on the SSH issue lane (``warden_executes: true``, which
  itself needs ``auth_method: ssh-certificate``);
- ops-warden's owner-native fields are kept: ``canon_ref`` (a pointer to the canonical page, like
  ``wiki_ref``), ``exec_owner`` (who runs the owner's own tool), ``exec_command`` (the owner's tool
  running your command with the credential) and ``pointer_command`` (the owner's command that says
  where the credential is). The route derives ``has_native_exec`` from them (``HAS_NATIVE_EXEC``);
  the collection itself never runs any of them;
- a field the collection does not know is a warning naming it (ops-warden's catalog may grow fields),
  never a failure; a known field with a bad value is an error;
- the secret guard (secret_guard.find_secrets) runs over the whole document first: any value
  that looks like secret material (token prefixes, PEM blocks, long high-entropy runs, ...) is
  refused, naming the field and the kind, never the value. Handoff fields are templates.

Matching is deterministic: an exact id wins; otherwise each entry scores 10 per word of every
``need_keywords`` phrase whose words all occur in the need, 3 per need word found among the
keywords' words and 1 per need word found in the title. The best score wins; equal best
scores are a tie, and no score at all is a no-match; both report the closest candidates.

Placeholders (``<domain>``, ``<field>``, ``<path>``, any ``<name>``) are resolved from the
caller's values. A command that would still hold a placeholder is not given out: its
``fetch_command`` is null and ``missing_placeholders`` names what to supply.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import difflib
import os
import re

from ansible_collections.netkingdom.warden.plugins.module_utils._inventory.actors import load_yaml_text
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError
from ansible_collections.netkingdom.warden.plugins.module_utils._registry.snapshot import GATED_LANE, POLICY_REF_RE
from ansible_collections.netkingdom.warden.plugins.module_utils._audit.secret_guard import describe, find_secrets, secret_kind

CATALOG_ENV = 'WARDEN_ROUTING_CATALOG'
CATALOG_VAR = 'warden_routing_catalog'
STALE_DAYS = 90
WHAT = 'routing catalog'

# Catalog entry fields (ops-warden's catalog.yaml), then the two only the SSH issue lane carries.
FIELDS = ('id', 'title', 'need_keywords', 'owner_repo', 'subsystem', 'warden_executes', 'lane',
          'auth_method', 'path_template', 'fetch_command', 'exec_capable', 'policy_ref', 'wiki_ref',
          'canon_ref', 'reviewed', 'status', 'exec_owner', 'exec_command', 'pointer_command')
SSH_ONLY_FIELDS = ('steps', 'cert_command')
ALL_FIELDS = FIELDS + SSH_ONLY_FIELDS
REQUIRED = ('id', 'title', 'need_keywords', 'owner_repo', 'subsystem', 'auth_method', 'reviewed', 'status')
TOP_LEVEL = ('version', 'description', 'updated', 'entries', 'routes')
# Fields that take <placeholders>, resolved in the route; a field with one missing is null, never guessed.
# The missing ones of the first three are named in missing_placeholders (they block a fetch); the owner's
# native commands are only pointers.
COMMAND_FIELDS = ('fetch_command', 'path_template', 'cert_command', 'exec_command', 'pointer_command')
BLOCKING_FIELDS = COMMAND_FIELDS[:3]
LANES = ('secret', 'login')
STATUSES = ('active', 'draft', 'deprecated')
ROLES = ('issue', 'assist', 'route')
SSH_AUTH_METHOD = 'ssh-certificate'
MATCHES = ('exact', 'matched', 'tie', 'no_match')

ID_RE = re.compile(r'^[a-z0-9][a-z0-9._-]{0,127}\Z')
DATE_RE = re.compile(r'^\d{4}-\d{2}-\d{2}$')
PLACEHOLDER_RE = re.compile(r'<([A-Za-z_][A-Za-z0-9_-]*)>')
# A placeholder value goes into a shell command: no whitespace, quotes or shell metacharacters.
VALUE_RE = re.compile(r'^[A-Za-z0-9_@%+=:,./-]+\Z')
NAMED_PLACEHOLDERS = ('domain', 'field', 'path')
WORD_RE = re.compile(r'[a-z0-9]+')
STOPWORDS = frozenset((
    'a', 'an', 'and', 'at', 'can', 'do', 'for', 'from', 'get', 'how', 'i', 'in', 'into', 'is', 'me',
    'my', 'need', 'of', 'on', 'or', 'please', 'the', 'to', 'via', 'want', 'what', 'which', 'with',
))
PHRASE_POINTS = 10
KEYWORD_POINTS = 3
TITLE_POINTS = 1
CANDIDATES = 3


# -- words and scores ----------------------------------------------------------------------------

def _stem(word):
    if len(word) > 3 and word.endswith('s') and not word.endswith('ss'):
        return word[:-1]
    return word


def words(text):
    """The significant words of ``text``: lower case, no stop words, a plural ``s`` removed."""
    if not isinstance(text, str):
        return []
    return [_stem(w) for w in WORD_RE.findall(text.lower()) if w not in STOPWORDS]


def score_entry(entry, need):
    """The match score of one entry for a need (see the module documentation)."""
    need_words = set(words(need))
    if not need_words:
        return 0
    score = 0
    keyword_words = set()
    for phrase in entry['need_keywords']:
        phrase_words = set(words(phrase))
        keyword_words |= phrase_words
        if phrase_words and phrase_words <= need_words:
            score += PHRASE_POINTS * len(phrase_words)
    score += KEYWORD_POINTS * len(need_words & keyword_words)
    score += TITLE_POINTS * len(need_words & set(words(entry['title'])))
    return score


def closeness(entry, need):
    """How close a need is to an entry's keywords, title and id (0..1), for no-match hints."""
    text = ' '.join(words(need))
    if not text:
        return 0.0
    targets = [' '.join(words(k)) for k in entry['need_keywords']] + [' '.join(words(entry['title'])), entry['id']]
    return max(difflib.SequenceMatcher(None, text, t).ratio() for t in targets if t) if targets else 0.0


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


# -- loading and validation ----------------------------------------------------------------------

def _today(today):
    if today is None:
        return datetime.datetime.now(datetime.timezone.utc).date()
    return today


def _date(value):
    """A datetime.date from a YAML date or a YYYY-MM-DD string, else None."""
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str) and DATE_RE.match(value.strip()):
        try:
            return datetime.datetime.strptime(value.strip(), '%Y-%m-%d').date()
        except ValueError:
            return None
    return None


def _entries(data, source, problems, warnings):
    if isinstance(data, list):
        return data, ''
    if not isinstance(data, dict):
        problems.append((source, 'must be a list of entries or a mapping with "entries:"'))
        return [], ''
    for key in sorted(data, key=str):
        if key not in TOP_LEVEL:
            warnings.append((None, '%s: top-level key %s is not used by netkingdom.warden and is ignored (known: %s)'
                             % (source, key, ', '.join(TOP_LEVEL))))
    keys = [k for k in ('entries', 'routes') if k in data]
    if len(keys) != 1:
        problems.append((source, 'needs exactly one list of entries: "entries:" (or "routes:")'))
        return [], ''
    entries = data[keys[0]]
    if not isinstance(entries, list):
        problems.append((keys[0], 'must be a list of entries'))
        return [], ''
    return entries, keys[0]


def _string(entry, name, where, problems, required=False):
    value = entry.get(name)
    if value is None:
        if required:
            problems.append((where(name), 'is required'))
        return None
    if not isinstance(value, str) or not value.strip():
        problems.append((where(name), 'must be a non-empty string'))
        return None
    return value.strip()


def _bool(entry, name, where, problems):
    value = entry.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        problems.append((where(name), 'must be true or false, got %r' % (value,)))
        return False
    return value


def _entry(raw, where_entry, today, stale_days, problems, warnings, stale):
    """Validate one entry; return the normalised entry or None."""
    def where(name=None):
        return '%s.%s' % (where_entry, name) if name else where_entry

    if not isinstance(raw, dict):
        problems.append((where(), 'must be a mapping'))
        return None
    before = len(problems)
    unknown = [str(key) for key in sorted(raw, key=str) if key not in ALL_FIELDS]
    entry = {}
    for name in ('id', 'title', 'owner_repo', 'subsystem', 'auth_method', 'status'):
        entry[name] = _string(raw, name, where, problems, required=name in REQUIRED)
    for name in ('path_template', 'fetch_command', 'policy_ref', 'wiki_ref', 'canon_ref', 'cert_command',
                 'exec_owner', 'exec_command', 'pointer_command'):
        entry[name] = _string(raw, name, where, problems)
    for key in unknown:
        close = difflib.get_close_matches(key, ALL_FIELDS, n=1, cutoff=0.75)
        warnings.append((entry['id'], '%s: field %s is not used by netkingdom.warden and is ignored%s'
                         % (where(), key, '; did you mean %s?' % close[0] if close else '')))
    if entry['id'] is not None and not ID_RE.match(entry['id']):
        problems.append((where('id'), 'must be lower-case letters, digits, ".", "_" and "-" (at most 128), '
                         'got %r' % entry['id']))
    keywords = raw.get('need_keywords')
    if keywords is None:
        problems.append((where('need_keywords'), 'is required'))
        keywords = []
    elif not isinstance(keywords, list) or not keywords:
        problems.append((where('need_keywords'), 'must be a non-empty list of phrases'))
        keywords = []
    for index, phrase in enumerate(keywords):
        if not isinstance(phrase, str) or not words(phrase):
            problems.append(('%s[%d]' % (where('need_keywords'), index),
                             'must be a phrase with at least one word that is not a stop word'))
    entry['need_keywords'] = [p.strip() for p in keywords if isinstance(p, str)]
    entry['warden_executes'] = _bool(raw, 'warden_executes', where, problems)
    entry['exec_capable'] = _bool(raw, 'exec_capable', where, problems)
    lane = raw.get('lane', 'secret')
    if lane not in LANES:
        problems.append((where('lane'), 'must be one of %s, got %r' % (', '.join(LANES), lane)))
    entry['lane'] = lane
    if entry['status'] is not None and entry['status'] not in STATUSES:
        problems.append((where('status'), 'must be one of %s, got %r' % (', '.join(STATUSES), entry['status'])))
    steps = raw.get('steps')
    if steps is not None and (not isinstance(steps, list) or not steps
                              or not all(isinstance(s, str) and s.strip() for s in steps)):
        problems.append((where('steps'), 'must be a non-empty list of strings'))
        steps = None
    entry['steps'] = [s.strip() for s in steps] if steps else None

    # reviewed: present, a date, not in the future; stale after stale_days
    reviewed = raw.get('reviewed')
    day = _date(reviewed)
    entry['reviewed'] = day.isoformat() if day else None
    entry['stale'] = False
    entry['review_age_days'] = None
    if reviewed is None:
        problems.append((where('reviewed'), 'is required (the date the owner last confirmed this route)'))
    elif day is None:
        problems.append((where('reviewed'), 'must be a date YYYY-MM-DD, got %r' % (reviewed,)))
    else:
        age = (today - day).days
        entry['review_age_days'] = age
        if age < -1:
            problems.append((where('reviewed'), '%s is in the future (today is %s)' % (day.isoformat(), today.isoformat())))
        elif age > stale_days:
            entry['stale'] = True

    # cross-field rules
    if entry['exec_command'] and not entry['exec_owner']:
        problems.append((where('exec_command'), 'exec_command needs an exec_owner (whose tool runs it)'))
    entry['has_native_exec'] = has_native_exec(entry)
    if entry['exec_capable'] and not entry['fetch_command']:
        problems.append((where('exec_capable'), 'exec_capable needs a fetch_command (what runs as the caller)'))
    if entry['exec_capable'] and lane == GATED_LANE and not entry['policy_ref']:
        problems.append((where('policy_ref'), 'an exec-capable secret lane needs a policy_ref: the gate resource '
                         'checked before every fetch (for example credential-lane:%s)' % (entry['id'] or '<id>')))
    if entry['exec_capable'] and lane == GATED_LANE and entry['policy_ref'] \
            and not POLICY_REF_RE.match(entry['policy_ref']):
        problems.append((where('policy_ref'), "must look like '<scheme>:<name>' (letters, digits, . _ / @ -), "
                         "for example 'credential-lane:npm-publish-token', got %r" % entry['policy_ref']))
    if entry['warden_executes']:
        if entry['auth_method'] and entry['auth_method'] != SSH_AUTH_METHOD:
            problems.append((where('warden_executes'), 'only the SSH lane (auth_method: %s) is executed by the '
                             'collection; every other credential stays with its owner' % SSH_AUTH_METHOD))
        if entry['exec_capable']:
            problems.append((where('exec_capable'), 'the SSH lane is issued by the collection '
                             '(warden_executes), not fetched as the caller: set exec_capable to false'))
    else:
        for name in SSH_ONLY_FIELDS:
            if raw.get(name) is not None:
                problems.append((where(name), '%s belongs only on the SSH issue lane (warden_executes: true)' % name))
    if len(problems) > before:
        return None
    if entry['stale']:
        stale.append(entry['id'])
        warnings.append((entry['id'], '%s: route %s was last reviewed on %s, %d days ago (more than %d): confirm '
                         'it with %s and update reviewed' % (where(), entry['id'], entry['reviewed'],
                                                             entry['review_age_days'], stale_days,
                                                             entry['owner_repo'])))
    if entry['status'] == 'deprecated':
        warnings.append((entry['id'], '%s: route %s is deprecated' % (where(), entry['id'])))
    return entry


class Catalog(object):
    """A validated catalog: ``entries`` (normalised dicts, in file order), ``warnings``, ``stale`` (ids)."""

    def __init__(self, entries, source, warnings, stale, stale_days):
        self.entries = entries
        self.source = source
        self.notes = list(warnings)  # (entry id, warning)
        self.warnings = [text for dummy, text in self.notes]
        self.stale = stale
        self.stale_days = stale_days
        self.by_id = dict((e['id'], e) for e in entries)

    def __len__(self):
        return len(self.entries)

    def get(self, entry_id):
        return self.by_id.get(entry_id)


def validate_catalog(data, source=WHAT, today=None, stale_days=STALE_DAYS):
    """Validate parsed catalog data; return a Catalog. Raises ValidationError naming every problem.

    The secret guard runs first, over keys and values: a catalog holding anything that looks like
    secret material is refused before any other check can quote a value.
    """
    if isinstance(stale_days, bool) or not isinstance(stale_days, int) or stale_days < 1:
        raise ValidationError([('stale_days', 'must be a positive whole number of days, got %r' % (stale_days,))],
                              what='options')
    found = find_secrets(data)
    if found:
        raise ValidationError([(path or source, 'looks like %s (%s): a catalog holds templates and pointers, '
                                'never secret material; remove it (and rotate it if it was real)'
                                % (describe(kind), kind)) for path, kind in found], what=WHAT)
    today = _today(today)
    problems = []
    warnings = []
    stale = []
    entries, key = _entries(data, source, problems, warnings)
    result = []
    first = {}
    for index, raw in enumerate(entries):
        where = '%s[%d]' % (key, index) if key else '[%d]' % index
        entry = _entry(raw, where, today, stale_days, problems, warnings, stale)
        raw_id = raw.get('id') if isinstance(raw, dict) else None
        if isinstance(raw_id, str) and raw_id.strip():
            if raw_id.strip() in first:
                problems.append((where + '.id', 'duplicate id %r (first at %s)' % (raw_id.strip(), first[raw_id.strip()])))
                continue
            first[raw_id.strip()] = where
        if entry is not None:
            result.append(entry)
    refs = {}
    for entry in result:
        if entry['policy_ref'] and entry['lane'] == GATED_LANE and entry['exec_capable']:
            if entry['policy_ref'] in refs:
                problems.append(('%s.policy_ref' % entry['id'], 'policy_ref %r is also the gate resource of %s: each '
                                 'gated lane needs its own' % (entry['policy_ref'], refs[entry['policy_ref']])))
            refs[entry['policy_ref']] = entry['id']
    if not entries and not problems:
        problems.append((source, 'the catalog has no entries'))
    if problems:
        raise ValidationError(problems, what=WHAT)
    return Catalog(result, source, warnings, stale, stale_days)


def parse_catalog_text(text, source=WHAT, today=None, stale_days=STALE_DAYS):
    return validate_catalog(load_yaml_text(text, source), source=source, today=today, stale_days=stale_days)


def load_catalog_file(path, today=None, stale_days=STALE_DAYS):
    """Read and validate a catalog file (YAML, duplicate keys refused)."""
    if not isinstance(path, str) or not path:
        raise ValidationError([('catalog', 'is required: the path of the routing catalog (option catalog, '
                                'variable %s or environment %s); docs/examples/routing/catalog.yaml in the '
                                'collection shows the shape' % (CATALOG_VAR, CATALOG_ENV))], what='options')
    path = os.path.expanduser(path)
    try:
        with open(path, 'rb') as handle:
            text = handle.read().decode('utf-8')
    except (IOError, OSError) as exc:
        raise ValidationError([(path, 'cannot read the routing catalog: %s' % (exc.strerror or exc))], what=WHAT)
    except UnicodeDecodeError:
        raise ValidationError([(path, 'the routing catalog is not UTF-8 text')], what=WHAT)
    return parse_catalog_text(text, source=path, today=today, stale_days=stale_days)


# -- routes --------------------------------------------------------------------------------------

def has_native_exec(entry):
    """Whether the owner has a native way to hand the credential over, run by the caller with the owner's
    own tool (ops-warden's derived ``has_native_exec``): an ``exec_owner`` with an ``exec_command`` or a
    ``pointer_command``. The collection's choice of derivation, kept here only."""
    return bool(entry.get('exec_owner') and (entry.get('exec_command') or entry.get('pointer_command')))


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


def _candidate(entry, score=None, close=None):
    item = {'id': entry['id'], 'title': entry['title'], 'owner_repo': entry['owner_repo'], 'role': role_of(entry)}
    if score is not None:
        item['score'] = score
    if close is not None:
        item['closeness'] = round(close, 3)
    return item


def rank(catalog, need):
    """Every entry with its score for ``need``, best first (ties by id)."""
    scored = [(score_entry(e, need), e) for e in catalog.entries]
    scored.sort(key=lambda pair: (-pair[0], pair[1]['id']))
    return scored


def find(catalog, need, values=None):
    """Route a need: the route shape plus ``need``, ``match``, ``score`` and ``candidates``.

    ``match`` is ``exact`` (the need is an entry id), ``matched``, ``tie`` or ``no_match``. For a
    tie or a no-match the route fields are null and ``candidates`` lists the closest entries.
    """
    if not isinstance(need, str) or not need.strip():
        raise ValidationError([('need', 'must be a non-empty string such as "npm token"')], what='options')
    need = need.strip()
    exact = catalog.get(need.lower())
    if exact is not None:
        result = route_for(exact, values)
        result.update(need=need, match='exact', score=None, candidates=[_candidate(exact)])
        return result
    ranked = rank(catalog, need)
    best = ranked[0][0] if ranked else 0
    if best > 0:
        top = [e for s, e in ranked if s == best]
        if len(top) == 1:
            result = route_for(top[0], values)
            result.update(need=need, match='matched', score=best,
                          candidates=[_candidate(e, s) for s, e in ranked[:CANDIDATES] if s > 0])
            return result
        candidates = [_candidate(e, s) for s, e in ranked if s == best]
        return _unrouted(need, 'tie', best, candidates,
                         'ambiguous: "%s" matches %s equally (score %d); ask for one of them by id, or add '
                         'words that tell them apart' % (need, ' and '.join(c['id'] for c in candidates), best))
    close = sorted(((closeness(e, need), e) for e in catalog.entries), key=lambda pair: (-pair[0], pair[1]['id']))
    candidates = [_candidate(e, close=c) for c, e in close[:CANDIDATES]]
    return _unrouted(need, 'no_match', 0, candidates,
                     'no route for "%s" in the catalog; closest: %s. If none of them fits, the need has no '
                     'owner yet: add an entry with its owner' % (need, ', '.join(c['id'] for c in candidates)))


def _unrouted(need, match, score, candidates, next_action):
    result = dict((key, None) for key in EMPTY_ROUTE_KEYS)
    result.update(need=need, match=match, score=score, candidates=candidates, missing_placeholders=[],
                  next_action=next_action)
    return result


def show(catalog, entry_id, values=None):
    """The route of one entry by id; an unknown id raises ValidationError naming the closest ids."""
    entry = catalog.get(entry_id) if isinstance(entry_id, str) else None
    if entry is None:
        close = difflib.get_close_matches(str(entry_id), list(catalog.by_id), n=CANDIDATES, cutoff=0.0)
        raise ValidationError([('show', 'no catalog entry with id %r; closest: %s' % (entry_id, ', '.join(close)))],
                              what='options')
    result = route_for(entry, values)
    result.update(need=None, match='exact', score=None, candidates=[_candidate(entry)])
    return result


def route_warnings(catalog, routes):
    """The catalog's warnings (stale, deprecated, unknown fields) for the entries among ``routes``, and the
    catalog-wide ones, once each."""
    ids = set(r.get('id') for r in routes if r.get('id'))
    return [text for entry_id, text in catalog.notes if entry_id is None or entry_id in ids]


def list_routes(catalog):
    """One line per entry: id, title, owner, subsystem, lane, role, status, stale."""
    return [{
        'id': e['id'], 'title': e['title'], 'owner_repo': e['owner_repo'], 'subsystem': e['subsystem'],
        'lane': e['lane'], 'auth_method': e['auth_method'], 'role': role_of(e), 'catalog_status': e['status'],
        'reviewed': e['reviewed'], 'stale': e['stale'], 'policy_ref': e['policy_ref'],
        'has_native_exec': e['has_native_exec'],
    } for e in catalog.entries]


def route_request(options, needs=(), show_id=None):
    """What the credential_route lookup and module share: load the catalog named in ``options``
    (``catalog``, ``stale_days``), check the placeholder values (``domain``, ``field``, ``path``,
    ``placeholders``), and route each need (or show the entry ``show_id``).

    Returns ``(catalog, routes, warnings)``; raises ValidationError naming the bad option or field.
    """
    stale_days = options.get('stale_days')
    catalog = load_catalog_file(options.get('catalog'), stale_days=STALE_DAYS if stale_days is None else stale_days)
    values = placeholder_values(options.get('domain'), options.get('field'), options.get('path'),
                                options.get('placeholders'))
    if show_id is not None:
        routes = [show(catalog, show_id, values)]
    else:
        routes = [find(catalog, need, values) for need in needs]
    return catalog, routes, route_warnings(catalog, routes)


def login_pointer(catalog, subsystem):
    """The first active login lane of a subsystem (where to get a token first), or None."""
    for entry in catalog.entries:
        if entry['lane'] == 'login' and entry['subsystem'] == subsystem and entry['status'] == 'active':
            return entry
    return None


def credential_lanes(catalog, access=None):
    """The gate's credential lanes (registry.build_snapshot ``credential_lanes``) from a catalog.

    One lane per active, exec-capable ``secret`` entry, keyed by its ``policy_ref``;
    ``access`` maps entry ids to the subject ids allowed to read them (none: nobody may).
    An id in ``access`` that is not such a lane is an error.
    """
    access = access or {}
    if not isinstance(access, dict):
        raise ValidationError([('access', 'must be a mapping of catalog entry id to a list of subject ids')],
                              what='options')
    lanes = []
    gated = set()
    for entry in catalog.entries:
        if entry['lane'] == GATED_LANE and entry['exec_capable'] and entry['status'] == 'active':
            gated.add(entry['id'])
            subjects = access.get(entry['id']) or []
            lanes.append({'policy_ref': entry['policy_ref'], 'need_id': entry['id'], 'lane': entry['lane'],
                          'owner_repo': entry['owner_repo'],
                          'allowed_subjects': [subjects] if isinstance(subjects, str) else subjects})
    problems = [('access.%s' % key, 'is not an active, exec-capable secret lane of the catalog (lanes: %s)'
                 % ', '.join(sorted(gated)) if gated else 'the catalog has no gated lanes')
                for key in sorted(access, key=str) if key not in gated]
    if problems:
        raise ValidationError(problems, what='options')
    return lanes
