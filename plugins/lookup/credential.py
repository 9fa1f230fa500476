# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: credential
short_description: Fetch a credential as yourself - gated, audited, never kept
version_added: 0.1.0
description:
  - Routes each need in the terms through the routing catalog (as P(netkingdom.warden.credential_route#lookup)
    does) and, for an exec-capable C(secret) lane whose command is an OpenBao KV version 2 read
    (C(bao kv get -mount=... -field=... <path>)), reads the value B(with the caller's own OpenBao token) and
    returns it once.
  - "G1 caller identity: the token comes from E(BAO_TOKEN), else E(VAULT_TOKEN), else C(~/.vault-token) of the
    controller user (what C(bao login) writes). The lookup has no token option and never uses a token the
    collection is configured with (C(warden_openbao), O(netkingdom.warden.ssh_cert#module:openbao.token)). With
    no token of your own the fetch is refused with the login lane to use."
  - "A caller token that is the collection's signing token (the same value as E(WARDEN_OPENBAO_TOKEN),
    C(warden_openbao.token) or the variable C(warden_openbao.token_env) names) is refused, without showing either:
    the signer's identity never fetches a credential."
  - "G3 gate before every fetch: action C(read) on the lane's C(policy_ref) (resource type C(credential-lane)),
    decided by the embedded evaluator or a flex-auth PDP. A deny or an unavailable PDP fetches nothing, even
    with O(policy.fail_closed=false). With O(policy.mode=off) the fetch is refused unless O(allow_ungated=true) and the controller's
    environment has E(WARDEN_ALLOW_UNGATED=1)."
  - "G2 transit only: the value is returned once, marked unsafe (never templated), and is not cached, written
    or logged by the collection. One audit record per attempt holds metadata only (subject, need id, owner,
    domain, decision id, outcome)."
  - Login lanes (interactive OIDC and the like) are never run - a lookup is a non-interactive run. The lookup
    fails with the command to run yourself, or returns the route with O(login_lane=pointer).
author:
  - netkingdom.warden developers (@netkingdom)
extends_documentation_fragment:
  - netkingdom.warden.audit
  - netkingdom.warden.audit.PLUGINS
  - netkingdom.warden.routing
options:
  _terms:
    description: Credential needs (V(npm token)) or catalog entry ids (V(npm-publish-token)).
    required: true
    type: list
    elements: str
  catalog:
    description:
      - Path, on the controller, of the routing catalog. Required; see P(netkingdom.warden.credential_route#lookup).
    type: path
    env:
      - name: WARDEN_ROUTING_CATALOG
    vars:
      - name: warden_routing_catalog
  subject:
    description:
      - The subject the gate decides for (C(subject.id)), for example V(iam:alice@netkingdom.example).
      - Default the environment variable E(WARDEN_POLICY_SUBJECT), else the controller's login name.
    type: str
  subject_type:
    description: C(subject.type) in the gate request; default the actor type for actor names, else V(user).
    type: str
  access:
    description:
      - "For the embedded gate, who may read which lane: C({<catalog entry id>: [subject ids]}).
        A lane not listed may be read by nobody."
      - Not used with O(policy.mode=flex_auth) (the PDP's registry decides) or with O(policy.registry) (the
        snapshot decides).
    type: dict
    default: {}
    vars:
      - name: warden_credential_access
  policy:
    description:
      - How the policy gate decides before anything is fetched (the options of the signing gate, see
        M(netkingdom.warden.policy_check)); default the play variable C(warden_policy).
      - Each sub-option falls back to its environment variable, then to its default.
    type: dict
    default: {}
    vars:
      - name: warden_policy
    suboptions:
      mode:
        description:
          - V(embedded) evaluates in-process (lanes from the catalog and O(access), or O(policy.registry)).
          - V(flex_auth) asks a remote flex-auth PDP with C(POST /v1/check).
          - V(off) checks nothing; a fetch is then refused unless O(allow_ungated=true).
          - Environment variable E(WARDEN_POLICY_MODE). Default V(embedded).
        type: str
        choices: [ 'off', embedded, flex_auth ]
      registry:
        description:
          - A registry snapshot file (with credential lanes) for V(embedded) mode, instead of building the lanes
            from the catalog and O(access). Environment variable E(WARDEN_POLICY_REGISTRY).
        type: path
      url:
        description: Base URL of the flex-auth PDP. Required for V(flex_auth). Environment variable E(WARDEN_POLICY_URL).
        type: str
      fail_closed:
        description:
          - Ignored for fetches - an unavailable PDP never lets a credential through. (It applies to signing.)
        type: bool
      tenant:
        description: Tenant sent in every request. Environment variable E(WARDEN_POLICY_TENANT). Default V(tenant:platform).
        type: str
      system:
        description: Protected system name sent as C(resource.system). Default V(ops-warden).
        type: str
      token:
        description: Bearer token for the PDP (not an OpenBao token). Never logged. Environment variable E(WARDEN_POLICY_TOKEN).
        type: str
      client_cert:
        description: Client certificate (PEM) for mutual TLS with the PDP. Environment variable E(WARDEN_POLICY_CLIENT_CERT).
        type: path
      client_key:
        description: Private key of O(policy.client_cert). Environment variable E(WARDEN_POLICY_CLIENT_KEY).
        type: path
      ca_cert:
        description: CA bundle to verify the PDP's TLS certificate. Environment variable E(WARDEN_POLICY_CA_CERT).
        type: path
      validate_certs:
        description: Verify the PDP's TLS certificate. Environment variable E(WARDEN_POLICY_VALIDATE_CERTS). Default V(true).
        type: bool
      timeout:
        description: Seconds to wait for each PDP answer. Environment variable E(WARDEN_POLICY_TIMEOUT). Default V(5).
        type: float
      retries:
        description: Extra attempts after a connection error, a timeout or a 5xx answer. Environment variable E(WARDEN_POLICY_RETRIES). Default V(2).
        type: int
      subject_env:
        description: The environment variable holding the default O(subject). Default V(WARDEN_POLICY_SUBJECT).
        type: str
      allow_insecure_http:
        description:
          - Allow a PDP O(policy.url) of C(http://) to a host that is not loopback. Environment variable
            E(WARDEN_ALLOW_INSECURE_HTTP). Default V(false).
        type: bool
  allow_ungated:
    description: Acknowledge fetching with O(policy.mode=off) (the gate checks nothing). Default refuse.
    type: bool
    default: false
  login_lane:
    description:
      - V(fail) fails on a login lane with the command to run yourself.
      - V(pointer) returns the route (a dict, see P(netkingdom.warden.credential_route#lookup)) instead of a value.
    type: str
    choices: [fail, pointer]
    default: fail
  url:
    description:
      - OpenBao API address. Default the environment variable E(BAO_ADDR), else E(VAULT_ADDR).
    type: str
  namespace:
    description: OpenBao namespace. Default E(BAO_NAMESPACE), else E(VAULT_NAMESPACE).
    type: str
  ca_cert:
    description: CA bundle to verify OpenBao's TLS certificate. Default E(BAO_CACERT), else E(VAULT_CACERT).
    type: path
  validate_certs:
    description: Verify OpenBao's TLS certificate. Default V(true) (E(BAO_SKIP_VERIFY) inverts it).
    type: bool
  timeout:
    description: Seconds to wait for OpenBao. Default V(10).
    type: float
  retries:
    description: Extra attempts after a connection error, a timeout or a 5xx answer. Default V(2).
    type: int
  allow_insecure_http:
    description:
      - Allow an O(url) of C(http://) to a host that is not loopback (the caller's token would cross the network
        unprotected). C(https://) and C(http://) to C(127.0.0.0/8), C(::1) or C(localhost) need no opt-in.
      - Default the environment variable E(WARDEN_ALLOW_INSECURE_HTTP), else V(false).
    type: bool
notes:
  - Runs on the controller, as the user who runs the play (or the AWX job's injected credential).
  - The lookup cannot hide its result from Ansible's own output - put C(no_log=true) on every task that holds
    the value (C(set_fact), C(copy), ...), or the value is shown in verbose output and job events.
  - Every call fetches again; nothing is cached. Fetch where the value is used.
seealso:
  - plugin: netkingdom.warden.credential_route
    plugin_type: lookup
  - module: netkingdom.warden.credential_route
"""

EXAMPLES = r"""
- name: Publish with the domain's npm token, read as myself (never shown, never kept)
  ansible.builtin.command:
    cmd: npm publish
    chdir: "{{ package_dir }}"
  environment:
    NPM_AUTH_TOKEN: "{{ lookup('netkingdom.warden.credential', 'npm token', domain='coulomb_social',
                       path='npm', field='NPM_AUTH_TOKEN') }}"
  no_log: true
  changed_when: true
  vars:
    warden_routing_catalog: /etc/warden/routing/catalog.yaml
    warden_credential_access:
      npm-publish-token: [iam:release-bot@netkingdom.example]
"""

RETURN = r"""
_raw:
  description:
    - One value per term, marked unsafe (Jinja is never evaluated in it).
    - With O(login_lane=pointer), a login lane's route instead of a value.
  type: list
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible.utils.display import Display
from ansible.utils.unsafe_proxy import wrap_var

from ansible_collections.netkingdom.warden.plugins.module_utils._routing.credentials import CredentialFetcher
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import WardenError
from ansible_collections.netkingdom.warden.plugins.module_utils._routing.catalog import load_catalog_file
from ansible_collections.netkingdom.warden.plugins.module_utils._routing.match import route_warnings
from ansible_collections.netkingdom.warden.plugins.module_utils._routing.route import placeholder_values
from ansible_collections.netkingdom.warden.plugins.plugin_utils.task_vars import lookup_var_options, play_signer_openbao

display = Display()
CONNECTION = ('url', 'namespace', 'ca_cert', 'validate_certs', 'timeout', 'retries', 'allow_insecure_http')


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=lookup_var_options(self, variables), direct=kwargs)
        variables = variables or {}
        values = []
        warnings = []
        fetcher = None
        try:
            catalog = load_catalog_file(self.get_option('catalog'))
            fetcher = CredentialFetcher({
                'catalog': catalog,
                'values': placeholder_values(self.get_option('domain'), self.get_option('field'),
                                             self.get_option('path'), self.get_option('placeholders')),
                'subject': self.get_option('subject'),
                'subject_type': self.get_option('subject_type'),
                'policy': self.get_option('policy'),
                'access': self.get_option('access'),
                'allow_ungated': self.get_option('allow_ungated'),
                'login_lane': self.get_option('login_lane'),
                'openbao': dict((name, self.get_option(name)) for name in CONNECTION),
                'signer': play_signer_openbao(self, variables),  # only to refuse its token as the caller's
                'audit_log': self.get_option('audit_log'),
                'host': variables.get('inventory_hostname') or 'controller',
                'job_id': str(variables['awx_job_id']) if variables.get('awx_job_id') else None,
            })
            for term in terms:
                value, route, dummy = fetcher.fetch(term)
                warnings.extend(route_warnings(catalog, [route]))
                values.append(route if route['lane'] == 'login' else value)
                del value
        except WardenError as exc:
            raise AnsibleLookupError(str(exc))
        finally:
            for warning in sorted(set(warnings + (fetcher.warnings if fetcher else []))):
                display.warning(warning)
        return wrap_var(values)
