# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the signing plugins return for a certificate: result fields, the fields of a refusal,
and the diff text."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.netkingdom.warden.plugins.module_utils._openssh.certificate import describe

DIFF_KEYS = ('cert_type', 'principals', 'valid_after', 'valid_before', 'ttl_hours', 'serial', 'key_id')


def diff_text(info):
    """A certificate summary (``describe()`` output or a planned request) as diff text."""
    if not info:
        return '(no certificate)\n'
    return ''.join('%s: %s\n' % (k, ', '.join(info[k]) if isinstance(info[k], list) else info[k])
                   for k in DIFF_KEYS if k in info)


def result_fields(cert, decision):
    """The result keys every signing plugin returns for a certificate."""
    info = describe(cert)
    return {
        'serial': str(cert['serial']), 'key_id': cert['key_id'], 'principals': list(cert['principals']),
        'valid_after': info['valid_after'], 'valid_before': info['valid_before'],
        'ca_fingerprint': cert['ca_fingerprint'],
        'policy_decision_id': decision.decision_id if decision is not None else _decision_from_key_id(cert),
    }


def _decision_from_key_id(cert):
    """A kept certificate carries its decision id in the key id (warden:<actor>:decision:<hex>)."""
    key_id = cert.get('key_id') or ''
    marker = key_id.find(':decision:')
    return key_id[marker + 1:] if marker >= 0 else None


def denied_fields(exc):
    """Result keys for a PolicyDenied."""
    return {'reason': exc.decision.reason, 'policy_decision_id': exc.decision.decision_id,
            'decision': exc.decision.as_dict()}
