"""flex_auth_registry role, deploy_registry and preflight playbooks against real parts.

The flex-auth-compatible test PDP runs as a sysv service ("flex-auth") inside two fleet mini
hosts (127.77.5.1 and .2, port 8181), as the unprivileged user nobody, with a bearer token,
loading the registry file the role installs. A real OpenBao dev server serves preflight.
"""

import json
import os
from pathlib import Path

import httpx
import pytest
import yaml

from tests.bed.ansible_run import run_playbook
from tests.bed.collection_path import collections_dir, ensure_on_path
from tests.bed.fleet import Fleet
from tests.bed.openbao import OpenBaoDev, free_port
from tests.bed.pdp_service import install_pdp_service

ensure_on_path()
from ansible_collections.netkingdom.warden.plugins.module_utils._inventory import actors as A  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._registry import build as RB  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / 'playbooks' / 'deploy_registry.yml'
PREFLIGHT = ROOT / 'playbooks' / 'preflight.yml'
PORT = 8181
REGISTRY = '/etc/flex-auth/registry.json'
HISTORY = REGISTRY + '.history'
ACTORS = {
    'adm-example': {'type': 'adm', 'principals': ['ops-admin'], 'ttl_hours': 12},
    'agt-state-hub-bridge': {'type': 'agt', 'principals': ['agt-task-bridge'], 'ttl_hours': 24,
                             'subjects': ['iam:agt-state-hub-bridge']},
    'atm-backup-daily': {'type': 'atm', 'principals': ['atm-backup'], 'ttl_hours': 8},
}
NEW_ACTOR = {'agt-new-bridge': {'type': 'agt', 'principals': ['agt-new'], 'ttl_hours': 12}}
# What is deployed from test_adding_an_actor_then_removing_one on (the rollback tests keep it).
DEPLOYED = dict((k, v) for k, v in dict(ACTORS, **NEW_ACTOR).items() if k != 'atm-backup-daily')
FINGERPRINT = 'SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU'


def snapshot_of(actors):
    found, dummy = A.load_actors(actors)
    return RB.build_snapshot(found)


def task_results(run, suffix, host):
    """Results of every task whose name ends with ``suffix`` for ``host`` (role tasks carry a prefix)."""
    found = []
    for play in run.data['plays']:
        for task in play['tasks']:
            if task['task']['name'].endswith(suffix) and host in task['hosts']:
                found.append(task['hosts'][host])
    return found


class Bed(object):
    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.token = 'pdp-bearer-' + os.urandom(12).hex()
        self.bao = OpenBaoDev(self.workdir / 'bao').start()
        self.bao.setup_ssh_engine()
        self.fleet = Fleet(2, self.workdir, base='127.77.5.').start()
        self.audit = self.workdir / 'audit.jsonl'
        self.inventory = self.workdir / 'inventory.yml'
        inv = yaml.safe_load(self.fleet.inventory_path.read_text())
        inv['all']['children']['flex_auth'] = {'hosts': {h.name: {} for h in self.fleet}}
        self.inventory.write_text(yaml.safe_dump(inv, sort_keys=False))
        for host in self.fleet:
            install_pdp_service(host, collections_dir(), REGISTRY, '%s:%d' % (host.address, PORT), self.token)

    def stop(self):
        self.fleet.stop()
        self.bao.stop()

    def url(self, host):
        return 'http://%s:%d' % (host.address, PORT)

    def vars(self, actors=None, **extra):
        data = {
            'warden_actors': ACTORS if actors is None else actors,
            'warden_audit_log': str(self.audit),
            'warden_openbao': {'url': self.bao.url, 'token': self.bao.token},
            'warden_policy': {'mode': 'flex_auth', 'url': self.url(self.fleet['host1']), 'token': self.token,
                              'timeout': 2, 'retries': 0},
            'flex_auth_registry_path': REGISTRY,
            'flex_auth_registry_url': 'http://{{ ansible_host }}:%d' % PORT,
            'flex_auth_registry_build_path': str(self.workdir / 'build' / 'registry.json'),
            'flex_auth_registry_health_timeout': 8,
            'flex_auth_registry_smoke_actor': 'agt-state-hub-bridge',
            # both hosts at once; the rollback test uses the playbook's default (one at a time)
            'warden_flex_auth_serial': 2,
        }
        data.update(extra)
        return data

    def deploy(self, tmp_path, actors=None, check=False, diff=False, verbosity=0, **extra):
        return run_playbook(DEPLOY, inventory=self.inventory, extra_vars=self.vars(actors, **extra),
                            check=check, diff=diff, verbosity=verbosity, workdir=tmp_path)

    def preflight(self, tmp_path, actors=None, **extra):
        return run_playbook(PREFLIGHT, inventory=self.inventory, extra_vars=self.vars(actors, **extra),
                            workdir=tmp_path)

    # --- talking to the PDP directly, as warden sign would --------------------------------------
    def ask(self, host, actor, ttl=None, principals=None, subject=None):
        record = dict(ACTORS, **NEW_ACTOR).get(actor) or {'type': actor.split('-')[0], 'principals': ['x'],
                                                          'ttl_hours': 1}
        body = {'subject': {'id': subject or actor, 'type': record['type']}, 'tenant': 'tenant:platform',
                'action': 'sign',
                'resource': {'id': 'ssh-cert:actor/' + actor, 'type': 'ssh-certificate', 'system': 'ops-warden'},
                'context': {'principals': principals or record['principals'], 'actor_type': record['type'],
                            'pubkey_fingerprint': FINGERPRINT, 'ttl_hours': ttl or record['ttl_hours']}}
        response = httpx.post(self.url(host) + '/v1/check', json=body, timeout=5,
                              headers={'Authorization': 'Bearer ' + self.token})
        response.raise_for_status()
        data = response.json()
        return data['effect'], data['reason']

    def served(self, host):
        response = httpx.get(self.url(host) + '/v1/registry', timeout=5,
                             headers={'Authorization': 'Bearer ' + self.token})
        response.raise_for_status()
        return response.json()['digest']

    def installed(self, host):
        try:
            return json.loads(host.read_etc(REGISTRY))
        except FileNotFoundError:
            return None

    def history(self, host):
        return sorted(os.listdir(Path(host.upper) / 'flex-auth' / 'registry.json.history'))

    def records(self, **match):
        if not self.audit.exists():
            return []
        found = [json.loads(line) for line in self.audit.read_text().splitlines() if line.strip()]
        return [r for r in found if all(r.get(k) == v for k, v in match.items())]


@pytest.fixture(scope='module')
def bed(isolated, tmp_path_factory):
    b = Bed(tmp_path_factory.mktemp('registry'))
    try:
        yield b
    finally:
        b.stop()


CASES = [('agt-state-hub-bridge', None), ('adm-example', None), ('atm-backup-daily', None),
         ('agt-state-hub-bridge', 25), ('agt-new-bridge', None)]


def answers(bed, host):
    return [bed.ask(host, actor, ttl) for actor, ttl in CASES]


def test_first_deploy_installs_reloads_and_the_pdp_allows(bed, tmp_path):
    run = bed.deploy(tmp_path, verbosity=3)
    assert run.rc == 0, run.output
    assert bed.token not in run.output and bed.bao.token not in run.output  # at -vvv too
    expected = snapshot_of(ACTORS)['digest']
    for host in bed.fleet:
        install = task_results(run, 'keeping the previous ones', host.name)[0]
        assert install['changed'] and install['previous_digest'] is None and install['backup'] is None
        assert 'add actor agt-state-hub-bridge (agt): principals agt-task-bridge, TTL cap 24h' in install['changes']
        verify = task_results(run, 'smoke-check an allow and a ttl_out_of_bounds deny', host.name)[0]
        assert verify['ok'] and verify['served_digest'] == expected, verify
        assert [c['name'] for c in verify['checks']] == ['healthz', 'served_digest', 'smoke_allow', 'smoke_deny']
        assert bed.served(host) == expected
        assert bed.installed(host)['digest'] == expected
        assert bed.ask(host, 'agt-state-hub-bridge') == ('allow', 'signing_policy_matched')
        assert bed.ask(host, 'agt-state-hub-bridge', subject='iam:agt-state-hub-bridge')[0] == 'allow'
        assert bed.ask(host, 'agt-new-bridge') == ('deny', 'unknown_actor_resource')
    deployed = bed.records(kind='registry', outcome='deployed')
    assert sorted(r['host'] for r in deployed) == ['host1', 'host2']
    assert all(r['old_digest'] is None and r['new_digest'] == expected for r in deployed)
    assert bed.token not in bed.audit.read_text()


def test_second_deploy_changes_nothing(bed, tmp_path):
    pids = [bed.fleet[h].run('cat /run/flex-auth/pdp.pid').stdout for h in ('host1', 'host2')]
    run = bed.deploy(tmp_path)
    assert run.rc == 0, run.output
    for host in ('host1', 'host2'):
        assert run.data['stats'][host]['changed'] == 0, run.output
    assert [bed.fleet[h].run('cat /run/flex-auth/pdp.pid').stdout for h in ('host1', 'host2')] == pids  # no restart
    unchanged = bed.records(kind='registry', outcome='unchanged')
    assert sorted(r['host'] for r in unchanged) == ['host1', 'host2']


def test_check_mode_tells_the_policy_owner_what_would_change(bed, tmp_path):
    host = bed.fleet['host1']
    before = bed.installed(host)
    actors = dict(ACTORS, **NEW_ACTOR)
    actors['adm-example'] = dict(ACTORS['adm-example'], principals=['ops-admin', 'ops-oncall'])
    run = bed.deploy(tmp_path, actors=actors, check=True, diff=True)
    assert run.rc == 0, run.output
    install = task_results(run, 'keeping the previous ones', 'host1')[0]
    assert install['changed']
    assert install['changes'] == ['adm-example: principals added ops-oncall',
                                  'add actor agt-new-bridge (agt): principals agt-new, TTL cap 24h']
    words = install['diff'][0]
    assert 'actor agt-new-bridge (agt, agent)' in words['after'] and 'agt-new-bridge' not in words['before']
    assert '  principals: ops-admin, ops-oncall' in words['after']
    assert '  TTL cap: 24h (inventory default 12h)' in words['after']
    shown = task_results(run, 'in check mode, what it would change)', 'host1')[0]
    assert 'add actor agt-new-bridge (agt): principals agt-new, TTL cap 24h' in shown['msg']
    assert bed.installed(host) == before
    assert bed.ask(host, 'agt-new-bridge') == ('deny', 'unknown_actor_resource')


def test_adding_an_actor_then_removing_one(bed, tmp_path):
    """Added through flex-auth's HTTP reload endpoint (the bearer token stays on the controller),
    removed with a service restart."""
    actors = dict(ACTORS, **NEW_ACTOR)
    run = bed.deploy(tmp_path, actors=actors, flex_auth_registry_reload_method='http',
                     flex_auth_registry_reload_url='http://{{ ansible_host }}:%d/v1/admin/reload' % PORT,
                     flex_auth_registry_reload_token=bed.token)
    assert run.rc == 0, run.output
    assert bed.token not in run.output
    for host in bed.fleet:
        assert bed.ask(host, 'agt-new-bridge') == ('allow', 'signing_policy_matched')
        assert bed.served(host) == snapshot_of(actors)['digest']
        assert len(bed.history(host)) == 1

    del actors['atm-backup-daily']
    run = bed.deploy(tmp_path, actors=actors, flex_auth_registry_validate_command='/usr/bin/python3 -m json.tool %s')
    assert run.rc == 0, run.output
    install = task_results(run, 'keeping the previous ones', 'host1')[0]
    assert install['changes'] == ['remove actor atm-backup-daily: signing for it will be denied (unknown_actor_resource)']
    for host in bed.fleet:
        assert bed.ask(host, 'atm-backup-daily') == ('deny', 'unknown_actor_resource')
        assert bed.ask(host, 'agt-new-bridge')[0] == 'allow'
        assert len(bed.history(host)) == 2
    deployed = bed.records(kind='registry', outcome='deployed', host='host2')
    assert deployed[-1]['reason'] == install['changes'][0]
    assert deployed[-1]['old_digest'] == deployed[-2]['new_digest']


def test_a_pdp_that_will_not_start_on_the_new_file_is_rolled_back(bed, tmp_path):
    """mode 0600 makes the file unreadable for the service user: the restart fails, the previous
    snapshot (the same file, owner and mode) comes back and the PDP answers exactly as before."""
    actors = dict(DEPLOYED)
    host1 = bed.fleet['host1']
    before = {h.name: (bed.served(h), answers(bed, h), bed.installed(h)) for h in bed.fleet}
    history = bed.history(host1)
    changed = dict(actors, **{'atm-nightly-report': {'type': 'atm', 'principals': ['atm-report'], 'ttl_hours': 4}})
    run = bed.deploy(tmp_path, actors=changed, flex_auth_registry_mode='0600', warden_flex_auth_serial=1)
    assert run.rc != 0
    failure = task_results(run, 'the previous snapshot is back and flex-auth serves it)', 'host1')[0]
    assert 'rolled back to %s' % before['host1'][0] in failure['msg'], failure
    assert 'Restart the flex-auth service' in failure['msg'] and 'Permission denied' in failure['msg'], failure
    for host in bed.fleet:
        served, decided, installed = before[host.name]
        assert bed.served(host) == served
        assert answers(bed, host) == decided
        assert bed.installed(host) == installed
    assert oct(os.stat(Path(host1.upper) / 'flex-auth' / 'registry.json').st_mode & 0o777) == '0o644'
    assert bed.history(host1) == history  # the kept snapshot went back in place, nothing new kept
    assert not task_results(run, 'keeping the previous ones', 'host2')  # the rollout stopped at host1
    rolled = bed.records(kind='registry', outcome='rolled_back')
    assert len(rolled) == 1 and rolled[0]['host'] == 'host1'
    assert rolled[0]['old_digest'] == before['host1'][0]
    assert rolled[0]['new_digest'] == snapshot_of(changed)['digest']
    assert 'Permission denied' in rolled[0]['reason']


def test_preflight_passes_on_a_healthy_bed(bed, tmp_path):
    run = bed.preflight(tmp_path, actors=DEPLOYED)
    assert run.rc == 0, run.output
    result = task_results(run, 'what the hosts reported', 'host1')[0]
    names = [(c['name'], c.get('host')) for c in result['checks']]
    for wanted in [('inventory', None), ('openbao_reachable', None), ('openbao_unsealed', None),
                   ('openbao_token', None), ('openbao_sign', None), ('signing_ca', None),
                   ('flex_auth_healthz', None), ('registry_digest', 'flex-auth'), ('registry_digest', 'host1'),
                   ('registry_digest', 'host2'), ('sshd_version', 'host1'), ('sshd_version', 'host2')]:
        assert wanted in names, (wanted, names)
    assert all(c['ok'] for c in result['checks'])
    assert len([c for c in result['checks'] if c['name'] == 'openbao_sign']) == 2  # adm, agt in use
    assert bed.token not in run.output and bed.bao.token not in run.output


def failed(run):
    result = task_results(run, 'what the hosts reported', 'host1')[0]
    assert run.rc != 0 and result.get('failed'), run.output
    return result, dict(((c['name'], c.get('host')), c) for c in result['failed_checks'])


def test_preflight_registry_digest_mismatch_and_token_without_sign_capability(bed, tmp_path):
    """Two independent problems: both are reported, each with its fix."""
    bed.bao.write_policy('adm-only', 'path "ssh/sign/adm-role" { capabilities = ["create", "update"] }\n'
                                     'path "ssh/sign/agt-role" { capabilities = ["create"] }\n')
    token = bed.bao.create_token('adm-only')
    # ACTORS lacks agt-new-bridge and has atm-backup-daily: not what is deployed
    run = bed.preflight(tmp_path, warden_openbao={'url': bed.bao.url, 'token': token})
    result, bad = failed(run)
    built = snapshot_of(ACTORS)['digest']
    for where in ('flex-auth', 'host1', 'host2'):
        check = bad[('registry_digest', where)]
        assert 'but the inventory builds %s' % built in check['message'] and 'out of date' in check['message']
        assert 'netkingdom.warden.deploy_registry' in check['fix']
    signs = [c for c in result['failed_checks'] if c['name'] == 'openbao_sign']
    check = signs[0]
    assert check['message'] == ('the token cannot sign agt certificates: it holds create but not update on '
                                'ssh/sign/agt-role; OpenBao checks a sign request (POST) as update')
    assert 'path "ssh/sign/agt-role" { capabilities = ["create", "update"] }' in check['fix']
    # the atm role is not in the token's policy at all
    check = signs[1]
    assert check['message'] == 'the token cannot sign atm certificates: its capabilities on ssh/sign/atm-role are [deny]'
    assert len(result['failed_checks']) == 5
    assert result['msg'].startswith('preflight: 5 of ')
    assert token not in run.output


def test_preflight_openbao_down_and_pdp_down(bed, tmp_path):
    down = 'http://127.0.0.1:%d' % free_port()
    host1 = bed.fleet['host1']
    host1.run('service flex-auth stop')
    try:
        result, bad = failed(bed.preflight(tmp_path, actors=DEPLOYED,
                                           warden_openbao={'url': down, 'token': bed.bao.token, 'retries': 0}))
    finally:
        host1.run('service flex-auth start')
    check = bad[('openbao_reachable', None)]
    assert 'cannot reach OpenBao at %s' % down in check['message'] and 'connection refused' in check['message']
    assert 'start OpenBao' in check['fix']
    assert {s['name'] for s in result['not_run']} >= {'openbao_token', 'openbao_sign', 'signing_ca'}
    check = bad[('flex_auth_healthz', None)]
    assert 'flex-auth is not usable: GET http://127.77.5.1:%d/healthz failed' % PORT in check['message']
    assert 'every signing would be denied (policy_unavailable)' in check['message']
    assert 'start flex-auth on http://127.77.5.1:%d' % PORT in check['fix']
    assert set(bad) == {('openbao_reachable', None), ('flex_auth_healthz', None)}


def test_preflight_openbao_sealed(bed, tmp_path):
    bed.bao.seal()
    try:
        result, bad = failed(bed.preflight(tmp_path, actors=DEPLOYED))
    finally:
        bed.bao.unseal()
    check = bad[('openbao_unsealed', None)]
    assert check['message'] == ('OpenBao at %s is sealed: it signs nothing and every certificate request would '
                                'fail' % bed.bao.url)
    assert 'bao operator unseal' in check['fix']
    assert set(bad) == {('openbao_unsealed', None)}
