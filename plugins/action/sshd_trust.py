# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Everything sshd trusts on a host in at most two round trips: inspect the host once, decide
and sign on the controller, write every changed file in one call (checked with sshd -t, then
sshd is reloaded; the host module puts everything back itself when sshd -t fails). A converged
host costs the one inspection. Private keys never leave the host; tokens never reach it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import functools

from ansible_collections.netkingdom.warden.plugins.module_utils._signing.argspec import SSHD_TRUST_SPEC, parse_renew_before
from ansible_collections.netkingdom.warden.plugins.module_utils._signing.backends import KnownCABackend, backend_name, host_ca_is_user_ca, make_backend
from ansible_collections.netkingdom.warden.plugins.module_utils._signing.job import CertJob
from ansible_collections.netkingdom.warden.plugins.module_utils._signing.request import cert_request
from ansible_collections.netkingdom.warden.plugins.module_utils._signing.results import denied_fields
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import WardenError
from ansible_collections.netkingdom.warden.plugins.module_utils._inventory.host_names import reported_names_note
from ansible_collections.netkingdom.warden.plugins.module_utils._signing.service import PolicyDenied, SigningService, build_service
from ansible_collections.netkingdom.warden.plugins.module_utils._host.sshd_trust import (
    file_diff,
    host_cert_path,
    inspect_paths,
    plan_trust,
    validate_trust_options,
    write_args,
)
from ansible_collections.netkingdom.warden.plugins.plugin_utils.host_pair import HostPairAction
from ansible_collections.netkingdom.warden.plugins.plugin_utils.task_vars import apply_play_defaults, host_cert_principals

RELOAD_OPTIONS = ('sshd_bin', 'sshd_config', 'reload_method', 'sshd_service', 'reload_command')


class ActionModule(HostPairAction):
    HOST_MODULE = 'netkingdom.warden.sshd_trust_host'

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        dummy, args = self.validate_argument_spec(argument_spec=SSHD_TRUST_SPEC)
        reload_args = dict((name, args[name]) for name in RELOAD_OPTIONS)
        if args['state'] == 'restore':
            return self._restore(result, args, reload_args, task_vars)
        if args['state'] == 'verified':
            done = self._host_call({'state': 'verified', 'pending_path': args['pending_path']}, task_vars)
            result.update(changed=bool(done.get('changed')), verify_pending=bool(done.get('failed')))
            if done.get('failed'):
                result.update(failed=True, msg=done.get('msg'))
            return result

        args = apply_play_defaults(args, task_vars, self._templar, signing=True)
        host = task_vars.get('inventory_hostname')
        result.update(changed=False, changed_files=[], host_certs=[], backups={}, reloaded=False,
                      trust_changed=False, verify_pending=False, actor_certs=[], actor_certs_pending=[])
        try:
            principals = validate_trust_options(args)
            renew_before = parse_renew_before(args['renew_before'])
        except WardenError as exc:
            result.update(failed=True, msg=str(exc))
            return result

        # 1. one round trip: every file, every host key and its certificate
        paths, stat_only = inspect_paths(args, principals)
        seen = self._host_call({'state': 'inspect', 'paths': paths, 'stat_paths': stat_only,
                                'host_keys': args['host_keys'], 'pending_path': args['pending_path'],
                                'actor_keys': [item['key'] for item in args['actor_certs']]}, task_vars)
        if seen.get('failed'):
            result.update(failed=True, msg='inspecting sshd trust on the host failed: %s' % seen.get('msg'))
            return result
        # a change applied by an earlier run that never reached its login check
        result['verify_pending'] = bool(seen.get('verify_pending'))

        # 2. decide on the controller
        try:
            plan = plan_trust(args, principals, seen['files'])
            jobs = self._plan_certs(args, seen, host, renew_before, task_vars)
            result['actor_certs'], result['actor_certs_pending'] = self._plan_actor_certs(args, seen, host)
        except WardenError as exc:
            result.update(failed=True, msg=str(exc))
            return result
        for warning in plan['warnings']:
            self._display.warning(warning)
        changes = plan['changes']
        result['trust_changed'] = bool(changes) or plan['krl']
        diffs = [file_diff(change) for change in changes]
        certs = []
        try:
            for key, job in jobs:
                entry = {'path': host_cert_path(key), 'key': key, 'changed': job.needed, 'reason': job.reason}
                if not job.needed:
                    entry.update(job.kept())
                certs.append((entry, key, job))
        except WardenError as exc:  # the audit log refused the kept record
            result.update(failed=True, msg=str(exc))
            return result

        needed = [(entry, key, job) for entry, key, job in certs if job.needed]
        if self._task.check_mode or not (changes or plan['krl'] or needed):
            for entry, key, job in needed:
                entry.update(job.planned())
                diffs.append(dict(job.diff(), before_header=entry['path'], after_header=entry['path']))
            result.update(changed=bool(changes or plan['krl'] or needed),
                          changed_files=[c['path'] for c in changes] + [e['path'] for e, k, j in needed],
                          host_certs=[e for e, k, j in certs])
            if self._task.diff and diffs:
                result['diff'] = diffs
            return result

        # 3. sign what must be renewed (nothing is written when the gate or the backend says no)
        seen_keys = dict((item['key'], item) for item in seen['host_keys'])
        if needed:
            names = needed[0][2].request['principals']
            note = reported_names_note(host, names, [seen.get('fqdn'), seen.get('hostname')])
            if note:
                self._display.warning(note)
        signed = []
        for entry, key, job in needed:
            try:
                cert = job.sign()
            except WardenError as exc:
                # signed and recorded, but never sent to the host
                notes = ''.join(done.write_failed('not written: %s failed' % entry['path']) for done in signed)
                if isinstance(exc, PolicyDenied):
                    result.update(denied_fields(exc))
                result.update(failed=True, msg='%s: %s%s' % (entry['path'], exc, notes))
                return result
            signed.append(job)
            for warning in job.warnings:
                self._display.warning(warning)
            changes.append({'kind': 'host_cert', 'path': entry['path'], 'before': seen_keys[key]['certificate'],
                            'after': cert + '\n', 'mode': 0o644, 'owner': None, 'group': None,
                            'public_key': seen_keys[key]['public_key']})

        # 4. one round trip: write everything, sshd -t, reload (the host restores itself on failure)
        apply_args = dict(reload_args, state='apply', files=[write_args(change) for change in changes],
                          pending_path=args['pending_path'], mark_pending=result['trust_changed'],
                          keep_backups=args['keep_backups'])
        if plan['krl']:
            apply_args['krl'] = {'path': args['krl_path'], 'spec': args['krl_path'] + '.spec',
                                 'ca_path': args['ca_path']}
        applied = self._host_call(apply_args, task_vars)
        if applied.get('failed'):
            notes = ''.join(job.write_failed(applied.get('msg')) for entry, key, job in needed)
            result.update(failed=True, changed=bool(applied.get('changed')), msg='%s%s' % (applied.get('msg'), notes),
                          backups=applied.get('backups') or {}, restored=applied.get('restored', False))
            return result

        for entry, key, job in needed:
            entry.update(job.written())
            diffs.append(dict(job.diff(), before_header=entry['path'], after_header=entry['path']))
        result.update(changed=True, changed_files=applied.get('changed_files', []), backups=applied.get('backups', {}),
                      reloaded=applied.get('reloaded', False), host_certs=[e for e, k, j in certs],
                      verify_pending=result['verify_pending'] or bool(applied.get('pending')))
        if self._task.diff and diffs:
            result['diff'] = diffs
        return result

    def _plan_certs(self, args, seen, host, renew_before, task_vars):
        """A CertJob per host key, planned from what the inspection read (the names from the inventory only)."""
        if not args['host_keys']:
            return []
        names = host_cert_principals(args['host_cert_principals'], task_vars, self._templar, 'host_cert_principals')
        ca_keys = args['host_signing_ca_keys']
        if not ca_keys and args['signing_ca_keys'] and host_ca_is_user_ca(args.get('backend'), args.get('openbao')):
            ca_keys = args['signing_ca_keys']
        if ca_keys:
            # planning needs only the host CA's public keys read once for the run; the backend is built at a sign
            from ansible_collections.netkingdom.warden.plugins.module_utils._audit.log import AuditLog
            factory = functools.partial(make_backend, args.get('backend'), args.get('openbao'), args.get('local_ca'))
            backend = KnownCABackend(ca_keys, backend_name(args.get('backend'), args.get('openbao')), factory)
            service = SigningService(backend, audit=AuditLog(args.get('audit_log')))
        else:
            service = build_service(args, user_cert=False)
        request = cert_request('host', principals=names, ttl_hours=args['host_cert_ttl_hours'])
        jobs = []
        for item in seen['host_keys']:
            if item['public_key'] is None:
                raise WardenError('host key %s has no public key %s.pub on the host; generate it first'
                                  % (item['key'], item['key']))
            job = CertJob(service, request, host, renew_before, args['force'], subject=args['subject'])
            job.plan(item['public_key'], item['certificate'])
            jobs.append((item['key'], job))
        return jobs

    def _plan_actor_certs(self, args, seen, host):
        """``(kept, pending)`` for the workload actors' certificates, from the same inspection.

        A valid certificate is kept and audited ``kept`` exactly as ``ssh_cert`` does it; every other
        actor (certificate missing, expiring, for another key or CA, key missing, or a problem such as an
        actor not in the inventory) is left to the ``ssh_cert`` task, which signs, or reports the problem.
        """
        items = args['actor_certs']
        if not items:
            return [], []
        from ansible_collections.netkingdom.warden.plugins.module_utils._inventory.actors import resolve_actors
        from ansible_collections.netkingdom.warden.plugins.module_utils._audit.log import AuditLog
        actors, dummy = resolve_actors(args.get('actors'), args.get('inventory_file'))
        name = backend_name(args.get('backend'), args.get('openbao'))
        factory = functools.partial(make_backend, args.get('backend'), args.get('openbao'), args.get('local_ca'))
        # planning needs only the CA public keys; with none read for the run, the real backend gives them
        backend = KnownCABackend(args['signing_ca_keys'], name, factory) if args['signing_ca_keys'] else factory()
        service = SigningService(backend, audit=AuditLog(args.get('audit_log')), actors=actors)
        seen_keys = dict((entry['key'], entry) for entry in seen.get('actor_keys') or [])
        kept, pending = [], []
        from ansible_collections.netkingdom.warden.plugins.module_utils._gate.gate import subject_for
        for item in items:
            entry = seen_keys.get(item['key']) or {}
            # a fleet run: each actor its own subject (the inventory's), never one for all (issue 13)
            subject = subject_for(item['actor'], (actors or {}).get(item['actor']), fleet=True)
            todo = {'actor': item['actor'], 'key': item['key'], 'path': host_cert_path(item['key']),
                    'subject': subject}
            if entry.get('public_key') is None:
                pending.append(dict(todo, reason='missing'))
                continue
            try:
                request = cert_request('user', actors, item['actor'])
                job = CertJob(service, request, host, parse_renew_before(item.get('renew_before')), item['force'],
                              subject=subject)
                reason = job.plan(entry['public_key'], entry.get('certificate'))
            except WardenError as exc:
                pending.append(dict(todo, reason='error', msg=str(exc)))  # ssh_cert reports it
                continue
            if job.needed:
                pending.append(dict(todo, reason=reason))
            else:
                kept.append(dict(todo, changed=False, reason=reason, **job.kept()))
        return kept, pending

    def _restore(self, result, args, reload_args, task_vars):
        backups = args['backups'] or {}
        if not backups:
            result.update(changed=False, changed_files=[], reloaded=False)
            return result
        restored = self._host_call(dict(reload_args, state='restore', backups=backups), task_vars)
        result.update(changed=bool(restored.get('changed')), changed_files=restored.get('changed_files', []),
                      reloaded=restored.get('reloaded', False))
        if restored.get('failed'):
            result.update(failed=True, msg=restored.get('msg'))
        return result
