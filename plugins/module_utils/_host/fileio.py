# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one file I/O of the host modules: reads, atomic writes, moves and removals.

Every host module reads and writes through here, so there is one place that renames a file into
place (:func:`_rename`). Which paths are safe (the walk from ``/``, :class:`Trust`,
:class:`UnsafePath`) is ``safe_path.py``; every function here checks its path that way first.

A write goes to a new file in the same directory (``O_EXCL``), gets its owner and mode with
``fchown``/``fchmod`` on the open descriptor, is fsynced, renamed over the old file, and the
directory is fsynced.

Standard library only (AnsiballZ ships this to every host).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import errno
import os
import stat

from ansible_collections.netkingdom.warden.plugins.module_utils._host.safe_path import (
    NOFOLLOW,
    UnsafePath,
    absolute,
    check_file,
    lstat_entry,
    open_directory,
    open_parent,
    stat_entry,
    trust_or_default,
)

MAX_FILE_BYTES = 1024 * 1024
_TEMP_PREFIX = '.warden-'

_READ_FLAGS = os.O_RDONLY | NOFOLLOW | getattr(os, 'O_NONBLOCK', 0) | getattr(os, 'O_CLOEXEC', 0)
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW | getattr(os, 'O_CLOEXEC', 0)


# --- reading -------------------------------------------------------------------------------------
class FileData(object):
    """What :func:`read_file` found: ``data`` (bytes) and its ``mode``, ``uid``, ``gid``, ``mtime``."""

    def __init__(self, data, st):
        self.data = data
        self.mode = stat.S_IMODE(st.st_mode)
        self.uid = st.st_uid
        self.gid = st.st_gid
        self.atime_ns = st.st_atime_ns
        self.mtime_ns = st.st_mtime_ns

    @property
    def text(self):
        return self.data.decode('utf-8', 'surrogateescape')


def read_file(path, trust=None, max_bytes=MAX_FILE_BYTES):
    """The file at ``path`` as :class:`FileData`, or None when it does not exist.

    Raises UnsafePath (see ``safe_path.py``, and a file larger than ``max_bytes``), or OSError.
    ``trust``: a :class:`Trust`; None for the default (root and the module's own account).
    """
    trust, path, dirfd, name, shared = open_parent(path, trust)
    if dirfd is None:
        return None
    try:
        before = stat_entry(dirfd, name, path)
        if before is None:
            return None
        check_file(before, path, trust, shared)  # before open(): a device or FIFO is never opened
        try:
            fd = os.open(name, _READ_FLAGS, dir_fd=dirfd)
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return None
            if exc.errno == errno.ELOOP:
                raise UnsafePath(path, 'it is a symbolic link')
            raise
    finally:
        os.close(dirfd)
    try:
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != (before.st_dev, before.st_ino):
            raise UnsafePath(path, 'it was replaced while it was being read')
        check_file(st, path, trust, shared)
        if max_bytes is not None and st.st_size > max_bytes:
            raise UnsafePath(path, 'it is larger than %d bytes' % max_bytes)
        chunks = []
        size = 0
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if max_bytes is not None and size > max_bytes:
                raise UnsafePath(path, 'it is larger than %d bytes' % max_bytes)
        return FileData(b''.join(chunks), st)
    finally:
        os.close(fd)


def read_text(path, trust=None, max_bytes=MAX_FILE_BYTES):
    """The text of the file at ``path`` (UTF-8, undecodable bytes kept as surrogates), or None."""
    found = read_file(path, trust, max_bytes)
    return None if found is None else found.text


def exists(path, trust=None):
    """Whether ``path`` exists (as a regular file), checked like a read."""
    trust, path, dirfd, name, shared = open_parent(path, trust)
    if dirfd is None:
        return False
    try:
        st = stat_entry(dirfd, name, path)
    finally:
        os.close(dirfd)
    if st is not None:
        check_file(st, path, trust, shared)
    return st is not None


# --- writing -------------------------------------------------------------------------------------
def _fsync_directory(fd):
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot fsync a directory; the rename itself is still atomic


def _rename(dirfd, src, dest_dirfd, dest):
    """The one rename of a host file into place, and the fsync that makes it stick."""
    os.rename(src, dest, src_dir_fd=dirfd, dst_dir_fd=dest_dirfd)
    _fsync_directory(dest_dirfd)
    if dest_dirfd != dirfd:
        _fsync_directory(dirfd)


def _link_new(dirfd, tmp, name, path):
    """Give the written file its name only if nothing has it: link(2) fails when the name exists."""
    try:
        os.link(tmp, name, src_dir_fd=dirfd, dst_dir_fd=dirfd, follow_symlinks=False)
    except OSError as exc:
        if exc.errno == errno.EEXIST:
            raise UnsafePath(path, 'it exists already and is never overwritten')
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS):
            raise
        # a file system without hard links: check, then rename (a small window, as before)
        if stat_entry(dirfd, name, path) is not None:
            raise UnsafePath(path, 'it exists already and is never overwritten')
        _rename(dirfd, tmp, dirfd, name)
        return
    os.unlink(tmp, dir_fd=dirfd)
    _fsync_directory(dirfd)


def _temp_file(dirfd, mode):
    for dummy in range(100):
        name = '%s%s' % (_TEMP_PREFIX, base64.b32encode(os.urandom(10)).decode('ascii').lower())
        try:
            return name, os.open(name, _CREATE_FLAGS, mode & 0o600 or 0o600, dir_fd=dirfd)
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise
    raise OSError(errno.EEXIST, 'no free temporary file name')


def _write_fd(fd, data):
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def write_file(path, data, mode=None, uid=None, gid=None, trust=None, make_dirs=None, exclusive=False,
               times_ns=None):
    """Write ``data`` (bytes or text) to ``path`` atomically.

    ``mode``/``uid``/``gid``: None keeps the replaced file's (0644 and the module's account for a new
    file). ``make_dirs``: ``(mode, uid, gid)`` for missing directories, or None to fail on them.
    ``exclusive``: never replace an existing file (UnsafePath when there is one). ``times_ns``:
    ``(atime, mtime)`` to give the new file. Returns whether the file existed before.
    """
    if not isinstance(data, bytes):
        data = data.encode('utf-8', 'surrogateescape')
    trust, path, dirfd, name, shared = open_parent(path, trust, make_dirs)
    if dirfd is None:
        raise OSError(errno.ENOENT, 'the directory of %s does not exist' % path)
    try:
        current = stat_entry(dirfd, name, path)
        if current is not None and stat.S_ISDIR(current.st_mode):
            raise UnsafePath(path, 'it is a directory, not a file')
        if current is not None and exclusive:
            raise UnsafePath(path, 'it exists already and is never overwritten')
        if current is not None:
            mode = stat.S_IMODE(current.st_mode) if mode is None else mode
            uid = current.st_uid if uid is None else uid
            gid = current.st_gid if gid is None else gid
        mode = 0o644 if mode is None else mode
        tmp, fd = _temp_file(dirfd, mode)
        try:
            try:
                _write_fd(fd, data)
                st = os.fstat(fd)
                if (uid is not None and uid != st.st_uid) or (gid is not None and gid != st.st_gid):
                    os.fchown(fd, -1 if uid is None else uid, -1 if gid is None else gid)
                os.fchmod(fd, mode)  # after fchown, which may clear set-id bits
                if times_ns is not None:
                    os.utime(fd, ns=times_ns)
                os.fsync(fd)
            finally:
                os.close(fd)
            if exclusive:
                _link_new(dirfd, tmp, name, path)
            else:
                _rename(dirfd, tmp, dirfd, name)
        except BaseException:
            try:
                os.unlink(tmp, dir_fd=dirfd)
            except OSError:
                pass
            raise
        return current is not None
    finally:
        os.close(dirfd)


def make_dirs(path, mode=0o755, uid=None, gid=None, trust=None):
    """Create the directory ``path`` and its missing parents (``mode``, owner); whether any was made."""
    trust = trust_or_default(trust)
    path = absolute(path)
    if exists_directory(path, trust):
        return False
    fd, dummy = open_directory(path, path, trust, (mode, uid, gid))
    os.close(fd)
    return True


def exists_directory(path, trust=None):
    """Whether the directory ``path`` exists, every directory on the way checked."""
    path = absolute(path)
    fd, dummy = open_directory(path, path, trust_or_default(trust))
    if fd is None:
        return False
    os.close(fd)
    return True


def remove_file(path, trust=None):
    """Remove ``path``; whether it existed. The directory is fsynced."""
    trust, path, dirfd, name, dummy = open_parent(path, trust)
    if dirfd is None:
        return False
    try:
        st = lstat_entry(dirfd, name)
        if st is None:
            return False
        if stat.S_ISDIR(st.st_mode):
            raise UnsafePath(path, 'it is a directory, not a file')
        os.unlink(name, dir_fd=dirfd)  # a symbolic link goes itself; its target is never touched
        _fsync_directory(dirfd)
        return True
    finally:
        os.close(dirfd)


def move_file(src, dest, trust=None):
    """Rename ``src`` over ``dest`` (the same inode: content, owner and mode come along).

    Across file systems the file is copied with its owner and mode, then ``src`` is removed.
    """
    trust, src, src_fd, src_name, dummy = open_parent(src, trust)
    if src_fd is None:
        raise OSError(errno.ENOENT, 'the directory of %s does not exist' % src)
    try:
        trust, dest, dest_fd, dest_name, dummy = open_parent(dest, trust)
        if dest_fd is None:
            raise OSError(errno.ENOENT, 'the directory of %s does not exist' % dest)
        try:
            if stat_entry(src_fd, src_name, src) is None:
                raise OSError(errno.ENOENT, '%s does not exist' % src)
            current = stat_entry(dest_fd, dest_name, dest)
            if current is not None and stat.S_ISDIR(current.st_mode):
                raise UnsafePath(dest, 'it is a directory, not a file')
            try:
                _rename(src_fd, src_name, dest_fd, dest_name)
                return
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
        finally:
            os.close(dest_fd)
    finally:
        os.close(src_fd)
    found = read_file(src, trust, max_bytes=None)
    write_file(dest, found.data, found.mode, found.uid, found.gid, trust=trust,
               times_ns=(found.atime_ns, found.mtime_ns))
    remove_file(src, trust)
