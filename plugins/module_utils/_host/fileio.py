# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one file I/O of the host modules: safe paths, atomic writes, reads, backups, certificates.

Every host module reads and writes through here, so there is one place that renames a file into
place (:func:`_rename`) and one rule for which paths are safe:

* a path is walked from ``/`` one component at a time, each directory opened with ``O_NOFOLLOW``
  relative to the one before (no symbolic link is ever followed, and nobody can swap a directory
  between the check and the use);
* every directory on the way must belong to root or to a trusted account (:class:`Trust`) and be
  writable by its owner only: sshd's ``StrictModes`` rule. Outside strict mode a root-owned sticky
  directory such as ``/tmp`` is allowed too (nobody can replace what others created in it);
* the file itself is opened with ``O_NOFOLLOW``; it must be a regular file, and where an account
  other than root may add entries to its directory it must have one link only (no hard link to a
  file of root's). In strict mode it must also belong to root or the account and be writable by its owner
  only, or sshd would ignore it.

A write goes to a new file in the same directory (``O_EXCL``), gets its owner and mode with
``fchown``/``fchmod`` on the open descriptor, is fsynced, renamed over the old file, and the
directory is fsynced. ``Trust(walk=False)`` is the controller's variant for files the user points at
(reports, a new CA key): the directory is opened as given, the rest is the same.

Standard library only (AnsiballZ ships this to every host).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import errno
import os
import pwd
import re
import stat
import struct
import time

from ansible_collections.netkingdom.warden.plugins.module_utils.errors import WardenError

MAX_FILE_BYTES = 1024 * 1024
CERT_SUFFIX = '-cert-v01@openssh.com'
BACKUP_STAMP = '%Y-%m-%d@%H:%M:%S'
_BACKUP_RE = r'\.(\d+)\.(\d{4}-\d{2}-\d{2}@\d{2}:\d{2}:\d{2})~'
_TEMP_PREFIX = '.warden-'

_DIR_FLAGS = os.O_RDONLY | getattr(os, 'O_DIRECTORY', 0) | getattr(os, 'O_CLOEXEC', 0)
_NOFOLLOW = getattr(os, 'O_NOFOLLOW', 0)
_READ_FLAGS = os.O_RDONLY | _NOFOLLOW | getattr(os, 'O_NONBLOCK', 0) | getattr(os, 'O_CLOEXEC', 0)
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | getattr(os, 'O_CLOEXEC', 0)


class UnsafePath(WardenError):
    """A path the host modules refuse to read or write; the message names the path and why."""

    def __init__(self, path, why):
        self.path = path
        self.why = why
        super(UnsafePath, self).__init__('refusing %s: %s' % (path, why))


def _user(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return 'uid %d' % uid


class Trust(object):
    """Who may own (and write) the directories and the file on a path.

    ``uids``: accounts trusted besides root, for example the account whose principals file it is.
    ``strict``: sshd's ``StrictModes`` exactly (no sticky-directory exception; the file itself
    checked too). Outside strict mode the account the module runs as is trusted too.
    ``walk=False`` (the controller, files the user points at): the directory is opened as given.
    """

    def __init__(self, uids=(), strict=False, walk=True):
        self.strict = strict
        self.walk = walk
        trusted = set(uid for uid in uids if uid is not None)
        if not strict:
            trusted.add(os.geteuid())
        self.uids = frozenset(trusted | set([0]))

    def who(self):
        others = sorted(_user(uid) for uid in self.uids if uid != 0)
        return ' or '.join(['root'] + others)

    @classmethod
    def of_directory(cls, path):
        """Trust root, this process and the owner of the directory ``path`` is in (its own files)."""
        try:
            return cls(uids=[os.lstat(os.path.dirname(_absolute(path)) or '/').st_uid])
        except OSError:
            return cls()


def _absolute(path):
    return os.path.normpath(os.path.join(os.getcwd(), path)) if not path.startswith('/') else os.path.normpath(path)


def _writable_by(mode):
    who = [name for bit, name in ((0o020, 'group'), (0o002, 'others')) if mode & bit]
    return ' and '.join(who)


def _check_directory(fd, shown, path, trust):
    """Refuse a directory that someone besides root and the trusted accounts owns or may write.
    Returns whether an account other than root can change entries in it."""
    st = os.fstat(fd)
    if st.st_uid not in trust.uids:
        raise UnsafePath(path, '%s is owned by %s; every directory on the path must belong to %s '
                         '(as sshd StrictModes requires)' % (shown, _user(st.st_uid), trust.who()))
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o022:
        sticky = mode & stat.S_ISVTX and st.st_uid == 0 and not trust.strict
        if not sticky:
            raise UnsafePath(path, '%s is writable by %s (mode %04o); every directory on the path must be '
                             'writable by its owner only (as sshd StrictModes requires)'
                             % (shown, _writable_by(mode), mode))
        return True
    return st.st_uid != 0


def _mkdir(parent_fd, name, spec):
    mode, uid, gid = spec
    os.mkdir(name, mode, dir_fd=parent_fd)
    fd = os.open(name, _DIR_FLAGS | _NOFOLLOW, dir_fd=parent_fd)
    try:
        if (uid is not None and uid >= 0) or (gid is not None and gid >= 0):
            os.fchown(fd, -1 if uid is None else uid, -1 if gid is None else gid)
        os.fchmod(fd, mode)  # not the umask's
    except BaseException:
        os.close(fd)
        raise
    return fd


def _open_directory(directory, path, trust, make_dirs=None):
    """``(fd of directory, or None when it is missing; shared)``, walked from ``/`` (see the module
    doc). ``path`` is what messages name. ``make_dirs``: ``(mode, uid, gid)`` to create missing
    directories with; None leaves them missing. ``shared``: an account other than root may add
    entries to the directory itself (make a hard link there)."""
    if not trust.walk:
        if make_dirs and not os.path.isdir(directory):
            os.makedirs(directory, make_dirs[0])
        try:
            return os.open(directory, _DIR_FLAGS), False
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return None, False
            raise
    fd = os.open('/', _DIR_FLAGS)
    shown = '/'
    try:
        shared = _check_directory(fd, shown, path, trust)
        for part in [p for p in directory.split('/') if p]:
            shown = os.path.join(shown, part)
            try:
                sub = os.open(part, _DIR_FLAGS | _NOFOLLOW, dir_fd=fd)
            except OSError as exc:
                if exc.errno == errno.ENOENT and make_dirs:
                    sub = _mkdir(fd, part, make_dirs)
                elif exc.errno == errno.ENOENT:
                    os.close(fd)
                    return None, shared
                elif exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    if stat.S_ISLNK(os.stat(part, dir_fd=fd, follow_symlinks=False).st_mode):
                        raise UnsafePath(path, '%s is a symbolic link; a path must not lead through one' % shown)
                    raise UnsafePath(path, '%s is not a directory' % shown)
                else:
                    raise
            os.close(fd)
            fd = sub
            shared = _check_directory(fd, shown, path, trust)  # of the last one: where a link could be made
        return fd, shared
    except BaseException:
        os.close(fd)
        raise


def _open_parent(path, trust, make_dirs=None):
    """``(trust, absolute path, fd of the directory holding it or None, file name, shared)``; see
    :func:`_open_directory` (``trust`` None: the default :class:`Trust`)."""
    trust = _trust(trust)
    path = _absolute(path)
    parent, name = os.path.split(path)
    if not name:
        raise UnsafePath(path, 'it is a directory, not a file')
    fd, shared = _open_directory(parent, path, trust, make_dirs)
    return trust, path, fd, name, shared


def _check_file(st, path, trust, shared):
    if stat.S_ISDIR(st.st_mode):
        raise UnsafePath(path, 'it is a directory, not a file')
    if not stat.S_ISREG(st.st_mode):
        raise UnsafePath(path, 'it is not a regular file')
    if shared and st.st_nlink > 1:
        raise UnsafePath(path, 'it has %d hard links and an account other than root can write its directory '
                         '(a hard link to another file?)' % st.st_nlink)
    if trust.strict:
        if st.st_uid not in trust.uids:
            raise UnsafePath(path, 'it is owned by %s; it must belong to %s (as sshd StrictModes requires)'
                             % (_user(st.st_uid), trust.who()))
        if st.st_mode & 0o022:
            raise UnsafePath(path, 'it is writable by %s (mode %04o), so its lines cannot be trusted (sshd '
                             'StrictModes ignores such a file)' % (_writable_by(st.st_mode), stat.S_IMODE(st.st_mode)))


def _lstat(dirfd, name):
    """lstat of an entry of the directory ``dirfd``, or None when it is missing."""
    try:
        return os.stat(name, dir_fd=dirfd, follow_symlinks=False)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise


def _stat_entry(dirfd, name, path):
    """lstat of an existing entry (None when missing); a symbolic link is refused."""
    st = _lstat(dirfd, name)
    if st is not None and stat.S_ISLNK(st.st_mode):
        raise UnsafePath(path, 'it is a symbolic link')
    return st


def _trust(trust):
    return Trust() if trust is None else trust


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

    Raises UnsafePath (see the module doc, and a file larger than ``max_bytes``), or OSError.
    ``trust``: a :class:`Trust`; None for the default (root and the module's own account).
    """
    trust, path, dirfd, name, shared = _open_parent(path, trust)
    if dirfd is None:
        return None
    try:
        before = _stat_entry(dirfd, name, path)
        if before is None:
            return None
        _check_file(before, path, trust, shared)  # before open(): a device or FIFO is never opened
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
        _check_file(st, path, trust, shared)
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
    trust, path, dirfd, name, shared = _open_parent(path, trust)
    if dirfd is None:
        return False
    try:
        st = _stat_entry(dirfd, name, path)
    finally:
        os.close(dirfd)
    if st is not None:
        _check_file(st, path, trust, shared)
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
        if _stat_entry(dirfd, name, path) is not None:
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
    trust, path, dirfd, name, shared = _open_parent(path, trust, make_dirs)
    if dirfd is None:
        raise OSError(errno.ENOENT, 'the directory of %s does not exist' % path)
    try:
        current = _stat_entry(dirfd, name, path)
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
    trust = _trust(trust)
    path = _absolute(path)
    if exists_directory(path, trust):
        return False
    fd, dummy = _open_directory(path, path, trust, (mode, uid, gid))
    os.close(fd)
    return True


def exists_directory(path, trust=None):
    """Whether the directory ``path`` exists, every directory on the way checked."""
    path = _absolute(path)
    fd, dummy = _open_directory(path, path, _trust(trust))
    if fd is None:
        return False
    os.close(fd)
    return True


def remove_file(path, trust=None):
    """Remove ``path``; whether it existed. The directory is fsynced."""
    trust, path, dirfd, name, dummy = _open_parent(path, trust)
    if dirfd is None:
        return False
    try:
        st = _lstat(dirfd, name)
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
    trust, src, src_fd, src_name, dummy = _open_parent(src, trust)
    if src_fd is None:
        raise OSError(errno.ENOENT, 'the directory of %s does not exist' % src)
    try:
        trust, dest, dest_fd, dest_name, dummy = _open_parent(dest, trust)
        if dest_fd is None:
            raise OSError(errno.ENOENT, 'the directory of %s does not exist' % dest)
        try:
            if _stat_entry(src_fd, src_name, src) is None:
                raise OSError(errno.ENOENT, '%s does not exist' % src)
            current = _stat_entry(dest_fd, dest_name, dest)
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


# --- backups -------------------------------------------------------------------------------------
def backup_file(path, trust=None, now=None):
    """Copy ``path`` beside it as ``<file>.<pid>.<YYYY-mm-dd@HH:MM:SS>~`` (the name
    AnsibleModule.backup_local gives), with its owner, mode and times; the copy's path, or None
    when there is no file."""
    found = read_file(path, trust, max_bytes=None)
    if found is None:
        return None
    backup = '%s.%d.%s~' % (_absolute(path), os.getpid(), time.strftime(BACKUP_STAMP, time.localtime(now)))
    write_file(backup, found.data, found.mode, found.uid, found.gid, trust=trust,
               times_ns=(found.atime_ns, found.mtime_ns))
    return backup


def backups_of(path):
    """Backups of ``path`` beside it, oldest first (by the time in the name, then mtime)."""
    directory, name = os.path.split(path)
    pattern = re.compile(re.escape(name) + _BACKUP_RE + r'\Z')
    try:
        entries = os.listdir(directory or '.')
    except OSError:
        return []
    found = []
    for entry in entries:
        match = pattern.match(entry)
        if match is None:
            continue
        full = os.path.join(directory, entry)
        try:
            mtime = os.lstat(full).st_mtime
        except OSError:
            continue
        found.append((match.group(2), mtime, full))
    return [full for dummy, dummy2, full in sorted(found)]


def prune(paths, keep, protect=(), trust=None):
    """Remove all but the ``keep`` newest of ``paths`` (oldest first; ``keep`` < 1 keeps every one),
    never one in ``protect``. Returns ``(removed, problems)``: a file that cannot be removed is a
    problem to report, never a reason to fail the change that was just made."""
    if keep is None or keep < 1:
        return [], []
    excess = len(paths) - keep
    removed, problems = [], []
    for path in paths:
        if excess <= 0:
            break
        if path in protect:
            continue
        excess -= 1
        try:
            if remove_file(path, trust):
                removed.append(path)
        except (OSError, UnsafePath) as exc:
            problems.append('%s: %s' % (path, getattr(exc, 'strerror', None) or exc))
    return removed, problems


def prune_backups(path, keep, trust=None):
    """Keep only the ``keep`` newest backups of ``path`` (see :func:`backups_of`, :func:`prune`)."""
    return prune(backups_of(path), keep, trust=trust)


# --- certificates --------------------------------------------------------------------------------
def cert_path(key):
    """``<key>-cert.pub`` for a private key path or its ``.pub``: where ssh and sshd look for it."""
    return (key[:-len('.pub')] if key.endswith('.pub') else key) + '-cert.pub'


def _blob(line):
    fields = line.split() if isinstance(line, str) else []
    if len(fields) < 2:
        return None, None
    try:
        return fields[0], base64.b64decode(fields[1].encode('ascii'), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None, None


def certifies(cert_line, key_line):
    """Whether the certificate line ``cert_line`` certifies the public key line ``key_line``.

    The certificate must be of the key's type, and its public key fields (after the type and the
    nonce, see OpenSSH PROTOCOL.certkeys) must be the key's own.
    """
    cert_type, cert_blob = _blob(cert_line)
    key_type, key_blob = _blob(key_line)
    if cert_blob is None or key_blob is None or cert_type != '%s%s' % (key_type, CERT_SUFFIX):
        return False
    offset = 0
    for expected in (cert_type.encode('ascii'), None):  # the type, then the nonce
        if len(cert_blob) < offset + 4:
            return False
        (length,) = struct.unpack('>I', cert_blob[offset:offset + 4])
        value = cert_blob[offset + 4:offset + 4 + length]
        if len(value) != length or (expected is not None and value != expected):
            return False
        offset += 4 + length
    prefix = 4 + len(key_type.encode('ascii'))
    if key_blob[:prefix] != struct.pack('>I', prefix - 4) + key_type.encode('ascii'):
        return False
    body = key_blob[prefix:]
    return len(body) > 0 and cert_blob[offset:offset + len(body)] == body
