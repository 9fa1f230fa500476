"""One TTL rule in the gate and the signer (issue 13 item 7), and the subject each signing sends
(item 6), through the real signing path: a local CA, the embedded gate, the audit log."""

import json
import subprocess

import pytest

from ansible_collections.netkingdom.warden.plugins.module_utils._inventory.actors import load_actors
from ansible_collections.netkingdom.warden.plugins.module_utils._audit.log import AuditLog
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import SigningError
from ansible_collections.netkingdom.warden.plugins.module_utils._gate.gate import Gate
from ansible_collections.netkingdom.warden.plugins.module_utils._gate.settings import GateSettings
from ansible_collections.netkingdom.warden.plugins.module_utils._signing.backends import LocalBackend
from ansible_collections.netkingdom.warden.plugins.module_utils._signing.request import cert_request
from ansible_collections.netkingdom.warden.plugins.module_utils._signing.service import PolicyDenied, SigningService

ACTORS = load_actors({
    'agt-bridge': {'type': 'agt', 'principals': ['agt-task-bridge'], 'ttl_hours': 12},
    'atm-backup': {'type': 'atm', 'principals': ['atm-backup'], 'ttl_hours': 4, 'subject': 'iam:atm-backup'},
})[0]


@pytest.fixture
def signer(tmp_path):
    subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', str(tmp_path / 'user')], check=True)
    backend = LocalBackend({'key_path': str(tmp_path / 'ca'), 'create': True}, env={})
    audit_path = tmp_path / 'audit.jsonl'

    def make(mode='embedded', env=None):
        settings = GateSettings({'mode': mode}, env=env or {})
        gate = Gate(settings, ACTORS)
        return SigningService(backend, gate=gate, audit=AuditLog(str(audit_path)), actors=ACTORS, settings=settings)

    make.public_key = (tmp_path / 'user.pub').read_text()
    make.audit = lambda: [json.loads(line) for line in audit_path.read_text().splitlines()]
    return make


def hours(parsed):
    return (parsed['valid_before'] - parsed['valid_after'] - 30) / 3600.0


def test_default_ttl_is_the_actors_and_the_type_maximum_is_the_limit(signer):
    service = signer()
    cert, parsed, decision = service.issue(cert_request('user', ACTORS, 'agt-bridge'), signer.public_key, 'h', 'x')
    assert hours(parsed) == 12 and decision.allowed
    # above the actor's own ttl_hours, within the agt maximum: allowed (the old signer refused it)
    cert, parsed, decision = service.issue(cert_request('user', ACTORS, 'agt-bridge', ttl_hours=24),
                                           signer.public_key, 'h', 'x')
    assert hours(parsed) == 24 and decision.allowed


@pytest.mark.parametrize('ttl', [0, -2, 24.5, 1e9])
def test_out_of_bounds_ttl_is_a_recorded_gate_deny(signer, ttl):
    request = cert_request('user', ACTORS, 'agt-bridge', ttl_hours=ttl)  # no options error
    with pytest.raises(PolicyDenied) as info:
        signer().issue(request, signer.public_key, 'h', 'x')
    decision = info.value.decision
    assert (decision.reason, decision.rule) == ('ttl_out_of_bounds', 'valid_ttl')
    assert decision.decision_id.startswith('decision:')
    [record] = signer.audit()
    assert (record['kind'], record['outcome'], record['reason']) == ('policy', 'denied', 'ttl_out_of_bounds')
    assert record['policy_decision_id'] == decision.decision_id and record['ttl_hours'] == ttl


def test_the_signer_keeps_the_rule_when_no_gate_decides(signer):
    request = cert_request('user', ACTORS, 'atm-backup', ttl_hours=9)
    with pytest.raises(SigningError, match=r'outside \(0, 8\] for a atm actor: not signed'):
        signer(mode='off', env={'WARDEN_ALLOW_UNGATED': '1'}).issue(request, signer.public_key, 'h', 'x')
    [record] = signer.audit()
    assert (record['outcome'], record['reason'], record['policy_decision_id']) == ('denied', 'ttl_out_of_bounds', None)


def sent_subjects(service):
    """Record the subject.id of every request the service's gate is asked."""
    sent, check = [], service.gate.check

    def spy(request):
        sent.append(request['subject']['id'])
        return check(request)

    service.gate.check = spy
    return sent


def test_subjects_one_actor_uses_the_environment(signer, monkeypatch):
    monkeypatch.setenv('WARDEN_POLICY_SUBJECT', 'iam:agt-bridge')
    service = signer()
    sent = sent_subjects(service)
    cert, parsed, decision = service.issue(cert_request('user', ACTORS, 'agt-bridge'), signer.public_key, 'h', 'x')
    assert decision.allowed and sent == ['iam:agt-bridge']  # iam:<actor> with no alias (issue 13 item 6)


def test_subjects_the_inventory_subject_and_an_explicit_one(signer, monkeypatch):
    monkeypatch.delenv('WARDEN_POLICY_SUBJECT', raising=False)
    service = signer()
    sent = sent_subjects(service)
    service.issue(cert_request('user', ACTORS, 'atm-backup'), signer.public_key, 'h', 'x')
    service.issue(cert_request('user', ACTORS, 'agt-bridge'), signer.public_key, 'h', 'x', subject='agt-bridge')
    with pytest.raises(PolicyDenied):  # a foreign subject is denied and recorded with the subject it sent
        service.issue(cert_request('user', ACTORS, 'agt-bridge'), signer.public_key, 'h', 'x', subject='iam:eve')
    assert sent == ['iam:atm-backup', 'agt-bridge', 'iam:eve']
    assert signer.audit()[-1]['subject'] == 'iam:eve'
