# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """Signing backend choice and the local CA (OpenBao connection options are in openbao)."""

    DOCUMENTATION = r"""
options:
  backend:
    description:
      - V(openbao) signs with the OpenBao SSH secrets engine (O(openbao)); V(local) signs in-process
        with a CA key on the controller (O(local_ca)).
      - V(auto) (the default) uses OpenBao when an OpenBao URL is configured (O(openbao.url), E(BAO_ADDR)
        or E(VAULT_ADDR)), else the local CA.
      - Environment variable E(WARDEN_SIGNING_BACKEND); in action plugins, default the play variable
        C(warden_signing_backend), then C(backend) of the C(warden_config) file (V(vault) reads as V(openbao)),
        before the environment variable.
    type: str
    choices: [auto, openbao, local]
  local_ca:
    description:
      - The local CA for O(backend=local). In action plugins, default the play variable C(warden_local_ca),
        then the C(local) section of the C(warden_config) file (see C(docs/migration-from-ops-warden.md)).
    type: dict
    suboptions:
      key_path:
        description:
          - The CA private key on the controller (OpenSSH or PEM; ed25519, ecdsa or rsa).
          - Environment variable E(WARDEN_LOCAL_CA_KEY). Default V(~/.local/state/warden/ca/ca_key).
        type: path
      passphrase:
        description:
          - Passphrase of the CA key. Never logged. Environment variable E(WARDEN_LOCAL_CA_PASSPHRASE).
        type: str
      create:
        description:
          - Create the CA key (mode 0600) when O(local_ca.key_path) does not exist. An existing key is
            never replaced. Environment variable E(WARDEN_LOCAL_CA_CREATE). Default V(false).
        type: bool
      key_type:
        description:
          - Key type for O(local_ca.create) (V(ed25519), V(ecdsa), V(rsa)). Default V(ed25519).
        type: str
  subject:
    description:
      - Subject id sent to the policy gate (for example V(iam:agt-state-hub-bridge)).
      - Default C(policy.subject) of the C(warden_config) file, else the environment variable
        E(WARDEN_POLICY_SUBJECT), else the actor name.
    type: str
"""

    # Lookups read the same options from play variables too.
    PLUGINS = r"""
options:
  backend:
    vars:
      - name: warden_signing_backend
  local_ca:
    vars:
      - name: warden_local_ca
"""
