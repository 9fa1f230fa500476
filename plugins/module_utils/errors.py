# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Error types shared by every part of the collection.

Each error carries the path of the offending field so a plugin can show
"warden_actors['agt-x'].ttl_hours: ..." instead of a traceback.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class WardenError(Exception):
    """Base class: a user-facing problem with a clear message."""


class ValidationError(WardenError):
    """One or more fields are invalid. ``problems`` is a list of (field, message)."""

    def __init__(self, problems, what='input'):
        self.problems = list(problems)
        self.what = what
        lines = ['%s: %s' % (field, msg) if field else msg for field, msg in self.problems]
        if len(lines) == 1:
            text = 'invalid %s: %s' % (what, lines[0])
        else:
            text = 'invalid %s (%d problems):\n- %s' % (what, len(lines), '\n- '.join(lines))
        super(ValidationError, self).__init__(text)

    @property
    def fields(self):
        return [field for field, dummy in self.problems]


class PolicyUnavailable(WardenError):
    """The remote policy decision point could not be asked: no connection, a timeout, a cut
    connection or an HTTP 5xx. The only failure ``policy.fail_closed: false`` may open."""


class PolicyAnswerInvalid(PolicyUnavailable):
    """The PDP answered, but not with a usable decision: an HTTP status other than 2xx and 5xx,
    a body that is not JSON, not a decision envelope, or an allow without an id. Always a deny:
    a PDP that refuses (401, 403) or an answer nobody can read is never failed open."""


class SigningError(WardenError):
    """A certificate could not be signed for a reason other than bad input (a missing
    library, a CA key the signer cannot use, a backend failure)."""
