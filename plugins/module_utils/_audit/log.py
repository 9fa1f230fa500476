# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit trail's writer: ``AuditLog``, one append-only JSON-lines file per controller / execution node.

Each record (checked by ``record.build_record`` first) is one line, written with a single
``os.write`` on an ``O_APPEND`` descriptor while an exclusive ``flock`` is held on ``<file>.lock``,
so many processes may write at once (forks, plugins, playbooks on one AWX node). Rotation
(``audit.jsonl`` -> ``.1`` -> ... -> ``.<keep>``) happens under the same lock, and the log is
opened afresh for every record, so no writer appends to a file just rotated away.

The log and its lock are opened with ``O_NOFOLLOW`` and checked on the descriptor: a regular file
of the user running Ansible, no write bit for group or others; anything else is refused with
the path named. After a rotation the new file is created with ``O_EXCL``. With AWX each
execution node keeps its own file, and every record carries ``node``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import fcntl
import json
import os
import socket
import stat

from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError
from ansible_collections.netkingdom.warden.plugins.module_utils._audit.files import ENV, AuditError, open_flags, resolve_path
from ansible_collections.netkingdom.warden.plugins.module_utils._audit.query import query
from ansible_collections.netkingdom.warden.plugins.module_utils._audit.record import build_record

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_KEEP = 5

# Bits of the log's (and its lock's) mode that let another account rewrite it: refused.
FOREIGN_WRITE_BITS = stat.S_IWGRP | stat.S_IWOTH


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
        """The records of this log file (``query.query`` with the same filters)."""
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
            fd = os.open(self.lock_path, open_flags('O_RDWR', 'O_CREAT', 'O_CLOEXEC', 'O_NOFOLLOW'), 0o600)
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
            fd = os.open(self.path, open_flags(*flags), 0o600)
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
