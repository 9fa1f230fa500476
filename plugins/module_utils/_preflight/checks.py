# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Preflight: every check before the gate or the rollout is turned on. Reports, changes nothing.

``run_preflight`` runs them all into one ``report.Report``. Checks: ``inventory``; with the OpenBao
backend ``openbao_reachable``, ``openbao_unsealed``, ``openbao_token``, ``openbao_sign`` (one per
actor type in use, and the host role when asked), ``signing_ca``; with the local backend
``signing_ca``; with a remote gate ``flex_auth_healthz``; ``registry_digest`` (what flex-auth
serves, the controller's embedded snapshot, and the file on each flex-auth host, against the
snapshot built from the inventory); ``sshd_version`` per host.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.netkingdom.warden.plugins.module_utils._gate.gate import ACTOR_SOURCE_SPEC
from ansible_collections.netkingdom.warden.plugins.module_utils._gate.settings import policy_argument_spec
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.settings import openbao_argument_spec
from ansible_collections.netkingdom.warden.plugins.module_utils._signing.backends import BACKENDS, local_ca_argument_spec
from ansible_collections.netkingdom.warden.plugins.module_utils._preflight.backend import check_local_ca, check_openbao, resolve_backend
from ansible_collections.netkingdom.warden.plugins.module_utils._preflight.hosts import check_host_registry, check_sshd, parse_min_version
from ansible_collections.netkingdom.warden.plugins.module_utils._preflight.registry import actor_types, check_gate, check_inventory
from ansible_collections.netkingdom.warden.plugins.module_utils._preflight.report import Report

DEFAULT_SSHD_MIN = '8.2'


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


PREFLIGHT_SPEC = dict(ACTOR_SOURCE_SPEC, **{
    'openbao': openbao_argument_spec(),
    'backend': {'type': 'str', 'choices': list(BACKENDS)},
    'local_ca': local_ca_argument_spec(),
    'policy': policy_argument_spec(),
    'hosts': {'type': 'list', 'elements': 'str', 'default': []},
    'flex_auth_hosts': {'type': 'list', 'elements': 'str', 'default': []},
    'sshd_var': {'type': 'str', 'default': 'warden_preflight_sshd'},
    'registry_var': {'type': 'str', 'default': 'warden_preflight_registry'},
    'sshd_min_version': {'type': 'str', 'default': DEFAULT_SSHD_MIN},
    'sign_host_certificates': {'type': 'bool', 'default': False},
    'skip': {'type': 'list', 'elements': 'str', 'default': []},
    'fail_on_failure': {'type': 'bool', 'default': True},
})
PREFLIGHT_EXCLUSIVE = [['actors', 'inventory_file']]
