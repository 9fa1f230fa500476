"""The one duration parser, in the three forms its callers read (openbao.timeout, renew_before,
the SSH engine's role durations): each keeps exactly the inputs it accepted before."""

import pytest

from ansible_collections.netkingdom.warden.plugins.module_utils._settings.durations import parse_duration

TIMEOUT = (('ms', 's', 'm', 'h'), 's')
RENEW_BEFORE = (('s', 'm', 'h', 'd'), 'h')
ROLE = (('h', 'm', 's'), 's')


@pytest.mark.parametrize('text, form, seconds', [
    ('30', TIMEOUT, 30.0), (' 30s ', TIMEOUT, 30.0), ('2 m', TIMEOUT, 120.0), ('500ms', TIMEOUT, 0.5),
    ('12', RENEW_BEFORE, 43200.0), ('90m', RENEW_BEFORE, 5400.0), ('2d', RENEW_BEFORE, 172800.0),
    ('1.5 h', RENEW_BEFORE, 5400.0),
])
def test_one_number_with_an_optional_unit(text, form, seconds):
    assert parse_duration(text, *form) == seconds


@pytest.mark.parametrize('text, form', [
    ('1h30m', TIMEOUT), ('30S', TIMEOUT), ('2d', TIMEOUT), ('', TIMEOUT), ('soon', TIMEOUT),
    ('500ms', RENEW_BEFORE), ('1h30m', RENEW_BEFORE), ('-1h', RENEW_BEFORE), ('1..5h', RENEW_BEFORE),
])
def test_other_text_is_not_a_duration(text, form):
    assert parse_duration(text, *form) is None


@pytest.mark.parametrize('text, seconds', [
    ('86400', 86400.0), ('24h', 86400.0), ('1h30m', 5400.0), ('90m', 5400.0), ('45s', 45.0), ('1h1h', 7200.0),
])
def test_openbao_compound_form(text, seconds):
    assert parse_duration(text, *ROLE, compound=True) == seconds


@pytest.mark.parametrize('text', ['', '1h 30m', '24 h', '1d', 'h', '30m5', '500ms'])
def test_openbao_compound_form_refuses(text):
    assert parse_duration(text, *ROLE, compound=True) is None
