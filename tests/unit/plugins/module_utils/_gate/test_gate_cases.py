"""The shared gate case table through the embedded evaluator (gate.evaluate).

tests/integration/gate/test_gate_parity.py runs the same table against the flex-auth-compatible
PDP over HTTP and requires the same effect and reason.
"""

import json
import re

import pytest

from ansible_collections.netkingdom.warden.plugins.module_utils._gate import rules as gate
from ansible_collections.netkingdom.warden.plugins.module_utils._registry import snapshot as registry
from ansible_collections.netkingdom.warden.plugins.module_utils._registry import build as registry_build
from ansible_collections.netkingdom.warden.plugins.module_utils._registry import validate as registry_validate
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError
from ansible_collections.netkingdom.warden.plugins.module_utils._gate.gate import Gate
from ansible_collections.netkingdom.warden.plugins.module_utils._gate.settings import GateSettings
from tests.bed import gate_cases

DECISION_ID = re.compile(r"^decision:[0-9a-f]{16}$")
PROVENANCE_KEYS = {"evaluator", "mode", "policy_id", "policy_version", "decision_time", "registry_digest"}
# The published rule -> reason table (docs/policy-gate.md), written out here by hand: the case
# table and the code must both agree with it.
RULE_REASONS = {
    "valid_action": {"action_not_allowed"},
    "valid_system": {"system_mismatch"},
    "valid_resource_type": {"resource_type_mismatch"},
    "valid_tenant": {"tenant_mismatch"},
    "actor_resource_exists": {"unknown_actor_resource"},
    "valid_actor_type": {"actor_type_mismatch"},
    "subject_type_matches_context": {"actor_type_mismatch"},
    "actor_type_matches_resource": {"actor_type_mismatch"},
    "resource_id_matches_actor": {"subject_not_allowed"},
    "subject_id_allowed": {"subject_not_allowed"},
    "valid_ttl": {"ttl_out_of_bounds"},
    "has_pubkey_fingerprint": {"pubkey_fingerprint_missing"},
    "principals_allowed": {"principals_empty", "principals_not_allowed"},
}
CASES = gate_cases.decision_cases()
MALFORMED = gate_cases.malformed_cases()


@pytest.fixture(scope="module")
def actors():
    return gate_cases.load_fixture_actors()


@pytest.fixture(scope="module")
def index(actors):
    return registry.RegistryIndex(registry_validate.validate_snapshot(registry_build.build_snapshot(actors)))


def test_table_is_big_enough_and_names_every_rule():
    assert len(CASES) >= 30
    for case, dummy in CASES:
        expected = case["expected"]
        assert expected["effect"] in ("allow", "deny"), case["name"]
        if expected["effect"] == "allow":
            assert expected["reason"] == "signing_policy_matched" and "rule" not in expected, case["name"]
        else:
            assert expected["reason"] in RULE_REASONS[expected["rule"]], case["name"]
    used = {(c["expected"].get("rule"), c["expected"]["reason"]) for c, dummy in CASES}
    wanted = {(rule, reason) for rule, reasons in RULE_REASONS.items() for reason in reasons}
    assert wanted <= used, f"rules never exercised: {sorted(wanted - used)}"


def test_code_publishes_the_same_rule_table():
    table = {}
    for rule, reason in gate.SIGN_RULES:
        table.setdefault(rule, set()).add(reason)
    assert table == RULE_REASONS
    assert [rule for rule, dummy in gate.SIGN_RULES][:5] == [
        "valid_action", "valid_system", "valid_resource_type", "valid_tenant", "actor_resource_exists"]


def test_case_table_expectations_are_not_read_from_the_code():
    text = gate_cases.CASES_FILE.read_text()
    assert "DENY_REASONS" not in text and "!!python" not in text
    for case, dummy in CASES:  # every expected answer is a literal of the file
        assert set(case["expected"]) <= {"effect", "reason", "rule", "request_id"}, case["name"]


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
    assert envelope.get("rule") == expected.get("rule")
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
    assert set(envelope) == {"id", "effect", "reason", "matched_rule", "provenance"}  # an allow names no rule
    assert DECISION_ID.match(envelope["id"])
    prov = envelope["provenance"]
    assert set(prov) == PROVENANCE_KEYS
    assert prov["evaluator"] == gate.EVALUATOR
    assert prov["mode"] == "embedded"
    assert prov["policy_version"] == gate.POLICY_VERSION
    assert prov["registry_digest"] == index.digest
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$", prov["decision_time"])
    assert gate.evaluate(body, index, mode="flex_auth")["provenance"]["mode"] == "flex_auth"


def test_decision_ids_are_stable_for_the_same_request_and_registry(index, actors):
    """Issue 13 item 8: the same request against the same registry gives the same id, every time
    and in another process's index of the same snapshot; any change to either gives another id."""
    body = CASES[0][1]
    ids = {gate.evaluate(body, index)["id"] for dummy in range(50)}
    assert len(ids) == 1
    again = registry.RegistryIndex(registry_build.build_snapshot(actors))
    assert gate.evaluate(json.loads(json.dumps(body)), again)["id"] == ids.pop()
    by_request = {json.dumps(b, sort_keys=True): gate.evaluate(b, index)["id"] for dummy, b in CASES}
    assert len(set(by_request.values())) == len(by_request) > 50  # different requests, different ids
    changed = dict(actors)
    changed["adm-example"] = dict(actors["adm-example"], principals=["adm-example"])
    other = registry.RegistryIndex(registry_build.build_snapshot(changed))
    assert other.digest != index.digest
    assert gate.evaluate(body, other)["id"] != gate.evaluate(body, index)["id"]
    reordered = json.loads(json.dumps(body, sort_keys=True))  # key order is not part of a request
    assert gate.evaluate(reordered, index)["id"] == gate.evaluate(body, index)["id"]


def test_embedded_gate_gives_the_table_answers(actors):
    """The same table through policy.Gate in embedded mode (what the plugins call)."""
    g = Gate(GateSettings({"mode": "embedded"}, env={}), actors)
    for case, body in CASES:
        decision = g.check(body)
        assert (decision.effect, decision.reason) == (case["expected"]["effect"], case["expected"]["reason"]), case["name"]
        assert decision.rule == case["expected"].get("rule"), case["name"]
        if decision.rule:
            assert "(rule %s)" % decision.rule in decision.message("x")
        assert DECISION_ID.match(decision.decision_id)
        assert decision.mode == "embedded"
