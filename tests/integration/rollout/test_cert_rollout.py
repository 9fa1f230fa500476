"""cert_rollout, rotate_principals and drift_check on a real fleet with a real OpenBao."""

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.bed.ansible_run import run_playbook
from tests.bed.fleet import Fleet
from tests.bed.openbao import OpenBaoDev

HOSTS = int(os.environ.get('WARDEN_TEST_ROLLOUT_HOSTS', '10'))
ACTORS = {
    'adm-example': {'type': 'adm', 'principals': ['adm-example', 'ops-admin'], 'ttl_hours': 8},
    'agt-state-hub-bridge': {'type': 'agt', 'principals': ['agt-task-bridge', 'agt-bridge-v2'], 'ttl_hours': 24},
    'atm-backup-daily': {'type': 'atm', 'principals': ['atm-backup'], 'ttl_hours': 8},
}
PRINCIPALS = {'ops': ['adm-example', 'ops-admin'], 'svc': ['agt-task-bridge']}
ROLE_FOR = {'adm-example': 'adm-role', 'ops-admin': 'adm-role', 'agt-task-bridge': 'agt-role',
            'agt-bridge-v2': 'agt-role', 'atm-backup': 'atm-role'}


def read_or_none(host, relpath):
    try:
        return host.read_etc(relpath)
    except FileNotFoundError:
        return None


class RolloutBed(object):
    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.bao = OpenBaoDev(self.workdir / 'bao').start()
        self.bao.setup_ssh_engine()
        self.fleet = Fleet(HOSTS, self.workdir, base='127.77.8.').start()
        self.audit = self.workdir / 'audit.jsonl'
        for host in self.fleet:
            for account in ('ops', 'svc'):
                host.run(['useradd', '-m', '-s', '/bin/bash', '-p', '*', account])
        self.user_key = self.workdir / 'user_key'
        subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', str(self.user_key)], check=True)
        self.certs = {}

    def inventory(self, principals=None, per_host=None):
        inv = yaml.safe_load(self.fleet.inventory_path.read_text())
        group = inv['all']['children']['fleet']
        group['vars'].update({
            'warden_actors': ACTORS, 'warden_audit_log': str(self.audit),
            'warden_openbao': {'url': self.bao.url, 'token': self.bao.token},
            'warden_host_principals': principals or PRINCIPALS,
            'warden_host_actors': ['atm-backup-daily'],
        })
        for name, extra in (per_host or {}).items():
            group['hosts'][name].update(extra)
        path = self.workdir / 'inventory.yml'
        path.write_text(yaml.safe_dump(inv))
        return path

    def cert(self, principal):
        """A user's certificate for one principal, signed by OpenBao (the user holds the key)."""
        if principal not in self.certs:
            path = self.workdir / ('cert-%s.pub' % principal)
            path.write_text(self.bao.sign(ROLE_FOR[principal], Path(str(self.user_key) + '.pub').read_text(),
                                          [principal], ttl='1h') + '\n')
            self.certs[principal] = path
        return self.certs[principal]

    def login(self, host, account, principal):
        argv = host.ssh_argv(user=account, key=str(self.user_key), cert=str(self.cert(principal)))
        return subprocess.run(argv + ['id -un'], capture_output=True, text=True, timeout=30, check=False)

    def files(self):
        """Every file the role manages, per host, as the hosts have them."""
        return dict((h.name, dict((p, read_or_none(h, p)) for p in (
            'ssh/ca/ca_user.pub', 'ssh/auth_principals/ops', 'ssh/auth_principals/svc',
            'ssh/sshd_config.d/20-netkingdom-warden.conf'))) for h in self.fleet)

    def rollout(self, tmp_path, book='netkingdom.warden.cert_rollout', inventory=None, **kw):
        return run_playbook(book, inventory=inventory or self.inventory(), workdir=tmp_path, **kw)

    def stop(self):
        self.fleet.stop()
        self.bao.stop()


@pytest.fixture(scope='module')
def rbed(isolated, tmp_path_factory):
    bed = RolloutBed(tmp_path_factory.mktemp('rollout'))
    try:
        yield bed
    finally:
        bed.stop()


BAD_PRINCIPALS = ('two words', 'a,b', 'x#y', '*', 'line\nbreak', '', 'tab\there')


def test_bad_principal_is_refused_before_any_host_is_touched(rbed, tmp_path):
    """One bad principal per host (the last batch's hosts too): the run stops before any write."""
    before = rbed.files()
    per_host = dict(('host%d' % (HOSTS - i), {'warden_host_principals': {'ops': ['adm-example', bad]}})
                    for i, bad in enumerate(BAD_PRINCIPALS))
    run = rbed.rollout(tmp_path, inventory=rbed.inventory(per_host=per_host), extra_vars={'warden_serial': 2})
    assert run.rc != 0 and run.data, run.output[-3000:]
    results = run.task_results('Every principal of every host in the play is well formed', 'host1')
    refused = dict((r['item'], r['msg']) for r in results if r.get('failed'))
    assert sorted(refused) == sorted(per_host)
    for name, message in refused.items():
        assert 'nothing was changed on any host' in message and name in message
    assert rbed.files() == before


def test_rollout_then_every_allowed_login_works(rbed, tmp_path):
    run = rbed.rollout(tmp_path)
    assert run.rc == 0, run.output[-4000:]
    for host in rbed.fleet:
        for account, principals in PRINCIPALS.items():
            for principal in principals:
                result = rbed.login(host, account, principal)
                assert result.returncode == 0 and result.stdout.strip() == account, (host.name, account, result.stderr)
        refused = rbed.login(host, 'svc', 'atm-backup')
        assert refused.returncode == 255 and 'Permission denied' in refused.stderr
        refused = rbed.login(host, 'ops', 'agt-task-bridge')
        assert refused.returncode == 255
        # the workload actor's key was generated on the host and only its certificate was written
        shown = host.run(['ssh-keygen', '-L', '-f', '/var/lib/warden/actors/atm-backup-daily/id_ed25519-cert.pub'])
        assert 'warden:atm-backup-daily:decision:' in shown.stdout
        assert host.run(['stat', '-c', '%a', '/var/lib/warden/actors/atm-backup-daily/id_ed25519']).stdout.strip() == '600'


def test_second_rollout_changes_nothing(rbed, tmp_path):
    run = rbed.rollout(tmp_path)
    assert run.rc == 0, run.output[-3000:]
    assert all(run.data['stats'][h.name]['changed'] == 0 for h in rbed.fleet), run.data['stats']


def logins(rbed, account, principal):
    return dict((h.name, rbed.login(h, account, principal).returncode == 0) for h in rbed.fleet)


def test_rotation_adds_verifies_then_removes_and_a_failing_host_rolls_back(rbed, tmp_path):
    """svc moves from agt-task-bridge to agt-bridge-v2. host3 has a local drop-in (read first by sshd)
    pointing AuthorizedPrincipalsFile elsewhere, so its verification fails: it must roll back and keep
    accepting the old principal, while every other host rotates. No account is ever left without a way in."""
    odd = rbed.fleet['host3']
    odd.write_file('/etc/ssh/local_principals/svc', 'agt-task-bridge\n')
    odd.write_file('/etc/ssh/local_principals/ops', 'adm-example\nops-admin\n')
    odd.write_file('/etc/ssh/sshd_config.d/10-local.conf', 'AuthorizedPrincipalsFile /etc/ssh/local_principals/%u\n')
    odd.reload_sshd()
    try:
        inventory = rbed.inventory(principals={'ops': PRINCIPALS['ops'], 'svc': ['agt-bridge-v2']})
        others = [h.name for h in rbed.fleet if h.name != 'host3']
        assert all(logins(rbed, 'svc', 'agt-task-bridge').values())

        add = rbed.rollout(tmp_path, book='netkingdom.warden.rotate_principals', inventory=inventory,
                           extra_vars={'warden_rotation_phases': ['add'], 'warden_serial': 5})
        assert add.data['stats']['host3']['failures'] == 1
        assert all(add.data['stats'][name]['failures'] == 0 for name in others)
        assert 'rolled back on host3' in add.output
        # between the phases: the old principal still works everywhere, the new one everywhere but host3
        assert all(logins(rbed, 'svc', 'agt-task-bridge').values())
        new = logins(rbed, 'svc', 'agt-bridge-v2')
        assert not new['host3'] and all(new[name] for name in others)
        assert rbed.fleet['host3'].read_etc('ssh/auth_principals/svc').split()[-1] == 'agt-task-bridge'

        remove = rbed.rollout(tmp_path, book='netkingdom.warden.rotate_principals', inventory=inventory,
                              extra_vars={'warden_rotation_phases': ['remove'], 'warden_serial': 5})
        assert all(remove.data['stats'][name]['failures'] == 0 for name in others)
        old = logins(rbed, 'svc', 'agt-task-bridge')
        new = logins(rbed, 'svc', 'agt-bridge-v2')
        assert old['host3'] and not new['host3']  # rolled back again: still its old way in
        assert all(new[name] and not old[name] for name in others)
        assert all(logins(rbed, 'ops', 'ops-admin').values())
    finally:
        odd.run(['rm', '-f', '/etc/ssh/sshd_config.d/10-local.conf'])
        odd.reload_sshd()


def test_drift_check_reports_a_manual_edit(rbed, tmp_path):
    clean = rbed.rollout(tmp_path, book='netkingdom.warden.drift_check',
                         inventory=rbed.inventory(principals={'ops': PRINCIPALS['ops'], 'svc': ['agt-bridge-v2']}),
                         extra_vars={'warden_rollout_hosts': 'host1,host2'})
    assert clean.rc == 0, clean.output[-3000:]
    assert not clean.task_results('Compare principals and CA trust with the inventory', 'host2')[0]['drift']
    host = rbed.fleet['host2']
    host.write_file('/etc/ssh/auth_principals/ops', 'adm-example\nops-admin\nintruder\n')
    run = rbed.rollout(tmp_path, book='netkingdom.warden.drift_check',
                       inventory=rbed.inventory(principals={'ops': PRINCIPALS['ops'], 'svc': ['agt-bridge-v2']}),
                       extra_vars={'warden_rollout_hosts': 'host1,host2', 'warden_fail_on_drift': True})
    assert run.rc != 0
    drift = run.task_results('Compare principals and CA trust with the inventory', 'host2')[0]
    assert drift['drift'] and drift['accounts']['ops']['extra'] == ['intruder']
    assert any('host2' in line and 'ops' in line and 'intruder' in line for line in drift['summary']) or \
        any('ops' in line and 'intruder' in line for line in drift['summary'])
    assert not run.task_results('Compare principals and CA trust with the inventory', 'host1')[0]['drift']


def approle_logins(audit_path):
    if not os.path.exists(audit_path):
        return 0
    with open(audit_path) as handle:
        return sum(1 for line in handle if '"auth/approle/login"' in line and '"type":"response"' in line)


def test_rotate_principals_with_approle_logs_in_once(rbed, tmp_path):
    """rotate_principals imports the openbao_session play: with AppRole the whole run logs in once, however
    many hosts sign probe certificates. The probes are owed because each host carries the pending-verification
    marker (as a run killed before its login check leaves it), so the rotation itself changes nothing."""
    bao_audit = rbed.bao.enable_audit_file(rbed.workdir / 'bao-audit.log')
    rbed.bao.request('POST', 'sys/auth/approle', {'type': 'approle'}, ok=(200, 204, 400))
    rbed.bao.write_policy('warden-signer', 'path "ssh/sign/*" { capabilities = ["create", "update"] }')
    rbed.bao.request('POST', 'auth/approle/role/warden', {'token_policies': ['warden-signer'], 'token_ttl': '10m'})
    role_id = rbed.bao.request('GET', 'auth/approle/role/warden/role-id')['data']['role_id']
    secret_id = rbed.bao.request('POST', 'auth/approle/role/warden/secret-id', {})['data']['secret_id']
    hosts = ['host1', 'host4', 'host5']
    for name in hosts:
        rbed.fleet[name].run(['sh', '-c', 'umask 077; echo \'{"since": "test"}\' > /var/lib/warden/sshd-trust.pending'])
    inventory = rbed.inventory(principals={'ops': PRINCIPALS['ops'], 'svc': ['agt-bridge-v2']})
    inv = yaml.safe_load(inventory.read_text())
    inv['all']['children']['fleet']['vars']['warden_openbao'] = {
        'url': rbed.bao.url, 'auth_method': 'approle', 'role_id': role_id, 'secret_id': secret_id}
    inventory.write_text(yaml.safe_dump(inv))
    before = approle_logins(bao_audit)
    run = rbed.rollout(tmp_path, book='netkingdom.warden.rotate_principals', inventory=inventory,
                       extra_vars={'warden_rollout_hosts': ','.join(hosts)})
    assert run.rc == 0, run.output[-4000:]
    for name in hosts:
        probes = run.task_results('Log in with a fresh probe certificate as ops', name)
        assert probes and all(not r.get('failed') for r in probes), probes
        assert rbed.fleet[name].run(['test', '-e', '/var/lib/warden/sshd-trust.pending'], check=False).returncode == 1
        assert run.data['stats'][name]['failures'] == 0
    assert approle_logins(bao_audit) == before + 1  # one login for the whole run, three hosts signing probes
    assert secret_id not in run.output and rbed.bao.token not in run.output
