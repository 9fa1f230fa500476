# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Actor inventory: loading and strict validation.

The inventory has the shape of ops-warden's ``inventory.yaml`` so an existing
file works unchanged::

    actors:                       # or warden_actors:, or the mapping itself
      agt-state-hub-bridge:
        type: agt
        principals: [agt-task-bridge]
        ttl_hours: 24
        description: ops-bridge tunnel to state-hub backend
        subjects: [iam:agt-state-hub-bridge]
        subject: iam:agt-state-hub-bridge   # optional: what fleet runs send for this actor

Every problem is reported with the actor and the field; a TTL above the type
maximum is rejected, never clamped.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
import re

from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError
from ansible_collections.netkingdom.warden.plugins.module_utils._settings.text_file import read_text_file

try:
    import yaml
    HAS_YAML = True
except ImportError:  # pragma: no cover - pyyaml ships with ansible-core
    HAS_YAML = False

# Maximum certificate lifetime by actor type, in hours (ops-warden policy).
ACTOR_TYPES = {'adm': 48, 'agt': 24, 'atm': 8}
ACTOR_TYPE_NAMES = {'adm': 'human', 'agt': 'agent', 'atm': 'automation'}

KNOWN_FIELDS = ('type', 'principals', 'ttl_hours', 'description', 'subjects', 'subject')
ACTOR_NAME_RE = re.compile(r'^(adm|agt|atm)-[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?\Z')
SUBJECT_RE = re.compile(r'^[^\s\x00-\x1f\x7f]+\Z')


def shown(value):
    """``value`` for a message: quoted, every character outside printable ASCII as an escape
    (``'ops\\u200broot'``), so an invisible or look-alike character is never shown raw."""
    return ascii(value)


def _character(value, index):
    return '%s at position %d of %s' % (shown(value[index]), index, shown(value))


def principal_problem(value):
    """Return why ``value`` cannot be an SSH principal, or None when it can.

    A principal ends up as one line of an AuthorizedPrincipalsFile and inside a
    certificate: whitespace, commas and ``#`` change how sshd reads that line,
    ``*`` would read as a wildcard, control characters hide in logs and split lines,
    and anything outside printable ASCII can look like another name (``r\\u043e\\u043et``
    for ``root``, a zero-width space): OpenSSH user and principal names are printable ASCII.
    """
    if not isinstance(value, str):
        return 'must be a string, got %s' % type(value).__name__
    if value == '':
        return 'must not be empty'
    for index, ch in enumerate(value):
        if ch in ' \t':
            return 'must not contain whitespace (%s)' % _character(value, index)
        if ord(ch) < 32 or ord(ch) == 127:
            return 'must not contain control characters (%s)' % _character(value, index)
        if ord(ch) > 126:
            return 'must be printable ASCII, as OpenSSH principals are (%s)' % _character(value, index)
        if ch == ',':
            return 'must not contain a comma (%s)' % shown(value)
        if ch == '#':
            return "must not contain '#' (%s)" % shown(value)
        if ch == '*':
            return "must not contain '*' (%s)" % shown(value)
    return None


def parse_ttl_hours(value):
    """Return ``value`` as a positive number of hours, or raise ValueError."""
    if isinstance(value, bool):
        raise ValueError('must be a number of hours, got a boolean')
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ValueError('must be a number of hours, got %r' % value)
    if not isinstance(value, (int, float)):
        raise ValueError('must be a number of hours, got %s' % type(value).__name__)
    try:
        finite = not (math.isnan(value) or math.isinf(value))
    except OverflowError:  # an int too large for a float
        finite = False
    if not finite:
        raise ValueError('must be a finite number of hours')
    if value <= 0:
        raise ValueError('must be greater than 0, got %s' % _fmt_hours(value))
    if float(value).is_integer():
        return int(value)
    return float(value)


def _fmt_hours(value):
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def actor_type_of(name):
    """The type encoded in an actor name's prefix, or None."""
    if isinstance(name, str) and len(name) > 4 and name[3] == '-' and name[:3] in ACTOR_TYPES:
        return name[:3]
    return None


def _field(source, name, field=None):
    path = '%s[%s]' % (source, shown(name))
    return '%s.%s' % (path, field) if field else path


def _validate_actor(name, spec, source, problems, warnings):
    def where(field=None):
        return _field(source, name, field)

    if not isinstance(name, str) or not ACTOR_NAME_RE.match(name):
        problems.append((where(), 'actor name must be <type>-<name> with type adm, agt or atm '
                         'and only lowercase letters, digits, ".", "_" and "-" (got %s)' % shown(name)))
    if not isinstance(spec, dict):
        problems.append((where(), 'must be a mapping of actor fields, got %s' % type(spec).__name__))
        return None

    actor_type = spec.get('type')
    if actor_type is None:
        actor_type = actor_type_of(name)
        if actor_type is None:
            problems.append((where('type'), 'is required (adm, agt or atm)'))
    elif not isinstance(actor_type, str) or actor_type not in ACTOR_TYPES:
        problems.append((where('type'), 'unknown actor type %r (expected adm, agt or atm)' % (actor_type,)))
        actor_type = None
    elif isinstance(name, str) and actor_type_of(name) != actor_type:
        problems.append((where(), 'name must start with its type prefix %r (type is %s)' % (actor_type + '-', actor_type)))

    principals = spec.get('principals')
    if principals is None:
        problems.append((where('principals'), 'is required (a non-empty list)'))
        principals = []
    elif isinstance(principals, str) or not isinstance(principals, (list, tuple)):
        problems.append((where('principals'), 'must be a list of principals, got %s' % type(principals).__name__))
        principals = []
    elif not principals:
        problems.append((where('principals'), 'must not be empty'))
    else:
        seen = set()
        for index, principal in enumerate(principals):
            why = principal_problem(principal)
            if why:
                problems.append((where('principals[%d]' % index), why))
            elif principal in seen:
                problems.append((where('principals[%d]' % index), 'duplicate principal %r' % principal))
            else:
                seen.add(principal)

    max_ttl = ACTOR_TYPES.get(actor_type)
    ttl = spec.get('ttl_hours', max_ttl)
    if ttl is None and actor_type is not None:
        ttl = max_ttl
    if ttl is not None:
        try:
            ttl = parse_ttl_hours(ttl)
        except ValueError as exc:
            problems.append((where('ttl_hours'), str(exc)))
            ttl = None
        else:
            if max_ttl is not None and ttl > max_ttl:
                problems.append((where('ttl_hours'), '%s is above the %s maximum of %d hours '
                                 '(rejected, never clamped)' % (_fmt_hours(ttl), actor_type, max_ttl)))

    subjects = spec.get('subjects', [])
    if subjects is None:
        subjects = []
    if isinstance(subjects, str) or not isinstance(subjects, (list, tuple)):
        problems.append((where('subjects'), 'must be a list of subject ids, got %s' % type(subjects).__name__))
        subjects = []
    for index, subject in enumerate(subjects):
        if not isinstance(subject, str) or not SUBJECT_RE.match(subject):
            problems.append((where('subjects[%d]' % index), 'must be a non-empty subject id without '
                             'whitespace or control characters (got %r)' % (subject,)))

    # The subject id fleet runs send for this actor (policy.subject_for): one the policy allows.
    subject = spec.get('subject')
    if subject is not None and (not isinstance(subject, str) or subject not in (
            [name, 'iam:%s' % name] + [s for s in subjects if isinstance(s, str)])):
        problems.append((where('subject'), 'must be the actor name, iam:%s or one of its subjects (got %r)'
                         % (name, subject)))
        subject = None

    description = spec.get('description', '')
    if description is None:
        description = ''
    if not isinstance(description, str):
        problems.append((where('description'), 'must be a string'))
        description = ''

    for key in spec:
        if key not in KNOWN_FIELDS:
            warnings.append('%s: unknown field ignored (known fields: %s)' % (where(key), ', '.join(KNOWN_FIELDS)))

    return {
        'name': name,
        'type': actor_type,
        'principals': list(principals),
        'ttl_hours': ttl,
        'max_ttl_hours': max_ttl,
        'description': description,
        'subjects': sorted(set(s for s in subjects if isinstance(s, str))),
        'subject': subject,
    }


def _entries(data, source, problems):
    """Yield (name, spec) from the mapping or list form of the inventory."""
    if isinstance(data, dict):
        for name, spec in data.items():
            yield name, spec
    elif isinstance(data, (list, tuple)):
        for index, item in enumerate(data):
            if not isinstance(item, dict) or 'name' not in item:
                problems.append(('%s[%d]' % (source, index), 'list entries must be mappings with a "name"'))
                continue
            spec = dict(item)
            yield spec.pop('name'), spec
    else:
        problems.append((source, 'must be a mapping of actor name to fields, got %s' % type(data).__name__))


def unwrap_inventory(data):
    """Accept ``{actors: ...}``, ``{warden_actors: ...}`` or the actor mapping itself."""
    if isinstance(data, dict):
        for key in ('actors', 'warden_actors'):
            if key in data and isinstance(data[key], (dict, list)):
                return data[key]
    return data


def load_actors(data, source='warden_actors'):
    """Validate an actor inventory and return ``(actors, warnings)``.

    ``actors`` maps each name to a normalised dict. Raises ValidationError
    listing every problem (actor and field) when anything is wrong.
    """
    problems = []
    warnings = []
    actors = {}
    if data is None:
        raise ValidationError([(source, 'no actors given')], what='actor inventory')
    for name, spec in _entries(unwrap_inventory(data), source, problems):
        if name in actors:
            problems.append((_field(source, name), 'duplicate actor'))
            continue
        actor = _validate_actor(name, spec, source, problems, warnings)
        if actor is not None:
            actors[name] = actor
    if not actors and not problems:
        problems.append((source, 'no actors defined'))
    if problems:
        raise ValidationError(problems, what='actor inventory')
    return actors, warnings


if HAS_YAML:
    class _StrictLoader(yaml.SafeLoader):
        """SafeLoader that refuses duplicate keys instead of keeping the last one."""

    def _construct_mapping(loader, node, deep=False):
        loader.flatten_mapping(node)
        seen = {}
        for key_node, dummy in node.value:
            key = loader.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    'while constructing a mapping', node.start_mark,
                    'duplicate key %r (first at line %d)' % (key, seen[key] + 1), key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return loader.construct_mapping(node, deep=deep)

    _StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml_text(text, source):
    """Parse YAML, refusing duplicate keys; errors name the file and line."""
    if not HAS_YAML:
        raise ValidationError([(source, 'PyYAML is required to read YAML files')], what='file')
    try:
        return yaml.load(text, Loader=_StrictLoader)  # nosec - SafeLoader subclass
    except yaml.YAMLError as exc:
        detail = str(exc).replace('\n', ' ')
        if 'duplicate key' in detail:
            detail = 'duplicate key: ' + detail
        raise ValidationError([(source, 'not valid YAML: %s' % detail)], what='file')
    except ValueError as exc:  # a value the YAML constructors refuse (an integer of 4,300+ digits)
        raise ValidationError([(source, 'not valid YAML: %s' % str(exc).split(':', maxsplit=1)[0])], what='file')


def load_inventory_file(path):
    """Read and validate an inventory file. Returns ``(actors, warnings)``."""
    text = read_text_file(path, 'inventory file', 'actor inventory')
    return load_actors(load_yaml_text(text, path), source=path)


def resolve_actors(actors=None, inventory_file=None):
    """Actors from a dict (``warden_actors``) or a file; exactly one source."""
    if actors is not None and inventory_file:
        raise ValidationError([('actors', 'give either actors or inventory_file, not both')], what='options')
    if inventory_file:
        return load_inventory_file(inventory_file)
    if actors is not None:
        return load_actors(actors)
    return None, []
