# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The preflight report: each check ``{name, ok, message, fix}`` (and ``host``), and the ones not run.

A check that cannot run because an earlier one failed (no token check while OpenBao is down) is
listed in ``not_run`` with the reason, not as a second failure; so is a check skipped on request.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class Report(object):
    """The checks done so far, and the ones that could not run."""

    def __init__(self, skip=()):
        self.checks = []
        self.not_run = []
        self.skip_names = frozenset(skip or ())

    def wanted(self, name):
        """Whether the check ``name`` runs (one skipped on request is listed in ``not_run``)."""
        if name in self.skip_names:
            self.not_run.append({'name': name, 'why': 'skipped on request'})
            return False
        return True

    def add(self, name, ok, message, fix=None, host=None):
        """Record a check (its ``fix`` only when it failed); returns ``ok``."""
        item = {'name': name, 'ok': bool(ok), 'message': message, 'fix': None if ok else fix}
        if host is not None:
            item['host'] = host
        self.checks.append(item)
        return bool(ok)

    def skip(self, name, why, host=None):
        """Record a check that could not run, and why."""
        item = {'name': name, 'why': why}
        if host is not None:
            item['host'] = host
        self.not_run.append(item)

    @property
    def failed(self):
        """The checks that failed."""
        return [c for c in self.checks if not c['ok']]

    def summary(self):
        """The report as text: all passed, or each failure with its fix."""
        failed = self.failed
        if not failed:
            return 'preflight: all %d checks passed' % len(self.checks)
        lines = ['preflight: %d of %d checks failed:' % (len(failed), len(self.checks))]
        for item in failed:
            where = '%s[%s]' % (item['name'], item['host']) if item.get('host') else item['name']
            lines.append('- %s: %s' % (where, item['message']))
            if item.get('fix'):
                lines.append('  fix: %s' % item['fix'])
        return '\n'.join(lines)
