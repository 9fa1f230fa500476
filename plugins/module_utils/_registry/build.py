# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Building a registry snapshot in flex-auth's shapes from validated actors and credential lanes.

The build is deterministic (sorted actors, lanes and lists): the same inventory always gives
the same digest. A snapshot built without lanes is byte-identical to one built before lanes
existed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.netkingdom.warden.plugins.module_utils._inventory.actors import ACTOR_TYPES, ACTOR_TYPE_NAMES
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError
from ansible_collections.netkingdom.warden.plugins.module_utils._registry.snapshot import (
    compute_digest,
    group_id,
    lane_problems,
    resource_id,
    ACTION,
    CREDENTIAL_ACTION,
    CREDENTIAL_CONTEXT,
    CREDENTIAL_POLICY_ID,
    CREDENTIAL_POLICY_PACKAGE,
    CREDENTIAL_RESOURCE_TYPE,
    DEFAULT_TENANT,
    LANE_MANIFEST_ID,
    NAMESPACE,
    OWNER_RELATION,
    POLICY_ID,
    POLICY_PACKAGE,
    REQUIRED_CONTEXT,
    RESOURCE_CONTRACT,
    RESOURCE_TYPE,
    SCHEMA,
    SIGN_MANIFEST_ID,
    SOURCE,
    SUBJECT_MANIFEST_ID,
    SYSTEM,
)


def allowed_subjects(actor):
    """The subject ids that may ask for an actor's certificate: its name and its aliases, sorted."""
    return sorted(set([actor['name']] + list(actor.get('subjects') or [])))


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
    allowed_subjects}`` (``_routing.catalog.credential_lanes`` builds it from the routing catalog).
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
