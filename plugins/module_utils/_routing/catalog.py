# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The routing catalog: loading and validating it, and the credential lanes it gives the gate.

The catalog has the shape of ops-warden's ``registry/routing/catalog.yaml``: a list of entries
(``entries:``, ``routes:`` or a bare list) with the fields of ``FIELDS``; it holds templates and
pointers, never a secret. Loading is strict and every problem names its place:

- unique ``id``s; required fields present and of the right type;
- ``reviewed`` is a date, not in the future; entries reviewed more than ``stale_days`` (90)
  days ago are reported as stale (a warning, not an error);
- ``exec_capable`` needs a ``fetch_command``, and a ``secret`` lane that is exec-capable needs a
  ``policy_ref`` (the gate resource of the fetch);
- ``steps`` and ``cert_command`` only on the SSH issue lane (``warden_executes: true``, which
  itself needs ``auth_method: ssh-certificate``);
- ops-warden's owner-native fields are kept (``canon_ref``, ``exec_owner``, ``exec_command``,
  ``pointer_command``) and give the entry ``has_native_exec``; the collection never runs them;
- a field the collection does not know is a warning naming it, never a failure;
- the secret guard (secret_guard.find_secrets) runs over the whole document first: a value that
  looks like secret material is refused, naming the field and the kind, never the value.

Matching a need to an entry is in ``_routing/match.py``; placeholders and the route shape in
``_routing/route.py``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import difflib
import os
import re

from ansible_collections.netkingdom.warden.plugins.module_utils._inventory.actors import load_yaml_text
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError
from ansible_collections.netkingdom.warden.plugins.module_utils._settings.text_file import read_text_file
from ansible_collections.netkingdom.warden.plugins.module_utils._registry.snapshot import GATED_LANE, POLICY_REF_RE
from ansible_collections.netkingdom.warden.plugins.module_utils._audit.secret_guard import describe, find_secrets

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
LANES = ('secret', 'login')
STATUSES = ('active', 'draft', 'deprecated')
SSH_AUTH_METHOD = 'ssh-certificate'
ID_RE = re.compile(r'^[a-z0-9][a-z0-9._-]{0,127}\Z')
DATE_RE = re.compile(r'^\d{4}-\d{2}-\d{2}$')
WORD_RE = re.compile(r'[a-z0-9]+')
STOPWORDS = frozenset((
    'a', 'an', 'and', 'at', 'can', 'do', 'for', 'from', 'get', 'how', 'i', 'in', 'into', 'is', 'me',
    'my', 'need', 'of', 'on', 'or', 'please', 'the', 'to', 'via', 'want', 'what', 'which', 'with',
))


# -- words of a need or a keyword phrase --------------------------------------------------------

def _stem(word):
    if len(word) > 3 and word.endswith('s') and not word.endswith('ss'):
        return word[:-1]
    return word


def words(text):
    """The significant words of ``text``: lower case, no stop words, a plural ``s`` removed."""
    if not isinstance(text, str):
        return []
    return [_stem(w) for w in WORD_RE.findall(text.lower()) if w not in STOPWORDS]


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
        """The entry with this id, or None."""
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
    """Parse catalog YAML text (duplicate keys refused) and validate it; return a Catalog."""
    return validate_catalog(load_yaml_text(text, source), source=source, today=today, stale_days=stale_days)


def load_catalog_file(path, today=None, stale_days=STALE_DAYS):
    """Read and validate a catalog file (YAML, duplicate keys refused)."""
    if not isinstance(path, str) or not path:
        raise ValidationError([('catalog', 'is required: the path of the routing catalog (option catalog, '
                                'variable %s or environment %s); docs/examples/routing/catalog.yaml in the '
                                'collection shows the shape' % (CATALOG_VAR, CATALOG_ENV))], what='options')
    path = os.path.expanduser(path)
    text = read_text_file(path, 'the routing catalog', WHAT)
    return parse_catalog_text(text, source=path, today=today, stale_days=stale_days)


def has_native_exec(entry):
    """Whether the owner has a native way to hand the credential over, run by the caller with the owner's
    own tool (ops-warden's derived ``has_native_exec``): an ``exec_owner`` with an ``exec_command`` or a
    ``pointer_command``. The collection's choice of derivation, kept here only."""
    return bool(entry.get('exec_owner') and (entry.get('exec_command') or entry.get('pointer_command')))


def login_pointer(catalog, subsystem):
    """The first active login lane of a subsystem (where to get a token first), or None."""
    for entry in catalog.entries:
        if entry['lane'] == 'login' and entry['subsystem'] == subsystem and entry['status'] == 'active':
            return entry
    return None


def credential_lanes(catalog, access=None):
    """The gate's credential lanes (``_registry.build.build_snapshot``'s ``credential_lanes``) from a catalog.

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
