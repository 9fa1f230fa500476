"""Finding 14.5 on the real bed: no token over plain http:// to anything but loopback, unless opted in.

A documentation address (192.0.2.10, RFC 5737) is put on ``lo`` of this test's own network namespace
(scripts/in-netns: nothing leaves it), and a TCP relay there counts every connection and forwards it to
the real OpenBao and the real test PDP. So ``http://192.0.2.10:<port>`` is a working, non-loopback
OpenBao / flex-auth address whose every contact is counted:

- without the opt-in, the CA public-key look-up, the gate (policy_decision, policy_check), registry_verify
  and a role-style ``uri`` call through the ``secure_url`` filter all fail naming the option, and the relay
  counts no connection (the PDP logs no decision);
- ``http://127.0.0.1`` (the bed's own OpenBao and PDP) needs no opt-in;
- with ``allow_insecure_http: true`` (option) or ``WARDEN_ALLOW_INSECURE_HTTP=1`` (environment) the same
  look-ups go through the relay and get the real answers.
"""

import json
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from tests.bed.ansible_run import run_playbook
from tests.bed.pdp import PdpProcess
from tests.integration.signing.test_ssh_cert import keygen

pytest_plugins = ["tests.integration.pdp_fixtures"]

HERE = Path(__file__).resolve().parents[1]
REMOTE = '192.0.2.10'  # TEST-NET-1, only ever on lo inside this namespace
TOKEN = 'pdp-bearer-' + 'for-the-relay-test'


class Relay(object):
    """Listens on REMOTE:<port>, counts connections, pipes each one to ``upstream`` (host, port)."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.connections = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((REMOTE, 0))
        self.sock.listen(16)
        self.url = 'http://%s:%d' % (REMOTE, self.sock.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, dummy = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            server = socket.create_connection(self.upstream)
            for one, other in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(one, other), daemon=True).start()

    @staticmethod
    def _pipe(source, sink):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.sock.close()


@pytest.fixture(scope='module')
def remote_address(isolated):
    """REMOTE on lo of this (isolated) network namespace, for this module only."""
    subprocess.run(['ip', 'addr', 'add', '%s/32' % REMOTE, 'dev', 'lo'], check=True)
    yield REMOTE
    subprocess.run(['ip', 'addr', 'del', '%s/32' % REMOTE, 'dev', 'lo'], check=False)


def upstream_of(url):
    host, port = url.split('//', 1)[1].rsplit(':', 1)
    return host, int(port)


@pytest.fixture(scope='module')
def token_pdp(tmp_path_factory, gate_collections, pdp_isolated, gate_snapshot_file):
    """The test PDP, asking for a bearer token (the token the refusals must never send)."""
    with PdpProcess(gate_snapshot_file, tmp_path_factory.mktemp('pdp'), gate_collections, token=TOKEN) as process:
        yield process


@pytest.fixture(scope='module')
def relays(remote_address, openbao, token_pdp):
    bao, gate = Relay(upstream_of(openbao.url)), Relay(upstream_of(token_pdp.url))
    yield bao, gate, token_pdp
    bao.close()
    gate.close()


def run(tmp_path, openbao, relays, tags, env=None):
    bao_relay, pdp_relay, pdp = relays
    if not (tmp_path / 'probe.pub').exists():
        keygen(tmp_path / 'probe')
    extra = {'bao_remote': bao_relay.url, 'bao_loopback': openbao.url, 'pdp_remote': pdp_relay.url,
             'pdp_loopback': pdp.url, 'probe_pub': (tmp_path / 'probe.pub').read_text().strip(),
             'actors_file': str(HERE.parent / 'cases' / 'actors.yaml')}
    return run_playbook(HERE / 'playbooks' / 'insecure_http.yml', workdir=tmp_path, extra_vars=extra,
                        args=('--tags', tags),
                        env=dict({'WARDEN_POLICY_TOKEN': TOKEN, 'WARDEN_ALLOW_INSECURE_HTTP': ''}, **(env or {})))


def test_http_to_a_non_loopback_address_is_refused_without_contacting_it(tmp_path, openbao, relays):
    bao_relay, pdp_relay, pdp = relays
    before = (bao_relay.connections, pdp_relay.connections, len(pdp.decisions()))
    result = run(tmp_path, openbao, relays, 'refused')
    assert result.rc == 0, result.output[-3000:]

    def refused(task, option):
        res = result.task_results(task)[0]
        assert res.get('failed'), (task, res)
        assert 'is plain http:// to %s, which is not a loopback address' % REMOTE in res['msg'], res['msg']
        assert option in res['msg'] and 'WARDEN_ALLOW_INSECURE_HTTP=1' in res['msg']
        return res

    refused('CA public key from OpenBao over http to a non-loopback address', 'openbao.allow_insecure_http')
    refused('Gate decision from a PDP over http to a non-loopback address', 'policy.allow_insecure_http')
    refused('The policy_check action against a PDP over http to a non-loopback address', 'policy.allow_insecure_http')
    refused('The registry_verify action over http to a non-loopback address', 'policy.allow_insecure_http')
    reload = refused('A role-style reload POST through the secure_url filter',
                     'flex_auth_registry_policy.allow_insecure_http')
    assert 'flex_auth_registry_reload_url is plain http://' in reload['msg']
    # refused before any connection: the relays saw nothing, the PDP decided nothing, no token left
    assert (bao_relay.connections, pdp_relay.connections, len(pdp.decisions())) == before
    assert TOKEN not in result.output

    # loopback http needs no opt-in: the bed's own OpenBao and PDP at 127.0.0.1
    result = run(tmp_path, openbao, relays, 'loopback')
    assert result.rc == 0, result.output[-3000:]
    assert (bao_relay.connections, pdp_relay.connections) == before[:2]
    loopback_key = result.task_results('CA public key from OpenBao over http to loopback')[0]['ansible_facts']['ca_key']
    assert loopback_key == openbao.ca_public_key().strip()
    decision = result.task_results('Gate decision from a PDP over http to loopback')[0]['ansible_facts']['decision']
    assert decision['allowed'] is True and decision['mode'] == 'flex_auth' and decision['decision_id']

    # the option opts in: the same look-ups go through the non-loopback address and get the real answers
    result = run(tmp_path, openbao, relays, 'opted_in')
    assert result.rc == 0, result.output[-3000:]
    remote_key = result.task_results('CA public key over http to a non-loopback address, opted in')[0]
    assert remote_key['ansible_facts']['remote_key'] == loopback_key
    opted = result.task_results('Gate decision over http to a non-loopback address, opted in')[0]
    assert opted['ansible_facts']['remote_decision']['allowed'] is True
    verified = result.task_results('The registry_verify action over http to a non-loopback address, opted in')[0]
    assert verified['ok'] is True and verified['url'] == pdp_relay.url
    assert bao_relay.connections > before[0] and pdp_relay.connections > before[1]


def test_the_environment_variable_opts_in_too(tmp_path, openbao, relays):
    bao_relay, pdp_relay, pdp = relays
    before = (bao_relay.connections, pdp_relay.connections)
    result = run(tmp_path, openbao, relays, 'refused', env={'WARDEN_ALLOW_INSECURE_HTTP': '1'})
    assert result.rc == 0, result.output[-3000:]
    key = result.task_results('CA public key from OpenBao over http to a non-loopback address')[0]
    assert not key.get('failed') and key['ansible_facts']['refused_key'] == openbao.ca_public_key().strip()
    decision = result.task_results('Gate decision from a PDP over http to a non-loopback address')[0]
    assert not decision.get('failed') and decision['ansible_facts']['refused_decision']['allowed'] is True
    assert bao_relay.connections > before[0] and pdp_relay.connections > before[1]
    assert json.dumps(pdp.decisions()[-1]).count('agt-state-hub-bridge') > 0
