#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: registry_snapshot
short_description: Build or validate a flex-auth registry snapshot from the actor inventory
version_added: 0.1.0
description:
  - Builds the flex-auth registry snapshot from the actor inventory, in flex-auth's registry shapes as
    C(flex-auth load-registry --file) takes them, deterministically, as canonical JSON with a C(digest) of
    its content (schema C(netkingdom.warden/registry-snapshot/v2)).
  - A resource manifest holds one C(ssh-cert:actor/<name>) resource of type C(ssh-certificate) per actor
    (action C(sign); the per-actor limits C(principals), C(max_ttl_hours) (the actor type's maximum),
    C(default_ttl_hours) (the inventory C(ttl_hours)), C(allowed_subjects) and C(tenant) in its C(metadata));
    a subject manifest holds one subject per actor with its tenant and a group per actor type; beside them
    the tenants, the protected system C(ops-warden) and the ownership relationships.
  - With O(src) and O(dest), rewrites an existing snapshot in the current format (an old
    C(netkingdom.warden/registry-snapshot/v1) file is converted; its own digest must still match).
  - Writes O(dest) atomically, only when the digest differs, so a second run is C(changed=false).
  - With O(validate_only=true), validates an existing snapshot O(src) instead and reports every problem
    with the field where it is (dangling references, bad principals, TTL caps, a digest that does not match).
author:
  - netkingdom.warden developers (@netkingdom)
extends_documentation_fragment:
  - ansible.builtin.files
  - netkingdom.warden.attributes
  - netkingdom.warden.attributes.ACTIONGROUP_WARDEN
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    support: full
    platforms: posix
options:
  actors:
    description:
      - The actor inventory (usually C(warden_actors)). Mutually exclusive with O(inventory_file) and O(src).
    type: dict
  inventory_file:
    description:
      - Path of an actor inventory YAML file on the host running the module (C(actors:) mapping).
    type: path
  dest:
    description:
      - Where to write the snapshot. Required unless O(validate_only=true).
    type: path
  tenant:
    description:
      - Tenant of every resource in the snapshot.
    type: str
    default: tenant:platform
  routing_catalog:
    description:
      - A credential routing catalog (path on the host running the module). Each active, exec-capable
        C(secret) lane becomes a C(credential-lane) resource, so a flex-auth PDP can decide gated
        credential reads (M(netkingdom.warden.credential_route), the C(netkingdom.warden.credential) lookup).
    type: path
  credential_access:
    description:
      - Catalog entry id to the subject ids allowed to read that lane; a lane nobody is listed for is
        readable by nobody. Only with O(routing_catalog).
    type: dict
  src:
    description:
      - An existing snapshot file to validate (with O(validate_only=true)) or to rewrite in the current
        format at O(dest) (the documented way to convert a v1 snapshot once).
      - Mutually exclusive with O(actors) and O(inventory_file).
    type: path
  validate_only:
    description:
      - Validate O(src) and change nothing.
    type: bool
    default: false
requirements:
  - PyYAML when O(inventory_file) is used.
seealso:
  - module: netkingdom.warden.policy_check
"""

EXAMPLES = r"""
- name: Build the registry snapshot flex-auth will load
  netkingdom.warden.registry_snapshot:
    actors: "{{ warden_actors }}"
    dest: /var/lib/flex-auth/registry/ops-warden.json
    mode: "0644"
  register: snapshot

- name: Convert an old v1 snapshot to the current format once
  netkingdom.warden.registry_snapshot:
    src: files/production_registry_snapshot.json
    dest: files/production_registry_snapshot.v2.json
    mode: "0644"

- name: Validate a snapshot before deploying it
  netkingdom.warden.registry_snapshot:
    src: files/production_registry_snapshot.json
    validate_only: true
"""

RETURN = r"""
digest:
  description: C(sha256:) digest of the snapshot content.
  returned: success
  type: str
  sample: sha256:3b1f0c3e0f0b6f5e6c3e0f0b6f5e6c3e0f0b6f5e6c3e0f0b6f5e6c3e0f0b6f5e
previous_digest:
  description: Digest of the file that was at O(dest) before, or null.
  returned: when not O(validate_only)
  type: str
actors:
  description: Number of actors in the snapshot.
  returned: success
  type: int
  sample: 3
changes:
  description: What the new snapshot changes, in words a policy owner reads.
  returned: when not O(validate_only)
  type: list
  elements: str
  sample:
    - "add actor agt-state-hub-bridge (agt): principals agt-task-bridge, TTL cap 24h"
    - "adm-example: principals removed legacy-admin"
problems:
  description: On a validation failure, each problem as C(field) and C(message).
  returned: failure
  type: list
  elements: dict
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netkingdom.warden.plugins.module_utils._host.fileio import read_file, write_file
from ansible_collections.netkingdom.warden.plugins.module_utils._host.safe_path import Trust, UnsafePath
from ansible_collections.netkingdom.warden.plugins.module_utils._inventory.actors import resolve_actors
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError
from ansible_collections.netkingdom.warden.plugins.module_utils._routing.catalog import credential_lanes, load_catalog_file
from ansible_collections.netkingdom.warden.plugins.module_utils._registry.snapshot import count_actors, to_text
from ansible_collections.netkingdom.warden.plugins.module_utils._registry.build import build_snapshot
from ansible_collections.netkingdom.warden.plugins.module_utils._registry.validate import load_snapshot_file
from ansible_collections.netkingdom.warden.plugins.module_utils._registry.summary import describe_changes


def read_existing(path):
    """``(text, snapshot)`` of the file at ``path``; either is None when absent or not JSON."""
    try:
        found = read_file(path, Trust.of_directory(path), max_bytes=None)
        text = found.data.decode('utf-8') if found is not None else None
    except (IOError, OSError, ValueError, UnsafePath):
        return None, None  # an unsafe path is refused with its reason by the write
    if text is None:
        return None, None
    try:
        data = json.loads(text)
    except ValueError:
        return text, None
    return text, data if isinstance(data, dict) else None


def write_atomically(module, dest, text):
    """Write ``text`` to ``dest`` through the one host I/O; an unsafe path fails the module."""
    try:
        write_file(dest, text, trust=Trust.of_directory(dest))
    except UnsafePath as exc:
        module.fail_json(msg=str(exc))


def fail_validation(module, exc):
    """Fail the module naming every bad field of ``exc`` (a ValidationError)."""
    module.fail_json(msg=str(exc), problems=[{'field': f, 'message': m} for f, m in exc.problems])


def main():
    module = AnsibleModule(
        argument_spec=dict(
            actors=dict(type='dict'),
            inventory_file=dict(type='path'),
            dest=dict(type='path'),
            tenant=dict(type='str', default='tenant:platform'),
            routing_catalog=dict(type='path'),
            credential_access=dict(type='dict'),
            src=dict(type='path'),
            validate_only=dict(type='bool', default=False),
        ),
        mutually_exclusive=[['actors', 'inventory_file', 'src']],
        required_if=[['validate_only', True, ['src']], ['validate_only', False, ['dest']]],
        add_file_common_args=True,
        supports_check_mode=True,
    )
    params = module.params
    warnings = []
    if params['validate_only']:
        try:
            snapshot = load_snapshot_file(params['src'], warnings=warnings)
        except ValidationError as exc:
            fail_validation(module, exc)
        for warning in warnings:
            module.warn(warning)
        module.exit_json(changed=False, digest=snapshot['digest'], actors=count_actors(snapshot))

    if params['src']:
        try:  # rewrite (a v1 file: convert) in the current format
            snapshot = load_snapshot_file(params['src'], warnings=warnings)
        except ValidationError as exc:
            fail_validation(module, exc)
    elif params['actors'] is None and not params['inventory_file']:
        module.fail_json(msg='one of actors, inventory_file or src is required to build a snapshot')
    else:
        try:
            actors, warnings = resolve_actors(params['actors'], params['inventory_file'])
            lanes = None
            if params['routing_catalog']:
                lanes = credential_lanes(load_catalog_file(params['routing_catalog']), params['credential_access'])
            elif params['credential_access']:
                module.fail_json(msg='credential_access needs routing_catalog')
            snapshot = build_snapshot(actors, tenant=params['tenant'], credential_lanes=lanes)
        except ValidationError as exc:
            fail_validation(module, exc)
    for warning in warnings:
        module.warn(warning)

    dest = os.path.abspath(params['dest'])  # its directory is known, also for 'dest=new.json'
    new_text = to_text(snapshot)
    old_text, old = read_existing(dest)
    previous = old.get('digest') if old else None
    # Compare the whole file, not the recorded digest: a hand-edited file keeps its old digest.
    changed = old_text != new_text
    result = dict(changed=changed, digest=snapshot['digest'], previous_digest=previous,
                  actors=count_actors(snapshot),
                  changes=describe_changes(old, snapshot) if changed else [])
    if changed and module._diff:
        result['diff'] = {'before': old_text or '',
                          'after': new_text,
                          'before_header': dest, 'after_header': dest + ' (new)'}
    if changed and not module.check_mode:
        parent = os.path.dirname(dest)
        if parent and not os.path.isdir(parent):
            module.fail_json(msg='the directory of dest does not exist: %s' % parent)
        write_atomically(module, dest, new_text)
    if os.path.exists(dest):
        file_args = module.load_file_common_arguments(params)
        result['changed'] = module.set_fs_attributes_if_different(file_args, result['changed'])
    module.exit_json(**result)


if __name__ == '__main__':
    main()
