"""pytest fixtures for the flex-auth-compatible test PDP (tests/bed/pdp.py).

Register in a test module with ``pytest_plugins = ["tests.integration.pdp_fixtures"]``.
"""

import os
import sys

import pytest

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if _ROOT not in sys.path:
    sys.path.append(_ROOT)

from tests.bed import gate_cases  # noqa: E402
from tests.bed.collection_path import ensure_on_path  # noqa: E402
from tests.bed.netns import ensure_isolated  # noqa: E402
from tests.bed.pdp import PdpProcess  # noqa: E402


@pytest.fixture(scope="session")
def gate_collections():
    """The folder holding ansible_collections/ of the collection under test (first on sys.path)."""
    return ensure_on_path()


@pytest.fixture(scope="session")
def pdp_isolated():
    ensure_isolated()


@pytest.fixture(scope="session")
def gate_actors(gate_collections):
    return gate_cases.load_fixture_actors()


@pytest.fixture(scope="session")
def gate_snapshot_file(tmp_path_factory, gate_actors):
    """The registry snapshot built from tests/cases/actors.yaml, as a file. Returns the path;
    the snapshot itself is ``gate_snapshot``."""
    path = tmp_path_factory.mktemp("registry") / "registry.json"
    gate_cases.write_fixture_snapshot(path, gate_actors)
    return path


@pytest.fixture(scope="session")
def gate_snapshot(gate_snapshot_file):
    import json

    return json.loads(gate_snapshot_file.read_text())


@pytest.fixture
def make_pdp(tmp_path_factory, gate_collections, pdp_isolated):
    """Factory: ``make_pdp(registry_path, start=True, **PdpProcess kwargs)``. Every PDP it made
    is stopped (by PID) when the test ends."""
    made = []

    def factory(registry_path, start=True, **kwargs):
        workdir = tmp_path_factory.mktemp("pdp")
        pdp = PdpProcess(registry_path, workdir, gate_collections, **kwargs)
        made.append(pdp)
        return pdp.start() if start else pdp

    yield factory
    for pdp in made:
        pdp.stop()


@pytest.fixture(scope="module")
def pdp(tmp_path_factory, gate_collections, pdp_isolated, gate_snapshot_file):
    """One PDP (no token, plain HTTP) per test module, serving the fixture snapshot."""
    workdir = tmp_path_factory.mktemp("pdp")
    with PdpProcess(gate_snapshot_file, workdir, gate_collections) as process:
        yield process
