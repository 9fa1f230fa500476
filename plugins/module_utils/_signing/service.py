# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one signing path: validate -> gate -> sign -> audit -> (write, by the caller).

The audit line of a certificate is appended before the certificate is handed to the caller, so
no certificate leaves the controller (onto a host, or into a play) without its line: when the
line cannot be written the certificate is thrown away. A later failure to write it on the host is
a second record (outcome ``write_failed``). The signed certificate is checked against the request
(``response_problem``) before it is recorded.

Used by the ssh_cert, sshd_trust and login_probe actions and the ssh_cert lookup, each through
``build_service``. Nothing here talks to a target host.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.netkingdom.warden.plugins.module_utils._inventory.actors import ACTOR_TYPES, resolve_actors
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import SigningError, ValidationError, WardenError
from ansible_collections.netkingdom.warden.plugins.module_utils._gate.gate import Gate, policy_request, subject_for
from ansible_collections.netkingdom.warden.plugins.module_utils._gate.rules import ttl_within_bounds
from ansible_collections.netkingdom.warden.plugins.module_utils._gate.settings import GateSettings
from ansible_collections.netkingdom.warden.plugins.module_utils._openssh.certificate import (
    FOREVER,
    describe,
    format_time,
    parse_certificate,
    renewal_reason,
)
from ansible_collections.netkingdom.warden.plugins.module_utils._openssh.signature import signature_problem
from ansible_collections.netkingdom.warden.plugins.module_utils._signing.backends import BACKDATE_SECONDS, ca_fingerprints, make_backend
from ansible_collections.netkingdom.warden.plugins.module_utils._signing.request import key_id_for, plain_public_key

# How far the controller's clock may be from the signer's when a signed certificate is checked.
CLOCK_SKEW_SECONDS = 300
# What a signed certificate may carry beyond what was asked: the OpenSSH permit-* extensions on a user
# certificate (an OpenBao role's default_extensions, the local CA's defaults). No critical option is ever
# asked for, and a host certificate has no extension.
USER_EXTENSIONS = frozenset(['permit-X11-forwarding', 'permit-agent-forwarding', 'permit-port-forwarding',
                             'permit-pty', 'permit-user-rc'])


class PolicyDenied(WardenError):
    """The gate said no (or could not answer and fail_closed holds). Nothing was signed."""

    def __init__(self, decision, actor):
        self.decision = decision
        super(PolicyDenied, self).__init__(decision.message(actor))


def response_problem(request, parsed, cert, fingerprint, trusted_cas, ttl_seconds, started, finished):
    """Why a signed certificate does not match what was asked (text), or None.

    Beyond the key, the principals and the type: the CA that signed it (one of ``trusted_cas``, the
    fingerprints of the mount's or the local CA, and its signature verifies), the validity window (as long
    as the requested TTL plus at most the 30 s backdating, and placed around the time of the request
    within CLOCK_SKEW_SECONDS), and nothing granted that was not asked for (no critical option; on a
    user certificate only the OpenSSH permit-* extensions, on a host certificate none).
    """
    if parsed['key_fingerprint'] != fingerprint:
        return 'the backend certified another key'
    if sorted(set(parsed['principals'])) != request['principals']:
        return 'the backend returned principals %s' % ', '.join(parsed['principals'])
    if parsed['cert_type'] != request['cert_type']:
        return 'the backend returned a %s certificate' % parsed['cert_type']
    if parsed['ca_fingerprint'] not in trusted_cas:
        return ('it is signed by CA %s, not by the CA that signs %s certificates here (%s)'
                % (parsed['ca_fingerprint'], request['cert_type'], ', '.join(trusted_cas) or 'none'))
    why = signature_problem(cert, parsed)
    if why:
        return why
    after, before = parsed['valid_after'], parsed['valid_before']
    lifetime = before - after
    if before == FOREVER or not ttl_seconds <= lifetime <= ttl_seconds + BACKDATE_SECONDS + 1:
        return ('it is valid for %ds (%s to %s), the request asked for %ds (plus at most %ds of backdating)'
                % (lifetime, format_time(after), format_time(before), ttl_seconds, BACKDATE_SECONDS))
    if after > finished + CLOCK_SKEW_SECONDS or before > finished + ttl_seconds + CLOCK_SKEW_SECONDS \
            or before < started + ttl_seconds - CLOCK_SKEW_SECONDS:
        return ('it is valid from %s to %s, which is not now plus the requested %ds (now is %s here: are the '
                'clocks of the controller and the signer more than %ds apart?)'
                % (format_time(after), format_time(before), ttl_seconds, format_time(int(finished)),
                   CLOCK_SKEW_SECONDS))
    if parsed['critical_options']:
        return 'it carries critical options that were not asked for: %s' % ', '.join(sorted(parsed['critical_options']))
    allowed = USER_EXTENSIONS if request['cert_type'] == 'user' else frozenset()
    extra = sorted(name for name, value in parsed['extensions'].items() if name not in allowed or value)
    if extra:
        return 'it carries extensions that were not asked for: %s' % ', '.join(extra)
    return None


class SigningService(object):
    """Gate, sign and audit for one backend; the caller reads and writes host files."""

    def __init__(self, backend, gate=None, audit=None, actors=None, settings=None, now=time.time):
        self.backend = backend
        self.gate = gate
        self.audit = audit
        self.actors = actors
        self.settings = settings
        self.now = now

    def plan(self, request, public_key, cert_text, renew_before=None, force=False):
        """``(reason, current)``: why to sign, or ``'valid'``; ``current`` is the parsed cert or None."""
        dummy, fingerprint = plain_public_key(public_key)
        current = None
        if cert_text:
            try:
                current = parse_certificate(cert_text, 'path')
            except ValidationError:
                return ('invalid' if not force else 'forced'), None
        reason = renewal_reason(current, fingerprint, request['cert_type'], request['principals'],
                                ca_fingerprints(self.backend, request['cert_type']), self.now(),
                                renew_before=renew_before, force=force)
        if reason == 'valid' and signature_problem(cert_text, current):
            # it names a trusted CA but that CA did not sign it: forged or damaged; never kept
            reason = 'signature_invalid'
        return reason, current

    def decide(self, request, public_key, subject=None):
        """The gate's decision for a user certificate (host certificates are not actor-gated)."""
        if request['cert_type'] == 'host' or self.gate is None:
            return None
        gate_request = policy_request(request['actor'], actors=self.actors, principals=request['principals'],
                                      ttl_hours=request['ttl_hours'], public_key=public_key, subject=subject,
                                      settings=self.settings)
        return self.gate.check(gate_request)

    def issue(self, request, public_key, host, reason, subject=None):
        """Gate, sign and record; return ``(cert_line, parsed, decision)``.

        The ``signed`` record (serial, validity, decision) is appended before the certificate is
        returned; if it cannot be, the certificate is discarded. Raises PolicyDenied, SigningError
        or AuditError, and then nothing is returned.
        """
        line, fingerprint = plain_public_key(public_key)
        if request['cert_type'] == 'user':  # the subject the gate is sent is the one audited
            subject = subject_for(request['actor'], (self.actors or {}).get(request['actor']), subject,
                                  subject_env=getattr(self.settings, 'subject_env', None))
        decision = self.decide(request, line, subject)
        if decision is not None and not decision.allowed:
            self.record(request, host, 'denied', decision.reason, fingerprint=fingerprint, decision=decision,
                        subject=subject, kind='policy')
            raise PolicyDenied(decision, request['actor'])
        if request['cert_type'] == 'user' and not ttl_within_bounds(request['ttl_hours'], request['actor_type']):
            # the gate's TTL rule holds even when no gate decided (policy off, or fail-open)
            self.record(request, host, 'denied', 'ttl_out_of_bounds', fingerprint=fingerprint, decision=decision,
                        subject=subject, kind='policy')
            raise SigningError('ttl_hours %s is outside (0, %d] for a %s actor: not signed (ttl_out_of_bounds)'
                               % (request['ttl_hours'], ACTOR_TYPES[request['actor_type']], request['actor_type']))
        decision_id = decision.decision_id if decision is not None else None
        key_id = key_id_for(request, decision_id, host)
        if self.audit is not None:  # a record the audit would refuse, or a log it cannot write, stops the signing
            self.audit.check(**self._fields(request, host, 'signed', reason, fingerprint, None, decision, subject))
            self.audit.writable()
        ttl_seconds = int(round(request['ttl_hours'] * 3600))
        try:
            trusted = ca_fingerprints(self.backend, request['cert_type'])
            started = self.now()
            cert = self.backend.sign(request['cert_type'], request['actor_type'], line, request['principals'],
                                     ttl_seconds, key_id, started)
            parsed = parse_certificate(cert, 'signed certificate')
            problem = response_problem(request, parsed, cert, fingerprint, trusted, ttl_seconds, started, self.now())
        except WardenError as exc:
            self.record(request, host, 'failed', str(exc)[:300], fingerprint=fingerprint, decision=decision,
                        subject=subject)
            raise
        if problem:
            self.record(request, host, 'failed', problem, fingerprint=fingerprint, decision=decision, subject=subject)
            raise SigningError('refusing the signed certificate: %s' % problem)
        try:
            self.record(request, host, 'signed', reason, fingerprint=parsed['key_fingerprint'], cert=parsed,
                        decision=decision, subject=subject)
        except WardenError as exc:
            raise SigningError('certificate serial %s was signed but its audit record could not be written, so it '
                               'was discarded (nothing was written or returned): %s' % (parsed['serial'], exc))
        return cert.strip(), parsed, decision

    def take_warnings(self):
        """The backend's warnings not shown yet (e.g. an OpenBao role that refuses key ids)."""
        take = getattr(self.backend, 'take_warnings', None)
        return take() if take is not None else []

    def record(self, request, host, outcome, reason, fingerprint=None, cert=None, decision=None, subject=None,
               kind='sign'):
        """One audit record; never a certificate body, key or token."""
        if self.audit is None:
            return
        self.audit.record(**self._fields(request, host, outcome, reason, fingerprint, cert, decision, subject, kind))

    def _fields(self, request, host, outcome, reason, fingerprint=None, cert=None, decision=None, subject=None,
                kind='sign'):
        fields = {
            'kind': kind, 'outcome': outcome, 'reason': reason, 'host': host,
            'actor': request.get('actor'), 'actor_type': request.get('actor_type'),
            'subject': subject or request.get('actor'), 'principals': list(request['principals']),
            'ttl_hours': request['ttl_hours'], 'backend': self.backend.name, 'pubkey_fingerprint': fingerprint,
            'policy_decision_id': decision.decision_id if decision is not None else None,
            'gate_mode': self._gate_mode(request, decision),
            'policy_reason': decision.reason if decision is not None else None,
            # the PDP's failure can quote what it answered: bounded, so the record is never refused for length
            'policy_detail': decision.detail[:300] if decision is not None and decision.detail else None,
        }
        if cert is not None:
            fields.update(serial=str(cert['serial']), key_id=cert['key_id'], ca_fingerprint=cert['ca_fingerprint'],
                          valid_after=describe(cert)['valid_after'], valid_before=describe(cert)['valid_before'])
        fields['cert_type'] = request['cert_type']
        return fields

    def _gate_mode(self, request, decision):
        """The mode of the gate behind a record: the decision's, ``not_gated`` for a host certificate
        (never actor-gated), else the configured one (a kept certificate: no decision this run)."""
        if decision is not None:
            return decision.mode
        if request['cert_type'] == 'host':
            return 'not_gated'
        return self.gate.mode if self.gate is not None else None


def build_service(args, user_cert=True, env=None):
    """A SigningService from validated options (actors, gate, backend, audit)."""
    from ansible_collections.netkingdom.warden.plugins.module_utils._audit.log import AuditLog
    actors, dummy = resolve_actors(args.get('actors'), args.get('inventory_file'))
    settings = GateSettings(args.get('policy'), env=env)
    gate = Gate(settings, actors) if user_cert else None
    backend = make_backend(args.get('backend'), args.get('openbao'), args.get('local_ca'), env=env)
    return SigningService(backend, gate=gate, audit=AuditLog(args.get('audit_log')), actors=actors,
                          settings=settings)
