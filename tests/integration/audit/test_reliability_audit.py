"""The audit log under concurrency (issue 8): 30 processes append at the same instant, across
several size-limit rotations; no record is lost, duplicated or torn.

Each writer is its own Python process (as Ansible forks and AWX jobs on one execution node are),
calling AuditLog.record. They wait on a barrier so they all write at once. Afterwards every line
of the current file and of every rotated copy must parse as JSON, the count must match exactly,
and every expected record (writer, sequence number) must be there exactly once.
"""

import json
import multiprocessing
import os
import time

import pytest

from tests.bed.collection_path import ensure_on_path

ensure_on_path()

from ansible_collections.netkingdom.warden.plugins.module_utils._audit.files import log_files  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._audit.log import AuditLog  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._audit.query import query  # noqa: E402

pytestmark = pytest.mark.reliability

WRITERS = 30
RECORDS = 40            # per writer: 1,200 records in all
MAX_BYTES = 32 * 1024   # rotates about every 70 records: ~15 rotations while the writers race
KEEP = 200              # keep every rotated copy, so "nothing lost" can be checked exactly


def _writer(path, index, barrier, errors):
    try:
        log = AuditLog(path, max_bytes=MAX_BYTES, keep=KEEP, node='node-a')
        barrier.wait(timeout=60)
        for seq in range(RECORDS):
            log.record(kind='sign', actor='agt-fork-%02d' % index, actor_type='agt', host='fork-%02d' % index,
                       principals=['agt-task-bridge', 'p%03d' % seq], ttl_hours=24, backend='local',
                       serial=index * 1000 + seq, key_id='warden:agt-fork-%02d:%d' % (index, seq),
                       outcome='signed', reason='w%02d-r%03d' % (index, seq),
                       policy_decision_id='decision:%016x' % (index * 1000 + seq))
    except BaseException as exc:  # reported to the parent, never swallowed
        errors.put('%s: %r' % (index, exc))


def test_thirty_processes_write_across_rotations_without_loss(tmp_path):
    path = str(tmp_path / 'audit' / 'audit.jsonl')
    ctx = multiprocessing.get_context('fork')
    barrier = ctx.Barrier(WRITERS)
    errors = ctx.Queue()
    started = time.monotonic()
    procs = [ctx.Process(target=_writer, args=(path, i, barrier, errors)) for i in range(WRITERS)]
    for proc in procs:
        proc.start()
    try:
        for proc in procs:
            proc.join(timeout=60)
    finally:
        for proc in procs:
            if proc.is_alive():  # only our own children, by their handle
                proc.terminate()
                proc.join(5)
    elapsed = time.monotonic() - started
    problems = []
    while not errors.empty():
        problems.append(errors.get())
    assert not problems, problems
    assert all(proc.exitcode == 0 for proc in procs), [proc.exitcode for proc in procs]

    files = log_files(path)
    assert len(files) > 5, 'the size limit never rotated the log: %s' % files
    lines = []
    total_bytes = 0
    for name in files:
        with open(name, 'rb') as handle:
            data = handle.read()
        total_bytes += len(data)
        assert len(data) <= MAX_BYTES, '%s is over the size limit (%d bytes)' % (name, len(data))
        assert data.endswith(b'\n'), '%s ends in a torn line' % name
        lines.extend(data.decode('ascii').splitlines())
    records = [json.loads(line) for line in lines]  # a torn or interleaved line fails here
    assert len(records) == WRITERS * RECORDS, (len(records), WRITERS * RECORDS)
    seen = {}
    for record in records:
        seen[record['reason']] = seen.get(record['reason'], 0) + 1
    expected = set('w%02d-r%03d' % (i, s) for i in range(WRITERS) for s in range(RECORDS))
    assert set(seen) == expected, sorted(set(seen) ^ expected)[:10]
    assert [k for k, v in seen.items() if v != 1] == []
    # Per writer the records are in the order that writer wrote them (oldest file first).
    for index in range(WRITERS):
        mine = [r['serial'] for r in records if r['host'] == 'fork-%02d' % index]
        assert mine == sorted(mine)
    # The query over the rotated set reads the same records (no skipped lines).
    got = query(path, kind='sign', host='fork-07')
    assert len(got) == RECORDS and got.skipped_lines == 0
    print('\naudit concurrency: %d processes x %d records = %d lines, %d bytes in %d files '
          '(%d rotations), 0 lost / 0 duplicated / 0 torn, %.1f s'
          % (WRITERS, RECORDS, len(records), total_bytes, len(files), len(files) - 1, elapsed))


def test_a_torn_tail_stays_on_its_own_line(tmp_path):
    """A crashed writer's half line (no newline) never glues onto the next record."""
    path = str(tmp_path / 'audit.jsonl')
    with open(path, 'wb') as handle:
        handle.write(b'{"kind":"sign","reason":"half')  # what a crash mid-write leaves
    os.chmod(path, 0o600)
    log = AuditLog(path, max_bytes=MAX_BYTES, keep=2, node='node-a')
    log.record(kind='sign', outcome='signed', reason='after-crash')
    lines = open(path, 'rb').read().decode('ascii').splitlines()
    assert len(lines) == 2 and json.loads(lines[1])['reason'] == 'after-crash'
    got = query(path)
    assert [r['reason'] for r in got] == ['after-crash'] and got.skipped_lines == 1
