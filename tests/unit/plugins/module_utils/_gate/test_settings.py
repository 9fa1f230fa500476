"""Gate settings and the policy check path (no network: embedded and off modes)."""

import pytest

from ansible_collections.netkingdom.warden.plugins.module_utils._gate import gate as P
from ansible_collections.netkingdom.warden.plugins.module_utils._gate.settings import GateSettings
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError

ACTORS = {'agt-state-hub-bridge': {'type': 'agt', 'principals': ['agt-task-bridge'], 'ttl_hours': 24,
                                   'subjects': ['iam:agt-state-hub-bridge']}}
FP = 'SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU'


def test_defaults_and_env_fallbacks():
    s = GateSettings({}, env={})
    assert (s.mode, s.fail_closed, s.tenant, s.timeout, s.retries) == ('embedded', True, 'tenant:platform', 5.0, 2)
    s = GateSettings({'mode': None}, env={'WARDEN_POLICY_MODE': 'flex_auth', 'WARDEN_POLICY_URL': 'http://127.0.0.1:1',
                                          'WARDEN_POLICY_FAIL_CLOSED': 'no', 'WARDEN_POLICY_TIMEOUT': '0.5'})
    assert (s.mode, s.url, s.fail_closed, s.timeout) == ('flex_auth', 'http://127.0.0.1:1', False, 0.5)
    explicit = GateSettings({'mode': 'off'}, env={'WARDEN_POLICY_MODE': 'flex_auth'})
    assert explicit.mode == 'off'


@pytest.mark.parametrize('options, field', [
    ({'mode': 'remote'}, 'policy.mode'),
    ({'mode': 'flex_auth'}, 'policy.url'),
    ({'mode': 'flex_auth', 'url': 'ftp://x'}, 'policy.url'),
    ({'fail_closed': 'maybe'}, 'policy.fail_closed'),
    ({'timeout': 0}, 'policy.timeout'),
    ({'retries': -1}, 'policy.retries'),
    ({'retries': 1.5}, 'policy.retries'),  # refused, as openbao.retries is, never truncated
    ({'retries': 'two'}, 'policy.retries'),
    ({'client_key': '/k.pem'}, 'policy.client_key'),
    ({'tokn': 'x'}, 'policy.tokn'),
])
def test_bad_settings_name_the_field(options, field):
    with pytest.raises(ValidationError) as info:
        GateSettings(options, env={})
    assert field in info.value.fields


def test_secret_never_in_settings_errors():
    with pytest.raises(ValidationError) as info:
        GateSettings({'mode': 'flex_auth', 'token': 's.VerySecretTokenValue'}, env={})
    assert 'VerySecret' not in str(info.value)


def test_policy_check_embedded_allow_and_deny():
    ok = P.policy_check({'actor': 'agt-state-hub-bridge', 'actors': ACTORS, 'pubkey_fingerprint': FP}, env={})
    assert ok['allowed'] and ok['decision_id'].startswith('decision:') and ok['reason'] == 'signing_policy_matched'
    assert ok['request']['context'] == {'principals': ['agt-task-bridge'], 'actor_type': 'agt',
                                        'pubkey_fingerprint': FP, 'ttl_hours': 24}
    deny = P.policy_check({'actor': 'agt-state-hub-bridge', 'actors': ACTORS, 'pubkey_fingerprint': FP,
                           'ttl_hours': 24.5}, env={})
    assert not deny['allowed'] and deny['reason'] == 'ttl_out_of_bounds'
    assert 'ttl_out_of_bounds' in deny['msg']


def test_subject_from_env_and_alias():
    env = {'WARDEN_POLICY_SUBJECT': 'iam:agt-state-hub-bridge'}
    ok = P.policy_check({'actor': 'agt-state-hub-bridge', 'actors': ACTORS, 'pubkey_fingerprint': FP}, env=env)
    assert ok['request']['subject']['id'] == 'iam:agt-state-hub-bridge' and ok['allowed']
    env = {'WARDEN_POLICY_SUBJECT': 'iam:someone-else'}
    deny = P.policy_check({'actor': 'agt-state-hub-bridge', 'actors': ACTORS, 'pubkey_fingerprint': FP}, env=env)
    assert deny['reason'] == 'subject_not_allowed'


def test_off_mode_allows_with_warning_and_no_decision_id():
    res = P.policy_check({'actor': 'agt-x', 'pubkey_fingerprint': FP, 'policy': {'mode': 'off'}},
                         env={'WARDEN_ALLOW_UNGATED': '1'})
    assert res['allowed'] and res['decision_id'] is None and res['reason'] == 'policy_gate_off'
    assert res['warnings'] and 'WARDEN_ALLOW_UNGATED' in res['warnings'][0]


@pytest.mark.parametrize('policy, env, field', [
    ({'mode': 'off'}, {}, 'policy.mode'),
    ({'mode': 'off'}, {'WARDEN_ALLOW_UNGATED': '0'}, 'policy.mode'),
    ({}, {'WARDEN_POLICY_MODE': 'off'}, 'policy.mode'),  # the mode's own variable is not the consent
    ({'mode': 'flex_auth', 'url': 'http://127.0.0.1:9', 'fail_closed': False}, {}, 'policy.fail_closed'),
    ({'mode': 'flex_auth', 'url': 'http://127.0.0.1:9'}, {'WARDEN_POLICY_FAIL_CLOSED': 'false'}, 'policy.fail_closed'),
])
def test_ungated_settings_need_the_controllers_consent(policy, env, field):
    """Finding 14.4: mode off and fail-open are refused unless WARDEN_ALLOW_UNGATED is set."""
    settings = GateSettings(policy, env=env)
    with pytest.raises(ValidationError) as info:
        P.Gate(settings, {})
    assert info.value.fields == [field]
    assert 'WARDEN_ALLOW_UNGATED=1' in str(info.value) and 'never from inventory' in str(info.value)
    settings = GateSettings(policy, env=dict(env, WARDEN_ALLOW_UNGATED='1'))
    assert settings.ungated_problems() == []
    P.Gate(settings, {})  # allowed by the controller


def test_fail_closed_false_is_harmless_without_a_remote_pdp_and_a_bad_consent_value_is_named():
    assert GateSettings({'mode': 'embedded', 'fail_closed': False}, env={}).ungated_problems() == []
    with pytest.raises(ValidationError) as info:
        GateSettings({}, env={'WARDEN_ALLOW_UNGATED': 'perhaps'})
    assert info.value.fields == ['WARDEN_ALLOW_UNGATED']


def test_embedded_without_registry_or_actors_is_a_clear_error():
    with pytest.raises(ValidationError) as info:
        P.policy_check({'actor': 'agt-x', 'pubkey_fingerprint': FP}, env={})
    assert 'policy.registry' in info.value.fields


@pytest.mark.parametrize('params, field', [
    ({'actor': 'bridge'}, 'actor'),
    ({'actor': 'agt-state-hub-bridge', 'ttl_hours': 'a day'}, 'ttl_hours'),
    ({'actor': 'agt-state-hub-bridge', 'ttl_hours': float('inf')}, 'ttl_hours'),
    ({'actor': 'agt-state-hub-bridge', 'principals': 'agt-task-bridge'}, 'principals'),
    ({'actor': 'agt-state-hub-bridge', 'public_key': 'ssh-ed25519 nope'}, 'public_key'),
])
def test_bad_check_options_name_the_field(params, field):
    params = dict(params, actors=ACTORS)
    with pytest.raises(ValidationError) as info:
        P.policy_check(params, env={})
    assert field in info.value.fields


def test_unreadable_tls_material_is_a_clear_error(tmp_path):
    missing = str(tmp_path / 'nope.pem')
    for options, field in (({'ca_cert': missing}, 'policy.ca_cert'), ({'client_cert': missing}, 'policy.client_cert')):
        settings = GateSettings(dict(options, mode='flex_auth', url='https://127.0.0.1:1'), env={})
        with pytest.raises(ValidationError) as info:
            P.Gate(settings)
        assert info.value.fields == [field]


@pytest.mark.parametrize('ttl', [0, -1, -0.5, 24.01, 1e300])
def test_out_of_bounds_ttl_reaches_the_gate(ttl):
    """Issue 13 item 7: ttl_hours <= 0 (or above the type maximum) is the gate's valid_ttl deny,
    ttl_out_of_bounds with a decision id, not an options error."""
    result = P.policy_check({'actor': 'agt-state-hub-bridge', 'ttl_hours': ttl, 'pubkey_fingerprint': FP,
                             'actors': ACTORS}, env={})
    assert (result['effect'], result['reason'], result['rule']) == ('deny', 'ttl_out_of_bounds', 'valid_ttl')
    assert result['decision_id'].startswith('decision:')
    assert result['request']['context']['ttl_hours'] == ttl
    assert 'rule valid_ttl' in result['msg']


def test_subject_for_one_actor_and_for_a_fleet():
    """Issue 13 item 6: WARDEN_POLICY_SUBJECT is the caller of a one-actor check; a fleet run gives each
    actor its own subject (its inventory `subject`, else its name)."""
    env = {'WARDEN_POLICY_SUBJECT': 'iam:alice@netkingdom.example'}
    bound = {'name': 'agt-a', 'subject': 'iam:agt-a'}
    plain = {'name': 'agt-b', 'subject': None}
    assert P.subject_for('agt-a', bound, env=env) == 'iam:alice@netkingdom.example'
    assert P.subject_for('agt-a', bound, 'agt-a', env=env) == 'agt-a'
    assert P.subject_for('agt-a', bound, env={}) == 'iam:agt-a'
    assert P.subject_for('agt-a', bound, env=env, fleet=True) == 'iam:agt-a'
    assert P.subject_for('agt-b', plain, env=env, fleet=True) == 'agt-b'
    assert P.subject_for('agt-c', None, env={}) == 'agt-c'


def test_inventory_subject_must_be_one_the_policy_allows():
    from ansible_collections.netkingdom.warden.plugins.module_utils._inventory.actors import load_actors
    good = {'agt-x': {'type': 'agt', 'principals': ['p'], 'subject': 'iam:agt-x'},
            'agt-y': {'type': 'agt', 'principals': ['p'], 'subjects': ['iam:y@corp'], 'subject': 'iam:y@corp'}}
    actors, warnings = load_actors(good)
    assert (actors['agt-x']['subject'], actors['agt-y']['subject'], warnings) == ('iam:agt-x', 'iam:y@corp', [])
    with pytest.raises(ValidationError) as info:
        load_actors({'agt-x': {'type': 'agt', 'principals': ['p'], 'subject': 'iam:agt-other'}})
    assert info.value.fields == ["warden_actors['agt-x'].subject"]


def test_retries_from_the_environment_must_be_whole():
    assert GateSettings({}, env={'WARDEN_POLICY_RETRIES': '3'}).retries == 3
    with pytest.raises(ValidationError) as info:
        GateSettings({}, env={'WARDEN_POLICY_RETRIES': '1.5'})
    assert 'policy.retries' in info.value.fields
