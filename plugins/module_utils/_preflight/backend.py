# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Preflight of the signing backend: OpenBao (reachable, unsealed, credentials, sign capability, CA)
or the local CA key. Reads only: a missing CA or key is reported, never made.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError, WardenError

SIGN_CAPABILITY = 'update'


def resolve_backend(backend, openbao, env):
    """The signing backend in use: ``backend``, else ``WARDEN_SIGNING_BACKEND``; ``auto`` is OpenBao when a URL is set."""
    from ansible_collections.netkingdom.warden.plugins.module_utils._signing.backends import BACKEND_ENV, backend_name
    try:
        return backend_name(backend, openbao, env)
    except ValidationError:  # reported by the caller as an unknown backend, with the other checks
        return backend or env.get(BACKEND_ENV)


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
    """``signing_ca``: the local CA key exists and loads (it is never created here)."""
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
