"""Host side of a registry deploy (registry_deploy), the smoke requests and the preflight pieces."""

import json
import os
import stat

import pytest

from ansible_collections.netkingdom.warden.plugins.module_utils._inventory import actors as A
from ansible_collections.netkingdom.warden.plugins.module_utils._preflight import report as PR
from ansible_collections.netkingdom.warden.plugins.module_utils._preflight import backend as PB
from ansible_collections.netkingdom.warden.plugins.module_utils._preflight import registry as PG
from ansible_collections.netkingdom.warden.plugins.module_utils._preflight import hosts as PH
from ansible_collections.netkingdom.warden.plugins.module_utils._preflight import checks as P
from ansible_collections.netkingdom.warden.plugins.module_utils._registry import snapshot as R
from ansible_collections.netkingdom.warden.plugins.module_utils._registry import build as RB
from ansible_collections.netkingdom.warden.plugins.module_utils._registry import summary as RS
from ansible_collections.netkingdom.warden.plugins.module_utils._registry import checks as C
from ansible_collections.netkingdom.warden.plugins.module_utils._registry import deploy as D
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError

BASE = {
    'agt-state-hub-bridge': {'type': 'agt', 'principals': ['agt-task-bridge'], 'ttl_hours': 24,
                             'subjects': ['iam:agt-state-hub-bridge']},
    'atm-backup-daily': {'type': 'atm', 'principals': ['atm-backup'], 'ttl_hours': 8},
}


def snap(actors=None, tenant='tenant:platform'):
    return RB.build_snapshot(A.load_actors(actors or BASE)[0], tenant=tenant)


def deploy(path, snapshot, keep=3, **kwargs):
    plan = D.plan_install(str(path), R.to_text(snapshot), keep=keep)
    done = D.install(plan, keep, **kwargs) if plan['changed'] else None
    return plan, done


# --- install -------------------------------------------------------------------------------------

def test_first_install_creates_the_directory_and_keeps_nothing(tmp_path):
    path = tmp_path / 'flex-auth' / 'registry.json'
    plan, done = deploy(path, snap())
    assert plan['changed'] and plan['previous_digest'] is None
    assert plan['changes'] == ['add actor agt-state-hub-bridge (agt): principals agt-task-bridge, TTL cap 24h',
                               'add actor atm-backup-daily (atm): principals atm-backup, TTL cap 8h']
    assert done == {'backup': None, 'pruned': [], 'created_dir': True}
    assert json.loads(path.read_text())['digest'] == snap()['digest']
    assert path.read_text() == R.to_text(snap())
    assert not (tmp_path / 'flex-auth' / 'registry.json.history').exists()


def test_same_digest_is_no_change_even_when_formatted_differently(tmp_path):
    path = tmp_path / 'registry.json'
    path.write_text(json.dumps(snap()))  # compact, not the canonical layout
    plan, done = deploy(path, snap())
    assert not plan['changed'] and plan['changes'] == [] and done is None


def test_a_hand_edited_file_with_its_old_digest_is_replaced(tmp_path):
    path = tmp_path / 'registry.json'
    edited = snap()
    edited['resource_manifests'][0]['resources'][0]['metadata']['principals'] = ['root']  # digest left as it was
    path.write_text(json.dumps(edited))
    plan, done = deploy(path, snap())
    assert plan['changed'] and not plan['previous_valid']
    assert plan['installed']['content_digest'] != plan['installed']['digest']
    backup = json.loads(open(done["backup"]).read())
    assert done["backup"] and backup["resource_manifests"][0]["resources"][0]["metadata"]["principals"] == ["root"]


def test_replaced_snapshot_is_the_same_file_with_owner_and_mode(tmp_path):
    path = tmp_path / 'registry.json'
    deploy(path, snap())
    os.chmod(path, 0o640)
    inode = os.stat(path).st_ino
    changed = dict(BASE, **{'agt-new': {'type': 'agt', 'principals': ['agt-new'], 'ttl_hours': 4}})
    plan, done = deploy(path, snap(changed))
    assert plan['changes'] == ['add actor agt-new (agt): principals agt-new, TTL cap 24h']
    kept = os.stat(done['backup'])
    assert kept.st_ino == inode and stat.S_IMODE(kept.st_mode) == 0o640
    assert os.path.basename(done['backup']).endswith('-%s.json' % snap()['digest'][7:19])
    assert os.path.dirname(done['backup']) == str(path) + '.history'


def test_history_keeps_the_newest_n(tmp_path):
    path = tmp_path / 'registry.json'
    digests = []
    for number in range(5):
        snapshot = snap(tenant='tenant:t%d' % number)
        digests.append(snapshot['digest'])
        deploy(path, snapshot, keep=2)
    kept = D.list_backups(str(path) + '.history')
    assert [prefix for dummy, dummy2, prefix in kept] == [d[7:19] for d in digests[2:4]]
    (tmp_path / 'registry.json.history' / 'notes.txt').write_text('not ours')
    deploy(path, snap(tenant='tenant:t9'), keep=1)
    assert sorted(os.listdir(str(path) + '.history'))[-1] == 'notes.txt'  # never touched
    assert len(D.list_backups(str(path) + '.history')) == 1


def test_restore_puts_back_exactly_what_was_there(tmp_path):
    path = tmp_path / 'registry.json'
    deploy(path, snap())
    before = path.read_bytes()
    os.chmod(path, 0o600)
    plan, done = deploy(path, snap(tenant='tenant:other'))
    restored = D.restore(str(path), D.pick_backup(str(path) + '.history', backup=done['backup']))
    assert restored['digest'] == snap()['digest'] and restored['replaced_digest'] == snap(tenant='tenant:other')['digest']
    assert path.read_bytes() == before and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert D.list_backups(str(path) + '.history') == []  # the kept one is live again
    with pytest.raises(D.DeployError, match='does not exist'):
        D.pick_backup(str(path) + '.history', backup=done['backup'])
    with pytest.raises(D.DeployError, match='no saved registry snapshot'):
        D.pick_backup(str(path) + '.history')


def test_restore_by_digest_picks_the_newest_with_that_digest(tmp_path):
    path = tmp_path / 'registry.json'
    first, second, third = snap(), snap(tenant='tenant:b'), snap(tenant='tenant:c')
    for snapshot in (first, second, third):
        deploy(path, snapshot)
    chosen = D.pick_backup(str(path) + '.history', digest=first['digest'])
    assert chosen.endswith('-%s.json' % first['digest'][7:19])
    with pytest.raises(D.DeployError, match='with digest sha256:ffff'):
        D.pick_backup(str(path) + '.history', digest='sha256:ffff')


def test_a_refusing_validate_command_changes_nothing(tmp_path):
    path = tmp_path / 'registry.json'
    deploy(path, snap())
    before = path.read_bytes()
    seen = []

    def refuse(candidate):
        seen.append(json.loads(open(candidate).read())['digest'])
        raise D.DeployError('validate_command refused the new snapshot (exit 1): schema v2 only')

    plan = D.plan_install(str(path), R.to_text(snap(tenant='tenant:x')))
    with pytest.raises(D.DeployError, match='schema v2 only'):
        D.install(plan, 3, validate=refuse)
    assert seen == [snap(tenant='tenant:x')['digest']]
    assert path.read_bytes() == before
    assert D.list_backups(str(path) + '.history') == []
    assert [n for n in os.listdir(tmp_path) if n.startswith('.warden')] == []


def test_content_must_validate_with_its_digest(tmp_path):
    edited = snap()
    edited['resource_manifests'][0]['resources'][0]['metadata']['max_ttl_hours'] = 12
    with pytest.raises(ValidationError, match='digest'):
        D.plan_install(str(tmp_path / 'r.json'), json.dumps(edited))
    with pytest.raises(ValidationError, match='not JSON'):
        D.plan_install(str(tmp_path / 'r.json'), '{"schema":')
    with pytest.raises(ValidationError, match='keep'):
        D.plan_install(str(tmp_path / 'r.json'), R.to_text(snap()), keep=0)


def test_inspect_reports_missing_invalid_and_valid(tmp_path):
    path = tmp_path / 'registry.json'
    assert D.inspect_file(str(path))['exists'] is False
    path.write_text('not json')
    info = D.inspect_file(str(path))
    assert info['exists'] and not info['valid'] and 'not UTF-8 JSON' in info['problems'][0]
    path.write_text(R.to_text(snap()))
    info = D.inspect_file(str(path))
    assert info['valid'] and info['digest'] == info['content_digest'] == snap()['digest']


def test_remove_undoes_a_first_deploy(tmp_path):
    path = tmp_path / 'registry.json'
    deploy(path, snap())
    assert D.remove(str(path))['digest'] == snap()['digest']
    assert not path.exists()


def test_policy_view_is_what_a_policy_owner_reads():
    text = D.policy_view(snap())
    assert text.splitlines()[:6] == [
        'tenants: tenant:platform',
        'actors: 2',
        '',
        'actor agt-state-hub-bridge (agt, agent)',
        '  principals: agt-task-bridge',
        '  TTL cap: 24h (inventory default 24h)',
    ]
    assert '  allowed subjects: agt-state-hub-bridge, iam:agt-state-hub-bridge' in text
    assert D.policy_view(None) == '(no registry snapshot installed)\n'


def test_changes_name_default_ttl_and_subjects():
    changed = {
        'agt-state-hub-bridge': dict(BASE['agt-state-hub-bridge'], ttl_hours=12, subjects=[]),
        'atm-backup-daily': BASE['atm-backup-daily'],
    }
    assert RS.describe_changes(snap(), snap(changed)) == [
        'agt-state-hub-bridge: default TTL 24 -> 12',
        'agt-state-hub-bridge: subjects no longer allowed iam:agt-state-hub-bridge',
    ]


# --- smoke requests ---------------------------------------------------------------------------------

def test_smoke_requests_allow_at_the_inventory_ttl_and_deny_above_the_cap():
    actor, allow, deny = C.smoke_requests(snap())
    assert actor == 'agt-state-hub-bridge'  # the first by name
    assert allow['context'] == {'principals': ['agt-task-bridge'], 'actor_type': 'agt',
                                'pubkey_fingerprint': C.SMOKE_FINGERPRINT, 'ttl_hours': 24}
    assert deny['context']['ttl_hours'] == 25
    assert allow['resource']['id'] == 'ssh-cert:actor/agt-state-hub-bridge'
    actor, allow, deny = C.smoke_requests(snap(), 'atm-backup-daily', subject='iam:x')
    assert (allow['subject'], deny['context']['ttl_hours']) == ({'id': 'iam:x', 'type': 'atm'}, 9)
    with pytest.raises(ValidationError, match='atm-gone is not an actor of the new snapshot'):
        C.smoke_requests(snap(), 'atm-gone')


def test_served_digest_reads_the_usual_places():
    assert C.served_digest({'registry_digest': 'sha256:a'}) == 'sha256:a'
    assert C.served_digest({'digest': 'sha256:b'}) == 'sha256:b'
    assert C.served_digest({'registry': {'digest': 'sha256:c'}}) == 'sha256:c'
    assert C.served_digest({'status': 'ok'}) is None and C.served_digest('ok') is None


# --- preflight pieces -------------------------------------------------------------------------------

@pytest.mark.parametrize('text, expected', [
    ('OpenSSH_9.2, OpenSSL 3.0.19 27 Jan 2026', (9, 2, 'OpenSSH_9.2')),
    ('sshd: illegal option -- V\nOpenSSH_7.4p1, OpenSSL 1.0.2k-fips\nusage: sshd', (7, 4, 'OpenSSH_7.4p1')),
    ('OpenSSH_8.2p1 Ubuntu-4ubuntu0.11, OpenSSL 1.1.1f', (8, 2, 'OpenSSH_8.2p1')),
    ('sh: 1: /usr/sbin/sshd: not found', None),
])
def test_openssh_version_parsing(text, expected):
    assert PH.parse_openssh_version(text) == expected


def test_sshd_check_messages():
    report = PR.Report()
    PH.check_sshd(report, 'new', {'stdout': 'OpenSSH_9.2, OpenSSL 3'}, (8, 2))
    PH.check_sshd(report, 'old', {'stdout': 'OpenSSH_7.4p1, OpenSSL 1.0.2k'}, (8, 2))
    PH.check_sshd(report, 'gone', {'unreachable': True, 'msg': 'ssh: connect to host: Connection refused'}, (8, 2))
    PH.check_sshd(report, 'none', None, (8, 2))
    oks = [(c['host'], c['ok']) for c in report.checks]
    assert oks == [('new', True), ('old', False), ('gone', False), ('none', False)]
    old = report.checks[1]
    assert old['message'] == ('OpenSSH_7.4p1 is older than OpenSSH 8.2: its sshd does not read the sshd_config.d '
                              'drop-in (Include) the rollout writes')
    assert old['fix'] == 'upgrade openssh-server to 8.2 or newer before the rollout'
    assert 'unreachable: ssh: connect to host: Connection refused' in report.checks[2]['message']
    summary = report.summary()
    assert summary.startswith('preflight: 3 of 4 checks failed:\n- sshd_version[old]: OpenSSH_7.4p1 is older')
    assert '  fix: upgrade openssh-server' in summary


def test_host_registry_check_compares_with_the_inventory():
    built = snap()
    report = PR.Report()
    PH.check_host_registry(report, 'h1', {'path': '/r.json', 'exists': True, 'valid': True,
                                          'digest': built['digest']}, built)
    PH.check_host_registry(report, 'h2', {'path': '/r.json', 'exists': False}, built)
    PH.check_host_registry(report, 'h3', {'path': '/r.json', 'exists': True, 'valid': True,
                                          'digest': 'sha256:0ld'}, built)
    assert [c['ok'] for c in report.checks] == [True, False, False]
    assert report.checks[1]['message'] == 'no registry snapshot is installed at /r.json'
    assert 'holds registry sha256:0ld, but the inventory builds %s' % built['digest'] in report.checks[2]['message']
    assert report.checks[2]['fix'] == PG.DEPLOY_FIX


def test_inventory_check_names_the_field_and_refuses_an_empty_one():
    report = PR.Report()
    assert PG.check_inventory(report, {'agt-x': {'type': 'agt', 'principals': ['a b'], 'ttl_hours': 1}}) is None
    assert not report.checks[0]['ok'] and "warden_actors['agt-x'].principals[0]" in report.checks[0]['message']
    report = PR.Report()
    PG.check_inventory(report, {})
    assert report.checks[0]['message'] == 'invalid actor inventory: warden_actors: no actors defined'
    report = PR.Report()
    PG.check_inventory(report, None)
    assert report.checks[0]['message'] == 'no actor inventory was given'
    report = PR.Report()
    built = PG.check_inventory(report, BASE)
    assert report.checks[0]['ok'] and PG.actor_types(built) == ['agt', 'atm']


def test_backend_resolution_and_skip_list():
    assert PB.resolve_backend(None, {'url': 'https://bao:8200'}, {}) == 'openbao'
    assert PB.resolve_backend(None, None, {'VAULT_ADDR': 'https://bao:8200'}) == 'openbao'
    assert PB.resolve_backend(None, None, {}) == 'local'
    assert PB.resolve_backend('local', {'url': 'x'}, {}) == 'local'
    result = P.run_preflight(actors=BASE, backend='local', local_ca={'key_path': '/nonexistent/ca_key'},
                             skip=['sshd_version'], host_reports={'h': None}, env={})
    assert [c['name'] for c in result['checks']] == ['inventory', 'signing_ca']
    assert result['failed_checks'][0]['name'] == 'signing_ca' and 'no CA key at /nonexistent/ca_key' in result['msg']
    assert {'name': 'sshd_version', 'why': 'skipped on request'} in result['not_run']
    assert {'name': 'flex_auth_healthz', 'why': 'the gate is embedded, not remote (flex_auth)'} in result['not_run']
    with pytest.raises(ValidationError, match='sshd_min_version'):
        P.run_preflight(actors=BASE, sshd_min_version='eight', env={})


def test_embedded_registry_file_is_compared(tmp_path):
    path = tmp_path / 'registry.json'
    path.write_text(R.to_text(snap(tenant='tenant:old')))
    report = PR.Report()
    PG.check_gate(report, {'mode': 'embedded', 'registry': str(path)}, snap(), env={})
    assert report.checks[0]['name'] == 'registry_digest' and not report.checks[0]['ok']
    assert report.checks[0]['host'] == 'controller'
    assert 'rebuild it from the inventory' in report.checks[0]['fix']


# --- the module's validate_command --------------------------------------------------------------------

class FakeModule(object):
    """What registry_file's validator needs from AnsibleModule: run_command and fail_json."""

    def __init__(self):
        self.ran = []

    def run_command(self, argv):
        import subprocess
        self.ran.append(argv)
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        return done.returncode, done.stdout, done.stderr

    def fail_json(self, **kwargs):
        raise AssertionError(kwargs['msg'])


def test_validate_command_runs_without_a_shell_and_reports_the_refusal(tmp_path):
    from ansible_collections.netkingdom.warden.plugins.modules import registry_file as M
    module = FakeModule()
    candidate = tmp_path / 'candidate.json'
    candidate.write_text(R.to_text(snap()))
    M.validator(module, 'python3 -m json.tool %s')(str(candidate))
    assert module.ran == [['python3', '-m', 'json.tool', str(candidate)]]
    refuse = M.validator(module, "sh -c 'echo schema v2 only >&2; exit 3' --file=%s")
    with pytest.raises(D.DeployError, match=r'refused the new snapshot \(exit 3\): schema v2 only'):
        refuse(str(candidate))
    assert module.ran[-1][-1] == '--file=%s' % candidate
    with pytest.raises(AssertionError, match='must contain %s'):
        M.validator(module, 'flex-auth validate')
    assert M.validator(module, None) is None
