"""Credential routing: catalog validation and secret guard, matching, placeholders, route shape,
and the pure parts of the fetch (KV command parsing, the caller's token)."""

import base64
import copy
import datetime
import json
import secrets
import string
from pathlib import Path

import pytest
import yaml

from ansible_collections.netkingdom.warden.plugins.module_utils._routing import credentials as CA
from ansible_collections.netkingdom.warden.plugins.module_utils._routing import catalog as R
from ansible_collections.netkingdom.warden.plugins.module_utils._routing import match as RM
from ansible_collections.netkingdom.warden.plugins.module_utils._routing import route as RR
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError

ROOT = Path(__file__).resolve().parents[5]
EXAMPLE = ROOT / "docs" / "examples" / "routing" / "catalog.yaml"
FIXTURE = ROOT / "tests" / "cases" / "routing_catalog.yaml"
DAY = datetime.date(2026, 11, 26)
VALUES = {"domain": "coulomb_social", "field": "NPM_AUTH_TOKEN", "path": "npm"}
ROUTE_KEYS = {"id", "owner_repo", "subsystem", "lane", "auth_method", "fetch_command", "policy_ref",
              "next_action", "role"}


def example_data():
    return yaml.safe_load(EXAMPLE.read_text())


def load(data, today=DAY, **kwargs):
    return R.validate_catalog(data, today=today, **kwargs)


def problems_of(data, **kwargs):
    with pytest.raises(ValidationError) as info:
        load(data, **kwargs)
    return info.value


@pytest.fixture(scope="module")
def example():
    return R.load_catalog_file(str(EXAMPLE), today=DAY)


@pytest.fixture(scope="module")
def fixture():
    return R.load_catalog_file(str(FIXTURE), today=DAY)


# --- the example catalog -----------------------------------------------------------------------
def test_example_catalog_has_the_four_lanes(example):
    assert [e["id"] for e in example.entries] == [
        "ssh-cert", "openbao-oidc-login", "npm-publish-token", "ops-bridge-state-hub-tunnel"]
    roles = {e["id"]: RR.role_of(e) for e in example.entries}
    assert roles == {"ssh-cert": "issue", "openbao-oidc-login": "assist", "npm-publish-token": "assist",
                     "ops-bridge-state-hub-tunnel": "route"}
    assert [e["id"] for e in example.entries if e["warden_executes"]] == ["ssh-cert"]
    assert [e["lane"] for e in example.entries] == ["secret", "login", "secret", "secret"]
    assert example.warnings == [] and example.stale == []


@pytest.mark.parametrize("need,entry,match", [
    ("npm token", "npm-publish-token", "matched"),
    ("ssh to state hub", "ssh-cert", "matched"),
    ("login oidc", "openbao-oidc-login", "matched"),
    ("I need the npm publish token", "npm-publish-token", "matched"),
    ("state hub tunnel", "ops-bridge-state-hub-tunnel", "matched"),
    ("SSH Certificates", "ssh-cert", "matched"),
    ("npm-publish-token", "npm-publish-token", "exact"),
    ("token", None, "tie"),
    ("kubeconfig for the prod cluster", None, "no_match"),
])
def test_route_answers_for_the_example_catalog(example, need, entry, match):
    route = RM.find(example, need, VALUES)
    assert (route["id"], route["match"]) == (entry, match)
    assert ROUTE_KEYS <= set(route)
    if match in ("tie", "no_match"):
        assert route["candidates"] and all(route[k] is None for k in ROUTE_KEYS - {"next_action"})
        assert all(c["id"] in route["next_action"] for c in route["candidates"])


def test_tie_names_both_candidates_and_no_match_the_closest(example):
    tie = RM.find(example, "token")
    assert [(c["id"], c["score"]) for c in tie["candidates"]] == [("npm-publish-token", 4), ("openbao-oidc-login", 4)]
    assert "ambiguous" in tie["next_action"]
    miss = RM.find(example, "kubeconfig for the prod cluster")
    assert miss["score"] == 0 and len(miss["candidates"]) == 3
    assert all(0 <= c["closeness"] <= 1 for c in miss["candidates"])
    assert [c["closeness"] for c in miss["candidates"]] == sorted([c["closeness"] for c in miss["candidates"]],
                                                                  reverse=True)
    assert "no route" in miss["next_action"]


def test_scoring_is_deterministic_and_explained(example):
    first = RM.find(example, "ssh to state hub")
    assert first["score"] == 50  # phrase "state hub ssh" (3 words: 30) + ssh phrase 10 + 3 keyword words (9) + title 1
    assert [c["id"] for c in first["candidates"]] == ["ssh-cert", "ops-bridge-state-hub-tunnel"]
    for dummy in range(5):
        assert RM.find(example, "ssh to state hub") == first
    assert R.words("The SSH certificates, for my hosts!") == ["ssh", "certificate", "host"]


def test_route_shape_is_stable(example):
    route = RM.find(example, "npm token", VALUES)
    assert route == {
        "id": "npm-publish-token",
        "title": "npm publish token of a domain (OpenBao KV v2)",
        "owner_repo": "secrets-engine",
        "subsystem": "openbao",
        "lane": "secret",
        "auth_method": "openbao-token",
        "role": "assist",
        "warden_executes": False,
        "exec_capable": True,
        "fetch_command": "bao kv get -mount=secret -field=NPM_AUTH_TOKEN coulomb_social/npm",
        "fetch_command_template": "bao kv get -mount=secret -field=<field> <domain>/<path>",
        "path": "secret/data/coulomb_social/npm",
        "path_template": "secret/data/<domain>/<path>",
        "cert_command": None,
        "steps": None,
        "missing_placeholders": [],
        "policy_ref": "credential-lane:npm-publish-token",
        "wiki_ref": "wiki/CredentialRouting.md#npm",
        "canon_ref": None,
        "exec_owner": None,
        "exec_command": None,
        "pointer_command": None,
        "has_native_exec": False,
        "reviewed": "2026-10-15",
        "stale": False,
        "catalog_status": "active",
        "next_action": route["next_action"],
        "need": "npm token",
        "match": "matched",
        "score": 28,
        "candidates": [
            {"id": "npm-publish-token", "title": "npm publish token of a domain (OpenBao KV v2)",
             "owner_repo": "secrets-engine", "role": "assist", "score": 28},
            {"id": "openbao-oidc-login", "title": "Log in to OpenBao with OIDC for your own token",
             "owner_repo": "railiance-platform", "role": "assist", "score": 4},
        ],
    }
    assert "netkingdom.warden.credential" in route["next_action"]
    assert route["fetch_command"] in route["next_action"]
    json.dumps(route)  # plain data


def test_roles_and_next_actions(example):
    ssh = RM.find(example, "ssh to state hub", {"host": "bridge1", "inventory": "inv.yml",
                                                "actor": "agt-state-hub-bridge", "key": "/etc/bridge/id_ed25519"})
    assert ssh["role"] == "issue" and ssh["steps"] and ssh["missing_placeholders"] == []
    assert ssh["fetch_command"] == "ansible bridge1 -i inv.yml -m netkingdom.warden.ssh_cert -a actor=agt-state-hub-bridge"
    assert ssh["cert_command"] == ('ansible localhost -m netkingdom.warden.ssh_cert -a '
                                   '"actor=agt-state-hub-bridge key=/etc/bridge/id_ed25519"')
    assert "the collection issues it" in ssh["next_action"]
    login = RM.find(example, "login oidc", {"domain": "coulomb_social"})
    assert login["role"] == "assist" and login["lane"] == "login"
    assert login["fetch_command"] == "bao login -method=oidc -path=oidc role=coulomb_social"
    assert "log in interactively as yourself" in login["next_action"]
    tunnel = RM.find(example, "state hub tunnel", {"domain": "coulomb_social"})
    assert tunnel["role"] == "route" and tunnel["next_action"].startswith("ops-bridge owns it")


# --- placeholders --------------------------------------------------------------------------------
def test_unresolved_placeholders_are_refused_not_guessed(example):
    route = RM.find(example, "npm token", {"domain": "coulomb_social"})
    assert route["fetch_command"] is None and route["path"] is None
    assert route["missing_placeholders"] == ["field", "path"]
    assert route["fetch_command_template"] == "bao kv get -mount=secret -field=<field> <domain>/<path>"
    assert route["next_action"].startswith("supply <field>, <path> (options field, path)")
    assert "<" not in (RM.find(example, "npm token", VALUES)["fetch_command"])


def test_placeholder_values_are_checked():
    assert RR.placeholder_values("d", None, "a/b", {"actor": "agt-x", "n": 3}) == \
        {"domain": "d", "path": "a/b", "actor": "agt-x", "n": "3"}
    bad = {
        "domain": ({"domain": "a b"}, "letters, digits"),
        "path": ({"path": "../etc"}, ".."),
        "field": ({"field": "-rf"}, 'start with "-"'),
        "placeholders.cmd": ({"placeholders": {"cmd": "$(id)"}}, "shell command"),
        "placeholders.quote": ({"placeholders": {"quote": "a'b"}}, "shell command"),
    }
    for field, (kwargs, words) in bad.items():
        with pytest.raises(ValidationError) as info:
            RR.placeholder_values(**kwargs)
        assert info.value.fields == [field] and words in str(info.value)
    token = "hvs." + "".join(secrets.choice(string.ascii_letters + string.digits) for dummy in range(40))
    with pytest.raises(ValidationError) as info:
        RR.placeholder_values(path=token)
    assert "vault_token" in str(info.value) and token not in str(info.value)
    with pytest.raises(ValidationError) as info:
        RR.placeholder_values(domain="a", placeholders={"domain": "b"})
    assert "give it once" in str(info.value)


def test_resolve_lists_missing_in_order():
    assert RR.resolve("x <b> <a> <b>", {"a": "1"}) == (None, ["b"])
    assert RR.resolve("x <b> <a>", {"a": "1", "b": "2"}) == ("x 2 1", [])
    assert RR.resolve(None, {}) == (None, [])


# --- validation ---------------------------------------------------------------------------------
def entry(**fields):
    base = {"id": "x-lane", "title": "An X lane", "need_keywords": ["x thing"], "owner_repo": "team-x",
            "subsystem": "openbao", "auth_method": "openbao-token", "reviewed": "2026-11-01", "status": "active"}
    base.update(fields)
    return base


@pytest.mark.parametrize("entries,field,words", [
    ([entry(), entry()], "entries[1].id", "duplicate id 'x-lane' (first at entries[0])"),
    ([entry(id="X Lane")], "entries[0].id", "lower-case"),
    ([{k: v for k, v in entry().items() if k != "reviewed"}], "entries[0].reviewed", "is required"),
    ([entry(reviewed="last week")], "entries[0].reviewed", "must be a date"),
    ([entry(reviewed="2026-12-31")], "entries[0].reviewed", "in the future"),
    ([entry(exec_capable=True)], "entries[0].exec_capable", "needs a fetch_command"),
    ([entry(exec_capable=True, fetch_command="bao kv get -field=a s/x")], "entries[0].policy_ref", "needs a policy_ref"),
    ([entry(exec_capable=True, fetch_command="bao kv get -field=a s/x", policy_ref="npm")],
     "entries[0].policy_ref", "<scheme>:<name>"),
    ([entry(steps=["do it"])], "entries[0].steps", "only on the SSH issue lane"),
    ([entry(cert_command="warden sign")], "entries[0].cert_command", "only on the SSH issue lane"),
    ([entry(warden_executes=True)], "entries[0].warden_executes", "only the SSH lane"),
    ([entry(warden_executes=True, auth_method="ssh-certificate", exec_capable=True, fetch_command="x")],
     "entries[0].exec_capable", "issued by the collection"),
    ([entry(lane="vault")], "entries[0].lane", "secret, login"),
    ([entry(status="live")], "entries[0].status", "active, draft, deprecated"),
    ([entry(need_keywords=[])], "entries[0].need_keywords", "non-empty list"),
    ([entry(need_keywords=["the a"])], "entries[0].need_keywords[0]", "stop word"),
    ([entry(exec_capable="yes")], "entries[0].exec_capable", "true or false"),
    ([entry(exec_command="secrets-engine exec -- <cmd>")], "entries[0].exec_command", "needs an exec_owner"),
    ([entry(canon_ref=3)], "entries[0].canon_ref", "non-empty string"),
    ([entry(pointer_command="")], "entries[0].pointer_command", "non-empty string"),
    ([entry(title="")], "entries[0].title", "non-empty string"),
    ([entry(), "x"], "entries[1]", "must be a mapping"),
])
def test_validation_names_the_field(entries, field, words):
    error = problems_of({"entries": entries})
    assert field in error.fields, error.problems
    assert any(words in msg for f, msg in error.problems if f == field), error.problems


# --- ops-warden's catalog as it is (CONTRACTS.md: every field seen in the wild) ---------------------
OPS_WARDEN_ENTRIES = """\
entries:
  - id: ssh-cert
    title: Short-lived SSH certificate for an actor
    need_keywords: [ssh certificate, ssh access]
    owner_repo: ops-warden
    subsystem: ops-warden
    warden_executes: true
    wiki_ref: wiki/AccessRouting.md#issue
    canon_ref: net-kingdom/docs/responsibility-map.md#ops-warden
    reviewed: 2026-11-20
    status: active
    lane: secret
    auth_method: ssh-certificate
    fetch_command: warden sign <actor>
    exec_capable: false
    path_template: ssh/sign/<actor_type>-role
    policy_ref: ssh-cert:actor/<actor>
    exec_owner: ops-warden
    exec_command: warden access ssh <actor> --exec -- <cmd>
    pointer_command: warden route ssh
    steps: [warden sign <actor>, ssh -i <key> <host>]
    cert_command: warden sign <actor> --print-cert
  - id: npm-publish-token
    title: npm publish token of a domain
    need_keywords: [npm token]
    owner_repo: secrets-engine
    subsystem: openbao
    warden_executes: false
    wiki_ref: wiki/CredentialRouting.md#npm
    canon_ref: secrets-engine/docs/lanes.md#npm
    reviewed: 2026-10-15
    status: draft
    lane: secret
    auth_method: openbao-token
    fetch_command: bao kv get -mount=secret -field=<field> <domain>/npm
    exec_capable: true
    path_template: secret/data/<domain>/npm
    policy_ref: credential-lane:npm-publish-token
    exec_owner: secrets-engine
    exec_command: secrets-engine exec --lane npm-publish-token --domain <domain> -- <cmd>
    pointer_command: secrets-engine where npm-publish-token --domain <domain>
"""


def test_an_ops_warden_catalog_with_every_field_loads_as_it_is():
    catalog = R.parse_catalog_text(OPS_WARDEN_ENTRIES, today=DAY)
    assert catalog.warnings == [] and [e["id"] for e in catalog.entries] == ["ssh-cert", "npm-publish-token"]
    fields = set(yaml.safe_load(OPS_WARDEN_ENTRIES)["entries"][0])
    assert fields == set(R.ALL_FIELDS)  # the first entry holds every field the collection knows
    ssh = RM.show(catalog, "ssh-cert", {"actor": "agt-state-hub-bridge", "cmd": "true"})
    assert ssh["canon_ref"] == "net-kingdom/docs/responsibility-map.md#ops-warden"
    assert ssh["exec_owner"] == "ops-warden" and ssh["has_native_exec"] is True
    assert ssh["exec_command"] == "warden access ssh agt-state-hub-bridge --exec -- true"
    assert ssh["pointer_command"] == "warden route ssh" and ssh["role"] == "issue"
    npm = RM.find(catalog, "npm token", {"domain": "coulomb_social", "field": "NPM_AUTH_TOKEN"})
    assert npm["has_native_exec"] is True and npm["exec_command"] is None  # <cmd> not given: never guessed
    assert npm["missing_placeholders"] == [] and npm["fetch_command"]  # the owner's commands do not block a fetch
    assert npm["pointer_command"] == "secrets-engine where npm-publish-token --domain coulomb_social"
    assert npm["next_action"].startswith("draft route, confirm with secrets-engine first")


@pytest.mark.parametrize("fields, native", [
    ({}, False),
    ({"exec_owner": "secrets-engine"}, False),
    ({"exec_owner": "secrets-engine", "pointer_command": "secrets-engine where x"}, True),
    ({"exec_owner": "secrets-engine", "exec_command": "secrets-engine exec -- <cmd>"}, True),
    ({"pointer_command": "secrets-engine where x"}, False),
])
def test_has_native_exec_is_derived_from_exec_owner_and_its_commands(fields, native):
    catalog = load([entry(**fields)])
    route = RM.show(catalog, "x-lane", {"cmd": "env"})
    assert route["has_native_exec"] is native
    if native:
        assert route["role"] == "route" and "its own tool (secrets-engine)" in route["next_action"]
        assert (route["exec_command"] or route["pointer_command"]) in route["next_action"]


def test_canon_ref_is_the_pointer_when_there_is_no_wiki_ref():
    route = RM.show(load([entry(canon_ref="canon/lanes.md#x")]), "x-lane")
    assert route["canon_ref"] == "canon/lanes.md#x" and route["next_action"].endswith("(see canon/lanes.md#x)")


def test_unknown_entry_fields_are_warnings_naming_them():
    catalog = load([entry(owner="team-x", exec_comand="x")])
    assert catalog.warnings == [
        "[0]: field exec_comand is not used by netkingdom.warden and is ignored; did you mean exec_command?",
        "[0]: field owner is not used by netkingdom.warden and is ignored"]
    route = RM.show(catalog, "x-lane")
    assert "exec_comand" not in route and "owner" not in route
    assert RM.route_warnings(catalog, [route]) == catalog.warnings


def test_the_catalog_rules_still_hold_for_ops_warden_fields():
    # unique ids, a reviewed date on every entry, exec_capable needs fetch_command, no secret material
    assert "duplicate id" in str(problems_of({"entries": [entry(canon_ref="a"), entry(canon_ref="b")]}))
    assert "reviewed" in problems_of({"entries": [{k: v for k, v in entry(exec_owner="o").items()
                                                   if k != "reviewed"}]}).fields[0]
    assert "needs a fetch_command" in str(problems_of({"entries": [entry(exec_capable=True, exec_owner="o",
                                                                         pointer_command="o where")]}))
    token = "hvs." + "CAESIJ" + "x7Qm2Lp9Rt4Vw8Yz3Ab6Cd1Ef5Gh0Jk"
    refused = problems_of({"entries": [entry(exec_owner="o", exec_command="o exec --token %s" % token)]})
    assert refused.fields == ["entries[0].exec_command"] and token not in str(refused)


def test_top_level_shapes():
    assert len(load([entry()])) == 1
    assert len(load({"routes": [entry()], "version": 1})) == 1
    extra = load({"entries": [entry()], "owner": "me"})  # a top-level key the collection does not use: a warning
    assert extra.warnings == ["routing catalog: top-level key owner is not used by netkingdom.warden and is ignored "
                              "(known: version, description, updated, entries, routes)"]
    assert RM.route_warnings(extra, [RM.show(extra, "x-lane")]) == extra.warnings
    assert "exactly one list" in str(problems_of({"entries": [entry()], "routes": []}))
    assert "no entries" in str(problems_of({"entries": []}))
    assert "duplicate key" in str(pytest.raises(ValidationError, R.parse_catalog_text,
                                                "entries:\n  - id: a\n    id: b\n").value)


def test_all_problems_at_once():
    error = problems_of({"entries": [entry(id="A"), entry(id="b", lane="x", status="y"), entry(id="b")]})
    assert set(error.fields) == {"entries[0].id", "entries[1].lane", "entries[1].status", "entries[2].id"}


def test_stale_entries_are_reported(fixture):
    assert fixture.stale == ["app-db-password"]
    assert len(fixture.warnings) == 1 and "178 days ago (more than 90)" in fixture.warnings[0]
    route = RM.find(fixture, "db password", {"domain": "shop"})
    assert route["stale"] is True
    assert RM.route_warnings(fixture, [route]) == fixture.warnings
    assert RM.route_warnings(fixture, [RM.find(fixture, "npm token")]) == []
    assert R.load_catalog_file(str(FIXTURE), today=DAY, stale_days=365).stale == []
    later = R.load_catalog_file(str(EXAMPLE), today=DAY + datetime.timedelta(days=70))
    assert later.stale == ["openbao-oidc-login", "npm-publish-token", "ops-bridge-state-hub-tunnel"]
    assert [r["stale"] for r in RR.list_routes(later)] == [False, True, True, True]


def test_list_and_show(example):
    rows = RR.list_routes(example)
    assert [r["role"] for r in rows] == ["issue", "assist", "assist", "route"]
    assert set(rows[0]) == {"id", "title", "owner_repo", "subsystem", "lane", "auth_method", "role",
                            "catalog_status", "reviewed", "stale", "policy_ref", "has_native_exec"}
    shown = RM.show(example, "ops-bridge-state-hub-tunnel", {"domain": "x"})
    assert shown["match"] == "exact" and shown["fetch_command"] == "ops-bridge tunnel up state-hub --domain x"
    with pytest.raises(ValidationError) as info:
        RM.show(example, "npm-token")
    assert "closest: npm-publish-token" in str(info.value)


def test_missing_catalog_path_says_how_to_set_it():
    with pytest.raises(ValidationError) as info:
        R.load_catalog_file(None)
    assert "warden_routing_catalog" in str(info.value) and "WARDEN_ROUTING_CATALOG" in str(info.value)
    with pytest.raises(ValidationError) as info:
        R.load_catalog_file("/nonexistent/catalog.yaml")
    assert "cannot read the routing catalog" in str(info.value)


# --- the catalog secret guard ---------------------------------------------------------------------
ALNUM = string.ascii_letters + string.digits


def rand(n, alphabet=ALNUM):
    # at least two upper and two lower case letters, so every random run has mixed case
    while True:
        text = "".join(secrets.choice(alphabet) for dummy in range(n))
        mixed = any(c.islower() for c in alphabet)
        if not mixed or sum(c.isupper() for c in text) >= 2 and sum(c.islower() for c in text) >= 2:
            return text


def generated_secrets():
    """(kind expected, secret-like string): at least 50, random every run."""
    b64 = ALNUM + "+/"
    items = [
        ("vault_token", "hvs." + rand(24)), ("vault_token", "hvs." + rand(90)), ("vault_token", "hvb." + rand(60)),
        ("vault_token", "hvr." + rand(30)), ("vault_token", "s." + rand(24)), ("vault_token", "b." + rand(24)),
        ("github_token", "ghp_" + rand(36)), ("github_token", "gho_" + rand(36)), ("github_token", "ghu_" + rand(36)),
        ("github_token", "ghs_" + rand(36)), ("github_token", "ghr_" + rand(36)),
        ("github_token", "github_pat_" + rand(22) + "_" + rand(59)),
        ("gitlab_token", "glpat-" + rand(20)), ("gitlab_token", "gldt-" + rand(24)), ("gitlab_token", "glrt-" + rand(20)),
        ("gitlab_token", "GR1348941" + rand(20)),
        ("slack_token", "xoxb-%d-%d-%s" % (secrets.randbelow(10 ** 12), secrets.randbelow(10 ** 12), rand(24))),
        ("slack_token", "xoxp-%d-%s" % (secrets.randbelow(10 ** 12), rand(32))),
        ("slack_token", "xapp-1-A%d-%s" % (secrets.randbelow(10 ** 9), rand(40))),
        ("npm_token", "npm_" + rand(36)), ("npm_token", "npm_" + rand(36)),
        ("aws_access_key_id", "AKIA" + rand(16, string.ascii_uppercase + string.digits)),
        ("aws_access_key_id", "ASIA" + rand(16, string.ascii_uppercase + string.digits)),
        ("aws_secret_key", rand(40, b64)), ("aws_secret_key", rand(40, b64)),
        ("private_key", "-----BEGIN RSA PRIVATE KEY-----\nMIIE" + rand(60, b64) + "\n-----END RSA PRIVATE KEY-----"),
        ("private_key", "-----BEGIN PRIVATE KEY-----\n" + rand(64, b64)),
        ("private_key", "-----BEGIN EC PRIVATE KEY-----"),
        ("openssh_private_key", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA" + rand(40, b64)),
        ("pem_block", "-----BEGIN CERTIFICATE-----\nMIIB" + rand(60, b64)),
        ("pem_block", "-----BEGIN PGP MESSAGE-----"),
        ("jwt", "eyJ" + rand(20) + "." + rand(40) + "." + rand(43)),
        ("jwt", "eyJhbGciOiJIUzI1NiJ9.eyJ" + rand(30) + "." + rand(43)),
        ("url_credentials", "https://deploy:%s@git.netkingdom.example/x.git" % rand(16)),
        ("url_credentials", "postgres://app:%s@db.internal:5432/app" % rand(20)),
        ("auth_header", "Authorization: Bearer " + rand(40)),
        ("auth_header", "curl -H 'Authorization: Basic %s' https://x" % rand(24)),
        ("credential_assignment", "password=" + rand(16)), ("credential_assignment", "NPM_TOKEN: " + rand(12)),
        ("credential_assignment", "client_secret=" + rand(20)), ("credential_assignment", "api_key: '%s'" % rand(18)),
        ("ssh_public_key", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + rand(43, b64)),
    ]
    for length in (32, 40, 48, 64, 80, 96, 128):
        items.append(("high_entropy", rand(length, ALNUM + "-_")))
    for dummy in range(5):
        items.append(("high_entropy", base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")))
        items.append(("high_entropy", secrets.token_urlsafe(36)))
    return items


SECRETS = generated_secrets()
PLACES = [
    ("title", lambda d, s: d["entries"][2].__setitem__("title", "npm token " + s)),
    ("fetch_command", lambda d, s: d["entries"][2].__setitem__("fetch_command", "bao kv get -field=x " + s)),
    ("path_template", lambda d, s: d["entries"][2].__setitem__("path_template", s)),
    ("wiki_ref", lambda d, s: d["entries"][3].__setitem__("wiki_ref", "see " + s)),
    ("need_keywords[1]", lambda d, s: d["entries"][1]["need_keywords"].__setitem__(1, s)),
    ("steps[0]", lambda d, s: d["entries"][0]["steps"].__setitem__(0, "run with " + s)),
    ("cert_command", lambda d, s: d["entries"][0].__setitem__("cert_command", s)),
    ("owner_repo", lambda d, s: d["entries"][3].__setitem__("owner_repo", s)),
    ("description", lambda d, s: d.__setitem__("description", s)),
    ("key", lambda d, s: d["entries"][2].__setitem__(s, "x")),
]
WHERE = {"title": "entries[2].title", "fetch_command": "entries[2].fetch_command",
         "path_template": "entries[2].path_template", "wiki_ref": "entries[3].wiki_ref",
         "need_keywords[1]": "entries[1].need_keywords[1]", "steps[0]": "entries[0].steps[0]",
         "cert_command": "entries[0].cert_command", "owner_repo": "entries[3].owner_repo",
         "description": "description", "key": "entries[2].<key #"}


def test_generated_table_is_large_and_every_kind_is_covered():
    assert len(SECRETS) >= 50
    from ansible_collections.netkingdom.warden.plugins.module_utils._audit.secret_guard import KINDS
    assert {kind for kind, dummy in SECRETS} >= set(KINDS) - {"ssh_certificate"}


@pytest.mark.parametrize("number", range(len(SECRETS)))
def test_catalog_guard_refuses_every_secret_like_string(number):
    kind, secret = SECRETS[number]
    place, put = PLACES[number % len(PLACES)]
    data = example_data()
    put(data, secret)
    error = problems_of(data)
    text = str(error)
    assert not [secret[i:i + 16] for i in range(max(1, len(secret) - 15)) if secret[i:i + 16] in text]
    where = WHERE[place]
    assert any(field.startswith(where) for field in error.fields), (place, error.problems)
    assert all("never secret material" in msg for dummy, msg in error.problems)
    assert "(%s)" % kind in text or kind in ("aws_secret_key", "credential_assignment", "high_entropy"), (kind, text)


@pytest.mark.parametrize("path", [EXAMPLE, FIXTURE], ids=["example", "fixture"])
def test_ordinary_catalogs_pass_the_guard(path):
    from ansible_collections.netkingdom.warden.plugins.module_utils._audit.secret_guard import find_secrets

    assert find_secrets(yaml.safe_load(path.read_text())) == []
    R.load_catalog_file(str(path), today=DAY)


ORDINARY = [
    "bao kv get -mount=secret -field=NPM_AUTH_TOKEN coulomb_social/npm", "export VAULT_TOKEN=$(bao print token)",
    "gh auth token", "aws sts get-session-token --profile <domain>", "kubectl config use-context prod-eu-west-1",
    "credential-lane:npm-publish-token", "wiki/CredentialRouting.md#npm-publish-token-rotation",
    "ssh-cert:actor/agt-state-hub-bridge", "op read op://<vault>/<item>/password",
    "bao write -field=signed_key ssh/sign/agt-role public_key=@<pubkey>",
    "ssh-certificate via cert_command (actor agt-state-hub-bridge)", "token: agt-state-hub-bridge",
    "https://wiki.netkingdom.example/ops-warden/OperatorAccessAssist#lanes", "secret_id=<secret_id>",
    "gcloud auth print-access-token --impersonate-service-account=<sa>@<project>.iam.gserviceaccount.com",
    "docker login registry.netkingdom.example -u <user> --password-stdin", "pass show netkingdom/<domain>/npm",
]


@pytest.mark.parametrize("value", ORDINARY)
def test_ordinary_field_values_are_accepted(value):
    data = example_data()
    data["entries"][3]["fetch_command"] = value
    data["entries"][3]["wiki_ref"] = value
    load(data)


# --- fetch helpers (no network) ---------------------------------------------------------------------
@pytest.mark.parametrize("command,parsed", [
    ("bao kv get -mount=secret -field=NPM_AUTH_TOKEN coulomb_social/npm",
     {"mount": "secret", "path": "coulomb_social/npm", "field": "NPM_AUTH_TOKEN", "version": None, "namespace": None}),
    ("vault kv get -field=password -version=3 kv/apps/shop/db",
     {"mount": "kv", "path": "apps/shop/db", "field": "password", "version": 3, "namespace": None}),
    ("bao kv get -mount secret -field pw -namespace=team x/y",
     {"mount": "secret", "path": "x/y", "field": "pw", "version": None, "namespace": "team"}),
])
def test_kv_command_parsing(command, parsed):
    assert CA.parse_kv_command(command) == parsed


@pytest.mark.parametrize("command,words", [
    ("gh auth token", "only OpenBao KV version 2"),
    ("bao kv get secret/x", "needs -field"),
    ("bao kv get -field=a -format=json secret/x", "-format"),
    ("bao kv get -field=a secret/x secret/y", "exactly one secret path"),
    ("bao kv get -field=a -version=x secret/x", "whole number"),
])
def test_kv_command_refusals(command, words):
    with pytest.raises(ValidationError) as info:
        CA.parse_kv_command(command)
    assert words in str(info.value)


def test_caller_token_order(tmp_path):
    (tmp_path / ".vault-token").write_text("file-token\n")
    assert CA.caller_token({"BAO_TOKEN": "b", "VAULT_TOKEN": "v", "HOME": str(tmp_path)}) == ("b", "BAO_TOKEN")
    assert CA.caller_token({"BAO_TOKEN": " ", "VAULT_TOKEN": "v", "HOME": str(tmp_path)}) == ("v", "VAULT_TOKEN")
    assert CA.caller_token({"HOME": str(tmp_path)}) == ("file-token", "~/.vault-token")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert CA.caller_token({"HOME": str(empty)}) == (None, None)


def test_subject_defaults():
    assert CA.default_subject("x", {"WARDEN_POLICY_SUBJECT": "y"}) == "x"
    assert CA.default_subject(None, {"WARDEN_POLICY_SUBJECT": "y"}) == "y"
    assert CA.default_subject(None, {})  # the login name
    # ops-warden's policy.subject_env names another variable: it is read instead
    env = {"WARDEN_POLICY_SUBJECT": "y", "OPS_IAM_SUBJECT": "iam:z"}
    assert CA.default_subject(None, env, "OPS_IAM_SUBJECT") == "iam:z"
    fetcher = CA.CredentialFetcher({"catalog": None, "policy": {"subject_env": "OPS_IAM_SUBJECT"}}, env=env)
    assert fetcher.subject == "iam:z"
    assert CA.subject_type_of("adm-example") == "adm"
    assert CA.subject_type_of("iam:alice@x") == "user"
    assert CA.subject_type_of("alice", "svc") == "svc"


def test_catalog_lanes_for_the_gate(fixture):
    lanes = R.credential_lanes(fixture, {"npm-publish-token": "iam:bot"})
    assert [(l["policy_ref"], l["allowed_subjects"]) for l in lanes] == [
        ("credential-lane:npm-publish-token", ["iam:bot"]), ("credential-lane:app-db-password", [])]
    data = copy.deepcopy(yaml.safe_load(FIXTURE.read_text()))
    data["entries"][3]["policy_ref"] = "credential-lane:npm-publish-token"
    assert "each gated lane needs its own" in str(problems_of(data))
