# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host side of a flex-auth registry deploy: inspect, install, keep history, restore.

Runs inside the ``registry_file`` module on a flex-auth host (standard library plus
the collection's registry code only). The snapshot is installed atomically (a
new file in the same directory, fsync, rename; see ``_host.fileio``) and only when its digest
differs from the installed one. The file it replaces is kept, as the very same
inode (a hard link), in a history directory beside it (``<path>.history/`` by
default) under ``<UTC time>-<digest prefix>.json``, so a rollback (a rename back)
restores exactly what was there: content, owner, mode. The newest ``keep``
snapshots are kept; older ones are removed. Nothing else in the history
directory is ever touched.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import errno
import json
import os
import re
import tempfile

from ansible_collections.netkingdom.warden.plugins.module_utils._host.backups import prune
from ansible_collections.netkingdom.warden.plugins.module_utils._host.fileio import (
    make_dirs,
    move_file,
    read_file,
    remove_file,
    write_file,
)
from ansible_collections.netkingdom.warden.plugins.module_utils._host.safe_path import Trust
from ansible_collections.netkingdom.warden.plugins.module_utils._inventory.actors import ACTOR_TYPE_NAMES
from ansible_collections.netkingdom.warden.plugins.module_utils._registry import snapshot as registry
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError, WardenError
from ansible_collections.netkingdom.warden.plugins.module_utils._registry.snapshot import compute_digest, to_text
from ansible_collections.netkingdom.warden.plugins.module_utils._registry.validate import validate_snapshot
from ansible_collections.netkingdom.warden.plugins.module_utils._registry.summary import describe_changes, summarize

HISTORY_SUFFIX = '.history'
BACKUP_RE = re.compile(r'^(\d{8}T\d{6}\d{6}Z)-([0-9a-f]{12}|unknown)\.json$')
DIR_MODE = 0o750


class DeployError(WardenError):
    """A host-side step could not be done; the message says what and why."""


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def default_backup_dir(path):
    """The history directory beside ``path``: ``<path>.history``."""
    return path + HISTORY_SUFFIX


def _why(exc):
    return getattr(exc, 'strerror', None) or str(exc)


def _trust(path):
    """Root, the module's user and the owner of the registry's directory (a service account's own)."""
    return Trust.of_directory(path)


def inspect_file(path):
    """What is installed at ``path``.

    Returns a dict: ``exists``, ``text`` (or None), ``snapshot`` (the parsed object when it is
    a JSON object, else None), ``digest`` (the digest the file records), ``content_digest``
    (what its content hashes to), ``valid`` and ``problems`` (validation, as ``field: message``).
    """
    info = {'exists': False, 'text': None, 'snapshot': None, 'digest': None, 'content_digest': None,
            'valid': False, 'problems': []}
    try:
        found = read_file(path, _trust(path), max_bytes=None)
    except (IOError, OSError) as exc:
        raise DeployError('cannot read the installed registry %s: %s' % (path, _why(exc)))
    if found is None:
        return info
    raw = found.data
    info['exists'] = True
    try:
        info['text'] = raw.decode('utf-8')
        data = json.loads(info['text'])
    except (UnicodeDecodeError, ValueError):
        info['problems'] = ['%s is not UTF-8 JSON' % path]
        return info
    if not isinstance(data, dict):
        info['problems'] = ['%s is not a JSON object' % path]
        return info
    info['snapshot'] = data
    info['digest'] = data.get('digest') if isinstance(data.get('digest'), str) else None
    try:
        info['content_digest'] = compute_digest(data)
    except (TypeError, ValueError):
        info['content_digest'] = None
    try:
        info['snapshot'] = validate_snapshot(data)  # an old v1 file as its v2 equivalent
        info['valid'] = True
    except ValidationError as exc:
        info['problems'] = ['%s: %s' % (field, msg) if field else msg for field, msg in exc.problems]
    return info


def parse_content(content):
    """The snapshot to install from ``content`` (JSON text or an already parsed object).

    It must validate completely, digest included: a snapshot edited after it was built is refused.
    Returns ``(snapshot, canonical text)``.
    """
    if isinstance(content, (bytes, bytearray)):
        content = content.decode('utf-8')
    if isinstance(content, str):
        try:
            content = json.loads(content)
        except ValueError as exc:
            raise ValidationError([('content', 'is not JSON: %s' % exc)], what='registry snapshot')
    snapshot = validate_snapshot(content)
    return snapshot, to_text(snapshot)


def is_current(installed, snapshot):
    """True when the installed file already holds this snapshot (recorded and content digest)."""
    digest = snapshot['digest']
    return installed['exists'] and installed['digest'] == digest and installed['content_digest'] == digest


def policy_view(snapshot):
    """The snapshot as a policy owner reads it: one block per actor (for diffs)."""
    if not snapshot:
        return '(no registry snapshot installed)\n'
    lines = []
    tenants = ', '.join(sorted(str(t.get('id')) for t in snapshot.get('tenants') or [] if isinstance(t, dict)))
    actors = summarize(snapshot)
    lines.append('tenants: %s' % (tenants or '(none)'))
    lines.append('actors: %d' % len(actors))
    for name in sorted(actors, key=str):
        actor = actors[name]
        lines.append('')
        lines.append('actor %s (%s, %s)' % (name, actor['type'], ACTOR_TYPE_NAMES.get(actor['type'], '?')))
        lines.append('  principals: %s' % ', '.join(actor['principals']))
        lines.append('  TTL cap: %sh (inventory default %sh)'
                     % (actor['max_ttl_hours'], actor.get('default_ttl_hours')))
        lines.append('  allowed subjects: %s' % ', '.join(actor['allowed_subjects']))
    lanes = getattr(registry, 'summarize_lanes', None)
    for ref, lane in sorted((lanes(snapshot) if lanes is not None else {}).items()):
        lines.append('')
        lines.append('credential lane %s (%s, owner %s)' % (ref, lane.get('need_id'), lane.get('owner_repo')))
        lines.append('  readable by: %s' % (', '.join(lane.get('allowed_subjects') or []) or 'nobody'))
    return '\n'.join(lines) + '\n'


def list_backups(backup_dir):
    """Saved snapshots in ``backup_dir``, oldest first: a list of ``(name, path, digest_prefix)``."""
    try:
        names = os.listdir(backup_dir)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return []
        raise DeployError('cannot list %s: %s' % (backup_dir, _why(exc)))
    found = []
    for name in sorted(names):
        match = BACKUP_RE.match(name)
        if match and os.path.isfile(os.path.join(backup_dir, name)):
            found.append((name, os.path.join(backup_dir, name), match.group(2)))
    return found


def backup_name(digest, now=None):
    """``<UTC time>-<first 12 hex of the digest>.json`` (``unknown`` when the digest has no such hex part)."""
    now = now or _utcnow()
    prefix = digest.split(':', 1)[-1][:12] if isinstance(digest, str) and ':' in digest else 'unknown'
    if not re.match(r'^[0-9a-f]{12}$', prefix):
        prefix = 'unknown'
    return '%s-%s.json' % (now.strftime('%Y%m%dT%H%M%S%f') + 'Z', prefix)


def _ensure_dir(path, mode):
    try:
        return make_dirs(path, mode, trust=_trust(path))
    except (IOError, OSError) as exc:
        raise DeployError('cannot create the directory %s: %s' % (path, _why(exc)))


def save_backup(path, backup_dir, digest, now=None):
    """Keep the file now at ``path`` in ``backup_dir``: a hard link (the same inode, so owner and
    mode come back on restore), or a copy with owner and mode where links are not possible."""
    _ensure_dir(backup_dir, DIR_MODE)
    name = backup_name(digest, now)
    target = os.path.join(backup_dir, name)
    while os.path.lexists(target):  # two deploys in one microsecond: never overwrite history
        now = (now or _utcnow()) + datetime.timedelta(microseconds=1)
        target = os.path.join(backup_dir, backup_name(digest, now))
    try:
        os.link(path, target, follow_symlinks=False)
        return target
    except OSError:
        pass
    try:
        found = read_file(path, _trust(path), max_bytes=None)
        if found is None:
            raise OSError(errno.ENOENT, 'it is gone')
        write_file(target, found.data, found.mode, found.uid, found.gid, trust=_trust(target), exclusive=True,
                   times_ns=(found.atime_ns, found.mtime_ns))
    except (IOError, OSError) as exc:
        raise DeployError('cannot keep the previous registry %s in %s: %s' % (path, backup_dir, _why(exc)))
    return target


def prune_backups(backup_dir, keep, protect=()):
    """Remove all but the newest ``keep`` saved snapshots; return the removed paths."""
    paths = [path for dummy, path, dummy2 in list_backups(backup_dir)]
    removed, problems = prune(paths, keep, protect, trust=_trust(os.path.join(backup_dir, 'entry')))
    if problems:
        raise DeployError('cannot remove an old saved registry: %s' % '; '.join(problems))
    return removed


def write_atomically(path, text):
    """Write ``text`` next to ``path`` and move it in place in one rename (a new file 0644; a
    replaced one keeps its owner and mode)."""
    write_file(path, text.encode('utf-8'), trust=_trust(path))


def plan_install(path, content, backup_dir=None, keep=5):
    """Decide without writing: the result a deploy of ``content`` to ``path`` gives."""
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise ValidationError([('keep', 'must be a whole number of at least 1 (the previous snapshot is what a '
                                'rollback restores), got %r' % (keep,))], what='options')
    snapshot, text = parse_content(content)
    installed = inspect_file(path)
    backup_dir = backup_dir or default_backup_dir(path)
    changed = not is_current(installed, snapshot)
    previous = installed['snapshot'] if installed['valid'] else None
    return {
        'path': path,
        'snapshot': snapshot,
        'text': text,
        'installed': installed,
        'backup_dir': backup_dir,
        'changed': changed,
        'digest': snapshot['digest'],
        'previous_digest': installed['digest'] if installed['exists'] else None,
        'previous_valid': installed['valid'],
        'changes': describe_changes(previous, snapshot) if changed else [],
        'actors': registry.count_actors(snapshot),
    }


def install(plan, keep, validate=None, now=None):
    """Carry out ``plan`` (from plan_install): keep the old file, write the new one, prune.

    ``validate(tmp_path)`` may refuse the candidate before it is moved in place: it raises
    DeployError with the reason, and nothing is changed.
    Returns ``{'backup', 'pruned', 'created_dir'}``.
    """
    path = plan['path']
    directory = os.path.dirname(path) or '.'
    created = _ensure_dir(directory, 0o755)
    if validate is not None:
        fd, candidate = tempfile.mkstemp(prefix='.warden-candidate-', suffix='.json', dir=directory)
        try:
            with os.fdopen(fd, 'wb') as handle:
                handle.write(plan['text'].encode('utf-8'))
            validate(candidate)
        finally:
            remove_file(candidate, _trust(candidate))
    backup = None
    if plan['installed']['exists']:
        backup = save_backup(path, plan['backup_dir'], plan['installed']['content_digest'], now)
    try:
        write_atomically(path, plan['text'])
    except BaseException:
        if backup:  # the old file is still in place; do not leave a stray history entry
            remove_file(backup, _trust(backup))
        raise
    pruned = prune_backups(plan['backup_dir'], keep, protect=(backup,)) if backup else []
    return {'backup': backup, 'pruned': pruned, 'created_dir': created}


def pick_backup(backup_dir, backup=None, digest=None):
    """The saved snapshot to restore: ``backup`` (a path), else the newest one whose digest
    starts like ``digest``, else the newest one."""
    if backup:
        if not os.path.isfile(backup):
            raise DeployError('the saved registry %s does not exist (already restored, or pruned?)' % backup)
        return backup
    backups = list_backups(backup_dir)
    if digest:
        prefix = digest.split(':', 1)[-1][:12]
        backups = [b for b in backups if b[2] == prefix]
    if not backups:
        raise DeployError('no saved registry snapshot%s in %s to restore'
                          % (' with digest %s' % digest if digest else '', backup_dir))
    return backups[-1][1]


def restore(path, source):
    """Put the saved snapshot ``source`` back at ``path`` in one rename (the saved inode itself,
    with its owner and mode). Returns ``{'restored', 'digest', 'replaced_digest'}``."""
    replaced = inspect_file(path)
    restored = inspect_file(source)
    try:
        move_file(source, path, _trust(path))
    except (IOError, OSError) as exc:
        raise DeployError('cannot restore %s to %s: %s' % (source, path, _why(exc)))
    return {'restored': source, 'digest': restored['digest'], 'replaced_digest': replaced['digest']}


def remove(path):
    """Remove the installed file (undo a first deploy). Returns the digest it held, or None."""
    installed = inspect_file(path)
    if installed['exists']:
        remove_file(path, _trust(path))
    return installed
