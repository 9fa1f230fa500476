"""cert_rollout against an OpenBao set up the way existing deployments have it, on a real fleet.

The user CA on ssh/ with ops-warden's runbook roles word for word (no allow_user_key_ids: a sign
request with key_id gets HTTP 400), the host CA on a mount of its own (ssh-host-signer/, OpenBao's
two-mount layout) whose host role signs only names under fleet.test. The mini hosts are in the
inventory as hostN.fleet.test with ansible_host their loopback address.

Shown here: the rollout converges and a second run signs nothing; logins work with a known_hosts
that holds only `@cert-authority *.fleet.test <host CA>` and strict host key checking; a host that
claims a foreign name gets a certificate with the inventory's name only; an answer from another CA
is refused and nothing is written; a forged certificate planted on a host is renewed, not kept.
"""

import base64
import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.bed.ansible_run import run_playbook
from tests.bed.fault_proxy import FaultProxy, to_mount
from tests.bed.fleet import Fleet
from tests.bed.openbao import RUNBOOK_HOST_MOUNT, OpenBaoDev, count_sign_requests

DOMAIN = 'fleet.test'
HOSTS = 3
HOST_KEY = 'ssh/ssh_host_ed25519_key'
HOST_CERT = HOST_KEY + '-cert.pub'
ACTORS = {
    'adm-example': {'type': 'adm', 'principals': ['adm-example', 'ops-admin'], 'ttl_hours': 8},
    'atm-backup-daily': {'type': 'atm', 'principals': ['atm-backup'], 'ttl_hours': 8},
}
PRINCIPALS = {'ops': ['adm-example', 'ops-admin']}
KEY_ID_WARNING = 'OpenBao role %s on %s/ does not allow key ids'


def keygen(path, *args):
    subprocess.run(['ssh-keygen', '-q', '-N', '', '-C', '', '-f', str(path)] + list(args), check=True)
    return Path(str(path) + '.pub').read_text().strip()


def ssh_keygen_list(text, workdir):
    path = Path(workdir) / 'shown-cert.pub'
    path.write_text(text)
    return subprocess.run(['ssh-keygen', '-L', '-f', str(path)], capture_output=True, text=True, check=True).stdout


def principals_of(listing):
    """The principals `ssh-keygen -L` lists (the lines indented under "Principals:")."""
    lines = listing.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == 'Principals:') + 1
    names = []
    for line in lines[start:]:
        if not line.startswith(' ' * 16):
            break
        names.append(line.strip())
    return names


def flat(text):
    """Output with every run of whitespace as one space (warnings are wrapped to the terminal width)."""
    return ' '.join(text.split())


class RunbookBed(object):
    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.bao = OpenBaoDev(self.workdir / 'bao').start()
        self.bao.setup_runbook(domain=DOMAIN)
        self.bao_audit = self.bao.enable_audit_file(self.workdir / 'bao-audit.log')
        self.user_ca = self.bao.ca_public_key('ssh')
        self.host_ca = self.bao.ca_public_key(RUNBOOK_HOST_MOUNT)
        self.fleet = Fleet(HOSTS, self.workdir, domain=DOMAIN, base='127.77.13.').start()
        for host in self.fleet:
            host.run(['useradd', '-m', '-s', '/bin/bash', '-p', '*', 'ops'])
        self.audit = self.workdir / 'audit.jsonl'
        self.user_key = self.workdir / 'user_key'
        keygen(self.user_key, '-t', 'ed25519')
        cert = self.bao.sign('adm-role', Path(str(self.user_key) + '.pub').read_text(), ['ops-admin'], ttl='1h')
        self.user_cert = self.workdir / 'user_cert.pub'
        self.user_cert.write_text(cert + '\n')

    def inventory(self, url=None, per_host=None):
        """The fleet under its DNS names (hostN.fleet.test), ansible_host the loopback address."""
        inv = yaml.safe_load(self.fleet.inventory_path.read_text())
        group = inv['all']['children']['fleet']
        group['hosts'] = dict((h.fqdn, {'ansible_host': h.address}) for h in self.fleet)
        for name, extra in (per_host or {}).items():
            group['hosts'][name].update(extra)
        group['vars'].update({
            'warden_actors': ACTORS, 'warden_audit_log': str(self.audit),
            'warden_openbao': {'url': url or self.bao.url, 'token': self.bao.token, 'host_mount': RUNBOOK_HOST_MOUNT},
            'warden_host_principals': PRINCIPALS,
            'warden_host_actors': ['atm-backup-daily'],
        })
        path = self.workdir / 'inventory.yml'
        path.write_text(yaml.safe_dump(inv))
        return path

    def rollout(self, tmp_path, limit=None, url=None, json_mode=True):
        extra = {'warden_rollout_hosts': limit} if limit else None
        run = run_playbook('netkingdom.warden.cert_rollout', inventory=self.inventory(url=url), workdir=tmp_path,
                           extra_vars=extra, json_mode=json_mode)
        assert self.bao.token not in run.output
        return run

    def signs(self):
        return count_sign_requests(self.bao_audit)

    def records(self):
        if not self.audit.exists():
            return []
        return [json.loads(line) for line in self.audit.read_text().splitlines()]

    def login(self, host, known_hosts, alias=None):
        """A real login as ops that trusts host keys only through known_hosts, strictly."""
        extra = ['-o', 'StrictHostKeyChecking=yes', '-o', 'UserKnownHostsFile=%s' % known_hosts,
                 '-o', 'HostKeyAlias=%s' % (alias or host.fqdn)]
        argv = host.ssh_argv(user='ops', key=str(self.user_key), cert=str(self.user_cert), extra=extra)
        return subprocess.run(argv + ['id -un'], capture_output=True, text=True, timeout=30, check=False)

    def stop(self):
        self.fleet.stop()
        self.bao.stop()


@pytest.fixture(scope='module')
def rb(isolated, tmp_path_factory):
    bed = RunbookBed(tmp_path_factory.mktemp('runbook'))
    try:
        yield bed
    finally:
        bed.stop()


def test_rollout_converges_on_runbook_roles_and_a_host_ca_mount(rb, tmp_path):
    run = rb.rollout(tmp_path, json_mode=False)  # Ansible's own output, as an operator sees it
    assert run.rc == 0, run.output[-5000:]
    assert 'failed=0' in run.stdout and 'failed=1' not in run.stdout
    # each host's worker met the refusal (and signed without a key id); the run shows one warning per role
    for role, mount in (('host-role', RUNBOOK_HOST_MOUNT), ('atm-role', 'ssh')):
        assert flat(run.output).count('[WARNING]: ' + KEY_ID_WARNING % (role, mount)) == 1, run.output[-5000:]
    for host in rb.fleet:
        assert host.read_etc('ssh/ca/ca_user.pub').split() == rb.user_ca.split()
        listing = ssh_keygen_list(host.read_etc(HOST_CERT), tmp_path)
        assert 'host certificate' in listing and principals_of(listing) == [host.fqdn]
        parsed_ca = subprocess.run(['ssh-keygen', '-l', '-f', '/dev/stdin'], input=rb.host_ca, capture_output=True,
                                   text=True, check=True).stdout.split()[1]
        assert 'Signing CA: ECDSA %s' % parsed_ca in listing  # the host CA, not the user CA
    # the certificate-to-decision link: OpenBao named the key id, the audit record keeps serial + decision
    actor_signs = [r for r in rb.records() if r['outcome'] == 'signed' and r['actor'] == 'atm-backup-daily']
    assert len(actor_signs) == HOSTS
    for record in actor_signs:
        assert record['key_id'].startswith('vault-') and record['policy_decision_id'].startswith('decision:')
        host = rb.fleet[record['host']]
        shown = host.run(['ssh-keygen', '-L', '-f', '/var/lib/warden/actors/atm-backup-daily/id_ed25519-cert.pub'])
        assert 'Serial: %s' % record['serial'] in shown.stdout


def test_second_rollout_signs_nothing(rb, tmp_path):
    before = rb.signs()
    run = rb.rollout(tmp_path)
    assert run.rc == 0, run.output[-3000:]
    assert all(run.data['stats'][h.fqdn]['changed'] == 0 for h in rb.fleet), run.data['stats']
    assert rb.signs() == before


def test_logins_trust_the_hosts_through_the_host_ca_only(rb, tmp_path):
    known_hosts = tmp_path / 'known_hosts'
    known_hosts.write_text('@cert-authority *.%s %s\n' % (DOMAIN, rb.host_ca))
    serial = subprocess.run(['ssh-keygen', '-L', '-f', str(rb.user_cert)], capture_output=True, text=True,
                            check=True).stdout.split('Serial: ')[1].split()[0]
    for host in rb.fleet:
        result = rb.login(host, known_hosts)
        assert result.returncode == 0 and result.stdout.strip() == 'ops', (host.fqdn, result.stderr)
        assert '(serial %s)' % serial in host.sshd_log()  # what leads from a login to the audit record
    host = rb.fleet[0]
    # the certificate names this host only, and the user CA vouches for no host
    assert rb.login(host, known_hosts, alias='host2.%s' % DOMAIN).returncode == 255
    user_ca_only = tmp_path / 'known_hosts_user_ca'
    user_ca_only.write_text('@cert-authority *.%s %s\n' % (DOMAIN, rb.user_ca))
    refused = rb.login(host, user_ca_only)
    assert refused.returncode == 255 and 'verification failed' in refused.stderr


def test_the_lookup_reads_either_ca(rb, tmp_path):
    book = tmp_path / 'cas.yml'
    book.write_text(yaml.safe_dump([{'hosts': 'localhost', 'gather_facts': False, 'tasks': [{
        'name': 'Both CAs', 'ansible.builtin.debug': {'msg': {
            'user': "{{ lookup('netkingdom.warden.ssh_ca_public_key') }}",
            'host': "{{ lookup('netkingdom.warden.ssh_ca_public_key', cert_type='host') }}"}}}]}]))
    run = run_playbook(book, workdir=tmp_path, extra_vars={'warden_openbao': {
        'url': rb.bao.url, 'host_mount': RUNBOOK_HOST_MOUNT}})
    assert run.rc == 0, run.output[-3000:]
    shown = run.task_results('Both CAs')[0]['msg']
    assert shown == {'user': rb.user_ca, 'host': rb.host_ca}


def test_a_host_claiming_a_foreign_name_gets_only_its_inventory_name(rb, tmp_path):
    host = rb.fleet[2]
    host.run(['hostname', 'bank.%s' % DOMAIN])
    # /etc/hosts now maps its address to bank.fleet.test: the host's own FQDN lookup says "bank"
    host.run(['sed', '-i', 's/%s %s$/bank.%s bank/' % (host.fqdn, host.name, DOMAIN), '/etc/hosts'])
    assert host.run(['python3', '-c', 'import socket; print(socket.getfqdn())']).stdout.strip() == 'bank.' + DOMAIN
    host.run(['rm', '-f', '/etc/' + HOST_CERT])
    run = rb.rollout(tmp_path, limit=host.fqdn)
    assert run.rc == 0, run.output[-4000:]
    assert principals_of(ssh_keygen_list(host.read_etc(HOST_CERT), tmp_path)) == [host.fqdn]
    assert 'reports the name(s) bank, bank.%s' % DOMAIN in flat(run.output)  # shown, never signed
    record = [r for r in rb.records() if r['host'] == host.fqdn and r['cert_type'] == 'host'][-1]
    assert record['outcome'] == 'signed' and record['principals'] == [host.fqdn]


def test_an_answer_from_another_ca_is_refused_and_nothing_is_written(rb, tmp_path):
    """A proxy sends the host's sign request to another mount: a genuine OpenBao certificate from the wrong CA."""
    rb.bao.request('POST', 'sys/mounts/ssh-rogue', {'type': 'ssh'})
    rb.bao.request('POST', 'ssh-rogue/config/ca', {'generate_signing_key': True, 'key_type': 'ec', 'key_bits': 256})
    rb.bao.request('POST', 'ssh-rogue/roles/host-role', {'key_type': 'ca', 'allow_host_certificates': True,
                                                         'allowed_domains': DOMAIN, 'allow_subdomains': True,
                                                         'ttl': '720h', 'max_ttl': '720h'})
    host = rb.fleet[1]
    before = host.read_etc(HOST_CERT)
    host.run(['rm', '-f', '/etc/' + HOST_CERT])
    proxy = FaultProxy(rb.bao.url).start()
    try:
        proxy.arm('rewrite', rewrite=to_mount(RUNBOOK_HOST_MOUNT, 'ssh-rogue'))
        run = rb.rollout(tmp_path, limit=host.fqdn, url=proxy.url)
        assert proxy.faulted >= 1
    finally:
        proxy.stop()
    assert run.rc != 0
    assert 'refusing the signed certificate: it is signed by CA' in flat(run.output)
    with pytest.raises(FileNotFoundError):
        host.read_etc(HOST_CERT)
    failed = [r for r in rb.records() if r['host'] == host.fqdn and r['outcome'] == 'failed']
    assert failed and 'signed by CA' in failed[-1]['reason']
    # the real CA puts a certificate back
    again = rb.rollout(tmp_path, limit=host.fqdn)
    assert again.rc == 0, again.output[-3000:]
    assert host.read_etc(HOST_CERT) != before and principals_of(ssh_keygen_list(host.read_etc(HOST_CERT), tmp_path)) \
        == [host.fqdn]


def test_a_forged_certificate_planted_on_a_host_is_renewed_not_kept(rb, tmp_path):
    """Signed by an attacker's key, it names the real host CA, the right host, type and validity."""
    host = rb.fleet[0]
    attacker = keygen(tmp_path / 'attacker', '-t', 'ecdsa', '-b', '256')
    public = tmp_path / 'host_key.pub'
    public.write_text(host.read_etc(HOST_KEY + '.pub'))
    subprocess.run(['ssh-keygen', '-q', '-s', str(tmp_path / 'attacker'), '-h', '-I', 'forged', '-n', host.fqdn,
                    '-V', '-5m:+30d', '-z', '4242', str(public)], check=True)
    signed = (tmp_path / 'host_key-cert.pub').read_text().split()
    blob = base64.b64decode(signed[1])
    mine, theirs = (base64.b64decode(k.split()[1]) for k in (attacker, rb.host_ca))
    assert len(mine) == len(theirs) and blob.count(mine) == 1
    forged = '%s %s\n' % (signed[0], base64.b64encode(blob.replace(mine, theirs)).decode())
    assert theirs in base64.b64decode(forged.split()[1])  # it names the host CA (ssh-keygen -L refuses it)
    host.write_file('/etc/' + HOST_CERT, forged)

    run = rb.rollout(tmp_path, limit=host.fqdn)
    assert run.rc == 0, run.output[-4000:]
    now = host.read_etc(HOST_CERT)
    assert now != forged and 'Serial: 4242' not in ssh_keygen_list(now, tmp_path)
    mine = [r for r in rb.records() if r['host'] == host.fqdn and r['cert_type'] == 'host']
    assert not any(r['outcome'] == 'kept' and r['serial'] == '4242' for r in mine)
    assert mine[-1]['outcome'] == 'signed' and mine[-1]['reason'] == 'signature_invalid'
    assert 'not signed by it (forged or damaged)' in flat(run.output)
    # the renewed certificate is genuine: sshd serves it and clients that trust the host CA accept it
    known_hosts = tmp_path / 'known_hosts'
    known_hosts.write_text('@cert-authority *.%s %s\n' % (DOMAIN, rb.host_ca))
    assert rb.login(host, known_hosts).returncode == 0


def test_preflight_checks_the_host_role_and_ca_on_the_host_mount(rb):
    """A token that may sign on the user roles but not on ssh-host-signer/: preflight says so, naming that path."""
    from tests.bed.collection_path import ensure_on_path
    ensure_on_path()
    from ansible_collections.netkingdom.warden.plugins.module_utils._preflight.backend import check_openbao
    from ansible_collections.netkingdom.warden.plugins.module_utils._preflight.report import Report
    rb.bao.write_policy('runbook-user-signer', 'path "ssh/sign/*" { capabilities = ["create", "update"] }')
    token = rb.bao.create_token(['runbook-user-signer'])  # the default policy allows capabilities-self
    report = Report()
    check_openbao(report, {'url': rb.bao.url, 'token': token, 'host_mount': RUNBOOK_HOST_MOUNT}, ['agt'],
                  host_role=True, env={})
    signs = [c for c in report.checks if c['name'] == 'openbao_sign']
    assert [c['ok'] for c in signs] == [True, False], (report.checks, report.not_run)
    assert 'ssh-host-signer/sign/host-role' in signs[1]['message'] + signs[1]['fix']
    cas = [c for c in report.checks if c['name'] == 'signing_ca']
    assert [c['ok'] for c in cas] == [True, True] and 'host CA of %s/' % RUNBOOK_HOST_MOUNT in cas[1]['message']
    assert token not in json.dumps(report.checks)
