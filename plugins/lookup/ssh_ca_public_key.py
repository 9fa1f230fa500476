# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: ssh_ca_public_key
short_description: The SSH CA public key(s) for TrustedUserCAKeys and @cert-authority lines
version_added: 0.1.0
description:
  - Returns the public key of the CA that signs O(cert_type) certificates, one line per key - V(user) for
    C(TrustedUserCAKeys) files on hosts, V(host) for C(@cert-authority) lines in clients' known_hosts.
  - OpenBao, the engine's unauthenticated C(public_key) (no token needed) of O(openbao.mount) for user
    certificates and of O(openbao.host_mount) for host certificates (the same mount unless the host CA has a
    mount of its own); with O(all_issuers=true) the public key of every issuer on that mount (authenticated),
    so old and new CA can be trusted side by side during a CA rotation.
  - Local backend, the public key of the local CA (it signs both types).
author:
  - netkingdom.warden developers (@netkingdom)
extends_documentation_fragment:
  - netkingdom.warden.signing
  - netkingdom.warden.signing.PLUGINS
  - netkingdom.warden.openbao
  - netkingdom.warden.openbao.PLUGINS
  - netkingdom.warden.warden_config
options:
  _terms:
    description: Not used.
    type: list
    elements: str
    required: false
  all_issuers:
    description: With OpenBao, every issuer's key instead of the default issuer's.
    type: bool
    default: false
  cert_type:
    description:
      - Which CA - V(user) signs the certificates hosts accept for logins (C(TrustedUserCAKeys)), V(host) signs
        the host certificates clients accept (C(@cert-authority) lines).
    type: str
    choices: [user, host]
    default: user
seealso:
  - module: netkingdom.warden.ssh_cert
"""

EXAMPLES = r"""
- name: Trust the CA for user certificates
  ansible.builtin.copy:
    content: "{{ lookup('netkingdom.warden.ssh_ca_public_key', wantlist=true) | join('\n') }}\n"
    dest: /etc/ssh/ca/ca_user.pub
    mode: "0644"

- name: Trust host certificates in known_hosts (the host CA, its own mount in OpenBao's two-mount layout)
  ansible.builtin.lineinfile:
    path: ~/.ssh/known_hosts
    line: "@cert-authority *.fleet.example {{ lookup('netkingdom.warden.ssh_ca_public_key', cert_type='host') }}"
"""

RETURN = r"""
_raw:
  description: CA public key lines.
  type: list
  elements: str
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.netkingdom.warden.plugins.module_utils.errors import WardenError
from ansible_collections.netkingdom.warden.plugins.module_utils._signing.backends import make_backend
from ansible_collections.netkingdom.warden.plugins.plugin_utils.task_vars import set_lookup_options


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        set_lookup_options(self, variables, kwargs)
        try:
            all_issuers = self.get_option('all_issuers')
            cert_type = self.get_option('cert_type')
            backend = make_backend(self.get_option('backend'), self.get_option('openbao'), self.get_option('local_ca'),
                                   need_auth=all_issuers)
            if backend.name == 'openbao' and all_issuers:
                return [issuer['public_key'].strip()
                        for issuer in backend.signer.issuer_public_keys(backend.mount_for(cert_type))]
            return list(backend.ca_public_keys(cert_type))
        except WardenError as exc:
            raise AnsibleLookupError(str(exc))
