# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ensure a certificate on the target: the key is read from the host, decided and signed on
the controller, and only the certificate is written back. Private keys never leave the host;
the OpenBao token and the PDP token never reach it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.netkingdom.warden.plugins.module_utils.errors import WardenError
from ansible_collections.netkingdom.warden.plugins.module_utils._inventory.host_names import reported_names_note
from ansible_collections.netkingdom.warden.plugins.module_utils._signing.argspec import SSH_CERT_EXCLUSIVE, SSH_CERT_SPEC, default_key_path, parse_renew_before
from ansible_collections.netkingdom.warden.plugins.module_utils._signing.job import CertJob
from ansible_collections.netkingdom.warden.plugins.module_utils._signing.request import cert_request
from ansible_collections.netkingdom.warden.plugins.module_utils._signing.results import denied_fields
from ansible_collections.netkingdom.warden.plugins.module_utils._signing.service import PolicyDenied, build_service
from ansible_collections.netkingdom.warden.plugins.plugin_utils.host_pair import HostPairAction
from ansible_collections.netkingdom.warden.plugins.plugin_utils.task_vars import apply_play_defaults, host_cert_principals


class ActionModule(HostPairAction):
    HOST_MODULE = 'netkingdom.warden.ssh_cert_host'

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        dummy, args = self.validate_argument_spec(argument_spec=SSH_CERT_SPEC, mutually_exclusive=SSH_CERT_EXCLUSIVE)
        args = apply_play_defaults(args, task_vars, self._templar, signing=True)
        host = task_vars.get('inventory_hostname')
        try:
            renew_before = parse_renew_before(args['renew_before'])
            service = build_service(args, user_cert=args['type'] == 'user')
            public_key_path = args['public_key_path'] or default_key_path(args) + '.pub'
            if args['type'] == 'user':
                request = cert_request('user', service.actors, args['actor'], args['principals'], args['ttl_hours'])
            else:  # names from the inventory only, never from what the host reports about itself
                names = host_cert_principals(args['principals'], task_vars, self._templar, 'principals')
                request = cert_request('host', principals=names, ttl_hours=args['ttl_hours'])
        except WardenError as exc:
            result.update(failed=True, changed=False, msg=str(exc))
            return result

        read_args = {'state': 'read', 'public_key_path': public_key_path, 'path': args['path'],
                     'generate_key': args['generate_key'], 'key_type': args['key_type']}
        seen = self._host_call(read_args, task_vars)
        if seen.get('failed'):
            result.update(failed=True, changed=False, msg='reading %s on the host failed: %s'
                          % (public_key_path, seen.get('msg')))
            return result
        cert_path = seen['path']
        if seen['public_key'] is None:  # check mode: the key would be generated first
            result.update(changed=True, reason='missing', path=cert_path, generated=True)
            return result

        try:
            job = CertJob(service, request, host, renew_before, args['force'], subject=args['subject'])
            reason = job.plan(seen['public_key'], seen['certificate'])
        except WardenError as exc:
            result.update(failed=True, changed=False, msg=str(exc))
            return result

        result.update(path=cert_path, reason=reason, generated=seen.get('generated', False))
        if not job.needed:
            result.update(job.kept(), changed=bool(seen.get('changed')))
            return result
        if self._task.check_mode:
            result.update(job.planned(), changed=True)
            if self._task.diff:
                result['diff'] = job.diff()
            return result

        if args['type'] == 'host':
            note = reported_names_note(host, request['principals'], [seen.get('fqdn'), seen.get('hostname')])
            if note:
                self._display.warning(note)
        try:
            cert = job.sign()
        except PolicyDenied as exc:
            result.update(denied_fields(exc), failed=True, changed=False, msg=str(exc))
            return result
        except WardenError as exc:
            result.update(failed=True, changed=False, msg=str(exc))
            return result
        for warning in job.warnings:
            self._display.warning(warning)

        write_args = {'state': 'present', 'public_key_path': public_key_path, 'path': cert_path, 'content': cert,
                      'owner': args['owner'], 'group': args['group'], 'mode': args['mode']}
        written = self._host_call(write_args, task_vars)
        if written.get('failed'):
            note = job.write_failed(written.get('msg'))
            result.update(failed=True, changed=False, msg='writing %s failed: %s%s' % (cert_path, written.get('msg'), note))
            return result
        result.update(job.written(), changed=True)
        if self._task.diff:
            result['diff'] = job.diff()
        return result
