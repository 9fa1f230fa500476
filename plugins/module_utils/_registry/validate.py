# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validating and loading a registry snapshot: every wrong field named, references and digest checked.

Ids are unique, no reference dangles (tenant, system, subject, group, resource), each resource
is checked by its type, and the digest must match the content (a hand-edited or truncated file
is refused). A v1 snapshot is checked against its own digest and converted (``legacy.py``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.netkingdom.warden.plugins.module_utils._inventory.actors import ACTOR_TYPES, principal_problem
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError
from ansible_collections.netkingdom.warden.plugins.module_utils._settings.text_file import read_text_file
from ansible_collections.netkingdom.warden.plugins.module_utils._registry.legacy import V1_WARNING, convert_v1
from ansible_collections.netkingdom.warden.plugins.module_utils._registry.snapshot import (
    CREDENTIAL_RESOURCE_TYPE,
    RESOURCE_TYPE,
    SCHEMA,
    SCHEMA_V1,
    SYSTEM,
    compute_digest,
    dicts_in,
    lane_problems,
    resource_id,
)


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


def _check_manifest(manifest, where, problems):
    """A manifest is a mapping with an ``id`` (a problem each); False when it is not a mapping."""
    if not isinstance(manifest, dict):
        problems.append((where, 'must be a mapping'))
        return False
    if not isinstance(manifest.get('id'), str) or not manifest.get('id'):
        problems.append((where + '.id', 'is required'))
    return True


def _check_resource_manifests(snapshot, tenants, systems, subjects, problems):
    """Resource ids (unique across manifests), each checked by its type. Returns the ids."""
    ids = {}
    for number, manifest in enumerate(_list(snapshot, 'resource_manifests', problems)):
        where = 'resource_manifests[%d]' % number
        if not _check_manifest(manifest, where, problems):
            continue
        system = manifest.get('system')
        if not _known(system, systems):
            problems.append((where + '.system', 'unknown system %r (dangling reference)' % (system,)))
        declared = (systems.get(system) or {}).get('resource_types') if _known(system, systems) else None
        types = [t.get('type') for t in dicts_in(declared)]
        resources = manifest.get('resources')
        if not isinstance(resources, list):
            problems.append((where + '.resources', 'must be a list'))
            continue
        for index, res in enumerate(resources):
            rwhere = '%s.resources[%d]' % (where, index)
            if not _take_id(res, rwhere, ids, problems, res):
                continue
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
        if not _check_manifest(manifest, where, problems):
            continue
        for key, table in (('subjects', subjects), ('groups', groups)):
            items = manifest.get(key)
            if not isinstance(items, list):
                problems.append(('%s.%s' % (where, key), 'must be a list'))
                continue
            for index, item in enumerate(items):
                iwhere = '%s.%s[%d]' % (where, key, index)
                if not _take_id(item, iwhere, table, problems, (iwhere, item)):
                    continue
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
    """Parse JSON text and validate it (``validate_snapshot``); return the (v2) snapshot."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValidationError([(source, 'not valid JSON: %s' % exc)], what='registry snapshot')
    return validate_snapshot(data, warnings=warnings, source=source)


def load_snapshot_file(path, warnings=None):
    """Read a snapshot file (UTF-8 JSON) and validate it; raises ValidationError naming the file."""
    text = read_text_file(path, 'registry snapshot', 'registry snapshot')
    return parse_snapshot_text(text, source=path, warnings=warnings)


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
    """``{id: item}`` of a top-level list (``tenants``, ``systems``), each id required and unique."""
    ids = {}
    for index, item in enumerate(items):
        _take_id(item, '%s[%d]' % (key, index), ids, problems, item)
    return ids


def _take_id(item, where, table, problems, value):
    """Enter a mapping's ``id`` in ``table`` (-> ``value``) unless missing or a duplicate (a problem each).

    Returns False when ``item`` is not a mapping (also a problem), so the caller skips it.
    """
    if not isinstance(item, dict):
        problems.append((where, 'must be a mapping'))
        return False
    item_id = item.get('id')
    if not isinstance(item_id, str) or not item_id:
        problems.append((where + '.id', 'is required'))
    elif item_id in table:
        problems.append((where + '.id', 'duplicate id %r' % item_id))
    else:
        table[item_id] = value
    return True
