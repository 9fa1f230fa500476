# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read one secret from a KV version 2 mount (the credential lookup, with the caller's own token)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.auth import HttpStatusError, response_json
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.client import OpenBaoClient
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.settings import PATH_RE


class KvReader(OpenBaoClient):
    """Reads KV version 2 secrets; nothing is cached or logged."""

    def kv2_read(self, mount, path, version=None):
        """Read one secret from a KV version 2 mount: ``GET /v1/<mount>/data/<path>[?version=N]``.

        Returns ``(data, metadata)``: the secret's key/value mapping and its version metadata.
        Nothing is cached or logged here; messages name the path, never a value. Used by the
        credential lookup with the caller's own token (settings with ``auth_method: token``).
        """
        problems = []
        mount = mount.strip('/') if isinstance(mount, str) else mount
        path = path.strip('/') if isinstance(path, str) else path
        if not isinstance(mount, str) or not PATH_RE.match(mount):
            problems.append(('mount', 'must be a KV mount path such as "secret", got %r' % (mount,)))
        if not isinstance(path, str) or not PATH_RE.match(path) or '..' in path.split('/'):
            problems.append(('path', 'must be a secret path such as "team/app", got %r' % (path,)))
        if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 1):
            problems.append(('version', 'must be a positive whole number, got %r' % (version,)))
        if problems:
            raise ValidationError(problems, what='KV read')
        api_path = '%s/data/%s' % (mount, path)
        kwargs = {'params': {'version': version}} if version else {}
        try:
            response = self._api('get', api_path, **kwargs)
        except HttpStatusError as exc:
            if exc.status == 403:
                raise self._fail('permission denied on GET %s: this token may not read it (or it expired or was '
                                 'revoked). The owner grants it with a policy such as: path "%s" '
                                 '{ capabilities = ["read"] }' % (api_path, api_path))
            if exc.status == 404:
                raise self._fail('no secret at %s (HTTP 404): check the path and the version; is %s a KV version '
                                 '2 mount? A deleted or destroyed version also answers 404' % (api_path, mount))
            raise self._fail('OpenBao refused GET %s (HTTP %d): %s'
                             % (api_path, exc.status, '; '.join(exc.errors)[:300] or 'no details'))
        body = response_json(response, 'GET %s' % api_path).get('data')
        if not isinstance(body, dict) or not isinstance(body.get('data'), dict):
            raise self._fail('GET %s answered no KV version 2 data: is %s a KV version 2 mount (a version 1 '
                             'mount has no data/ path)?' % (api_path, mount))
        return body['data'], dict(body.get('metadata') or {})
