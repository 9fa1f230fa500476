# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bring OpenBao's SSH engine to an ``EngineSpec``: mount, CA, roles, signer policy.

``SshEngine(client, spec, check_mode).ensure()`` reads what OpenBao has, compares it with what is
wanted (``ssh_engine.normalise``) and writes only what differs: a second run against a converged
server makes read requests only. ``client`` is an ``OpenBaoSigner`` (``request_json``/``read``/``write``).

The CA is never replaced: writing ``config/ca`` on a mount that has a CA silently adds a new
issuer and makes it the default, so the CA is read first and created only when the mount has
none. A different CA than asked for is reported (a warning), not overwritten. An explicit
rotation (``ca.rotate`` with ``ca.issuer_name``) adds a named issuer beside the current one.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.netkingdom.warden.plugins.module_utils.errors import WardenError
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.client import OpenBaoRequestError
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.ssh_engine import format_duration, normalise, shown, write_form
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.ssh_engine_spec import CA_KEY_TYPES, ECDSA_BITS
from ansible_collections.netkingdom.warden.plugins.module_utils._openssh.keys import fingerprint, parse_public_key

MOUNT_DESCRIPTION = 'SSH CA of netkingdom.warden (policy-gated certificates)'


class SshEngineError(WardenError):
    """The SSH engine cannot be brought to the wanted state (the message says why and what to do)."""


def key_material(text):
    """``(key_type, blob)`` of an OpenSSH public key line (the comment does not count)."""
    key_type, blob, dummy = parse_public_key(text)
    return key_type, blob


class SshEngine(object):
    """Reads, compares and (unless ``check_mode``) writes. ``ensure()`` returns the result dict."""

    def __init__(self, client, spec, check_mode=False):
        self.client = client
        self.spec = spec
        self.check_mode = check_mode
        self.changes = []
        self.diffs = []
        self.warnings = []
        self.existing = set()  # mounts that exist (or were just mounted)

    # --- helpers
    def _say(self, present, past, rest):
        self.changes.append('%s %s' % ('would %s' % present if self.check_mode else past, rest))

    def _diff(self, header, before, after):
        self.diffs.append({'before_header': header, 'after_header': header, 'before': before, 'after': after})

    def _optional(self, method, path, missing_words=()):
        """A read that may find nothing: None on 404, or on 400 with one of ``missing_words``."""
        try:
            return self.client.request_json(method, path, missing=(404,))
        except OpenBaoRequestError as exc:
            text = '; '.join(exc.errors).lower()
            if exc.status == 400 and any(w in text for w in missing_words):
                return None
            raise

    # --- mount
    def ensure_mount(self, mount):
        """Mount the SSH engine at ``mount`` unless it is there; another engine type there is an error."""
        info = self._optional('get', 'sys/mounts/%s' % mount, ('no secret engine mount', 'no mount'))
        if info is not None:
            data = info.get('data') or info
            kind = data.get('type')
            if kind != 'ssh':
                raise SshEngineError('%s/ is a %s secrets engine, not ssh: choose another mount (option mount or '
                                     'host_mount) or remove that engine by hand; it is never replaced'
                                     % (mount, kind or 'unknown'))
            self.existing.add(mount)
            return
        self._say('mount', 'mounted', 'the SSH secrets engine at %s/' % mount)
        self._diff('mount %s/' % mount, '', 'type: ssh\ndescription: %s\n' % MOUNT_DESCRIPTION)
        if not self.check_mode:
            self.client.write('sys/mounts/%s' % mount, {'type': 'ssh', 'description': MOUNT_DESCRIPTION})
            self.existing.add(mount)

    # --- CA
    def _read_ca(self, mount):
        if mount not in self.existing:
            return None
        answer = self._optional('get', '%s/config/ca' % mount,
                                ('no default issuer', "haven't been configured", 'not been configured',
                                 'no ca', 'not configured'))
        if answer is None:
            issuers = self.client.list_keys('%s/issuers' % mount)
            if issuers:
                raise SshEngineError('%s/ has %d CA issuer(s) but no default one: choose the default by hand '
                                     '(bao write %s/config/issuers default=<issuer>); the module never picks a CA'
                                     % (mount, len(issuers), mount))
            return None
        key = ((answer.get('data') or {}).get('public_key') or '').strip()
        return key or None

    @staticmethod
    def _ca_body(ca):
        if ca['mode'] == 'import':
            return {'private_key': ca['private_key'], 'public_key': ca['public_key']}
        body = {'generate_signing_key': True, 'key_type': CA_KEY_TYPES[ca['key_type']][0]}
        if ca['key_bits']:
            body['key_bits'] = ca['key_bits']
        return body

    @staticmethod
    def _ca_label(ca, key):
        """The CA as it reads in a message: its fingerprint, or what will make it (check mode)."""
        if key:
            return fingerprint(key)
        if ca['mode'] == 'import':
            return fingerprint(ca['public_key'])
        return 'key to be generated by OpenBao'

    @staticmethod
    def _ca_kind(ca):
        if ca['mode'] == 'import':
            return 'the imported %s CA' % ca.get('import_type', 'SSH')
        bits = '%d-bit ' % ca['key_bits'] if ca['key_bits'] else ''
        return 'a new %s%s CA' % (bits, ca['key_type'])

    def _create_ca(self, mount, ca, name=None):
        """Write a new CA (``config/ca``, or ``issuers/import/<name>`` for a named issuer); return its public key.

        In check mode nothing is written: the key is known only for an import (else None).
        """
        if self.check_mode:
            return ca['public_key'] if ca['mode'] == 'import' else None
        path = '%s/issuers/import/%s' % (mount, name) if name else '%s/config/ca' % mount
        answer = self.client.write(path, self._ca_body(ca))
        key = ((answer or {}).get('data') or {}).get('public_key')
        if not key:  # read it back: the named issuer, or the mount's (new, only) CA
            again = self.client.read('%s/issuer/%s' % (mount, name) if name else '%s/config/ca' % mount)
            key = (again or {}).get('public_key') or ''
        key = key.strip()
        if not key:
            raise SshEngineError('OpenBao answered POST %s without a CA public key' % path)
        return key

    def ensure_ca(self, mount=None):
        """Create the mount's CA only where it has none; never replace one. Returns its default CA public key."""
        mount = mount or self.spec.mount
        ca = self.spec.cas[mount]
        current = self._read_ca(mount)
        if current is None:
            if ca['mode'] == 'none':
                raise SshEngineError('%s/ has no CA and ca.generate is false with no ca.private_key to import: '
                                     'nothing can sign. Let the module generate one or import one' % mount)
            name = ca['issuer_name']
            key = self._create_ca(mount, ca, name)
            label = self._ca_label(ca, key)
            self._say('create', 'created', '%s on %s/%s (%s): the mount had no CA'
                      % (self._ca_kind(ca), mount, ' as issuer %s' % name if name else '', label))
            self._diff('ca %s/' % mount, '', 'fingerprint: %s\n' % label)
            return key
        self._compare_ca(mount, ca, current)
        if ca['rotate']:
            return self._rotate(mount, ca, current)
        return current

    def _compare_ca(self, mount, ca, current):
        """Report (never fix) a CA that is not the one the options describe."""
        have_type = key_material(current)[0]
        if ca['mode'] == 'import' and ca['public_key'] and not ca['rotate']:
            if key_material(ca['public_key']) != key_material(current):
                self.warnings.append(
                    'the CA on %s/ (%s) is not the one in ca.public_key (%s); it is kept: the module never replaces '
                    'a CA (that would lock out every host that trusts it). To move to another CA, add it with '
                    'ca.rotate and ca.issuer_name, distribute trust, then set ca.make_default'
                    % (mount, fingerprint(current), fingerprint(ca['public_key'])))
        elif ca['mode'] == 'generate' and not ca['rotate']:
            wanted = CA_KEY_TYPES[ca['key_type']][1]
            if ca['key_type'] == 'ecdsa' and ca['key_bits']:
                wanted = (ECDSA_BITS[ca['key_bits']],)
            if have_type not in wanted:
                self.warnings.append(
                    'the CA on %s/ is %s (%s), ca.key_type asks for %s; it is kept: the module never replaces a CA. '
                    'To move to another CA, add it with ca.rotate and ca.issuer_name, distribute trust, then set '
                    'ca.make_default' % (mount, have_type, fingerprint(current), ca['key_type']))

    def _rotate(self, mount, ca, current):
        """Ensure the issuer ``ca.issuer_name`` exists beside the current CA (and is the default when asked)."""
        name = ca['issuer_name']
        issuer = self._optional('get', '%s/issuer/%s' % (mount, name), ('unable to find issuer',))
        issuer = None if issuer is None else (issuer.get('data') or {})
        if issuer is None:
            key = self._create_ca(mount, ca, name)
            label = self._ca_label(ca, key)
            self._say('add', 'added', '%s as issuer %s on %s/ (%s) beside the current CA %s; hosts must trust it '
                      'before it becomes the default' % (self._ca_kind(ca), name, mount, label, fingerprint(current)))
            self._diff('ca %s/ issuer %s' % (mount, name), '', 'fingerprint: %s\n' % label)
            issuer_id, issuer_key = None, key
        else:
            issuer_id, issuer_key = issuer.get('issuer_id'), (issuer.get('public_key') or '').strip()
            if ca['mode'] == 'import' and issuer_key and key_material(issuer_key) != key_material(ca['public_key']):
                self.warnings.append('CA issuer %s on %s/ (%s) is not the one in ca.public_key (%s); it is kept: '
                                     'an issuer is never replaced' % (name, mount, fingerprint(issuer_key),
                                                                      fingerprint(ca['public_key'])))
        if not ca['make_default']:
            return current
        default_id = None
        if mount in self.existing:
            default_id = ((self.client.read('%s/config/issuers' % mount) or {}).get('default'))
        if issuer_id is not None and default_id == issuer_id:
            return issuer_key or current
        new_label = fingerprint(issuer_key) if issuer_key else '(issuer %s)' % name
        self._say('make', 'made', 'CA issuer %s the default on %s/ (new certificates are signed by %s; the previous '
                  'CA %s stays trusted where it is installed)' % (name, mount, new_label, fingerprint(current)))
        self._diff('ca %s/ default issuer' % mount, 'fingerprint: %s\n' % fingerprint(current),
                   'fingerprint: %s\n' % new_label)
        if not self.check_mode:
            self.client.write('%s/config/issuers' % mount, {'default': name})
        return issuer_key or current

    # --- roles
    def ensure_roles(self):
        """Create or correct every role of the spec (only the fields that differ are reported)."""
        for name in sorted(self.spec.roles):
            self._ensure_role(name, self.spec.roles[name])

    def _ensure_role(self, name, wanted):
        mount = self.spec.role_mount[name]
        path = '%s/roles/%s' % (mount, name)
        current = self.client.read(path) if mount in self.existing else None
        purpose = self.spec.role_purpose[name]
        kind = 'host certificates' if purpose == 'host' else '%s user certificates' % purpose
        body = dict((f, write_form(f, v)) for f, v in wanted.items())
        if current is None:
            self._say('create', 'created', 'role %s on %s/ (%s, ttl = max_ttl = %s)'
                      % (name, mount, kind, format_duration(wanted['max_ttl'])))
            self._diff('role %s' % path, '', self._render(name, wanted, sorted(wanted)))
            if not self.check_mode:
                self.client.write(path, body)
                if self.spec.overrides.get(name):
                    self._check_fields(name, self.client.read(path) or {})
            return
        self._check_fields(name, current)
        differing = []
        for field in sorted(wanted):
            if field not in current:  # a field this OpenBao does not report (overrides were checked above)
                continue
            have = normalise(field, current.get(field), current.get(field))
            want = normalise(field, wanted[field], current.get(field))
            if have != want:
                differing.append((field, have, want))
        if not differing:
            return
        words = ', '.join('%s %s -> %s' % (f, shown(f, h), shown(f, w)) for f, h, w in differing)
        self._say('update', 'updated', 'role %s on %s/ (it had drifted): %s' % (name, mount, words))
        self._diff('role %s' % path,
                   ''.join('%s: %s\n' % (f, shown(f, h)) for f, h, dummy in differing),
                   ''.join('%s: %s\n' % (f, shown(f, w)) for f, dummy, w in differing))
        if not self.check_mode:
            self.client.write(path, body)

    def _check_fields(self, name, current):
        unknown = [f for f in self.spec.overrides.get(name, ()) if f not in current]
        if unknown:
            raise SshEngineError('roles.%s: OpenBao does not know the role field(s) %s (it reports: %s)'
                                 % (name, ', '.join(unknown), ', '.join(sorted(current))))

    @staticmethod
    def _render(name, wanted, fields):
        return ''.join('%s: %s\n' % (f, shown(f, normalise(f, wanted[f]))) for f in fields)

    # --- policy
    def ensure_policy(self):
        """Write the signer policy when it is missing or differs from ``spec.policy_text()``."""
        name = self.spec.policy_name
        path = 'sys/policies/acl/%s' % name
        wanted = self.spec.policy_text()
        current = self.client.read(path)
        have = None if current is None else (current.get('policy') or '')
        if have is not None and have.strip() == wanted.strip():
            return
        verb = ('write', 'wrote') if have is None else ('rewrite', 'rewrote')
        self._say(verb[0], verb[1], 'policy %s (%s)' % (name, '; '.join(
            'create/update on %s/sign/{%s}, list on %s/issuers'
            % (mount, ','.join(sorted(r for r in self.spec.roles if self.spec.role_mount[r] == mount)), mount)
            for mount in self.spec.mounts)))
        self._diff('policy %s' % name, have or '', wanted)
        if not self.check_mode:
            self.client.write(path, {'policy': wanted}, method='put')

    # --- all
    def ensure(self):
        """Mounts, CAs, roles, policy, in that order; the result dict (changes, CA keys, roles, diff)."""
        keys = {}
        for mount in self.spec.mounts:
            self.ensure_mount(mount)
            keys[mount] = self.ensure_ca(mount)
        key, host_key = keys[self.spec.mount], keys[self.spec.host_mount]
        self.ensure_roles()
        self.ensure_policy()
        roles = dict((name, dict((f, normalise(f, v)) for f, v in fields.items()))
                     for name, fields in self.spec.roles.items())
        purposes = dict(self.spec.role_purpose)
        return {
            'changed': bool(self.changes),
            'changes': list(self.changes),
            'ca_public_key': key,
            'ca_fingerprint': fingerprint(key) if key else None,
            'mount': self.spec.mount,
            'host_ca_public_key': host_key,
            'host_ca_fingerprint': fingerprint(host_key) if host_key else None,
            'host_mount': self.spec.host_mount,
            'policy_name': self.spec.policy_name,
            'policy': self.spec.policy_text(),
            'roles': dict((name, dict(fields, purpose=purposes[name])) for name, fields in roles.items()),
            'warnings': list(self.warnings),
            'diff': list(self.diffs),
        }
