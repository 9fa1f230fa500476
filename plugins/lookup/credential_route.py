# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: credential_route
short_description: Who owns a credential and exactly how to get it, from the routing catalog
version_added: 0.1.0
description:
  - Routes each credential need in the terms (V(npm token), V(ssh to state hub), V(login oidc), or an entry
    id) to the catalog entry that owns it and returns its route - owner, subsystem, lane, auth method, the
    exact command with placeholders resolved, the gate reference and the next action - without ever
    holding a secret.
  - Matching is deterministic (keywords and title, see the C(credential-routing) documentation). A tie or a
    need with no match fails with the closest candidates, unless O(strict=false).
  - A command that would still contain a placeholder is not given out - RV(_raw[].fetch_command) is null and
    RV(_raw[].missing_placeholders) says what to supply.
  - The catalog is loaded and validated on every call (unique ids, review dates, secret guard); routes
    reviewed more than O(stale_days) days ago are shown with a warning.
author:
  - netkingdom.warden developers (@netkingdom)
extends_documentation_fragment:
  - netkingdom.warden.routing
options:
  _terms:
    description: Credential needs, or catalog entry ids.
    required: true
    type: list
    elements: str
  catalog:
    description:
      - Path, on the controller, of the routing catalog (YAML, the shape of ops-warden's C(catalog.yaml)).
      - Required; there is no built-in default catalog. The collection ships an example at
        C(docs/examples/routing/catalog.yaml).
    type: path
    env:
      - name: WARDEN_ROUTING_CATALOG
    vars:
      - name: warden_routing_catalog
  strict:
    description:
      - Fail on a tie or a no-match (the error names the closest candidates).
      - With V(false) the route is returned with RV(_raw[].match) V(tie) or V(no_match), null route fields and
        the candidates.
    type: bool
    default: true
  stale_days:
    description: Routes reviewed more than this many days ago are reported as stale.
    type: int
    default: 90
notes:
  - Runs on the controller. Nothing is cached; the catalog is read on every call.
  - Never returns or reads a secret value; to fetch a value as yourself use the
    P(netkingdom.warden.credential#lookup) lookup.
seealso:
  - module: netkingdom.warden.credential_route
  - plugin: netkingdom.warden.credential
    plugin_type: lookup
"""

EXAMPLES = r"""
- name: Where does the npm publish token of coulomb_social live?
  ansible.builtin.debug:
    msg: "{{ lookup('netkingdom.warden.credential_route', 'npm token', domain='coulomb_social',
            field='NPM_AUTH_TOKEN', path='npm', catalog='/etc/warden/routing/catalog.yaml').next_action }}"

- name: Owners of several needs, ties and no-matches included (no failure)
  ansible.builtin.set_fact:
    needs_routes: "{{ query('netkingdom.warden.credential_route', 'ssh to state hub', 'token', 'kubeconfig',
                    strict=false) }}"
"""

RETURN = r"""
_raw:
  description:
    - One route per term.
  type: list
  elements: dict
  contains:
    need:
      description: The need as asked.
      type: str
    match:
      description: V(exact) (an entry id), V(matched), V(tie) or V(no_match).
      type: str
    score:
      description: The winning score (null for an exact id).
      type: int
    id:
      description: Catalog entry id (null for a tie or a no-match).
      type: str
    owner_repo:
      description: The repository / team that owns the credential.
      type: str
    subsystem:
      description: The subsystem that holds it (for example V(openbao)).
      type: str
    lane:
      description: V(secret) (read a value) or V(login) (interactive auth bootstrap).
      type: str
    auth_method:
      description: How the caller authenticates to the owner.
      type: str
    role:
      description: V(issue) (the collection executes it - the SSH lane), V(assist) (fetchable as the caller), V(route) (a pointer).
      type: str
    fetch_command:
      description: The exact command with placeholders resolved; null while a placeholder is missing.
      type: str
    fetch_command_template:
      description: The command as written in the catalog.
      type: str
    path:
      description: The resolved C(path_template), or null.
      type: str
    missing_placeholders:
      description: Placeholders to supply before the command is given out.
      type: list
      elements: str
    policy_ref:
      description: The gate resource checked before a fetch (C(credential-lane:...)), or a pointer.
      type: str
    canon_ref:
      description: The canonical page of the route (ops-warden's C(canon_ref)), or null.
      type: str
    exec_owner:
      description: Whose own tool hands the credential over (ops-warden's C(exec_owner)), or null.
      type: str
    exec_command:
      description:
        - The owner's tool running your command with the credential, placeholders resolved (null while one is missing).
          Run by you, never by the collection.
      type: str
    pointer_command:
      description: The owner's command that says where the credential is, placeholders resolved, or null.
      type: str
    has_native_exec:
      description: The owner hands it over with its own tool - an RV(_raw[].exec_owner) with an RV(_raw[].exec_command) or a RV(_raw[].pointer_command).
      type: bool
    next_action:
      description: What to do next, in one sentence.
      type: str
    candidates:
      description: The best or closest entries (C(id), C(title), C(owner_repo), C(role), C(score) or C(closeness)).
      type: list
      elements: dict
    stale:
      description: The route was last reviewed more than O(stale_days) days ago.
      type: bool
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible.utils.display import Display

from ansible_collections.netkingdom.warden.plugins.module_utils.errors import WardenError
from ansible_collections.netkingdom.warden.plugins.module_utils._routing.match import route_request
from ansible_collections.netkingdom.warden.plugins.plugin_utils.task_vars import lookup_var_options

display = Display()


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=lookup_var_options(self, variables), direct=kwargs)
        options = dict((name, self.get_option(name)) for name in
                       ('catalog', 'stale_days', 'domain', 'field', 'path', 'placeholders'))
        try:
            dummy, routes, warnings = route_request(options, needs=terms)
        except WardenError as exc:
            raise AnsibleLookupError(str(exc))
        for warning in warnings:
            display.warning(warning)
        if self.get_option('strict'):
            for route in routes:
                if route['match'] in ('tie', 'no_match'):
                    raise AnsibleLookupError('credential_route "%s": %s' % (route['need'], route['next_action']))
        return routes
