# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Preflight: every check before the gate or the rollout is turned on. Reports, changes nothing.

Each check is ``{name, ok, message, fix}`` (and ``host`` for per-host checks). A check that
cannot run because an earlier one failed (no token check while OpenBao is down) is listed in
``not_run`` with the reason, not as a second failure.

Checks: ``inventory``; with the OpenBao backend ``openbao_reachable``, ``openbao_unsealed``,
``openbao_token``, ``openbao_sign`` (one per actor type in use, and the host role when asked),
``signing_ca``; with the local backend ``signing_ca``; with a remote gate ``flex_auth_healthz``;
``registry_digest`` (what flex-auth serves, the controller's embedded snapshot, and the file on
each flex-auth host, against the snapshot built from the inventory); ``sshd_version`` per host.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible_collections.netkingdom.warden.plugins.module_utils._inventory.actors import resolve_actors
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import (
    PolicyUnavailable,
    ValidationError,
    WardenError,
)
from ansible_collections.netkingdom.warden.plugins.module_utils._registry.snapshot import (
    build_snapshot,
    load_snapshot_file,
    summarize,
    validate_snapshot,
)

DEFAULT_SSHD_MIN = '8.2'
OPENSSH_RE = re.compile(r'OpenSSH_(\d+)\.(\d+)(p\d+)?')
DEPLOY_FIX = 'deploy the registry built from the inventory: ansible-playbook netkingdom.warden.deploy_registry'
SIGN_CAPABILITY = 'update'


class Report(object):
    """The checks done so far, and the ones that could not run."""

    def __init__(self, skip=()):
        self.checks = []
        self.not_run = []
        self.skip_names = frozenset(skip or ())

    def wanted(self, name):
        if name in self.skip_names:
            self.not_run.append({'name': name, 'why': 'skipped on request'})
            return False
        return True

    def add(self, name, ok, message, fix=None, host=None):
        item = {'name': name, 'ok': bool(ok), 'message': message, 'fix': None if ok else fix}
        if host is not None:
            item['host'] = host
        self.checks.append(item)
        return bool(ok)

    def skip(self, name, why, host=None):
        item = {'name': name, 'why': why}
        if host is not None:
            item['host'] = host
        self.not_run.append(item)

    @property
    def failed(self):
        return [c for c in self.checks if not c['ok']]

    def summary(self):
        failed = self.failed
        if not failed:
            return 'preflight: all %d checks passed' % len(self.checks)
        lines = ['preflight: %d of %d checks failed:' % (len(failed), len(self.checks))]
        for item in failed:
            where = '%s[%s]' % (item['name'], item['host']) if item.get('host') else item['name']
            lines.append('- %s: %s' % (where, item['message']))
            if item.get('fix'):
                lines.append('  fix: %s' % item['fix'])
        return '\n'.join(lines)


# --- inventory ---------------------------------------------------------------------------------

def check_inventory(report, actors=None, inventory_file=None, tenant=None):
    """Validate the inventory and build its snapshot; return the snapshot (None when invalid)."""
    if not report.wanted('inventory'):
        return None
    source = inventory_file or 'warden_actors'
    fix = 'correct the named field in %s; every field is checked as ops-warden does' % source
    try:
        found, warnings = resolve_actors(actors, inventory_file)
        if found is None:
            report.add('inventory', False, 'no actor inventory was given',
                       'set warden_actors (or warden_inventory_file) for the play')
            return None
        kwargs = {'tenant': tenant} if tenant else {}
        snapshot = validate_snapshot(build_snapshot(found, **kwargs))
    except ValidationError as exc:
        report.add('inventory', False, str(exc), fix)
        return None
    types = sorted(set(a['type'] for a in found.values()))
    message = '%d actors (%s) valid; they build registry %s' % (
        len(found), ', '.join(types) or 'none', snapshot['digest'])
    if warnings:
        message += ' (warnings: %s)' % '; '.join(warnings)
    report.add('inventory', True, message)
    return snapshot


def actor_types(snapshot):
    return sorted(set(a['type'] for a in summarize(snapshot or {}).values()))


# --- signing backend ------------------------------------------------------------------------------

def resolve_backend(backend, openbao, env):
    backend = backend or env.get('WARDEN_SIGNING_BACKEND') or 'auto'
    if backend == 'auto':
        has_url = (openbao or {}).get('url') or env.get('BAO_ADDR') or env.get('VAULT_ADDR')
        backend = 'openbao' if has_url else 'local'
    return backend


def check_openbao(report, openbao, types, host_role=False, env=None):
    """Reachable, unsealed, the token valid with sign capability per actor type, the CA present."""
    from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.auth import OpenBaoError
    from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.settings import OpenBaoSettings
    from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.signer import OpenBaoSigner
    env = os.environ if env is None else env
    try:
        settings = OpenBaoSettings(openbao, env=env, require_auth=False)
    except ValidationError as exc:
        report.add('openbao_settings', False, str(exc), 'fix warden_openbao (or the BAO_* environment variables)')
        return
    signer = OpenBaoSigner(settings)
    later = ('openbao_unsealed', 'openbao_token', 'openbao_sign', 'signing_ca')
    if report.wanted('openbao_reachable'):
        try:
            health = signer.health()
        except (OpenBaoError, WardenError) as exc:
            report.add('openbao_reachable', False, str(exc),
                       'start OpenBao, or point warden_openbao.url (BAO_ADDR) at it; check the network and TLS '
                       'between this controller and %s' % signer.url)
            for name in later:
                report.skip(name, 'OpenBao is not reachable')
            return
        report.add('openbao_reachable', True, 'OpenBao at %s answers (version %s)'
                   % (signer.url, health.get('version') or 'unknown'))
        if report.wanted('openbao_unsealed'):
            if not health.get('initialized', True):
                report.add('openbao_unsealed', False, 'OpenBao at %s is not initialized' % signer.url,
                           'initialize it (bao operator init) and configure the SSH engine '
                           '(ansible-playbook netkingdom.warden.openbao_ssh_ca)')
                for name in later[1:]:
                    report.skip(name, 'OpenBao is not initialized')
                return
            if health.get('sealed'):
                report.add('openbao_unsealed', False, 'OpenBao at %s is sealed: it signs nothing and every '
                           'certificate request would fail' % signer.url,
                           'unseal it (bao operator unseal, with the unseal keys or the auto-unseal service), '
                           'then run preflight again')
                for name in later[1:]:
                    report.skip(name, 'OpenBao is sealed')
                return
            report.add('openbao_unsealed', True, 'OpenBao is unsealed%s'
                       % (' (standby node)' if health.get('standby') else ''))
    _check_token(report, settings, signer, types, host_role, OpenBaoError)
    if report.wanted('signing_ca'):
        mounts = [settings.mount] + ([settings.host_mount] if host_role and settings.host_mount != settings.mount
                                     else [])
        for mount in mounts:
            try:
                key = signer.ca_public_key(mount)
            except (OpenBaoError, WardenError) as exc:
                report.add('signing_ca', False, str(exc),
                           'create the CA: ansible-playbook netkingdom.warden.openbao_ssh_ca (it never replaces an '
                           'existing CA)')
            else:
                report.add('signing_ca', True, 'the SSH %sCA of %s/ is %s' % (
                    'host ' if mount != settings.mount else '', mount, _key_fingerprint(key)))


def _check_token(report, settings, signer, types, host_role, error_class):
    """The credentials log in, and the token holds update on <mount>/sign/<role> per actor type."""
    from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.auth import auth_method_for
    if not report.wanted('openbao_token'):
        report.skip('openbao_sign', 'the token check was skipped')
        return
    roles = [(t, settings.role_map.get(t)) for t in types]
    if host_role:
        roles.append(('host', settings.host_role))

    def sign_path(kind, role):  # the host role lives on the host CA's mount
        return '%s/sign/%s' % (settings.host_mount if kind == 'host' else settings.mount, role)
    paths = [sign_path(kind, role) for kind, role in roles if role]
    try:
        problems = auth_method_for(settings).problems()
        if problems:
            raise ValidationError(problems, what='OpenBao settings')
        caps = signer.capabilities(paths or ['%s/sign' % settings.mount])
    except ValidationError as exc:
        report.add('openbao_token', False, str(exc),
                   'give the controller its OpenBao credentials (warden_openbao, or BAO_TOKEN / the AppRole '
                   'variables in the environment; in AWX a credential)')
        report.skip('openbao_sign', 'no usable OpenBao credentials')
        return
    except (error_class, WardenError) as exc:
        report.add('openbao_token', False, 'OpenBao refused the credentials: %s' % exc,
                   'issue a new token (or AppRole secret id) for the signer policy and give it to the controller; '
                   'a token expires with its TTL and dies when revoked')
        report.skip('openbao_sign', 'the OpenBao credentials were refused')
        return
    report.add('openbao_token', True, 'the %s credentials are valid (auth method %s)'
               % ('token' if settings.auth_method == 'token' else 'login', settings.auth_method))
    if not report.wanted('openbao_sign'):
        return
    if not roles:
        report.skip('openbao_sign', 'no actor type in use (the inventory is empty or invalid)')
        return
    for kind, role in roles:
        path = sign_path(kind, role)
        held = caps.get(path) or []
        what = 'host certificates' if kind == 'host' else '%s certificates' % kind
        if 'root' in held or SIGN_CAPABILITY in held:
            report.add('openbao_sign', True, 'the token may sign %s (%s: %s)' % (what, path, ', '.join(held)))
            continue
        if 'create' in held:
            why = ('it holds create but not update on %s; OpenBao checks a sign request (POST) as update'
                   % path)
        else:
            why = 'its capabilities on %s are [%s]' % (path, ', '.join(held) or 'none')
        report.add('openbao_sign', False, 'the token cannot sign %s: %s' % (what, why),
                   'add to the token\'s policy: path "%s" { capabilities = ["create", "update"] } '
                   '(or fix openbao.role_map / openbao.host_role / openbao.mount / openbao.host_mount when the role is '
                   'named differently)' % path)


def _key_fingerprint(line):
    from ansible_collections.netkingdom.warden.plugins.module_utils._openssh.keys import fingerprint
    try:
        return fingerprint(line)
    except (ValidationError, ValueError):
        return line.split(' ')[0]


def check_local_ca(report, local_ca, env=None):
    if not report.wanted('signing_ca'):
        return
    from ansible_collections.netkingdom.warden.plugins.module_utils._signing.backends import LocalBackend
    options = dict(local_ca or {})
    options['create'] = False  # preflight changes nothing: a missing key is reported, never made
    try:
        backend = LocalBackend(options, env=os.environ if env is None else env)
    except WardenError as exc:
        report.add('signing_ca', False, str(exc),
                   'create the local CA key (local_ca.create=true on one signing task, or ssh-keygen), or configure '
                   'OpenBao (warden_openbao)')
        return
    report.add('signing_ca', True, 'the local CA key signs as %s' % _key_fingerprint(backend.ca_public_keys()[0]))


# --- flex-auth and the registry ------------------------------------------------------------------

def check_gate(report, policy, built, env=None):
    """flex-auth /healthz (remote gate) and the digest it serves; the embedded snapshot's digest."""
    from ansible_collections.netkingdom.warden.plugins.module_utils._gate.settings import UNGATED_ENV, GateSettings
    env = os.environ if env is None else env
    try:
        settings = GateSettings(policy, env=env)
    except ValidationError as exc:
        report.add('policy_settings', False, str(exc), 'fix warden_policy (or the WARDEN_POLICY_* variables)')
        return
    ungated = settings.ungated_problems()
    if ungated:
        report.add('policy_settings', False, str(ValidationError(ungated, what='policy settings')),
                   'sign with the gate on (warden_policy), or set %s=1 in the controller\'s environment'
                   % UNGATED_ENV)
    built_digest = built['digest'] if built else None
    if settings.mode == 'embedded' and settings.registry:
        _check_embedded_registry(report, settings.registry, built_digest)
    if settings.mode != 'flex_auth':
        report.skip('flex_auth_healthz', 'the gate is %s, not remote (flex_auth)' % settings.mode)
        return
    if not report.wanted('flex_auth_healthz'):
        return
    from ansible_collections.netkingdom.warden.plugins.module_utils._registry.checks import DigestProbe, make_client
    try:
        client = make_client(settings.url, settings, retries=settings.retries)
    except WardenError as exc:
        report.add('flex_auth_healthz', False, str(exc), 'fix warden_policy.url and its TLS options')
        return
    try:
        try:
            body = client.healthz()
        except PolicyUnavailable as exc:
            closed = 'every signing would be denied (policy_unavailable)' if settings.fail_closed else \
                'every signing would go through unchecked (fail_closed is false)'
            report.add('flex_auth_healthz', False, 'flex-auth is not usable: %s; with the gate on, %s' % (exc, closed),
                       'start flex-auth on %s (e.g. service flex-auth start), or point warden_policy.url '
                       '(WARDEN_POLICY_URL) at a running instance' % client.display)
            report.skip('registry_digest', 'flex-auth is not usable', host='flex-auth')
            return
        report.add('flex_auth_healthz', True, 'flex-auth at %s answers GET /healthz 200' % client.display)
        if built_digest and report.wanted('registry_digest'):
            served = DigestProbe(client).from_body(body)
            if served is None:
                report.skip('registry_digest', 'flex-auth at %s does not report the registry it serves'
                            % client.display, host='flex-auth')
            else:
                _compare(report, served, built_digest, 'flex-auth at %s serves' % client.display, 'flex-auth')
    finally:
        client.close()


def _check_embedded_registry(report, path, built_digest):
    if not built_digest or not report.wanted('registry_digest'):
        return
    try:
        snapshot = load_snapshot_file(path)
    except ValidationError as exc:
        report.add('registry_digest', False, 'the embedded gate\'s snapshot is not usable: %s' % exc,
                   'rebuild it: netkingdom.warden.registry_snapshot with dest %s' % path, host='controller')
        return
    _compare(report, snapshot['digest'], built_digest, 'the embedded gate\'s snapshot %s holds' % path,
             'controller', fix='rebuild it from the inventory: netkingdom.warden.registry_snapshot with dest %s' % path)


def _compare(report, served, built, who, host, fix=DEPLOY_FIX):
    if served == built:
        report.add('registry_digest', True, '%s registry %s, the one the inventory builds' % (who, served), host=host)
    else:
        report.add('registry_digest', False, '%s registry %s, but the inventory builds %s: the deployed registry is '
                   'out of date (actors, principals, TTLs or subjects changed since it was deployed), so flex-auth '
                   'would decide on the old ones' % (who, served, built), fix, host=host)


# --- hosts ---------------------------------------------------------------------------------------

def parse_openssh_version(text):
    """``(major, minor, 'OpenSSH_9.2p1')`` from ``sshd -V`` / ``ssh -V`` output, or None."""
    match = OPENSSH_RE.search(text or '')
    if not match:
        return None
    return int(match.group(1)), int(match.group(2)), match.group(0)


def parse_min_version(text):
    match = re.match(r'^\s*(\d+)\.(\d+)\s*$', str(text))
    if not match:
        raise ValidationError([('sshd_min_version', 'must look like 8.2, got %r' % (text,))], what='options')
    return int(match.group(1)), int(match.group(2))


def _unreachable(result):
    if not isinstance(result, dict):
        return 'no result from the host: it was unreachable, or the read task did not run for it'
    if result.get('unreachable'):
        return 'the host is unreachable: %s' % str(result.get('msg') or '')[:300]
    return None


def check_sshd(report, host, result, minimum):
    if not report.wanted('sshd_version'):
        return
    problem = _unreachable(result)
    if problem:
        report.add('sshd_version', False, problem, 'check SSH access to the host (ansible -m ping %s)' % host,
                   host=host)
        return
    if result.get('skipped'):
        report.skip('sshd_version', 'the version was not read on this host', host=host)
        return
    text = '%s\n%s' % (result.get('stdout') or '', result.get('stderr') or '')
    found = parse_openssh_version(text)
    if found is None:
        report.add('sshd_version', False, 'cannot tell the OpenSSH version (sshd -V / ssh -V printed no '
                   'OpenSSH_<version>): %s' % (text.strip()[:200] or 'no output'),
                   'install openssh-server (OpenSSH %d.%d or newer)' % minimum, host=host)
        return
    if found[:2] < minimum:
        report.add('sshd_version', False, '%s is older than OpenSSH %d.%d: its sshd does not read the '
                   'sshd_config.d drop-in (Include) the rollout writes' % ((found[2],) + minimum),
                   'upgrade openssh-server to %d.%d or newer before the rollout' % minimum, host=host)
        return
    report.add('sshd_version', True, '%s (at least %d.%d)' % ((found[2],) + minimum), host=host)


def check_host_registry(report, host, result, built, path_hint=None):
    if not report.wanted('registry_digest'):
        return
    problem = _unreachable(result)
    if problem:
        report.add('registry_digest', False, problem, 'check SSH access to the flex-auth host', host=host)
        return
    if result.get('skipped'):
        report.skip('registry_digest', 'the registry file was not read on this host', host=host)
        return
    path = result.get('path') or path_hint or 'the registry path'
    if result.get('failed'):
        report.add('registry_digest', False, 'reading %s failed: %s' % (path, str(result.get('msg'))[:300]),
                   'check flex_auth_registry_path and the permissions on the host', host=host)
        return
    if not result.get('exists'):
        report.add('registry_digest', False, 'no registry snapshot is installed at %s' % path, DEPLOY_FIX, host=host)
        return
    if not result.get('valid'):
        report.add('registry_digest', False, 'the snapshot at %s is not valid: %s'
                   % (path, '; '.join(result.get('problems') or [])[:300]), DEPLOY_FIX, host=host)
        return
    if built is None:
        report.skip('registry_digest', 'the inventory is not valid, nothing to compare with', host=host)
        return
    _compare(report, result.get('digest'), built['digest'], '%s holds' % path, host)


def run_preflight(actors=None, inventory_file=None, openbao=None, backend=None, local_ca=None, policy=None,
                  host_reports=None, registry_reports=None, sshd_min_version=DEFAULT_SSHD_MIN,
                  sign_host_certificates=False, skip=(), env=None):
    """Every check. ``host_reports`` maps a host to its ``sshd -V`` task result and
    ``registry_reports`` a flex-auth host to its ``registry_file state=read`` result."""
    env = os.environ if env is None else env
    report = Report(skip)
    minimum = parse_min_version(sshd_min_version)
    tenant = (policy or {}).get('tenant') or env.get('WARDEN_POLICY_TENANT') or None
    built = check_inventory(report, actors, inventory_file, tenant)
    types = actor_types(built)
    chosen = resolve_backend(backend, openbao, env)
    if chosen == 'openbao':
        check_openbao(report, openbao, types, host_role=sign_host_certificates, env=env)
    elif chosen == 'local':
        check_local_ca(report, local_ca, env)
    else:
        report.add('signing_backend', False, 'unknown signing backend %r' % chosen,
                   'set warden_signing_backend to openbao, local or auto')
    check_gate(report, policy or {}, built, env)
    for host in sorted(registry_reports or {}):
        check_host_registry(report, host, registry_reports[host], built)
    for host in sorted(host_reports or {}):
        check_sshd(report, host, host_reports[host], minimum)
    return {
        'ok': not report.failed,
        'checks': report.checks,
        'failed_checks': report.failed,
        'not_run': report.not_run,
        'backend': chosen,
        'registry_digest': built['digest'] if built else None,
        'msg': report.summary(),
    }
