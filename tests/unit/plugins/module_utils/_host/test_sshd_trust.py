"""The controller-side decision of sshd_trust: which files change, from one inspection."""

import pytest

from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError, WardenError
from ansible_collections.netkingdom.warden.plugins.module_utils._host.sshd_trust import (
    ca_text,
    dropin_text,
    file_diff,
    include_line,
    inspect_paths,
    krl_spec_text,
    plan_include,
    plan_trust,
    validate_trust_options,
    write_args,
)

CA = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ca'
KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHGBMSa2mWbhr4eZZ8vZ0+qCcXjtyq7Jzq2DZAaqxyXw revoked'
CONFIG = '# sshd\nInclude /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin no\n'


def options(**extra):
    args = {'ca_keys': [CA], 'ca_path': '/etc/ssh/ca/ca_user.pub', 'principals': {'ops': ['a', 'b']},
            'principals_dir': '/etc/ssh/auth_principals', 'exclusive': True,
            'dropin': '/etc/ssh/sshd_config.d/20-netkingdom-warden.conf', 'dropin_content': None,
            'sshd_config': '/etc/ssh/sshd_config', 'revoked_serials': [], 'revoked_keys': [],
            'krl_path': '/etc/ssh/revoked_keys', 'host_keys': ['/etc/ssh/ssh_host_ed25519_key']}
    args.update(extra)
    return args


def present(content, mode=0o644, uid=0, gid=0):
    return {'content': content, 'exists': True, 'mode': mode, 'uid': uid, 'gid': gid}


def converged(args):
    """What a host that got everything right holds."""
    principals = validate_trust_options(args)
    files = {args['sshd_config']: present(CONFIG)}
    for change in plan_trust(args, principals, files)['changes']:
        files[change['path']] = present(change['after'])
    if args['revoked_serials'] or args['revoked_keys']:
        files[args['krl_path']] = {'content': None, 'exists': True}
    return principals, files


def test_a_converged_host_needs_nothing():
    args = options(revoked_serials=['7'])
    principals, files = converged(args)
    plan = plan_trust(args, principals, files)
    assert plan['changes'] == [] and plan['krl'] is False


def test_a_fresh_host_gets_every_file_and_the_include_stays_single():
    args = options()
    principals = validate_trust_options(args)
    plan = plan_trust(args, principals, {args['sshd_config']: present(CONFIG)})
    paths = [c['path'] for c in plan['changes']]
    assert paths == ['/etc/ssh/ca/ca_user.pub', '/etc/ssh/auth_principals/ops',
                     '/etc/ssh/sshd_config.d/20-netkingdom-warden.conf']  # the Include is already there
    dropin = plan['changes'][2]['after']
    assert 'HostCertificate /etc/ssh/ssh_host_ed25519_key-cert.pub' in dropin
    assert 'AuthorizedPrincipalsFile /etc/ssh/auth_principals/%u' in dropin
    assert 'RevokedKeys' not in dropin
    assert all(c['mode'] == 0o644 and c['owner'] == 0 for c in plan['changes'])
    assert plan['changes'][0]['before'] is None


def test_wrong_mode_or_owner_alone_is_a_change():
    args = options()
    principals, files = converged(args)
    files['/etc/ssh/auth_principals/ops'] = dict(files['/etc/ssh/auth_principals/ops'], mode=0o666)
    files['/etc/ssh/ca/ca_user.pub'] = dict(files['/etc/ssh/ca/ca_user.pub'], uid=1000)
    plan = plan_trust(args, principals, files)
    assert sorted(c['path'] for c in plan['changes']) == ['/etc/ssh/auth_principals/ops', '/etc/ssh/ca/ca_user.pub']
    # sshd_config keeps its own mode and owner
    files = dict(files, **{args['sshd_config']: present(CONFIG, mode=0o600, uid=5)})
    assert args['sshd_config'] not in [c['path'] for c in plan_trust(args, principals, files)['changes']]


def test_add_only_merges_and_converge_replaces():
    args = options(exclusive=False, principals={'ops': ['new']})
    dummy, files = converged(options())
    principals = validate_trust_options(args)
    plan = plan_trust(args, principals, files)
    change, = plan['changes']
    assert change['added'] == ['new'] and change['removed'] == []
    assert change['after'].splitlines()[1:] == ['a', 'b', 'new']
    plan = plan_trust(options(principals={'ops': ['new']}), principals, files)
    assert plan['changes'][0]['after'].splitlines()[1:] == ['new']
    assert plan['changes'][0]['removed'] == ['a', 'b']


def test_krl_is_built_only_when_the_spec_changed_or_the_krl_is_missing():
    args = options(revoked_serials=['7', '10-12'], revoked_keys=[KEY])
    principals, files = converged(args)
    # only '<type> <base64>' of a revoked key becomes a line (its comment is dropped)
    assert files['/etc/ssh/revoked_keys.spec']['content'] == 'serial: 7\nserial: 10-12\n%s\n' % KEY.rsplit(' ', 1)[0]
    assert 'RevokedKeys /etc/ssh/revoked_keys' in files[args['dropin']]['content']
    del files['/etc/ssh/revoked_keys']
    plan = plan_trust(args, principals, files)
    assert plan['krl'] and plan['changes'] == []
    files['/etc/ssh/revoked_keys'] = {'content': None, 'exists': True}
    plan = plan_trust(options(revoked_serials=['8'], revoked_keys=[KEY]), principals, files)
    assert plan['krl'] and [c['kind'] for c in plan['changes']] == ['krl_spec']
    assert inspect_paths(args, principals) == (
        ['/etc/ssh/ca/ca_user.pub', args['dropin'], '/etc/ssh/sshd_config', '/etc/ssh/auth_principals/ops',
         '/etc/ssh/revoked_keys.spec'], ['/etc/ssh/revoked_keys'])


def test_include_line_is_ensured_like_lineinfile():
    dropin = '/etc/ssh/sshd_config.d/20-x.conf'
    assert include_line(dropin) == 'Include /etc/ssh/sshd_config.d/*.conf'
    assert plan_include(CONFIG, dropin) == CONFIG
    assert plan_include('Port 22\n', dropin) == 'Include /etc/ssh/sshd_config.d/*.conf\nPort 22\n'
    assert plan_include('Port 22\n  Include   /etc/ssh/sshd_config.d/*.conf  \n', dropin) == \
        'Port 22\nInclude /etc/ssh/sshd_config.d/*.conf\n'
    assert plan_include('', dropin) == 'Include /etc/ssh/sshd_config.d/*.conf\n'
    # another directory's include does not count
    assert plan_include('Include /etc/other/*.conf\n', dropin).startswith('Include /etc/ssh/sshd_config.d/*.conf\n')


def test_missing_sshd_config_is_an_error_not_a_new_file():
    args = options()
    with pytest.raises(WardenError, match='does not exist on the host'):
        plan_trust(args, validate_trust_options(args), {})


def test_given_dropin_content_is_used_as_is():
    args = options(dropin_content='TrustedUserCAKeys /x')
    principals = validate_trust_options(args)
    plan = plan_trust(args, principals, {args['sshd_config']: present(CONFIG)})
    assert [c['after'] for c in plan['changes'] if c['kind'] == 'dropin'] == ['TrustedUserCAKeys /x\n']


def test_bad_options_are_all_reported_before_the_host_is_read():
    args = options(ca_keys=['not a key'], principals={'ops': ['a b'], '../x': ['a']}, ca_path='/etc/ssh/ca file',
                   host_keys=['/etc/ssh/key.pub'], revoked_serials=['x'], revoked_keys=['nope'],
                   actor_certs=[{'actor': 'a', 'key': '/ok/id_ed25519'}, {'actor': 'b', 'key': 'rel/id_ed25519'},
                                {'actor': 'c', 'key': '/k/id_ed25519.pub'}])
    with pytest.raises(ValidationError) as err:
        validate_trust_options(args)
    fields = err.value.fields
    assert 'actor_certs[0].key' not in fields
    for field in ('ca_path', 'host_keys[0]', 'revoked_serials[0]', 'revoked_keys[0]', 'ca_keys[0]',
                  'actor_certs[1].key', 'actor_certs[2].key'):
        assert field in fields, fields
    assert any(f.startswith("principals['ops']") for f in fields) and any('../x' in f for f in fields)


def test_texts_and_write_arguments():
    assert ca_text([CA, CA + '2']) == CA + '\n' + CA + '2\n'
    assert krl_spec_text(['1'], []) == 'serial: 1\n'
    text = dropin_text('/c', '/p/', ['/k-cert.pub'], '/r')
    assert text.splitlines() == ['# Ansible managed', text.splitlines()[1], 'TrustedUserCAKeys /c',
                                 'AuthorizedPrincipalsFile /p/%u', 'HostCertificate /k-cert.pub', 'RevokedKeys /r']
    change = {'path': '/c', 'after': 'x\n', 'before': None, 'mode': 0o644, 'owner': 0, 'group': 0}
    assert write_args(change) == {'path': '/c', 'content': 'x\n', 'mode': '0644', 'owner': 0, 'group': 0}
    assert write_args(dict(change, mode=None, owner=None))['mode'] is None
    assert file_diff(change) == {'before_header': '/c', 'after_header': '/c', 'before': '', 'after': 'x\n'}


def test_cert_job_signs_a_missing_host_cert_then_keeps_it(tmp_path):
    """The keep-or-renew path ssh_cert and sshd_trust share, with a real local CA."""
    import subprocess
    from ansible_collections.netkingdom.warden.plugins.module_utils._signing.backends import LocalBackend
    from ansible_collections.netkingdom.warden.plugins.module_utils._signing.job import CertJob
    from ansible_collections.netkingdom.warden.plugins.module_utils._signing.request import cert_request
    from ansible_collections.netkingdom.warden.plugins.module_utils._signing.service import SigningService
    subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', str(tmp_path / 'host')], check=True)
    public_key = (tmp_path / 'host.pub').read_text()
    service = SigningService(LocalBackend({'key_path': str(tmp_path / 'ca'), 'create': True}, env={}))
    request = cert_request('host', host_names=['h1', 'h1.example', None])
    job = CertJob(service, request, 'h1')
    assert job.plan(public_key, None) == 'missing' and job.needed
    assert job.planned()['policy_decision_id'] is None and job.planned()['principals'] == ['h1', 'h1.example']
    assert job.diff() == {'before': '(no certificate)\n',
                          'after': 'cert_type: host\nprincipals: h1, h1.example\nttl_hours: 720\nserial: (new)\n'}
    cert = job.sign()
    fields, warnings = job.written(), job.warnings
    assert fields['key_id'] == 'warden:host:h1' and fields['policy_decision_id'] is None and warnings == []
    assert 'serial: %s' % fields['serial'] in job.diff()['after']

    again = CertJob(service, request, 'h1')
    assert again.plan(public_key, cert) == 'valid' and not again.needed
    assert again.kept()['serial'] == fields['serial']
    other = CertJob(service, cert_request('host', principals=['other']), 'h1')
    assert other.plan(public_key, cert) == 'principals_changed'


def test_known_ca_keys_plan_without_a_backend_and_build_it_only_to_sign(tmp_path):
    import subprocess
    from ansible_collections.netkingdom.warden.plugins.module_utils._signing.backends import KnownCABackend, LocalBackend
    from ansible_collections.netkingdom.warden.plugins.module_utils._signing.job import CertJob
    from ansible_collections.netkingdom.warden.plugins.module_utils._signing.request import cert_request
    from ansible_collections.netkingdom.warden.plugins.module_utils._signing.service import SigningService
    subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', str(tmp_path / 'host')], check=True)
    public_key = (tmp_path / 'host.pub').read_text()
    real = LocalBackend({'key_path': str(tmp_path / 'ca'), 'create': True}, env={})
    built = []

    def factory():
        built.append(True)
        return real

    request = cert_request('host', host_names=['h1'])
    signed = CertJob(SigningService(real), request, 'h1')
    signed.plan(public_key, None)
    cert = signed.sign()
    known = SigningService(KnownCABackend(real.ca_public_keys(), 'local', factory))
    job = CertJob(known, request, 'h1')
    assert job.plan(public_key, cert) == 'valid' and built == []  # kept: no backend was built
    job = CertJob(known, request, 'h1', force=True)
    assert job.plan(public_key, cert) == 'forced'
    job.sign()
    assert built == [True] and job.parsed['key_id'] == 'warden:host:h1'
    # keys of another CA: the certificate is renewed (ca_changed)
    other = SigningService(KnownCABackend([CA], 'local', factory))
    assert CertJob(other, request, 'h1').plan(public_key, cert) == 'ca_changed'
