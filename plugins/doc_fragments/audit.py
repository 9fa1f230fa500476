# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """The audit_log option, shared by every plugin that writes the audit trail."""

    DOCUMENTATION = r"""
options:
  audit_log:
    description:
      - Path, on the controller (or AWX execution node), of the audit trail this plugin appends one
        JSON-lines record to for every event.
      - Default the play variable C(warden_audit_log), else the C(warden_config) file's C(audit_log)
        (or C(<state_dir>/audit.jsonl)), else the environment variable E(WARDEN_AUDIT_LOG),
        else C(~/.local/state/warden/audit.jsonl).
      - Auditing cannot be turned off; values such as V(off) or V(/dev/null) are refused.
      - Records hold metadata only (actor, host, principals, serial, key id, validity, fingerprints,
        decision id, outcome). A value that looks like a token, a key, a certificate body or a long
        random string is refused by the secret guard and nothing is written.
      - The file is created C(0600) in a C(0700) directory, written under a lock so many forks can append
        at once, and rotated at 10 MiB keeping 5 old files (C(audit.jsonl.1) ... C(audit.jsonl.5)).
      - The file and its C(.lock) must be regular files (a symbolic link is refused) owned by the user running
        Ansible, with no write permission for group or others; otherwise nothing is written or signed.
      - A certificate's record is written before the certificate leaves the controller; when it cannot be
        written, the certificate is discarded.
      - Read it with M(netkingdom.warden.activity).
    type: path
"""

    # Lookups and other configurable plugins read the same option from the play and the environment.
    PLUGINS = r"""
options:
  audit_log:
    env:
      - name: WARDEN_AUDIT_LOG
    vars:
      - name: warden_audit_log
"""
