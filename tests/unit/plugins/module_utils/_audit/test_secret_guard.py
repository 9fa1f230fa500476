"""The secret guard: every kind of secret material is refused, ordinary audit/catalog values pass.

Every secret-like value here is generated at test time (``secrets`` / ``os.urandom`` /
``cryptography``), so nothing that looks like a credential is committed.  Test ids name the
kind and an index, never the value.
"""

import base64
import datetime
import hashlib
import json
import os
import secrets
import string
import struct
import time
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.netkingdom.warden.plugins.module_utils._audit.secret_guard import (
    KINDS,
    find_secrets,
    secret_kind,
    secret_problem,
)

B62 = string.ascii_letters + string.digits
UPPER_DIGITS = string.ascii_uppercase + string.digits
HEX = '0123456789abcdef'


def rnd(n, alphabet=B62):
    return ''.join(secrets.choice(alphabet) for dummy in range(n))


def b64(nbytes):
    return base64.b64encode(os.urandom(nbytes)).decode('ascii')


def b64url(nbytes):
    return base64.urlsafe_b64encode(os.urandom(nbytes)).decode('ascii').rstrip('=')


def b64url_json(obj):
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode('ascii').rstrip('=')


def ssh_string(data):
    return struct.pack('>I', len(data)) + data


def ssh_blob(key_type, nbytes=32):
    return base64.b64encode(ssh_string(key_type) + ssh_string(os.urandom(nbytes))).decode('ascii')


def pem(label, nbytes=400):
    body = base64.encodebytes(os.urandom(nbytes)).decode('ascii')
    return '-----BEGIN %s-----\n%s-----END %s-----\n' % (label, body, label)


def jwt(alg='HS256', sig_bytes=32):
    now = int(time.time())
    header = b64url_json({'alg': alg, 'typ': 'JWT'})
    payload = b64url_json({'sub': 'agt-state-hub-bridge', 'iat': now, 'exp': now + 600, 'jti': rnd(16)})
    return '%s.%s.%s' % (header, payload, b64url(sig_bytes) if sig_bytes else '')


def sha256_fingerprint(blob):
    return 'SHA256:' + base64.b64encode(hashlib.sha256(blob).digest()).decode('ascii').rstrip('=')


def real_keys():
    """A real ed25519 key pair, its OpenSSH private key, and a real user certificate."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    key = ed25519.Ed25519PrivateKey.generate()
    ca = ed25519.Ed25519PrivateKey.generate()
    ec_key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                serialization.NoEncryption()).decode('ascii')
    pkcs8 = ec_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()).decode('ascii')
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH).decode('ascii')
    ec_public = ec_key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                                 serialization.PublicFormat.OpenSSH).decode('ascii')
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (serialization.SSHCertificateBuilder()
            .public_key(key.public_key())
            .serial(secrets.randbits(63))
            .type(serialization.SSHCertificateType.USER)
            .key_id(b'warden:agt-state-hub-bridge:decision:' + secrets.token_hex(8).encode())
            .valid_principals([b'agt-task-bridge'])
            .valid_after(int(now.timestamp()) - 60)
            .valid_before(int(now.timestamp()) + 3600)
            .sign(ca))
    cert_line = cert.public_bytes().decode('ascii')
    return {'private': private, 'pkcs8': pkcs8, 'public': public, 'ec_public': ec_public,
            'cert': cert_line, 'public_blob': base64.b64decode(public.split()[1])}


KEYS = real_keys()


def secret_table():
    """(kind, value) pairs, freshly generated for every run."""
    t = []
    # OpenBao / Vault
    t += [('vault_token', 'hvs.' + rnd(91)),
          ('vault_token', 'hvs.CAESI' + rnd(60, B62 + '_-') + rnd(20)),
          ('vault_token', 'hvb.AAAAAQ' + b64url(96)),
          ('vault_token', 'hvr.' + rnd(24)),
          ('vault_token', 's.' + rnd(24)),
          ('vault_token', 'b.AAAAAQ' + b64url(60)),
          ('vault_token', 'r.' + rnd(24))]
    # GitHub
    t += [('github_token', prefix + rnd(36)) for prefix in ('ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_')]
    t += [('github_token', 'github_pat_' + rnd(22) + '_' + rnd(59))]
    # GitLab
    t += [('gitlab_token', 'glpat-' + rnd(20, B62 + '_-')),
          ('gitlab_token', 'gldt-' + rnd(20)),
          ('gitlab_token', 'glrt-' + rnd(20)),
          ('gitlab_token', 'glptt-' + rnd(40, HEX)),
          ('gitlab_token', 'glft-' + rnd(20)),
          ('gitlab_token', 'glcbt-' + rnd(5, HEX) + '_' + rnd(20)),
          ('gitlab_token', 'GR1348941' + rnd(20))]
    # Slack
    team, user = rnd(11, string.digits), rnd(12, string.digits)
    t += [('slack_token', 'xoxb-%s-%s-%s' % (team, user, rnd(24))),
          ('slack_token', 'xoxp-%s-%s-%s-%s' % (team, user, rnd(12, string.digits), rnd(32, HEX))),
          ('slack_token', 'xoxa-2-%s-%s-%s' % (team, user, rnd(32, HEX))),
          ('slack_token', 'xoxr-%s-%s' % (team, rnd(40))),
          ('slack_token', 'xoxs-%s-%s-%s' % (team, user, rnd(64, HEX))),
          ('slack_token', 'xapp-1-A%s-%s-%s' % (rnd(10, UPPER_DIGITS), rnd(13, string.digits), rnd(64, HEX)))]
    # npm, AWS
    t += [('npm_token', 'npm_' + rnd(36)) for dummy in range(2)]
    t += [('aws_access_key_id', 'AKIA' + rnd(16, UPPER_DIGITS)),
          ('aws_access_key_id', 'ASIA' + rnd(16, UPPER_DIGITS))]
    t += [('aws_secret_key', b64(30)) for dummy in range(3)]  # 40 base64 characters
    # PEM armour, OpenSSH private keys
    t += [('private_key', pem(label)) for label in ('RSA PRIVATE KEY', 'EC PRIVATE KEY', 'ENCRYPTED PRIVATE KEY')]
    t += [('private_key', KEYS['pkcs8']),
          ('private_key', '-----BEGIN PGP PRIVATE KEY BLOCK-----'),
          ('pem_block', pem('CERTIFICATE')),
          ('pem_block', pem('CERTIFICATE REQUEST')),
          ('pem_block', '-----BEGIN X509 CRL-----')]
    t += [('openssh_private_key', KEYS['private']),
          ('openssh_private_key', pem('OPENSSH PRIVATE KEY')),
          ('openssh_private_key', KEYS['private'].splitlines()[1])]  # the bare first body line
    # SSH certificates and public keys: the audit holds fingerprints, never bodies
    t += [('ssh_certificate', KEYS['cert']),
          ('ssh_certificate', KEYS['cert'].split()[1]),  # bare base64 body
          ('ssh_certificate', 'ssh-rsa-cert-v01@openssh.com ' + ssh_blob(b'ssh-rsa-cert-v01@openssh.com', 300)),
          ('ssh_certificate', 'ecdsa-sha2-nistp256-cert-v01@openssh.com '
           + ssh_blob(b'ecdsa-sha2-nistp256-cert-v01@openssh.com', 120) + ' host-web-01'),
          ('ssh_public_key', KEYS['public']),
          ('ssh_public_key', KEYS['ec_public']),
          ('ssh_public_key', KEYS['public'].split()[1]),
          ('ssh_public_key', 'ssh-rsa ' + ssh_blob(b'ssh-rsa', 256) + ' ops@laptop')]
    # JWTs
    t += [('jwt', jwt()), ('jwt', jwt('RS256', 256)), ('jwt', jwt('none', 0))]
    # credentials in URLs, headers, assignments
    t += [('url_credentials', 'https://deploy:%s@git.example.internal/ops/warden.git' % rnd(16)),
          ('url_credentials', 'postgres://warden:%s@db.example.internal:5432/audit' % rnd(12)),
          ('url_credentials', 'amqp://guest:%s@127.0.0.1/' % rnd(10, string.ascii_lowercase)),
          ('auth_header', 'Authorization: Bearer ' + b64url(30)),
          ('auth_header', 'Basic ' + base64.b64encode(('ops:' + rnd(14)).encode()).decode()),
          ('credential_assignment', 'password=' + rnd(12)),
          ('credential_assignment', 'secret_id: ' + str(uuid.uuid4())),
          ('credential_assignment', 'WARDEN_POLICY_TOKEN=' + rnd(20)),
          ('credential_assignment', 'api_key: "%s"' % rnd(32, HEX))]
    # long random runs without a known prefix
    t += [('high_entropy', b64url(33)),          # 44 characters with - and _
          ('high_entropy', b64(48)),             # 64 characters with + / =
          ('high_entropy', rnd(48)),
          ('high_entropy', 'rotated to %s at 10:00' % rnd(56)),
          ('high_entropy', 'SHA256:' + rnd(60))]   # too long to be a fingerprint
    return t


SECRETS = secret_table()
SECRET_IDS = ['%s-%d' % (kind, i) for i, (kind, dummy) in enumerate(SECRETS)]


def test_table_covers_every_kind_and_is_large():
    assert len(SECRETS) >= 60
    assert {kind for kind, dummy in SECRETS} == set(KINDS)


@pytest.mark.parametrize('kind, value', SECRETS, ids=SECRET_IDS)
def test_secret_is_refused_with_its_kind_and_never_echoed(kind, value):
    assert secret_kind(value) == kind
    problem = secret_problem(value)
    assert problem is not None and kind in problem and str(len(value)) in problem
    assert value not in problem
    # the part after the prefix never leaks either
    assert value[-12:] not in problem


@pytest.mark.parametrize('kind, value', SECRETS, ids=SECRET_IDS)
def test_secret_found_inside_text_and_nested_structures(kind, value):
    sentence = 'sign failed for agt-state-hub-bridge: got %s from upstream' % value
    assert secret_kind(sentence) is not None
    record = {'kind': 'sign', 'actor': 'agt-state-hub-bridge',
              'context': {'principals': ['agt-task-bridge', value], 'note': 'ok'}}
    assert find_secrets(record) == [('context.principals[1]', kind)]
    assert find_secrets([value], path='values') == [('values[0]', kind)]
    assert find_secrets({value: 'x'}) == [('<key #0>', kind)]
    assert value.encode() and find_secrets({'b': value.encode()}) == [('b', kind)]


def fingerprint():
    return sha256_fingerprint(os.urandom(51))


ORDINARY = [
    # actors, principals, types, subjects
    'agt-state-hub-bridge', 'adm-example', 'atm-backup-daily', 'agt-task-bridge', 'ops-admin', 'root',
    'agt', 'adm', 'atm', 'iam:agt-state-hub-bridge', 'tenant:platform', 'ssh-cert:actor/agt-state-hub-bridge',
    'agt-state-hub-bridge-backend-worker-eu-west-01',
    # decision ids, key ids, fingerprints, digests, serials
    'decision:' + secrets.token_hex(8), 'decision:032b096c433ad80c',
    'warden:agt-state-hub-bridge:decision:0123456789abcdef',
    'warden:agt-state-hub-bridge:decision:' + secrets.token_hex(8),
    sha256_fingerprint(KEYS['public_blob']), fingerprint(), fingerprint(),
    'SHA256:Zr6eP0g9mXxFQ0x8bB0pUq7p3sVb0Xr5f9m1pP4cJ2c',
    'sha256:' + hashlib.sha256(os.urandom(16)).hexdigest(), 'sha256:' + secrets.token_hex(32),
    'MD5:' + ':'.join(secrets.token_hex(1) for dummy in range(16)),
    str(secrets.randbits(63)), '1732615200123456789', secrets.token_hex(20), str(uuid.uuid4()),
    # timestamps
    '2026-11-26T10:00:00Z', '2026-11-26T10:00:00.123456Z', '2026-11-26T10:00:00+00:00',
    datetime.datetime.now(datetime.timezone.utc).isoformat(),
    # URLs without credentials, paths, command templates
    'https://bao.example.internal:8200', 'https://flex-auth.example.internal:8080/v1/check',
    'http://127.0.0.1:8200/v1/ssh/sign/agt-role', 'ssh://git@github.com/netkingdom/ops-warden.git',
    'secret/data/aegis/runtime', 'secret/data/<domain>/npm', 'ssh/sign/agt-role',
    'vault kv get -field=<field> <path>', 'vault kv get -field=NPM_AUTH_TOKEN secret/data/coulomb_social/npm',
    'bao kv get -field=password secret/data/aegis/runtime',
    '/etc/ssh/auth_principals/%u', '/etc/ssh/ca/ca_user.pub', '/etc/ssh/ssh_host_ed25519_key-cert.pub',
    '/home/deploy/.ssh/id_ed25519-cert.pub', 'registry/routing/catalog.yaml',
    'ansible_collections/netkingdom/warden/plugins/module_utils/_audit/secret_guard.py',
    # reasons, outcomes, messages, names
    'signing_policy_matched', 'policy_unavailable', 'ttl_out_of_bounds', 'unknown_actor_resource',
    'signed', 'kept', 'denied', 'openbao', 'local', 'embedded', 'flex_auth',
    'POST http://127.0.0.1:8181/v1/check failed after 3 attempt(s): no answer within 5.0s',
    'ssh-ed25519', 'ssh-ed25519-cert-v01@openssh.com', 'token', 'policy.token: must be a string',
    'token: agt-state-hub-bridge', 'lane secret: runtime database credentials', 'auth_method: oidc',
    'web-01.prod.example.internal', '127.77.0.3', 'awx-ee-node-1', 'warden-signer-deployment-7d9f8b6c5d-x2x9z',
    'OpsWardenRegistrySnapshotDeploymentPipeline', 'Registry/FlexAuth/ProductionRegistrySnapshot',
    'arn:aws:iam::123456789012:role/WardenSigner', 'system:serviceaccount:warden:signer',
    'AKIAEXAMPLE', 's.example.internal', 'xoxb', 'ghp_', 'npm_AUTH', 'Bearer', '-----END',
    '', 'x',
]


def test_ordinary_table_is_large():
    assert len(ORDINARY) >= 40


@pytest.mark.parametrize('value', ORDINARY, ids=['ordinary-%d' % i for i in range(len(ORDINARY))])
def test_ordinary_value_passes(value):
    assert secret_problem(value) is None
    assert find_secrets({'field': value, 'list': [value]}) == []


def test_non_strings_are_not_secrets():
    for value in (None, True, 0, 24, 1.5, 2 ** 70, object()):
        assert secret_kind(value) is None and secret_problem(value) is None
    assert find_secrets({'ttl_hours': 24, 'ok': True, 'n': None, 'x': object()}) == []


def test_cycles_and_deep_nesting():
    loop = {'a': []}
    loop['a'].append(loop)
    loop['b'] = 'ghp_' + rnd(36)
    assert find_secrets(loop) == [('b', 'github_token')]
    deep = 'npm_' + rnd(36)
    for dummy in range(5000):  # far past the recursion limit
        deep = [deep]
    assert find_secrets(deep) == [('[0]' * 5000, 'npm_token')]


def test_guard_is_fast_on_an_ordinary_record():
    record = {'ts': '2026-11-26T10:00:00.123456Z', 'kind': 'sign', 'actor': 'agt-state-hub-bridge',
              'actor_type': 'agt', 'subject': 'iam:agt-state-hub-bridge', 'host': 'web-01.example.internal',
              'principals': ['agt-task-bridge'], 'ttl_hours': 24, 'backend': 'openbao',
              'serial': '1732615200123456789',
              'key_id': 'warden:agt-state-hub-bridge:decision:0123456789abcdef',
              'valid_after': '2026-11-26T09:55:00Z', 'valid_before': '2026-11-27T10:00:00Z',
              'ca_fingerprint': fingerprint(), 'pubkey_fingerprint': fingerprint(),
              'policy_decision_id': 'decision:032b096c433ad80c', 'outcome': 'signed',
              'reason': 'signing_policy_matched'}
    rounds = 2000
    start = time.perf_counter()
    for dummy in range(rounds):
        assert not find_secrets(record)
    per_record = (time.perf_counter() - start) / rounds
    print('secret guard: %.1f us per 18-field record' % (per_record * 1e6))
    assert per_record < 0.002


# -- properties -------------------------------------------------------------------------------------

JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text() | st.binary(),
    lambda children: (st.lists(children, max_size=5) | st.tuples(children, children)
                      | st.dictionaries(st.text() | st.integers() | st.none(), children, max_size=5)
                      | st.frozensets(st.text(max_size=20), max_size=3)),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(JSONISH, st.text(max_size=10))
def test_find_secrets_never_raises(obj, path):
    found = find_secrets(obj, path=path)
    assert isinstance(found, list)
    for where, kind in found:
        assert isinstance(where, str) and kind in KINDS


PREFIXES = ['hvs.', 's.', 'ghp_', 'github_pat_', 'glpat-', 'xoxb-1-', 'npm_', 'AKIA', 'eyJ', 'AAAA',
            '-----BEGIN ', 'password=', 'Bearer ', 'https://u:', '']


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(PREFIXES), st.text(alphabet=B62 + '+/=_-.:@ ', min_size=0, max_size=80),
       st.text(max_size=20))
def test_problem_never_echoes_the_value(prefix, body, noise):
    value = noise + prefix + body
    problem = secret_problem(value)
    if problem is not None and len(value) >= 12:
        assert value not in problem
        assert body not in problem or len(body) < 8


WORDS = ['state', 'hub', 'bridge', 'backup', 'daily', 'task', 'ops', 'admin', 'worker', 'eu', 'west',
         'deploy', 'registry', 'signer', 'runtime', 'aegis', 'web', 'db', 'cache', 'node', 'edge', 'prod']


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(['adm', 'agt', 'atm']),
       st.lists(st.sampled_from(WORDS) | st.integers(0, 99).map(str), min_size=1, max_size=10),
       st.sampled_from(['-', '.', '_']))
def test_names_built_from_words_never_flagged(prefix, parts, sep):
    name = prefix + '-' + sep.join(parts)
    assert secret_kind(name) is None
    assert secret_kind('warden:%s:decision:%s' % (name, secrets.token_hex(8))) is None
