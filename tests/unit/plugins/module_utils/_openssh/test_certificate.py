"""OpenSSH certificates: parsing (checked field by field against `ssh-keygen -L`), the renewal
decision, the local CA (its certificates checked by `ssh-keygen -L`, which verifies the CA
signature) and CA key generation."""

import base64
import calendar
import importlib.util
import itertools
import json
import os
import shutil
import stat
import struct
import subprocess
import sys
import time

import pytest

from ansible_collections.netkingdom.warden.plugins.module_utils._openssh import ca_keygen as KG
from ansible_collections.netkingdom.warden.plugins.module_utils._openssh import certificate as S
from ansible_collections.netkingdom.warden.plugins.module_utils._openssh import local_ca as CA
from ansible_collections.netkingdom.warden.plugins.module_utils._openssh import signature as SIG
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError
from ansible_collections.netkingdom.warden.plugins.module_utils._openssh.keys import fingerprint

try:
    from hypothesis import HealthCheck, given, settings, strategies as st
    HAS_HYPOTHESIS = True
except ImportError:  # pragma: no cover
    HAS_HYPOTHESIS = False

HAS_BCRYPT = importlib.util.find_spec('bcrypt') is not None

SSH_KEYGEN = shutil.which('ssh-keygen')
needs_ssh_keygen = pytest.mark.skipif(SSH_KEYGEN is None, reason='ssh-keygen (openssh-client) is not installed')
needs_bcrypt = pytest.mark.skipif(not HAS_BCRYPT, reason='passphrase-protected OpenSSH keys need bcrypt')

FOREVER = 2 ** 64 - 1
KEY_KINDS = {  # name -> ssh-keygen arguments
    'ed25519': ['-t', 'ed25519'],
    'p256': ['-t', 'ecdsa', '-b', '256'],
    'p384': ['-t', 'ecdsa', '-b', '384'],
    'p521': ['-t', 'ecdsa', '-b', '521'],
    'rsa': ['-t', 'rsa', '-b', '2048'],
}
KEY_TYPE_NAMES = {'ed25519': 'ssh-ed25519', 'p256': 'ecdsa-sha2-nistp256', 'p384': 'ecdsa-sha2-nistp384',
                  'p521': 'ecdsa-sha2-nistp521', 'rsa': 'ssh-rsa'}
KINDS = sorted(KEY_KINDS)


# --------------------------------------------------------------------------- helpers

def run(*args, **kwargs):
    env = dict(os.environ, TZ='UTC')
    return subprocess.run(list(args), check=True, capture_output=True, text=True, env=env, **kwargs)


def keygen(path, kind, passphrase=''):
    run(SSH_KEYGEN, '-q', *KEY_KINDS[kind], '-N', passphrase, '-C', '', '-f', str(path))
    return path


def keygen_fingerprint(pub_path):
    return run(SSH_KEYGEN, '-l', '-f', str(pub_path)).stdout.split()[1]


def key_line(pub_path):
    return ' '.join(open(pub_path).read().split()[:2])


def _keygen_time(text):
    return calendar.timegm(time.strptime(text, '%Y-%m-%dT%H:%M:%S'))


def _keygen_option(text):
    """One option line of `ssh-keygen -L` -> (name, value)."""
    if ' UNKNOWN FLAG OPTION' in text:
        return text.split()[0], ''
    if ' UNKNOWN OPTION: ' in text:
        name, rest = text.split(' UNKNOWN OPTION: ', 1)
        raw = bytes.fromhex(rest.split()[0])
        (length,) = struct.unpack('>I', raw[:4])
        assert len(raw) == 4 + length
        return name, raw[4:].decode()
    name, dummy, value = text.partition(' ')
    return name, value


def keygen_list(cert_path):
    """`ssh-keygen -L -f cert` (run with TZ=UTC) as a dict with parse_certificate's keys."""
    out = run(SSH_KEYGEN, '-L', '-f', str(cert_path)).stdout
    got = {'principals': [], 'critical_options': {}, 'extensions': {}}
    section = None
    for line in out.splitlines()[1:]:
        text = line.strip()
        head, sep, rest = text.partition(': ')
        if not sep and text.endswith(':'):
            head, rest = text[:-1], ''
        if head == 'Type':
            got['cert_key_type'], got['cert_type'], dummy = rest.split()
        elif head == 'Public key':
            got['key_fingerprint'] = rest.split()[1]
        elif head == 'Signing CA':
            parts = rest.split()
            got['ca_fingerprint'] = parts[1]
            got['signature_type'] = parts[3].rstrip(')')
        elif head == 'Key ID':
            assert rest.startswith('"') and rest.endswith('"')
            got['key_id'] = rest[1:-1]
        elif head == 'Serial':
            got['serial'] = int(rest)
        elif head == 'Valid':
            if rest == 'forever':
                got['valid_after'], got['valid_before'] = 0, FOREVER
            elif rest.startswith('from '):
                start, dummy, end = rest[5:].partition(' to ')
                got['valid_after'], got['valid_before'] = _keygen_time(start), _keygen_time(end)
            elif rest.startswith('after '):
                got['valid_after'], got['valid_before'] = _keygen_time(rest[6:]), FOREVER
            elif rest.startswith('before '):
                got['valid_after'], got['valid_before'] = 0, _keygen_time(rest[7:])
            else:
                raise AssertionError('unknown Valid: %r' % rest)
        elif head in ('Principals', 'Critical Options', 'Extensions'):
            section = head
            assert rest in ('', '(none)'), text
        elif section == 'Principals':
            got['principals'].append(text)
        elif section == 'Critical Options':
            name, value = _keygen_option(text)
            got['critical_options'][name] = value
        elif section == 'Extensions':
            name, value = _keygen_option(text)
            got['extensions'][name] = value
        else:
            raise AssertionError('unexpected ssh-keygen -L line %r' % line)
    return got


def assert_matches_keygen(parsed, listed):
    for name, value in listed.items():
        assert parsed[name] == value, name


@pytest.fixture(scope='module')
def keys(tmp_path_factory):
    """One unencrypted OpenSSH key pair per kind, made by ssh-keygen."""
    if SSH_KEYGEN is None:
        pytest.skip('ssh-keygen is not installed')
    base = tmp_path_factory.mktemp('keys')
    return {kind: keygen(base / kind, kind) for kind in KINDS}


@pytest.fixture(autouse=True)
def _fresh_ca_cache():
    CA.clear_ca_cache()
    yield
    CA.clear_ca_cache()


# --------------------------------------------------------------------------- a cert encoder for crafted inputs

def sstr(data):
    if isinstance(data, str):
        data = data.encode()
    return struct.pack('>I', len(data)) + data


def options_blob(options):
    out = b''
    for name, value in options:
        out += sstr(name) + sstr(sstr(value) if value else b'')
    return out


ED_KEY = b'\x11' * 32
CA_BLOB = sstr('ssh-ed25519') + sstr(b'\x22' * 32)


def cert_blob(cert_type_line='ssh-ed25519-cert-v01@openssh.com', key_fields=None, serial=7, type_code=1,
              key_id='id', principals=('alice', 'bob'), valid_after=100, valid_before=200,
              critical=(), extensions=(('permit-pty', ''),), reserved=b'', ca=CA_BLOB,
              signature=sstr('ssh-ed25519') + sstr(b'\x33' * 64), raw_principals=None,
              raw_critical=None, raw_extensions=None, raw_key_id=None):
    if key_fields is None:
        key_fields = sstr(ED_KEY)
    out = sstr(cert_type_line) + sstr(b'n' * 32) + key_fields
    out += struct.pack('>QI', serial, type_code)
    out += sstr(raw_key_id if raw_key_id is not None else key_id)
    out += sstr(raw_principals if raw_principals is not None else b''.join(sstr(p) for p in principals))
    out += struct.pack('>QQ', valid_after, valid_before)
    out += sstr(raw_critical if raw_critical is not None else options_blob(critical))
    out += sstr(raw_extensions if raw_extensions is not None else options_blob(extensions))
    out += sstr(reserved) + sstr(ca) + sstr(signature)
    return out


def cert_line(blob, line_type='ssh-ed25519-cert-v01@openssh.com'):
    return '%s %s' % (line_type, base64.b64encode(blob).decode())


GOOD_LINE = cert_line(cert_blob())


def test_crafted_certificate_parses():
    got = S.parse_certificate(GOOD_LINE + ' comment here\n')
    assert got['cert_key_type'] == 'ssh-ed25519-cert-v01@openssh.com'
    assert got['key_type'] == 'ssh-ed25519'
    assert got['public_key'] == 'ssh-ed25519 ' + base64.b64encode(sstr('ssh-ed25519') + sstr(ED_KEY)).decode()
    assert got['key_fingerprint'] == fingerprint(got['public_key'])
    assert (got['serial'], got['cert_type'], got['key_id']) == (7, 'user', 'id')
    assert got['principals'] == ['alice', 'bob']
    assert (got['valid_after'], got['valid_before']) == (100, 200)
    assert got['critical_options'] == {} and got['extensions'] == {'permit-pty': ''}
    assert got['ca_public_key'] == 'ssh-ed25519 ' + base64.b64encode(CA_BLOB).decode()
    assert got['ca_fingerprint'] == fingerprint(got['ca_public_key'])
    assert S.parse_certificate(GOOD_LINE.encode()) == S.parse_certificate(GOOD_LINE)


# --------------------------------------------------------------------------- parsing vs ssh-keygen -L

VALIDITIES = [  # (ssh-keygen -V argument, valid_after, valid_before)
    ('0x65b0f000:0x65b26080', 0x65b0f000, 0x65b26080),
    ('always:forever', 0, FOREVER),
    ('0x6f000000:forever', 0x6f000000, FOREVER),
    ('always:0x70000000', 0, 0x70000000),
    ('20240101Z:20240102120000Z', 1704067200, 1704196800),
]
USER_OPTIONS = [
    [],                                     # ssh-keygen's default extensions
    ['-O', 'clear'],                        # none at all
    ['-O', 'clear', '-O', 'permit-pty', '-O', 'force-command=/usr/bin/printf hello world',
     '-O', 'source-address=10.0.0.0/8,192.0.2.1'],
    ['-O', 'no-x11-forwarding', '-O', 'verify-required', '-O', 'extension:flag@example.com',
     '-O', 'extension:mode@example.com=ro', '-O', 'critical:team@example.com=platform'],
]
HOST_OPTIONS = [[], ['-O', 'critical:zone@example.com=lab']]
PRINCIPAL_SETS = [['alice'], ['agt-task-bridge', 'deploy', 'root@x'], ['h1.example.net', 'h1', '10.1.2.3']]


def _keygen_cases():
    cases = []
    for index, (subject, ca, cert_type) in enumerate(itertools.product(KINDS, KINDS, ('user', 'host'))):
        validity = VALIDITIES[index % len(VALIDITIES)]
        options = (USER_OPTIONS if cert_type == 'user' else HOST_OPTIONS)[index % (4 if cert_type == 'user' else 2)]
        principals = PRINCIPAL_SETS[index % len(PRINCIPAL_SETS)]
        serial = [0, 42, 2 ** 63 + 5, 1234567890123][index % 4]
        cases.append(pytest.param(subject, ca, cert_type, validity, options, principals, serial,
                                  id='%s-by-%s-%s-%d' % (subject, ca, cert_type, index)))
    return cases


@needs_ssh_keygen
@pytest.mark.parametrize('subject,ca,cert_type,validity,options,principals,serial', _keygen_cases())
def test_parse_matches_ssh_keygen(keys, tmp_path, subject, ca, cert_type, validity, options, principals, serial):
    pub = tmp_path / 'subject.pub'
    shutil.copy(str(keys[subject]) + '.pub', str(pub))
    key_id = 'warden test %s/%s "%d"' % (subject, ca, serial)
    args = [SSH_KEYGEN, '-q', '-s', str(keys[ca]), '-I', key_id, '-n', ','.join(principals),
            '-V', validity[0], '-z', str(serial)] + options
    if cert_type == 'host':
        args.append('-h')
    run(*(args + [str(pub)]))
    cert_path = tmp_path / 'subject-cert.pub'
    parsed = S.parse_certificate(cert_path.read_text(), field='host_cert')
    listed = keygen_list(cert_path)

    assert set(listed) == set(parsed) - {'public_key', 'ca_public_key', 'key_type', 'signed_length'}
    assert_matches_keygen(parsed, listed)
    assert parsed['cert_type'] == cert_type
    assert parsed['principals'] == principals
    assert (parsed['valid_after'], parsed['valid_before']) == validity[1:]
    assert parsed['serial'] == serial and parsed['key_id'] == key_id
    assert parsed['key_type'] == KEY_TYPE_NAMES[subject]
    assert parsed['cert_key_type'] == KEY_TYPE_NAMES[subject] + '-cert-v01@openssh.com'
    # the certified key and the CA key come back as the very lines ssh-keygen wrote
    assert parsed['public_key'] == key_line(str(keys[subject]) + '.pub')
    assert parsed['key_fingerprint'] == keygen_fingerprint(str(keys[subject]) + '.pub')
    assert parsed['ca_public_key'] == key_line(str(keys[ca]) + '.pub')
    assert parsed['ca_fingerprint'] == keygen_fingerprint(str(keys[ca]) + '.pub')
    if ca == 'rsa':
        assert parsed['signature_type'] == 'rsa-sha2-512'


@needs_ssh_keygen
def test_parse_reads_options_exactly(keys, tmp_path):
    pub = tmp_path / 'k.pub'
    shutil.copy(str(keys['ed25519']) + '.pub', str(pub))
    run(SSH_KEYGEN, '-q', '-s', str(keys['p256']), '-I', 'opts', '-n', 'a', '-V', 'always:forever',
        '-O', 'clear', '-O', 'force-command=/bin/echo a b', '-O', 'source-address=192.0.2.0/24',
        '-O', 'permit-agent-forwarding', '-O', 'extension:x@example.com=1', str(pub))
    parsed = S.parse_certificate((tmp_path / 'k-cert.pub').read_text())
    assert parsed['critical_options'] == {'force-command': '/bin/echo a b', 'source-address': '192.0.2.0/24'}
    assert parsed['extensions'] == {'permit-agent-forwarding': '', 'x@example.com': '1'}


# --------------------------------------------------------------------------- malformed certificates

def _with_blob(blob):
    return cert_line(blob)


GOOD_BLOB = cert_blob()
MALFORMED = [
    # (case, input, words the message must hold)
    ('empty', '', 'empty'),
    ('only whitespace', ' \n\t', 'empty'),
    ('not text', 42, 'text'),
    ('None', None, 'text'),
    ('non-ASCII bytes', b'ssh-ed25519-cert-v01@openssh.com \xff\xfe', 'ASCII'),
    ('plain public key', 'ssh-ed25519 ' + base64.b64encode(sstr('ssh-ed25519') + sstr(ED_KEY)).decode(),
     'not a certificate'),
    ('unknown type', 'ssh-dss-cert-v01@openssh.com AAAA', 'unsupported certificate type'),
    ('not a key line', 'hello world', 'not an OpenSSH certificate'),
    ('type without data', 'ssh-ed25519-cert-v01@openssh.com', 'no certificate data'),
    ('invalid base64', 'ssh-ed25519-cert-v01@openssh.com !!!notbase64', 'base64'),
    ('non-ASCII base64', 'ssh-ed25519-cert-v01@openssh.com AAAA\u00e9', 'base64'),
    ('blob type differs from line type', cert_line(GOOD_BLOB, 'ecdsa-sha2-nistp256-cert-v01@openssh.com'),
     'the line says'),
    ('empty blob', 'ssh-ed25519-cert-v01@openssh.com ', 'no certificate data'),
    ('truncated in the nonce', _with_blob(GOOD_BLOB[:50]), 'truncated'),
    ('truncated in the serial', _with_blob(GOOD_BLOB[:4 + 32 + 4 + 32 + 4 + 32 + 3]), 'truncated'),
    ('truncated in the signature', _with_blob(GOOD_BLOB[:-1]), 'truncated'),
    ('truncated length field', _with_blob(GOOD_BLOB[:2]), 'truncated'),
    ('trailing garbage', _with_blob(GOOD_BLOB + b'\x00junk'), 'trailing garbage'),
    ('length field past the end', _with_blob(struct.pack('>I', 0xFFFFFFFF) + GOOD_BLOB[4:]), 'truncated'),
    ('certificate type 3', _with_blob(cert_blob(type_code=3)), 'neither user (1) nor host (2)'),
    ('certificate type 0', _with_blob(cert_blob(type_code=0)), 'neither user'),
    ('ed25519 key of 31 bytes', _with_blob(cert_blob(key_fields=sstr(b'\x01' * 31))), '32-byte'),
    ('ECDSA cert naming another curve',
     cert_line(cert_blob('ecdsa-sha2-nistp256-cert-v01@openssh.com', key_fields=sstr('nistp384') + sstr(b'\x04' * 97)),
               'ecdsa-sha2-nistp256-cert-v01@openssh.com'), 'curve'),
    ('principals with a partial string', _with_blob(cert_blob(raw_principals=sstr('alice') + b'\x00\x00')),
     'truncated'),
    ('non-UTF-8 key id', _with_blob(cert_blob(raw_key_id=b'\xff\xfe')), 'key id is not valid UTF-8'),
    ('non-UTF-8 principal', _with_blob(cert_blob(principals=[b'\xc3'])), 'UTF-8'),
    ('duplicate extension', _with_blob(cert_blob(extensions=[('permit-pty', ''), ('permit-pty', '')])), 'twice'),
    ('option value not an SSH string', _with_blob(cert_blob(raw_critical=sstr('force-command') + sstr('/bin/sh'))),
     'force-command'),
    ('option value with trailing data',
     _with_blob(cert_blob(raw_critical=sstr('force-command') + sstr(sstr('/bin/sh') + b'x'))), 'trailing data'),
    ('option without a value', _with_blob(cert_blob(raw_extensions=sstr('permit-pty'))), 'truncated'),
    ('empty option name', _with_blob(cert_blob(raw_extensions=sstr('') + sstr(''))), 'empty name'),
    ('CA key of unknown type', _with_blob(cert_blob(ca=sstr('ssh-dss') + sstr(b'x'))), 'unsupported type'),
    ('CA key is a certificate', _with_blob(cert_blob(ca=sstr('ssh-ed25519-cert-v01@openssh.com') + sstr(b'x'))),
     'unsupported type'),
    ('CA key with trailing data', _with_blob(cert_blob(ca=CA_BLOB + b'\x00')), 'signature key has trailing data'),
    ('CA key truncated', _with_blob(cert_blob(ca=CA_BLOB[:-3])), 'truncated'),
    ('empty signature', _with_blob(cert_blob(signature=b'')), 'truncated'),
]


@pytest.mark.parametrize('case,text,words', MALFORMED, ids=[c[0] for c in MALFORMED])
def test_malformed_certificate_names_the_field(case, text, words):
    with pytest.raises(ValidationError) as info:
        S.parse_certificate(text, field='warden_host_cert')
    assert info.value.fields == ['warden_host_cert']
    assert words in str(info.value), str(info.value)


def test_malformed_default_field_name():
    with pytest.raises(ValidationError) as info:
        S.parse_certificate('garbage')
    assert info.value.fields == ['certificate']


def _parse_or_validation_error(text):
    try:
        parsed = S.parse_certificate(text)
    except ValidationError as exc:
        assert exc.fields == ['certificate']
        return None
    json.dumps(parsed)  # a parsed certificate is plain data
    return parsed


if HAS_HYPOTHESIS:
    FUZZ = settings(max_examples=300, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])
    CERT_TYPE_LINES = st.sampled_from([t + '-cert-v01@openssh.com' for t in S._KEY_LAYOUT] + ['x', ''])

    @FUZZ
    @given(st.one_of(st.text(), st.binary()))
    def test_random_input_only_raises_validation_error(data):
        _parse_or_validation_error(data)

    @FUZZ
    @given(CERT_TYPE_LINES, st.binary(max_size=600))
    def test_random_base64_only_raises_validation_error(line_type, blob):
        _parse_or_validation_error('%s %s' % (line_type, base64.b64encode(blob).decode()))

    @FUZZ
    @given(st.integers(min_value=0, max_value=len(GOOD_BLOB)),
           st.lists(st.tuples(st.integers(min_value=0, max_value=len(GOOD_BLOB) - 1),
                              st.integers(min_value=0, max_value=255)), max_size=4))
    def test_mutated_certificate_only_raises_validation_error(cut, flips):
        blob = bytearray(GOOD_BLOB)
        for position, value in flips:
            blob[position] = value
        _parse_or_validation_error(_with_blob(bytes(blob[:cut])))
else:  # pragma: no cover
    @pytest.mark.skip(reason='hypothesis is not installed')
    def test_random_input_only_raises_validation_error():
        pass


# --------------------------------------------------------------------------- renewal decision

KEY_FP = 'SHA256:subjectkey'
CA_FP = 'SHA256:trustedca'
TRUSTED = {CA_FP, 'SHA256:nextca'}


def current(**changes):
    base = {'key_fingerprint': KEY_FP, 'ca_fingerprint': CA_FP, 'cert_type': 'user',
            'principals': ['alice', 'bob'], 'valid_after': 1000, 'valid_before': 1900,
            'serial': 9, 'key_id': 'k'}
    base.update(changes)
    return base


def decide(cert, now=1200, **kwargs):
    args = dict(public_key_fingerprint=KEY_FP, cert_type='user', principals=['alice', 'bob'],
                trusted_ca_fingerprints=TRUSTED, now=now)
    args.update(kwargs)
    return S.renewal_reason(cert, **args)


RENEWAL = [
    # (case, cert, decide() keyword arguments, expected reason)
    ('force wins over everything', current(key_fingerprint='x', ca_fingerprint='y'), {'force': True}, 'forced'),
    ('force on a missing cert', None, {'force': True}, 'forced'),
    ('force on a valid cert', current(), {'force': True}, 'forced'),
    ('missing', None, {}, 'missing'),
    ('issued for another key', current(key_fingerprint='SHA256:old'), {}, 'key_changed'),
    ('key change wins over CA, type, principals, expiry',
     current(key_fingerprint='SHA256:old', ca_fingerprint='z', cert_type='host', principals=[]), {'now': 9999},
     'key_changed'),
    ('CA not trusted', current(ca_fingerprint='SHA256:oldca'), {}, 'ca_changed'),
    ('CA trusted during a rotation (second CA)', current(ca_fingerprint='SHA256:nextca'), {}, 'valid'),
    ('one trusted CA given as a string', current(), {'trusted_ca_fingerprints': CA_FP}, 'valid'),
    ('no CA trusted at all', current(), {'trusted_ca_fingerprints': ()}, 'ca_changed'),
    ('CA change wins over type, principals, expiry', current(ca_fingerprint='z', cert_type='host', principals=[]),
     {'now': 9999}, 'ca_changed'),
    ('host cert where a user cert is wanted', current(cert_type='host'), {}, 'type_changed'),
    ('user cert where a host cert is wanted', current(), {'cert_type': 'host'}, 'type_changed'),
    ('type change wins over principals, expiry', current(cert_type='host', principals=['x']), {'now': 9999},
     'type_changed'),
    ('a principal more wanted', current(), {'principals': ['alice', 'bob', 'carol']}, 'principals_changed'),
    ('a principal fewer wanted', current(), {'principals': ['alice']}, 'principals_changed'),
    ('no principals wanted', current(), {'principals': []}, 'principals_changed'),
    ('principals change wins over expiry', current(principals=['x']), {'now': 9999}, 'principals_changed'),
    ('principals compared as sets', current(principals=['bob', 'alice', 'bob']), {'principals': ('alice', 'bob')},
     'valid'),
    # default window: a third of 900 s -> renew from 1600 on
    ('at valid_after', current(), {'now': 1000}, 'valid'),
    ('1 s before the window', current(), {'now': 1599}, 'valid'),
    ('0.5 s before the window', current(), {'now': 1599.5}, 'valid'),
    ('at the window', current(), {'now': 1600}, 'expiring'),
    ('inside the window', current(), {'now': 1800}, 'expiring'),
    ('1 s before expiry', current(), {'now': 1899}, 'expiring'),
    ('at expiry', current(), {'now': 1900}, 'expiring'),
    ('expired', current(), {'now': 10 ** 9}, 'expiring'),
    ('not valid yet', current(), {'now': 999}, 'expiring'),
    ('not valid yet, with renew_before 0', current(), {'now': 999, 'renew_before': 0}, 'expiring'),
    # lifetime 901 s: window starts at 1900 - 300.33 = 1599.67
    ('uneven third: just before', current(valid_before=1901), {'now': 1600}, 'valid'),
    ('uneven third: just inside', current(valid_before=1901), {'now': 1601}, 'expiring'),
    ('uneven third: float, before', current(valid_before=1901), {'now': 1600.66}, 'valid'),
    ('uneven third: float, inside', current(valid_before=1901), {'now': 1600.67}, 'expiring'),
    # explicit renew_before
    ('renew_before 100: 1 s before', current(), {'now': 1799, 'renew_before': 100}, 'valid'),
    ('renew_before 100: at the boundary', current(), {'now': 1800, 'renew_before': 100}, 'expiring'),
    ('renew_before 100 replaces the third', current(), {'now': 1700, 'renew_before': 100}, 'valid'),
    ('renew_before 0: until expiry', current(), {'now': 1899, 'renew_before': 0}, 'valid'),
    ('renew_before 0: at expiry', current(), {'now': 1900, 'renew_before': 0}, 'expiring'),
    ('renew_before longer than the lifetime', current(), {'now': 1000, 'renew_before': 901}, 'expiring'),
    ('renew_before float', current(), {'now': 1849.5, 'renew_before': 50.5}, 'expiring'),
    ('renew_before float, before', current(), {'now': 1849.4, 'renew_before': 50.5}, 'valid'),
    # unusual validity
    ('always/forever cert', current(valid_after=0, valid_before=FOREVER), {'now': 1.7e9}, 'valid'),
    ('forever cert with renew_before', current(valid_before=FOREVER), {'now': 1.7e9, 'renew_before': 86400},
     'valid'),
    ('valid from always: lifetime counts from 1970', current(valid_after=0, valid_before=2 * 10 ** 9),
     {'now': 1.4e9}, 'expiring'),
    ('valid from always, renew_before given', current(valid_after=0, valid_before=2 * 10 ** 9),
     {'now': 1.4e9, 'renew_before': 3600}, 'valid'),
]


@pytest.mark.parametrize('case,cert,kwargs,reason', RENEWAL, ids=[c[0] for c in RENEWAL])
def test_renewal_reason(case, cert, kwargs, reason):
    assert decide(cert, **kwargs) == reason
    assert reason in S.RENEWAL_REASONS


@pytest.mark.parametrize('value', [-1, 'soon', True, [1], float('nan')])
def test_renewal_reason_rejects_bad_renew_before(value):
    with pytest.raises(ValidationError) as info:
        decide(current(), renew_before=value)
    assert info.value.fields == ['renew_before']


def test_renewal_reason_rejects_bad_now():
    with pytest.raises(ValidationError) as info:
        decide(current(), now='today')
    assert info.value.fields == ['now']


def test_renewal_reason_on_a_parsed_certificate():
    cert = S.parse_certificate(GOOD_LINE)
    key_fp = cert['key_fingerprint']
    assert S.renewal_reason(cert, key_fp, 'user', ['bob', 'alice'], {cert['ca_fingerprint']}, now=120) == 'valid'
    assert S.renewal_reason(cert, key_fp, 'user', ['bob', 'alice'], {cert['ca_fingerprint']}, now=167) == 'expiring'


def test_describe():
    cert = S.parse_certificate(cert_line(cert_blob(valid_after=1704067200, valid_before=1704153600, serial=5,
                                                   key_id='agt-x', principals=['p1', 'p2'])))
    assert S.describe(cert) == {
        'serial': 5, 'key_id': 'agt-x', 'cert_type': 'user', 'principals': ['p1', 'p2'],
        'valid_after': '2024-01-01T00:00:00Z', 'valid_before': '2024-01-02T00:00:00Z',
        'ca_fingerprint': cert['ca_fingerprint']}
    forever = S.describe(S.parse_certificate(cert_line(cert_blob(valid_after=0, valid_before=FOREVER))))
    assert (forever['valid_after'], forever['valid_before']) == ('always', 'forever')
    assert S.describe(None) is None
    json.dumps(S.describe(cert))


def test_hot_path_does_not_import_cryptography():
    """Parsing and deciding run per host: they must not pay for importing cryptography."""
    code = ('import sys\n'
            'from ansible_collections.netkingdom.warden.plugins.module_utils._openssh import certificate as S\n'
            'c = S.parse_certificate(%r)\n'
            'S.describe(c)\n'
            'print(S.renewal_reason(c, c["key_fingerprint"], "user", ["alice", "bob"], {c["ca_fingerprint"]}, 150))\n'
            'print([m for m in sys.modules if m.split(".")[0] in ("cryptography", "bcrypt", "yaml")])\n'
            % GOOD_LINE)
    collections_dir = os.path.abspath(S.__file__).split(os.sep + 'ansible_collections' + os.sep)[0]
    env = dict(os.environ, PYTHONPATH=collections_dir)
    out = subprocess.run([sys.executable, '-c', code], check=True, capture_output=True, text=True, env=env).stdout
    assert out.split('\n')[:2] == ['valid', '[]']


# --------------------------------------------------------------------------- local CA

def _pem_key(path, kind, passphrase=None, fmt='pkcs8'):
    """Write a PEM private key made with cryptography (PKCS#8 or traditional OpenSSL)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    key = {'ed25519': ed25519.Ed25519PrivateKey.generate,
           'p256': lambda: ec.generate_private_key(ec.SECP256R1()),
           'p384': lambda: ec.generate_private_key(ec.SECP384R1()),
           'p521': lambda: ec.generate_private_key(ec.SECP521R1()),
           'rsa': lambda: rsa.generate_private_key(65537, 2048)}[kind]()
    enc = serialization.BestAvailableEncryption(passphrase.encode()) if passphrase else serialization.NoEncryption()
    private_format = serialization.PrivateFormat.PKCS8 if fmt == 'pkcs8' else serialization.PrivateFormat.TraditionalOpenSSL
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, private_format, enc))
    path.chmod(0o600)
    pub = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    (path.parent / (path.name + '.pub')).write_bytes(pub + b'\n')
    return path


CA_SOURCES = [  # (id, kind, how the key file is made, passphrase)
    pytest.param(kind, 'openssh', None, id='%s-openssh' % kind) for kind in KINDS
] + [
    pytest.param(kind, 'openssh', 'correct horse', id='%s-openssh-passphrase' % kind, marks=needs_bcrypt)
    for kind in KINDS
] + [
    pytest.param(kind, 'pkcs8', 'correct horse', id='%s-pem-pkcs8-passphrase' % kind) for kind in KINDS
] + [
    pytest.param('p384', 'pkcs8', None, id='p384-pem-pkcs8'),
    pytest.param('rsa', 'traditional', None, id='rsa-pem-traditional'),
    pytest.param('p256', 'traditional', 'pass phrase!', id='p256-pem-traditional-passphrase'),
    pytest.param('ed25519', 'generated', None, id='ed25519-generated'),
    pytest.param('rsa', 'generated', None, id='rsa-generated'),
    pytest.param('p521', 'generated', 'pass phrase!', id='p521-generated-passphrase', marks=needs_bcrypt),
]
GENERATE_NAMES = {'ed25519': 'ed25519', 'p256': 'ecdsa', 'p384': 'ecdsa-p384', 'p521': 'ecdsa-p521', 'rsa': 'rsa-2048'}


def make_ca_file(tmp_path, kind, how, passphrase):
    path = tmp_path / 'ca'
    if how == 'openssh':
        keygen(path, kind, passphrase or '')
    elif how == 'generated':
        KG.generate_ca_key(str(path), GENERATE_NAMES[kind], passphrase=passphrase)
        CA.clear_ca_cache()
    else:
        _pem_key(path, kind, passphrase, how)
    return path


@needs_ssh_keygen
@pytest.mark.parametrize('kind,how,passphrase', CA_SOURCES)
def test_local_ca_signs_what_ssh_keygen_accepts(keys, tmp_path, kind, how, passphrase):
    from cryptography.hazmat.primitives.serialization import load_ssh_public_identity
    ca_path = make_ca_file(tmp_path, kind, how, passphrase)
    ca = CA.LocalCA.from_file(str(ca_path), passphrase=passphrase)
    assert ca.key_type == KEY_TYPE_NAMES[kind]
    assert ca.public_key_line == key_line(str(ca_path) + '.pub')
    assert ca.fingerprint == keygen_fingerprint(str(ca_path) + '.pub')
    assert passphrase is None or passphrase not in repr(ca)

    for index, subject in enumerate(KINDS):
        cert_type = ('user', 'host')[index % 2]
        principals = ['agt-task-bridge', 'deploy'] if cert_type == 'user' else ['h%d.example.net' % index]
        line = ca.sign(key_line(str(keys[subject]) + '.pub'), cert_type, principals,
                       'agt-state-hub-bridge:%s' % subject, 1704067200, 1704153600 + index)
        cert_path = tmp_path / ('%s-cert.pub' % subject)
        cert_path.write_text(line + '\n')
        listed = keygen_list(cert_path)  # ssh-keygen -L checks the CA signature
        parsed = S.parse_certificate(line)
        assert_matches_keygen(parsed, listed)
        assert listed['ca_fingerprint'] == ca.fingerprint
        assert parsed['ca_public_key'] == ca.public_key_line
        assert listed['cert_type'] == cert_type
        assert listed['principals'] == principals
        assert listed['key_id'] == 'agt-state-hub-bridge:%s' % subject
        assert (listed['valid_after'], listed['valid_before']) == (1704067200, 1704153600 + index)
        assert parsed['key_fingerprint'] == keygen_fingerprint(str(keys[subject]) + '.pub')
        assert listed['serial'] != 0
        assert listed['critical_options'] == {}
        if cert_type == 'user':
            assert sorted(listed['extensions']) == sorted(CA.DEFAULT_USER_EXTENSIONS)
        else:
            assert listed['extensions'] == {}
        if kind == 'rsa':
            assert listed['signature_type'] == 'rsa-sha2-512'
        load_ssh_public_identity(line.encode()).verify_cert_signature()


@needs_ssh_keygen
def test_local_ca_options_serial_and_forever(keys, tmp_path):
    ca = CA.LocalCA.from_file(str(keys['ed25519']))
    line = ca.sign(key_line(str(keys['rsa']) + '.pub'), 'user', ['a', 'b', 'a'], 'opts', 0, FOREVER, serial=77,
                   extensions=['permit-pty', 'login@example.com'],
                   critical_options={'force-command': '/usr/bin/true x', 'source-address': '10.0.0.0/8'})
    path = tmp_path / 'c-cert.pub'
    path.write_text(line)
    listed = keygen_list(path)
    assert listed['serial'] == 77
    assert listed['principals'] == ['a', 'b']
    assert (listed['valid_after'], listed['valid_before']) == (0, FOREVER)
    assert listed['extensions'] == {'login@example.com': '', 'permit-pty': ''}
    assert listed['critical_options'] == {'force-command': '/usr/bin/true x', 'source-address': '10.0.0.0/8'}
    assert_matches_keygen(S.parse_certificate(line), listed)

    line = ca.sign(key_line(str(keys['p256']) + '.pub'), 'user', ['a'], 'ext', 10, 20,
                   extensions={'team@example.com': 'platform'})
    assert S.parse_certificate(line)['extensions'] == {'team@example.com': 'platform'}
    path.write_text(line)
    assert keygen_list(path)['extensions'] == {'team@example.com': 'platform'}


def test_local_ca_random_serials(tmp_path):
    ca = KG.generate_ca_key(str(tmp_path / 'ca'))
    pub = KG.generate_ca_key(str(tmp_path / 'subject')).public_key_line
    serials = {S.parse_certificate(ca.sign(pub, 'host', ['h'], 'h', 1, 2))['serial'] for dummy in range(20)}
    assert len(serials) == 20 and 0 not in serials
    assert all(0 < s < 2 ** 64 for s in serials)


SIGN_ERRORS = [
    # (case, keyword overrides, field named)
    ('public key not a key', {'public_key_line': 'not a key'}, 'public_key'),
    ('public key is a certificate', {'public_key_line': GOOD_LINE}, 'public_key'),
    ('security-key public key',
     {'public_key_line': 'sk-ssh-ed25519@openssh.com ' + base64.b64encode(
         sstr('sk-ssh-ed25519@openssh.com') + sstr(ED_KEY) + sstr('ssh:')).decode()}, 'public_key'),
    ('cert type', {'cert_type': 'machine'}, 'cert_type'),
    ('no principals', {'principals': []}, 'principals'),
    ('principals as a string', {'principals': 'alice'}, 'principals'),
    ('principal with a comma', {'principals': ['ok', 'a,b']}, 'principals[1]'),
    ('wildcard principal', {'principals': ['*']}, 'principals[0]'),
    ('empty key id', {'key_id': ''}, 'key_id'),
    ('key id with a newline', {'key_id': 'a\nb'}, 'key_id'),
    ('valid_before not after valid_after', {'valid_after': 20, 'valid_before': 20}, 'valid_before'),
    ('valid_after boolean', {'valid_after': True}, 'valid_after'),
    ('valid_before past 2**64', {'valid_before': 2 ** 64}, 'valid_before'),
    ('negative valid_after', {'valid_after': -1}, 'valid_after'),
    ('serial too large', {'serial': 2 ** 64}, 'serial'),
    ('serial text', {'serial': '5'}, 'serial'),
    ('extension value not text', {'extensions': {'permit-pty': 5}}, 'extensions.permit-pty'),
    ('extensions not a mapping', {'extensions': 'permit-pty'}, 'extensions'),
    ('critical option name with a space', {'critical_options': {'force command': 'x'}}, 'critical_options'),
]


@pytest.mark.parametrize('case,overrides,field', SIGN_ERRORS, ids=[c[0] for c in SIGN_ERRORS])
def test_local_ca_sign_rejects_bad_requests(tmp_path, case, overrides, field):
    ca = KG.generate_ca_key(str(tmp_path / 'ca'))
    request = dict(public_key_line=KG.generate_ca_key(str(tmp_path / 'k')).public_key_line, cert_type='user',
                   principals=['alice'], key_id='id', valid_after=10, valid_before=20)
    request.update(overrides)
    with pytest.raises(ValidationError) as info:
        ca.sign(**request)
    assert field in info.value.fields


def test_local_ca_sign_reports_every_problem(tmp_path):
    ca = KG.generate_ca_key(str(tmp_path / 'ca'))
    with pytest.raises(ValidationError) as info:
        ca.sign('x', 'y', [], '', 5, 1)
    assert info.value.fields == ['public_key', 'cert_type', 'principals', 'key_id', 'valid_before']


# --------------------------------------------------------------------------- loading CA keys

def _unsupported_keys():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, rsa
    return [
        ('DSA', dsa.generate_private_key(1024), 'unsupported CA key type'),
        ('Ed448', ed448.Ed448PrivateKey.generate(), 'unsupported CA key type'),
        ('secp256k1', ec.generate_private_key(ec.SECP256K1()), 'curve secp256k1'),
        ('RSA 1024', rsa.generate_private_key(65537, 1024), 'too weak'),
    ], serialization


def test_load_unsupported_ca_keys(tmp_path):
    keys, serialization = _unsupported_keys()
    for name, key, words in keys:
        path = tmp_path / name.replace(' ', '')
        path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
        with pytest.raises(ValidationError) as info:
            CA.LocalCA.from_file(str(path), field='warden_ca_key')
        assert info.value.fields == ['warden_ca_key'], name
        assert words in str(info.value), (name, str(info.value))


def test_load_errors(tmp_path):
    def error(path, passphrase=None):
        with pytest.raises(ValidationError) as info:
            CA.LocalCA.from_file(str(path), passphrase=passphrase, field='warden_ca_key')
        assert info.value.fields == ['warden_ca_key']
        return str(info.value)

    assert 'does not exist' in error(tmp_path / 'nope')
    assert 'not a regular file' in error(tmp_path)
    (tmp_path / 'junk').write_text('hello\n')
    assert 'not a private key' in error(tmp_path / 'junk')
    pem = _pem_key(tmp_path / 'pem', 'p256', 'right')
    assert 'wrong passphrase' in error(pem, 'wrong')
    assert 'no passphrase was given' in error(pem)
    plain = _pem_key(tmp_path / 'plain', 'ed25519')
    assert 'not encrypted' in error(plain, 'unneeded')
    assert CA.LocalCA.from_file(str(plain), passphrase='').key_type == 'ssh-ed25519'
    with pytest.raises(ValidationError):
        CA.LocalCA.from_file('')


@needs_ssh_keygen
def test_load_openssh_passphrase_errors(tmp_path):
    path = keygen(tmp_path / 'enc', 'ed25519', 'secret')
    with pytest.raises(ValidationError) as info:
        CA.LocalCA.from_file(str(path))
    assert 'no passphrase was given' in str(info.value)
    with pytest.raises(ValidationError) as info:
        CA.LocalCA.from_file(str(path), passphrase='wrong')
    assert ('wrong passphrase' if HAS_BCRYPT else 'bcrypt') in str(info.value)


@needs_ssh_keygen
def test_missing_bcrypt_is_named(tmp_path, monkeypatch):
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.serialization import ssh
    if HAS_BCRYPT:
        if not hasattr(ssh, '_bcrypt_kdf'):
            pytest.skip('cannot simulate a missing bcrypt with this cryptography')

        def no_bcrypt(*args, **kwargs):
            raise UnsupportedAlgorithm('Need bcrypt module')
        monkeypatch.setattr(ssh, '_bcrypt_kdf', no_bcrypt)
    path = keygen(tmp_path / 'enc', 'p256', 'secret')
    with pytest.raises(ValidationError) as info:
        CA.LocalCA.from_file(str(path), passphrase='secret')
    assert 'pip install bcrypt' in str(info.value)


def test_ca_cache(tmp_path):
    path = _pem_key(tmp_path / 'ca', 'p256', 'pw')
    first = CA.LocalCA.from_file(str(path), passphrase='pw')
    assert CA.LocalCA.from_file(str(path), passphrase='pw') is first
    assert CA.LocalCA.from_file(str(tmp_path / '.' / 'ca'), passphrase=b'pw') is first
    # the passphrase is checked again when it differs from the one that loaded the key
    with pytest.raises(ValidationError):
        CA.LocalCA.from_file(str(path), passphrase='other')
    with pytest.raises(ValidationError):
        CA.LocalCA.from_file(str(path))
    # the passphrase itself is kept nowhere
    for value in list(vars(first).values()) + [item for entry in CA._CA_CACHE.values() for item in entry]:
        assert value not in ('pw', b'pw')
    # a replaced key file is loaded again
    old = first.fingerprint
    os.unlink(str(path))
    os.unlink(str(path) + '.pub')
    _pem_key(path, 'p256', 'pw')
    second = CA.LocalCA.from_file(str(path), passphrase='pw')
    assert second is not first and second.fingerprint != old


# --------------------------------------------------------------------------- CA key generation

@pytest.mark.parametrize('key_type,expected', [
    ('ed25519', 'ssh-ed25519'), ('ecdsa', 'ecdsa-sha2-nistp256'), ('ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp384'),
    ('ecdsa-p521', 'ecdsa-sha2-nistp521'), ('rsa-2048', 'ssh-rsa')])
def test_generate_ca_key(tmp_path, key_type, expected):
    path = tmp_path / 'sub' / 'dir' / 'ca_user'
    ca = KG.generate_ca_key(str(path), key_type)
    assert ca.key_type == expected and ca.path == str(path)
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(str(path.parent)).st_mode) == 0o700
    assert path.read_text().startswith('-----BEGIN OPENSSH PRIVATE KEY-----')
    assert (tmp_path / 'sub' / 'dir' / 'ca_user.pub').read_text() == ca.public_key_line + '\n'
    assert CA.LocalCA.from_file(str(path)) is ca  # cached
    CA.clear_ca_cache()
    assert CA.LocalCA.from_file(str(path)).fingerprint == ca.fingerprint
    assert sorted(os.listdir(str(path.parent))) == ['ca_user', 'ca_user.pub']  # no temporary left over
    if SSH_KEYGEN:
        assert run(SSH_KEYGEN, '-y', '-f', str(path)).stdout.split()[:2] == ca.public_key_line.split()


def test_generate_ca_key_refuses_to_overwrite(tmp_path):
    path = tmp_path / 'ca'
    path.write_text('precious')
    with pytest.raises(ValidationError) as info:
        KG.generate_ca_key(str(path), field='warden_ca_key')
    assert info.value.fields == ['warden_ca_key'] and 'refusing to overwrite' in str(info.value)
    assert path.read_text() == 'precious'
    other = tmp_path / 'other'
    (tmp_path / 'other.pub').write_text('precious')
    with pytest.raises(ValidationError):
        KG.generate_ca_key(str(other))
    assert not other.exists() and (tmp_path / 'other.pub').read_text() == 'precious'
    KG.generate_ca_key(str(tmp_path / 'new'))
    with pytest.raises(ValidationError):
        KG.generate_ca_key(str(tmp_path / 'new'))


def test_generate_ca_key_rejects_unknown_type(tmp_path):
    with pytest.raises(ValidationError) as info:
        KG.generate_ca_key(str(tmp_path / 'ca'), 'dsa')
    assert info.value.fields == ['key_type']
    assert not (tmp_path / 'ca').exists()


@needs_bcrypt
def test_generate_ca_key_with_passphrase(tmp_path):
    path = tmp_path / 'ca'
    ca = KG.generate_ca_key(str(path), 'ed25519', passphrase='s3cret')
    CA.clear_ca_cache()
    assert CA.LocalCA.from_file(str(path), passphrase='s3cret').fingerprint == ca.fingerprint
    with pytest.raises(ValidationError):
        CA.LocalCA.from_file(str(path), passphrase='nope')
    if SSH_KEYGEN:
        assert run(SSH_KEYGEN, '-y', '-P', 's3cret', '-f', str(path)).stdout.split()[:2] == \
            ca.public_key_line.split()


@pytest.mark.skipif(HAS_BCRYPT, reason='bcrypt is installed')
def test_generate_ca_key_with_passphrase_needs_bcrypt(tmp_path):
    with pytest.raises(ValidationError) as info:
        KG.generate_ca_key(str(tmp_path / 'ca'), passphrase='s3cret')
    assert 'bcrypt' in str(info.value)
    assert not (tmp_path / 'ca').exists()


# --------------------------------------------------------------------------- CA signature verification

def _keygen_cert(tmp_path, keys, ca, name, principals='alice', extra=()):
    pub = tmp_path / ('%s.pub' % name)
    shutil.copy(str(keys['ed25519']) + '.pub', str(pub))
    run(SSH_KEYGEN, '-q', '-s', str(keys[ca]), '-I', name, '-n', principals, '-V', '-5m:+1h', *extra, str(pub))
    return (tmp_path / ('%s-cert.pub' % name)).read_text()


@needs_ssh_keygen
@pytest.mark.parametrize('ca', KINDS)
def test_ssh_keygen_signatures_verify_and_a_spliced_one_does_not(keys, tmp_path, ca):
    first = _keygen_cert(tmp_path, keys, ca, 'first')
    second = _keygen_cert(tmp_path, keys, ca, 'second', principals='mallory')
    assert SIG.signature_problem(first) is None and SIG.signature_problem(second) is None
    # the first certificate's content (alice) under the second one's signature (mallory): must not verify
    one, two = (base64.b64decode(c.split()[1]) for c in (first, second))
    cut_one, cut_two = (S.parse_certificate(c)['signed_length'] for c in (first, second))
    spliced = 'ssh-ed25519-cert-v01@openssh.com ' + base64.b64encode(one[:cut_one] + two[cut_two:]).decode()
    assert S.parse_certificate(spliced)['principals'] == ['alice']
    assert 'does not verify' in SIG.signature_problem(spliced)


@needs_ssh_keygen
def test_a_certificate_naming_a_trusted_ca_it_was_not_signed_by_is_caught(keys, tmp_path):
    """A forger signs with their own key and writes the trusted CA's key into the certificate."""
    trusted = tmp_path / 'trusted'
    keygen(trusted, 'ed25519')
    forged = _keygen_cert(tmp_path, keys, 'ed25519', 'forged')   # signed by keys['ed25519'], not trusted
    mine, theirs = (base64.b64decode(open(str(p) + '.pub').read().split()[1]) for p in (keys['ed25519'], trusted))
    blob = base64.b64decode(forged.split()[1])
    assert blob.count(mine) == 1  # the signature key (the certified key is stored without its type)
    last = blob.index(mine)
    line = 'ssh-ed25519-cert-v01@openssh.com ' + base64.b64encode(blob[:last] + theirs + blob[last + len(mine):]).decode()
    parsed = S.parse_certificate(line)
    assert parsed['ca_fingerprint'] == fingerprint(open(str(trusted) + '.pub').read())
    assert 'does not verify' in SIG.signature_problem(line, parsed)


@needs_ssh_keygen
def test_sha1_rsa_signatures_are_refused(keys, tmp_path):
    cert = _keygen_cert(tmp_path, keys, 'rsa', 'sha1', extra=('-t', 'ssh-rsa'))
    assert S.parse_certificate(cert)['signature_type'] == 'ssh-rsa'
    assert 'SHA-1' in SIG.signature_problem(cert)
    assert SIG.signature_problem(_keygen_cert(tmp_path, keys, 'rsa', 'sha256', extra=('-t', 'rsa-sha2-256'))) is None


def test_the_local_ca_signature_verifies(tmp_path):
    ca = KG.generate_ca_key(str(tmp_path / 'ca'), 'ecdsa-p384')
    pub = ' '.join(open(str(tmp_path / 'ca.pub')).read().split()[:2])
    line = ca.sign(pub, 'host', ['h1.example'], 'id', 0, FOREVER)
    assert SIG.signature_problem(line) is None
