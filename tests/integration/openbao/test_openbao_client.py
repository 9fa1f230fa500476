"""The OpenBao client layer (module_utils/_openbao/: settings, session, client, signer, auth) against a real OpenBao.

Functional tests use the session's shared dev server (`openbao` fixture) and only add things
to it (auth mounts, policies, a restricted role, a second SSH mount); fault tests (audit
device, seal, stop, a silent port) use private servers so the shared one is never disturbed.
Every error text, and everything the tests print, is checked for tokens and secrets.
"""

import base64
import json
import os
import re
import socket
import subprocess
import sys
import time
from datetime import datetime

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
if _ROOT not in sys.path:
    sys.path.append(_ROOT)

from tests.bed.collection_path import ensure_on_path  # noqa: E402

ensure_on_path()

from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.auth import OpenBaoError  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.session import reset_sessions  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.settings import OpenBaoSettings  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.signer import OpenBaoSigner  # noqa: E402
from tests.bed.openbao import OpenBaoDev  # noqa: E402

AGT_POLICY = 'warden-test-agt-signer'
APPROLE = 'warden-approle'
USERPASS = 'warden-userpass'
JWT = 'warden-jwt'
RESTRICTED = 'warden-restricted-role'
ROTATION_MOUNT = 'warden-rotation'
BACKDATE = 30  # OpenBao's default not_before_duration

SECRETS = set()  # every token, secret id, password and JWT these tests handle


def remember(*values):
    SECRETS.update(v for v in values if v)
    return values[0] if len(values) == 1 else values


def assert_no_secret(text):
    for secret in SECRETS:
        assert secret not in text, 'a secret value leaked into: %s' % text.replace(secret, '<LEAK>')


@pytest.fixture(autouse=True)
def no_secret_in_captured_output(capfd, caplog):
    yield
    out, err = capfd.readouterr()
    assert_no_secret(out + err + caplog.text)


def expect_error(func, *fragments):
    with pytest.raises(OpenBaoError) as info:
        func()
    text = str(info.value)
    for fragment in fragments:
        assert fragment in text, text
    assert_no_secret(text)
    assert_no_secret(repr(info.value))
    return text


def new_public_key():
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


def cert_info(signed_key, tmp_path):
    """`ssh-keygen -L` of a certificate: type, key id, principals, validity seconds."""
    path = tmp_path / ('cert-%d-cert.pub' % time.monotonic_ns())
    path.write_text(signed_key + '\n')
    out = subprocess.run(['ssh-keygen', '-L', '-f', str(path)], capture_output=True, text=True, check=True).stdout
    kind = re.search(r'Type: \S+ (user|host) certificate', out).group(1)
    key_id = re.search(r'Key ID: "([^"]*)"', out).group(1)
    start, end = re.search(r'Valid: from (\S+) to (\S+)', out).groups()
    block = re.search(r'Principals:\s*\n((?:\s{16,}\S+\n)*)', out).group(1)
    seconds = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    return {'type': kind, 'key_id': key_id, 'principals': block.split(), 'seconds': seconds}


def make_settings(url, env=None, require_auth=True, **options):
    return OpenBaoSettings(dict(url=url, **options), env=env or {}, require_auth=require_auth)


def signer_for(url, **options):
    return OpenBaoSigner(make_settings(url, **options))


def enable_auth(bao, path, kind):
    if '%s/' % path not in bao.request('GET', 'sys/auth')['data']:
        bao.request('POST', 'sys/auth/%s' % path, {'type': kind})


def setup_approle(bao, mount, policy, role='agt-ci', token_ttl='20m'):
    enable_auth(bao, mount, 'approle')
    bao.request('POST', 'auth/%s/role/%s' % (mount, role), {'token_policies': [policy], 'token_ttl': token_ttl})
    role_id = bao.request('GET', 'auth/%s/role/%s/role-id' % (mount, role))['data']['role_id']
    secret_id = bao.request('POST', 'auth/%s/role/%s/secret-id' % (mount, role))['data']['secret_id']
    return remember(role_id), remember(secret_id)


def write_agt_policy(bao, mount='ssh'):
    bao.write_policy(AGT_POLICY, 'path "%s/sign/agt-role" { capabilities = ["create", "update"] }\n' % mount)


@pytest.fixture(scope='module')
def bao(openbao):
    remember(openbao.token)
    write_agt_policy(openbao)
    openbao.request('POST', 'ssh/roles/%s' % RESTRICTED, {
        'key_type': 'ca', 'allow_user_certificates': True, 'allowed_users': 'alice,bob',
        'ttl': '1h', 'max_ttl': '1h'})
    return openbao


@pytest.fixture(scope='module')
def approle(bao):
    return setup_approle(bao, APPROLE, AGT_POLICY)


@pytest.fixture(scope='module')
def lonely(workdir):
    """A private server for audit, seal and stop: the shared one is never disturbed."""
    with OpenBaoDev(workdir / 'openbao-client-faults') as server:
        server.setup_ssh_engine()
        remember(server.token)
        write_agt_policy(server)
        yield server


# --- token auth: every role, host certificates, the CA ------------------------------------
@pytest.mark.parametrize('actor_type, hours', [('adm', 48), ('agt', 24), ('atm', 8)])
def test_token_sign_each_actor_role(bao, tmp_path, actor_type, hours):
    signer = signer_for(bao.url, token=bao.token)
    role = signer.role_for(actor_type)
    assert role == '%s-role' % actor_type
    principals = ['%s-task-bridge' % actor_type, 'backup']
    result = signer.sign(role, new_public_key(), principals, hours * 3600, key_id='%s-state-hub' % actor_type)
    assert set(result) == {'signed_key', 'serial_number', 'issuer_id', 'key_id_sent'}
    assert result['key_id_sent'] is True  # the collection's roles allow key ids
    assert re.match(r'^[0-9a-f]+$', result['serial_number'])
    info = cert_info(result['signed_key'], tmp_path)
    assert info['type'] == 'user'
    assert info['principals'] == principals
    assert info['key_id'] == '%s-state-hub' % actor_type
    assert abs(info['seconds'] - (hours * 3600 + BACKDATE)) <= 2


def test_host_certificate_through_host_role(bao, tmp_path):
    signer = signer_for(bao.url, token=bao.token)
    result = signer.sign(signer.host_role, new_public_key(), ['web1.example.internal'], 3600, cert_type='host')
    info = cert_info(result['signed_key'], tmp_path)
    assert info['type'] == 'host' and info['principals'] == ['web1.example.internal']
    assert abs(info['seconds'] - (3600 + BACKDATE)) <= 2


def test_a_runbook_role_that_refuses_key_ids_still_signs(tmp_path):
    """Roles made with ops-warden's runbook commands answer 400 to a key_id: the signer sends the request once
    more without it (nothing was signed the first time), remembers the role, and warns once."""
    reset_sessions()
    with OpenBaoDev(tmp_path / 'bao') as server:
        remember(server.token)
        server.setup_runbook()
        audit = server.enable_audit_file(tmp_path / 'audit.log')
        signer = signer_for(server.url, token=server.token, host_mount='ssh-host-signer')

        def sign_requests():
            with open(str(audit)) as handle:
                entries = [json.loads(line) for line in handle]
            return [(e['request']['path'], 'key_id' in (e['request'].get('data') or {}),
                     (e.get('response') or {}).get('data', {}).get('error') or e.get('error'))
                    for e in entries if e['type'] == 'response' and '/sign/' in e['request']['path']]

        first = signer.sign('agt-role', new_public_key(), ['agt-task-bridge'], 3600, key_id='warden:agt-x:decision:1')
        assert first['key_id_sent'] is False
        assert cert_info(first['signed_key'], tmp_path)['key_id'].startswith('vault-')
        calls = sign_requests()
        assert [(path, sent) for path, sent, dummy in calls] == [('ssh/sign/agt-role', True),
                                                                 ('ssh/sign/agt-role', False)]
        warnings = signer.take_warnings()
        assert len(warnings) == 1 and 'agt-role on ssh/ does not allow key ids' in warnings[0]
        assert 'allow_user_key_ids=true' in warnings[0]

        again = signer.sign('agt-role', new_public_key(), ['agt-task-bridge'], 3600, key_id='warden:agt-x:decision:2')
        host = signer.sign('host-role', new_public_key(), ['web1.fleet.test'], 3600, cert_type='host',
                           key_id='warden:host:web1', mount='ssh-host-signer')
        assert again['key_id_sent'] is False and host['key_id_sent'] is False
        calls = sign_requests()[2:]
        assert [(path, sent) for path, sent, dummy in calls] == [
            ('ssh/sign/agt-role', False),                                            # remembered: no second 400
            ('ssh-host-signer/sign/host-role', True), ('ssh-host-signer/sign/host-role', False)]  # per mount and role
        assert ['host-role on ssh-host-signer/' in w for w in signer.take_warnings()] == [True]
        assert signer.take_warnings() == []
        # any other 400 is not retried
        expect_error(lambda: signer.sign('agt-role', new_public_key(), ['agt-task-bridge'], 25 * 3600,
                                         key_id='x'), 'above the max_ttl')
        assert len(sign_requests()) == 6
    reset_sessions()


def test_ca_public_key_needs_no_credentials(bao):
    signer = OpenBaoSigner(make_settings(bao.url, require_auth=False))
    assert signer.ca_public_key() == bao.ca_public_key()
    assert signer.health()['sealed'] is False
    assert signer.login_count == 0


def test_issuer_public_keys_follow_a_ca_rotation(bao):
    if '%s/' % ROTATION_MOUNT not in bao.request('GET', 'sys/mounts')['data']:
        bao.request('POST', 'sys/mounts/%s' % ROTATION_MOUNT, {'type': 'ssh'})
    ca = {'generate_signing_key': True, 'key_type': 'ed25519'}
    bao.request('POST', '%s/config/ca' % ROTATION_MOUNT, ca)
    signer = signer_for(bao.url, token=bao.token, mount=ROTATION_MOUNT)
    first = signer.issuer_public_keys()
    assert [i['public_key'] for i in first] == [signer.ca_public_key()] and first[0]['is_default']
    bao.request('POST', '%s/config/ca' % ROTATION_MOUNT, ca)  # a second issuer, now the default
    second = signer.issuer_public_keys()
    assert len(second) == 2 and second[0]['is_default'] and not second[1]['is_default']
    assert second[0]['public_key'] == signer.ca_public_key() != first[0]['public_key']
    assert second[1]['public_key'] == first[0]['public_key']


# --- the other auth methods, least privilege --------------------------------------------
def test_approle_least_privilege_and_ambient_token_ignored(bao, approle, monkeypatch, tmp_path):
    # hvac would pick up VAULT_TOKEN / ~/.vault-token (here: root) by itself; it must not.
    monkeypatch.setenv('VAULT_TOKEN', bao.token)
    monkeypatch.setenv('HOME', str(tmp_path))
    (tmp_path / '.vault-token').write_text(bao.token)
    role_id, secret_id = approle
    signer = signer_for(bao.url, auth_method='approle', role_id=role_id, secret_id=secret_id, mount_point=APPROLE)
    caps = signer.capabilities(['ssh/sign/agt-role', 'ssh/sign/adm-role'])
    assert caps == {'ssh/sign/agt-role': ['create', 'update'], 'ssh/sign/adm-role': ['deny']}
    assert signer.sign('agt-role', new_public_key(), ['agt-task-bridge'], 3600)['signed_key']
    text = expect_error(lambda: signer.sign('adm-role', new_public_key(), ['adm-x'], 3600),
                        'the token lacks create/update on ssh/sign/adm-role',
                        'path "ssh/sign/adm-role" { capabilities = ["create", "update"] }')
    assert 'permission denied' in text
    assert signer.login_count == 1


def test_userpass_login(bao):
    enable_auth(bao, USERPASS, 'userpass')
    password = remember('pw-' + base64.b32encode(os.urandom(10)).decode())
    bao.request('POST', 'auth/%s/users/agt-ci' % USERPASS, {'password': password, 'token_policies': [AGT_POLICY]})
    signer = signer_for(bao.url, auth_method='userpass', username='agt-ci', password=password, mount_point=USERPASS)
    assert signer.sign('agt-role', new_public_key(), ['agt-task-bridge'], 600)['signed_key']
    expect_error(lambda: signer.sign('atm-role', new_public_key(), ['atm-x'], 600), 'lacks create/update')
    wrong = remember(password + '-wrong')
    bad = signer_for(bao.url, auth_method='userpass', username='agt-ci', password=wrong, mount_point=USERPASS)
    expect_error(lambda: bad.sign('agt-role', new_public_key(), ['agt-x'], 600), 'userpass login failed')


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b'=')


def mint_jwt(key, claims):
    signing_input = _b64url(json.dumps({'alg': 'RS256', 'typ': 'JWT'}).encode()) + b'.' + \
        _b64url(json.dumps(claims).encode())
    signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return (signing_input + b'.' + _b64url(signature)).decode()


def test_jwt_login(bao):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    enable_auth(bao, JWT, 'jwt')
    bao.request('POST', 'auth/%s/config' % JWT, {'jwt_validation_pubkeys': [pem],
                                                 'bound_issuer': 'https://ci.example.internal'})
    bao.request('POST', 'auth/%s/role/agt-ci' % JWT, {
        'role_type': 'jwt', 'user_claim': 'sub', 'bound_audiences': ['openbao'],
        'token_policies': [AGT_POLICY], 'token_ttl': '10m'})
    now = int(time.time())
    claims = {'iss': 'https://ci.example.internal', 'sub': 'agt-ci-runner', 'aud': 'openbao',
              'iat': now, 'nbf': now - 5, 'exp': now + 300}
    token = remember(mint_jwt(key, claims))
    signer = signer_for(bao.url, auth_method='jwt', jwt=token, role_id='agt-ci', mount_point=JWT)
    assert signer.sign('agt-role', new_public_key(), ['agt-task-bridge'], 600)['signed_key']
    expect_error(lambda: signer.sign('adm-role', new_public_key(), ['adm-x'], 600), 'lacks create/update')
    stale = remember(mint_jwt(key, dict(claims, exp=now - 60, nbf=now - 120, iat=now - 120)))
    expired = signer_for(bao.url, auth_method='jwt', jwt=stale, role_id='agt-ci', mount_point=JWT)
    expect_error(expired.login, 'jwt login failed')


# --- error messages ------------------------------------------------------------------------
def test_ttl_above_role_max_is_refused_not_clamped(bao):
    signer = signer_for(bao.url, token=bao.token)
    expect_error(lambda: signer.sign('agt-role', new_public_key(), ['agt-x'], 24 * 3600 + 1),
                 'ttl 86401s is above the max_ttl of role agt-role', '86400')


def test_principal_not_allowed_by_role(bao):
    signer = signer_for(bao.url, token=bao.token)
    assert signer.sign(RESTRICTED, new_public_key(), ['alice'], 600)['signed_key']
    expect_error(lambda: signer.sign(RESTRICTED, new_public_key(), ['alice', 'mallory'], 600),
                 'principal not allowed by role %s' % RESTRICTED, 'mallory', 'allowed_users')


def test_unknown_role_and_mount(bao):
    signer = signer_for(bao.url, token=bao.token)
    expect_error(lambda: signer.sign('nope-role', new_public_key(), ['x'], 600), 'no SSH role nope-role')
    other = signer_for(bao.url, token=bao.token, mount='no-such-ssh')
    expect_error(lambda: other.sign('agt-role', new_public_key(), ['x'], 600), 'no SSH role agt-role on mount no-such-ssh')


def test_bad_secret_id(bao, approle):
    role_id, dummy = approle
    wrong = remember('00000000-1111-2222-3333-' + os.urandom(6).hex())
    signer = signer_for(bao.url, auth_method='approle', role_id=role_id, secret_id=wrong, mount_point=APPROLE)
    expect_error(lambda: signer.sign('agt-role', new_public_key(), ['agt-x'], 600),
                 'approle login failed', 'invalid role or secret ID', 'openbao.secret_id')
    assert signer.login_count == 0
    nomount = signer_for(bao.url, auth_method='approle', role_id=role_id, secret_id=wrong, mount_point='nowhere')
    expect_error(nomount.login, 'approle login failed', 'openbao.mount_point')


def test_bad_token(bao):
    bogus = remember('s.' + os.urandom(12).hex())
    signer = signer_for(bao.url, token=bogus)
    expect_error(lambda: signer.sign('agt-role', new_public_key(), ['agt-x'], 600), 'permission denied')


# --- scale: one login for many signs --------------------------------------------------------
def test_fifty_signs_log_in_once(lonely, tmp_path):
    audit = lonely.enable_audit_file(tmp_path / 'audit.jsonl')
    role_id, secret_id = setup_approle(lonely, 'approle', AGT_POLICY)
    reset_sessions()
    options = {'url': lonely.url, 'auth_method': 'approle', 'role_id': role_id, 'secret_id': secret_id}
    started = time.monotonic()
    for index in range(50):  # a new settings and signer object each time, as per-item lookups do
        signer = OpenBaoSigner(OpenBaoSettings(options, env={}))
        signer.sign('agt-role', new_public_key(), ['agt-task-%d' % index], 600)
    elapsed = time.monotonic() - started
    assert signer.login_count == 1
    logins = 0
    with open(audit) as handle:
        for line in handle:
            entry = json.loads(line)
            if entry.get('type') == 'request' and entry['request'].get('path') == 'auth/approle/login':
                logins += 1
    assert logins == 1
    assert elapsed < 5, elapsed


def test_login_again_when_the_lease_runs_out(lonely):
    role_id, secret_id = setup_approle(lonely, 'approle', AGT_POLICY, role='short-lived', token_ttl='4s')
    signer = signer_for(lonely.url, auth_method='approle', role_id=role_id, secret_id=secret_id)
    signer.sign('agt-role', new_public_key(), ['agt-x'], 600)
    signer.sign('agt-role', new_public_key(), ['agt-x'], 600)
    assert signer.login_count == 1
    time.sleep(2.1)  # half of the 4 s lease is left: log in again rather than sign with a dying token
    signer.sign('agt-role', new_public_key(), ['agt-x'], 600)
    assert signer.login_count == 2


# --- faults -----------------------------------------------------------------------------------
def test_sealed_fails_fast(lonely):
    signer = OpenBaoSigner(make_settings(lonely.url, token=lonely.token, retries=3), backoff=0.5)
    lonely.seal()
    try:
        started = time.monotonic()
        expect_error(lambda: signer.sign('agt-role', new_public_key(), ['agt-x'], 600),
                     'OpenBao at %s is sealed: unseal it' % lonely.url)
        assert time.monotonic() - started < 0.5  # no retries with backoff
        assert signer.health()['sealed'] is True
    finally:
        lonely.unseal()
    assert signer.sign('agt-role', new_public_key(), ['agt-x'], 600)['signed_key']


def test_server_stopped_is_unreachable(workdir):
    server = OpenBaoDev(workdir / 'openbao-client-stopped').start()
    try:
        remember(server.token)
        server.setup_ssh_engine()
        signer = OpenBaoSigner(make_settings(server.url, token=server.token, retries=1), backoff=0.05)
        assert signer.sign('agt-role', new_public_key(), ['agt-x'], 600)['signed_key']
    finally:
        server.stop()
    expect_error(lambda: signer.sign('agt-role', new_public_key(), ['agt-x'], 600),
                 'cannot reach OpenBao at %s: connection refused' % server.url, '2 attempts')
    expect_error(signer.ca_public_key, 'cannot reach OpenBao')


def test_silent_server_times_out(bao):
    with socket.socket() as listener:  # accepts connections (kernel backlog), never answers
        listener.bind(('127.0.0.1', 0))
        listener.listen(8)
        url = 'http://127.0.0.1:%d' % listener.getsockname()[1]
        signer = OpenBaoSigner(make_settings(url, token=bao.token, timeout=0.3, retries=1), backoff=0.01)
        started = time.monotonic()
        expect_error(lambda: signer.sign('agt-role', new_public_key(), ['agt-x'], 600),
                     'did not answer POST ssh/sign/agt-role', 'openbao.timeout', 'unused')
        assert time.monotonic() - started < 2


def test_tls_failure_says_what_to_set(bao):
    https = bao.url.replace('http://', 'https://')  # TLS against a plain-HTTP listener
    signer = OpenBaoSigner(make_settings(https, token=bao.token, retries=3), backoff=0.5)
    started = time.monotonic()
    expect_error(signer.ca_public_key, 'TLS to OpenBao at %s failed (wrong version number)' % https,
                 'scheme of openbao.url')
    assert time.monotonic() - started < 0.5  # not retried
