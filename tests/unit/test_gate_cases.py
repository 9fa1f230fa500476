"""The shared gate case table through the embedded evaluator (gate.evaluate).

tests/integration/test_gate_parity.py runs the same table against the flex-auth-compatible
PDP over HTTP and requires the same effect and reason.
"""

import re

import pytest

from ansible_collections.netkingdom.warden.plugins.module_utils import gate, registry
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError
from ansible_collections.netkingdom.warden.plugins.module_utils.policy import Gate, GateSettings
from tests.bed import gate_cases

DECISION_ID = re.compile(r"^decision:[0-9a-f]{16}$")
PROVENANCE_KEYS = {"evaluator", "mode", "policy_version", "decision_time", "registry_digest"}
CASES = gate_cases.decision_cases()
MALFORMED = gate_cases.malformed_cases()


@pytest.fixture(scope="module")
def actors():
    return gate_cases.load_fixture_actors()


@pytest.fixture(scope="module")
def index(actors):
    return registry.RegistryIndex(registry.validate_snapshot(registry.build_snapshot(actors)))


def test_table_is_big_enough_and_uses_known_reasons():
    assert len(CASES) >= 30
    known = set(gate.DENY_REASONS) | {gate.ALLOW_REASON}
    for case, dummy in CASES:
        expected = case["expected"]
        assert expected["effect"] in ("allow", "deny"), case["name"]
        assert expected["reason"] in known, case["name"]
        assert (expected["effect"] == "allow") == (expected["reason"] == gate.ALLOW_REASON), case["name"]
    used = {case["expected"]["reason"] for case, dummy in CASES}
    assert used == known, f"reasons never exercised: {sorted(known - used)}"


def test_fixture_inventory_has_every_type_and_the_production_names(actors):
    assert {a["type"] for a in actors.values()} == {"adm", "agt", "atm"}
    bridge = actors["agt-state-hub-bridge"]
    assert bridge["principals"] == ["agt-task-bridge"]
    assert bridge["subjects"] == ["iam:agt-state-hub-bridge"]
    assert {"adm-example", "atm-backup-daily"} <= set(actors)


@pytest.mark.parametrize("case,request_body", CASES, ids=[c["name"] for c, dummy in CASES])
def test_case(case, request_body, index):
    envelope = gate.evaluate(request_body, index)
    expected = case["expected"]
    assert (envelope["effect"], envelope["reason"]) == (expected["effect"], expected["reason"])
    assert DECISION_ID.match(envelope["id"])
    if "request_id" in expected:
        assert envelope["request_id"] == expected["request_id"]
    else:
        assert "request_id" not in envelope
    suffix = "allow" if expected["effect"] == "allow" else "deny." + expected["reason"]
    assert envelope["matched_rule"] == "ops_warden.sign." + suffix


@pytest.mark.parametrize("case,request_body", MALFORMED, ids=[c["name"] for c, dummy in MALFORMED])
def test_malformed_body_is_not_a_request(case, request_body, index):
    assert gate.request_shape_problem(request_body)
    with pytest.raises(ValidationError):
        gate.evaluate(request_body, index)


def test_envelope_shape(index):
    case, body = CASES[0]
    envelope = gate.evaluate(body, index, mode="embedded")
    assert set(envelope) == {"id", "effect", "reason", "matched_rule", "provenance"}
    assert DECISION_ID.match(envelope["id"])
    prov = envelope["provenance"]
    assert set(prov) == PROVENANCE_KEYS
    assert prov["evaluator"] == gate.EVALUATOR
    assert prov["mode"] == "embedded"
    assert prov["policy_version"] == gate.POLICY_VERSION
    assert prov["registry_digest"] == index.digest
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$", prov["decision_time"])
    assert gate.evaluate(body, index, mode="flex_auth")["provenance"]["mode"] == "flex_auth"


def test_decision_ids_are_unique(index):
    body = CASES[0][1]
    ids = {gate.evaluate(body, index)["id"] for dummy in range(200)}
    assert len(ids) == 200


def test_embedded_gate_gives_the_table_answers(actors):
    """The same table through policy.Gate in embedded mode (what the plugins call)."""
    g = Gate(GateSettings({"mode": "embedded"}, env={}), actors)
    for case, body in CASES:
        decision = g.check(body)
        assert (decision.effect, decision.reason) == (case["expected"]["effect"], case["expected"]["reason"]), case["name"]
        assert DECISION_ID.match(decision.decision_id)
        assert decision.mode == "embedded"
