"""The ssh_cert and ssh_ca_public_key lookups: 30 forks signing at once, one audit line each."""

import base64
import json
import subprocess
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from tests.bed.ansible_run import run_playbook
from tests.integration.signing.test_ssh_cert import ACTORS, keygen

HERE = Path(__file__).resolve().parents[1]
WORKERS = 30


def test_thirty_forks_sign_with_one_audit_line_each(isolated, tmp_path):
    ca_key = tmp_path / 'ca' / 'ca_key'
    pub = keygen(tmp_path / 'worker_key').strip()
    inventory = tmp_path / 'workers.yml'
    inventory.write_text(json.dumps({'workers': {'hosts': dict(('w%02d' % i, {}) for i in range(WORKERS))}}))
    audit = tmp_path / 'audit.jsonl'
    run = run_playbook(HERE / 'playbooks' / 'lookups.yml', inventory=inventory, workdir=tmp_path, verbosity=4,
                       env={'ANSIBLE_FORKS': str(WORKERS)},
                       extra_vars={'worker_pub': pub, 'warden_actors': ACTORS, 'warden_audit_log': str(audit),
                                   'warden_signing_backend': 'local',
                                   'warden_local_ca': {'key_path': str(ca_key), 'create': True,
                                                       'passphrase': 'correct horse battery staple'}})
    assert run.rc == 0, sorted(set(r['msg'] for r in run.data['plays'][0]['tasks'][0]['hosts'].values() if 'msg' in r))
    certs = [run.task_results('Sign the worker\'s key with the lookup', 'w%02d' % i)[0]['ansible_facts']['worker_cert']
             for i in range(WORKERS)]
    lines = audit.read_text().splitlines()
    records = [json.loads(line) for line in lines]  # every line is whole JSON
    denied = [r for r in records if r['outcome'] == 'denied']
    records = [r for r in records if r['outcome'] != 'denied']
    assert len(records) == WORKERS
    assert sorted(r['host'] for r in records) == ['w%02d' % i for i in range(WORKERS)]
    assert len(set(r['serial'] for r in records)) == WORKERS
    assert all(r['outcome'] == 'signed' and r['policy_decision_id'].startswith('decision:') for r in records)
    for cert in certs[:3]:
        shown = subprocess.run(['ssh-keygen', '-L', '-f', '-'], input=cert, capture_output=True, text=True,
                               check=True).stdout
        assert 'agt-task-bridge' in shown and 'warden:agt-state-hub-bridge:decision:' in shown

    ca_keys = run.task_results('Read the CA public key', 'w00')[0]['ansible_facts']['ca_keys']
    assert ca_keys == [(Path(str(ca_key) + '.pub')).read_text().strip()]
    refused = run.task_results('A TTL above the agt maximum is denied by the gate (ttl_out_of_bounds, recorded)',
                               'w00')[0]
    assert refused['failed'] and 'ttl_out_of_bounds (rule valid_ttl)' in refused['msg']
    assert [(r['kind'], r['reason'], r['ttl_hours']) for r in denied] == [('policy', 'ttl_out_of_bounds', 30)]
    assert denied[0]['policy_decision_id'].startswith('decision:')

    # -vvvv output and the audit log hold no CA key material and no passphrase.
    private = ca_key.read_text()
    body = ''.join(private.splitlines()[1:-1])
    sealed = body[len(body) // 2:]  # the encrypted private section (the head holds the public key)
    for chunk in [sealed[i:i + 24] for i in range(0, len(sealed) - 24, 24)]:
        assert chunk not in run.output and chunk not in audit.read_text()
    key = serialization.load_ssh_private_key(private.encode(), b'correct horse battery staple')
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                            serialization.NoEncryption())
    for form in (raw.hex(), base64.b64encode(raw).decode().rstrip('=')):
        assert form not in run.output and form not in audit.read_text()
    assert 'correct horse battery staple' not in run.output
    assert 'BEGIN OPENSSH PRIVATE KEY' not in run.output + audit.read_text()
    assert oct(ca_key.stat().st_mode & 0o777) == '0o600'


def test_the_lookup_returns_no_certificate_without_its_audit_line(isolated, tmp_path):
    """Finding 14.6: the line is written before the lookup returns the certificate; an audit log that
    cannot be created fails the lookup and the play gets nothing."""
    pub = keygen(tmp_path / 'worker_key').strip()
    inventory = tmp_path / 'workers.yml'
    inventory.write_text(json.dumps({'workers': {'hosts': {'w00': {}, 'w01': {}}}}))
    (tmp_path / 'a-file').write_text('')
    run = run_playbook(HERE / 'playbooks' / 'lookups.yml', inventory=inventory, workdir=tmp_path,
                       extra_vars={'worker_pub': pub, 'warden_actors': ACTORS,
                                   'warden_audit_log': str(tmp_path / 'a-file' / 'audit.jsonl'),
                                   'warden_signing_backend': 'local',
                                   'warden_local_ca': {'key_path': str(tmp_path / 'ca' / 'ca_key'), 'create': True}})
    for worker in ('w00', 'w01'):
        res = run.task_results('Sign the worker\'s key with the lookup', worker)[0]
        assert res['failed'] and 'cannot create the audit directory' in res['msg'], res
        assert 'ansible_facts' not in res and 'ssh-ed25519-cert' not in json.dumps(res)
    assert 'ssh-ed25519-cert-v01@openssh.com' not in run.output


def test_ca_public_key_lookup_reads_openbao_without_a_token(openbao, tmp_path):
    book = tmp_path / 'ca.yml'
    book.write_text('- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n'
                    '    - name: Read CA keys\n      ansible.builtin.set_fact:\n'
                    '        keys: "{{ query(\'netkingdom.warden.ssh_ca_public_key\') }}"\n'
                    '        issuers: "{{ query(\'netkingdom.warden.ssh_ca_public_key\', all_issuers=true, '
                    'openbao={\'url\': bao_url, \'token\': bao_token}) }}"\n')
    run = run_playbook(book, workdir=tmp_path, extra_vars={'warden_openbao': {'url': openbao.url},
                                                           'bao_url': openbao.url, 'bao_token': openbao.token,
                                                           'ansible_python_interpreter': '/usr/bin/env python3'})
    facts = run.task_results('Read CA keys')[0]['ansible_facts']
    assert facts['keys'] == [openbao.ca_public_key().strip()]
    assert openbao.ca_public_key().strip() in facts['issuers']
