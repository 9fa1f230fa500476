"""The bed itself, proven with real parts: OpenBao signs, sshd accepts or refuses, Ansible
reaches every host, and stopping leaves nothing behind."""

import subprocess
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import load_ssh_public_identity

from tests.bed.fleet import Fleet, _pidns
from tests.bed.netns import only_loopback
from tests.bed.openbao import OpenBaoError

PRINCIPAL = "agt-task-bridge"
DROP_IN = "/etc/ssh/sshd_config.d/50-bed-smoke.conf"


def new_key(directory, name):
    """A fresh ed25519 key pair alone in its own directory (no `-cert.pub` beside it)."""
    d = Path(directory) / name
    d.mkdir()
    key = d / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)],
                   check=True)
    return key, key.with_suffix(".pub").read_text()


def write_cert(path, signed_key):
    Path(path).write_text(signed_key + "\n")
    return path


def ssh(host, command, **kw):
    return subprocess.run(host.ssh_argv(**kw) + [command], capture_output=True, text=True,
                          timeout=30, check=False)


@pytest.fixture(scope="module")
def cert_host(workdir, openbao):
    """One host of its own (so the shared fleet stays pristine) that trusts the OpenBao CA and
    lets account `svc` in with principal agt-task-bridge."""
    with Fleet(1, workdir, base="127.77.9.") as small:
        host = small[0]
        # '*' not '!': without PAM, sshd refuses accounts with a locked password even for keys.
        host.run(["useradd", "-m", "-s", "/bin/bash", "-p", "*", "svc"])
        host.write_file("/etc/ssh/ca/ca_user.pub", openbao.ca_public_key() + "\n")
        host.write_file("/etc/ssh/auth_principals/svc", PRINCIPAL + "\n")
        host.write_file(DROP_IN, "TrustedUserCAKeys /etc/ssh/ca/ca_user.pub\n"
                                 "AuthorizedPrincipalsFile /etc/ssh/auth_principals/%u\n")
        host.run(["/usr/sbin/sshd", "-t"])
        host.reload_sshd()
        yield host


def test_signed_cert_logs_in(cert_host, openbao, tmp_path):
    key, pub = new_key(tmp_path, "agt")
    cert = write_cert(tmp_path / "agt.cert", openbao.sign(
        "agt-role", pub, [PRINCIPAL], ttl="1h", key_id="bed-smoke-ok"))
    r = ssh(cert_host, "echo bed-ok $(id -un) $(hostname -f)", user="svc", key=key, cert=cert)
    assert r.returncode == 0, r.stderr + cert_host.sshd_log()[-1500:]
    assert r.stdout.strip() == f"bed-ok svc {cert_host.fqdn}"
    assert 'ID bed-smoke-ok' in cert_host.sshd_log()  # it was the cert, not a plain key
    assert cert_host.read_etc("ssh/auth_principals/svc").split() == [PRINCIPAL]


def test_unlisted_principal_and_bare_key_refused(cert_host, openbao, tmp_path):
    key, pub = new_key(tmp_path, "agt")
    other = write_cert(tmp_path / "other.cert",
                       openbao.sign("agt-role", pub, ["agt-someone-else"], ttl="1h"))
    r = ssh(cert_host, "echo should-not-run", user="svc", key=key, cert=other)
    assert r.returncode == 255 and "Permission denied" in r.stderr
    assert "should-not-run" not in r.stdout
    r = ssh(cert_host, "echo should-not-run", user="svc", key=key)
    assert r.returncode == 255 and "Permission denied" in r.stderr


def test_role_max_ttl_enforced(openbao, tmp_path):
    dummy, pub = new_key(tmp_path, "agt")
    with pytest.raises(OpenBaoError) as exc:
        openbao.sign("agt-role", pub, [PRINCIPAL], ttl="25h")
    assert exc.value.status == 400
    leaked = openbao.token in str(exc.value)  # (asserting on the token itself would print it)
    assert not leaked
    cert = load_ssh_public_identity(
        openbao.sign("agt-role", pub, [PRINCIPAL], ttl="24h").encode())
    # OpenBao backdates valid_after by 30 s; the TTL counts from now.
    assert cert.valid_before - cert.valid_after == 24 * 3600 + 30


def ansible_ping(fleet, ansible_env):
    r = subprocess.run(
        ["ansible", "-i", str(fleet.inventory_path), "fleet", "-m", "ansible.builtin.ping",
         "-f", "10"], capture_output=True, text=True, env=ansible_env, timeout=600, check=False)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    for h in fleet:
        assert f"{h.name} | SUCCESS" in r.stdout


def test_ansible_ping_reaches_every_host(fleet, ansible_env):
    ansible_ping(fleet, ansible_env)


def start_ping_stop(workdir, ansible_env, count, base, ping):
    started = time.monotonic()
    f = Fleet(count, workdir, base=base).start()
    boot = time.monotonic() - started
    try:
        assert len(f) == count
        if ping:
            ansible_ping(f, ansible_env)
        inside = f.processes()  # every process in the hosts' PID namespaces
        assert {h.pid for h in f} <= set(inside)
        assert any(n == "sshd" for n in map(_comm, inside)), "no sshd seen in the hosts"
        namespaces = {h.pidns for h in f}
        started_pids = f.started_pids()
    finally:
        f.stop()
    for h in f:
        assert h.proc.returncode is not None, f"unshare of {h.name} still running"
    for pid in started_pids | set(inside):
        ns = _pidns(pid)
        assert ns is None or ns not in namespaces, f"PID {pid} survived the fleet"
    assert f.processes() == {}
    assert f.control_masters() == []
    assert not f.dir.exists()
    return boot


def _comm(pid):
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None


def test_stop_leaves_no_process(workdir, ansible_env):
    start_ping_stop(workdir, ansible_env, 2, "127.77.8.", ping=True)


@pytest.mark.slow
def test_thirty_hosts(workdir, ansible_env, capsys):
    started = time.monotonic()
    boot = start_ping_stop(workdir, ansible_env, 30, "127.77.30.", ping=True)
    with capsys.disabled():
        print(f"\n30 hosts: boot {boot:.2f}s, boot+ping+stop {time.monotonic() - started:.1f}s")


def test_runs_isolated(isolated):
    # The whole bed lives in a network namespace holding only `lo`: nothing can leave.
    assert only_loopback()
