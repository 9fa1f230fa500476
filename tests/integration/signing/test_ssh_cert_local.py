"""The same signing path with the embedded local CA: no OpenBao at all."""

import json
import os
import resource
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.bed.ansible_run import run_playbook
from tests.bed.fleet import Fleet
from tests.integration.signing.test_ssh_cert import ACTORS, BOOK, DROP_IN, audit_records, keygen, login_as_svc, per_host


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

    def play(self, tmp_path, book=BOOK, inventory=None, env=None, preexec_fn=None, **extra):
        data = {'warden_actors': ACTORS, 'warden_audit_log': str(self.audit),
                'warden_signing_backend': 'local', 'warden_local_ca': {'key_path': str(self.ca_key)}}
        data.update(extra)
        if 'warden_audit_log' in extra and extra['warden_audit_log'] is None:
            del data['warden_audit_log']  # taken from the inventory's host variables
        return run_playbook(book, inventory=inventory or self.fleet.inventory_path, extra_vars=data, workdir=tmp_path,
                            env=env, preexec_fn=preexec_fn)

    def inventory(self, tmp_path, **host_vars):
        """The fleet inventory with per-host variables: ``host1={'warden_policy': ...}``."""
        inv = yaml.safe_load(self.fleet.inventory_path.read_text())
        for name, values in host_vars.items():
            inv['all']['children']['fleet']['hosts'][name].update(values)
        path = tmp_path / 'inventory-local.yml'
        path.write_text(yaml.safe_dump(inv, sort_keys=False))
        return path

    def certs(self):
        """Every certificate on the hosts: the agent's (under /root) and the host's (under /etc)."""
        found = []
        for host in self.fleet:
            found.append(read_or_none(Path(host.root_dir) / 'agent_key-cert.pub'))
            try:
                found.append(host.read_etc('ssh/ssh_host_ed25519_key-cert.pub'))
            except FileNotFoundError:
                found.append(None)
        return found


def read_or_none(path):
    try:
        return Path(path).read_text()
    except FileNotFoundError:
        return None


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


# --- the gate switched off from the inventory (finding 14.4) -------------------------------------

UNGATED = Path(__file__).resolve().parents[1] / 'playbooks' / 'ungated.yml'


def test_gate_off_from_host_vars_needs_the_controller_and_is_shown_and_recorded(local_bed, tmp_path):
    """warden_policy: {mode: off} in host variables signs nothing unless WARDEN_ALLOW_UNGATED is set
    on the controller; with it, every plugin (ssh_cert action, login_probe, ssh_cert lookup) shows the
    decision's warning and every sign record carries gate_mode off and the decision's reason."""
    inventory = local_bed.inventory(tmp_path, host1={'warden_policy': {'mode': 'off'}},
                                    host2={'warden_policy': {'mode': 'off'}})
    before, lines = local_bed.certs(), len(audit_records(local_bed.audit))
    refused = local_bed.play(tmp_path, book=UNGATED, inventory=inventory, agent_pub=local_bed.agent_pub)
    for host in ('host1', 'host2'):
        res = refused.task_results('User certificate with the gate off', host)[0]
        assert res['failed'] and 'policy.mode' in res['msg'] and 'WARDEN_ALLOW_UNGATED=1' in res['msg'], res
        assert refused.data['stats'][host]['failures'] == 1
    assert local_bed.certs() == before
    assert audit_records(local_bed.audit)[lines:] == []  # nothing signed, nothing recorded

    for host in local_bed.fleet:
        host.reload_sshd()  # the trust the bed wrote is in force for the probe login
    allowed = local_bed.play(tmp_path, book=UNGATED, inventory=inventory, agent_pub=local_bed.agent_pub,
                             env={'WARDEN_ALLOW_UNGATED': '1'})
    assert allowed.rc == 0, allowed.output[-3000:]
    warning = 'policy gate is off (WARDEN_ALLOW_UNGATED is set on the controller)'
    for host in ('host1', 'host2'):
        for task in ('User certificate with the gate off', 'Probe login with the gate off',
                     'Certificate from the lookup with the gate off'):
            res = allowed.task_results(task, host)[0]
            assert any(warning in w for w in res.get('warnings', [])), (task, res)
        assert allowed.task_results('Certificate from the lookup with the gate off', host)[0]['ansible_facts'][
            'looked_up'].startswith('ssh-ed25519-cert-v01@openssh.com ')
    signed = audit_records(local_bed.audit)[lines:]
    assert sorted((r['host'], r['reason']) for r in signed) == sorted(
        (h, why) for h in ('host1', 'host2') for why in ('forced', 'probe', 'requested'))
    assert all(r['outcome'] == 'signed' and r['gate_mode'] == 'off' and r['policy_reason'] == 'policy_gate_off'
               and r['policy_decision_id'] is None for r in signed), signed


# --- no certificate leaves the controller without its audit line (finding 14.6) ----------------

FSIZE_LIMIT = 1024 * 1024


def limit_file_size():
    """In the ansible-playbook child: no file may grow past FSIZE_LIMIT (like a full disk)."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (FSIZE_LIMIT, FSIZE_LIMIT))


def full_log(path):
    """An audit log that opens but cannot take another byte under limit_file_size()."""
    line = json.dumps({'kind': 'registry', 'outcome': 'unchanged', 'reason': 'filler'}) + '\n'
    count, rest = divmod(FSIZE_LIMIT, len(line))
    path.write_text(line * (count - 1) + line[:-1] + ' ' * rest + '\n')
    assert path.stat().st_size == FSIZE_LIMIT
    return path


def test_an_audit_log_that_cannot_be_created_leaves_nothing_on_the_host(local_bed, tmp_path):
    blocker = tmp_path / 'a-file'
    blocker.write_text('')
    before = local_bed.certs()
    run = local_bed.play(tmp_path, renew_before='30h', warden_audit_log=str(blocker / 'audit.jsonl'))
    for host in ('host1', 'host2'):
        res = run.task_results('User certificate for the bridge agent', host)[0]
        assert res['failed'] and 'cannot create the audit directory' in res['msg'], res
    assert local_bed.certs() == before
    assert not blocker.stat().st_size


def test_a_signed_certificate_whose_line_cannot_be_written_is_discarded(local_bed, tmp_path):
    """host1's audit log takes the line; host2's opens (the check before signing passes) but is full:
    host2's certificate is signed, then discarded, never written; host1's is written with its line."""
    ok_log, full = tmp_path / 'ok.jsonl', full_log(tmp_path / 'full.jsonl')
    inventory = local_bed.inventory(tmp_path, host1={'warden_audit_log': str(ok_log)},
                                    host2={'warden_audit_log': str(full)})
    before, filled = local_bed.certs(), full.read_bytes()
    run = local_bed.play(tmp_path, inventory=inventory, warden_audit_log=None, renew_before='30h', host_cert=False,
                         preexec_fn=limit_file_size)
    one, two = (run.task_results('User certificate for the bridge agent', h)[0] for h in ('host1', 'host2'))
    after = local_bed.certs()
    assert after[0] != before[0] and after[1:] == before[1:]  # only host1's agent certificate is new
    assert one['changed'] and not one.get('failed'), one
    assert two['failed'] and 'was signed but its audit record could not be written, so it was discarded' in two['msg']
    records = audit_records(ok_log)
    assert [(r['host'], r['outcome'], r['serial']) for r in records] == [('host1', 'signed', one['serial'])]
    assert full.read_bytes() == filled  # not even half a line


# --- an audit log someone else can rewrite (finding 14.8) -----------------------------------------

def test_a_planted_audit_log_is_refused_before_anything_is_signed(local_bed, tmp_path):
    """An existing audit.jsonl, mode 0666 and owned by another account: refused, never appended to,
    and nothing is signed or written on a host."""
    planted = tmp_path / 'audit.jsonl'
    planted.write_text('{"kind":"sign","outcome":"forged"}\n')
    os.chmod(str(planted), 0o666)
    os.chown(str(planted), 65534, 65534)
    before = local_bed.certs()
    run = local_bed.play(tmp_path, renew_before='30h', warden_audit_log=str(planted))
    for host in ('host1', 'host2'):
        res = run.task_results('User certificate for the bridge agent', host)[0]
        assert res['failed'] and 'the audit log %s belongs to uid 65534' % planted in res['msg'], res
    assert local_bed.certs() == before
    assert planted.read_text() == '{"kind":"sign","outcome":"forged"}\n'
