# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Certificate files on a host: where a key's certificate is (``cert_path``) and whether a
certificate line certifies a key line (``certifies``).

A byte comparison, not a parse: host modules run on the host, where ``_openssh/certificate.py``
is not needed. Standard library only (AnsiballZ ships this to every host).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import struct

from ansible_collections.netkingdom.warden.plugins.module_utils._openssh.keys import CERT_SUFFIX


def cert_path(key):
    """``<key>-cert.pub`` for a private key path or its ``.pub``: where ssh and sshd look for it."""
    return (key[:-len('.pub')] if key.endswith('.pub') else key) + '-cert.pub'


def _blob(line):
    fields = line.split() if isinstance(line, str) else []
    if len(fields) < 2:
        return None, None
    try:
        return fields[0], base64.b64decode(fields[1].encode('ascii'), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None, None


def certifies(cert_line, key_line):
    """Whether the certificate line ``cert_line`` certifies the public key line ``key_line``.

    The certificate must be of the key's type, and its public key fields (after the type and the
    nonce, see OpenSSH PROTOCOL.certkeys) must be the key's own.
    """
    cert_type, cert_blob = _blob(cert_line)
    key_type, key_blob = _blob(key_line)
    if cert_blob is None or key_blob is None or cert_type != '%s%s' % (key_type, CERT_SUFFIX):
        return False
    offset = 0
    for expected in (cert_type.encode('ascii'), None):  # the type, then the nonce
        if len(cert_blob) < offset + 4:
            return False
        (length,) = struct.unpack('>I', cert_blob[offset:offset + 4])
        value = cert_blob[offset + 4:offset + 4 + length]
        if len(value) != length or (expected is not None and value != expected):
            return False
        offset += 4 + length
    prefix = 4 + len(key_type.encode('ascii'))
    if key_blob[:prefix] != struct.pack('>I', prefix - 4) + key_type.encode('ascii'):
        return False
    body = key_blob[prefix:]
    return len(body) > 0 and cert_blob[offset:offset + len(body)] == body
