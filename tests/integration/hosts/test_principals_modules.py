"""authorized_principals and principals_drift on real sshd hosts.

A local CA made with ssh-keygen in the test directory is trusted by the hosts (TrustedUserCAKeys
drop-in); a user certificate for principal `p-login` proves the principals file is what sshd reads:
the account accepts the certificate once the principal is added and refuses it after removal.
"""

import base64
import subprocess
import time
from pathlib import Path

import pytest

from tests.bed.ansible_run import run_playbook
from tests.bed.fleet import Fleet

HERE = Path(__file__).resolve().parents[1]
BOOK = HERE / 'playbooks' / 'principals.yml'
DRIFT_BOOK = HERE / 'playbooks' / 'principals_drift.yml'
HEADER = '# managed by netkingdom.warden\n'
PDIR = '/etc/ssh/auth_principals'
DROP_IN = '/etc/ssh/sshd_config.d/40-principals-test.conf'
CA_FILE = '/etc/ssh/ca/ca_user.pub'
HOSTS = ('host1', 'host2', 'host3')
ACTORS = {
    'agt-state-hub-bridge': {'type': 'agt', 'principals': ['agt-task-bridge'], 'ttl_hours': 24},
    'adm-oncall': {'type': 'adm', 'principals': ['adm-oncall'], 'ttl_hours': 8},
    'atm-backup-daily': {'type': 'atm', 'principals': ['atm-backup'], 'ttl_hours': 8},
}


def keygen(path, comment):
    subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', str(path)], check=True)
    return Path(str(path) + '.pub').read_text().strip()


def fingerprint(pub_path):
    out = subprocess.run(['ssh-keygen', '-l', '-E', 'sha256', '-f', str(pub_path)], check=True,
                         capture_output=True, text=True).stdout
    return out.split()[1]


class Bed(object):
    """Three hosts of this module's own (127.77.7.N), an account `svc`, a local user CA."""

    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.fleet = Fleet(3, self.workdir, base='127.77.7.').start()
        self.ca = self.workdir / 'ca'
        self.ca_line = keygen(self.ca, 'test-user-ca')
        self.ca_fp = fingerprint(str(self.ca) + '.pub')
        self.ca2 = self.workdir / 'ca2'
        self.ca2_line = keygen(self.ca2, 'second-ca')
        self.ca2_fp = fingerprint(str(self.ca2) + '.pub')
        # The user's key and a certificate for principal p-login, signed by the local CA.
        self.user_key = self.workdir / 'user_key'
        keygen(self.user_key, 'user')
        subprocess.run(['ssh-keygen', '-q', '-s', str(self.ca), '-I', 'principals-test', '-n', 'p-login',
                        '-V', '+1h', str(self.user_key) + '.pub'], check=True)
        self.user_cert = Path(str(self.user_key) + '-cert.pub')
        for host in self.fleet:
            host.run(['useradd', '-m', '-s', '/bin/bash', '-p', '*', 'svc'])
            host.run(['useradd', '-m', '-s', '/bin/bash', '-p', '*', 'deploy'])
            host.write_file(CA_FILE, self.ca_line + '\n')
            host.write_file(DROP_IN, 'TrustedUserCAKeys %s\nAuthorizedPrincipalsFile %s/%%u\n' % (CA_FILE, PDIR))
            host.reload_sshd()

    def stop(self):
        self.fleet.stop()

    def play(self, tmp_path, steps, check=False, diff=False, **extra):
        data = {'steps': steps}
        data.update(extra)
        return run_playbook(BOOK, inventory=self.fleet.inventory_path, extra_vars=data, check=check, diff=diff,
                            workdir=tmp_path)

    def drift(self, tmp_path, check=False, **extra):
        return run_playbook(DRIFT_BOOK, inventory=self.fleet.inventory_path, extra_vars=extra, check=check,
                            workdir=tmp_path)

    def login(self, host):
        argv = host.ssh_argv(user='svc', key=str(self.user_key), cert=str(self.user_cert))
        return subprocess.run(argv + ['echo principals-ok $(id -un)'], capture_output=True, text=True,
                              timeout=30, check=False)


@pytest.fixture(scope='module')
def bed(isolated, tmp_path_factory):
    b = Bed(tmp_path_factory.mktemp('principals'))
    try:
        yield b
    finally:
        b.stop()


def principals_file(host, account='svc'):
    try:
        return host.read_etc('ssh/auth_principals/%s' % account)
    except FileNotFoundError:
        return None


def listing(host):
    return host.run(['ls', '-a', PDIR], check=False).stdout.split()


def items(run, host, task='Set the principals of the account'):
    return run.task_results(task, host)


def test_check_mode_and_diff_then_write_then_nothing_to_do(bed, tmp_path):
    for host in bed.fleet:
        host.run(['rm', '-rf', PDIR])
    steps = [{'principals': ['p-login', 'agt-task-bridge', 'p-login']}]
    expected = HEADER + 'p-login\nagt-task-bridge\n'

    started = time.monotonic()
    check = bed.play(tmp_path, steps, check=True, diff=True)
    assert check.rc == 0, check.output
    for name in HOSTS:
        res = items(check, name)[0]
        assert res['changed'] and res['added'] == ['p-login', 'agt-task-bridge'], res
        assert res['diff']['before'] == '' and res['diff']['after'] == expected
        assert principals_file(bed.fleet[name]) is None  # check mode wrote nothing
        assert bed.fleet[name].run(['test', '-e', PDIR], check=False).returncode != 0

    write = bed.play(tmp_path, steps, diff=True)
    assert write.rc == 0, write.output
    for name in HOSTS:
        host = bed.fleet[name]
        res = items(write, name)[0]
        assert res['changed'] and res['path'] == PDIR + '/svc'
        assert res['principals'] == ['p-login', 'agt-task-bridge'] and res['removed'] == []
        assert res['diff']['after'] == expected
        assert principals_file(host) == expected
        stat = host.run(['stat', '-c', '%a %U %G', PDIR, PDIR + '/svc']).stdout.split('\n')
        assert stat[:2] == ['755 root root', '644 root root']
        assert [n for n in listing(host) if n.startswith('.warden')] == []  # no temp file left

    again = bed.play(tmp_path, steps, diff=True)
    assert again.rc == 0, again.output
    for name in HOSTS:
        assert again.data['stats'][name]['changed'] == 0
        res = items(again, name)[0]
        assert not res['changed'] and 'diff' not in res
    assert time.monotonic() - started < 40


def test_exclusive_false_absent_and_backups(bed, tmp_path):
    host = bed.fleet['host1']
    original = '# added by hand\nkeep-me\nfrom="127.0.0.1" p-login\n'
    host.write_file(PDIR + '/svc', original)
    steps = [
        {'name': 'add', 'principals': ['p-new', 'p-login'], 'exclusive': False, 'backup': True},
        {'name': 'add again', 'principals': ['p-new'], 'exclusive': False, 'backup': True},
        {'name': 'mode only', 'principals': ['p-new'], 'exclusive': False, 'backup': True, 'mode': '0444'},
        {'name': 'drop one', 'state': 'absent', 'principals': ['keep-me', 'not-there']},
        {'name': 'drop file', 'state': 'absent', 'backup': True},
        {'name': 'drop file again', 'state': 'absent'},
    ]
    run = bed.play(tmp_path, steps, target='host1')
    assert run.rc == 0, run.output
    add, again, mode_only, drop, gone, gone_again = items(run, 'host1')

    assert add['changed'] and add['added'] == ['p-new'] and add['removed'] == []
    assert add['principals'] == ['keep-me', 'p-login', 'p-new']
    backup = add['backup_file']
    assert backup.startswith(PDIR + '/svc.') and backup.endswith('~')
    assert host.read_etc(backup) == original  # the previous file, for a rollback

    assert not again['changed'] and 'backup_file' not in again
    # Owner/mode only: still a change, still a backup (a rollback must never delete a file that existed).
    assert mode_only['changed'] and mode_only['added'] == [] and mode_only['backup_file'] != backup
    assert drop['changed'] and drop['removed'] == ['keep-me'] and drop['principals'] == ['p-login', 'p-new']
    assert gone['changed'] and gone['removed'] == ['p-login', 'p-new'] and gone['principals'] == []
    # The last backup holds what 'drop one' left: comments and options of other lines kept as they were.
    assert host.read_etc(gone['backup_file']) == '# added by hand\nfrom="127.0.0.1" p-login\np-new\n'
    assert not gone_again['changed']
    assert principals_file(host) is None


BAD = [
    ('newline', 'two\nlines', 'control characters'),
    ('comma', 'a,b', 'comma'),
    ('space', 'a b', 'whitespace'),
    ('hash', 'a#b', "'#'"),
    ('star', '*', "'*'"),
    ('empty', '', 'empty'),
    ('control', 'bell\x07', 'control characters'),
    # finding 14.11: invisible and look-alike characters (a zero-width space, Cyrillic o)
    ('zero-width space', 'ops\u200broot', 'printable ASCII'),
    ('look-alike', 'r\u043e\u043et', 'printable ASCII'),
]


def test_bad_input_is_refused_and_nothing_is_written(bed, tmp_path):
    before = HEADER + 'p-login\n'
    host = bed.fleet['host1']
    host.run(['rm', '-rf', PDIR])
    host.write_file(PDIR + '/svc', before)
    steps = [{'name': name, 'principals': ['fine', bad]} for name, bad, dummy in BAD]
    steps += [
        {'name': 'writable mode', 'principals': ['fine'], 'mode': '0664'},
        {'name': 'unreadable mode', 'principals': ['fine'], 'mode': '0640'},
        {'name': 'traversal', 'user': '../../root/.ssh/authorized_keys', 'principals': ['fine']},
        {'name': 'foreign owner', 'principals': ['fine'], 'owner': 'deploy'},
        {'name': 'look-alike account', 'user': 'svc\u0441', 'principals': ['fine']},
    ]
    run = bed.play(tmp_path, steps, target='host1')
    assert run.rc != 0
    results = items(run, 'host1')
    assert len(results) == len(steps)
    for (kind, bad, words), res in zip(BAD, results):
        assert res['failed'], (kind, res)
        assert 'principals[1]' in res['msg'] and words in res['msg'], (kind, res['msg'])
        # the offending character is shown as an escape, never raw
        assert res['msg'].isascii() and ascii(bad)[1:-1] in res['msg'], (kind, res['msg'])
    mode, unreadable, traversal, owner, lookalike = results[len(BAD):]
    assert lookalike['failed'] and "not a valid account name 'svc\\u0441'" in lookalike['msg'], lookalike['msg']
    assert mode['failed'] and 'group- or world-writable' in mode['msg']
    assert unreadable['failed'] and 'unreadable for svc' in unreadable['msg']
    assert traversal['failed'] and 'not a valid account name' in traversal['msg']
    assert owner['failed'] and 'neither root nor svc' in owner['msg']
    assert principals_file(host) == before
    assert sorted(n for n in listing(host) if n not in ('.', '..')) == ['svc']  # no temp file, no backup
    keys = (Path(host.root_dir) / '.ssh' / 'authorized_keys').read_text()
    assert keys.startswith('ssh-ed25519 ') and 'fine' not in keys  # the traversal touched nothing


def test_real_login_follows_the_principals_file(bed, tmp_path):
    for host in bed.fleet:
        host.write_file(PDIR + '/svc', 'someone-else\n')
        refused = bed.login(host)
        assert refused.returncode != 0, refused.stdout

    run = bed.play(tmp_path, [{'principals': ['someone-else', 'p-login'], 'exclusive': False}])
    assert run.rc == 0, run.output
    for host in bed.fleet:
        assert items(run, host.name)[0]['added'] == ['p-login']
        ok = bed.login(host)
        assert ok.returncode == 0, ok.stderr + host.sshd_log()[-1500:]
        assert ok.stdout.strip() == 'principals-ok svc'
        assert 'ID principals-test' in host.sshd_log()

    run = bed.play(tmp_path, [{'state': 'absent', 'principals': ['p-login']}])
    assert run.rc == 0, run.output
    for host in bed.fleet:
        assert items(run, host.name)[0]['removed'] == ['p-login']
        assert principals_file(host) == 'someone-else\n'
        refused = bed.login(host)
        assert refused.returncode != 0 and 'principals-ok' not in refused.stdout


WANTED = {'svc': ['p-login', 'agt-task-bridge'], 'deploy': ['adm-oncall']}


def test_drift_is_reported_per_host_account_and_principal(bed, tmp_path):
    for host in bed.fleet:
        host.run(['rm', '-rf', PDIR])
        host.write_file(CA_FILE, bed.ca_line + '\n')
    steps = [{'user': account, 'principals': wanted} for account, wanted in WANTED.items()]
    setup = bed.play(tmp_path, steps)
    assert setup.rc == 0, setup.output

    # A manual edit on host2: a principal added and one removed, a second CA key, an unmanaged account.
    host2 = bed.fleet['host2']
    host2.write_file(PDIR + '/svc', HEADER + 'agt-task-bridge\nagt-rogue\n')
    host2.write_file(CA_FILE, '# edited by hand\n%s\n%s\n' % (bed.ca_line.rsplit(' ', 1)[0], bed.ca2_line))
    host2.write_file(PDIR + '/mallory', 'adm-oncall\n')
    # Backups and temp files in the directory are not accounts.
    bed.fleet['host3'].write_file(PDIR + '/svc.123.2026-11-26@10:00:00~', 'old\n')

    # The CA key given with another comment is the same key.
    ca_keys = [bed.ca_line.rsplit(' ', 1)[0] + ' renamed-comment']
    run = bed.drift(tmp_path, ca_keys=ca_keys, warden_host_principals=WANTED, warden_actors=ACTORS)
    assert run.rc == 0, run.output
    task = 'Compare the principals files and CA keys with the wanted state'
    for name in ('host1', 'host3'):
        res = run.task_results(task, name)[0]
        assert res['drift'] is False and res['summary'] == [] and not res['changed'], res
        assert res['unmanaged_accounts'] == [] and res['ca']['keys'] == [bed.ca_fp]
        assert res['unaccepted_actors'] == ['atm-backup-daily']
        assert res['msg'] == 'no principals drift on %s' % name
    res = run.task_results(task, 'host2')[0]
    assert res['drift'] is True and not res['changed'] and not res.get('failed')
    assert res['accounts']['svc'] == {'path': PDIR + '/svc', 'file_missing': False, 'missing': ['p-login'],
                                      'extra': ['agt-rogue'], 'principals': ['agt-task-bridge', 'agt-rogue'],
                                      'invalid_lines': []}
    assert res['accounts']['deploy']['missing'] == [] and res['accounts']['deploy']['extra'] == []
    assert res['unmanaged_accounts'] == ['mallory']
    assert res['ca']['missing_keys'] == [] and res['ca']['extra_keys'] == [bed.ca2_fp]
    summary = res['summary']
    assert 'host2: account svc does not accept principal p-login: not in %s/svc' % PDIR in summary
    assert 'host2: account svc accepts principal agt-rogue, which is not wanted (%s/svc)' % PDIR in summary
    assert 'host2: account mallory is not managed, but %s/mallory accepts principals adm-oncall' % PDIR in summary
    assert 'host2: %s trusts CA key %s (ssh-ed25519 second-ca), which is not wanted' % (CA_FILE, bed.ca2_fp) \
        in summary
    assert len(summary) == 4
    for name in HOSTS:
        assert run.data['stats'][name]['changed'] == 0

    # fail_on_drift fails only the drifting host, listing the drift; check mode reads just the same.
    failing = bed.drift(tmp_path, check=True, ca_keys=ca_keys, warden_host_principals=WANTED,
                        warden_actors=ACTORS, fail_on_drift=True)
    assert failing.rc != 0
    res = failing.task_results(task, 'host2')[0]
    assert res['failed'] and res['msg'].startswith('principals drift on host2:\n- ')
    assert all(sentence in res['msg'] for sentence in summary)
    for name in ('host1', 'host3'):
        assert not failing.task_results(task, name)[0].get('failed')
    assert failing.data['stats']['host2']['failures'] == 1


# --- finding 14.1: planted symbolic links, foreign or writable directories, hard links ------------
HOME_TEMPLATE = '%h/.ssh/authorized_principals'
INFO_BOOK = HERE / 'playbooks' / 'principals_drift_host.yml'
SECRET = '/home/warden-root-only'  # same file system as /home, so the hard link case works
SECRET_LINE = 'root-secret-line'
SVC_SSH = '/home/svc/.ssh'
SVC_FILE = SVC_SSH + '/authorized_principals'


def plant(host, script):
    """Set up the home of svc as the account itself could have (root does it here, then hands it over)."""
    host.run(['rm', '-rf', SVC_SSH, '/etc/ssh/elsewhere'])
    host.write_file(SECRET, SECRET_LINE + '\nsecond-secret\n', mode=0o600)
    host.run(['sh', '-c', script])


def host_path(host, path):
    """`stat` of a path inside the host: '<type> <octal mode> <owner>' or None when missing."""
    res = host.run(['stat', '-c', '%F %a %U', path], check=False)
    return res.stdout.strip() if res.returncode == 0 else None


PLANTS = {
    # ~/.ssh/authorized_principals -> a root-only file
    'file link': ('mkdir -m 700 %s && ln -s %s %s && chown -hR svc:svc %s' % (SVC_SSH, SECRET, SVC_FILE, SVC_SSH),
                  SVC_FILE, 'symbolic link'),
    # ~/.ssh -> a directory of root's
    'directory link': ('mkdir -m 755 /etc/ssh/elsewhere && ln -s /etc/ssh/elsewhere %s && chown -h svc:svc %s'
                       % (SVC_SSH, SVC_SSH), SVC_SSH, 'symbolic link'),
    # a hard link to the root file (fs.protected_hardlinks=0 lets the account make one)
    'hard link': ('mkdir -m 700 %s && chown svc:svc %s && ln %s %s' % (SVC_SSH, SVC_SSH, SECRET, SVC_FILE),
                  SVC_FILE, 'hard link'),
    # ~/.ssh writable by the group: anyone in it could swap the file
    'group-writable directory': ('mkdir -m 770 %s && chown svc:svc %s' % (SVC_SSH, SVC_SSH), SVC_SSH,
                                 'writable by group'),
    # ~/.ssh of another account
    'foreign directory': ('mkdir -m 700 %s && chown deploy:deploy %s' % (SVC_SSH, SVC_SSH), SVC_SSH,
                          'owned by deploy'),
}


@pytest.mark.parametrize('kind', sorted(PLANTS))
def test_planted_links_and_unsafe_directories_are_refused(bed, tmp_path, kind):
    """Finding 14.1 on a real host: nothing is read through, returned from or written over a planted path."""
    script, named, why = PLANTS[kind]
    host = bed.fleet['host1']
    plant(host, script)
    before = host_path(host, SVC_FILE)
    steps = [{'name': 'exclusive', 'principals': ['p-login'], 'path_template': HOME_TEMPLATE},
             {'name': 'keep lines', 'principals': ['p-login'], 'exclusive': False, 'path_template': HOME_TEMPLATE},
             {'name': 'remove', 'state': 'absent', 'principals': ['p-login'], 'path_template': HOME_TEMPLATE}]
    run = bed.play(tmp_path, steps, target='host1')
    assert run.rc != 0
    for res in items(run, 'host1'):
        assert res['failed'] and not res['changed'], (kind, res)
        assert named in res['msg'] and why in res['msg'], (kind, res['msg'])
        assert 'refusing' in res['msg'], res['msg']
    info = run_playbook(INFO_BOOK, inventory=bed.fleet.inventory_path, workdir=tmp_path,
                        extra_vars={'target': 'host1', 'accounts': ['svc'], 'path_template': HOME_TEMPLATE})
    assert info.rc == 0, info.output
    entry = info.task_results('Read the principals files', 'host1')[0]['files']['svc']
    assert entry['content'] is None and named in entry['error'] and why in entry['error'], entry
    drift = bed.drift(tmp_path, target='host1', path_template=HOME_TEMPLATE,
                      warden_host_principals={'svc': ['p-login']})
    assert drift.rc == 0, drift.output
    report = drift.task_results('Compare the principals files and CA keys with the wanted state', 'host1')[0]
    assert report['drift'] and report['accounts']['svc']['principals'] == [], report
    # the root file's text is nowhere in what came back, and nothing was written or replaced
    assert SECRET_LINE not in run.output + info.output + drift.output
    assert host.run(['cat', SECRET]).stdout == SECRET_LINE + '\nsecond-secret\n'
    assert host.run(['stat', '-c', '%a %U', SECRET]).stdout.strip() == '600 root'
    assert host_path(host, SVC_FILE) == before
    assert host_path(host, '/etc/ssh/elsewhere/authorized_principals') is None
    host.run(['rm', '-rf', SVC_SSH, '/etc/ssh/elsewhere'])


def test_a_home_directory_template_works_when_the_path_is_safe(bed, tmp_path):
    host = bed.fleet['host1']
    plant(host, 'mkdir -m 700 %s && chown svc:svc %s' % (SVC_SSH, SVC_SSH))
    run = bed.play(tmp_path, [{'principals': ['p-login'], 'path_template': HOME_TEMPLATE}], target='host1')
    assert run.rc == 0, run.output
    res = items(run, 'host1')[0]
    assert res['changed'] and res['path'] == SVC_FILE and res['principals'] == ['p-login']
    assert host.run(['cat', SVC_FILE]).stdout == HEADER + 'p-login\n'
    assert host_path(host, SVC_FILE) == 'regular file 644 root'
    host.run(['rm', '-rf', SVC_SSH])


def test_lines_that_are_not_valid_principals_never_leave_the_host(bed, tmp_path):
    """A line sshd would never match (a look-alike name, a CR line ending, a control character) is
    reported by number; its text is not returned by principals_drift_host, drift or authorized_principals."""
    host = bed.fleet['host1']
    lines = ['# by hand', 'p-login', 'r\u043e\u043et', 'ops\r', 'esc\x1b[31mred', 'from="10.0.0.1" agt-task-bridge']
    host.run(['rm', '-rf', PDIR])
    host.write_file(PDIR + '/svc', '\n'.join(lines) + '\n')
    info = run_playbook(INFO_BOOK, inventory=bed.fleet.inventory_path, workdir=tmp_path,
                        extra_vars={'target': 'host1', 'accounts': ['svc']})
    assert info.rc == 0, info.output
    entry = info.task_results('Read the principals files', 'host1')[0]['files']['svc']
    assert entry['invalid_lines'] == [3, 4, 5]
    assert entry['content'] == '# by hand\np-login\n\n\n\nfrom="10.0.0.1" agt-task-bridge\n'
    drift = bed.drift(tmp_path, target='host1', warden_host_principals={'svc': ['p-login', 'agt-task-bridge']})
    report = drift.task_results('Compare the principals files and CA keys with the wanted state', 'host1')[0]
    assert report['drift'] and report['accounts']['svc']['invalid_lines'] == [3, 4, 5]
    assert report['accounts']['svc']['extra'] == [] and report['accounts']['svc']['missing'] == []
    assert 'host1: account svc: %s/svc line 3, 4, 5 are not a valid principal line (text not shown)' % PDIR \
        in report['summary']
    # not exclusive: the lines stay as they are on the host, and neither the result nor the diff shows them
    keep = bed.play(tmp_path, [{'principals': ['p-login', 'atm-backup'], 'exclusive': False}], target='host1',
                    diff=True)
    res = items(keep, 'host1')[0]
    assert res['changed'] and res['added'] == ['atm-backup'] and res['invalid_lines'] == [3, 4, 5], res
    assert res['diff']['after'] == entry['content'] + 'atm-backup\n', res['diff']
    raw = host.run(['base64', '-w0', PDIR + '/svc']).stdout  # as bytes: reading text would turn '\r' into '\n'
    assert base64.b64decode(raw).decode() == '\n'.join(lines + ['atm-backup']) + '\n'
    run = bed.play(tmp_path, [{'principals': ['p-login']}], target='host1', diff=True)
    res = items(run, 'host1')[0]
    assert res['changed'] and res['removed'] == ['agt-task-bridge', 'atm-backup'], res
    assert res['invalid_lines'] == [3, 4, 5]
    assert res['diff']['before'] == entry['content'] + 'atm-backup\n', res['diff']
    for output in (info.output, drift.output, keep.output, run.output):
        assert '\u043e' not in output and '\\u043e' not in output and '31mred' not in output, output
    assert principals_file(host) == HEADER + 'p-login\n'
