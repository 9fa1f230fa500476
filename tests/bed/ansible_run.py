"""Run ansible-playbook / ansible-doc against the collection under test, as a user would."""

import json
import os
import subprocess
import sys

from tests.bed.collection_path import collections_dir

BIN = os.path.dirname(sys.executable)
CALLBACKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'callback_plugins')


def ansible_env(extra=None, workdir=None):
    """Environment for an Ansible run: the built collection only, JSON results, no stray config."""
    env = dict(os.environ)
    env.update({
        'ANSIBLE_COLLECTIONS_PATH': collections_dir(),
        'ANSIBLE_COLLECTIONS_SCAN_SYS_PATH': 'false',
        'ANSIBLE_HOST_KEY_CHECKING': 'false',
        'ANSIBLE_RETRY_FILES_ENABLED': 'false',
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_FORCE_COLOR': '0',
        'ANSIBLE_CONFIG': os.path.join(os.path.dirname(os.path.abspath(__file__)), 'ansible.cfg'),
        'PATH': BIN + os.pathsep + env.get('PATH', ''),
    })
    if workdir:
        env['ANSIBLE_LOCAL_TEMP'] = os.path.join(str(workdir), '.ansible-tmp')
        env['ANSIBLE_HOME'] = os.path.join(str(workdir), '.ansible-home')
    env.update(extra or {})
    return env


class PlaybookRun(object):
    def __init__(self, proc, json_mode):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.data = None
        if json_mode:
            start = proc.stdout.find('{\n "plays"')
            self.data = json.loads(proc.stdout[start:]) if start >= 0 else None

    def task_results(self, task_name, host='localhost'):
        """Results of a named task for a host: a list (one per loop item, or one)."""
        for play in self.data['plays']:
            for task in play['tasks']:
                name = task['task']['name']  # tasks of roles are named '<role> : <task>'
                if (name == task_name or name.endswith(' : ' + task_name)) and host in task['hosts']:
                    res = task['hosts'][host]
                    return res.get('results', [res])
        raise KeyError(task_name)

    @property
    def output(self):
        return self.stdout + self.stderr


def run_playbook(playbook, inventory=None, extra_vars=None, check=False, diff=False, verbosity=0,
                 env=None, json_mode=True, workdir=None, timeout=600, args=(), preexec_fn=None):
    """``preexec_fn`` runs in the child before ansible-playbook starts (e.g. to set a resource limit)."""
    cmd = [os.path.join(BIN, 'ansible-playbook'), str(playbook)] + list(args)
    cmd += ['-i', str(inventory) if inventory else 'localhost,']
    if extra_vars:
        cmd += ['-e', json.dumps(extra_vars)]
    if check:
        cmd.append('--check')
    if diff:
        cmd.append('--diff')
    if verbosity:
        cmd.append('-' + 'v' * verbosity)
    run_env = ansible_env(env, workdir)
    if json_mode:
        run_env['ANSIBLE_STDOUT_CALLBACK'] = 'test_json'
        run_env['ANSIBLE_CALLBACK_PLUGINS'] = CALLBACKS
    proc = subprocess.run(cmd, env=run_env, capture_output=True, text=True, timeout=timeout, check=False,
                          preexec_fn=preexec_fn)
    return PlaybookRun(proc, json_mode)


def ansible_doc(plugin, plugin_type='module', json_mode=False):
    cmd = [os.path.join(BIN, 'ansible-doc'), '-t', plugin_type, plugin]
    if json_mode:
        cmd.append('--json')
    return subprocess.run(cmd, env=ansible_env(), capture_output=True, text=True, timeout=120, check=False)
