# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: rollout_report
type: aggregate
short_description: Write a JSON summary and a self-contained HTML report of a certificate rollout
version_added: 0.1.0
description:
  - At the end of a run, writes C(<basename>.json) and C(<basename>.html) into O(dir) on the controller.
  - "The report lists per host and per certificate what happened: signed (changed), kept, failed or denied,
    with path, serial, key id, principals, validity, the policy decision id and the reason; every policy
    denial (actor, reason, decision id, host); every failed task with its message; unreachable and skipped
    hosts; run start and end, playbook and totals."
  - The HTML page is self-contained (inline CSS and an inline SVG timeline of certificate expiries, no script,
    no external font, style sheet or image) and every value in it is HTML-escaped.
  - Results are recognised by their shape, not by task name - results of M(netkingdom.warden.ssh_cert), items
    of a C(host_certs) list, policy decisions of M(netkingdom.warden.policy_check) and failures saying the
    policy denied signing.
  - Only whitelisted metadata is copied - never a certificate body, a key, a token or any other field of a
    result. Results of tasks with C(no_log) are not read. A text that looks like secret material is withheld.
  - The report covers one run. With AWX job slicing every slice is a run of its own and writes its own report
    (named after the AWX job id, see O(run_id)); nothing here assumes one process sees every host.
  - Enable it with C(callbacks_enabled = netkingdom.warden.rollout_report) in C(ansible.cfg) or
    E(ANSIBLE_CALLBACKS_ENABLED=netkingdom.warden.rollout_report). It never fails the run - a report that cannot
    be written is a warning.
author:
  - netkingdom.warden developers (@netkingdom)
requirements:
  - enabled in configuration (C(callbacks_enabled))
options:
  dir:
    description:
      - Directory the two files are written to; created when missing.
      - A relative path is relative to the current directory (or, set in C(ansible.cfg), to that file's directory).
    type: path
    default: ./warden-report
    env:
      - name: WARDEN_REPORT_DIR
    ini:
      - section: warden_rollout_report
        key: dir
  basename:
    description: File name of the report without extension; C(.json) and C(.html) are added.
    type: str
    default: rollout-report
    env:
      - name: WARDEN_REPORT_BASENAME
    ini:
      - section: warden_rollout_report
        key: basename
  title:
    description: Title of the HTML page and of the JSON summary.
    type: str
    default: Certificate rollout report
    env:
      - name: WARDEN_REPORT_TITLE
    ini:
      - section: warden_rollout_report
        key: title
  run_id:
    description:
      - Added to the file names (C(<basename>-<run_id>.json)) so that runs writing into the same directory do not
        replace each other's report.
      - When not set, the AWX job id (environment variable E(JOB_ID), which AWX sets for every job and every job
        slice) is used if present; otherwise the files are named C(<basename>.json) and C(<basename>.html).
    type: str
    env:
      - name: WARDEN_REPORT_RUN_ID
    ini:
      - section: warden_rollout_report
        key: run_id
"""

EXAMPLES = r"""
# ansible.cfg
# [defaults]
# callbacks_enabled = netkingdom.warden.rollout_report
#
# [warden_rollout_report]
# dir = /var/lib/warden/reports
# title = Fleet certificate rollout

# or from the environment, for one run:
# ANSIBLE_CALLBACKS_ENABLED=netkingdom.warden.rollout_report WARDEN_REPORT_DIR=./reports \
#   ansible-playbook netkingdom.warden.cert_rollout -i inventory
"""

import os
import socket

from ansible import context
from ansible.plugins.callback import CallbackBase

from ansible_collections.netkingdom.warden.plugins.plugin_utils.rollout_render import write_report
from ansible_collections.netkingdom.warden.plugins.plugin_utils.rollout_report import ReportBuilder


def _host_name(result):
    host = getattr(result, 'host', None) or getattr(result, '_host', None)
    return host.get_name() if host is not None else 'unknown'


def _task_name(result):
    task = getattr(result, 'task', None) or getattr(result, '_task', None)
    return task.get_name() if task is not None else None


def _data(result):
    data = getattr(result, 'result', None)  # ansible-core 2.19+: a native copy for callbacks
    if not isinstance(data, dict):
        data = getattr(result, '_result', None)
    return data if isinstance(data, dict) else {}


def _task_no_log(result):
    task = getattr(result, 'task', None) or getattr(result, '_task', None)
    return isinstance(getattr(task, 'no_log', None), bool) and task.no_log


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'netkingdom.warden.rollout_report'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self.report = ReportBuilder()

    def _add(self, result, event, ignore_errors=False):
        try:
            data = _data(result)
            if _task_no_log(result):
                data = {'_ansible_no_log': True}
            self.report.add(_host_name(result), _task_name(result), data, event, ignore_errors)
        except Exception as exc:  # pylint: disable=broad-except
            # a report never breaks a run
            self._display.warning('rollout_report: a result could not be read: %s' % type(exc).__name__)

    def v2_playbook_on_start(self, playbook):
        self.report.start(getattr(playbook, '_file_name', None))

    def v2_playbook_on_play_start(self, play):
        self.report.play(play.get_name())

    def v2_runner_on_ok(self, result):
        self._add(result, 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._add(result, 'failed', ignore_errors)

    def v2_runner_on_skipped(self, result):
        self._add(result, 'skipped')

    def v2_runner_on_unreachable(self, result):
        self._add(result, 'unreachable')

    def v2_playbook_on_stats(self, stats):
        run_id = self.get_option('run_id') or os.environ.get('JOB_ID') or None
        try:
            counts = dict((host, stats.summarize(host)) for host in stats.processed)
            summary = self.report.summary(stats=counts, title=self.get_option('title'), run_id=run_id,
                                          controller=socket.gethostname(),
                                          check_mode=bool(context.CLIARGS.get('check', False)))
            paths = write_report(summary, self.get_option('dir'), self.get_option('basename'), run_id)
        except Exception as exc:  # pylint: disable=broad-except
            # a report never breaks a run
            self._display.warning('rollout_report: the report could not be written to %s: %s'
                                  % (self.get_option('dir'), exc))
            return
        self._display.display('rollout report: %s, %s' % paths, stderr=True)
