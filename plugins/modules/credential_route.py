#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: credential_route
short_description: List, show or find credential routes in a routing catalog
version_added: 0.1.0
description:
  - Answers "who owns this credential and exactly how do I get it" from a routing catalog in the shape of
    ops-warden's C(catalog.yaml), without ever holding a secret.
  - O(list=true) lists every route; O(show) returns one route by id; O(find) routes a need such as
    V(npm token) or V(ssh to state hub) to its entry, deterministically (keywords and title). A tie or a need
    with no match is not a failure - RV(route.match) says V(tie) or V(no_match) and RV(route.candidates)
    names the closest entries.
  - Placeholders (C(<domain>), C(<field>), C(<path>), any C(<name>)) are resolved from O(domain), O(field),
    O(path) and O(placeholders). A command that would still contain a placeholder is not given out - it is
    null and RV(route.missing_placeholders) says what to supply.
  - Loading validates the catalog and refuses it when any value looks like secret material (token prefixes,
    PEM blocks, long random strings), naming the field, never the value. Routes not reviewed for
    O(stale_days) days are listed in RV(stale) with a warning.
  - Reads the catalog on the host that runs the module (usually C(localhost)); changes nothing.
author:
  - netkingdom.warden developers (@netkingdom)
extends_documentation_fragment:
  - netkingdom.warden.attributes
  - netkingdom.warden.attributes.ACTIONGROUP_WARDEN
  - netkingdom.warden.routing
attributes:
  check_mode:
    support: full
    details: Reading the catalog changes nothing, so it runs the same in check mode.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
options:
  catalog:
    description:
      - Path of the routing catalog (YAML) on the host running the module, usually C("{{ warden_routing_catalog }}").
      - The collection ships an example at C(docs/examples/routing/catalog.yaml).
    type: path
    required: true
  list:
    description: List every route (V(true)). One of O(list), O(show) and O(find) is required.
    type: bool
  show:
    description: The id of the entry to return.
    type: str
  find:
    description: A credential need in plain words, for example V(npm token), V(login oidc).
    type: str
  stale_days:
    description: Routes reviewed more than this many days ago are reported as stale.
    type: int
    default: 90
notes:
  - To fetch a value as yourself (gated, audited, never kept) use the P(netkingdom.warden.credential#lookup) lookup.
seealso:
  - plugin: netkingdom.warden.credential_route
    plugin_type: lookup
  - plugin: netkingdom.warden.credential
    plugin_type: lookup
"""

EXAMPLES = r"""
- name: Who owns the npm publish token of coulomb_social, and how do I get it?
  netkingdom.warden.credential_route:
    catalog: "{{ warden_routing_catalog }}"
    find: npm token
    domain: coulomb_social
    field: NPM_AUTH_TOKEN
    path: npm
  delegate_to: localhost
  register: npm_route

- name: Show the next step
  ansible.builtin.debug:
    msg: "{{ npm_route.route.owner_repo }}: {{ npm_route.route.next_action }}"

- name: List every route and the stale ones
  netkingdom.warden.credential_route:
    catalog: /etc/warden/routing/catalog.yaml
    list: true
  delegate_to: localhost
  register: all_routes
"""

RETURN = r"""
route:
  description:
    - The route (O(show) or O(find)).
  returned: when O(show) or O(find) is given
  type: dict
  contains:
    need:
      description: The need as asked (O(find)); null for O(show).
      type: str
    match:
      description: V(exact) (an entry id), V(matched), V(tie) or V(no_match).
      type: str
    score:
      description: The winning score (null for an exact id).
      type: int
    id:
      description: Catalog entry id; null for a tie or a no-match.
      type: str
    title:
      description: The entry's title.
      type: str
    owner_repo:
      description: The repository / team that owns the credential.
      type: str
    subsystem:
      description: The subsystem that holds it.
      type: str
    lane:
      description: V(secret) or V(login).
      type: str
    auth_method:
      description: How the caller authenticates to the owner.
      type: str
    role:
      description: V(issue) (the collection executes it), V(assist) (fetchable as the caller) or V(route) (a pointer).
      type: str
    fetch_command:
      description: The exact command, placeholders resolved; null while one is missing.
      type: str
    fetch_command_template:
      description: The command as written in the catalog.
      type: str
    path:
      description: The resolved C(path_template), or null.
      type: str
    missing_placeholders:
      description: Placeholders still to supply.
      type: list
      elements: str
    policy_ref:
      description: The gate resource of a fetch, or a pointer.
      type: str
    wiki_ref:
      description: Where the owner documents it.
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
      description: The owner hands it over with its own tool - an RV(route.exec_owner) with an RV(route.exec_command) or a RV(route.pointer_command).
      type: bool
    next_action:
      description: What to do next, in one sentence.
      type: str
    steps:
      description: The SSH issue lane's steps, else null.
      type: list
      elements: str
    cert_command:
      description: The SSH issue lane's resolved C(cert_command), else null.
      type: str
    reviewed:
      description: When the owner last confirmed the route (YYYY-MM-DD).
      type: str
    stale:
      description: Reviewed more than O(stale_days) days ago.
      type: bool
    catalog_status:
      description: V(active), V(draft) or V(deprecated).
      type: str
    candidates:
      description: The best or closest entries (C(id), C(title), C(owner_repo), C(role), C(score) or C(closeness)).
      type: list
      elements: dict
  sample:
    need: npm token
    match: matched
    id: npm-publish-token
    owner_repo: secrets-engine
    role: assist
    fetch_command: bao kv get -mount=secret -field=NPM_AUTH_TOKEN coulomb_social/npm
routes:
  description: Every route, in catalog order (O(list=true)).
  returned: when O(list=true)
  type: list
  elements: dict
  contains:
    id:
      description: Entry id.
      type: str
    title:
      description: Title.
      type: str
    owner_repo:
      description: Owner.
      type: str
    subsystem:
      description: Subsystem.
      type: str
    lane:
      description: V(secret) or V(login).
      type: str
    auth_method:
      description: How the caller authenticates.
      type: str
    role:
      description: V(issue), V(assist) or V(route).
      type: str
    catalog_status:
      description: V(active), V(draft) or V(deprecated).
      type: str
    reviewed:
      description: Review date.
      type: str
    stale:
      description: Reviewed more than O(stale_days) days ago.
      type: bool
    policy_ref:
      description: Gate resource or pointer.
      type: str
    has_native_exec:
      description: The owner hands it over with its own tool (see RV(route.has_native_exec)).
      type: bool
stale:
  description: Ids of the routes reviewed more than O(stale_days) days ago.
  returned: always
  type: list
  elements: str
catalog:
  description: The catalog file that was read.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netkingdom.warden.plugins.module_utils.errors import WardenError
from ansible_collections.netkingdom.warden.plugins.module_utils._routing.match import route_request
from ansible_collections.netkingdom.warden.plugins.module_utils._routing.route import list_routes


def main():
    module = AnsibleModule(
        argument_spec={
            'catalog': {'type': 'path', 'required': True},
            'list': {'type': 'bool'},
            'show': {'type': 'str'},
            'find': {'type': 'str'},
            'domain': {'type': 'str'},
            'field': {'type': 'str'},
            'path': {'type': 'str'},
            'placeholders': {'type': 'dict', 'default': {}},
            'stale_days': {'type': 'int', 'default': 90},
        },
        mutually_exclusive=[['list', 'show', 'find']],
        supports_check_mode=True,
    )
    params = module.params
    if not params['list'] and params['show'] is None and params['find'] is None:
        module.fail_json(msg='one of list=true, show=<id> or find=<need> is required')
    try:
        catalog, routes, warnings = route_request(params, needs=[] if params['list'] else [params['find']],
                                                  show_id=params['show'])
        result = {'changed': False, 'catalog': params['catalog'], 'stale': list(catalog.stale)}
        if params['list']:
            result['routes'] = list_routes(catalog)
            warnings = catalog.warnings
        else:
            result['route'] = routes[0]
    except WardenError as exc:
        module.fail_json(msg=str(exc))
    for warning in warnings:
        module.warn(warning)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
