# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sign SSH public keys with OpenBao's SSH engine and read its CA public keys.

``OpenBaoSigner(settings)`` signs with ``POST <mount>/sign/<role>``. Signing is not idempotent
on the server: a request retried after a timeout or a 5xx answer may have produced a certificate
already. That certificate is simply unused: only the one returned (and written) counts, and
OpenBao keeps no state about it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.netkingdom.warden.plugins.module_utils._inventory.actors import principal_problem
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.auth import HttpStatusError, response_json
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.client import OpenBaoClient
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.session import (
    key_id_refused,
    remember_key_id_refused,
    take_warnings,
)
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.settings import ROLE_NAME_RE
from ansible_collections.netkingdom.warden.plugins.module_utils._openssh.certificate import CERT_TYPES
from ansible_collections.netkingdom.warden.plugins.module_utils._openssh.keys import CERT_SUFFIX, parse_public_key

# OpenBao's answer to a sign request with key_id on a role without allow_user_key_ids: nothing was signed.
KEY_ID_REFUSED = 'setting key_id is not allowed by role'


def _is_key_id_refusal(errors):
    return any(KEY_ID_REFUSED in str(error).lower() for error in errors or ())


def _key_id_warning(mount, role):
    # No host or actor in the text: the controller shows a warning once per run, however many forks repeat it.
    return ('OpenBao role %s on %s/ does not allow key ids (allow_user_key_ids is false): certificates are signed '
            'without the collection\'s key id, OpenBao names them itself, and the audit log links each one to its '
            'policy decision through its serial. To keep decision ids in the key id sshd logs, allow it: '
            'bao write %s/roles/%s allow_user_key_ids=true (with the role\'s other fields), or let '
            'netkingdom.warden.openbao_ssh_ca manage the role' % (role, mount, mount, role))


class OpenBaoSigner(OpenBaoClient):
    """Signs SSH public keys with OpenBao's SSH engine; reads its CA public keys."""

    def __repr__(self):
        return '<OpenBaoSigner %s auth_method=%s mount=%s>' % (self.url, self.settings.auth_method, self.mount)

    def role_for(self, actor_type):
        """The SSH role that signs certificates for an actor type (``openbao.role_map``)."""
        role = self.settings.role_map.get(actor_type)
        if not role:
            raise ValidationError([('actor_type', 'no OpenBao role for actor type %r (openbao.role_map has %s)'
                                    % (actor_type, ', '.join(sorted(self.settings.role_map))))], what='signing request')
        return role

    @property
    def host_role(self):
        return self.settings.host_role

    @property
    def mount(self):
        return self.settings.mount

    @property
    def host_mount(self):
        return self.settings.host_mount

    def sign(self, role, public_key, principals, ttl_seconds, cert_type='user', key_id=None, mount=None):
        """Sign ``public_key`` with ``<mount>/sign/<role>``; return ``{'signed_key', 'serial_number', 'issuer_id',
        'key_id_sent'}``.

        ``mount`` defaults to ``openbao.mount``. ``ttl_seconds`` above the role's max_ttl is refused by
        OpenBao (never clamped). Not idempotent: a retried request may have issued a certificate that
        stays unused.

        ``key_id`` is sent where the role allows it. A role without ``allow_user_key_ids`` (the runbook's
        roles) answers HTTP 400 "setting key_id is not allowed by role" and signs nothing: the request is
        sent once more without it, OpenBao names the key id itself, and this process remembers the role
        (see ``key_id_refused``) so later requests go without it at once. ``take_warnings()`` then holds
        one warning that says how to allow it.
        """
        mount = mount or self.mount
        body = self._sign_body(role, public_key, principals, ttl_seconds, cert_type, key_id)
        path = '%s/sign/%s' % (mount, role)
        if 'key_id' in body and key_id_refused(self.settings.url, mount, role):
            del body['key_id']
        try:
            try:
                response = self._api('post', path, json=body)
            except HttpStatusError as exc:
                if not ('key_id' in body and exc.status == 400 and _is_key_id_refusal(exc.errors)):
                    raise
                # HTTP 400: nothing was signed, so this second request cannot produce a second certificate
                remember_key_id_refused(self.settings.url, mount, role, _key_id_warning(mount, role))
                del body['key_id']
                response = self._api('post', path, json=body)
        except HttpStatusError as exc:
            raise self._fail(self._sign_refused(exc, path, role, ttl_seconds, cert_type, mount))
        data = response_json(response, 'POST %s' % path).get('data') or {}
        signed = data.get('signed_key')
        if not isinstance(signed, str) or CERT_SUFFIX not in signed.split(' ', 1)[0]:
            raise self._fail('POST %s answered without a signed certificate (signed_key)' % path)
        return {'signed_key': signed.strip(), 'serial_number': data.get('serial_number'),
                'issuer_id': data.get('issuer_id'), 'key_id_sent': 'key_id' in body}

    @staticmethod
    def take_warnings():
        """Warnings this process has not shown yet (each once), e.g. a role that refuses key ids."""
        return take_warnings()

    @staticmethod
    def _sign_body(role, public_key, principals, ttl_seconds, cert_type, key_id):
        problems = []
        if not isinstance(role, str) or not ROLE_NAME_RE.match(role):
            problems.append(('role', 'must be an OpenBao SSH role name, got %r' % (role,)))
        try:
            key_type = parse_public_key(public_key)[0]
            if key_type.endswith(CERT_SUFFIX):
                problems.append(('public_key', 'is a certificate, not a public key'))
        except ValidationError as exc:
            problems.extend(exc.problems)
        if isinstance(principals, str) or not isinstance(principals, (list, tuple)) or not principals:
            problems.append(('principals', 'must be a non-empty list (a certificate without principals '
                             'would be valid for every account)'))
        else:
            for index, principal in enumerate(principals):
                why = principal_problem(principal)
                if why:
                    problems.append(('principals[%d]' % index, why))
        if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, (int, float)) or ttl_seconds <= 0 \
                or int(ttl_seconds) != ttl_seconds:
            problems.append(('ttl_seconds', 'must be a positive whole number of seconds, got %r' % (ttl_seconds,)))
        if cert_type not in CERT_TYPES.values():
            problems.append(('cert_type', 'must be user or host, got %r' % (cert_type,)))
        if key_id is not None and (not isinstance(key_id, str) or not key_id
                                   or any(ord(ch) < 32 or ord(ch) == 127 for ch in key_id)):
            problems.append(('key_id', 'must be a non-empty string without control characters'))
        if problems:
            raise ValidationError(problems, what='signing request')
        body = {'public_key': public_key.strip(), 'valid_principals': ','.join(principals),
                'ttl': '%ds' % int(ttl_seconds), 'cert_type': cert_type}
        if key_id is not None:
            body['key_id'] = key_id
        return body

    def _sign_refused(self, exc, path, role, ttl_seconds, cert_type, mount=None):
        mount = mount or self.mount
        detail = '; '.join(exc.errors) or 'no details'
        low = detail.lower()
        if exc.status == 403:
            return ('permission denied on POST %s: the token lacks create/update on %s (or it expired or was '
                    'revoked; OpenBao also answers 403 for a mount or role the token may not see). Grant it '
                    'with a policy such as: path "%s" { capabilities = ["create", "update"] }' % (path, path, path))
        if exc.status == 404 or 'unknown role' in low or 'no handler for route' in low:
            return ('OpenBao has no SSH role %s on mount %s (%s): create the role, or fix openbao.role_map / '
                    'openbao.host_role / openbao.mount / openbao.host_mount' % (role, mount, detail))
        if 'ttl' in low and ('larger than' in low or 'max' in low):
            match = re.search(r'(\d+)\s*$', detail)
            limit = ' (%ss)' % match.group(1) if match else ''
            return ('ttl %ds is above the max_ttl of role %s on %s%s: ask for at most the role\'s max_ttl; '
                    'OpenBao rejects longer certificates, it never clamps them (%s)'
                    % (int(ttl_seconds), role, mount, limit, detail))
        if 'valid_principals' in low or 'not a valid value' in low or 'not allowed' in low and 'principal' in low:
            what = 'allowed_domains' if cert_type == 'host' else 'allowed_users'
            return ('principal not allowed by role %s on %s: %s. Request only principals in the role\'s %s, '
                    'or change the role' % (role, mount, detail, what))
        if 'cert_type' in low:
            return 'role %s on %s does not sign %s certificates (%s)' % (role, mount, cert_type, detail)
        if 'public_key' in low or 'public key' in low:
            return 'OpenBao refused the public key for %s: %s' % (path, detail)
        return 'OpenBao refused POST %s (HTTP %d): %s' % (path, exc.status, detail)

    def ca_public_key(self, mount=None):
        """The mount's default CA public key, from the unauthenticated ``GET /v1/<mount>/public_key``.

        ``mount`` defaults to ``openbao.mount`` (the user CA); ``openbao.host_mount`` gives the host CA.
        """
        mount = mount or self.mount
        path = '%s/public_key' % mount
        try:
            response = self._api('get', path, authenticated=False)
        except HttpStatusError as exc:
            raise self._fail('no SSH CA public key at %s/v1/%s (HTTP %d: %s): is the SSH engine mounted at '
                             'openbao.mount (openbao.host_mount for host certificates) with a CA configured '
                             '(config/ca)?'
                             % (self.url, path, exc.status, '; '.join(exc.errors) or 'no details'))
        key = (response.text or '').strip()
        try:
            parse_public_key(key)
        except ValidationError:
            raise self._fail('GET %s/v1/%s did not answer an OpenSSH public key: is openbao.url the OpenBao '
                             'API address?' % (self.url, path))
        return key

    def issuer_public_keys(self, mount=None):
        """Every issuer's public key on the mount (``LIST <mount>/issuers``), default first.

        Hosts that trust all of them keep accepting certificates across a CA rotation. Each item
        is ``{'issuer_id', 'issuer_name', 'public_key', 'is_default'}``. Needs ``list`` on
        ``<mount>/issuers``. ``mount`` defaults to ``openbao.mount``.
        """
        mount = mount or self.mount
        path = '%s/issuers' % mount
        try:
            response = self._api('list', path)
        except HttpStatusError as exc:
            if exc.status == 403:
                raise self._fail('permission denied on LIST %s: the token needs list on %s to read every CA '
                                 'of the mount; add to its policy: path "%s" { capabilities = ["list"] }'
                                 % (path, path, path))
            raise self._fail('cannot list the CA issuers of %s (HTTP %d: %s): is openbao.mount an SSH engine '
                             'with a CA configured?' % (mount, exc.status, '; '.join(exc.errors) or 'no details'))
        data = response_json(response, 'LIST %s' % path).get('data') or {}
        info = data.get('key_info') or {}
        issuers = []
        for issuer_id in data.get('keys') or []:
            entry = info.get(issuer_id) or {}
            key = (entry.get('public_key') or '').strip()
            if not key:  # older servers: the unauthenticated per-issuer endpoint
                key = self._issuer_key(issuer_id, mount)
            issuers.append({'issuer_id': issuer_id, 'issuer_name': entry.get('issuer_name') or '',
                            'public_key': key, 'is_default': bool(entry.get('is_default'))})
        issuers.sort(key=lambda i: (not i['is_default'], i['issuer_name'], i['issuer_id']))
        return issuers

    def _issuer_key(self, issuer_id, mount):
        path = '%s/issuer/%s/public_key' % (mount, issuer_id)
        try:
            return (self._api('get', path, authenticated=False).text or '').strip()
        except HttpStatusError as exc:
            raise self._fail('cannot read the public key of issuer %s (GET %s: HTTP %d)' % (issuer_id, path, exc.status))
