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
      - Relative paths in the file are resolved against the file's directory. An C(inventory.yaml) beside it
        is the actor inventory unless the file, the play or the keywords name another actor source.
      - An unknown field or a bad value fails with the field and the file named. A secret in the file (a token,
        a SecretID, a passphrase, anything the secret guard finds secret-looking) is refused and never shown.
        Fields with no equivalent give a warning.
      - The field mapping is in C(docs/migration-from-ops-warden.md).
    type: path
    env:
      - name: WARDEN_CONFIG
    vars:
      - name: warden_config
"""
