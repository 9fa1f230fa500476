# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """The warden_config option: an existing ops-warden warden.yaml as a source of option values."""

    # Lookups: an option with its play variable and environment variable.
    DOCUMENTATION = r"""
options:
  warden_config:
    description:
      - Path, on the controller, of an existing ops-warden C(warden.yaml). Its fields fill the gate,
        signing, OpenBao, audit and actor inventory options that neither this lookup's keywords nor the
        C(warden_*) play variables set, before environment variables and defaults.
      - 'Precedence: keyword > C(warden_*) play variable > this file > environment variables > defaults.
        Dict options (C(policy), C(openbao), C(local_ca)) are layered sub-option by sub-option.'
      - Relative paths in the file are resolved against the file's directory. Its C(inventory_path), else an
        C(inventory.yaml) beside it, else C(~/.config/warden/inventory.yaml) is the actor inventory unless the
        play or the keywords name another actor source.
      - Every key ops-warden documents is read with its meaning; where the file leaves one out, ops-warden's
        default applies under the environment variables (C(backend=local); C(policy.flex_auth_url) of
        V(http://127.0.0.1:8080) when the file turns the gate on).
      - A key the collection does not use gives a warning naming it, never a failure. A bad value fails with
        the field and the file named. A secret in the file (a token, a SecretID, a passphrase, anything the
        secret guard finds secret-looking) is refused and never shown.
      - The field mapping is in C(docs/migration-from-ops-warden.md).
    type: path
    env:
      - name: WARDEN_CONFIG
    vars:
      - name: warden_config
"""
