# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of a registry deploy: is flex-auth healthy, serving the new snapshot, deciding right?

``verify_instance`` waits for ``GET /healthz`` 200, checks that the instance serves the
expected registry digest (when it reports one: ``registry_digest`` in ``/healthz``, else
``digest`` of ``GET /v1/registry``), then smoke-checks ``POST /v1/check`` with one request
the new snapshot must allow and one it must deny with ``ttl_out_of_bounds``. All HTTP goes
through FlexAuthClient on the controller, so a PDP bearer token never reaches a host.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import time

from ansible_collections.netkingdom.warden.plugins.module_utils.errors import PolicyUnavailable, ValidationError
from ansible_collections.netkingdom.warden.plugins.module_utils._gate.flex_auth import FlexAuthClient
from ansible_collections.netkingdom.warden.plugins.module_utils._gate.settings import policy_argument_spec
from ansible_collections.netkingdom.warden.plugins.module_utils._gate.rules import build_request, envelope_to_decision
from ansible_collections.netkingdom.warden.plugins.module_utils._registry.snapshot import (
    DEFAULT_TENANT,
    SYSTEM,
    actor_resources,
    resource_id,
)
from ansible_collections.netkingdom.warden.plugins.module_utils._registry.summary import summarize
from ansible_collections.netkingdom.warden.plugins.module_utils._settings.url_check import url_problem

# A fingerprint that is plainly not of any real key: the smoke check signs nothing.
SMOKE_FINGERPRINT = 'SHA256:' + base64.b64encode(
    hashlib.sha256(b'netkingdom.warden registry smoke check').digest()).decode('ascii').rstrip('=')
DENY_REASON = 'ttl_out_of_bounds'
HEALTH_KEYS = ('status', 'registry_digest', 'digest', 'actors', 'generation', 'reload_errors',
               'last_reload_error', 'loaded_at', 'version')
POLL_INTERVAL = 0.25


def check(name, ok, message, fix=None, **extra):
    """One check result ``{name, ok, message}``, with ``fix`` when given or failed, and ``extra``."""
    item = {'name': name, 'ok': bool(ok), 'message': message}
    if fix is not None or not ok:
        item['fix'] = fix
    item.update(extra)
    return item


def served_digest(body):
    """The registry digest a ``/healthz`` or ``/v1/registry`` body reports, or None."""
    if not isinstance(body, dict):
        return None
    for key in ('registry_digest', 'digest'):
        if isinstance(body.get(key), str) and body[key]:
            return body[key]
    registry = body.get('registry')
    if isinstance(registry, dict) and isinstance(registry.get('digest'), str):
        return registry['digest']
    return None


def health_summary(body):
    """The scalar fields of a ``/healthz`` body worth reporting (``HEALTH_KEYS``)."""
    if not isinstance(body, dict):
        return {}
    return dict((k, body[k]) for k in HEALTH_KEYS if k in body and not isinstance(body[k], (dict, list)))


def make_client(url, settings, retries=0):
    """A FlexAuthClient for ``url`` with the TLS and token options of GateSettings ``settings``."""
    problem = url_problem(url, settings.allow_insecure_http, 'policy.allow_insecure_http')
    if problem:
        raise ValidationError([('url', problem)], what='options')
    return FlexAuthClient(url, token=settings.token, ca_cert=settings.ca_cert,
                          validate_certs=settings.validate_certs, client_cert=settings.client_cert,
                          client_key=settings.client_key, timeout=settings.timeout, retries=retries)


class DigestProbe(object):
    """Reads the served digest: from /healthz, else once from /v1/registry (remembering when that is absent)."""

    def __init__(self, client):
        self.client = client
        self.registry_endpoint = None  # None: not tried; False: not available

    def from_body(self, body):
        """The digest in a ``/healthz`` body, else (once) from ``/v1/registry``; None when neither tells."""
        digest = served_digest(body)
        if digest is not None or self.registry_endpoint is False:
            return digest
        try:
            digest = served_digest(self.client.registry())
        except PolicyUnavailable:
            digest = None
        self.registry_endpoint = digest is not None
        return digest


def wait_for_health(client, wait, expect_digest=None, sleep=time.sleep, clock=time.monotonic):
    """Poll ``/healthz`` until it answers 200 (and serves ``expect_digest``, when the instance
    reports its digest) or ``wait`` seconds have passed. Returns a dict with ``ok``,
    ``message``, ``served_digest``, ``health`` and ``waited``."""
    start = clock()
    deadline = start + max(0.0, float(wait))
    probe = DigestProbe(client)
    body, served, last = None, None, 'no answer yet'
    answered = False
    while True:
        try:
            body = client.healthz()
            answered = True
            served = probe.from_body(body)
            if not expect_digest or served is None or served == expect_digest:
                return {'ok': True, 'served_digest': served, 'health': health_summary(body),
                        'waited': round(clock() - start, 2),
                        'message': 'flex-auth at %s answers GET /healthz 200%s' % (
                            client.display, ' serving %s' % served if served else
                            ' (it does not report its registry digest)')}
            last = 'it serves registry %s, not %s' % (served, expect_digest)
        except PolicyUnavailable as exc:
            last = str(exc)
        if clock() >= deadline:
            break
        sleep(POLL_INTERVAL)
    waited = round(clock() - start, 2)
    if answered and served is not None and expect_digest and served != expect_digest:
        message = ('flex-auth at %s still serves registry %s, not the deployed %s, after %ss: the reload did not '
                   'take the new file' % (client.display, served, expect_digest, waited))
        reload_error = (body or {}).get('last_reload_error') if isinstance(body, dict) else None
        if reload_error:
            message += ' (its last reload error: %s)' % str(reload_error)[:300]
    else:
        message = 'flex-auth at %s did not answer GET /healthz with 200 within %ss: %s' % (
            client.display, waited, last)
    return {'ok': False, 'served_digest': served, 'health': health_summary(body), 'waited': waited,
            'message': message}


def smoke_actor(snapshot, actor=None):
    """``(name, record)`` of the actor to smoke-check: ``actor``, else the first actor by name."""
    actors = summarize(snapshot)
    if not actors:
        raise ValidationError([('snapshot', 'has no actor to smoke-check; nothing would be allowed')],
                              what='smoke check')
    name = actor or sorted(actors)[0]
    if name not in actors:
        raise ValidationError([('smoke_actor', '%s is not an actor of the new snapshot (it has %s)'
                                % (name, ', '.join(sorted(actors))))], what='smoke check')
    record = dict(actors[name])
    record['tenant'] = DEFAULT_TENANT
    for res in actor_resources(snapshot):
        if res.get('id') == resource_id(name) and isinstance(res.get('metadata'), dict):
            record['tenant'] = res['metadata'].get('tenant') or DEFAULT_TENANT
    return name, record


def smoke_requests(snapshot, actor=None, subject=None, system=SYSTEM):
    """The two ``/v1/check`` requests: ``(actor, allow_request, deny_request)``.

    The allow asks for the actor's principals at its inventory TTL; the deny asks for one hour
    above its TTL cap, which the policy must refuse with ``ttl_out_of_bounds``.
    """
    name, record = smoke_actor(snapshot, actor)
    cap = record['max_ttl_hours']
    ttl = record.get('default_ttl_hours') or cap
    common = dict(subject=subject or name, tenant=record['tenant'], system=system)
    allow = build_request(name, record['type'], record['principals'], ttl, SMOKE_FINGERPRINT, **common)
    deny = build_request(name, record['type'], record['principals'], cap + 1, SMOKE_FINGERPRINT, **common)
    return name, allow, deny


def _decide(client, request):
    try:
        return envelope_to_decision(client.check(request), 'flex_auth'), None
    except PolicyUnavailable as exc:
        return None, str(exc)
    except ValueError as exc:
        return None, 'unusable decision: %s' % exc


def smoke_check(client, snapshot, actor=None, subject=None):
    """Run the allow and the deny; return ``(checks, decisions)``."""
    name, allow, deny = smoke_requests(snapshot, actor, subject)
    checks, decisions = [], {}
    subject_id = allow['subject']['id']
    decision, problem = _decide(client, allow)
    if decision is None:
        checks.append(check('smoke_allow', False, 'smoke check: no usable answer from flex-auth at %s for %s: %s'
                            % (client.display, name, problem)))
    else:
        decisions['allow'] = decision.as_dict()
        if decision.allowed:
            checks.append(check('smoke_allow', True, 'flex-auth allows %s (subject %s, principals %s, %sh): %s'
                                % (name, subject_id, ', '.join(allow['context']['principals']),
                                   allow['context']['ttl_hours'], decision.decision_id)))
        else:
            checks.append(check('smoke_allow', False, 'smoke check: flex-auth at %s denied %s (subject %s) with %s; '
                                'the new snapshot must allow it' % (client.display, name, subject_id, decision.reason)))
    decision, problem = _decide(client, deny)
    ttl = deny['context']['ttl_hours']
    if decision is None:
        checks.append(check('smoke_deny', False, 'smoke check: no usable answer from flex-auth at %s for %s at %sh: %s'
                            % (client.display, name, ttl, problem)))
    else:
        decisions['deny'] = decision.as_dict()
        if not decision.allowed and decision.reason == DENY_REASON:
            checks.append(check('smoke_deny', True, 'flex-auth denies %s at %sh (%s)' % (name, ttl, DENY_REASON)))
        else:
            checks.append(check('smoke_deny', False, 'smoke check: flex-auth at %s answered %s (%s) for %s at %sh, '
                                'above its cap; expected deny %s'
                                % (client.display, decision.effect, decision.reason, name, ttl, DENY_REASON)))
    return name, checks, decisions


def verify_instance(client, wait=30.0, expect_digest=None, snapshot=None, smoke=True, actor=None, subject=None,
                    sleep=time.sleep, clock=time.monotonic):
    """Health, served digest and smoke check of one flex-auth instance; the task result."""
    health = wait_for_health(client, wait, expect_digest, sleep=sleep, clock=clock)
    checks = [check('healthz', health['ok'], health['message'])]
    result = {'served_digest': health['served_digest'], 'health': health['health'], 'waited': health['waited'],
              'decisions': {}, 'smoke_actor': None}
    if health['ok'] and expect_digest:
        if health['served_digest'] is None:
            checks.append(check('served_digest', True, 'flex-auth does not report the registry it serves; '
                                'the smoke check stands for it'))
        else:
            checks.append(check('served_digest', True, 'serves the expected registry %s' % expect_digest))
    if health['ok'] and smoke:
        if snapshot is None:
            raise ValidationError([('snapshot', 'is required for the smoke check')], what='options')
        name, smoke_checks, decisions = smoke_check(client, snapshot, actor, subject)
        checks.extend(smoke_checks)
        result.update(decisions=decisions, smoke_actor=name)
    failed = [c for c in checks if not c['ok']]
    result['checks'] = checks
    result['ok'] = not failed
    result['msg'] = '; '.join(c['message'] for c in failed) if failed else '; '.join(c['message'] for c in checks)
    return result


VERIFY_SPEC = {  # registry_verify
    'url': {'type': 'str', 'required': True},
    'policy': policy_argument_spec(),
    'wait': {'type': 'float', 'default': 30.0},
    'expect_digest': {'type': 'str'},
    'smoke': {'type': 'bool', 'default': True},
    'snapshot': {'type': 'path'},
    'smoke_actor': {'type': 'str'},
    'smoke_subject': {'type': 'str'},
}


DEPLOY_OUTCOMES = ['deployed', 'unchanged', 'rolled_back', 'failed']
REGISTRY_AUDIT_SPEC = {  # registry_audit: one deploy's record
    'outcome': {'type': 'str', 'required': True, 'choices': DEPLOY_OUTCOMES},
    'old_digest': {'type': 'str'},
    'new_digest': {'type': 'str'},
    'reason': {'type': 'str'},
    'host': {'type': 'str'},
    'audit_log': {'type': 'path'},
}
MAX_REASON = 2000
