"""Credential-read decisions: the embedded evaluator and the flex-auth-compatible PDP agree.

The table tests/cases/credential_gate_cases.yaml runs over HTTP (``POST /v1/check`` and one
``POST /v1/batch-check``) and through ``policy.Gate`` in ``flex_auth`` mode against a PDP that
serves the fixture registry with credential lanes; each answer must carry the embedded
evaluator's effect and reason. The signing table runs against the same registry too: lanes
change no signing decision.
"""

import os
import re
import sys

import pytest

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
if _ROOT not in sys.path:
    sys.path.append(_ROOT)

from tests.bed.collection_path import ensure_on_path  # noqa: E402

ensure_on_path()

from ansible_collections.netkingdom.warden.plugins.module_utils._gate import rules as gate  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._registry import snapshot as registry  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._registry import validate as registry_validate  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._gate.gate import Gate  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._gate.settings import GateSettings  # noqa: E402
from tests.bed import credential_cases, gate_cases  # noqa: E402

pytest_plugins = ["tests.integration.pdp_fixtures"]

DECISION_ID = re.compile(r"^decision:[0-9a-f]{16}$")
CASES = credential_cases.decision_cases()
MALFORMED = credential_cases.malformed_cases()


@pytest.fixture(scope="module")
def lane_snapshot_file(tmp_path_factory, gate_actors):
    path = tmp_path_factory.mktemp("lanes") / "registry.json"
    credential_cases.write_fixture_snapshot(path, gate_actors)
    return path


@pytest.fixture(scope="module")
def lane_pdp(lane_snapshot_file, gate_collections, pdp_isolated, tmp_path_factory):
    from tests.bed.pdp import PdpProcess

    with PdpProcess(lane_snapshot_file, tmp_path_factory.mktemp("pdp"), gate_collections) as process:
        yield process


@pytest.fixture(scope="module")
def index(lane_snapshot_file):
    return registry.RegistryIndex(registry_validate.load_snapshot_file(str(lane_snapshot_file)))


def test_table_over_http_matches_embedded(lane_pdp, index):
    with lane_pdp.client() as http:
        health = http.get("/healthz").json()
        assert health["registry_digest"] == index.digest and health["actors"] == len(index.resources)
        for case, body in CASES:
            response = http.post("/v1/check", json=body)
            assert response.status_code == 200, (case["name"], response.text)
            got, want = response.json(), gate.evaluate(body, index)
            expected = case["expected"]
            assert (got["effect"], got["reason"]) == (want["effect"], want["reason"]), case["name"]
            assert (got["effect"], got["reason"]) == (expected["effect"], expected["reason"]), case["name"]
            assert got["matched_rule"] == want["matched_rule"], case["name"]
            assert got.get("rule") == want.get("rule"), case["name"]
            assert got.get("request_id") == expected.get("request_id"), case["name"]
            assert got["provenance"]["policy_version"] == want["provenance"]["policy_version"]
            assert DECISION_ID.match(got["id"])
        batch = http.post("/v1/batch-check", json={"requests": [body for dummy, body in CASES]})
        assert batch.status_code == 200
        assert [(d["effect"], d["reason"]) for d in batch.json()["decisions"]] == \
            [(c["expected"]["effect"], c["expected"]["reason"]) for c, dummy in CASES]
        for case, body in MALFORMED:
            response = http.post("/v1/check", json=body)
            assert response.status_code == 400, case["name"]
            assert response.json()["message"] == gate.request_shape_problem(body)


def test_gate_flex_auth_matches_embedded(lane_pdp):
    remote = Gate(GateSettings({"mode": "flex_auth", "url": lane_pdp.url}, env={}))
    embedded = Gate(GateSettings({"mode": "embedded"}, env={}), lanes=credential_cases.lanes())
    for case, body in CASES:
        if case.get("package") == "sign":
            continue
        got, want = remote.check(body), embedded.check(body)
        assert (got.effect, got.reason) == (want.effect, want.reason), case["name"]
        assert got.mode == "flex_auth" and DECISION_ID.match(got.decision_id)
    many = remote.check_many([body for dummy, body in CASES])
    assert [(d.effect, d.reason) for d in many] == [(c["expected"]["effect"], c["expected"]["reason"])
                                                    for c, dummy in CASES]


def test_sign_table_over_http_on_a_registry_with_lanes(lane_pdp):
    with lane_pdp.client() as http:
        response = http.post("/v1/batch-check", json={"requests": [b for dummy, b in gate_cases.decision_cases()]})
    assert response.status_code == 200
    assert [(d["effect"], d["reason"]) for d in response.json()["decisions"]] == \
        [(c["expected"]["effect"], c["expected"]["reason"]) for c, dummy in gate_cases.decision_cases()]


def test_decision_log_holds_the_read_without_secrets(lane_pdp):
    allow = next(b for c, b in CASES if c["name"] == "allow_release_bot_reads_npm")
    decision = Gate(GateSettings({"mode": "flex_auth", "url": lane_pdp.url}, env={})).check(allow)
    entry = next(e for e in lane_pdp.decisions() if e["decision_id"] == decision.decision_id)
    assert (entry["action"], entry["resource"], entry["effect"]) == ("read", "credential-lane:npm-publish-token",
                                                                     "allow")
    assert entry["subject"] == "iam:release-bot@netkingdom.example"
