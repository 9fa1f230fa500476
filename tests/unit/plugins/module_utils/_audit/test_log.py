"""The audit trail: schema, secret refusal, rotation, queries, and many writers at once."""

import datetime
import json
import multiprocessing
import os
import secrets
import socket
import stat
import string
import time

import pytest

from ansible_collections.netkingdom.warden.plugins.module_utils._audit import files as AF
from ansible_collections.netkingdom.warden.plugins.module_utils._audit import log as A
from ansible_collections.netkingdom.warden.plugins.module_utils._audit import record as AR
from ansible_collections.netkingdom.warden.plugins.module_utils._audit.files import DEFAULT_PATH, AuditError, log_files
from ansible_collections.netkingdom.warden.plugins.module_utils._audit.log import AuditLog
from ansible_collections.netkingdom.warden.plugins.module_utils._audit.query import query
from ansible_collections.netkingdom.warden.plugins.module_utils._audit.record import ALL_FIELDS, FIELDS, AuditRefused, parse_ts
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError, WardenError

B62 = string.ascii_letters + string.digits


def rnd(n):
    return ''.join(secrets.choice(B62) for dummy in range(n))


SIGN = {
    'kind': 'sign', 'actor': 'agt-state-hub-bridge', 'actor_type': 'agt', 'subject': 'iam:agt-state-hub-bridge',
    'host': 'web-01', 'principals': ['agt-task-bridge'], 'ttl_hours': 24, 'backend': 'openbao',
    'serial': '1732615200123456789', 'key_id': 'warden:agt-state-hub-bridge:decision:0123456789abcdef',
    'valid_after': '2026-11-26T09:55:00Z', 'valid_before': '2026-11-27T10:00:00Z',
    'ca_fingerprint': 'SHA256:4d5RwMy3o1n0mCEgZsxk7v8wHb7hZ5fBq3aE0vUqY0s',
    'pubkey_fingerprint': 'SHA256:Zr6eP0g9mXxFQ0x8bB0pUq7p3sVb0Xr5f9m1pP4cJ2c',
    'policy_decision_id': 'decision:0123456789abcdef', 'outcome': 'signed', 'reason': 'signing_policy_matched',
}


@pytest.fixture
def log_path(tmp_path):
    return str(tmp_path / 'state' / 'warden' / 'audit.jsonl')


def lines_of(path):
    with open(path, 'rb') as handle:
        return handle.read().decode('ascii').splitlines()


# -- schema -----------------------------------------------------------------------------------------

def test_record_writes_one_compact_json_line_in_schema_order(log_path):
    log = AuditLog(log_path)
    written = log.record(**SIGN)
    lines = lines_of(log_path)
    assert len(lines) == 1
    assert ': ' not in lines[0] and ', ' not in lines[0]  # compact
    on_disk = json.loads(lines[0])
    assert on_disk == written
    assert list(on_disk)[:2] == ['ts', 'kind']
    assert [k for k in on_disk if k in FIELDS] == [k for k in FIELDS if k in on_disk]
    for key, value in SIGN.items():
        assert on_disk[key] == value
    assert on_disk['node'] == socket.gethostname()
    when = parse_ts(on_disk['ts'])
    assert on_disk['ts'].endswith('Z') and abs((AR.utc_now() - when).total_seconds()) < 60


def test_explicit_ts_node_and_extra_fields_are_kept(log_path):
    log = AuditLog(log_path, node='awx-ee-node-1')
    rec = log.record(kind='registry', ts='2026-01-02T03:04:05+02:00', outcome='deployed',
                     old_digest='sha256:' + 'a' * 64, new_digest='sha256:' + 'b' * 64, job_id=4711)
    assert rec['ts'] == '2026-01-02T03:04:05+02:00' and rec['node'] == 'awx-ee-node-1' and rec['job_id'] == 4711
    rec = log.record(kind='access', need_id='npm-token', owner='coulomb_social/ops', domain='coulomb_social',
                     action='fetch', policy_decision_id=None, outcome='fetched', node='explicit')
    assert rec['policy_decision_id'] is None and rec['node'] == 'explicit'
    assert json.loads(lines_of(log_path)[1])['policy_decision_id'] is None
    assert set(AR.EXTRA_FIELDS) <= set(ALL_FIELDS) and len(AR.EXTRA_FIELDS) <= 13


def test_awx_job_id_from_the_environment(log_path, monkeypatch):
    monkeypatch.setenv('JOB_ID', '812')
    log = AuditLog(log_path, node='awx-ee-node-1')
    assert log.record(**SIGN)['job_id'] == '812'
    assert log.record(**dict(SIGN, job_id=4711))['job_id'] == 4711  # an explicit id wins
    monkeypatch.delenv('JOB_ID')
    assert 'job_id' not in AuditLog(log_path).record(**SIGN)


BAD_RECORDS = [
    ('unknown field', dict(SIGN, colour='blue'), 'colour', 'unknown audit field'),
    ('missing kind', dict((k, v) for k, v in SIGN.items() if k != 'kind'), 'kind', 'is required'),
    ('wrong kind', dict(SIGN, kind='login'), 'kind', 'must be one of sign, policy, rotate, registry, access'),
    ('dict value', dict(SIGN, reason={'a': 1}), 'reason', 'got dict'),
    ('list of ints', dict(SIGN, principals=['ok', 3]), 'principals[1]', 'must be a string'),
    ('principals not a list', dict(SIGN, principals='agt-task-bridge'), 'principals', 'list of strings'),
    ('nan', dict(SIGN, ttl_hours=float('nan')), 'ttl_hours', 'finite'),
    ('ttl boolean', dict(SIGN, ttl_hours=True), 'ttl_hours', 'number of hours'),
    ('ttl text', dict(SIGN, ttl_hours='24'), 'ttl_hours', 'number of hours'),
    ('bad ts', dict(SIGN, ts='yesterday'), 'ts', 'ISO-8601'),
    ('ts not a date', dict(SIGN, ts='2026-13-45T10:00:00Z'), 'ts', 'ISO-8601'),
    ('huge value', dict(SIGN, reason='x' * 5000), 'reason', 'longer than'),
    ('object', dict(SIGN, serial=object()), 'serial', 'got object'),
]


@pytest.mark.parametrize('case, fields, field, words', BAD_RECORDS, ids=[c[0] for c in BAD_RECORDS])
def test_invalid_record_names_the_field_and_writes_nothing(log_path, case, fields, field, words):
    log = AuditLog(log_path)
    with pytest.raises(ValidationError) as info:
        log.record(**fields)
    assert field in info.value.fields
    assert words in str(info.value)
    assert not os.path.exists(log_path)


def test_settings_are_validated(log_path):
    for kwargs, field in (({'max_bytes': 10}, 'max_bytes'), ({'keep': -1}, 'keep'), ({'max_bytes': '1M'}, 'max_bytes')):
        with pytest.raises(ValidationError) as info:
            AuditLog(log_path, **kwargs)
        assert info.value.fields == [field]


# -- secret refusal -----------------------------------------------------------------------------------

def secret_values():
    return {
        'github token': ('reason', 'upstream said ghp_' + rnd(36)),
        'vault token': ('subject', 'hvs.' + rnd(90)),
        'cert body': ('pubkey_fingerprint', 'ssh-ed25519-cert-v01@openssh.com AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9w'
                      'ZW5zc2guY29t' + rnd(120)),
        'random run': ('key_id', 'warden:' + rnd(48)),
        'principal': ('principals', ['agt-task-bridge', 'AKIA' + rnd(16).upper()]),
    }


@pytest.mark.parametrize('case', sorted(secret_values()))
def test_record_with_secret_is_refused_and_never_stored_or_echoed(log_path, case):
    field, value = secret_values()[case]
    log = AuditLog(log_path)
    log.record(**SIGN)
    before = open(log_path, 'rb').read()
    with pytest.raises(AuditRefused) as info:
        log.record(**dict(SIGN, **{field: value}))
    assert isinstance(info.value, WardenError)
    text = str(info.value)
    secret = value[-1] if isinstance(value, list) else value
    assert secret not in text and secret[-16:] not in text
    assert field in text and info.value.fields[0].startswith(field)
    assert info.value.problems[0][1] in text  # the kind is named
    assert open(log_path, 'rb').read() == before  # nothing was written
    assert secret[-16:].encode() not in before


def test_check_validates_without_writing(log_path):
    log = AuditLog(log_path, node='n1')
    assert log.check(**SIGN)['node'] == 'n1'
    leaky = dict(SIGN)
    leaky['reason'] = 'npm_' + rnd(36)
    with pytest.raises(AuditRefused):
        log.check(**leaky)
    with pytest.raises(ValidationError):
        log.check(kind='nope')
    assert not os.path.exists(log_path)


def test_secret_in_an_unknown_field_name_is_refused_not_echoed(log_path):
    name = 'ghp_' + rnd(36)
    with pytest.raises(AuditRefused) as info:
        AuditLog(log_path).record(kind='sign', **{name: 'x'})
    assert name not in str(info.value) and 'github_token' in str(info.value)
    assert not os.path.exists(log_path)


# -- files, permissions, paths ------------------------------------------------------------------------

def test_creates_private_directory_file_and_lock(log_path):
    old = os.umask(0o022)
    try:
        AuditLog(log_path).record(kind='policy', actor='adm-example', outcome='allow')
    finally:
        os.umask(old)
    directory = os.path.dirname(log_path)
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(log_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(log_path + '.lock').st_mode) == 0o600


def test_path_from_env_default_and_no_way_to_turn_it_off(tmp_path, monkeypatch):
    monkeypatch.delenv(AF.ENV, raising=False)
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    assert AuditLog().path == str(tmp_path / 'home' / '.local' / 'state' / 'warden' / 'audit.jsonl')
    assert DEFAULT_PATH == '~/.local/state/warden/audit.jsonl'
    monkeypatch.setenv(AF.ENV, str(tmp_path / 'env.jsonl'))
    assert AuditLog().path == str(tmp_path / 'env.jsonl')
    assert AuditLog(str(tmp_path / 'explicit.jsonl')).path == str(tmp_path / 'explicit.jsonl')
    AuditLog().record(kind='sign', actor='agt-x')
    assert query()[0]['actor'] == 'agt-x'
    for word in ('off', 'OFF', 'none', 'false', '/dev/null'):
        monkeypatch.setenv(AF.ENV, word)
        with pytest.raises(ValidationError) as info:
            AuditLog()
        assert AF.ENV in str(info.value) and 'cannot be turned off' in str(info.value)


def test_not_a_regular_file_is_an_error(tmp_path):
    (tmp_path / 'dir.jsonl').mkdir()
    with pytest.raises(AuditError):
        AuditLog(str(tmp_path / 'dir.jsonl')).record(kind='sign')
    (tmp_path / 'real.jsonl').write_text('')
    os.symlink(str(tmp_path / 'real.jsonl'), str(tmp_path / 'link.jsonl'))
    with pytest.raises(AuditError) as info:
        AuditLog(str(tmp_path / 'link.jsonl')).record(kind='sign')
    assert 'symbolic link' in str(info.value)


# -- who may write the file (finding 14.8) ---------------------------------------------------------

def _foreign(path):
    """Make ``path`` belong to another account (nobody), as a file planted by someone else."""
    assert os.geteuid() == 0, 'the test bed runs as root (see TESTBED.md)'
    os.lchown(str(path), 65534, 65534)


def test_a_log_owned_by_another_account_is_refused_and_left_alone(tmp_path):
    planted = tmp_path / 'audit.jsonl'
    planted.write_text('{"kind":"sign","outcome":"forged"}\n')
    os.chmod(str(planted), 0o666)
    _foreign(planted)
    for act in (lambda log: log.record(**SIGN), lambda log: log.writable()):
        with pytest.raises(AuditError) as info:
            act(AuditLog(str(planted)))
        assert str(planted) in str(info.value) and 'belongs to uid 65534' in str(info.value)
    assert planted.read_text() == '{"kind":"sign","outcome":"forged"}\n'  # nothing appended


@pytest.mark.parametrize('mode, refused', [(0o600, False), (0o640, False), (0o644, False), (0o400, False),
                                           (0o620, True), (0o602, True), (0o660, True), (0o666, True)])
def test_group_or_other_write_bits_are_refused(tmp_path, mode, refused):
    path = tmp_path / 'audit.jsonl'
    path.write_text('')
    os.chmod(str(path), mode)
    log = AuditLog(str(path))
    if not refused:
        log.writable()
        assert log.record(**SIGN)['serial'] == SIGN['serial']
        return
    with pytest.raises(AuditError) as info:
        log.record(**SIGN)
    assert 'writable by its group or by others (mode %04o)' % mode in str(info.value)
    assert 'chmod go-w %s' % path in str(info.value) and path.read_text() == ''


def test_the_lock_is_never_followed_nor_taken_from_someone_else(tmp_path):
    target = tmp_path / 'elsewhere'
    target.write_text('keep me')
    log = AuditLog(str(tmp_path / 'audit.jsonl'))
    os.symlink(str(target), log.lock_path)
    with pytest.raises(AuditError) as info:
        log.record(**SIGN)
    assert 'audit lock' in str(info.value) and 'symbolic link' in str(info.value)
    assert target.read_text() == 'keep me' and not os.path.exists(log.path)
    os.unlink(log.lock_path)
    open(log.lock_path, 'w').close()
    _foreign(log.lock_path)
    with pytest.raises(AuditError) as info:
        log.writable()
    assert 'the audit lock %s belongs to uid 65534' % log.lock_path in str(info.value)


def test_a_file_planted_during_rotation_is_refused(tmp_path):
    log = AuditLog(str(tmp_path / 'audit.jsonl'))
    log.record(**SIGN)
    with pytest.raises(AuditError) as info:
        log._open_log(fresh=True)  # what the writer opens right after renaming the full file away
    assert 'appeared while it was being rotated' in str(info.value)


def test_a_planted_link_among_the_rotated_files_is_not_read(tmp_path):
    log = AuditLog(str(tmp_path / 'audit.jsonl'))
    log.record(**SIGN)
    secret = tmp_path / 'other.json'
    secret.write_text('{"kind":"sign","token":"not for the activity report"}\n')
    os.symlink(str(secret), log.path + '.1')
    with pytest.raises(AuditError) as info:
        query(log.path)
    assert 'symbolic link' in str(info.value) and log.path + '.1' in str(info.value)


def test_a_write_that_fails_leaves_no_half_line(tmp_path):
    import subprocess
    import sys
    path = tmp_path / 'audit.jsonl'
    path.write_text('x' * 1000 + '\n')
    code = ('import resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, (1100, 1100)); '
            'from ansible_collections.netkingdom.warden.plugins.module_utils._audit.files import AuditError\n'
            'from ansible_collections.netkingdom.warden.plugins.module_utils._audit.log import AuditLog\n'
            'try:\n    AuditLog(sys.argv[1]).record(kind="sign", reason="y" * 400)\n'
            'except AuditError as exc:\n    print(exc)')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, '-c', code, str(path)], capture_output=True, text=True, env=env,
                         check=True).stdout
    assert 'File too large' in out
    assert path.read_text() == 'x' * 1000 + '\n'  # the partial write was cut back


def test_torn_last_line_is_kept_apart(log_path):
    log = AuditLog(log_path)
    log.record(kind='sign', serial='1')
    with open(log_path, 'ab') as handle:
        handle.write(b'{"kind":"sign","serial":"torn')  # a crash mid-line
    log.record(kind='sign', serial='2')
    records = query(log_path)
    assert [r['serial'] for r in records] == ['1', '2'] and records.skipped_lines == 1


# -- rotation ---------------------------------------------------------------------------------------

def test_rotation_at_the_size_limit_keeps_keep_files(log_path):
    log = AuditLog(log_path, max_bytes=4096, keep=3)
    for i in range(300):
        log.record(kind='sign', actor='agt-state-hub-bridge', host='web-%02d' % (i % 7), serial=str(i),
                   reason='signing_policy_matched')
    names = sorted(os.listdir(os.path.dirname(log_path)))
    assert names == ['audit.jsonl', 'audit.jsonl.1', 'audit.jsonl.2', 'audit.jsonl.3', 'audit.jsonl.lock']
    for name in log_files(log_path):
        assert 0 < os.path.getsize(name) <= 4096
        for line in lines_of(name):
            json.loads(line)
    kept = [int(r['serial']) for r in query(log_path)]
    assert kept == list(range(300 - len(kept), 300))  # the newest, contiguous, in order; the oldest dropped
    assert 3 * 4096 * 0.8 < sum(os.path.getsize(n) for n in log_files(log_path)) <= 4 * 4096


def test_keep_zero_drops_the_full_file(log_path):
    log = AuditLog(log_path, max_bytes=1024, keep=0)
    for i in range(50):
        log.record(kind='sign', serial=str(i))
    assert log_files(log_path) == [log_path] and os.path.getsize(log_path) <= 1024
    assert query(log_path)[-1]['serial'] == '49'


# -- queries ----------------------------------------------------------------------------------------

@pytest.fixture
def history(log_path):
    """Ten records over three weeks, across a rotated file and the current one."""
    now = AR.utc_now()

    def ago(**delta):
        return AR.format_ts(now - datetime.timedelta(**delta))

    rows = [
        dict(ts=ago(days=20), kind='sign', actor='agt-state-hub-bridge', host='web-01', serial='s1'),
        dict(ts=ago(days=10), kind='policy', actor='adm-example', host='web-02', outcome='deny', serial='s2'),
        dict(ts=ago(days=9), kind='rotate', actor='atm-backup-daily', host='db-01', account='backup', serial='s3'),
        dict(ts=ago(days=5), kind='registry', outcome='deployed', new_digest='sha256:' + 'c' * 64, serial='s4'),
        dict(ts=ago(days=2, hours=12), kind='sign', actor='agt-state-hub-bridge', host='web-02', serial='s5'),
        dict(ts=ago(days=2), kind='access', actor='adm-example', need_id='npm-token', serial='s6'),
        dict(ts=ago(hours=20), kind='sign', actor='adm-example', host='web-01', serial='s7'),
        dict(ts=ago(hours=3), kind='policy', actor='agt-state-hub-bridge', host='db-01', outcome='allow', serial='s8'),
        dict(ts=ago(hours=1), kind='sign', actor='agt-state-hub-bridge', host='web-01', serial='s9'),
        dict(ts=ago(minutes=5), kind='sign', actor='atm-backup-daily', host='db-01', serial='s10'),
    ]
    log = AuditLog(log_path, node='ctl-1')
    for row in rows[:5]:
        log.record(**row)
    os.rename(log_path, log_path + '.1')  # as a rotation would
    for row in rows[5:]:
        log.record(**row)
    return log_path


def serials(records):
    return [r['serial'] for r in records]


QUERIES = [
    ({}, ['s%d' % i for i in range(1, 11)]),
    ({'days': 1}, ['s7', 's8', 's9', 's10']),
    ({'days': 3}, ['s5', 's6', 's7', 's8', 's9', 's10']),
    ({'days': 0.5}, ['s8', 's9', 's10']),
    ({'days': 30}, ['s%d' % i for i in range(1, 11)]),
    ({'kind': 'sign'}, ['s1', 's5', 's7', 's9', 's10']),
    ({'kind': ['policy', 'rotate']}, ['s2', 's3', 's8']),
    ({'actor': 'adm-example'}, ['s2', 's6', 's7']),
    ({'actor': 'agt-*'}, ['s1', 's5', 's8', 's9']),
    ({'host': 'web-01'}, ['s1', 's7', 's9']),
    ({'host': 'db-0[1]'}, ['s3', 's8', 's10']),
    ({'limit': 2}, ['s9', 's10']),
    ({'limit': 100}, ['s%d' % i for i in range(1, 11)]),
    ({'kind': 'sign', 'actor': 'agt-state-hub-bridge', 'days': 3}, ['s5', 's9']),
    ({'kind': 'sign', 'host': 'web-01', 'limit': 2}, ['s7', 's9']),
    ({'kind': 'access', 'host': 'web-01'}, []),
]


@pytest.mark.parametrize('filters, expected', QUERIES, ids=[json.dumps(q[0]) for q in QUERIES])
def test_query_filters(history, filters, expected):
    records = query(history, **filters)
    assert serials(records) == expected
    assert records.skipped_lines == 0
    assert records.files == [history + '.1', history]


def test_query_through_the_log_object_and_env(history, monkeypatch):
    assert serials(AuditLog(history).query(kind='rotate')) == ['s3']
    monkeypatch.setenv(AF.ENV, history)
    assert serials(query(limit=1)) == ['s10']


@pytest.mark.parametrize('filters, field', [
    ({'days': -1}, 'days'), ({'days': 'week'}, 'days'), ({'kind': 'login'}, 'kind'), ({'kind': []}, 'kind'),
    ({'limit': 0}, 'limit'), ({'limit': 2.5}, 'limit'), ({'actor': ''}, 'actor'), ({'host': 7}, 'host'),
])
def test_query_rejects_bad_filters(history, filters, field):
    with pytest.raises(ValidationError) as info:
        query(history, **filters)
    assert field in info.value.fields


def test_unparseable_lines_are_skipped_and_counted(history):
    with open(history + '.1', 'ab') as handle:
        handle.write(b'not json at all\n\n   \n[1, 2, 3]\n')
    with open(history, 'ab') as handle:
        handle.write(b'"a string"\n{"kind": "sign", "serial": \n\xff\xfe\xfd garbage\n')
    AuditLog(history).record(kind='sign', serial='s11')
    records = query(history)
    assert serials(records) == ['s%d' % i for i in range(1, 12)]
    assert records.skipped_lines == 5  # blank lines are not counted


def test_query_without_a_log_is_empty(tmp_path):
    records = query(str(tmp_path / 'nothing' / 'audit.jsonl'))
    assert records == [] and records.skipped_lines == 0 and records.files == []


def test_parse_ts_forms():
    utc = AR.utc_now().tzinfo
    want = datetime.datetime(2026, 11, 26, 10, 0, 0, tzinfo=utc)
    for text in ('2026-11-26T10:00:00Z', '2026-11-26T10:00:00.000000Z', '2026-11-26T12:00:00+02:00',
                 '2026-11-26T10:00:00', '2026-11-26 05:00:00-0500', '2026-11-26T10:00:00.000000000Z'):
        assert parse_ts(text) == want, text
    for text in ('', 'now', '2026-11-26', None, 5, '2026-02-30T10:00:00Z'):
        assert parse_ts(text) is None


# -- many writers at once ---------------------------------------------------------------------------

PROCESSES = 30
PER_PROCESS = 200


def _writer(path, max_bytes, keep, worker, barrier):
    log = AuditLog(path, max_bytes=max_bytes, keep=keep, node='node-%02d' % worker)
    barrier.wait()
    for i in range(PER_PROCESS):
        log.record(kind='sign', actor='agt-worker-%02d' % worker, actor_type='agt', host='web-%02d' % worker,
                   principals=['agt-task-bridge'], ttl_hours=8, serial='%d-%d' % (worker, i),
                   policy_decision_id='decision:%016x' % (worker * 100000 + i), outcome='signed',
                   reason='signing_policy_matched')
    os._exit(0)


def burst(path, max_bytes, keep):
    ctx = multiprocessing.get_context('fork')
    barrier = ctx.Barrier(PROCESSES + 1)
    procs = [ctx.Process(target=_writer, args=(path, max_bytes, keep, w, barrier)) for w in range(PROCESSES)]
    for proc in procs:
        proc.start()
    barrier.wait()
    start = time.perf_counter()
    for proc in procs:
        proc.join(300)
    elapsed = time.perf_counter() - start
    assert [p.exitcode for p in procs] == [0] * PROCESSES
    return elapsed


def check_burst(path, max_bytes=None):
    seen = []
    for name in log_files(path):
        if max_bytes:
            assert os.path.getsize(name) <= max_bytes
        for line in lines_of(name):
            record = json.loads(line)  # every line is a whole JSON record
            seen.append(record['serial'])
    assert len(seen) == PROCESSES * PER_PROCESS
    assert len(set(seen)) == len(seen)  # no duplicates
    assert set(seen) == {'%d-%d' % (w, i) for w in range(PROCESSES) for i in range(PER_PROCESS)}  # none missing
    for worker in range(PROCESSES):  # each writer's records stay in its order, across rotations
        mine = [int(s.split('-')[1]) for s in seen if s.startswith('%d-' % worker)]
        assert mine == list(range(PER_PROCESS))
    return seen


def test_thirty_processes_append_without_loss(log_path):
    elapsed = burst(log_path, A.DEFAULT_MAX_BYTES, A.DEFAULT_KEEP)
    check_burst(log_path)
    assert log_files(log_path) == [log_path]
    records = query(log_path)
    assert len(records) == PROCESSES * PER_PROCESS and records.skipped_lines == 0
    print('audit burst: %d processes x %d records in %.2fs (%.0f records/s)'
          % (PROCESSES, PER_PROCESS, elapsed, PROCESSES * PER_PROCESS / elapsed))


def test_thirty_processes_append_while_rotating(log_path):
    max_bytes = 64 * 1024
    elapsed = burst(log_path, max_bytes, keep=100)
    check_burst(log_path, max_bytes)
    files = log_files(log_path)
    assert len(files) > 10  # rotation really happened during the burst
    assert files[-1] == log_path and files[0] == '%s.%d' % (log_path, len(files) - 1)
    records = query(log_path)
    assert len(records) == PROCESSES * PER_PROCESS and records.skipped_lines == 0
    print('audit burst with rotation: %d processes x %d records, %d files, in %.2fs'
          % (PROCESSES, PER_PROCESS, len(files), elapsed))
