"""The fleet demo (scripts/demo_fleet.py, the second half of `make demo`) end to end, twice.

The driver runs in this test run's network namespace (it sees it is already isolated and does not
start another one), against the collection under test, on its own address base 127.77.20.; each
run starts and stops its own OpenBao, PDP and 3 mini hosts.
"""

import os
import subprocess
import sys
from pathlib import Path

from tests.bed.collection_path import collections_dir

ROOT = Path(__file__).resolve().parents[3]
DRIVER = ROOT / 'scripts' / 'demo_fleet.py'
LOGINS = ['login ok: %s@host%d (127.77.20.%d) with the %s certificate -> %s@host%d' % (account, i, i, actor, account, i)
          for i in (1, 2, 3) for account, actor in (('ops', 'adm-example'), ('svc', 'agt-state-hub-bridge'))]


def run_demo(workdir, *args):
    return subprocess.run([sys.executable, str(DRIVER), '--collections', collections_dir(),
                           '--workdir', str(workdir), *args],
                          capture_output=True, text=True, timeout=300, check=False)


def still_running(marker):
    found = []
    for entry in Path('/proc').iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / 'cmdline').read_bytes():
                found.append(int(entry.name))
        except OSError:
            pass
    return found


def check_run(proc, workdir, mode):
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    for line in LOGINS:
        assert line in proc.stdout, (line, output[-4000:])
    assert proc.stdout.count('login refused as it must be:') == 3
    assert 'summary (%s;' % mode in proc.stdout
    assert 'demo user certificates (used for the logins above): 2' in proc.stdout
    assert 'decision decision:' in proc.stdout
    assert 'not isolated' not in output  # already isolated: no nested network namespace
    assert 'Root Token' not in output and 'BAO_TOKEN' not in output
    # Everything the run started is gone: no mini host of its base, no bao server, no PDP.
    assert not still_running(b'127.77.20.'), output[-2000:]
    assert (Path(workdir) / 'audit.jsonl').exists()


def test_fleet_demo_twice_in_a_row(isolated, tmp_path):
    for dummy in range(2):
        proc = run_demo(tmp_path / 'demo')
        check_run(proc, tmp_path / 'demo', 'OpenBao CA, flex-auth PDP gate')
        assert 'registry on host1: deployed, digest sha256:' in proc.stdout
        for book in ('openbao_ssh_ca', 'deploy_registry', 'cert_rollout'):
            assert 'netkingdom.warden.%s passed' % book in proc.stdout


def test_fleet_demo_local_ca_and_embedded_gate(isolated, tmp_path):
    proc = run_demo(tmp_path / 'demo', '--local')
    check_run(proc, tmp_path / 'demo', 'local CA, embedded gate')
    assert 'ansible-playbook netkingdom.warden.openbao_ssh_ca' not in proc.stdout
    assert 'deploy_registry' not in proc.stdout
    assert (tmp_path / 'demo' / 'local_ca').is_dir()
