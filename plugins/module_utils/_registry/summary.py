# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A registry snapshot as a policy owner reads it: per actor, per credential lane, and what changes.

Used for a deploy's diff, preflight and the smoke check. A v1 snapshot is converted first; one
that cannot be converted, or anything that is not a mapping, reads as empty.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.netkingdom.warden.plugins.module_utils._registry.legacy import as_v2
from ansible_collections.netkingdom.warden.plugins.module_utils._registry.snapshot import actor_resources, lane_resources_of


def summarize(snapshot):
    """Per-actor view a policy owner reads: type, principals, TTL cap, subjects."""
    snapshot = as_v2(snapshot)
    view = {}
    for res in actor_resources(snapshot):
        meta = res.get('metadata') if isinstance(res.get('metadata'), dict) else {}
        view[meta.get('actor')] = {
            'type': meta.get('actor_type'),
            'principals': list(meta.get('principals') or []),
            'max_ttl_hours': meta.get('max_ttl_hours'),
            'default_ttl_hours': meta.get('default_ttl_hours'),
            'allowed_subjects': list(meta.get('allowed_subjects') or []),
        }
    return view


def summarize_lanes(snapshot):
    """Per credential lane: need id, owner and allowed subjects."""
    view = {}
    for res in lane_resources_of(as_v2(snapshot)):
        meta = res.get('metadata') if isinstance(res.get('metadata'), dict) else {}
        view[res.get('id')] = {'need_id': meta.get('need_id'), 'owner_repo': meta.get('owner_repo'),
                               'allowed_subjects': list(meta.get('allowed_subjects') or [])}
    return view


def _list_changes(name, before, after, added_words, removed_words):
    """``<name>: <added_words> x, y`` and ``<name>: <removed_words> z`` for what a list gained and lost."""
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    lines = []
    if added:
        lines.append('%s: %s %s' % (name, added_words, ', '.join(added)))
    if removed:
        lines.append('%s: %s %s' % (name, removed_words, ', '.join(removed)))
    return lines


def _lane_changes(old, new):
    before = summarize_lanes(old or {})
    after = summarize_lanes(new)
    lines = []
    for ref in sorted(set(before) | set(after)):
        if ref not in before:
            lines.append('add credential lane %s (%s, owner %s): readable by %s'
                         % (ref, after[ref]['need_id'], after[ref]['owner_repo'],
                            ', '.join(after[ref]['allowed_subjects']) or 'nobody'))
        elif ref not in after:
            lines.append('remove credential lane %s: reads will be denied (unknown_credential_lane)' % ref)
        else:
            lines.extend(_list_changes(ref, before[ref]['allowed_subjects'], after[ref]['allowed_subjects'],
                                       'readers added', 'readers removed'))
    return lines


def describe_changes(old, new):
    """Human sentences for what a new snapshot changes relative to the old one."""
    before = summarize(old or {})
    after = summarize(new)
    lines = []
    for name in sorted(set(before) | set(after)):
        if name not in before:
            a = after[name]
            lines.append('add actor %s (%s): principals %s, TTL cap %sh'
                         % (name, a['type'], ', '.join(a['principals']), a['max_ttl_hours']))
        elif name not in after:
            lines.append('remove actor %s: signing for it will be denied (unknown_actor_resource)' % name)
        else:
            b, a = before[name], after[name]
            for key, label in (('type', 'type'), ('max_ttl_hours', 'TTL cap'),
                               ('default_ttl_hours', 'default TTL')):
                if b[key] != a[key]:
                    lines.append('%s: %s %s -> %s' % (name, label, b[key], a[key]))
            lines.extend(_list_changes(name, b['principals'], a['principals'],
                                       'principals added', 'principals removed'))
            lines.extend(_list_changes(name, b['allowed_subjects'], a['allowed_subjects'],
                                       'subjects allowed', 'subjects no longer allowed'))
    return lines + _lane_changes(old, new)
