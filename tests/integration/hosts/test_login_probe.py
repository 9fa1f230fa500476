"""login_probe on a real sshd host (finding 14.2): the ssh destination is validated before anything is
signed, and `--` ends ssh's options, so an account or address that looks like an option
(`-oProxyCommand=...`) can never run a command on the controller.

The local CA backend signs (no OpenBao needed; the bed of test_ssh_cert_local.py); the audit log
shows what was signed.
"""

from pathlib import Path

import pytest

from tests.integration.signing.test_ssh_cert import audit_records
from tests.integration.signing import test_ssh_cert_local

BOOK = Path(__file__).resolve().parents[1] / 'playbooks' / 'login_probe.yml'
local_bed = test_ssh_cert_local.local_bed  # the fixture, for this module's own instance of that bed


@pytest.fixture(scope='module')
def bed(local_bed):
    local_bed.fleet['host1'].reload_sshd()  # sshd reads the bed's trust drop-in
    return local_bed


def probe(bed, tmp_path, probes):
    return bed.play(tmp_path, book=BOOK, probes=probes, target='host1', warden_policy={'mode': 'embedded'})


def signed(bed):
    return [r for r in audit_records(bed.audit) if r.get('outcome') == 'signed']


def test_option_looking_account_or_address_is_refused_before_anything_is_signed(bed, tmp_path):
    trap = tmp_path / 'trap'
    trap.mkdir()
    command = 'touch %s/pwned' % trap  # what ssh would run on the controller as a ProxyCommand
    probes = [
        {'name': 'account option', 'account': '-oProxyCommand=%s' % command},
        {'name': 'address option', 'account': 'svc', 'address': '-oProxyCommand=%s' % command},
        {'name': 'account with a space', 'account': 'svc -oProxyCommand=%s' % command},
        {'name': 'look-alike account', 'account': 'svc\u0441'},  # Cyrillic es
    ]
    before = signed(bed)
    run = probe(bed, tmp_path, probes)
    results = run.task_results('Probe a login', 'host1')
    assert len(results) == len(probes), run.output
    for item, res in zip(probes, results):
        assert res['failed'] and 'probe login refused before signing' in res['msg'], (item['name'], res)
        field = 'address' if item['name'].startswith('address') else 'account'
        assert field + ':' in res['msg'], res['msg']
        assert 'serial' not in res and 'key_id' not in res
    assert "'svc\\u0441'" in results[3]['msg']  # shown as an escape, never raw
    assert sorted(p.name for p in trap.iterdir()) == []  # no command ran on the controller
    assert signed(bed) == before  # no probe certificate was issued


def test_a_valid_probe_still_logs_in_with_the_end_of_options_marker(bed, tmp_path):
    before = len(signed(bed))
    run = probe(bed, tmp_path, [{'name': 'svc', 'account': 'svc'}])
    res = run.task_results('Probe a login', 'host1')[0]
    assert not res.get('failed'), res.get('msg')
    assert res['account'] == 'svc' and res['attempts'] == 1
    assert len(signed(bed)) == before + 1
    assert 'ID warden:agt-state-hub-bridge' in bed.fleet['host1'].sshd_log()
