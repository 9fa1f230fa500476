"""The rollout_report callback on a real rollout: 3 sshd mini hosts and an unreachable one, the local
CA, the embedded gate with a registry that refuses one workload actor's TTL; the JSON is checked
against the certificates really on the hosts and the HTML is rendered in real headless Chromium."""

import json
import re
import shutil
import struct
import subprocess
import time
import zlib
from pathlib import Path

import pytest
import yaml

from tests.bed.ansible_run import run_playbook
from tests.bed.collection_path import ensure_on_path
from tests.bed.fleet import Fleet

BASE = '127.77.80.'
ROOT = Path(__file__).resolve().parents[3]
OUTPUT = ROOT / 'tests' / 'output'
CHROMIUM = '/usr/bin/chromium'
ACTORS = {
    'adm-example': {'type': 'adm', 'principals': ['adm-example', 'ops-admin'], 'ttl_hours': 8},
    'agt-state-hub-bridge': {'type': 'agt', 'principals': ['agt-task-bridge'], 'ttl_hours': 24},
    'atm-backup-daily': {'type': 'atm', 'principals': ['atm-backup'], 'ttl_hours': 8},
}
# The gate's registry (deployed earlier, now out of date) knows atm-backup-daily with another
# principal than the actor inventory asks for: the gate denies that one certificate.
REGISTRY_ACTORS = dict(ACTORS, **{'atm-backup-daily': dict(ACTORS['atm-backup-daily'], principals=['atm-archive'])})
PRINCIPALS = {'ops': ['adm-example', 'ops-admin'], 'svc': ['agt-task-bridge']}
HOST_ACTORS = {'host2': ['agt-state-hub-bridge'], 'host3': ['atm-backup-daily']}
KEY_DIR = '/root/warden-actors'  # the mini hosts share /var; /root is each host's own
HOST_CERT = '/etc/ssh/ssh_host_ed25519_key-cert.pub'
GHOST = 'ghost'  # in the inventory, nothing listens there: unreachable


def serial_of(text):
    out = subprocess.run(['ssh-keygen', '-L', '-f', '-'], input=text, capture_output=True, text=True,
                         check=True).stdout
    return re.search(r'^\s*Serial: (\d+)$', out, re.M).group(1)


def write_registry(path):
    ensure_on_path()
    from ansible_collections.netkingdom.warden.plugins.module_utils._inventory.actors import load_actors
    from ansible_collections.netkingdom.warden.plugins.module_utils._registry.snapshot import to_text
    from ansible_collections.netkingdom.warden.plugins.module_utils._registry.build import build_snapshot
    actors, dummy = load_actors(REGISTRY_ACTORS)
    path.write_text(to_text(build_snapshot(actors)))


class ReportBed(object):
    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.ca_key = self.workdir / 'ca' / 'ca_key'
        self.ca_key.parent.mkdir(mode=0o700)
        subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', str(self.ca_key)], check=True)
        self.registry = self.workdir / 'registry.json'
        write_registry(self.registry)
        self.fleet = Fleet(3, self.workdir, base=BASE).start()
        for host in self.fleet:
            for account in PRINCIPALS:
                host.run(['useradd', '-m', '-s', '/bin/bash', '-p', '*', account])
        inv = yaml.safe_load(self.fleet.inventory_path.read_text())
        hosts = inv['all']['children']['fleet']['hosts']
        for name, actors in HOST_ACTORS.items():
            hosts[name]['warden_host_actors'] = actors
        hosts[GHOST] = {'ansible_host': BASE + '99', 'fleet_fqdn': 'ghost.fleet.test'}
        self.inventory = self.workdir / 'inventory.yml'
        self.inventory.write_text(yaml.safe_dump(inv))

    def rollout(self, tmp_path, report_dir):
        extra = {
            'warden_actors': ACTORS, 'warden_audit_log': str(self.workdir / 'audit.jsonl'),
            'warden_signing_backend': 'local', 'warden_local_ca': {'key_path': str(self.ca_key)},
            'warden_policy': {'mode': 'embedded', 'registry': str(self.registry)},
            'warden_host_principals': PRINCIPALS, 'host_principals_actor_key_dir': KEY_DIR,
            'warden_max_fail_percentage': 60,
            'warden_verify_login': False,  # the probe logins are host_principals' own tests; keep this one fast
        }
        env = {'ANSIBLE_CALLBACKS_ENABLED': 'netkingdom.warden.rollout_report', 'WARDEN_REPORT_DIR': str(report_dir),
               'WARDEN_REPORT_TITLE': 'Rollout <test> & report', 'JOB_ID': ''}
        return run_playbook('netkingdom.warden.cert_rollout', inventory=self.inventory, extra_vars=extra,
                            env=env, workdir=tmp_path)


@pytest.fixture(scope='module')
def rbed(isolated, tmp_path_factory):
    bed = ReportBed(tmp_path_factory.mktemp('rollout-report'))
    try:
        yield bed
    finally:
        bed.fleet.stop()


def png_pixels(data):
    """Width, height and the set of distinct pixel colours of an 8-bit RGB/RGBA PNG (stdlib only)."""
    assert data[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG'
    pos, idat, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack('>I4s', data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b'IHDR':
            header = struct.unpack('>IIBBBBB', chunk)
        elif kind == b'IDAT':
            idat.append(chunk)
        pos += 12 + length
    width, height, depth, colour_type, dummy, dummy2, interlace = header
    assert depth == 8 and colour_type in (2, 6) and interlace == 0, header
    bpp = 3 if colour_type == 2 else 4
    raw = zlib.decompress(b''.join(idat))
    stride = width * bpp
    prev = bytearray(stride)
    colours = set()
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif kind == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, prev))
        elif kind == 3:
            for i in range(stride):
                line[i] = (line[i] + ((line[i - bpp] if i >= bpp else 0) + prev[i]) // 2) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], (prev[i - bpp] if i >= bpp else 0)
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        if row % 4 == 0:
            colours.update(bytes(line[i:i + 3]) for i in range(0, stride, bpp * 2))
        prev = line
    return width, height, colours


def chromium(html, tmp_path, *args):
    if not Path(CHROMIUM).exists():
        pytest.fail('%s is missing: scripts/bootstrap installs the Debian package chromium' % CHROMIUM, pytrace=False)
    profile = tmp_path / ('chromium-profile-%d' % time.monotonic_ns())
    profile.mkdir()
    argv = [CHROMIUM, '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
            '--disable-background-networking', '--disable-component-update', '--disable-sync',
            '--user-data-dir=%s' % profile] + list(args) + [Path(html).as_uri()]
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def test_rollout_report_json_and_html_in_a_real_browser(rbed, tmp_path, capsys):
    report_dir = tmp_path / 'report'
    run = rbed.rollout(tmp_path, report_dir)
    assert run.data is not None, run.output[-4000:]
    assert run.rc != 0  # host3's workload certificate was denied, ghost is unreachable
    assert 'rollout report: %s' % (report_dir / 'rollout-report.json') in run.stderr
    stats = run.data['stats']
    assert stats[GHOST]['unreachable'] == 1 and stats['host3']['failures'] == 1
    assert stats['host1']['failures'] == 0 and stats['host2']['failures'] == 0

    text = (report_dir / 'rollout-report.json').read_text()
    report = json.loads(text)
    for needle in ('-cert-v01@openssh.com', 'AAAA', 'PRIVATE KEY', 'BEGIN'):
        assert needle not in text
    assert report['title'] == 'Rollout <test> & report'
    assert report['run']['playbook'] == 'cert_rollout.yml' and report['run']['run_id'] is None
    assert sorted(report['hosts']) == ['ghost', 'host1', 'host2', 'host3']
    hosts = report['hosts']
    assert {n: h['status'] for n, h in hosts.items()} == {
        'ghost': 'unreachable', 'host1': 'changed', 'host2': 'changed', 'host3': 'failed'}
    assert hosts[GHOST]['certs'] == []

    on_hosts = {}
    for host in rbed.fleet:
        certs = dict((c['path'], c) for c in hosts[host.name]['certs'])
        cert = certs.pop(HOST_CERT)
        assert cert['status'] == 'changed' and cert['reason'] == 'missing' and cert['cert_type'] == 'host'
        assert cert['serial'] == serial_of(host.read_etc('ssh/ssh_host_ed25519_key-cert.pub'))
        assert cert['key_id'] == 'warden:host:%s' % host.name and host.fqdn in cert['principals']
        assert cert['valid_before'] > report['run']['ended'] and cert['policy_decision_id'] is None
        on_hosts[host.name] = certs
    bridge = on_hosts['host2'].pop('%s/agt-state-hub-bridge/id_ed25519-cert.pub' % KEY_DIR)
    written = (Path(rbed.fleet['host2'].root_dir) / 'warden-actors/agt-state-hub-bridge/id_ed25519-cert.pub')
    assert bridge['status'] == 'changed' and bridge['serial'] == serial_of(written.read_text())
    assert bridge['principals'] == ['agt-task-bridge'] and bridge['actor'] == 'agt-state-hub-bridge'
    assert re.match(r'^decision:[0-9a-f]{16}$', bridge['policy_decision_id'])
    assert bridge['key_id'] == 'warden:agt-state-hub-bridge:%s' % bridge['policy_decision_id']
    denied = on_hosts['host3'].pop('%s/atm-backup-daily/id_ed25519-cert.pub' % KEY_DIR)
    assert denied['status'] == 'denied' and denied['reason'] == 'principals_not_allowed' and denied['serial'] is None
    assert on_hosts == {'host1': {}, 'host2': {}, 'host3': {}}
    assert not (Path(rbed.fleet['host3'].root_dir) / 'warden-actors/atm-backup-daily/id_ed25519-cert.pub').exists()

    assert len(report['denials']) == 1
    denial = report['denials'][0]
    assert (denial['host'], denial['actor'], denial['reason'], denial['mode']) == (
        'host3', 'atm-backup-daily', 'principals_not_allowed', 'embedded')
    assert re.match(r'^decision:[0-9a-f]{16}$', denial['policy_decision_id'])
    failures = dict((f['host'], f) for f in report['failures'] if not f['ignored'])
    assert failures[GHOST]['kind'] == 'unreachable'
    assert 'policy denied signing for atm-backup-daily: principals_not_allowed' in failures['host3']['message']
    totals = report['totals']
    assert (totals['hosts'], totals['certs'], totals['changed'], totals['denied'], totals['denials']) == (4, 5, 4, 1, 1)

    html = report_dir / 'rollout-report.html'
    page = html.read_text()
    assert '<script' not in page and 'Rollout &lt;test&gt; &amp; report' in page
    for needle in ('-cert-v01@openssh.com', 'AAAA', 'PRIVATE KEY', 'BEGIN'):
        assert needle not in page
    dom = chromium(html, tmp_path, '--dump-dom')
    assert dom.returncode == 0 and '</html>' in dom.stdout, dom.stderr[-2000:]
    for name in ('host1', 'host2', 'host3', GHOST):
        assert '>%s<' % name in dom.stdout
    svg = re.search(r'<svg class="timeline".*?</svg>', dom.stdout, re.S)
    assert svg, 'no timeline in the rendered page'
    marks = re.findall(r'<g class="cert-mark" data-host="([^"]+)" data-serial="(\d+)"', svg.group(0))
    assert sorted(marks) == sorted((h, c['serial']) for h, data in hosts.items() for c in data['certs']
                                   if c['valid_before'])
    assert len(marks) == 4

    OUTPUT.mkdir(exist_ok=True)
    shot = OUTPUT / 'rollout-report.png'
    if shot.exists():
        shot.unlink()
    res = chromium(html, tmp_path, '--screenshot=%s' % shot, '--window-size=1280,1600', '--hide-scrollbars')
    assert res.returncode == 0 and shot.exists(), res.stderr[-2000:]
    width, height, colours = png_pixels(shot.read_bytes())
    assert (width, height) == (1280, 1600)
    assert len(colours) > 20, 'the screenshot looks blank: %d colours' % len(colours)
    with capsys.disabled():  # shown in every run's output, captured or not
        print('\nrollout report screenshot: %s (%d colours sampled)' % (shot, len(colours)))
