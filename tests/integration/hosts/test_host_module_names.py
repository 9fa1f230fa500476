"""The host halves of the action plugins are named ``<action>_host``; their former names still run
them until 1.0.0, with a deprecation warning naming the new module (meta/runtime.yml plugin_routing).

Each old name is run for real (``ansible -m``, read-only, on localhost) next to the new one: same
result, and only the old name warns.
"""

import json
import os
import subprocess
import sys

import pytest
import yaml

from tests.bed.ansible_run import BIN, ansible_env

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
# old name -> (action plugin, host module it runs)
RENAMED = {
    'principals_info': ('principals_drift', 'principals_drift_host'),
    'ssh_cert_file': ('ssh_cert', 'ssh_cert_host'),
    'sshd_trust_files': ('sshd_trust', 'sshd_trust_host'),
}


def _runtime():
    with open(os.path.join(ROOT, 'meta', 'runtime.yml')) as handle:
        return yaml.safe_load(handle)


def test_each_old_name_redirects_to_the_host_half_its_action_runs():
    runtime = _runtime()
    routing = runtime['plugin_routing']['modules']
    assert sorted(routing) == sorted(RENAMED)
    for old, (action, new) in RENAMED.items():
        assert routing[old]['redirect'] == 'netkingdom.warden.' + new
        deprecation = routing[old]['deprecation']
        assert deprecation['removal_version'] == '1.0.0'
        assert 'netkingdom.warden.%s' % new in deprecation['warning_text']
        assert os.path.isfile(os.path.join(ROOT, 'plugins', 'modules', new + '.py'))
        assert not os.path.exists(os.path.join(ROOT, 'plugins', 'modules', old + '.py'))
        with open(os.path.join(ROOT, 'plugins', 'action', action + '.py')) as handle:
            assert "HOST_MODULE = 'netkingdom.warden.%s'" % new in handle.read()
        assert new in runtime['action_groups']['warden'] and old not in runtime['action_groups']['warden']


@pytest.fixture(scope='module')
def public_key(tmp_path_factory):
    key = tmp_path_factory.mktemp('key') / 'id'
    subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', str(key)], check=True)
    return key.parent / 'id.pub'


def _run_module(name, args, workdir):
    """``ansible localhost -m netkingdom.warden.<name>``: (result, output)."""
    cmd = [os.path.join(BIN, 'ansible'), 'localhost', '-i', 'localhost,', '-c', 'local',
           '-e', 'ansible_python_interpreter=' + sys.executable,
           '-m', 'netkingdom.warden.' + name, '-a', json.dumps(args)]
    proc = subprocess.run(cmd, env=ansible_env(workdir=workdir), capture_output=True, text=True, timeout=300,
                          check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    return json.loads(proc.stdout[proc.stdout.index('=> ') + 3:]), output


@pytest.mark.parametrize('old', sorted(RENAMED))
def test_old_host_module_name_runs_the_new_module_with_a_deprecation_warning(old, public_key, tmp_path):
    args = {
        'principals_info': {'accounts': [], 'scan': False, 'ca_path': ''},
        'ssh_cert_file': {'public_key_path': str(public_key)},
        'sshd_trust_files': {'paths': [str(public_key)], 'pending_path': str(tmp_path / 'no-marker')},
    }[old]
    new = RENAMED[old][1]
    new_result, new_output = _run_module(new, args, tmp_path)
    old_result, old_output = _run_module(old, args, tmp_path)
    assert old_result == new_result
    if old != 'principals_info':
        assert public_key.read_text().strip() in json.dumps(new_result)
    warning = ' '.join(old_output.split())  # the warning text is wrapped to the terminal width
    assert 'netkingdom.warden.%s has been deprecated' % old in warning, old_output
    assert 'Renamed to netkingdom.warden.%s' % new in warning, old_output
    assert 'DEPRECATION' not in new_output, new_output
