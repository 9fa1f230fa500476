"""A flex-auth-compatible policy decision point (PDP) for the test bed.

flex-auth itself is not available as a package, so the integration tests run this process:
a real HTTP server on loopback that serves the flex-auth ``/v1`` contract used by the
ops-warden signing gate and decides with the collection's own embedded evaluator
(``plugins/module_utils/gate.py``) against a registry snapshot file. Standard library only,
plus the collection's module_utils.

Endpoints
  GET  /healthz          200 {"status": "ok", "registry_digest", "actors", "generation", ...}
  POST /v1/check         a decision envelope (gate.evaluate, provenance says it is this PDP)
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
3 invalid registry snapshot, 4 the collection cannot be imported, 5 cannot bind/TLS setup.
"""

import argparse
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

# Filled by _import_collection(): the collection's module_utils.
gate = registry = errors = None


def _import_collection(collections):
    global gate, registry, errors
    if collections:
        sys.path.insert(0, os.path.abspath(collections))
    from ansible_collections.netkingdom.warden.plugins.module_utils import errors as _errors
    from ansible_collections.netkingdom.warden.plugins.module_utils import gate as _gate
    from ansible_collections.netkingdom.warden.plugins.module_utils import registry as _registry
    gate, registry, errors = _gate, _registry, _errors
    if collections and not os.path.abspath(gate.__file__).startswith(os.path.abspath(collections) + os.sep):
        raise ImportError('the collection was imported from %s, not from %s' % (gate.__file__, collections))


def utc_now():
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())


def log(msg):
    sys.stderr.write('pdp[%d] %s %s\n' % (os.getpid(), utc_now(), msg))
    sys.stderr.flush()


class State(object):
    """Everything the handlers share: registry index, token, counters. Swapped under a lock."""

    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.log_lock = threading.Lock()
        self.generation = 0
        self.reload_errors = 0
        self.last_reload_error = None
        self.index = None
        self.snapshot = None
        self.loaded_at = None
        self.token = None

    def load(self):
        """Load registry and token; raise ValidationError/OSError and keep the old state."""
        snapshot = registry.load_snapshot_file(self.args.registry)
        index = registry.RegistryIndex(snapshot)
        token = None
        if self.args.token_file:
            with open(self.args.token_file) as handle:
                token = handle.read().strip()
            if not token:
                raise ValueError('token file %s is empty' % self.args.token_file)
        with self.lock:
            self.snapshot, self.index, self.token = snapshot, index, token
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
            log('ERROR reload refused, still serving %s: %s' % (self.index.digest, exc))
            return str(exc)
        log('reloaded registry %s (generation %d)' % (self.index.digest, self.generation))
        return None

    def view(self):
        with self.lock:
            return self.index, self.snapshot, self.token

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
        index, snapshot, token = state.view()
        if path.startswith('/v1/') and not self._authorized(token):
            return self._error(401, 'unauthorized', 'a valid bearer token is required',
                               headers={'WWW-Authenticate': 'Bearer realm="flex-auth"'})
        if method != ROUTES[path]:
            return self._error(405, 'method_not_allowed', '%s needs %s' % (path, ROUTES[path]),
                               headers={'Allow': ROUTES[path]})
        if path == '/healthz':
            return self._json(200, {
                'status': 'ok', 'evaluator': EVALUATOR, 'registry_digest': index.digest,
                'actors': len(index.resources), 'generation': state.generation,
                'reload_errors': state.reload_errors, 'last_reload_error': state.last_reload_error})
        if path == '/v1/admin/reload':
            refused = state.reload()
            index, snapshot, token = state.view()
            if refused:
                return self._json(422, {'error': 'reload_refused', 'message': refused, 'digest': index.digest})
            return self._json(200, {'digest': index.digest, 'generation': state.generation})
        if path == '/v1/registry':
            return self._json(200, {
                'digest': index.digest, 'actors': len(index.resources),
                'tenants': sorted(index.tenants), 'schema': snapshot.get('schema'),
                'loaded_at': state.loaded_at, 'generation': state.generation})
        try:
            data = json.loads(body.decode('utf-8'))
        except (UnicodeDecodeError, ValueError) as exc:
            return self._error(400, 'malformed_json', 'the body is not JSON: %s' % exc)
        noid = fault.get('fault') == 'noid'
        if path == '/v1/check':
            problem = gate.request_shape_problem(data)
            if problem:
                return self._error(400, 'malformed_request', problem)
            return self._json(200, self._decide(state, index, data, path, noid))
        requests = data.get('requests') if isinstance(data, dict) else None
        if not isinstance(requests, list):
            return self._error(400, 'malformed_request', 'a batch must be {"requests": [...]}')
        for number, request in enumerate(requests):
            problem = gate.request_shape_problem(request)
            if problem:
                return self._error(400, 'malformed_request', 'requests[%d]: %s' % (number, problem))
        return self._json(200, {'decisions': [self._decide(state, index, r, path, noid) for r in requests]})

    def _decide(self, state, index, request, endpoint, noid):
        envelope = gate.evaluate(request, index, mode='flex_auth')
        envelope['provenance']['evaluator'] = EVALUATOR
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
                        help='folder holding ansible_collections/ (default: $WARDEN_TEST_COLLECTIONS)')
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
        _import_collection(args.collections)
    except ImportError as exc:
        log('ERROR cannot import netkingdom.warden module_utils (--collections %s): %s' % (args.collections, exc))
        return 4
    state = State(args)
    try:
        state.load()
    except (errors.ValidationError, OSError, ValueError) as exc:
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
        log('ready %s registry %s (%d actors)' % (url, state.index.digest, len(state.index.resources)))
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
