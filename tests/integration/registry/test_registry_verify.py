"""registry_checks (what registry_verify and preflight use) against the real test PDP.

Fast: no Ansible run, one PDP process per test, on 127.0.0.1 inside the loopback-only netns.
"""

import os
import threading
import time

import pytest

from tests.bed.collection_path import ensure_on_path
from tests.bed.openbao import free_port

pytest_plugins = ["tests.integration.pdp_fixtures"]

ensure_on_path()
from ansible_collections.netkingdom.warden.plugins.module_utils._inventory import actors as A  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._preflight import report as PR  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._preflight import registry as PG  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._registry import snapshot as R  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._registry import build as RB  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._registry import checks as C  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._gate.flex_auth import FlexAuthClient  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._gate.settings import GateSettings  # noqa: E402

ACTORS = {
    'agt-state-hub-bridge': {'type': 'agt', 'principals': ['agt-task-bridge'], 'ttl_hours': 24,
                             'subjects': ['iam:agt-state-hub-bridge']},
    'atm-backup-daily': {'type': 'atm', 'principals': ['atm-backup'], 'ttl_hours': 8},
}
TOKEN = 'pdp-test-token-' + os.urandom(8).hex()


def snapshot(actors):
    return RB.build_snapshot(A.load_actors(actors)[0])


def write(path, snap):
    tmp = str(path) + '.tmp'
    with open(tmp, 'w') as handle:
        handle.write(R.to_text(snap))
    os.replace(tmp, path)


@pytest.fixture
def served(tmp_path, make_pdp):
    path = tmp_path / 'registry.json'
    first = snapshot(ACTORS)
    write(path, first)
    pdp = make_pdp(path, token=TOKEN)
    client = FlexAuthClient(pdp.url, token=TOKEN, timeout=2, retries=0)
    yield pdp, path, first, client
    client.close()


def test_healthy_instance_serving_the_snapshot_passes(served):
    pdp, path, first, client = served
    result = C.verify_instance(client, wait=2, expect_digest=first['digest'], snapshot=first,
                               actor='agt-state-hub-bridge', subject='iam:agt-state-hub-bridge')
    assert result['ok'], result
    assert [c['name'] for c in result['checks']] == ['healthz', 'served_digest', 'smoke_allow', 'smoke_deny']
    assert result['decisions']['allow']['reason'] == 'signing_policy_matched'
    assert result['decisions']['deny']['reason'] == 'ttl_out_of_bounds'
    assert result['served_digest'] == first['digest']
    logged = pdp.decisions()
    assert [d['subject'] for d in logged] == ['iam:agt-state-hub-bridge'] * 2
    assert [d['ttl_hours'] for d in logged] == [24, 25]
    assert logged[0]['pubkey_fingerprint'] == C.SMOKE_FINGERPRINT


def test_a_refused_reload_is_seen_in_the_served_digest(served):
    """SIGHUP with a file the PDP cannot load: /healthz stays 200 and the old registry stays in use,
    so only the digest shows that the deploy did not take."""
    pdp, path, first, client = served
    second = snapshot(dict(ACTORS, **{'agt-new': {'type': 'agt', 'principals': ['agt-new'], 'ttl_hours': 4}}))
    path.write_text('{"schema": "truncated')
    pdp.reload()
    start = time.monotonic()
    result = C.verify_instance(client, wait=0.6, expect_digest=second['digest'], snapshot=second)
    assert time.monotonic() - start >= 0.6
    assert not result['ok']
    message = result['checks'][0]['message']
    assert message.startswith('flex-auth at %s still serves registry %s, not the deployed %s'
                              % (pdp.url, first['digest'], second['digest']))
    assert 'its last reload error: ' in message and 'not valid JSON' in message
    assert len(result['checks']) == 1  # no smoke check against the wrong registry


def test_the_wait_covers_a_reload_that_takes_a_moment(served):
    pdp, path, first, client = served
    second = snapshot(dict(ACTORS, **{'agt-new': {'type': 'agt', 'principals': ['agt-new'], 'ttl_hours': 4}}))
    write(path, second)
    timer = threading.Timer(0.4, pdp.reload)
    timer.start()
    try:
        result = C.verify_instance(client, wait=5, expect_digest=second['digest'], snapshot=second, actor='agt-new')
    finally:
        timer.join()
    assert result['ok'], result
    assert 0.3 <= result['waited'] < 5
    assert result['smoke_actor'] == 'agt-new'


def test_smoke_allow_fails_when_the_instance_does_not_know_the_actor(served):
    pdp, path, first, client = served
    other = snapshot({'atm-other': {'type': 'atm', 'principals': ['atm-x'], 'ttl_hours': 2}})
    result = C.verify_instance(client, wait=1, snapshot=other)  # no digest expected: only the smoke notices
    assert not result['ok']
    failed = [c for c in result['checks'] if not c['ok']]
    assert [c['name'] for c in failed] == ['smoke_allow', 'smoke_deny']
    assert 'denied atm-other (subject atm-other) with unknown_actor_resource' in failed[0]['message']
    assert 'answered deny (unknown_actor_resource) for atm-other at 9h' in failed[1]['message']
    assert failed[1]['message'].endswith('expected deny ttl_out_of_bounds')


def test_an_instance_that_is_down_fails_within_the_wait(served):
    pdp, path, first, client = served
    down = FlexAuthClient('http://127.0.0.1:%d' % free_port(), timeout=1, retries=0)
    start = time.monotonic()
    result = C.verify_instance(down, wait=0.5, expect_digest=first['digest'], snapshot=first)
    assert 0.5 <= time.monotonic() - start < 3
    assert not result['ok'] and len(result['checks']) == 1
    assert 'did not answer GET /healthz with 200 within' in result['msg'] and 'connection failed' in result['msg']


def test_a_wrong_token_is_not_health(served):
    pdp, path, first, client = served
    wrong = FlexAuthClient(pdp.url, token='not-the-token', timeout=1, retries=0)
    result = C.verify_instance(wrong, wait=0.3, expect_digest=first['digest'], snapshot=first)
    # /healthz needs no token, /v1/registry and /v1/check do: the smoke check fails on 401
    assert result['checks'][0]['ok']
    assert not result['ok']
    assert 'answered HTTP 401' in result['msg']
    assert 'not-the-token' not in result['msg'] and TOKEN not in result['msg']


def test_preflight_gate_check_against_the_pdp(served):
    pdp, path, first, client = served
    report = PR.Report()
    PG.check_gate(report, {'mode': 'flex_auth', 'url': pdp.url, 'token': TOKEN}, first, env={})
    assert [(c['name'], c['ok']) for c in report.checks] == [('flex_auth_healthz', True), ('registry_digest', True)]
    report = PR.Report()
    other = snapshot({'atm-other': {'type': 'atm', 'principals': ['atm-x'], 'ttl_hours': 2}})
    PG.check_gate(report, {'mode': 'flex_auth', 'url': pdp.url, 'token': TOKEN}, other, env={})
    bad = report.failed
    assert [c['name'] for c in bad] == ['registry_digest']
    assert 'serves registry %s, but the inventory builds %s' % (first['digest'], other['digest']) in bad[0]['message']


def test_make_client_uses_the_policy_tls_and_token_options(served):
    pdp, path, first, client = served
    settings = GateSettings({'token': TOKEN, 'timeout': 1}, env={})
    made = C.make_client(pdp.url, settings)
    try:
        assert C.served_digest(made.registry()) == first['digest']
    finally:
        made.close()
