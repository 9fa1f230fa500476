"""The shared gate case table (tests/cases/gate_cases.yaml) and its fixture inventory.

Used by the unit test (embedded evaluator) and the parity test (PDP over HTTP), so both
read the table the same way. Imports the collection lazily: call
``collection_path.ensure_on_path()`` first.
"""

import copy
import json
from pathlib import Path

import yaml

CASES_DIR = Path(__file__).resolve().parent.parent / "cases"
CASES_FILE = CASES_DIR / "gate_cases.yaml"
ACTORS_FILE = CASES_DIR / "actors.yaml"
MU = "ansible_collections.netkingdom.warden.plugins.module_utils"


def _mu(name):
    import importlib

    return importlib.import_module(f"{MU}.{name}")


def load_table(path=CASES_FILE):
    with open(path) as handle:
        table = yaml.safe_load(handle)
    names = [c["name"] for c in table["cases"] + table.get("malformed", [])]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"{path}: duplicate case names {dupes}")
    return table


def load_fixture_actors(path=ACTORS_FILE):
    """The fixture inventory through the collection's own strict loader."""
    actors, warnings = _mu("_inventory.actors").load_inventory_file(str(path))
    if warnings:
        raise ValueError(f"{path}: {warnings}")
    return actors


def fixture_snapshot(actors=None):
    return _mu("_registry.build").build_snapshot(actors or load_fixture_actors())


def write_fixture_snapshot(path, actors=None):
    """Write the snapshot file the PDP serves; return the snapshot."""
    registry = _mu("_registry.snapshot")
    snapshot = fixture_snapshot(actors)
    Path(path).write_text(registry.to_text(snapshot))
    return snapshot


def _walk(body, dotted):
    keys = dotted.split(".")
    node = body
    for key in keys[:-1]:
        node = node[key]
    return node, keys[-1]


def case_request(case, actors, fingerprint):
    """The request body a case describes (a fresh copy every call)."""
    if "request" in case:
        return copy.deepcopy(case["request"])
    actor = actors[case["actor"]]
    body = _mu("_gate.rules").build_request(actor["name"], actor["type"], actor["principals"],
                                            actor["ttl_hours"], fingerprint)
    for dotted, value in (case.get("request_overrides") or {}).items():
        node, key = _walk(body, dotted)
        node[key] = copy.deepcopy(value)
    for dotted in case.get("remove") or []:
        node, key = _walk(body, dotted)
        del node[key]
    # What goes over the wire is JSON: make the embedded side see exactly that too.
    return json.loads(json.dumps(body))


def decision_cases():
    """[(case, request)] for every decision case of the table."""
    table = load_table()
    actors = load_fixture_actors()
    return [(case, case_request(case, actors, table["fingerprint"])) for case in table["cases"]]


def malformed_cases():
    table = load_table()
    actors = load_fixture_actors()
    return [(case, case_request(case, actors, table["fingerprint"])) for case in table.get("malformed", [])]
