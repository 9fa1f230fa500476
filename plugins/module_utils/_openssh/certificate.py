# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OpenSSH certificates: parsing, the renewal decision, and the embedded (local) CA.

Two halves with very different costs:

* ``parse_certificate``, ``renewal_reason`` and ``describe`` are pure Python
  (``struct``/``base64``). They run for every host on every run, so they import
  nothing from outside the standard library. Parsing does **not** check the CA
  signature: the CA is judged by its fingerprint against the trusted set.
* ``signature_problem`` verifies the CA signature (``cryptography``'s asymmetric
  primitives only, imported on first use, about 15 ms): a certificate whose CA
  fingerprint is trusted may still be forged, so a certificate is kept, and a
  signed one accepted, only once its signature verifies. Results and loaded CA
  keys are cached per process.
* ``LocalCA`` and ``generate_ca_key`` sign with ``cryptography``. It is imported
  only when one of them is first used (its SSH module is slow to import), and a
  CA key file is loaded once per process (see ``LocalCA.from_file``).

The certificate format is the one in OpenSSH's PROTOCOL.certkeys.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import math
import os
import stat
import struct
import threading
import time

from ansible_collections.netkingdom.warden.plugins.module_utils._host.fileio import Trust, UnsafePath, write_file
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import SigningError, ValidationError
from ansible_collections.netkingdom.warden.plugins.module_utils._openssh.keys import (
    CERT_SUFFIX, fingerprint_blob, parse_public_key,
)

# cryptography is imported lazily by _crypto(), only on the local-CA path.
# HAS_CRYPTOGRAPHY is None until that path has been taken once.
HAS_CRYPTOGRAPHY = None
CRYPTOGRAPHY_IMPORT_ERROR = None

CERT_TYPES = {1: 'user', 2: 'host'}
CERT_TYPE_CODES = {'user': 1, 'host': 2}
ALWAYS = 0
FOREVER = 2 ** 64 - 1

# Extensions ssh-keygen would set on a user certificate, less permit-X11-forwarding:
# enough for an interactive login, port and agent forwarding, ~/.ssh/rc.
DEFAULT_USER_EXTENSIONS = ('permit-agent-forwarding', 'permit-port-forwarding', 'permit-pty', 'permit-user-rc')

# The public-key fields of each certified key type, in order, after the nonce: how many
# SSH strings (mpints are read as strings) and, for ECDSA, the curve name the first must hold.
_KEY_LAYOUT = {
    'ssh-ed25519': (1, None),
    'ssh-rsa': (2, None),
    'ecdsa-sha2-nistp256': (2, b'nistp256'),
    'ecdsa-sha2-nistp384': (2, b'nistp384'),
    'ecdsa-sha2-nistp521': (2, b'nistp521'),
    'sk-ssh-ed25519@openssh.com': (2, None),
    'sk-ecdsa-sha2-nistp256@openssh.com': (3, b'nistp256'),
}

_U32 = struct.Struct('>I').unpack_from
_U64 = struct.Struct('>Q').unpack_from
_PACK_U32 = struct.Struct('>I').pack


class _Malformed(Exception):
    """Internal: the certificate blob is not well formed (turned into a ValidationError)."""


def _take(buf, off, what):
    """Read one SSH ``string`` at ``off``; return ``(bytes, next_offset)``."""
    if off + 4 > len(buf):
        raise _Malformed('certificate data is truncated (in %s)' % what)
    (length,) = _U32(buf, off)
    start = off + 4
    end = start + length
    if end > len(buf):
        raise _Malformed('certificate data is truncated (in %s)' % what)
    return buf[start:end], end


def _take_u64(buf, off, what):
    if off + 8 > len(buf):
        raise _Malformed('certificate data is truncated (in %s)' % what)
    return _U64(buf, off)[0], off + 8


def _text(raw, what):
    try:
        return raw.decode('utf-8')
    except UnicodeDecodeError:
        raise _Malformed('%s is not valid UTF-8' % what)


def _key_fields(buf, off, key_type, what):
    """Skip the public-key fields of ``key_type`` starting at ``off``; return the end offset."""
    count, curve = _KEY_LAYOUT[key_type]
    first = None
    for index in range(count):
        value, off = _take(buf, off, what)
        if index == 0:
            first = value
    if curve is not None and first != curve:
        raise _Malformed('%s names curve %r, not %r' % (what, first, curve))
    if key_type in ('ssh-ed25519', 'sk-ssh-ed25519@openssh.com') and len(first) != 32:
        raise _Malformed('%s is not a 32-byte Ed25519 key' % what)
    return off


def _options(data, what):
    """Critical options or extensions: (name, value) pairs, a non-empty value being itself
    an SSH string. Returns a dict; a flag maps to ''."""
    out = {}
    off = 0
    while off < len(data):
        raw_name, off = _take(data, off, what)
        raw_value, off = _take(data, off, what)
        name = _text(raw_name, what)
        if not name:
            raise _Malformed('%s holds an empty name' % what)
        if name in out:
            raise _Malformed('%s holds %r twice' % (what, name))
        value = ''
        if raw_value:
            inner, end = _take(raw_value, 0, '%s %s' % (what, name))
            if end != len(raw_value):
                raise _Malformed('%s %r has trailing data in its value' % (what, name))
            value = _text(inner, '%s %s' % (what, name))
        out[name] = value
    return out


def _parse_blob(blob, line_type, key_type):
    what = 'type'
    raw_type, off = _take(blob, 0, what)
    if raw_type != line_type.encode('ascii'):
        raise _Malformed('certificate data holds type %r, but the line says %r'
                         % (raw_type.decode('ascii', 'replace'), line_type))
    dummy_nonce, off = _take(blob, off, 'nonce')
    key_start = off
    off = _key_fields(blob, off, key_type, 'public key')
    plain = _PACK_U32(len(key_type)) + key_type.encode('ascii') + blob[key_start:off]

    serial, off = _take_u64(blob, off, 'serial')
    if off + 4 > len(blob):
        raise _Malformed('certificate data is truncated (in cert type)')
    (type_code,) = _U32(blob, off)
    off += 4
    cert_type = CERT_TYPES.get(type_code)
    if cert_type is None:
        raise _Malformed('certificate type is %d, neither user (1) nor host (2)' % type_code)
    raw_key_id, off = _take(blob, off, 'key id')
    key_id = _text(raw_key_id, 'key id')

    raw_principals, off = _take(blob, off, 'principals')
    principals = []
    p_off = 0
    while p_off < len(raw_principals):
        raw, p_off = _take(raw_principals, p_off, 'principals')
        principals.append(_text(raw, 'principal'))

    valid_after, off = _take_u64(blob, off, 'valid after')
    valid_before, off = _take_u64(blob, off, 'valid before')
    raw_critical, off = _take(blob, off, 'critical options')
    critical_options = _options(raw_critical, 'critical options')
    raw_extensions, off = _take(blob, off, 'extensions')
    extensions = _options(raw_extensions, 'extensions')
    dummy_reserved, off = _take(blob, off, 'reserved')

    ca_blob, off = _take(blob, off, 'signature key')
    raw_ca_type, ca_off = _take(ca_blob, 0, 'signature key')
    ca_type = raw_ca_type.decode('ascii', 'replace')
    if ca_type not in _KEY_LAYOUT:
        raise _Malformed('signature key has unsupported type %r' % ca_type)
    ca_off = _key_fields(ca_blob, ca_off, ca_type, 'signature key')
    if ca_off != len(ca_blob):
        raise _Malformed('signature key has trailing data')

    signed_length = off
    signature, off = _take(blob, off, 'signature')
    raw_sig_type, dummy = _take(signature, 0, 'signature')
    if off != len(blob):
        raise _Malformed('certificate data has %d bytes of trailing garbage' % (len(blob) - off))

    return {
        'cert_key_type': line_type,
        'key_type': key_type,
        'public_key': '%s %s' % (key_type, base64.b64encode(plain).decode('ascii')),
        'key_fingerprint': fingerprint_blob(plain),
        'serial': serial,
        'cert_type': cert_type,
        'key_id': key_id,
        'principals': principals,
        'valid_after': valid_after,
        'valid_before': valid_before,
        'critical_options': critical_options,
        'extensions': extensions,
        'ca_public_key': '%s %s' % (ca_type, base64.b64encode(ca_blob).decode('ascii')),
        'ca_fingerprint': fingerprint_blob(ca_blob),
        'signature_type': raw_sig_type.decode('ascii', 'replace'),
        'signed_length': signed_length,
    }


def parse_certificate(text, field='certificate'):
    """Parse one OpenSSH certificate line (``<type>-cert-v01@openssh.com <base64> [comment]``).

    Returns a dict: ``cert_key_type``, ``key_type``, ``public_key`` (the certified key as a
    plain public key line), ``key_fingerprint``, ``serial``, ``cert_type`` (user|host),
    ``key_id``, ``principals``, ``valid_after``, ``valid_before`` (epoch seconds; 0 and
    2**64-1 mean always and forever), ``critical_options``, ``extensions`` (dicts, a flag
    maps to ''), ``ca_public_key``, ``ca_fingerprint``, ``signature_type`` (the CA's
    signature algorithm, e.g. rsa-sha2-512) and ``signed_length`` (the bytes the signature covers).

    Anything that is not a well-formed certificate raises ValidationError naming ``field``.
    The CA signature is not verified here.
    """
    def bad(message):
        return ValidationError([(field, message)], what='certificate')

    if isinstance(text, bytes):
        try:
            text = text.decode('ascii')
        except UnicodeDecodeError:
            raise bad('is not an OpenSSH certificate line (not ASCII text)')
    if not isinstance(text, str):
        raise bad('must be an OpenSSH certificate line (text), got %s' % type(text).__name__)
    parts = text.split(None, 2)
    if not parts:
        raise bad('is empty')
    line_type = parts[0]
    if not line_type.endswith(CERT_SUFFIX):
        if line_type in _KEY_LAYOUT:
            raise bad('is a plain %s public key, not a certificate' % line_type)
        raise bad('is not an OpenSSH certificate (type %r)' % line_type[:64])
    key_type = line_type[:-len(CERT_SUFFIX)]
    if key_type not in _KEY_LAYOUT:
        raise bad('unsupported certificate type %r' % line_type[:64])
    if len(parts) < 2:
        raise bad('has no certificate data after its type')
    try:
        blob = base64.b64decode(parts[1].encode('ascii'), validate=True)
    except (binascii.Error, ValueError, UnicodeError):
        raise bad('certificate data is not valid base64')
    try:
        return _parse_blob(blob, line_type, key_type)
    except _Malformed as exc:
        raise bad(str(exc))
    except (struct.error, IndexError, ValueError, TypeError, OverflowError) as exc:  # pragma: no cover
        # defence in depth: the parser above checks every length itself
        raise bad('is malformed (%s)' % exc)


# ---------------------------------------------------------------------------
# The renewal decision (pure Python, runs per host)

RENEWAL_REASONS = ('forced', 'missing', 'key_changed', 'ca_changed', 'type_changed',
                   'principals_changed', 'expiring', 'valid')


def _number(value, field, minimum=None):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError([(field, 'must be a number of seconds, got %s' % type(value).__name__)],
                              what='renewal settings')
    if (isinstance(value, float) and math.isnan(value)) or (minimum is not None and value < minimum):
        raise ValidationError([(field, 'must be a number >= %s, got %r' % (minimum, value))],
                              what='renewal settings')
    return value


def renewal_reason(current, public_key_fingerprint, cert_type, principals, trusted_ca_fingerprints, now,
                   renew_before=None, force=False):
    """Why the certificate must be (re)signed, or ``'valid'`` when it may be kept.

    ``current`` is a dict from ``parse_certificate`` or None. The first reason that holds,
    in this order: ``forced``, ``missing``, ``key_changed`` (issued for another key),
    ``ca_changed`` (its CA is not in ``trusted_ca_fingerprints``), ``type_changed``,
    ``principals_changed`` (compared as sets), ``expiring``, else ``valid``.

    ``expiring``: ``now >= valid_before - window`` where window is ``renew_before`` seconds
    when given, else a third of the lifetime ``valid_before - valid_after``; a certificate
    that is not valid yet (``now < valid_after``) or already expired is ``expiring`` too.
    """
    if force:
        return 'forced'
    if current is None:
        return 'missing'
    if current['key_fingerprint'] != public_key_fingerprint:
        return 'key_changed'
    if isinstance(trusted_ca_fingerprints, str):
        trusted_ca_fingerprints = (trusted_ca_fingerprints,)
    if current['ca_fingerprint'] not in trusted_ca_fingerprints:
        return 'ca_changed'
    if current['cert_type'] != cert_type:
        return 'type_changed'
    if set(current['principals']) != set(principals):
        return 'principals_changed'
    now = _number(now, 'now')
    valid_after = current['valid_after']
    valid_before = current['valid_before']
    if now < valid_after:
        return 'expiring'
    if renew_before is None:
        # now >= valid_before - lifetime / 3, in integers when the inputs are
        if 3 * (valid_before - now) <= valid_before - valid_after:
            return 'expiring'
    elif now >= valid_before - _number(renew_before, 'renew_before', minimum=0):
        return 'expiring'
    return 'valid'


def format_time(value):
    """Epoch seconds as ISO-8601 UTC text; 'always' for 0 and 'forever' for 2**64-1."""
    if value == ALWAYS:
        return 'always'
    if value == FOREVER:
        return 'forever'
    try:
        return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(value))
    except (OverflowError, ValueError, OSError):
        return str(value)


def describe(current):
    """A short summary of a parsed certificate for diffs, results and audit records
    (None for None): serial, key_id, cert_type, principals, valid_after/valid_before as
    ISO-8601 UTC text, ca_fingerprint."""
    if current is None:
        return None
    return {
        'serial': current['serial'],
        'key_id': current['key_id'],
        'cert_type': current['cert_type'],
        'principals': list(current['principals']),
        'valid_after': format_time(current['valid_after']),
        'valid_before': format_time(current['valid_before']),
        'ca_fingerprint': current['ca_fingerprint'],
    }


# ---------------------------------------------------------------------------
# CA signature verification (cryptography, controller only)

# CA key type -> the signature algorithms accepted from it and the hash each uses. ssh-rsa (SHA-1) is
# left out: OpenSSH refuses it for certificates by default (CASignatureAlgorithms), and so does this.
_SIGNATURE_HASHES = {
    'ssh-ed25519': {'ssh-ed25519': None},
    'ssh-rsa': {'rsa-sha2-256': 'SHA256', 'rsa-sha2-512': 'SHA512'},
    'ecdsa-sha2-nistp256': {'ecdsa-sha2-nistp256': 'SHA256'},
    'ecdsa-sha2-nistp384': {'ecdsa-sha2-nistp384': 'SHA384'},
    'ecdsa-sha2-nistp521': {'ecdsa-sha2-nistp521': 'SHA512'},
}
_CURVES = {'ecdsa-sha2-nistp256': 'SECP256R1', 'ecdsa-sha2-nistp384': 'SECP384R1',
           'ecdsa-sha2-nistp521': 'SECP521R1'}
_VERIFY_LIBS = {}
_VERIFY_LOCK = threading.Lock()
_CA_KEYS = {}       # CA key blob -> loaded public key object (per process: once per run and CA)
_VERIFIED = {}      # certificate base64 -> None or why its signature does not verify
_VERIFIED_MAX = 4096


def _verify_libs():
    """cryptography's asymmetric primitives, imported once (not its slower SSH serialization)."""
    if not _VERIFY_LIBS:
        try:
            from cryptography.exceptions import InvalidSignature
            from cryptography.hazmat.primitives import hashes
            from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils
        except ImportError as exc:
            raise SigningError('checking certificate signatures needs the Python package "cryptography" on the '
                               'controller (pip install cryptography): %s' % exc)
        _VERIFY_LIBS.update(InvalidSignature=InvalidSignature, hashes=hashes, ec=ec, ed25519=ed25519,
                            padding=padding, rsa=rsa, utils=utils)
    return _VERIFY_LIBS


def _mpint(raw):
    return int.from_bytes(raw, 'big') if raw else 0


def _load_ca_key(ca_blob):
    """The CA public key object for an SSH public key blob (cached per process)."""
    with _VERIFY_LOCK:
        key = _CA_KEYS.get(ca_blob)
    if key is not None:
        return key
    libs = _verify_libs()
    key_type, off = _take(ca_blob, 0, 'signature key')
    key_type = key_type.decode('ascii', 'replace')
    if key_type == 'ssh-ed25519':
        raw, off = _take(ca_blob, off, 'signature key')
        key = libs['ed25519'].Ed25519PublicKey.from_public_bytes(raw)
    elif key_type == 'ssh-rsa':
        exponent, off = _take(ca_blob, off, 'signature key')
        modulus, off = _take(ca_blob, off, 'signature key')
        key = libs['rsa'].RSAPublicNumbers(_mpint(exponent), _mpint(modulus)).public_key()
    elif key_type in _CURVES:
        dummy, off = _take(ca_blob, off, 'signature key')
        point, off = _take(ca_blob, off, 'signature key')
        curve = getattr(libs['ec'], _CURVES[key_type])()
        key = libs['ec'].EllipticCurvePublicKey.from_encoded_point(curve, point)
    else:
        raise _Malformed('CA keys of type %s are not supported' % key_type)
    with _VERIFY_LOCK:
        _CA_KEYS[ca_blob] = key
    return key


def _verify(blob, signed_length, ca_type, ca_blob):
    """None when the signature at ``signed_length`` verifies with the CA key; else why not."""
    libs = _verify_libs()
    signature, dummy = _take(blob, signed_length, 'signature')
    algorithm, off = _take(signature, 0, 'signature')
    algorithm = algorithm.decode('ascii', 'replace')
    raw, off = _take(signature, off, 'signature')
    accepted = _SIGNATURE_HASHES.get(ca_type)
    if accepted is None:
        return 'the CA key type %s is not supported for verification' % ca_type
    if algorithm not in accepted:
        return ('it is signed with %s, which a %s CA must not use%s' % (
            algorithm, ca_type, ' (SHA-1: OpenSSH refuses it too)' if algorithm == 'ssh-rsa' else ''))
    key = _load_ca_key(ca_blob)
    data = blob[:signed_length]
    try:
        if ca_type == 'ssh-ed25519':
            key.verify(raw, data)
        elif ca_type == 'ssh-rsa':
            key.verify(raw, data, libs['padding'].PKCS1v15(), getattr(libs['hashes'], accepted[algorithm])())
        else:
            r, inner = _take(raw, 0, 'signature')
            s_value, inner = _take(raw, inner, 'signature')
            der = libs['utils'].encode_dss_signature(_mpint(r), _mpint(s_value))
            key.verify(der, data, libs['ec'].ECDSA(getattr(libs['hashes'], accepted[algorithm])()))
    except libs['InvalidSignature']:
        return 'its signature does not verify with the CA key it names'
    return None


def signature_problem(text, parsed=None):
    """None when the certificate's signature verifies with the CA key it names; else why not (text).

    The caller decides whether that CA is trusted (``parsed['ca_fingerprint']``): a certificate can
    name any CA key, only the signature proves that CA signed it. ``text`` is the certificate line,
    ``parsed`` its ``parse_certificate()`` result when already at hand. Each distinct certificate is
    verified once per process. Raises SigningError when ``cryptography`` is missing.
    """
    if parsed is None:
        parsed = parse_certificate(text)
    if isinstance(text, bytes):
        text = text.decode('ascii')
    encoded = text.split(None, 2)[1]
    with _VERIFY_LOCK:
        if encoded in _VERIFIED:
            return _VERIFIED[encoded]
    blob = base64.b64decode(encoded.encode('ascii'))
    ca_type, ca_blob = parsed['ca_public_key'].split(' ', 1)
    try:
        problem = _verify(blob, parsed['signed_length'], ca_type, base64.b64decode(ca_blob))
    except (_Malformed, ValueError, TypeError) as exc:  # a CA key cryptography refuses (e.g. an off-curve point)
        problem = 'its signature cannot be checked (%s)' % exc
    with _VERIFY_LOCK:
        if len(_VERIFIED) >= _VERIFIED_MAX:
            _VERIFIED.clear()
        _VERIFIED[encoded] = problem
    return problem


# ---------------------------------------------------------------------------
# The local CA (cryptography, controller only)

class _Crypto:
    """The parts of cryptography the local CA uses, imported once."""


_CRYPTO = None


def _crypto():
    """Import cryptography on first use; raise SigningError when it is missing."""
    global _CRYPTO, HAS_CRYPTOGRAPHY, CRYPTOGRAPHY_IMPORT_ERROR
    if _CRYPTO is not None:
        return _CRYPTO
    try:
        from cryptography.exceptions import UnsupportedAlgorithm
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
        from cryptography.hazmat.primitives.serialization import ssh
    except ImportError as exc:
        HAS_CRYPTOGRAPHY = False
        CRYPTOGRAPHY_IMPORT_ERROR = exc
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
    HAS_CRYPTOGRAPHY = True
    _CRYPTO = crypto
    return crypto


def has_cryptography():
    """True when the local CA can work here (imports cryptography when not done yet)."""
    try:
        _crypto()
    except SigningError:
        return False
    return True


def _has_bcrypt():
    try:
        import bcrypt  # noqa: F401  pylint: disable=unused-import
    except ImportError:
        return False
    return True


_BCRYPT_HINT = 'passphrase-protected OpenSSH keys need the Python package "bcrypt" (pip install bcrypt)'

# path -> (file signature, passphrase tag, LocalCA)
_CA_CACHE = {}
_CA_CACHE_LOCK = threading.Lock()
_CACHE_SECRET = []


def _passphrase_bytes(passphrase, field):
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
            raise bad(_BCRYPT_HINT)
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
        crypto = _crypto()
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
        passphrase = _passphrase_bytes(passphrase, field)
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
        crypto = _crypto()
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
        crypto = _crypto()
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


# ---------------------------------------------------------------------------
# CA key generation (demos, roles)

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
    passphrase = _passphrase_bytes(passphrase, field)
    for candidate in (path, pub_path):
        if os.path.lexists(candidate):
            raise ValidationError([(field, 'refusing to overwrite existing file %s' % candidate)], what='CA key')
    if passphrase is not None and not _has_bcrypt():
        raise ValidationError([(field, _BCRYPT_HINT)], what='CA key')
    crypto = _crypto()
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
    ca = LocalCA(key, path, field)
    try:
        st = os.stat(path)
    except OSError:  # pragma: no cover
        return ca
    tag = _passphrase_tag(passphrase)
    with _CA_CACHE_LOCK:
        _CA_CACHE[path] = (_file_signature(st), tag, ca)
    return ca
