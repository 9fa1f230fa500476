"""warden_config: a playbook runs on the settings of an existing ops-warden warden.yaml.

Controller only (no hosts, no network): the local CA, the actor inventory, the tenant and the audit
trail all come from the file; the actor exists only in the inventory beside the file.
"""

import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

from tests.bed.ansible_run import run_playbook
from tests.integration.signing.test_ssh_cert import keygen

HERE = Path(__file__).resolve().parents[1]
pytest_plugins = ["tests.integration.pdp_fixtures"]
# Built at run time so no token-shaped literal sits in the repository.
TOKEN = 'hvs.' + 'CAESIJ' + 'q3Zr8Tn5Wm2Xp7Lk4Vb9Hd6Fs1Gj0Ya'


def test_playbook_signs_and_decides_from_warden_yaml(isolated, tmp_path):
    conf = tmp_path / 'config' / 'warden'
    conf.mkdir(parents=True)
    (conf / 'inventory.yaml').write_text(textwrap.dedent("""\
        actors:
          agt-lab-bridge:
            type: agt
            principals: [agt-task-bridge]
            ttl_hours: 12
            description: exists only in the inventory beside warden.yaml
    """))
    (conf / 'warden.yaml').write_text(textwrap.dedent("""\
        backend: local
        state_dir: ../../state
        local:
          ca_key: ca/ca_key
          create: true
        policy:
          enabled: false
          tenant: tenant:lab
          fail_closed: true
        signatures_log: ~/.local/state/warden/signatures.log
        color: false
    """))
    bad = tmp_path / 'bad' / 'warden.yaml'
    bad.parent.mkdir()
    bad.write_text('backend: vault\nvault:\n  addr: http://127.0.0.1:8200\n  token: %s\n' % TOKEN)
    pub = keygen(tmp_path / 'bridge').strip()

    run = run_playbook(HERE / 'playbooks' / 'warden_config.yml', workdir=tmp_path, verbosity=3,
                       extra_vars={'warden_config': str(conf / 'warden.yaml'), 'bridge_pub': pub,
                                   'bad_config': str(bad)})
    assert run.rc == 0, run.output[-3000:]

    # signed by the CA the file names (created there, relative to the file), for the file's actor
    cert = run.task_results('Sign the bridge key with the ssh_cert lookup')[0]['ansible_facts']['bridge_cert']
    shown = subprocess.run(['ssh-keygen', '-L', '-f', '-'], input=cert, capture_output=True, text=True,
                           check=True).stdout
    assert 'agt-task-bridge' in shown and 'warden:agt-lab-bridge:decision:' in shown
    fp = subprocess.run(['ssh-keygen', '-lf', str(conf / 'ca' / 'ca_key.pub')], capture_output=True, text=True,
                        check=True).stdout.split()[1]
    assert fp in shown

    # the gate: embedded (policy.enabled false), the file's tenant, the file's inventory
    lab, hub = run.task_results('Decide with the policy_decision lookup')[0]['ansible_facts']['decisions']
    assert lab['allowed'] is True and lab['mode'] == 'embedded' and lab['request']['tenant'] == 'tenant:lab'
    assert hub['allowed'] is False and hub['reason'] == 'unknown_actor_resource'  # not in the file's inventory
    play = run.task_results('Decide with a play variable above the file')[0]['ansible_facts']['play_decision']
    assert play['request']['tenant'] == 'tenant:play' and play['allowed'] is True  # play variable > file

    checked = run.task_results('Check with the policy_check action')[0]
    assert checked['allowed'] is True and checked['request']['tenant'] == 'tenant:lab'

    # one audit trail, where the file's state_dir says
    audit = tmp_path / 'state' / 'audit.jsonl'
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [r['kind'] for r in records] == ['sign'] and records[0]['actor'] == 'agt-lab-bridge'
    activity = run.task_results('Read the audit trail the file names')[0]
    assert activity['path'] == str(audit) and activity['count'] == 1

    # a token in a warden.yaml fails naming field and file, never showing the token
    refused = run.task_results('Refuse a warden.yaml holding a token')[0]
    assert refused['failed'] and 'vault.token' in refused['msg'] and str(bad) in refused['msg']
    assert TOKEN not in run.output
    # the field with no equivalent is named in a warning; the local-CLI field is not
    assert 'signatures_log' in run.output and 'has no equivalent' in run.output
    assert 'field color' not in run.output


def test_the_contracts_warden_yaml_with_every_key_runs_a_playbook(isolated, tmp_path, openbao, pdp):
    """CONTRACTS.md's warden.yaml, every key, as ops-warden writes it: OpenBao signs with the token from the
    variable vault.token_env names, the remote gate (policy.enabled) at policy.flex_auth_url decides for the
    subject in the variable policy.subject_env names, with policy.tenant and policy.system; the actors come
    from inventory_path, the audit trail goes to state_dir. No key is unknown, nothing else is configured."""
    conf = tmp_path / 'config' / 'warden'
    conf.mkdir(parents=True)
    shutil.copy(HERE.parent / 'cases' / 'actors.yaml', conf / 'inventory.yaml')
    (conf / 'ca').mkdir()
    keygen(conf / 'ca' / 'ca_key')  # ops-warden's local CA (mode 600); unused by the vault backend
    template = (HERE.parent / 'cases' / 'ops_warden_warden.yaml').read_text()
    (conf / 'warden.yaml').write_text(template.format(vault_addr=openbao.url, flex_auth_url=pdp.url))
    pub = keygen(tmp_path / 'bridge').strip()
    env = dict((k, '') for k in os.environ if k.startswith(('BAO_', 'VAULT_', 'WARDEN_')))
    env.update({'OPS_SIGNING_TOKEN': openbao.token, 'OPS_IAM_SUBJECT': 'iam:agt-state-hub-bridge',
                'WARDEN_CONFIG': str(conf / 'warden.yaml')})
    decisions = len(pdp.decisions())
    run = run_playbook(HERE / 'playbooks' / 'warden_config_contracts.yml', workdir=tmp_path, env=env,
                       extra_vars={'bridge_pub': pub})
    assert run.rc == 0, run.output[-3000:]
    assert 'is not a setting netkingdom.warden uses' not in run.output and 'has no equivalent' not in run.output

    # signed by the file's OpenBao (vault.addr, vault.mount, role_map.agt), with the vault.token_env token
    cert = run.task_results('Sign the bridge key through OpenBao with the ssh_cert lookup')[0]['ansible_facts']
    shown = subprocess.run(['ssh-keygen', '-L', '-f', '-'], input=cert['bridge_cert'], capture_output=True,
                           text=True, check=True).stdout
    assert 'agt-task-bridge' in shown
    ca_line = run.task_results('Read the CA public key the file\'s OpenBao serves')[0]['ansible_facts']['ca_key']
    assert ca_line == openbao.ca_public_key().strip()
    ca_file = tmp_path / 'openbao_ca.pub'
    ca_file.write_text(ca_line + '\n')
    ca_fp = subprocess.run(['ssh-keygen', '-lf', str(ca_file)], capture_output=True, text=True,
                           check=True).stdout.split()[1]
    assert ca_fp in shown  # the "Signing CA" line
    assert openbao.token not in run.output

    # decided by the file's PDP (policy.enabled, flex_auth_url) for the subject policy.subject_env names
    asked = pdp.decisions()[decisions:]
    assert len(asked) == 2, asked
    assert all(d['subject'] == 'iam:agt-state-hub-bridge' for d in asked), asked
    checked = run.task_results('Check with the policy_check action')[0]
    assert checked['allowed'] is True and checked['mode'] == 'flex_auth'
    assert checked['request']['subject']['id'] == 'iam:agt-state-hub-bridge'
    assert checked['request']['tenant'] == 'tenant:platform'
    assert checked['request']['resource']['system'] == 'ops-warden'

    # one audit record in the file's state_dir, with the PDP's decision id
    records = [json.loads(line) for line in (conf / 'state' / 'audit.jsonl').read_text().splitlines()]
    signed = [r for r in records if r['kind'] == 'sign']
    assert len(signed) == 1 and signed[0]['backend'] == 'openbao' and signed[0]['actor'] == 'agt-state-hub-bridge'
    assert signed[0]['policy_decision_id'] in [d.get('decision_id') or d.get('id') for d in asked]
