"""Start and drive the flex-auth-compatible test PDP (tests/bed/pdp_server.py).

    with PdpProcess(snapshot_path, tmp_path, collections) as pdp:
        pdp.url                      # http://127.0.0.1:<port>
        pdp.set_fault("slow", delay=2)
        pdp.clear_fault()
        pdp.reload()                 # SIGHUP; waits until the PDP has handled it
        pdp.stop()                   # "down": a real refused connection from now on
        pdp.start()                  # back on the same port
        pdp.decisions()              # the decision log, parsed

The process is the venv's python (sys.executable) running the script on a loopback port the
kernel picks (port 0; the PDP reports it in its ready file once bound). It is only ever
signalled by its own PID, and a finalizer kills it if the owner forgets to stop it.
"""

import ctypes
import json
import os
import signal
import subprocess
import sys
import time
import weakref
from pathlib import Path

import httpx

SERVER = Path(__file__).resolve().parent / "pdp_server.py"


class PdpStartError(RuntimeError):
    """The PDP exited or never became healthy; carries its exit code and log."""

    def __init__(self, message, returncode=None, log=""):
        self.returncode = returncode
        self.log = log
        super().__init__(f"{message} (exit code {returncode}); PDP log:\n{log}")


def _die_with_parent():
    """Child side, before exec: SIGKILL when the process that started it dies (Linux
    PR_SET_PDEATHSIG), so a killed test run leaves no PDP behind. Tied to the starting
    thread: start PDPs from the main thread."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _kill(proc):
    if proc.poll() is None:
        proc.kill()
        proc.wait()


class PdpProcess:
    def __init__(self, registry_path, workdir, collections=None, token=None, host="127.0.0.1",
                 tls_cert=None, tls_key=None, client_ca=None, ca_cert=None, client_cert=None,
                 client_key=None, python=None, startup_timeout=15.0, policy=None):
        self.registry_path = Path(registry_path)
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.collections = collections or os.environ.get("WARDEN_TEST_COLLECTIONS")
        self.token = token
        self.host = host
        self.tls = (tls_cert, tls_key, client_ca)
        # What the bed itself uses to talk to a TLS PDP (health checks).
        self.ca_cert, self.client_cert, self.client_key = ca_cert, client_cert, client_key
        self.python = python or sys.executable
        self.policy = policy  # a folder of .rego files (default: the checkout's policy/flex-auth)
        self.startup_timeout = startup_timeout
        self.control_file = self.workdir / "pdp-control.json"
        self.decision_log = self.workdir / "pdp-decisions.jsonl"
        self.pid_file = self.workdir / "pdp.pid"
        self.ready_file = self.workdir / "pdp-ready.json"
        self.log_path = self.workdir / "pdp.log"
        self.token_file = self.workdir / "pdp-token" if token else None
        self.port = 0
        self.url = None
        self.pid = None
        self._proc = None
        self._finalizer = None

    # -- lifecycle -----------------------------------------------------------------------
    def command(self):
        cmd = [self.python, str(SERVER), "--listen", f"{self._host_text()}:{self.port}",
               "--registry", str(self.registry_path), "--control", str(self.control_file),
               "--decision-log", str(self.decision_log), "--pid-file", str(self.pid_file),
               "--ready-file", str(self.ready_file)]
        if self.collections:
            cmd += ["--collections", str(self.collections)]
        if self.policy:
            cmd += ["--policy", str(self.policy)]
        if self.token_file:
            cmd += ["--token-file", str(self.token_file)]
        cert, key, client_ca = self.tls
        if cert:
            cmd += ["--tls-cert", str(cert), "--tls-key", str(key)]
        if client_ca:
            cmd += ["--client-ca", str(client_ca)]
        return cmd

    def _host_text(self):
        return f"[{self.host}]" if ":" in self.host else self.host

    def start(self):
        """Start (or restart on the same port) and wait until /healthz answers 200."""
        if self.running:
            return self
        if self.token_file:
            fd = os.open(self.token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(self.token + "\n")
        for stale in (self.ready_file, self.pid_file):
            stale.unlink(missing_ok=True)
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=log,
                                          stderr=subprocess.STDOUT, close_fds=True,
                                          preexec_fn=_die_with_parent)
        self.pid = self._proc.pid
        self._finalizer = weakref.finalize(self, _kill, self._proc)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self):
        deadline = time.monotonic() + self.startup_timeout
        while not self.ready_file.exists():
            if self._proc.poll() is not None:
                raise PdpStartError("the PDP exited before it was ready", self._proc.returncode, self.log_text())
            if time.monotonic() > deadline:
                raise PdpStartError("the PDP did not bind in time", None, self.log_text())
            time.sleep(0.02)
        ready = json.loads(self.ready_file.read_text())
        assert ready["pid"] == self.pid, ready
        self.url = ready["url"]
        self.port = int(self.url.rsplit(":", 1)[1])
        last = None
        while time.monotonic() < deadline:
            try:
                self.healthz()
                return
            except (httpx.HTTPError, ValueError) as exc:
                last = exc
            if self._proc.poll() is not None:
                break
            time.sleep(0.05)
        raise PdpStartError(f"/healthz never answered 200 ({last})", self._proc.poll(), self.log_text())

    def stop(self, timeout=5.0):
        """SIGTERM by PID, wait, SIGKILL if needed. Idempotent."""
        proc = self._proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._finalizer:
            self._finalizer.detach()
        return proc.returncode

    @property
    def running(self):
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self):
        return None if self._proc is None else self._proc.poll()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- talking to it -------------------------------------------------------------------
    def client(self, token=True, timeout=5.0):
        """An httpx client for direct contract checks (bearer token included by default)."""
        headers = {"Authorization": f"Bearer {self.token}"} if (token and self.token) else {}
        verify = True
        if self.url and self.url.startswith("https:"):
            import ssl

            verify = ssl.create_default_context(cafile=str(self.ca_cert))
            if self.client_cert:
                verify.load_cert_chain(str(self.client_cert), str(self.client_key))
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout, verify=verify)

    def healthz(self):
        with self.client(token=False, timeout=2.0) as c:
            response = c.get("/healthz")
        response.raise_for_status()
        return response.json()

    def set_fault(self, fault, delay=0, **extra):
        """Make the PDP misbehave from its next request on (control file, replaced atomically)."""
        data = dict(extra, fault=fault, delay=delay)
        tmp = self.control_file.with_name(self.control_file.name + ".tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self.control_file)

    def clear_fault(self):
        self.set_fault(None)

    def reload(self, timeout=5.0):
        """SIGHUP, then wait until the PDP counts a reload (successful or refused).
        Returns the /healthz body after it."""
        before = self.healthz()
        seen = before["generation"] + before["reload_errors"]
        os.kill(self.pid, signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = self.healthz()
            if now["generation"] + now["reload_errors"] > seen:
                return now
            time.sleep(0.02)
        raise TimeoutError("the PDP did not handle SIGHUP in time")

    def decisions(self):
        if not self.decision_log.exists():
            return []
        return [json.loads(line) for line in self.decision_log.read_text().splitlines() if line.strip()]

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""
