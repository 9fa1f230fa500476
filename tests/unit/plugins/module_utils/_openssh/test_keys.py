"""Fingerprints match ssh-keygen; malformed keys are refused with the field named."""

import subprocess

import pytest

from ansible_collections.netkingdom.warden.plugins.module_utils._openssh import keys as sshkey
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError


@pytest.mark.parametrize('key_type, bits', [('ed25519', None), ('ecdsa', '256'), ('rsa', '2048')])
def test_fingerprint_matches_ssh_keygen(tmp_path, key_type, bits):
    key = tmp_path / 'k'
    cmd = ['ssh-keygen', '-q', '-t', key_type, '-N', '', '-f', str(key)] + (['-b', bits] if bits else [])
    subprocess.run(cmd, check=True)
    line = (tmp_path / 'k.pub').read_text()
    expected = subprocess.run(['ssh-keygen', '-l', '-E', 'sha256', '-f', str(key) + '.pub'],
                              check=True, capture_output=True, text=True).stdout.split()[1]
    assert sshkey.fingerprint(line) == expected


@pytest.mark.parametrize('text, words', [
    ('', 'not an OpenSSH public key line'),
    ('ssh-ed25519', 'not an OpenSSH public key line'),
    ('ssh-dss AAAAB3NzaC1kc3M= x', 'unsupported key type'),
    ('ssh-ed25519 !!!notbase64', 'not valid base64'),
    ('ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQABAAABAQ==', 'does not match its type'),
    ('ssh-ed25519 AAA=', 'truncated'),
])
def test_bad_keys_refused(text, words):
    with pytest.raises(ValidationError) as info:
        sshkey.fingerprint(text)
    assert words in str(info.value) and 'public_key' in str(info.value)
