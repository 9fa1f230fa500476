"""Embedded evaluator and the flex-auth-compatible PDP give the same decisions.

The PDP evaluates the published Rego package on a real Rego engine (tests/bed/pdp_server.py,
no import of the collection). The shared table (tests/cases/gate_cases.yaml, expected answers
written by hand) runs over HTTP through ``POST /v1/check``, once more as one
``POST /v1/batch-check``, and through ``policy.Gate`` in ``flex_auth`` mode; each answer must carry
the table's and the embedded evaluator's effect, reason and failing rule. Generated requests and
the mutation check are in test_rego_parity.py. Then the HTTP contract itself: 405/400/404/401,
/healthz, the decision log, SIGHUP reloads, refusing a bad registry, TLS.
"""

import json
import os
import re
import secrets
import ssl
import subprocess
import sys

import httpx
import pytest

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
if _ROOT not in sys.path:
    sys.path.append(_ROOT)

from tests.bed.collection_path import ensure_on_path  # noqa: E402

ensure_on_path()

from ansible_collections.netkingdom.warden.plugins.module_utils._gate import rules as gate  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._registry import snapshot as registry  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._registry import build as registry_build  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._gate.gate import Gate  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._gate.settings import GateSettings  # noqa: E402
from tests.bed import gate_cases  # noqa: E402
from tests.bed.pdp import SERVER, PdpStartError  # noqa: E402
from tests.bed.pki import TestCA  # noqa: E402

pytest_plugins = ["tests.integration.pdp_fixtures"]

DECISION_ID = re.compile(r"^decision:[0-9a-f]{16}$")
CASES = gate_cases.decision_cases()
MALFORMED = gate_cases.malformed_cases()
IDS = [c["name"] for c, dummy in CASES]


def remote_gate(url, **options):
    env = {"WARDEN_ALLOW_UNGATED": "1"} if options.get("fail_closed") is False else {}
    return Gate(GateSettings(dict({"mode": "flex_auth", "url": url}, **options), env=env))


@pytest.fixture(scope="module")
def index(gate_snapshot):
    return registry.RegistryIndex(gate_snapshot)


@pytest.fixture(scope="module")
def http(pdp):
    with pdp.client() as client:
        yield client


def assert_same(envelope, embedded, case):
    expected = case["expected"]
    assert (envelope["effect"], envelope["reason"]) == (embedded["effect"], embedded["reason"]), case["name"]
    assert (envelope["effect"], envelope["reason"]) == (expected["effect"], expected["reason"]), case["name"]
    assert envelope.get("rule") == embedded.get("rule") == expected.get("rule"), case["name"]
    assert envelope.get("request_id") == embedded.get("request_id") == expected.get("request_id")
    assert envelope["matched_rule"] == embedded["matched_rule"]
    assert DECISION_ID.match(envelope["id"])


# --- the table, three ways -------------------------------------------------------------------
@pytest.mark.parametrize("case,body", CASES, ids=IDS)
def test_check_matches_embedded(case, body, http, index, gate_snapshot):
    response = http.post("/v1/check", json=body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    envelope = response.json()
    assert_same(envelope, gate.evaluate(body, index), case)
    prov = envelope["provenance"]
    assert prov["evaluator"] == "netkingdom.warden.test-pdp"
    assert prov["mode"] == "flex_auth"
    assert prov["policy_version"] == gate.POLICY_VERSION
    assert prov["policy_id"] == "ops-warden.ssh-certificate.sign"
    assert prov["registry_digest"] == gate_snapshot["digest"]
    assert prov["decision_time"].endswith("Z")


def test_batch_check_matches_embedded_in_order(http, index):
    response = http.post("/v1/batch-check", json={"requests": [body for dummy, body in CASES]})
    assert response.status_code == 200, response.text
    decisions = response.json()["decisions"]
    assert len(decisions) == len(CASES)
    for (case, body), envelope in zip(CASES, decisions):
        assert_same(envelope, gate.evaluate(body, index), case)
    by_request = dict((json.dumps(body, sort_keys=True), d["id"]) for (dummy, body), d in zip(CASES, decisions))
    assert len(set(by_request.values())) == len(by_request)  # the PDP derives its ids from the request
    again = http.post("/v1/batch-check", json={"requests": [body for dummy, body in CASES]}).json()["decisions"]
    assert [d["id"] for d in again] == [d["id"] for d in decisions]


def test_policy_gate_flex_auth_matches_embedded(pdp, gate_actors):
    remote = remote_gate(pdp.url)
    embedded = Gate(GateSettings({"mode": "embedded"}, env={}), gate_actors)
    for case, body in CASES:
        got, want = remote.check(body), embedded.check(body)
        assert (got.effect, got.reason) == (want.effect, want.reason), case["name"]
        assert (got.effect, got.reason) == (case["expected"]["effect"], case["expected"]["reason"]), case["name"]
        assert DECISION_ID.match(got.decision_id), case["name"]
        assert got.mode == "flex_auth" and not got.warnings
    many = remote.check_many([body for dummy, body in CASES])
    assert [(d.effect, d.reason) for d in many] == [(c["expected"]["effect"], c["expected"]["reason"]) for c, dummy in CASES]


# --- HTTP contract ---------------------------------------------------------------------------
@pytest.mark.parametrize("case,body", MALFORMED, ids=[c["name"] for c, dummy in MALFORMED])
def test_malformed_request_is_400(case, body, http, pdp):
    response = http.post("/v1/check", json=body)
    assert response.status_code == 400
    assert response.json()["error"] == "malformed_request"
    assert response.json()["message"] == gate.request_shape_problem(body)
    batch = http.post("/v1/batch-check", json={"requests": [CASES[0][1], body]})
    assert batch.status_code == 400 and "requests[1]" in batch.json()["message"]
    decision = remote_gate(pdp.url).check(body)
    assert not decision.allowed and decision.reason == gate.INVALID_ANSWER and decision.decision_id is None


@pytest.mark.parametrize("path,allow", [("/v1/check", "POST"), ("/v1/batch-check", "POST"),
                                        ("/healthz", "GET"), ("/v1/registry", "GET")])
def test_wrong_method_is_405_with_allow(path, allow, http):
    method = "GET" if allow == "POST" else "POST"
    for m in (method, "PUT", "DELETE"):
        response = http.request(m, path, json={} if m != "GET" else None)
        assert response.status_code == 405, (m, path)
        assert response.headers["allow"] == allow
        assert response.json()["error"] == "method_not_allowed"


@pytest.mark.parametrize("raw", [b"{not json", b"", b"\xff\xfe", b"[1,2]", b'"sign"', b"42", b"null"])
def test_check_body_not_a_json_object_is_400(raw, http):
    response = http.post("/v1/check", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"] in ("malformed_json", "malformed_request")


@pytest.mark.parametrize("body", [{}, {"requests": {}}, {"requests": "x"}, [], {"request": []}])
def test_batch_without_a_list_is_400(body, http):
    response = http.post("/v1/batch-check", json=body)
    assert response.status_code == 400
    assert response.json()["error"] == "malformed_request"


def test_empty_batch_is_an_empty_answer(http):
    response = http.post("/v1/batch-check", json={"requests": []})
    assert response.status_code == 200 and response.json() == {"decisions": []}


def test_unknown_path_is_404(http):
    for path in ("/", "/v1", "/v1/check/extra", "/v2/check", "/v1/checks"):
        response = http.post(path, json=CASES[0][1])
        assert response.status_code == 404, path
        assert response.json()["error"] == "not_found"


def test_healthz_and_registry(http, gate_snapshot):
    health = http.get("/healthz")
    assert health.status_code == 200
    assert health.headers["content-type"].startswith("application/json")
    body = health.json()
    assert body["status"] == "ok" and body["registry_digest"] == gate_snapshot["digest"]
    reg = http.get("/v1/registry").json()
    assert reg["digest"] == gate_snapshot["digest"]
    assert reg["actors"] == registry.count_actors(gate_snapshot) == 6


# --- bearer token and decision log ------------------------------------------------------------
def test_token_required_and_decision_log(make_pdp, gate_snapshot_file):
    token = "pdp-" + secrets.token_hex(16)
    pdp = make_pdp(gate_snapshot_file, token=token)
    allow_case = next(b for c, b in CASES if c["name"] == "allow_agt_state_hub_bridge")
    deny_case = next(b for c, b in CASES if c["name"] == "ttl_agt_above_max")

    with pdp.client(token=False) as anonymous:
        assert anonymous.get("/healthz").status_code == 200  # liveness stays open
        for method, path, body in (("POST", "/v1/check", allow_case),
                                   ("POST", "/v1/batch-check", {"requests": [allow_case]}),
                                   ("GET", "/v1/registry", None)):
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token},
                            {"Authorization": "Basic " + token}):
                response = anonymous.request(method, path, json=body, headers=headers)
                assert response.status_code == 401, (path, headers)
                assert response.headers["www-authenticate"].startswith("Bearer")

    closed = remote_gate(pdp.url, retries=0)
    denied = closed.check(allow_case)
    assert (denied.allowed, denied.reason, denied.decision_id) == (False, gate.INVALID_ANSWER, None)
    assert "401" in denied.detail and token not in denied.detail
    opened = remote_gate(pdp.url, retries=0, fail_closed=False).check(allow_case)  # a refusal never fails open
    assert (opened.allowed, opened.reason, opened.decision_id) == (False, gate.INVALID_ANSWER, None)
    assert not opened.warnings

    assert pdp.decisions() == []  # refused requests are not decisions
    with_token = remote_gate(pdp.url, token=token)
    made = [with_token.check(allow_case), with_token.check(deny_case)]
    made += with_token.check_many([allow_case, deny_case, allow_case])
    assert [d.effect for d in made] == ["allow", "deny", "allow", "deny", "allow"]
    assert made[1].reason == "ttl_out_of_bounds"

    log = pdp.decisions()
    assert len(log) == len(made)
    assert [(e["decision_id"], e["effect"], e["reason"]) for e in log] == \
        [(d.decision_id, d.effect, d.reason) for d in made]
    assert [e["endpoint"] for e in log] == ["/v1/check"] * 2 + ["/v1/batch-check"] * 3
    first = log[0]
    assert first["subject"] == "agt-state-hub-bridge"
    assert first["resource"] == "ssh-cert:actor/agt-state-hub-bridge"
    assert first["principals"] == ["agt-task-bridge"] and first["ttl_hours"] == 24
    assert log[1]["ttl_hours"] == 25
    for entry in log:
        assert set(entry) >= {"ts", "decision_id", "effect", "reason", "subject", "resource",
                              "ttl_hours", "principals"}
    for text in (pdp.decision_log.read_text(), pdp.log_text()):
        assert token not in text


# --- registry: refuse bad files, reload on SIGHUP ---------------------------------------------
def _bad_snapshots(snapshot):
    edited = json.loads(json.dumps(snapshot))
    edited["resource_manifests"][0]["resources"][0]["metadata"]["principals"].append("root")  # digest stale
    dangling = json.loads(json.dumps(snapshot))
    dangling["resource_manifests"][0]["resources"][0]["metadata"]["tenant"] = "tenant:ghost"
    dangling["digest"] = registry.compute_digest(dangling)
    return {
        "not_json": ("{\"schema\": ", "not valid JSON"),
        "hand_edited": (registry.to_text(edited), "does not match the content"),
        "dangling_tenant": (registry.to_text(dangling), "dangling reference"),
        "empty": ("", "not valid JSON"),
    }


def test_pdp_refuses_to_start_on_a_bad_registry(make_pdp, gate_snapshot, tmp_path):
    for name, (text, message) in _bad_snapshots(gate_snapshot).items():
        path = tmp_path / f"{name}.json"
        path.write_text(text)
        with pytest.raises(PdpStartError) as info:
            make_pdp(path)
        assert info.value.returncode == 3, name
        assert message in info.value.log, name
    with pytest.raises(PdpStartError) as info:
        make_pdp(tmp_path / "missing.json")
    assert info.value.returncode == 3 and "cannot read registry snapshot" in info.value.log


@pytest.mark.parametrize("listen", ["0.0.0.0:0", "10.1.2.3:8080", "[::]:0", "example.org:80", "8080"])
def test_pdp_refuses_non_loopback_listen(listen, gate_snapshot_file, gate_collections):
    result = subprocess.run([sys.executable, str(SERVER), "--listen", listen, "--registry",
                             str(gate_snapshot_file), "--collections", gate_collections],
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 2
    assert "--listen" in result.stderr


def test_sighup_reload_swaps_registry_and_keeps_old_on_bad_file(make_pdp, gate_actors, gate_snapshot, tmp_path):
    path = tmp_path / "registry.json"
    path.write_text(registry.to_text(gate_snapshot))
    pdp = make_pdp(path)
    newcomer = gate.build_request("agt-newcomer", "agt", ["agt-new"], 12, "SHA256:x")
    gate_ = remote_gate(pdp.url)
    assert gate_.check(newcomer).reason == "unknown_actor_resource"

    actors = dict(gate_actors)
    actors["agt-newcomer"] = dict(actors["agt-deploy-runner"], name="agt-newcomer", principals=["agt-new"])
    grown = registry_build.build_snapshot(actors)
    path.write_text(registry.to_text(grown))
    health = pdp.reload()
    assert health["registry_digest"] == grown["digest"] and health["reload_errors"] == 0
    assert gate_.check(newcomer).allowed
    with pdp.client() as c:
        assert c.get("/v1/registry").json() == dict(c.get("/v1/registry").json(), digest=grown["digest"], actors=7)

    for name, (text, message) in _bad_snapshots(grown).items():
        path.write_text(text)
        health = pdp.reload()
        assert health["registry_digest"] == grown["digest"], name  # the old one stays
        assert message in health["last_reload_error"], name
        assert gate_.check(newcomer).allowed
    assert health["reload_errors"] == 4
    assert "reload refused" in pdp.log_text()


# --- TLS and mTLS ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def test_ca(tmp_path_factory):
    ca = TestCA(tmp_path_factory.mktemp("pki"))
    server = ca.issue("pdp-server", ips=["127.0.0.1"], dns=["localhost"])
    client = ca.issue("warden-client", client=True)
    other_ca = TestCA(tmp_path_factory.mktemp("pki-other"), name="someone else's CA")
    stranger = other_ca.issue("stranger", client=True)
    return ca, server, client, stranger


def test_tls_with_ca_cert(make_pdp, gate_snapshot_file, test_ca):
    ca, (cert, key), dummy, dummy2 = test_ca
    pdp = make_pdp(gate_snapshot_file, tls_cert=cert, tls_key=key, ca_cert=ca.cert_path)
    assert pdp.url.startswith("https://127.0.0.1:")
    body = CASES[0][1]
    ok = remote_gate(pdp.url, ca_cert=str(ca.cert_path)).check(body)
    assert ok.allowed and DECISION_ID.match(ok.decision_id)
    untrusted = remote_gate(pdp.url, retries=0).check(body)  # system CAs do not know ours
    assert (untrusted.allowed, untrusted.reason) == (False, gate.UNAVAILABLE)
    insecure = remote_gate(pdp.url, validate_certs=False).check(body)
    assert insecure.allowed and DECISION_ID.match(insecure.decision_id)
    plain = remote_gate(pdp.url.replace("https:", "http:"), retries=0).check(body)
    assert (plain.allowed, plain.reason) == (False, gate.UNAVAILABLE)


def test_mtls_requires_a_client_cert_from_the_ca(make_pdp, gate_snapshot_file, test_ca):
    ca, (cert, key), (ccert, ckey), (scert, skey) = test_ca
    pdp = make_pdp(gate_snapshot_file, tls_cert=cert, tls_key=key, client_ca=ca.cert_path,
                   ca_cert=ca.cert_path, client_cert=ccert, client_key=ckey)
    body = CASES[0][1]
    ok = remote_gate(pdp.url, ca_cert=str(ca.cert_path), client_cert=str(ccert), client_key=str(ckey)).check(body)
    assert ok.allowed and DECISION_ID.match(ok.decision_id)
    for options in ({}, {"client_cert": str(scert), "client_key": str(skey)}):
        refused = remote_gate(pdp.url, ca_cert=str(ca.cert_path), retries=0, **options).check(body)
        assert (refused.allowed, refused.reason, refused.decision_id) == (False, gate.UNAVAILABLE, None), options
    insecure = remote_gate(pdp.url, validate_certs=False, client_cert=str(ccert), client_key=str(ckey)).check(body)
    assert insecure.allowed and DECISION_ID.match(insecure.decision_id)
    with pytest.raises(httpx.HTTPError):
        httpx.get(pdp.url + "/healthz", verify=ssl.create_default_context(cafile=str(ca.cert_path)), timeout=2)
    assert pdp.healthz()["status"] == "ok"  # the bed's own client presents its cert
