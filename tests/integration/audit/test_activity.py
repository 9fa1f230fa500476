"""netkingdom.warden.activity, run by ansible-playbook against the built and installed collection,
on an audit trail this test writes (a rotated file, the current file, a torn line)."""

import datetime
import json

import pytest

from tests.bed.ansible_run import ansible_doc, run_playbook
from tests.bed.collection_path import ensure_on_path

NAME = 'netkingdom.warden.activity'

PLAYBOOK = """
- name: Audit trail queries
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: All records
      netkingdom.warden.activity:
        path: "{{ audit }}"

    - name: Last day
      netkingdom.warden.activity:
        path: "{{ audit }}"
        days: 1

    - name: Last twelve hours of signings
      netkingdom.warden.activity:
        path: "{{ audit }}"
        days: 0.5
        kind: sign

    - name: Signings
      netkingdom.warden.activity:
        path: "{{ audit }}"
        kind: sign

    - name: One actor
      netkingdom.warden.activity:
        path: "{{ audit }}"
        actor: adm-example

    - name: Actor pattern
      netkingdom.warden.activity:
        path: "{{ audit }}"
        actor: "agt-*"

    - name: One host
      netkingdom.warden.activity:
        path: "{{ audit }}"
        host: web-01

    - name: Newest two signings
      netkingdom.warden.activity:
        path: "{{ audit }}"
        kind: sign
        limit: 2

    - name: Through the audit_log alias
      netkingdom.warden.activity:
        audit_log: "{{ audit }}"
        kind: rotate

    - name: From WARDEN_AUDIT_LOG
      netkingdom.warden.activity:

    - name: From the play variable
      netkingdom.warden.activity:
        kind: registry
      vars:
        warden_audit_log: "{{ audit }}"

    - name: Check mode reads the same
      netkingdom.warden.activity:
        path: "{{ audit }}"
        kind: sign
      check_mode: true

    - name: No audit trail yet
      netkingdom.warden.activity:
        path: "{{ missing }}"

    - name: Bad kind names the option
      netkingdom.warden.activity:
        path: "{{ audit }}"
        kind: login
      ignore_errors: true

    - name: Bad limit names the option
      netkingdom.warden.activity:
        path: "{{ audit }}"
        limit: 0
      ignore_errors: true

    - name: Auditing cannot be pointed at nothing
      netkingdom.warden.activity:
        path: "off"
      ignore_errors: true
"""


def ts(delta):
    when = datetime.datetime.now(datetime.timezone.utc) - delta
    return when.strftime('%Y-%m-%dT%H:%M:%S.%fZ')


def write_trail(tmp_path):
    """s1..s5 in the rotated file, s6..s9 (and a torn line) in the current one; s10 through AuditLog."""
    audit = tmp_path / 'state' / 'audit.jsonl'
    audit.parent.mkdir()
    d, h = datetime.timedelta(days=1), datetime.timedelta(hours=1)
    old = [
        dict(ts=ts(20 * d), kind='sign', actor='agt-state-hub-bridge', host='web-01', serial='s1'),
        dict(ts=ts(9 * d), kind='policy', actor='adm-example', host='web-02', outcome='deny',
             reason='ttl_out_of_bounds', serial='s2'),
        dict(ts=ts(5 * d), kind='rotate', actor='atm-backup-daily', host='db-01', account='backup', serial='s3'),
        dict(ts=ts(3 * d), kind='registry', outcome='deployed', new_digest='sha256:' + 'c' * 64, serial='s4'),
        dict(ts=ts(2 * d), kind='sign', actor='adm-example', host='web-02', serial='s5'),
    ]
    new = [
        dict(ts=ts(20 * h), kind='sign', actor='agt-state-hub-bridge', host='web-02', serial='s6'),
        dict(ts=ts(14 * h), kind='access', actor='adm-example', need_id='npm-token', serial='s7'),
        dict(ts=ts(3 * h), kind='policy', actor='agt-state-hub-bridge', host='web-01', outcome='allow', serial='s8'),
        dict(ts=ts(1 * h), kind='sign', actor='adm-example', host='web-01', serial='s9'),
    ]
    (tmp_path / 'state' / 'audit.jsonl.1').write_text(
        ''.join(json.dumps(r) + '\n' for r in old) + 'this line is not json\n')
    audit.write_text(''.join(json.dumps(r) + '\n' for r in new) + '{"kind": "sign", "serial": "torn')
    ensure_on_path()
    from ansible_collections.netkingdom.warden.plugins.module_utils._audit.log import AuditLog
    AuditLog(str(audit), node='ctl-test').record(
        kind='sign', actor='agt-state-hub-bridge', actor_type='agt', host='web-01', principals=['agt-task-bridge'],
        ttl_hours=24, backend='local', serial='s10', policy_decision_id='decision:0123456789abcdef',
        pubkey_fingerprint='SHA256:Zr6eP0g9mXxFQ0x8bB0pUq7p3sVb0Xr5f9m1pP4cJ2c', outcome='signed')

    other = tmp_path / 'other' / 'audit.jsonl'
    other.parent.mkdir()
    other.write_text(json.dumps(dict(ts=ts(h), kind='policy', actor='adm-other', serial='env1')) + '\n')
    return audit, other


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp('activity')
    audit, other = write_trail(tmp_path)
    book = tmp_path / 'activity.yml'
    book.write_text(PLAYBOOK)
    before = {p: p.read_bytes() for p in (audit, audit.parent / 'audit.jsonl.1', other)}
    result = run_playbook(str(book), workdir=tmp_path, env={'WARDEN_AUDIT_LOG': str(other)},
                          extra_vars={'audit': str(audit), 'missing': str(tmp_path / 'none' / 'audit.jsonl')})
    result.audit, result.other = audit, other
    result.unchanged = all(p.read_bytes() == data for p, data in before.items())
    return result


def serials(result):
    return [r['serial'] for r in result['records']]


def test_activity_reads_and_filters(run):
    assert run.rc == 0, run.output
    assert 'Traceback' not in run.output
    assert run.unchanged  # a query writes nothing

    everything = run.task_results('All records')[0]
    assert serials(everything) == ['s%d' % i for i in range(1, 11)]
    assert everything['count'] == 10 and everything['skipped_lines'] == 2  # the bad line and the torn one
    assert everything['changed'] is False
    assert any('2 line(s)' in w for w in everything['warnings'])
    assert everything['path'] == str(run.audit)
    assert everything['files'] == [str(run.audit) + '.1', str(run.audit)]
    written = everything['records'][-1]
    assert written['node'] == 'ctl-test' and written['principals'] == ['agt-task-bridge']
    assert written['ts'].endswith('Z')

    expected = {
        'Last day': ['s6', 's7', 's8', 's9', 's10'],
        'Last twelve hours of signings': ['s9', 's10'],
        'Signings': ['s1', 's5', 's6', 's9', 's10'],
        'One actor': ['s2', 's5', 's7', 's9'],
        'Actor pattern': ['s1', 's6', 's8', 's10'],
        'One host': ['s1', 's8', 's9', 's10'],
        'Newest two signings': ['s9', 's10'],
        'Through the audit_log alias': ['s3'],
        'From WARDEN_AUDIT_LOG': ['env1'],
        'From the play variable': ['s4'],
        'Check mode reads the same': ['s1', 's5', 's6', 's9', 's10'],
        'No audit trail yet': [],
    }
    for task, want in expected.items():
        result = run.task_results(task)[0]
        assert not result.get('failed'), (task, result)
        assert serials(result) == want, task
        assert result['count'] == len(want) and result['changed'] is False, task

    empty = run.task_results('No audit trail yet')[0]
    assert empty['files'] == [] and empty['skipped_lines'] == 0
    assert run.task_results('From WARDEN_AUDIT_LOG')[0]['path'] == str(run.other)


def test_activity_bad_options_fail_naming_the_option(run):
    bad_kind = run.task_results('Bad kind names the option')[0]
    assert bad_kind['failed'] and 'kind' in bad_kind['msg'] and 'login' in bad_kind['msg']
    bad_limit = run.task_results('Bad limit names the option')[0]
    assert bad_limit['failed'] and 'limit' in bad_limit['msg']
    off = run.task_results('Auditing cannot be pointed at nothing')[0]
    assert off['failed'] and 'cannot be turned off' in off['msg']


def test_ansible_doc_shows_activity():
    proc = ansible_doc(NAME, json_mode=True)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)[NAME]
    assert doc['doc']['short_description'] and doc['doc']['description']
    assert set(doc['doc']['options']) == {'path', 'days', 'kind', 'actor', 'host', 'limit'}
    assert doc['doc']['options']['kind']['choices'] == ['sign', 'policy', 'rotate', 'registry', 'access']
    assert doc['doc']['options']['path']['aliases'] == ['audit_log']
    assert {'records', 'count', 'skipped_lines'} <= set(doc['return'])
    assert doc['examples'].strip()
    assert doc['doc']['attributes']['check_mode']['support'] == 'full'
    text = ansible_doc(NAME)
    assert text.returncode == 0 and 'EXAMPLES' in text.stdout and 'Traceback' not in text.stderr
