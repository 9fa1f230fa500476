"""Leak scan (issue 8): run the main playbooks at -vvvv against real parts, then search every
output and every file the runs left for the secrets they handled. Zero hits.

Real parts: 3 mini hosts (127.77.50.N), OpenBao dev with AppRole (so there is a secret_id) and a
KV v2 secret, the flex-auth-compatible PDP with a bearer token (the remote gate).

Runs (all -vvvv): cert_rollout with an AppRole login (warden_openbao.auth_method approle) and the
remote gate; a controller play with the ssh_cert, policy_decision, credential_route and credential
lookups, and a sign the PDP denies; drift_check; a sign whose AppRole login is refused (a wrong
secret_id).

Scanned: stdout and stderr of every run, the audit log, the PDP's decision log and its own log,
every file on every host (each host's /etc overlay upper dir, /root, /home, /run, /tmp, /var/log,
/var/lib/warden), Ansible's local temp and home dirs. Searched for: the OpenBao root token, the
AppRole secret_id (and the wrong one), the caller's OpenBao token, the PDP token, the fetched
secret value, any OpenBao service token (``hvs.``/``s.`` + 20 or more characters), and the body
lines of every private key the runs created or used (host keys, the workload actor key generated
on each host, the controller's SSH key, the operator's key).
"""

import hashlib
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.bed.ansible_run import run_playbook
from tests.bed.collection_path import ensure_on_path
from tests.bed.fleet import Fleet
from tests.bed.openbao import OpenBaoDev
from tests.bed.pdp import PdpProcess

ensure_on_path()

from ansible_collections.netkingdom.warden.plugins.module_utils._inventory import actors as A  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._registry import snapshot as registry  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._registry import build as registry_build  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._routing import catalog as routing  # noqa: E402

pytestmark = pytest.mark.reliability

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parents[1]
EXAMPLE_CATALOG = ROOT / 'docs' / 'examples' / 'routing' / 'catalog.yaml'
BASE = '127.77.50.'
READER = 'iam:release-bot@netkingdom.example'
ACCESS = {'npm-publish-token': [READER]}
SECRET_PATH = 'secret/data/coulomb_social/npm'
ACTORS = {
    'agt-state-hub-bridge': {'type': 'agt', 'principals': ['agt-task-bridge'], 'ttl_hours': 24,
                             'subjects': [READER]},
    'atm-backup-daily': {'type': 'atm', 'principals': ['atm-backup'], 'ttl_hours': 8},
    'adm-example': {'type': 'adm', 'principals': ['adm-example', 'ops-admin'], 'ttl_hours': 8},
}
PRINCIPALS = {'ops': ['adm-example', 'ops-admin'], 'svc': ['agt-task-bridge']}
TOKEN_RE = re.compile(r'\b(?:hvs|s)\.[A-Za-z0-9]{20,}')
PEM_RE = re.compile(r'-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----\s*\n(.*?)\n-----END [A-Z0-9 ]*PRIVATE KEY-----', re.S)


class LeakBed(object):
    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.bao = None
        self.pdp = None
        self.fleet = None
        try:
            self._setup()
        except BaseException:
            self.stop()
            raise

    def _setup(self):
        self.bao = OpenBaoDev(self.workdir / 'bao').start()
        self.bao.setup_ssh_engine()
        # AppRole: the signer logs in with role_id + secret_id
        self.bao.request('POST', 'sys/auth/approle', {'type': 'approle'}, ok=(200, 204, 400))
        self.bao.write_policy('warden-signer', 'path "ssh/sign/*" { capabilities = ["create", "update"] }\n'
                                               'path "ssh/issuers" { capabilities = ["list"] }\n'
                                               'path "ssh/issuer/*" { capabilities = ["read"] }\n'
                                               'path "ssh/config/ca" { capabilities = ["read"] }\n')
        self.bao.request('POST', 'auth/approle/role/warden', {'token_policies': ['warden-signer'], 'token_ttl': '10m'})
        self.role_id = self.bao.request('GET', 'auth/approle/role/warden/role-id')['data']['role_id']
        self.secret_id = self.bao.request('POST', 'auth/approle/role/warden/secret-id', {})['data']['secret_id']
        self.wrong_secret_id = secrets.token_hex(16)
        # KV v2: the value the credential lookup fetches as the caller
        mounts = self.bao.request('GET', 'sys/mounts')['data']
        if 'secret/' not in mounts:
            self.bao.request('POST', 'sys/mounts/secret', {'type': 'kv', 'options': {'version': '2'}})
        self.value = 'npm_' + secrets.token_urlsafe(30)
        self.bao.request('POST', SECRET_PATH, {'data': {'NPM_AUTH_TOKEN': self.value}})
        self.bao.write_policy('npm-read', 'path "secret/data/coulomb_social/*" { capabilities = ["read"] }\n')
        self.caller_token = self.bao.create_token(['npm-read'], no_default_policy=True)
        # The PDP: the actors and the credential lane, behind a bearer token
        self.catalog = self.workdir / 'catalog.yaml'
        shutil.copy(EXAMPLE_CATALOG, self.catalog)
        lanes = routing.credential_lanes(routing.load_catalog_file(str(self.catalog)), ACCESS)
        snapshot = registry_build.build_snapshot(A.load_actors(ACTORS)[0], credential_lanes=lanes)
        (self.workdir / 'registry.json').write_text(registry.to_text(snapshot))
        self.pdp_token = secrets.token_urlsafe(32)
        self.pdp = PdpProcess(self.workdir / 'registry.json', self.workdir / 'pdp', token=self.pdp_token).start()
        # 3 hosts, the operator's key on the controller
        self.fleet = Fleet(3, self.workdir, base=BASE).start()
        for host in self.fleet:
            for account in PRINCIPALS:
                host.run(['useradd', '-m', '-s', '/bin/bash', '-p', '*', account])
        self.user_key = self.workdir / 'operator_key'
        subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', str(self.user_key)], check=True)
        self.audit = self.workdir / 'audit' / 'audit.jsonl'
        self.home = self.workdir / 'home'
        self.home.mkdir()

    def stop(self):
        for part in (self.fleet, self.pdp, self.bao):
            if part is not None:
                try:
                    part.stop()
                except Exception:  # noqa: BLE001 - stop the others anyway
                    pass

    def inventory(self, name, secret_id, controller=False):
        """The fleet (for the roles' playbooks) or the controller alone (for the lookup plays)."""
        inv = yaml.safe_load(self.fleet.inventory_path.read_text())
        if controller:
            inv['all']['children'] = {'controller': {'hosts': {'localhost': {
                'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable}}}}
        inv['all']['vars'] = {
            'warden_actors': ACTORS,
            'warden_audit_log': str(self.audit),
            'warden_openbao': {'url': self.bao.url, 'auth_method': 'approle', 'role_id': self.role_id,
                               'secret_id': secret_id},
            'warden_policy': {'mode': 'flex_auth', 'url': self.pdp.url, 'token': self.pdp_token},
            'warden_host_principals': PRINCIPALS,
            'warden_host_actors': ['atm-backup-daily'],
            'warden_routing_catalog': str(self.catalog),
            'leak_user_pub': Path(str(self.user_key) + '.pub').read_text().strip(),
            'leak_expected_sha256': hashlib.sha256(self.value.encode()).hexdigest(),
        }
        path = self.workdir / name
        path.write_text(yaml.safe_dump(inv))
        os.chmod(path, 0o600)
        return path

    def env(self, caller=False):
        """The controller's environment; for the lookup play the caller's own OpenBao token and
        subject (the credential fetch is done as the caller)."""
        env = dict((k, v) for k, v in os.environ.items() if not k.startswith(('BAO_', 'VAULT_', 'WARDEN_')))
        env['HOME'] = str(self.home)
        if caller:
            env.update({'BAO_ADDR': self.bao.url, 'BAO_TOKEN': self.caller_token, 'WARDEN_POLICY_SUBJECT': READER})
        return env

    def redact(self, text):
        """A failure message shows run output: never with a secret in it."""
        for name, value in self.secrets().items():
            text = text.replace(value, '<%s>' % name)
        return TOKEN_RE.sub('<openbao token>', text)

    def secrets(self):
        """label -> secret text (the labels are what a failure shows; never the values)."""
        return {'openbao root token': self.bao.token, 'approle secret_id': self.secret_id,
                'wrong approle secret_id': self.wrong_secret_id, 'caller openbao token': self.caller_token,
                'pdp token': self.pdp_token, 'fetched secret value': self.value}


@pytest.fixture(scope='module')
def bed(isolated, tmp_path_factory):
    b = LeakBed(tmp_path_factory.mktemp('leaks'))
    try:
        yield b
    finally:
        b.stop()


def walk(root):
    """Every regular file under ``root`` (no symlinks followed)."""
    for dirpath, dirnames, filenames in os.walk(str(root)):
        for name in filenames:
            path = os.path.join(dirpath, name)
            if os.path.isfile(path) and not os.path.islink(path):
                yield path


def read_bytes(path):
    try:
        with open(path, 'rb') as handle:
            return handle.read()
    except OSError:
        return b''


def private_keys(paths):
    """{path: [body lines]} of every file that holds a private key (PEM / OpenSSH)."""
    keys = {}
    for path in paths:
        text = read_bytes(path)
        if b'PRIVATE KEY-----' not in text:
            continue
        for match in PEM_RE.finditer(text.decode('utf-8', 'replace')):
            keys.setdefault(path, []).extend(line.strip() for line in match.group(1).splitlines()
                                             if len(line.strip()) >= 24)
    return keys


def unique_key_lines(keys):
    """Key body lines that belong to exactly one key (the OpenSSH header lines are the same in every
    unencrypted key of a type, so they name no key)."""
    owners = {}
    for path, lines in keys.items():
        for line in set(lines):
            owners.setdefault(line, set()).add(path)
    return dict((line, next(iter(paths))) for line, paths in owners.items() if len(paths) == 1)


def test_no_secret_leaks_anywhere(bed, tmp_path):
    started = time.monotonic()
    fleet = bed.inventory('inventory.yml', bed.secret_id)
    controller = bed.inventory('controller.yml', bed.secret_id, controller=True)
    bad = bed.inventory('controller-bad.yml', bed.wrong_secret_id, controller=True)
    runs = {}

    def play(label, book, inventory, rc_ok, caller=False):
        work = tmp_path / label
        work.mkdir()
        run = run_playbook(book, inventory=inventory, workdir=work, verbosity=4, json_mode=False,
                           env=bed.env(caller))
        runs[label] = (run, work)
        assert rc_ok(run.rc), '%s: rc %s\n%s' % (label, run.rc, bed.redact(run.output[-3000:]))
        return run

    play('cert_rollout', 'netkingdom.warden.cert_rollout', fleet, lambda rc: rc == 0)
    play('lookups', HERE / 'playbooks' / 'leak_lookups.yml', controller, lambda rc: rc == 0, caller=True)
    play('drift_check', 'netkingdom.warden.drift_check', fleet, lambda rc: rc == 0)
    refused = play('bad_secret_id', HERE / 'playbooks' / 'leak_bad_secret_id.yml', bad, lambda rc: rc != 0)
    assert 'approle' in refused.output.lower(), bed.redact(refused.output[-2000:])
    run_seconds = time.monotonic() - started

    # What the runs did, so the scan below scans something real.
    decisions = bed.pdp.decisions()
    assert any(d.get('effect') == 'deny' for d in decisions) and any(d.get('effect') == 'allow' for d in decisions)
    audit_text = bed.audit.read_text()
    assert '"kind":"access"' in audit_text and '"outcome":"signed"' in audit_text

    # -- what is scanned ----------------------------------------------------------------------
    sources = {}  # label -> bytes
    for label, (run, work) in runs.items():
        sources['%s: stdout' % label] = run.stdout.encode()
        sources['%s: stderr' % label] = run.stderr.encode()
        for path in walk(work):  # ansible local temp and home of that run
            sources[path] = read_bytes(path)
    for path in walk(bed.audit.parent):
        sources[path] = read_bytes(path)
    for path in (bed.pdp.decision_log, bed.pdp.log_path):
        sources[str(path)] = read_bytes(path)
    host_files = []
    for host in bed.fleet:
        host_files.extend(walk(host.dir))  # etc.upper, root, home, run, tmp, log, warden
    for path in host_files:
        sources[path] = read_bytes(path)

    # every private key the runs created or used: on the hosts, the controller's SSH key, the operator's
    keys = private_keys(host_files + [str(bed.fleet.key_path), str(bed.user_key)])
    actor_keys = [p for p in keys if '/warden/actors/atm-backup-daily/' in p]
    assert len(actor_keys) == 3, sorted(keys)  # one generated on each host, never copied
    key_lines = unique_key_lines(keys)
    assert len(key_lines) >= 2 * len(keys)

    def scan(label, data):
        found = []
        text = data.decode('utf-8', 'replace')
        for name, value in bed.secrets().items():
            if value and value in text:
                found.append((label, name))
        for match in TOKEN_RE.finditer(text):
            found.append((label, 'an OpenBao service token (%s...)' % match.group(0)[:4]))
        if label not in keys:  # a key file holds its own key (and, for the OpenSSH header lines, others')
            for line, owner in key_lines.items():
                if line in text:
                    found.append((label, 'a body line of the private key %s' % owner))
        return found

    # Positive controls: the scanner does find what it looks for.
    found = set(h[1] for h in scan('control', read_bytes(str(controller))))  # the inventory holds them
    assert found == {'approle secret_id', 'pdp token'}, found
    actor_key_text = read_bytes(actor_keys[0])
    assert len(scan('control', actor_key_text)) >= 2
    assert scan('control', ('x' + bed.value + 'y').encode()) == [('control', 'fetched secret value')]

    hits = []
    scanned_bytes = scanned_lines = 0
    for label, data in sources.items():
        scanned_bytes += len(data)
        scanned_lines += data.count(b'\n')
        hits.extend(scan(label, data))
    report = ('leak scan: %d sources (%d files, %d run outputs), %d bytes, %d lines; %d secrets + %d private '
              'keys (%d unique body lines) searched; %d hits; runs %.1f s'
              % (len(sources), len(sources) - 2 * len(runs), 2 * len(runs), scanned_bytes, scanned_lines,
                 len(bed.secrets()), len(keys), len(key_lines), len(hits), run_seconds))
    print('\n' + report)
    assert hits == [], '%s\n%s' % (report, '\n'.join('%s: %s' % hit for hit in hits[:40]))
