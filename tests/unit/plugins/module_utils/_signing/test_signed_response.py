"""What the signer returns is checked beyond key, principals and type (CA, signature, validity, options),
and a kept certificate must verify against the trusted CA: with real local CAs, no mocks."""

import subprocess

import pytest

from ansible_collections.netkingdom.warden.plugins.module_utils._signing import service as G
from ansible_collections.netkingdom.warden.plugins.module_utils._signing.backends import LocalBackend
from ansible_collections.netkingdom.warden.plugins.module_utils._signing.request import cert_request
from ansible_collections.netkingdom.warden.plugins.module_utils._signing.job import CertJob
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import SigningError
from ansible_collections.netkingdom.warden.plugins.module_utils._openssh.certificate import parse_certificate
from ansible_collections.netkingdom.warden.plugins.module_utils._openssh.keys import fingerprint

NOW = 1900000000
TTL = 3600


@pytest.fixture(scope='module')
def bed(tmp_path_factory):
    base = tmp_path_factory.mktemp('response')
    subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', str(base / 'host')], check=True)
    good = LocalBackend({'key_path': str(base / 'ca'), 'create': True}, env={})
    rogue = LocalBackend({'key_path': str(base / 'rogue'), 'create': True}, env={})
    return {'pub': (base / 'host.pub').read_text().strip(), 'good': good, 'rogue': rogue}


def problem(bed, request, ca=None, after=NOW - 30, before=NOW + TTL, **options):
    ca = ca or bed['good'].ca
    line = ca.sign(bed['pub'], request['cert_type'], request['principals'], 'id', after, before, **options)
    trusted = [fingerprint(k) for k in bed['good'].ca_public_keys(request['cert_type'])]
    return G.response_problem(request, parse_certificate(line), line, fingerprint(bed['pub']), trusted, TTL,
                              NOW, NOW + 1)


USER = {'cert_type': 'user', 'principals': ['alice'], 'ttl_hours': 1}
HOST = {'cert_type': 'host', 'principals': ['h1.example'], 'ttl_hours': 1}


def test_a_matching_certificate_passes(bed):
    assert problem(bed, USER) is None
    assert problem(bed, HOST) is None
    assert problem(bed, USER, extensions=['permit-pty', 'permit-X11-forwarding']) is None
    assert problem(bed, USER, after=NOW) is None  # no backdating at all


@pytest.mark.parametrize('change, words', [
    ({'ca': 'rogue'}, 'not by the CA that signs user certificates here'),
    ({'before': NOW + TTL + 3600}, 'the request asked for 3600s'),
    ({'after': NOW - 120}, 'plus at most 30s of backdating'),
    ({'before': 2 ** 64 - 1}, 'is valid for'),
    ({'after': NOW + 7200, 'before': NOW + 7200 + TTL}, 'are the clocks of the controller and the signer'),
    ({'after': NOW - 9000, 'before': NOW - 9000 + TTL + 30}, 'are the clocks of the controller and the signer'),
    ({'critical_options': {'force-command': '/bin/true'}}, 'critical options that were not asked for: force-command'),
    ({'extensions': ['permit-pty', 'no-touch-required']}, 'extensions that were not asked for: no-touch-required'),
    ({'extensions': {'permit-pty': 'yes'}}, 'extensions that were not asked for: permit-pty'),
])
def test_a_mismatch_is_named(bed, change, words):
    change = dict(change)
    if change.get('ca') == 'rogue':
        change['ca'] = bed['rogue'].ca
    assert words in problem(bed, USER, **change)


def test_a_host_certificate_carries_no_extension(bed):
    assert 'extensions that were not asked for: permit-pty' in problem(bed, HOST, extensions=['permit-pty'])


class RogueBackend(object):
    """Answers sign requests with another CA while claiming the trusted one (a wrong answer)."""

    name = 'local'

    def __init__(self, trusted, signer):
        self.trusted, self.signer = trusted, signer

    def ca_public_keys(self, *cert_type):
        return self.trusted.ca_public_keys(*cert_type)

    def sign(self, *args):
        return self.signer.sign(*args)


def test_a_wrong_answer_fails_closed_and_is_audited(bed, tmp_path):
    from ansible_collections.netkingdom.warden.plugins.module_utils._audit.log import AuditLog
    audit = AuditLog(str(tmp_path / 'audit.jsonl'))
    service = G.SigningService(RogueBackend(bed['good'], bed['rogue']), audit=audit)
    request = cert_request('host', principals=['h1.example'])
    job = CertJob(service, request, 'h1.example')
    job.plan(bed['pub'], None)
    with pytest.raises(SigningError, match='refusing the signed certificate: it is signed by CA'):
        job.sign()
    assert job.cert is None
    import json
    records = [json.loads(line) for line in (tmp_path / 'audit.jsonl').read_text().splitlines()]
    assert [r['outcome'] for r in records] == ['failed'] and 'signed by CA' in records[0]['reason']


def test_a_forged_kept_certificate_is_renewed_and_says_why(bed, tmp_path):
    """A certificate naming the trusted CA but signed by another key is not kept (reason signature_invalid)."""
    import base64
    good, rogue = bed['good'], bed['rogue']
    service = G.SigningService(good)
    request = cert_request('host', principals=['h1.example'])
    genuine = CertJob(service, request, 'h1.example')
    assert genuine.plan(bed['pub'], None) == 'missing'
    cert = genuine.sign()
    assert CertJob(service, request, 'h1.example').plan(bed['pub'], cert) == 'valid'
    # the forger signs with the rogue key and writes the trusted CA key into the certificate
    forged = rogue.ca.sign(bed['pub'], 'host', ['h1.example'], 'id', int(G.time.time()) - 30,
                           int(G.time.time()) + 720 * 3600)
    blob = base64.b64decode(forged.split()[1])
    mine, theirs = (base64.b64decode(b.ca.public_key_line.split()[1]) for b in (rogue, good))
    forged = forged.split()[0] + ' ' + base64.b64encode(blob.replace(mine, theirs)).decode()
    assert parse_certificate(forged)['ca_fingerprint'] == good.ca.fingerprint
    job = CertJob(service, request, 'h1.example')
    assert job.plan(bed['pub'], forged) == 'signature_invalid' and job.needed
    job.sign()
    assert any('not signed by it (forged or damaged)' in w for w in job.warnings)
