"""A flex-auth-compatible policy decision point (PDP) for the test bed.

flex-auth itself is not available as a package, so the integration tests run this process:
a real HTTP server on loopback that serves the flex-auth ``/v1`` contract used by the
ops-warden signing gate and decides by evaluating the published Rego packages
(policy/flex-auth/*.rego: flexauth.ops_warden.ssh_signing, flexauth.ops_warden.credential_read)
on a real Rego engine (regopy, the Python bindings of rego-cpp), with the registry snapshot file
as ``data.registry``, loaded as flex-auth would load it. It imports NOTHING from the collection
(tests/unit/repo/test_pdp_independence.py fails if it does): what it answers is an independent
evaluation of the published rules, which the parity tests compare with the embedded gate.
Standard library plus regopy.

Endpoints
  GET  /healthz          200 {"status": "ok", "registry_digest", "actors", "generation", ...}
  POST /v1/check         a decision envelope (the Rego package's decision; provenance names this PDP)
  POST /v1/batch-check   {"requests": [...]} -> {"decisions": [...]}, in order
  GET  /v1/registry      {"digest", "actors", "tenants", "loaded_at", "generation"}
  POST /v1/admin/reload  reload --registry now (like SIGHUP): 200 {"digest", "generation"}, or 422
                         {"error": "reload_refused", "message"} and the old registry stays in use
  wrong method -> 405 with Allow; malformed body -> 400 JSON; unknown path -> 404 JSON;
  with --token-file every /v1/ path needs "Authorization: Bearer <token>" (else 401).

Fault injection: --control FILE is read on every request; a JSON object
  {"fault": null | "slow" | "error500" | "status" | "garbage" | "body" | "cut" | "cut_body"
            | "badgzip" | "noid",
   "delay": seconds (slow), "status": code (status), "body": raw text (body),
   "scope": "decisions" (default: /v1/check and /v1/batch-check) | "all"}
  slow      sleeps `delay`, then answers normally
  error500  answers 500 (JSON error body)         status    answers `status`
  garbage   answers 200 with a body that is not JSON
  body      answers 200 with `body` as is (e.g. '{"effect": "allow"}')
  cut       sends part of the status line/headers, then shuts the socket down
  cut_body  sends complete headers (Content-Length) and half the body, then shuts down
  badgzip   answers 200 "Content-Encoding: gzip" with a body that is not gzip
  noid      evaluates normally but strips "id" and "request_id" from every envelope

Signals: SIGHUP reloads --registry (and --token-file); an invalid new file is refused, the
old registry stays in use and the error is logged (and counted in /healthz). SIGTERM and
SIGINT stop the server.

Exit codes: 0 stopped, 2 bad arguments (also: a listen address that is not loopback),
3 invalid registry snapshot or Rego policy, 4 the Rego engine (regopy) cannot be imported,
5 cannot bind/TLS setup.
"""

import argparse
import hashlib
import hmac
import ipaddress
import json
import os
import signal
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

EVALUATOR = 'netkingdom.warden.test-pdp'
MAX_BODY = 1024 * 1024
DECISION_PATHS = ('/v1/check', '/v1/batch-check')
ROUTES = {  # path -> allowed method
    '/healthz': 'GET',
    '/v1/check': 'POST',
    '/v1/batch-check': 'POST',
    '/v1/registry': 'GET',
    '/v1/admin/reload': 'POST',
}
FAULTS = ('slow', 'error500', 'status', 'garbage', 'body', 'cut', 'cut_body', 'badgzip', 'noid')

# What this PDP knows of the policies, as flex-auth's configuration would: the package each
# resource type is decided by, and the names the envelope reports. Written out here (this file
# imports nothing of the collection under test).
POLICY_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                          'policy', 'flex-auth')
COLLECTION_POLICY_DIR = os.path.join('ansible_collections', 'netkingdom', 'warden', 'policy', 'flex-auth')
PACKAGES = {
    # resource.type -> (Rego package, policy id, policy version, matched_rule prefix, allow reason)
    'ssh-certificate': ('flexauth.ops_warden.ssh_signing', 'ops-warden.ssh-certificate.sign',
                        'ops-warden-sign/1', 'ops_warden.sign.', 'signing_policy_matched'),
    'credential-lane': ('flexauth.ops_warden.credential_read', 'ops-warden.credential-lane.read',
                        'ops-warden-credential-read/1', 'ops_warden.credential_read.', 'credential_read_allowed'),
}
DEFAULT_PACKAGE = 'ssh-certificate'  # any other resource.type: the signing package denies it


class RegistryError(ValueError):
    """The registry snapshot cannot be served; the message says why."""


def canonical(data):
    return json.dumps(data, sort_keys=True, separators=(',', ':'), ensure_ascii=False)


def load_registry(path):
    """The snapshot at ``path`` as flex-auth would take it, checked for what this PDP relies on:
    JSON, the manifests' required fields, no dangling tenant/subject/resource, and the digest the
    collection writes (sha256 of the canonical JSON without ``digest``). Raises RegistryError."""
    try:
        with open(path, 'rb') as handle:
            text = handle.read().decode('utf-8')
    except OSError as exc:
        raise RegistryError('%s: cannot read registry snapshot: %s' % (path, exc.strerror))
    except UnicodeDecodeError:
        raise RegistryError('%s: registry snapshot is not UTF-8 text' % path)
    try:
        snapshot = json.loads(text)
    except ValueError as exc:
        raise RegistryError('%s: not valid JSON: %s' % (path, exc))
    if not isinstance(snapshot, dict):
        raise RegistryError('%s: a registry snapshot must be a JSON object' % path)
    problems = []

    def items(container, key, where):
        value = container.get(key) if isinstance(container, dict) else None
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            problems.append('%s.%s must be a list of objects' % (where, key))
            return []
        return value

    tenants = set(t.get('id') for t in items(snapshot, 'tenants', 'snapshot'))
    subjects, resources = set(), set()
    for number, manifest in enumerate(items(snapshot, 'subject_manifests', 'snapshot')):
        for index, subject in enumerate(items(manifest, 'subjects', 'subject_manifests[%d]' % number)):
            subjects.add(subject.get('id'))
            if subject.get('tenant') not in tenants:
                problems.append('subject_manifests[%d].subjects[%d].tenant: unknown tenant %r (dangling reference)'
                                % (number, index, subject.get('tenant')))
    for number, manifest in enumerate(items(snapshot, 'resource_manifests', 'snapshot')):
        for key in ('id', 'system'):
            if not isinstance(manifest.get(key), str):
                problems.append('resource_manifests[%d].%s is required' % (number, key))
        for index, res in enumerate(items(manifest, 'resources', 'resource_manifests[%d]' % number)):
            where = 'resource_manifests[%d].resources[%d]' % (number, index)
            meta = res.get('metadata')
            if not isinstance(res.get('id'), str) or not isinstance(res.get('type'), str) or not isinstance(meta, dict):
                problems.append('%s needs id, type and metadata' % where)
                continue
            resources.add(res['id'])
            if meta.get('tenant') not in tenants:
                problems.append('%s.metadata.tenant: unknown tenant %r (dangling reference)' % (where, meta.get('tenant')))
    for index, rel in enumerate(items(snapshot, 'relationships', 'snapshot')):
        if rel.get('subject') not in subjects or rel.get('resource') not in resources:
            problems.append('relationships[%d]: unknown subject or resource (dangling reference)' % index)
    if not problems:
        body = dict((k, v) for k, v in snapshot.items() if k != 'digest')
        digest = 'sha256:' + hashlib.sha256(canonical(body).encode('utf-8')).hexdigest()
        if snapshot.get('digest') != digest:
            problems.append('digest %r does not match the content (it hashes to %s)' % (snapshot.get('digest'), digest))
    if problems:
        raise RegistryError('%s: invalid registry snapshot: %s' % (path, '; '.join(problems)))
    return snapshot


def actor_count(snapshot):
    return sum(1 for m in snapshot['resource_manifests'] for r in m['resources'] if r['type'] == 'ssh-certificate')


def policy_dir(args):
    """Where the .rego files are: --policy, else the checkout's policy/flex-auth, else the collection's."""
    if args.policy:
        return args.policy
    if os.path.isdir(POLICY_DIR):
        return POLICY_DIR
    if args.collections:
        return os.path.join(args.collections, COLLECTION_POLICY_DIR)
    return POLICY_DIR


def read_policies(directory):
    """{file name: Rego text} of every .rego file in ``directory``. Raises RegistryError."""
    try:
        names = sorted(n for n in os.listdir(directory) if n.endswith('.rego'))
        modules = {}
        for name in names:
            with open(os.path.join(directory, name)) as handle:
                modules[name] = handle.read()
    except OSError as exc:
        raise RegistryError('cannot read the Rego policies in %s: %s' % (directory, exc.strerror))
    if not modules:
        raise RegistryError('no .rego policy in %s' % directory)
    return modules


def decision_id(request, digest):
    """flex-auth's decision id as this PDP derives it: from the request and the registry (how
    flex-auth itself derives it is unconfirmed; the collection's embedded gate derives its own)."""
    text = 'flex-auth|%s|%s' % (digest, json.dumps(request, sort_keys=True, separators=(',', ':')))
    return 'decision:' + hashlib.sha256(text.encode('utf-8', 'surrogatepass')).hexdigest()[:16]


def request_problem(request):
    """Why a body is not a check request (400), as flex-auth's request decoding would say, or None."""
    if not isinstance(request, dict):
        return 'the request must be a JSON object'
    for key in ('subject', 'resource'):
        if not isinstance(request.get(key), dict):
            return '%s must be an object' % key
    for key in ('subject', 'resource'):
        if not isinstance(request[key].get('id'), str):
            return '%s.id must be a string' % key
    if not isinstance(request.get('action'), str):
        return 'action must be a string'
    if 'context' in request and not isinstance(request['context'], dict):
        return 'context must be an object'
    if 'tenant' in request and not isinstance(request['tenant'], str):
        return 'tenant must be a string'
    return None


class RegoPolicy(object):
    """The Rego packages compiled once against one registry snapshot (``data.registry``);
    ``decide(request)`` evaluates the package of the request's resource type."""

    def __init__(self, modules, snapshot):
        from regopy import Interpreter  # the real Rego engine (rego-cpp); PyPI regopy
        builder = Interpreter()
        for name, text in sorted(modules.items()):
            builder.add_module(name, text)
        builder.add_data_json(json.dumps({'registry': snapshot}))
        self.entrypoints = dict((rtype, spec[0].replace('.', '/') + '/decision') for rtype, spec in PACKAGES.items())
        self.bundle = builder.build(None, sorted(self.entrypoints.values()))
        self.runner = Interpreter()
        self.lock = threading.Lock()  # one interpreter: one query at a time
        self.digest = snapshot.get('digest')

    def evaluate(self, request):
        """The package's ``decision`` object for ``request`` (raises RuntimeError when undefined)."""
        rtype = request['resource'].get('type')
        entrypoint = self.entrypoints.get(rtype if rtype in PACKAGES else DEFAULT_PACKAGE)
        with self.lock:
            try:
                self.runner.set_input_term(json.dumps(request))
                output = str(self.runner.query_bundle_entrypoint(self.bundle, entrypoint))
            except Exception as exc:  # the engine refused the input (regopy raises several types)
                raise RuntimeError('the Rego engine failed: %s: %s' % (type(exc).__name__, str(exc)[:300]))
        try:
            decision = json.loads(output)['expressions'][0]
        except (ValueError, KeyError, IndexError, TypeError):
            raise RuntimeError('the policy gave no decision: %s' % output[:300])
        if not isinstance(decision, dict) or decision.get('effect') not in ('allow', 'deny'):
            raise RuntimeError('the policy gave no decision: %s' % output[:300])
        return decision

    def decide(self, request, mode='flex_auth'):
        """A flex-auth decision envelope for ``request``."""
        rtype = request['resource'].get('type')
        package, policy_id, version, prefix, allow = PACKAGES[rtype if rtype in PACKAGES else DEFAULT_PACKAGE]
        decision = self.evaluate(request)
        deny = decision['effect'] == 'deny'
        envelope = {
            'id': decision_id(request, self.digest),
            'effect': decision['effect'],
            'reason': decision['reason'],
            'matched_rule': prefix + ('deny.' + decision['reason'] if deny else 'allow'),
            'provenance': {
                'evaluator': EVALUATOR,
                'mode': mode,
                'policy_id': policy_id,
                'policy_version': version,
                'decision_time': time.strftime('%Y-%m-%dT%H:%M:%S.000000Z', time.gmtime()),
                'registry_digest': self.digest,
            },
        }
        if deny:
            envelope['rule'] = decision['rule']
        if isinstance(request.get('request_id'), str):
            envelope['request_id'] = request['request_id']
        return envelope


def utc_now():
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())


def log(msg):
    sys.stderr.write('pdp[%d] %s %s\n' % (os.getpid(), utc_now(), msg))
    sys.stderr.flush()


class State(object):
    """Everything the handlers share: the compiled policy, token, counters. Swapped under a lock."""

    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.log_lock = threading.Lock()
        self.generation = 0
        self.reload_errors = 0
        self.last_reload_error = None
        self.policy = None
        self.snapshot = None
        self.loaded_at = None
        self.token = None

    def load(self):
        """Load registry, policies and token; raise RegistryError/OSError/ValueError and keep the old state."""
        snapshot = load_registry(self.args.registry)
        policy = RegoPolicy(read_policies(policy_dir(self.args)), snapshot)
        token = None
        if self.args.token_file:
            with open(self.args.token_file) as handle:
                token = handle.read().strip()
            if not token:
                raise ValueError('token file %s is empty' % self.args.token_file)
        with self.lock:
            self.snapshot, self.policy, self.token = snapshot, policy, token
            self.loaded_at = utc_now()
            self.generation += 1

    def reload(self):
        """Reload the registry; return None, or why it was refused (the old one stays in use)."""
        try:
            self.load()
        except Exception as exc:  # keep serving the old registry
            with self.lock:
                self.reload_errors += 1
                self.last_reload_error = str(exc)
            log('ERROR reload refused, still serving %s: %s' % (self.policy.digest, exc))
            return str(exc)
        log('reloaded registry %s (generation %d)' % (self.policy.digest, self.generation))
        return None

    def view(self):
        with self.lock:
            return self.policy, self.snapshot, self.token

    def fault(self):
        path = self.args.control
        if not path:
            return {}
        try:
            with open(path) as handle:
                data = json.load(handle)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log('WARNING control file %s unreadable, no fault applied: %s' % (path, exc))
            return {}
        if not isinstance(data, dict) or not data.get('fault'):
            return {}
        if data['fault'] not in FAULTS:
            log('WARNING unknown fault %r ignored' % (data['fault'],))
            return {}
        return data

    def record(self, envelope, request, endpoint, fault=None):
        if not self.args.decision_log:
            return
        context = request.get('context') if isinstance(request.get('context'), dict) else {}
        entry = {
            'ts': utc_now(),
            'endpoint': endpoint,
            'decision_id': envelope.get('id'),
            'request_id': envelope.get('request_id'),
            'effect': envelope.get('effect'),
            'reason': envelope.get('reason'),
            'subject': request['subject'].get('id'),
            'subject_type': request['subject'].get('type'),
            'tenant': request.get('tenant'),
            'action': request.get('action'),
            'resource': request['resource'].get('id'),
            'actor_type': context.get('actor_type'),
            'principals': context.get('principals'),
            'ttl_hours': context.get('ttl_hours'),
            'pubkey_fingerprint': context.get('pubkey_fingerprint'),
            'registry_digest': envelope.get('provenance', {}).get('registry_digest'),
        }
        if fault:
            entry['fault'] = fault
        line = (json.dumps(entry, sort_keys=True, default=str) + '\n').encode('utf-8')
        with self.log_lock:
            fd = os.open(self.args.decision_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    disable_nagle_algorithm = True
    server_version = 'warden-test-pdp/1'
    sys_version = ''

    def log_message(self, fmt, *args):  # access log without headers (no token can leak)
        log('%s %s' % (self.client_address[0], fmt % args))

    # -- answers ---------------------------------------------------------------------------
    def _send(self, status, body, content_type='application/json', headers=None):
        data = body if isinstance(body, bytes) else body.encode('utf-8')
        self.send_response(status)
        self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self._headers_buffer.append(b'\r\n' + data)  # headers and body in one write
        self.flush_headers()

    def _json(self, status, data, headers=None):
        self._send(status, json.dumps(data, sort_keys=True) + '\n', headers=headers)

    def _error(self, status, code, message, headers=None):
        self._json(status, {'error': code, 'message': message}, headers=headers)

    def _cut(self, partial):
        self.wfile.write(partial)
        self.wfile.flush()
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.close_connection = True

    # -- request plumbing ------------------------------------------------------------------
    def _read_body(self):
        """The raw body, or None after answering an error."""
        if 'chunked' in (self.headers.get('Transfer-Encoding') or '').lower():
            self.close_connection = True
            self._error(411, 'length_required', 'send the body with a Content-Length')
            return None
        try:
            length = int(self.headers.get('Content-Length') or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            self._error(413 if length > MAX_BODY else 400, 'bad_length',
                        'Content-Length must be between 0 and %d' % MAX_BODY)
            return None
        return self.rfile.read(length) if length else b''

    def _authorized(self, token):
        if token is None:
            return True
        given = self.headers.get('Authorization') or ''
        scheme, dummy, value = given.partition(' ')
        return scheme.lower() == 'bearer' and hmac.compare_digest(value.strip().encode(), token.encode())

    def do_GET(self):
        self._dispatch('GET')

    def do_POST(self):
        self._dispatch('POST')

    def do_PUT(self):
        self._dispatch('PUT')

    def do_DELETE(self):
        self._dispatch('DELETE')

    def do_PATCH(self):
        self._dispatch('PATCH')

    def _dispatch(self, method):
        state = self.server.state
        path = self.path.split('?', 1)[0]
        body = self._read_body()
        if body is None:
            return
        if path not in ROUTES:
            return self._error(404, 'not_found', 'no such endpoint: %s' % path)
        fault = state.fault()
        if fault and (path in DECISION_PATHS or fault.get('scope') == 'all'):
            if self._apply_fault(fault):
                return
        policy, snapshot, token = state.view()
        if path.startswith('/v1/') and not self._authorized(token):
            return self._error(401, 'unauthorized', 'a valid bearer token is required',
                               headers={'WWW-Authenticate': 'Bearer realm="flex-auth"'})
        if method != ROUTES[path]:
            return self._error(405, 'method_not_allowed', '%s needs %s' % (path, ROUTES[path]),
                               headers={'Allow': ROUTES[path]})
        if path == '/healthz':
            return self._json(200, {
                'status': 'ok', 'evaluator': EVALUATOR, 'registry_digest': policy.digest,
                'actors': actor_count(snapshot), 'generation': state.generation,
                'reload_errors': state.reload_errors, 'last_reload_error': state.last_reload_error})
        if path == '/v1/admin/reload':
            refused = state.reload()
            policy, snapshot, token = state.view()
            if refused:
                return self._json(422, {'error': 'reload_refused', 'message': refused, 'digest': policy.digest})
            return self._json(200, {'digest': policy.digest, 'generation': state.generation})
        if path == '/v1/registry':
            return self._json(200, {
                'digest': policy.digest, 'actors': actor_count(snapshot),
                'tenants': sorted(t['id'] for t in snapshot['tenants']), 'schema': snapshot.get('schema'),
                'loaded_at': state.loaded_at, 'generation': state.generation})
        try:
            data = json.loads(body.decode('utf-8'))
        except (UnicodeDecodeError, ValueError) as exc:
            return self._error(400, 'malformed_json', 'the body is not JSON: %s' % exc)
        noid = fault.get('fault') == 'noid'
        try:
            return self._decisions(state, policy, data, path, noid)
        except RuntimeError as exc:  # the policy itself failed: an error, never a decision
            log('ERROR evaluation failed: %s' % exc)
            return self._error(500, 'evaluation_error', str(exc))

    def _decisions(self, state, policy, data, path, noid):
        if path == '/v1/check':
            problem = request_problem(data)
            if problem:
                return self._error(400, 'malformed_request', problem)
            return self._json(200, self._decide(state, policy, data, path, noid))
        requests = data.get('requests') if isinstance(data, dict) else None
        if not isinstance(requests, list):
            return self._error(400, 'malformed_request', 'a batch must be {"requests": [...]}')
        for number, request in enumerate(requests):
            problem = request_problem(request)
            if problem:
                return self._error(400, 'malformed_request', 'requests[%d]: %s' % (number, problem))
        return self._json(200, {'decisions': [self._decide(state, policy, r, path, noid) for r in requests]})

    def _decide(self, state, policy, request, endpoint, noid):
        envelope = policy.decide(request)
        state.record(envelope, request, endpoint, fault='noid' if noid else None)
        if noid:
            envelope.pop('id', None)
            envelope.pop('request_id', None)
        return envelope

    def _apply_fault(self, fault):
        """Misbehave as the control file says; True when the answer is already sent."""
        kind = fault['fault']
        if kind == 'slow':
            time.sleep(float(fault.get('delay') or 0))
            return False
        if kind == 'noid':
            return False
        if kind == 'error500':
            self._error(500, 'internal_error', 'injected fault: error500')
        elif kind == 'status':
            status = int(fault.get('status') or 500)
            self._error(status, 'injected', 'injected fault: status %d' % status)
        elif kind == 'garbage':
            self._send(200, b'<html><body>502 Bad Gateway</body></html>\n\x00\xff')
        elif kind == 'body':
            self._send(200, str(fault.get('body', '')))
        elif kind == 'badgzip':
            self._send(200, b'this is not gzip data', headers={'Content-Encoding': 'gzip'})
        elif kind == 'cut':
            self._cut(b'HTTP/1.1 200 OK\r\nContent-Type: applica')
        elif kind == 'cut_body':
            body = json.dumps({'id': 'decision:0000000000000000', 'effect': 'allow',
                               'reason': 'signing_policy_matched'}).encode()
            head = ('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n'
                    'Content-Length: %d\r\n\r\n' % len(body)).encode()
            self._cut(head + body[:len(body) // 2])
        return True


class Server(ThreadingHTTPServer):
    daemon_threads = True
    ssl_context = None
    state = None

    def finish_request(self, request, client_address):
        if self.ssl_context is None:
            return ThreadingHTTPServer.finish_request(self, request, client_address)
        request.settimeout(10)  # a client that never finishes its handshake frees the thread
        try:
            conn = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            log('TLS handshake with %s failed: %s' % (client_address[0], exc))
            return None
        try:
            conn.settimeout(None)
            self.RequestHandlerClass(conn, client_address, self)
        finally:
            conn.close()

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, ssl.SSLError, socket.timeout)):
            log('connection from %s ended: %s' % (client_address[0], type(exc).__name__))
        else:
            ThreadingHTTPServer.handle_error(self, request, client_address)


class Server6(Server):
    address_family = socket.AF_INET6


def tls_context(args):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(args.tls_cert, args.tls_key)
    if args.client_ca:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cafile=args.client_ca)
    return context


def loopback_address(text):
    """argparse type for --listen HOST:PORT; refuses anything but loopback."""
    host, sep, port = text.rpartition(':')
    if not sep:
        raise argparse.ArgumentTypeError('expected HOST:PORT, got %r' % text)
    host = host[1:-1] if host.startswith('[') and host.endswith(']') else host
    if host == 'localhost':
        host = '127.0.0.1'
    try:
        address = ipaddress.ip_address(host)
        port = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError('expected a literal loopback IP and a port, got %r' % text)
    if not address.is_loopback:
        raise argparse.ArgumentTypeError('%s is not a loopback address: the test PDP only listens '
                                         'on 127.0.0.0/8 or ::1' % host)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError('port out of range: %d' % port)
    return str(address), port


def write_atomic(path, text):
    tmp = '%s.tmp.%d' % (path, os.getpid())
    with open(tmp, 'w') as handle:
        handle.write(text)
    os.replace(tmp, path)


def parse_args(argv):
    parser = argparse.ArgumentParser(description='flex-auth-compatible test PDP (loopback only)')
    parser.add_argument('--listen', type=loopback_address, default=('127.0.0.1', 0),
                        help='HOST:PORT on loopback; port 0 picks a free one (default 127.0.0.1:0)')
    parser.add_argument('--registry', required=True, help='registry snapshot (JSON); must validate')
    parser.add_argument('--collections', default=os.environ.get('WARDEN_TEST_COLLECTIONS'),
                        help='folder holding ansible_collections/ of the installed collection: only where its '
                             'policy/flex-auth/*.rego are read from when --policy is not given and this script '
                             'does not sit in a checkout (default: $WARDEN_TEST_COLLECTIONS)')
    parser.add_argument('--policy', help='folder of the .rego policies (default: the checkout\'s policy/flex-auth)')
    parser.add_argument('--control', help='fault control file (JSON), read on every request')
    parser.add_argument('--decision-log', help='JSON-lines decision log (appended)')
    parser.add_argument('--token-file', help='require "Authorization: Bearer <token in file>" on /v1/')
    parser.add_argument('--pid-file', help='write the PID here once listening')
    parser.add_argument('--ready-file', help='write {"pid","url"} here (atomically) once listening')
    parser.add_argument('--tls-cert', help='serve HTTPS with this certificate (PEM)')
    parser.add_argument('--tls-key', help='private key of --tls-cert (PEM)')
    parser.add_argument('--client-ca', help='require client certificates signed by this CA (mTLS)')
    args = parser.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error('--tls-cert and --tls-key go together')
    if args.client_ca and not args.tls_cert:
        parser.error('--client-ca needs --tls-cert/--tls-key')
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        import regopy  # noqa: F401  the Rego engine
    except ImportError as exc:
        log('ERROR the Rego engine regopy cannot be imported (pip install regopy): %s' % exc)
        return 4
    state = State(args)
    try:
        state.load()
    except (OSError, ValueError, RuntimeError) as exc:
        log('ERROR refusing to start: %s' % exc)
        return 3
    host, port = args.listen
    try:
        server = (Server6 if ':' in host else Server)((host, port), Handler)
        if args.tls_cert:
            server.ssl_context = tls_context(args)
    except (OSError, ssl.SSLError) as exc:
        log('ERROR cannot listen on %s:%d: %s' % (host, port, exc))
        return 5
    server.state = state
    port = server.server_address[1]
    url = '%s://%s:%d' % ('https' if args.tls_cert else 'http', '[%s]' % host if ':' in host else host, port)

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, lambda signum, frame: state.reload())
    written = []
    try:
        if args.pid_file:
            write_atomic(args.pid_file, '%d\n' % os.getpid())
            written.append(args.pid_file)
        if args.ready_file:
            write_atomic(args.ready_file, json.dumps({'pid': os.getpid(), 'url': url}) + '\n')
            written.append(args.ready_file)
        log('ready %s registry %s (%d actors)' % (url, state.policy.digest, actor_count(state.snapshot)))
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        for path in written:
            try:
                os.unlink(path)
            except OSError:
                pass
        log('stopped')
    return 0


if __name__ == '__main__':
    sys.exit(main())
