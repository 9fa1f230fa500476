# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OpenSSH certificates: verifying the CA signature.

A certificate whose CA fingerprint is trusted may still be forged, so a certificate is kept, and a
signed one accepted, only once its signature verifies. This needs ``cryptography``'s asymmetric
primitives, imported on first use (about 15 ms), which is why it is not in ``certificate.py``:
parsing and the renewal decision stay standard library only. Results and loaded CA keys are cached
per process.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import threading

from ansible_collections.netkingdom.warden.plugins.module_utils.errors import SigningError
from ansible_collections.netkingdom.warden.plugins.module_utils._openssh.certificate import (
    Malformed, parse_certificate, take_string,
)

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
    key_type, off = take_string(ca_blob, 0, 'signature key')
    key_type = key_type.decode('ascii', 'replace')
    if key_type == 'ssh-ed25519':
        raw, off = take_string(ca_blob, off, 'signature key')
        key = libs['ed25519'].Ed25519PublicKey.from_public_bytes(raw)
    elif key_type == 'ssh-rsa':
        exponent, off = take_string(ca_blob, off, 'signature key')
        modulus, off = take_string(ca_blob, off, 'signature key')
        key = libs['rsa'].RSAPublicNumbers(_mpint(exponent), _mpint(modulus)).public_key()
    elif key_type in _CURVES:
        dummy, off = take_string(ca_blob, off, 'signature key')
        point, off = take_string(ca_blob, off, 'signature key')
        curve = getattr(libs['ec'], _CURVES[key_type])()
        key = libs['ec'].EllipticCurvePublicKey.from_encoded_point(curve, point)
    else:
        raise Malformed('CA keys of type %s are not supported' % key_type)
    with _VERIFY_LOCK:
        _CA_KEYS[ca_blob] = key
    return key


def _verify(blob, signed_length, ca_type, ca_blob):
    """None when the signature at ``signed_length`` verifies with the CA key; else why not."""
    libs = _verify_libs()
    signature, dummy = take_string(blob, signed_length, 'signature')
    algorithm, off = take_string(signature, 0, 'signature')
    algorithm = algorithm.decode('ascii', 'replace')
    raw, off = take_string(signature, off, 'signature')
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
            r, inner = take_string(raw, 0, 'signature')
            s_value, inner = take_string(raw, inner, 'signature')
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
    except (Malformed, ValueError, TypeError) as exc:  # a CA key cryptography refuses (e.g. an off-curve point)
        problem = 'its signature cannot be checked (%s)' % exc
    with _VERIFY_LOCK:
        if len(_VERIFIED) >= _VERIFIED_MAX:
            _VERIFIED.clear()
        _VERIFIED[encoded] = problem
    return problem
