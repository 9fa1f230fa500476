"""docs/awx/ against the collection: the execution environment, the credential types, the job
templates and their surveys, and the awx.awx playbook that creates them.

awx.awx cannot be installed here (no Galaxy) and there is no AWX server, so:
- credential types are checked with AWX's own validation rules (tests/bed/awx_credentials.py),
  then injected as AWX would and read back by the collection's settings classes;
- configure_awx.yml runs for real with ansible-playbook against a stand-in awx.awx whose modules
  take exactly the options of the awx.awx modules (AWX_MODULES below, from the awx.awx module
  documentation) and report what they were given.
"""

import importlib.metadata as importlib_metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml
from jinja2 import Environment, meta
from jinja2.defaults import DEFAULT_NAMESPACE
from packaging.requirements import Requirement

from ansible_collections.netkingdom.warden.plugins.module_utils._routing import credentials as CA
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao import settings as OB
from ansible_collections.netkingdom.warden.plugins.module_utils._gate import settings as PO
from tests.bed import awx_credentials as AWX
from tests.bed.ansible_run import run_playbook
from tests.bed.collection_tarball import collection_tarball, collection_version, install_tarball

ROOT = Path(__file__).resolve().parents[3]
AWX_DIR = ROOT / 'docs' / 'awx'
BIN = os.path.dirname(sys.executable)
PLAYBOOKS = dict((p.stem, p) for p in (ROOT / 'playbooks').glob('*.yml'))

# Secret-looking variable names: a survey or an extra var must never carry one.
SECRET_WORDS = ('token', 'secret', 'password', 'passphrase', 'passwd', 'key', 'jwt', 'credential', 'private')


def load(path):
    return yaml.safe_load(Path(path).read_text())


def pins():
    """Exact pins of requirements-dev.txt: name (lower case) -> version."""
    out = {}
    for line in (ROOT / 'requirements-dev.txt').read_text().splitlines():
        m = re.match(r'^([A-Za-z0-9_.-]+)==(\S+)', line.strip())
        if m:
            out[m.group(1).lower()] = m.group(2)
    return out


def is_secret_name(name):
    words = re.split(r'[^a-z0-9]+', name.lower())
    return any(w in SECRET_WORDS or w.endswith('key') or w.endswith('keys') for w in words)


# --- the execution environment -----------------------------------------------------------------

@pytest.fixture(scope='module')
def tarball(tmp_path_factory):
    return collection_tarball(tmp_path_factory.mktemp('tarball'))


def builder_create(tmp_path, example, tarball):
    """`ansible-builder create` on a copy of docs/awx/<example> laid out as in the checkout (the
    tarball in build/), without any container runtime: it only writes the build context."""
    work = tmp_path / 'checkout'
    (work / 'docs' / 'awx').mkdir(parents=True)
    (work / 'build').mkdir()
    shutil.copy(AWX_DIR / example, work / 'docs' / 'awx' / example)
    shutil.copy(tarball, work / 'build' / tarball.name)
    proc = subprocess.run([os.path.join(BIN, 'ansible-builder'), 'create', '-f', 'docs/awx/%s' % example,
                           '-c', str(tmp_path / 'context'), '--output-filename', 'Containerfile'],
                          cwd=work, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return tmp_path / 'context'


def test_meta_execution_environment_names_existing_requirement_files():
    ee = load(ROOT / 'meta' / 'execution-environment.yml')
    assert ee['version'] == 1 and set(ee['dependencies']) == {'python', 'system'}
    python = (ROOT / ee['dependencies']['python']).read_text()
    system = (ROOT / ee['dependencies']['system']).read_text()
    names = [re.split(r'[<>=!~ ]', line)[0].lower() for line in python.splitlines()
             if line.strip() and not line.startswith('#')]
    # everything the plugins import that is not in the standard library or ansible-core
    assert {'hvac', 'requests', 'httpx', 'pyyaml', 'cryptography', 'bcrypt'} <= set(names)
    # the development venv (where every test runs) satisfies them
    for line in python.splitlines():
        if line.strip() and not line.startswith('#'):
            req = Requirement(line.split('#')[0])
            assert importlib_metadata.version(req.name) in req.specifier, line
    assert re.search(r'^openssh-client \[platform:dpkg\]$', system, re.M)
    assert re.search(r'^openssh-clients \[platform:rpm\]$', system, re.M)


def test_tarball_ships_the_ee_metadata(tarball):
    assert tarball.name == 'netkingdom-warden-%s.tar.gz' % collection_version()
    with tarfile.open(tarball) as tar:
        names = set(tar.getnames())
    for path in ('meta/execution-environment.yml', 'meta/ee-requirements.txt', 'meta/ee-bindep.txt',
                 'playbooks/cert_rollout.yml'):
        assert path in names or './' + path in names, path


def check_containerfile(context):
    text = (context / 'Containerfile').read_text()
    ee_pins = pins()
    # the pinned ansible-core and ansible-runner are installed into the image
    refs = re.search(r'^ARG ANSIBLE_INSTALL_REFS="([^"]*)"', text, re.M).group(1).split()
    assert 'ansible-core==%s' % ee_pins['ansible-core'] in refs
    assert 'ansible-runner==%s' % ee_pins['ansible-runner'] in refs
    # the galaxy stage installs the collections of _build/requirements.yml ...
    assert 'COPY _build /build' in text
    assert re.search(r'ansible-galaxy collection install .*-r requirements\.yml '
                     r'--collections-path "/usr/share/ansible/collections"', text)
    # ... and the builder stage reads their requirements (meta/execution-environment.yml) and
    # installs them into the final image
    assert re.search(r'introspect\.py introspect --write-bindep=/tmp/src/bindep\.txt '
                     r'--write-pip=/tmp/src/requirements\.txt', text)
    assert 'RUN /output/scripts/assemble' in text
    assert 'RUN /output/scripts/install-from-bindep' in text
    return load(context / '_build' / 'requirements.yml')


def test_ee_example_from_the_tarball_builds_a_context_that_installs_the_collection(tmp_path, tarball):
    context = builder_create(tmp_path, 'execution-environment.yml', tarball)
    requirements = check_containerfile(context)
    shipped = context / '_build' / 'collections' / tarball.name
    assert shipped.read_bytes() == tarball.read_bytes()
    assert requirements == {'collections': [{'name': '/build/collections/%s' % tarball.name, 'type': 'file'}]}

    # The builder stage's introspection, run here with the context's own script on the
    # collection as the galaxy stage installs it: the collection's requirements reach the image.
    installed = tmp_path / 'usr-share-ansible-collections'
    install_tarball(shipped, installed)
    proc = subprocess.run([sys.executable, str(context / '_build' / 'scripts' / 'introspect.py'), 'introspect',
                           str(installed), '--write-pip', str(tmp_path / 'src' / 'requirements.txt'),
                           '--write-bindep', str(tmp_path / 'src' / 'bindep.txt')],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    pip = (tmp_path / 'src' / 'requirements.txt').read_text().splitlines()
    bindep = (tmp_path / 'src' / 'bindep.txt').read_text().splitlines()
    wanted = [line for line in (ROOT / 'meta' / 'ee-requirements.txt').read_text().splitlines()
              if line.strip() and not line.startswith('#')]
    for line in wanted:
        if line.lower().startswith('pyyaml'):
            continue  # ansible-builder leaves PyYAML to ansible-core
        assert '%s  # from collection netkingdom.warden' % line in pip, (line, pip)
    assert 'openssh-clients [platform:rpm]  # from collection netkingdom.warden' in bindep


def test_ee_example_from_galaxy_builds_a_context_that_installs_the_collection(tmp_path, tarball):
    context = builder_create(tmp_path, 'execution-environment-galaxy.yml', tarball)
    requirements = check_containerfile(context)
    assert requirements == {'collections': [{'name': 'netkingdom.warden', 'version': '==%s' % collection_version()}]}


# --- credential types --------------------------------------------------------------------------

CREDENTIAL_TYPES = {
    'openbao': (AWX_DIR / 'credential_types' / 'openbao.yml', OB.OPENBAO.options, OB.OPENBAO.secrets),
    'flex_auth': (AWX_DIR / 'credential_types' / 'flex_auth.yml', PO.POLICY.options, PO.POLICY.secrets),
}


# Variables a credential may inject that are no option: the controller's own switches
CONTROLLER_ENV = {'flex_auth': {PO.UNGATED_ENV: 'allow_ungated'}}


def env_to_option(options):
    return dict((env, name) for name, option in options.items() for env in option.env)


@pytest.mark.parametrize('which', sorted(CREDENTIAL_TYPES))
def test_credential_type_is_valid_for_awx(which):
    ctype = load(CREDENTIAL_TYPES[which][0])
    assert AWX.validation_problems(ctype) == []
    assert ctype['kind'] == 'cloud'
    assert 'extra_vars' not in ctype['injectors'], 'credentials are injected as env vars, never extra vars'


@pytest.mark.parametrize('which', sorted(CREDENTIAL_TYPES))
def test_credential_type_injects_only_variables_the_collection_reads(which, tmp_path):
    path, options, secret_options = CREDENTIAL_TYPES[which]
    ctype = load(path)
    readers = env_to_option(options)
    readers.update(CONTROLLER_ENV.get(which, {}))
    ids = [f['id'] for f in AWX.fields(ctype)]
    for field in AWX.fields(ctype):  # every secret-looking input is a secret field
        if is_secret_name(field['id']):
            assert field.get('secret') is True, field['id']
    # An empty input is left out of the template namespace: an id that is also a Jinja global
    # (namespace, range, dict, ...) would then inject that global's repr.
    assert not set(ids) & set(DEFAULT_NAMESPACE), sorted(set(ids) & set(DEFAULT_NAMESPACE))
    for name in ctype['injectors']['env']:
        assert name in readers, '%s is not read by the collection (%s)' % (name, sorted(readers))
    # Inject every input with a recognisable value: each reaches the job (as an env var or a
    # file), and a secret value appears only in a variable of a secret option, or in a file.
    values = dict((f['id'], 'VALUE-%s' % f['id']) for f in AWX.fields(ctype)
                  if 'choices' not in f and f.get('type', 'string') == 'string')
    env = AWX.inject(ctype, values, tmp_path)
    files = dict((p.name, p.read_text()) for p in (tmp_path / 'env').iterdir())
    for fid, value in values.items():
        in_env = [name for name, text in env.items() if value in text]
        in_files = [name for name, text in files.items() if value in text]
        assert in_env or in_files, '%s is never injected' % fid
        if fid in AWX.secret_fields(ctype):
            assert all(readers[name] in secret_options for name in in_env), (fid, in_env)
    for name, text in env.items():  # file injectors are named by path
        if text in [str(tmp_path / 'env' / f) for f in files]:
            assert options[readers[name]].kind == 'path', name


def test_openbao_credential_reaches_the_collection_settings(tmp_path):
    ctype = load(CREDENTIAL_TYPES['openbao'][0])
    assert set(ctype['injectors']['env']) >= {'BAO_ADDR', 'WARDEN_OPENBAO_TOKEN', 'BAO_ROLE_ID', 'BAO_SECRET_ID',
                                              'WARDEN_OPENBAO_AUTH_METHOD', 'BAO_NAMESPACE', 'BAO_CACERT'}
    pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'
    env = AWX.inject(ctype, {'url': 'https://bao.example.org:8200', 'role_id': 'r-1', 'secret_id': 's-1',
                             'bao_namespace': 'team', 'ca_cert': pem}, tmp_path)
    settings = OB.OpenBaoSettings(env=env)
    assert (settings.url, settings.auth_method, settings.role_id, settings.secret_id, settings.namespace) == \
        ('https://bao.example.org:8200', 'approle', 'r-1', 's-1', 'team')  # approle is the field default
    assert settings.token is None and Path(settings.ca_cert).read_text() == pem
    assert Path(settings.ca_cert).parent == tmp_path / 'env' and (Path(settings.ca_cert).stat().st_mode & 0o777) == 0o600
    assert settings.sources['secret_id'] == 'BAO_SECRET_ID'

    env = AWX.inject(ctype, {'url': 'http://127.0.0.1:8200', 'auth_method': 'token', 'token': 't-1'}, tmp_path / 't')
    settings = OB.OpenBaoSettings(env=env)
    assert (settings.auth_method, settings.token, settings.role_id, settings.ca_cert, settings.namespace) == \
        ('token', 't-1', None, None, None)  # empty fields inject empty variables: unset
    assert env['BAO_CACERT'] == '' and env['BAO_SECRET_ID'] == ''


def test_the_signing_token_has_its_own_variable_never_the_callers(tmp_path):
    """Finding 14.10: the signing token reaches the signer as WARDEN_OPENBAO_TOKEN; the credential lookup's
    "caller's own token" variables (BAO_TOKEN, VAULT_TOKEN) are never set by the credential type, and a caller
    token that is the signer's is recognised (tests/integration/credentials/test_credential_fetch.py: refused for real)."""
    ctype = load(CREDENTIAL_TYPES['openbao'][0])
    injected = set(ctype['injectors']['env'])
    assert not injected & set(CA.TOKEN_ENV), 'the signing token must not look like the caller\'s own token'
    env = AWX.inject(ctype, {'url': 'https://bao.example.org:8200', 'auth_method': 'token', 'token': 'sign-tok'},
                     tmp_path)
    assert env['WARDEN_OPENBAO_TOKEN'] == 'sign-tok' and 'BAO_TOKEN' not in env and 'VAULT_TOKEN' not in env
    settings = OB.OpenBaoSettings(env=env)
    assert (settings.token, settings.sources['token']) == ('sign-tok', 'WARDEN_OPENBAO_TOKEN')
    (tmp_path / 'home').mkdir()
    assert CA.caller_token(dict(env, HOME=str(tmp_path / 'home'))) == (None, None)  # no caller token: refused
    # a second credential that injects the same token as BAO_TOKEN is the signer's token in disguise
    caller = dict(env, BAO_TOKEN='sign-tok')
    assert [name for name, value in CA.signer_token_sources(env=caller) if CA.same_token('sign-tok', value)] == \
        ['WARDEN_OPENBAO_TOKEN']
    # the old injection (BAO_TOKEN with WARDEN_OPENBAO_AUTH_METHOD=token): that BAO_TOKEN is the signer's
    old = {'BAO_TOKEN': 'sign-tok', 'WARDEN_OPENBAO_AUTH_METHOD': 'token'}
    assert [value for dummy, value in CA.signer_token_sources(env=old)] == ['sign-tok']
    assert CA.signer_token_sources(env={'BAO_TOKEN': 'mine'}) == []  # a workstation: the caller's own
    assert CA.signer_token_sources({'token_env': 'VAULT_TOKEN'}, env={'VAULT_TOKEN': 'mine'}) == []
    assert CA.signer_token_sources({'token_env': 'OPS_SIGNER'}, env={'OPS_SIGNER': 's'}) == [('OPS_SIGNER', 's')]
    assert not CA.same_token('sign-tok', 'sign-tok ') and CA.same_token('a' * 40, 'a' * 40)
    # the signer still signs with its own variable when the caller's is set too
    assert OB.OpenBaoSettings(env=dict(env, BAO_TOKEN='caller-tok')).token == 'sign-tok'


def test_flex_auth_credential_reaches_the_gate_settings(tmp_path):
    ctype = load(CREDENTIAL_TYPES['flex_auth'][0])
    assert set(ctype['injectors']['env']) >= {'WARDEN_POLICY_URL', 'WARDEN_POLICY_TOKEN', 'WARDEN_POLICY_CLIENT_CERT',
                                              'WARDEN_POLICY_CLIENT_KEY', 'WARDEN_POLICY_CA_CERT', 'WARDEN_POLICY_MODE'}
    env = AWX.inject(ctype, {'url': 'https://pdp.example.org:8443', 'token': 'tok', 'client_cert': 'CERT\n',
                             'client_key': 'KEY\n', 'ca_cert': 'CA\n'}, tmp_path)
    gate = PO.GateSettings(env=env)
    assert (gate.mode, gate.url, gate.token) == ('flex_auth', 'https://pdp.example.org:8443', 'tok')
    assert [Path(p).read_text() for p in (gate.client_cert, gate.client_key, gate.ca_cert)] == ['CERT\n', 'KEY\n', 'CA\n']
    assert all((Path(p).stat().st_mode & 0o777) == 0o600 for p in (gate.client_cert, gate.client_key, gate.ca_cert))
    assert gate.allow_ungated is False and env['WARDEN_ALLOW_UNGATED'] == ''  # the default: no consent
    gate = PO.GateSettings(env=AWX.inject(ctype, {'url': 'http://127.0.0.1:9000'}, tmp_path / 'plain'))
    assert (gate.token, gate.client_cert, gate.client_key, gate.ca_cert) == (None, None, None, None)


def test_flex_auth_credential_can_allow_failing_open(tmp_path):
    """The AWX admin's consent (finding 14.4): the boolean input injects WARDEN_ALLOW_UNGATED=1, and only
    then does fail_closed false from the inventory take effect."""
    ctype = load(CREDENTIAL_TYPES['flex_auth'][0])
    policy = {'fail_closed': False}
    refused = PO.GateSettings(policy, env=AWX.inject(ctype, {'url': 'https://pdp.example.org'}, tmp_path / 'no'))
    assert [field for field, dummy in refused.ungated_problems()] == ['policy.fail_closed']
    env = AWX.inject(ctype, {'url': 'https://pdp.example.org', 'allow_ungated': True}, tmp_path / 'yes')
    assert env['WARDEN_ALLOW_UNGATED'] == '1'
    allowed = PO.GateSettings(policy, env=env)
    assert allowed.allow_ungated and allowed.ungated_problems() == []


def test_the_awx_rules_catch_broken_credential_types():
    """The validator itself: it refuses what AWX refuses."""
    good = load(CREDENTIAL_TYPES['openbao'][0])
    broken = json.loads(json.dumps(good))
    broken['injectors']['env']['BAO_ADDR'] = '{{ address }}'  # not an input
    broken['injectors']['env']['ANSIBLE_CONFIG'] = '/tmp/x'
    broken['inputs']['fields'].append(dict(broken['inputs']['fields'][0]))  # duplicate id
    problems = AWX.validation_problems(broken)
    assert any('address' in p for p in problems)
    assert any('ANSIBLE_CONFIG' in p for p in problems)
    assert any('unique' in p for p in problems)


# --- job templates and surveys -----------------------------------------------------------------

TEMPLATES = load(AWX_DIR / 'job_templates.yml')
SURVEY_TYPES = {'text': str, 'textarea': str, 'password': str, 'multiplechoice': str, 'multiselect': str,
                'integer': int, 'float': (float, int)}
CONDITIONAL_KEYS = ('when', 'failed_when', 'changed_when', 'until', 'that')


class _Any(dict):
    """Every filter and test name is known: Ansible's are not loaded here, only parsed."""

    def __contains__(self, name):
        return True

    def get(self, name, default=None):
        return dict.get(self, name) or _unknown


def _unknown(*args, **kwargs):
    return None


ANSIBLE_JINJA = Environment()
ANSIBLE_JINJA.filters = _Any(ANSIBLE_JINJA.filters)
ANSIBLE_JINJA.tests = _Any(ANSIBLE_JINJA.tests)


def jinja_names(node, key=None):
    """Variable names the Jinja in a YAML structure reads."""
    names = set()
    if isinstance(node, dict):
        for k, v in node.items():
            names |= jinja_names(v, k)
    elif isinstance(node, list):
        for v in node:
            names |= jinja_names(v, key)
    elif isinstance(node, str):
        text = node if ('{{' in node or '{%' in node or key not in CONDITIONAL_KEYS) else '{{ %s }}' % node
        if '{{' in text or '{%' in text:
            names |= meta.find_undeclared_variables(ANSIBLE_JINJA.parse(text))
    return names


def roles_used(node):
    found = set()
    if isinstance(node, dict):
        for k, v in node.items():
            if k == 'roles' and isinstance(v, list):
                found |= set((r['role'] if isinstance(r, dict) else r) for r in v)
            elif k in ('ansible.builtin.include_role', 'ansible.builtin.import_role', 'include_role', 'import_role'):
                found.add(v['name'])
            else:
                found |= roles_used(v)
    elif isinstance(node, list):
        for v in node:
            found |= roles_used(v)
    return found


def variables_read(playbook):
    """What a collection playbook really reads: its own Jinja, and for each of its roles the
    argument spec options and the variables the role's defaults and tasks read."""
    data = load(PLAYBOOKS[playbook])
    names = jinja_names(data)
    for role in roles_used(data):
        assert role.startswith('netkingdom.warden.'), role
        rdir = ROOT / 'roles' / role.split('.')[-1]
        for entry in load(rdir / 'meta' / 'argument_specs.yml')['argument_specs'].values():
            names |= set(entry.get('options', {}))
        for path in [rdir / 'defaults' / 'main.yml'] + sorted((rdir / 'tasks').glob('*.yml')):
            names |= jinja_names(load(path))
    return names


def survey_problems(survey):
    """AWX's survey spec checks (awx/api/views JobTemplateSurveySpec._validate_spec_data)."""
    problems = []
    for field, kind in (('name', str), ('description', str), ('spec', list)):
        if not isinstance(survey.get(field), kind):
            problems.append('survey %s must be a %s' % (field, kind.__name__))
    seen = set()
    for idx, item in enumerate(survey.get('spec') or []):
        for field in ('type', 'question_name', 'variable', 'required'):
            if field not in item or not isinstance(item[field], bool if field == 'required' else str):
                problems.append('question %d: %s missing or of the wrong type' % (idx, field))
        if item.get('variable') in seen:
            problems.append('question %d: variable %s duplicated' % (idx, item.get('variable')))
        seen.add(item.get('variable'))
        qtype = item.get('type')
        if qtype not in SURVEY_TYPES:
            problems.append('question %d: type %r' % (idx, qtype))
            continue
        if 'default' in item and item['default'] != '' and not isinstance(item['default'], SURVEY_TYPES[qtype]):
            problems.append('question %d: default %r is not a %s' % (idx, item['default'], qtype))
        for key in ('min', 'max'):
            if key in item and item[key] is not None and not isinstance(item[key], int):
                problems.append('question %d: %s must be an integer' % (idx, key))
        if qtype in ('multiplechoice', 'multiselect'):
            if 'choices' not in item:
                problems.append('question %d: %s needs choices' % (idx, qtype))
                continue
            choices = item['choices'].splitlines() if isinstance(item['choices'], str) else item['choices']
            defaults = item.get('default', '')
            defaults = [d for d in defaults.splitlines() if d.strip()] if isinstance(defaults, str) else defaults
            if qtype == 'multiplechoice' and len(defaults) > 1:
                problems.append('question %d: one default only' % idx)
            if any(d not in choices for d in defaults):
                problems.append('question %d: default not among the choices' % idx)
    return problems


def test_every_job_template_runs_a_collection_playbook_through_a_project_wrapper():
    names = [t['playbook'] for t in TEMPLATES['warden_awx_job_templates']]
    wanted = ['cert_rollout', 'rotate_principals', 'drift_check', 'deploy_registry', 'preflight']
    assert sorted(n[:-4] for n in names) == sorted(wanted)
    for template in TEMPLATES['warden_awx_job_templates']:
        wrapper = load(AWX_DIR / 'project' / template['playbook'])
        assert len(wrapper) == 1 and set(wrapper[0]) == {'name', 'ansible.builtin.import_playbook'}
        target = wrapper[0]['ansible.builtin.import_playbook']
        assert target == 'netkingdom.warden.' + template['playbook'][:-4]
        assert target.split('.')[-1] in PLAYBOOKS, '%s: no playbooks/%s.yml' % (template['name'], target)


@pytest.mark.parametrize('template', TEMPLATES['warden_awx_job_templates'], ids=lambda t: t['playbook'][:-4])
def test_survey_is_valid_and_asks_only_for_variables_the_playbook_reads(template):
    assert template['survey_enabled'] is True
    assert survey_problems(template['survey_spec']) == []
    read = variables_read(template['playbook'][:-4])
    for item in template['survey_spec']['spec']:
        assert item['variable'] in read, '%s: the playbook never reads %s' % (template['name'], item['variable'])


def test_the_variable_check_tells_read_from_unread():
    read = variables_read('cert_rollout')
    # the play's own, a role option, an inventory-level variable the role's defaults read
    assert {'warden_rollout_hosts', 'host_principals_phase', 'warden_verify_login'} <= read
    assert 'warden_rollout_host' not in read and 'flex_auth_registry_smoke' not in read
    assert 'flex_auth_registry_smoke' in variables_read('deploy_registry')


@pytest.mark.parametrize('template', TEMPLATES['warden_awx_job_templates'], ids=lambda t: t['playbook'][:-4])
def test_no_secret_in_a_survey_or_in_extra_vars(template):
    for item in template['survey_spec']['spec']:
        assert item['type'] != 'password', item['variable']
        assert not is_secret_name(item['variable']), item['variable']
        assert not is_secret_name(item['question_name']), item['question_name']
    for name in template.get('extra_vars', {}):
        assert not is_secret_name(name), name
    assert not template.get('ask_variables_on_launch'), 'free-form extra vars invite secrets'


def test_registry_deploys_and_preflight_are_never_sliced():
    by_name = dict((t['playbook'][:-4], t) for t in TEMPLATES['warden_awx_job_templates'])
    for name in ('deploy_registry', 'preflight'):
        assert by_name[name]['job_slice_count'] == 1 and not by_name[name].get('ask_job_slice_count_on_launch')
    # deploy_registry builds once and deploys one host at a time, on its own group
    data = load(PLAYBOOKS['deploy_registry'])
    assert all('flex_auth' in play['hosts'] for play in data)


def test_skip_choices_are_preflight_checks():
    source = ''.join(p.read_text() for p in sorted((ROOT / 'plugins' / 'module_utils' / '_preflight').glob('*.py')))
    preflight = [t for t in TEMPLATES['warden_awx_job_templates'] if t['playbook'] == 'preflight.yml'][0]
    skip = [q for q in preflight['survey_spec']['spec'] if q['variable'] == 'warden_preflight_skip'][0]
    for name in skip['choices']:
        assert "'%s'" % name in source, name


def test_credentials_exist_and_placeholders_hold_no_secret():
    types = dict((load(p)['name'], load(p)) for p, dummy, dummy2 in CREDENTIAL_TYPES.values())
    creds = dict((c['name'], c) for c in TEMPLATES['warden_awx_credentials'])
    for cred in creds.values():
        if cred['credential_type'] == 'Machine':
            assert set(cred['inputs']) <= {'username'}  # the key and passwords are added in the UI
            continue
        ctype = types[cred['credential_type']]
        assert not set(cred['inputs']) & AWX.secret_fields(ctype), cred['name']
        assert set(cred['inputs']) <= set(f['id'] for f in AWX.fields(ctype))
        for name in ctype['inputs'].get('required', []):
            assert name in cred['inputs'] or 'default' in [f for f in AWX.fields(ctype) if f['id'] == name][0]
    for template in TEMPLATES['warden_awx_job_templates']:
        assert set(template['credentials']) <= set(creds), template['name']
        assert 'warden fleet SSH' in template['credentials']


# --- configure_awx.yml against the awx.awx module options ---------------------------------------

S, B, I, D, L, F, R = 'str', 'bool', 'int', 'dict', 'list', 'float', 'raw'
STATE = (S, ['present', 'absent', 'exists'])
# awx.awx module options (awx_collection/plugins/modules/*.py, docs of awx.awx 24): name -> type
# or (type, choices). The auth options every module has (doc fragment awx.awx.auth) are added below.
AWX_MODULES = {
    'credential_type': {'name': S, 'new_name': S, 'description': S,
                        'kind': (S, ['ssh', 'vault', 'net', 'scm', 'cloud', 'insights']),
                        'inputs': D, 'injectors': D, 'state': STATE},
    'credential': {'name': S, 'new_name': S, 'copy_from': S, 'description': S, 'organization': S,
                   'credential_type': S, 'inputs': D, 'update_secrets': B, 'user': S, 'team': S, 'state': STATE},
    'execution_environment': {'name': S, 'new_name': S, 'image': S, 'description': S, 'organization': S,
                              'credential': S, 'state': STATE, 'pull': (S, ['always', 'missing', 'never'])},
    'project': {'name': S, 'new_name': S, 'copy_from': S, 'description': S,
                'scm_type': (S, ['manual', 'git', 'svn', 'insights', 'archive']), 'scm_url': S, 'local_path': S,
                'scm_branch': S, 'scm_refspec': S, 'credential': S, 'scm_clean': B, 'scm_delete_on_update': B,
                'scm_track_submodules': B, 'scm_update_on_launch': B, 'scm_update_cache_timeout': I,
                'allow_override': B, 'timeout': I, 'default_environment': S, 'custom_virtualenv': S,
                'organization': S, 'notification_templates_started': L, 'notification_templates_success': L,
                'notification_templates_error': L, 'state': STATE, 'wait': B, 'update_project': B,
                'interval': F, 'signature_validation_credential': S},
    'inventory': {'name': S, 'new_name': S, 'copy_from': S, 'description': S, 'organization': S, 'variables': D,
                  'kind': (S, ['', 'smart', 'constructed']), 'host_filter': S, 'instance_groups': L,
                  'prevent_instance_group_fallback': B, 'state': STATE, 'input_inventories': L},
    'job_template': dict(
        [(k, S) for k in ('name', 'new_name', 'copy_from', 'description', 'organization', 'inventory', 'project',
                          'playbook', 'credential', 'vault_credential', 'execution_environment', 'custom_virtualenv',
                          'limit', 'job_tags', 'skip_tags', 'start_at_task', 'host_config_key', 'scm_branch',
                          'webhook_credential')]
        + [(k, B) for k in ('force_handlers', 'use_fact_cache', 'ask_diff_mode_on_launch', 'ask_variables_on_launch',
                            'ask_limit_on_launch', 'ask_tags_on_launch', 'ask_skip_tags_on_launch',
                            'ask_job_type_on_launch', 'ask_verbosity_on_launch', 'ask_inventory_on_launch',
                            'ask_credential_on_launch', 'ask_execution_environment_on_launch', 'ask_forks_on_launch',
                            'ask_instance_groups_on_launch', 'ask_job_slice_count_on_launch', 'ask_labels_on_launch',
                            'ask_timeout_on_launch', 'survey_enabled', 'become_enabled', 'diff_mode',
                            'allow_simultaneous', 'ask_scm_branch_on_launch', 'prevent_instance_group_fallback')]
        + [(k, L) for k in ('credentials', 'instance_groups', 'labels', 'notification_templates_started',
                            'notification_templates_success', 'notification_templates_error')]
        + [('forks', I), ('timeout', I), ('job_slice_count', I), ('extra_vars', D), ('survey_spec', D),
           ('job_type', (S, ['run', 'check'])), ('verbosity', (I, [0, 1, 2, 3, 4, 5])),
           ('webhook_service', (S, ['github', 'gitlab', ''])), ('state', STATE)]),
}
AUTH_OPTIONS = {'controller_host': S, 'controller_username': S, 'controller_password': S,
                'controller_oauthtoken': R, 'validate_certs': B, 'request_timeout': F, 'controller_config_file': 'path'}
REQUIRED = {'credential': {'name', 'credential_type'}, 'inventory': {'name', 'organization'}}
NO_LOG = {'credential': {'inputs'}}


def module_spec(module):
    spec = {}
    for name, kind in dict(AWX_MODULES[module], **AUTH_OPTIONS).items():
        kind, choices = kind if isinstance(kind, tuple) else (kind, None)
        spec[name] = {'type': kind}
        if choices is not None:
            spec[name]['choices'] = choices
        if name in REQUIRED.get(module, {'name'}):
            spec[name]['required'] = True
        if name in NO_LOG.get(module, ()) or name == 'controller_password':
            spec[name]['no_log'] = True
        if kind == L:
            spec[name]['elements'] = 'str'
    return spec


CONFIGURE = load(AWX_DIR / 'configure_awx.yml')


def test_configure_playbook_uses_only_documented_awx_options():
    tasks = [t for play in CONFIGURE for t in play['tasks']]
    used = set()
    for task in tasks:
        module = [k for k in task if k.startswith('awx.awx.')]
        assert len(module) == 1, task['name']
        name = module[0].split('.')[-1]
        used.add(name)
        spec = module_spec(name)
        args = task[module[0]]
        assert set(args) <= set(spec), (task['name'], sorted(set(args) - set(spec)))
        for option, value in args.items():
            choices = spec[option].get('choices')
            if choices and isinstance(value, str) and '{{' not in value:
                assert value in choices, (task['name'], option, value)
        for option, props in spec.items():
            if props.get('required'):
                assert option in args, (task['name'], option)
    assert used == {'credential_type', 'credential', 'execution_environment', 'project', 'inventory', 'job_template'}
    # the data each task loops over uses only that module's options too
    for template in TEMPLATES['warden_awx_job_templates']:
        assert set(template) <= set(AWX_MODULES['job_template']), sorted(set(template) - set(AWX_MODULES['job_template']))
    for key, module in (('warden_awx_execution_environment', 'execution_environment'),
                        ('warden_awx_project', 'project'), ('warden_awx_inventory', 'inventory')):
        assert set(TEMPLATES[key]) <= set(AWX_MODULES[module]), key
    for cred in TEMPLATES['warden_awx_credentials']:
        assert set(cred) <= set(AWX_MODULES['credential'])
    assert CONFIGURE[0]['module_defaults'] == {'group/awx.awx.controller': {'request_timeout': 30}}


STANDIN_MODULE = '''#!/usr/bin/python
# Stand-in for awx.awx.%(name)s in tests: the same options; reports what it was given.
from ansible.module_utils.basic import AnsibleModule
import json
SPEC = json.loads(%(spec)r)


def main():
    module = AnsibleModule(argument_spec=SPEC, supports_check_mode=True)
    module.exit_json(changed=False, received=module.params)


if __name__ == '__main__':
    main()
'''


def test_configure_playbook_runs_against_the_awx_module_options(tmp_path):
    """ansible-playbook docs/awx/configure_awx.yml against modules with awx.awx's argument specs:
    every argument is accepted, and the injector and survey templates reach AWX unrendered."""
    root = tmp_path / 'standin' / 'ansible_collections' / 'awx' / 'awx'
    (root / 'plugins' / 'modules').mkdir(parents=True)
    (root / 'meta').mkdir()
    (root / 'meta' / 'runtime.yml').write_text(yaml.safe_dump({'requires_ansible': '>=2.15.0',
                                                               'action_groups': {'controller': sorted(AWX_MODULES)}}))
    (root / 'galaxy.yml').write_text('namespace: awx\nname: awx\nversion: 24.6.1\n')
    for name in AWX_MODULES:
        (root / 'plugins' / 'modules' / ('%s.py' % name)).write_text(
            STANDIN_MODULE % {'name': name, 'spec': json.dumps(module_spec(name))})
    from tests.bed.collection_path import collections_dir
    run = run_playbook(AWX_DIR / 'configure_awx.yml', workdir=tmp_path,
                       extra_vars={'ansible_python_interpreter': sys.executable, 'warden_awx_organization': 'Platform'},
                       env={'ANSIBLE_COLLECTIONS_PATH': '%s:%s' % (tmp_path / 'standin', collections_dir())})
    assert run.rc == 0, run.output[-3000:]

    def received(task):
        return [r['received'] for r in run.task_results(task)]

    types = received('Create the custom credential types (OpenBao, flex-auth) with inputs and env injectors')
    for got, path in zip(types, (CREDENTIAL_TYPES['openbao'][0], CREDENTIAL_TYPES['flex_auth'][0])):
        want = load(path)
        assert dict((k, got[k]) for k in want) == want, path.name
        assert got['state'] == 'present'
    assert len(types) == 2
    assert types[0]['injectors']['env']['BAO_SECRET_ID'] == '{{ secret_id }}'  # left for AWX to render
    jts = received('Create the job templates with their surveys (no secret in a survey or in extra vars)')
    assert [j['survey_spec'] for j in jts] == [t['survey_spec'] for t in TEMPLATES['warden_awx_job_templates']]
    assert all(j['organization'] == 'Platform' and j['execution_environment'] == 'netkingdom.warden EE'
               and j['ask_variables_on_launch'] is False and j['extra_vars'] is None for j in jts)
    creds = received('Create the credential placeholders (non-secret inputs only; secrets are added in the UI)')
    assert all(c['update_secrets'] is False for c in creds)
    assert received('Create the project holding the wrapper playbooks')[0]['default_environment'] == 'netkingdom.warden EE'
