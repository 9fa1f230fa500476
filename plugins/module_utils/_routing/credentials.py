# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fetch a credential as the caller: route, gate, read (OpenBao KV v2), audit; keep nothing.

The transparent-conduit model of ops-warden's Operator Access Assist, with its guardrails:

- **G1 caller identity, never the collection's**: the read uses the caller's own OpenBao token
  (``BAO_TOKEN``, then ``VAULT_TOKEN``, then ``~/.vault-token`` of the controller user). No token
  the collection is configured with (``openbao.token``, ``warden_openbao``) is ever used, and
  without a caller token the fetch is refused with the pointer to the login lane. A caller token
  that *is* the signer's (the same value as ``WARDEN_OPENBAO_TOKEN``, ``openbao.token`` or the
  variable ``openbao.token_env`` names) is refused too: that is the collection's identity wearing
  the caller's variable (an AWX job whose signing credential injects ``BAO_TOKEN``).
- **G2 transit only**: the value is returned once to the caller and kept nowhere: no cache, no
  file, no log, no audit field. The audit record is metadata only (who, which need, owner,
  domain, decision id, outcome).
- **G3 policy gate before every fetch**: action ``read`` on the lane's ``policy_ref`` (resource
  type ``credential-lane``), embedded or flex-auth. A deny or an unavailable PDP fetches nothing,
  whatever ``policy.fail_closed`` says (that switch only ever lets signing through). With
  ``policy.mode: off`` the fetch is refused unless ``allow_ungated`` acknowledges it.

Login lanes are never run: a lookup is a non-interactive run, so it refuses and hands back the
auth pointer (the command to run yourself).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import getpass
import hashlib
import hmac
import os
import shlex

from ansible_collections.netkingdom.warden.plugins.module_utils._inventory.actors import ACTOR_NAME_RE
from ansible_collections.netkingdom.warden.plugins.module_utils._audit.log import AuditLog
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError, WardenError
from ansible_collections.netkingdom.warden.plugins.module_utils._gate.rules import UNAVAILABLE, build_credential_request
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.kv import KvReader
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.settings import OPENBAO, OpenBaoSettings
from ansible_collections.netkingdom.warden.plugins.module_utils._gate.gate import Gate
from ansible_collections.netkingdom.warden.plugins.module_utils._gate.settings import SUBJECT_ENV, GateSettings
from ansible_collections.netkingdom.warden.plugins.module_utils._routing.catalog import credential_lanes, login_pointer
from ansible_collections.netkingdom.warden.plugins.module_utils._routing.match import find
from ansible_collections.netkingdom.warden.plugins.module_utils._routing.route import is_kv_command, placeholder_values, route_for
from ansible_collections.netkingdom.warden.plugins.module_utils._audit.secret_guard import secret_kind

TOKEN_ENV = ('BAO_TOKEN', 'VAULT_TOKEN')
SIGNER_TOKEN_ENV = OPENBAO.env_names('token')[0]  # the collection's signing token (read before BAO_TOKEN)
AUTH_METHOD_ENV = OPENBAO.env_names('auth_method')[0]  # how the signer logs in (set by the AWX credential type)
TOKEN_FILE = '.vault-token'
# The only environment the OpenBao connection may take from the controller: where and how to
# connect, never who (no token, role id, secret id, password or JWT variables).
CONNECTION_OPTIONS = ('url', 'namespace', 'ca_cert', 'validate_certs', 'timeout', 'retries', 'allow_insecure_http')
CONNECTION_ENV = tuple(name for option in CONNECTION_OPTIONS for name in OPENBAO.env_names(option))
LOGIN_LANE_CHOICES = ('fail', 'pointer')
KV_FLAGS = ('mount', 'field', 'version', 'namespace')


class CredentialRefused(WardenError):
    """Nothing was fetched. ``outcome`` (refused/denied/failed), ``reason`` and the ``route``."""

    def __init__(self, message, outcome='refused', reason=None, route=None, decision=None):
        super(CredentialRefused, self).__init__(message)
        self.outcome = outcome
        self.reason = reason
        self.route = route
        self.decision = decision


def caller_token(env=None, home=None):
    """``(token, source)`` of the caller's own OpenBao identity, or ``(None, None)``.

    ``BAO_TOKEN``, then ``VAULT_TOKEN``, then the token helper file ``~/.vault-token`` that
    ``bao login`` / ``vault login`` write (the seed's order).
    """
    env = os.environ if env is None else env
    for name in TOKEN_ENV:
        value = (env.get(name) or '').strip()
        if value:
            return value, name
    home = home or env.get('HOME') or os.path.expanduser('~')
    path = os.path.join(home, TOKEN_FILE)
    try:
        with open(path) as handle:
            value = handle.read().strip()
    except (IOError, OSError):
        return None, None
    if value:
        return value, '~/%s' % TOKEN_FILE
    return None, None


def signer_token_sources(signer=None, env=None):
    """``[(source, token)]``: where the collection's own signing token is, as far as the controller can tell.

    ``WARDEN_OPENBAO_TOKEN``, the ``openbao.token`` option the play gives the signer (``signer``, the
    ``warden_openbao`` options), and the variable ``openbao.token_env`` names, unless that variable is one
    of the caller's own (``BAO_TOKEN``, ``VAULT_TOKEN``: then the signer signs as the caller, as ops-warden
    does on a workstation). And one more: ``WARDEN_OPENBAO_AUTH_METHOD=token`` with none of those says the
    environment configures the signer (an AWX credential type imported before the signing token had its
    own variable injects exactly that, with the token in ``BAO_TOKEN``): the token it reads is the signer's.
    """
    env = os.environ if env is None else env
    signer = signer or {}
    found = []
    names = [SIGNER_TOKEN_ENV]
    token_env = signer.get('token_env')
    if isinstance(token_env, str) and token_env and token_env not in TOKEN_ENV + (SIGNER_TOKEN_ENV,):
        names.append(token_env)
    for name in names:
        value = (env.get(name) or '').strip()
        if value:
            found.append((name, value))
    if isinstance(signer.get('token'), str) and signer['token'].strip():
        found.append(('openbao.token (warden_openbao)', signer['token'].strip()))
    if not found and (env.get(AUTH_METHOD_ENV) or '').strip().lower() == 'token' \
            and not (signer.get('auth_method') or '').strip():
        for name in TOKEN_ENV:
            value = (env.get(name) or '').strip()
            if value:
                found.append(('%s, which the signer reads with %s=token' % (name, AUTH_METHOD_ENV), value))
                break
    return found


def same_token(one, other):
    """Constant-time comparison of two tokens (of their digests: the lengths do not leak either)."""
    return hmac.compare_digest(hashlib.sha256(one.encode('utf-8')).digest(),
                               hashlib.sha256(other.encode('utf-8')).digest())


def parse_kv_command(command):
    """``{'mount', 'path', 'field', 'version', 'namespace'}`` of a resolved ``bao kv get`` / ``vault kv get``.

    The subset the collection runs itself: ``-mount=M`` (else the first path segment is the
    mount, as the CLI does), ``-field=F`` (required: one value), ``-version=N``,
    ``-namespace=NS``, and exactly one secret path. Anything else is refused, not guessed.
    """
    if not is_kv_command(command):
        raise ValidationError([('fetch_command', 'is not an OpenBao KV read (bao kv get / vault kv get): the '
                                'collection fetches only OpenBao KV version 2 lanes; run the command yourself')],
                              what='credential fetch')
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise ValidationError([('fetch_command', 'cannot be split into arguments: %s' % exc)], what='credential fetch')
    flags = {}
    positional = []
    args = argv[3:]
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if arg.startswith('-') and len(arg) > 1:
            name, sep, value = arg.lstrip('-').partition('=')
            if name not in KV_FLAGS:
                raise ValidationError([('fetch_command', 'has the flag -%s, which the collection does not run '
                                        '(it runs -mount, -field, -version, -namespace); run the command yourself'
                                        % name)], what='credential fetch')
            if not sep:
                if index >= len(args):
                    raise ValidationError([('fetch_command', '-%s needs a value' % name)], what='credential fetch')
                value = args[index]
                index += 1
            flags[name] = value
        else:
            positional.append(arg)
    if len(positional) != 1:
        raise ValidationError([('fetch_command', 'must name exactly one secret path, got %d' % len(positional))],
                              what='credential fetch')
    path = positional[0].strip('/')
    mount = (flags.get('mount') or '').strip('/')
    if not mount:
        mount, dummy, path = path.partition('/')
    if not flags.get('field'):
        raise ValidationError([('fetch_command', 'needs -field=<field>: the collection returns one value')],
                              what='credential fetch')
    version = flags.get('version')
    if version is not None:
        try:
            version = int(version)
        except ValueError:
            raise ValidationError([('fetch_command', '-version must be a whole number, got %r' % version)],
                                  what='credential fetch')
    return {'mount': mount, 'path': path, 'field': flags['field'], 'version': version,
            'namespace': flags.get('namespace')}


def _check_path_template(route, kv):
    """The catalog's path_template, when given, must name the secret the command reads."""
    path = route.get('path')
    if not path:
        return
    wanted = ('%s/data/%s' % (kv['mount'], kv['path']), '%s/%s' % (kv['mount'], kv['path']))
    if path.strip('/') not in wanted:
        raise ValidationError([('path_template', 'resolves to %s but the fetch_command reads %s: the catalog '
                                'entry %s contradicts itself; fix it with its owner %s'
                                % (path, wanted[0], route['id'], route['owner_repo']))], what='credential fetch')


def default_subject(subject=None, env=None, subject_env=None):
    """The gate's subject: ``subject``, else the variable ``subject_env`` names (``WARDEN_POLICY_SUBJECT``),
    else the controller login name."""
    env = os.environ if env is None else env
    subject_env = subject_env or SUBJECT_ENV
    if subject:
        return subject
    if env.get(subject_env):
        return env[subject_env]
    try:
        return getpass.getuser()
    except (KeyError, OSError, ImportError):  # no passwd entry for the uid
        return 'uid:%d' % os.getuid()


def subject_type_of(subject, subject_type=None):
    """The gate subject type: ``subject_type`` when given, else the actor type prefix of an actor name, else ``user``."""
    if subject_type:
        return subject_type
    return subject.split('-', 1)[0] if ACTOR_NAME_RE.match(subject or '') else 'user'


def _connection(options, env):
    """OpenBaoSettings for the caller's token: connection options and connection env only."""
    return dict((k, options.get(k)) for k in CONNECTION_OPTIONS if options.get(k) is not None), \
        dict((k, env[k]) for k in CONNECTION_ENV if env.get(k) not in (None, ''))


class CredentialFetcher(object):
    """One fetch as the caller. ``fetch(need)`` returns the value (never stored here).

    ``params``: catalog (a routing.Catalog), values (placeholder values), subject, subject_type,
    policy (gate options), access ({entry id: [subjects]}), allow_ungated, login_lane
    (fail|pointer), openbao (connection options), signer (the signer's ``openbao`` options, only to
    recognise its token), audit_log, host, job_id.
    """

    def __init__(self, params, env=None):
        self.params = params
        self.env = os.environ if env is None else env
        self.catalog = params['catalog']
        self.values = placeholder_values(placeholders=params.get('values') or {})
        self.subject = default_subject(params.get('subject'), self.env, (params.get('policy') or {}).get('subject_env'))
        self.subject_type = subject_type_of(self.subject, params.get('subject_type'))
        self.audit = AuditLog(params.get('audit_log'))
        self.warnings = []
        if params.get('login_lane', 'fail') not in LOGIN_LANE_CHOICES:
            raise ValidationError([('login_lane', 'must be one of %s' % ', '.join(LOGIN_LANE_CHOICES))], what='options')
        kind = secret_kind(self.subject)
        if kind:
            raise ValidationError([('subject', 'looks like secret material (%s): give a subject id' % kind)],
                                  what='options')

    # -- audit --------------------------------------------------------------------------------
    def _record(self, route, outcome, reason, decision=None, backend=None, check=False):
        fields = dict(kind='access', action='fetch', subject=self.subject, host=self.params.get('host'),
                      need_id=route.get('id') if route else None,
                      owner=route.get('owner_repo') if route else None,
                      domain=self.values.get('domain'), outcome=outcome, reason=reason,
                      policy_decision_id=decision.decision_id if decision else None,
                      gate_mode=decision.mode if decision else None, backend=backend,
                      job_id=self.params.get('job_id'))
        fields = dict((k, v) for k, v in fields.items() if v is not None)
        return self.audit.check(**fields) if check else self.audit.record(**fields)

    def _refuse(self, message, route, outcome='refused', reason=None, decision=None, backend=None):
        self._record(route, outcome, reason or outcome, decision=decision, backend=backend)
        return CredentialRefused(message, outcome=outcome, reason=reason, route=route, decision=decision)

    # -- steps --------------------------------------------------------------------------------
    def route(self, need):
        """The route for a need; a tie or a no-match refuses (naming the candidates)."""
        route = find(self.catalog, need, self.values)
        if route['match'] in ('tie', 'no_match'):
            raise CredentialRefused('cannot fetch "%s": %s' % (need, route['next_action']), reason=route['match'],
                                    route=route)
        return route

    def _login_refusal(self, route):
        text = ('%s is a login lane (%s): a lookup is a non-interactive run, so the collection never runs it. '
                'Run it yourself: %s' % (route['id'], route['auth_method'],
                                         route['fetch_command'] or route['next_action']))
        return text

    def _no_token(self, route):
        login = login_pointer(self.catalog, route['subsystem'])
        hint = ''
        if login is not None:
            pointer = route_for(login, self.values)
            hint = ' Log in first (lane %s): %s' % (login['id'], pointer['fetch_command'] or pointer['next_action'])
        return ('no OpenBao token of your own: set BAO_TOKEN or VAULT_TOKEN, or log in so that ~/.vault-token '
                'exists. The collection fetches only as the caller and never uses a token it is configured '
                'with (warden_openbao).' + hint)

    @staticmethod
    def _signer_token_refusal(source, signer):
        return ('the OpenBao token in %s is the collection\'s signing token (the same as %s): a credential is '
                'fetched only as the caller, never as the collection (G1). Keep the signing token in %s (the '
                'AWX credential type "netkingdom.warden OpenBao" injects it there) and give the fetch your own '
                'token in BAO_TOKEN or VAULT_TOKEN' % (source, signer, SIGNER_TOKEN_ENV))

    def gate(self, route):
        """Decide the read; return the Decision. Refuses on deny, outage and an unacknowledged off gate."""
        # a fetch always fails closed: fail_closed false is not taken (nor refused) here
        settings = GateSettings(dict(self.params.get('policy') or {}, fail_closed=True), env=self.env)
        if settings.mode == 'off' and not self.params.get('allow_ungated'):
            raise self._refuse('the policy gate is off (policy.mode off): a credential fetch is gated (G3); '
                               'set allow_ungated: true to fetch ungated on purpose', route, reason='policy_gate_off')
        lanes = credential_lanes(self.catalog, self.params.get('access')) if settings.mode == 'embedded' \
            and not settings.registry else None
        request = build_credential_request(route['policy_ref'], route['id'], route['lane'], route['owner_repo'],
                                           self.subject, self.subject_type, tenant=settings.tenant,
                                           system=settings.system)
        decision = Gate(settings, lanes=lanes).check(request)
        if settings.mode == 'off':
            self.warnings.append('policy gate is off: %s was fetched without a policy check (allow_ungated)'
                                 % route['id'])
        if decision.reason == UNAVAILABLE:
            raise self._refuse('policy decision point unavailable (%s): nothing was fetched; a credential fetch '
                               'always fails closed' % (decision.detail or 'no answer'), route, outcome='denied',
                               reason=UNAVAILABLE, decision=decision)
        if not decision.allowed:
            raise self._refuse('policy denied reading %s for %s: %s%s' % (
                route['id'], self.subject, decision.reason,
                ' [%s]' % decision.decision_id if decision.decision_id else ''), route, outcome='denied',
                reason=decision.reason, decision=decision)
        return decision

    def fetch(self, need):
        """Route, check, gate, read, audit; return ``(value, route, decision)``.

        A login lane with ``login_lane: pointer`` returns ``(None, route, None)``.
        """
        route = self.route(need)
        if route['lane'] == 'login':
            if self.params.get('login_lane', 'fail') == 'pointer':
                self._record(route, 'refused', 'login_lane_pointer')
                return None, route, None
            raise self._refuse(self._login_refusal(route), route, reason='login_lane_non_interactive')
        if route['role'] != 'assist':
            raise CredentialRefused('%s is not fetchable as the caller (role %s): %s'
                                    % (route['id'], route['role'], route['next_action']), reason='not_exec_capable',
                                    route=route)
        if route['catalog_status'] != 'active':
            raise CredentialRefused('%s is a %s route: confirm it with %s before fetching from it'
                                    % (route['id'], route['catalog_status'], route['owner_repo']),
                                    reason='route_not_active', route=route)
        if route['missing_placeholders'] or not route['fetch_command']:
            raise CredentialRefused('%s: %s' % (route['id'], route['next_action']), reason='placeholders_missing',
                                    route=route)
        kv = parse_kv_command(route['fetch_command'])
        _check_path_template(route, kv)
        token, source = caller_token(self.env)
        if not token:
            raise self._refuse(self._no_token(route), route, reason='caller_auth_missing')
        signer = [name for name, value in signer_token_sources(self.params.get('signer'), self.env)
                  if same_token(token, value)]
        if signer:
            raise self._refuse(self._signer_token_refusal(source, signer[0]), route, reason='caller_token_is_signer')
        read = 'field %s of %s/data/%s' % (kv['field'], kv['mount'], kv['path'])
        self._record(route, 'fetched', 'credential_read_allowed; %s version 0' % read, check=True)  # refused: stop here
        decision = self.gate(route)
        options, conn_env = _connection(self.params.get('openbao') or {}, self.env)
        options.update(auth_method='token', token=token)
        if kv['namespace']:
            options['namespace'] = kv['namespace']
        settings = OpenBaoSettings(options, env=conn_env)
        try:
            data, metadata = KvReader(settings).kv2_read(kv['mount'], kv['path'], kv['version'])
        except WardenError as exc:
            raise self._refuse('reading %s failed: %s' % (route['id'], exc), route, outcome='failed',
                               reason='read_failed', decision=decision, backend='openbao')
        if kv['field'] not in data:
            names = [n for n in sorted(data, key=str) if not secret_kind(str(n))]
            del data
            raise self._refuse('the secret of %s has no field %s (fields: %s)' % (
                route['id'], kv['field'], ', '.join(str(n) for n in names) or 'none'), route, outcome='failed',
                reason='field_missing', decision=decision, backend='openbao')
        value = data[kv['field']]
        del data
        self._record(route, 'fetched', '%s; %s version %s' % (decision.reason, read, metadata.get('version')),
                     decision=decision, backend='openbao')
        return value, route, decision
