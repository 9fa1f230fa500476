"""A fleet run gives each workload actor its own subject (issue 13 item 6), on real sshd hosts.

The host_principals role signs the workload actors of every host (sshd_trust -> ssh_cert) with the
embedded gate. WARDEN_POLICY_SUBJECT is set to a caller's IAM subject that no actor allows: a fleet
run must not send it for every actor (it did: every actor was denied subject_not_allowed). Each actor
sends its inventory `subject` (here iam:<actor>, allowed with no alias), else its name; the audit
records what each sent. The same variable still applies to a one-actor ssh_cert task.
"""

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.bed.ansible_run import run_playbook
from tests.bed.fleet import Fleet

ACTORS = {
    'agt-state-hub-bridge': {'type': 'agt', 'principals': ['agt-task-bridge'], 'ttl_hours': 24,
                             'subject': 'iam:agt-state-hub-bridge'},
    'atm-backup-daily': {'type': 'atm', 'principals': ['atm-backup'], 'ttl_hours': 8},
}
CALLER = 'iam:alice@netkingdom.example'  # a person's IAM subject: allowed for none of the actors
ROLE_PLAY = [{'name': 'Host principals', 'hosts': 'fleet', 'gather_facts': False,
              'roles': [{'role': 'netkingdom.warden.host_principals'}]}]
ONE_ACTOR_PLAY = [{'name': 'One actor', 'hosts': 'fleet', 'gather_facts': False, 'tasks': [{
    'name': 'Sign one actor as the caller',
    'netkingdom.warden.ssh_cert': {'actor': 'atm-backup-daily', 'key': '/root/one/id_ed25519', 'generate_key': True},
    'ignore_errors': True}]}]


@pytest.fixture(scope='module')
def bed(isolated, tmp_path_factory):
    work = tmp_path_factory.mktemp('fleet-subjects')
    ca_key = work / 'ca' / 'ca_key'
    ca_key.parent.mkdir(mode=0o700)
    subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', str(ca_key)], check=True)
    fleet = Fleet(2, work, base='127.77.62.').start()
    try:
        inv = yaml.safe_load(fleet.inventory_path.read_text())
        inv['all']['children']['fleet']['vars'].update({
            'warden_actors': ACTORS, 'warden_audit_log': str(work / 'audit.jsonl'),
            'warden_signing_backend': 'local', 'warden_local_ca': {'key_path': str(ca_key)},
            'warden_host_actors': sorted(ACTORS), 'warden_verify_login': False,
            'warden_host_principals': {'root': ['adm-example']},
        })
        inventory = work / 'inventory.yml'
        inventory.write_text(yaml.safe_dump(inv))
        yield fleet, inventory, work / 'audit.jsonl'
    finally:
        fleet.stop()


def records(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def play(tmp_path, inventory, plays):
    book = tmp_path / 'play.yml'
    book.write_text(yaml.safe_dump(plays))
    return run_playbook(str(book), inventory=inventory, workdir=tmp_path, env={'WARDEN_POLICY_SUBJECT': CALLER})


def test_each_actor_sends_its_own_subject_in_a_fleet_run(bed, tmp_path):
    fleet, inventory, audit = bed
    run = play(tmp_path, inventory, ROLE_PLAY)
    assert run.rc == 0, run.output[-4000:]
    for host in fleet:
        pending = run.task_results('Bring CA trust, principals, KRL, host certificates and the sshd drop-in to the '
                                   'wanted state', host.name)[0]['actor_certs_pending']
        assert sorted((p['actor'], p['subject']) for p in pending) == [
            ('agt-state-hub-bridge', 'iam:agt-state-hub-bridge'), ('atm-backup-daily', 'atm-backup-daily')]
    signed = [r for r in records(audit) if r['outcome'] == 'signed' and r['cert_type'] == 'user']
    assert sorted(set((r['actor'], r['subject']) for r in signed)) == [
        ('agt-state-hub-bridge', 'iam:agt-state-hub-bridge'), ('atm-backup-daily', 'atm-backup-daily')]
    assert len(signed) == 2 * len(fleet.hosts)
    assert all(r['policy_decision_id'].startswith('decision:') for r in signed)
    assert not [r for r in records(audit) if r['outcome'] == 'denied']


def test_one_actor_task_still_sends_the_callers_subject(bed, tmp_path):
    fleet, inventory, audit = bed
    run = play(tmp_path, inventory, ONE_ACTOR_PLAY)
    for host in fleet:
        result = run.task_results('Sign one actor as the caller', host.name)[0]
        assert result['failed'] and 'subject_not_allowed (rule subject_id_allowed)' in result['msg'], result
    denied = [r for r in records(audit) if r['outcome'] == 'denied']
    assert {(r['actor'], r['subject'], r['reason']) for r in denied} == {
        ('atm-backup-daily', CALLER, 'subject_not_allowed')}
