# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Secret guard: say whether a string looks like secret material.

The audit trail and the routing catalog hold metadata only (who, what, when,
which key by fingerprint, which decision).  Every value written to them goes
through :func:`secret_problem` / :func:`find_secrets` first, and a value that
looks like a token, a key, a certificate body or a long random string is
refused.  Messages name the *kind* and the *length* of what was found and the
field it was found in, never the value itself.

The kinds (``KINDS``) and the rule of each are listed above ``KINDS``.

Known limits: short or low-entropy secrets (``hunter2``), single-case random strings and raw hex
keys carry no recognisable shape and are not detected.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import math
import re
import struct

from ansible.module_utils.six.moves.collections_abc import Mapping

# Kinds (``KINDS``), checked in this order, the first that matches wins:
#
# - ``openssh_private_key``: ``-----BEGIN OPENSSH PRIVATE KEY-----`` or a bare
#   ``b3BlbnNzaC1rZXktdjE`` (base64 of ``openssh-key-v1``) body;
# - ``private_key``: any other ``-----BEGIN ... PRIVATE KEY`` armour, PuTTY key files;
# - ``pem_block``: any other ``-----BEGIN`` armour (certificates, CSRs, PGP blocks);
# - ``ssh_certificate`` / ``ssh_public_key``: an OpenSSH key line
#   (``ssh-ed25519-cert-v01@openssh.com AAAA...``) or a bare base64 key blob whose
#   wire-format type string is ``ssh-*``, ``ecdsa-*``, ``sk-*``.  Fingerprints
#   (``SHA256:...``) are what the audit holds, never the key or the certificate;
# - ``jwt``: three base64url parts, the first starting ``eyJ``;
# - ``vault_token``: OpenBao/Vault ``hvs.``/``hvb.``/``hvr.`` tokens, legacy
#   ``s.``/``b.``/``r.`` followed by at least 20 mixed-case token characters;
# - ``github_token``: ``ghp_``, ``gho_``, ``ghu_``, ``ghs_``, ``ghr_``, ``github_pat_``;
# - ``gitlab_token``: ``glpat-`` and the other GitLab ``gl*-`` prefixes, ``GR1348941``;
# - ``slack_token``: ``xoxb-``, ``xoxp-``, ``xoxa-``, ``xoxr-``, ``xoxs-``, ``xoxe-``, ``xapp-``;
# - ``npm_token``: ``npm_`` and 36 characters;
# - ``aws_access_key_id``: ``AKIA``/``ASIA`` and 16 upper-case letters or digits;
# - ``url_credentials``: ``scheme://user:password@host``;
# - ``auth_header``: ``Bearer``/``Basic`` followed by a credential;
# - ``credential_assignment``: ``password=...``, ``token: ...``, ``secret_id=...`` and the like,
#   with a value of 8 or more characters that is not a placeholder (``<field>``, ``{{ x }}``, ``$VAR``)
#   nor a plain lower-case word or path (``token: agt-state-hub-bridge`` names, it does not leak);
# - ``aws_secret_key``: a run of exactly 40 base64 characters that passes the randomness test below;
# - ``high_entropy``: any run of at least ``MIN_RUN`` (32) characters of ``[A-Za-z0-9+/=_-]`` that
#   has upper- and lower-case letters (at least 2 of each), a Shannon entropy of at least
#   ``MIN_ENTROPY`` (3.6) bits per character, and word pieces (CamelCase words, lower-case words,
#   digit groups) of ``MAX_PIECE`` (4.0) characters or less on average.  Random base64/base62 of
#   32+ characters averages under 2 characters a piece (more than 4.0 for about 4 in 100,000 strings
#   of 32 characters, 3 in 1,000,000 of 40) and 4.2-5 bits a character; identifiers, paths and
#   CamelCase names average 4-7 characters a piece.  A CamelCase name made of many one- and
#   two-letter words (``GetUserByIdAndRoleForApiV2Handler``) can still trip it.
#
# Explicitly allowed (removed before the checks): ``SHA256:``/``SHA384:``/``SHA512:`` base64 key
# fingerprints and ``sha256:``/``sha384:``/``sha512:`` hex digests.  Hex-only runs (digests,
# commit ids, serials, ``decision:<16 hex>``) never trip the entropy test, because they are single-case.
KINDS = {
    'openssh_private_key': 'an OpenSSH private key',
    'private_key': 'a private key',
    'pem_block': 'a PEM block',
    'ssh_certificate': 'an SSH certificate body',
    'ssh_public_key': 'an SSH public key body',
    'jwt': 'a JSON Web Token',
    'vault_token': 'an OpenBao/Vault token',
    'github_token': 'a GitHub token',
    'gitlab_token': 'a GitLab token',
    'slack_token': 'a Slack token',
    'npm_token': 'an npm token',
    'aws_access_key_id': 'an AWS access key id',
    'url_credentials': 'a URL with embedded credentials',
    'auth_header': 'an HTTP Authorization credential',
    'credential_assignment': 'a credential assignment (name=value)',
    'aws_secret_key': 'an AWS secret access key',
    'high_entropy': 'a long high-entropy string',
}

MIN_RUN = 32
MIN_ENTROPY = 3.6
MAX_PIECE = 4.0
MIN_LENGTH = 10  # shorter strings hold nothing any check below can recognise

# Public values that look random but are not secret: removed before the checks.
# Exact lengths, so nothing longer can hide behind a fingerprint label.
_ALLOWED = re.compile(
    r'(?:SHA256:[A-Za-z0-9+/]{43}|SHA384:[A-Za-z0-9+/]{64}|SHA512:[A-Za-z0-9+/]{86})={0,2}(?![A-Za-z0-9+/=])'
    r'|(?:sha256:[0-9a-f]{64}|sha384:[0-9a-f]{96}|sha512:[0-9a-f]{128})(?![0-9A-Za-z])'
)

_RUN = re.compile(r'[A-Za-z0-9+/=_-]{%d,}' % MIN_RUN)
_PIECE = re.compile(r'[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+')
_UPPER = re.compile(r'[A-Z]')
_LOWER = re.compile(r'[a-z]')

_GITLAB_PREFIXES = frozenset((
    'glpat', 'gldt', 'glrt', 'glrtr', 'glcbt', 'glptt', 'glft', 'glimt', 'glagent', 'gloas',
    'glsoat', 'glffct', 'glwt', 'glsa',
))
_SSH_WIRE_TYPES = (b'ssh-', b'ecdsa-', b'sk-', b'rsa-', b'x509v3-')
_PLACEHOLDER_START = '<{$*%'
_PLAIN_WORD = re.compile(r'^[a-z_./-]+$')


def shannon_entropy(text):
    """Bits per character of ``text`` (0.0 for an empty string)."""
    if not text:
        return 0.0
    counts = {}
    for ch in text:
        counts[ch] = counts.get(ch, 0) + 1
    size = float(len(text))
    return -sum((n / size) * math.log(n / size, 2) for n in counts.values())


def _looks_random(run):
    """The randomness test for one run of base64-ish characters (see the module doc)."""
    if len(_UPPER.findall(run)) < 2 or len(_LOWER.findall(run)) < 2:
        return False
    pieces = _PIECE.findall(run)
    if not pieces:
        return False
    if sum(len(p) for p in pieces) / float(len(pieces)) > MAX_PIECE:
        return False
    return shannon_entropy(run) >= MIN_ENTROPY


def _mixed_case(text):
    return _UPPER.search(text) is not None and _LOWER.search(text) is not None


def _legacy_vault_ok(match):
    return _mixed_case(match.group('legacy'))


def _gitlab_ok(match):
    prefix, tail = match.group('glprefix'), match.group('gltail')
    if prefix is None or prefix in _GITLAB_PREFIXES:
        return True
    return _mixed_case(tail) and re.search(r'[0-9]', tail) is not None


def _ssh_blob_kind(b64):
    """ssh_certificate / ssh_public_key when a base64 run decodes to an SSH wire blob, else None."""
    head = b64[:64]
    head = head[:len(head) - len(head) % 4]
    try:
        blob = base64.b64decode(head.encode('ascii'))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None
    if len(blob) < 8:
        return None
    (length,) = struct.unpack('>I', blob[:4])
    if not 3 <= length <= 64:
        return None
    key_type = blob[4:4 + length]
    if not key_type.startswith(_SSH_WIRE_TYPES):
        return None
    return 'ssh_certificate' if b'-cert-v0' in key_type else 'ssh_public_key'


def _ssh_blob_ok(match):
    return _ssh_blob_kind(match.group('blob')) is not None


def _slack_ok(match):
    return re.search(r'[0-9]', match.group('slack')) is not None


def _auth_header_ok(match):
    cred = match.group('cred')
    return re.search(r'[0-9]', cred) is not None or _mixed_case(cred)


def _assignment_ok(match):
    value = match.group('value')
    if value[0] in _PLACEHOLDER_START or value.startswith(('http://', 'https://')):
        return False
    # a lower-case word, name or path says *where* or *what*, not the value itself
    return _PLAIN_WORD.match(value) is None


def _aws_secret_ok(match):
    return _looks_random(match.group(0))


_B = r'(?<![A-Za-z0-9])'
# (kind, pattern, extra test on a match or None); order = precedence
_CHECKS = [
    ('openssh_private_key', re.compile(r'-----BEGIN OPENSSH PRIVATE KEY|b3BlbnNzaC1rZXktdjE'), None),
    ('private_key', re.compile(r'-----BEGIN[A-Z0-9 ]*PRIVATE KEY|PuTTY-User-Key-File-'), None),
    ('pem_block', re.compile(r'-----BEGIN'), None),
    ('ssh_certificate', re.compile(r'[A-Za-z0-9.@-]+-cert-v0[0-9]@openssh\.com\s+AAAA[A-Za-z0-9+/]{8,}'), None),
    ('ssh_public_key', re.compile(
        r'(?:ssh-(?:rsa|dss|ed25519|ed448)|ecdsa-sha2-nistp[0-9]+|sk-[a-z0-9-]+@openssh\.com)\s+AAAA[A-Za-z0-9+/]{8,}'),
        None),
    ('ssh_blob', re.compile(r'(?<![A-Za-z0-9+/])(?P<blob>AAAA[A-Za-z0-9+/]{16,}={0,2})'), _ssh_blob_ok),
    ('jwt', re.compile(_B + r'eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*'), None),
    ('vault_token', re.compile(_B + r'hv[sbr]\.[A-Za-z0-9_-]{20,}'), None),
    ('vault_token', re.compile(r'(?<![A-Za-z0-9_.-])[sbr]\.(?P<legacy>[A-Za-z0-9_-]{20,})(?![A-Za-z0-9_-])'),
     _legacy_vault_ok),
    ('github_token', re.compile(_B + r'(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})'), None),
    ('gitlab_token', re.compile(_B + r'(?:(?P<glprefix>gl[a-z]{1,8})-(?P<gltail>[A-Za-z0-9_-]{20,})'
                                r'|GR1348941[A-Za-z0-9_-]{20,})'), _gitlab_ok),
    ('slack_token', re.compile(_B + r'(?:xox[abprse]|xapp)-(?P<slack>[A-Za-z0-9-]{10,})'), _slack_ok),
    ('npm_token', re.compile(_B + r'npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])'), None),
    ('aws_access_key_id', re.compile(_B + r'(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])'), None),
    ('url_credentials', re.compile(r'[A-Za-z][A-Za-z0-9+.-]*://[^\s/@:]*:[^\s/@]+@'), None),
    ('auth_header', re.compile(r'(?i)\b(?:bearer|basic)\s+(?P<cred>[A-Za-z0-9._~+/=-]{16,})'), _auth_header_ok),
    ('credential_assignment', re.compile(
        r'(?i)(?<![A-Za-z0-9])(?:password|passwd|passphrase|pwd|secret|secret_id|client_secret|token|'
        r'api[_-]?key|access[_-]?key|secret[_-]?key|private[_-]?key|auth[_-]?token|session[_-]?token)'
        r'\s*[=:]\s*["\']?(?P<value>[^\s"\',;]{8,})'), _assignment_ok),
    ('aws_secret_key', re.compile(r'(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/]{40}(?![A-Za-z0-9+/=_-])'), _aws_secret_ok),
]


# Cheap first pass: a string with none of these cannot match any check above.
_TRIGGER = re.compile(
    r'-----BEGIN|b3BlbnNz|PuTTY|AAAA|eyJ|[sbr]\.[A-Za-z0-9_-]{20}|hv[sbr]\.|gh[pousr]_|github_pat_|gl[a-z]{1,8}-'
    r'|GR1348941|xox|xapp-|npm_|AKIA|ASIA|://'
    r'|(?i:bearer|basic|pass|pwd|secret|token|key)'
    r'|[A-Za-z0-9+/=_-]{%d}' % min(MIN_RUN, 40))


def secret_kind(value):
    """The kind (a key of ``KINDS``) of secret material ``value`` looks like, or None.

    Only strings (and bytes) are examined; anything else is None.
    """
    if isinstance(value, bytes):
        value = value.decode('latin-1')
    if not isinstance(value, str) or len(value) < MIN_LENGTH:
        return None
    text = _ALLOWED.sub(' ', value) if ':' in value else value
    if _TRIGGER.search(text) is None:
        return None
    for kind, pattern, test in _CHECKS:
        if test is None:
            if pattern.search(text) is not None:
                return kind
            continue
        for match in pattern.finditer(text):
            if test(match):
                if kind == 'ssh_blob':
                    return _ssh_blob_kind(match.group('blob'))
                return kind
    for match in _RUN.finditer(text):
        if _looks_random(match.group(0)):
            return 'high_entropy'
    return None


def describe(kind):
    """Human words for a kind: ``github_token`` -> ``a GitHub token``."""
    return KINDS.get(kind, kind)


def secret_problem(value):
    """Why ``value`` looks like secret material, or None when it does not.

    The message names the kind and the length, never the value, so it can go
    into errors and logs as is.
    """
    kind = secret_kind(value)
    if kind is None:
        return None
    return 'looks like %s (%s, %d characters); only metadata may be recorded, never secret material' % (
        describe(kind), kind, len(value))


def _key_path(path, key):
    if isinstance(key, str):
        if re.match(r'^[A-Za-z_][A-Za-z0-9_-]*$', key):
            return '%s.%s' % (path, key) if path else key
        return '%s[%r]' % (path, key)
    if key is None or isinstance(key, (bool, int, float)):
        return '%s[%r]' % (path, key)
    return '%s[<%s key>]' % (path, type(key).__name__)


def find_secrets(obj, path=''):
    """Walk ``obj`` (dicts, lists, tuples, sets, strings) and list ``(path, kind)`` for every
    string that looks like secret material, in document order.

    Dict keys are checked too; a key that looks secret is reported as ``<path>.<key #n>`` so the
    path never repeats it.  Never raises: other types are ignored, cycles are followed once.
    """
    found = []
    seen = set()
    stack = [(path or '', obj)]
    while stack:
        where, item = stack.pop()
        try:
            if isinstance(item, (str, bytes)):
                kind = secret_kind(item)
                if kind is not None:
                    found.append((where, kind))
            elif isinstance(item, Mapping):
                if id(item) in seen:
                    continue
                seen.add(id(item))
                children = []
                for index, (key, value) in enumerate(list(item.items())):
                    key_kind = secret_kind(key) if isinstance(key, (str, bytes)) else None
                    if key_kind is not None:
                        found.append(('%s.<key #%d>' % (where, index) if where else '<key #%d>' % index, key_kind))
                        children.append(('%s.<key #%d>' % (where, index) if where else '<key #%d>' % index, value))
                    else:
                        children.append((_key_path(where, key), value))
                stack.extend(reversed(children))
            elif isinstance(item, (list, tuple, set, frozenset)):
                if id(item) in seen:
                    continue
                seen.add(id(item))
                if isinstance(item, (set, frozenset)):
                    children = [('%s[*]' % where, value) for value in item]
                else:
                    children = [('%s[%d]' % (where, index), value) for index, value in enumerate(item)]
                stack.extend(reversed(children))
        except Exception:  # pylint: disable=broad-except
            # An exotic object (a mapping whose items() raises, ...) is skipped, never fatal.
            continue
    return found
