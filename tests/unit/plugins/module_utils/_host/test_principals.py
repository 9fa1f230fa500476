"""Principals files: parsing as sshd reads them, planning changes, drift, validation."""

import subprocess

import pytest

from ansible_collections.netkingdom.warden.plugins.module_utils._host import accounts as A
from ansible_collections.netkingdom.warden.plugins.module_utils._host import ca_keys as CK
from ansible_collections.netkingdom.warden.plugins.module_utils._host import drift as D
from ansible_collections.netkingdom.warden.plugins.module_utils._host import principals as P
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError

H = P.HEADER + '\n'


# --- parsing ---------------------------------------------------------------------------------------
@pytest.mark.parametrize('text, expected', [
    (None, []),
    ('', []),
    ('alice\n', [('alice', '')]),
    ('alice', [('alice', '')]),  # no final newline
    ('  alice  \n\n\t\n', [('alice', '')]),
    ('# comment\nalice\n#bob\n', [('alice', '')]),
    ('alice # trailing comment\n', [('alice', '')]),  # sshd cuts at the first '#'
    ('#alice\n', []),
    ('from="10.0.0.0/8" alice\n', [('alice', 'from="10.0.0.0/8"')]),
    ('command="/bin/true",no-pty\tbob\n', [('bob', 'command="/bin/true",no-pty')]),
    ('restrict  carol  \n', [('carol', 'restrict')]),
    # sshd does not trim '\r': such a line never matches, so it is not a principal line
    ('alice\r\nbob\r\n', []),
    ('alice\nalice\n', [('alice', ''), ('alice', '')]),
])
def test_parse_principals(text, expected):
    assert [(e['principal'], e['options']) for e in P.parse_principals(text)] == expected


def test_parse_reports_line_numbers_and_principals_of_dedups():
    text = '# head\nalice\n\nfrom="x" bob\nalice\n'
    assert [e['line'] for e in P.parse_principals(text)] == [2, 4, 5]
    assert P.principals_of(text) == ['alice', 'bob']


def test_render_round_trips():
    text = P.render_principals(['b', 'a'])
    assert text == H + 'b\na\n'
    assert P.principals_of(text) == ['b', 'a']


# --- validation ------------------------------------------------------------------------------------
@pytest.mark.parametrize('bad, words', [
    ('two\nlines', 'control characters'),
    ('a,b', 'comma'),
    ('a b', 'whitespace'),
    ('a\tb', 'whitespace'),
    ('a#b', "'#'"),
    ('#', "'#'"),
    ('*', "'*'"),
    ('agt-*', "'*'"),
    ('', 'empty'),
    ('bell\x07', 'control characters'),
    ('del\x7f', 'control characters'),
    ('cr\r', 'control characters'),
    (7, 'must be a string'),
])
def test_every_bad_principal_is_refused_with_its_index(bad, words):
    with pytest.raises(ValidationError) as info:
        P.validate_principals(['good', 'also-good', bad])
    assert info.value.fields == ['principals[2]']
    assert words in str(info.value)


def test_all_bad_principals_are_listed_at_once():
    with pytest.raises(ValidationError) as info:
        P.validate_principals(['ok', '', 'a,b', 'ok2', '*'])
    assert info.value.fields == ['principals[1]', 'principals[2]', 'principals[4]']


@pytest.mark.parametrize('value', ['alice', {'a': 1}, 3])
def test_principals_must_be_a_list(value):
    with pytest.raises(ValidationError, match='must be a list'):
        P.validate_principals(value)


def test_validate_keeps_given_order_and_drops_duplicates():
    assert P.validate_principals(['b', 'a', 'b', 'c', 'a']) == ['b', 'a', 'c']
    assert P.validate_principals(None) == []


@pytest.mark.parametrize('account, ok', [
    ('deploy', True), ('svc_1', True), ('web-01', True), ('machine$', True), ('a.b', True),
    ('', False), ('../etc', False), ('a/b', False), ('.hidden', False), ('-rf', False),
    ('with space', False), ('tab\t', False), (None, False),
])
def test_account_names(account, ok):
    assert (A.account_problem(account) is None) is ok


def test_principals_map_names_account_and_index():
    with pytest.raises(ValidationError) as info:
        P.validate_principals_map({'deploy': ['ok', 'a b'], '../x': ['ok'], 'svc': None})
    assert info.value.fields == ["principals['../x']", "principals['deploy'][1]"]
    assert P.validate_principals_map({'svc': None, 'deploy': ['a', 'a']}) == {'svc': [], 'deploy': ['a']}
    with pytest.raises(ValidationError, match='mapping'):
        P.validate_principals_map(['deploy'])


# --- planning a file -------------------------------------------------------------------------------
PLAN_CASES = [
    # id, current, principals, state, exclusive -> content, changed, added, removed, final
    ('new file', None, ['b', 'a'], 'present', True, H + 'b\na\n', True, ['b', 'a'], [], ['b', 'a']),
    ('converged', H + 'b\na\n', ['b', 'a'], 'present', True, H + 'b\na\n', False, [], [], ['b', 'a']),
    ('reordered', H + 'a\nb\n', ['b', 'a'], 'present', True, H + 'b\na\n', True, [], [], ['b', 'a']),
    ('hand written', 'a\n', ['a'], 'present', True, H + 'a\n', True, [], [], ['a']),
    ('replace', H + 'a\nx\n', ['a', 'b'], 'present', True, H + 'a\nb\n', True, ['b'], ['x'], ['a', 'b']),
    ('empty list', H + 'a\n', [], 'present', True, H, True, [], ['a'], []),
    ('add keeps others', '# mine\nx\nfrom="y" z\n', ['a', 'x'], 'present', False,
     '# mine\nx\nfrom="y" z\na\n', True, ['a'], [], ['x', 'z', 'a']),
    ('add no final newline', 'x', ['a'], 'present', False, 'x\na\n', True, ['a'], [], ['x', 'a']),
    ('add nothing missing', 'x\na\n', ['a'], 'present', False, 'x\na\n', False, [], [], ['x', 'a']),
    ('add to missing file', None, ['a'], 'present', False, H + 'a\n', True, ['a'], [], ['a']),
    ('remove listed', H + 'a\nb\nc\n', ['b', 'q'], 'absent', True, H + 'a\nc\n', True, [], ['b'], ['a', 'c']),
    ('remove with options', '# c\nfrom="x" b\na\n', ['b'], 'absent', True, '# c\na\n', True, [], ['b'], ['a']),
    ('remove none there', H + 'a\n', ['b'], 'absent', True, H + 'a\n', False, [], [], ['a']),
    ('remove from missing', None, ['b'], 'absent', True, None, False, [], [], []),
    ('remove last', 'a\n', ['a'], 'absent', True, '', True, [], ['a'], []),
    ('remove file', H + 'a\nb\n', None, 'absent', True, None, True, [], ['a', 'b'], []),
    ('remove missing file', None, None, 'absent', True, None, False, [], [], []),
]


@pytest.mark.parametrize('case', PLAN_CASES, ids=[c[0] for c in PLAN_CASES])
def test_plan(case):
    dummy, current, principals, state, exclusive, content, changed, added, removed, final = case
    plan = P.plan_principals_file(current, principals, state, exclusive)
    assert (plan['content'], plan['changed'], plan['added'], plan['removed'], plan['principals']) == \
        (content, changed, added, removed, final)
    if content is not None:  # what was planned reads back as the final principals
        assert P.principals_of(content) == final
        again = P.plan_principals_file(content, principals, state, exclusive)
        assert not again['changed']


def test_exclusive_rewrite_warns_about_dropped_options():
    plan = P.plan_principals_file('from="10.0.0.1" a\nb\n', ['a', 'b'])
    assert plan['content'] == H + 'a\nb\n'
    assert len(plan['warnings']) == 1 and "line 1" in plan['warnings'][0] and "'a'" in plan['warnings'][0]


# --- paths -----------------------------------------------------------------------------------------
@pytest.mark.parametrize('template, home, uid, expected', [
    ('/etc/ssh/auth_principals/%u', None, None, '/etc/ssh/auth_principals/deploy'),
    ('/etc/ssh/principals/%u.list', None, None, '/etc/ssh/principals/deploy.list'),
    ('%h/.ssh/principals', '/home/deploy', 1000, '/home/deploy/.ssh/principals'),
    ('.ssh/principals', '/home/deploy', 1000, '/home/deploy/.ssh/principals'),
    ('/etc/p/%U', '/home/deploy', 1000, '/etc/p/1000'),
    ('/etc/100%%/%u', None, None, '/etc/100%/deploy'),
])
def test_expand_path_template(template, home, uid, expected):
    assert A.expand_path_template(template, 'deploy', home, uid) == expected


@pytest.mark.parametrize('template, user, words', [
    ('/etc/p/%x', 'deploy', 'unsupported token'),
    ('%h/p', 'deploy', '%h needs'),
    ('/p/%U', 'deploy', '%U needs'),
    ('rel/p', 'deploy', 'relative'),
    ('/etc/p/%u', '../../root/.ssh/authorized_keys', 'not a valid account name'),
])
def test_expand_refuses(template, user, words):
    with pytest.raises(ValidationError, match=words.replace('%', '%')):
        A.expand_path_template(template, user)


@pytest.mark.parametrize('template, expected', [
    ('/etc/ssh/auth_principals/%u', ('/etc/ssh/auth_principals', '', '')),
    ('/etc/ssh/p/user-%u.txt', ('/etc/ssh/p', 'user-', '.txt')),
    ('/etc/50%%/%u', ('/etc/50%', '', '')),
    ('%h/.ssh/principals', None),
    ('/home/%u/.ssh/principals', None),
    ('/etc/p/%u-%U', None),
    ('/etc/p/fixed', None),
    ('.ssh/%u', None),
])
def test_listing_pattern(template, expected):
    assert A.listing_pattern(template) == expected


@pytest.mark.parametrize('name, prefix, suffix, account', [
    ('deploy', '', '', 'deploy'),
    ('deploy.4711.2026-11-26@10:00:00~', '', '', None),  # backup_local() copy
    ('.warden-principals-abc', '', '', None),  # temp file
    ('user-deploy.txt', 'user-', '.txt', 'deploy'),
    ('deploy.txt', 'user-', '.txt', None),
    ('user-.txt', 'user-', '.txt', None),
])
def test_account_from_filename(name, prefix, suffix, account):
    assert A.account_from_filename(name, prefix, suffix) == account


# --- CA keys and drift -------------------------------------------------------------------------------
@pytest.fixture(scope='module')
def ca_keys(tmp_path_factory):
    """Three real public key lines from ssh-keygen: (line, fingerprint)."""
    base = tmp_path_factory.mktemp('cakeys')
    keys = []
    for name in ('ca1', 'ca2', 'ca3'):
        subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', name + '-comment',
                        '-f', str(base / name)], check=True)
        line = (base / (name + '.pub')).read_text().strip()
        fp = subprocess.run(['ssh-keygen', '-l', '-E', 'sha256', '-f', str(base / (name + '.pub'))],
                            check=True, capture_output=True, text=True).stdout.split()[1]
        keys.append((line, fp))
    return keys


def strip_comment(line):
    return ' '.join(line.split()[:2])


def test_ca_keys_compare_by_key_ignoring_comments_and_order(ca_keys):
    (k1, f1), (k2, f2), (k3, f3) = ca_keys
    wanted = CK.validate_ca_keys([k1, k2])
    text = '# trusted user CAs\n%s other-comment\n\n%s\n' % (strip_comment(k2), strip_comment(k1))
    same = CK.compare_ca_keys(wanted, text)
    assert (same['missing_keys'], same['extra_keys'], same['file_missing']) == ([], [], False)
    diff = CK.compare_ca_keys(wanted, '%s\n%s\nnot a key\n' % (k1, k3))
    assert [k['fingerprint'] for k in diff['missing_keys']] == [f2]
    assert [k['fingerprint'] for k in diff['extra_keys']] == [f3]
    assert diff['invalid_lines'] == [3]
    gone = CK.compare_ca_keys(wanted, None)
    assert gone['file_missing'] and len(gone['missing_keys']) == 2


def test_validate_ca_keys(ca_keys):
    (k1, f1), (k2, f2), dummy = ca_keys
    assert [k['fingerprint'] for k in CK.validate_ca_keys([k1, k1, '# file\n%s\n\n%s\n' % (k2, k1)])] == [f1, f2]
    with pytest.raises(ValidationError) as info:
        CK.validate_ca_keys([k1, 'ssh-ed25519 AAAA', ''])
    assert info.value.fields == ['trusted_ca_keys[1]', 'trusted_ca_keys[2]']
    with pytest.raises(ValidationError, match='list'):
        CK.validate_ca_keys(k1)


def observed(files, ca_text=None, ca_exists=True):
    out = {'files': {}, 'scanned': True,
           'ca': {'path': '/etc/ssh/ca/ca_user.pub', 'exists': ca_exists, 'content': ca_text if ca_exists else None}}
    for account, text in files.items():
        out['files'][account] = {'path': '/etc/ssh/auth_principals/' + account, 'exists': text is not None,
                                 'content': text}
    return out


ACTORS = {
    'agt-bridge': {'principals': ['agt-task-bridge']},
    'adm-oncall': {'principals': ['adm-oncall', 'adm-all']},
    'atm-backup': {'principals': ['atm-backup']},
}


def test_clean_host_has_no_drift(ca_keys):
    (k1, dummy), dummy2, dummy3 = ca_keys
    desired = {'deploy': ['agt-task-bridge', 'adm-oncall'], 'backup': []}
    seen = observed({'deploy': H + 'adm-oncall\nagt-task-bridge\n', 'backup': None}, k1 + '\n')
    report = D.drift_report('host1', desired, seen, CK.validate_ca_keys([k1]), ACTORS)
    assert report['drift'] is False and report['summary'] == []
    assert report['accounts']['backup'] == {'path': '/etc/ssh/auth_principals/backup', 'file_missing': True,
                                            'missing': [], 'extra': [], 'principals': [], 'invalid_lines': []}
    assert report['unaccepted_actors'] == ['atm-backup']
    assert report['ca']['checked'] and report['ca']['missing_keys'] == [] and report['ca']['extra_keys'] == []


DRIFT_CASES = [
    # id, desired, files -> {account: (missing, extra, file_missing)}, unmanaged, sentence fragments
    ('missing and extra', {'deploy': ['a', 'b']}, {'deploy': 'a\nrogue\n'},
     {'deploy': (['b'], ['rogue'], False)}, [],
     ['host1: account deploy does not accept principal b', 'host1: account deploy accepts principal rogue']),
    ('file missing', {'deploy': ['a']}, {'deploy': None},
     {'deploy': (['a'], [], True)}, [],
     ['host1: account deploy does not accept principal a: not in /etc/ssh/auth_principals/deploy (missing)']),
    ('unmanaged account', {'deploy': ['a']}, {'deploy': 'a\n', 'mallory': 'a\nb\n'},
     {'deploy': ([], [], False)}, ['mallory'],
     ['host1: account mallory is not managed, but /etc/ssh/auth_principals/mallory accepts principals a, b']),
    ('options ignored', {'deploy': ['a']}, {'deploy': 'from="10.0.0.1" a # note\n'},
     {'deploy': ([], [], False)}, [], []),
]


@pytest.mark.parametrize('case', DRIFT_CASES, ids=[c[0] for c in DRIFT_CASES])
def test_drift(case):
    dummy, desired, files, accounts, unmanaged, sentences = case
    report = D.drift_report('host1', desired, observed(files))
    got = {a: (i['missing'], i['extra'], i['file_missing']) for a, i in report['accounts'].items()}
    assert got == accounts
    assert report['unmanaged_accounts'] == unmanaged
    assert report['drift'] is bool(sentences)
    assert len(report['summary']) == len(sentences)
    for fragment in sentences:
        assert any(s.startswith(fragment) for s in report['summary']), (fragment, report['summary'])
    assert report['ca']['checked'] is False


def test_ca_drift_sentences_name_the_key(ca_keys):
    (k1, f1), (k2, f2), (k3, f3) = ca_keys
    report = D.drift_report('host2', {}, observed({}, '%s\n%s\n' % (k1, k3)), CK.validate_ca_keys([k1, k2]))
    assert report['drift'] and report['ca']['missing_keys'] == [f2] and report['ca']['extra_keys'] == [f3]
    assert report['ca']['keys'] == [f1, f3]
    assert 'host2: CA key %s (ssh-ed25519 ca2-comment) is not trusted in /etc/ssh/ca/ca_user.pub' % f2 \
        in report['summary']
    assert 'host2: /etc/ssh/ca/ca_user.pub trusts CA key %s (ssh-ed25519 ca3-comment), which is not wanted' % f3 \
        in report['summary']
    missing = D.drift_report('host2', {}, observed({}, ca_exists=False), CK.validate_ca_keys([k1]))
    assert missing['ca']['file_missing'] and missing['ca']['missing_keys'] == [f1]
    assert missing['summary'][0] == 'host2: the CA file /etc/ssh/ca/ca_user.pub is missing, so no user CA is trusted'


def test_unreadable_file_is_drift_without_guessing():
    seen = observed({})
    seen['files']['deploy'] = {'path': '/p/deploy', 'exists': True, 'content': None, 'error': 'Permission denied'}
    report = D.drift_report('h', {'deploy': ['a']}, seen)
    assert report['drift'] and report['accounts']['deploy']['missing'] == []
    assert report['summary'] == ['h: account deploy: cannot read its principals file /p/deploy: Permission denied']


def test_unaccepted_actors_count_unmanaged_files_too():
    report = D.drift_report('h', {'deploy': ['agt-task-bridge']},
                            observed({'deploy': 'agt-task-bridge\n', 'ops': 'adm-all\n'}), actors=ACTORS)
    assert report['unaccepted_actors'] == ['atm-backup']


def test_unreadable_unmanaged_file_is_named():
    seen = observed({})
    seen['files']['mallory'] = {'path': '/p/mallory', 'exists': True, 'content': None, 'error': 'Permission denied'}
    report = D.drift_report('h', {}, seen)
    assert report['unmanaged_accounts'] == ['mallory']
    assert report['summary'] == ['h: account mallory is not managed, but has a principals file /p/mallory '
                                 '(cannot read it: Permission denied)']


@pytest.mark.parametrize('mode, file_uid, file_gid, uid, gids, ok', [
    (0o644, 0, 0, 1000, {1000}, True),
    (0o640, 0, 0, 1000, {1000}, False),
    (0o640, 0, 1000, 1000, {1000}, True),
    (0o600, 0, 0, 1000, {1000}, False),
    (0o600, 1000, 0, 1000, {1000}, True),
    (0o044, 1000, 0, 1000, {1000}, False),  # the owner class decides, as in the kernel
    (0o600, 0, 0, 0, {0}, True),
])
def test_readable_by(mode, file_uid, file_gid, uid, gids, ok):
    assert P.readable_by(mode, file_uid, file_gid, uid, gids) is ok
