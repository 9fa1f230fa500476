# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Principals drift: what a host should accept compared with what ``principals_drift_host`` read from it.

Controller side (the ``principals_drift`` action plugin and its docs-only module share the argument
spec here). Reads the files with ``principals.py`` and ``ca_keys.py``, so the drift check and the
host module that writes the files read them the same way.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.netkingdom.warden.plugins.module_utils._host.accounts import DEFAULT_PATH_TEMPLATE
from ansible_collections.netkingdom.warden.plugins.module_utils._host.ca_keys import DEFAULT_CA_PATH, compare_ca_keys
from ansible_collections.netkingdom.warden.plugins.module_utils._host.principals import invalid_lines, principals_of


def _describe_key(key):
    text = '%s (%s' % (key['fingerprint'], key['type'])
    return text + (' %s)' % key['comment'] if key['comment'] else ')')


def _fmt_list(items):
    return ', '.join(items) if items else '(none)'


def _observed_invalid(seen):
    """Invalid lines the host reported (their text emptied there) and any left in the text."""
    return sorted(set(seen.get('invalid_lines') or []) | set(invalid_lines(seen.get('content'))))


def _fmt_numbers(numbers):
    return '%s %s' % (', '.join(str(n) for n in numbers), 'are' if len(numbers) > 1 else 'is')


def drift_report(host, desired, observed, trusted_ca_keys=None, actors=None):
    """Compare what a host should have with what was read from it.

    ``desired`` is a validated ``{account: [principal, ...]}``; ``observed`` is what the
    ``principals_drift_host`` module returned (``files``, ``ca``, ``scanned``); ``trusted_ca_keys`` are
    key infos from :func:`validate_ca_keys`, or None to skip the CA; ``actors`` is a validated
    actor inventory (or None). Returns a JSON-friendly dict; ``drift`` is true when any account
    misses or has extra principals, a file cannot be read, an unmanaged account has a principals
    file, or the CA file differs from the wanted keys.
    """
    files = observed.get('files') or {}
    summary = []
    accounts = {}
    accepted = set()
    for account in sorted(desired):
        seen = files.get(account) or {}
        path = seen.get('path')
        exists = bool(seen.get('exists'))
        error = seen.get('error')
        have = principals_of(seen.get('content')) if exists else []
        invalid = _observed_invalid(seen) if exists else []
        accepted.update(have)
        want = desired[account]
        info = {
            'path': path,
            'file_missing': not exists and not error,
            'missing': [] if error else [p for p in want if p not in have],
            'extra': [p for p in have if p not in want],
            'principals': have,
            'invalid_lines': invalid,
        }
        if error:  # unknown content: report the failure, not guessed differences
            info['error'] = error
            summary.append('%s: account %s: cannot read its principals file %s: %s' % (host, account, path, error))
        if invalid:
            summary.append('%s: account %s: %s line %s not a valid principal line (text not shown)'
                           % (host, account, path, _fmt_numbers(invalid)))
        where = path if exists else '%s (missing)' % path
        for principal in info['missing']:
            summary.append('%s: account %s does not accept principal %s: not in %s'
                           % (host, account, principal, where))
        for principal in info['extra']:
            summary.append('%s: account %s accepts principal %s, which is not wanted (%s)'
                           % (host, account, principal, path))
        accounts[account] = info

    unmanaged = []
    for account in sorted(files):
        if account in desired:
            continue
        seen = files[account] or {}
        if not seen.get('exists'):
            continue
        unmanaged.append(account)
        if seen.get('error'):
            summary.append('%s: account %s is not managed, but has a principals file %s (cannot read it: %s)'
                           % (host, account, seen.get('path'), seen['error']))
            continue
        have = principals_of(seen.get('content'))
        accepted.update(have)
        summary.append('%s: account %s is not managed, but %s accepts principals %s'
                       % (host, account, seen.get('path'), _fmt_list(have)))
        invalid = _observed_invalid(seen)
        if invalid:
            summary.append('%s: account %s: %s line %s not a valid principal line (text not shown)'
                           % (host, account, seen.get('path'), _fmt_numbers(invalid)))

    ca = {'checked': trusted_ca_keys is not None, 'path': (observed.get('ca') or {}).get('path'),
          'file_missing': False, 'missing_keys': [], 'extra_keys': [], 'invalid_lines': []}
    if trusted_ca_keys is not None:
        seen = observed.get('ca') or {}
        if seen.get('error'):
            ca['error'] = seen['error']
            summary.append('%s: cannot read the CA file %s: %s' % (host, ca['path'], seen['error']))
        else:
            compared = compare_ca_keys(trusted_ca_keys, seen.get('content') if seen.get('exists') else None)
            ca['file_missing'] = compared['file_missing']
            ca['missing_keys'] = [k['fingerprint'] for k in compared['missing_keys']]
            ca['extra_keys'] = [k['fingerprint'] for k in compared['extra_keys']]
            ca['invalid_lines'] = compared['invalid_lines']
            ca['keys'] = [k['fingerprint'] for k in compared['keys']]
            if compared['file_missing'] and trusted_ca_keys:
                summary.append('%s: the CA file %s is missing, so no user CA is trusted' % (host, ca['path']))
            for key in compared['missing_keys']:
                summary.append('%s: CA key %s is not trusted in %s' % (host, _describe_key(key), ca['path']))
            for key in compared['extra_keys']:
                summary.append('%s: %s trusts CA key %s, which is not wanted' % (host, ca['path'], _describe_key(key)))
            for number in compared['invalid_lines']:
                summary.append('%s: %s line %d is not a public key' % (host, ca['path'], number))

    unaccepted = []
    if actors:
        for name in sorted(actors):
            if not any(p in accepted for p in actors[name].get('principals') or []):
                unaccepted.append(name)

    drift = bool(summary)
    return {
        'drift': drift,
        'accounts': accounts,
        'unmanaged_accounts': unmanaged,
        'ca': ca,
        'unaccepted_actors': unaccepted,
        'summary': summary,
        'scanned': bool(observed.get('scanned')),
    }


# --- argument specs (shared by the docs-only module and the action plugin) ----------------------
PRINCIPALS_DRIFT_SPEC = {
    'principals': {'type': 'dict'},
    'trusted_ca_keys': {'type': 'list', 'elements': 'str'},
    'ca_path': {'type': 'path', 'default': DEFAULT_CA_PATH},
    'path_template': {'type': 'str', 'default': DEFAULT_PATH_TEMPLATE},
    'actors': {'type': 'dict'},
    'inventory_file': {'type': 'path'},
    'fail_on_drift': {'type': 'bool', 'default': False},
}
PRINCIPALS_DRIFT_EXCLUSIVE = [['actors', 'inventory_file']]
