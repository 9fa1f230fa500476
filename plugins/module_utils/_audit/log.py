# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit trail: one append-only JSON-lines file per controller / execution node.

One record per event (a signing, a policy decision, a principal rotation, a
registry deploy, a credential access).  A record holds metadata only: the
secret guard refuses any value that looks like a token, a key, a certificate
body or a long random string, and the refusal names the field and the kind of
material, never the value.

Writing is safe from many processes at once (Ansible forks, several action
plugins at the same instant, several playbooks on one AWX execution node):
every record is one line, written with a single ``os.write`` on an
``O_APPEND`` descriptor while an exclusive ``flock`` is held on the sibling
``<file>.lock``.  Rotation (``audit.jsonl`` -> ``.1`` -> ... -> ``.<keep>``,
the oldest dropped) happens under the same lock, and the log file is opened
afresh under the lock for every record, so no writer ever appends to a file
that was just rotated away.

The log and its lock are opened with ``O_NOFOLLOW`` and checked on the open descriptor
(``fstat``) before anything is written: each must be a regular file owned by the user running
Ansible, with no write bit for its group or for others (``mode & 0o022 == 0``; read bits are
allowed, the log holds metadata only). A planted symbolic link, an ``audit.jsonl`` another
account owns or a world-writable one is refused with the path named, never appended to. After a
rotation the new file is created with ``O_EXCL``, so a file planted in the gap is refused too.

The file lives on the controller (or execution node) that runs the play; with
AWX each execution node keeps its own file, and every record carries ``node``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import errno
import fcntl
import fnmatch
import json
import math
import os
import re
import socket
import stat

from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError, WardenError
from ansible_collections.netkingdom.warden.plugins.module_utils._audit.secret_guard import describe, find_secrets

ENV = 'WARDEN_AUDIT_LOG'
DEFAULT_PATH = '~/.local/state/warden/audit.jsonl'
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_KEEP = 5

KINDS = ('sign', 'policy', 'rotate', 'registry', 'access')

# The record schema from the design, in the order fields are written.
FIELDS = (
    'ts', 'kind', 'actor', 'actor_type', 'subject', 'host', 'principals', 'ttl_hours', 'backend',
    'serial', 'key_id', 'valid_after', 'valid_before', 'ca_fingerprint', 'pubkey_fingerprint',
    'policy_decision_id', 'outcome', 'reason',
)

# The few extra keys some events need.  None of them may hold secret material either.
EXTRA_FIELDS = (
    'cert_type',    # sign: user or host
    'account',      # rotate: the host account whose principals changed
    'gate_mode',    # sign/policy: off, embedded or flex_auth (not_gated: a host certificate)
    'policy_reason',  # sign/policy: the gate decision's reason (signing_policy_matched, policy_gate_off, ...)
    'policy_detail',  # sign/policy: why the gate could not decide (the PDP's failure), when it could not
    'old_digest',   # registry: digest of the snapshot that was replaced (sha256:...)
    'new_digest',   # registry: digest of the snapshot deployed
    'need_id',      # access: catalog entry id of the credential need
    'owner',        # access: owning subsystem / repository
    'domain',       # access: domain placeholder resolved for the route
    'action',       # access: advise, fetch or exec
    'node',         # the controller / execution node that wrote the record (filled in)
    'job_id',       # AWX job id (awx_job_id), when there is one
)
ALL_FIELDS = FIELDS + EXTRA_FIELDS

MAX_STRING = 4096   # characters in one value: the audit holds metadata, not documents
MAX_ITEMS = 256     # entries in one list value

_DISABLE_WORDS = ('off', 'none', 'false', 'no', '0', 'disabled', '/dev/null')

_TS_RE = re.compile(
    r'^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?'
    r'(Z|z|[+-]\d{2}:?\d{2})?$'
)


class AuditRefused(WardenError):
    """A record was refused because a value looks like secret material; nothing was written.

    ``problems`` is a list of ``(field, kind)``; the message names both, never the value.
    """

    def __init__(self, problems):
        self.problems = list(problems)
        parts = ['%s looks like %s (%s)' % (field, describe(kind), kind) for field, kind in self.problems]
        super(AuditRefused, self).__init__(
            'audit record refused, nothing was written: %s; the audit trail holds metadata only, '
            'never a token, key, certificate body or secret value' % '; '.join(parts))

    @property
    def fields(self):
        return [field for field, dummy in self.problems]


class AuditError(WardenError):
    """The audit file could not be written or read."""


# Bits of the log's (and its lock's) mode that let another account rewrite it: refused.
FOREIGN_WRITE_BITS = stat.S_IWGRP | stat.S_IWOTH


def utc_now():
    return datetime.datetime.now(_UTC)


class _Utc(datetime.tzinfo):
    def utcoffset(self, dt):
        return datetime.timedelta(0)

    def dst(self, dt):
        return datetime.timedelta(0)

    def tzname(self, dt):
        return 'UTC'


_UTC = _Utc()


def format_ts(when=None):
    """UTC ISO-8601 with microseconds and ``Z``: ``2026-11-26T10:00:00.123456Z``."""
    when = utc_now() if when is None else when
    if when.tzinfo is not None:
        when = when.astimezone(_UTC)
    return when.strftime('%Y-%m-%dT%H:%M:%S.%fZ')


def parse_ts(text):
    """An aware UTC datetime from an ISO-8601 timestamp (no zone means UTC), or None."""
    if not isinstance(text, str):
        return None
    match = _TS_RE.match(text.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, frac, zone = match.groups()
    try:
        when = datetime.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                                 int((frac or '0').ljust(6, '0')[:6]), tzinfo=_UTC)
    except ValueError:
        return None
    if zone and zone not in ('Z', 'z'):
        sign = 1 if zone[0] == '+' else -1
        digits = zone[1:].replace(':', '')
        when -= sign * datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return when


def resolve_path(path=None, env=None):
    """The audit file: ``path`` when given, else ``$WARDEN_AUDIT_LOG``, else ``DEFAULT_PATH``.

    Auditing cannot be turned off: a value such as ``off`` or ``/dev/null`` is refused.
    """
    env = os.environ if env is None else env
    source = 'audit log path'
    if path in (None, ''):
        path = env.get(ENV) or None
        source = ENV
    if path is None:
        path = DEFAULT_PATH
    if not isinstance(path, str):
        raise ValidationError([(source, 'must be a file path, got %s' % type(path).__name__)], what='audit settings')
    if path.strip().lower() in _DISABLE_WORDS:
        raise ValidationError([(source, 'auditing cannot be turned off; give the path of the audit file '
                                '(default %s)' % DEFAULT_PATH)], what='audit settings')
    return os.path.abspath(os.path.expanduser(path))


def _check_value(field, value, problems):
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            problems.append((field, 'is longer than %d characters' % MAX_STRING))
        return
    if isinstance(value, int):
        return
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            problems.append((field, 'must be a finite number'))
        return
    if isinstance(value, (list, tuple)):
        if len(value) > MAX_ITEMS:
            problems.append((field, 'has more than %d items' % MAX_ITEMS))
        for index, item in enumerate(value):
            if not isinstance(item, str):
                problems.append(('%s[%d]' % (field, index), 'must be a string, got %s' % type(item).__name__))
            elif len(item) > MAX_STRING:
                problems.append(('%s[%d]' % (field, index), 'is longer than %d characters' % MAX_STRING))
        return
    problems.append((field, 'must be a string, number, boolean, null or a list of strings, got %s'
                     % type(value).__name__))


def build_record(fields, node=None, job_id=None):
    """Validate ``fields`` and return the record dict, in schema order, ready to write.

    The secret guard runs first, over keys and values, so no error message below
    can ever quote secret material.  Raises AuditRefused or ValidationError.
    """
    found = find_secrets(dict((str(k), v) for k, v in fields.items()))
    if found:
        raise AuditRefused(found)
    problems = []
    for name in sorted(set(fields) - set(ALL_FIELDS)):
        problems.append((name, 'unknown audit field (known: %s)' % ', '.join(ALL_FIELDS)))
    kind = fields.get('kind')
    if kind is None:
        problems.append(('kind', 'is required (one of %s)' % ', '.join(KINDS)))
    elif kind not in KINDS:
        problems.append(('kind', 'must be one of %s, got %r' % (', '.join(KINDS), kind)))
    for name in ALL_FIELDS:
        if name in fields:
            _check_value(name, fields[name], problems)
    ts = fields.get('ts')
    if ts is not None and parse_ts(ts) is None:
        problems.append(('ts', 'must be an ISO-8601 timestamp such as 2026-11-26T10:00:00Z, got %r' % (ts,)))
    ttl = fields.get('ttl_hours')
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, (int, float))):
        problems.append(('ttl_hours', 'must be a number of hours'))
    principals = fields.get('principals')
    if principals is not None and not isinstance(principals, (list, tuple)):
        problems.append(('principals', 'must be a list of strings'))
    if problems:
        raise ValidationError(problems, what='audit record')
    record = {}
    for name in ALL_FIELDS:
        if name in fields:
            value = fields[name]
            record[name] = list(value) if isinstance(value, tuple) else value
    if record.get('ts') is None:
        record['ts'] = format_ts()
    if record.get('node') is None and node:
        record['node'] = node
    if record.get('job_id') is None and job_id:
        record['job_id'] = job_id
    # schema order, ts first
    return dict((name, record[name]) for name in ALL_FIELDS if name in record)


def _open_flags(*names):
    flags = 0
    for name in names:
        flags |= getattr(os, name, 0)
    return flags


class AuditLog(object):
    """Append records to the audit file; see the module documentation for the guarantees."""

    def __init__(self, path=None, max_bytes=DEFAULT_MAX_BYTES, keep=DEFAULT_KEEP, node=None, fsync=False):
        self.path = resolve_path(path)
        problems = []
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1024:
            problems.append(('max_bytes', 'must be an integer of at least 1024, got %r' % (max_bytes,)))
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
            problems.append(('keep', 'must be a non-negative integer, got %r' % (keep,)))
        if problems:
            raise ValidationError(problems, what='audit settings')
        self.max_bytes = max_bytes
        self.keep = keep
        self.fsync = fsync
        self.node = node if node is not None else socket.gethostname()
        # AWX sets JOB_ID in every job's environment: records of a sliced job name their slice's job
        self.job_id = os.environ.get('JOB_ID') or None
        self.lock_path = self.path + '.lock'

    def __repr__(self):
        return 'AuditLog(%r, max_bytes=%d, keep=%d)' % (self.path, self.max_bytes, self.keep)

    def record(self, **fields):
        """Validate, guard, and append one record. Returns the record as written."""
        record = build_record(fields, node=self.node, job_id=self.job_id)
        line = json.dumps(record, separators=(',', ':'), ensure_ascii=True, allow_nan=False) + '\n'
        self._append(line.encode('ascii'))
        return record

    def check(self, **fields):
        """Validate and guard a record without writing it (same errors as ``record``).

        A signing path can call this before it signs, so a record the audit would refuse
        stops the signing instead of leaving a certificate with no audit record.
        """
        return build_record(fields, node=self.node, job_id=self.job_id)

    def query(self, **filters):
        return query(self.path, **filters)

    def writable(self):
        """Prove the log can take a record now, before something irreversible (a signing) depends on
        it: the directory exists, the lock and the log open under the lock and pass the owner and
        mode checks. Writes nothing; raises AuditError."""
        self._ensure_dir()
        lock_fd = self._open_lock()
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            os.close(self._open_log())
        except OSError as exc:
            raise AuditError('cannot write the audit log %s: %s' % (self.path, exc.strerror or exc))
        finally:
            os.close(lock_fd)

    # -- writing -----------------------------------------------------------------------------------

    def _ensure_dir(self):
        directory = os.path.dirname(self.path)
        if not os.path.isdir(directory):
            try:
                os.makedirs(directory, 0o700)
            except OSError as exc:
                if exc.errno != errno.EEXIST or not os.path.isdir(directory):
                    raise AuditError('cannot create the audit directory %s: %s' % (directory, exc.strerror))

    def _open_lock(self):
        try:
            fd = os.open(self.lock_path, _open_flags('O_RDWR', 'O_CREAT', 'O_CLOEXEC', 'O_NOFOLLOW'), 0o600)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise AuditError('the audit lock %s is a symbolic link; remove it (it is created again as a plain '
                                 'file)' % self.lock_path)
            raise AuditError('cannot open the audit lock %s: %s' % (self.lock_path, exc.strerror))
        _check_descriptor(fd, self.lock_path, 'lock')
        return fd

    def _append(self, data):
        self._ensure_dir()
        lock_fd = self._open_lock()
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            fd = self._open_log()
            try:
                size = os.fstat(fd).st_size
                if size and size + len(data) > self.max_bytes:
                    os.close(fd)
                    fd = -1
                    self._rotate()
                    fd = self._open_log(fresh=True)
                    size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b'\n':
                    data = b'\n' + data  # a torn last line (a crash, a full disk) stays on its own line
                try:
                    written = os.write(fd, data)
                    while written < len(data):  # only on a full disk or an interrupted call
                        data = data[written:]
                        written = os.write(fd, data)
                except OSError:
                    _truncate_quiet(fd, size)  # a record is whole or absent: no half line is left behind
                    raise
                if self.fsync:
                    os.fsync(fd)
            finally:
                if fd >= 0:
                    os.close(fd)
        except OSError as exc:
            raise AuditError('cannot write the audit log %s: %s' % (self.path, exc.strerror or exc))
        finally:
            os.close(lock_fd)  # releases the flock

    def _open_log(self, fresh=False):
        """The log, open for appending and checked; ``fresh`` (just after a rotation): it must not exist."""
        flags = ('O_RDWR', 'O_APPEND', 'O_CREAT', 'O_CLOEXEC', 'O_NOFOLLOW') + (('O_EXCL',) if fresh else ())
        try:
            fd = os.open(self.path, _open_flags(*flags), 0o600)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise AuditError('the audit log %s is a symbolic link; point %s or the audit_log option at '
                                 'the real file (rotation renames it)' % (self.path, ENV))
            if exc.errno == errno.EEXIST:
                raise AuditError('the audit log %s appeared while it was being rotated (someone else created it); '
                                 'refusing to append to it' % self.path)
            raise
        _check_descriptor(fd, self.path, 'log')
        return fd

    def _rotate(self):
        """audit.jsonl -> .1 -> ... -> .keep; the oldest dropped. Called with the lock held."""
        if self.keep == 0:
            _unlink_quiet(self.path)
            return
        _unlink_quiet('%s.%d' % (self.path, self.keep))
        for index in range(self.keep - 1, 0, -1):
            older = '%s.%d' % (self.path, index)
            if os.path.exists(older):
                os.rename(older, '%s.%d' % (self.path, index + 1))
        os.rename(self.path, self.path + '.1')


def _check_descriptor(fd, path, what):
    """Refuse (and close) an open audit file that is not ours alone to write."""
    info = os.fstat(fd)
    problem = None
    if not stat.S_ISREG(info.st_mode):
        problem = 'the audit %s %s is not a regular file' % (what, path)
    elif info.st_uid != os.geteuid():
        problem = ('the audit %s %s belongs to uid %d, not to the user running Ansible (uid %d): refusing a file '
                   'another account can rewrite; move it away, or point %s or the audit_log option elsewhere'
                   % (what, path, info.st_uid, os.geteuid(), ENV))
    elif info.st_mode & FOREIGN_WRITE_BITS:
        problem = ('the audit %s %s is writable by its group or by others (mode %04o): refusing a file another '
                   'account can rewrite; check it was not tampered with, then chmod go-w %s'
                   % (what, path, stat.S_IMODE(info.st_mode), path))
    if problem:
        os.close(fd)
        raise AuditError(problem)


def _truncate_quiet(fd, size):
    try:
        os.ftruncate(fd, size)
    except OSError:
        pass  # the next record starts on a new line anyway


def _unlink_quiet(path):
    try:
        os.unlink(path)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise


# -- reading ---------------------------------------------------------------------------------------

class AuditRecords(list):
    """The records a query returned (oldest first, newest last), with what was read."""

    def __init__(self, records=(), skipped_lines=0, files=()):
        super(AuditRecords, self).__init__(records)
        self.skipped_lines = skipped_lines
        self.files = list(files)


def log_files(path):
    """The current file and its rotated copies that exist, oldest first (``.N`` ... ``.1``, current)."""
    directory, base = os.path.split(path)
    pattern = re.compile(r'^%s\.(\d+)$' % re.escape(base))
    try:
        names = os.listdir(directory)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return []
        raise AuditError('cannot list the audit directory %s: %s' % (directory, exc.strerror))
    rotated = sorted((int(m.group(1)), name) for m, name in ((pattern.match(n), n) for n in names) if m)
    files = [os.path.join(directory, name) for dummy, name in reversed(rotated)]
    if base in names:
        files.append(path)
    return files


def _read_all(path):
    """Bytes of every file, oldest first, read under a shared lock so a rotation cannot interleave."""
    lock_fd = -1
    try:
        lock_fd = os.open(path + '.lock', _open_flags('O_RDONLY', 'O_CLOEXEC', 'O_NOFOLLOW'))
        fcntl.flock(lock_fd, fcntl.LOCK_SH)
    except OSError:
        lock_fd = -1  # no writer yet, or a read-only copy: read without the lock
    try:
        chunks = []
        files = []
        for name in log_files(path):
            try:
                # never through a planted link: its target's JSON lines would come back as records
                fd = os.open(name, _open_flags('O_RDONLY', 'O_CLOEXEC', 'O_NOFOLLOW'))
                with os.fdopen(fd, 'rb') as handle:
                    chunks.append(handle.read())
                files.append(name)
            except (IOError, OSError) as exc:
                if exc.errno == errno.ELOOP:
                    raise AuditError('the audit log %s is a symbolic link; refusing to read through it' % name)
                if exc.errno != errno.ENOENT:
                    raise AuditError('cannot read the audit log %s: %s' % (name, exc.strerror))
        return chunks, files
    finally:
        if lock_fd >= 0:
            os.close(lock_fd)


def _matcher(name, wanted):
    if wanted is None:
        return None
    if not isinstance(wanted, str) or wanted == '':
        raise ValidationError([(name, 'must be a non-empty string')], what='audit query')
    if any(ch in wanted for ch in '*?['):
        return lambda value: isinstance(value, str) and fnmatch.fnmatchcase(value, wanted)
    return lambda value: value == wanted


def query(path=None, days=None, kind=None, actor=None, host=None, limit=None, now=None):
    """Records of the audit log (current and rotated files), oldest first, newest last.

    - ``days``: only records whose ``ts`` is within the last ``days`` days (a record without a
      readable ``ts`` is then left out);
    - ``kind``: one of ``KINDS``, or a list of them;
    - ``actor`` / ``host``: exact match, or a shell-style pattern with ``*``, ``?``, ``[...]``;
    - ``limit``: only the newest ``limit`` matching records.

    Lines that are not a JSON object are skipped and counted in ``.skipped_lines``.
    Returns an AuditRecords list (``.skipped_lines``, ``.files``).
    """
    problems = []
    if days is not None and (isinstance(days, bool) or not isinstance(days, (int, float)) or days < 0
                             or math.isnan(days) or math.isinf(days)):
        problems.append(('days', 'must be a non-negative number of days, got %r' % (days,)))
    kinds = None
    if kind is not None:
        kinds = [kind] if isinstance(kind, str) else list(kind)
        bad = [k for k in kinds if k not in KINDS]
        if bad or not kinds:
            problems.append(('kind', 'must be one of %s, got %r' % (', '.join(KINDS), kind)))
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        problems.append(('limit', 'must be a positive integer, got %r' % (limit,)))
    try:
        match_actor = _matcher('actor', actor)
        match_host = _matcher('host', host)
    except ValidationError as exc:
        problems.extend(exc.problems)
    if problems:
        raise ValidationError(problems, what='audit query')
    path = resolve_path(path)
    cutoff = None
    if days is not None:
        cutoff = (now or utc_now()) - datetime.timedelta(days=days)

    chunks, files = _read_all(path)
    records = []
    skipped = 0
    for chunk in chunks:
        for raw in chunk.split(b'\n'):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw.decode('utf-8'))
            except ValueError:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
                skipped += 1
                continue
            if not isinstance(record, dict):
                skipped += 1
                continue
            if kinds is not None and record.get('kind') not in kinds:
                continue
            if match_actor is not None and not match_actor(record.get('actor')):
                continue
            if match_host is not None and not match_host(record.get('host')):
                continue
            if cutoff is not None:
                when = parse_ts(record.get('ts'))
                if when is None or when < cutoff:
                    continue
            records.append(record)
    if limit is not None and len(records) > limit:
        records = records[-limit:]
    return AuditRecords(records, skipped_lines=skipped, files=files)


# -- the activity action's options ------------------------------------------------------------------

ACTIVITY_SPEC = {
    'path': {'type': 'path', 'aliases': ['audit_log']},
    'days': {'type': 'float'},
    'kind': {'type': 'str', 'choices': list(KINDS)},
    'actor': {'type': 'str'},
    'host': {'type': 'str'},
    'limit': {'type': 'int'},
}
