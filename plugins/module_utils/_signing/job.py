# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One certificate on a host, decided on the controller: keep or renew, sign, record.

Shared by the ``ssh_cert`` action (one certificate per task) and the ``sshd_trust`` action
(every host certificate of a host in the same round trip). The caller reads the host (public
key and current certificate) and writes the certificate back; this class never talks to a host.
The order is always plan -> (check mode: stop) -> gate + sign + audit -> write (caller): the
``signed`` record is on disk before the certificate leaves the controller, and a write that then
fails on the host adds a ``write_failed`` record.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.netkingdom.warden.plugins.module_utils.errors import WardenError
from ansible_collections.netkingdom.warden.plugins.module_utils._openssh.certificate import describe
from ansible_collections.netkingdom.warden.plugins.module_utils._signing.results import diff_text, result_fields


class CertJob(object):
    """Keep-or-renew for one key: ``plan()``, then either ``kept()`` or ``sign()`` and ``written()``."""

    def __init__(self, service, request, host, renew_before=None, force=False, subject=None):
        self.service = service
        self.request = request
        self.host = host
        self.renew_before = renew_before
        self.force = force
        self.subject = subject
        self.public_key = None
        self.reason = None
        self.current = None
        self.cert = self.parsed = self.decision = None

    def plan(self, public_key, cert_text):
        """Why to sign (``missing``, ``expiring``, ...) or ``valid``. Raises WardenError."""
        self.public_key = public_key
        self.reason, self.current = self.service.plan(self.request, public_key, cert_text, self.renew_before,
                                                      self.force)
        return self.reason

    @property
    def needed(self):
        return self.reason != 'valid'

    def kept(self):
        """Audit the kept certificate; its result fields."""
        self.service.record(self.request, self.host, 'kept', self.reason,
                            fingerprint=self.current['key_fingerprint'], cert=self.current)
        return result_fields(self.current, None)

    def planned(self):
        """What check mode reports for a certificate that would be signed (nothing is signed)."""
        return {'principals': list(self.request['principals']), 'policy_decision_id': None,
                'msg': 'would sign a new certificate (%s)' % self.reason}

    def sign(self):
        """Gate, sign and record; the certificate line. Raises PolicyDenied or WardenError (host untouched)."""
        self.cert, self.parsed, self.decision = self.service.issue(self.request, self.public_key, self.host,
                                                                   self.reason, subject=self.subject)
        return self.cert

    def write_failed(self, message):
        """The signed (and recorded) certificate did not reach the host: a second record says so.

        Returns text to add to the task's failure message: empty, or why that record is missing too.
        """
        try:
            self.service.record(self.request, self.host, 'write_failed', str(message)[:300],
                                fingerprint=self.parsed['key_fingerprint'], cert=self.parsed, decision=self.decision,
                                subject=self.subject)
        except WardenError as exc:
            return '; the write_failed audit record could not be written either: %s' % exc
        return ''

    @property
    def warnings(self):
        """What every plugin shows once signed: the gate decision's warnings (gate off, failed open), a
        replaced forged certificate, the backend's own (read once: a second read has none of the latter)."""
        warnings = list(self.decision.warnings) if self.decision is not None else []
        if self.reason == 'signature_invalid':
            warnings.append('%s: the certificate found there (serial %s) named a trusted CA but was not signed by it '
                            '(forged or damaged); it was replaced, and the audit record says signature_invalid'
                            % (self.host, self.current['serial']))
        return warnings + self.service.take_warnings()

    def written(self):
        """The certificate is on the host (its record was written at ``sign()``); its result fields."""
        return result_fields(self.parsed, self.decision)

    def diff(self):
        """``{'before': ..., 'after': ...}``: the signed certificate, or the planned one in check mode."""
        if self.parsed is not None:
            after = describe(self.parsed)
        else:
            after = {'principals': self.request['principals'], 'ttl_hours': self.request['ttl_hours'],
                     'serial': '(new)', 'cert_type': self.request['cert_type']}
        return {'before': diff_text(describe(self.current)), 'after': diff_text(after)}
