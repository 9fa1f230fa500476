"""The gate plugins, run by ansible-playbook against the built and installed collection."""

import json
import os
import subprocess
import sys

import pytest

pytest_plugins = ["tests.integration.pdp_fixtures"]

from tests.bed.ansible_run import ansible_doc, run_playbook

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLAYBOOKS = os.path.join(HERE, 'playbooks')

ACTORS = {
    'agt-state-hub-bridge': {'type': 'agt', 'principals': ['agt-task-bridge'], 'ttl_hours': 24,
                             'subjects': ['iam:agt-state-hub-bridge']},
    'adm-example': {'type': 'adm', 'principals': ['adm-example', 'ops-admin'], 'ttl_hours': 12},
    'atm-backup-daily': {'type': 'atm', 'principals': ['atm-backup'], 'ttl_hours': 8},
}


def _plugins():
    """Every module and lookup the source tree ships (the test fails if one lacks full docs)."""
    root = os.path.join(HERE, '..', '..', 'plugins')
    found = []
    for plugin_type, folder in (('module', 'modules'), ('lookup', 'lookup')):
        for name in sorted(os.listdir(os.path.join(root, folder))):
            if name.endswith('.py') and not name.startswith('_'):
                found.append((plugin_type, 'netkingdom.warden.' + name[:-3]))
    return found


PLUGINS = _plugins()


def test_every_module_is_in_the_action_group():
    import yaml
    with open(os.path.join(HERE, '..', '..', 'meta', 'runtime.yml')) as handle:
        group = yaml.safe_load(handle)['action_groups']['warden']
    assert sorted(group) == sorted(n.split('.')[-1] for t, n in PLUGINS if t == 'module')


@pytest.fixture(scope='module')
def public_key(tmp_path_factory):
    key = tmp_path_factory.mktemp('key') / 'id'
    subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', str(key)], check=True)
    return (key.parent / 'id.pub').read_text().strip()


@pytest.mark.parametrize('plugin_type, name', PLUGINS)
def test_ansible_doc_shows_full_docs(plugin_type, name):
    proc = ansible_doc(name, plugin_type, json_mode=True)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)[name]
    assert doc['doc']['short_description'] and doc['doc']['description']
    assert doc['doc']['options'] and doc['examples'].strip()
    assert doc['return'] or plugin_type == 'lookup'
    text = ansible_doc(name, plugin_type)
    assert text.returncode == 0 and 'EXAMPLES' in text.stdout and 'Traceback' not in text.stderr


def test_gate_plugins_embedded(public_key, tmp_path):
    run = run_playbook(os.path.join(PLAYBOOKS, 'gate_check.yml'), workdir=tmp_path,
                       extra_vars={'actors': ACTORS, 'public_key': public_key})
    assert run.rc == 0, run.output  # the expected failures are ignored; each is asserted below
    allow = run.task_results('Allowed check')[0]
    assert allow['allowed'] is True and allow['changed'] is False
    assert allow['reason'] == 'signing_policy_matched' and allow['decision_id'].startswith('decision:')
    assert allow['decision']['provenance']['mode'] == 'embedded'
    assert allow['request']['resource']['id'] == 'ssh-cert:actor/agt-state-hub-bridge'

    assert run.task_results('Allowed check from play variables (warden_actors)')[0]['allowed'] is True

    deny = run.task_results('Denied check returned as data')[0]
    assert deny['allowed'] is False and deny['reason'] == 'ttl_out_of_bounds' and not deny.get('failed')

    failed = run.task_results('Denied check fails the task')[0]
    assert failed['failed'] and failed['reason'] == 'principals_not_allowed'
    assert 'policy denied signing for atm-backup-daily: principals_not_allowed' in failed['msg']

    checked = run.task_results('Check mode changes nothing and still decides')[0]
    assert checked['allowed'] is True and checked['changed'] is False

    decisions = run.task_results('Lookup decisions for several actors')[0]['ansible_facts']['decisions']
    assert [d['reason'] for d in decisions] == ['signing_policy_matched', 'unknown_actor_resource',
                                                'signing_policy_matched']

    bad = run.task_results('Bad option value names the option')[0]
    assert bad['failed'] and 'mode' in bad['msg'] and 'remote' in bad['msg']
    assert 'Traceback' not in run.output


BAD_FILES = {
    'unknown type': ('agt-state-hub-bridge: {type: bot, principals: [a]}', "['agt-state-hub-bridge'].type"),
    'no prefix': ('state-hub-bridge: {type: agt, principals: [a]}', "['state-hub-bridge']"),
    'ttl not a number': ('agt-state-hub-bridge: {type: agt, principals: [a], ttl_hours: soon}', '.ttl_hours'),
    'ttl zero': ('agt-state-hub-bridge: {type: agt, principals: [a], ttl_hours: 0}', '.ttl_hours'),
    'ttl above max': ('agt-state-hub-bridge: {type: agt, principals: [a], ttl_hours: 30}', '.ttl_hours'),
    'principal space': ('agt-state-hub-bridge: {type: agt, principals: ["a b"]}', '.principals[0]'),
    'principal comma': ('agt-state-hub-bridge: {type: agt, principals: ["a,b"]}', '.principals[0]'),
    'principal hash': ('agt-state-hub-bridge: {type: agt, principals: ["a#b"]}', '.principals[0]'),
    'principal newline': ('agt-state-hub-bridge: {type: agt, principals: ["a\\nb"]}', '.principals[0]'),
    'principal star': ('agt-state-hub-bridge: {type: agt, principals: ["*"]}', '.principals[0]'),
    'principal empty': ('agt-state-hub-bridge: {type: agt, principals: [""]}', '.principals[0]'),
    'no principals': ('agt-state-hub-bridge: {type: agt, principals: []}', '.principals'),
    'duplicate actor': ('agt-state-hub-bridge: {type: agt, principals: [a]}\n'
                        '  agt-state-hub-bridge: {type: agt, principals: [b]}', "duplicate key 'agt-state-hub-bridge'"),
}


def test_bad_inventories_fail_naming_actor_and_field(tmp_path):
    cases = []
    for name, (body, dummy) in BAD_FILES.items():
        path = tmp_path / ('%s.yaml' % name.replace(' ', '_'))
        path.write_text('actors:\n  %s\n' % body)
        cases.append({'name': name, 'file': str(path)})
    run = run_playbook(os.path.join(PLAYBOOKS, 'bad_inventory.yml'), workdir=tmp_path,
                       extra_vars={'cases': cases, 'workdir': str(tmp_path)})
    assert 'Traceback' not in run.output
    for task in ('Policy check with a bad inventory', 'Registry snapshot with a bad inventory'):
        results = run.task_results(task)
        assert len(results) == len(BAD_FILES)
        for case, result in zip(cases, results):
            expected = BAD_FILES[case['name']][1]
            assert result['failed'], (task, case)
            assert case['file'] in result['msg'] and expected in result['msg'], (task, case, result['msg'])
            assert 'Traceback' not in result.get('module_stderr', '')
    assert not (tmp_path / 'never-written.json').exists()


def test_registry_snapshot_idempotent_check_mode_and_diff(tmp_path):
    dest = tmp_path / 'registry.json'
    book = os.path.join(PLAYBOOKS, 'registry.yml')
    first = run_playbook(book, workdir=tmp_path, extra_vars={'actors': ACTORS, 'dest': str(dest)})
    assert first.rc == 0, first.output
    built = first.task_results('Build snapshot')[0]
    assert built['changed'] and built['previous_digest'] is None and built['actors'] == 3
    on_disk = json.loads(dest.read_text())
    assert on_disk['digest'] == built['digest']
    assert oct(dest.stat().st_mode & 0o777) == '0o644'
    assert first.task_results('Validate snapshot')[0]['digest'] == built['digest']

    second = run_playbook(book, workdir=tmp_path, extra_vars={'actors': ACTORS, 'dest': str(dest)})
    assert second.task_results('Build snapshot')[0]['changed'] is False

    changed = dict(ACTORS)
    changed['agt-new-worker'] = {'type': 'agt', 'principals': ['agt-worker']}
    before = dest.read_text()
    dry = run_playbook(book, workdir=tmp_path, check=True, diff=True,
                       extra_vars={'actors': changed, 'dest': str(dest)})
    planned = dry.task_results('Build snapshot')[0]
    assert planned['changed'] is True
    assert planned['changes'] == ['add actor agt-new-worker (agt): principals agt-worker, TTL cap 24h']
    assert 'agt-new-worker' in planned['diff']['after'] and 'agt-new-worker' not in planned['diff']['before']
    assert dest.read_text() == before  # check mode wrote nothing

    tampered = json.loads(before)
    tampered['resource_manifests'][0]['resources'][0]['metadata']['principals'].append('root')
    dest.write_text(json.dumps(tampered))
    copy = tmp_path / 'tampered.json'
    copy.write_text(json.dumps(tampered))
    third = run_playbook(book, workdir=tmp_path,
                         extra_vars={'actors': ACTORS, 'dest': str(dest), 'validate_src': str(copy)})
    rebuilt = third.task_results('Build snapshot')[0]
    assert rebuilt['changed'] is True  # a hand-edited file is rebuilt from the inventory
    assert json.loads(dest.read_text())['digest'] == built['digest'] and 'root' not in dest.read_text()
    refused = third.task_results('Validate snapshot')[0]
    assert refused['failed'] and 'does not match the content' in refused['msg']
    assert refused['problems'][0]['field'] == 'digest'


def test_v1_snapshot_converts_with_the_documented_command(tmp_path):
    """docs/registry-sync.md: `ansible localhost -m netkingdom.warden.registry_snapshot -a "src=old dest=new"`."""
    from tests.bed.collection_path import ensure_on_path
    ensure_on_path()
    from ansible_collections.netkingdom.warden.plugins.module_utils._inventory import actors as A
    from ansible_collections.netkingdom.warden.plugins.module_utils._registry import snapshot as R
    from ansible_collections.netkingdom.warden.plugins.module_utils._registry import build as RB
    built = RB.build_snapshot(A.load_actors(ACTORS)[0])
    old = {'schema': R.SCHEMA_V1, 'tenants': built['tenants'], 'systems': [{'id': 'ops-warden'}], 'groups': [],
           'subjects': [{'id': s['id'], 'type': s['type'], 'groups': []} for s in R.iter_subjects(built)],
           'relationships': built['relationships'], 'resources': []}
    for res in R.iter_resources(built):
        meta = dict((k, v) for k, v in res['metadata'].items() if k not in ('tenant', 'source', 'flex_auth_contract'))
        old['resources'].append({'id': res['id'], 'type': res['type'], 'system': 'ops-warden',
                                 'tenant': res['metadata']['tenant'], 'metadata': meta})
    old['digest'] = R.compute_digest(old)
    (tmp_path / 'old.json').write_text(json.dumps(old))
    from tests.bed.ansible_run import ansible_env
    done = subprocess.run(['ansible', 'localhost', '-m', 'netkingdom.warden.registry_snapshot', '-a',
                           'src=old.json dest=new.json', '-e', 'ansible_python_interpreter=' + sys.executable],
                          cwd=str(tmp_path), env=ansible_env(workdir=tmp_path), capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert 'old netkingdom.warden/registry-snapshot/v1 format' in done.stdout + done.stderr  # the warning
    assert json.loads((tmp_path / 'new.json').read_text()) == built
    validated = subprocess.run(['ansible', 'localhost', '-m', 'netkingdom.warden.registry_snapshot', '-a',
                                'src=new.json validate_only=true', '-e',
                                'ansible_python_interpreter=' + sys.executable],
                               cwd=str(tmp_path), env=ansible_env(workdir=tmp_path), capture_output=True, text=True,
                               timeout=120, check=False)
    assert validated.returncode == 0 and 'registry-snapshot/v1' not in validated.stdout + validated.stderr


def _fixture_inventory():
    import yaml
    with open(os.path.join(HERE, '..', 'cases', 'actors.yaml')) as handle:
        return yaml.safe_load(handle)['actors']


def test_gate_plugins_remote_pdp_and_fail_closed(public_key, tmp_path, pdp):
    """The same playbook against the real PDP: same answers; a PDP fault signs nothing."""
    actors = _fixture_inventory()
    policy = {'mode': 'flex_auth', 'url': pdp.url, 'timeout': 1, 'retries': 0}
    run = run_playbook(os.path.join(PLAYBOOKS, 'gate_check.yml'), workdir=tmp_path,
                       extra_vars={'actors': actors, 'public_key': public_key, 'policy': policy})
    assert run.rc == 0, run.output
    allow = run.task_results('Allowed check')[0]
    assert allow['allowed'] and allow['mode'] == 'flex_auth' and allow['decision_id'].startswith('decision:')
    assert allow['decision']['provenance']['mode'] == 'flex_auth'
    assert run.task_results('Denied check returned as data')[0]['reason'] == 'ttl_out_of_bounds'
    assert run.task_results('Denied check fails the task')[0]['reason'] == 'principals_not_allowed'
    decisions = run.task_results('Lookup decisions for several actors')[0]['ansible_facts']['decisions']
    assert [d['reason'] for d in decisions] == ['signing_policy_matched', 'unknown_actor_resource',
                                                'signing_policy_matched']
    logged = [json.loads(line) for line in open(pdp.decision_log)]
    assert any(entry.get('effect') == 'deny' for entry in logged)

    pdp.set_fault('error500')
    try:
        down = run_playbook(os.path.join(PLAYBOOKS, 'gate_check.yml'), workdir=tmp_path,
                            extra_vars={'actors': actors, 'public_key': public_key, 'policy': policy})
    finally:
        pdp.set_fault(None)
    refused = down.task_results('Allowed check')[0]
    assert refused['failed'] and refused['allowed'] is False and refused['reason'] == 'policy_unavailable'
    assert refused['decision_id'] is None and 'HTTP 500' in refused['detail']
    assert down.rc != 0 and down.data['stats']['localhost']['failures'] == 1  # the play stopped there

    # fail_closed false from the play alone is refused: the controller must allow it (finding 14.4)
    open_policy = dict(policy, fail_closed=False)
    unconsented = run_playbook(os.path.join(PLAYBOOKS, 'gate_check.yml'), workdir=tmp_path,
                               extra_vars={'actors': actors, 'public_key': public_key, 'policy': open_policy})
    refused = unconsented.task_results('Allowed check')[0]
    assert refused['failed'] and 'policy.fail_closed' in refused['msg'] and 'WARDEN_ALLOW_UNGATED=1' in refused['msg']
    assert 'allowed' not in refused

    # With the controller's consent: an outage (5xx) fails open, an unreadable answer never does (14.3)
    consent = {'WARDEN_ALLOW_UNGATED': '1'}
    outcomes = {}
    for fault in ('error500', 'garbage'):
        pdp.set_fault(fault)
        try:
            outcomes[fault] = run_playbook(os.path.join(PLAYBOOKS, 'gate_check.yml'), workdir=tmp_path, env=consent,
                                           extra_vars={'actors': actors, 'public_key': public_key,
                                                       'policy': open_policy}).task_results('Allowed check')[0]
        finally:
            pdp.set_fault(None)
    allowed = outcomes['error500']
    assert allowed['allowed'] is True and allowed['decision_id'] is None and allowed['reason'] == 'policy_unavailable'
    assert any('fail_closed is false' in w for w in allowed.get('warnings', []))
    garbage = outcomes['garbage']
    assert garbage['failed'] and garbage['allowed'] is False and garbage['reason'] == 'policy_answer_invalid'
    assert 'not JSON' in garbage['detail'] and not garbage.get('warnings')


def test_registry_snapshot_carries_credential_lanes(tmp_path):
    """Lanes of the routing catalog become credential-lane resources a flex-auth PDP decides on."""
    dest = tmp_path / 'registry.json'
    catalog = os.path.join(HERE, '..', '..', 'docs', 'examples', 'routing', 'catalog.yaml')
    run = run_playbook(os.path.join(PLAYBOOKS, 'registry.yml'), workdir=tmp_path, extra_vars={
        'actors': ACTORS, 'dest': str(dest), 'routing_catalog': catalog,
        'credential_access': {'npm-publish-token': ['iam:adm-example']}})
    assert run.rc == 0, run.output
    lanes = [r for m in json.loads(dest.read_text())['resource_manifests'] for r in m['resources']
             if r['type'] == 'credential-lane']
    assert lanes and any('iam:adm-example' in r['metadata']['allowed_subjects'] for r in lanes)
    refused = run_playbook(os.path.join(PLAYBOOKS, 'registry.yml'), workdir=tmp_path, extra_vars={
        'actors': ACTORS, 'dest': str(tmp_path / 'other.json'), 'routing_catalog': catalog,
        'credential_access': {'no-such-lane': ['x']}})
    assert refused.task_results('Build snapshot')[0]['failed']
    assert 'access.no-such-lane' in refused.task_results('Build snapshot')[0]['msg']
