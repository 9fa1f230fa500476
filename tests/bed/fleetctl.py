"""Start and stop a detached fleet of sshd mini hosts from separate commands.

For tools whose create and destroy steps are separate processes (molecule's create.yml and
destroy.yml): `start` boots the hosts (they outlive the command), writes `<state>/state.json`
and prints it; `stop` signals exactly the PIDs recorded there (each PID only while it still is
the same process), waits until they and their `unshare` parents are gone, ends the ssh control
masters of the fleet's control dir and removes the fleet's files. The state file is kept,
marked stopped, so a later check can prove nothing was left behind.

    python tests/bed/fleetctl.py start --count 2 --base 127.77.10. --state DIR [--control-dir DIR] [--domain D]
    python tests/bed/fleetctl.py stop --state DIR
    python tests/bed/fleetctl.py status --state DIR

Like every part of the bed, `start` refuses to run outside a loopback-only network namespace
(scripts/in-netns). `stop` with no state file, or an already stopped one, does nothing.
"""

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `tests.bed` importable however this script is launched
    sys.path.insert(0, str(ROOT))

from tests.bed.fleet import Fleet, write_state  # noqa: E402
from tests.bed.netns import ensure_isolated  # noqa: E402

STATE_FILE = "state.json"


def state_path(state_dir):
    return Path(state_dir) / STATE_FILE


def read_state(state_dir):
    path = state_path(state_dir)
    if not path.exists():
        return None
    return json.loads(path.read_text())


def start(args):
    ensure_isolated()
    state_dir = Path(args.state)
    state_dir.mkdir(parents=True, exist_ok=True)
    old = read_state(state_dir)
    if old and not old.get("stopped"):
        if Fleet.from_state(old).alive_pids():
            raise SystemExit(f"fleetctl: a fleet from {state_path(state_dir)} is still running: "
                             "stop it first")
    fleet = Fleet(args.count, state_dir, domain=args.domain, base=args.base, detach=True,
                  control_dir=args.control_dir, start_timeout=args.timeout)
    fleet.start()
    try:
        fleet.save_state(state_path(state_dir), stopped=False, started_at=time.time())
    except BaseException:
        fleet.stop()
        raise
    sys.stdout.write(state_path(state_dir).read_text())


def stop(args):
    data = read_state(args.state)
    if not data or data.get("stopped"):
        print(json.dumps({"changed": False, "stopped": []}))
        return
    fleet = Fleet.from_state(data)
    pids = sorted(fleet.alive_pids())  # recorded, and still the very processes that were started
    fleet.stop(timeout=args.timeout)
    data.update(stopped=True, stopped_at=time.time())
    write_state(state_path(args.state), data)
    print(json.dumps({"changed": True, "stopped": pids}))


def status(args):
    data = read_state(args.state)
    if not data:
        print(json.dumps({"state": "absent"}))
        return
    fleet = Fleet.from_state(data)
    print(json.dumps({"state": "stopped" if data.get("stopped") else "running",
                      "alive": sorted(fleet.alive_pids()), "processes": len(fleet.processes()),
                      "control_masters": fleet.control_masters()}))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="fleetctl", description=__doc__.split("\n\n", maxsplit=1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("start", help="boot a detached fleet and write its state file")
    p.add_argument("--count", type=int, default=2)
    p.add_argument("--base", required=True, help="address prefix, e.g. 127.77.10.")
    p.add_argument("--domain", default="fleet.test")
    p.add_argument("--state", required=True, help="directory for state.json and the fleet's files")
    p.add_argument("--control-dir", help="ssh control socket directory Ansible uses (short path)")
    p.add_argument("--timeout", type=float, default=30.0)
    p.set_defaults(func=start)
    p = sub.add_parser("stop", help="stop exactly the processes recorded in the state file")
    p.add_argument("--state", required=True)
    p.add_argument("--timeout", type=float, default=10.0)
    p.set_defaults(func=stop)
    p = sub.add_parser("status", help="which recorded processes still run")
    p.add_argument("--state", required=True)
    p.set_defaults(func=status)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
