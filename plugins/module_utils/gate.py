# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The policy gate: request builder, embedded evaluator, decision envelopes.

The request and envelope follow the flex-auth ``POST /v1/check`` contract used
by ops-warden. The embedded evaluator implements the flex-auth ops-warden
signing package rule for rule, so ``embedded`` and ``flex_auth`` modes give the
same effect and reason for the same request and registry. Requests for a
``credential-lane`` resource (action ``read``, a credential fetch as the caller) are
decided by the credential-read rules (``_credential_deny_reason``) instead.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import secrets

from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError
from ansible_collections.netkingdom.warden.plugins.module_utils.registry import (
    ACTION,
    CREDENTIAL_ACTION,
    CREDENTIAL_RESOURCE_TYPE,
    DEFAULT_TENANT,
    RESOURCE_TYPE,
    SYSTEM,
    resource_id,
)

POLICY_VERSION = 'ops-warden-sign/1'
EVALUATOR = 'netkingdom.warden.embedded'

ALLOW_REASON = 'signing_policy_matched'
UNAVAILABLE = 'policy_unavailable'      # the PDP could not be asked (fail_closed: false may allow)
INVALID_ANSWER = 'policy_answer_invalid'  # the PDP refused or answered nonsense: always a deny
GATE_OFF = 'policy_gate_off'

# Deny reasons, in the order the rules are evaluated (first failing rule wins).
DENY_REASONS = (
    'action_not_allowed',
    'system_mismatch',
    'resource_type_mismatch',
    'tenant_mismatch',
    'unknown_actor_resource',
    'subject_not_allowed',
    'actor_type_mismatch',
    'ttl_out_of_bounds',
    'principals_empty',
    'principals_not_allowed',
    'pubkey_fingerprint_missing',
)


# The credential-read package: requests whose resource.type is ``credential-lane`` (a fetch
# as the caller from a routing catalog lane, see routing.py / credential_access.py).
CREDENTIAL_POLICY_VERSION = 'ops-warden-credential-read/1'
CREDENTIAL_ALLOW_REASON = 'credential_read_allowed'
CREDENTIAL_DENY_REASONS = (
    'action_not_allowed',
    'system_mismatch',
    'tenant_mismatch',
    'unknown_credential_lane',
    'credential_context_mismatch',
    'subject_not_allowed',
)
SIGN_RULE_PREFIX = 'ops_warden.sign.'
CREDENTIAL_RULE_PREFIX = 'ops_warden.credential_read.'


def new_decision_id():
    return 'decision:' + secrets.token_hex(8)


def utc_now_text():
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%fZ')


def build_request(actor, actor_type, principals, ttl_hours, pubkey_fingerprint,
                  subject=None, tenant=DEFAULT_TENANT, system=SYSTEM):
    """The exact ``/v1/check`` request body ops-warden sends."""
    return {
        'subject': {'id': subject or actor, 'type': actor_type},
        'tenant': tenant,
        'action': ACTION,
        'resource': {'id': resource_id(actor), 'type': RESOURCE_TYPE, 'system': system},
        'context': {
            'principals': list(principals),
            'actor_type': actor_type,
            'pubkey_fingerprint': pubkey_fingerprint,
            'ttl_hours': ttl_hours,
        },
    }


def build_credential_request(policy_ref, need_id, lane, owner_repo, subject, subject_type='user',
                             tenant=DEFAULT_TENANT, system=SYSTEM):
    """The ``/v1/check`` body for reading a credential lane as the caller (action ``read``)."""
    return {
        'subject': {'id': subject, 'type': subject_type},
        'tenant': tenant,
        'action': CREDENTIAL_ACTION,
        'resource': {'id': policy_ref, 'type': CREDENTIAL_RESOURCE_TYPE, 'system': system},
        'context': {'need_id': need_id, 'lane': lane, 'owner_repo': owner_repo},
    }


def is_credential_request(request):
    """True for a credential-lane read (decided by the credential-read rules)."""
    return isinstance(request.get('resource'), dict) and request['resource'].get('type') == CREDENTIAL_RESOURCE_TYPE


def request_shape_problem(request):
    """Why a body cannot be evaluated at all (the PDP answers 400), or None."""
    if not isinstance(request, dict):
        return 'the request must be a JSON object'
    for key in ('subject', 'resource'):
        if not isinstance(request.get(key), dict):
            return '%s must be an object' % key
    if not isinstance(request['subject'].get('id'), str):
        return 'subject.id must be a string'
    if not isinstance(request['resource'].get('id'), str):
        return 'resource.id must be a string'
    if not isinstance(request.get('action'), str):
        return 'action must be a string'
    if 'context' in request and not isinstance(request['context'], dict):
        return 'context must be an object'
    if 'tenant' in request and not isinstance(request['tenant'], str):
        return 'tenant must be a string'
    return None


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _deny_reason(request, index):
    """Apply the ops-warden signing rules; return the first failing reason or None."""
    subject = request['subject']
    resource = request['resource']
    context = request.get('context') or {}
    tenant = request.get('tenant', DEFAULT_TENANT)

    if request['action'] != ACTION:
        return 'action_not_allowed'
    if resource.get('system') != SYSTEM:
        return 'system_mismatch'
    if resource.get('type') != RESOURCE_TYPE:
        return 'resource_type_mismatch'
    if tenant not in index.tenants:
        return 'tenant_mismatch'
    res = index.resources.get(resource['id'])
    if res is None:
        return 'unknown_actor_resource'
    if res['tenant'] != tenant:
        return 'tenant_mismatch'
    if subject['id'] not in res['allowed_subjects']:
        return 'subject_not_allowed'
    if subject.get('type') != res['actor_type'] or context.get('actor_type') != res['actor_type']:
        return 'actor_type_mismatch'
    ttl = context.get('ttl_hours')
    if not _is_number(ttl) or not 0 < ttl <= res['max_ttl_hours']:
        return 'ttl_out_of_bounds'
    principals = context.get('principals')
    if not isinstance(principals, list) or not principals:
        return 'principals_empty'
    if not all(isinstance(p, str) and p in res['principals'] for p in principals):
        return 'principals_not_allowed'
    fingerprint = context.get('pubkey_fingerprint')
    if not isinstance(fingerprint, str) or not fingerprint.strip():
        return 'pubkey_fingerprint_missing'
    return None


def _credential_deny_reason(request, index):
    """The credential-read rules (resource.type credential-lane); first failing reason or None."""
    subject = request['subject']
    resource = request['resource']
    context = request.get('context') or {}
    tenant = request.get('tenant', DEFAULT_TENANT)

    if request['action'] != CREDENTIAL_ACTION:
        return 'action_not_allowed'
    if resource.get('system') != SYSTEM:
        return 'system_mismatch'
    if tenant not in index.tenants:
        return 'tenant_mismatch'
    lane = getattr(index, 'lanes', {}).get(resource['id'])
    if lane is None:
        return 'unknown_credential_lane'
    if lane['tenant'] != tenant:
        return 'tenant_mismatch'
    for key in ('need_id', 'lane', 'owner_repo'):
        if context.get(key) != lane[key]:
            return 'credential_context_mismatch'
    if subject['id'] not in lane['allowed_subjects']:
        return 'subject_not_allowed'
    return None


def evaluate(request, index, mode='embedded'):
    """Decide one request against a RegistryIndex; return a decision envelope.

    Requests for a ``credential-lane`` resource are decided by the credential-read rules,
    every other request by the signing rules. Raises ValidationError when the body is not a
    request at all.
    """
    problem = request_shape_problem(request)
    if problem:
        raise ValidationError([('request', problem)], what='policy request')
    if is_credential_request(request):
        reason = _credential_deny_reason(request, index)
        allow_reason, prefix, version = CREDENTIAL_ALLOW_REASON, CREDENTIAL_RULE_PREFIX, CREDENTIAL_POLICY_VERSION
    else:
        reason = _deny_reason(request, index)
        allow_reason, prefix, version = ALLOW_REASON, SIGN_RULE_PREFIX, POLICY_VERSION
    envelope = {
        'id': new_decision_id(),
        'effect': 'deny' if reason else 'allow',
        'reason': reason or allow_reason,
        'matched_rule': prefix + ('deny.' + reason if reason else 'allow'),
        'provenance': {
            'evaluator': EVALUATOR,
            'mode': mode,
            'policy_version': version,
            'decision_time': utc_now_text(),
            'registry_digest': index.digest,
        },
    }
    if isinstance(request.get('request_id'), str):
        envelope['request_id'] = request['request_id']
    return envelope


class Decision(object):
    """What every caller of the gate gets back, whatever the mode."""

    def __init__(self, allowed, reason, decision_id=None, envelope=None, mode='embedded',
                 detail=None, warnings=None):
        self.allowed = allowed
        self.reason = reason
        self.decision_id = decision_id
        self.envelope = envelope
        self.mode = mode
        self.detail = detail
        self.warnings = list(warnings or [])

    @property
    def effect(self):
        return 'allow' if self.allowed else 'deny'

    def as_dict(self):
        return {
            'allowed': self.allowed,
            'effect': self.effect,
            'reason': self.reason,
            'decision_id': self.decision_id,
            'mode': self.mode,
            'detail': self.detail,
            'decision': self.envelope,
        }

    def message(self, actor):
        if self.allowed:
            return 'policy allowed signing for %s (%s)' % (actor, self.decision_id or self.reason)
        text = 'policy denied signing for %s: %s' % (actor, self.reason)
        if self.detail:
            text += ' (%s)' % self.detail
        if self.decision_id:
            text += ' [%s]' % self.decision_id
        return text


def envelope_to_decision(envelope, mode):
    """Normalise a decision envelope. Raises ValueError when it is unusable (not an object, an
    effect other than allow/deny, an allow without an id): the gate makes that a deny with
    reason ``policy_answer_invalid``, which ``fail_closed: false`` never opens."""
    if not isinstance(envelope, dict):
        raise ValueError('the decision is not a JSON object')
    effect = envelope.get('effect')
    if effect not in ('allow', 'deny'):
        raise ValueError('the decision has no effect allow/deny (got %r)' % (effect,))
    decision_id = envelope.get('id') or envelope.get('request_id')
    if decision_id is not None and not isinstance(decision_id, str):
        raise ValueError('the decision id is not a string')
    reason = envelope.get('reason')
    if not isinstance(reason, str) or not reason:
        reason = ALLOW_REASON if effect == 'allow' else 'denied (no reason given)'
    if effect == 'allow':
        if not decision_id:
            raise ValueError('an allow without a decision id or request_id cannot be recorded')
        return Decision(True, reason, decision_id, envelope, mode)
    return Decision(False, reason, decision_id or None, envelope, mode)
