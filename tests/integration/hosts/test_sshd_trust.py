"""sshd_trust through the host_principals role on 3 real sshd hosts with the local CA.

Inspect once, decide on the controller, write once: a first run costs two host module calls per
host, a converged run exactly one. The calls are counted on the hosts themselves: each host's
Python interpreter is a wrapper that logs every start (every module run starts one), so the count
does not depend on Ansible's output.
"""

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.bed.ansible_run import run_playbook
from tests.bed.fleet import Fleet

ACTORS = {
    'adm-example': {'type': 'adm', 'principals': ['adm-example', 'ops-admin'], 'ttl_hours': 8},
    'agt-state-hub-bridge': {'type': 'agt', 'principals': ['agt-task-bridge', 'agt-bridge-v2'], 'ttl_hours': 24},
}
PRINCIPALS = {'ops': ['adm-example', 'ops-admin'], 'svc': ['agt-task-bridge']}
ACTOR = 'agt-state-hub-bridge'  # the workload actor of the last test
ACTOR_KEY = '/var/lib/warden/actors/%s/id_ed25519' % ACTOR
DROPIN = 'ssh/sshd_config.d/20-netkingdom-warden.conf'
MANAGED = ('ssh/ca/ca_user.pub', 'ssh/auth_principals/ops', 'ssh/auth_principals/svc', DROPIN,
           'ssh/sshd_config', 'ssh/ssh_host_ed25519_key-cert.pub')
COUNTER = '#!/bin/sh\necho "$$" >> /root/module-calls.log\nexec /usr/bin/python3 "$@"\n'
ROLE_PLAY = [{'name': 'Host principals', 'hosts': 'fleet', 'gather_facts': False,
              'roles': [{'role': 'netkingdom.warden.host_principals'}]}]


def keygen(path):
    subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', str(path)], check=True)
    return Path(str(path) + '.pub').read_text()


def read_or_none(host, relpath):
    try:
        return host.read_etc(relpath)
    except FileNotFoundError:
        return None


class TrustBed(object):
    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.ca_key = self.workdir / 'ca' / 'ca_key'
        self.ca_key.parent.mkdir(mode=0o700)
        self.ca_pub = keygen(self.ca_key).strip()
        self.user_key = self.workdir / 'user_key'
        keygen(self.user_key)
        self.audit = self.workdir / 'audit.jsonl'
        self.fleet = Fleet(3, self.workdir, base='127.77.60.').start()
        for host in self.fleet:
            for account in ('ops', 'svc'):
                host.run(['useradd', '-m', '-s', '/bin/bash', '-p', '*', account])
            host.write_file('/root/python-counted', COUNTER, mode=0o755)
        inv = yaml.safe_load(self.fleet.inventory_path.read_text())
        inv['all']['children']['fleet']['vars'].update({
            'ansible_python_interpreter': '/root/python-counted',
            'warden_actors': ACTORS, 'warden_audit_log': str(self.audit),
            'warden_signing_backend': 'local', 'warden_local_ca': {'key_path': str(self.ca_key)},
            'warden_host_actors': [],
        })
        self.inventory = self.workdir / 'inventory.yml'
        self.inventory.write_text(yaml.safe_dump(inv))
        self.certs = {}

    def play(self, tmp_path, plays=None, principals=None, extra=None, book=None, **kw):
        if book is None:
            book = tmp_path / 'play.yml'
            book.write_text(yaml.safe_dump(plays or ROLE_PLAY))
        for host in self.fleet:
            host.run(['rm', '-f', '/root/module-calls.log'])
        run = run_playbook(str(book), inventory=self.inventory, workdir=tmp_path,
                           extra_vars=dict({'warden_host_principals': principals or PRINCIPALS}, **(extra or {})), **kw)
        run.calls = dict((h.name, self.module_calls(h)) for h in self.fleet)
        return run

    def module_calls(self, host):
        log = Path(host.root_dir) / 'module-calls.log'
        return len(log.read_text().split()) if log.exists() else 0

    def files(self):
        return dict((h.name, dict((p, read_or_none(h, p)) for p in MANAGED)) for h in self.fleet)

    def cert(self, principal, serial=1):
        if (principal, serial) not in self.certs:
            subprocess.run(['ssh-keygen', '-q', '-s', str(self.ca_key), '-I', 'test-' + principal, '-n', principal,
                            '-z', str(serial), '-V', '-5m:+1h', str(self.user_key) + '.pub'], check=True)
            path = self.workdir / ('cert-%s-%d.pub' % (principal, serial))
            Path(str(self.user_key) + '-cert.pub').rename(path)
            self.certs[(principal, serial)] = path
        return self.certs[(principal, serial)]

    def login(self, host, account, principal, serial=1):
        argv = host.ssh_argv(user=account, key=str(self.user_key), cert=str(self.cert(principal, serial)))
        return subprocess.run(argv + ['id -un'], capture_output=True, text=True, timeout=30, check=False)


@pytest.fixture(scope='module')
def tbed(isolated, tmp_path_factory):
    bed = TrustBed(tmp_path_factory.mktemp('sshd-trust'))
    try:
        yield bed
    finally:
        bed.fleet.stop()


def actor_results(run, host):
    return run.task_results('Certificates for the workload actors that live on this host (keys generated here, '
                            'never copied)', host)


def audit_records(path):
    with open(str(path)) as handle:
        return [json.loads(line) for line in handle if line.strip()]


def pending_marker(host):
    return os.path.join(str(host.dir), 'warden', 'sshd-trust.pending')  # the host's /var/lib/warden


def trust_results(run, host):
    return run.task_results('Bring CA trust, principals, KRL, host certificates and the sshd drop-in to the '
                            'wanted state', host)


def test_first_run_writes_once_and_a_converged_run_only_inspects(tbed, tmp_path):
    first = tbed.play(tmp_path)
    assert first.rc == 0, first.output[-4000:]
    for host in tbed.fleet:
        assert first.calls[host.name] == 3, first.calls  # inspect + apply + clear the pending marker after the login
        result = trust_results(first, host.name)[0]
        assert result['changed'] and result['reloaded'] and result['trust_changed'] and result['verify_pending']
        assert not os.path.exists(pending_marker(host))  # verified, then cleared
        cert, = result['host_certs']
        assert cert['changed'] and cert['reason'] == 'missing' and cert['key_id'] == 'warden:host:%s' % host.name
        assert cert['policy_decision_id'] is None and cert['valid_before']
        assert set(result['backups']) >= {'/etc/ssh/ca/ca_user.pub', '/etc/ssh/auth_principals/ops'}
        assert result['backups']['/etc/ssh/auth_principals/ops'] is None  # created by this run
        assert tbed.login(host, 'ops', 'ops-admin').stdout.strip() == 'ops'
        assert tbed.login(host, 'svc', 'agt-task-bridge').stdout.strip() == 'svc'
        assert tbed.login(host, 'svc', 'ops-admin').returncode == 255
        config = host.read_etc('ssh/sshd_config')
        assert config.splitlines().count('Include /etc/ssh/sshd_config.d/*.conf') == 1
        assert host.read_etc('ssh/ca/ca_user.pub').split()[:2] == tbed.ca_pub.split()[:2]

    second = tbed.play(tmp_path)
    assert second.rc == 0, second.output[-4000:]
    assert all(second.data['stats'][h.name]['changed'] == 0 for h in tbed.fleet), second.data['stats']
    assert second.calls == dict((h.name, 1) for h in tbed.fleet)  # one round trip per converged host
    for host in tbed.fleet:
        result = trust_results(second, host.name)[0]
        assert not result['changed'] and not result['reloaded'] and result['backups'] == {}
        assert result['host_certs'][0]['reason'] == 'valid' and not result['host_certs'][0]['changed']


def test_check_mode_reports_a_diff_and_changes_nothing(tbed, tmp_path):
    before = tbed.files()
    wanted = {'ops': PRINCIPALS['ops'], 'svc': ['agt-task-bridge', 'agt-bridge-v2']}
    run = tbed.play(tmp_path, principals=wanted, check=True, diff=True)
    assert run.rc == 0, run.output[-4000:]
    assert tbed.files() == before
    for host in tbed.fleet:
        assert run.calls[host.name] == 1
        result = trust_results(run, host.name)[0]
        assert result['changed'] and result['changed_files'] == ['/etc/ssh/auth_principals/svc']
        diff, = result['diff']
        assert diff['before_header'] == '/etc/ssh/auth_principals/svc'
        assert 'agt-bridge-v2' in diff['after'] and 'agt-bridge-v2' not in diff['before']


def test_add_phase_merges_with_what_is_there(tbed, tmp_path):
    old_backups = ['svc.%d.2026-01-0%d@00:00:00~' % (pid, pid) for pid in (1, 2, 3)]
    for host in tbed.fleet:  # backups of earlier changes, and a file that only looks like one
        for name in old_backups + ['svc.1.2026-01-01@00:00:00']:
            host.write_file('/etc/ssh/auth_principals/' + name, 'old\n')
    plays = [dict(ROLE_PLAY[0], roles=[{'role': 'netkingdom.warden.host_principals',
                                        'vars': {'host_principals_phase': 'add', 'host_principals_keep_backups': 2}}])]
    run = tbed.play(tmp_path, plays=plays, principals={'ops': PRINCIPALS['ops'], 'svc': ['agt-bridge-v2']})
    assert run.rc == 0, run.output[-4000:]
    for host in tbed.fleet:
        assert host.read_etc('ssh/auth_principals/svc').splitlines()[1:] == ['agt-task-bridge', 'agt-bridge-v2']
        assert tbed.login(host, 'svc', 'agt-task-bridge').returncode == 0
        assert tbed.login(host, 'svc', 'agt-bridge-v2').returncode == 0
        # this change's backup and the newest older one are kept; older backups go, nothing else does
        own = os.path.basename(trust_results(run, host.name)[0]['backups']['/etc/ssh/auth_principals/svc'])
        listed = set(host.run(['ls', '/etc/ssh/auth_principals']).stdout.split())
        assert own in listed and old_backups[2] in listed and 'svc.1.2026-01-01@00:00:00' in listed
        assert not listed & set(old_backups[:2])


def test_sshd_t_failure_restores_every_file_and_a_rerun_converges(tbed, tmp_path):
    before = tbed.files()
    broken = [dict(ROLE_PLAY[0], module_defaults={'netkingdom.warden.sshd_trust': {
        'dropin_content': 'TrustedUserCAKeys /etc/ssh/ca/ca_user.pub\nNoSuchSshdKeyword yes\n'}})]
    wanted = {'ops': ['ops-admin'], 'svc': ['agt-task-bridge', 'agt-bridge-v2']}
    run = tbed.play(tmp_path, plays=broken, principals=wanted)
    assert run.rc != 0
    for host in tbed.fleet:
        assert run.data['stats'][host.name]['failures'] == 1
        result = trust_results(run, host.name)[0]
        assert result['failed'] and result['restored'] and 'sshd -t rejected' in result['msg']
        assert 'NoSuchSshdKeyword' in result['msg']
        assert run.calls[host.name] == 2  # inspect + the apply that restored itself; no restore call needed
        assert tbed.login(host, 'ops', 'adm-example').stdout.strip() == 'ops'
    assert 'rolled back on host1' in run.output
    assert tbed.files() == before

    # the rerun (from the add phase's state the previous test left) converges to exactly the map, and
    # revokes serial 4242 in a KRL built on the host. Its login check is off: as if the run had been
    # killed before the check, which the next test picks up.
    again = tbed.play(tmp_path, extra={'warden_revoked_serials': ['4242'], 'warden_verify_login': False})
    assert again.rc == 0, again.output[-4000:]
    for host in tbed.fleet:
        assert trust_results(again, host.name)[0]['changed_files'] == [
            '/etc/ssh/auth_principals/svc', '/etc/ssh/revoked_keys.spec', '/etc/ssh/sshd_config.d/20-netkingdom-warden.conf',
            '/etc/ssh/revoked_keys']
        assert host.read_etc('ssh/auth_principals/svc').splitlines()[1:] == ['agt-task-bridge']
        assert 'RevokedKeys /etc/ssh/revoked_keys' in host.read_etc(DROPIN)
        assert tbed.login(host, 'svc', 'agt-bridge-v2').returncode == 255
        assert tbed.login(host, 'ops', 'ops-admin', serial=4242).returncode == 255
        assert tbed.login(host, 'ops', 'ops-admin', serial=4243).returncode == 0
        assert trust_results(again, host.name)[0]['verify_pending'] and os.path.exists(pending_marker(host))


def test_an_interrupted_verification_is_proved_on_the_next_run(tbed, tmp_path):
    """The previous test's last run applied a change with its login check off (as a run killed before the
    check): the marker is there. The next run finds no trust to change, verifies anyway, and clears it.
    Each host also gets a workload actor: signed once by ssh_cert, then decided by sshd_trust's one
    inspection, so a converged cert_rollout with an actor still costs one round trip per host."""
    for host in tbed.fleet:
        info = os.stat(pending_marker(host))
        assert stat.S_IMODE(info.st_mode) == 0o600 and info.st_uid == 0
        with open(pending_marker(host)) as handle:
            marker = json.load(handle)
        assert set(marker) == {'since', 'changed_files'}
        assert '/etc/ssh/revoked_keys.spec' in marker['changed_files']

    extra = {'warden_revoked_serials': ['4242'], 'warden_host_actors': [ACTOR]}
    rerun = tbed.play(tmp_path, extra=extra)
    assert rerun.rc == 0, rerun.output[-4000:]
    for host in tbed.fleet:
        result = trust_results(rerun, host.name)[0]
        assert not result['changed'] and not result['trust_changed'] and result['verify_pending']
        probe = rerun.task_results('Log in with a fresh probe certificate as ops', host.name)
        assert probe[0].get('failed') is not True and not probe[0].get('skipped'), probe
        cleared, = rerun.task_results('Forget the pending verification now that a real login proved the change',
                                      host.name)
        assert cleared['changed']
        assert not os.path.exists(pending_marker(host))
        assert result['actor_certs'] == []
        assert [(a['actor'], a['reason']) for a in result['actor_certs_pending']] == [(ACTOR, 'missing')]
        signed, = actor_results(rerun, host.name)
        assert signed['changed'] and signed['reason'] == 'missing' and signed['generated']
        # inspect + clear (the probe logins run on the controller) + the new actor's ssh_cert read and write
        assert rerun.calls[host.name] == 4

    kept_before = len([r for r in audit_records(tbed.audit) if r['outcome'] == 'kept' and r['actor'] == ACTOR])
    converged = tbed.play(tmp_path, extra=extra, book='netkingdom.warden.cert_rollout')
    assert converged.rc == 0, converged.output[-4000:]
    assert converged.calls == dict((h.name, 1) for h in tbed.fleet)  # trust, host cert and actor cert: one call
    assert all(converged.data['stats'][h.name]['changed'] == 0 for h in tbed.fleet), converged.data['stats']
    summary = converged.task_results('Certificates per host (signed or kept, why, serial, expiry, decision id)',
                                     'host1')[0]['msg']
    for host in tbed.fleet:
        result = trust_results(converged, host.name)[0]
        assert not result['verify_pending'] and result['actor_certs_pending'] == []
        kept, = result['actor_certs']
        assert (kept['actor'], kept['reason'], kept['changed']) == (ACTOR, 'valid', False)
        assert kept['path'] == ACTOR_KEY + '-cert.pub' and kept['key_id'].startswith('warden:%s:' % ACTOR)
        assert kept['serial'] == actor_results(rerun, host.name)[0]['serial']
        assert any(line.startswith('%s: %s-cert.pub: kept (valid), serial %s' % (host.name, ACTOR_KEY, kept['serial']))
                   for line in summary), summary
    kept_records = [r for r in audit_records(tbed.audit) if r['outcome'] == 'kept' and r['actor'] == ACTOR]
    assert len(kept_records) == kept_before + 3 and kept_records[-1]['cert_type'] == 'user'

    forced = tbed.play(tmp_path, extra=dict(extra, host_principals_actor_force=True, warden_verify_login=False))
    assert forced.rc == 0, forced.output[-4000:]
    for host in tbed.fleet:
        assert forced.calls[host.name] == 3  # inspect + ssh_cert read, write
        pending, = trust_results(forced, host.name)[0]['actor_certs_pending']
        assert pending['reason'] == 'forced'
        signed, = actor_results(forced, host.name)
        assert signed['changed'] and signed['reason'] == 'forced'
        assert signed['serial'] != actor_results(rerun, host.name)[0]['serial']


def test_the_controller_itself_is_refused_unless_asked(tbed, tmp_path):
    # check mode: even a broken guard could not write to this machine's own /etc/ssh
    inventory = tmp_path / 'controller.ini'
    inventory.write_text('[fleet]\ncontroller ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n')
    book = tmp_path / 'play.yml'
    book.write_text(yaml.safe_dump(ROLE_PLAY))
    before = sorted(os.listdir('/etc/ssh'))
    run = run_playbook(str(book), inventory=str(inventory), workdir=tmp_path, check=True,
                       extra_vars={'warden_host_principals': PRINCIPALS})
    assert run.rc != 0
    assert 'would change the sshd of the controller itself on controller (connection local)' in run.output
    assert sorted(os.listdir('/etc/ssh')) == before


def test_a_line_break_in_a_key_is_refused_and_a_revoked_key_is_written_as_type_and_base64(tbed, tmp_path):
    """Finding 14.7: `<key> c\\nserial: 1-18446744073709551615` in warden_revoked_keys used to add a KRL
    line revoking every certificate (with the login check off nothing rolled it back): everyone locked
    out. Now every value that becomes a line of a host file is refused with a line break or any other
    control character in it, and a revoked key is written as `<type> <base64>` only."""
    revoked = tbed.workdir / 'revoked_key'
    pub = keygen(revoked).strip()
    pub = ' '.join(pub.split()[:2])
    before = tbed.files()
    specs = dict((h.name, read_or_none(h, 'ssh/revoked_keys.spec')) for h in tbed.fleet)
    quiet = {'warden_revoked_serials': ['4242'], 'warden_verify_login': False}
    cases = [({'warden_revoked_keys': [pub + ' c\nserial: 1-18446744073709551615']}, 'revoked_keys[0]'),
             ({'warden_revoked_keys': [pub + ' c\rserial: 1-18446744073709551615']}, 'revoked_keys[0]'),
             ({'warden_trusted_ca_keys': [tbed.ca_pub + '\r' + pub]}, 'ca_keys[')]
    for extra, field in cases:
        run = tbed.play(tmp_path, extra=dict(quiet, **extra))
        assert run.rc != 0
        for host in tbed.fleet:
            result = trust_results(run, host.name)[0]
            assert result['failed'] and field in result['msg'] and 'control characters' in result['msg'], result
            assert run.calls[host.name] == 0  # refused on the controller, before the host was read
    assert tbed.files() == before
    for host in tbed.fleet:
        assert read_or_none(host, 'ssh/revoked_keys.spec') == specs[host.name]
        assert tbed.login(host, 'ops', 'ops-admin', serial=4243).stdout.strip() == 'ops'

    run = tbed.play(tmp_path, extra=dict(quiet, warden_revoked_keys=[pub + ' the lost laptop']))
    assert run.rc == 0, run.output[-4000:]
    for host in tbed.fleet:
        assert host.read_etc('ssh/revoked_keys.spec') == 'serial: 4242\n%s\n' % pub
        assert tbed.login(host, 'ops', 'ops-admin', serial=4243).stdout.strip() == 'ops'
        assert tbed.login(host, 'ops', 'ops-admin', serial=4242).returncode == 255
