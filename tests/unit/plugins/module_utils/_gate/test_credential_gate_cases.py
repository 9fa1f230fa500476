"""The credential-read gate table through the embedded evaluator, and the registry side of lanes.

tests/integration/gate/test_credential_gate_parity.py runs the same table against the
flex-auth-compatible PDP over HTTP and requires the same effect and reason.
"""

import json
import re

import pytest

from ansible_collections.netkingdom.warden.plugins.module_utils._gate import rules as gate
from ansible_collections.netkingdom.warden.plugins.module_utils._registry import snapshot as registry
from ansible_collections.netkingdom.warden.plugins.module_utils._registry import build as registry_build
from ansible_collections.netkingdom.warden.plugins.module_utils._registry import validate as registry_validate
from ansible_collections.netkingdom.warden.plugins.module_utils._registry import summary as registry_summary
from ansible_collections.netkingdom.warden.plugins.module_utils._routing import catalog as routing
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError
from ansible_collections.netkingdom.warden.plugins.module_utils._gate.gate import Gate
from ansible_collections.netkingdom.warden.plugins.module_utils._gate.settings import GateSettings
from tests.bed import credential_cases, gate_cases

DECISION_ID = re.compile(r"^decision:[0-9a-f]{16}$")
CASES = credential_cases.decision_cases()
MALFORMED = credential_cases.malformed_cases()
IDS = [c["name"] for c, dummy in CASES]


@pytest.fixture(scope="module")
def actors():
    return gate_cases.load_fixture_actors()


@pytest.fixture(scope="module")
def snapshot(actors):
    return registry_validate.validate_snapshot(credential_cases.fixture_snapshot(actors))


@pytest.fixture(scope="module")
def index(snapshot):
    return registry.RegistryIndex(snapshot)


def expected_rule(case):
    expected = case["expected"]
    prefix = gate.SIGN_RULE_PREFIX if case.get("package") == "sign" else gate.CREDENTIAL_RULE_PREFIX
    return prefix + ("allow" if expected["effect"] == "allow" else "deny." + expected["reason"])


def test_table_exercises_every_credential_reason():
    known = set(gate.CREDENTIAL_DENY_REASONS) | {gate.CREDENTIAL_ALLOW_REASON}
    used = {c["expected"]["reason"] for c, dummy in CASES if c.get("package") != "sign"}
    assert used == known, f"reasons never exercised: {sorted(known - used)}"
    assert len(CASES) >= 30
    for case, dummy in CASES:
        allow_reasons = (gate.CREDENTIAL_ALLOW_REASON, gate.ALLOW_REASON)
        assert (case["expected"]["effect"] == "allow") == (case["expected"]["reason"] in allow_reasons)


@pytest.mark.parametrize("case,body", CASES, ids=IDS)
def test_case(case, body, index):
    envelope = gate.evaluate(body, index)
    expected = case["expected"]
    assert (envelope["effect"], envelope["reason"]) == (expected["effect"], expected["reason"])
    assert envelope["matched_rule"] == expected_rule(case)
    assert DECISION_ID.match(envelope["id"])
    assert envelope.get("request_id") == expected.get("request_id")
    version = gate.POLICY_VERSION if case.get("package") == "sign" else gate.CREDENTIAL_POLICY_VERSION
    assert envelope["provenance"]["policy_version"] == version


@pytest.mark.parametrize("case,body", MALFORMED, ids=[c["name"] for c, dummy in MALFORMED])
def test_malformed(case, body, index):
    assert gate.request_shape_problem(body)
    with pytest.raises(ValidationError):
        gate.evaluate(body, index)


def test_gate_embedded_from_lanes_and_from_a_snapshot_file(tmp_path, snapshot):
    """What the credential lookup calls: Gate(settings, lanes=...) and Gate with policy.registry."""
    lanes = credential_cases.lanes()
    path = tmp_path / "registry.json"
    path.write_text(registry.to_text(snapshot))
    built = Gate(GateSettings({"mode": "embedded"}, env={}), lanes=lanes)
    from_file = Gate(GateSettings({"mode": "embedded", "registry": str(path)}, env={}))
    for case, body in CASES:
        if case.get("package") == "sign":
            continue
        for g in (built, from_file):
            decision = g.check(body)
            assert (decision.effect, decision.reason) == (case["expected"]["effect"], case["expected"]["reason"]), \
                case["name"]


def test_sign_table_unchanged_on_a_registry_with_lanes(snapshot, actors):
    """Lanes in the registry change no signing decision."""
    index = registry.RegistryIndex(snapshot)
    for case, body in gate_cases.decision_cases():
        envelope = gate.evaluate(body, index)
        assert (envelope["effect"], envelope["reason"]) == (case["expected"]["effect"], case["expected"]["reason"])
        assert envelope["matched_rule"].startswith(gate.SIGN_RULE_PREFIX)
    assert len(index.resources) == len(actors)  # lanes are not actors (the PDP counts actors)
    assert set(index.lanes) == {"credential-lane:app-db-password", "credential-lane:npm-publish-token"}


def test_snapshot_without_lanes_is_unchanged(actors):
    plain = registry_build.build_snapshot(actors)
    assert registry_build.build_snapshot(actors, credential_lanes=[]) == plain
    assert registry_build.build_snapshot(actors, credential_lanes=None)["digest"] == plain["digest"]
    assert [m["id"] for m in plain["resource_manifests"]] == ["ops-warden:ssh-certificate"]
    assert all(r["type"] == registry.RESOURCE_TYPE for r in registry.iter_resources(plain))


def test_snapshot_with_lanes_shape_and_determinism(snapshot, actors):
    again = credential_cases.fixture_snapshot(actors)
    assert registry.to_text(again) == registry.to_text(snapshot)
    manifest = snapshot["resource_manifests"][1]
    assert (manifest["id"], manifest["system"]) == ("ops-warden:credential-lane", "ops-warden")
    lanes = manifest["resources"]
    assert lanes == registry.lane_resources_of(snapshot)
    assert [r["id"] for r in lanes] == ["credential-lane:app-db-password", "credential-lane:npm-publish-token"]
    npm = lanes[1]
    assert npm["actions"] == ["read"] and npm["type"] == "credential-lane"
    assert npm["metadata"] == {"need_id": "npm-publish-token", "lane": "secret", "owner_repo": "secrets-engine",
                               "allowed_subjects": ["adm-example", "iam:release-bot@netkingdom.example"],
                               "tenant": "tenant:platform", "source": "netkingdom.warden",
                               "flex_auth_contract": "resource-registration-v0"}
    types = snapshot["systems"][0]["resource_types"]
    assert types[1] == {"type": "credential-lane", "actions": ["read"],
                        "required_context": ["lane", "need_id", "owner_repo"],
                        "policy_id": "ops-warden.credential-lane.read",
                        "policy_package": "flexauth.ops_warden.credential_read"}
    assert registry_summary.summarize(snapshot).keys() == set(actors)


def test_snapshot_validation_names_bad_lane_fields(snapshot):
    def edited(change):
        data = json.loads(json.dumps(snapshot))
        lane = data["resource_manifests"][1]["resources"][0]
        change(data, lane)
        data["digest"] = registry.compute_digest(data)
        return data

    bad = {
        "resource_manifests[1].resources[0].metadata.lane": lambda d, r: r["metadata"].update(lane="login"),
        "resource_manifests[1].resources[0].metadata.allowed_subjects[0]":
            lambda d, r: r["metadata"].update(allowed_subjects=["a b"]),
        "resource_manifests[1].resources[0].metadata.need_id": lambda d, r: r["metadata"].pop("need_id"),
        "resource_manifests[1].resources[0].metadata.tenant": lambda d, r: r["metadata"].update(tenant="tenant:ghost"),
        "resource_manifests[1].resources[0].metadata.policy_ref": lambda d, r: r.update(id="no scheme"),
        "resource_manifests[1].resources[0].type": lambda d, r: d["systems"][0]["resource_types"].pop(),
    }
    for field, change in bad.items():
        with pytest.raises(ValidationError) as info:
            registry_validate.validate_snapshot(edited(change))
        assert field in info.value.fields, (field, info.value.problems)


def test_build_snapshot_refuses_bad_lanes(actors):
    good = {"policy_ref": "credential-lane:x", "need_id": "x", "lane": "secret", "owner_repo": "o",
            "allowed_subjects": ["s"]}
    cases = {
        "credential_lanes[0].policy_ref": dict(good, policy_ref="x"),
        "credential_lanes[0].lane": dict(good, lane="login"),
        "credential_lanes[0].owner_repo": dict(good, owner_repo=""),
        "credential_lanes[0].allowed_subjects[0]": dict(good, allowed_subjects=["*"]),
    }
    for field, lane in cases.items():
        with pytest.raises(ValidationError) as info:
            registry_build.build_snapshot(actors, credential_lanes=[lane])
        assert info.value.fields == [field]
    with pytest.raises(ValidationError) as info:
        registry_build.build_snapshot(actors, credential_lanes=[good, dict(good)])
    assert "duplicate lane" in str(info.value)


def test_describe_changes_names_lane_changes(actors):
    plain = registry_build.build_snapshot(actors)
    with_lanes = credential_cases.fixture_snapshot(actors)
    lines = registry_summary.describe_changes(plain, with_lanes)
    assert "add credential lane credential-lane:npm-publish-token (npm-publish-token, owner secrets-engine): " \
           "readable by adm-example, iam:release-bot@netkingdom.example" in lines
    assert any(line.startswith("remove credential lane credential-lane:app-db-password")
               for line in registry_summary.describe_changes(with_lanes, plain))


def test_access_for_an_unknown_lane_is_refused():
    catalog = credential_cases.load_catalog()
    with pytest.raises(ValidationError) as info:
        routing.credential_lanes(catalog, {"grafana-api-key": ["x"], "ssh-cert": ["y"]})
    assert info.value.fields == ["access.grafana-api-key", "access.ssh-cert"]
    assert "app-db-password, npm-publish-token" in str(info.value)
