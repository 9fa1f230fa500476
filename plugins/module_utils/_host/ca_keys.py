# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The TrustedUserCAKeys file: the wanted CA keys checked, the file's keys read, the two compared.

Pure (text in, data out), shared by the host module that writes the file and the controller-side
drift check. Keys are compared by fingerprint, never by comment or line.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.netkingdom.warden.plugins.module_utils._inventory.actors import shown
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError
from ansible_collections.netkingdom.warden.plugins.module_utils._openssh.keys import (
    CERT_SUFFIX,
    fingerprint_blob,
    line_break_at,
    parse_public_key,
)

DEFAULT_CA_PATH = '/etc/ssh/ca/ca_user.pub'


def _key_info(key_type, blob, comment):
    return {'type': key_type, 'fingerprint': fingerprint_blob(blob), 'comment': comment}


def parse_ca_keys(text):
    """Keys of a TrustedUserCAKeys file: ``(keys, invalid_lines)``; ``keys`` in file order, each once."""
    keys = []
    seen = set()
    invalid = []
    for number, line in enumerate((text or '').split('\n'), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith('#'):
            continue
        try:
            key_type, blob, comment = parse_public_key(stripped)
        except ValidationError:
            invalid.append(number)
            continue
        if blob not in seen:
            seen.add(blob)
            keys.append(_key_info(key_type, blob, comment))
    return keys, invalid


def validate_ca_keys(lines, field='trusted_ca_keys'):
    """Wanted CA keys as key infos; every bad line is reported with its index.

    Each item is a public key line, or the text of a CA file (several lines, ``#`` comments).
    """
    if isinstance(lines, str) or not isinstance(lines, (list, tuple)):
        raise ValidationError([(field, 'must be a list of OpenSSH public key lines')], what='CA keys')
    problems = []
    keys = []
    seen = set()
    for index, item in enumerate(lines):
        where = '%s[%d]' % (field, index)
        if not isinstance(item, str):
            problems.append((where, 'must be an OpenSSH public key line (text)'))
            continue
        # An item may be a whole CA file (several lines, comments), split at '\n' as sshd does; any
        # other control character would let one value become lines sshd reads differently.
        bad = line_break_at(item, allowed='\n')
        if bad is not None:
            problems.append((where, 'must not contain control characters other than line breaks between keys '
                             '(%s at position %d)' % (shown(item[bad]), bad)))
            continue
        for line in item.split('\n'):
            if line.strip().startswith('#') or (not line.strip() and '\n' in item):
                continue
            try:
                key_type, blob, comment = parse_public_key(line, where)
            except ValidationError as exc:
                problems.extend(exc.problems)
                continue
            if key_type.endswith(CERT_SUFFIX):
                problems.append((where, 'is a certificate, not a CA public key'))
            elif blob not in seen:
                seen.add(blob)
                keys.append(_key_info(key_type, blob, comment))
    if problems:
        raise ValidationError(problems, what='CA keys')
    return keys


def compare_ca_keys(wanted, text):
    """Compare wanted key infos with a CA file's text (None: the file is missing), by key only."""
    have, invalid = parse_ca_keys(text)
    have_fps = [k['fingerprint'] for k in have]
    wanted_fps = [k['fingerprint'] for k in wanted]
    return {
        'file_missing': text is None,
        'missing_keys': [k for k in wanted if k['fingerprint'] not in have_fps],
        'extra_keys': [k for k in have if k['fingerprint'] not in wanted_fps],
        'invalid_lines': invalid,
        'keys': have,
    }
