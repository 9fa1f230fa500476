"""A fleet of real sshd "mini hosts" on loopback, one set of namespaces per host.

Each host is `unshare --mount --uts --pid` running boot.sh as its PID 1: an overlay over the
whole of /etc (so Ansible's atomic rename() works and every write lands in the host's upper
dir), its own /root, /home, /run and /tmp, its own hostname and host key, and a real sshd on
127.77.0.N:22. Hosts share the caller's network namespace, which must hold only loopback
(see netns.py); the sshd binaries and /usr are the machine's own.

By default the hosts die with the Python process that started them (--pdeathsig). With
`Fleet(..., detach=True)` they outlive it: `save_state(path)` records every PID to signal (with
its PID namespace and start time, so a reused PID is never signalled), and another process
stops exactly those with `Fleet.from_state(path).stop()` (see fleetctl.py).
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import yaml

# PID 1 of a host is bash, exec'd through a symlink with this name: Ansible reads the service
# manager from /proc/1/comm, and for `init` or a name ending in `sh` guesses one (systemd on
# Debian), which then fails. With this name `service: name=ssh state=reloaded` works.
INIT_NAME = "fleet-host"
HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

BOOT_SH = r"""# PID 1 of one mini host. Args: name fqdn address hostdir
set -euo pipefail
name=$1 fqdn=$2 addr=$3 d=$4
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$d/etc.upper,workdir=$d/etc.work" /etc
mount --bind "$d/root" /root
mount --bind "$d/home" /home
mount --bind "$d/run" /run
mount --bind "$d/log" /var/log   # logins write wtmp/lastlog: keep them off the real machine
mkdir -p /var/lib/warden          # an empty mount point on the machine; each host's own below
mount --bind "$d/warden" /var/lib/warden   # workload actor keys are per host, as on real hosts
mount --bind "$d/tmp" /tmp   # last: $d may itself live under /tmp
hostname "$name"
echo "$name" > /etc/hostname
printf '%s\t%s %s\n' "$addr" "$fqdn" "$name" >> /etc/hosts
mkdir -p -m 0755 /run/sshd   # sshd's privilege separation dir
# The package's host keys are shared by every host: drop them, make this host's own.
rm -f /etc/ssh/ssh_host_*
ssh-keygen -q -t ed25519 -N '' -C "root@$fqdn" -f /etc/ssh/ssh_host_ed25519_key
cat > /etc/ssh/sshd_config <<EOF
# mini host $fqdn (written by tests/bed/fleet.py)
Include /etc/ssh/sshd_config.d/*.conf
ListenAddress $addr:22
HostKey /etc/ssh/ssh_host_ed25519_key
PidFile /run/sshd.pid
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
# No PAM here (no systemd/logind); note sshd then refuses accounts whose password is locked ('!').
UsePAM no
X11Forwarding no
PrintMotd no
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
EOF
/usr/sbin/sshd -t
# Daemonized like /etc/init.d/ssh does it, so `service ssh reload|restart` behaves as usual;
# sshd must not be PID 1, or a restart would end the host.
/usr/sbin/sshd -E /run/sshd.log
trap 'exit 0' TERM INT   # PID 1 only gets signals it handles; exiting kills the namespace
echo "booted $fqdn"
while :; do sleep 86400 & wait $! || true; done
"""


def _pidns(pid):
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


def _start_time(pid):
    """Start time of a process (clock ticks since boot, /proc/<pid>/stat field 22), or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def _is_alive(pid, start):
    """True while `pid` is the process that had start time `start` and is not a zombie.

    A detached host's `unshare` is reaped by whoever adopted it (maybe nobody): a zombie
    counts as gone.
    """
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] not in ("Z", "X") and int(fields[19]) == start


def _children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def _banner(address, port, timeout=1.0):
    """True when something on address:port answers with an SSH identification string."""
    try:
        with socket.create_connection((address, port), timeout=timeout) as s:
            s.settimeout(timeout)
            return s.recv(64).startswith(b"SSH-")
    except OSError:
        return False


def _listen_inode(address, port):
    """Inode of the LISTEN socket on address:port, from /proc/net/tcp (same netns as hosts)."""
    a, b, c, d = (int(x) for x in address.split("."))
    local = f"{d:02X}{c:02X}{b:02X}{a:02X}:{port:04X}"
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[1] == local and fields[3] == "0A":
                return fields[9]
    return None


def write_state(path, data):
    """Write a fleet state (JSON) to `path` atomically, mode 0600."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)
    return path


class Host:
    """One mini host. `pid` is its PID 1 as seen from outside (the one to signal)."""

    def __init__(self, fleet, index, address, domain):
        self.fleet = fleet
        self.name = f"host{index}"
        self.fqdn = f"{self.name}.{domain}"
        self.address = address
        self.port = 22
        self.dir = fleet.dir / self.name
        self.upper = self.dir / "etc.upper"
        self.root_dir = self.dir / "root"
        self.home_dir = self.dir / "home"
        self.run_dir = self.dir / "run"
        self.boot_log = self.dir / "boot.log"
        self.proc = None  # the `unshare` process (ignores SIGTERM; not what we signal)
        self.unshare_pid = None  # its PID: also known to a Fleet restored from a state file
        self.unshare_start = None
        self.pid = None
        self.pidns = None
        self.pid_start = None  # start time of PID 1 (tells it apart from a reused PID)
        self.ready = False  # booted: PID 1 has its SIGTERM trap, sshd answers

    def __repr__(self):
        return f"<Host {self.name} {self.address} pid={self.pid}>"

    # --- files -------------------------------------------------------------------------------
    def _prepare(self, authorized_key):
        for sub in ("etc.upper", "etc.work", "home", "run", "log", "warden"):
            (self.dir / sub).mkdir(parents=True)
        for name in ("wtmp", "btmp", "lastlog"):  # what a freshly installed host has
            (self.dir / "log" / name).touch(mode=0o660)
        (self.dir / "tmp").mkdir(mode=0o1777)
        os.chmod(self.dir / "tmp", 0o1777)
        ssh_dir = self.root_dir / ".ssh"
        ssh_dir.mkdir(mode=0o700, parents=True)
        os.chmod(self.root_dir, 0o700)  # sshd StrictModes
        (ssh_dir / "authorized_keys").write_text(authorized_key)
        os.chmod(ssh_dir / "authorized_keys", 0o600)

    def read_etc(self, relpath):
        """Text of /etc/<relpath> as the host sees it: its overlay upper, else the real /etc.

        Read-only from outside (never write into a mounted upper dir). Raises
        FileNotFoundError for what the host deleted (overlay whiteouts, opaque dirs).
        """
        rel = Path(str(relpath).lstrip("/").removeprefix("etc/"))
        hidden = False  # an opaque upper dir (deleted, then re-created) hides the lower one
        for i in range(1, len(rel.parts) + 1):
            p = self.upper.joinpath(*rel.parts[:i])
            if p.is_char_device() and os.stat(p).st_rdev == 0:
                raise FileNotFoundError(f"{self.name}:/etc/{rel} (deleted on the host)")
            try:
                hidden = hidden or os.getxattr(p, "trusted.overlay.opaque") == b"y"
            except OSError:
                pass
        if (self.upper / rel).is_file():
            return (self.upper / rel).read_text()
        if hidden:
            raise FileNotFoundError(f"{self.name}:/etc/{rel}")
        return (Path("/etc") / rel).read_text()

    def sshd_log(self):
        try:
            return (self.run_dir / "sshd.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # --- commands inside the host --------------------------------------------------------------
    def run(self, cmd, input=None, check=True, timeout=60):
        """Run `cmd` (argv list, or a string for sh -c) inside the host's namespaces."""
        if isinstance(cmd, str):
            cmd = ["sh", "-c", cmd]
        env = {"PATH": HOST_PATH, "HOME": "/root", "LANG": "C.UTF-8"}
        argv = ["nsenter", "-t", str(self.pid), "-m", "-u", "-p", "--", *cmd]
        res = subprocess.run(argv, input=input, capture_output=True, text=True, env=env,
                             timeout=timeout, check=False)
        if check and res.returncode != 0:
            raise RuntimeError(
                f"{self.name}: {cmd!r} exited {res.returncode}\n{res.stdout}{res.stderr}"
            )
        return res

    def write_file(self, path, text, mode=0o644):
        """Create/replace a file inside the host (parents created), through the host's mounts."""
        self.run(['sh', '-c', 'mkdir -p "$(dirname "$1")" && cat > "$1" && chmod "$2" "$1"',
                  "sh", str(path), format(mode, "o")], input=text)

    def sshd_pid(self):
        """sshd's PID inside the host's PID namespace (what `run(['kill', ...])` needs)."""
        return int((self.run_dir / "sshd.pid").read_text())

    def reload_sshd(self, timeout=10.0):
        """SIGHUP sshd and wait until it listens again.

        On SIGHUP sshd closes its listener and re-execs; a login in that gap is refused.
        We wait for a new listening socket (new inode) that answers with a banner.
        """
        old = _listen_inode(self.address, self.port)
        self.run(["kill", "-HUP", str(self.sshd_pid())])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            new = _listen_inode(self.address, self.port)
            if new and new != old and _banner(self.address, self.port):
                return
            time.sleep(0.02)
        raise TimeoutError(f"{self.name}: sshd not back after reload\n{self.sshd_log()[-2000:]}")

    def ssh_argv(self, user="root", key=None, cert=None, extra=()):
        """argv for a real, fresh `ssh` login (append the remote command).

        `extra` options come first, so they win: for `-o`, ssh keeps the first value given.
        Without `key` the fleet's controller key is used. Beware: ssh also loads
        `<key>-cert.pub` from beside the key, whether or not `cert` is given.
        """
        argv = ["ssh", *extra, "-F", "/dev/null", "-p", str(self.port),
                "-i", str(key or self.fleet.key_path)]
        if cert:
            argv += ["-o", f"CertificateFile={cert}"]
        for opt in (
            "BatchMode=yes", "IdentitiesOnly=yes", "IdentityAgent=none",
            f"UserKnownHostsFile={self.fleet.known_hosts}", "StrictHostKeyChecking=no",
            "ConnectTimeout=5", "ControlMaster=no", "ControlPath=none", "LogLevel=ERROR",
        ):
            argv += ["-o", opt]
        return argv + [f"{user}@{self.address}"]


class Fleet:
    """`count` mini hosts host1..hostN at <base>1..<base>N, started in parallel.

    Use as a context manager (or start()/stop()). Everything lives in a fresh directory under
    `workdir`, which stop() removes (unless keep=True).
    """

    def __init__(self, count=3, workdir=None, domain="fleet.test", base="127.77.0.",
                 start_timeout=30.0, keep=False, detach=False, control_dir=None):
        """`detach=True`: hosts outlive this process (no --pdeathsig); stop them with stop(),
        here or from another process through save_state() / from_state(). `control_dir`: use
        this directory (created if missing, left in place by stop) for ssh control sockets
        instead of a fresh one under /tmp; stop() ends the ControlPersist masters using it."""
        if not base.startswith("127.") or not 1 <= count <= 254:
            raise ValueError("hosts must be on 127.0.0.0/8, at most 254 per base")
        self.count = count
        self.domain = domain
        self.base = base
        self.start_timeout = start_timeout
        self.keep = keep
        self.detach = detach
        self.given_control_dir = Path(control_dir) if control_dir else None
        self.workdir = Path(workdir or tempfile.gettempdir())
        self.dir = None
        self.hosts = []
        self.control_dir = None
        self.key_path = self.known_hosts = self.inventory_path = None  # set by start()

    def __iter__(self):
        return iter(self.hosts)

    def __len__(self):
        return len(self.hosts)

    def __getitem__(self, key):
        if isinstance(key, str):
            for h in self.hosts:
                if key in (h.name, h.fqdn, h.address):
                    return h
            raise KeyError(key)
        return self.hosts[key]

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- start ---------------------------------------------------------------------------------
    def start(self):
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.dir = Path(tempfile.mkdtemp(prefix="fleet-", dir=self.workdir))
        # ssh control sockets need a short path (sun_path is 108 bytes) and must not be shared
        # with other runs: a socket in ~/.ansible/cp would be reused across network namespaces.
        if self.given_control_dir:
            self.given_control_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.control_dir = self.given_control_dir
        else:
            self.control_dir = Path(tempfile.mkdtemp(prefix="fcp-", dir="/tmp"))
        self.key_path = self.dir / "controller_ed25519"
        self.known_hosts = self.dir / "known_hosts"
        self.inventory_path = self.dir / "inventory.yml"
        try:
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
                            "fleet-controller", "-f", str(self.key_path)], check=True)
            pubkey = (self.dir / "controller_ed25519.pub").read_text()
            (self.dir / "bin").mkdir()
            init = self.dir / "bin" / INIT_NAME
            init.symlink_to(shutil.which("bash"))
            boot = self.dir / "boot.sh"
            boot.write_text(BOOT_SH)
            self.hosts = [Host(self, i, f"{self.base}{i}", self.domain)
                          for i in range(1, self.count + 1)]
            # All hosts boot concurrently; Popen from this thread only, because --pdeathsig
            # (which ends a host if this process dies) fires when the parent *thread* ends.
            # Detached hosts skip it: they must outlive this process.
            deathsig = [] if self.detach else ["setpriv", "--pdeathsig", "KILL", "--"]
            for h in self.hosts:
                h._prepare(pubkey)
                with open(h.boot_log, "wb") as log:
                    h.proc = subprocess.Popen(
                        [*deathsig,
                         "unshare", "--mount", "--uts", "--pid", "--fork",
                         "--kill-child=SIGTERM", "--mount-proc", "--propagation", "private",
                         str(init), str(boot), h.name, h.fqdn, h.address, str(h.dir)],
                        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                        cwd="/", start_new_session=True,
                    )
                h.unshare_pid, h.unshare_start = h.proc.pid, _start_time(h.proc.pid)
            self._wait_ready()
            self._write_inventory()
        except BaseException:
            self.stop()
            raise
        return self

    def _fail(self, h, why):
        log = h.boot_log.read_text(errors="replace") if h.boot_log.exists() else ""
        raise RuntimeError(f"{h.name} ({h.address}): {why}\n--- boot.log ---\n{log}"
                           f"--- sshd.log ---\n{h.sshd_log()}")

    def _wait_ready(self):
        deadline = time.monotonic() + self.start_timeout
        pending = list(self.hosts)
        while pending:
            for h in list(pending):
                if h.proc.poll() is not None:
                    self._fail(h, f"exited with {h.proc.returncode} while booting")
                if h.pid is None:
                    kids = _children(h.proc.pid)
                    if kids:
                        h.pid, h.pidns = kids[0], _pidns(kids[0])
                        h.pid_start = _start_time(kids[0])
                    continue
                if _banner(h.address, h.port, timeout=0.5):
                    h.ready = True
                    pending.remove(h)
            if pending and time.monotonic() > deadline:
                self._fail(pending[0], f"no SSH banner after {self.start_timeout}s")
            if pending:
                time.sleep(0.02)

    def ssh_common_args(self):
        """SSH options Ansible uses for every host: no shared state with anything else."""
        return " ".join([
            "-o UserKnownHostsFile=/dev/null",  # no concurrent appends from many forks
            "-o StrictHostKeyChecking=no",
            "-o IdentitiesOnly=yes",
            "-o IdentityAgent=none",
            "-o ControlMaster=auto",
            "-o ControlPersist=60s",
            f"-o ControlPath={self.control_dir}/%C",
        ])

    def _write_inventory(self):
        inv = {"all": {"children": {"fleet": {
            # Host certificate names come from the inventory only: each host's short and DNS name,
            # as an operator lists them (the host's own idea of its name is never signed).
            "hosts": {h.name: {"ansible_host": h.address, "fleet_fqdn": h.fqdn,
                               "warden_host_cert_principals": [h.name, h.fqdn]}
                      for h in self.hosts},
            "vars": {
                "ansible_port": 22,
                "ansible_user": "root",
                "ansible_ssh_private_key_file": str(self.key_path),
                "ansible_python_interpreter": "/usr/bin/python3",
                "ansible_ssh_common_args": self.ssh_common_args(),
            },
        }}}}
        self.inventory_path.write_text(yaml.safe_dump(inv, sort_keys=False))

    # --- processes / stop ---------------------------------------------------------------------
    def processes(self):
        """{outside PID: host name} of every process living in one of the hosts' PID namespaces."""
        spaces = {h.pidns: h.name for h in self.hosts if h.pidns}
        found = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                ns = _pidns(entry)
                if ns in spaces:
                    found[int(entry)] = spaces[ns]
        return found

    def started_pids(self):
        """PIDs this fleet started directly: each `unshare` and each host's PID 1."""
        pids = set()
        for h in self.hosts:
            if h.proc or h.unshare_pid:
                pids.add(h.proc.pid if h.proc else h.unshare_pid)
            if h.pid:
                pids.add(h.pid)
        return pids

    def _signal_init(self, h, sig):
        # Only signal the PID while it still is this host's PID 1 (no stray kill on PID reuse).
        if h.pid_start is not None and not _is_alive(h.pid, h.pid_start):
            return
        if h.pid and h.pidns and _pidns(h.pid) == h.pidns:
            try:
                os.kill(h.pid, sig)
            except ProcessLookupError:
                pass

    def control_masters(self):
        """PIDs of ssh ControlPersist masters (Ansible's) that use this fleet's control dir.

        Only `ssh` processes count: a command line that merely names the directory (the
        command that started the fleet with --control-dir, say) is not a master.
        """
        if not self.control_dir:
            return []
        needle = (str(self.control_dir).rstrip("/") + "/").encode()
        pids = []
        for entry in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{entry}/comm", "rb") as f:
                    if f.read().strip() != b"ssh":
                        continue
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if needle in f.read():
                        pids.append(int(entry))
            except OSError:
                pass
        return pids

    def _end_control_masters(self, grace=3.0):
        # Masters exit on their own once their host is gone; give them a moment, then end the
        # stragglers (they belong to this run: their socket path is this fleet's own dir).
        deadline = time.monotonic() + grace
        while self.control_masters() and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid in self.control_masters():
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def stop(self, timeout=10.0):
        """Stop every host (SIGTERM to its PID 1; SIGKILL if it lingers) and remove the files."""
        if self.hosts and all(h.proc is None for h in self.hosts):
            return self._stop_restored(timeout)
        for h in self.hosts:
            if h.proc and h.proc.poll() is None:
                if h.pid is None:  # died or never forked: find PID 1 now
                    kids = _children(h.proc.pid)
                    if kids:
                        h.pid, h.pidns = kids[0], _pidns(kids[0])
                # A host still booting may not trap SIGTERM yet (PID 1 drops unhandled
                # signals): end it with SIGKILL, which the kernel always delivers from outside.
                self._signal_init(h, signal.SIGTERM if h.ready else signal.SIGKILL)
        deadline = time.monotonic() + timeout
        for h in self.hosts:
            if h.proc is None:
                continue
            try:
                h.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self._signal_init(h, signal.SIGKILL)
                try:
                    h.proc.wait(5)
                except subprocess.TimeoutExpired:
                    h.proc.kill()  # the unshare we started; its child dies via --kill-child
                    h.proc.wait()
        self._end_control_masters()
        self._remove_files()

    def _remove_files(self):
        if not self.keep:
            for d in (self.dir, None if self.given_control_dir else self.control_dir):
                if d:
                    shutil.rmtree(d, ignore_errors=True)

    # --- detached fleets: state file, stop from another process ---------------------------------
    def state(self):
        """What another process needs to reach and stop this fleet (JSON-able)."""
        return {
            "version": 1,
            "base": self.base,
            "domain": self.domain,
            "count": self.count,
            "dir": str(self.dir),
            "control_dir": str(self.control_dir),
            "own_control_dir": self.given_control_dir is None,
            "key_path": str(self.key_path),
            "known_hosts": str(self.known_hosts),
            "inventory_path": str(self.inventory_path),
            "hosts": [{
                "name": h.name, "fqdn": h.fqdn, "address": h.address, "port": h.port,
                "pid": h.pid, "pidns": h.pidns, "pid_start": h.pid_start,
                "unshare_pid": h.unshare_pid, "unshare_start": h.unshare_start,
            } for h in self.hosts],
        }

    def save_state(self, path, **extra):
        """Write state() (plus `extra` fields) to `path` atomically, mode 0600."""
        return write_state(path, dict(self.state(), **extra))

    @classmethod
    def from_state(cls, path_or_state):
        """A Fleet bound to hosts another process started (detach=True), from its state.

        Its hosts can run commands, read files and be stopped; nothing new is started.
        """
        data = path_or_state
        if not isinstance(data, dict):
            data = json.loads(Path(path_or_state).read_text())
        fleet = cls(count=data["count"], workdir=Path(data["dir"]).parent, domain=data["domain"],
                    base=data["base"], detach=True,
                    control_dir=None if data.get("own_control_dir", True) else data["control_dir"])
        fleet.dir = Path(data["dir"])
        fleet.control_dir = Path(data["control_dir"])
        fleet.key_path = Path(data["key_path"])
        fleet.known_hosts = Path(data["known_hosts"])
        fleet.inventory_path = Path(data["inventory_path"])
        for i, saved in enumerate(data["hosts"], start=1):
            h = Host(fleet, i, saved["address"], fleet.domain)
            h.name, h.fqdn, h.port = saved["name"], saved["fqdn"], saved["port"]
            h.dir = fleet.dir / h.name
            h.upper, h.root_dir = h.dir / "etc.upper", h.dir / "root"
            h.home_dir, h.run_dir, h.boot_log = h.dir / "home", h.dir / "run", h.dir / "boot.log"
            h.pid, h.pidns, h.pid_start = saved["pid"], saved["pidns"], saved["pid_start"]
            h.unshare_pid, h.unshare_start = saved["unshare_pid"], saved["unshare_start"]
            h.ready = True
            fleet.hosts.append(h)
        return fleet

    def alive_pids(self):
        """The recorded PIDs (each PID 1 and each `unshare`) that still run, start time checked."""
        alive = set()
        for h in self.hosts:
            for pid, start in ((h.pid, h.pid_start), (h.unshare_pid, h.unshare_start)):
                if pid and start is not None and _is_alive(pid, start):
                    alive.add(pid)
        return alive

    def _stop_restored(self, timeout):
        # Not our children: signal each recorded PID 1 (only while it is that same process),
        # then poll until the PID 1s and their `unshare` parents are gone.
        for h in self.hosts:
            self._signal_init(h, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.alive_pids() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.alive_pids():
            for h in self.hosts:
                self._signal_init(h, signal.SIGKILL)
            deadline = time.monotonic() + 5
            while self.alive_pids() and time.monotonic() < deadline:
                time.sleep(0.05)
        left = self.alive_pids()
        self._end_control_masters()
        if left:
            raise RuntimeError(f"fleet processes still running after stop: {sorted(left)}")
        self._remove_files()
