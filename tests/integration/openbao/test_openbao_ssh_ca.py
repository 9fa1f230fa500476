"""The openbao_ssh_ca role (openbao_ssh_engine module) against its own fresh, real OpenBao.

One dev server per module, starting empty (no setup_ssh_engine): the playbook creates the mount,
CA, roles and policy; later runs must be read-only (counted in OpenBao's own file audit log),
put back hand-made drift, never replace the CA, and refuse TTL caps above the actor type's max.
The policy it writes is proved by signing with a token that holds only that policy.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
if _ROOT not in sys.path:
    sys.path.append(_ROOT)

from tests.bed.collection_path import ensure_on_path  # noqa: E402

ensure_on_path()

from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.auth import OpenBaoError  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.client import OpenBaoRequestError  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.settings import OpenBaoSettings  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.signer import OpenBaoSigner  # noqa: E402
from tests.bed.ansible_run import run_playbook  # noqa: E402
from tests.bed.openbao import OpenBaoDev  # noqa: E402
from tests.bed.openbao import OpenBaoError as BedError  # noqa: E402

PLAYBOOK = 'netkingdom.warden.openbao_ssh_ca'
ENSURE_TASK = 'Ensure the OpenBao SSH engine'
POLICY = 'warden-ssh-signer'
ROLE_TTLS = {'adm-role': 48 * 3600, 'agt-role': 24 * 3600, 'atm-role': 8 * 3600, 'host-role': 720 * 3600}
EXTENSIONS = {'permit-pty', 'permit-port-forwarding', 'permit-agent-forwarding', 'permit-user-rc'}
READ_OPERATIONS = ('read', 'list', 'help')


def is_managed_path(path):
    return (path == 'sys/mounts/ssh' or path.startswith('ssh/config/ca') or path.startswith('ssh/roles/')
            or path.startswith('ssh/issuers') or path.startswith('ssh/config/issuers')
            or path.startswith('sys/policies/acl/'))


def audit_writes(audit_path):
    """Non-read requests OpenBao logged on the mount, CA, roles and policies."""
    writes = []
    if not os.path.exists(audit_path):
        return writes
    with open(audit_path) as handle:
        for line in handle:
            entry = json.loads(line)
            request = entry.get('request') or {}
            if entry.get('type') == 'request' and request.get('operation') not in READ_OPERATIONS \
                    and is_managed_path(request.get('path', '')):
                writes.append('%s %s' % (request.get('operation'), request.get('path')))
    return writes


def ensure_result(run):
    """The openbao_ssh_engine task's result (task names carry the role prefix)."""
    for play in run.data['plays']:
        for task in play['tasks']:
            if ENSURE_TASK in task['task']['name']:
                return task['hosts']['localhost']
    raise AssertionError('no %r task in the run:\n%s' % (ENSURE_TASK, run.output[-3000:]))


class Bed(object):
    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.bao = OpenBaoDev(self.workdir / 'bao').start()
        self.audit = self.bao.enable_audit_file(self.workdir / 'bao-audit.log')

    def play(self, tmp_path, bao=None, check=False, diff=False, **extra):
        bao = bao or self.bao
        extra_vars = {'warden_openbao': {'url': bao.url, 'token': bao.token}}
        extra_vars.update(extra)
        run = run_playbook(PLAYBOOK, extra_vars=extra_vars, check=check, diff=diff, workdir=tmp_path)
        assert bao.token not in run.output, 'the OpenBao token leaked into the output'
        return run

    def role(self, name):
        return self.bao.request('GET', 'ssh/roles/%s' % name)['data']

    def ca(self):
        return self.bao.request('GET', 'ssh/config/ca')['data']['public_key'].strip()


@pytest.fixture(scope='module')
def bed(isolated, tmp_path_factory):
    b = Bed(tmp_path_factory.mktemp('openbao-ssh-ca'))
    try:
        yield b
    finally:
        b.bao.stop()


def keygen(path, key_type='ed25519'):
    subprocess.run(['ssh-keygen', '-q', '-t', key_type, '-N', '', '-C', '', '-f', str(path)], check=True)
    return Path(str(path) + '.pub').read_text().strip()


def test_check_and_diff_on_a_fresh_server_report_everything_and_write_nothing(bed, tmp_path):
    fresh = OpenBaoDev(tmp_path / 'bao').start()
    try:
        run = bed.play(tmp_path, bao=fresh, check=True, diff=True)
        assert run.rc == 0, run.output
        res = ensure_result(run)
        assert res['changed'] is True
        changes = res['changes']
        assert len(changes) == 7, changes
        assert all(c.startswith('would ') for c in changes), changes
        assert changes[0] == 'would mount the SSH secrets engine at ssh/'
        assert any('ed25519 CA' in c for c in changes)
        for role in ROLE_TTLS:
            assert any(c.startswith('would create role %s ' % role) for c in changes), changes
        assert 'would write policy %s' % POLICY in changes[-1]
        headers = [d['after_header'] for d in res['diff']]
        assert headers == ['mount ssh/', 'ca ssh/'] + ['role ssh/roles/%s' % r for r in sorted(ROLE_TTLS)] + \
            ['policy %s' % POLICY]
        assert 'path "ssh/sign/agt-role"' in res['diff'][-1]['after']
        assert res['ca_public_key'] is None
        # nothing was written
        assert 'ssh/' not in fresh.request('GET', 'sys/mounts')['data']
        with pytest.raises(BedError) as exc:
            fresh.request('GET', 'sys/policies/acl/%s' % POLICY)
        assert exc.value.status == 404
    finally:
        fresh.stop()


def test_first_run_creates_mount_ca_roles_and_policy(bed, tmp_path):
    run = bed.play(tmp_path)
    assert run.rc == 0, run.output
    res = ensure_result(run)
    assert res['changed'] is True
    assert len(res['changes']) == 7, res['changes']
    assert res['changes'][0] == 'mounted the SSH secrets engine at ssh/'

    assert bed.bao.request('GET', 'sys/mounts/ssh')['data']['type'] == 'ssh'
    ca = bed.ca()
    assert ca.startswith('ssh-ed25519 ')
    assert res['ca_public_key'] == ca == bed.bao.ca_public_key()
    assert res['ca_fingerprint'].startswith('SHA256:')
    for name, ttl in ROLE_TTLS.items():
        role = bed.role(name)
        assert role['key_type'] == 'ca'
        assert role['ttl'] == role['max_ttl'] == ttl, (name, role)
        assert role['allow_user_key_ids'] is True
        assert role['allow_empty_principals'] is False
        if name == 'host-role':
            assert role['allow_host_certificates'] is True and role['allow_user_certificates'] is False
            assert role['allowed_domains'] == '*'
            assert role['allow_subdomains'] is True and role['allow_bare_domains'] is True
        else:
            assert role['allow_user_certificates'] is True and role['allow_host_certificates'] is False
            assert role['allowed_users'] == '*'
            assert set(role['default_extensions']) == EXTENSIONS
            assert role['allowed_extensions'] == ''
        assert res['roles'][name]['ttl'] == ttl
    policy = bed.bao.request('GET', 'sys/policies/acl/%s' % POLICY)['data']['policy']
    assert policy == res['policy']
    for name in ROLE_TTLS:
        assert 'path "ssh/sign/%s" {\n  capabilities = ["create", "update"]\n}' % name in policy
    assert 'path "ssh/issuers" {\n  capabilities = ["list"]\n}' in policy
    assert policy.count('path "') == 5


def test_second_run_changes_nothing_and_writes_nothing(bed, tmp_path):
    before = audit_writes(bed.audit)
    assert before, 'the first run should have been audited'
    run = bed.play(tmp_path, diff=True)
    assert run.rc == 0, run.output
    res = ensure_result(run)
    assert res['changed'] is False and res['changes'] == [], res
    assert 'diff' not in res
    assert audit_writes(bed.audit) == before


def test_the_policy_signs_on_agt_role_and_nothing_else(bed, tmp_path):
    token = bed.bao.create_token([POLICY], no_default_policy=True)
    signer = OpenBaoSigner(OpenBaoSettings({'url': bed.bao.url, 'token': token}))
    public_key = keygen(tmp_path / 'agent')
    signed = signer.sign('agt-role', public_key, ['agt-task-bridge'], 3600,
                         key_id='warden:agt-state-hub-bridge:decision:0123456789abcdef')
    info = subprocess.run(['ssh-keygen', '-L', '-f', '-'], input=signed['signed_key'], capture_output=True,
                          text=True, check=True).stdout
    assert 'user certificate' in info and 'agt-task-bridge' in info
    assert 'Key ID: "warden:agt-state-hub-bridge:decision:0123456789abcdef"' in info
    for extension in EXTENSIONS:
        assert extension in info
    # CA rotation trust: every issuer of the mount can be listed
    assert [i['public_key'] for i in signer.issuer_public_keys()] == [bed.ca()]
    # above the type cap: refused, not clamped
    with pytest.raises(OpenBaoError, match='above the max_ttl'):
        signer.sign('agt-role', public_key, ['agt-task-bridge'], 25 * 3600)
    # nothing beyond signing
    with pytest.raises(BedError) as exc:
        bed.bao.request('GET', 'sys/mounts', token=token)
    assert exc.value.status == 403
    with pytest.raises(OpenBaoRequestError) as exc:
        signer.read('sys/mounts/ssh')
    assert exc.value.status == 403
    assert 'lacks read on sys/mounts/ssh' in str(exc.value)
    assert token not in str(exc.value)


def test_the_module_with_a_signing_token_names_the_missing_capability(bed, tmp_path):
    token = bed.bao.create_token([POLICY], no_default_policy=True)
    run = run_playbook(PLAYBOOK, extra_vars={'warden_openbao': {'url': bed.bao.url, 'token': token}},
                       workdir=tmp_path)
    assert run.rc != 0
    res = ensure_result(run)
    assert res['failed']
    assert 'permission denied on GET sys/mounts/ssh: the token lacks read on sys/mounts/ssh' in res['msg']
    assert token not in run.output


def test_drift_made_by_hand_is_put_back_and_reported(bed, tmp_path):
    role = bed.role('agt-role')
    role.update(ttl='1h', max_ttl='30h', allow_empty_principals=True)
    bed.bao.request('POST', 'ssh/roles/agt-role', role)
    policy = bed.bao.request('GET', 'sys/policies/acl/%s' % POLICY)['data']['policy']
    widened = policy + 'path "sys/*" {\n  capabilities = ["sudo", "read"]\n}\n'
    bed.bao.write_policy(POLICY, widened)
    before = len(audit_writes(bed.audit))
    run = bed.play(tmp_path, diff=True)
    assert run.rc == 0, run.output
    res = ensure_result(run)
    assert res['changed'] is True
    assert res['changes'] == [
        'updated role agt-role on ssh/ (it had drifted): allow_empty_principals true -> false, '
        'max_ttl 30h -> 24h, ttl 1h -> 24h',
        'rewrote policy %s (create/update on ssh/sign/{adm-role,agt-role,atm-role,host-role}, list on ssh/issuers)'
        % POLICY]
    assert res['diff'] == [
        {'before_header': 'role ssh/roles/agt-role', 'after_header': 'role ssh/roles/agt-role',
         'before': 'allow_empty_principals: true\nmax_ttl: 30h\nttl: 1h\n',
         'after': 'allow_empty_principals: false\nmax_ttl: 24h\nttl: 24h\n'},
        {'before_header': 'policy %s' % POLICY, 'after_header': 'policy %s' % POLICY,
         'before': widened, 'after': policy}]
    role = bed.role('agt-role')
    assert role['ttl'] == role['max_ttl'] == 24 * 3600 and role['allow_empty_principals'] is False
    assert bed.bao.request('GET', 'sys/policies/acl/%s' % POLICY)['data']['policy'] == policy
    assert audit_writes(bed.audit)[before:] == ['update ssh/roles/agt-role', 'update sys/policies/acl/%s' % POLICY]


def test_the_ca_is_never_replaced(bed, tmp_path):
    ca_before = bed.ca()
    other_public = keygen(tmp_path / 'other_ca')
    other_private = (tmp_path / 'other_ca').read_text()
    writes = len(audit_writes(bed.audit))
    run = bed.play(tmp_path, openbao_ssh_ca_private_key=other_private, openbao_ssh_ca_public_key=other_public)
    assert run.rc == 0, run.output
    res = ensure_result(run)
    assert res['changed'] is False, res['changes']
    assert bed.ca() == ca_before == res['ca_public_key']
    assert len(res['warnings']) == 1
    assert 'is not the one in ca.public_key' in res['warnings'][0]
    assert 'never replaces a CA' in res['warnings'][0]
    assert len(audit_writes(bed.audit)) == writes
    body = ''.join(other_private.strip().splitlines()[1:-1])
    assert body[:40] not in run.output, 'the CA private key leaked into the output'


def test_a_ttl_cap_above_the_type_max_is_refused(bed, tmp_path):
    writes = len(audit_writes(bed.audit))
    run = bed.play(tmp_path, openbao_ssh_ca_max_ttl_hours={'adm': 48, 'agt': 25, 'atm': 8})
    assert run.rc != 0
    res = ensure_result(run)
    assert res['failed']
    assert 'max_ttl_hours.agt: 25h is above the agt maximum of 24h' in res['msg']
    assert 'never clamped' in res['msg']
    assert bed.role('agt-role')['max_ttl'] == 24 * 3600
    assert len(audit_writes(bed.audit)) == writes


def test_ca_rotation_adds_an_issuer_then_makes_it_the_default(bed, tmp_path):
    old = bed.ca()
    run = bed.play(tmp_path, openbao_ssh_ca_rotate=True, openbao_ssh_ca_issuer_name='ca-next')
    assert run.rc == 0, run.output
    res = ensure_result(run)
    assert res['changed'] is True and len(res['changes']) == 1, res['changes']
    assert res['changes'][0].startswith('added a new ed25519 CA as issuer ca-next on ssh/')
    assert res['ca_public_key'] == old == bed.ca()  # the old CA still signs
    issuers = bed.bao.request('LIST', 'ssh/issuers')['data']['keys']
    assert len(issuers) == 2

    run = bed.play(tmp_path, openbao_ssh_ca_rotate=True, openbao_ssh_ca_issuer_name='ca-next',
                   openbao_ssh_ca_make_default=True)
    assert run.rc == 0, run.output
    res = ensure_result(run)
    assert len(res['changes']) == 1 and res['changes'][0].startswith('made CA issuer ca-next the default'), res
    new = bed.ca()
    assert new != old and res['ca_public_key'] == new
    assert len(bed.bao.request('LIST', 'ssh/issuers')['data']['keys']) == 2


def test_runbook_roles_get_key_ids_and_the_host_ca_a_mount_of_its_own(tmp_path):
    """An existing runbook deployment (one mount, roles without allow_user_key_ids) moved to the two-mount
    layout by the role: key ids allowed on the user roles, a host CA and host role on ssh-host-signer/."""
    from tests.bed.openbao import RUNBOOK_HOST_MOUNT
    bao = OpenBaoDev(tmp_path / 'bao').start()
    try:
        bao.setup_runbook(host_mount=None)
        user_ca = bao.ca_public_key('ssh')
        assert bao.request('GET', 'ssh/roles/agt-role')['data']['allow_user_key_ids'] is False
        extra = {'warden_openbao': {'url': bao.url, 'token': bao.token, 'host_mount': RUNBOOK_HOST_MOUNT},
                 'openbao_ssh_ca_host_domains': ['fleet.test']}
        run = run_playbook(PLAYBOOK, extra_vars=extra, workdir=tmp_path)
        assert run.rc == 0, run.output[-3000:]
        res = ensure_result(run)
        assert 'mounted the SSH secrets engine at %s/' % RUNBOOK_HOST_MOUNT in res['changes']
        assert any('allow_user_key_ids false -> true' in c and 'role agt-role on ssh/' in c for c in res['changes'])
        assert res['ca_public_key'] == user_ca  # the runbook's CA is kept
        host_ca = bao.ca_public_key(RUNBOOK_HOST_MOUNT)
        assert res['host_ca_public_key'] == host_ca != user_ca and host_ca.startswith('ssh-ed25519 ')
        for name in ('adm-role', 'agt-role', 'atm-role'):
            assert bao.request('GET', 'ssh/roles/%s' % name)['data']['allow_user_key_ids'] is True
        host_role = bao.request('GET', '%s/roles/host-role' % RUNBOOK_HOST_MOUNT)['data']
        assert host_role['allowed_domains'] == 'fleet.test' and host_role['allow_subdomains'] is True
        assert 'path "%s/sign/host-role"' % RUNBOOK_HOST_MOUNT in res['policy']
        assert 'path "%s/issuers"' % RUNBOOK_HOST_MOUNT in res['policy']

        again = ensure_result(run_playbook(PLAYBOOK, extra_vars=extra, workdir=tmp_path))
        assert again['changed'] is False, again['changes']

        # the signer policy signs host certificates on the host mount, with the host CA, for the domain only
        token = bao.create_token([POLICY], no_default_policy=True)
        signer = OpenBaoSigner(OpenBaoSettings({'url': bao.url, 'token': token,
                                               'host_mount': RUNBOOK_HOST_MOUNT}))
        signed = signer.sign('host-role', keygen(tmp_path / 'host'), ['web1.fleet.test'], 3600, cert_type='host',
                             key_id='warden:host:web1.fleet.test', mount=RUNBOOK_HOST_MOUNT)
        info = subprocess.run(['ssh-keygen', '-L', '-f', '-'], input=signed['signed_key'], capture_output=True,
                              text=True, check=True).stdout
        host_fp = subprocess.run(['ssh-keygen', '-l', '-f', '-'], input=host_ca, capture_output=True, text=True,
                                 check=True).stdout.split()[1]
        assert 'Signing CA: ED25519 %s' % host_fp in info and 'Key ID: "warden:host:web1.fleet.test"' in info
        with pytest.raises(OpenBaoError, match='principal not allowed by role host-role on %s' % RUNBOOK_HOST_MOUNT):
            signer.sign('host-role', keygen(tmp_path / 'other'), ['web1.elsewhere.test'], 3600, cert_type='host',
                        mount=RUNBOOK_HOST_MOUNT)
    finally:
        bao.stop()
