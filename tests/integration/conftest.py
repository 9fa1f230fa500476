"""Session fixtures for the integration bed: a real OpenBao and a fleet of real sshd hosts.

Everything here must run inside a loopback-only network namespace:
    scripts/in-netns python -m pytest tests/integration
"""

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `tests.bed` importable however pytest is launched
    sys.path.insert(0, str(ROOT))

from tests.bed.fleet import Fleet  # noqa: E402
from tests.bed.netns import ensure_isolated  # noqa: E402
from tests.bed.openbao import OpenBaoDev  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: long-running (30-host scale); run with -m slow or WARDEN_TEST_SLOW=1"
    )


def pytest_collection_modifyitems(config, items):
    # Slow tests only run when asked for (a -m expression naming them, or the env switch).
    if "slow" in (config.getoption("markexpr") or "") or os.environ.get("WARDEN_TEST_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: run with -m slow or WARDEN_TEST_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def isolated():
    """Guard: nothing of the bed starts outside a loopback-only network namespace."""
    ensure_isolated()


@pytest.fixture(scope="session")
def workdir(isolated, tmp_path_factory):
    return tmp_path_factory.mktemp("bed")


@pytest.fixture(scope="session")
def openbao(workdir):
    """A running OpenBao dev server with the ssh engine, CA and adm/agt/atm/host roles."""
    with OpenBaoDev(workdir / "openbao") as bao:
        bao.setup_ssh_engine()
        yield bao


@pytest.fixture(scope="session")
def fleet(workdir):
    """WARDEN_TEST_HOSTS (default 3) mini hosts at 127.77.0.N, shared by the whole session.

    Tests that change hosts in ways other tests would notice should undo it, or start their
    own small Fleet on another base (e.g. 127.77.9.).
    """
    with Fleet(int(os.environ.get("WARDEN_TEST_HOSTS", "3")), workdir) as f:
        yield f


@pytest.fixture(scope="session")
def collections_path():
    """Folder holding `ansible_collections/` with the built and installed collection."""
    value = os.environ.get("WARDEN_TEST_COLLECTIONS")
    if not value:
        pytest.fail("WARDEN_TEST_COLLECTIONS is not set: build and install the collection, then "
                    "point it at the folder that holds ansible_collections/", pytrace=False)
    path = Path(value)
    if not path.is_absolute() or not (path / "ansible_collections").is_dir():
        pytest.fail(f"WARDEN_TEST_COLLECTIONS={value} must be an absolute path to a folder "
                    "holding ansible_collections/", pytrace=False)
    return path


@pytest.fixture(scope="session")
def ansible_env(workdir):
    """Environment for running ansible* from the venv: venv bin on PATH, no colour."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update({
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_LOCAL_TEMP": str(workdir / "ansible-local-tmp"),
    })
    return env
