# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Preflight on each host, from a task result the playbook gathered: the OpenSSH version (``sshd -V``)
and the registry file on each flex-auth host (``registry_file state=read``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError
from ansible_collections.netkingdom.warden.plugins.module_utils._preflight.registry import DEPLOY_FIX, compare_digest

OPENSSH_RE = re.compile(r'OpenSSH_(\d+)\.(\d+)(p\d+)?')


def parse_openssh_version(text):
    """``(major, minor, 'OpenSSH_9.2p1')`` from ``sshd -V`` / ``ssh -V`` output, or None."""
    match = OPENSSH_RE.search(text or '')
    if not match:
        return None
    return int(match.group(1)), int(match.group(2)), match.group(0)


def parse_min_version(text):
    """``(major, minor)`` of the option ``sshd_min_version`` (``8.2``); ValidationError if not so."""
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
    """``sshd_version`` of one host from its ``sshd -V`` / ``ssh -V`` task result, against ``minimum``."""
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
    """``registry_digest`` of one flex-auth host from its ``registry_file state=read`` result."""
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
    compare_digest(report, result.get('digest'), built['digest'], '%s holds' % path, host)
