"""cert_rollout through ansible-runner, the way AWX runs a job, against a plain ansible-playbook run.

The job is laid out as AWX lays out a private data directory: project/ (the one-line wrapper from
docs/awx/project), inventory/ (hosts and non-secret variables), env/extravars (the job
template's survey answers, non-secret), the collection installed from the built tarball into the
directory's collections path, and the OpenBao credential injected exactly as the credential type
docs/awx/credential_types/openbao.yml says: environment variables (BAO_ADDR, the AppRole role
and secret IDs) passed to ansible_runner.run(envvars=...), and the CA certificate as a file under
env/. OpenBao listens with TLS, so that CA file is really used. ansible-runner is called with
AWX's defaults for secrets (suppress_env_files: nothing of envvars is written to env/).

A plain ansible-playbook run of the same playbook on a fresh fleet of the same kind is the
reference: same per-host outcome, same principals and CA trust on the hosts, logins work. Then the
whole private data directory is searched for the secret ID, the OpenBao tokens and the session
token the AppRole login made.
"""

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.bed import awx_credentials as AWX
from tests.bed.ansible_run import run_playbook
from tests.bed.collection_tarball import collection_tarball, install_tarball
from tests.bed.fleet import Fleet
from tests.bed.openbao import OpenBaoDev, free_port
from tests.bed.pki import TestCA

ansible_runner = pytest.importorskip('ansible_runner')

ROOT = Path(__file__).resolve().parents[3]
AWX_DIR = ROOT / 'docs' / 'awx'
BASE = '127.77.70.'
HOSTS = 3
JOB_ID = 4242
ACTORS = {
    'adm-example': {'type': 'adm', 'principals': ['adm-example', 'ops-admin'], 'ttl_hours': 8},
    'agt-state-hub-bridge': {'type': 'agt', 'principals': ['agt-task-bridge'], 'ttl_hours': 24},
    'atm-backup-daily': {'type': 'atm', 'principals': ['atm-backup'], 'ttl_hours': 8},
}
PRINCIPALS = {'ops': ['adm-example', 'ops-admin'], 'svc': ['agt-task-bridge']}
HOST_FILES = ('ssh/ca/ca_user.pub', 'ssh/auth_principals/ops', 'ssh/auth_principals/svc',
              'ssh/sshd_config.d/20-netkingdom-warden.conf')
HOST_CERT = '/etc/ssh/ssh_host_ed25519_key-cert.pub'
ACTOR_CERT = '/var/lib/warden/actors/atm-backup-daily/id_ed25519-cert.pub'
# OpenBao service tokens: s.<24> (or hvs.<...>)
TOKEN_RE = re.compile(rb'\b(hvs|s)\.[A-Za-z0-9]{20,}')


def cert_facts(host, path):
    """Type, key id, serial and principals of a certificate on a host (ssh-keygen -L)."""
    text = host.run(['ssh-keygen', '-L', '-f', path]).stdout
    serial = int(re.search(r'^\s*Serial: (\d+)$', text, re.M).group(1))
    key_id = re.search(r'^\s*Key ID: "([^"]*)"$', text, re.M).group(1)
    kind = re.search(r'^\s*Type: \S+ (user|host) certificate$', text, re.M).group(1)
    block = re.search(r'^\s*Principals:\s*\n((?:\s{16,}\S.*\n)*)', text, re.M).group(1)
    return {'type': kind, 'key_id': key_id, 'serial': serial, 'principals': sorted(block.split())}


class AwxBed(object):
    """OpenBao with TLS and an AppRole, the OpenBao credential type, the collection tarball."""

    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.pki = TestCA(self.workdir / 'pki', name='openbao test CA')
        cert, key = self.pki.issue('openbao', ips=['127.0.0.1'])
        self.bao = OpenBaoDev(self.workdir / 'bao')
        tls_port = free_port()
        self.bao.config_dir.mkdir(parents=True)
        (self.bao.config_dir / '20-tls.hcl').write_text(
            'listener "tcp" {\n  address = "127.0.0.1:%d"\n  tls_cert_file = "%s"\n  tls_key_file = "%s"\n}\n'
            % (tls_port, cert, key))
        self.bao.start()
        self.tls_url = 'https://127.0.0.1:%d' % tls_port
        self.bao.setup_ssh_engine()
        self.bao.request('POST', 'sys/auth/approle', {'type': 'approle'})
        self.bao.write_policy('warden-signer', 'path "ssh/sign/*" { capabilities = ["create", "update"] }')
        self.bao.request('POST', 'auth/approle/role/warden-awx', {'token_policies': ['warden-signer'],
                                                                  'token_ttl': '10m'})
        self.role_id = self.bao.request('GET', 'auth/approle/role/warden-awx/role-id')['data']['role_id']
        self.secret_id = self.bao.request('POST', 'auth/approle/role/warden-awx/secret-id', {})['data']['secret_id']
        self.credential_type = yaml.safe_load((AWX_DIR / 'credential_types' / 'openbao.yml').read_text())
        self.credential = {'url': self.tls_url, 'auth_method': 'approle', 'role_id': self.role_id,
                           'secret_id': self.secret_id, 'ca_cert': self.pki.cert_path.read_text()}
        self.tarball = collection_tarball(self.workdir / 'tarball')
        self.user_key = self.workdir / 'user_key'
        subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', str(self.user_key)], check=True)
        self.user_cert = self.workdir / 'user_key-cert.pub'
        self.user_cert.write_text(self.bao.sign('adm-role', Path(str(self.user_key) + '.pub').read_text(),
                                                ['ops-admin'], ttl='1h') + '\n')
        self.fleet = None

    def secrets(self):
        return [s.encode() for s in (self.secret_id, self.bao.token)]

    def new_fleet(self):
        """A fresh fleet (the previous one stopped): every run starts from the same clean hosts."""
        if self.fleet is not None:
            self.fleet.stop()
        self.fleet = Fleet(HOSTS, self.workdir, base=BASE).start()
        for host in self.fleet:
            for account in PRINCIPALS:
                host.run(['useradd', '-m', '-s', '/bin/bash', '-p', '*', account])
        return self.fleet

    def inventory(self, audit_log):
        """The fleet's inventory with the non-secret warden_* variables (no OpenBao address or secret)."""
        inv = yaml.safe_load(self.fleet.inventory_path.read_text())
        inv['all']['children']['fleet']['vars'].update({
            'warden_actors': ACTORS, 'warden_host_principals': PRINCIPALS,
            'warden_host_actors': ['atm-backup-daily'], 'warden_audit_log': str(audit_log),
        })
        return inv

    def login(self, host):
        argv = host.ssh_argv(user='ops', key=str(self.user_key), cert=str(self.user_cert))
        return subprocess.run(argv + ['id -un'], capture_output=True, text=True, timeout=30, check=False)

    def outcome(self):
        """What the rollout left on each host, and whether a login with a user certificate works."""
        out = {}
        for host in self.fleet:
            out[host.name] = {
                'files': dict((p, host.read_etc(p)) for p in HOST_FILES),
                'host_cert': cert_facts(host, HOST_CERT),
                'actor_cert': cert_facts(host, ACTOR_CERT),
                'login': self.login(host).stdout.strip(),
            }
        return out

    def stop(self):
        if self.fleet is not None:
            self.fleet.stop()
        self.bao.stop()


def survey_answers():
    """cert_rollout's survey answered with its defaults, as AWX puts them into extra vars."""
    templates = yaml.safe_load((AWX_DIR / 'job_templates.yml').read_text())['warden_awx_job_templates']
    survey = [t for t in templates if t['playbook'] == 'cert_rollout.yml'][0]['survey_spec']['spec']
    return dict((q['variable'], q['default']) for q in survey)


def comparable(outcome):
    """The outcome without what differs between two fleets by nature (host keys, serials)."""
    out = {}
    for name, host in outcome.items():
        out[name] = dict(host, host_cert=dict((k, v) for k, v in host['host_cert'].items() if k != 'serial'),
                         actor_cert=dict((k, v) for k, v in host['actor_cert'].items()
                                         if k not in ('serial', 'key_id')))
        out[name]['actor_key_id'] = re.sub(r'decision:[0-9a-f]{16}', 'decision:*', host['actor_cert']['key_id'])
    return out


def job_events(artifacts):
    events = []
    for path in sorted((artifacts / 'job_events').glob('*.json'), key=lambda p: int(p.name.split('-')[0])):
        events.append(json.loads(path.read_text()))
    return events


@pytest.fixture(scope='module')
def runs(isolated, tmp_path_factory):
    """Both runs, each on a fresh fleet: the plain ansible-playbook one first (its outcome
    recorded, its fleet stopped), then the ansible-runner one (its fleet kept for the tests)."""
    bed = AwxBed(tmp_path_factory.mktemp('awx'))
    try:
        # --- the reference: ansible-playbook with the credential in the environment
        bed.new_fleet()
        plain_dir = bed.workdir / 'plain'
        plain_env = AWX.inject(bed.credential_type, bed.credential, plain_dir)
        inventory = plain_dir / 'inventory.yml'
        inventory.write_text(yaml.safe_dump(bed.inventory(plain_dir / 'audit.jsonl')))
        plain = run_playbook('netkingdom.warden.cert_rollout', inventory=inventory, env=plain_env, workdir=plain_dir)
        assert plain.rc == 0, plain.output[-4000:]
        plain.outcome = bed.outcome()

        # --- the AWX job: a private data directory run by ansible-runner
        bed.new_fleet()
        pdd = bed.workdir / 'job'
        (pdd / 'project').mkdir(parents=True)
        shutil.copy(AWX_DIR / 'project' / 'cert_rollout.yml', pdd / 'project' / 'cert_rollout.yml')
        (pdd / 'inventory').mkdir()
        (pdd / 'inventory' / 'hosts').write_text(yaml.safe_dump(bed.inventory(bed.workdir / 'job-audit.jsonl')))
        (pdd / 'env').mkdir()
        extravars = dict(survey_answers(), awx_job_id=JOB_ID, tower_job_id=JOB_ID,
                         awx_job_template_name='netkingdom.warden: cert_rollout')
        (pdd / 'env' / 'extravars').write_text(json.dumps(extravars))
        collections = pdd / 'requirements_collections'
        install_tarball(bed.tarball, collections)
        envvars = AWX.inject(bed.credential_type, bed.credential, pdd)
        envvars.update({
            'JOB_ID': str(JOB_ID),
            'ANSIBLE_COLLECTIONS_PATH': str(collections),
            'ANSIBLE_COLLECTIONS_SCAN_SYS_PATH': 'False',
            'ANSIBLE_CONFIG': str(ROOT / 'tests' / 'bed' / 'ansible.cfg'),
            'ANSIBLE_HOST_KEY_CHECKING': 'False',
            'ANSIBLE_RETRY_FILES_ENABLED': 'False',
            'ANSIBLE_HOME': str(pdd / '.ansible'),
            'PATH': os.path.dirname(sys.executable) + os.pathsep + os.environ.get('PATH', ''),
        })
        job = ansible_runner.run(private_data_dir=str(pdd), playbook='cert_rollout.yml', ident=str(JOB_ID),
                                 envvars=envvars, suppress_env_files=True, quiet=True)
        job.pdd = pdd
        job.artifacts = pdd / 'artifacts' / str(JOB_ID)
        job.extravars = extravars
        job.envvars = envvars
        assert job.rc == 0 and job.status == 'successful', (job.artifacts / 'stdout').read_text()[-4000:]
        job.outcome = bed.outcome()
        yield bed, plain, job
    finally:
        bed.stop()


def test_runner_job_leaves_the_fleet_as_the_plain_run_does(runs):
    bed, plain, job = runs
    assert sorted(plain.outcome) == sorted(job.outcome) == ['host%d' % i for i in range(1, HOSTS + 1)]
    for name, host in job.outcome.items():
        assert host['login'] == 'ops', name  # a user certificate for ops-admin gets in
        lines = host['files']['ssh/auth_principals/ops'].splitlines()
        assert [line for line in lines if line and not line.startswith('#')] == PRINCIPALS['ops']
        assert host['host_cert']['type'] == 'host' and host['actor_cert']['type'] == 'user'
        assert host['actor_cert']['principals'] == ['atm-backup']
        assert host['actor_cert']['key_id'].startswith('warden:atm-backup-daily:decision:')
    assert job.outcome['host1']['files']['ssh/ca/ca_user.pub'].strip() == bed.bao.ca_public_key()
    assert comparable(job.outcome) == comparable(plain.outcome)


def test_runner_job_used_the_collection_installed_from_the_tarball(runs):
    bed, plain, job = runs
    installed = job.pdd / 'requirements_collections' / 'ansible_collections' / 'netkingdom' / 'warden'
    assert json.loads((installed / 'MANIFEST.json').read_text())['collection_info']['name'] == 'warden'
    # the role's tasks ran from there (the only collections path the job had)
    paths = set(e['event_data']['task_path'].rsplit(':', 1)[0] for e in job_events(job.artifacts)
                if 'roles/host_principals' in e['event_data'].get('task_path', ''))
    assert paths and all(p.startswith(str(installed) + os.sep) for p in paths), paths
    # the execution node's audit trail has every signing, and no secret
    records = [json.loads(line) for line in (bed.workdir / 'job-audit.jsonl').read_text().splitlines()]
    signed = [r for r in records if r['kind'] == 'sign' and r['outcome'] == 'signed']
    assert sorted(set(r['host'] for r in signed)) == sorted(job.outcome), records[:2]
    text = (bed.workdir / 'job-audit.jsonl').read_bytes()
    assert not any(secret in text for secret in bed.secrets()) and not TOKEN_RE.search(text)


def test_same_per_host_result_as_the_plain_run(runs):
    bed, plain, job = runs
    for name in job.outcome:
        want = plain.data['stats'][name]
        assert want['failures'] == want['unreachable'] == 0
        got = dict((k, job.stats.get(k, {}).get(name, 0)) for k in ('ok', 'changed', 'failures', 'dark'))
        assert got == {'ok': want['ok'], 'changed': want['changed'], 'failures': 0, 'dark': 0}, name
        assert want['changed'] > 0  # both were first runs on fresh hosts


def certificates_in(node, found):
    """Every certificate result (a mapping with path and serial) anywhere in an event's result."""
    if isinstance(node, dict):
        if 'path' in node and 'serial' in node and node.get('serial') is not None:
            found[node['path']] = node
        for value in node.values():
            certificates_in(value, found)
    elif isinstance(node, list):
        for value in node:
            certificates_in(value, found)
    return found


def test_job_events_carry_each_hosts_certificates(runs):
    """The job's runner_on_ok events say, per host, which certificates were signed, with the
    serials the hosts now hold: enough to build a run summary from job events (AWX, slices)."""
    bed, plain, job = runs
    events = job_events(job.artifacts)
    assert events[0]['event'] == 'playbook_on_start' and events[-1]['event'] == 'playbook_on_stats'
    assert events[0]['event_data']['playbook'] == 'cert_rollout.yml'
    ok = [e for e in events if e['event'] == 'runner_on_ok']
    for name, host in job.outcome.items():
        certs = {}
        for event in ok:
            if event['event_data']['host'] == name:
                certificates_in(event['event_data']['res'], certs)
        assert sorted(certs) == sorted([HOST_CERT, ACTOR_CERT]), (name, sorted(certs))
        assert certs[HOST_CERT]['serial'] == str(host['host_cert']['serial']) and certs[HOST_CERT]['changed']
        assert certs[ACTOR_CERT]['serial'] == str(host['actor_cert']['serial']) and certs[ACTOR_CERT]['changed']
        assert certs[ACTOR_CERT]['policy_decision_id'] in host['actor_cert']['key_id']
    assert all(event['event_data'].get('playbook') == 'cert_rollout.yml' for event in ok)


def test_no_secret_anywhere_in_the_private_data_dir(runs):
    """env/extravars, env/* (the credential's CA file), inventory, job events, stdout and every
    other artifact: no secret ID, no OpenBao token, no session token from the AppRole login.

    One known exception, asserted narrowly: ansible-runner (2.4) records the process
    environment in artifacts/<ident>/command, so the injected BAO_SECRET_ID is there (mode 0600,
    only under "env"). AWX keeps the private data directory for the job's duration only
    (AWX_CLEANUP_PATHS) and stores a redacted copy of the environment; docs/awx.md says so.
    """
    bed, plain, job = runs
    assert sorted(p.name for p in (job.pdd / 'env').iterdir())[0] == 'extravars'
    assert not (job.pdd / 'env' / 'envvars').exists()  # suppress_env_files: envvars stay in memory
    for name in job.extravars:
        assert not re.search(r'token|secret|password|key', name), name
    cafile = Path(job.envvars['BAO_CACERT'])
    assert cafile.parent == job.pdd / 'env' and stat.S_IMODE(cafile.stat().st_mode) == 0o600
    assert cafile.read_text() == bed.pki.cert_path.read_text()
    assert job.envvars['BAO_ADDR'].startswith('https://')  # the CA file is what let TLS through

    scanned, command = 0, job.artifacts / 'command'
    for path in sorted(p for p in job.pdd.rglob('*') if p.is_file() and not p.is_symlink()):
        data = path.read_bytes()
        scanned += 1
        if path == command:
            continue
        for secret in bed.secrets():
            assert secret not in data, '%s holds a secret' % path.relative_to(job.pdd)
        assert not TOKEN_RE.search(data), '%s holds an OpenBao token' % path.relative_to(job.pdd)
    assert scanned > 50 and (job.artifacts / 'stdout').stat().st_size > 0
    assert stat.S_IMODE(command.stat().st_mode) == 0o600
    recorded = json.loads(command.read_text())
    assert recorded['env']['BAO_SECRET_ID'] == bed.secret_id
    rest = json.dumps(dict((k, v) for k, v in recorded.items() if k != 'env')).encode()
    assert not any(secret in rest for secret in bed.secrets())
    # the plain run showed nothing either
    for secret in bed.secrets():
        assert secret.decode() not in plain.output
    assert not TOKEN_RE.search(plain.output.encode())
