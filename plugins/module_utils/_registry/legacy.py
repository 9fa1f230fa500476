# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The old ``v1`` snapshot format: still loaded, converted to v2 with the same content, with a warning."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.netkingdom.warden.plugins.module_utils._inventory.actors import load_actors
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError
from ansible_collections.netkingdom.warden.plugins.module_utils._registry.build import build_snapshot
from ansible_collections.netkingdom.warden.plugins.module_utils._registry.snapshot import (
    CREDENTIAL_RESOURCE_TYPE,
    DEFAULT_TENANT,
    SCHEMA_V1,
    compute_digest,
    dicts_in,
)

V1_WARNING = ('registry snapshot %s is in the old %s format: it was converted to %s for this run. Rewrite it '
              'once with: ansible localhost -m netkingdom.warden.registry_snapshot -a "src=%s dest=<new file>"')


def convert_v1(snapshot):
    """The v2 snapshot holding exactly what a v1 snapshot held (same actors, limits and lanes).

    The v1 digest is checked first: a hand-edited v1 file is refused like a hand-edited v2 one.
    Raises ValidationError.
    """
    problems = []
    if snapshot.get('digest') != compute_digest(snapshot):
        problems.append(('digest', 'does not match the content (has %r, content hashes to %r): the file was '
                         'edited by hand or is truncated' % (snapshot.get('digest'), compute_digest(snapshot))))
    resources = dicts_in(snapshot.get('resources'))
    tenants = [t.get('id') for t in dicts_in(snapshot.get('tenants'))]
    tenant = next((r.get('tenant') for r in resources if isinstance(r.get('tenant'), str)), None)
    tenant = tenant or (tenants[0] if tenants else DEFAULT_TENANT)
    actors = {}
    lanes = []
    for index, res in enumerate(resources):
        meta = res.get('metadata') if isinstance(res.get('metadata'), dict) else {}
        if res.get('tenant') != tenant:
            problems.append(('resources[%d].tenant' % index, 'a v1 snapshot converts only with one tenant (%s)'
                             % tenant))
        if res.get('type') == CREDENTIAL_RESOURCE_TYPE:
            lanes.append(dict((k, meta.get(k)) for k in ('need_id', 'lane', 'owner_repo', 'allowed_subjects')))
            lanes[-1]['policy_ref'] = res.get('id')
            continue
        name = meta.get('actor')
        aliases = [s for s in meta.get('allowed_subjects') or [] if s != name]
        actors[name] = {'name': name, 'type': meta.get('actor_type'), 'principals': list(meta.get('principals') or []),
                        'ttl_hours': meta.get('default_ttl_hours') or meta.get('max_ttl_hours'),
                        'description': meta.get('description') or '', 'subjects': aliases}
    if problems:
        raise ValidationError(problems, what='registry snapshot')
    try:
        checked, dummy = load_actors(dict((n, dict((k, v) for k, v in a.items() if k != 'name'))
                                          for n, a in actors.items()), source='resources')
    except ValidationError as exc:
        raise ValidationError(exc.problems, what='registry snapshot')
    return build_snapshot(checked, tenant=tenant, credential_lanes=lanes or None)


def as_v2(snapshot):
    """A v1 snapshot converted (for describing what a deploy replaces); anything else as it is."""
    if isinstance(snapshot, dict) and snapshot.get('schema') == SCHEMA_V1:
        try:
            return convert_v1(snapshot)
        except ValidationError:
            return {}
    return snapshot if isinstance(snapshot, dict) else {}
