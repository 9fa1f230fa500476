"""ssh_cert on real sshd hosts with a real OpenBao: sign, log in, keep, renew, refuse."""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.bed.ansible_run import run_playbook
from tests.bed.fleet import Fleet
from tests.bed.openbao import OpenBaoDev, count_sign_requests

HERE = Path(__file__).resolve().parents[1]
BOOK = HERE / 'playbooks' / 'ssh_cert.yml'
ACTORS = {
    'agt-state-hub-bridge': {'type': 'agt', 'principals': ['agt-task-bridge', 'agt-tunnel'], 'ttl_hours': 24},
    'atm-backup-daily': {'type': 'atm', 'principals': ['atm-backup'], 'ttl_hours': 8},
}
DROP_IN = '/etc/ssh/sshd_config.d/40-warden-test.conf'


def keygen(path):
    subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', str(path)], check=True)
    return Path(str(path) + '.pub').read_text()


def cert_info(text):
    out = subprocess.run(['ssh-keygen', '-L', '-f', '-'], input=text, capture_output=True, text=True,
                         check=True).stdout
    return out


def audit_records(path):
    if not os.path.exists(path):
        return []
    with open(path) as handle:
        return [json.loads(line) for line in handle]


class Bed(object):
    """A module's own OpenBao and 3 hosts (CA rotation and key swaps must not leak out)."""

    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.bao = OpenBaoDev(self.workdir / 'bao').start()
        self.bao.setup_ssh_engine()
        self.bao_audit = self.bao.enable_audit_file(self.workdir / 'bao-audit.log')
        self.fleet = Fleet(3, self.workdir, base='127.77.3.').start()
        self.agent_key = self.workdir / 'agent_key'
        self.agent_pub = keygen(self.agent_key)  # the user's private key stays with the user
        self.audit = self.workdir / 'warden-audit.jsonl'
        for host in self.fleet:
            host.run(['useradd', '-m', '-s', '/bin/bash', '-p', '*', 'svc'])
            (Path(host.root_dir) / 'agent_key.pub').write_text(self.agent_pub)
            host.write_file('/etc/ssh/auth_principals/svc', 'agt-task-bridge\n')
        self.trust(self.bao.ca_public_key())

    def trust(self, *ca_lines):
        for host in self.fleet:
            host.write_file('/etc/ssh/ca/ca_user.pub', '\n'.join(ca_lines) + '\n')
            host.write_file(DROP_IN, 'TrustedUserCAKeys /etc/ssh/ca/ca_user.pub\n'
                                     'AuthorizedPrincipalsFile /etc/ssh/auth_principals/%u\n'
                                     'HostCertificate /etc/ssh/ssh_host_ed25519_key-cert.pub\n')
            host.reload_sshd()

    def stop(self):
        self.fleet.stop()
        self.bao.stop()

    def vars(self, **extra):
        data = {'warden_actors': ACTORS, 'warden_audit_log': str(self.audit),
                'warden_openbao': {'url': self.bao.url, 'token': self.bao.token}}
        data.update(extra)
        return data

    def play(self, tmp_path, verbosity=0, **extra):
        return run_playbook(BOOK, inventory=self.fleet.inventory_path, extra_vars=self.vars(**extra),
                            workdir=tmp_path, verbosity=verbosity)

    def user_cert(self, host):
        path = Path(host.root_dir) / 'agent_key-cert.pub'
        return path.read_text() if path.exists() else None

    def host_cert(self, host):
        return host.read_etc('ssh/ssh_host_ed25519_key-cert.pub')


@pytest.fixture(scope='module')
def bed(isolated, tmp_path_factory):
    b = Bed(tmp_path_factory.mktemp('sshcert'))
    try:
        yield b
    finally:
        b.stop()


def per_host(run, task, hosts=('host1', 'host2', 'host3')):
    return {h: run.task_results(task, h)[0] for h in hosts}


def login_as_svc(host, key, cert):
    argv = host.ssh_argv(user='svc', key=str(key), cert=str(cert))
    return subprocess.run(argv + ['echo warden-ok $(id -un)'], capture_output=True, text=True, timeout=30,
                          check=False)


def test_first_run_signs_and_certificates_log_in(bed, tmp_path):
    run = bed.play(tmp_path, verbosity=4)
    assert run.rc == 0, run.output
    assert bed.bao.token not in run.output  # at -vvvv too
    assert 'PRIVATE KEY' not in run.output and 'PRIVATE KEY' not in bed.audit.read_text()
    users = per_host(run, 'User certificate for the bridge agent')
    hosts = per_host(run, 'Host certificate')
    for name, res in users.items():
        assert res['changed'] and res['reason'] == 'missing', res
        assert res['principals'] == ['agt-task-bridge', 'agt-tunnel']
        assert res['policy_decision_id'].startswith('decision:')
        assert res['key_id'] == 'warden:agt-state-hub-bridge:' + res['policy_decision_id']
    for name, res in hosts.items():
        assert res['changed'] and res['reason'] == 'missing'
        assert '%s.fleet.test' % name in res['principals'] and name in res['principals']
    assert count_sign_requests(bed.bao_audit) == 6

    for host in bed.fleet:
        cert = tmp_path / ('%s-cert.pub' % host.name)
        cert.write_text(bed.user_cert(host))
        assert 'Type: ssh-ed25519-cert-v01@openssh.com user certificate' in cert_info(cert.read_text())
        result = login_as_svc(host, bed.agent_key, cert)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == 'warden-ok svc'
        assert 'ID warden:agt-state-hub-bridge:decision:' in host.sshd_log()

    # A client that trusts only the CA (no host key pinned) connects with strict checking.
    known = tmp_path / 'known_hosts'
    known.write_text('@cert-authority *.fleet.test %s\n' % bed.bao.ca_public_key())
    for host in bed.fleet:
        cert = tmp_path / ('%s-cert.pub' % host.name)
        argv = host.ssh_argv(user='svc', key=str(bed.agent_key), cert=str(cert),
                             extra=('-o', 'StrictHostKeyChecking=yes', '-o', 'UserKnownHostsFile=%s' % known,
                                    '-o', 'HostKeyAlias=%s' % host.fqdn))
        result = subprocess.run(argv + ['true'], capture_output=True, text=True, timeout=30, check=False)
        assert result.returncode == 0, result.stderr

    signed = [r for r in audit_records(bed.audit) if r['outcome'] == 'signed']
    assert len(signed) == 6 and all(r['kind'] == 'sign' and r['backend'] == 'openbao' for r in signed)


def test_second_run_changes_nothing_and_signs_nothing(bed, tmp_path):
    before = count_sign_requests(bed.bao_audit)
    run = bed.play(tmp_path)
    assert run.rc == 0, run.output
    for host in ('host1', 'host2', 'host3'):
        assert run.data['stats'][host]['changed'] == 0
    assert count_sign_requests(bed.bao_audit) == before
    kept = per_host(run, 'User certificate for the bridge agent')
    assert all(r['reason'] == 'valid' and r['policy_decision_id'].startswith('decision:') for r in kept.values())


def test_narrowed_principals_renew_once(bed, tmp_path):
    # Start from certificates with every principal of the actor, also when run alone (-k).
    assert bed.play(tmp_path, host_cert=False).rc == 0
    run = bed.play(tmp_path, user_principals=['agt-task-bridge'], host_cert=False)
    users = per_host(run, 'User certificate for the bridge agent')
    assert all(r['changed'] and r['reason'] == 'principals_changed' for r in users.values())
    again = bed.play(tmp_path, user_principals=['agt-task-bridge'], host_cert=False)
    assert all(not r['changed'] for r in per_host(again, 'User certificate for the bridge agent').values())


def test_expiring_renews_once(bed, tmp_path):
    before = count_sign_requests(bed.bao_audit)
    run = bed.play(tmp_path, renew_before='25h', user_principals=['agt-task-bridge'], host_cert=False)
    assert all(r['reason'] == 'expiring' for r in per_host(run, 'User certificate for the bridge agent').values())
    assert count_sign_requests(bed.bao_audit) == before + 3
    again = bed.play(tmp_path, user_principals=['agt-task-bridge'], host_cert=False)
    assert all(r['reason'] == 'valid' for r in per_host(again, 'User certificate for the bridge agent').values())


def test_replaced_key_renews_only_that_host(bed, tmp_path):
    host = bed.fleet['host2']
    new_key = tmp_path / 'replacement'
    (Path(host.root_dir) / 'agent_key.pub').write_text(keygen(new_key))
    run = bed.play(tmp_path, user_principals=['agt-task-bridge'], host_cert=False)
    reasons = {h: r['reason'] for h, r in per_host(run, 'User certificate for the bridge agent').items()}
    assert reasons == {'host1': 'valid', 'host2': 'key_changed', 'host3': 'valid'}
    cert = tmp_path / 'host2-cert.pub'
    cert.write_text(bed.user_cert(host))
    assert login_as_svc(host, new_key, cert).returncode == 0


def test_check_mode_reports_and_writes_nothing(bed, tmp_path):
    host = bed.fleet['host1']
    before = bed.user_cert(host)
    run = run_playbook(BOOK, inventory=bed.fleet.inventory_path, workdir=tmp_path, check=True, diff=True,
                       extra_vars=bed.vars(user_principals=['agt-task-bridge', 'agt-tunnel'], host_cert=False))
    res = run.task_results('User certificate for the bridge agent', 'host1')[0]
    assert res['changed'] and res['reason'] == 'principals_changed'
    assert 'agt-tunnel' in res['diff']['after'] and 'agt-tunnel' not in res['diff']['before']
    assert bed.user_cert(host) == before


@pytest.mark.parametrize('extra, words', [
    ({'user_ttl': 25, 'renew_before': '30h'}, 'ttl_out_of_bounds (rule valid_ttl)'),
    ({'user_ttl': 0, 'renew_before': '30h'}, 'ttl_out_of_bounds (rule valid_ttl)'),
    ({'user_principals': ['root']}, 'root not allowed for agt-state-hub-bridge'),
    ({'user_subject': 'iam:intruder', 'renew_before': '30h'}, 'subject_not_allowed'),
    ({'warden_policy': {'mode': 'flex_auth', 'url': 'http://127.0.0.1:9', 'retries': 0, 'timeout': 1},
      'renew_before': '30h'}, 'policy_unavailable'),
])
def test_refusals_leave_hosts_untouched(bed, tmp_path, extra, words):
    before = dict((h.name, bed.user_cert(h)) for h in bed.fleet)
    signs = count_sign_requests(bed.bao_audit)
    run = bed.play(tmp_path, host_cert=False, **extra)
    for host in bed.fleet:
        res = run.task_results('User certificate for the bridge agent', host.name)[0]
        assert res.get('failed') and words in res['msg'], res
        assert bed.user_cert(host) == before[host.name]
    assert count_sign_requests(bed.bao_audit) == signs


def test_new_ca_issuer_renews_once(bed, tmp_path):
    """Rotating the OpenBao CA (a new default issuer) renews every certificate exactly once."""
    old_ca = bed.bao.ca_public_key()
    bed.bao.request('POST', 'ssh/config/ca', {'generate_signing_key': True, 'key_type': 'ed25519'})
    new_ca = bed.bao.ca_public_key()
    assert new_ca != old_ca
    bed.trust(old_ca, new_ca)  # both trusted on the hosts during the rotation
    run = bed.play(tmp_path, user_principals=['agt-task-bridge'])
    for task in ('User certificate for the bridge agent', 'Host certificate'):
        assert all(r['reason'] == 'ca_changed' for r in per_host(run, task).values())
    again = bed.play(tmp_path, user_principals=['agt-task-bridge'])
    assert all(again.data['stats'][h]['changed'] == 0 for h in ('host1', 'host2', 'host3'))
    host = bed.fleet['host3']
    cert = tmp_path / 'rotated-cert.pub'
    cert.write_text(bed.user_cert(host))
    assert login_as_svc(host, bed.agent_key, cert).returncode == 0


def test_openbao_failures_are_clear_and_write_nothing(bed, tmp_path):
    before = dict((h.name, bed.user_cert(h)) for h in bed.fleet)
    policy = 'path "ssh/sign/adm-role" { capabilities = ["update"] }'
    bed.bao.write_policy('only-adm', policy)
    weak = bed.bao.create_token(['only-adm'])
    run = bed.play(tmp_path, host_cert=False, renew_before='30h',
                   warden_openbao={'url': bed.bao.url, 'token': weak})
    res = run.task_results('User certificate for the bridge agent', 'host1')[0]
    assert res.get('failed') and 'ssh/sign/agt-role' in res['msg'] and ('create' in res['msg'] or 'update' in res['msg'])
    assert weak not in run.output

    bed.bao.seal()
    try:
        sealed = bed.play(tmp_path, host_cert=False, renew_before='30h')
    finally:
        bed.bao.unseal()
    res = sealed.task_results('User certificate for the bridge agent', 'host1')[0]
    assert res.get('failed') and 'sealed' in res['msg'], res

    down = bed.play(tmp_path, host_cert=False, renew_before='30h',
                    warden_openbao={'url': 'http://127.0.0.1:9', 'token': bed.bao.token, 'retries': 0})
    res = down.task_results('User certificate for the bridge agent', 'host1')[0]
    assert res.get('failed') and 'cannot reach OpenBao' in res['msg'], res
    for host in bed.fleet:
        assert bed.user_cert(host) == before[host.name]
    assert bed.bao.token not in sealed.output + down.output


def approle_logins(audit_path):
    with open(audit_path) as handle:
        return sum(1 for line in handle if '"auth/approle/login"' in line and '"type":"response"' in line)


def test_approle_logs_in_once_per_run(bed, tmp_path):
    bed.bao.request('POST', 'sys/auth/approle', {'type': 'approle'}, ok=(200, 204, 400))
    bed.bao.write_policy('warden-signer', 'path "ssh/sign/*" { capabilities = ["create", "update"] }')
    bed.bao.request('POST', 'auth/approle/role/warden', {'token_policies': ['warden-signer'], 'token_ttl': '10m'})
    role_id = bed.bao.request('GET', 'auth/approle/role/warden/role-id')['data']['role_id']
    secret_id = bed.bao.request('POST', 'auth/approle/role/warden/secret-id', {})['data']['secret_id']
    before = approle_logins(bed.bao_audit)
    run = run_playbook(HERE / 'playbooks' / 'ssh_cert_login_once.yml', inventory=bed.fleet.inventory_path,
                       workdir=tmp_path, verbosity=4, extra_vars=bed.vars(warden_openbao={
                           'url': bed.bao.url, 'auth_method': 'approle', 'role_id': role_id, 'secret_id': secret_id}))
    assert run.rc == 0, run.output
    signed = per_host(run, 'Certificates signed with the one session')
    assert all(r['changed'] and r['reason'] == 'forced' for r in signed.values())
    assert approle_logins(bed.bao_audit) == before + 1  # one login for three hosts
    for secret in (secret_id, bed.bao.token):
        assert secret not in run.output
    # The session token itself (OpenBao service tokens look like s.<24> / hvs.<...>) is never shown.
    assert not re.search(r'\b(hvs|s)\.[A-Za-z0-9]{20,}', run.output)
    session = bed.bao.request('POST', 'auth/approle/login', {'role_id': role_id, 'secret_id': secret_id})
    assert re.match(r'(hvs|s)\.[A-Za-z0-9]{20,}$', session['auth']['client_token'])  # the pattern is right


def test_replaced_host_key_renews_that_host_certificate(bed, tmp_path):
    host = bed.fleet['host1']
    host.run(['rm', '-f', '/etc/ssh/ssh_host_ed25519_key', '/etc/ssh/ssh_host_ed25519_key.pub'])
    host.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', '/etc/ssh/ssh_host_ed25519_key'])
    run = bed.play(tmp_path, user_cert=False)
    reasons = {h: r['reason'] for h, r in per_host(run, 'Host certificate').items()}
    assert reasons == {'host1': 'key_changed', 'host2': 'valid', 'host3': 'valid'}
    host.reload_sshd()
    known = tmp_path / 'known_hosts'
    known.write_text('@cert-authority *.fleet.test %s\n' % bed.bao.ca_public_key())
    cert = tmp_path / 'host1-user-cert.pub'
    cert.write_text(bed.user_cert(host))
    argv = host.ssh_argv(user='svc', key=str(bed.agent_key), cert=str(cert),
                         extra=('-o', 'StrictHostKeyChecking=yes', '-o', 'UserKnownHostsFile=%s' % known,
                                '-o', 'HostKeyAlias=%s' % host.fqdn))
    result = subprocess.run(argv + ['true'], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
