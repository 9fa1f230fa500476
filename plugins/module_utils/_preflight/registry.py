# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Preflight of the inventory and the gate: the inventory builds a valid registry, the gate's settings,
flex-auth's ``/healthz``, and whether the registry it serves (or the embedded gate's file) is the one
the inventory builds.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.netkingdom.warden.plugins.module_utils._inventory.actors import resolve_actors
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import PolicyUnavailable, ValidationError, WardenError
from ansible_collections.netkingdom.warden.plugins.module_utils._registry.build import build_snapshot
from ansible_collections.netkingdom.warden.plugins.module_utils._registry.validate import load_snapshot_file, validate_snapshot
from ansible_collections.netkingdom.warden.plugins.module_utils._registry.summary import summarize

DEPLOY_FIX = 'deploy the registry built from the inventory: ansible-playbook netkingdom.warden.deploy_registry'


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
    """The actor types the snapshot holds, sorted (none for no snapshot)."""
    return sorted(set(a['type'] for a in summarize(snapshot or {}).values()))


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
                compare_digest(report, served, built_digest, 'flex-auth at %s serves' % client.display, 'flex-auth')
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
    compare_digest(report, snapshot['digest'], built_digest, 'the embedded gate\'s snapshot %s holds' % path,
                   'controller', fix='rebuild it from the inventory: netkingdom.warden.registry_snapshot with dest %s' % path)


def compare_digest(report, served, built, who, host, fix=DEPLOY_FIX):
    """One ``registry_digest`` check: the digest ``who`` serves or holds against the one the inventory builds."""
    if served == built:
        report.add('registry_digest', True, '%s registry %s, the one the inventory builds' % (who, served), host=host)
    else:
        report.add('registry_digest', False, '%s registry %s, but the inventory builds %s: the deployed registry is '
                   'out of date (actors, principals, TTLs or subjects changed since it was deployed), so flex-auth '
                   'would decide on the old ones' % (who, served, built), fix, host=host)
