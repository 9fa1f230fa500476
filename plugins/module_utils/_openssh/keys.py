# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OpenSSH public key lines: parsing and fingerprints (no third-party imports)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import hashlib
import struct

from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError

KEY_TYPES = (
    'ssh-ed25519', 'ssh-rsa', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521',
    'sk-ssh-ed25519@openssh.com', 'sk-ecdsa-sha2-nistp256@openssh.com',
)
CERT_SUFFIX = '-cert-v01@openssh.com'


def line_break_at(text, allowed=''):
    """The index of the first character of ``text`` that would end a line or hide in one where ``text``
    becomes a line of a file (C0 controls but tab, DEL, C1 controls, the Unicode line and paragraph
    separators that ``str.splitlines`` breaks at), or None. ``allowed``: characters let through."""
    for index, ch in enumerate(text):
        code = ord(ch)
        if ((code < 32 and ch != '\t') or 127 <= code < 160 or ch in '\u2028\u2029') and ch not in allowed:
            return index
    return None


def parse_public_key(text, field='public_key'):
    """Return ``(key_type, blob_bytes, comment)`` for one OpenSSH public key line.

    The blob's own type string must match the line's type, so a truncated or
    pasted-wrong key is refused here rather than by the CA.
    """
    if not isinstance(text, str):
        raise ValidationError([(field, 'must be an OpenSSH public key line (text)')], what='public key')
    line = text.strip()
    index = line_break_at(line)  # one line of a file: a line break would add lines to it
    if index is not None:
        raise ValidationError([(field, 'must be one line without control characters (%s at position %d)'
                                % (ascii(line[index]), index))], what='public key')
    parts = line.split(None, 2)
    if len(parts) < 2:
        raise ValidationError([(field, 'is not an OpenSSH public key line ("<type> <base64> [comment]")')],
                              what='public key')
    key_type, b64 = parts[0], parts[1]
    base_type = key_type[:-len(CERT_SUFFIX)] if key_type.endswith(CERT_SUFFIX) else key_type
    if base_type not in KEY_TYPES:
        raise ValidationError([(field, 'unsupported key type %r' % key_type)], what='public key')
    try:
        blob = base64.b64decode(b64.encode('ascii'), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise ValidationError([(field, 'key data is not valid base64')], what='public key')
    if len(blob) < 4:
        raise ValidationError([(field, 'key data is truncated')], what='public key')
    (length,) = struct.unpack('>I', blob[:4])
    if blob[4:4 + length] != key_type.encode('ascii'):
        raise ValidationError([(field, 'key data does not match its type %r' % key_type)], what='public key')
    return key_type, blob, parts[2] if len(parts) > 2 else ''


def fingerprint_blob(blob):
    """``SHA256:<base64 without padding>``, as ``ssh-keygen -l`` prints it."""
    digest = hashlib.sha256(blob).digest()
    return 'SHA256:' + base64.b64encode(digest).decode('ascii').rstrip('=')


def fingerprint(text, field='public_key'):
    return fingerprint_blob(parse_public_key(text, field)[1])
