# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one signing path: validate -> gate -> sign -> audit -> (write, by the caller).

The audit line of a certificate is appended before the certificate is handed to the caller, so
no certificate leaves the controller (onto a host, or into a play) without its line: when the
line cannot be written the certificate is thrown away. A later failure to write it on the host is
a second record (outcome ``write_failed``).

Used by the ssh_cert action plugin (certificates on hosts) and the ssh_cert lookup
(certificates returned to a play). Backends: ``openbao`` (the SSH secrets engine) and
``local`` (a CA key on the controller). Nothing here talks to a target host.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fcntl
import os
import time

from ansible_collections.netkingdom.warden.plugins.module_utils._inventory.actors import ACTOR_TYPES, parse_ttl_hours
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import (
    SigningError,
    ValidationError,
    WardenError,
)
from ansible_collections.netkingdom.warden.plugins.module_utils._gate.rules import requested_ttl_hours, ttl_within_bounds
from ansible_collections.netkingdom.warden.plugins.module_utils._settings.values import parse_bool
from ansible_collections.netkingdom.warden.plugins.module_utils._openssh.certificate import (
    FOREVER,
    LocalCA,
    describe,
    format_time,
    generate_ca_key,
    parse_certificate,
    renewal_reason,
    signature_problem,
)
from ansible_collections.netkingdom.warden.plugins.module_utils._openssh.keys import (
    CERT_SUFFIX,
    fingerprint_blob,
    parse_public_key,
)

BACKENDS = ('auto', 'openbao', 'local')
DEFAULT_LOCAL_CA = '~/.local/state/warden/ca/ca_key'
DEFAULT_HOST_TTL_HOURS = 720
BACKDATE_SECONDS = 30  # like OpenBao's not_before_duration: tolerate clock skew between hosts
# How far the controller's clock may be from the signer's when a signed certificate is checked.
CLOCK_SKEW_SECONDS = 300
# What a signed certificate may carry beyond what was asked: the OpenSSH permit-* extensions on a user
# certificate (an OpenBao role's default_extensions, the local CA's defaults). No critical option is ever
# asked for, and a host certificate has no extension.
USER_EXTENSIONS = frozenset(['permit-X11-forwarding', 'permit-agent-forwarding', 'permit-port-forwarding',
                             'permit-pty', 'permit-user-rc'])

LOCAL_CA_OPTIONS = {
    'key_path': (DEFAULT_LOCAL_CA, ['WARDEN_LOCAL_CA_KEY'], 'path'),
    'passphrase': (None, ['WARDEN_LOCAL_CA_PASSPHRASE'], 'str'),
    'create': (False, ['WARDEN_LOCAL_CA_CREATE'], 'bool'),
    'key_type': ('ed25519', [], 'str'),
}


class PolicyDenied(WardenError):
    """The gate said no (or could not answer and fail_closed holds). Nothing was signed."""

    def __init__(self, decision, actor):
        self.decision = decision
        super(PolicyDenied, self).__init__(decision.message(actor))


def local_ca_argument_spec():
    return {'type': 'dict', 'options': {
        'key_path': {'type': 'path'},
        'passphrase': {'type': 'str', 'no_log': True},
        'create': {'type': 'bool'},
        'key_type': {'type': 'str'},
    }}


def _option(options, env, name, table):
    default, env_names, kind = table[name]
    value = (options or {}).get(name)
    if value is None:
        value = next((env[e] for e in env_names if env.get(e) not in (None, '')), None)
    if value is None:
        value = default
    if kind == 'path' and isinstance(value, str):
        value = os.path.expanduser(value)
    if kind == 'bool' and isinstance(value, str):
        value = bool(parse_bool(value))
    return value


def _create_ca_once(path, key_type, passphrase):
    """Create the CA key unless another fork did it first (many forks start at the same instant)."""
    directory = os.path.dirname(path)
    if directory and not os.path.isdir(directory):
        try:
            os.makedirs(directory, 0o700)
        except OSError:
            if not os.path.isdir(directory):
                raise
    fd = os.open(path + '.lock', os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if not os.path.exists(path):  # the key file appears whole: it is written then renamed
            generate_ca_key(path, key_type, passphrase, field='local_ca.key_path')
    finally:
        os.close(fd)


class LocalBackend(object):
    """A CA private key on the controller; certificates signed in-process."""

    name = 'local'

    def __init__(self, options=None, env=None):
        env = os.environ if env is None else env
        path = _option(options, env, 'key_path', LOCAL_CA_OPTIONS)
        passphrase = _option(options, env, 'passphrase', LOCAL_CA_OPTIONS)
        if not os.path.exists(path):
            if not _option(options, env, 'create', LOCAL_CA_OPTIONS):
                raise ValidationError([('local_ca.key_path', 'no CA key at %s: create one with local_ca.create=true '
                                        '(or ssh-keygen -t ed25519 -f %s), or configure OpenBao' % (path, path))],
                                      what='signing settings')
            _create_ca_once(path, _option(options, env, 'key_type', LOCAL_CA_OPTIONS), passphrase)
        self.ca = LocalCA.from_file(path, passphrase, field='local_ca.key_path')

    def ca_public_keys(self, cert_type='user'):
        """The CA that signs ``cert_type`` certificates: one local CA signs both types."""
        return [self.ca.public_key_line]

    def sign(self, cert_type, actor_type, public_key, principals, ttl_seconds, key_id, now):
        return self.ca.sign(public_key, cert_type, principals, key_id,
                            int(now) - BACKDATE_SECONDS, int(now) + int(ttl_seconds))

    @staticmethod
    def take_warnings():
        return []


class OpenBaoBackend(object):
    """The OpenBao SSH secrets engine, role by actor type; the token stays here."""

    name = 'openbao'

    def __init__(self, settings):
        from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.signer import OpenBaoSigner
        self.signer = OpenBaoSigner(settings)
        self._ca = {}

    def mount_for(self, cert_type):
        """User certificates from ``openbao.mount``, host certificates from ``openbao.host_mount``."""
        return self.signer.host_mount if cert_type == 'host' else self.signer.mount

    def ca_public_keys(self, cert_type='user'):
        """The default CA of the mount that signs ``cert_type`` certificates (read once per process)."""
        mount = self.mount_for(cert_type)
        if mount not in self._ca:
            self._ca[mount] = [self.signer.ca_public_key(mount)]
        return self._ca[mount]

    def sign(self, cert_type, actor_type, public_key, principals, ttl_seconds, key_id, now):
        role = self.signer.host_role if cert_type == 'host' else self.signer.role_for(actor_type)
        return self.signer.sign(role, public_key, principals, int(ttl_seconds), cert_type=cert_type,
                                key_id=key_id, mount=self.mount_for(cert_type))['signed_key']

    def take_warnings(self):
        return self.signer.take_warnings()


_BACKENDS = {}


def backend_name(backend='auto', openbao=None, env=None):
    """``openbao`` or ``local``: which backend these options select (nothing is built or contacted)."""
    env = os.environ if env is None else env
    backend = backend or env.get('WARDEN_SIGNING_BACKEND') or 'auto'
    if backend not in BACKENDS:
        raise ValidationError([('backend', 'must be one of %s, got %r' % (', '.join(BACKENDS), backend))],
                              what='signing settings')
    if backend == 'auto':
        has_url = (openbao or {}).get('url') or env.get('BAO_ADDR') or env.get('VAULT_ADDR')
        backend = 'openbao' if has_url else 'local'
    return backend


def host_ca_is_user_ca(backend='auto', openbao=None, env=None):
    """Whether one CA signs both user and host certificates with these options (nothing is contacted).

    True for the local CA and for OpenBao with ``host_mount`` = ``mount``; False for OpenBao's two-mount layout.
    """
    if backend_name(backend, openbao, env) != 'openbao':
        return True
    from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.settings import OpenBaoSettings
    settings = OpenBaoSettings(openbao, env=os.environ if env is None else env, require_auth=False)
    return settings.host_mount == settings.mount


def make_backend(backend='auto', openbao=None, local_ca=None, env=None, need_auth=True):
    """The signing backend for these options, shared by every sign in this process.

    ``need_auth=False`` is enough to read the CA public key (OpenBao serves it unauthenticated).
    """
    env = os.environ if env is None else env
    backend = backend_name(backend, openbao, env)
    if backend == 'openbao':
        from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.settings import OpenBaoSettings
        settings = OpenBaoSettings(openbao, env=env, require_auth=need_auth)
        key = ('openbao', need_auth, settings.session_key(), settings.mount, settings.host_mount,
               str(sorted((settings.role_map or {}).items())), settings.host_role)
        if key not in _BACKENDS:
            _BACKENDS[key] = OpenBaoBackend(settings)
    else:
        key = ('local', repr(sorted((local_ca or {}).items())), env.get('WARDEN_LOCAL_CA_KEY'))
        if key not in _BACKENDS:
            _BACKENDS[key] = LocalBackend(local_ca, env)
    return _BACKENDS[key]


def ca_fingerprints(backend, cert_type='user'):
    """Fingerprints of the CA keys that sign ``cert_type`` certificates with this backend."""
    return [fingerprint_blob(parse_public_key(line, 'ca_public_key')[1])
            for line in backend.ca_public_keys(cert_type)]


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


def cert_request(cert_type, actors=None, actor=None, principals=None, ttl_hours=None, host_names=None):
    """What to sign, validated before any call. Narrowing only: never more than the inventory allows.

    User certificates: the actor's principals from the inventory (``principals`` may narrow them)
    and a TTL of ``ttl_hours``, by default the actor's inventory ``ttl_hours``. The TTL rule is the
    gate's (0 < ttl <= the actor type's maximum, docs/policy-gate.md): any finite number is passed on
    for the gate to judge, so 0 or 49 hours for an adm is a ``ttl_out_of_bounds`` deny with a
    decision id and an audit line; ``SigningService.issue`` applies the same rule again before it
    signs (gate off, or fail-open). Never clamped. Host certificates: ``principals`` default to the
    host's names.
    """
    if cert_type not in ('user', 'host'):
        raise ValidationError([('type', "must be 'user' or 'host', got %r" % (cert_type,))], what='options')
    if cert_type == 'host':
        names = principals or [n for n in (host_names or []) if n]
        if not names:
            raise ValidationError([('principals', 'a host certificate needs at least one host name')], what='options')
        ttl = DEFAULT_HOST_TTL_HOURS if ttl_hours is None else _ttl(ttl_hours)
        return {'cert_type': 'host', 'actor': None, 'actor_type': None,
                'principals': sorted(set(names)), 'ttl_hours': ttl}
    if not actor:
        raise ValidationError([('actor', 'is required for a user certificate')], what='options')
    record = (actors or {}).get(actor)
    if record is None:
        raise ValidationError([('actor', '%r is not in the actor inventory (warden_actors / inventory_file)' % actor)],
                              what='options')
    allowed = list(record['principals'])
    wanted = allowed if principals is None else list(principals)
    extra = sorted(set(wanted) - set(allowed))
    if extra:
        raise ValidationError([('principals', '%s not allowed for %s (allowed: %s)'
                                % (', '.join(extra), actor, ', '.join(allowed)))], what='options')
    if not wanted:
        raise ValidationError([('principals', 'must not be empty')], what='options')
    ttl = record['ttl_hours'] if ttl_hours is None else requested_ttl_hours(ttl_hours)
    return {'cert_type': 'user', 'actor': actor, 'actor_type': record['type'],
            'principals': sorted(set(wanted)), 'ttl_hours': ttl}


def _ttl(value):
    try:
        return parse_ttl_hours(value)
    except ValueError as exc:
        raise ValidationError([('ttl_hours', str(exc))], what='options')


def key_id_for(request, decision_id, host):
    """The key id sshd logs at every login: traceable to the actor and the policy decision."""
    if request['cert_type'] == 'host':
        return 'warden:host:%s' % host
    return 'warden:%s:%s' % (request['actor'], decision_id or 'no-decision')


def plain_public_key(text, field='public_key'):
    """Validate a plain public key line; return ``(line, fingerprint)``."""
    key_type, blob, comment = parse_public_key(text, field)
    if key_type.endswith(CERT_SUFFIX):
        raise ValidationError([(field, 'is a certificate; give the plain public key')], what='public key')
    return text.strip(), fingerprint_blob(blob)


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
        from ansible_collections.netkingdom.warden.plugins.module_utils._gate.gate import policy_request
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
            from ansible_collections.netkingdom.warden.plugins.module_utils._gate.gate import subject_for
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
