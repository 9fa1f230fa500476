"""The one host I/O (plugins/module_utils/_host/fileio.py, the path rule in safe_path.py, backups.py,
certs.py), on real files in a temporary directory.

Symbolic links are never followed, directories someone else may change are refused (sshd's
StrictModes rule), writes are atomic with owner and mode set on the descriptor. The property test
builds random paths of directories, links and modes and checks every read and write against a
model of the rule. Owner changes need root, which the test bed runs as.
"""

import os
import pwd
import stat

import pytest

hypothesis = pytest.importorskip('hypothesis')
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from ansible_collections.netkingdom.warden.plugins.module_utils._host import backups as B  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._host import certs as C  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._host import fileio as F  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._host import safe_path as SP  # noqa: E402

NOBODY = pwd.getpwnam('nobody').pw_uid
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason='changing owners needs root (the test bed runs as root)')


def test_write_is_atomic_with_owner_and_mode_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / 'a' / 'b' / 'file'
    assert F.write_file(str(path), 'one\n', make_dirs=(0o755, None, None)) is False
    assert path.read_text() == 'one\n' and stat.S_IMODE(path.stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / 'a').stat().st_mode) == 0o755
    inode = path.stat().st_ino
    assert F.write_file(str(path), b'two\n', mode=0o600) is True
    assert path.read_text() == 'two\n' and path.stat().st_ino != inode  # a new file, renamed in place
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    F.write_file(str(path), 'three\n')  # mode None keeps the replaced file's
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(os.listdir(path.parent)) == ['file']
    with pytest.raises(SP.UnsafePath, match='exists already'):
        F.write_file(str(path), 'x', exclusive=True)


@needs_root
def test_owner_is_set_on_the_descriptor(tmp_path):
    path = tmp_path / 'owned'
    F.write_file(str(path), 'x', mode=0o640, uid=NOBODY, gid=0)
    info = path.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (NOBODY, 0, 0o640)


def test_links_are_refused_and_never_followed(tmp_path):
    secret = tmp_path / 'secret'
    secret.write_text('root-only\n')
    (tmp_path / 'home').mkdir()
    (tmp_path / 'home' / 'file-link').symlink_to(secret)
    (tmp_path / 'dir-link').symlink_to(tmp_path / 'home', target_is_directory=True)
    for path, shown in ((tmp_path / 'home' / 'file-link', 'it is a symbolic link'),
                        (tmp_path / 'dir-link' / 'x', '%s is a symbolic link' % (tmp_path / 'dir-link'))):
        for action in (F.read_file, lambda p: F.write_file(p, 'evil'), B.backup_file):
            with pytest.raises(SP.UnsafePath) as info:
                action(str(path))
            assert str(info.value).startswith('refusing %s: ' % path) and shown in str(info.value)
    assert secret.read_text() == 'root-only\n' and (tmp_path / 'home' / 'file-link').is_symlink()
    assert not (tmp_path / 'home' / 'x').exists()
    assert F.remove_file(str(tmp_path / 'home' / 'file-link')) is True  # the link goes, never its target
    assert secret.read_text() == 'root-only\n'


@needs_root
def test_strict_mode_is_sshd_strictmodes(tmp_path):
    home = tmp_path / 'home'
    home.mkdir(mode=0o700)
    os.chown(home, NOBODY, NOBODY)
    path = home / 'authorized_principals'
    F.write_file(str(path), 'p\n', uid=0, gid=0, trust=SP.Trust(uids=[NOBODY]))
    with pytest.raises(SP.UnsafePath, match='owned by nobody'):
        F.read_file(str(path))  # nobody is not trusted by default
    assert F.read_file(str(path), SP.Trust(uids=[NOBODY])).data == b'p\n'
    # sshd refuses a sticky world-writable directory such as /tmp too; only outside strict mode is it fine
    with pytest.raises(SP.UnsafePath, match='/tmp is writable by group and others'):
        F.read_file(str(path), SP.Trust(uids=[NOBODY], strict=True))
    strict = SP.Trust(uids=[NOBODY], strict=True)
    os.chmod(path, 0o664)
    with pytest.raises(SP.UnsafePath, match='so its lines cannot be trusted'):
        SP.check_file(os.stat(path), str(path), strict, False)
    os.chmod(path, 0o644)
    os.chown(path, NOBODY + 1, 0)
    with pytest.raises(SP.UnsafePath, match='it must belong to root or nobody'):
        SP.check_file(os.stat(path), str(path), strict, False)


@needs_root
def test_a_hard_link_where_an_account_can_write_is_refused(tmp_path):
    secret = tmp_path / 'secret'
    secret.write_text('root-only\n')
    home = tmp_path / 'home'
    home.mkdir(mode=0o700)
    os.chown(home, NOBODY, NOBODY)
    os.link(secret, home / 'link')
    with pytest.raises(SP.UnsafePath, match='2 hard links'):
        F.read_file(str(home / 'link'), SP.Trust(uids=[NOBODY]))
    os.chown(home, 0, 0)
    assert F.read_file(str(home / 'link')).data == b'root-only\n'  # only root could have made it


def test_fifos_and_devices_are_never_opened(tmp_path):
    os.mkfifo(tmp_path / 'fifo')
    with pytest.raises(SP.UnsafePath, match='not a regular file'):
        F.read_file(str(tmp_path / 'fifo'))  # would block for ever if opened for reading
    with pytest.raises(SP.UnsafePath, match='not a regular file'):
        F.read_file('/dev/null')


def test_size_bound_backups_move_and_prune(tmp_path):
    path = tmp_path / 'big'
    path.write_bytes(b'x' * 11)
    with pytest.raises(SP.UnsafePath, match='larger than 10 bytes'):
        F.read_file(str(path), max_bytes=10)
    os.chmod(path, 0o600)
    backup = B.backup_file(str(path), now=0)
    assert backup.startswith(str(path) + '.%d.' % os.getpid()) and backup.endswith('~')
    assert stat.S_IMODE(os.stat(backup).st_mode) == 0o600 and B.backups_of(str(path)) == [backup]
    F.move_file(backup, str(tmp_path / 'moved'))
    assert (tmp_path / 'moved').read_bytes() == b'x' * 11 and not os.path.exists(backup)
    olds = [str(tmp_path / ('big.1.2026-01-0%d@00:00:00~' % day)) for day in (1, 2, 3)]
    for old in olds:
        open(old, 'w').close()
    assert B.prune_backups(str(path), 1) == (olds[:2], [])


def test_certifies_and_cert_path():
    key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHGBMSa2mWbhr4eZZ8vZ0+qCcXjtyq7Jzq2DZAaqxyXw me'
    from ansible_collections.netkingdom.warden.plugins.module_utils._openssh.local_ca import LocalCA
    from cryptography.hazmat.primitives.asymmetric import ed25519
    cert = LocalCA(ed25519.Ed25519PrivateKey.generate()).sign(key, 'user', ['p'], 'id', 0, 2 ** 64 - 1)
    other = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl'
    assert C.certifies(cert, key) and not C.certifies(cert, other) and not C.certifies(key, key)
    assert not C.certifies('ssh-ed25519-cert-v01@openssh.com AAAA', key) and not C.certifies('', '')
    assert C.cert_path('/k/id') == C.cert_path('/k/id.pub') == '/k/id-cert.pub'


# --- the property: a random path, a model of the rule ------------------------------------------
COMPONENT = st.tuples(st.sampled_from(['dir', 'dir', 'dir', 'link']),
                      st.sampled_from([0o755, 0o700, 0o775, 0o757, 0o777, 0o1777, 0o1775]),
                      st.sampled_from([0, 0, NOBODY]))
FINAL = st.sampled_from(['file', 'missing', 'link', 'hardlink', 'fifo', 'dir'])


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chain=st.lists(COMPONENT, min_size=1, max_size=4), final=FINAL, trust_nobody=st.booleans())
def test_reads_and_writes_follow_the_rule(tmp_path_factory, chain, final, trust_nobody):
    if os.geteuid() != 0:
        chain = [(kind, mode, 0) for kind, mode, dummy in chain]
    base = tmp_path_factory.mktemp('tree')
    outside = tmp_path_factory.mktemp('outside')
    target = outside / 'secret'
    target.write_text('secret\n')
    current, shown, expect, shared = base, base, None, False  # where things are made; the path asked for
    for index, (kind, mode, owner) in enumerate(chain):
        name = 'c%d' % index
        if kind == 'link':
            real = outside / ('d%d' % index)
            real.mkdir()
            (current / name).symlink_to(real, target_is_directory=True)
            expect = expect or 'is a symbolic link'
            current = real
        else:
            current = current / name
            current.mkdir()
            os.chmod(current, mode)
            os.chown(current, owner, -1)
            if owner == NOBODY and not trust_nobody:
                expect = expect or 'is owned by nobody'
            if mode & 0o022 and not (mode & 0o1000 and owner == 0):
                expect = expect or 'is writable by'
        shared = kind == 'dir' and (owner != 0 or bool(mode & 0o022))
        shown = shown / name
    made = current / 'file'
    path = shown / 'file'
    if final == 'file':
        made.write_text('mine\n')
    elif final == 'link':
        made.symlink_to(target)
    elif final == 'hardlink':
        os.link(target, made)
    elif final == 'fifo':
        os.mkfifo(made)
    elif final == 'dir':
        made.mkdir()
    trust = SP.Trust(uids=[NOBODY] if trust_nobody else [])
    read_expect = expect or {'link': 'it is a symbolic link', 'fifo': 'not a regular file', 'dir': 'a directory',
                             'hardlink': '2 hard links' if shared else None}.get(final)
    try:
        found = F.read_file(str(path), trust)
        assert read_expect is None, (chain, final, read_expect)
        assert found is None or found.data in (b'mine\n', b'secret\n')
        assert found is None or found.data == b'mine\n' or final == 'hardlink'
    except SP.UnsafePath as exc:
        assert read_expect and read_expect in str(exc), (chain, final, str(exc))
    write_expect = expect or {'link': 'it is a symbolic link', 'dir': 'a directory'}.get(final)
    try:
        F.write_file(str(path), 'new\n', trust=trust)
        assert write_expect is None, (chain, final, write_expect)
        assert made.read_text() == 'new\n' and not made.is_symlink()
    except SP.UnsafePath as exc:
        assert write_expect and write_expect in str(exc), (chain, final, str(exc))
    assert target.read_text() == 'secret\n'  # never written through any link
    for real in outside.iterdir():
        if real.is_dir():  # nothing created behind a link (what the test made there aside)
            assert [p for p in real.iterdir() if p != made and p.name[:1] != 'c'] == [], (chain, final)
