# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: ssh_cert
short_description: Sign public keys for an actor inside any play, gated and audited
version_added: 0.1.0
description:
  - Signs each public key line in the terms for O(actor) and returns the certificate lines, through the
    same path as M(netkingdom.warden.ssh_cert) (validate, policy gate, sign, audit), on the controller.
  - This is how other playbooks and C(cert_command) users get a certificate without a module round trip.
  - A deny or an unavailable gate (with fail_closed) raises an error with the reason; nothing is signed.
  - Each certificate's audit record is written before the lookup returns it; when it cannot be written the
    certificate is discarded and the lookup fails.
  - The gate decision's warnings (gate off, PDP unavailable with O(policy.fail_closed=false)) are shown as
    warnings of the task.
author:
  - netkingdom.warden developers (@netkingdom)
extends_documentation_fragment:
  - netkingdom.warden.policy_gate
  - netkingdom.warden.policy_gate.ACTORS
  - netkingdom.warden.policy_gate.PLUGINS
  - netkingdom.warden.signing
  - netkingdom.warden.audit
  - netkingdom.warden.audit.PLUGINS
  - netkingdom.warden.signing.PLUGINS
  - netkingdom.warden.openbao
  - netkingdom.warden.openbao.PLUGINS
  - netkingdom.warden.warden_config
options:
  _terms:
    description: OpenSSH public key lines to sign.
    type: list
    elements: str
    required: true
  actor:
    description: The actor the certificates are for.
    type: str
    required: true
  principals:
    description: A subset of the actor's principals; default all of them.
    type: list
    elements: str
  ttl_hours:
    description: Lifetime in hours; default the actor's C(ttl_hours), never more.
    type: float
  host:
    description: Recorded as C(host) in the audit log (for example the host the key belongs to).
    type: str
notes:
  - Runs on the controller. Every call signs anew (no cache); use M(netkingdom.warden.ssh_cert) to keep
    valid certificates on hosts.
seealso:
  - module: netkingdom.warden.ssh_cert
"""

EXAMPLES = r"""
- name: Sign the bridge key a tunnel will use
  ansible.builtin.set_fact:
    bridge_cert: "{{ lookup('netkingdom.warden.ssh_cert', bridge_public_key, actor='agt-state-hub-bridge') }}"
"""

RETURN = r"""
_raw:
  description: One certificate line per public key, in order.
  type: list
  elements: str
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible.utils.display import Display

from ansible_collections.netkingdom.warden.plugins.module_utils._signing.service import build_service
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import WardenError
from ansible_collections.netkingdom.warden.plugins.module_utils._signing.request import cert_request
from ansible_collections.netkingdom.warden.plugins.plugin_utils.task_vars import set_lookup_options

display = Display()
OPTIONS = ('actor', 'principals', 'ttl_hours', 'host', 'subject', 'actors', 'inventory_file', 'policy',
           'backend', 'openbao', 'local_ca', 'audit_log')


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        set_lookup_options(self, variables, kwargs)
        args = dict((name, self.get_option(name)) for name in OPTIONS)
        host = args['host'] or (variables or {}).get('inventory_hostname') or 'controller'
        certs, warnings, service = [], [], None
        try:
            service = build_service(args)
            request = cert_request('user', service.actors, args['actor'], args['principals'], args['ttl_hours'])
            for term in terms:
                cert, dummy, decision = service.issue(request, term, host, 'requested', subject=args['subject'])
                warnings.extend(decision.warnings if decision is not None else [])
                certs.append(cert)
        except WardenError as exc:
            raise AnsibleLookupError(str(exc))
        finally:
            for warning in sorted(set(warnings + (service.take_warnings() if service else []))):
                display.warning(warning)
        return certs
