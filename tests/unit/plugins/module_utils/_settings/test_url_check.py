"""Finding 14.5: no token over plain http:// to anything but loopback, unless the operator opts in.

One rule (plugins/module_utils/_settings/url_check.py) for every URL a token goes to: OpenBao (openbao.url, also the CA
public key every host trusts), the flex-auth PDP (policy.url), the registry checks (registry_verify, preflight)
and the reload endpoint of the flex_auth_registry role (the secure_url filter). These tests need no network:
every refusal happens while the settings are read, before a client exists. That nothing is contacted is shown
for real in tests/integration/security/test_insecure_http.py.
"""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.netkingdom.warden.plugins.filter.secure_url import secure_url
from ansible_collections.netkingdom.warden.plugins.module_utils._settings import url_check as U
from ansible_collections.netkingdom.warden.plugins.module_utils.errors import ValidationError
from ansible_collections.netkingdom.warden.plugins.module_utils._openbao.settings import OpenBaoSettings
from ansible_collections.netkingdom.warden.plugins.module_utils._gate.settings import GateSettings
from ansible_collections.netkingdom.warden.plugins.module_utils._registry.checks import make_client
from ansible_collections.netkingdom.warden.plugins.module_utils._signing.backends import make_backend

# Documentation addresses (RFC 5737, RFC 3849) and names: never contacted, only judged by their spelling.
REMOTE = ['http://192.0.2.10:8200', 'http://openbao.openbao.svc.cluster.local:8200', 'http://[2001:db8::1]:8080',
          'http://10.0.0.5', 'http://127.0.0.1.example.net', 'http://localhost.example.net:8080',
          'http://2130706433/', 'http://127.1:8080']
LOOPBACK = ['http://127.0.0.1:8200', 'http://127.77.0.3:8080', 'http://[::1]:8200', 'http://localhost:8080',
            'http://LOCALHOST', 'http://[::ffff:127.0.0.1]:8080', 'http://127.255.255.254/']
TOKEN = 'not-a-real-token-but-a-token'


SECURE = ['https://192.0.2.10:8200', 'https://openbao.example.internal', 'HTTPS://pdp.example.internal:8443']


@pytest.mark.parametrize('url', LOOPBACK + SECURE)
def test_https_and_loopback_http_are_allowed(url):
    assert U.url_problem(url) is None


@pytest.mark.parametrize('url', REMOTE)
def test_http_to_anything_else_is_refused_naming_the_option(url):
    problem = U.url_problem(url, option='openbao.allow_insecure_http')
    assert problem.startswith('is plain http:// to ')
    assert 'openbao.allow_insecure_http: true' in problem and 'WARDEN_ALLOW_INSECURE_HTTP=1' in problem
    assert U.url_problem(url, allow_insecure_http=True) is None  # the opt-in


@pytest.mark.parametrize('url', ['ftp://127.0.0.1/', 'file:///etc/passwd', 'http://', '127.0.0.1:8200', '', None])
def test_not_a_web_address(url):
    assert U.url_problem(url) is not None


def test_the_opt_in_and_its_environment_variable():
    assert U.insecure_http_allowed(None, env={}) is False
    assert U.insecure_http_allowed(None, env={'WARDEN_ALLOW_INSECURE_HTTP': '1'}) is True
    assert U.insecure_http_allowed(None, env={'WARDEN_ALLOW_INSECURE_HTTP': 'no'}) is False
    assert U.insecure_http_allowed(False, env={'WARDEN_ALLOW_INSECURE_HTTP': '1'}) is False  # the option wins
    assert U.insecure_http_allowed(True, env={}) is True
    assert U.insecure_http_allowed('maybe', env={}) is False


# --- every place that sends a token ---------------------------------------------------------------

@pytest.mark.parametrize('url', REMOTE[:3])
def test_openbao_url_refused_before_any_client(url):
    with pytest.raises(ValidationError) as info:
        OpenBaoSettings({'url': url, 'token': TOKEN}, env={})
    assert info.value.fields == ['openbao.url'] and 'openbao.allow_insecure_http' in str(info.value)
    assert TOKEN not in str(info.value)
    # also the unauthenticated CA public-key read (what hosts put in TrustedUserCAKeys) and the env fallbacks
    with pytest.raises(ValidationError):
        OpenBaoSettings(env={'BAO_ADDR': url}, require_auth=False)
    with pytest.raises(ValidationError) as info:
        make_backend('openbao', {'url': url}, env={}, need_auth=False)
    assert 'openbao.allow_insecure_http' in str(info.value)


def test_openbao_opt_in_by_option_or_environment():
    url = REMOTE[1]  # an in-cluster http address, as ops-warden's vault.addr allows
    assert OpenBaoSettings({'url': url, 'token': TOKEN, 'allow_insecure_http': True}, env={}).url == url
    settings = OpenBaoSettings({'url': url, 'token': TOKEN}, env={'WARDEN_ALLOW_INSECURE_HTTP': 'true'})
    assert settings.allow_insecure_http is True and settings.sources['allow_insecure_http'] == 'WARDEN_ALLOW_INSECURE_HTTP'
    with pytest.raises(ValidationError):  # an explicit false is not overridden by the environment
        OpenBaoSettings({'url': url, 'token': TOKEN, 'allow_insecure_http': False},
                        env={'WARDEN_ALLOW_INSECURE_HTTP': 'true'})
    assert OpenBaoSettings({'url': LOOPBACK[0], 'token': TOKEN}, env={}).allow_insecure_http is False


def test_pdp_url_refused_and_opt_in():
    with pytest.raises(ValidationError) as info:
        GateSettings({'mode': 'flex_auth', 'url': 'http://192.0.2.10:8080', 'token': TOKEN}, env={})
    assert info.value.fields == ['policy.url'] and 'policy.allow_insecure_http' in str(info.value)
    assert TOKEN not in str(info.value)
    with pytest.raises(ValidationError):
        GateSettings(env={'WARDEN_POLICY_MODE': 'flex_auth', 'WARDEN_POLICY_URL': 'http://192.0.2.10:8080'})
    assert GateSettings({'mode': 'flex_auth', 'url': 'http://192.0.2.10:8080', 'allow_insecure_http': True},
                        env={}).url == 'http://192.0.2.10:8080'
    assert GateSettings(env={'WARDEN_POLICY_MODE': 'flex_auth', 'WARDEN_POLICY_URL': 'http://192.0.2.10:8080',
                             'WARDEN_ALLOW_INSECURE_HTTP': '1'}).allow_insecure_http is True
    # ops-warden's default PDP address is loopback: allowed as it is
    assert GateSettings({'mode': 'flex_auth', 'url': 'http://127.0.0.1:8080'}, env={}).url == 'http://127.0.0.1:8080'


def test_registry_check_url_refused_and_opt_in():
    with pytest.raises(ValidationError) as info:
        make_client('http://192.0.2.10:8080', GateSettings({'token': TOKEN}, env={}))
    assert info.value.fields == ['url'] and 'policy.allow_insecure_http' in str(info.value)
    client = make_client('http://192.0.2.10:8080', GateSettings({'allow_insecure_http': True}, env={}))
    client.close()  # made, not used: nothing was contacted
    make_client('http://127.77.0.1:8080', GateSettings({}, env={})).close()


def test_secure_url_filter_for_role_tasks(monkeypatch):
    monkeypatch.delenv('WARDEN_ALLOW_INSECURE_HTTP', raising=False)
    assert secure_url('https://pdp.example.internal/v1/admin/reload') == 'https://pdp.example.internal/v1/admin/reload'
    assert secure_url('http://127.0.0.1:8080/reload') == 'http://127.0.0.1:8080/reload'
    with pytest.raises(AnsibleFilterError) as info:
        secure_url('http://192.0.2.10:8080/reload', None, option='flex_auth_registry_policy.allow_insecure_http',
                   field='flex_auth_registry_reload_url')
    assert str(info.value).startswith('flex_auth_registry_reload_url is plain http:// to 192.0.2.10')
    assert 'flex_auth_registry_policy.allow_insecure_http' in str(info.value)
    assert secure_url('http://192.0.2.10:8080/reload', True) == 'http://192.0.2.10:8080/reload'
    monkeypatch.setenv('WARDEN_ALLOW_INSECURE_HTTP', '1')
    assert secure_url('http://192.0.2.10:8080/reload') == 'http://192.0.2.10:8080/reload'
