"""`molecule test` for the host_principals role, as a role developer runs it.

The scenario (roles/host_principals/molecule/default) uses the default (delegated) driver: its
create step starts two sshd mini hosts at 127.77.10.1-2 with tests/bed/fleetctl.py (detached,
so they outlive that ansible-playbook run) and its destroy step stops exactly the processes the
create step recorded. The sequence is destroy, create, prepare, check, converge, idempotence,
verify (real logins from the controller), destroy. Afterwards nothing of the fleet may be left.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.bed.collection_path import collections_dir
from tests.bed.fleet import Fleet, _banner, _start_time, write_state

ROOT = Path(__file__).resolve().parents[3]
ROLE = ROOT / "roles" / "host_principals"
FLEETCTL = ROOT / "tests" / "bed" / "fleetctl.py"
BIN = Path(sys.executable).parent
TIMEOUT = 300  # a safety net; the run takes about a minute
RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def step_output(output, step):
    """The output of one molecule step (between its 'Executing' and 'Executed' lines)."""
    start = output.index(f"[default > {step}] Executing")
    end = output.index(f"[default > {step}] Executed", start)
    return output[start:end]


def recaps(text):
    """{host: (ok, changed, unreachable, failed)} from the PLAY RECAP lines of one step."""
    return {m.group(1): tuple(int(m.group(i)) for i in range(2, 6)) for m in RECAP.finditer(text)}


def molecule_env(ephemeral, tmp_path):
    env = dict(os.environ)
    env.pop("ANSIBLE_CONFIG", None)  # molecule writes its own ansible.cfg
    env.update({
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",  # molecule calls ansible-config etc.
        "ANSIBLE_COLLECTIONS_PATH": collections_dir(),       # the collection under test only
        "MOLECULE_EPHEMERAL_DIRECTORY": str(ephemeral),
        "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-local-tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "NO_COLOR": "1",
        "PY_COLORS": "0",
    })
    return env


def run_molecule(env):
    # Own session, so a run that hangs can be ended with everything it started (and only that).
    proc = subprocess.Popen([str(BIN / "molecule"), "test"], cwd=ROLE, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        output, dummy = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, dummy = proc.communicate()
        output += f"\n[test_molecule] molecule test killed after {TIMEOUT}s"
    return proc.returncode, output


def test_molecule_default_scenario(isolated, tmp_path):
    # Short path: ssh control sockets live under it (sun_path is 108 bytes).
    ephemeral = Path(tempfile.mkdtemp(prefix="mol-", dir="/tmp"))
    state_file = ephemeral / "fleet" / "state.json"
    try:
        rc, output = run_molecule(molecule_env(ephemeral, tmp_path))
        assert rc == 0, output[-8000:]
        assert "Molecule executed 1 scenario (1 successful)" in output

        # check mode on fresh hosts: predicted changes, no failure
        check = recaps(step_output(output, "check"))
        assert set(check) >= {"host1", "host2"}, check
        assert all(check[h][1] > 0 and check[h][2:] == (0, 0) for h in ("host1", "host2")), check
        # the second converge changed nothing
        idempotence = step_output(output, "idempotence")
        again = recaps(idempotence)
        assert set(again) == {"host1", "host2"} and all(r[1:] == (0, 0, 0) for r in again.values()), again
        assert "changed:" not in idempotence
        # verify: real logins accepted and refused, on both hosts
        verify = step_output(output, "verify")
        assert "No account lets in a principal it does not accept" in verify
        assert all(r[3] == 0 for r in recaps(verify).values())

        # destroy stopped exactly what create started, and nothing of the fleet is left
        state = json.loads(state_file.read_text())
        assert state["stopped"] is True and state["base"] == "127.77.10."
        fleet = Fleet.from_state(state)
        assert len(fleet.started_pids()) == 4  # an unshare and a PID 1 per host
        assert fleet.alive_pids() == set()
        assert fleet.processes() == {}
        assert fleet.control_masters() == []
        assert not Path(state["dir"]).exists()
    finally:
        if state_file.exists():
            state = json.loads(state_file.read_text())
            if not state.get("stopped"):
                Fleet.from_state(state).stop()
        shutil.rmtree(ephemeral, ignore_errors=True)


def fleetctl(*args):
    return subprocess.run([sys.executable, str(FLEETCTL), *args], capture_output=True, text=True,
                          timeout=60, check=False)


def test_fleetctl_hosts_outlive_start_and_stop_ends_only_what_it_recorded(isolated, tmp_path):
    """The detached control the scenario's create and destroy steps use, on its own."""
    state_dir = tmp_path / "fleet"
    control_dir = Path(tempfile.mkdtemp(prefix="fcp-", dir="/tmp"))
    # A bystander whose command line names the control dir (as the command that started the
    # fleet does): not an ssh master, so stop must leave it alone. It also stands in, below, for
    # a recorded PID that now belongs to another process.
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", str(control_dir) + "/"],
                                 start_new_session=True)
    state = None
    try:
        started = fleetctl("start", "--count", "2", "--base", "127.77.10.", "--state", str(state_dir),
                           "--control-dir", str(control_dir))
        assert started.returncode == 0, started.stderr
        state = json.loads(started.stdout)
        fleet = Fleet.from_state(state_dir / "state.json")
        recorded = fleet.started_pids()
        assert len(recorded) == 4 and fleet.alive_pids() == recorded  # outlived the start command
        assert all(_banner(h.address, h.port) for h in fleet)
        assert fleet[1].run(["hostname"]).stdout.strip() == "host2"
        again = fleetctl("start", "--count", "2", "--base", "127.77.10.", "--state", str(state_dir))
        assert again.returncode != 0 and "still running" in again.stderr

        # a recorded PID that is now some other process (same PID, other start time) is not signalled
        tampered = dict(state, hosts=state["hosts"] + [dict(
            state["hosts"][0], name="host3", pid=bystander.pid, pid_start=_start_time(bystander.pid) + 1,
            unshare_pid=bystander.pid, unshare_start=_start_time(bystander.pid) + 1)])
        write_state(state_dir / "state.json", tampered)

        stopped = fleetctl("stop", "--state", str(state_dir))
        assert stopped.returncode == 0, stopped.stderr
        assert sorted(json.loads(stopped.stdout)["stopped"]) == sorted(recorded)
        assert fleet.alive_pids() == set() and fleet.processes() == {}
        assert fleet.control_masters() == []
        assert bystander.poll() is None  # still running
        with open(f"/proc/{bystander.pid}/cmdline", "rb") as f:
            assert str(control_dir).encode() in f.read()
        assert not Path(state["dir"]).exists()
        assert json.loads((state_dir / "state.json").read_text())["stopped"] is True
        assert json.loads(fleetctl("stop", "--state", str(state_dir)).stdout) == {"changed": False, "stopped": []}
    finally:
        if state and not json.loads((state_dir / "state.json").read_text()).get("stopped"):
            Fleet.from_state(state).stop()
        bystander.kill()
        bystander.wait()
        shutil.rmtree(control_dir, ignore_errors=True)
