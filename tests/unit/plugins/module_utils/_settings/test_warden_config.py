"""warden_config: an ops-warden warden.yaml mapped onto the collection's options, and its precedence."""

import os
import textwrap
from pathlib import Path

import pytest
from ansible.errors import AnsibleActionFail
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from ansible_collections.netkingdom.warden.plugins.module_utils._settings import warden_config as W
from ansible_collections.netkingdom.warden.plugins.module_utils._settings.layers import layered
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.settings import OpenBaoSettings
from ansible_collections.netkingdom.warden.plugins.module_utils._gate.gate import policy_request
from ansible_collections.netkingdom.warden.plugins.module_utils._gate.settings import GateSettings
from ansible_collections.netkingdom.warden.plugins.plugin_utils.task_vars import apply_play_defaults, play_audit_log

# A Vault token-shaped literal, built at run time so no secret-looking string sits in this file.
TOKEN = 'hvs.' + 'CAESIJ' + 'x7Qm2Lp9Rt4Vw8Yz3Ab6Cd1Ef5Gh0Jk'
ACTORS_YAML = textwrap.dedent("""\
    actors:
      agt-state-hub-bridge:
        type: agt
        principals: [agt-task-bridge]
        ttl_hours: 24
        description: ops-bridge tunnel to state-hub backend
""")


def write(tmp_path, text, name='warden.yaml'):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return str(path)


def load(tmp_path, text):
    return W.load_config(write(tmp_path, text))


def error_of(tmp_path, text):
    path = write(tmp_path, text)
    with pytest.raises(ValidationError) as info:
        W.load_config(path)
    return path, str(info.value), info.value


# --- the fields the seeds show, written as the seeds show them -------------------------------------

def test_a_warden_yaml_as_the_seeds_show_it_parses_unchanged(tmp_path):
    # seeds: backend: vault|local, policy.enabled, policy.flex_auth_url, policy.tenant (default
    # tenant:platform), fail_closed: true, state_dir (where ops-warden keeps its logs).
    config = load(tmp_path, """\
        backend: vault
        state_dir: ~/.local/state/warden
        policy:
          enabled: true
          flex_auth_url: http://flex-auth.flex-auth.svc.cluster.local:8080
          tenant: tenant:platform
          fail_closed: true
    """)
    assert config.options == {
        'backend': 'openbao',
        'audit_log': os.path.expanduser('~/.local/state/warden/audit.jsonl'),
        'policy': {'mode': 'flex_auth', 'url': 'http://flex-auth.flex-auth.svc.cluster.local:8080',
                   'tenant': 'tenant:platform', 'fail_closed': True},
    }
    assert config.warnings == [] and config.ignored == []
    assert config.fields['policy.url'] == 'policy.flex_auth_url'


def test_local_backend_and_a_disabled_gate(tmp_path):
    config = load(tmp_path, """\
        backend: local
        policy:
          enabled: false
          fail_closed: true
    """)
    # enabled: false leaves the mode to the play / WARDEN_POLICY_MODE / the default (embedded), which
    # checks the same inventory rules ops-warden checks locally: never silently "off".
    assert config.options == {'backend': 'local', 'policy': {'fail_closed': True}}
    assert GateSettings(config.options['policy'], env={}).mode == 'embedded'


# --- the warden.yaml of CONTRACTS.md: every documented ops-warden key, as ops-warden writes it ---------

# every key, as ops-warden writes it (the integration test runs a playbook on the same file)
CONTRACTS_YAML = (Path(__file__).resolve().parents[4] / 'cases' / 'ops_warden_warden.yaml').read_text().format(
    vault_addr='https://openbao.example.internal:8200', flex_auth_url='http://127.0.0.1:8080')


def test_the_contracts_warden_yaml_loads_with_every_key_honoured(tmp_path, templar, monkeypatch):
    monkeypatch.delenv('WARDEN_CONFIG', raising=False)
    write(tmp_path, ACTORS_YAML, name='inventory.yaml')
    path = write(tmp_path, CONTRACTS_YAML)
    config = W.load_config(path)
    assert config.warnings == [] and config.ignored == []  # no key unknown, nothing ignored
    assert config.options == {
        'backend': 'openbao',
        'local_ca': {'key_path': str(tmp_path / 'ca' / 'ca_key')},
        'inventory_file': str(tmp_path / 'inventory.yaml'),
        'audit_log': str(tmp_path / 'state' / 'audit.jsonl'),
        'openbao': {'url': 'https://openbao.example.internal:8200', 'mount': 'ssh',
                    'role_map': {'adm': 'adm-role', 'agt': 'agt-role', 'atm': 'atm-role'},
                    'token_env': 'OPS_SIGNING_TOKEN'},
        'policy': {'mode': 'flex_auth', 'url': 'http://127.0.0.1:8080', 'fail_closed': True,
                   'tenant': 'tenant:platform', 'subject_env': 'OPS_IAM_SUBJECT', 'system': 'ops-warden'},
    }
    # ... and each means what ops-warden documents, once it reaches the settings that use it
    args = apply_play_defaults(signing_args(), {'warden_config': path}, templar, signing=True)
    env = {'OPS_SIGNING_TOKEN': 'signer-token', 'BAO_TOKEN': 'someone-else', 'OPS_IAM_SUBJECT': 'iam:agt-state-hub-bridge'}
    openbao = OpenBaoSettings(args['openbao'], env=env)
    assert (openbao.token, openbao.sources['token']) == ('signer-token', 'OPS_SIGNING_TOKEN')  # vault.token_env
    assert openbao.role_map == {'adm': 'adm-role', 'agt': 'agt-role', 'atm': 'atm-role'} and openbao.mount == 'ssh'
    gate = GateSettings(args['policy'], env=env)
    assert (gate.mode, gate.url, gate.fail_closed, gate.tenant) == ('flex_auth', 'http://127.0.0.1:8080', True,
                                                                    'tenant:platform')
    request = policy_request('agt-state-hub-bridge', pubkey_fingerprint='SHA256:x', settings=gate, env=env)
    assert request['subject']['id'] == 'iam:agt-state-hub-bridge'  # policy.subject_env names the variable
    assert request['resource']['system'] == 'ops-warden' and request['tenant'] == 'tenant:platform'
    assert args['inventory_file'] == str(tmp_path / 'inventory.yaml')
    assert args['local_ca'] == {'key_path': str(tmp_path / 'ca' / 'ca_key')}


def test_ops_warden_defaults_for_what_the_file_leaves_out(tmp_path, templar, monkeypatch):
    # backend: local and policy.flex_auth_url: http://127.0.0.1:8080 (when the file turns the gate on)
    monkeypatch.delenv('WARDEN_CONFIG', raising=False)
    for name in ('WARDEN_SIGNING_BACKEND', 'WARDEN_POLICY_URL'):
        monkeypatch.delenv(name, raising=False)
    path = write(tmp_path, 'policy: {enabled: true}\n')
    config = W.load_config(path)
    assert config.options == {'policy': {'mode': 'flex_auth'}}
    args = apply_play_defaults(signing_args(), {'warden_config': path}, templar, signing=True)
    assert args['backend'] == 'local' and args['policy'] == {'mode': 'flex_auth', 'url': 'http://127.0.0.1:8080'}
    # they sit where the collection's own defaults sit: a play variable and the environment win over them
    task_vars = {'warden_config': path, 'warden_signing_backend': 'openbao',
                 'warden_policy': {'url': 'https://pdp.example.internal:8443'}}
    args = apply_play_defaults(signing_args(), task_vars, templar, signing=True)
    assert args['backend'] == 'openbao' and args['policy']['url'] == 'https://pdp.example.internal:8443'
    monkeypatch.setenv('WARDEN_SIGNING_BACKEND', 'openbao')
    monkeypatch.setenv('WARDEN_POLICY_URL', 'https://pdp.example.internal:8443')
    args = apply_play_defaults(signing_args(), {'warden_config': path}, templar, signing=True)
    assert args['backend'] is None and args['policy'] == {'mode': 'flex_auth'}  # the environment decides
    assert GateSettings(args['policy']).url == 'https://pdp.example.internal:8443'
    # the gate left off (ops-warden's default): no PDP address is implied
    assert W.load_config(write(tmp_path, 'policy: {enabled: false}\n', name='off.yaml')).defaults == \
        {'backend': ('local', ('WARDEN_SIGNING_BACKEND',))}


def test_ops_warden_default_inventory_path(tmp_path):
    home = tmp_path / 'home'
    write(home / '.config' / 'warden', ACTORS_YAML, name='inventory.yaml')
    path = write(tmp_path / 'elsewhere', 'backend: local\n')
    wanted = os.path.expanduser(W.OPS_WARDEN_INVENTORY)
    config = W.parse_config({'backend': 'local'}, path, exists=lambda p: p == wanted)
    assert config.options['inventory_file'] == wanted  # ~/.config/warden/inventory.yaml when nothing is beside
    assert W.parse_config({'backend': 'local'}, path, exists=lambda p: False).options == {'backend': 'local'}


def test_ca_key_is_mode_600_as_ops_warden_keeps_it(tmp_path):
    key = tmp_path / 'ca' / 'ca_key'
    key.parent.mkdir()
    key.write_text('not read here')
    key.chmod(0o640)
    path, message, exc = error_of(tmp_path, 'backend: local\nca_key: ca/ca_key\n')
    assert exc.fields == ['ca_key'] and 'open to group or others (mode 0640): chmod 600 it' in message
    key.chmod(0o600)
    assert W.load_config(path).options['local_ca'] == {'key_path': str(key)}


@pytest.mark.parametrize('text, field, words', [
    ('vault: {token_env: "VAULT TOKEN"}', 'vault.token_env', 'name of an environment variable'),
    ('policy: {subject_env: "$SUBJECT"}', 'policy.subject_env', 'name of an environment variable'),
    ('ca_key: a\nlocal: {ca_key: b}', 'local.ca_key', 'given twice'),
    ('inventory_path: a.yaml\ninventory: b.yaml', 'inventory_path', 'given twice'),
])
def test_bad_values_of_the_ops_warden_keys(tmp_path, text, field, words):
    path, message, exc = error_of(tmp_path, text + '\n')
    assert field in exc.fields, message
    assert path in message and words in message


# --- every field -----------------------------------------------------------------------------------

@pytest.mark.parametrize('text, option, expected', [
    ('backend: openbao', 'backend', 'openbao'),
    ('backend: local', 'backend', 'local'),
    ('audit_log: logs/audit.jsonl', 'audit_log', '{base}/logs/audit.jsonl'),
    ('state_dir: state', 'audit_log', '{base}/state/audit.jsonl'),
    ('inventory: inv/actors.yaml', 'inventory_file', '{base}/inv/actors.yaml'),
    ('inventory_file: /etc/warden/inventory.yaml', 'inventory_file', '/etc/warden/inventory.yaml'),
    ('policy: {mode: "off"}', 'policy.mode', 'off'),
    ('policy: {mode: embedded, enabled: true}', 'policy.mode', 'embedded'),  # explicit mode wins
    ('policy: {enabled: yes}', 'policy.mode', 'flex_auth'),
    ('policy: {flex_auth_url: "https://pdp.example:8080/"}', 'policy.url', 'https://pdp.example:8080'),
    ('policy: {tenant: "tenant:lab"}', 'policy.tenant', 'tenant:lab'),
    ('policy: {fail_closed: false}', 'policy.fail_closed', False),
    ('policy: {subject: "iam:agt-state-hub-bridge"}', 'subject', 'iam:agt-state-hub-bridge'),
    ('policy: {timeout: 2}', 'policy.timeout', 2.0),
    ('policy: {retries: 0}', 'policy.retries', 0),
    ('policy: {ca_cert: ca.pem}', 'policy.ca_cert', '{base}/ca.pem'),
    ('policy: {validate_certs: false}', 'policy.validate_certs', False),
    ('policy: {registry: snap.json}', 'policy.registry', '{base}/snap.json'),
    ('vault: {addr: "https://bao.example:8200"}', 'openbao.url', 'https://bao.example:8200'),
    ('vault: {address: "https://bao.example:8200"}', 'openbao.url', 'https://bao.example:8200'),
    ('openbao: {url: "https://bao.example:8200"}', 'openbao.url', 'https://bao.example:8200'),
    ('vault: {mount: ssh-client-signer}', 'openbao.mount', 'ssh-client-signer'),
    ('vault: {roles: {adm: admins, agt: agents}}', 'openbao.role_map', {'adm': 'admins', 'agt': 'agents'}),
    ('vault: {role_map: {atm: robots}}', 'openbao.role_map', {'atm': 'robots'}),
    ('vault: {host_role: hosts}', 'openbao.host_role', 'hosts'),
    ('vault: {host_mount: ssh-host-signer}', 'openbao.host_mount', 'ssh-host-signer'),
    ('vault: {roles: {agt: agents, host: hosts}}', 'openbao.role_map', {'agt': 'agents', 'host': 'hosts'}),
    ('vault: {namespace: ops}', 'openbao.namespace', 'ops'),
    ('vault: {ca_cert: /etc/ssl/bao.pem}', 'openbao.ca_cert', '/etc/ssl/bao.pem'),
    ('vault: {skip_verify: true}', 'openbao.validate_certs', False),
    ('vault: {validate_certs: true}', 'openbao.validate_certs', True),
    ('vault: {timeout: 30}', 'openbao.timeout', 30.0),
    ('vault: {retries: 4}', 'openbao.retries', 4),
    ('vault: {auth_method: approle}', 'openbao.auth_method', 'approle'),
    ('vault: {auth_mount: ci-approle}', 'openbao.mount_point', 'ci-approle'),
    ('vault: {role_id: warden-ci}', 'openbao.role_id', 'warden-ci'),
    ('local: {ca_key: ca/ca_key}', 'local_ca.key_path', '{base}/ca/ca_key'),
    ('local_ca: {key_path: ~/ca_key}', 'local_ca.key_path', os.path.expanduser('~/ca_key')),
    ('local: {create: true}', 'local_ca.create', True),
    ('local: {key_type: ecdsa}', 'local_ca.key_type', 'ecdsa'),
    ('ca_key: ca/ca_key', 'local_ca.key_path', '{base}/ca/ca_key'),
    ('inventory_path: inv/actors.yaml', 'inventory_file', '{base}/inv/actors.yaml'),
    ('vault: {token_env: OPS_SIGNING_TOKEN}', 'openbao.token_env', 'OPS_SIGNING_TOKEN'),
    ('policy: {subject_env: OPS_IAM_SUBJECT}', 'policy.subject_env', 'OPS_IAM_SUBJECT'),
    ('policy: {system: ops-warden}', 'policy.system', 'ops-warden'),
])
def test_every_field_maps_onto_its_option(tmp_path, text, option, expected):
    config = load(tmp_path, text + '\n')
    if '.' in option:
        head, sub = option.split('.')
        value = config.options[head][sub]
    else:
        value = config.options[option]
    if isinstance(expected, str):
        expected = expected.format(base=str(tmp_path))
    assert value == expected


def test_every_field_of_the_table_is_covered():
    # the parametrised cases above name every field (or its alias) of W.FIELDS
    covered = {'backend', 'audit_log', 'state_dir', 'inventory', 'policy.mode', 'policy.enabled',
               'policy.flex_auth_url', 'policy.tenant', 'policy.fail_closed', 'policy.subject', 'policy.timeout',
               'policy.retries', 'policy.ca_cert', 'policy.validate_certs', 'policy.registry', 'vault.addr',
               'vault.mount', 'vault.roles', 'vault.host_role', 'vault.host_mount', 'vault.namespace', 'vault.ca_cert',
               'vault.skip_verify', 'vault.timeout', 'vault.retries', 'vault.auth_method', 'vault.auth_mount',
               'vault.role_id', 'local.ca_key', 'local.create', 'local.key_type', 'ca_key', 'vault.token_env',
               'policy.subject_env', 'policy.system'}
    assert covered == set(W.FIELDS)


# --- paths -------------------------------------------------------------------------------------------

def test_relative_paths_resolve_against_the_file_and_inventory_beside_it(tmp_path):
    conf = tmp_path / 'home' / '.config' / 'warden'
    write(conf, ACTORS_YAML, name='inventory.yaml')
    path = write(conf, 'local: {ca_key: ../ca/key}\nstate_dir: state\n')
    config = W.load_config(path)
    assert config.options['inventory_file'] == str(conf / 'inventory.yaml')
    assert config.options['local_ca']['key_path'] == str(tmp_path / 'home' / '.config' / 'ca' / 'key')
    assert config.options['audit_log'] == str(conf / 'state' / 'audit.jsonl')
    # an explicit inventory wins over the one beside the file
    path = write(conf, 'inventory: other.yaml\n', name='other-warden.yaml')
    assert W.load_config(path).options['inventory_file'] == str(conf / 'other.yaml')
    # no inventory.yaml beside it: no actor source from the file
    assert 'inventory_file' not in load(tmp_path, 'backend: local\n').options


def test_audit_log_wins_over_state_dir(tmp_path):
    config = load(tmp_path, 'state_dir: /var/lib/warden\naudit_log: /var/log/warden.jsonl\n')
    assert config.options['audit_log'] == '/var/log/warden.jsonl'


def test_an_empty_file_and_empty_fields_are_no_values(tmp_path):
    assert load(tmp_path, '').options == {}
    assert load(tmp_path, 'policy:\nvault:\n  token:\n  addr:\n').options == {}


# --- errors name the field and the file ---------------------------------------------------------------

@pytest.mark.parametrize('text, field, hint', [
    ('policy: {enabeld: true}', 'policy.enabeld', 'did you mean policy.enabled'),
    ('backnd: vault', 'backnd', 'did you mean backend'),
    ('vault: {adress: "https://x"}', 'vault.adress', 'did you mean vault.address'),
    ('openbao: {mout: ssh}', 'openbao.mout', 'did you mean vault.mount'),
    ('worker_interval: 60', 'worker_interval', 'known: '),
    ('notifications: {slack: "#ops"}', 'notifications', 'known: '),
])
def test_unknown_fields_are_warnings_naming_field_and_file(tmp_path, text, field, hint):
    # CONTRACTS.md: a key the collection does not use is a warning that names it, never a failure
    path = write(tmp_path, 'backend: local\n' + text + '\n')
    config = W.load_config(path)
    assert config.options['backend'] == 'local'
    assert len(config.warnings) == 1, config.warnings
    assert 'field %s ' % field in config.warnings[0] and path in config.warnings[0] and hint in config.warnings[0]


@pytest.mark.parametrize('text, field, words', [
    ('backend: hsm', 'backend', 'vault, openbao, local'),
    ('policy: {fail_closed: maybe}', 'policy.fail_closed', 'true or false'),
    ('policy: {enabled: 2}', 'policy.enabled', 'true or false'),
    ('policy: {mode: remote}', 'policy.mode', 'off, embedded, flex_auth'),
    ('policy: {flex_auth_url: "flex-auth:8080"}', 'policy.flex_auth_url', 'http://'),
    ('policy: {tenant: ""}', 'policy.tenant', 'non-empty string'),
    ('policy: {timeout: 0}', 'policy.timeout', 'greater than 0'),
    ('policy: {retries: 1.5}', 'policy.retries', 'whole number'),
    ('policy: [enabled]', 'policy', 'mapping'),
    ('vault: {roles: {ops: ops-role}}', 'vault.roles', 'unknown actor type'),
    ('vault: {auth_method: ldap}', 'vault.auth_method', 'approle'),
    ('local: {key_type: dsa}', 'local.key_type', 'ed25519'),
    ('vault: {addr: "https://a"}\nopenbao: {addr: "https://b"}', 'openbao.addr', 'given twice'),
    ('vault: {addr: "https://a", url: "https://b"}', 'vault.url', 'given twice'),
    ('inventory: a.yaml\ninventory_file: b.yaml', 'inventory_file', 'given twice'),
])
def test_bad_values_are_errors_naming_field_and_file(tmp_path, text, field, words):
    path, message, exc = error_of(tmp_path, text + '\n')
    assert field in exc.fields, message
    assert path in message and words in message


def test_unreadable_and_malformed_files(tmp_path):
    with pytest.raises(ValidationError) as info:
        W.load_config(str(tmp_path / 'missing.yaml'))
    assert 'warden_config' in str(info.value) and 'missing.yaml' in str(info.value)
    path, message, dummy = error_of(tmp_path, '- a list\n')
    assert path in message and 'mapping' in message
    # a YAML error names the file and the line, never the line's text (it could hold a secret)
    path, message, dummy = error_of(tmp_path, 'vault:\n  token: %s\n   bad: [\n' % TOKEN)
    assert path in message and 'not valid YAML' in message and TOKEN not in message


# --- secrets ---------------------------------------------------------------------------------------

@pytest.mark.parametrize('text, field', [
    ('vault: {token: %s}' % TOKEN, 'vault.token'),
    ('vault: {token: short-but-a-token}', 'vault.token'),
    ('policy: {token: pdp-bearer-value}', 'policy.token'),
    ('vault: {secret_id: 6a1c-f00d-beef}', 'vault.secret_id'),
    ('local: {passphrase: correct horse battery staple}', 'local.passphrase'),
    ('openbao: {token: %s}' % TOKEN, 'openbao.token'),
    ('notes: "export VAULT_TOKEN=%s"' % TOKEN, 'notes'),  # secret-shaped anywhere, even an unknown field
    ('policy: {flex_auth_url: "https://ops:hunter2hunter2@pdp.example"}', 'policy.flex_auth_url'),
])
def test_secrets_are_refused_without_echoing_them(tmp_path, text, field):
    path, message, exc = error_of(tmp_path, text + '\n')
    assert field in exc.fields and path in message
    assert 'not shown' in message
    for value in (TOKEN, 'short-but-a-token', 'pdp-bearer-value', '6a1c-f00d-beef', 'correct horse', 'hunter2'):
        assert value not in message


def test_no_equivalent_warns_and_local_cli_is_quiet(tmp_path):
    config = load(tmp_path, """\
        backend: vault
        signatures_log: ~/.local/state/warden/signatures.log
        vault:
          addr: https://bao.example:8200
          token_file: ~/.vault-token
        color: false
        output: table
    """)
    assert len(config.warnings) == 2
    assert any('signatures_log' in w and str(tmp_path) in w for w in config.warnings)
    assert any('vault.token_file' in w and 'BAO_TOKEN' in w for w in config.warnings)
    assert sorted(config.ignored) == ['color', 'output']
    assert config.options == {'backend': 'openbao', 'openbao': {'url': 'https://bao.example:8200'}}


# --- precedence: task > warden_* play variable > file > environment > default -------------------------

@pytest.fixture
def templar():
    return Templar(loader=DataLoader())


@pytest.fixture
def config_file(tmp_path, monkeypatch):
    monkeypatch.delenv('WARDEN_CONFIG', raising=False)
    write(tmp_path, ACTORS_YAML, name='inventory.yaml')
    return write(tmp_path, """\
        backend: local
        audit_log: file-audit.jsonl
        local: {ca_key: file-ca}
        policy:
          tenant: tenant:file
          fail_closed: false
          subject: iam:from-file
        vault:
          mount: file-mount
          roles: {agt: file-agt-role}
    """)


def signing_args(**over):
    args = {'actors': None, 'inventory_file': None, 'policy': None, 'backend': None, 'openbao': None,
            'local_ca': None, 'audit_log': None, 'subject': None}
    args.update(over)
    return args


def test_the_file_fills_what_task_and_play_leave_unset(tmp_path, templar, config_file):
    args = apply_play_defaults(signing_args(), {'warden_config': config_file}, templar, signing=True)
    assert args['backend'] == 'local'
    assert args['audit_log'] == str(tmp_path / 'file-audit.jsonl')
    assert args['local_ca'] == {'key_path': str(tmp_path / 'file-ca')}
    assert args['openbao'] == {'mount': 'file-mount', 'role_map': {'agt': 'file-agt-role'}}
    assert args['policy'] == {'tenant': 'tenant:file', 'fail_closed': False}
    assert args['inventory_file'] == str(tmp_path / 'inventory.yaml')
    assert args['subject'] == 'iam:from-file'


def test_play_variables_win_over_the_file_sub_option_by_sub_option(tmp_path, templar, config_file):
    task_vars = {'warden_config': config_file, 'warden_policy': {'tenant': 'tenant:play'},
                 'warden_signing_backend': 'openbao', 'warden_openbao': {'url': 'http://127.0.0.1:1', 'mount': 'play'},
                 'warden_audit_log': '/play/audit.jsonl', 'warden_actors': {'adm-x': {'principals': ['x']}}}
    args = apply_play_defaults(signing_args(), task_vars, templar, signing=True)
    assert args['policy'] == {'tenant': 'tenant:play', 'fail_closed': False}
    assert args['backend'] == 'openbao'
    assert args['openbao'] == {'url': 'http://127.0.0.1:1', 'mount': 'play', 'role_map': {'agt': 'file-agt-role'}}
    assert args['audit_log'] == '/play/audit.jsonl'
    assert args['actors'] == {'adm-x': {'principals': ['x']}} and not args['inventory_file']
    assert play_audit_log(task_vars, templar) == '/play/audit.jsonl'
    assert play_audit_log({'warden_config': config_file}, templar) == str(tmp_path / 'file-audit.jsonl')


def test_task_options_win_over_play_and_file(tmp_path, templar, config_file):
    task = signing_args(policy={'tenant': 'tenant:task', 'mode': None}, backend='openbao',
                        inventory_file='/task/inv.yaml', subject='iam:task', audit_log='/task/audit.jsonl')
    task_vars = {'warden_config': config_file, 'warden_policy': {'tenant': 'tenant:play', 'mode': 'off'}}
    args = apply_play_defaults(task, task_vars, templar, signing=True)
    # the task's policy replaces the play's (as without a file); the file fills its unset sub-options
    assert args['policy'] == {'tenant': 'tenant:task', 'fail_closed': False}
    assert args['backend'] == 'openbao'
    assert args['inventory_file'] == '/task/inv.yaml' and args['actors'] is None
    assert args['subject'] == 'iam:task'
    assert args['audit_log'] == '/task/audit.jsonl'


def test_the_file_wins_over_environment_variables_which_win_over_defaults(tmp_path, templar, config_file):
    env = {'WARDEN_POLICY_TENANT': 'tenant:env', 'WARDEN_POLICY_FAIL_CLOSED': 'true', 'WARDEN_POLICY_TIMEOUT': '3',
           'WARDEN_POLICY_SUBJECT': 'iam:env'}
    args = apply_play_defaults(signing_args(), {'warden_config': config_file}, templar, signing=True)
    settings = GateSettings(args['policy'], env=env)
    assert (settings.tenant, settings.fail_closed) == ('tenant:file', False)  # file > env
    assert settings.timeout == 3.0  # env > default where the file says nothing
    assert settings.retries == 2  # default
    request = policy_request('agt-state-hub-bridge', actors=None, pubkey_fingerprint='SHA256:x', settings=settings,
                             subject=args['subject'], env=env)
    assert request['subject']['id'] == 'iam:from-file' and request['tenant'] == 'tenant:file'
    without = apply_play_defaults(signing_args(), {}, templar, signing=True)
    assert GateSettings(without['policy'], env=env).tenant == 'tenant:env'


def test_the_environment_variable_names_the_file_when_the_play_does_not(tmp_path, templar, config_file,
                                                                        monkeypatch):
    monkeypatch.setenv('WARDEN_CONFIG', config_file)
    args = apply_play_defaults(signing_args(), {}, templar, signing=True)
    assert args['backend'] == 'local'
    other = write(tmp_path, 'backend: vault\n', name='other/warden.yaml')
    assert apply_play_defaults(signing_args(), {'warden_config': other}, templar, signing=True)['backend'] == 'openbao'


def test_non_signing_plugins_take_only_gate_and_actors(tmp_path, templar, config_file):
    args = apply_play_defaults({'actors': None, 'inventory_file': None, 'policy': None, 'subject': None},
                               {'warden_config': config_file}, templar)
    assert set(args) == {'actors', 'inventory_file', 'policy', 'subject'}
    assert args['policy']['tenant'] == 'tenant:file' and args['subject'] == 'iam:from-file'


def test_a_bad_file_fails_the_task_with_field_and_file(tmp_path, templar):
    path = write(tmp_path, 'vault: {token: %s}\n' % TOKEN)
    with pytest.raises(AnsibleActionFail) as info:
        apply_play_defaults(signing_args(), {'warden_config': path}, templar, signing=True)
    assert 'vault.token' in str(info.value) and path in str(info.value) and TOKEN not in str(info.value)


def test_without_a_file_nothing_changes(templar, monkeypatch):
    monkeypatch.delenv('WARDEN_CONFIG', raising=False)
    args = apply_play_defaults(signing_args(), {'warden_policy': {'mode': 'off'}}, templar, signing=True)
    assert args['policy'] == {'mode': 'off'} and args['backend'] is None and args['subject'] is None


def test_layered_is_pure():
    assert layered('policy', {'tenant': None, 'mode': 'off'}, {'tenant': 't', 'mode': 'embedded'}) == \
        {'tenant': 't', 'mode': 'off'}
    assert layered('backend', None, 'local') == 'local'
    assert layered('backend', 'openbao', 'local') == 'openbao'
    assert layered('openbao', None, None) is None
