"""Faults in the middle of a real 10-host cert_rollout: OpenBao down / sealed / 403 / 500 / slow,
the remote policy gate failing or refusing (also with fail_closed false from the inventory), the
audit log filling up, ansible-playbook killed with SIGKILL, sshd -t failing.

Real parts only: a real OpenBao dev server (with a file audit device, to count sign requests),
a fault proxy in front of it (tests/bed/fault_proxy.py), flex-auth-compatible PDPs
(tests/bed/pdp.py), 10 real sshd hosts on 127.77.40.N and `playbooks/cert_rollout.yml`.
Everything is asserted on outcomes: the files on the hosts, real logins, `sshd -t`, OpenBao's
audit counts, and each host's failed/ok status and failure messages -- never on task names.

The tests share one fleet and run in order: the OpenBao faults start from blank hosts and end
with a converged fleet, which the gate, kill and rollback tests start from (run alone, a test
converges the fleet first).
"""

import json
import os
import random
import re
import resource
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from tests.bed.ansible_run import BIN, CALLBACKS, ansible_env, run_playbook
from tests.bed.collection_path import ensure_on_path
from tests.bed.fault_proxy import FaultProxy, signs_for, wait_for
from tests.bed.fleet import Fleet
from tests.bed.openbao import OpenBaoDev, count_sign_requests
from tests.bed.pdp import PdpProcess

ensure_on_path()
from ansible_collections.netkingdom.warden.plugins.module_utils._audit.query import query  # noqa: E402

pytestmark = pytest.mark.reliability

BOOK = 'netkingdom.warden.cert_rollout'
HOSTS = 10
BASE = '127.77.40.'
SLOW_TIMEOUT = 2  # seconds: the OpenBao client timeout of the host behind the slow fault proxy
ACTORS = {
    'adm-example': {'type': 'adm', 'principals': ['adm-example', 'ops-admin'], 'ttl_hours': 8},
    'agt-state-hub-bridge': {'type': 'agt', 'principals': ['agt-task-bridge', 'agt-bridge-v2'], 'ttl_hours': 24},
    'atm-backup-daily': {'type': 'atm', 'principals': ['atm-backup'], 'ttl_hours': 8},
}
PRINCIPALS = {'ops': ['adm-example', 'ops-admin'], 'svc': ['agt-task-bridge']}
PRINCIPALS_V2 = {'ops': ['adm-example', 'ops-admin'], 'svc': ['agt-task-bridge', 'agt-bridge-v2']}
ROLE_FOR = {'adm-example': 'adm-role', 'ops-admin': 'adm-role', 'agt-task-bridge': 'agt-role',
            'agt-bridge-v2': 'agt-role', 'atm-backup': 'atm-role'}
DROP_IN = 'ssh/sshd_config.d/20-netkingdom-warden.conf'
HOST_CERT = 'ssh/ssh_host_ed25519_key-cert.pub'
# /etc/<path> files the rollout manages (sshd_config only when it lacks the Include line)
ETC_FILES = ('ssh/ca/ca_user.pub', 'ssh/auth_principals/ops', 'ssh/auth_principals/svc', DROP_IN, HOST_CERT,
             'ssh/sshd_config')
ACTOR_CERT = 'actors/%s/id_ed25519-cert.pub'  # under /var/lib/warden
TOKEN_SHAPE = re.compile(r'\b(hvs|s)\.[A-Za-z0-9]{20,}')


def read_or_none(path):
    try:
        return Path(path).read_text()
    except FileNotFoundError:
        return None


def etc_or_none(host, relpath):
    try:
        return host.read_etc(relpath)
    except FileNotFoundError:
        return None


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def entries(text):
    """The non-comment lines of a principals or trust file."""
    return [line.strip() for line in (text or '').splitlines() if line.strip() and not line.lstrip().startswith('#')]


def failures(run):
    """host -> every failure message of that host in the run (task and loop item level)."""
    found = {}
    for play in (run.data or {}).get('plays', []):
        for task in play['tasks']:
            for host, res in task['hosts'].items():
                if not res.get('failed'):
                    continue
                msgs = [str(res.get('msg', ''))]
                msgs += [str(item.get('msg', '')) for item in res.get('results', []) if item.get('failed')]
                found.setdefault(host, []).extend(m for m in msgs if m)
    return found


def failed_hosts(run):
    return sorted(h for h, s in run.data['stats'].items() if s['failures'] or s['unreachable'])


class ReliabilityBed(object):
    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.bao = OpenBaoDev(self.workdir / 'bao').start()
        self.proxies = []
        self.pdps = []
        self.fleet = None
        try:
            self.bao.setup_ssh_engine()
            self.bao_audit = self.bao.enable_audit_file(self.workdir / 'bao-audit.log')
            self.proxy = self.new_proxy('main')
            self.fleet = Fleet(HOSTS, self.workdir, base=BASE).start()
            for host in self.fleet:
                for account in ('ops', 'svc'):
                    host.run(['useradd', '-m', '-s', '/bin/bash', '-p', '*', account])
            self.user_key = self.workdir / 'user_key'
            subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', str(self.user_key)], check=True)
            self.ca = self.bao.ca_public_key()
            self.known_hosts = self.workdir / 'ca_known_hosts'
            self.known_hosts.write_text('@cert-authority *.fleet.test %s\n' % self.ca)
            self.audit = self.workdir / 'warden-audit.jsonl'
            self.certs = {}
            self.inventories = 0
            self.timings = []
            self.counts = {'host states checked': 0, 'logins tried': 0}
            self.pristine = dict((h.name, self.host_files(h)) for h in self.fleet)  # nothing of the role yet
        except BaseException:
            self.stop()
            raise

    def new_proxy(self, name):
        proxy = FaultProxy(self.bao.url, name=name).start()
        self.proxies.append(proxy)
        return proxy

    def stop(self):
        for pdp in self.pdps:
            pdp.stop()
        for proxy in self.proxies:
            proxy.stop()
        if self.fleet is not None:
            self.fleet.stop()
        self.bao.stop()

    # --- inventories and runs -------------------------------------------------------------------
    def openbao(self, url=None, timeout=10):
        return {'url': url or self.proxy.url, 'token': self.bao.token, 'timeout': timeout, 'retries': 1}

    def inventory(self, principals=None, per_host=None, **group_vars):
        inv = yaml.safe_load(self.fleet.inventory_path.read_text())
        group = inv['all']['children']['fleet']
        group['vars'].update({
            'warden_actors': ACTORS, 'warden_audit_log': str(self.audit),
            'warden_openbao': self.openbao(),
            'warden_host_principals': principals or PRINCIPALS,
            'warden_host_actors': ['atm-backup-daily'],
        })
        group['vars'].update(group_vars)
        for name, extra in (per_host or {}).items():
            group['hosts'][name].update(extra)
        self.inventories += 1
        path = self.workdir / ('inventory-%d.yml' % self.inventories)
        path.write_text(yaml.safe_dump(inv, sort_keys=False))  # keep host1..host10 in order (batches)
        return path

    def rollout(self, tmp_path, inventory=None, env=None, preexec_fn=None, **extra_vars):
        started, cpu = time.monotonic(), children_cpu()
        run = run_playbook(BOOK, inventory=inventory or self.inventory(), workdir=tmp_path,
                           extra_vars=extra_vars or None, env=env, preexec_fn=preexec_fn)
        self.timings.append((round(time.monotonic() - started, 1), round(children_cpu() - cpu, 1)))
        assert run.data, run.output[-3000:]
        assert self.bao.token not in run.output and not TOKEN_SHAPE.search(run.output)
        return run

    def popen_rollout(self, tmp_path, inventory, log_path, **extra_vars):
        """ansible-playbook in its own process group (so it can be killed with all its workers)."""
        cmd = [os.path.join(BIN, 'ansible-playbook'), BOOK, '-i', str(inventory)]
        if extra_vars:
            cmd += ['-e', json.dumps(extra_vars)]
        env = ansible_env(None, tmp_path)
        env.update(ANSIBLE_STDOUT_CALLBACK='test_json', ANSIBLE_CALLBACK_PLUGINS=CALLBACKS)
        with open(log_path, 'wb') as log:
            return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)

    # --- what the hosts have ---------------------------------------------------------------------
    def warden_path(self, host, relpath):
        return host.dir / 'warden' / relpath

    def host_files(self, host, actors=('atm-backup-daily', 'agt-state-hub-bridge')):
        files = dict((p, etc_or_none(host, p)) for p in ETC_FILES)
        for actor in actors:
            files['warden/' + ACTOR_CERT % actor] = read_or_none(self.warden_path(host, ACTOR_CERT % actor))
        return files

    def strays(self, host):
        """Temporary or partial files next to the managed ones (backups `name.<pid>.<date>~` are fine)."""
        found = []
        for top in (host.upper / 'ssh', host.dir / 'warden'):
            for dirpath, dirnames, filenames in os.walk(top):
                for name in filenames + dirnames:
                    path = Path(dirpath) / name
                    if path.is_char_device():
                        continue  # an overlay whiteout: a file the host deleted
                    if name.startswith('.') or 'tmp' in name.lower() or name.endswith(('.new', '.part', '.swp')):
                        found.append(str(path.relative_to(host.dir)))
        return found

    def sshd_t(self, host):
        self.counts['host states checked'] += 1  # every check of a host's state runs sshd -t once
        return host.run(['/usr/sbin/sshd', '-t'], check=False)

    def cert(self, principal):
        if principal not in self.certs:
            path = self.workdir / ('cert-%s.pub' % principal)
            path.write_text(self.bao.sign(ROLE_FOR[principal], Path(str(self.user_key) + '.pub').read_text(),
                                          [principal], ttl='2h') + '\n')
            self.certs[principal] = path
        return self.certs[principal]

    def login(self, host, account, principal, strict_host_cert=False):
        """A real login with a user certificate; with strict_host_cert the host must also present a
        host certificate that verifies against the CA (no host key pinned)."""
        extra = ()
        if strict_host_cert:
            extra = ('-o', 'StrictHostKeyChecking=yes', '-o', 'UserKnownHostsFile=%s' % self.known_hosts,
                     '-o', 'HostKeyAlias=%s' % host.fqdn)
        argv = host.ssh_argv(user=account, key=str(self.user_key), cert=str(self.cert(principal)), extra=extra)
        res = subprocess.run(argv + ['id -un'], capture_output=True, text=True, timeout=30, check=False)
        return res.returncode == 0 and res.stdout.strip() == account, res.stderr.strip()[-300:]

    def logins(self, checks):
        """Run [(host, account, principal, strict)] in parallel: {(host name, account, principal): (ok, why)}."""
        self.counts['logins tried'] += len(checks)
        for check in checks:  # every certificate written once, before the threads read them
            self.cert(check[2])
        with ThreadPoolExecutor(8) as pool:
            results = pool.map(lambda c: self.login(*c), checks)
            return dict(((c[0].name, c[1], c[2]), r) for c, r in zip(checks, results))

    def cert_from_ca(self, text):
        """The certificate in `text` parses, is signed by the OpenBao CA and is valid now."""
        info = subprocess.run(['ssh-keygen', '-L', '-f', '-'], input=text, capture_output=True, text=True,
                              check=False)
        ca_fp = subprocess.run(['ssh-keygen', '-l', '-f', '-'], input=self.ca + '\n', capture_output=True,
                               text=True, check=True).stdout.split()[1]
        if info.returncode != 0 or 'Signing CA: ' not in info.stdout or ca_fp not in info.stdout:
            return False
        valid = re.search(r'Valid: from (\S+) to (\S+)', info.stdout)
        now = time.strftime('%Y-%m-%dT%H:%M:%S')
        return bool(valid) and valid.group(1) <= now < valid.group(2)

    def reset(self, hosts):
        """Remove everything the role wrote (as on a host that never saw a rollout) and reload sshd."""
        for host in hosts:
            host.run('rm -rf /etc/ssh/ca /etc/ssh/auth_principals /etc/ssh/sshd_config.d/20-netkingdom-warden.conf* '
                     '/etc/ssh/ssh_host_ed25519_key-cert.pub* /var/lib/warden/actors')
            host.reload_sshd()

    def assert_done(self, hosts, principals=None, actors=('atm-backup-daily',)):
        """Every host has complete files, serves a host certificate from the CA, lets each account in
        with its (last) principal and refuses a principal no account lists."""
        principals = principals or PRINCIPALS
        checks = []
        for host in hosts:
            files = self.host_files(host)
            assert entries(files['ssh/ca/ca_user.pub']) == [self.ca], host.name
            for account, names in principals.items():
                assert entries(files['ssh/auth_principals/' + account]) == names, (host.name, account)
            assert 'TrustedUserCAKeys' in files[DROP_IN] and 'HostCertificate' in files[DROP_IN], host.name
            assert self.cert_from_ca(files[HOST_CERT]), host.name
            for actor in actors:
                assert self.cert_from_ca(files['warden/' + ACTOR_CERT % actor]), (host.name, actor)
            assert self.sshd_t(host).returncode == 0, host.name
            assert not self.strays(host), (host.name, self.strays(host))
            for number, (account, names) in enumerate(sorted(principals.items())):
                checks.append((host, account, names[-1], number == 0))  # the first also checks the host cert
            checks.append((host, 'svc', 'atm-backup', False))  # not a principal of any account
        for (name, account, principal), (ok, why) in self.logins(checks).items():
            assert ok == (principal != 'atm-backup'), (name, account, principal, why)

    def converge(self, tmp_path, principals=None):
        """Bring the fleet to the converged state a test starts from (a no-op after the test before)."""
        principals = principals or PRINCIPALS
        for host in self.fleet:
            files = self.host_files(host)
            if entries(files['ssh/auth_principals/svc']) != principals['svc'] or files[HOST_CERT] is None \
                    or files['warden/' + ACTOR_CERT % 'atm-backup-daily'] is None:
                run = self.rollout(tmp_path, inventory=self.inventory(principals=principals))
                assert run.rc == 0, run.output[-4000:]
                return

    def assert_untouched(self, hosts, before=None):
        for host in hosts:
            assert self.host_files(host) == (before or self.pristine)[host.name], host.name
            assert not self.strays(host), (host.name, self.strays(host))
            assert self.sshd_t(host).returncode == 0, host.name


@pytest.fixture(scope='module')
def bed(isolated, tmp_path_factory):
    b = ReliabilityBed(tmp_path_factory.mktemp('reliability'))
    try:
        yield b
    finally:
        b.stop()
        print('\nreliability rollouts (wall s, CPU s): %s; %s' % (b.timings, b.counts), file=sys.stderr)


def hosts(bed, *numbers):
    return [bed.fleet['host%d' % n] for n in numbers]


# --- OpenBao failing in the middle of a rollout ------------------------------------------------

# host -> (fault proxy settings, words its failure message must hold); batch 2 of the run below
BATCH2_FAULTS = {
    'host3': (('down', {}), 'cannot reach OpenBao'),
    'host4': (('status', {'status': 403}), 'permission denied'),
    'host5': (('status', {'status': 500}), 'HTTP 500'),
    'host6': (('slow', {'delay': SLOW_TIMEOUT + 2}), 'no answer within %ds' % SLOW_TIMEOUT),
}


def test_openbao_faults_mid_rollout_then_recovery_converges(bed, tmp_path):
    """One 10-host rollout in batches of 2, 5 and 3 (max_fail_percentage 100, so the run goes on
    after a batch with failures). Batch 1 (host1-2) signs through a healthy OpenBao. In batch 2
    OpenBao fails for host3-6 in four ways (each host's requests go through its own fault proxy:
    connection closed then refused, 403, 500, slower than the client timeout) while host7 is
    served normally. At the first sign request of batch 3 OpenBao is sealed for real. Then a
    rerun after recovery converges and a third run changes nothing and signs nothing."""
    bed.reset(bed.fleet)
    per_host = {}
    for name, ((fault, settings), dummy) in BATCH2_FAULTS.items():
        proxy = bed.new_proxy(name).arm(fault, **settings)
        per_host[name] = {'warden_openbao': bed.openbao(proxy.url, SLOW_TIMEOUT if fault == 'slow' else 10)}
    bed.proxy.arm('call', call=bed.bao.seal, trigger=signs_for(['host8', 'host9', 'host10']))
    try:
        run = bed.rollout(tmp_path, inventory=bed.inventory(per_host=per_host),
                          warden_serial=[2, 5, 3], warden_max_fail_percentage=100)
        sealed_during_run = bed.bao.health() == 503
    finally:
        for proxy in bed.proxies[1:]:
            proxy.stop()  # a held (slow) request is dropped, never forwarded later
        bed.proxy.clear()
        if bed.bao.health() == 503:
            bed.bao.unseal()
    assert sealed_during_run, 'the seal never fired: %s' % bed.proxy
    why = failures(run)
    assert failed_hosts(run) == sorted(['host3', 'host4', 'host5', 'host6', 'host8', 'host9', 'host10']), why
    for name, (dummy, words) in BATCH2_FAULTS.items():
        assert any(words in m for m in why[name]), (name, why[name])
    for name in ('host8', 'host9', 'host10'):
        assert any('sealed' in m for m in why[name]), (name, why[name])
    # the hosts done before (and beside) the faults keep complete, valid certificates and logins
    bed.assert_done(hosts(bed, 1, 2, 7))
    # the others are untouched: no certificate, trust, principals or drop-in, sshd as before
    bed.assert_untouched(hosts(bed, 3, 4, 5, 6, 8, 9, 10))

    again = bed.rollout(tmp_path)
    assert again.rc == 0, again.output[-4000:]
    stats = again.data['stats']
    assert all(stats['host%d' % n]['changed'] == 0 for n in (1, 2, 7)), stats
    assert all(stats['host%d' % n]['changed'] > 0 for n in (3, 4, 5, 6, 8, 9, 10)), stats
    bed.assert_done(bed.fleet)

    signs = count_sign_requests(bed.bao_audit)
    third = bed.rollout(tmp_path)
    assert third.rc == 0, third.output[-4000:]
    assert all(s['changed'] == 0 for s in third.data['stats'].values()), third.data['stats']
    assert count_sign_requests(bed.bao_audit) == signs


# --- the remote policy gate failing during an actor-certificate rollout -------------------------

# fault -> the deny reason: an outage is policy_unavailable, an unreadable answer policy_answer_invalid
PDP_FAULTS = (('down', 'policy_unavailable'), ('slow', 'policy_unavailable'), ('error500', 'policy_unavailable'),
              ('garbage', 'policy_answer_invalid'))


def start_pdps(bed, count):
    """``count`` PDPs serving the rollout's actors (started once for the module)."""
    ensure_on_path()
    from ansible_collections.netkingdom.warden.plugins.module_utils._inventory import actors
    from ansible_collections.netkingdom.warden.plugins.module_utils._registry import snapshot as registry
    from ansible_collections.netkingdom.warden.plugins.module_utils._registry import build as registry_build
    snapshot = bed.workdir / 'registry.json'
    snapshot.write_text(registry.to_text(registry_build.build_snapshot(actors.load_actors(ACTORS)[0])))
    while len(bed.pdps) < count:
        bed.pdps.append(PdpProcess(snapshot, bed.workdir / ('pdp-%d' % len(bed.pdps))).start())
    for pdp in bed.pdps:
        pdp.start()  # a no-op when it runs
    return bed.pdps[:count]


def pdp_policies(bed, pdps, **policy):
    """host -> warden_policy host variable: host N asks PDP N mod len(pdps)."""
    return dict((host.name, {'warden_policy': dict({'mode': 'flex_auth', 'url': pdps[index % len(pdps)].url,
                                                    'timeout': 1, 'retries': 0}, **policy)})
                for index, host in enumerate(bed.fleet))


def bridge_records(bed, since):
    return [e for e in map(json.loads, bed.audit.read_text().splitlines()[since:])
            if e.get('actor') == 'agt-state-hub-bridge']


def test_failing_pdp_signs_nothing_and_every_host_says_why(bed, tmp_path):
    """A new workload actor on every host of the converged fleet; the gate is a remote PDP with
    fail_closed, and every PDP misbehaves (hosts spread over four PDPs: stopped, slower than the
    timeout, 500, garbage body). Nothing reaches OpenBao, no certificate appears, every host
    fails with policy_unavailable (policy_answer_invalid for the garbage body), and what the hosts
    had stays as it was."""
    bed.converge(tmp_path)
    pdps = start_pdps(bed, len(PDP_FAULTS))
    per_host = pdp_policies(bed, pdps, fail_closed=True)
    expected = dict((host.name, PDP_FAULTS[index % len(PDP_FAULTS)][1]) for index, host in enumerate(bed.fleet))
    for pdp, (fault, dummy) in zip(pdps, PDP_FAULTS):
        if fault == 'down':
            pdp.stop()
        elif fault == 'slow':
            pdp.set_fault('slow', delay=3)
        else:
            pdp.set_fault(fault)
    before = dict((h.name, bed.host_files(h)) for h in bed.fleet)
    signs = count_sign_requests(bed.bao_audit)
    audit_lines = len(bed.audit.read_text().splitlines())
    try:
        run = bed.rollout(tmp_path, inventory=bed.inventory(
            per_host=per_host, warden_host_actors=['atm-backup-daily', 'agt-state-hub-bridge']))
    finally:
        for pdp in bed.pdps:
            pdp.clear_fault()
    assert count_sign_requests(bed.bao_audit) == signs  # not one sign request reached OpenBao
    why = failures(run)
    assert failed_hosts(run) == sorted(h.name for h in bed.fleet), why
    for host in bed.fleet:
        assert any(expected[host.name] in m for m in why[host.name]), (host.name, why[host.name])
    bed.assert_untouched(bed.fleet, before)  # no new certificate, nothing else changed
    denied = bridge_records(bed, audit_lines)
    assert sorted(e['host'] for e in denied) == sorted(h.name for h in bed.fleet), denied
    assert all(e['outcome'] == 'denied' and e['reason'] == expected[e['host']] and not e.get('policy_decision_id')
               and e['gate_mode'] == 'flex_auth' and e['policy_detail'] for e in denied), denied


# PDPs that answer, but with a refusal or nothing usable: never failed open (finding 14.3)
PDP_REFUSALS = (('status', {'status': 403}), ('garbage', {}), ('noid', {}),
                ('body', {'body': '{"effect": "permit", "id": "decision:0123456789abcdef"}'}))


def test_fail_open_from_the_inventory_needs_the_controller_and_never_opens_a_refusal(bed, tmp_path):
    """fail_closed: false in every host's variables, a new workload actor on every host, and PDPs
    that refuse (403), answer garbage, an allow without an id or an unknown effect. Without
    WARDEN_ALLOW_UNGATED every host fails naming policy.fail_closed and the variable (14.4); with it,
    every host fails with policy_answer_invalid (14.3). Either way nothing reaches OpenBao and the
    hosts stay as they were; each refusal is recorded."""
    bed.converge(tmp_path)
    pdps = start_pdps(bed, len(PDP_REFUSALS))
    inventory = bed.inventory(per_host=pdp_policies(bed, pdps, fail_closed=False),
                              warden_host_actors=['atm-backup-daily', 'agt-state-hub-bridge'])
    before = dict((h.name, bed.host_files(h)) for h in bed.fleet)
    signs = count_sign_requests(bed.bao_audit)
    for pdp, (fault, settings) in zip(pdps, PDP_REFUSALS):
        pdp.set_fault(fault, **settings)
    try:
        unconsented = bed.rollout(tmp_path, inventory=inventory)
        audit_lines = len(bed.audit.read_text().splitlines())
        consented = bed.rollout(tmp_path, inventory=inventory, env={'WARDEN_ALLOW_UNGATED': '1'})
    finally:
        for pdp in pdps:
            pdp.clear_fault()
    assert count_sign_requests(bed.bao_audit) == signs  # not one sign request reached OpenBao
    everyone = sorted(h.name for h in bed.fleet)
    why = failures(unconsented)
    assert failed_hosts(unconsented) == everyone, why
    assert all(any('policy.fail_closed' in m and 'WARDEN_ALLOW_UNGATED=1' in m for m in why[h]) for h in everyone), why
    why = failures(consented)
    assert failed_hosts(consented) == everyone, why
    assert all(any('policy_answer_invalid' in m for m in why[h]) for h in everyone), why
    assert not any('fail_closed is false' in m for m in consented.output.splitlines())  # nothing failed open
    bed.assert_untouched(bed.fleet, before)
    denied = bridge_records(bed, audit_lines)
    assert sorted(e['host'] for e in denied) == everyone, denied
    assert all(e['kind'] == 'policy' and e['outcome'] == 'denied' and e['reason'] == 'policy_answer_invalid'
               and e['policy_detail'] for e in denied), denied


# --- the audit log filling up in the middle of a rollout (finding 14.6) -------------------------

FSIZE_LIMIT = 1024 * 1024


def limit_file_size():
    """In the ansible-playbook child: no file may grow past FSIZE_LIMIT (a disk that is full)."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (FSIZE_LIMIT, FSIZE_LIMIT))


def serial_of(text):
    shown = subprocess.run(['ssh-keygen', '-L', '-f', '-'], input=text, capture_output=True, text=True, check=True)
    return re.search(r'Serial: (\d+)', shown.stdout).group(1)


def test_audit_log_full_mid_rollout_no_certificate_without_its_line(bed, tmp_path):
    """Each host writes its own audit log. A converged run shows what a host's kept records take;
    then every workload actor certificate is signed again, and on host6-10 the log has room for
    those kept records only (the disk fills up mid-rollout). host1-5 get their new certificate and
    its line; host6-10's certificates are signed, then discarded: not written, no line, the old one
    stays. Every certificate on a host has its line."""
    bed.converge(tmp_path)
    logs = dict((h.name, tmp_path / ('audit-%s.jsonl' % h.name)) for h in bed.fleet)
    per_host = dict((name, {'warden_audit_log': str(path)}) for name, path in logs.items())
    inventory = bed.inventory(per_host=per_host)
    converged = bed.rollout(tmp_path, inventory=inventory)
    assert converged.rc == 0 and all(converged.data['stats'][h.name]['changed'] == 0 for h in bed.fleet), \
        converged.output[-3000:]
    kept = dict((name, path.read_bytes()) for name, path in logs.items())
    assert all([json.loads(line)['outcome'] for line in data.splitlines()] == ['kept', 'kept']
               for data in kept.values()), kept
    full = ['host%d' % n for n in range(6, 11)]
    for name, path in logs.items():
        room = len(kept[name]) if name in full else FSIZE_LIMIT
        path.write_bytes(b'{"kind":"registry","outcome":"unchanged"}'.ljust(FSIZE_LIMIT - room - 1) + b'\n'
                         if name in full else b'')
    filled = dict((name, logs[name].read_bytes()) for name in full)
    before = dict((h.name, bed.host_files(h)) for h in bed.fleet)
    signs = count_sign_requests(bed.bao_audit)
    run = bed.rollout(tmp_path, inventory=inventory, preexec_fn=limit_file_size, host_principals_actor_force=True)

    actor_cert = 'warden/' + ACTOR_CERT % 'atm-backup-daily'
    why = failures(run)
    assert failed_hosts(run) == sorted(full), why
    assert count_sign_requests(bed.bao_audit) == signs + 10  # all ten signed; five never left the controller
    for host in bed.fleet:
        now = bed.host_files(host)
        signed = [r for r in query(str(logs[host.name])) if r.get('outcome') == 'signed']
        if host.name in full:
            assert now == before[host.name] and signed == []  # on the old code: a new certificate, no line
            assert any('was signed but its audit record could not be written, so it was discarded' in m
                       for m in why[host.name]), why[host.name]
            assert logs[host.name].read_bytes().startswith(filled[host.name])
            assert [json.loads(line)['outcome'] for line in
                    logs[host.name].read_bytes()[len(filled[host.name]):].splitlines()] == ['kept']  # no half line
        else:
            assert now[actor_cert] != before[host.name][actor_cert] and bed.cert_from_ca(now[actor_cert])
            assert [(r['host'], r['actor'], r['serial']) for r in signed] == [
                (host.name, 'atm-backup-daily', serial_of(now[actor_cert]))]
    bed.assert_done(bed.fleet)  # every host still works: the old certificates stay valid


# --- ansible-playbook killed with SIGKILL -----------------------------------------------------

def wait_quiet(bed, timeout=15.0):
    """Until no Ansible module is still running on any host (a killed controller leaves them
    to finish on their own)."""
    def quiet():
        return all(h.run(['pgrep', '-f', 'ansible|AnsiballZ'], check=False).returncode == 1 for h in bed.fleet)
    assert wait_for(quiet, timeout, 0.1), 'Ansible modules still running on the hosts'


def assert_never_locked_out(bed, context, base, svc_texts):
    """Every host: sshd -t passes, no temporary file, every managed file is complete: as before
    the kill (`base`), or for the svc principals the old or the new content (at most two texts
    fleet-wide, each listing one of the two versions), for the actor certificate a valid one;
    and the principals both versions share still log in."""
    checks = []
    for host in bed.fleet:
        files = bed.host_files(host)
        where = '%s %s' % (context, host.name)
        assert bed.sshd_t(host).returncode == 0, where
        assert not bed.strays(host), (where, bed.strays(host))
        for path, text in base[host.name].items():
            if path not in ('ssh/auth_principals/svc', 'warden/' + ACTOR_CERT % 'atm-backup-daily'):
                assert files[path] == text, (where, path)
        svc = files['ssh/auth_principals/svc']
        assert entries(svc) in (PRINCIPALS['svc'], PRINCIPALS_V2['svc']), (where, svc)
        svc_texts.add(svc)
        assert len(svc_texts) <= 2, (where, svc_texts)
        actor_cert = files['warden/' + ACTOR_CERT % 'atm-backup-daily']
        assert actor_cert is None or bed.cert_from_ca(actor_cert), (where, actor_cert)
        checks += [(host, 'svc', 'agt-task-bridge', True), (host, 'ops', 'ops-admin', True)]
    failed = [(key, why) for key, (ok, why) in bed.logins(checks).items() if not ok]
    if failed:
        time.sleep(2)
        again = bed.logins([c for c in checks if (c[0].name, c[1], c[2]) in dict(failed)])
        logs = dict((name, bed.fleet[name].sshd_log()[-1500:]) for (name, dummy, dummy2), dummy3 in failed)
        raise AssertionError('%s: logins refused: %s; 2 s later: %s; sshd logs: %s' % (context, failed, again, logs))


def killer(holder):
    """A call for the fault proxy: SIGKILL to the process group in holder['pgid'] (ours)."""
    def kill():
        os.killpg(holder['pgid'], signal.SIGKILL)
    return kill


def applying(paths):
    """A kill condition: one of these principals files now holds the new principal."""
    paths = list(paths)

    def condition():
        return any('agt-bridge-v2' in (read_or_none(path) or '') for path in paths)
    return condition


def test_killed_rollouts_never_lock_a_host_out_and_a_rerun_converges(bed, tmp_path):
    """Starting from the converged fleet, rollouts that add (or remove again) a principal of svc
    are killed with SIGKILL (the whole process group: ansible-playbook and its workers): at the
    first sign request (the batch's login probe, right after the new files were applied and sshd
    reloaded), as soon as a host still on the old principals gets its new file, at two random offsets (while actor
    certificates are being renewed too). After each kill every host still passes sshd -t, holds
    only complete files and lets the unchanged principals in; a final rerun converges."""
    bed.converge(tmp_path)
    seed = int(os.environ.get('WARDEN_RELIABILITY_SEED', int(time.time())))
    rng = random.Random(seed)
    inv_v2 = bed.inventory(principals=PRINCIPALS_V2)
    inv_v1 = bed.inventory(principals=PRINCIPALS)
    kills = [
        ('first sign request', inv_v2, None),
        ('a host applying its new files', inv_v2, 'apply'),
        ('random offset, removing the principal again', inv_v1, rng.uniform(1.0, 12.0)),
        ('random offset, adding it again', inv_v2, rng.uniform(1.0, 12.0)),
    ]
    report = []
    base = dict((h.name, bed.host_files(h)) for h in bed.fleet)
    svc_texts = set(base[h.name]['ssh/auth_principals/svc'] for h in bed.fleet)
    for number, (point, inventory, when) in enumerate(kills):
        context = 'kill %d (%s, seed %d)' % (number + 1, point, seed)
        if number >= 2:  # renew the workload actor certificates in this run too
            for host in bed.fleet:
                host.run(['rm', '-f', '/var/lib/warden/' + ACTOR_CERT % 'atm-backup-daily'])
        log = tmp_path / ('kill-%d.log' % (number + 1))
        holder = {}
        if when is None:
            bed.proxy.arm('kill', call=killer(holder))
        if when == 'apply':  # the first host still on the old principals that gets the new file
            pending = [h.upper / 'ssh' / 'auth_principals' / 'svc' for h in bed.fleet
                       if 'agt-bridge-v2' not in (etc_or_none(h, 'ssh/auth_principals/svc') or '')]
            assert pending, context
            when = applying(pending)
        started = time.monotonic()
        proc = bed.popen_rollout(tmp_path, inventory, log, warden_serial=5)
        holder['pgid'] = proc.pid
        killed = None
        try:
            while proc.poll() is None:
                elapsed = time.monotonic() - started
                if (callable(when) and when()) or (isinstance(when, float) and elapsed >= when):
                    os.killpg(proc.pid, signal.SIGKILL)
                    killed = elapsed
                    break
                time.sleep(0.01)
            proc.wait(120)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            bed.proxy.clear()
        if when is None:
            killed = None if proc.returncode != -signal.SIGKILL else time.monotonic() - started
        if number < 2:  # the two deterministic points must really have been reached
            assert proc.returncode == -signal.SIGKILL, (context, proc.returncode, log.read_text()[-3000:])
        report.append((point, killed, proc.returncode))
        wait_quiet(bed)
        assert_never_locked_out(bed, context, base, svc_texts)
        assert bed.bao.token not in log.read_text()

    final = bed.rollout(tmp_path, inventory=inv_v2)
    assert final.rc == 0, (report, final.output[-4000:])
    bed.assert_done(bed.fleet, principals=PRINCIPALS_V2)
    print('kills (point, seconds after start, rc): %s; seed %d' % (report, seed), file=sys.stderr)


# --- rollback when sshd -t fails with the new drop-in -----------------------------------------

MATCH_BLOCK = '\n# local: per-user settings\nMatch User nobody\n    Include /etc/ssh/sshd_config.d/*.conf\n'


def test_sshd_t_failure_with_the_new_drop_in_rolls_back(bed, tmp_path):
    """host2's sshd_config also includes the drop-in directory inside a Match block. With host
    certificates off, the drop-in holds only directives Match allows and sshd -t passes; turning
    host certificates on adds HostCertificate, which sshd -t refuses inside Match (the drop-in
    alone is valid). The rollout must put the previous files back, keep sshd running on them and
    report why; the other host of the run is unaffected."""
    odd, other = bed.fleet['host2'], bed.fleet['host1']
    limit = {'warden_rollout_hosts': 'host1,host2'}
    per_host = {'host2': {'host_principals_host_certificates': False}}
    prep = bed.rollout(tmp_path, inventory=bed.inventory(principals=PRINCIPALS_V2, per_host=per_host), **limit)
    assert prep.rc == 0, prep.output[-4000:]
    assert 'HostCertificate' not in odd.read_etc(DROP_IN)
    config = odd.read_etc('ssh/sshd_config')
    odd.write_file('/etc/ssh/sshd_config', config + MATCH_BLOCK)
    try:
        assert bed.sshd_t(odd).returncode == 0
        odd.reload_sshd()
        before = bed.host_files(odd)
        run = bed.rollout(tmp_path, inventory=bed.inventory(principals=PRINCIPALS_V2), **limit)
        why = failures(run)
        assert failed_hosts(run) == ['host2'], why
        # sshd's own words, as the failing host reports them
        assert any("'HostCertificate' is not allowed within a Match block" in m for m in why['host2']), why['host2']
        after = bed.host_files(odd)
        for path in ('ssh/ca/ca_user.pub', 'ssh/auth_principals/ops', 'ssh/auth_principals/svc', DROP_IN,
                     'ssh/sshd_config'):
            assert after[path] == before[path], path
        assert bed.sshd_t(odd).returncode == 0
        assert not bed.strays(odd), bed.strays(odd)
        results = bed.logins([(odd, 'svc', 'agt-bridge-v2', False), (odd, 'ops', 'adm-example', False)])
        assert all(ok for ok, dummy in results.values()), results
        bed.assert_done([other], principals=PRINCIPALS_V2)
    finally:
        odd.write_file('/etc/ssh/sshd_config', config)
        odd.reload_sshd()


# --- hostile hosts and hostile input (issue 14: findings 1, 2, 7, 11) ---------------------------

ROOT_ONLY = '/etc/warden-root-only'
ROOT_LINE = 'root-only-secret-line'


def test_planted_links_and_hostile_values_stop_only_what_they_touch(bed, tmp_path):
    """Mid-fleet, host3's principals directory is a symbolic link and host4's workload actor certificate
    links to a root-only file: a rollout to the next principals fails exactly those two hosts, naming the
    link, reads nothing through it and writes nothing there; host5 converges. Then an option-looking
    account in one host's variables and a line break in a revoked key stop the run before any host
    is touched, and no command runs on the controller."""
    odd_dir, odd_cert, fine = hosts(bed, 3, 4, 5)
    limit = {'warden_rollout_hosts': 'host3,host4,host5', 'warden_max_fail_percentage': 100}
    cert = '/var/lib/warden/' + ACTOR_CERT % 'atm-backup-daily'
    for host in (odd_dir, odd_cert):
        host.write_file(ROOT_ONLY, ROOT_LINE + '\n', mode=0o600)
    odd_dir.run('mkdir -p /etc/ssh/auth_principals && mv /etc/ssh/auth_principals /etc/ssh/elsewhere '
                '&& ln -s /etc/ssh/elsewhere /etc/ssh/auth_principals')
    odd_cert.run('mkdir -p %s && rm -f %s && ln -s %s %s' % (os.path.dirname(cert), cert, ROOT_ONLY, cert))
    try:
        before = dict((h.name, bed.host_files(h)) for h in (odd_dir, odd_cert))
        run = bed.rollout(tmp_path, inventory=bed.inventory(principals=PRINCIPALS_V2), **limit)
        why = failures(run)
        assert failed_hosts(run) == ['host3', 'host4'], why
        assert any('refusing /etc/ssh/auth_principals/' in m and '/etc/ssh/auth_principals is a symbolic link' in m
                   for m in why['host3']), why['host3']
        assert any('refusing %s: it is a symbolic link' % cert in m for m in why['host4']), why['host4']
        assert ROOT_LINE not in run.output
        for host in (odd_dir, odd_cert):
            assert host.run(['cat', ROOT_ONLY]).stdout == ROOT_LINE + '\n'
            assert host.run(['stat', '-c', '%a %U', ROOT_ONLY]).stdout.strip() == '600 root'
            assert bed.host_files(host) == before[host.name], host.name
            assert not bed.strays(host), bed.strays(host)
            assert bed.sshd_t(host).returncode == 0
        assert odd_cert.run(['test', '-L', cert], check=False).returncode == 0  # never replaced
        bed.assert_done([fine], principals=PRINCIPALS_V2)
    finally:
        odd_dir.run('rm -f /etc/ssh/auth_principals && mv /etc/ssh/elsewhere /etc/ssh/auth_principals')
        odd_cert.run(['rm', '-f', cert, ROOT_ONLY])
        odd_dir.run(['rm', '-f', ROOT_ONLY])

    trap = tmp_path / 'trap'
    trap.mkdir()
    hostile = '-oProxyCommand=touch %s/pwned' % trap
    now = dict((h.name, bed.host_files(h)) for h in (fine, bed.fleet['host6']))
    signs = count_sign_requests(bed.bao_audit)
    per_host = {'host5': {'warden_host_principals': dict(PRINCIPALS_V2, **{hostile: ['agt-task-bridge']})}}
    account = bed.rollout(tmp_path, inventory=bed.inventory(principals=PRINCIPALS_V2, per_host=per_host),
                          warden_rollout_hosts='host5,host6')
    # checked once for the play, before any host is touched: the run stops there for every host
    assert account.rc != 0 and failed_hosts(account) == ['host5'], failures(account)
    assert any('principal(s) or account(s)' in m and '-oProxyCommand' in m
               for m in failures(account)['host5']), failures(account)
    newline = bed.rollout(tmp_path, inventory=bed.inventory(
        principals=PRINCIPALS_V2, warden_revoked_keys=[bed.ca + ' c\nserial: 1-18446744073709551615']),
        warden_rollout_hosts='host5,host6')
    assert newline.rc != 0 and failed_hosts(newline) == ['host5', 'host6'], failures(newline)
    assert all(any('revoked_keys[0]' in m and 'control characters' in m for m in msgs)
               for msgs in failures(newline).values()), failures(newline)
    assert list(trap.iterdir()) == []  # nothing ran on the controller
    assert count_sign_requests(bed.bao_audit) == signs  # nothing was signed
    for host in (fine, bed.fleet['host6']):
        assert bed.host_files(host) == now[host.name], host.name
    bed.assert_done([fine], principals=PRINCIPALS_V2)
