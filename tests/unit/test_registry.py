"""Registry snapshot: deterministic, digest-stable, validated with precise fields."""

import copy
import json

import pytest

from ansible_collections.netkingdom.warden.plugins.module_utils import registry as R
from ansible_collections.netkingdom.warden.plugins.module_utils.actors import load_actors
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError

INVENTORY = {
    'agt-state-hub-bridge': {'type': 'agt', 'principals': ['agt-task-bridge'], 'ttl_hours': 24,
                             'subjects': ['iam:agt-state-hub-bridge']},
    'adm-example': {'type': 'adm', 'principals': ['ops-admin', 'adm-example'], 'ttl_hours': 12},
    'atm-backup-daily': {'type': 'atm', 'principals': ['atm-backup']},
}


def snapshot(inventory=None, tenant=R.DEFAULT_TENANT):
    return R.build_snapshot(load_actors(inventory or INVENTORY)[0], tenant=tenant)


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


def test_snapshot_shape():
    snap = snapshot()
    res = dict((r['id'], r) for r in snap['resources'])['ssh-cert:actor/agt-state-hub-bridge']
    assert res['metadata'] == {
        'actor': 'agt-state-hub-bridge', 'actor_type': 'agt',
        'allowed_subjects': ['agt-state-hub-bridge', 'iam:agt-state-hub-bridge'],
        'principals': ['agt-task-bridge'], 'max_ttl_hours': 24, 'default_ttl_hours': 24,
        'description': ''}
    assert snap['systems'][0]['resource_types'][0]['actions'] == ['sign']
    assert {'subject': 'adm-example', 'relation': 'owner', 'resource': 'ssh-cert:actor/adm-example'} \
        in snap['relationships']
    assert [g['id'] for g in snap['groups']] == ['group:adm', 'group:agt', 'group:atm']
    assert R.validate_snapshot(json.loads(R.to_text(snap))) is not None


def _broken(mutate):
    snap = json.loads(R.to_text(snapshot()))
    mutate(snap)
    return snap


@pytest.mark.parametrize('mutate, field, words', [
    (lambda s: s.update(schema='other'), 'schema', 'must be'),
    (lambda s: s['relationships'].append({'subject': 'agt-ghost', 'relation': 'owner',
                                          'resource': 'ssh-cert:actor/agt-ghost'}),
     'relationships[3].subject', 'dangling'),
    (lambda s: s['resources'][0].update(tenant='tenant:other'), 'resources[0].tenant', 'dangling'),
    (lambda s: s['subjects'][0].update(groups=['group:nope']), 'subjects[0].groups', 'dangling'),
    (lambda s: s['resources'][1]['metadata'].update(principals=['a b']), 'resources[1].metadata.principals[0]',
     'whitespace'),
    (lambda s: s['resources'][1]['metadata'].update(max_ttl_hours=25), 'resources[1].metadata.max_ttl_hours',
     'above the agt maximum'),
    (lambda s: s['resources'][0]['metadata'].update(actor='adm-other'), 'resources[0].metadata.actor',
     'must name the actor'),
    (lambda s: s['subjects'].append(dict(s['subjects'][0])), 'subjects[3].id', 'duplicate id'),
    (lambda s: s.update(systems=[]), 'systems', "'ops-warden'"),
    (lambda s: s['resources'][2]['metadata'].update(principals=['atm-backup', 'root']), 'digest',
     'does not match the content'),
])
def test_validation_names_the_field(mutate, field, words):
    with pytest.raises(ValidationError) as info:
        R.validate_snapshot(_broken(mutate))
    assert field in info.value.fields, str(info.value)
    assert words in str(info.value)


def test_parse_rejects_non_json_and_non_object():
    with pytest.raises(ValidationError, match='not valid JSON'):
        R.parse_snapshot_text('{"schema": ', source='x.json')
    with pytest.raises(ValidationError, match='JSON object'):
        R.parse_snapshot_text('[]')


def test_index_and_changes_in_words():
    old = snapshot()
    new_inv = copy.deepcopy(INVENTORY)
    del new_inv['atm-backup-daily']
    new_inv['agt-new'] = {'type': 'agt', 'principals': ['agt-new']}
    new_inv['adm-example']['principals'] = ['adm-example']
    new = snapshot(new_inv)
    lines = R.describe_changes(old, new)
    assert 'add actor agt-new (agt): principals agt-new, TTL cap 24h' in lines
    assert 'remove actor atm-backup-daily: signing for it will be denied (unknown_actor_resource)' in lines
    assert 'adm-example: principals removed ops-admin' in lines
    index = R.RegistryIndex(new)
    assert index.resources['ssh-cert:actor/agt-new']['max_ttl_hours'] == 24
    assert index.digest == new['digest']


def test_bad_tenant_refused():
    with pytest.raises(ValidationError, match='tenant'):
        snapshot(tenant='platform')
