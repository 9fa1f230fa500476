# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OpenSSH certificates: parsing, the renewal decision and ``describe``.

These run for every host on every run, so this file is pure Python (``struct``/``base64``) and
imports nothing from outside the standard library. Parsing does **not** check the CA signature:
the CA is judged by its fingerprint against the trusted set, and the signature by
``_openssh/signature.py`` (which imports ``cryptography`` on first use). The local CA is in
``_openssh/local_ca.py``.

The certificate format is the one in OpenSSH's PROTOCOL.certkeys.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import math
import struct
import time

from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError
from ansible_collections.netkingdom.warden.plugins.module_utils._openssh.keys import CERT_SUFFIX, fingerprint_blob

CERT_TYPES = {1: 'user', 2: 'host'}
CERT_TYPE_CODES = {'user': 1, 'host': 2}
ALWAYS = 0
FOREVER = 2 ** 64 - 1

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


class Malformed(Exception):
    """The certificate blob is not well formed (turned into a ValidationError)."""


def take_string(buf, off, what):
    """Read one SSH ``string`` at ``off``; return ``(bytes, next_offset)``."""
    if off + 4 > len(buf):
        raise Malformed('certificate data is truncated (in %s)' % what)
    (length,) = _U32(buf, off)
    start = off + 4
    end = start + length
    if end > len(buf):
        raise Malformed('certificate data is truncated (in %s)' % what)
    return buf[start:end], end


def _take_u64(buf, off, what):
    if off + 8 > len(buf):
        raise Malformed('certificate data is truncated (in %s)' % what)
    return _U64(buf, off)[0], off + 8


def _text(raw, what):
    try:
        return raw.decode('utf-8')
    except UnicodeDecodeError:
        raise Malformed('%s is not valid UTF-8' % what)


def _key_fields(buf, off, key_type, what):
    """Skip the public-key fields of ``key_type`` starting at ``off``; return the end offset."""
    count, curve = _KEY_LAYOUT[key_type]
    first = None
    for index in range(count):
        value, off = take_string(buf, off, what)
        if index == 0:
            first = value
    if curve is not None and first != curve:
        raise Malformed('%s names curve %r, not %r' % (what, first, curve))
    if key_type in ('ssh-ed25519', 'sk-ssh-ed25519@openssh.com') and len(first) != 32:
        raise Malformed('%s is not a 32-byte Ed25519 key' % what)
    return off


def _options(data, what):
    """Critical options or extensions: (name, value) pairs, a non-empty value being itself
    an SSH string. Returns a dict; a flag maps to ''."""
    out = {}
    off = 0
    while off < len(data):
        raw_name, off = take_string(data, off, what)
        raw_value, off = take_string(data, off, what)
        name = _text(raw_name, what)
        if not name:
            raise Malformed('%s holds an empty name' % what)
        if name in out:
            raise Malformed('%s holds %r twice' % (what, name))
        value = ''
        if raw_value:
            inner, end = take_string(raw_value, 0, '%s %s' % (what, name))
            if end != len(raw_value):
                raise Malformed('%s %r has trailing data in its value' % (what, name))
            value = _text(inner, '%s %s' % (what, name))
        out[name] = value
    return out


def _parse_blob(blob, line_type, key_type):
    what = 'type'
    raw_type, off = take_string(blob, 0, what)
    if raw_type != line_type.encode('ascii'):
        raise Malformed('certificate data holds type %r, but the line says %r'
                        % (raw_type.decode('ascii', 'replace'), line_type))
    dummy_nonce, off = take_string(blob, off, 'nonce')
    key_start = off
    off = _key_fields(blob, off, key_type, 'public key')
    plain = _PACK_U32(len(key_type)) + key_type.encode('ascii') + blob[key_start:off]

    serial, off = _take_u64(blob, off, 'serial')
    if off + 4 > len(blob):
        raise Malformed('certificate data is truncated (in cert type)')
    (type_code,) = _U32(blob, off)
    off += 4
    cert_type = CERT_TYPES.get(type_code)
    if cert_type is None:
        raise Malformed('certificate type is %d, neither user (1) nor host (2)' % type_code)
    raw_key_id, off = take_string(blob, off, 'key id')
    key_id = _text(raw_key_id, 'key id')

    raw_principals, off = take_string(blob, off, 'principals')
    principals = []
    p_off = 0
    while p_off < len(raw_principals):
        raw, p_off = take_string(raw_principals, p_off, 'principals')
        principals.append(_text(raw, 'principal'))

    valid_after, off = _take_u64(blob, off, 'valid after')
    valid_before, off = _take_u64(blob, off, 'valid before')
    raw_critical, off = take_string(blob, off, 'critical options')
    critical_options = _options(raw_critical, 'critical options')
    raw_extensions, off = take_string(blob, off, 'extensions')
    extensions = _options(raw_extensions, 'extensions')
    dummy_reserved, off = take_string(blob, off, 'reserved')

    ca_blob, off = take_string(blob, off, 'signature key')
    raw_ca_type, ca_off = take_string(ca_blob, 0, 'signature key')
    ca_type = raw_ca_type.decode('ascii', 'replace')
    if ca_type not in _KEY_LAYOUT:
        raise Malformed('signature key has unsupported type %r' % ca_type)
    ca_off = _key_fields(ca_blob, ca_off, ca_type, 'signature key')
    if ca_off != len(ca_blob):
        raise Malformed('signature key has trailing data')

    signed_length = off
    signature, off = take_string(blob, off, 'signature')
    raw_sig_type, dummy = take_string(signature, 0, 'signature')
    if off != len(blob):
        raise Malformed('certificate data has %d bytes of trailing garbage' % (len(blob) - off))

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
    except Malformed as exc:
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
