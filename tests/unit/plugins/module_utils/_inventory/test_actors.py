"""Actor inventory validation: every bad inventory names the actor and the field."""

import textwrap

import pytest

from ansible_collections.netkingdom.warden.plugins.module_utils._inventory import actors as A
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError

GOOD = {'type': 'agt', 'principals': ['agt-task-bridge'], 'ttl_hours': 24}


def inv(name='agt-state-hub-bridge', **fields):
    spec = dict(GOOD)
    spec.update(fields)
    return {name: spec}


# (case, inventory, field path that must be named, words the message must contain)
BAD_INVENTORIES = [
    ('unknown type', inv(type='bot'), "['agt-state-hub-bridge'].type", 'unknown actor type'),
    ('name without its prefix', {'state-hub-bridge': dict(GOOD)}, "['state-hub-bridge']", 'adm, agt or atm'),
    ('prefix of another type', inv(name='adm-bridge'), "['adm-bridge']", "type prefix 'agt-'"),
    ('ttl not a number', inv(ttl_hours='soon'), '.ttl_hours', 'number of hours'),
    ('ttl boolean', inv(ttl_hours=True), '.ttl_hours', 'boolean'),
    ('ttl zero', inv(ttl_hours=0), '.ttl_hours', 'greater than 0'),
    ('ttl negative', inv(ttl_hours=-1), '.ttl_hours', 'greater than 0'),
    ('ttl above agt max', inv(ttl_hours=25), '.ttl_hours', 'above the agt maximum of 24 hours'),
    ('ttl above atm max', {'atm-backup': {'type': 'atm', 'principals': ['b'], 'ttl_hours': 8.5}},
     '.ttl_hours', 'above the atm maximum of 8'),
    ('ttl above adm max', {'adm-x': {'type': 'adm', 'principals': ['x'], 'ttl_hours': 49}},
     '.ttl_hours', 'never clamped'),
    ('principal with space', inv(principals=['agt task']), '.principals[0]', 'whitespace'),
    ('principal with tab', inv(principals=['agt\ttask']), '.principals[0]', 'whitespace'),
    ('principal with newline', inv(principals=['agt\ntask']), '.principals[0]', 'control characters'),
    ('principal with comma', inv(principals=['a,b']), '.principals[0]', 'comma'),
    ('principal with hash', inv(principals=['a#b']), '.principals[0]', "'#'"),
    ('principal wildcard', inv(principals=['*']), '.principals[0]', "'*'"),
    ('principal empty', inv(principals=['ok', '']), '.principals[1]', 'must not be empty'),
    ('principal not a string', inv(principals=[7]), '.principals[0]', 'must be a string'),
    ('principals empty list', inv(principals=[]), '.principals', 'must not be empty'),
    ('principals a string', inv(principals='agt-task-bridge'), '.principals', 'must be a list'),
    ('principals missing', {'agt-x': {'type': 'agt'}}, "['agt-x'].principals", 'is required'),
    ('duplicate principal', inv(principals=['a', 'a']), '.principals[1]', 'duplicate principal'),
    ('subject with space', inv(subjects=['iam:agt x']), '.subjects[0]', 'subject id'),
    ('actor not a mapping', {'agt-x': ['agt']}, "['agt-x']", 'must be a mapping'),
    ('duplicate actor (list form)', [dict(GOOD, name='agt-x'), dict(GOOD, name='agt-x')], "['agt-x']",
     'duplicate actor'),
    ('not a mapping at all', 'agt-x', 'warden_actors', 'must be a mapping'),
]


@pytest.mark.parametrize('case, data, field, words', BAD_INVENTORIES, ids=[c[0] for c in BAD_INVENTORIES])
def test_bad_inventory_names_actor_and_field(case, data, field, words):
    with pytest.raises(ValidationError) as info:
        A.load_actors(data)
    message = str(info.value)
    assert field in message, message
    assert words in message, message
    assert 'Traceback' not in message


def test_every_problem_is_reported_at_once():
    data = {'agt-a': dict(GOOD, ttl_hours=30), 'atm-b': {'type': 'atm', 'principals': ['x y']}}
    with pytest.raises(ValidationError) as info:
        A.load_actors(data)
    assert len(info.value.problems) == 2
    assert info.value.fields == ["warden_actors['agt-a'].ttl_hours", "warden_actors['atm-b'].principals[0]"]


def test_good_inventory_normalised():
    actors, warnings = A.load_actors({'actors': {
        'agt-state-hub-bridge': dict(GOOD, subjects=['iam:agt-state-hub-bridge'], description='bridge'),
        'atm-backup-daily': {'principals': ['atm-backup']},  # type from the prefix, TTL the type max
    }})
    assert warnings == []
    bridge = actors['agt-state-hub-bridge']
    assert bridge['type'] == 'agt' and bridge['ttl_hours'] == 24 and bridge['max_ttl_hours'] == 24
    assert bridge['subjects'] == ['iam:agt-state-hub-bridge']
    assert actors['atm-backup-daily']['type'] == 'atm'
    assert actors['atm-backup-daily']['ttl_hours'] == 8


def test_ttl_at_each_type_max_is_accepted_and_numeric_strings_parse():
    actors, dummy = A.load_actors({
        'adm-a': {'principals': ['a'], 'ttl_hours': 48},
        'agt-b': {'principals': ['b'], 'ttl_hours': '24'},
        'atm-c': {'principals': ['c'], 'ttl_hours': 7.5},
    })
    assert [actors[n]['ttl_hours'] for n in ('adm-a', 'agt-b', 'atm-c')] == [48, 24, 7.5]


def test_unknown_fields_are_warnings_not_errors():
    dummy, warnings = A.load_actors(inv(principal='typo'))
    assert len(warnings) == 1 and ".principal" in warnings[0] and 'unknown field' in warnings[0]


def test_yaml_file_duplicate_actor_is_refused(tmp_path):
    path = tmp_path / 'inventory.yaml'
    path.write_text(textwrap.dedent('''\
        actors:
          agt-x: {type: agt, principals: [a]}
          agt-x: {type: agt, principals: [b]}
        '''))
    with pytest.raises(ValidationError) as info:
        A.load_inventory_file(str(path))
    assert 'duplicate key' in str(info.value) and "'agt-x'" in str(info.value)
    assert str(path) in str(info.value)


def test_yaml_file_errors_name_the_file(tmp_path):
    path = tmp_path / 'inventory.yaml'
    path.write_text('actors:\n  agt-x: {type: agt, principals: [a]\n')
    with pytest.raises(ValidationError) as info:
        A.load_inventory_file(str(path))
    assert str(path) in str(info.value) and 'not valid YAML' in str(info.value)
    missing = tmp_path / 'nope.yaml'
    with pytest.raises(ValidationError) as info:
        A.load_inventory_file(str(missing))
    assert 'cannot read inventory file' in str(info.value)


def test_file_problems_are_named_by_path(tmp_path):
    path = tmp_path / 'inventory.yaml'
    path.write_text('actors:\n  agt-x: {type: agt, principals: [a], ttl_hours: 99}\n')
    with pytest.raises(ValidationError) as info:
        A.load_inventory_file(str(path))
    assert "%s['agt-x'].ttl_hours" % path in str(info.value)


@pytest.mark.parametrize('value, expected', [
    ('agt-task-bridge', None), ('a.b_c-d@e', None), ('', 'empty'), ('a b', 'whitespace'),
    ('a\x00b', 'control'), ('a\x7fb', 'control'), ('a,b', 'comma'), ('#a', "'#'"), ('a*', "'*'"),
])
def test_principal_problem(value, expected):
    why = A.principal_problem(value)
    assert (why is None) if expected is None else (expected in why)


def test_resolve_actors_refuses_two_sources(tmp_path):
    with pytest.raises(ValidationError):
        A.resolve_actors({'agt-x': GOOD}, str(tmp_path / 'x.yaml'))
    assert A.resolve_actors(None, None) == (None, [])
