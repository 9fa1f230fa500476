# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollout report's data: certificates, denials and failures of one run, collected from task results.

Pure functions and a small collector: the ``netkingdom.warden.rollout_report`` callback only
feeds task results in (:class:`ReportBuilder`) and writes the summary out with
:func:`rollout_render.write_report` (JSON, and one self-contained HTML page).

Results are recognised by their shape, never by task name:

- a certificate: a result (or loop item, or an item of a ``host_certs`` or ``actor_certs`` list) with a ``path``
  and one of ``serial`` / ``valid_before`` / ``key_id`` (or ``ssh_cert``'s ``reason`` +
  ``generated`` pair, for a failed or check-mode result that has no certificate yet);
- a denial: a decision with ``effect: deny`` (``decision.effect``, ``effect``, or
  ``allowed: false`` with a ``reason``), or a failure message saying
  ``policy denied signing for <actor>: <reason>``.

Only whitelisted fields are copied, every text is cut to a bounded length and withheld when it
looks like secret material (``secret_guard``); results marked ``no_log`` are never read.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import os
import re
import time

from ansible_collections.netkingdom.warden.plugins.module_utils._audit.secret_guard import describe, secret_kind

FORMAT = 'netkingdom.warden.rollout_report/1'
MAX_TEXT = 400
MAX_LIST = 64
MAX_EVENTS = 2000  # denials / failures kept per run (a report, not a log)

# cert status -> (label, colour)
STATUSES = {
    'changed': ('signed', '#2e7d32'),
    'kept': ('kept', '#1565c0'),
    'would_change': ('would sign (check mode)', '#8d6e00'),
    'failed': ('failed', '#c62828'),
    'denied': ('denied by policy', '#ad1457'),
}
HOST_STATUSES = {
    'changed': '#2e7d32', 'ok': '#1565c0', 'failed': '#c62828', 'unreachable': '#6d4c41',
    'skipped': '#757575',
}
DENIED_RE = re.compile(r'policy denied signing for (?P<actor>[^\s:]+): (?P<reason>[A-Za-z0-9_.:-]+)')
DECISION_ID_RE = re.compile(r'^decision:[0-9a-f]{6,64}$')
ISO_RE = re.compile(r'^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$')


# ---------------------------------------------------------------------------------------------
# Safe copies of result values

def clean_text(value, limit=MAX_TEXT):
    """A bounded, printable text of ``value``; withheld when it looks like secret material."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode('utf-8', 'replace')
    text = value if isinstance(value, str) else str(value)
    kind = secret_kind(text)
    if kind is not None:
        return '[withheld: looked like %s]' % describe(kind)
    text = ''.join(c if c.isprintable() or c in '\n\t' else '\ufffd' for c in text)
    if len(text) > limit:
        text = text[:limit - 1] + '\u2026'
    return text


def clean_list(values):
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, (list, tuple)):
        return []
    return [clean_text(v, 120) for v in values[:MAX_LIST] if v is not None]


def _decision_id(value):
    return value if isinstance(value, str) and DECISION_ID_RE.match(value) else None


def _time_text(value):
    """ISO-8601 UTC text as the collection writes it, 'forever'/'always', or None."""
    if isinstance(value, str) and (ISO_RE.match(value) or value in ('forever', 'always')):
        return value
    return None


def parse_time(value):
    """Epoch seconds of an ISO-8601 UTC text; None for anything else ('forever' included)."""
    if isinstance(value, str) and ISO_RE.match(value):
        return calendar.timegm(time.strptime(value, '%Y-%m-%dT%H:%M:%SZ'))
    return None


def iso(epoch):
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(epoch)) if epoch is not None else None


def is_no_log(result):
    return isinstance(result, dict) and bool(result.get('_ansible_no_log') or 'censored' in result)


# ---------------------------------------------------------------------------------------------
# Recognising results

def result_items(result):
    """The results to look at: the loop items of a loop task, else the result itself.
    Items marked no_log or skipped are left out."""
    if not isinstance(result, dict) or is_no_log(result):
        return []
    items = result.get('results')
    if isinstance(items, list):
        return [i for i in items if isinstance(i, dict) and not is_no_log(i) and not i.get('skipped')]
    return [result]


def looks_like_cert(item):
    if not isinstance(item, dict) or not isinstance(item.get('path'), str) or not item.get('path'):
        return False
    if any(k in item for k in ('serial', 'valid_before', 'key_id')):
        return True
    return 'reason' in item and 'generated' in item


def denial_of(item):
    """``{actor, reason, policy_decision_id, mode, message}`` when ``item`` is a policy deny, else None."""
    if not isinstance(item, dict):
        return None
    decision = item.get('decision') if isinstance(item.get('decision'), dict) else {}
    msg = item.get('msg') if isinstance(item.get('msg'), str) else ''
    match = DENIED_RE.search(msg)
    denied = (decision.get('effect') == 'deny' or item.get('effect') == 'deny'
              or (item.get('allowed') is False and 'reason' in item) or match is not None)
    if not denied:
        return None
    request = item.get('request') if isinstance(item.get('request'), dict) else {}
    resource = request.get('resource') if isinstance(request.get('resource'), dict) else {}
    actor = None
    if match:
        actor = match.group('actor')
    elif isinstance(resource.get('id'), str) and resource['id'].startswith('ssh-cert:actor/'):
        actor = resource['id'][len('ssh-cert:actor/'):]
    elif isinstance(item.get('actor'), str):
        actor = item['actor']
    elif isinstance(item.get('item'), str):
        actor = item['item']
    reason = item.get('reason') or decision.get('reason') or (match.group('reason') if match else None)
    decision_id = (_decision_id(item.get('policy_decision_id')) or _decision_id(item.get('decision_id'))
                   or _decision_id(decision.get('decision_id')))
    return {
        'actor': clean_text(actor, 120),
        'reason': clean_text(reason, 200),
        'policy_decision_id': decision_id,
        'mode': clean_text(decision.get('mode') or item.get('mode'), 40),
        'message': clean_text(msg) if msg else None,
    }


def _actor_of(key_id):
    """warden:<actor>:decision:<hex> -> actor; warden:host:<host> -> None."""
    if isinstance(key_id, str) and key_id.startswith('warden:'):
        parts = key_id.split(':')
        if len(parts) >= 3 and parts[1] != 'host':
            return parts[1]
    return None


def cert_of(item, denial=None):
    """The whitelisted fields of one certificate result, with its status."""
    key_id = clean_text(item.get('key_id'), 200) if item.get('key_id') is not None else None
    serial = item.get('serial')
    if denial is not None:
        status = 'denied'
    elif item.get('failed'):
        status = 'failed'
    elif item.get('changed') and serial is None:
        status = 'would_change'
    elif item.get('changed'):
        status = 'changed'
    else:
        status = 'kept'
    cert_type = None
    if isinstance(key_id, str) and key_id.startswith('warden:host:'):
        cert_type = 'host'
    elif _actor_of(key_id):
        cert_type = 'user'
    return {
        'path': clean_text(item.get('path'), 300),
        'status': status,
        'reason': clean_text(item.get('reason'), 200),
        'serial': clean_text(serial, 40) if serial is not None else None,
        'key_id': key_id,
        'cert_type': cert_type,
        'actor': clean_text(_actor_of(key_id) or (denial or {}).get('actor'), 120),
        'principals': clean_list(item.get('principals')),
        'valid_after': _time_text(item.get('valid_after')),
        'valid_before': _time_text(item.get('valid_before')),
        'policy_decision_id': _decision_id(item.get('policy_decision_id')),
        'message': clean_text(item.get('msg')) if status in ('failed', 'denied') else None,
    }


def certs_in(item):
    """Every certificate an item reports: itself, and each entry of a ``host_certs`` / ``actor_certs`` list."""
    found = []
    if looks_like_cert(item):
        found.append(cert_of(item, denial_of(item)))
    for field in ('host_certs', 'actor_certs'):  # sshd_trust: host certificates, kept actor certificates
        listed = item.get(field) if isinstance(item, dict) else None
        if not isinstance(listed, list):
            continue
        for entry in listed[:MAX_LIST]:
            if isinstance(entry, dict) and not is_no_log(entry) and looks_like_cert(entry):
                found.append(cert_of(entry, denial_of(entry)))
    return found


def _item_label(item):
    label = item.get('_ansible_item_label', item.get('item'))
    if isinstance(label, (str, int, float)):
        return clean_text(label, 120)
    if isinstance(label, dict):
        for key in ('path', 'key', 'name'):
            if isinstance(label.get(key), str):
                return clean_text(label[key], 120)
    return None


# ---------------------------------------------------------------------------------------------
# Collecting one run

class ReportBuilder(object):
    """Collects task results of one run (one AWX slice); ``summary()`` gives the report data."""

    def __init__(self, now=time.time):
        self.now = now
        self.started = None
        self.playbooks = []
        self.plays = []
        self.hosts = {}
        self.denials = []
        self.failures = []
        self.dropped = 0

    def start(self, playbook=None):
        if self.started is None:
            self.started = self.now()
        if playbook:
            self.playbooks.append(clean_text(os.path.basename(str(playbook)), 200))

    def play(self, name):
        if name:
            self.plays.append(clean_text(name, 200))

    def _host(self, host):
        if host not in self.hosts:
            self.hosts[host] = {'certs': {}, 'unreachable': False, 'no_log_results': 0}
        return self.hosts[host]

    def _event(self, target, entry):
        if len(target) >= MAX_EVENTS:
            self.dropped += 1
            return
        target.append(entry)

    def add(self, host, task, result, event='ok', ignore_errors=False):
        """One task result of one host. ``event``: ok, failed, skipped or unreachable."""
        if self.started is None:
            self.start()
        host = clean_text(host, 200)
        task = clean_text(task, 200)
        record = self._host(host)
        if not isinstance(result, dict):
            result = {}
        if event == 'unreachable':
            record['unreachable'] = True
            self._event(self.failures, {'host': host, 'task': task, 'kind': 'unreachable',
                                        'message': clean_text(result.get('msg')) or 'unreachable',
                                        'ignored': False})
            return
        if is_no_log(result):
            record['no_log_results'] += 1
            return
        if event == 'skipped':
            return
        for item in result_items(result):
            for cert in certs_in(item):
                self._merge(record, cert, task)
            denial = denial_of(item)
            if denial is not None:
                self._event(self.denials, dict(denial, host=host, task=task))
        if event == 'failed':
            items = [i for i in result_items(result) if i.get('failed')] if isinstance(result.get('results'), list) \
                else [result]
            for item in items or [result]:
                message = item.get('msg') if item.get('msg') is not None else item.get('stderr')
                self._event(self.failures, {'host': host, 'task': task, 'kind': 'failed',
                                            'item': _item_label(item) if item is not result else None,
                                            'message': clean_text(message) or 'failed',
                                            'ignored': bool(ignore_errors)})

    @staticmethod
    def _merge(record, cert, task):
        key = cert['path'] or cert['key_id']
        cert['task'] = task
        old = record['certs'].get(key)
        if old is not None and old['status'] == 'changed' and cert['status'] == 'kept' \
                and old['serial'] == cert['serial']:
            cert['status'] = 'changed'  # signed earlier in this run, confirmed later
        if old is not None and cert['status'] in ('failed', 'denied') and old['status'] in ('changed', 'kept'):
            cert = dict(old, status=cert['status'], message=cert['message'], reason=cert['reason'])
        record['certs'][key] = cert

    def summary(self, stats=None, title=None, run_id=None, controller=None, check_mode=False):
        """The report data. ``stats``: ``{host: {ok, changed, failures, unreachable, skipped, ...}}``."""
        ended = self.now()
        started = self.started if self.started is not None else ended
        stats = stats or {}
        names = sorted(set(self.hosts) | set(clean_text(h, 200) for h in stats))
        hosts = {}
        totals = {'hosts': len(names), 'certs': 0, 'denials': len(self.denials), 'failures': len(self.failures)}
        for status in STATUSES:
            totals[status] = 0
        for status in HOST_STATUSES:
            totals['hosts_' + status] = 0
        for name in names:
            record = self.hosts.get(name) or {'certs': {}, 'unreachable': False, 'no_log_results': 0}
            counts = dict((k, int(v)) for k, v in (stats.get(name) or {}).items() if isinstance(v, int))
            status = host_status(counts, record['unreachable'])
            certs = sorted(record['certs'].values(), key=lambda c: (c['path'] or '', c['key_id'] or ''))
            for cert in certs:
                totals['certs'] += 1
                totals[cert['status']] += 1
            totals['hosts_' + status] += 1
            hosts[name] = {
                'status': status, 'stats': counts, 'certs': certs,
                'denials': sum(1 for d in self.denials if d['host'] == name),
                'failures': sum(1 for f in self.failures if f['host'] == name and not f['ignored']),
                'no_log_results': record['no_log_results'],
            }
        return {
            'format': FORMAT,
            'title': clean_text(title or 'Certificate rollout report', 200),
            'run': {
                'playbook': ', '.join(self.playbooks) or None,
                'plays': list(self.plays),
                'started': iso(started), 'ended': iso(ended),
                'duration_seconds': round(max(0.0, ended - started), 1),
                'controller': clean_text(controller, 200),
                'run_id': clean_text(run_id, 120),
                'check_mode': bool(check_mode),
                'scope': 'this run only (with AWX job slicing: this slice only)',
            },
            'totals': totals,
            'hosts': hosts,
            'denials': list(self.denials),
            'failures': list(self.failures),
            'events_dropped': self.dropped,
        }


def host_status(counts, unreachable=False):
    if unreachable or counts.get('unreachable'):
        return 'unreachable'
    if counts.get('failures'):
        return 'failed'
    if counts.get('changed'):
        return 'changed'
    if counts.get('ok'):
        return 'ok'
    if counts.get('skipped'):
        return 'skipped'
    return 'ok'
