# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""flex-auth registry snapshot: deterministic build, digest, validation, index.

The snapshot is the input of flex-auth and of the embedded evaluator. It holds flex-auth's
registry shapes (a resource manifest, a subject manifest, tenants, the protected system and
the relationships, as ``flex-auth load-registry --file`` takes them; see docs/registry-sync.md)
as canonical JSON (sorted keys, sorted lists), plus the collection's ``schema`` and
``digest: sha256:<hex>`` of its own content without the digest, so a deploy can compare
digests and stay idempotent. Snapshots of the older ``v1`` format still load: they are
converted (``convert_v1``) with a warning.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import re

from ansible_collections.netkingdom.warden.plugins.module_utils._inventory.actors import (
    ACTOR_TYPES,
    ACTOR_TYPE_NAMES,
    load_actors,
    principal_problem,
)
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError

SCHEMA = 'netkingdom.warden/registry-snapshot/v2'
SCHEMA_V1 = 'netkingdom.warden/registry-snapshot/v1'
DEFAULT_TENANT = 'tenant:platform'
SYSTEM = 'ops-warden'
RESOURCE_TYPE = 'ssh-certificate'
ACTION = 'sign'
REQUIRED_CONTEXT = ['actor_type', 'principals', 'pubkey_fingerprint', 'ttl_hours']
RESOURCE_PREFIX = 'ssh-cert:actor/'
OWNER_RELATION = 'owner'
IAM_PREFIX = 'iam:'
# flex-auth's names for the ops-warden package (docs/policy-gate.md; policy/flex-auth/*.rego).
POLICY_ID = 'ops-warden.ssh-certificate.sign'
POLICY_PACKAGE = 'flexauth.ops_warden.ssh_signing'
NAMESPACE = 'ops-warden:ssh-certificate'
SOURCE = 'netkingdom.warden'
RESOURCE_CONTRACT = 'resource-registration-v0'
SIGN_MANIFEST_ID = 'ops-warden:ssh-certificate'
LANE_MANIFEST_ID = 'ops-warden:credential-lane'
SUBJECT_MANIFEST_ID = 'ops-warden:actors'

# Credential lanes (routing catalog entries the collection may fetch as the caller): one
# resource per gated lane, decided with action ``read`` (see gate.py). A snapshot built
# without lanes is byte-identical to one built before lanes existed (same digest).
CREDENTIAL_RESOURCE_TYPE = 'credential-lane'
CREDENTIAL_ACTION = 'read'
CREDENTIAL_CONTEXT = ['lane', 'need_id', 'owner_repo']
CREDENTIAL_POLICY_ID = 'ops-warden.credential-lane.read'
CREDENTIAL_POLICY_PACKAGE = 'flexauth.ops_warden.credential_read'
GATED_LANE = 'secret'
POLICY_REF_RE = re.compile(r'^[a-z][a-z0-9-]*:[A-Za-z0-9][A-Za-z0-9._/@-]*\Z')
LANE_SUBJECT_RE = re.compile(r'^[^\s,#*\x00-\x1f\x7f]+\Z')  # a subject id in a lane's access list


def resource_id(actor_name):
    return RESOURCE_PREFIX + actor_name


def group_id(actor_type):
    return 'group:%s' % actor_type


def canonical_json(data):
    """Stable text for hashing and writing: sorted keys, no spaces, UTF-8."""
    return json.dumps(data, sort_keys=True, separators=(',', ':'), ensure_ascii=False)


def compute_digest(snapshot):
    body = dict((k, v) for k, v in snapshot.items() if k != 'digest')
    return 'sha256:' + hashlib.sha256(canonical_json(body).encode('utf-8')).hexdigest()


def to_text(snapshot):
    """The file form: canonical JSON, indented for humans, newline-terminated."""
    return json.dumps(snapshot, sort_keys=True, indent=2, ensure_ascii=False) + '\n'


def allowed_subjects(actor):
    return sorted(set([actor['name']] + list(actor.get('subjects') or [])))


def lane_problems(lane, where):
    """(field, message) for one credential lane given to build_snapshot (see build_snapshot)."""
    problems = []
    if not isinstance(lane, dict):
        return [(where, 'must be a mapping')]
    ref = lane.get('policy_ref')
    if not isinstance(ref, str) or not POLICY_REF_RE.match(ref):
        problems.append((where + '.policy_ref', "must look like '<scheme>:<name>', for example "
                         "'credential-lane:npm-publish-token', got %r" % (ref,)))
    for name in ('need_id', 'owner_repo'):
        if not isinstance(lane.get(name), str) or not lane.get(name).strip():
            problems.append((where + '.' + name, 'must be a non-empty string'))
    if lane.get('lane') != GATED_LANE:
        problems.append((where + '.lane', 'only %r lanes are gated reads, got %r' % (GATED_LANE, lane.get('lane'))))
    subjects = lane.get('allowed_subjects')
    if subjects is None:
        subjects = []
    if not isinstance(subjects, (list, tuple)):
        problems.append((where + '.allowed_subjects', 'must be a list of subject ids'))
    else:
        for index, subject in enumerate(subjects):
            if not isinstance(subject, str) or not LANE_SUBJECT_RE.match(subject):
                problems.append(('%s.allowed_subjects[%d]' % (where, index),
                                 'must be a subject id without whitespace, commas, #, * or control '
                                 'characters, got %r' % (subject,)))
    return problems


def lane_resources(lanes, tenant):
    """Snapshot resources for credential lanes, sorted by id. Raises ValidationError."""
    problems = []
    resources = {}
    for index, lane in enumerate(lanes or []):
        where = 'credential_lanes[%d]' % index
        found = lane_problems(lane, where)
        if not found and lane['policy_ref'] in resources:
            found = [(where + '.policy_ref', 'duplicate lane %r' % lane['policy_ref'])]
        problems.extend(found)
        if found:
            continue
        resources[lane['policy_ref']] = {
            'id': lane['policy_ref'],
            'type': CREDENTIAL_RESOURCE_TYPE,
            'actions': [CREDENTIAL_ACTION],
            'metadata': dict(_contract_metadata(), **{
                'tenant': tenant,
                'need_id': lane['need_id'],
                'lane': lane['lane'],
                'owner_repo': lane['owner_repo'],
                'allowed_subjects': sorted(set(lane.get('allowed_subjects') or [])),
            }),
        }
    if problems:
        raise ValidationError(problems, what='credential lanes')
    return [resources[key] for key in sorted(resources)]


def _type_name(actor_type):
    return ACTOR_TYPE_NAMES.get(actor_type, actor_type)


def build_snapshot(actors, tenant=DEFAULT_TENANT, credential_lanes=None):
    """Build the snapshot from validated actors (see actors.load_actors).

    The shapes are flex-auth's registry manifests: one resource manifest for the
    ``ssh-certificate`` resources (``ssh-cert:actor/<name>``, action ``sign``, the per-actor
    limits in ``metadata``), one subject manifest (a subject per actor with its tenant, a group
    per actor type), the tenants, the protected system and the ownership relationships; plus
    the collection's ``schema`` and ``digest``.

    ``credential_lanes`` (optional) adds a second resource manifest with one ``credential-lane``
    resource per gated lane: a list of ``{policy_ref, need_id, lane: secret, owner_repo,
    allowed_subjects}`` (``routing.credential_lanes`` builds it from the routing catalog).
    """
    if not isinstance(tenant, str) or not tenant.startswith('tenant:') or len(tenant) <= len('tenant:'):
        raise ValidationError([('tenant', "must look like 'tenant:<name>', got %r" % (tenant,))], what='options')
    lanes = lane_resources(credential_lanes, tenant)
    subjects = []
    resources = []
    relationships = []
    members = dict((t, []) for t in ACTOR_TYPES)
    for name in sorted(actors):
        actor = actors[name]
        members[actor['type']].append(name)
        subjects.append({
            'id': name,
            'type': actor['type'],
            'display_name': actor.get('description') or name,
            'organization_relation': _type_name(actor['type']),
            'roles': [],
            'groups': [group_id(actor['type'])],
            'tenant': tenant,
            'claims': {'actor_type': actor['type']},
            'caring_descriptors': [],
            'metadata': {'source': SOURCE, 'aliases': sorted(actor.get('subjects') or [])},
        })
        resources.append({
            'id': resource_id(name),
            'type': RESOURCE_TYPE,
            'actions': [ACTION],
            'metadata': dict(_contract_metadata(), **{
                'tenant': tenant,
                'actor': name,
                'actor_type': actor['type'],
                'allowed_subjects': allowed_subjects(actor),
                'principals': sorted(actor['principals']),
                'max_ttl_hours': ACTOR_TYPES[actor['type']],
                'default_ttl_hours': actor['ttl_hours'],
                'description': actor.get('description') or '',
            }),
        })
        relationships.append({'subject': name, 'relation': OWNER_RELATION, 'resource': resource_id(name)})
    resource_types = [{
        'type': RESOURCE_TYPE,
        'actions': [ACTION],
        'required_context': list(REQUIRED_CONTEXT),
        'policy_id': POLICY_ID,
        'policy_package': POLICY_PACKAGE,
    }]
    manifests = [{'id': SIGN_MANIFEST_ID, 'system': SYSTEM, 'resources': resources, 'metadata': _contract_metadata()}]
    if lanes:
        resource_types.append({
            'type': CREDENTIAL_RESOURCE_TYPE,
            'actions': [CREDENTIAL_ACTION],
            'required_context': list(CREDENTIAL_CONTEXT),
            'policy_id': CREDENTIAL_POLICY_ID,
            'policy_package': CREDENTIAL_POLICY_PACKAGE,
        })
        manifests.append({'id': LANE_MANIFEST_ID, 'system': SYSTEM, 'resources': lanes,
                          'metadata': _contract_metadata()})
    snapshot = {
        'schema': SCHEMA,
        'tenants': [{'id': tenant}],
        'systems': [{
            'id': SYSTEM,
            'namespace': NAMESPACE,
            'subject_types': sorted(ACTOR_TYPES),
            'resource_types': resource_types,
        }],
        'resource_manifests': manifests,
        'subject_manifests': [{
            'id': SUBJECT_MANIFEST_ID,
            'subjects': subjects,
            'groups': [{
                'id': group_id(t),
                'display_name': '%s actors (%s)' % (_type_name(t), t),
                'members': members[t],
                'tenant': tenant,
            } for t in sorted(ACTOR_TYPES)],
            'teams': [],
            'tenants': [{'id': tenant}],
            'metadata': {'source': SOURCE, 'system': SYSTEM},
        }],
        'relationships': relationships,
    }
    snapshot['digest'] = compute_digest(snapshot)
    return snapshot


def _contract_metadata():
    return {'source': SOURCE, 'flex_auth_contract': RESOURCE_CONTRACT}


# --- reading a snapshot (any JSON value: these never raise on a malformed one) --------------------
def _dicts(value):
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def iter_resources(snapshot):
    """Every resource of every resource manifest, in file order (dicts only)."""
    return [res for manifest in _dicts((snapshot or {}).get('resource_manifests'))
            for res in _dicts(manifest.get('resources'))]


def actor_resources(snapshot):
    return [r for r in iter_resources(snapshot) if r.get('type') == RESOURCE_TYPE]


def lane_resources_of(snapshot):
    return [r for r in iter_resources(snapshot) if r.get('type') == CREDENTIAL_RESOURCE_TYPE]


def iter_subjects(snapshot):
    """Every subject of every subject manifest, in file order (dicts only)."""
    return [subject for manifest in _dicts((snapshot or {}).get('subject_manifests'))
            for subject in _dicts(manifest.get('subjects'))]


def count_actors(snapshot):
    return len(actor_resources(snapshot))


# --- v1 (netkingdom.warden/registry-snapshot/v1): still loaded, converted, with a warning ---------
V1_WARNING = ('registry snapshot %s is in the old %s format: it was converted to %s for this run. Rewrite it '
              'once with: ansible localhost -m netkingdom.warden.registry_snapshot -a "src=%s dest=<new file>"')


def convert_v1(snapshot):
    """The v2 snapshot holding exactly what a v1 snapshot held (same actors, limits and lanes).

    The v1 digest is checked first: a hand-edited v1 file is refused like a hand-edited v2 one.
    Raises ValidationError.
    """
    problems = []
    if snapshot.get('digest') != compute_digest(snapshot):
        problems.append(('digest', 'does not match the content (has %r, content hashes to %r): the file was '
                         'edited by hand or is truncated' % (snapshot.get('digest'), compute_digest(snapshot))))
    resources = _dicts(snapshot.get('resources'))
    tenants = [t.get('id') for t in _dicts(snapshot.get('tenants'))]
    tenant = next((r.get('tenant') for r in resources if isinstance(r.get('tenant'), str)), None)
    tenant = tenant or (tenants[0] if tenants else DEFAULT_TENANT)
    actors = {}
    lanes = []
    for index, res in enumerate(resources):
        meta = res.get('metadata') if isinstance(res.get('metadata'), dict) else {}
        if res.get('tenant') != tenant:
            problems.append(('resources[%d].tenant' % index, 'a v1 snapshot converts only with one tenant (%s)'
                             % tenant))
        if res.get('type') == CREDENTIAL_RESOURCE_TYPE:
            lanes.append(dict((k, meta.get(k)) for k in ('need_id', 'lane', 'owner_repo', 'allowed_subjects')))
            lanes[-1]['policy_ref'] = res.get('id')
            continue
        name = meta.get('actor')
        aliases = [s for s in meta.get('allowed_subjects') or [] if s != name]
        actors[name] = {'name': name, 'type': meta.get('actor_type'), 'principals': list(meta.get('principals') or []),
                        'ttl_hours': meta.get('default_ttl_hours') or meta.get('max_ttl_hours'),
                        'description': meta.get('description') or '', 'subjects': aliases}
    if problems:
        raise ValidationError(problems, what='registry snapshot')
    try:
        checked, dummy = load_actors(dict((n, dict((k, v) for k, v in a.items() if k != 'name'))
                                          for n, a in actors.items()), source='resources')
    except ValidationError as exc:
        raise ValidationError(exc.problems, what='registry snapshot')
    return build_snapshot(checked, tenant=tenant, credential_lanes=lanes or None)


def _check_lane_resource(res, where, tenants, problems):
    meta = res.get('metadata')
    if not isinstance(meta, dict):
        problems.append((where + '.metadata', 'is required'))
        return
    if not _known(meta.get('tenant'), tenants):
        problems.append((where + '.metadata.tenant', 'unknown tenant %r (dangling reference)' % (meta.get('tenant'),)))
    lane = dict(meta, policy_ref=res.get('id'))
    problems.extend(lane_problems(lane, where + '.metadata'))


def _check_resource(res, where, tenants, subjects, problems):
    meta = res.get('metadata')
    if not isinstance(meta, dict):
        problems.append((where + '.metadata', 'is required'))
        return
    actor = meta.get('actor')
    actor_type = meta.get('actor_type')
    if not _known(meta.get('tenant'), tenants):
        problems.append((where + '.metadata.tenant', 'unknown tenant %r (dangling reference)' % (meta.get('tenant'),)))
    if not isinstance(actor, str) or res.get('id') != resource_id(actor):
        problems.append((where + '.metadata.actor', 'must name the actor of id %r' % (res.get('id'),)))
    if not _known(actor_type, ACTOR_TYPES):
        problems.append((where + '.metadata.actor_type', 'unknown actor type %r' % (actor_type,)))
    elif isinstance(actor, str) and not actor.startswith(actor_type + '-'):
        problems.append((where + '.metadata.actor', 'name must start with %r' % (actor_type + '-')))
    if not _known(actor, subjects):
        problems.append((where + '.metadata.actor', 'actor %r has no subject entry (dangling reference)' % (actor,)))
    principals = meta.get('principals')
    if not isinstance(principals, list) or not principals:
        problems.append((where + '.metadata.principals', 'must be a non-empty list'))
    else:
        for index, principal in enumerate(principals):
            why = principal_problem(principal)
            if why:
                problems.append((where + '.metadata.principals[%d]' % index, why))
    allowed = meta.get('allowed_subjects')
    if not isinstance(allowed, list) or not all(isinstance(s, str) and s for s in allowed):
        problems.append((where + '.metadata.allowed_subjects', 'must be a list of subject ids'))
    max_ttl = meta.get('max_ttl_hours')
    if isinstance(max_ttl, bool) or not isinstance(max_ttl, (int, float)) or max_ttl <= 0:
        problems.append((where + '.metadata.max_ttl_hours', 'must be a positive number'))
    elif _known(actor_type, ACTOR_TYPES) and max_ttl > ACTOR_TYPES[actor_type]:
        problems.append((where + '.metadata.max_ttl_hours', '%s is above the %s maximum of %d hours'
                         % (max_ttl, actor_type, ACTOR_TYPES[actor_type])))


def _check_resource_manifests(snapshot, tenants, systems, subjects, problems):
    """Resource ids (unique across manifests), each checked by its type. Returns the ids."""
    ids = set()
    for number, manifest in enumerate(_list(snapshot, 'resource_manifests', problems)):
        where = 'resource_manifests[%d]' % number
        if not isinstance(manifest, dict):
            problems.append((where, 'must be a mapping'))
            continue
        if not isinstance(manifest.get('id'), str) or not manifest.get('id'):
            problems.append((where + '.id', 'is required'))
        system = manifest.get('system')
        if not _known(system, systems):
            problems.append((where + '.system', 'unknown system %r (dangling reference)' % (system,)))
        declared = (systems.get(system) or {}).get('resource_types') if _known(system, systems) else None
        types = [t.get('type') for t in _dicts(declared)]
        resources = manifest.get('resources')
        if not isinstance(resources, list):
            problems.append((where + '.resources', 'must be a list'))
            continue
        for index, res in enumerate(resources):
            rwhere = '%s.resources[%d]' % (where, index)
            if not isinstance(res, dict):
                problems.append((rwhere, 'must be a mapping'))
                continue
            rid = res.get('id')
            if not isinstance(rid, str) or not rid:
                problems.append((rwhere + '.id', 'is required'))
            elif rid in ids:
                problems.append((rwhere + '.id', 'duplicate id %r' % rid))
            else:
                ids.add(rid)
            if res.get('type') not in types:
                problems.append((rwhere + '.type', 'the system %r does not declare the resource type %r'
                                 % (system, res.get('type'))))
            elif res['type'] == CREDENTIAL_RESOURCE_TYPE:
                _check_lane_resource(res, rwhere, tenants, problems)
            elif res['type'] == RESOURCE_TYPE:
                _check_resource(res, rwhere, tenants, subjects, problems)
    return ids


def _check_subject_manifests(snapshot, tenants, problems):
    """Subjects and groups (ids unique across manifests, no dangling group, member or tenant)."""
    manifests = _list(snapshot, 'subject_manifests', problems)
    subjects, groups = {}, {}
    for number, manifest in enumerate(manifests):
        where = 'subject_manifests[%d]' % number
        if not isinstance(manifest, dict):
            problems.append((where, 'must be a mapping'))
            continue
        if not isinstance(manifest.get('id'), str) or not manifest.get('id'):
            problems.append((where + '.id', 'is required'))
        for key, table in (('subjects', subjects), ('groups', groups)):
            items = manifest.get(key)
            if not isinstance(items, list):
                problems.append(('%s.%s' % (where, key), 'must be a list'))
                continue
            for index, item in enumerate(items):
                iwhere = '%s.%s[%d]' % (where, key, index)
                if not isinstance(item, dict):
                    problems.append((iwhere, 'must be a mapping'))
                    continue
                item_id = item.get('id')
                if not isinstance(item_id, str) or not item_id:
                    problems.append((iwhere + '.id', 'is required'))
                elif item_id in table:
                    problems.append((iwhere + '.id', 'duplicate id %r' % item_id))
                else:
                    table[item_id] = (iwhere, item)
                if not _known(item.get('tenant'), tenants):
                    problems.append((iwhere + '.tenant', 'unknown tenant %r (dangling reference)' % (item.get('tenant'),)))
    for sid, (where, subject) in sorted(subjects.items()):
        if not _known(subject.get('type'), ACTOR_TYPES):
            problems.append((where + '.type', 'unknown actor type %r' % (subject.get('type'),)))
        if not isinstance(subject.get('groups') or [], list):
            problems.append((where + '.groups', 'must be a list of group ids'))
            continue
        for group in subject.get('groups') or []:
            if not _known(group, groups):
                problems.append((where + '.groups', 'unknown group %r (dangling reference)' % (group,)))
    for gid, (where, group) in sorted(groups.items()):
        members = group.get('members')
        if not isinstance(members, list):
            problems.append((where + '.members', 'must be a list of subject ids'))
            continue
        for member in members:
            if not _known(member, subjects):
                problems.append((where + '.members', 'unknown subject %r (dangling reference)' % (member,)))
    return subjects


def validate_snapshot(snapshot, check_digest=True, warnings=None, source='registry snapshot'):
    """Raise ValidationError naming every wrong field; return the (v2) snapshot.

    A v1 snapshot (``netkingdom.warden/registry-snapshot/v1``) is checked against its own digest,
    converted (``convert_v1``) and returned as v2; a warning saying so is appended to ``warnings``.
    """
    if not isinstance(snapshot, dict):
        raise ValidationError([('', 'a registry snapshot must be a JSON object')], what='registry snapshot')
    if snapshot.get('schema') == SCHEMA_V1:
        converted = validate_snapshot(convert_v1(snapshot))
        if warnings is not None:
            warnings.append(V1_WARNING % (source, SCHEMA_V1, SCHEMA, source))
        return converted
    problems = []
    if snapshot.get('schema') != SCHEMA:
        problems.append(('schema', 'must be %r (or the old %r), got %r' % (SCHEMA, SCHEMA_V1, snapshot.get('schema'))))
    tenants = _ids(_list(snapshot, 'tenants', problems), 'tenants', problems)
    systems = _ids(_list(snapshot, 'systems', problems), 'systems', problems)
    if SYSTEM not in systems:
        problems.append(('systems', 'must declare the protected system %r' % SYSTEM))
    subjects = _check_subject_manifests(snapshot, tenants, problems)
    resources = _check_resource_manifests(snapshot, tenants, systems, subjects, problems)
    for index, rel in enumerate(_list(snapshot, 'relationships', problems)):
        where = 'relationships[%d]' % index
        if not isinstance(rel, dict):
            problems.append((where, 'must be a mapping'))
            continue
        if not _known(rel.get('subject'), subjects):
            problems.append((where + '.subject', 'unknown subject %r (dangling reference)' % (rel.get('subject'),)))
        if not _known(rel.get('resource'), resources):
            problems.append((where + '.resource', 'unknown resource %r (dangling reference)' % (rel.get('resource'),)))

    if check_digest and not problems:
        digest = snapshot.get('digest')
        expected = compute_digest(snapshot)
        if digest != expected:
            problems.append(('digest', 'does not match the content (has %r, content hashes to %r): '
                             'the file was edited by hand or is truncated' % (digest, expected)))
    if problems:
        raise ValidationError(problems, what='registry snapshot')
    return snapshot


def parse_snapshot_text(text, source='registry snapshot', warnings=None):
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValidationError([(source, 'not valid JSON: %s' % exc)], what='registry snapshot')
    return validate_snapshot(data, warnings=warnings, source=source)


def load_snapshot_file(path, warnings=None):
    try:
        with open(path, 'rb') as handle:
            text = handle.read().decode('utf-8')
    except (IOError, OSError) as exc:
        raise ValidationError([(path, 'cannot read registry snapshot: %s' % exc.strerror)], what='registry snapshot')
    except UnicodeDecodeError:
        raise ValidationError([(path, 'registry snapshot is not UTF-8 text')], what='registry snapshot')
    return parse_snapshot_text(text, source=path, warnings=warnings)


class RegistryIndex(object):
    """What the evaluator needs from a (validated) snapshot, keyed for O(1) look-ups."""

    def __init__(self, snapshot, warnings=None):
        self.digest = snapshot.get('digest')
        self.warnings = list(warnings or [])
        self.tenants = frozenset(t['id'] for t in snapshot['tenants'])
        self.resources = {}
        self.lanes = {}
        for res in iter_resources(snapshot):
            meta = res['metadata']
            if res.get('type') == CREDENTIAL_RESOURCE_TYPE:
                self.lanes[res['id']] = {
                    'need_id': meta['need_id'],
                    'lane': meta['lane'],
                    'owner_repo': meta['owner_repo'],
                    'tenant': meta['tenant'],
                    'allowed_subjects': frozenset(meta.get('allowed_subjects') or []),
                }
                continue
            self.resources[res['id']] = {
                'actor': meta['actor'],
                'actor_type': meta['actor_type'],
                'tenant': meta['tenant'],
                'type': res['type'],
                'allowed_subjects': frozenset(meta['allowed_subjects']),
                'principals': frozenset(meta['principals']),
                'max_ttl_hours': min(meta['max_ttl_hours'], ACTOR_TYPES[meta['actor_type']]),
            }
        # Actor names by the subject ids that name them (the actor itself and iam:<actor>): a
        # subject naming one actor is never allowed another actor's certificate by that name.
        self.actor_subjects = {}
        for res in self.resources.values():
            self.actor_subjects[res['actor']] = res['actor']
            self.actor_subjects[IAM_PREFIX + res['actor']] = res['actor']


def _known(value, table):
    """``value in table`` for any JSON value (a list or an object is never a known id)."""
    return isinstance(value, str) and value in table


def _list(snapshot, key, problems):
    value = snapshot.get(key)
    if not isinstance(value, list):
        problems.append((key, 'must be a list'))
        return []
    return value


def _ids(items, key, problems):
    ids = {}
    for index, item in enumerate(items):
        where = '%s[%d]' % (key, index)
        if not isinstance(item, dict):
            problems.append((where, 'must be a mapping'))
            continue
        item_id = item.get('id')
        if not isinstance(item_id, str) or not item_id:
            problems.append((where + '.id', 'is required'))
        elif item_id in ids:
            problems.append((where + '.id', 'duplicate id %r' % item_id))
        else:
            ids[item_id] = item
    return ids


def _as_v2(snapshot):
    """A v1 snapshot converted (for describing what a deploy replaces); anything else as it is."""
    if isinstance(snapshot, dict) and snapshot.get('schema') == SCHEMA_V1:
        try:
            return convert_v1(snapshot)
        except ValidationError:
            return {}
    return snapshot if isinstance(snapshot, dict) else {}


def summarize(snapshot):
    """Per-actor view a policy owner reads: type, principals, TTL cap, subjects."""
    snapshot = _as_v2(snapshot)
    view = {}
    for res in actor_resources(snapshot):
        meta = res.get('metadata') if isinstance(res.get('metadata'), dict) else {}
        view[meta.get('actor')] = {
            'type': meta.get('actor_type'),
            'principals': list(meta.get('principals') or []),
            'max_ttl_hours': meta.get('max_ttl_hours'),
            'default_ttl_hours': meta.get('default_ttl_hours'),
            'allowed_subjects': list(meta.get('allowed_subjects') or []),
        }
    return view


def summarize_lanes(snapshot):
    """Per credential lane: need id, owner and allowed subjects."""
    view = {}
    for res in lane_resources_of(_as_v2(snapshot)):
        meta = res.get('metadata') if isinstance(res.get('metadata'), dict) else {}
        view[res.get('id')] = {'need_id': meta.get('need_id'), 'owner_repo': meta.get('owner_repo'),
                               'allowed_subjects': list(meta.get('allowed_subjects') or [])}
    return view


def _lane_changes(old, new):
    before = summarize_lanes(old or {})
    after = summarize_lanes(new)
    lines = []
    for ref in sorted(set(before) | set(after)):
        if ref not in before:
            lines.append('add credential lane %s (%s, owner %s): readable by %s'
                         % (ref, after[ref]['need_id'], after[ref]['owner_repo'],
                            ', '.join(after[ref]['allowed_subjects']) or 'nobody'))
        elif ref not in after:
            lines.append('remove credential lane %s: reads will be denied (unknown_credential_lane)' % ref)
        else:
            added = sorted(set(after[ref]['allowed_subjects']) - set(before[ref]['allowed_subjects']))
            removed = sorted(set(before[ref]['allowed_subjects']) - set(after[ref]['allowed_subjects']))
            if added:
                lines.append('%s: readers added %s' % (ref, ', '.join(added)))
            if removed:
                lines.append('%s: readers removed %s' % (ref, ', '.join(removed)))
    return lines


def describe_changes(old, new):
    """Human sentences for what a new snapshot changes relative to the old one."""
    before = summarize(old or {})
    after = summarize(new)
    lines = []
    for name in sorted(set(before) | set(after)):
        if name not in before:
            a = after[name]
            lines.append('add actor %s (%s): principals %s, TTL cap %sh'
                         % (name, a['type'], ', '.join(a['principals']), a['max_ttl_hours']))
        elif name not in after:
            lines.append('remove actor %s: signing for it will be denied (unknown_actor_resource)' % name)
        else:
            b, a = before[name], after[name]
            for key, label in (('type', 'type'), ('max_ttl_hours', 'TTL cap'),
                               ('default_ttl_hours', 'default TTL')):
                if b[key] != a[key]:
                    lines.append('%s: %s %s -> %s' % (name, label, b[key], a[key]))
            added = sorted(set(a['principals']) - set(b['principals']))
            removed = sorted(set(b['principals']) - set(a['principals']))
            if added:
                lines.append('%s: principals added %s' % (name, ', '.join(added)))
            if removed:
                lines.append('%s: principals removed %s' % (name, ', '.join(removed)))
            sadd = sorted(set(a['allowed_subjects']) - set(b['allowed_subjects']))
            srem = sorted(set(b['allowed_subjects']) - set(a['allowed_subjects']))
            if sadd:
                lines.append('%s: subjects allowed %s' % (name, ', '.join(sadd)))
            if srem:
                lines.append('%s: subjects no longer allowed %s' % (name, ', '.join(srem)))
    return lines + _lane_changes(old, new)
