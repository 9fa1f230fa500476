# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The signing backends: ``openbao`` (the SSH secrets engine) and ``local`` (a CA key on the
controller), which ``make_backend`` picks from the options and shares per process, and
``KnownCABackend``, which stands in while a run only plans (the CA public keys already read).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fcntl
import os

from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError
from ansible_collections.netkingdom.warden.plugins.module_utils._settings.resolver import Option, OptionGroup
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.settings import OPENBAO, OpenBaoSettings
from ansible_collections.netkingdom.warden.plugins.module_utils._openssh.ca_keygen import generate_ca_key
from ansible_collections.netkingdom.warden.plugins.module_utils._openssh.local_ca import LocalCA
from ansible_collections.netkingdom.warden.plugins.module_utils._openssh.keys import fingerprint_blob, parse_public_key

BACKENDS = ('auto', 'openbao', 'local')
BACKEND_ENV = 'WARDEN_SIGNING_BACKEND'
DEFAULT_LOCAL_CA = '~/.local/state/warden/ca/ca_key'
BACKDATE_SECONDS = 30  # like OpenBao's not_before_duration: tolerate clock skew between hosts

LOCAL_CA = OptionGroup('local_ca', {
    'key_path': Option(DEFAULT_LOCAL_CA, ['WARDEN_LOCAL_CA_KEY'], 'path'),
    'passphrase': Option(None, ['WARDEN_LOCAL_CA_PASSPHRASE'], secret=True),
    'create': Option(False, ['WARDEN_LOCAL_CA_CREATE'], 'bool'),
    'key_type': Option('ed25519', []),
}, 'signing settings')


def local_ca_argument_spec():
    """The ``local_ca`` option for action plugins; LocalBackend applies the environment and the defaults."""
    return LOCAL_CA.argument_spec()


def _create_ca_once(path, key_type, passphrase):
    """Create the CA key unless another fork did it first (many forks start at the same instant)."""
    directory = os.path.dirname(path)
    if directory and not os.path.isdir(directory):
        try:
            os.makedirs(directory, 0o700)
        except OSError:
            if not os.path.isdir(directory):
                raise
    fd = os.open(path + '.lock', os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if not os.path.exists(path):  # the key file appears whole: it is written then renamed
            generate_ca_key(path, key_type, passphrase, field='local_ca.key_path')
    finally:
        os.close(fd)


class LocalBackend(object):
    """A CA private key on the controller; certificates signed in-process."""

    name = 'local'

    def __init__(self, options=None, env=None):
        settings, dummy = LOCAL_CA.resolve(options, env)
        path, passphrase = settings['key_path'], settings['passphrase']
        if not os.path.exists(path):
            if not settings['create']:
                raise ValidationError([('local_ca.key_path', 'no CA key at %s: create one with local_ca.create=true '
                                        '(or ssh-keygen -t ed25519 -f %s), or configure OpenBao' % (path, path))],
                                      what='signing settings')
            _create_ca_once(path, settings['key_type'], passphrase)
        self.ca = LocalCA.from_file(path, passphrase, field='local_ca.key_path')

    def ca_public_keys(self, cert_type='user'):
        """The CA that signs ``cert_type`` certificates: one local CA signs both types."""
        return [self.ca.public_key_line]

    def sign(self, cert_type, actor_type, public_key, principals, ttl_seconds, key_id, now):
        return self.ca.sign(public_key, cert_type, principals, key_id,
                            int(now) - BACKDATE_SECONDS, int(now) + int(ttl_seconds))

    @staticmethod
    def take_warnings():
        return []


class OpenBaoBackend(object):
    """The OpenBao SSH secrets engine, role by actor type; the token stays here."""

    name = 'openbao'

    def __init__(self, settings):
        from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.signer import OpenBaoSigner
        self.signer = OpenBaoSigner(settings)
        self._ca = {}

    def mount_for(self, cert_type):
        """User certificates from ``openbao.mount``, host certificates from ``openbao.host_mount``."""
        return self.signer.host_mount if cert_type == 'host' else self.signer.mount

    def ca_public_keys(self, cert_type='user'):
        """The default CA of the mount that signs ``cert_type`` certificates (read once per process)."""
        mount = self.mount_for(cert_type)
        if mount not in self._ca:
            self._ca[mount] = [self.signer.ca_public_key(mount)]
        return self._ca[mount]

    def sign(self, cert_type, actor_type, public_key, principals, ttl_seconds, key_id, now):
        role = self.signer.host_role if cert_type == 'host' else self.signer.role_for(actor_type)
        return self.signer.sign(role, public_key, principals, int(ttl_seconds), cert_type=cert_type,
                                key_id=key_id, mount=self.mount_for(cert_type))['signed_key']

    def take_warnings(self):
        return self.signer.take_warnings()


class KnownCABackend(object):
    """The signing backend while only planning: its CA public keys were read once for the run.

    Deciding keep-or-renew needs only the signing CA's public keys. When the play already read them
    (the ``ssh_ca_public_key`` lookup, once), a converged host pays for no backend at all (no
    ``cryptography`` import or CA key load, no OpenBao client or request); ``factory()`` builds the real
    backend at the first certificate that must be signed.
    """

    def __init__(self, ca_keys, name, factory):
        self._keys = [key.strip() for key in ca_keys if key and key.strip()]
        self.name = name
        self._factory = factory
        self._real = None

    def ca_public_keys(self, cert_type=None):
        """The keys read for the run (one KnownCABackend per certificate type: user and host CAs may differ)."""
        return list(self._keys)

    def sign(self, cert_type, actor_type, public_key, principals, ttl_seconds, key_id, now):
        if self._real is None:
            self._real = self._factory()
        return self._real.sign(cert_type, actor_type, public_key, principals, ttl_seconds, key_id, now)

    def take_warnings(self):
        return self._real.take_warnings() if self._real is not None else []


_BACKENDS = {}


def backend_name(backend='auto', openbao=None, env=None):
    """``openbao`` or ``local``: which backend these options select (nothing is built or contacted)."""
    env = os.environ if env is None else env
    backend = backend or env.get(BACKEND_ENV) or 'auto'
    if backend not in BACKENDS:
        raise ValidationError([('backend', 'must be one of %s, got %r' % (', '.join(BACKENDS), backend))],
                              what='signing settings')
    if backend == 'auto':
        has_url = (openbao or {}).get('url') or any(env.get(name) for name in OPENBAO.env_names('url'))
        backend = 'openbao' if has_url else 'local'
    return backend


def host_ca_is_user_ca(backend='auto', openbao=None, env=None):
    """Whether one CA signs both user and host certificates with these options (nothing is contacted).

    True for the local CA and for OpenBao with ``host_mount`` = ``mount``; False for OpenBao's two-mount layout.
    """
    if backend_name(backend, openbao, env) != 'openbao':
        return True
    settings = OpenBaoSettings(openbao, env=os.environ if env is None else env, require_auth=False)
    return settings.host_mount == settings.mount


def make_backend(backend='auto', openbao=None, local_ca=None, env=None, need_auth=True):
    """The signing backend for these options, shared by every sign in this process.

    ``need_auth=False`` is enough to read the CA public key (OpenBao serves it unauthenticated).
    """
    env = os.environ if env is None else env
    backend = backend_name(backend, openbao, env)
    if backend == 'openbao':
        settings = OpenBaoSettings(openbao, env=env, require_auth=need_auth)
        key = ('openbao', need_auth, settings.session_key(), settings.mount, settings.host_mount,
               str(sorted((settings.role_map or {}).items())), settings.host_role)
        if key not in _BACKENDS:
            _BACKENDS[key] = OpenBaoBackend(settings)
    else:
        key = ('local', repr(sorted((local_ca or {}).items())), tuple(env.get(e) for e in LOCAL_CA.env_names('key_path')))
        if key not in _BACKENDS:
            _BACKENDS[key] = LocalBackend(local_ca, env)
    return _BACKENDS[key]


def ca_fingerprints(backend, cert_type='user'):
    """Fingerprints of the CA keys that sign ``cert_type`` certificates with this backend."""
    return [fingerprint_blob(parse_public_key(line, 'ca_public_key')[1])
            for line in backend.ca_public_keys(cert_type)]
