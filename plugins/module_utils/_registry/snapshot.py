# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The registry snapshot's format: its names, ids, canonical JSON and digest, and reading one.

The snapshot is the input of flex-auth and of the embedded evaluator. It holds flex-auth's
registry shapes (a resource manifest, a subject manifest, tenants, the protected system and
the relationships, as ``flex-auth load-registry --file`` takes them; see docs/registry-sync.md)
as canonical JSON (sorted keys, sorted lists), plus the collection's ``schema`` and
``digest: sha256:<hex>`` of its own content without the digest, so a deploy can compare
digests and stay idempotent. ``RegistryIndex`` is what the evaluator looks up in a validated one.

Built in ``build.py``, validated and loaded in ``validate.py``, the old v1 format converted in
``legacy.py``, summarised and compared in ``summary.py``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import re

from ansible_collections.netkingdom.warden.plugins.module_utils._inventory.actors import ACTOR_TYPES

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
    """The id of an actor's ``ssh-certificate`` resource: ``ssh-cert:actor/<name>``."""
    return RESOURCE_PREFIX + actor_name


def group_id(actor_type):
    """The id of an actor type's subject group: ``group:<type>``."""
    return 'group:%s' % actor_type


def canonical_json(data):
    """Stable text for hashing and writing: sorted keys, no spaces, UTF-8."""
    return json.dumps(data, sort_keys=True, separators=(',', ':'), ensure_ascii=False)


def compute_digest(snapshot):
    """``sha256:<hex>`` of the snapshot's canonical JSON without its ``digest``."""
    body = dict((k, v) for k, v in snapshot.items() if k != 'digest')
    return 'sha256:' + hashlib.sha256(canonical_json(body).encode('utf-8')).hexdigest()


def to_text(snapshot):
    """The file form: canonical JSON, indented for humans, newline-terminated."""
    return json.dumps(snapshot, sort_keys=True, indent=2, ensure_ascii=False) + '\n'


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


# --- reading a snapshot (any JSON value: these never raise on a malformed one) --------------------
def dicts_in(value):
    """The mappings of a list, in order (anything else than a list has none)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def iter_resources(snapshot):
    """Every resource of every resource manifest, in file order (dicts only)."""
    return [res for manifest in dicts_in((snapshot or {}).get('resource_manifests'))
            for res in dicts_in(manifest.get('resources'))]


def actor_resources(snapshot):
    """The ``ssh-certificate`` resources (one per actor), in file order."""
    return [r for r in iter_resources(snapshot) if r.get('type') == RESOURCE_TYPE]


def lane_resources_of(snapshot):
    """The ``credential-lane`` resources, in file order."""
    return [r for r in iter_resources(snapshot) if r.get('type') == CREDENTIAL_RESOURCE_TYPE]


def iter_subjects(snapshot):
    """Every subject of every subject manifest, in file order (dicts only)."""
    return [subject for manifest in dicts_in((snapshot or {}).get('subject_manifests'))
            for subject in dicts_in(manifest.get('subjects'))]


def count_actors(snapshot):
    """How many actors the snapshot holds."""
    return len(actor_resources(snapshot))


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
