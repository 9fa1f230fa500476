"""Host certificate names come from the inventory only: defaults, precedence and validation."""

import pytest

from ansible_collections.netkingdom.warden.plugins.module_utils._inventory import host_names as H
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError


@pytest.mark.parametrize('inventory_hostname, ansible_host, names', [
    ('host1.fleet.test', '127.77.0.1', ['host1.fleet.test']),          # an IP address is never a default name
    ('host1.fleet.test', '::1', ['host1.fleet.test']),
    ('web1', 'web1.example.net', ['web1', 'web1.example.net']),        # a DNS-name ansible_host joins
    ('web1.example.net', 'web1.example.net', ['web1.example.net']),
    ('web1.example.net', None, ['web1.example.net']),
])
def test_defaults_are_the_inventory_name_and_a_dns_ansible_host(inventory_hostname, ansible_host, names):
    assert H.host_cert_names(None, inventory_hostname, ansible_host) == names


def test_the_option_beats_the_inventory_variable_beats_the_defaults():
    assert H.host_cert_names(['b.example', 'a.example', 'b.example'], 'h', variable=['x.example']) == \
        ['a.example', 'b.example']
    assert H.host_cert_names(None, 'h', '10.0.0.1', variable=['x.example', '10.0.0.1']) == ['10.0.0.1', 'x.example']


@pytest.mark.parametrize('configured, variable, inventory_hostname, field', [
    (['ok.example', 'bad name'], None, 'h', 'host_cert_principals[1]'),
    (['-lead.example'], None, 'h', 'host_cert_principals[0]'),
    (['*.example'], None, 'h', 'host_cert_principals[0]'),
    (['a..example'], None, 'h', 'host_cert_principals[0]'),
    (['x' * 64 + '.example'], None, 'h', 'host_cert_principals[0]'),
    (['h\u0430.example'], None, 'h', 'host_cert_principals[0]'),   # a Cyrillic look-alike
    ([], None, 'h', 'host_cert_principals'),
    ('one.example', None, 'h', 'host_cert_principals'),
    (None, ['ok.example', 'under_score'], 'h', 'warden_host_cert_principals[1]'),
    (None, None, 'db_1', 'inventory_hostname'),
])
def test_a_bad_name_is_refused_naming_the_field(configured, variable, inventory_hostname, field):
    with pytest.raises(ValidationError) as exc:
        H.host_cert_names(configured, inventory_hostname, variable=variable)
    assert field in exc.value.fields
    if field == 'inventory_hostname':
        assert 'warden_host_cert_principals' in str(exc.value)


def test_what_the_host_reports_is_only_noted():
    names = ['host1.fleet.test']
    assert H.reported_names_note('host1.fleet.test', names, ['host1.fleet.test', 'host1']) is None
    assert H.reported_names_note('host1.fleet.test', names, ['localhost', None]) is None
    note = H.reported_names_note('host1.fleet.test', names, ['bank.fleet.test', 'bank'])
    assert 'bank.fleet.test' in note and 'never signed' in note and 'warden_host_cert_principals' in note
