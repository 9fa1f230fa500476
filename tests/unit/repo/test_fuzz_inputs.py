"""Bad input, property-based (issue 8): every public entry point either accepts what it is given
or raises the collection's own error (ValidationError / WardenError) naming the field; never a
traceback of another kind, and never a secret-looking value echoed back.

Deterministic: every property runs a fixed number of examples with ``derandomize=True`` and no
example database, so CI sees the same inputs every time. Inputs that once broke an entry point
are kept as explicit ``@example``s (see docs/reliability.md, "Bad input (fuzzing)").
"""

import base64
import copy
import datetime
import json
import math
import struct

import pytest

hypothesis = pytest.importorskip('hypothesis')
from hypothesis import HealthCheck, assume, example, given, settings, strategies as st  # noqa: E402

from ansible_collections.netkingdom.warden.plugins.module_utils._inventory import actors as A  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._signing import argspec as signing_argspec  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._gate import rules as G  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._registry import snapshot as R  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._registry import build as RB  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._registry import validate as RV  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._routing import catalog as routing  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._routing import route as routing_route  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._signing import request as signing  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao import ssh_engine  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao import ssh_engine_spec  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._openssh import certificate as sshcert  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._openssh.local_ca import LocalCA  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._openssh import keys as sshkey  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._host import accounts  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._host import principals as P  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._host import sshd_trust  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError, WardenError  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.settings import OpenBaoSettings  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._gate.gate import Gate, policy_request  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._gate.settings import GateSettings  # noqa: E402
from ansible_collections.netkingdom.warden.plugins.module_utils._audit.secret_guard import secret_kind  # noqa: E402

pytestmark = pytest.mark.reliability


def fuzz(examples):
    """Bounded, deterministic: the same inputs on every run, no example database."""
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                           HealthCheck.data_too_large])


# ------------------------------------------------------------------------------------------------
# Strategies

CONTROL = st.characters(min_codepoint=0, max_codepoint=31)
NASTY_TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.sampled_from('agtdmx-._ ,#*\t\n\r\x00\x7f\u00e9\u2028'), max_size=20),
    st.builds(lambda a, b: a + b, st.sampled_from(['adm-', 'agt-', 'atm-', 'bot-', '']),
              st.text(alphabet='abc019._-\n\t ,#*', max_size=12)),
)
NUMBERS = st.one_of(
    st.integers(min_value=-10 ** 3, max_value=10 ** 3),
    st.integers(min_value=10 ** 300, max_value=10 ** 400),
    st.floats(allow_nan=True, allow_infinity=True),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, NASTY_TEXT)
JSONISH = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(NASTY_TEXT, inner, max_size=4)),
                       max_leaves=12)
TTLS = st.one_of(SCALARS, st.sampled_from(['24', ' 8 ', '1e400', '-0', 'nan', 'inf', '0x10', '1_0', '24h']),
                 st.lists(st.integers(), max_size=2))

# Secret-looking values (the secret guard's own kinds): they must never be echoed in a message.
_ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
SECRETS = st.one_of(
    st.builds(lambda s: 'hvs.' + s, st.text(alphabet=_ALNUM, min_size=24, max_size=40)),
    st.builds(lambda s: 'ghp_' + s, st.text(alphabet=_ALNUM, min_size=36, max_size=36)),
    st.builds(lambda s: 'npm_' + s, st.text(alphabet=_ALNUM, min_size=36, max_size=36)),
    st.builds(lambda s: s, st.text(alphabet=_ALNUM + '-_', min_size=40, max_size=64)),
)


def secret_looking(value):
    return isinstance(value, str) and secret_kind(value) is not None


GOOD_ACTOR = {'type': 'agt', 'principals': ['agt-task-bridge'], 'ttl_hours': 24,
              'description': 'ops-bridge tunnel', 'subjects': ['iam:agt-state-hub-bridge']}
GOOD_ACTORS = {
    'agt-state-hub-bridge': dict(GOOD_ACTOR),
    'atm-backup-daily': {'type': 'atm', 'principals': ['atm-backup'], 'ttl_hours': 8},
    'adm-alice': {'type': 'adm', 'principals': ['alice', 'root-break-glass'], 'ttl_hours': 12},
}


def assert_names_fields(exc):
    """A ValidationError names every offending field in its message."""
    message = str(exc)
    assert exc.problems, message
    for field in exc.fields:
        assert field in message, (field, message)
    assert 'Traceback' not in message


def accepts_or_names(func, *args, **kwargs):
    """Run ``func``: it returns, or raises ValidationError naming its fields (or another
    WardenError). Any other exception fails the property. Returns (result, error)."""
    try:
        return func(*args, **kwargs), None
    except ValidationError as exc:
        assert_names_fields(exc)
        return None, exc
    except WardenError as exc:
        assert str(exc)
        return None, exc


def clean_line(value):
    """What a value that becomes one line of a host file may never hold: a control character."""
    return not any((ord(ch) < 32 and ch != '\t') or 127 <= ord(ch) < 160 or ch in '\u2028\u2029' for ch in value)


def clean_text(value):
    """What an accepted name/principal may never hold: whitespace, control characters, newlines."""
    return isinstance(value, str) and not any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value)


# ------------------------------------------------------------------------------------------------
# Actor inventory

@fuzz(300)
@given(name=NASTY_TEXT)
@example(name='agt-x\n')  # found: `$` matched before a trailing newline, the name was accepted
@example(name='agt-\u00e9')
def test_actor_names(name):
    actors, err = accepts_or_names(A.load_actors, {name: dict(GOOD_ACTOR, type=None)})
    if err is None:
        assert clean_text(name) and A.ACTOR_NAME_RE.match(name) and name.isascii(), repr(name)
    else:
        # the name is shown escaped: no invisible or look-alike character ever reaches a message raw
        assert any(f.startswith('warden_actors[%s]' % ascii(name)) for f in err.fields), err.fields
        assert str(err).isascii() and all(ch >= ' ' for ch in str(err).replace('\n', '')), str(err)


@fuzz(300)
@given(principals=st.one_of(st.lists(NASTY_TEXT, max_size=5), SCALARS, st.lists(SCALARS, max_size=3)))
def test_actor_principals(principals):
    loaded, err = accepts_or_names(A.load_actors, {'agt-x': dict(GOOD_ACTOR, principals=principals)})
    if err is None:
        got = loaded[0]['agt-x']['principals']
        assert got and all(clean_text(p) and not set(p) & set(',#*') for p in got)
        assert all(p.isascii() and p.isprintable() for p in got), got  # no invisible or look-alike letter
    else:
        assert any(".principals" in f for f in err.fields), err.fields


@fuzz(300)
@given(ttl=TTLS, actor_type=st.sampled_from(['adm', 'agt', 'atm']))
@example(ttl=10 ** 400, actor_type='agt')  # found: OverflowError (int too large to convert to float)
@example(ttl=float('nan'), actor_type='atm')
def test_ttls(ttl, actor_type):
    name = '%s-fuzz' % actor_type
    loaded, err = accepts_or_names(A.load_actors, {name: {'type': actor_type, 'principals': ['p'], 'ttl_hours': ttl}})
    if err is None:
        got = loaded[0][name]['ttl_hours']
        assert isinstance(got, (int, float)) and math.isfinite(got) and 0 < got <= A.ACTOR_TYPES[actor_type]
    else:
        assert ["warden_actors[%r].ttl_hours" % name] == err.fields, err.fields
    # the same TTL through the gate request and the signing request
    dummy, err2 = accepts_or_names(policy_request, 'agt-state-hub-bridge', actors=None, ttl_hours=ttl,
                                   pubkey_fingerprint='SHA256:x', env={})
    if err2 is not None:
        assert 'ttl_hours' in err2.fields
    known, dummy = A.load_actors(GOOD_ACTORS)
    dummy, err3 = accepts_or_names(signing.cert_request, 'user', known, 'agt-state-hub-bridge', None, ttl)
    if err3 is not None:
        assert err3.fields == ['ttl_hours']


ACTOR_FIELDS = st.dictionaries(st.one_of(st.sampled_from(A.KNOWN_FIELDS), NASTY_TEXT), JSONISH, max_size=6)


@fuzz(150)
@given(data=st.one_of(
    st.dictionaries(NASTY_TEXT, st.one_of(ACTOR_FIELDS, JSONISH), max_size=5),
    st.lists(st.one_of(st.fixed_dictionaries({'name': NASTY_TEXT}, optional={'type': SCALARS}), JSONISH),
             max_size=4),
    JSONISH,
    st.fixed_dictionaries({'actors': st.dictionaries(NASTY_TEXT, ACTOR_FIELDS, max_size=3)}),
))
@example(data={'': {'type': []}})  # found: TypeError (unhashable type) instead of "unknown actor type"
def test_whole_actor_inventories(data):
    loaded, err = accepts_or_names(A.load_actors, data)
    if err is None:
        actors = loaded[0]
        for name, actor in actors.items():
            assert clean_text(name) and actor['type'] in A.ACTOR_TYPES
            assert all(clean_text(p) for p in actor['principals'])
        # what the loader accepts the registry builder takes, and the snapshot validates
        RV.validate_snapshot(RB.build_snapshot(actors))
    else:
        assert all(f.startswith('warden_actors') for f in err.fields), err.fields


@fuzz(150)
@given(text=st.one_of(st.text(max_size=200), st.sampled_from([
    'actors:\n  agt-x: {type: agt, principals: [a]}\n  agt-x: {type: agt, principals: [b]}\n',
    'agt-x: {type: agt, principals: [a], ttl_hours: .inf}\n', '- [', '{a: !!python/object:os.system x}',
    'agt-x: {type: agt, principals: [a], ttl_hours: 1e400}\n'])))
@example(text='agt-x: {type: agt, principals: [a], ttl_hours: %s}\n' % ('9' * 5000))  # found: ValueError (int digits)
def test_actor_inventory_yaml_text(text, tmp_path_factory):
    path = tmp_path_factory.getbasetemp() / 'fuzz-inventory.yml'
    path.write_text(text)
    dummy, err = accepts_or_names(A.load_inventory_file, str(path))
    if err is not None:
        assert all(f.startswith(str(path)) for f in err.fields), err.fields


# ------------------------------------------------------------------------------------------------
# Registry snapshots

BASE_SNAPSHOT = RB.build_snapshot(A.load_actors(GOOD_ACTORS)[0])


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key in sorted(node):
            yield from _paths(node[key], prefix + (key,))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _paths(item, prefix + (index,))


SNAPSHOT_PATHS = [p for p in _paths(BASE_SNAPSHOT) if p]


def _mutate(snapshot, path, how, value):
    parent = snapshot
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if how == 'delete':
        del parent[last]
    elif how == 'replace':
        parent[last] = value
    elif how == 'duplicate' and isinstance(parent, list):
        parent.append(copy.deepcopy(parent[last]))
    elif how == 'wrap':
        parent[last] = [parent[last]]
    return snapshot


@fuzz(300)
@given(path=st.sampled_from(SNAPSHOT_PATHS), how=st.sampled_from(['delete', 'replace', 'duplicate', 'wrap']),
       value=JSONISH, redigest=st.booleans())
@example(path=('subject_manifests', 0, 'subjects', 2, 'type'), how='wrap', value=None, redigest=False)
@example(path=('subject_manifests', 0, 'subjects', 2, 'groups'), how='replace', value=5, redigest=False)
@example(path=('subject_manifests', 0, 'groups', 1, 'members'), how='wrap', value=None, redigest=True)
@example(path=('resource_manifests', 0, 'resources', 0, 'metadata', 'tenant'), how='wrap', value=None,
         redigest=False)
@example(path=('resource_manifests', 0, 'resources', 0, 'metadata', 'actor'), how='wrap', value=None,
         redigest=False)
@example(path=('resource_manifests', 0, 'system'), how='wrap', value=None, redigest=True)
@example(path=('schema',), how='replace', value='netkingdom.warden/registry-snapshot/v1', redigest=True)
@example(path=('relationships', 2, 'resource'), how='wrap', value=None, redigest=False)
def test_mutated_registry_snapshots(path, how, value, redigest):
    snapshot = _mutate(copy.deepcopy(BASE_SNAPSHOT), path, how, value)
    if redigest:  # a hand-edited file whose digest was "fixed" too: the content checks must catch it
        snapshot['digest'] = R.compute_digest(snapshot)
    ok, err = accepts_or_names(RV.validate_snapshot, snapshot)
    if err is None:
        # accepted: the evaluator can index it and decide a request without crashing
        index = R.RegistryIndex(ok)
        request = G.build_request('agt-state-hub-bridge', 'agt', ['agt-task-bridge'], 24, 'SHA256:x')
        assert G.evaluate(request, index)['effect'] in ('allow', 'deny')
    else:
        assert err.what == 'registry snapshot'
    # the file form too: the parser names the source on bad JSON, the field otherwise
    dummy, err2 = accepts_or_names(RV.parse_snapshot_text, R.canonical_json(snapshot)[:len(str(path)) * 7])
    assert err2 is None or err2.fields


@fuzz(150)
@given(snapshot=JSONISH)
def test_random_registry_snapshots(snapshot):
    accepts_or_names(RV.validate_snapshot, snapshot)


@fuzz(150)
@given(lanes=st.one_of(JSONISH, st.lists(st.dictionaries(
    st.sampled_from(['policy_ref', 'need_id', 'owner_repo', 'lane', 'allowed_subjects', 'x']),
    st.one_of(SCALARS, st.lists(NASTY_TEXT, max_size=3)), max_size=5), max_size=3)),
    tenant=st.one_of(st.just('tenant:platform'), SCALARS))
@example(lanes=[{'policy_ref': 'credential-lane:x', 'need_id': 'n', 'owner_repo': 'o', 'lane': 'secret',
                 'allowed_subjects': ['iam:a\n']}], tenant='tenant:platform')  # found: trailing newline accepted
def test_registry_build_with_lanes(lanes, tenant):
    known = A.load_actors(GOOD_ACTORS)[0]
    if not isinstance(lanes, (list, tuple)) and lanes is not None:
        lanes = [lanes]
    snapshot, err = accepts_or_names(RB.build_snapshot, known, tenant=tenant, credential_lanes=lanes)
    if err is None:
        RV.validate_snapshot(snapshot)
        for res in R.iter_resources(snapshot):
            for subject in res['metadata'].get('allowed_subjects', []):
                assert clean_text(subject), repr(subject)
    else:
        assert all(f == 'tenant' or f.startswith('credential_lanes[') for f in err.fields), err.fields


# ------------------------------------------------------------------------------------------------
# Routing catalog

TODAY = datetime.date(2026, 11, 26)
GOOD_ENTRY = {
    'id': 'npm-publish-token', 'title': 'npm publish token', 'need_keywords': ['npm publish', 'npm token'],
    'owner_repo': 'coulomb_social', 'subsystem': 'openbao', 'lane': 'secret', 'auth_method': 'token',
    'path_template': 'secret/data/<domain>/npm', 'fetch_command': 'bao kv get -field=<field> secret/<domain>/<path>',
    'exec_capable': True, 'policy_ref': 'credential-lane:npm-publish-token', 'wiki_ref': 'wiki:npm',
    'reviewed': '2026-11-01', 'status': 'active',
}


@fuzz(300)
@given(field=st.sampled_from(sorted(routing.ALL_FIELDS) + ['bogus']), value=st.one_of(JSONISH, SECRETS),
       where=st.sampled_from(['entries', 'routes', 'bare']))
@example(field='id', value='npm-publish-token\n', where='entries')  # found: `$` before a trailing newline
def test_mutated_catalog_entries(field, value, where):
    entry = dict(GOOD_ENTRY)
    entry[field] = value
    data = {'entries': [entry]} if where == 'entries' else {'routes': [entry]} if where == 'routes' else [entry]
    catalog, err = accepts_or_names(routing.validate_catalog, data, today=TODAY)
    if err is None:
        got = catalog.entries[0]
        assert clean_text(got['id']) and routing.ID_RE.match(got['id'])
        routing_route.route_for(got, {'domain': 'x', 'field': 'F', 'path': 'p'})
    else:
        assert all(f.startswith(('entries[0]', 'routes[0]', '[0]')) or f == routing.WHAT for f in err.fields), \
            err.fields
    if secret_looking(value) and err is not None:
        assert value not in str(err)


@fuzz(150)
@given(data=JSONISH)
def test_random_catalogs(data):
    accepts_or_names(routing.validate_catalog, data, today=TODAY)


@fuzz(300)
@given(domain=st.one_of(NASTY_TEXT, SECRETS, SCALARS), extra=st.dictionaries(NASTY_TEXT, SCALARS, max_size=3))
@example(domain='coulomb_social\n', extra={})  # found: a trailing newline passed into the shell command
@example(domain='coulomb_social; rm -rf /', extra={})
def test_placeholder_values(domain, extra):
    """Placeholder values end up in a shell command: accepted ones are plain, secrets never echoed."""
    values, err = accepts_or_names(routing_route.placeholder_values, domain=domain, field='NPM_AUTH_TOKEN', path='npm',
                                   placeholders=extra)
    if err is None:
        for value in values.values():
            assert clean_text(value) and not set(value) & set(';|&$`\'"<>(){}[]*?!~')
            assert routing_route.VALUE_RE.match(value)
    else:
        assert all(f in ('domain', 'placeholders') or f.startswith('placeholders.') for f in err.fields), err.fields
        if secret_looking(domain):
            assert domain not in str(err)


# ------------------------------------------------------------------------------------------------
# Values that become lines of host files or parts of an ssh command line (issue 14: 2, 7, 11)

# A character that would end a line, start another one or hide in one, put anywhere in a value.
LINE_BREAKERS = st.sampled_from(['\n', '\r', '\r\n', '\x0b', '\x0c', '\x00', '\x1b', '\x85', '\u2028',
                                 '\u2029', '\u200b', '\u043e', '\t', ' '])


def _insert(value, position, extra):
    position = position % (len(value) + 1)
    return value[:position] + extra + value[position:]


@fuzz(300)
@given(base=st.sampled_from(['agt-task-bridge', 'root', 'ops', 'p']), extra=st.lists(LINE_BREAKERS, max_size=2),
       position=st.integers(0, 40), junk=NASTY_TEXT)
@example(base='root', extra=['\u043e'], position=1, junk='')  # Cyrillic o: looks like root
@example(base='ops', extra=['\u200b'], position=3, junk='root')  # ops<zero-width space>root
def test_principals_and_accounts_are_printable_ascii(base, extra, position, junk):
    value = _insert(base, position, ''.join(extra)) + junk
    for check, field in ((P.validate_principals, 'principals[0]'), (P.validate_principals_map, None)):
        data = [value] if field else {value: ['agt-task-bridge']}
        result, err = accepts_or_names(check, data)
        if err is None:
            accepted = result[0] if field else list(result)[0]
            assert accepted.isascii() and accepted.isprintable() and ' ' not in accepted, ascii(accepted)
            assert not accepted.startswith('-') or field, ascii(accepted)
        else:
            # the offending character is shown as an escape: the message is printable ASCII
            assert str(err).replace('\n', '').isascii() and str(err).replace('\n', '').isprintable(), ascii(str(err))


@fuzz(300)
@given(value=st.one_of(NASTY_TEXT, st.builds(lambda t: '-o' + t, NASTY_TEXT),
                       st.sampled_from(['-oProxyCommand=touch /tmp/x', 'svc -oProxyCommand=x', '--', '-',
                                        '127.0.0.1', '::1', 'host1.fleet.test', 'a@b', 'x\n-oX'])))
def test_ssh_destinations_can_never_be_read_as_an_option(value):
    """login_probe's account and address: accepted ones are plain names (finding 14.2)."""
    for problem in (accounts.account_problem, accounts.address_problem):
        why = problem(value)
        if why is None:
            assert not value.startswith('-') and value.isascii() and value.isprintable(), ascii(value)
            assert not any(ch.isspace() for ch in value) and '=' not in value, ascii(value)
        else:
            assert why.isascii(), ascii(why)


KEY_LINE = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHGBMSa2mWbhr4eZZ8vZ0+qCcXjtyq7Jzq2DZAaqxyXw'
CA_KEY_LINE = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl'


@fuzz(400)
@given(field=st.sampled_from(['revoked_keys', 'ca_keys', 'principals', 'revoked_serials', 'ca_path']),
       extra=st.lists(LINE_BREAKERS, min_size=1, max_size=2), position=st.integers(0, 120),
       tail=st.sampled_from(['', 'serial: 1-18446744073709551615', 'ssh-ed25519 AAAA', 'evil']))
@example(field='revoked_keys', extra=['\n'], position=200, tail='serial: 1-18446744073709551615')
@example(field='ca_keys', extra=['\r'], position=200, tail=CA_KEY_LINE)
def test_every_line_a_host_file_gets_is_one_checked_value(field, extra, position, tail):
    """A line break (or any control character) in any value that becomes a line of a host file is refused
    naming the field; what is accepted adds exactly the lines it should (finding 14.7)."""
    good = {'revoked_keys': KEY_LINE + ' comment', 'ca_keys': CA_KEY_LINE + ' ca', 'principals': 'agt-task-bridge',
            'revoked_serials': '12', 'ca_path': '/etc/ssh/ca/ca_user.pub'}[field]
    value = _insert(good, position, ''.join(extra) + tail)
    args = {'ca_keys': [CA_KEY_LINE], 'ca_path': '/etc/ssh/ca/ca_user.pub', 'principals': {'ops': ['a']},
            'principals_dir': '/etc/ssh/auth_principals', 'exclusive': True,
            'dropin': '/etc/ssh/sshd_config.d/20-netkingdom-warden.conf', 'dropin_content': None,
            'sshd_config': '/etc/ssh/sshd_config', 'revoked_serials': [], 'revoked_keys': [],
            'krl_path': '/etc/ssh/revoked_keys', 'host_keys': []}
    if field == 'principals':
        args['principals'] = {'ops': [value]}
    elif field == 'ca_path':
        args['ca_path'] = value
    else:
        args[field] = [value]
    principals, err = accepts_or_names(sshd_trust.validate_trust_options, args)
    if err is not None:
        assert any(f.startswith(field) for f in err.fields), (field, err.fields)
        return
    plan = sshd_trust.plan_trust(args, principals, {args['sshd_config']: {'content': 'Port 22\n'}})
    files = dict((c['kind'], c['after']) for c in plan['changes'])
    for kind, text in files.items():
        body = text.split('\n')
        assert body[-1] == '' and clean_line(text.replace('\n', '')), (kind, ascii(text))
    assert len(files['ca'].split('\n')) - 1 == (1 if field != 'ca_keys' else len(value.split('\n')))
    assert files['principals'].split('\n')[1:-1] == principals['ops']
    if 'krl_spec' in files:
        lines = files['krl_spec'].split('\n')[:-1]
        assert len(lines) == len(args['revoked_serials']) + len(args['revoked_keys']), ascii(files['krl_spec'])
        assert all(line.startswith('serial: ') or len(line.split()) == 2 for line in lines), ascii(files['krl_spec'])


# ------------------------------------------------------------------------------------------------
# OpenSSH public keys and certificates

def _ed25519_line():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519
    key = ed25519.Ed25519PrivateKey.generate()
    return key, key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                              serialization.PublicFormat.OpenSSH).decode('ascii')


CA_KEY, CA_LINE = _ed25519_line()
USER_KEY, USER_LINE = _ed25519_line()
CA = LocalCA(CA_KEY)
CERT_LINE = CA.sign(USER_LINE, 'user', ['agt-task-bridge'], 'warden:fuzz', 0, 2 ** 64 - 1)
GOOD_BLOB = base64.b64decode(USER_LINE.split()[1])
CERT_BLOB = base64.b64decode(CERT_LINE.split()[1])


@fuzz(300)
@given(how=st.sampled_from(['valid', 'truncate', 'wrong_type', 'garbage_b64', 'random_blob', 'text']),
       cut=st.integers(min_value=0, max_value=80), key_type=st.sampled_from(list(sshkey.KEY_TYPES) + ['ssh-dss', 'x']),
       junk=st.text(max_size=60), blob=st.binary(max_size=80), comment=st.text(max_size=20))
def test_public_keys(how, cut, key_type, junk, blob, comment):
    b64 = USER_LINE.split()[1]
    line = {
        'valid': USER_LINE + (' ' + comment if comment.strip() else ''),
        'truncate': 'ssh-ed25519 ' + b64[:cut],
        'wrong_type': key_type + ' ' + b64,
        'garbage_b64': 'ssh-ed25519 ' + junk,
        'random_blob': key_type + ' ' + base64.b64encode(blob).decode('ascii'),
        'text': junk,
    }[how]
    parsed, err = accepts_or_names(sshkey.parse_public_key, line)
    if how == 'valid' and clean_line(line):
        assert err is None and parsed[1] == GOOD_BLOB
    if err is None:  # what is accepted is one line of a file, with no character that splits it
        assert clean_line(line.strip()), ascii(line)
    if err is not None:
        assert err.fields == ['public_key']
    dummy, err2 = accepts_or_names(signing.plain_public_key, line, field='ssh_cert.public_key')
    assert err2 is None or err2.fields == ['ssh_cert.public_key']


@fuzz(300)
@given(how=st.sampled_from(['flip', 'truncate', 'insert', 'retype', 'garbage', 'valid']),
       pos=st.integers(min_value=0, max_value=len(CERT_BLOB)), data=st.binary(min_size=1, max_size=8),
       junk=st.text(max_size=80))
@example(how='flip', pos=4 + len(b'ssh-ed25519-cert-v01@openssh.com') + 36, data=b'\xff', junk='')
def test_certificate_blobs(how, pos, data, junk):
    blob = bytearray(CERT_BLOB)
    line_type = 'ssh-ed25519-cert-v01@openssh.com'
    if how == 'flip' and pos < len(blob):
        for offset, byte in enumerate(data):
            if pos + offset < len(blob):
                blob[pos + offset] ^= byte
    elif how == 'truncate':
        blob = blob[:pos]
    elif how == 'insert':
        blob[pos:pos] = data
    elif how == 'retype':
        line_type = 'ecdsa-sha2-nistp256-cert-v01@openssh.com'
    text = '%s %s' % (line_type, base64.b64encode(bytes(blob)).decode('ascii'))
    if how == 'garbage':
        text = junk
    parsed, err = accepts_or_names(sshcert.parse_certificate, text)
    if how == 'valid':
        assert err is None and parsed['principals'] == ['agt-task-bridge']
    if err is not None:
        assert err.fields == ['certificate']
    if parsed is not None:  # an accepted certificate goes through the renewal decision cleanly
        reason = sshcert.renewal_reason(parsed, sshkey.fingerprint(USER_LINE), 'user', ['agt-task-bridge'],
                                        [CA.fingerprint], 1000.0)
        assert reason in sshcert.RENEWAL_REASONS


# ------------------------------------------------------------------------------------------------
# Gate requests and the embedded evaluator

INDEX = R.RegistryIndex(BASE_SNAPSHOT)
GOOD_REQUEST = G.build_request('agt-state-hub-bridge', 'agt', ['agt-task-bridge'], 24, 'SHA256:abc')


@fuzz(250)
@given(path=st.sampled_from([('subject',), ('subject', 'id'), ('subject', 'type'), ('tenant',), ('action',),
                             ('resource',), ('resource', 'id'), ('resource', 'type'), ('resource', 'system'),
                             ('context',), ('context', 'principals'), ('context', 'ttl_hours'),
                             ('context', 'actor_type'), ('context', 'pubkey_fingerprint'), ('request_id',)]),
       how=st.sampled_from(['replace', 'delete']), value=JSONISH, whole=st.one_of(st.none(), JSONISH))
def test_gate_requests(path, how, value, whole):
    request = copy.deepcopy(GOOD_REQUEST)
    parent = request
    for key in path[:-1]:
        parent = parent[key]
    if how == 'delete':
        parent.pop(path[-1], None)
    else:
        parent[path[-1]] = value
    for body in (request, whole):
        envelope, err = accepts_or_names(G.evaluate, body, INDEX)
        if err is None:
            assert envelope['effect'] in ('allow', 'deny') and envelope['id'].startswith('decision:')
            if envelope['effect'] == 'allow':
                assert body['context']['ttl_hours'] <= 24 and body['context']['principals']
            G.envelope_to_decision(envelope, 'embedded')
        else:
            assert err.fields == ['request']


@fuzz(200)
@given(envelope=st.one_of(JSONISH, st.fixed_dictionaries(
    {'effect': st.sampled_from(['allow', 'deny', 'x'])},
    optional={'id': SCALARS, 'reason': SCALARS, 'request_id': SCALARS})))
def test_remote_envelopes(envelope):
    """A remote PDP's answer: a usable decision or ValueError (turned into policy_unavailable)."""
    try:
        decision = G.envelope_to_decision(envelope, 'flex_auth')
    except ValueError:
        return
    assert decision.effect in ('allow', 'deny')
    assert not decision.allowed or decision.decision_id


@fuzz(300)
@given(actor=NASTY_TEXT, principals=st.one_of(st.none(), st.lists(NASTY_TEXT, max_size=3), SCALARS), ttl=TTLS,
       public_key=st.one_of(st.none(), st.just(USER_LINE), NASTY_TEXT), subject=st.one_of(st.none(), NASTY_TEXT))
@example(actor='agt-state-hub-bridge\n', principals=None, ttl=None, public_key=None, subject=None)
def test_policy_requests_through_the_gate(actor, principals, ttl, public_key, subject):
    known = A.load_actors(GOOD_ACTORS)[0]
    settings_ = GateSettings({'mode': 'embedded'}, env={})
    request, err = accepts_or_names(policy_request, actor, actors=known, principals=principals, ttl_hours=ttl,
                                    public_key=public_key, subject=subject, settings=settings_, env={})
    if err is not None:
        assert set(err.fields) <= {'actor', 'principals', 'ttl_hours', 'public_key'}, err.fields
        return
    assert clean_text(actor)
    decision = Gate(settings_, known).check(request)
    assert decision.effect in ('allow', 'deny')


# ------------------------------------------------------------------------------------------------
# Option parsing: gate settings, OpenBao settings, durations

POLICY_VALUES = st.one_of(SCALARS, SECRETS, st.sampled_from(['10s', '1e400', 'inf', '-1', 'nan', 'yes', 'maybe',
                                                             'http://127.0.0.1:1', 'flex_auth', 'embedded']))


@fuzz(300)
@given(options=st.dictionaries(st.sampled_from(['mode', 'url', 'fail_closed', 'tenant', 'token', 'timeout',
                                                'retries', 'validate_certs', 'client_key', 'bogus']),
                               POLICY_VALUES, max_size=4),
       env=st.dictionaries(st.sampled_from(['WARDEN_POLICY_TIMEOUT', 'WARDEN_POLICY_RETRIES',
                                            'WARDEN_POLICY_FAIL_CLOSED', 'WARDEN_POLICY_MODE']),
                           st.one_of(NASTY_TEXT, st.sampled_from(['inf', '1e400', 'nan', '-0'])), max_size=2))
@example(options={'retries': float('inf')}, env={})  # found: OverflowError from int(inf)
@example(options={'timeout': float('nan')}, env={})  # found: a NaN timeout was accepted
@example(options={}, env={'WARDEN_POLICY_RETRIES': '1e400'})
@example(options={}, env={'WARDEN_POLICY_RETRIES': '9' * 400})
def test_gate_settings(options, env):
    gate_settings, err = accepts_or_names(GateSettings, options, env=env)
    if err is None:
        assert math.isfinite(gate_settings.timeout) and gate_settings.timeout > 0
        assert isinstance(gate_settings.retries, int) and gate_settings.retries >= 0
    else:
        assert all(f.startswith('policy.') for f in err.fields), err.fields
        token = options.get('token')
        # the token is never shown; a non-secret option or variable is shown as given, even when it
        # holds the same text (as in test_openbao_settings)
        shown = [v for k, v in options.items() if k != 'token'] + list(env.values())
        if secret_looking(token) and token not in shown:
            assert token not in str(err)


OPENBAO_KEYS = ['url', 'auth_method', 'token', 'role_id', 'secret_id', 'jwt', 'password', 'timeout', 'retries',
                'mount', 'namespace', 'role_map', 'host_role', 'validate_certs', 'bogus']


@fuzz(300)
@given(options=st.dictionaries(st.sampled_from(OPENBAO_KEYS), st.one_of(POLICY_VALUES, JSONISH), max_size=5),
       secret=SECRETS)
@example(options={'mount': 'ssh\n'}, secret='hvs.' + 'A' * 24)  # found: `$` before a trailing newline
@example(options={'retries': float('inf')}, secret='hvs.' + 'B' * 24)
def test_openbao_settings(options, secret):
    options = dict(options)
    options.setdefault('url', 'http://127.0.0.1:8200')
    for name in ('token', 'secret_id', 'jwt', 'password'):
        if name in options and not isinstance(options[name], str):
            continue
        if name in options:
            options[name] = secret  # a secret option holding a real-looking secret
    ob_settings, err = accepts_or_names(OpenBaoSettings, options, env={})
    if err is None:
        assert math.isfinite(ob_settings.timeout) and ob_settings.timeout > 0
        for name in ('mount', 'namespace', 'host_role'):
            value = getattr(ob_settings, name)
            assert value is None or clean_text(value), (name, value)
    else:
        assert all(f.startswith('openbao.') for f in err.fields), err.fields
        if not any(v == secret for k, v in options.items() if k not in ('token', 'secret_id', 'jwt', 'password')):
            # a secret option's value is never shown (a non-secret option is shown as given)
            assert secret not in str(err)
            assert secret not in repr(err.problems)


DURATIONS = st.one_of(SCALARS, st.sampled_from(['90m', '12h', '2d', '1h30m', '1e400', '9' * 400, '.5h', '24 h',
                                                '-1h', 'inf', '0', '0s']),
                      st.builds(lambda n, u: '%s%s' % (n, u), NUMBERS, st.sampled_from(['', 's', 'm', 'h', 'd'])))


@fuzz(300)
@given(value=DURATIONS)
@example(value=float('inf'))  # found: OverflowError from int(inf) in ssh_engine.duration_seconds
@example(value='9' * 400)  # found: renew_before parsed as infinite seconds
@example(value=10 ** 400)  # found: OverflowError (int too large for a float) in openbao/ssh_engine durations
@example(value=1e305)  # found: OverflowError in ssh_engine hours -> seconds (max_ttl_hours)
def test_duration_strings(value):
    seconds, err = accepts_or_names(signing_argspec.parse_renew_before, value)
    if err is None:
        assert seconds is None or (math.isfinite(seconds) and seconds >= 0)
    else:
        assert err.fields == ['renew_before']
    dummy, err = accepts_or_names(OpenBaoSettings, {'url': 'http://127.0.0.1:1', 'timeout': value}, env={},
                                  require_auth=False)
    if err is not None:
        assert err.fields == ['openbao.timeout']
    try:
        whole = ssh_engine.duration_seconds(value)
    except ValueError:
        pass  # the documented refusal; build_spec turns it into a ValidationError below
    else:
        assert isinstance(whole, int) and whole >= 0
    base = OpenBaoSettings({'url': 'http://127.0.0.1:1'}, env={}, require_auth=False)
    dummy, err = accepts_or_names(ssh_engine_spec.build_spec, {'roles': {'agt-role': {'ttl': value}}}, base)
    if err is not None:
        assert all(f.startswith('roles.agt-role') for f in err.fields), err.fields
    dummy, err = accepts_or_names(ssh_engine_spec.build_spec, {'max_ttl_hours': {'atm': value}}, base)
    if err is not None:
        assert err.fields == ['max_ttl_hours.atm'], err.fields


# ------------------------------------------------------------------------------------------------
# The audit record guard: secret-looking values are refused by field and kind, never echoed

@fuzz(200)
@given(field=st.sampled_from(['actor', 'reason', 'key_id', 'subject', 'host', 'principals']), secret=SECRETS)
def test_audit_never_echoes_secrets(field, secret, tmp_path_factory):
    from ansible_collections.netkingdom.warden.plugins.module_utils._audit.log import AuditLog
    log = AuditLog(str(tmp_path_factory.getbasetemp() / 'fuzz-audit.jsonl'))
    value = [secret] if field == 'principals' else secret
    assume(secret_looking(secret))
    try:
        log.check(kind='sign', outcome='signed', **{field: value})
    except WardenError as exc:
        assert secret not in str(exc) and field in str(exc)
    else:  # pragma: no cover - the guard must refuse it
        pytest.fail('secret-looking %s accepted' % field)


def test_examples_are_json_safe():
    """The fixtures above are themselves plain data (a sanity check on the harness)."""
    json.dumps(BASE_SNAPSHOT)
    assert struct.unpack('>I', GOOD_BLOB[:4])[0] == len('ssh-ed25519')
