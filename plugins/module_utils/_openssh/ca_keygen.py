# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A new CA key pair for the local CA (demos, roles): ``generate_ca_key``.

Apart from ``local_ca.py`` because only creating a CA writes files (through the host I/O, never
overwriting one); loading and signing do not.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.netkingdom.warden.plugins.module_utils._host.fileio import write_file
from ansible_collections.netkingdom.warden.plugins.module_utils._host.safe_path import Trust, UnsafePath
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError
from ansible_collections.netkingdom.warden.plugins.module_utils._openssh.local_ca import (
    BCRYPT_HINT, LocalCA, crypto_modules, has_bcrypt, passphrase_bytes, remember,
)

_CA_KEY_TYPES = {
    'ed25519': ('ed25519', None), 'ssh-ed25519': ('ed25519', None),
    'ecdsa': ('ec', 'SECP256R1'), 'ecdsa-p256': ('ec', 'SECP256R1'), 'ecdsa-sha2-nistp256': ('ec', 'SECP256R1'),
    'ecdsa-p384': ('ec', 'SECP384R1'), 'ecdsa-sha2-nistp384': ('ec', 'SECP384R1'),
    'ecdsa-p521': ('ec', 'SECP521R1'), 'ecdsa-sha2-nistp521': ('ec', 'SECP521R1'),
    'rsa': ('rsa', 3072), 'ssh-rsa': ('rsa', 3072),
    'rsa-2048': ('rsa', 2048), 'rsa-3072': ('rsa', 3072), 'rsa-4096': ('rsa', 4096),
}


def _write_new_file(path, data, mode, field):
    """Write ``data`` to ``path`` atomically; never replace an existing file."""
    try:
        write_file(path, data, mode, trust=Trust(walk=False), exclusive=True)
    except UnsafePath:
        raise ValidationError([(field, 'refusing to overwrite existing file %s' % path)], what='CA key')


def generate_ca_key(path, key_type='ed25519', passphrase=None, field='ca_key'):
    """Create a new CA private key at ``path`` (OpenSSH format, mode 0600) and its public key
    at ``path + '.pub'``; return the loaded ``LocalCA``.

    ``key_type``: ed25519 (default), ecdsa (P-256), ecdsa-p384, ecdsa-p521, rsa (3072 bits),
    rsa-2048, rsa-4096, or the OpenSSH type names. Each file is written atomically and an
    existing file is never overwritten. A passphrase needs the ``bcrypt`` package.
    """
    if not isinstance(path, str) or not path:
        raise ValidationError([(field, 'must be the path of the CA private key to create')], what='CA key')
    spec = _CA_KEY_TYPES.get(key_type) if isinstance(key_type, str) else None
    if spec is None:
        raise ValidationError([('key_type', 'unsupported CA key type %r (one of %s)'
                                % (key_type, ', '.join(sorted(_CA_KEY_TYPES))))], what='CA key')
    path = os.path.abspath(os.path.expanduser(path))
    pub_path = path + '.pub'
    passphrase = passphrase_bytes(passphrase, field)
    for candidate in (path, pub_path):
        if os.path.lexists(candidate):
            raise ValidationError([(field, 'refusing to overwrite existing file %s' % candidate)], what='CA key')
    if passphrase is not None and not has_bcrypt():
        raise ValidationError([(field, BCRYPT_HINT)], what='CA key')
    crypto = crypto_modules()
    serialization = crypto.serialization
    kind, param = spec
    if kind == 'ed25519':
        key = crypto.ed25519.Ed25519PrivateKey.generate()
    elif kind == 'ec':
        key = crypto.ec.generate_private_key(getattr(crypto.ec, param)())
    else:
        key = crypto.rsa.generate_private_key(public_exponent=65537, key_size=param)
    encryption = (serialization.BestAvailableEncryption(passphrase) if passphrase is not None
                  else serialization.NoEncryption())
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, encryption)
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)

    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o700)
    _write_new_file(path, private, 0o600, field)
    try:
        _write_new_file(pub_path, public + b'\n', 0o644, field)
    except BaseException:
        os.unlink(path)
        raise
    return remember(LocalCA(key, path, field), passphrase)
