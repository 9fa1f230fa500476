"""fail_closed against a real PDP that misbehaves (tests/bed/pdp_server.py --control).

Two kinds of fault (finding 14.3):

- an outage (the PDP cannot be asked: down, slower than the timeout, 5xx, connection cut): with
  ``fail_closed: true`` the gate denies with ``policy_unavailable`` and no decision id; with
  ``fail_closed: false`` (and the controller's consent, WARDEN_ALLOW_UNGATED) it allows with a
  warning and ``decision_id`` None;
- a refusal or an unreadable answer (4xx, a redirect, a body that is not JSON or not a decision, an
  allow without an id): a deny with ``policy_answer_invalid`` whatever ``fail_closed`` says, and the
  signing path records it and signs nothing.

Once the fault is cleared the very same Gate objects get real decisions again (recovery). "down"
is the PDP process stopped: a real refused connection.
"""

import os
import re
import sys
import time

import pytest

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
if _ROOT not in sys.path:
    sys.path.append(_ROOT)

from tests.bed.collection_path import ensure_on_path  # noqa: E402

ensure_on_path()

from ansible_collections.netkingdom.warden.plugins.module_utils._gate import rules as gate  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._gate.gate import Gate  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._gate.settings import GateSettings  # noqa: E402
from tests.bed import gate_cases  # noqa: E402

pytest_plugins = ["tests.integration.pdp_fixtures"]
pytestmark = pytest.mark.reliability

DECISION_ID = re.compile(r"^decision:[0-9a-f]{16}$")
CASES = dict((c["name"], body) for c, body in gate_cases.decision_cases())
ALLOW = CASES["allow_agt_state_hub_bridge"]
DENY = CASES["ttl_atm_above_max"]
TIMEOUT = 0.5

# fault name -> control-file settings ("down" stops the process instead)
# Outages: the PDP could not be asked. The only faults fail_closed false may open.
OUTAGES = {
    "down": None,
    "slow": {"delay": 2 * TIMEOUT + 0.5},
    "error500": {},
    "status503": {"fault": "status", "status": 503},
    "cut": {},
    "cut_body": {},
}
# Refusals and unreadable answers: always a deny (policy_answer_invalid), never failed open.
REFUSALS = {
    "status400": {"fault": "status", "status": 400},
    "status401": {"fault": "status", "status": 401},
    "status403": {"fault": "status", "status": 403},
    "status404": {"fault": "status", "status": 404},
    "status429": {"fault": "status", "status": 429},
    "status302": {"fault": "status", "status": 302},
    "garbage": {},
    "badgzip": {},
    "noid": {},
    "unknown_effect": {"fault": "body", "body": '{"effect": "permit", "id": "decision:0123456789abcdef"}'},
    "huge_effect": {"fault": "body", "body": '{"effect": "%s", "id": "decision:0123456789abcdef"}' % ("x" * 6000)},
}
FAULTS = dict(OUTAGES, **REFUSALS)
CONSENT = {"WARDEN_ALLOW_UNGATED": "1"}  # the controller allows failing open


def make_gate(url, fail_closed, retries=1):
    return Gate(GateSettings({"mode": "flex_auth", "url": url, "fail_closed": fail_closed,
                              "timeout": TIMEOUT, "retries": retries}, env={} if fail_closed else CONSENT))


@pytest.fixture
def pdp_ok(pdp):
    """The module's PDP, healthy and fault-free before and after each test."""
    pdp.clear_fault()
    pdp.start()
    yield pdp
    pdp.clear_fault()
    pdp.start()


def inject(pdp, name):
    if name == "down":
        pdp.stop()
        assert not pdp.running
        return
    settings = dict(FAULTS[name])
    fault = settings.pop("fault", name)
    pdp.set_fault(fault, **settings)


def clear(pdp, name):
    if name == "down":
        pdp.start()  # same port: the clients keep their URL
    else:
        pdp.clear_fault()


def assert_unavailable_deny(decision):
    assert decision.allowed is False
    assert decision.effect == "deny"
    assert decision.reason == gate.UNAVAILABLE
    assert decision.decision_id is None
    assert decision.detail  # says what went wrong
    assert not decision.warnings


def assert_invalid_deny(decision):
    assert (decision.allowed, decision.effect) == (False, "deny")
    assert decision.reason == gate.INVALID_ANSWER
    assert decision.decision_id is None
    assert decision.detail  # says what came back
    assert not decision.warnings


def assert_fail_open_allow(decision):
    assert decision.allowed is True
    assert decision.reason == gate.UNAVAILABLE
    assert decision.decision_id is None
    assert len(decision.warnings) == 1
    assert "fail_closed is false" in decision.warnings[0]
    assert "policy_decision_id null" in decision.warnings[0]


def assert_recovered(pdp, gates):
    for g in gates:
        recovered = g.check(ALLOW)
        assert recovered.allowed and recovered.reason == gate.ALLOW_REASON
        assert DECISION_ID.match(recovered.decision_id) and not recovered.warnings
        denied = g.check(DENY)
        assert (denied.allowed, denied.reason) == (False, "ttl_out_of_bounds")
        assert DECISION_ID.match(denied.decision_id)
    batch = gates[0].check_many([ALLOW, DENY])
    assert [(d.effect, d.reason) for d in batch] == [("allow", gate.ALLOW_REASON), ("deny", "ttl_out_of_bounds")]
    assert all(DECISION_ID.match(d.decision_id) for d in batch)


@pytest.mark.parametrize("name", sorted(OUTAGES))
def test_outage_fail_closed_fail_open_and_recovery(name, pdp_ok):
    # The fail-closed gate retries once (slow: no retry, one timeout per check is enough).
    closed = make_gate(pdp_ok.url, True, 0 if name == "slow" else 1)
    opened = make_gate(pdp_ok.url, False, 0)
    # Both gates work before the fault (and hold pooled connections to the PDP).
    assert closed.check(ALLOW).allowed and opened.check(ALLOW).allowed

    inject(pdp_ok, name)
    assert_unavailable_deny(closed.check(ALLOW))
    assert_unavailable_deny(closed.check(DENY))
    for decision in closed.check_many([ALLOW, DENY, ALLOW]):
        assert_unavailable_deny(decision)
    assert_fail_open_allow(opened.check(ALLOW))
    for decision in opened.check_many([ALLOW, ALLOW]):
        assert_fail_open_allow(decision)

    clear(pdp_ok, name)
    assert_recovered(pdp_ok, (closed, opened))


@pytest.mark.parametrize("name", sorted(REFUSALS))
def test_refusal_is_a_deny_even_when_failing_open(name, pdp_ok):
    """Finding 14.3: a 4xx, a redirect, an unreadable or unknown answer, an allow without an id
    is a deny with policy_answer_invalid, also for a gate with fail_closed false."""
    closed = make_gate(pdp_ok.url, True)
    opened = make_gate(pdp_ok.url, False)
    assert closed.check(ALLOW).allowed and opened.check(ALLOW).allowed
    before = len(pdp_ok.decisions())

    inject(pdp_ok, name)
    for g in (closed, opened):
        assert_invalid_deny(g.check(ALLOW))
        for decision in g.check_many([ALLOW, ALLOW]):
            assert_invalid_deny(decision)
        if name == "noid":  # a deny needs no id: it stays the PDP's deny
            denied = g.check(DENY)
            assert (denied.allowed, denied.reason, denied.decision_id) == (False, "ttl_out_of_bounds", None)
        else:
            assert_invalid_deny(g.check(DENY))
    detail = opened.check(ALLOW).detail
    if name.startswith("status"):
        assert "answered HTTP %s" % REFUSALS[name]["status"] in detail
    if name == "noid":  # the PDP decided each request once: an unusable answer is not retried (retries=1)
        assert len([e for e in pdp_ok.decisions()[before:] if e.get("fault") == "noid"]) == 9

    clear(pdp_ok, name)
    assert_recovered(pdp_ok, (closed, opened))


def test_slow_but_within_the_timeout_is_a_real_decision(pdp_ok):
    pdp_ok.set_fault("slow", delay=0.1)
    decision = Gate(GateSettings({"mode": "flex_auth", "url": pdp_ok.url, "timeout": 3}, env={})).check(ALLOW)
    assert decision.allowed and DECISION_ID.match(decision.decision_id)


def test_a_real_deny_is_never_failed_open(pdp_ok):
    """fail_closed false only covers an unavailable PDP, not a PDP that said no."""
    decision = make_gate(pdp_ok.url, False).check(DENY)
    assert (decision.allowed, decision.reason) == (False, "ttl_out_of_bounds")
    assert DECISION_ID.match(decision.decision_id) and not decision.warnings


def test_noid_is_logged_by_the_pdp_but_unusable_for_the_gate(pdp_ok):
    before = len(pdp_ok.decisions())
    pdp_ok.set_fault("noid")
    assert_invalid_deny(make_gate(pdp_ok.url, True).check(ALLOW))
    entries = pdp_ok.decisions()[before:]
    assert len(entries) == 1 and entries[0]["fault"] == "noid" and entries[0]["effect"] == "allow"


# Answers that are JSON but not a usable decision envelope: invalid, a deny whatever fail_closed
# says; an allow needs an id or a request_id; a deny keeps its reason even without an id.
@pytest.mark.parametrize("body,outcome", [
    ('{"effect": "allow", "reason": "signing_policy_matched"}', "invalid"),
    ('{"effect": "allow", "id": ""}', "invalid"),
    ('{"effect": "allow", "id": 1234}', "invalid"),
    ('{"effect": "ALLOW", "id": "decision:0123456789abcdef"}', "invalid"),
    ('{"effect": "permit", "id": "decision:0123456789abcdef"}', "invalid"),
    ('{"id": "decision:0123456789abcdef"}', "invalid"),
    ("[]", "invalid"),
    ("null", "invalid"),
    ('"allow"', "invalid"),
    ("", "invalid"),
    ('{"effect": "allow", "request_id": "req-42"}', ("allow", "signing_policy_matched", "req-42")),
    ('{"effect": "deny", "reason": "maintenance window"}', ("deny", "maintenance window", None)),
    ('{"effect": "deny"}', ("deny", "denied (no reason given)", None)),
], ids=lambda v: v if isinstance(v, str) and len(v) < 24 else None)
def test_unusable_envelopes(body, outcome, pdp_ok):
    pdp_ok.set_fault("body", body=body)
    closed, opened = make_gate(pdp_ok.url, True), make_gate(pdp_ok.url, False)
    if outcome == "invalid":
        assert_invalid_deny(closed.check(ALLOW))
        assert_invalid_deny(opened.check(ALLOW))
    else:
        for g in (closed, opened):
            decision = g.check(ALLOW)
            assert (decision.effect, decision.reason, decision.decision_id) == outcome
            assert not decision.warnings


def test_batch_with_the_wrong_number_of_decisions_is_invalid(pdp_ok):
    pdp_ok.set_fault("body", body='{"decisions": [{"effect": "allow", "id": "decision:0123456789abcdef"}]}')
    for g in (make_gate(pdp_ok.url, True), make_gate(pdp_ok.url, False)):
        for decision in g.check_many([ALLOW, ALLOW]):
            assert_invalid_deny(decision)


def test_down_then_up_again_on_the_same_port(pdp_ok):
    """A stopped PDP refuses connections; a restart on the same port serves the same URL."""
    url = pdp_ok.url
    closed = make_gate(url, True, retries=0)
    assert pdp_ok.stop() == 0  # SIGTERM is a clean shutdown
    started = time.monotonic()
    decision = closed.check(ALLOW)
    assert_unavailable_deny(decision)
    assert "ConnectError" in decision.detail
    assert time.monotonic() - started < 1.0  # refused, not a timeout
    pdp_ok.start()
    assert pdp_ok.url == url
    assert closed.check(ALLOW).allowed


# --- the signing path: what is recorded, what is signed ----------------------------------------

def fail_open_service(url, tmp_path, actors):
    """The signing path of the ssh_cert lookup (local CA, real audit file) with a remote gate that
    fails open, allowed by the controller."""
    from ansible_collections.netkingdom.warden.plugins.module_utils._signing.service import build_service

    args = {"actors": actors, "inventory_file": None, "backend": "local", "openbao": None,
            "local_ca": {"key_path": str(tmp_path / "ca" / "ca_key"), "create": True},
            "audit_log": str(tmp_path / "audit.jsonl"),
            "policy": {"mode": "flex_auth", "url": url, "fail_closed": False, "timeout": TIMEOUT, "retries": 0}}
    return build_service(args, env=CONSENT)


@pytest.fixture
def user_key(tmp_path):
    import subprocess

    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "id")], check=True)
    return (tmp_path / "id.pub").read_text()


@pytest.mark.parametrize("name", ["status403", "status401", "garbage", "noid", "unknown_effect", "huge_effect"])
def test_a_refusal_signs_nothing_and_is_recorded_even_failing_open(name, pdp_ok, tmp_path, gate_actors, user_key):
    from ansible_collections.netkingdom.warden.plugins.module_utils._audit.query import query
    from ansible_collections.netkingdom.warden.plugins.module_utils._signing.request import cert_request
    from ansible_collections.netkingdom.warden.plugins.module_utils._signing.service import PolicyDenied

    service = fail_open_service(pdp_ok.url, tmp_path, gate_actors)
    request = cert_request("user", service.actors, "agt-state-hub-bridge")
    inject(pdp_ok, name)
    with pytest.raises(PolicyDenied) as info:
        service.issue(request, user_key, "host-a", "requested")
    assert info.value.decision.reason == gate.INVALID_ANSWER and not info.value.decision.warnings
    assert "policy_answer_invalid" in str(info.value)
    records = query(str(tmp_path / "audit.jsonl"))
    assert [(r["kind"], r["outcome"], r["reason"]) for r in records] == [("policy", "denied", "policy_answer_invalid")]
    assert records[0]["gate_mode"] == "flex_auth" and records[0]["policy_decision_id"] is None
    assert records[0]["policy_reason"] == "policy_answer_invalid" and 0 < len(records[0]["policy_detail"]) <= 300
    assert "serial" not in records[0]  # nothing was signed


def test_an_outage_fails_open_signed_with_its_reason_and_a_warning(pdp_ok, tmp_path, gate_actors, user_key):
    from ansible_collections.netkingdom.warden.plugins.module_utils._audit.query import query
    from ansible_collections.netkingdom.warden.plugins.module_utils._signing.request import cert_request

    service = fail_open_service(pdp_ok.url, tmp_path, gate_actors)
    request = cert_request("user", service.actors, "agt-state-hub-bridge")
    inject(pdp_ok, "error500")
    cert, parsed, decision = service.issue(request, user_key, "host-a", "requested")
    assert cert.startswith("ssh-ed25519-cert-v01@openssh.com ") and decision.allowed
    assert decision.reason == gate.UNAVAILABLE and "fail_closed is false" in decision.warnings[0]
    records = query(str(tmp_path / "audit.jsonl"))
    assert [(r["kind"], r["outcome"]) for r in records] == [("sign", "signed")]
    assert records[0]["serial"] == str(parsed["serial"]) and records[0]["policy_decision_id"] is None
    assert (records[0]["gate_mode"], records[0]["policy_reason"]) == ("flex_auth", "policy_unavailable")
    assert "HTTP 500" in records[0]["policy_detail"]
