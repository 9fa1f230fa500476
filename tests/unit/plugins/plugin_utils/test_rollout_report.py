"""The rollout report's pure logic: results in, summary, HTML and SVG out (no Ansible run)."""

import json
import re
from html.parser import HTMLParser

from ansible_collections.netkingdom.warden.plugins.plugin_utils import rollout_render as render
from ansible_collections.netkingdom.warden.plugins.plugin_utils import rollout_report as rr

NOW = 1795000000  # 2026-11-18T...Z, a fixed clock
HOST_CERT = {
    'changed': True, 'path': '/etc/ssh/ssh_host_ed25519_key-cert.pub', 'reason': 'missing', 'generated': False,
    'serial': '1234567890123', 'key_id': 'warden:host:host1', 'principals': ['host1', 'host1.fleet.test'],
    'valid_after': rr.iso(NOW - 30), 'valid_before': rr.iso(NOW + 720 * 3600),
    'ca_fingerprint': 'SHA256:abc', 'policy_decision_id': None,
}
ACTOR_CERT = {
    'changed': False, 'path': '/root/warden-actors/agt-x/id_ed25519-cert.pub', 'reason': 'valid',
    'generated': False, 'serial': '42', 'key_id': 'warden:agt-x:decision:0123456789abcdef',
    'principals': ['agt-task-bridge'], 'valid_after': rr.iso(NOW - 3600), 'valid_before': rr.iso(NOW + 20 * 3600),
    'ca_fingerprint': 'SHA256:abc', 'policy_decision_id': 'decision:0123456789abcdef',
}
DENIED = {
    'failed': True, 'changed': False, 'path': '/root/warden-actors/atm-y/id_ed25519-cert.pub',
    'reason': 'ttl_out_of_bounds', 'generated': True, 'policy_decision_id': 'decision:fedcba9876543210',
    'msg': 'policy denied signing for atm-y: ttl_out_of_bounds [decision:fedcba9876543210]',
    'decision': {'allowed': False, 'effect': 'deny', 'reason': 'ttl_out_of_bounds',
                 'decision_id': 'decision:fedcba9876543210', 'mode': 'embedded', 'detail': None,
                 'decision': {'id': 'decision:fedcba9876543210', 'effect': 'deny'}},
}
CERT_BODY = 'ssh-ed25519-cert-v01@openssh.com AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAIG' + 'Q' * 200
PRIVATE = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END'


class Clock(object):
    def __init__(self, start):
        self.value = start

    def __call__(self):
        self.value += 1
        return self.value


def build(events, stats=None):
    builder = rr.ReportBuilder(now=Clock(NOW - 10))
    builder.start('/somewhere/playbooks/cert_rollout.yml')
    builder.play('Roll out trust, principals and certificates')
    for event in events:
        builder.add(*event)
    return builder.summary(stats=stats, title='Test rollout', run_id='77', controller='ctl')


def loop(*items, **top):
    result = {'changed': any(i.get('changed') for i in items), 'msg': 'All items completed',
              'results': [dict(i, ansible_loop_var='item', item='x%d' % n) for n, i in enumerate(items)]}
    result.update(top)
    return result


def test_certificates_denials_failures_and_hosts_from_results():
    stats = {
        'host1': {'ok': 9, 'changed': 3, 'failures': 0, 'unreachable': 0, 'skipped': 2},
        'host2': {'ok': 5, 'changed': 0, 'failures': 1, 'unreachable': 0, 'skipped': 0},
        'ghost': {'ok': 0, 'changed': 0, 'failures': 0, 'unreachable': 1, 'skipped': 0},
        'idle': {'ok': 0, 'changed': 0, 'failures': 0, 'unreachable': 0, 'skipped': 4},
    }
    summary = build([
        ('host1', 'Sign host certificates', loop(HOST_CERT), 'ok'),
        ('host1', 'Workload certs', loop(ACTOR_CERT), 'ok'),
        ('host2', 'Sign host certificates', loop(dict(HOST_CERT, key_id='warden:host:host2', serial='7')), 'ok'),
        ('host2', 'Workload certs', loop(DENIED, failed=True, msg='One or more items failed'), 'failed'),
        ('ghost', 'Sign host certificates', {'msg': 'Failed to connect to the host via ssh: refused',
                                             'unreachable': True}, 'unreachable'),
        ('idle', 'Sign host certificates', {'skipped': True, 'skip_reason': 'Conditional result was False'},
         'skipped'),
    ], stats)
    assert summary['format'] == rr.FORMAT
    assert summary['run']['playbook'] == 'cert_rollout.yml' and summary['run']['run_id'] == '77'
    assert summary['run']['started'] < summary['run']['ended']
    hosts = summary['hosts']
    assert {n: h['status'] for n, h in hosts.items()} == {
        'host1': 'changed', 'host2': 'failed', 'ghost': 'unreachable', 'idle': 'skipped'}
    one = dict((c['path'], c) for c in hosts['host1']['certs'])
    host_cert = one[HOST_CERT['path']]
    assert host_cert['status'] == 'changed' and host_cert['serial'] == '1234567890123'
    assert host_cert['cert_type'] == 'host' and host_cert['principals'] == ['host1', 'host1.fleet.test']
    assert host_cert['valid_before'] == HOST_CERT['valid_before'] and host_cert['policy_decision_id'] is None
    kept = one[ACTOR_CERT['path']]
    assert kept['status'] == 'kept' and kept['actor'] == 'agt-x' and kept['reason'] == 'valid'
    assert kept['policy_decision_id'] == 'decision:0123456789abcdef'
    two = dict((c['path'], c) for c in hosts['host2']['certs'])
    assert two[DENIED['path']]['status'] == 'denied' and two[DENIED['path']]['serial'] is None
    assert summary['denials'] == [{
        'host': 'host2', 'task': 'Workload certs', 'actor': 'atm-y', 'reason': 'ttl_out_of_bounds',
        'policy_decision_id': 'decision:fedcba9876543210', 'mode': 'embedded',
        'message': DENIED['msg']}]
    failures = dict((f['host'], f) for f in summary['failures'])
    assert failures['host2']['item'] == 'x0' and 'policy denied' in failures['host2']['message']
    assert failures['ghost']['kind'] == 'unreachable' and 'refused' in failures['ghost']['message']
    totals = summary['totals']
    assert (totals['hosts'], totals['certs'], totals['changed'], totals['kept'], totals['denied']) == (4, 4, 2, 1, 1)
    assert (totals['hosts_unreachable'], totals['hosts_failed'], totals['hosts_skipped']) == (1, 1, 1)
    json.loads(render.to_json(summary))


def test_host_certs_lists_policy_check_denials_and_check_mode():
    trust = {'changed': True, 'host_certs': [
        {'path': '/etc/ssh/ssh_host_ed25519_key-cert.pub', 'changed': True, 'reason': 'expiring', 'serial': '9',
         'key_id': 'warden:host:h', 'principals': ['h'], 'valid_before': rr.iso(NOW + 3600),
         'policy_decision_id': None},
        {'path': '/etc/ssh/ssh_host_rsa_key-cert.pub', 'changed': False, 'reason': 'valid', 'serial': '10',
         'key_id': 'warden:host:h', 'principals': ['h'], 'valid_before': rr.iso(NOW + 7200),
         'policy_decision_id': None}]}
    check = {'allowed': False, 'effect': 'deny', 'reason': 'principal_not_allowed', 'decision_id': 'decision:00aa11bb22cc33dd',
             'mode': 'flex_auth', 'request': {'resource': {'id': 'ssh-cert:actor/adm-z'}},
             'msg': 'policy denied signing for adm-z: principal_not_allowed [decision:00aa11bb22cc33dd]'}
    would = {'changed': True, 'path': '/etc/ssh/ssh_host_ed25519_key-cert.pub', 'reason': 'missing',
             'generated': True}
    allowed = {'allowed': True, 'effect': 'allow', 'reason': 'signing_policy_matched',
               'decision_id': 'decision:00aa11bb22cc33de'}
    summary = build([('h', 'Trust', trust, 'ok'), ('h', 'Check', check, 'failed'), ('h', 'Allowed', allowed, 'ok'),
                     ('c', 'Would sign', would, 'ok')])
    paths = dict((c['path'], c['status']) for c in summary['hosts']['h']['certs'])
    assert paths == {'/etc/ssh/ssh_host_ed25519_key-cert.pub': 'changed', '/etc/ssh/ssh_host_rsa_key-cert.pub': 'kept'}
    assert [(d['actor'], d['reason'], d['policy_decision_id']) for d in summary['denials']] == [
        ('adm-z', 'principal_not_allowed', 'decision:00aa11bb22cc33dd')]
    assert summary['hosts']['c']['certs'][0]['status'] == 'would_change'


def test_sshd_trust_kept_actor_certs_are_listed_and_pending_ones_are_not():
    trust = {'changed': False, 'host_certs': [], 'actor_certs': [
        {'actor': 'atm-backup-daily', 'key': '/var/lib/warden/actors/atm-backup-daily/id_ed25519',
         'path': '/var/lib/warden/actors/atm-backup-daily/id_ed25519-cert.pub', 'changed': False, 'reason': 'valid',
         'serial': '11', 'key_id': 'warden:atm-backup-daily:decision:00aa11bb22cc33dd', 'principals': ['atm-backup'],
         'valid_before': rr.iso(NOW + 3600), 'policy_decision_id': 'decision:00aa11bb22cc33dd'}],
        'actor_certs_pending': [{'actor': 'agt-x', 'key': '/k/id_ed25519', 'path': '/k/id_ed25519-cert.pub',
                                 'reason': 'expiring'}]}
    summary = build([('h', 'Trust', trust, 'ok')])
    cert, = summary['hosts']['h']['certs']
    assert (cert['path'], cert['status'], cert['actor'], cert['serial']) == (
        '/var/lib/warden/actors/atm-backup-daily/id_ed25519-cert.pub', 'kept', 'atm-backup-daily', '11')


def test_no_log_results_and_secret_fields_are_never_copied():
    leaky = dict(ACTOR_CERT, certificate=CERT_BODY, token='hvs.' + 'A1b2' * 20, msg=PRIVATE)
    hidden = {'_ansible_no_log': True, 'censored': 'the output has been hidden', 'changed': True}
    hidden_item = loop(dict(HOST_CERT, _ansible_no_log=True))
    failed_secret = {'failed': True, 'msg': 'login failed for url https://admin:hunter2hunter2@bao.example:8200'}
    summary = build([('h', 'Leaky', leaky, 'ok'), ('h', 'Hidden', hidden, 'ok'), ('h', 'Hidden item', hidden_item, 'ok'),
                     ('h', 'Secret message', failed_secret, 'failed')])
    text = render.to_json(summary) + render.render_html(summary)
    for needle in ('AAAAIHNzaC1', 'BEGIN OPENSSH', 'hvs.', 'hunter2', 'A1b2A1b2'):
        assert needle not in text
    assert [c['path'] for c in summary['hosts']['h']['certs']] == [ACTOR_CERT['path']]
    assert summary['hosts']['h']['no_log_results'] == 1
    assert summary['failures'][0]['message'].startswith('[withheld: looked like')
    assert rr.clean_text('x' * 5000).endswith('\u2026') and len(rr.clean_text('x' * 5000)) == rr.MAX_TEXT


class Collect(HTMLParser):
    def __init__(self):
        HTMLParser.__init__(self)
        self.tags = []
        self.text = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def test_hostile_strings_are_escaped_and_the_page_is_self_contained():
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    denied = dict(DENIED, reason=evil, msg='policy denied signing for atm-y: %s' % evil)
    cert = dict(HOST_CERT, path='/etc/ssh/"><svg onload=alert(1)>-cert.pub', principals=['a&b', '<p>'])
    summary = build([('<b>h&1</b>', 'Task "quoted" <i>', loop(cert), 'ok'),
                     ('<b>h&1</b>', 'Denied', loop(denied, failed=True), 'failed')])
    page = render.render_html(summary, now=NOW)
    assert '<script' not in page.lower() and '<img' not in page and '<svg onload' not in page
    assert '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;' in page
    assert '&lt;b&gt;h&amp;1&lt;/b&gt;' in page and 'a&amp;b, &lt;p&gt;' in page
    parsed = Collect()
    parsed.feed(page)
    tags = set(t for t, dummy in parsed.tags)
    assert not tags & {'script', 'img', 'link', 'iframe', 'object', 'embed'}
    for tag, attrs in parsed.tags:
        for name, value in attrs.items():
            assert not name.startswith('on'), (tag, name)
            if name != 'xmlns':  # a namespace name, never fetched
                assert not re.match(r'\s*(https?:|//|javascript:)', value or ''), (tag, name, value)
    assert 'http-equiv' in page and "default-src 'none'" in page
    # the hostile text is shown as text, not markup
    assert evil in ''.join(parsed.text)
    # only the tags the renderer writes itself (the bold <b> of a host name is text, not a tag)
    assert ('b', {}) in parsed.tags  # the renderer's own <b> in the host table
    assert sum(1 for t, a in parsed.tags if t == 'b' and not a) == page.count('<b>')


def test_timeline_has_one_mark_per_certificate_hosts_on_the_y_axis_and_dates():
    certs = [dict(HOST_CERT, valid_before=rr.iso(NOW + days * 86400), serial=str(days),
                  path='/etc/ssh/k%d-cert.pub' % days) for days in (1, 10, 30)]
    expired = dict(ACTOR_CERT, valid_before=rr.iso(NOW - 60), serial='5')
    forever = dict(ACTOR_CERT, valid_before='forever', serial='6', path='/root/forever-cert.pub')
    summary = build([('host-a', 'Certs', loop(*certs), 'ok'), ('host-b', 'Certs', loop(expired, forever), 'ok'),
                     ('host-c', 'Denied', loop(DENIED, failed=True), 'failed'),
                     ('host-d', 'Unreachable', {'msg': 'refused'}, 'unreachable')],
                    stats={'host-c': {'failures': 1}, 'host-d': {'unreachable': 1}})
    svg = render.timeline_svg(summary, now=NOW)
    assert svg.startswith('<svg') and svg.endswith('</svg>')
    marks = re.findall(r'<g class="cert-mark" data-host="([^"]+)" data-serial="([^"]+)"', svg)
    assert sorted(marks) == sorted([('host-a', '1'), ('host-a', '10'), ('host-a', '30'), ('host-b', '5'),
                                    ('host-b', '6')])
    hosts = re.findall(r'<text class="host"[^>]*>([^<]+)</text>', svg)
    assert hosts == ['host-a', 'host-b', 'host-c', 'host-d']
    assert 'no certificate in this run (unreachable)' in svg
    assert 'atm-y: denied by policy (ttl_out_of_bounds)' in svg  # named, but no mark: nothing was signed
    assert '(expired)' in svg
    labels = re.findall(r'<text class="axis"[^>]*>([^<]+)</text>', svg)
    assert labels[0].startswith('now 2026-') and len(labels) >= 3
    assert all(re.match(r'^\d{4}-\d{2}-\d{2}$', t) for t in labels[1:]), labels
    # bars start at "now" and grow with the expiry
    widths = [float(w) for w in re.findall(r'<rect x="190.0" y="[\d.]+" width="([\d.]+)"', svg)]
    assert widths[:3] == sorted(widths[:3]) and widths[0] < widths[2]
    # a short run: hour ticks
    short = build([('h', 'C', loop(dict(HOST_CERT, valid_before=rr.iso(NOW + 6 * 3600))), 'ok')])
    labels = re.findall(r'<text class="axis"[^>]*>([^<]+)</text>', render.timeline_svg(short, now=NOW))
    assert any(re.match(r'^\d{2}-\d{2} \d{2}:\d{2}$', t) for t in labels[1:]), labels


def test_write_report_names_files_after_the_run(tmp_path):
    summary = build([('h', 'C', loop(HOST_CERT), 'ok')])
    json_path, html_path = render.write_report(summary, str(tmp_path / 'out'), 'rollout-report', run_id='12/3')
    assert json_path.endswith('rollout-report-12_3.json') and html_path.endswith('rollout-report-12_3.html')
    assert json.loads(open(json_path).read())['hosts']['h']['certs'][0]['serial'] == '1234567890123'
    assert open(html_path).read().startswith('<!DOCTYPE html>')
    assert sorted(p.name for p in (tmp_path / 'out').iterdir()) == ['rollout-report-12_3.html',
                                                                    'rollout-report-12_3.json']
