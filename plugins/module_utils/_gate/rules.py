# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The policy gate: request builder, embedded evaluator, decision envelopes.

The request and envelope follow the flex-auth ``POST /v1/check`` contract used
by ops-warden. The embedded evaluator implements the published Rego package
(policy/flex-auth/ops_warden_ssh_signing.rego) rule for rule and in the same
order, so ``embedded`` and ``flex_auth`` modes give the same effect, reason and
failing rule for the same request and registry (tests/integration/gate/test_rego_parity.py
checks it against that Rego on a real Rego engine). Requests for a
``credential-lane`` resource (action ``read``, a credential fetch as the caller) are
decided by the credential-read rules (``_credential_checks``) instead.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import hashlib
import math

from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError
from ansible_collections.netkingdom.warden.plugins.module_utils._registry.snapshot import (
    ACTION,
    CREDENTIAL_ACTION,
    CREDENTIAL_POLICY_ID,
    CREDENTIAL_RESOURCE_TYPE,
    DEFAULT_TENANT,
    POLICY_ID,
    RESOURCE_TYPE,
    IAM_PREFIX,
    SYSTEM,
    canonical_json,
    resource_id,
)
from ansible_collections.netkingdom.warden.plugins.module_utils._inventory.actors import ACTOR_TYPES

POLICY_VERSION = 'ops-warden-sign/1'
EVALUATOR = 'netkingdom.warden.embedded'

ALLOW_REASON = 'signing_policy_matched'
UNAVAILABLE = 'policy_unavailable'      # the PDP could not be asked (fail_closed: false may allow)
INVALID_ANSWER = 'policy_answer_invalid'  # the PDP refused or answered nonsense: always a deny
GATE_OFF = 'policy_gate_off'

# The flex-auth ops-warden signing package (policy/flex-auth/ops_warden_ssh_signing.rego): its
# rules in the order they are evaluated, each with the reason a deny carries. The first rule
# that does not hold decides; its name is the envelope's ``rule``. principals_allowed has two
# reasons (an empty list, or a principal the actor does not have).
SIGN_RULES = (
    ('valid_action', 'action_not_allowed'),
    ('valid_system', 'system_mismatch'),
    ('valid_resource_type', 'resource_type_mismatch'),
    ('valid_tenant', 'tenant_mismatch'),
    ('actor_resource_exists', 'unknown_actor_resource'),
    ('valid_actor_type', 'actor_type_mismatch'),
    ('subject_type_matches_context', 'actor_type_mismatch'),
    ('actor_type_matches_resource', 'actor_type_mismatch'),
    ('resource_id_matches_actor', 'subject_not_allowed'),
    ('subject_id_allowed', 'subject_not_allowed'),
    ('valid_ttl', 'ttl_out_of_bounds'),
    ('has_pubkey_fingerprint', 'pubkey_fingerprint_missing'),
    ('principals_allowed', 'principals_empty'),
    ('principals_allowed', 'principals_not_allowed'),
)
DENY_REASONS = tuple(sorted(set(reason for dummy, reason in SIGN_RULES)))
FINGERPRINT_BLANKS = ' \t\r\n'  # what a fingerprint may not consist of (the Rego trims the same)


# The credential-read package (policy/flex-auth/ops_warden_credential_read.rego): requests whose
# resource.type is ``credential-lane`` (a fetch as the caller from a routing catalog lane, see
# _routing/credentials.py).
CREDENTIAL_POLICY_VERSION = 'ops-warden-credential-read/1'
CREDENTIAL_ALLOW_REASON = 'credential_read_allowed'
CREDENTIAL_RULES = (
    ('valid_action', 'action_not_allowed'),
    ('valid_system', 'system_mismatch'),
    ('valid_tenant', 'tenant_mismatch'),
    ('lane_exists', 'unknown_credential_lane'),
    ('context_matches_lane', 'credential_context_mismatch'),
    ('subject_allowed', 'subject_not_allowed'),
)
CREDENTIAL_DENY_REASONS = tuple(sorted(set(reason for dummy, reason in CREDENTIAL_RULES)))
SIGN_RULE_PREFIX = 'ops_warden.sign.'
CREDENTIAL_RULE_PREFIX = 'ops_warden.credential_read.'


def decision_id(request, registry_digest, policy_version=POLICY_VERSION):
    """The embedded gate's decision id: derived from the canonical request, the registry digest and
    the policy version, so the same request against the same registry always gets the same id.

    It names a decision (this request, this registry, this policy), not a signing: two signings of
    the same request share it; the certificate serial tells them apart.
    """
    text = canonical_json({'policy': policy_version, 'registry': registry_digest, 'request': request})
    return 'decision:' + hashlib.sha256(text.encode('utf-8', 'surrogatepass')).hexdigest()[:16]


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


def requested_ttl_hours(value, field='ttl_hours'):
    """A requested TTL as a number, for the gate to judge: any finite number passes (0, negative and
    above the type maximum too: the gate denies them ``ttl_out_of_bounds``, with a decision)."""
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ValidationError([(field, 'must be a number of hours, got %r' % value)], what='options')
    if not _is_number(value):
        raise ValidationError([(field, 'must be a number of hours, got %s' % type(value).__name__)], what='options')
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an int too large for a float
        finite = False
    if not finite:
        raise ValidationError([(field, 'must be a finite number of hours')], what='options')
    return int(value) if float(value).is_integer() and abs(value) < 2 ** 53 else value


def ttl_within_bounds(ttl, actor_type):
    """The one TTL rule (gate, signer, registry): 0 < ttl <= the actor type's maximum."""
    return _is_number(ttl) and actor_type in ACTOR_TYPES and 0 < ttl <= ACTOR_TYPES[actor_type]


def _sign_checks(request, index):
    """Each signing rule as (rule, reason, holds), lazily and in order (see SIGN_RULES)."""
    subject = request['subject']
    resource = request['resource']
    context = request.get('context') or {}
    tenant = request.get('tenant', DEFAULT_TENANT)
    res = index.resources.get(resource['id'])
    yield 'valid_action', request['action'] == ACTION
    yield 'valid_system', resource.get('system') == SYSTEM
    yield 'valid_resource_type', resource.get('type') == RESOURCE_TYPE
    yield 'valid_tenant', tenant in index.tenants and (res is None or res['tenant'] == tenant)
    yield 'actor_resource_exists', res is not None
    actor, actor_type = res['actor'], res['actor_type']
    yield 'valid_actor_type', _known(subject.get('type'), ACTOR_TYPES)
    yield 'subject_type_matches_context', subject.get('type') == context.get('actor_type')
    yield 'actor_type_matches_resource', context.get('actor_type') == actor_type
    named = index.actor_subjects.get(subject['id'])
    yield 'resource_id_matches_actor', (subject['id'] in res['allowed_subjects'] or named is None
                                        or resource['id'] == resource_id(named))
    yield 'subject_id_allowed', subject['id'] in (actor, IAM_PREFIX + actor) or subject['id'] in res['allowed_subjects']
    ttl = context.get('ttl_hours')
    yield 'valid_ttl', _is_number(ttl) and 0 < ttl <= res['max_ttl_hours']
    fingerprint = context.get('pubkey_fingerprint')
    yield 'has_pubkey_fingerprint', isinstance(fingerprint, str) and fingerprint.strip(FINGERPRINT_BLANKS) != ''
    principals = context.get('principals')
    yield 'principals_allowed:principals_empty', isinstance(principals, list) and len(principals) > 0
    yield 'principals_allowed:principals_not_allowed', all(_known(p, res['principals']) for p in principals)


def _known(value, table):
    return isinstance(value, str) and value in table


def _credential_checks(request, index):
    """Each credential-read rule as (rule, holds), lazily and in order (see CREDENTIAL_RULES)."""
    subject = request['subject']
    resource = request['resource']
    context = request.get('context') or {}
    tenant = request.get('tenant', DEFAULT_TENANT)
    lane = index.lanes.get(resource['id'])
    yield 'valid_action', request['action'] == CREDENTIAL_ACTION
    yield 'valid_system', resource.get('system') == SYSTEM
    yield 'valid_tenant', tenant in index.tenants and (lane is None or lane['tenant'] == tenant)
    yield 'lane_exists', lane is not None
    yield 'context_matches_lane', all(context.get(key) == lane[key] for key in ('need_id', 'lane', 'owner_repo'))
    yield 'subject_allowed', subject['id'] in lane['allowed_subjects']


def first_denial(checks, rules):
    """``(rule, reason)`` of the first check that does not hold, or None (an allow)."""
    reasons = dict(rules)
    for name, holds in checks:
        if not holds:
            rule, dummy, reason = name.partition(':')
            return rule, reason or reasons[rule]
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
        denial = first_denial(_credential_checks(request, index), CREDENTIAL_RULES)
        allow_reason, prefix, version = CREDENTIAL_ALLOW_REASON, CREDENTIAL_RULE_PREFIX, CREDENTIAL_POLICY_VERSION
        policy_id = CREDENTIAL_POLICY_ID
    else:
        denial = first_denial(_sign_checks(request, index), SIGN_RULES)
        allow_reason, prefix, version, policy_id = ALLOW_REASON, SIGN_RULE_PREFIX, POLICY_VERSION, POLICY_ID
    rule, reason = denial or (None, None)
    envelope = {
        'id': decision_id(request, index.digest, version),
        'effect': 'deny' if reason else 'allow',
        'reason': reason or allow_reason,
        'matched_rule': prefix + ('deny.' + reason if reason else 'allow'),
        'provenance': {
            'evaluator': EVALUATOR,
            'mode': mode,
            'policy_id': policy_id,
            'policy_version': version,
            'decision_time': utc_now_text(),
            'registry_digest': index.digest,
        },
    }
    if rule:
        envelope['rule'] = rule
    if isinstance(request.get('request_id'), str):
        envelope['request_id'] = request['request_id']
    return envelope


class Decision(object):
    """What every caller of the gate gets back, whatever the mode."""

    def __init__(self, allowed, reason, decision_id=None, envelope=None, mode='embedded',
                 detail=None, warnings=None, rule=None):
        self.allowed = allowed
        self.reason = reason
        self.rule = rule
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
            'rule': self.rule,
            'decision_id': self.decision_id,
            'mode': self.mode,
            'detail': self.detail,
            'decision': self.envelope,
        }

    def message(self, actor):
        if self.allowed:
            return 'policy allowed signing for %s (%s)' % (actor, self.decision_id or self.reason)
        text = 'policy denied signing for %s: %s' % (actor, self.reason)
        if self.rule:
            text += ' (rule %s)' % self.rule
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
    rule = envelope.get('rule') if isinstance(envelope.get('rule'), str) else None
    return Decision(False, reason, decision_id or None, envelope, mode, rule=rule)
