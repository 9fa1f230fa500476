"""The credential-read gate case table (tests/cases/credential_gate_cases.yaml) and its registry.

Used by the unit test (embedded evaluator) and the parity test (PDP over HTTP), so both read
the table the same way. The registry is the fixture actor inventory (tests/cases/actors.yaml)
plus the gated lanes of the fixture catalog (tests/cases/routing_catalog.yaml) with the
table's `access`. Imports the collection lazily: call ``collection_path.ensure_on_path()`` first.
"""

import copy
import datetime
import json
from pathlib import Path

import yaml

from tests.bed import gate_cases

CASES_DIR = Path(__file__).resolve().parent.parent / "cases"
CASES_FILE = CASES_DIR / "credential_gate_cases.yaml"
# The day the fixture catalog's review dates are relative to (staleness is deterministic).
FIXED_DAY = datetime.date(2026, 11, 26)


def load_table(path=CASES_FILE):
    with open(path) as handle:
        table = yaml.safe_load(handle)
    names = [c["name"] for c in table["cases"] + table.get("malformed", [])]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"{path}: duplicate case names {dupes}")
    return table


def load_catalog(table=None):
    table = table or load_table()
    routing = gate_cases._mu("_routing.catalog")
    return routing.load_catalog_file(str(CASES_DIR / table["catalog"]), today=FIXED_DAY)


def lanes(table=None):
    table = table or load_table()
    return gate_cases._mu("_routing.catalog").credential_lanes(load_catalog(table), table["access"])


def fixture_snapshot(actors=None, table=None):
    """Actors + credential lanes, as flex-auth would load it."""
    return gate_cases._mu("_registry.build").build_snapshot(actors or gate_cases.load_fixture_actors(),
                                                            credential_lanes=lanes(table))


def write_fixture_snapshot(path, actors=None):
    snapshot = fixture_snapshot(actors)
    Path(path).write_text(gate_cases._mu("_registry.snapshot").to_text(snapshot))
    return snapshot


def case_request(case, catalog):
    if "request" in case:
        return copy.deepcopy(case["request"])
    access = gate_cases._mu("_routing.credentials")
    gate = gate_cases._mu("_gate.rules")
    entry = catalog.get(case["lane"])
    subject = case["subject"]
    body = gate.build_credential_request(entry["policy_ref"], entry["id"], entry["lane"], entry["owner_repo"],
                                         subject, access.subject_type_of(subject, case.get("subject_type")))
    for dotted, value in (case.get("request_overrides") or {}).items():
        node, key = gate_cases._walk(body, dotted)
        node[key] = copy.deepcopy(value)
    for dotted in case.get("remove") or []:
        node, key = gate_cases._walk(body, dotted)
        del node[key]
    return json.loads(json.dumps(body))


def decision_cases():
    table = load_table()
    catalog = load_catalog(table)
    return [(case, case_request(case, catalog)) for case in table["cases"]]


def malformed_cases():
    table = load_table()
    catalog = load_catalog(table)
    return [(case, case_request(case, catalog)) for case in table.get("malformed", [])]
