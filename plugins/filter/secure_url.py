# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``secure_url`` filter: the URL unchanged, or an error when a token would go to it over plain http://.

For role tasks that send a token with a stock module (``ansible.builtin.uri``); the rule is the one every
plugin of the collection applies (plugins/module_utils/_settings/url_check.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.netkingdom.warden.plugins.module_utils._settings.url_check import (
    OPTION,
    insecure_http_allowed,
    url_problem,
)


def secure_url(url, allow_insecure_http=None, option=OPTION, field='url'):
    """``url`` when it is https://, http:// to a loopback address, or ``allow_insecure_http`` (else the
    environment variable WARDEN_ALLOW_INSECURE_HTTP) is true; otherwise an error naming ``field`` and ``option``."""
    problem = url_problem(url, insecure_http_allowed(allow_insecure_http), option)
    if problem:
        raise AnsibleFilterError('%s %s' % (field, problem))
    return url


class FilterModule(object):

    def filters(self):
        return {'secure_url': secure_url}
