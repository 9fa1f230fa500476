"""The one settings resolver: one table per option group gives the argument spec, the environment
fallbacks, the precedence and the conversion of policy, openbao and local_ca."""

import pytest

from ansible_collections.netkingdom.warden.plugins.module_utils._gate.settings import POLICY
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.settings import OPENBAO
from ansible_collections.netkingdom.warden.plugins.module_utils._settings.resolver import Option, OptionGroup
from ansible_collections.netkingdom.warden.plugins.module_utils._signing.backends import LOCAL_CA, LocalBackend
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError

GROUP = OptionGroup('demo', {
    'name': Option('dflt', ['DEMO_NAME', 'OTHER_NAME']),
    'verify': Option(True, ['DEMO_SKIP_VERIFY'], 'bool', env_negates=True),
    'secret': Option(None, ['DEMO_SECRET'], secret=True),
    'path': Option('~/x', [], 'path'),
    'mode': Option('a', [], choices=('a', 'b')),
}, 'demo settings')


def test_option_then_environment_in_order_then_default():
    values, sources = GROUP.resolve({}, env={})
    assert values['name'] == 'dflt' and sources['name'] == 'default'
    values, sources = GROUP.resolve({}, env={'DEMO_NAME': '', 'OTHER_NAME': 'o'})  # empty counts as unset
    assert (values['name'], sources['name']) == ('o', 'OTHER_NAME')
    values, sources = GROUP.resolve({'name': 'given'}, env={'DEMO_NAME': 'e'})
    assert (values['name'], sources['name']) == ('given', 'option')
    values, dummy = GROUP.resolve({}, env={'DEMO_NAME': 'e'}, env_first={'name': 'FIRST'})
    assert values['name'] == 'e'
    values, sources = GROUP.resolve({}, env={'DEMO_NAME': 'e', 'FIRST': 'f'}, env_first={'name': 'FIRST'})
    assert (values['name'], sources['name']) == ('f', 'FIRST')


def test_conversion_negated_variables_and_paths():
    values, dummy = GROUP.resolve({}, env={'DEMO_SKIP_VERIFY': 'yes'})
    assert values['verify'] is False
    values, dummy = GROUP.resolve({'verify': 'no'}, env={'DEMO_SKIP_VERIFY': 'yes'})  # the option is not negated
    assert values['verify'] is False
    assert not GROUP.resolve({}, env={})[0]['path'].startswith('~')


@pytest.mark.parametrize('given, env, field', [
    ({'nmae': 'x'}, {}, 'demo.nmae'),
    ({'verify': 'perhaps'}, {}, 'demo.verify'),
    ({}, {'DEMO_SKIP_VERIFY': 'perhaps'}, 'demo.verify'),
    ({'name': 5}, {}, 'demo.name'),
])
def test_a_bad_value_names_the_option(given, env, field):
    with pytest.raises(ValidationError) as info:
        GROUP.resolve(given, env=env)
    assert info.value.fields == [field] and 'demo settings' in str(info.value)


def test_a_secret_value_is_never_shown():
    with pytest.raises(ValidationError) as info:
        GROUP.resolve({'secret': 12345678901}, env={})
    assert '12345678901' not in str(info.value)


def test_the_argument_spec_comes_from_the_table():
    spec = GROUP.argument_spec()
    assert spec == {'type': 'dict', 'options': {
        'name': {'type': 'str', 'no_log': False}, 'verify': {'type': 'bool', 'no_log': False},
        'secret': {'type': 'str', 'no_log': True}, 'path': {'type': 'path', 'no_log': False},
        'mode': {'type': 'str', 'no_log': False, 'choices': ['a', 'b']}}}
    for group in (POLICY, OPENBAO, LOCAL_CA):
        options = group.argument_spec()['options']
        assert set(options) == set(group.options)
        assert sorted(n for n, o in options.items() if o['no_log']) == sorted(group.secrets)
        assert not any('default' in o for o in options.values())


def test_the_local_ca_group_is_resolved_like_the_others(tmp_path):
    """The local CA's options were read without checks: a word that is not a boolean in
    WARDEN_LOCAL_CA_CREATE meant false, an unknown sub-option (a lookup's local_ca) was ignored."""
    with pytest.raises(ValidationError) as info:
        LocalBackend({'key_path': str(tmp_path / 'ca')}, env={'WARDEN_LOCAL_CA_CREATE': 'ture'})
    assert info.value.fields == ['local_ca.create']
    with pytest.raises(ValidationError) as info:
        LocalBackend({'key_pth': str(tmp_path / 'ca')}, env={})
    assert info.value.fields == ['local_ca.key_pth']
    backend = LocalBackend({}, env={'WARDEN_LOCAL_CA_KEY': str(tmp_path / 'ca'), 'WARDEN_LOCAL_CA_CREATE': 'yes'})
    assert backend.ca_public_keys()[0].startswith('ssh-ed25519 ')
