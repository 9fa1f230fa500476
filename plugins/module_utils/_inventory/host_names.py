# -*- coding: utf-8 -*-
# Copyright (c) 2026, netkingdom.warden contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The names a host certificate holds: from the inventory only, never from what the host reports.

A host's own idea of its name (``socket.getfqdn()``, ``/etc/hosts``, the hostname) is whatever
whoever controls the host makes it: a compromised host could claim another host's name and get a
certificate that every client trusting the host CA accepts. So the names come from the controller:
the task's option, else the inventory variable ``warden_host_cert_principals``, else
``inventory_hostname`` plus ``ansible_host`` when that is a DNS name (an IP address is left out:
OpenBao host roles with ``allowed_domains`` refuse it). What the host reports may only be shown.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError

try:
    import ipaddress
except ImportError:  # pragma: no cover - Python 2 without the backport
    ipaddress = None

INVENTORY_VARIABLE = 'warden_host_cert_principals'
_LABEL = re.compile(r'^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z')


def is_ip_address(name):
    if ipaddress is None or not isinstance(name, str):
        return False
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def name_problem(name):
    """None for a DNS name (letters, digits, inner hyphens, dot-separated labels) or an IP address."""
    if not isinstance(name, str) or not name:
        return 'must be a DNS name or an IP address, got %r' % (name,)
    if is_ip_address(name):
        return None
    if len(name) > 253 or not all(_LABEL.match(label) for label in name.split('.')):
        return ('%r is neither a DNS name (labels of letters, digits and inner hyphens, separated by dots) nor an '
                'IP address' % (name,))
    return None


def inventory_names(inventory_hostname, ansible_host=None):
    """The default names: ``inventory_hostname``, plus ``ansible_host`` when that is a DNS name."""
    names = [inventory_hostname]
    if ansible_host and ansible_host != inventory_hostname and not is_ip_address(ansible_host) \
            and name_problem(ansible_host) is None:
        names.append(ansible_host)
    return names


def host_cert_names(configured, inventory_hostname, ansible_host=None, field='host_cert_principals',
                    variable=None):
    """The validated, sorted names for a host's certificate.

    ``configured`` (the task's option) wins, then ``variable`` (the value of ``warden_host_cert_principals``),
    else ``inventory_names()``. Raises ValidationError naming the field and the index of a bad name.
    """
    if configured is not None:
        names, where = configured, field
    elif variable is not None:
        names, where = variable, INVENTORY_VARIABLE
    else:
        names, where = inventory_names(inventory_hostname, ansible_host), 'inventory_hostname'
    if isinstance(names, str) or not isinstance(names, (list, tuple)):
        raise ValidationError([(where, 'must be a list of DNS names or IP addresses')], what='host certificate names')
    problems = []
    for index, name in enumerate(names):
        why = name_problem(name)
        if why:
            problems.append((where if where == 'inventory_hostname' else '%s[%d]' % (where, index),
                             why + ('; name the host certificate with %s' % INVENTORY_VARIABLE
                                    if where == 'inventory_hostname' else '')))
    if not names:
        problems.append((where, 'must name at least one host name'))
    if problems:
        raise ValidationError(problems, what='host certificate names')
    return sorted(set(names))


def reported_names_note(host, names, reported):
    """A warning when the host calls itself something that is not in its certificate (never signed)."""
    # the short form of a listed name (host1 of host1.example.net) is the same host, not a claim
    other = sorted(set(n for n in reported if n and n not in names and n != 'localhost'
                       and not any(listed.startswith(n + '.') for listed in names)))
    if not other:
        return None
    return ('%s reports the name(s) %s, which are not in its certificate (%s): host certificate names come from the '
            'inventory only (%s, else inventory_hostname and a DNS-name ansible_host); what a host reports about '
            'itself is never signed' % (host, ', '.join(other), ', '.join(names), INVENTORY_VARIABLE))
