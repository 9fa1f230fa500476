# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The gate (off / embedded / flex_auth) and the policy check: the one path every plugin uses to
ask "may this actor get this certificate?" (the policy_check action, the policy_decision lookup,
the credential lookups, and the signing service before every user certificate).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.netkingdom.warden.plugins.module_utils._inventory.actors import (
    ACTOR_NAME_RE,
    ACTOR_TYPES,
    actor_type_of,
    resolve_actors,
)
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import (
    PolicyAnswerInvalid,
    PolicyUnavailable,
    ValidationError,
)
from ansible_collections.netkingdom.warden.plugins.module_utils._gate.flex_auth import FlexAuthClient
from ansible_collections.netkingdom.warden.plugins.module_utils._gate.rules import (
    GATE_OFF,
    INVALID_ANSWER,
    UNAVAILABLE,
    Decision,
    build_request,
    envelope_to_decision,
    evaluate,
    requested_ttl_hours,
)
from ansible_collections.netkingdom.warden.plugins.module_utils._gate.settings import (
    SUBJECT_ENV,
    UNGATED_ENV,
    GateSettings,
    policy_argument_spec,
)
from ansible_collections.netkingdom.warden.plugins.module_utils._registry.snapshot import (
    RegistryIndex,
)
from ansible_collections.netkingdom.warden.plugins.module_utils._registry.build import build_snapshot
from ansible_collections.netkingdom.warden.plugins.module_utils._registry.validate import load_snapshot_file
from ansible_collections.netkingdom.warden.plugins.module_utils._openssh.keys import fingerprint

ACTOR_SOURCE_SPEC = {
    'actors': {'type': 'dict'},
    'inventory_file': {'type': 'path'},
}

POLICY_CHECK_SPEC = dict(ACTOR_SOURCE_SPEC, **{
    'actor': {'type': 'str', 'required': True},
    'public_key': {'type': 'str'},
    'pubkey_fingerprint': {'type': 'str'},
    'principals': {'type': 'list', 'elements': 'str'},
    'ttl_hours': {'type': 'float'},
    'subject': {'type': 'str'},
    'fail_on_deny': {'type': 'bool', 'default': True},
    'policy': policy_argument_spec(),
})
POLICY_CHECK_EXCLUSIVE = [['public_key', 'pubkey_fingerprint'], ['actors', 'inventory_file']]


_CLIENTS = {}
_INDEXES = {}


def flex_auth_client(settings):
    """A FlexAuthClient shared by every check in this process with the same settings."""
    key = settings.client_key_id()
    client = _CLIENTS.get(key)
    if client is None:
        client = FlexAuthClient(settings.url, token=settings.token, ca_cert=settings.ca_cert,
                                validate_certs=settings.validate_certs, client_cert=settings.client_cert,
                                client_key=settings.client_key, timeout=settings.timeout,
                                retries=settings.retries)
        _CLIENTS[key] = client
    return client


def registry_index(settings, actors, lanes=None):
    """The embedded registry: policy.registry when given, else built from the actors (and the
    credential lanes, for credential reads; see registry.build_snapshot)."""
    if settings.registry:
        try:
            stat = os.stat(settings.registry)
        except OSError as exc:
            raise ValidationError([('policy.registry', 'cannot read %s: %s' % (settings.registry, exc.strerror))],
                                  what='policy settings')
        key = ('file', settings.registry, stat.st_mtime_ns, stat.st_size)
        if key not in _INDEXES:
            warnings = []  # an old v1 file loads, converted, with a warning on every decision
            _INDEXES[key] = RegistryIndex(load_snapshot_file(settings.registry, warnings=warnings), warnings)
        return _INDEXES[key]
    if not actors and not lanes:
        raise ValidationError([('policy.registry', 'embedded mode needs a registry snapshot (policy.registry) '
                                'or the actor inventory (actors / inventory_file)')], what='policy settings')
    snapshot = build_snapshot(actors or {}, tenant=settings.tenant, credential_lanes=lanes)
    key = ('actors', snapshot['digest'])
    if key not in _INDEXES:
        _INDEXES[key] = RegistryIndex(snapshot)
    return _INDEXES[key]


class Gate(object):
    """Decides requests in the configured mode and applies fail_closed.

    Settings that sign without a decision (mode off, fail_closed false) are refused here unless
    the controller allows them (``WARDEN_ALLOW_UNGATED``).
    """

    def __init__(self, settings, actors=None, lanes=None):
        problems = settings.ungated_problems()
        if problems:
            raise ValidationError(problems, what='policy settings')
        self.settings = settings
        self.mode = settings.mode
        self._index = registry_index(settings, actors, lanes) if self.mode == 'embedded' else None
        self._client = flex_auth_client(settings) if self.mode == 'flex_auth' else None

    def _unavailable(self, exc):
        """The PDP failed: only a PDP that could not be asked may be failed open, never one that
        answered with a refusal (4xx) or something unreadable."""
        detail = str(exc)
        if isinstance(exc, PolicyAnswerInvalid):
            return Decision(False, INVALID_ANSWER, None, None, self.mode, detail=detail)
        if self.settings.fail_closed:
            return Decision(False, UNAVAILABLE, None, None, self.mode, detail=detail)
        return Decision(True, UNAVAILABLE, None, None, self.mode, detail=detail, warnings=[
            'policy decision point unavailable (%s); allowing because policy.fail_closed is false and %s is set '
            'on the controller, recorded with policy_decision_id null' % (detail, UNGATED_ENV)])

    def _remote(self, envelope):
        try:
            return envelope_to_decision(envelope, self.mode)
        except ValueError as exc:
            return self._unavailable(PolicyAnswerInvalid('unusable decision: %s' % exc))

    def check(self, request):
        if self.mode == 'off':
            return Decision(True, GATE_OFF, None, None, 'off',
                            warnings=['policy gate is off (%s is set on the controller): signing is not '
                                      'policy-checked' % UNGATED_ENV])
        if self.mode == 'embedded':
            decision = envelope_to_decision(evaluate(request, self._index), 'embedded')
            decision.warnings.extend(self._index.warnings)
            return decision
        try:
            envelope = self._client.check(request)
        except PolicyUnavailable as exc:
            return self._unavailable(exc)
        return self._remote(envelope)

    def check_many(self, requests):
        """Several requests at once: one ``/v1/batch-check`` round trip when remote."""
        if self.mode != 'flex_auth' or len(requests) < 2:
            return [self.check(r) for r in requests]
        try:
            envelopes = self._client.batch_check(requests)
        except PolicyUnavailable as exc:
            return [self._unavailable(exc) for dummy in requests]
        return [self._remote(e) for e in envelopes]


def subject_for(actor, record=None, subject=None, env=None, fleet=False, subject_env=None):
    """The subject id a check for ``actor`` sends.

    An explicit ``subject`` wins. A one-actor check (a lookup, policy_check, one ssh_cert task) then
    takes the caller's IAM subject from ``WARDEN_POLICY_SUBJECT`` (or the variable
    ``policy.subject_env`` names). A fleet run (``fleet=True``:
    host_principals / sshd_trust signing many actors) never does: each actor gets its own, the
    inventory's ``subject`` of that actor. Last, the actor name.
    """
    if subject:
        return subject
    env = os.environ if env is None else env
    subject_env = subject_env or SUBJECT_ENV
    if not fleet and env.get(subject_env):
        return env[subject_env]
    return (record or {}).get('subject') or actor


def policy_request(actor, actors=None, principals=None, ttl_hours=None, public_key=None,
                   pubkey_fingerprint=None, subject=None, settings=None, env=None):
    """Build the gate request for an actor, filling defaults from the inventory.

    An actor missing from the local inventory still gets a request (empty
    principals), so the gate itself answers ``unknown_actor_resource``.
    """
    env = os.environ if env is None else env
    if not isinstance(actor, str) or not ACTOR_NAME_RE.match(actor):
        raise ValidationError([('actor', 'must be an actor name <type>-<name> with type adm, agt or atm '
                                '(got %r)' % (actor,))], what='options')
    record = (actors or {}).get(actor)
    actor_type = record['type'] if record else actor_type_of(actor)
    if principals is None:
        principals = list(record['principals']) if record else []
    elif isinstance(principals, str) or not isinstance(principals, (list, tuple)):
        raise ValidationError([('principals', 'must be a list')], what='options')
    if ttl_hours is None:
        ttl_hours = record['ttl_hours'] if record else ACTOR_TYPES[actor_type]
    # Any finite number goes to the gate: 0, negative or above the type maximum is its
    # ttl_out_of_bounds deny (with a decision id and an audit line), not an options error.
    ttl_hours = requested_ttl_hours(ttl_hours)
    if pubkey_fingerprint is None and public_key:
        pubkey_fingerprint = fingerprint(public_key)
    settings = settings or GateSettings(env=env)
    subject = subject_for(actor, record, subject, env, subject_env=settings.subject_env)
    return build_request(actor, actor_type, principals, ttl_hours, pubkey_fingerprint or '',
                         subject=subject, tenant=settings.tenant, system=settings.system)


def policy_check(params, env=None):
    """Run one policy check from plugin options; return the plugin result dict."""
    env = os.environ if env is None else env
    actors, warnings = resolve_actors(params.get('actors'), params.get('inventory_file'))
    settings = GateSettings(params.get('policy'), env=env)
    request = policy_request(
        params.get('actor'), actors=actors, principals=params.get('principals'),
        ttl_hours=params.get('ttl_hours'), public_key=params.get('public_key'),
        pubkey_fingerprint=params.get('pubkey_fingerprint'), subject=params.get('subject'),
        settings=settings, env=env)
    decision = Gate(settings, actors).check(request)
    result = decision.as_dict()
    result['request'] = request
    result['warnings'] = warnings + decision.warnings
    result['msg'] = decision.message(params.get('actor'))
    return result
