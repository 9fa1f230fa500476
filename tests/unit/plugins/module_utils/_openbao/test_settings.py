"""OpenBao settings and auth methods without a server: env precedence, validation, secrecy."""

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.netkingdom.warden.plugins.module_utils._openbao import session as S
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao import settings as O
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao import signer as OS
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao import auth as A
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError, WardenError

URL = 'https://openbao.example.internal:8200'
SECRET_VALUES = {
    'token': 's.TokenValue-3f9a1c7e5b',
    'secret_id': 'SecretIdValue-8d2e4f6a0c',
    'jwt': 'eyJhbGciOiJSUzI1NiJ9.JwtBodyValue.JwtSignatureValue',
    'password': 'PasswordValue-51b7d3',
}


def settings(options=None, env=None, **kwargs):
    return O.OpenBaoSettings(options, env=env or {}, **kwargs)


def fields_of(exc_info):
    return exc_info.value.fields


def assert_no_secret(text):
    for value in SECRET_VALUES.values():
        assert value not in text
        assert value[:12] not in text


# --- defaults and environment ----------------------------------------------------------------
def test_defaults():
    s = settings({'url': URL, 'token': 't0k3n'})
    assert (s.auth_method, s.mount, s.host_role, s.timeout, s.retries, s.validate_certs) == \
        ('token', 'ssh', 'host-role', 10.0, 2, True)
    assert s.role_map == {'adm': 'adm-role', 'agt': 'agt-role', 'atm': 'atm-role'}
    assert s.kubernetes_token_path == '/var/run/secrets/kubernetes.io/serviceaccount/token'
    assert s.namespace is None and s.ca_cert is None


@pytest.mark.parametrize('option, env, expected', [
    ('url', {'BAO_ADDR': 'https://bao:8200', 'VAULT_ADDR': 'https://vault:8200'}, 'https://bao:8200'),
    ('url', {'VAULT_ADDR': 'https://vault:8200/'}, 'https://vault:8200'),
    ('url', {'BAO_ADDR': '', 'VAULT_ADDR': 'https://vault:8200'}, 'https://vault:8200'),
    ('token', {'BAO_TOKEN': 'bao-tok', 'VAULT_TOKEN': 'vault-tok'}, 'bao-tok'),
    ('token', {'VAULT_TOKEN': 'vault-tok'}, 'vault-tok'),
    ('namespace', {'BAO_NAMESPACE': 'team/', 'VAULT_NAMESPACE': 'other'}, 'team'),
    ('namespace', {'VAULT_NAMESPACE': 'other'}, 'other'),
    ('validate_certs', {'BAO_SKIP_VERIFY': 'true'}, False),
    ('validate_certs', {'VAULT_SKIP_VERIFY': '1'}, False),
    ('validate_certs', {'VAULT_SKIP_VERIFY': 'false'}, True),
    ('validate_certs', {'BAO_SKIP_VERIFY': 'false', 'VAULT_SKIP_VERIFY': 'true'}, True),
    ('timeout', {'BAO_CLIENT_TIMEOUT': '30s', 'VAULT_CLIENT_TIMEOUT': '5'}, 30.0),
    ('timeout', {'VAULT_CLIENT_TIMEOUT': '2m'}, 120.0),
    ('retries', {'BAO_MAX_RETRIES': '0', 'VAULT_MAX_RETRIES': '5'}, 0),
    ('mount', {'WARDEN_OPENBAO_MOUNT': 'team/ssh/'}, 'team/ssh'),
    ('host_role', {'WARDEN_OPENBAO_HOST_ROLE': 'hosts'}, 'hosts'),
])
def test_env_fallbacks_bao_before_vault(option, env, expected):
    env = dict({'BAO_TOKEN': 'env-token'}, **env) if option != 'token' else env
    s = O.OpenBaoSettings({'url': URL} if option != 'url' else {'token': 'x'}, env=env)
    assert getattr(s, option) == expected


def test_explicit_option_beats_env():
    env = {'BAO_ADDR': 'https://env:8200', 'BAO_TOKEN': 'env-token', 'BAO_SKIP_VERIFY': 'true',
           'BAO_MAX_RETRIES': '7'}
    s = settings({'url': URL, 'token': 'opt-token', 'validate_certs': True, 'retries': 1}, env=env)
    assert (s.url, s.token, s.validate_certs, s.retries) == (URL, 'opt-token', True, 1)
    assert s.sources['url'] == 'option' and s.sources['validate_certs'] == 'option'


def test_approle_ids_and_auth_method_from_env():
    env = {'BAO_ADDR': URL, 'WARDEN_OPENBAO_AUTH_METHOD': 'approle', 'BAO_ROLE_ID': 'rid-bao',
           'VAULT_ROLE_ID': 'rid-vault', 'VAULT_SECRET_ID': 'sid-vault'}
    s = settings(env=env)
    assert (s.auth_method, s.role_id, s.secret_id) == ('approle', 'rid-bao', 'sid-vault')
    assert s.sources['secret_id'] == 'VAULT_SECRET_ID'


def test_ca_cert_env_order(tmp_path):
    bao_ca, vault_ca = tmp_path / 'bao.pem', tmp_path / 'vault.pem'
    bao_ca.write_text('x')
    vault_ca.write_text('x')
    env = {'BAO_TOKEN': 't', 'VAULT_CACERT': str(vault_ca), 'BAO_CAPATH': str(tmp_path)}
    assert settings({'url': URL}, env=env).ca_cert == str(tmp_path)
    env['BAO_CACERT'] = str(bao_ca)
    assert settings({'url': URL}, env=env).ca_cert == str(bao_ca)


def test_no_token_file_fallback(tmp_path, monkeypatch):
    (tmp_path / '.vault-token').write_text('from-file')
    monkeypatch.setenv('HOME', str(tmp_path))
    with pytest.raises(ValidationError) as info:
        settings({'url': URL})
    assert fields_of(info) == ['openbao.token']
    assert 'BAO_TOKEN / VAULT_TOKEN' in str(info.value)


def test_role_map_merges_over_defaults():
    s = settings({'url': URL, 'token': 't', 'role_map': {'agt': 'agents'}})
    assert s.role_map == {'adm': 'adm-role', 'agt': 'agents', 'atm': 'atm-role'}
    s = settings({'url': URL, 'token': 't'}, env={'WARDEN_OPENBAO_ROLE_MAP': json.dumps({'atm': 'robots'})})
    assert s.role_map['atm'] == 'robots'
    assert OS.OpenBaoSigner(s).role_for('atm') == 'robots'
    with pytest.raises(ValidationError) as info:
        OS.OpenBaoSigner(s).role_for('xyz')
    assert fields_of(info) == ['actor_type']


def test_require_auth_false_allows_public_key_only():
    s = settings({'url': URL}, require_auth=False)
    assert s.token is None
    with pytest.raises(ValidationError) as info:
        A.auth_method_for(s).validate()
    assert fields_of(info) == ['openbao.token']


# --- validation names the option ----------------------------------------------------------------
@pytest.mark.parametrize('options, field', [
    ({'url': None}, 'openbao.url'),
    ({'url': 'openbao.example.internal:8200'}, 'openbao.url'),
    ({'url': 'ftp://openbao'}, 'openbao.url'),
    ({'tokn': 'x'}, 'openbao.tokn'),
    ({'auth_method': 'ldap'}, 'openbao.auth_method'),
    ({'timeout': 0}, 'openbao.timeout'),
    ({'timeout': 'soon'}, 'openbao.timeout'),
    ({'retries': -1}, 'openbao.retries'),
    ({'retries': 'many'}, 'openbao.retries'),
    ({'validate_certs': 'perhaps'}, 'openbao.validate_certs'),
    ({'mount': '../sys'}, 'openbao.mount'),
    ({'mount': 'ssh engine'}, 'openbao.mount'),
    ({'mount_point': 'app role'}, 'openbao.mount_point'),
    ({'host_role': 'a/b'}, 'openbao.host_role'),
    ({'role_map': {'xyz': 'r'}}, 'openbao.role_map.xyz'),
    ({'role_map': {'agt': 'a/b'}}, 'openbao.role_map.agt'),
    ({'role_map': ['agt']}, 'openbao.role_map'),
    ({'ca_cert': '/nonexistent/ca.pem'}, 'openbao.ca_cert'),
    ({'namespace': 'a b'}, 'openbao.namespace'),
])
def test_bad_settings_name_the_option(options, field):
    base = {'url': URL, 'token': SECRET_VALUES['token']}
    base.update(options)
    with pytest.raises(ValidationError) as info:
        settings(base)
    assert field in fields_of(info)
    assert_no_secret(str(info.value))


@pytest.mark.parametrize('method, options, fields', [
    ('token', {}, ['openbao.token']),
    ('approle', {}, ['openbao.role_id']),
    ('approle', {'role_id': 'rid'}, []),  # secret_id is optional (bind_secret_id=false roles)
    ('jwt', {}, ['openbao.jwt', 'openbao.role_id']),
    ('jwt', {'jwt': SECRET_VALUES['jwt']}, ['openbao.role_id']),
    ('kubernetes', {}, ['openbao.role_id', 'openbao.kubernetes_token_path']),
    ('kubernetes', {'role_id': 'r', 'kubernetes_token_path': '/nonexistent/token'}, ['openbao.kubernetes_token_path']),
    ('cert', {}, ['openbao.cert_auth_public_key']),
    ('cert', {'cert_auth_public_key': '/nonexistent/c.pem', 'cert_auth_private_key': '/nonexistent/k.pem'},
     ['openbao.cert_auth_public_key', 'openbao.cert_auth_private_key']),
    ('userpass', {}, ['openbao.username', 'openbao.password']),
    ('userpass', {'username': 'a/b', 'password': SECRET_VALUES['password']}, ['openbao.username']),
])
def test_each_auth_method_validate_names_the_option(method, options, fields):
    s = settings(dict(options, url=URL, auth_method=method), require_auth=False)
    auth = A.auth_method_for(s)
    assert isinstance(auth, A.AUTH_METHODS[method])
    if not fields:
        auth.validate()
        return
    with pytest.raises(ValidationError) as info:
        auth.validate()
    assert fields_of(info) == fields
    assert_no_secret(str(info.value))
    with pytest.raises(ValidationError) as info:  # the settings run the same checks up front
        settings(dict(options, url=URL, auth_method=method))
    assert fields_of(info) == fields


def test_cert_auth_needs_https(tmp_path):
    cert = tmp_path / 'c.pem'
    cert.write_text('x')
    with pytest.raises(ValidationError) as info:
        settings({'url': 'http://openbao:8200', 'auth_method': 'cert', 'cert_auth_public_key': str(cert)})
    assert fields_of(info) == ['openbao.url']


# --- secrets stay secret ------------------------------------------------------------------------
@pytest.mark.parametrize('name', sorted(SECRET_VALUES))
def test_secret_options_never_echoed(name):
    # a wrong type, and a valid secret next to another problem
    with pytest.raises(ValidationError) as info:
        settings({'url': URL, name: 12345678901})
    assert fields_of(info) == ['openbao.%s' % name] and '12345678901' not in str(info.value)
    options = dict(SECRET_VALUES, url=URL, timeout=-1)
    with pytest.raises(ValidationError) as info:
        settings(options)
    assert_no_secret(str(info.value))
    s = settings(dict(SECRET_VALUES, url=URL))
    assert_no_secret(repr(s) + repr(OS.OpenBaoSigner(s)) + s.session_key())


def test_argument_spec_marks_secrets_and_has_no_defaults():
    spec = O.openbao_argument_spec()
    assert spec['type'] == 'dict' and 'default' not in spec
    assert set(spec['options']) == set(O.OPENBAO.options)
    for name, option in spec['options'].items():
        assert option['no_log'] is (name in O.OPENBAO.secrets), name
        assert 'default' not in option
    assert set(O.OPENBAO.secrets) == set(SECRET_VALUES)
    assert spec['options']['auth_method']['choices'] == sorted(A.AUTH_METHODS)
    assert O.openbao_argument_spec() is not spec and O.openbao_argument_spec()['options'] is not spec['options']


def test_session_key_depends_on_credentials_not_on_ssh_options():
    a = settings({'url': URL, 'token': 'one'})
    assert a.session_key() == settings({'url': URL, 'token': 'one', 'mount': 'other', 'retries': 0}).session_key()
    assert a.session_key() != settings({'url': URL, 'token': 'two'}).session_key()


# --- auth methods with a stand-in client (no network) ----------------------------------------
class FakeResponse(object):
    def __init__(self, status, data):
        self.status_code = status
        self._data = data
        self.text = json.dumps(data)

    def json(self):
        return self._data


class FakeAdapter(object):
    def __init__(self, client, response):
        self.client, self.response, self.calls = client, response, []

    def post(self, url, **kwargs):
        self.calls.append((url, kwargs, self.client.token))
        return self.response


class FakeClient(object):
    def __init__(self, response, token='ambient-token'):
        self.token = token
        self.adapter = FakeAdapter(self, response)


def login_answer(token='obtained-token'):
    return FakeResponse(200, {'auth': {'client_token': token, 'lease_duration': 1200, 'renewable': True,
                                       'policies': ['default', 'signer']}})


@pytest.mark.parametrize('method, options, path, body', [
    ('approle', {'role_id': 'rid', 'secret_id': 'sid'}, '/v1/auth/approle/login', {'role_id': 'rid', 'secret_id': 'sid'}),
    ('approle', {'role_id': 'rid', 'mount_point': 'ci/approle'}, '/v1/auth/ci/approle/login', {'role_id': 'rid'}),
    ('jwt', {'jwt': 'j.w.t', 'role_id': 'ci'}, '/v1/auth/jwt/login', {'jwt': 'j.w.t', 'role': 'ci'}),
    ('userpass', {'username': 'alice', 'password': 'pw'}, '/v1/auth/userpass/login/alice', {'password': 'pw'}),
])
def test_login_drops_ambient_token_and_keeps_only_the_obtained_one(method, options, path, body):
    auth = A.auth_method_for(settings(dict(options, url=URL, auth_method=method)))
    client = FakeClient(login_answer())
    meta = auth.authenticate(client)
    assert client.token == 'obtained-token'
    (url, kwargs, token_during_login), = client.adapter.calls
    assert (url, kwargs['json'], token_during_login) == (path, body, None)
    assert meta == {'lease_duration': 1200, 'renewable': True, 'policies': ['default', 'signer']}


def test_kubernetes_reads_the_token_file_at_each_login(tmp_path):
    token_file = tmp_path / 'token'
    token_file.write_text('sa-token-1\n')
    auth = A.auth_method_for(settings({'url': URL, 'auth_method': 'kubernetes', 'role_id': 'warden',
                                       'kubernetes_token_path': str(token_file)}))
    client = FakeClient(login_answer())
    auth.authenticate(client)
    token_file.write_text('sa-token-2')  # the kubelet rotates projected tokens
    auth.authenticate(client)
    assert [(c[0], c[1]['json']) for c in client.adapter.calls] == [
        ('/v1/auth/kubernetes/login', {'jwt': 'sa-token-1', 'role': 'warden'}),
        ('/v1/auth/kubernetes/login', {'jwt': 'sa-token-2', 'role': 'warden'})]
    token_file.write_text('')
    with pytest.raises(ValidationError) as info:
        auth.authenticate(client)
    assert fields_of(info) == ['openbao.kubernetes_token_path']


def test_cert_login_presents_the_client_certificate(tmp_path):
    cert, key = tmp_path / 'c.pem', tmp_path / 'k.pem'
    cert.write_text('c')
    key.write_text('k')
    auth = A.auth_method_for(settings({'url': URL, 'auth_method': 'cert', 'cert_auth_public_key': str(cert),
                                       'cert_auth_private_key': str(key), 'role_id': 'web'}))
    client = FakeClient(login_answer())
    auth.authenticate(client)
    (url, kwargs, dummy), = client.adapter.calls
    assert (url, kwargs['json'], kwargs['cert']) == ('/v1/auth/cert/login', {'name': 'web'}, (str(cert), str(key)))


def test_token_method_makes_no_request():
    auth = A.auth_method_for(settings({'url': URL, 'token': 'given'}))
    client = FakeClient(login_answer())
    auth.authenticate(client)
    assert client.token == 'given' and client.adapter.calls == []


def test_refused_login_raises_status_and_explains():
    auth = A.auth_method_for(settings({'url': URL, 'auth_method': 'approle', 'role_id': 'r',
                                       'secret_id': SECRET_VALUES['secret_id']}))
    client = FakeClient(FakeResponse(400, {'errors': ['invalid role or secret ID']}))
    with pytest.raises(A.HttpStatusError) as info:
        auth.authenticate(client)
    assert client.token is None
    text = auth.refused(info.value.status, info.value.errors)
    assert text.startswith('approle login failed') and 'openbao.secret_id' in text
    assert 'openbao.mount_point' in auth.refused(403, ['permission denied'])
    assert_no_secret(text)


# --- imports --------------------------------------------------------------------------------------
def test_import_does_not_load_hvac():
    code = ('import sys; from ansible_collections.netkingdom.warden.plugins.module_utils._openbao import kv, signer; '
            'print(sorted(m for m in ("hvac", "requests", "httpx") if m in sys.modules))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True,
                         env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))).stdout
    assert out.strip() == '[]'


def test_missing_hvac_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(S, 'HAS_HVAC', False)
    monkeypatch.setattr(S, '_LIBS', {})
    signer = OS.OpenBaoSigner(settings({'url': URL, 'token': 't'}))
    with pytest.raises(A.OpenBaoError) as info:
        signer.ca_public_key()
    assert 'pip install hvac' in str(info.value)
    assert isinstance(info.value, WardenError)


def test_sign_input_is_checked_before_any_request():
    signer = OS.OpenBaoSigner(settings({'url': 'http://127.0.0.1:9', 'token': 't'}))
    key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl'
    with pytest.raises(ValidationError) as info:
        signer.sign('agt/role', key, 'alice', 0, cert_type='both', key_id='')
    assert fields_of(info) == ['role', 'principals', 'ttl_seconds', 'cert_type', 'key_id']
    with pytest.raises(ValidationError) as info:
        signer.sign('agt-role', key, ['al ice', 'b,c', ''], 60)
    assert fields_of(info) == ['principals[0]', 'principals[1]', 'principals[2]']
    assert OS.OpenBaoSigner._sign_body('agt-role', key + '\n', ['a', 'b'], 3600.0, 'user', None) == {
        'public_key': key, 'valid_principals': 'a,b', 'ttl': '3600s', 'cert_type': 'user'}


# --- the host CA's own mount and the host role in role_map -----------------------------------
def test_host_mount_defaults_to_the_mount_and_follows_the_env():
    assert settings({'url': URL, 'token': 't', 'mount': 'ssh-client-signer'}).host_mount == 'ssh-client-signer'
    s = settings({'url': URL, 'token': 't'}, env={'WARDEN_OPENBAO_HOST_MOUNT': 'ssh-host-signer/'})
    assert (s.mount, s.host_mount, s.sources['host_mount']) == ('ssh', 'ssh-host-signer', 'WARDEN_OPENBAO_HOST_MOUNT')
    s = settings({'url': URL, 'token': 't', 'host_mount': 'hosts/ssh'}, env={'WARDEN_OPENBAO_HOST_MOUNT': 'other'})
    assert s.host_mount == 'hosts/ssh'


def test_role_map_host_names_the_host_role():
    s = settings({'url': URL, 'token': 't', 'role_map': {'agt': 'agents', 'host': 'hosts'}})
    assert s.host_role == 'hosts' and s.role_map == {'adm': 'adm-role', 'agt': 'agents', 'atm': 'atm-role'}
    same = settings({'url': URL, 'token': 't', 'role_map': {'host': 'hosts'}, 'host_role': 'hosts'})
    assert same.host_role == 'hosts'
    env = settings({'url': URL, 'token': 't'}, env={'WARDEN_OPENBAO_ROLE_MAP': '{"host": "h"}'})
    assert env.host_role == 'h'


@pytest.mark.parametrize('options, field', [
    ({'role_map': {'host': 'hosts'}, 'host_role': 'other'}, 'openbao.role_map.host'),
    ({'host_mount': 'a b'}, 'openbao.host_mount'),
    ({'role_map': {'host': 'a/b'}}, 'openbao.host_role'),
])
def test_bad_host_ca_settings_name_the_field(options, field):
    with pytest.raises(ValidationError) as exc:
        settings(dict({'url': URL, 'token': 't'}, **options))
    assert field in fields_of(exc)
