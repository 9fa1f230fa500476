# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prove a host lets a principal in: a throw-away key, a short-lived gated probe certificate,
one real SSH login from the controller, and nothing left behind. No module runs on the host."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shlex
import shutil
import subprocess
import tempfile
import time

from ansible.plugins.action import ActionBase

from ansible_collections.netkingdom.warden.plugins.module_utils._host.certs import cert_path
from ansible_collections.netkingdom.warden.plugins.module_utils._host.accounts import account_problem, address_problem
from ansible_collections.netkingdom.warden.plugins.module_utils._inventory.actors import principal_problem
from ansible_collections.netkingdom.warden.plugins.module_utils._signing.argspec import PROBE_SPEC
from ansible_collections.netkingdom.warden.plugins.module_utils._signing.request import cert_request
from ansible_collections.netkingdom.warden.plugins.module_utils._signing.service import PolicyDenied, build_service
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError, WardenError
from ansible_collections.netkingdom.warden.plugins.plugin_utils.task_vars import apply_play_defaults

# Options first: for an -o given twice ssh keeps the first, so the inventory's ssh args cannot
# turn multiplexing back on (a shared master connection would skip authentication altogether).
PROBE_OPTIONS = ['-F', '/dev/null', '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none', '-o', 'BatchMode=yes',
                 '-o', 'ControlMaster=no', '-o', 'ControlPath=none', '-o', 'PasswordAuthentication=no',
                 '-o', 'KbdInteractiveAuthentication=no', '-o', 'PubkeyAuthentication=yes']


def destination_problems(account, address, principal):
    """``(field, why)`` for every part of the ssh destination that could be read as something else
    (an option such as ``-oProxyCommand=...``), checked before anything is signed."""
    checks = (('account', account_problem(account)), ('address', address_problem(address)),
              ('principal', principal_problem(principal)))
    return [(field, why) for field, why in checks if why]


def owner_of(actors, principal):
    """The actor (first by name) whose principals include ``principal``."""
    owners = sorted(name for name, actor in (actors or {}).items() if principal in actor['principals'])
    if not owners:
        raise ValidationError([('actor', 'no actor in the inventory holds principal %r; name one with actor' % principal)],
                              what='options')
    return owners[0]


class ActionModule(ActionBase):
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        dummy, args = self.validate_argument_spec(argument_spec=PROBE_SPEC)
        args = apply_play_defaults(args, task_vars, self._templar, signing=True)
        host = task_vars.get('inventory_hostname')
        address = args['address'] or task_vars.get('ansible_host') or host
        port = args['port'] or int(task_vars.get('ansible_port') or 22)
        problems = destination_problems(args['account'], address, args['principal'])
        if problems:
            result.update(failed=True, msg='probe login refused before signing: %s'
                          % ValidationError(problems, what='probe destination'))
            return result
        if self._task.check_mode:
            result.update(changed=False, skipped=True, msg='check mode: no probe login')
            return result
        workdir = tempfile.mkdtemp(prefix='warden-probe-')
        try:
            service = build_service(args)
            actor = args['actor'] or owner_of(service.actors, args['principal'])
            request = cert_request('user', service.actors, actor, [args['principal']], args['ttl_hours'])
            key = os.path.join(workdir, 'id')
            subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'warden-probe', '-f', key],
                           check=True, capture_output=True)
            with open(key + '.pub') as handle:
                public_key = handle.read()
            cert, parsed, decision = service.issue(request, public_key, host, 'probe')
            if decision is not None and decision.warnings:
                result['warnings'] = list(decision.warnings)
            with open(cert_path(key), 'w') as handle:
                handle.write(cert + '\n')
            # '--' ends the options: nothing after it is read as one, whatever the inventory holds
            argv = (['ssh'] + PROBE_OPTIONS + ['-o', 'ConnectTimeout=%d' % args['timeout'], '-i', key,
                                               '-o', 'CertificateFile=%s' % cert_path(key)]
                    + shlex.split(args['ssh_args'])
                    + ['-p', str(port), '--', '%s@%s' % (args['account'], address), 'true'])
            attempts = max(1, args['retries'] + 1)
            for attempt in range(attempts):
                login = subprocess.run(argv, capture_output=True, text=True, timeout=args['timeout'] + 20, check=False)
                if login.returncode == 0:
                    break
                time.sleep(0.5 * (attempt + 1))  # sshd refuses connections for a moment after a reload
        except PolicyDenied as exc:
            result.update(failed=True, msg='probe certificate refused: %s' % exc)
            return result
        except (WardenError, subprocess.SubprocessError, OSError) as exc:
            result.update(failed=True, msg='probe login could not run: %s' % exc)
            return result
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        result.update(changed=False, account=args['account'], principal=args['principal'], actor=actor,
                      key_id=parsed['key_id'], serial=str(parsed['serial']), attempts=attempt + 1)
        if login.returncode != 0:
            result.update(failed=True, msg='login as %s with a certificate for principal %s was refused by %s: %s'
                          % (args['account'], args['principal'], host, login.stderr.strip()[-500:]))
        return result
