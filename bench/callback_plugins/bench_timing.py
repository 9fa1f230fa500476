# Benchmark-only stdout callback (bench/run): prints nothing while the play runs and writes one
# JSON document to the file named by BENCH_TIMING_FILE at the end: every task with its start and
# end (seconds since the playbook started, on the controller's monotonic clock), its action and
# what each host did, the per-host stats, and the first failures. No task result body is kept
# (only flags and counts), so nothing a task returns can leak into the benchmark files.
from __future__ import annotations

DOCUMENTATION = """
name: bench_timing
type: stdout
short_description: Task timings and per-host outcomes for the benchmarks
description:
  - Writes task start/end times, actions, per-host outcomes and stats as JSON to E(BENCH_TIMING_FILE).
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase

MAX_FAILURES = 20


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'stdout'
    CALLBACK_NAME = 'bench_timing'

    def __init__(self):
        super().__init__()
        self.started = time.monotonic()
        self.plays = []
        self.tasks = []
        self.current = None
        self.failures = []

    def _now(self):
        return round(time.monotonic() - self.started, 4)

    def _close(self):
        if self.current is not None and self.current['end'] is None:
            self.current['end'] = self._now()

    def v2_playbook_on_play_start(self, play):
        self._close()
        self.current = None
        self.plays.append({'name': play.get_name(), 'start': self._now()})

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._close()
        self.current = {'name': task.get_name(), 'action': task.action, 'play': len(self.plays) - 1,
                        'delegate_to': task.delegate_to if isinstance(task.delegate_to, str) else None,
                        'start': self._now(), 'end': None, 'hosts': {}}
        self.tasks.append(self.current)

    def v2_playbook_on_handler_task_start(self, task):
        self.v2_playbook_on_task_start(task, False)
        self.current['handler'] = True

    def _record(self, result, status):
        if self.current is None:
            return
        res = result._result
        entry = {'status': status, 'changed': bool(res.get('changed', False))}
        if isinstance(res.get('results'), list):
            items = res['results']
            entry['items'] = len(items)
            entry['items_skipped'] = sum(1 for r in items if isinstance(r, dict) and r.get('skipped'))
            entry['items_changed'] = sum(1 for r in items if isinstance(r, dict) and r.get('changed'))
        if status in ('failed', 'unreachable') and len(self.failures) < MAX_FAILURES:
            self.failures.append({'task': self.current['name'], 'host': result._host.get_name(),
                                  'status': status, 'msg': str(res.get('msg', ''))[:400]})
        self.current['hosts'][result._host.get_name()] = entry

    def v2_runner_on_ok(self, result):
        self._record(result, 'changed' if result._result.get('changed') else 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, 'ignored' if ignore_errors else 'failed')

    def v2_runner_on_unreachable(self, result):
        self._record(result, 'unreachable')

    def v2_runner_on_skipped(self, result):
        self._record(result, 'skipped')

    def v2_playbook_on_stats(self, stats):
        self._close()
        hosts = sorted(stats.processed.keys())
        data = {'elapsed': self._now(), 'plays': self.plays, 'tasks': self.tasks, 'failures': self.failures,
                'stats': dict((h, stats.summarize(h)) for h in hosts)}
        path = os.environ.get('BENCH_TIMING_FILE')
        if path:
            with open(path, 'w') as handle:
                json.dump(data, handle)
        else:
            self._display.display(json.dumps(data))
