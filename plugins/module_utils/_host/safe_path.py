# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which paths the host modules may read and write: :class:`Trust`, :class:`UnsafePath` and the walk.

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

``Trust(walk=False)`` is the controller's variant for files the user points at (reports, a new CA
key): the directory is opened as given. Reading and writing through these checks is ``fileio.py``;
this file holds the rule only. Standard library only (AnsiballZ ships this to every host).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import pwd
import stat

from ansible_collections.netkingdom.warden.plugins.module_utils.errors import WardenError

DIR_FLAGS = os.O_RDONLY | getattr(os, 'O_DIRECTORY', 0) | getattr(os, 'O_CLOEXEC', 0)
NOFOLLOW = getattr(os, 'O_NOFOLLOW', 0)


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
            return cls(uids=[os.lstat(os.path.dirname(absolute(path)) or '/').st_uid])
        except OSError:
            return cls()


def absolute(path):
    """The absolute, normalised form of ``path`` (relative to the working directory)."""
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
    fd = os.open(name, DIR_FLAGS | NOFOLLOW, dir_fd=parent_fd)
    try:
        if (uid is not None and uid >= 0) or (gid is not None and gid >= 0):
            os.fchown(fd, -1 if uid is None else uid, -1 if gid is None else gid)
        os.fchmod(fd, mode)  # not the umask's
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_directory(directory, path, trust, make_dirs=None):
    """``(fd of directory, or None when it is missing; shared)``, walked from ``/`` (see the module
    doc). ``path`` is what messages name. ``make_dirs``: ``(mode, uid, gid)`` to create missing
    directories with; None leaves them missing. ``shared``: an account other than root may add
    entries to the directory itself (make a hard link there)."""
    if not trust.walk:
        if make_dirs and not os.path.isdir(directory):
            os.makedirs(directory, make_dirs[0])
        try:
            return os.open(directory, DIR_FLAGS), False
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return None, False
            raise
    fd = os.open('/', DIR_FLAGS)
    shown = '/'
    try:
        shared = _check_directory(fd, shown, path, trust)
        for part in [p for p in directory.split('/') if p]:
            shown = os.path.join(shown, part)
            try:
                sub = os.open(part, DIR_FLAGS | NOFOLLOW, dir_fd=fd)
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


def open_parent(path, trust, make_dirs=None):
    """``(trust, absolute path, fd of the directory holding it or None, file name, shared)``; see
    :func:`open_directory` (``trust`` None: the default :class:`Trust`)."""
    trust = trust_or_default(trust)
    path = absolute(path)
    parent, name = os.path.split(path)
    if not name:
        raise UnsafePath(path, 'it is a directory, not a file')
    fd, shared = open_directory(parent, path, trust, make_dirs)
    return trust, path, fd, name, shared


def check_file(st, path, trust, shared):
    """Refuse ``st`` (an lstat of ``path``) unless it is a regular file the rule trusts; ``shared`` when
    someone besides root can write its directory."""
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


def lstat_entry(dirfd, name):
    """lstat of an entry of the directory ``dirfd``, or None when it is missing."""
    try:
        return os.stat(name, dir_fd=dirfd, follow_symlinks=False)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise


def stat_entry(dirfd, name, path):
    """lstat of an existing entry (None when missing); a symbolic link is refused."""
    st = lstat_entry(dirfd, name)
    if st is not None and stat.S_ISLNK(st.st_mode):
        raise UnsafePath(path, 'it is a symbolic link')
    return st


def trust_or_default(trust):
    """``trust``, or the default rule (root only) when None."""
    return Trust() if trust is None else trust
