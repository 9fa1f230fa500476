# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollout report's two files: the summary of :mod:`rollout_report` as JSON and as one
self-contained HTML page (inline CSS, an inline SVG timeline, no script, nothing fetched), and
:func:`write_report`, which writes both.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import html
import json
import os
import re
import time

from ansible_collections.netkingdom.warden.plugins.module_utils._host.fileio import write_file
from ansible_collections.netkingdom.warden.plugins.module_utils._host.safe_path import Trust
from ansible_collections.netkingdom.warden.plugins.plugin_utils.rollout_report import (
    HOST_STATUSES,
    ISO_RE,
    STATUSES,
    parse_time,
)

COUNTERS = ('ok', 'changed', 'failures', 'skipped', 'unreachable')  # the per-host task counts shown


# ---------------------------------------------------------------------------------------------
# JSON

def to_json(summary):
    return json.dumps(summary, indent=2, sort_keys=True, ensure_ascii=False) + '\n'


# ---------------------------------------------------------------------------------------------
# HTML

def esc(value):
    return html.escape('' if value is None else str(value), quote=True)


DAY = 86400
TICK_STEPS = (3600, 3 * 3600, 6 * 3600, 12 * 3600, DAY, 2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY, 91 * DAY,
              182 * DAY, 365 * DAY, 730 * DAY, 1825 * DAY)


def _ticks(start, end, most=8):
    span = max(1, end - start)
    step = next((s for s in TICK_STEPS if span / s <= most), TICK_STEPS[-1])
    first = (int(start) // step + 1) * step
    return step, list(range(first, int(end) + 1, step))


def _cert_name(cert):
    """What a person calls the certificate: the actor of a workload certificate, else the file name."""
    if cert.get('actor') and cert.get('cert_type') != 'host':
        return cert['actor']
    return os.path.basename(cert.get('path') or '') or cert.get('key_id') or '?'


def timeline_svg(summary, now=None, width=1100):
    """An SVG of certificate lifetimes: one row per host, one mark (``class="cert-mark"``) per
    certificate with a ``valid_before``, from now to its expiry, x axis labelled with dates."""
    now = parse_time(summary['run']['ended']) if now is None else now
    now = int(now if now is not None else time.time())
    rows = []
    for name in sorted(summary['hosts']):
        certs = summary['hosts'][name]['certs']
        rows.append((name, summary['hosts'][name]['status'], [c for c in certs if c.get('valid_before')],
                     [c for c in certs if not c.get('valid_before')]))
    ends = [parse_time(c['valid_before']) for dummy, dummy2, certs, dummy3 in rows for c in certs]
    ends = [e for e in ends if e is not None]
    last = max(ends + [now + DAY])
    end = now + max(DAY, int((last - now) * 1.08))
    left, right, top, lane, gap = 190, 24, 34, 22, 8
    plot = width - left - right
    y = top
    body = []
    shading = []

    def x_of(epoch):
        return left + plot * (min(max(epoch, now), end) - now) / float(end - now)

    for index, (name, status, certs, untimed) in enumerate(rows):
        height = max(1, len(certs) + len(untimed)) * lane
        if index % 2 == 0:
            shading.append('<rect x="0" y="%d" width="%d" height="%d" fill="#f5f7fa"/>' % (y - 4, width, height + gap))
        body.append('<text class="host" x="%d" y="%.1f" text-anchor="end">%s</text>'
                    % (left - 10, y + height / 2.0 + 4, esc(name)))
        if not certs and not untimed:
            body.append('<text class="none" x="%d" y="%.1f">%s</text>'
                        % (left + 6, y + lane / 2.0 + 4, esc('no certificate in this run (%s)' % status)))
        for lane_index, cert in enumerate(certs):
            ly = y + lane_index * lane
            until = parse_time(cert['valid_before'])
            colour = STATUSES.get(cert['status'], ('', '#455a64'))[1]
            label = '%s \u00b7 serial %s \u00b7 until %s' % (_cert_name(cert), cert['serial'] or '-', cert['valid_before'])
            x1 = left
            x2 = x_of(until) if until is not None else left + plot  # 'forever': to the end of the axis
            tip = '%s %s: %s' % (name, cert['path'] or '', label)
            parts = ['<g class="cert-mark" data-host="%s" data-serial="%s" data-valid-before="%s">'
                     % (esc(name), esc(cert['serial']), esc(cert['valid_before'])),
                     '<title>%s</title>' % esc(tip)]
            if until is not None and until <= now:
                parts.append('<path d="M%.1f %.1f l6 6 m0 -6 l-6 6" stroke="#c62828" stroke-width="2"/>'
                             % (left - 3, ly + 5))
                label += ' (expired)'
            else:
                parts.append('<rect x="%.1f" y="%.1f" width="%.1f" height="14" rx="3" fill="%s"/>'
                             % (x1, ly + 3, max(2.0, x2 - x1), colour))
                parts.append('<path d="M%.1f %.1f l5 7 l-5 7 l-5 -7 z" fill="%s"/>' % (x2, ly + 3, colour))
            if x2 < left + plot - 330:
                parts.append('<text class="bar" x="%.1f" y="%.1f">%s</text>' % (x2 + 9, ly + 13, esc(label)))
            else:
                parts.append('<text class="bar in" x="%.1f" y="%.1f" text-anchor="end">%s</text>'
                             % (x2 - 9, ly + 13, esc(label)))
            parts.append('</g>')
            body.append(''.join(parts))
        for lane_index, cert in enumerate(untimed, len(certs)):  # denied, failed: no certificate to draw
            label, colour = STATUSES.get(cert['status'], (cert['status'], '#455a64'))
            body.append('<text class="nocert" x="%d" y="%.1f" fill="%s">%s</text>' % (
                left + 6, y + lane_index * lane + 13, esc(colour), esc('%s: %s (%s)' % (
                    _cert_name(cert), label, cert['reason'] or cert['message'] or 'no reason given'))))
        y += height + gap
    axis_y = y + 6
    step, ticks = _ticks(now, end)
    fmt = '%m-%d %H:%M' if step < DAY else '%Y-%m-%d'
    axis = ['<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#455a64"/>' % (left, axis_y, left + plot, axis_y),
            '<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#455a64" stroke-dasharray="3 3"/>'
            % (left, top - 12, left, axis_y),
            '<text class="axis" x="%d" y="%d" text-anchor="middle">now %s</text>'
            % (left, top - 16, esc(time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(now))))]
    for tick in ticks:
        tx = x_of(tick)
        if tx - left < 60:
            continue
        axis.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#cfd8dc"/>' % (tx, top - 6, tx, axis_y))
        axis.append('<text class="axis" x="%.1f" y="%d" text-anchor="middle">%s</text>'
                    % (tx, axis_y + 16, esc(time.strftime(fmt, time.gmtime(tick)))))
    total_height = axis_y + 28
    return ('<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
            'role="img" aria-label="Certificate expiry timeline">%s%s%s</svg>'
            % (width, total_height, width, total_height, ''.join(shading), ''.join(axis), ''.join(body)))


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:24px 32px;color:#1c2530;
background:#fff}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #dde3ea;padding-bottom:4px}
.meta{color:#52606d;font-size:13px;margin-bottom:14px}.meta span{margin-right:18px}
.cards{display:flex;flex-wrap:wrap;gap:10px}.card{border:1px solid #dde3ea;border-radius:6px;padding:8px 14px;
min-width:92px}.card b{display:block;font-size:22px}.card small{color:#52606d}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;padding:5px 8px;
border-bottom:1px solid #e6ebf0;vertical-align:top}th{background:#f0f3f7;font-weight:600}
td.mono,span.mono{font-family:"DejaVu Sans Mono",monospace;font-size:12px;word-break:break-all}
td.nw{white-space:nowrap;word-break:normal}td.path{min-width:200px}td small{color:#52606d}
.badge{display:inline-block;white-space:nowrap;border-radius:10px;padding:1px 9px;color:#fff;font-size:12px;font-weight:600}
.empty{color:#52606d;font-style:italic}
svg.timeline{max-width:100%;height:auto;font-size:12px}svg text.host{font-size:13px;font-weight:600;fill:#1c2530}
svg text.bar{fill:#1c2530}svg text.bar.in{fill:#fff;font-weight:600}svg text.axis{fill:#52606d;font-size:11px}
svg text.none{fill:#757575;font-style:italic}svg text.nocert{font-weight:600}
.legend span{margin-right:14px;font-size:12px}.legend i{display:inline-block;width:12px;height:12px;
border-radius:3px;margin-right:4px;vertical-align:-1px}
footer{margin-top:30px;color:#7b8794;font-size:12px}
"""


def _short_time(value):
    """2026-12-26T11:49:16Z -> 2026-12-26 11:49Z (the JSON keeps the full value)."""
    if isinstance(value, str) and ISO_RE.match(value):
        return '%s %sZ' % (value[:10], value[11:16])
    return value


def _badge(text, colour):
    return '<span class="badge" style="background:%s">%s</span>' % (esc(colour), esc(text))


def _table(headers, rows, empty):
    if not rows:
        return '<p class="empty">%s</p>' % esc(empty)
    head = ''.join('<th>%s</th>' % esc(h) for h in headers)
    return '<table><thead><tr>%s</tr></thead><tbody>%s</tbody></table>' % (head, ''.join(rows))


def render_html(summary, now=None):
    """The self-contained page: no script, no external resource, every value escaped."""
    run = summary['run']
    totals = summary['totals']
    meta = [('playbook', run['playbook']), ('started', run['started']), ('ended', run['ended']),
            ('duration', '%s s' % run['duration_seconds']), ('controller', run['controller']),
            ('run id', run['run_id']), ('check mode', 'yes' if run['check_mode'] else None)]
    cards = [('hosts', totals['hosts']), ('certificates', totals['certs']), ('signed', totals['changed']),
             ('kept', totals['kept']), ('failed', totals['failed']), ('denied', totals['denied']),
             ('denials', totals['denials']), ('failed hosts', totals['hosts_failed']),
             ('unreachable', totals['hosts_unreachable'])]
    host_rows = []
    cert_rows = []
    for name in sorted(summary['hosts']):
        host = summary['hosts'][name]
        stats = host['stats']
        counts = ' / '.join('%s %s' % (k, stats.get(k, 0)) for k in COUNTERS)
        by_status = {}
        for cert in host['certs']:
            by_status[cert['status']] = by_status.get(cert['status'], 0) + 1
        host_rows.append('<tr><td><b>%s</b></td><td>%s</td><td>%s</td><td>%s</td><td>%d</td><td>%d</td></tr>' % (
            esc(name), _badge(host['status'], HOST_STATUSES.get(host['status'], '#455a64')), esc(counts),
            esc(', '.join('%d %s' % (n, STATUSES[s][0]) for s, n in sorted(by_status.items())) or 'none'),
            host['denials'], host['failures']))
        for cert in host['certs']:
            label, colour = STATUSES.get(cert['status'], (cert['status'], '#455a64'))
            cert_rows.append(
                '<tr><td>%s</td><td class="mono path">%s</td><td>%s<br><small>%s</small></td><td class="mono nw">%s</td>'
                '<td class="mono">%s</td><td>%s</td><td class="mono nw">%s</td><td class="mono">%s</td></tr>' % (
                    esc(name), esc(cert['path']), _badge(label, colour), esc(cert['reason']), esc(cert['serial']),
                    esc(cert['key_id']), esc(', '.join(cert['principals'])), esc(_short_time(cert['valid_before'])),
                    esc(cert['policy_decision_id'] or '-')))
    denial_rows = ['<tr><td>%s</td><td>%s</td><td><b>%s</b></td><td class="mono">%s</td><td>%s</td><td>%s</td></tr>'
                   % (esc(d['host']), esc(d['actor']), esc(d['reason']), esc(d['policy_decision_id'] or '-'),
                      esc(d['task']), esc(d['message'])) for d in summary['denials']]
    failure_rows = ['<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>'
                    % (esc(f['host']), esc(f['kind'] + (' (ignored)' if f['ignored'] else '')), esc(f['task']),
                       esc(f.get('item') or ''), esc(f['message'])) for f in summary['failures']]
    legend = ''.join('<span><i style="background:%s"></i>%s</span>' % (esc(c), esc(lbl))
                     for lbl, c in (STATUSES['changed'], STATUSES['kept'], STATUSES['would_change']))
    parts = [
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<title>%s</title><style>%s</style></head><body>' % (esc(summary['title']), CSS),
        '<h1>%s</h1>' % esc(summary['title']),
        '<div class="meta">%s</div>' % ''.join('<span>%s: <b>%s</b></span>' % (esc(k), esc(v))
                                               for k, v in meta if v not in (None, '')),
        '<div class="cards">%s</div>' % ''.join('<div class="card"><b>%s</b><small>%s</small></div>'
                                                % (esc(v), esc(k)) for k, v in cards),
        '<h2 id="hosts">Hosts</h2>',
        _table(('host', 'status', 'tasks', 'certificates', 'denials', 'failures'), host_rows, 'No host ran.'),
        '<h2 id="timeline">Certificate expiry timeline</h2>',
        '<div class="legend">%s<span>bar: from now to valid_before</span></div>' % legend,
        timeline_svg(summary, now),
        '<h2 id="certificates">Certificates</h2>',
        _table(('host', 'path', 'outcome, reason', 'serial', 'key id', 'principals', 'valid before',
                'policy decision'), cert_rows, 'No certificate was handled in this run.'),
        '<h2 id="denials">Policy denials</h2>',
        _table(('host', 'actor', 'reason', 'decision id', 'task', 'message'), denial_rows,
               'No request was denied by the policy gate.'),
        '<h2 id="failures">Failures</h2>',
        _table(('host', 'kind', 'task', 'item', 'message'), failure_rows, 'No task failed.'),
        '<footer>%s \u00b7 %s \u00b7 %s</footer>' % (
            esc(summary['format']), esc(run['scope']),
            esc('%d event(s) not listed (limit reached)' % summary['events_dropped']) if summary['events_dropped']
            else 'no certificate body, key or token is ever copied into this report'),
        '</body></html>\n',
    ]
    return ''.join(parts)


# ---------------------------------------------------------------------------------------------
# The files

def write_atomic(path, text, mode=0o644):
    """Write ``text`` to ``path`` through a new file in the same directory and one rename (the
    collection's one writer; the directory is the one the user named, links and all)."""
    write_file(path, text, mode, trust=Trust(walk=False))


def report_paths(directory, basename, run_id=None):
    stem = basename if not run_id else '%s-%s' % (basename, re.sub(r'[^A-Za-z0-9_.-]', '_', str(run_id)))
    return os.path.join(directory, stem + '.json'), os.path.join(directory, stem + '.html')


def write_report(summary, directory, basename='rollout-report', run_id=None, now=None):
    """Write the JSON and the HTML; return their paths."""
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    json_path, html_path = report_paths(directory, basename, run_id)
    write_atomic(json_path, to_json(summary))
    write_atomic(html_path, render_html(summary, now))
    return json_path, html_path
