"""Registry snapshot: deterministic, digest-stable, validated with precise fields."""

import copy
import json

import pytest

from ansible_collections.netkingdom.warden.plugins.module_utils._registry import snapshot as R
from ansible_collections.netkingdom.warden.plugins.module_utils._registry import build as RB
from ansible_collections.netkingdom.warden.plugins.module_utils._registry import validate as RV
from ansible_collections.netkingdom.warden.plugins.module_utils._registry import summary as RS
from ansible_collections.netkingdom.warden.plugins.module_utils._inventory.actors import load_actors
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError

INVENTORY = {
    'agt-state-hub-bridge': {'type': 'agt', 'principals': ['agt-task-bridge'], 'ttl_hours': 24,
                             'subjects': ['iam:agt-state-hub-bridge']},
    'adm-example': {'type': 'adm', 'principals': ['ops-admin', 'adm-example'], 'ttl_hours': 12},
    'atm-backup-daily': {'type': 'atm', 'principals': ['atm-backup']},
}


def snapshot(inventory=None, tenant=R.DEFAULT_TENANT):
    return RB.build_snapshot(load_actors(inventory or INVENTORY)[0], tenant=tenant)


def test_build_is_deterministic_whatever_the_input_order():
    reordered = dict(reversed(list(INVENTORY.items())))
    reordered['adm-example'] = dict(INVENTORY['adm-example'], principals=['adm-example', 'ops-admin'])
    a, b = snapshot(), snapshot(reordered)
    assert R.to_text(a) == R.to_text(b)
    assert a['digest'] == b['digest'] and a['digest'].startswith('sha256:') and len(a['digest']) == 71


def test_content_change_changes_digest():
    changed = copy.deepcopy(INVENTORY)
    changed['atm-backup-daily']['principals'].append('atm-restore')
    assert snapshot(changed)['digest'] != snapshot()['digest']
    assert snapshot(tenant='tenant:lab')['digest'] != snapshot()['digest']


def test_snapshot_shape_is_flex_auths_manifests():
    """CONTRACTS.md: a resource manifest {id, system, resources[{id, type, actions, metadata}]}, a subject
    manifest {id, subjects[...], groups[...], teams, tenants, metadata}, tenants, the system, relationships."""
    snap = snapshot()
    assert set(snap) == {'schema', 'tenants', 'systems', 'resource_manifests', 'subject_manifests',
                         'relationships', 'digest'}
    assert snap['schema'] == 'netkingdom.warden/registry-snapshot/v2'
    [manifest] = snap['resource_manifests']
    assert (manifest['id'], manifest['system']) == ('ops-warden:ssh-certificate', 'ops-warden')
    res = dict((r['id'], r) for r in manifest['resources'])['ssh-cert:actor/agt-state-hub-bridge']
    assert set(res) == {'id', 'type', 'actions', 'metadata'}
    assert (res['type'], res['actions']) == ('ssh-certificate', ['sign'])
    assert res['metadata'] == {
        'source': 'netkingdom.warden', 'flex_auth_contract': 'resource-registration-v0',
        'tenant': 'tenant:platform', 'actor': 'agt-state-hub-bridge', 'actor_type': 'agt',
        'allowed_subjects': ['agt-state-hub-bridge', 'iam:agt-state-hub-bridge'],
        'principals': ['agt-task-bridge'], 'max_ttl_hours': 24, 'default_ttl_hours': 24,
        'description': ''}
    atm = dict((r['id'], r) for r in manifest['resources'])['ssh-cert:actor/atm-backup-daily']
    assert atm['metadata']['max_ttl_hours'] == 8  # the type maximum: one TTL rule (issue 13 item 7)
    system = snap['systems'][0]
    assert (system['id'], system['namespace']) == ('ops-warden', 'ops-warden:ssh-certificate')
    assert system['resource_types'][0]['actions'] == ['sign']
    assert system['resource_types'][0]['policy_id'] == 'ops-warden.ssh-certificate.sign'
    [subjects] = snap['subject_manifests']
    assert set(subjects) == {'id', 'subjects', 'groups', 'teams', 'tenants', 'metadata'}
    subject = dict((s['id'], s) for s in subjects['subjects'])['agt-state-hub-bridge']
    assert set(subject) == {'id', 'type', 'display_name', 'organization_relation', 'roles', 'groups', 'tenant',
                            'claims', 'caring_descriptors', 'metadata'}
    assert (subject['type'], subject['tenant'], subject['groups']) == ('agt', 'tenant:platform', ['group:agt'])
    assert [(g['id'], g['tenant']) for g in subjects['groups']] == [
        ('group:adm', 'tenant:platform'), ('group:agt', 'tenant:platform'), ('group:atm', 'tenant:platform')]
    assert {'subject': 'adm-example', 'relation': 'owner', 'resource': 'ssh-cert:actor/adm-example'} \
        in snap['relationships']
    assert RV.validate_snapshot(json.loads(R.to_text(snap))) is not None


def _v1(snap):
    """The same registry in the old v1 layout (as the collection wrote it before v2)."""
    resources = []
    for res in R.iter_resources(snap):
        meta = dict(res['metadata'])
        tenant = meta.pop('tenant')
        meta.pop('source')
        meta.pop('flex_auth_contract')
        resources.append({'id': res['id'], 'type': res['type'], 'system': 'ops-warden', 'tenant': tenant,
                          'metadata': meta})
    old = {'schema': R.SCHEMA_V1, 'tenants': snap['tenants'],
           'systems': [{'id': 'ops-warden', 'resource_types': [{'type': 'ssh-certificate', 'actions': ['sign'],
                                                               'required_context': R.REQUIRED_CONTEXT}]}],
           'groups': [], 'subjects': [{'id': s['id'], 'type': s['type'], 'groups': [],
                                       'aliases': s['metadata']['aliases']} for s in R.iter_subjects(snap)],
           'resources': resources, 'relationships': snap['relationships']}
    old['digest'] = R.compute_digest(old)
    return old


def test_v1_snapshot_loads_converted_with_a_warning(tmp_path):
    snap = snapshot()
    path = tmp_path / 'old.json'
    path.write_text(R.to_text(_v1(snap)))
    warnings = []
    loaded = RV.load_snapshot_file(str(path), warnings=warnings)
    assert loaded == snap  # the same registry, digest included
    assert len(warnings) == 1 and 'old netkingdom.warden/registry-snapshot/v1 format' in warnings[0]
    assert 'netkingdom.warden.registry_snapshot -a "src=%s dest=<new file>"' % path in warnings[0]
    assert RS.summarize(_v1(snap)) == RS.summarize(snap)
    edited = _v1(snap)
    edited['resources'][0]['metadata']['principals'].append('root')  # v1 digest no longer matches
    with pytest.raises(ValidationError, match='does not match the content'):
        RV.validate_snapshot(edited)


def _broken(mutate):
    snap = json.loads(R.to_text(snapshot()))
    mutate(snap)
    return snap


RES = 'resource_manifests[0].resources[%d]'
SUBJ = 'subject_manifests[0].%s'


def _res(s, i):
    return s['resource_manifests'][0]['resources'][i]


@pytest.mark.parametrize('mutate, field, words', [
    (lambda s: s.update(schema='other'), 'schema', 'must be'),
    (lambda s: s['relationships'].append({'subject': 'agt-ghost', 'relation': 'owner',
                                          'resource': 'ssh-cert:actor/agt-ghost'}),
     'relationships[3].subject', 'dangling'),
    (lambda s: _res(s, 0)['metadata'].update(tenant='tenant:other'), RES % 0 + '.metadata.tenant', 'dangling'),
    (lambda s: s['subject_manifests'][0]['subjects'][0].update(groups=['group:nope']), SUBJ % 'subjects[0].groups',
     'dangling'),
    (lambda s: s['subject_manifests'][0]['subjects'][0].update(tenant='tenant:nope'), SUBJ % 'subjects[0].tenant',
     'dangling'),
    (lambda s: s['subject_manifests'][0]['groups'][0].update(members=['adm-ghost']), SUBJ % 'groups[0].members',
     'dangling'),
    (lambda s: _res(s, 1)['metadata'].update(principals=['a b']), RES % 1 + '.metadata.principals[0]', 'whitespace'),
    (lambda s: _res(s, 1)['metadata'].update(max_ttl_hours=25), RES % 1 + '.metadata.max_ttl_hours',
     'above the agt maximum'),
    (lambda s: _res(s, 0)['metadata'].update(actor='adm-other'), RES % 0 + '.metadata.actor', 'must name the actor'),
    (lambda s: _res(s, 0).update(type='ssh-host'), RES % 0 + '.type', 'does not declare'),
    (lambda s: s['resource_manifests'][0]['resources'].append(dict(_res(s, 0))), RES % 3 + '.id', 'duplicate id'),
    (lambda s: s['resource_manifests'][0].update(system='vault'), 'resource_manifests[0].system', 'dangling'),
    (lambda s: s['subject_manifests'][0]['subjects'].append(dict(s['subject_manifests'][0]['subjects'][0])),
     SUBJ % 'subjects[3].id', 'duplicate id'),
    (lambda s: s.update(systems=[]), 'systems', "'ops-warden'"),
    (lambda s: _res(s, 2)['metadata'].update(principals=['atm-backup', 'root']), 'digest',
     'does not match the content'),
])
def test_validation_names_the_field(mutate, field, words):
    with pytest.raises(ValidationError) as info:
        RV.validate_snapshot(_broken(mutate))
    assert field in info.value.fields, str(info.value)
    assert words in str(info.value)


def test_parse_rejects_non_json_and_non_object():
    with pytest.raises(ValidationError, match='not valid JSON'):
        RV.parse_snapshot_text('{"schema": ', source='x.json')
    with pytest.raises(ValidationError, match='JSON object'):
        RV.parse_snapshot_text('[]')


def test_index_and_changes_in_words():
    old = snapshot()
    new_inv = copy.deepcopy(INVENTORY)
    del new_inv['atm-backup-daily']
    new_inv['agt-new'] = {'type': 'agt', 'principals': ['agt-new']}
    new_inv['adm-example']['principals'] = ['adm-example']
    new = snapshot(new_inv)
    lines = RS.describe_changes(old, new)
    assert 'add actor agt-new (agt): principals agt-new, TTL cap 24h' in lines
    assert 'remove actor atm-backup-daily: signing for it will be denied (unknown_actor_resource)' in lines
    assert 'adm-example: principals removed ops-admin' in lines
    index = R.RegistryIndex(new)
    assert index.resources['ssh-cert:actor/agt-new']['max_ttl_hours'] == 24
    assert index.digest == new['digest']


def test_bad_tenant_refused():
    with pytest.raises(ValidationError, match='tenant'):
        snapshot(tenant='platform')
