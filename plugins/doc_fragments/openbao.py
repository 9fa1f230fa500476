# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """The OpenBao connection, auth and SSH engine options (documented once, used by every signing plugin).

    Option names follow community.hashi_vault. They are grouped in one dict option, O(openbao), so they
    never clash with a plugin's own options (O(policy.token) is not O(openbao.token)) and one play
    variable, C(warden_openbao), configures every plugin. Secrets are best injected as environment
    variables (AWX credential types, execution environments), not written into that variable.
    """

    DOCUMENTATION = r"""
options:
  openbao:
    description:
      - How to reach OpenBao, how to log in, and which SSH engine mount and roles sign.
      - Each sub-option falls back to the environment variables named in its description, in that
        order (C(BAO_*) before C(VAULT_*)), then to its default. An empty environment variable counts as unset.
      - There is no C(~/.vault-token) fallback and an ambient C(VAULT_TOKEN) is never used by any auth
        method other than V(token); credentials are explicit.
      - The controller logs in once per process and settings, not once per host or loop item.
      - In the action plugins, defaults to the play variable C(warden_openbao). Sub-options left unset are
        then taken from the C(vault) section of the ops-warden C(warden.yaml) named by the play variable
        C(warden_config) (or E(WARDEN_CONFIG)), before the environment variables;
        see C(docs/migration-from-ops-warden.md).
    type: dict
    suboptions:
      url:
        description:
          - Address of the OpenBao API, for example V(https://openbao.example.internal:8200).
          - Required. Environment variables E(BAO_ADDR), E(VAULT_ADDR).
          - C(http://) only to a loopback address (C(127.0.0.0/8), C(::1), C(localhost)); to any other host it is
            refused before anything is sent, unless O(openbao.allow_insecure_http=true).
        type: str
      auth_method:
        description:
          - How to obtain a token.
          - V(token) uses O(openbao.token) as is, with no request.
          - V(approle) logs in with O(openbao.role_id) and O(openbao.secret_id).
          - V(jwt) logs in with O(openbao.jwt) and the role named by O(openbao.role_id).
          - V(kubernetes) logs in with the pod's service-account token (O(openbao.kubernetes_token_path))
            and the role named by O(openbao.role_id).
          - V(cert) logs in with a TLS client certificate (O(openbao.cert_auth_public_key)); needs an C(https://) O(openbao.url).
          - V(userpass) logs in with O(openbao.username) and O(openbao.password).
          - Environment variable E(WARDEN_OPENBAO_AUTH_METHOD). Default V(token).
        type: str
        choices: [approle, cert, jwt, kubernetes, token, userpass]
      token:
        description:
          - B(Secret.) The OpenBao token for O(openbao.auth_method=token). Never logged, returned or shown in errors.
          - Environment variables E(WARDEN_OPENBAO_TOKEN) (the signing token's own variable, which the AWX
            credential type injects), E(BAO_TOKEN), E(VAULT_TOKEN); the variable named by O(openbao.token_env) first.
            Ignored by every other auth method.
        type: str
      token_env:
        description:
          - Name of an environment variable to read O(openbao.token) from before the others (ops-warden's
            C(vault.token_env)), for example V(OPS_SIGNING_TOKEN).
        type: str
      role_id:
        description:
          - For V(approle), the RoleID. For V(jwt) and V(kubernetes), the name of the OpenBao role to log in to.
            For V(cert), the cert role to try (unset tries all).
          - Environment variables E(BAO_ROLE_ID), E(VAULT_ROLE_ID).
        type: str
      secret_id:
        description:
          - B(Secret.) The AppRole SecretID. Optional for roles created with C(bind_secret_id=false).
          - Environment variables E(BAO_SECRET_ID), E(VAULT_SECRET_ID).
        type: str
      jwt:
        description:
          - B(Secret.) The JSON Web Token for O(openbao.auth_method=jwt), for example a CI job's OIDC token.
          - Environment variable E(WARDEN_OPENBAO_JWT).
        type: str
      username:
        description:
          - User name for O(openbao.auth_method=userpass). Environment variable E(WARDEN_OPENBAO_USERNAME).
        type: str
      password:
        description:
          - B(Secret.) Password for O(openbao.auth_method=userpass). Environment variable E(WARDEN_OPENBAO_PASSWORD).
        type: str
      mount_point:
        description:
          - Path of the auth method's mount, when it is not the method's name (V(approle), V(jwt),
            V(kubernetes), V(cert), V(userpass)). Not used by V(token).
          - Environment variable E(WARDEN_OPENBAO_MOUNT_POINT).
        type: str
      kubernetes_token_path:
        description:
          - File holding the pod's service-account token for O(openbao.auth_method=kubernetes); read again at each login.
          - Environment variable E(WARDEN_OPENBAO_KUBERNETES_TOKEN_PATH).
          - Default V(/var/run/secrets/kubernetes.io/serviceaccount/token).
        type: path
      cert_auth_public_key:
        description:
          - For O(openbao.auth_method=cert), the client certificate file (PEM).
          - Environment variables E(BAO_CLIENT_CERT), E(VAULT_CLIENT_CERT).
        type: path
      cert_auth_private_key:
        description:
          - For O(openbao.auth_method=cert), the private key file (PEM) of O(openbao.cert_auth_public_key),
            when it is not in the same file. Keep it readable only by the controller user.
          - Environment variables E(BAO_CLIENT_KEY), E(VAULT_CLIENT_KEY).
        type: path
      namespace:
        description:
          - OpenBao namespace of the auth and SSH mounts. Environment variables E(BAO_NAMESPACE), E(VAULT_NAMESPACE).
        type: str
      ca_cert:
        description:
          - CA bundle file (or directory) to verify OpenBao's TLS certificate.
          - Environment variables E(BAO_CACERT), E(BAO_CAPATH), E(VAULT_CACERT), E(VAULT_CAPATH).
        type: path
      validate_certs:
        description:
          - Verify OpenBao's TLS certificate. Only turn off for throw-away test beds.
          - Environment variables E(BAO_SKIP_VERIFY), E(VAULT_SKIP_VERIFY), with the inverse meaning.
          - Default V(true).
        type: bool
      timeout:
        description:
          - Seconds to wait for each answer. Environment variables E(BAO_CLIENT_TIMEOUT),
            E(VAULT_CLIENT_TIMEOUT) (a number, or V(30s) / V(1m)). Default V(10).
        type: float
      retries:
        description:
          - Extra attempts, with exponential backoff, after a connection error, a timeout, HTTP 429 or a 5xx
            answer. A sealed server fails at once.
          - Signing is not idempotent on the server, so a retried sign request may have issued a
            certificate already; that one stays unused (only the returned certificate is written and audited).
          - Environment variables E(BAO_MAX_RETRIES), E(VAULT_MAX_RETRIES). Default V(2).
        type: int
      mount:
        description:
          - Path of the SSH secrets engine mount that signs user certificates (the user CA).
            Environment variable E(WARDEN_OPENBAO_MOUNT). Default V(ssh).
        type: str
      host_mount:
        description:
          - Path of the SSH secrets engine mount that signs host certificates (the host CA), for OpenBao's
            two-mount layout (for example V(ssh-host-signer)).
          - Environment variable E(WARDEN_OPENBAO_HOST_MOUNT). Default O(openbao.mount), so one CA signs both.
        type: str
      role_map:
        description:
          - 'SSH role per actor type, merged over the default C({adm: adm-role, agt: agt-role, atm: atm-role}).'
          - Keys must be actor types, or V(host) for the host role (the same as O(openbao.host_role); give one).
          - Environment variable E(WARDEN_OPENBAO_ROLE_MAP) (a JSON object).
        type: dict
      host_role:
        description:
          - SSH role that signs host certificates (C(cert_type=host)), on O(openbao.host_mount).
          - Environment variable E(WARDEN_OPENBAO_HOST_ROLE). Default V(host-role).
        type: str
      allow_insecure_http:
        description:
          - Allow an O(openbao.url) of C(http://) to a host that is not loopback, on purpose (for example an
            in-cluster address with no TLS). The token, and the CA public key every host then trusts, cross that
            network unprotected.
          - Environment variable E(WARDEN_ALLOW_INSECURE_HTTP). Default V(false).
        type: bool
notes:
  - "Least privilege for the token: C(create) and C(update) on C(<mount>/sign/<role>) for the roles it signs with;
     C(list) on C(<mount>/issuers) only where every CA of a mount is read (CA rotation). The CA public key
     (C(<mount>/public_key)) is read without a token."
  - "Key ids: a role without C(allow_user_key_ids) (the way ops-warden's runbook creates them) refuses a sign request
     that carries one with HTTP 400. The collection then signs without it once more (nothing was signed the first
     time), remembers the role for the rest of the process, and warns once; OpenBao names the key id itself and the
     audit record ties the certificate's serial to its policy decision."
requirements:
  - hvac (Python library, on the controller)
"""

    # Lookups read the same dict from a play variable too.
    PLUGINS = r"""
options:
  openbao:
    vars:
      - name: warden_openbao
"""
