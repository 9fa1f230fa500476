# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The embedded (local) SSH CA: a CA private key on the controller that signs in-process.

``LocalCA`` loads a CA key file (once per process, see ``LocalCA.from_file``) and signs with
``cryptography``, which is imported only when the local CA is first used (its SSH module is slow
to import); that is why this is not in ``certificate.py``. Creating a new CA key is
``_openssh/ca_keygen.py``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import math
import os
import stat
import threading

from ansible_collections.netkingdom.warden.plugins.module_utils.errors import SigningError, ValidationError
from ansible_collections.netkingdom.warden.plugins.module_utils._openssh.certificate import CERT_TYPE_CODES, FOREVER
from ansible_collections.netkingdom.warden.plugins.module_utils._openssh.keys import (
    CERT_SUFFIX, fingerprint_blob, parse_public_key,
)

# Extensions ssh-keygen would set on a user certificate, less permit-X11-forwarding:
# enough for an interactive login, port and agent forwarding, ~/.ssh/rc.
DEFAULT_USER_EXTENSIONS = ('permit-agent-forwarding', 'permit-port-forwarding', 'permit-pty', 'permit-user-rc')


class _Crypto:
    """The parts of cryptography the local CA uses, imported once."""


_CRYPTO = None


def crypto_modules():
    """Import cryptography on first use (only the local-CA path needs it); SigningError when it is missing."""
    global _CRYPTO
    if _CRYPTO is not None:
        return _CRYPTO
    try:
        from cryptography.exceptions import UnsupportedAlgorithm
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
        from cryptography.hazmat.primitives.serialization import ssh
    except ImportError as exc:
        raise SigningError('the local CA needs the Python package "cryptography" on the controller '
                           '(pip install cryptography): %s' % exc)
    crypto = _Crypto()
    crypto.UnsupportedAlgorithm = UnsupportedAlgorithm
    crypto.serialization = serialization
    crypto.ssh = ssh
    crypto.ec = ec
    crypto.ed25519 = ed25519
    crypto.rsa = rsa
    crypto.curves = {'secp256r1': 'nistp256', 'secp384r1': 'nistp384', 'secp521r1': 'nistp521'}
    _CRYPTO = crypto
    return crypto


def has_cryptography():
    """True when the local CA can work here (imports cryptography when not done yet)."""
    try:
        crypto_modules()
    except SigningError:
        return False
    return True


def has_bcrypt():
    try:
        import bcrypt  # noqa: F401  pylint: disable=unused-import
    except ImportError:
        return False
    return True


BCRYPT_HINT = 'passphrase-protected OpenSSH keys need the Python package "bcrypt" (pip install bcrypt)'

# path -> (file signature, passphrase tag, LocalCA)
_CA_CACHE = {}
_CA_CACHE_LOCK = threading.Lock()
_CACHE_SECRET = []


def passphrase_bytes(passphrase, field):
    if passphrase is None or passphrase == '' or passphrase == b'':
        return None
    if isinstance(passphrase, str):
        return passphrase.encode('utf-8')
    if isinstance(passphrase, bytes):
        return passphrase
    raise ValidationError([(field, 'passphrase must be text')], what='CA key')


def _passphrase_tag(passphrase):
    """A keyed digest of the passphrase so the cache can tell a different passphrase from
    the one that loaded the key, without keeping the passphrase. The key is random per
    process and never leaves it."""
    if passphrase is None:
        return None
    import hashlib
    import hmac
    import secrets
    with _CA_CACHE_LOCK:
        if not _CACHE_SECRET:
            _CACHE_SECRET.append(secrets.token_bytes(32))
        secret = _CACHE_SECRET[0]
    return hmac.new(secret, passphrase, hashlib.sha256).digest()


def _file_signature(st):
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


def remember(ca, passphrase):
    """Cache ``ca``, just made from the key file at ``ca.path`` with ``passphrase`` (bytes or None),
    as ``LocalCA.from_file`` would have loaded it; return it."""
    try:
        st = os.stat(ca.path)
    except OSError:  # pragma: no cover
        return ca
    tag = _passphrase_tag(passphrase)
    with _CA_CACHE_LOCK:
        _CA_CACHE[ca.path] = (_file_signature(st), tag, ca)
    return ca


def clear_ca_cache():
    """Forget every loaded CA key (tests; long-lived processes after a CA rotation)."""
    with _CA_CACHE_LOCK:
        _CA_CACHE.clear()


def _check_key_type(crypto, key, field, where):
    """Return the OpenSSH type name of a private key the CA can sign with, or raise."""
    if isinstance(key, crypto.ed25519.Ed25519PrivateKey):
        return 'ssh-ed25519'
    if isinstance(key, crypto.ec.EllipticCurvePrivateKey):
        curve = crypto.curves.get(key.curve.name)
        if curve is None:
            raise ValidationError([(field, '%s: ECDSA curve %s is not supported by OpenSSH '
                                           '(use P-256, P-384 or P-521)' % (where, key.curve.name))],
                                  what='CA key')
        return 'ecdsa-sha2-' + curve
    if isinstance(key, crypto.rsa.RSAPrivateKey):
        if key.key_size < 2048:
            raise ValidationError([(field, '%s: RSA key of %d bits is too weak for a CA (at least 2048)'
                                    % (where, key.key_size))], what='CA key')
        return 'ssh-rsa'
    raise ValidationError([(field, '%s: unsupported CA key type %s (use Ed25519, ECDSA P-256/384/521 or RSA)'
                            % (where, type(key).__name__))], what='CA key')


def _load_private_key(crypto, data, passphrase, field, where):
    serialization = crypto.serialization

    def bad(message):
        return ValidationError([(field, '%s: %s' % (where, message))], what='CA key')

    is_openssh = b'-----BEGIN OPENSSH PRIVATE KEY-----' in data
    try:
        if is_openssh:
            return crypto.ssh.load_ssh_private_key(data, passphrase)
        if b'-----BEGIN' in data:
            return serialization.load_pem_private_key(data, passphrase)
        return serialization.load_der_private_key(data, passphrase)
    except crypto.UnsupportedAlgorithm as exc:
        if 'bcrypt' in str(exc):
            raise bad(BCRYPT_HINT)
        raise bad('unsupported key or cipher (%s)' % exc)
    except TypeError as exc:
        text = str(exc).lower()
        if 'not encrypted' in text:
            raise bad('a passphrase was given but the key is not encrypted')
        if 'password' in text:
            raise bad('the key is passphrase-protected and no passphrase was given')
        raise bad('cannot load the key (%s)' % exc)
    except ValueError:
        if passphrase is not None:
            raise bad('cannot decrypt the key: wrong passphrase (or a damaged key file)')
        raise bad('is not a private key in OpenSSH or PEM format (or it is damaged)')


class LocalCA:
    """An SSH CA whose private key is on the controller; signs in-process.

    ``ca = LocalCA.from_file(path, passphrase)``; ``ca.public_key_line`` (for
    TrustedUserCAKeys), ``ca.fingerprint``, ``ca.key_type``;
    ``ca.sign(public_key_line, 'user', ['p1'], 'key id', valid_after, valid_before)``.
    """

    def __init__(self, private_key, path=None, field='ca_key'):
        crypto = crypto_modules()
        self.key_type = _check_key_type(crypto, private_key, field, path or 'CA key')
        self._key = private_key
        self.path = path
        public = private_key.public_key().public_bytes(crypto.serialization.Encoding.OpenSSH,
                                                       crypto.serialization.PublicFormat.OpenSSH)
        self.public_key_line = public.decode('ascii')
        self.fingerprint = fingerprint_blob(base64.b64decode(public.split()[1]))

    def __repr__(self):
        return 'LocalCA(%s %s%s)' % (self.key_type, self.fingerprint, ' from %s' % self.path if self.path else '')

    @classmethod
    def from_file(cls, path, passphrase=None, field='ca_key'):
        """Load a CA private key (OpenSSH or PEM/PKCS#8; Ed25519, ECDSA P-256/384/521, RSA).

        Loaded once per process: the result is cached by path and the file's inode, mtime and
        size (a replaced key file is loaded again). The passphrase is not kept; a keyed digest
        of it is, so a different passphrase is checked against the file again.
        """
        if not isinstance(path, str) or not path:
            raise ValidationError([(field, 'must be the path of a CA private key file')], what='CA key')
        path = os.path.abspath(os.path.expanduser(path))
        passphrase = passphrase_bytes(passphrase, field)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise ValidationError([(field, 'CA key file %s does not exist' % path)], what='CA key')
        except OSError as exc:
            raise ValidationError([(field, 'cannot read CA key file %s: %s' % (path, exc.strerror or exc))],
                                  what='CA key')
        if not stat.S_ISREG(st.st_mode):
            raise ValidationError([(field, 'CA key %s is not a regular file' % path)], what='CA key')
        signature = _file_signature(st)
        tag = _passphrase_tag(passphrase)
        with _CA_CACHE_LOCK:
            entry = _CA_CACHE.get(path)
        if entry is not None and entry[0] == signature and entry[1] == tag:
            return entry[2]
        crypto = crypto_modules()
        try:
            with open(path, 'rb') as handle:
                data = handle.read()
        except OSError as exc:
            raise ValidationError([(field, 'cannot read CA key file %s: %s' % (path, exc.strerror or exc))],
                                  what='CA key')
        key = _load_private_key(crypto, data, passphrase, field, path)
        ca = cls(key, path, field)
        with _CA_CACHE_LOCK:
            _CA_CACHE[path] = (signature, tag, ca)
        return ca

    def sign(self, public_key_line, cert_type, principals, key_id, valid_after, valid_before,
             serial=None, extensions=None, critical_options=None):
        """Sign ``public_key_line`` and return the certificate line (``<type>-cert-v01@openssh.com
        <base64>``).

        ``principals``: a non-empty list (duplicates are dropped). ``valid_after`` < ``valid_before``,
        epoch seconds (0 / 2**64-1 for always / forever). ``serial``: random non-zero 64-bit when
        None. ``extensions``: a dict name -> value ('' for a flag) or a list of names; None gives
        DEFAULT_USER_EXTENSIONS on a user certificate and none on a host certificate.
        ``critical_options``: a dict such as ``{'force-command': '...', 'source-address': '...'}``.
        RSA CAs sign with rsa-sha2-512.
        """
        crypto = crypto_modules()
        problems = []
        pub = None
        try:
            line_type, dummy_blob, dummy_comment = parse_public_key(public_key_line, 'public_key')
        except ValidationError as exc:
            problems.extend(exc.problems)
        else:
            if line_type.endswith(CERT_SUFFIX):
                problems.append(('public_key', 'is a certificate; give the plain public key'))
            elif line_type.startswith('sk-'):
                problems.append(('public_key', 'security-key (%s) keys cannot be signed by the local CA' % line_type))
            else:
                try:
                    pub = crypto.ssh.load_ssh_public_key(' '.join(public_key_line.split()[:2]).encode('ascii'))
                except (ValueError, crypto.UnsupportedAlgorithm) as exc:
                    problems.append(('public_key', 'cannot be loaded (%s)' % exc))
                else:
                    if isinstance(pub, crypto.rsa.RSAPublicKey) and pub.key_size < 1024:
                        problems.append(('public_key', 'RSA key of %d bits is below the OpenSSH minimum of 1024'
                                         % pub.key_size))
                        pub = None

        type_code = CERT_TYPE_CODES.get(cert_type) if isinstance(cert_type, str) else None
        if type_code is None:
            problems.append(('cert_type', "must be 'user' or 'host', got %r" % (cert_type,)))

        wanted = _principal_list(principals, problems)

        if not isinstance(key_id, str) or not key_id:
            problems.append(('key_id', 'must be non-empty text'))
        elif any(ord(ch) < 32 or ord(ch) == 127 for ch in key_id):
            problems.append(('key_id', 'must not contain control characters (%r)' % key_id))

        times = []
        for name, value in (('valid_after', valid_after), ('valid_before', valid_before)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or (isinstance(value, float) and math.isnan(value)):
                problems.append((name, 'must be epoch seconds (a number), got %r' % (value,)))
            elif not 0 <= value <= FOREVER:
                problems.append((name, 'must be between 0 and 2**64-1, got %r' % (value,)))
            else:
                times.append(int(value))
        if len(times) == 2 and times[0] >= times[1]:
            problems.append(('valid_before', 'must be later than valid_after'))

        if serial is None:
            import secrets
            serial = 0
            while not serial:  # serial 0 cannot be revoked by serial in a KRL
                serial = secrets.randbits(64)
        elif isinstance(serial, bool) or not isinstance(serial, int) or not 0 <= serial <= FOREVER:
            problems.append(('serial', 'must be an integer between 0 and 2**64-1, got %r' % (serial,)))

        if extensions is None:
            extensions = dict.fromkeys(DEFAULT_USER_EXTENSIONS, '') if cert_type == 'user' else {}
        extensions = _option_dict(extensions, 'extensions', problems)
        critical_options = _option_dict(critical_options or {}, 'critical_options', problems)

        if problems:
            raise ValidationError(problems, what='certificate request')

        ssh = crypto.ssh
        try:
            builder = (ssh.SSHCertificateBuilder()
                       .public_key(pub)
                       .serial(serial)
                       .type(ssh.SSHCertificateType.USER if type_code == 1 else ssh.SSHCertificateType.HOST)
                       .key_id(key_id.encode('utf-8'))
                       .valid_principals([p.encode('utf-8') for p in wanted])
                       .valid_after(times[0])
                       .valid_before(times[1]))
            for name, value in sorted(critical_options.items()):
                builder = builder.add_critical_option(name.encode('utf-8'), value.encode('utf-8'))
            for name, value in sorted(extensions.items()):
                builder = builder.add_extension(name.encode('utf-8'), value.encode('utf-8'))
            cert = builder.sign(self._key)
        except (ValueError, TypeError) as exc:
            raise SigningError('local CA could not sign the certificate: %s' % exc)
        return cert.public_bytes().decode('ascii')


_MAX_PRINCIPALS = 256  # cryptography's limit, the same as OpenSSH's


def _principal_list(principals, problems):
    from ansible_collections.netkingdom.warden.plugins.module_utils._inventory.actors import principal_problem
    if isinstance(principals, str) or not isinstance(principals, (list, tuple)):
        problems.append(('principals', 'must be a list of principals'))
        return []
    wanted = []
    for index, principal in enumerate(principals):
        problem = principal_problem(principal)
        if problem:
            problems.append(('principals[%d]' % index, problem))
        elif principal not in wanted:
            wanted.append(principal)
    if not principals:
        problems.append(('principals', 'must not be empty (a certificate without principals is valid '
                                       'for every account or host)'))
    elif len(wanted) > _MAX_PRINCIPALS:
        problems.append(('principals', 'at most %d principals, got %d' % (_MAX_PRINCIPALS, len(wanted))))
    return wanted


def _option_dict(value, field, problems):
    if isinstance(value, (list, tuple)):
        value = dict.fromkeys(value, '')
    if not isinstance(value, dict):
        problems.append((field, 'must be a mapping of name to value (or a list of names)'))
        return {}
    out = {}
    for name, item in value.items():
        if not isinstance(name, str) or not name or any(ch.isspace() or ord(ch) < 32 for ch in name):
            problems.append((field, 'invalid name %r' % (name,)))
            continue
        if item is None or item is True:
            item = ''
        if not isinstance(item, str):
            problems.append(('%s.%s' % (field, name), 'value must be text, got %s' % type(item).__name__))
            continue
        out[name] = item
    return out
