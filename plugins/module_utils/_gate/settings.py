# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``policy`` options: validated gate settings (``WARDEN_POLICY_*`` environment fallbacks), and
the controller's consent to sign without a decision (``WARDEN_ALLOW_UNGATED``)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError
from ansible_collections.netkingdom.warden.plugins.module_utils._settings.resolver import (
    ENV_NAME_RE,
    Option,
    OptionGroup,
    parse_bool,
)
from ansible_collections.netkingdom.warden.plugins.module_utils._registry.snapshot import DEFAULT_TENANT, SYSTEM
from ansible_collections.netkingdom.warden.plugins.module_utils._settings.url_check import ENV as INSECURE_HTTP_ENV, url_problem

MODES = ('off', 'embedded', 'flex_auth')
SUBJECT_ENV = 'WARDEN_POLICY_SUBJECT'
# The controller's consent to sign without a decision (mode off, or fail_closed false). Read from
# the controller's environment only: no option, play variable or warden.yaml key can set it, so
# inventory alone can never turn the gate off.
UNGATED_ENV = 'WARDEN_ALLOW_UNGATED'

POLICY = OptionGroup('policy', {
    'mode': Option('embedded', ['WARDEN_POLICY_MODE'], choices=MODES),
    'registry': Option(None, ['WARDEN_POLICY_REGISTRY'], 'path'),
    'url': Option(None, ['WARDEN_POLICY_URL']),
    'fail_closed': Option(True, ['WARDEN_POLICY_FAIL_CLOSED'], 'bool'),
    'tenant': Option(DEFAULT_TENANT, ['WARDEN_POLICY_TENANT']),
    'system': Option(SYSTEM, []),
    'token': Option(None, ['WARDEN_POLICY_TOKEN'], secret=True),
    'client_cert': Option(None, ['WARDEN_POLICY_CLIENT_CERT'], 'path'),
    'client_key': Option(None, ['WARDEN_POLICY_CLIENT_KEY'], 'path'),
    'ca_cert': Option(None, ['WARDEN_POLICY_CA_CERT'], 'path'),
    'validate_certs': Option(True, ['WARDEN_POLICY_VALIDATE_CERTS'], 'bool'),
    'timeout': Option(5.0, ['WARDEN_POLICY_TIMEOUT'], 'float'),
    'retries': Option(2, ['WARDEN_POLICY_RETRIES'], 'count'),
    'subject_env': Option(SUBJECT_ENV, []),  # ops-warden's policy.subject_env: the variable naming the subject
    'allow_insecure_http': Option(False, [INSECURE_HTTP_ENV], 'bool'),
}, 'policy settings')


def policy_argument_spec():
    """The ``policy`` option for action plugins; GateSettings applies the environment and the defaults."""
    return POLICY.argument_spec()


class GateSettings(object):
    """Validated gate options: explicit value, else environment, else default."""

    def __init__(self, options=None, env=None):
        env = os.environ if env is None else env
        values, dummy = POLICY.resolve(options, env)
        for name, value in values.items():
            setattr(self, name, value)
        problems = []
        consent = env.get(UNGATED_ENV)
        self.allow_ungated = parse_bool(consent) is True
        if consent not in (None, '') and parse_bool(consent) is None:
            problems.append((UNGATED_ENV, 'must be 1 or 0 (true or false), got %r' % (consent,)))
        if self.mode not in MODES:
            problems.append(('policy.mode', 'must be one of %s, got %r' % (', '.join(MODES), self.mode)))
        if self.mode == 'flex_auth':
            if not self.url:
                problems.append(('policy.url', 'is required when policy.mode is flex_auth '
                                 '(or set WARDEN_POLICY_URL)'))
            elif url_problem(self.url, self.allow_insecure_http, 'policy.allow_insecure_http'):
                problems.append(('policy.url', url_problem(self.url, self.allow_insecure_http,
                                                           'policy.allow_insecure_http')))
        if not ENV_NAME_RE.match(self.subject_env):
            problems.append(('policy.subject_env', 'must be the name of an environment variable (letters, digits '
                             'and _), got %r' % (self.subject_env,)))
        if bool(self.client_key) and not self.client_cert:
            problems.append(('policy.client_key', 'needs policy.client_cert'))
        if self.timeout <= 0:
            problems.append(('policy.timeout', 'must be greater than 0'))
        if problems:
            raise ValidationError(problems, what='policy settings')

    def ungated_problems(self):
        """``(field, message)`` for each setting that would sign without a decision while the
        controller has not allowed it (``WARDEN_ALLOW_UNGATED``); empty when none."""
        if self.allow_ungated:
            return []
        how = ('set %s=1 in the environment of ansible-playbook (in AWX: the flex-auth credential\'s '
               '"allow ungated signing" input) to allow it, never from inventory' % UNGATED_ENV)
        problems = []
        if self.mode == 'off':
            problems.append(('policy.mode', 'off signs without any policy check, which the controller has not '
                             'allowed: use mode embedded or flex_auth, or %s' % how))
        if self.mode == 'flex_auth' and not self.fail_closed:
            problems.append(('policy.fail_closed', 'false signs without a decision while the PDP is unreachable, '
                             'which the controller has not allowed: remove fail_closed: false, or %s' % how))
        return problems

    def client_key_id(self):
        """Cache key for a reusable client (secrets only as part of an in-memory key)."""
        return (self.url, self.token, self.ca_cert, self.validate_certs, self.client_cert,
                self.client_key, self.timeout, self.retries)
