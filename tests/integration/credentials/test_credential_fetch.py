"""Credential routing and fetch as the caller against a real OpenBao (KV v2) and the test PDP.

Proves: a fetched value equals what was stored; its audit record holds no value; the output of
an -vvvv run holds it only where the playbook printed it; a gate deny, a PDP outage, a missing
caller token or a login lane fetch nothing (OpenBao's own audit device shows no read); the
collection's configured OpenBao token is never used; routes for the example catalog, with a
tie and a no-match, from the module and the lookup.
"""

import hashlib
import json
import os
import secrets
import shutil
import sys
from pathlib import Path

import pytest
import yaml

_ROOT = Path(__file__).resolve().parents[3]
if str(_ROOT) not in sys.path:
    sys.path.append(str(_ROOT))

from tests.bed import awx_credentials as AWX  # noqa: E402
from tests.bed.ansible_run import run_playbook  # noqa: E402
from tests.bed.collection_path import ensure_on_path  # noqa: E402
from tests.bed.openbao import OpenBaoDev, free_port  # noqa: E402
from tests.bed.pdp import PdpProcess  # noqa: E402

ensure_on_path()

from ansible_collections.netkingdom.warden.plugins.module_utils._registry import snapshot as registry  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._registry import build as registry_build  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._routing import catalog as routing  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._routing.credentials import (  # noqa: E402
    CredentialFetcher,
    CredentialRefused,
)
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.session import reset_sessions  # noqa: E402

HERE = Path(__file__).resolve().parents[1]
EXAMPLE = _ROOT / 'docs' / 'examples' / 'routing' / 'catalog.yaml'
SECRET_PATH = 'secret/data/coulomb_social/npm'
READER = 'iam:release-bot@netkingdom.example'
ACCESS = {'npm-publish-token': [READER]}
NPM = {'domain': 'coulomb_social', 'field': 'NPM_AUTH_TOKEN', 'path': 'npm'}


class Bed(object):
    """This module's own OpenBao (KV v2 at secret/, a read policy, caller tokens) and PDP."""

    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.bao = OpenBaoDev(self.workdir / 'bao').start()
        try:
            self._setup()
        except BaseException:
            self.stop()
            raise

    def _setup(self):
        mounts = self.bao.request('GET', 'sys/mounts')['data']
        if 'secret/' not in mounts:
            self.bao.request('POST', 'sys/mounts/secret', {'type': 'kv', 'options': {'version': '2'}})
        self.bao.request('POST', 'sys/mounts/kv1', {'type': 'kv', 'options': {'version': '1'}})
        # Generated now, never committed: the value the fetch must return. The Jinja in it proves
        # the lookup's result is never templated.
        self.value = 'npm_%s{{ 6 * 7 }}' % secrets.token_urlsafe(27)
        self.other = secrets.token_urlsafe(30)
        self.bao.request('POST', SECRET_PATH, {'data': {'NPM_AUTH_TOKEN': self.value, 'OTHER_FIELD': self.other}})
        self.bao.write_policy('npm-read', 'path "secret/data/coulomb_social/*" { capabilities = ["read"] }\n')
        self.caller_token = self.bao.create_token(['npm-read'], no_default_policy=True)
        self.nobody_token = self.bao.create_token(['default'])
        self.bao_audit = self.bao.enable_audit_file(self.workdir / 'bao-audit.log')
        self.catalog_path = self.workdir / 'catalog.yaml'
        shutil.copy(EXAMPLE, self.catalog_path)
        catalog = routing.load_catalog_file(str(self.catalog_path))
        snapshot = registry_build.build_snapshot({}, credential_lanes=routing.credential_lanes(catalog, ACCESS))
        self.snapshot_path = self.workdir / 'registry.json'
        self.snapshot_path.write_text(registry.to_text(snapshot))
        self.pdp = PdpProcess(self.snapshot_path, self.workdir / 'pdp').start()
        self.dead_pdp_url = 'http://127.0.0.1:%d' % free_port()  # nothing listens there
        self.audit = self.workdir / 'warden-audit.jsonl'
        self.home = self.workdir / 'home'
        self.home.mkdir()

    def stop(self):
        pdp = getattr(self, 'pdp', None)
        if pdp is not None:
            pdp.stop()
        self.bao.stop()

    def reads(self, path=SECRET_PATH):
        """Read requests OpenBao's own audit device saw for ``path``."""
        if not self.bao_audit.exists():
            return 0
        count = 0
        for line in self.bao_audit.read_text().splitlines():
            entry = json.loads(line)
            request = entry.get('request') or {}
            if entry.get('type') == 'request' and request.get('path') == path and request.get('operation') == 'read':
                count += 1
        return count

    def audit_records(self):
        if not self.audit.exists():
            return []
        return [json.loads(line) for line in self.audit.read_text().splitlines()]

    def env(self, **extra):
        env = {'BAO_ADDR': self.bao.url, 'BAO_TOKEN': self.caller_token, 'HOME': str(self.home),
               'WARDEN_AUDIT_LOG': str(self.audit), 'WARDEN_ROUTING_CATALOG': str(self.catalog_path),
               'WARDEN_POLICY_SUBJECT': READER}
        env.update(extra)
        return dict((k, v) for k, v in env.items() if v is not None)

    def fetcher(self, env=None, **params):
        base = {'catalog': routing.load_catalog_file(str(self.catalog_path)), 'values': dict(NPM),
                'access': ACCESS, 'audit_log': str(self.audit), 'host': 'pytest'}
        base.update(params)
        return CredentialFetcher(base, env=self.env() if env is None else env)


@pytest.fixture(scope='module')
def bed(isolated, tmp_path_factory):
    bed = Bed(tmp_path_factory.mktemp('credential'))
    yield bed
    bed.stop()


@pytest.fixture(autouse=True)
def fresh_sessions():
    reset_sessions()  # each test logs in with the token it means to use
    yield
    reset_sessions()


def ansible_env(bed, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(('BAO_', 'VAULT_', 'WARDEN_'))}
    env.update(bed.env(**extra))
    return env


def base_env_without_bao():
    return {k: v for k, v in os.environ.items() if not k.startswith(('BAO_', 'VAULT_', 'WARDEN_'))}


# --- the fetch, in-process (real OpenBao, real PDP) ----------------------------------------------
def test_fetch_returns_the_stored_value_once_and_audits_metadata(bed):
    before, records = bed.reads(), len(bed.audit_records())
    value, route, decision = bed.fetcher().fetch('npm token')
    assert value == bed.value
    assert route['id'] == 'npm-publish-token' and decision.allowed and decision.mode == 'embedded'
    assert bed.reads() == before + 1
    record = bed.audit_records()[records]
    assert record['kind'] == 'access' and record['outcome'] == 'fetched' and record['action'] == 'fetch'
    assert (record['need_id'], record['owner'], record['domain'], record['subject']) == (
        'npm-publish-token', 'secrets-engine', 'coulomb_social', READER)
    assert record['policy_decision_id'] == decision.decision_id and record['gate_mode'] == 'embedded'
    assert 'field NPM_AUTH_TOKEN of secret/data/coulomb_social/npm version 1' in record['reason']
    text = bed.audit.read_text()
    assert bed.value not in text and bed.value[4:20] not in text and bed.other not in text
    assert bed.caller_token not in text


@pytest.mark.parametrize('change,reason', [
    ({'subject': 'mallory'}, 'subject_not_allowed'),
    ({'access': {}}, 'subject_not_allowed'),
    ({'policy': {'mode': 'flex_auth', 'url': 'DEAD', 'retries': 0}}, 'policy_unavailable'),
    ({'policy': {'mode': 'flex_auth', 'url': 'DEAD', 'retries': 0, 'fail_closed': False}}, 'policy_unavailable'),
    ({'policy': {'mode': 'flex_auth', 'url': 'PDP'}, 'subject': 'mallory'}, 'subject_not_allowed'),
    ({'policy': {'mode': 'off'}}, 'policy_gate_off'),
])
def test_deny_outage_and_off_gate_fetch_nothing(bed, change, reason):
    if 'policy' in change:
        url = change['policy']['url'] if 'url' in change['policy'] else None
        change = dict(change, policy=dict(change['policy'], url={'DEAD': bed.dead_pdp_url, 'PDP': bed.pdp.url,
                                                                 None: None}[url]))
    before, records = bed.reads(), len(bed.audit_records())
    with pytest.raises(CredentialRefused) as info:
        bed.fetcher(**change).fetch('npm token')
    assert info.value.reason == reason
    assert bed.reads() == before, 'OpenBao saw a read'
    record = bed.audit_records()[records]
    assert record['outcome'] in ('denied', 'refused') and record['reason'] == reason
    assert bed.value not in str(info.value)


def test_flex_auth_allow_and_an_ungated_fetch_on_purpose(bed):
    value, dummy, decision = bed.fetcher(policy={'mode': 'flex_auth', 'url': bed.pdp.url}).fetch('npm-publish-token')
    assert value == bed.value and decision.mode == 'flex_auth' and decision.decision_id.startswith('decision:')
    assert any(e['decision_id'] == decision.decision_id and e['action'] == 'read' for e in bed.pdp.decisions())
    before = bed.reads()
    with pytest.raises(ValidationError) as info:  # acknowledged by the play, but not by the controller
        bed.fetcher(policy={'mode': 'off'}, allow_ungated=True).fetch('npm token')
    assert info.value.fields == ['policy.mode'] and 'WARDEN_ALLOW_UNGATED=1' in str(info.value)
    assert bed.reads() == before
    fetcher = bed.fetcher(env=bed.env(WARDEN_ALLOW_UNGATED='1'), policy={'mode': 'off'}, allow_ungated=True)
    value, dummy, decision = fetcher.fetch('npm token')
    assert value == bed.value and decision.mode == 'off'
    assert any('without a policy check' in w for w in fetcher.warnings)
    assert bed.audit_records()[-1]['gate_mode'] == 'off'


def test_the_callers_identity_and_nothing_else(bed):
    env = bed.env(BAO_TOKEN=None)
    before = bed.reads()
    with pytest.raises(CredentialRefused) as info:
        bed.fetcher(env=env).fetch('npm token')
    assert info.value.reason == 'caller_auth_missing'
    assert 'bao login -method=oidc -path=oidc role=coulomb_social' in str(info.value)  # the login lane
    # ~/.vault-token, as `bao login` leaves it
    token_file = bed.home / '.vault-token'
    token_file.write_text(bed.caller_token + '\n')
    try:
        value, dummy, dummy2 = bed.fetcher(env=env).fetch('npm token')
        assert value == bed.value
        # VAULT_TOKEN when BAO_TOKEN is unset; a token without read on the path: 403, named
        with pytest.raises(CredentialRefused) as info:
            bed.fetcher(env=bed.env(BAO_TOKEN=None, VAULT_TOKEN=bed.nobody_token)).fetch('npm token')
    finally:
        token_file.unlink()
    assert info.value.outcome == 'failed' and 'permission denied on GET secret/data/coulomb_social/npm' in \
        str(info.value)
    assert bed.nobody_token not in str(info.value)
    assert bed.reads() == before + 2  # the allowed read and the refused one


def test_login_lane_missing_field_and_bad_paths(bed):
    before = bed.reads()
    with pytest.raises(CredentialRefused) as info:
        bed.fetcher().fetch('login oidc')
    assert info.value.reason == 'login_lane_non_interactive'
    assert 'bao login -method=oidc -path=oidc role=coulomb_social' in str(info.value)
    dummy, route, dummy2 = bed.fetcher(login_lane='pointer').fetch('login oidc')
    assert route['lane'] == 'login' and route['fetch_command'].startswith('bao login')
    with pytest.raises(CredentialRefused) as info:
        bed.fetcher(values={'domain': 'coulomb_social', 'path': 'npm'}).fetch('npm token')
    assert info.value.reason == 'placeholders_missing' and '<field>' in str(info.value)
    with pytest.raises(CredentialRefused) as info:
        bed.fetcher().fetch('token')
    assert info.value.reason == 'tie'
    with pytest.raises(CredentialRefused) as info:
        bed.fetcher().fetch('ssh to state hub')
    assert info.value.reason == 'not_exec_capable'
    assert bed.reads() == before
    with pytest.raises(CredentialRefused) as info:
        bed.fetcher(values=dict(NPM, field='NOPE')).fetch('npm token')
    assert info.value.reason == 'field_missing' and 'fields: NPM_AUTH_TOKEN, OTHER_FIELD' in str(info.value)
    assert bed.other not in str(info.value) and bed.value not in str(info.value)
    with pytest.raises(CredentialRefused) as info:
        bed.fetcher(values=dict(NPM, path='missing')).fetch('npm token')
    assert 'no secret at secret/data/coulomb_social/missing' in str(info.value)
    with pytest.raises(ValidationError):
        bed.fetcher(values=dict(NPM, path='$(id)')).fetch('npm token')


# --- through Ansible ---------------------------------------------------------------------------------
def test_playbook_output_at_vvvv_holds_the_value_only_where_printed(bed, tmp_path):
    records = len(bed.audit_records())
    before = bed.reads()
    run = run_playbook(HERE / 'playbooks' / 'credential_fetch.yml', workdir=tmp_path, verbosity=4,
                       json_mode=False, env=ansible_env(bed),
                       extra_vars={'expected_sha256': hashlib.sha256(bed.value.encode()).hexdigest(),
                                   'warden_credential_access': ACCESS})
    assert run.rc == 0, run.output[-3000:]
    assert bed.reads() == before + 2
    output = run.output
    assert output.count(bed.value) == 1, 'the value must appear exactly once: where the playbook printed it'
    line = next(line for line in output.splitlines() if bed.value in line)
    assert 'PRINTED-BY-THE-PLAYBOOK ' + bed.value in line
    assert '{{ 6 * 7 }}' in line  # printed as stored: never templated
    assert bed.other not in output and bed.caller_token not in output
    new = bed.audit_records()[records:]
    assert [r['outcome'] for r in new] == ['fetched', 'fetched']
    assert all(r['host'] == 'localhost' and r['subject'] == READER for r in new)
    audit_text = bed.audit.read_text()
    assert bed.value not in audit_text and bed.value[4:24] not in audit_text


def test_playbook_routes_and_refusals(bed, tmp_path):
    bad = tmp_path / 'bad-catalog.yaml'
    data = yaml.safe_load(EXAMPLE.read_text())
    leaked = 'ghp_' + secrets.token_hex(18)
    data['entries'][2]['fetch_command'] = 'curl -H "token %s" https://registry' % leaked
    bad.write_text(yaml.safe_dump(data))
    before = bed.reads()
    run = run_playbook(HERE / 'playbooks' / 'credential_scenarios.yml', workdir=tmp_path, env=ansible_env(bed),
                       extra_vars={'warden_routing_catalog': str(bed.catalog_path), 'bad_catalog': str(bad),
                                   'warden_credential_access': ACCESS, 'pdp_url': bed.pdp.url,
                                   'dead_pdp_url': bed.dead_pdp_url})
    assert run.data is not None, run.output[-3000:]

    def result(name):
        return run.task_results(name)[0]

    npm = result('Find the npm token route')['route']
    assert (npm['match'], npm['id'], npm['role'], npm['owner_repo']) == ('matched', 'npm-publish-token', 'assist',
                                                                         'secrets-engine')
    assert npm['fetch_command'] == 'bao kv get -mount=secret -field=NPM_AUTH_TOKEN coulomb_social/npm'
    ssh = result('Find a route in check mode')
    assert ssh['changed'] is False and ssh['route']['id'] == 'ssh-cert' and ssh['route']['role'] == 'issue'
    assert ssh['route']['fetch_command'] == ('ansible bridge1 -i inventory/fleet.yml -m netkingdom.warden.ssh_cert '
                                             '-a actor=agt-state-hub-bridge')
    tie = result('Find an ambiguous need')['route']
    assert tie['match'] == 'tie' and tie['id'] is None
    assert [c['id'] for c in tie['candidates']] == ['npm-publish-token', 'openbao-oidc-login']
    miss = result('Find a need nobody owns')['route']
    assert miss['match'] == 'no_match' and len(miss['candidates']) == 3 and 'closest' in miss['next_action']
    shown = result('Show one route')['route']
    assert shown['fetch_command'] == 'bao login -method=oidc -path=oidc role=coulomb_social'
    listed = result('List every route')
    assert [r['id'] for r in listed['routes']] == [
        'ssh-cert', 'openbao-oidc-login', 'npm-publish-token', 'ops-bridge-state-hub-tunnel']
    refused = result('Refuse a catalog holding a secret')
    assert refused['failed'] and 'entries[2].fetch_command: looks like a GitHub token' in refused['msg']
    assert leaked not in json.dumps(run.data) and leaked not in run.output

    assert 'ansible_facts' in result('Route lookups'), result('Route lookups')
    routes = result('Route lookups')['ansible_facts']['routes']
    assert [r['match'] for r in routes] == ['matched', 'matched', 'tie', 'no_match']
    assert routes[0]['missing_placeholders'] == ['field', 'path'] and routes[0]['fetch_command'] is None
    assert 'ambiguous' in result('A tie fails the strict route lookup')['msg']

    denied = result('A subject without access is denied and nothing is fetched')
    assert denied['failed'] and 'policy denied reading npm-publish-token for mallory: subject_not_allowed' in \
        denied['msg']
    login = result('A login lane is never run by a lookup')
    assert login['failed'] and 'non-interactive' in login['msg'] and 'bao login -method=oidc' in login['msg']
    pointer = result('A login lane returns its pointer when asked')['ansible_facts']['login_pointer']
    assert pointer['id'] == 'openbao-oidc-login' and pointer['role'] == 'assist'
    remote = result('Fetch through the flex-auth PDP')['ansible_facts']['remote_ok']
    assert remote == hashlib.sha256(bed.value.encode()).hexdigest()
    remote_denied = result('The PDP denies a subject without access')
    assert remote_denied['failed'] and 'subject_not_allowed' in remote_denied['msg']
    outage = result('A PDP outage fetches nothing, even with fail_closed false')
    assert outage['failed'] and 'policy decision point unavailable' in outage['msg']
    ungated = result('An ungated fetch needs to be acknowledged')
    assert ungated['failed'] and 'allow_ungated' in ungated['msg']
    assert bed.reads() == before + 1  # only the allowed flex-auth fetch read the secret
    assert bed.value not in run.output


def test_playbook_never_uses_the_collections_configured_token(bed, tmp_path):
    before = bed.reads()
    env = base_env_without_bao()
    env.update({'BAO_ADDR': bed.bao.url, 'HOME': str(bed.home), 'WARDEN_AUDIT_LOG': str(bed.audit),
                'WARDEN_ROUTING_CATALOG': str(bed.catalog_path), 'WARDEN_POLICY_SUBJECT': READER})
    run = run_playbook(HERE / 'playbooks' / 'credential_no_token.yml', workdir=tmp_path, env=env,
                       extra_vars={'warden_openbao': {'url': bed.bao.url, 'token': bed.bao.token},
                                   'warden_credential_access': ACCESS})
    result = run.task_results('Fetch with only warden_openbao\'s token around')[0]
    assert result['failed'] and 'no OpenBao token of your own' in result['msg']
    assert 'never uses a token it is configured with' in result['msg']
    assert bed.bao.token not in run.output
    assert bed.reads() == before
    assert bed.audit_records()[-1]['reason'] == 'caller_auth_missing'


# --- finding 14.10: the signer's token is never the caller's -------------------------------------
def test_a_caller_token_that_is_the_signers_is_refused_in_awx_style_env(bed, tmp_path):
    """The AWX credential type injects the signing token as WARDEN_OPENBAO_TOKEN. A second credential that
    puts the same token into BAO_TOKEN (what the old type did) is the collection's identity, not the
    caller's: refused, nothing read, neither token shown. With a token of the caller's own, the fetch works."""
    ctype = yaml.safe_load((_ROOT / 'docs' / 'awx' / 'credential_types' / 'openbao.yml').read_text())
    signing = bed.bao.create_token(['npm-read'], no_default_policy=True)  # it could read the secret
    injected = AWX.inject(ctype, {'url': bed.bao.url, 'auth_method': 'token', 'token': signing}, tmp_path / 'job')
    assert injected['WARDEN_OPENBAO_TOKEN'] == signing and 'BAO_TOKEN' not in injected
    env = dict(bed.env(BAO_TOKEN=signing), **injected)
    before, records = bed.reads(), len(bed.audit_records())
    with pytest.raises(CredentialRefused) as info:
        bed.fetcher(env=env).fetch('npm token')
    assert info.value.reason == 'caller_token_is_signer' and info.value.outcome == 'refused'
    assert 'BAO_TOKEN is the collection\'s signing token (the same as WARDEN_OPENBAO_TOKEN)' in str(info.value)
    assert signing not in str(info.value)
    assert bed.reads() == before
    record = bed.audit_records()[records:]
    assert [r['reason'] for r in record] == ['caller_token_is_signer'] and signing not in json.dumps(record)
    # ~/.vault-token holding the signer's token is refused the same way
    token_file = bed.home / '.vault-token'
    token_file.write_text(signing + '\n')
    try:
        with pytest.raises(CredentialRefused) as info:
            bed.fetcher(env=dict(env, BAO_TOKEN=None)).fetch('npm token')
    finally:
        token_file.unlink()
    assert info.value.reason == 'caller_token_is_signer' and '~/.vault-token' in str(info.value)
    # a credential type imported before the fix injects the signing token as BAO_TOKEN, with
    # WARDEN_OPENBAO_AUTH_METHOD=token: that BAO_TOKEN is the signer's, refused too
    old_type = json.loads(json.dumps(ctype))
    old_type['injectors']['env'] = dict(('BAO_TOKEN' if k == 'WARDEN_OPENBAO_TOKEN' else k, v)
                                        for k, v in ctype['injectors']['env'].items())
    old_env = AWX.inject(old_type, {'url': bed.bao.url, 'auth_method': 'token', 'token': signing}, tmp_path / 'old')
    with pytest.raises(CredentialRefused) as info:
        bed.fetcher(env=dict(bed.env(BAO_TOKEN=None), **old_env)).fetch('npm token')
    assert info.value.reason == 'caller_token_is_signer' and 'WARDEN_OPENBAO_AUTH_METHOD=token' in str(info.value)
    assert bed.reads() == before
    # the caller's own token beside the signer's: fetched as the caller
    value, dummy, dummy2 = bed.fetcher(env=dict(env, BAO_TOKEN=bed.caller_token)).fetch('npm token')
    assert value == bed.value and bed.reads() == before + 1


def test_playbook_refuses_the_play_signers_token_as_the_callers(bed, tmp_path):
    before = bed.reads()
    env = base_env_without_bao()
    env.update({'BAO_ADDR': bed.bao.url, 'BAO_TOKEN': bed.caller_token, 'HOME': str(bed.home),
                'WARDEN_AUDIT_LOG': str(bed.audit), 'WARDEN_ROUTING_CATALOG': str(bed.catalog_path),
                'WARDEN_POLICY_SUBJECT': READER})
    run = run_playbook(HERE / 'playbooks' / 'credential_no_token.yml', workdir=tmp_path, env=env,
                       extra_vars={'warden_openbao': {'url': bed.bao.url, 'token': bed.caller_token},
                                   'warden_credential_access': ACCESS})
    result = run.task_results('Fetch with only warden_openbao\'s token around')[0]
    assert result['failed'] and "is the collection's signing token (the same as openbao.token" in result['msg']
    assert bed.caller_token not in run.output and bed.value not in run.output
    assert bed.reads() == before
    assert bed.audit_records()[-1]['reason'] == 'caller_token_is_signer'
