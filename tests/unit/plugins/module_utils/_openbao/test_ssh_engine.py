"""module_utils/_openbao/ssh_engine*.py: option checks, normalising OpenBao's answers, and the plan, with a fake OpenBao."""

import pytest

from ansible_collections.netkingdom.warden.plugins.module_utils._openbao import ssh_engine as E
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao import ssh_engine_ensure as EE
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao import ssh_engine_spec as ES
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.client import OpenBaoRequestError
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.settings import OpenBaoSettings

CA = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB6D8Db6u4fauzb+OffhtEXYNysD3VNUWe6Izpjvl7jw'


def settings(**extra):
    options = {'url': 'http://127.0.0.1:8200', 'token': 'unit-test-token'}
    options.update(extra)
    return OpenBaoSettings(options, env={})


def spec(**options):
    return ES.build_spec(options, settings())


def problems(**options):
    with pytest.raises(ValidationError) as exc:
        spec(**options)
    return dict(exc.value.problems)


# --- values ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize('value, seconds', [
    (86400, 86400), ('86400', 86400), ('24h', 86400), ('1h30m', 5400), ('90m', 5400), ('45s', 45), (0, 0),
])
def test_duration_seconds(value, seconds):
    assert E.duration_seconds(value) == seconds


@pytest.mark.parametrize('value', ['1d', 'soon', '', None, True, -1, 1.5])
def test_duration_seconds_refuses(value):
    with pytest.raises(ValueError):
        E.duration_seconds(value)


def test_normalise_compares_openbao_answers_with_wanted_values():
    assert E.normalise('ttl', '24h') == E.normalise('ttl', 86400)
    wanted = E.normalise('allowed_domains', ['b.example', 'a.example'])
    assert wanted == E.normalise('allowed_domains', 'a.example, b.example')
    assert E.normalise('allowed_extensions', '') == E.normalise('allowed_extensions', []) == []
    assert E.normalise('default_extensions', {'permit-pty': None}) == {'permit-pty': ''}
    assert E.normalise('allow_user_key_ids', 'yes') is True
    assert E.normalise('not_a_known_field', '30', 30) == 30
    assert E.normalise('key_id_format', 'x', '') == 'x'


def test_format_duration():
    assert [E.format_duration(s) for s in (86400, 5400, 45, 0)] == ['24h', '90m', '45s', '0s']


# --- options --------------------------------------------------------------------------------------------
def test_defaults():
    s = spec()
    assert s.mount == 'ssh' and s.policy_name == 'warden-ssh-signer'
    assert sorted(s.roles) == ['adm-role', 'agt-role', 'atm-role', 'host-role']
    assert [s.roles[r]['max_ttl'] for r in ('adm-role', 'agt-role', 'atm-role', 'host-role')] == \
        [48 * 3600, 24 * 3600, 8 * 3600, 720 * 3600]
    assert s.roles['agt-role']['allowed_users'] == '*'
    assert s.roles['host-role']['allowed_domains'] == ['*']
    assert s.ca['mode'] == 'generate' and s.ca['key_type'] == 'ed25519'


def test_settings_give_mount_and_role_names():
    s = ES.build_spec({'role_map': {'atm': 'robots'}},
                      settings(mount='team/ssh', role_map={'agt': 'agents'}, host_role='hosts'))
    assert s.mount == 'team/ssh'
    assert sorted(s.roles) == ['adm-role', 'agents', 'hosts', 'robots']
    assert 'path "team/ssh/sign/robots"' in s.policy_text()


def test_policy_is_least_privilege():
    text = spec().policy_text()
    assert text.count('path "') == 5
    assert text.count('capabilities = ["create", "update"]') == 4
    assert 'path "ssh/issuers" {\n  capabilities = ["list"]\n}' in text
    for word in ('read', 'delete', 'sudo', 'sys/', 'roles/', 'config'):
        assert word not in text.replace('# ', '').split('\n', 2)[2]


def test_a_cap_above_the_type_max_is_refused_with_the_option_named():
    found = problems(max_ttl_hours={'agt': 25, 'atm': 9})
    assert set(found) == {'max_ttl_hours.agt', 'max_ttl_hours.atm'}
    assert 'never clamped' in found['max_ttl_hours.agt']
    assert spec(max_ttl_hours={'agt': 12}).roles['agt-role']['ttl'] == 12 * 3600


def test_overrides_are_checked():
    found = problems(roles={'agt-role': {'max_ttl': '30h', 'key_type': 'otp', 'allow_empty_principals': True},
                            'other-role': {'ttl': '1h'}, 'adm-role': {'ttl': '50h'}})
    assert set(found) == {'roles.agt-role.max_ttl', 'roles.agt-role.key_type', 'roles.agt-role.allow_empty_principals',
                          'roles.other-role', 'roles.adm-role.ttl'}
    assert problems(roles={'atm-role': {'ttl': '8h', 'max_ttl': '4h'}}) == {
        'roles.atm-role.ttl': 'must not be above max_ttl (8h > 4h)'}
    s = spec(roles={'agt-role': {'not_before_duration': '60s', 'ttl': '1h'}})
    assert s.roles['agt-role']['not_before_duration'] == 60 and s.roles['agt-role']['ttl'] == 3600


@pytest.mark.parametrize('options, field', [
    ({'policy_name': 'default'}, 'policy_name'),
    ({'policy_name': 'root'}, 'policy_name'),
    ({'mount': 'sys'}, 'mount'),
    ({'role_map': {'agt': 'host-role'}}, 'role_map'),
    ({'role_map': {'xyz': 'r'}}, 'role_map.xyz'),
    ({'host_domains': ['a b']}, 'host_domains[0]'),
    ({'ca': {'private_key': '-----BEGIN OPENSSH PRIVATE KEY-----\nx\n'}}, 'ca'),
    ({'ca': {'private_key': 'not a key', 'public_key': CA}}, 'ca.private_key'),
    ({'ca': {'rotate': True}}, 'ca.rotate'),
    ({'ca': {'make_default': True, 'issuer_name': 'x'}}, 'ca.make_default'),
    ({'ca': {'key_type': 'ed25519', 'key_bits': 256}}, 'ca.key_bits'),
])
def test_bad_options_name_the_option(options, field):
    assert field in problems(**options)


def test_a_private_key_never_appears_in_messages():
    secret = '-----BEGIN OPENSSH PRIVATE KEY-----\nSECRETSECRET\n-----END OPENSSH PRIVATE KEY-----\n'
    with pytest.raises(ValidationError) as exc:
        spec(ca={'private_key': secret, 'public_key': 'ssh-ed25519 broken'})
    assert 'SECRETSECRET' not in str(exc.value)


# --- the plan, against a fake OpenBao -----------------------------------------------------------------------
class FakeBao(object):
    """Answers like OpenBao 2.x for the paths the engine uses; records writes."""

    def __init__(self, mounts=None, ca=None, issuers=(), roles=None, policies=None):
        self.mounts = dict(mounts or {})
        self.ca = ca
        self.issuers = list(issuers)
        self.roles = dict(roles or {})
        self.policies = dict(policies or {})
        self.writes = []

    def request_json(self, method, path, data=None, missing=()):
        if method == 'get' and path.startswith('sys/mounts/'):
            name = path[len('sys/mounts/'):]
            if name not in self.mounts:
                raise OpenBaoRequestError('no mount', 400, ['No secret engine mount at %s/' % name])
            return {'data': {'type': self.mounts[name]}}
        if method == 'get' and path.endswith('/config/ca'):
            if self.ca is None:
                raise OpenBaoRequestError('no CA', 400, ['no default issuer currently configured'])
            return {'data': {'public_key': self.ca + '\n'}}
        raise AssertionError('unexpected %s %s' % (method, path))

    def read(self, path, missing=(404,)):
        if '/roles/' in path:
            role = self.roles.get(path.rsplit('/', 1)[1])
            return None if role is None else dict(role)
        if path.startswith('sys/policies/acl/'):
            policy = self.policies.get(path.rsplit('/', 1)[1])
            return None if policy is None else {'policy': policy}
        raise AssertionError('unexpected read %s' % path)

    def list_keys(self, path):
        return list(self.issuers)

    def write(self, path, data, method='post'):
        self.writes.append(path)
        return {}


def openbao_role(fields):
    """A role as OpenBao reports it: every field, TTLs in seconds, lists as comma strings."""
    answer = {'algorithm_signer': 'default', 'allow_bare_domains': False, 'allow_subdomains': False,
              'allowed_domains': '', 'allowed_users': '', 'default_extensions': {}, 'issuer_ref': 'default',
              'key_id_format': '', 'not_before_duration': 30, 'allowed_user_key_lengths': {},
              'allowed_critical_options': '', 'allowed_extensions': '', 'allow_empty_principals': False}
    for field, value in fields.items():
        answer[field] = ','.join(value) if isinstance(value, list) else value
    return answer


def converged(s):
    return FakeBao(mounts={'ssh': 'ssh'}, ca=CA, roles=dict((n, openbao_role(f)) for n, f in s.roles.items()),
                   policies={s.policy_name: s.policy_text()})


def test_a_converged_server_gets_no_write():
    s = spec()
    bao = converged(s)
    result = EE.SshEngine(bao, s).ensure()
    assert result['changed'] is False and bao.writes == []
    assert result['ca_public_key'] == CA and result['ca_fingerprint'].startswith('SHA256:')


def test_drift_is_reported_and_only_that_role_is_written():
    s = spec()
    bao = converged(s)
    bao.roles['atm-role']['ttl'] = 3600
    bao.roles['atm-role']['allowed_users'] = 'root'
    result = EE.SshEngine(bao, s).ensure()
    assert result['changes'] == ['updated role atm-role on ssh/ (it had drifted): allowed_users root -> *, '
                                 'ttl 1h -> 8h']
    assert bao.writes == ['ssh/roles/atm-role']


def test_check_mode_writes_nothing():
    s = spec()
    bao = FakeBao()
    result = EE.SshEngine(bao, s, check_mode=True).ensure()
    assert bao.writes == [] and len(result['changes']) == 7
    assert all(c.startswith('would ') for c in result['changes'])


def test_another_engine_type_at_the_mount_is_an_error():
    with pytest.raises(EE.SshEngineError, match='ssh/ is a kv secrets engine, not ssh'):
        EE.SshEngine(FakeBao(mounts={'ssh': 'kv'}), spec()).ensure()


def test_issuers_without_a_default_are_not_guessed():
    bao = FakeBao(mounts={'ssh': 'ssh'}, issuers=['id-1', 'id-2'])
    with pytest.raises(EE.SshEngineError, match='no default one'):
        EE.SshEngine(bao, spec()).ensure()
    assert bao.writes == []


def test_a_different_ca_is_reported_not_replaced():
    s = spec(ca={'key_type': 'rsa'})
    bao = converged(s)
    result = EE.SshEngine(bao, s).ensure()
    assert bao.writes == [] and result['changed'] is False
    assert 'never replaces a CA' in result['warnings'][0] and 'ssh-ed25519' in result['warnings'][0]


def test_an_unknown_override_field_is_an_error():
    s = spec(roles={'agt-role': {'no_such_field': 1}})
    bao = converged(spec())
    with pytest.raises(EE.SshEngineError, match='roles.agt-role: OpenBao does not know the role field'):
        EE.SshEngine(bao, s).ensure()


# --- OpenBao's two-mount layout: a user CA and a host CA of its own ----------------------------------------
def test_two_mounts_put_the_host_role_and_its_ca_on_the_host_mount():
    s = spec(host_mount='ssh-host-signer', host_ca={'key_type': 'ecdsa'}, host_domains=['fleet.example'])
    assert s.mounts == ['ssh', 'ssh-host-signer']
    assert s.role_mount['host-role'] == 'ssh-host-signer' and s.role_mount['agt-role'] == 'ssh'
    assert s.cas['ssh-host-signer']['key_type'] == 'ecdsa' and s.cas['ssh']['key_type'] == 'ed25519'
    text = s.policy_text()
    assert 'path "ssh-host-signer/sign/host-role"' in text and 'path "ssh/sign/host-role"' not in text
    assert 'path "ssh/issuers"' in text and 'path "ssh-host-signer/issuers"' in text
    assert text.count('capabilities = ["create", "update"]') == 4


def test_one_mount_ignores_host_ca_and_openbao_host_mount_is_the_default():
    s = spec(host_ca={'key_type': 'rsa'})
    assert s.mounts == ['ssh'] and list(s.cas) == ['ssh']
    s = ES.build_spec({}, settings(host_mount='ssh-host-signer'))
    assert s.mounts == ['ssh', 'ssh-host-signer']
    s = ES.build_spec({'role_map': {'host': 'hosts'}}, settings())
    assert s.host_role == 'hosts' and s.role_purpose['hosts'] == 'host'


@pytest.mark.parametrize('options, field', [
    ({'host_mount': 'sys'}, 'host_mount'),
    ({'host_mount': 'h', 'host_ca': {'rotate': True}}, 'host_ca.rotate'),
    ({'host_mount': 'h', 'host_ca': {'key_type': 'ed25519', 'key_bits': 256}}, 'host_ca.key_bits'),
    ({'role_map': {'host': 'hosts'}, 'host_role': 'other'}, 'role_map.host'),
])
def test_bad_two_mount_options_name_the_option(options, field):
    assert field in problems(**options)


def test_check_mode_plans_both_mounts_and_both_cas():
    s = spec(host_mount='ssh-host-signer')
    result = EE.SshEngine(FakeBao(), s, check_mode=True).ensure()
    changes = result['changes']
    assert 'would mount the SSH secrets engine at ssh/' in changes
    assert 'would mount the SSH secrets engine at ssh-host-signer/' in changes
    assert sum(1 for c in changes if c.startswith('would create a new ed25519 CA on ')) == 2
    assert any('role host-role on ssh-host-signer/ (host certificates' in c for c in changes)
    assert result['host_mount'] == 'ssh-host-signer'
