"""The same signing path with the embedded local CA: no OpenBao at all."""

import subprocess
from pathlib import Path

import pytest

from tests.bed.ansible_run import run_playbook
from tests.bed.fleet import Fleet
from tests.integration.test_ssh_cert import ACTORS, BOOK, DROP_IN, audit_records, keygen, login_as_svc, per_host


class LocalBed(object):
    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.ca_key = self.workdir / 'ca' / 'ca_key'
        self.ca_key.parent.mkdir(mode=0o700)
        self.ca_pub = keygen(self.ca_key).strip()  # an operator's CA key, on the controller only
        self.fleet = Fleet(2, self.workdir, base='127.77.4.').start()
        self.agent_key = self.workdir / 'agent_key'
        self.agent_pub = keygen(self.agent_key)
        self.audit = self.workdir / 'warden-audit.jsonl'
        for host in self.fleet:
            host.run(['useradd', '-m', '-s', '/bin/bash', '-p', '*', 'svc'])
            (Path(host.root_dir) / 'agent_key.pub').write_text(self.agent_pub)
            host.write_file('/etc/ssh/auth_principals/svc', 'agt-task-bridge\n')
            host.write_file('/etc/ssh/ca/ca_user.pub', self.ca_pub + '\n')
            host.write_file(DROP_IN, 'TrustedUserCAKeys /etc/ssh/ca/ca_user.pub\n'
                                     'AuthorizedPrincipalsFile /etc/ssh/auth_principals/%u\n'
                                     'HostCertificate /etc/ssh/ssh_host_ed25519_key-cert.pub\n')

    def play(self, tmp_path, book=BOOK, **extra):
        data = {'warden_actors': ACTORS, 'warden_audit_log': str(self.audit),
                'warden_signing_backend': 'local', 'warden_local_ca': {'key_path': str(self.ca_key)}}
        data.update(extra)
        return run_playbook(book, inventory=self.fleet.inventory_path, extra_vars=data, workdir=tmp_path)


@pytest.fixture(scope='module')
def local_bed(isolated, tmp_path_factory):
    bed = LocalBed(tmp_path_factory.mktemp('sshcert-local'))
    try:
        yield bed
    finally:
        bed.fleet.stop()


def test_local_ca_signs_keeps_and_logs_in(local_bed, tmp_path):
    first = local_bed.play(tmp_path)
    assert first.rc == 0, first.output
    users = per_host(first, 'User certificate for the bridge agent', hosts=('host1', 'host2'))
    assert all(r['changed'] and r['reason'] == 'missing' for r in users.values())
    fingerprint = subprocess.run(['ssh-keygen', '-l', '-E', 'sha256', '-f', str(local_bed.ca_key) + '.pub'],
                                 capture_output=True, text=True, check=True).stdout.split()[1]
    assert all(r['ca_fingerprint'] == fingerprint for r in users.values())

    for host in local_bed.fleet:
        host.reload_sshd()  # picks up the host certificate just written
        cert = tmp_path / ('%s-cert.pub' % host.name)
        cert.write_text((Path(host.root_dir) / 'agent_key-cert.pub').read_text())
        result = login_as_svc(host, local_bed.agent_key, cert)
        assert result.returncode == 0, result.stderr
        known = tmp_path / 'known_hosts'
        known.write_text('@cert-authority *.fleet.test %s\n' % local_bed.ca_pub)
        argv = host.ssh_argv(user='svc', key=str(local_bed.agent_key), cert=str(cert),
                             extra=('-o', 'StrictHostKeyChecking=yes', '-o', 'UserKnownHostsFile=%s' % known,
                                    '-o', 'HostKeyAlias=%s' % host.fqdn))
        strict = subprocess.run(argv + ['true'], capture_output=True, text=True, timeout=30, check=False)
        assert strict.returncode == 0, strict.stderr

    second = local_bed.play(tmp_path)
    assert all(second.data['stats'][h]['changed'] == 0 for h in ('host1', 'host2'))
    records = audit_records(local_bed.audit)
    assert sum(1 for r in records if r['outcome'] == 'signed') == 4
    assert sum(1 for r in records if r['outcome'] == 'kept') == 4
    assert all(r['backend'] == 'local' for r in records)

    narrowed = local_bed.play(tmp_path, user_principals=['agt-task-bridge'], host_cert=False)
    reasons = per_host(narrowed, 'User certificate for the bridge agent', hosts=('host1', 'host2'))
    assert all(r['reason'] == 'principals_changed' for r in reasons.values())


def test_local_refusals_write_nothing(local_bed, tmp_path):
    before = [(Path(h.root_dir) / 'agent_key-cert.pub').read_text() for h in local_bed.fleet]
    run = local_bed.play(tmp_path, host_cert=False, renew_before='30h', user_subject='iam:intruder')
    res = run.task_results('User certificate for the bridge agent', 'host1')[0]
    assert res.get('failed') and res['reason'] == 'subject_not_allowed' and res['policy_decision_id']
    missing = local_bed.play(tmp_path, host_cert=False, renew_before='30h',
                             warden_local_ca={'key_path': str(tmp_path / 'no-such-ca')})
    res = missing.task_results('User certificate for the bridge agent', 'host1')[0]
    assert res.get('failed') and 'no CA key at' in res['msg'] and 'local_ca.key_path' in res['msg']
    after = [(Path(h.root_dir) / 'agent_key-cert.pub').read_text() for h in local_bed.fleet]
    assert before == after
    denied = [r for r in audit_records(local_bed.audit) if r['outcome'] == 'denied']
    assert denied and denied[-1]['reason'] == 'subject_not_allowed' and denied[-1]['kind'] == 'policy'
