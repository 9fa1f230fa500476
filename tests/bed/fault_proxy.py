"""A small HTTP reverse proxy in front of OpenBao that turns faulty on cue (loopback only).

    proxy = FaultProxy(bao.url).start()       # http://127.0.0.1:<port>, forwards everything
    proxy.arm('status', status=403)           # every sign request from now on: 403
    proxy.arm('down', after=20)               # the first 20 sign requests pass, then the
                                              # connection is closed and the port refuses
    proxy.arm('slow', delay=4)                # hold sign requests 4 s, then forward them
    proxy.arm('call', call=bao.seal,          # on the first sign request for host6: seal
              trigger=signs_for(['host6']))   # OpenBao for real, then forward as usual
    proxy.arm('rewrite', rewrite=to_mount('ssh', 'rogue'))  # sign requests go to another mount:
                                              # a real answer from another CA
    proxy.clear()                             # healthy again (same port)
    proxy.stop()

A fault is armed, then *fires* on a sign request (``POST /v1/<mount>/sign/<role>``): the
first one after ``after`` passed sign requests, or the first one ``trigger(body)`` accepts.
From then on it stays active until ``clear()``. ``scope='sign'`` (default) faults only sign
requests, ``scope='all'`` every request once fired.

Faults: ``down`` (the request's connection is closed without an answer and the listening
socket is closed: later connections are refused), ``status`` (an OpenBao-style JSON error
with ``status``), ``slow`` (the answer comes after ``delay`` seconds; the request still
reaches OpenBao then, like a server that is merely overloaded), ``call`` (runs ``call()``
once when it fires, e.g. a real seal, then forwards), ``kill`` (runs ``call()`` when it
fires, e.g. SIGKILL to the client that sent the request, and never forwards it), ``rewrite``
(forwards to the path ``rewrite(path)`` returns, e.g. the same role on another mount: the
client gets a genuine OpenBao answer it did not ask for).

The proxy runs in threads of the test process. It never logs bodies or headers (they carry
the token). Counters: ``signs`` (sign requests seen), ``faulted`` (requests it faulted),
``forwarded``; ``fired`` tells whether the armed fault has fired.
"""

import http.client
import http.server
import json
import socketserver
import threading
import time
from urllib.parse import urlsplit

HOP_BY_HOP = ('connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailers',
              'transfer-encoding', 'upgrade', 'host', 'content-length')
ERRORS = {403: 'permission denied', 500: 'internal error', 502: 'bad gateway', 503: 'Vault is sealed',
          429: 'rate limit exceeded'}


def is_sign(method, path):
    parts = path.split('?', 1)[0].strip('/').split('/')
    return method in ('POST', 'PUT') and len(parts) == 4 and parts[0] == 'v1' and parts[2] == 'sign'


def to_mount(mount, other):
    """A rewrite: ``/v1/<mount>/sign/<role>`` to ``/v1/<other>/sign/<role>``."""
    prefix = '/v1/%s/sign/' % mount

    def rewrite(path):
        return '/v1/%s/sign/%s' % (other, path[len(prefix):]) if path.startswith(prefix) else path
    return rewrite


def signs_for(names):
    """A trigger: fires on a sign request whose principals name one of ``names`` (a host
    certificate for one of those hosts)."""
    wanted = set(names)

    def trigger(body):
        principals = str((body or {}).get('valid_principals', '')).split(',')
        return bool(wanted.intersection(p.strip() for p in principals))
    return trigger


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True


class FaultProxy(object):
    def __init__(self, upstream, host='127.0.0.1', port=0, name='proxy'):
        if not host.startswith('127.'):
            raise ValueError('the fault proxy listens on loopback only')
        split = urlsplit(upstream)
        if split.scheme != 'http' or not (split.hostname or '').startswith('127.'):
            raise ValueError('the fault proxy forwards to a loopback http:// upstream only')
        self.upstream = (split.hostname, split.port)
        self.host, self.port, self.name = host, port, name
        self.url = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = self._thread = None
        self.reset_counts()
        self.clear()

    def __repr__(self):
        return '<FaultProxy %s %s -> %s:%s fault=%s fired=%s>' % (
            self.name, self.url, self.upstream[0], self.upstream[1], self.fault, self.fired)

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self):
        if self._server is not None:
            return self
        proxy = self

        class Handler(_Handler):
            owner = proxy
        self._server = _Server((self.host, self.port), Handler)
        self.port = self._server.server_address[1]
        self.url = 'http://%s:%d' % (self.host, self.port)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={'poll_interval': 0.05},
                                        name='fault-proxy-%s' % self.name, daemon=True)
        self._thread.start()
        return self

    def _close_listener(self):
        with self._lock:
            server, self._server = self._server, None
            thread, self._thread = self._thread, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(5)

    def stop(self):
        """Stop listening and release every held request (slow fault)."""
        self._stopping.set()
        self._close_listener()

    @property
    def listening(self):
        return self._server is not None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- faults ------------------------------------------------------------------------------
    def reset_counts(self):
        with self._lock:
            self.signs = self.faulted = self.forwarded = 0

    def arm(self, fault, after=0, trigger=None, status=500, delay=5.0, call=None, scope='sign', rewrite=None):
        if fault not in ('down', 'status', 'slow', 'call', 'kill', 'rewrite'):
            raise ValueError('unknown fault %r' % (fault,))
        if fault in ('call', 'kill') and call is None:
            raise ValueError('fault %r needs call=' % fault)
        if fault == 'rewrite' and rewrite is None:
            raise ValueError('fault rewrite needs rewrite=')
        with self._lock:
            self.fault, self.after, self.trigger = fault, after, trigger
            self.status, self.delay, self.call, self.scope = status, delay, call, scope
            self.rewrite = rewrite
            self.fired = False
            self._armed_at = self.signs
        return self

    def clear(self):
        """No fault any more; listening again on the same port if a `down` fault closed it."""
        with self._lock:
            self.fault = self.trigger = self.call = self.rewrite = None
            self.after, self.status, self.delay, self.scope = 0, 500, 0, 'sign'
            self.fired = False
            self._armed_at = getattr(self, 'signs', 0)
        if self.url is not None and self._server is None and not self._stopping.is_set():
            self.start()
        return self

    def _decide(self, method, path, body):
        """What to do with one request: None (forward) or the active fault's name."""
        sign = is_sign(method, path)
        run_call = None
        with self._lock:
            if sign:
                self.signs += 1
            if self.fault is None:
                return None, None
            if not self.fired and sign:
                if self.trigger is not None:
                    self.fired = bool(self.trigger(body))
                else:
                    self.fired = self.signs - self._armed_at > self.after
                if self.fired and self.fault in ('call', 'kill'):
                    run_call = self.call
            if not self.fired or (self.scope == 'sign' and not sign):
                return None, None
            if self.fault == 'call' and run_call is None:
                return None, None  # after the call: plain forwarding
            self.faulted += 1
            return self.fault, run_call


class _Handler(http.server.BaseHTTPRequestHandler):
    owner = None  # the FaultProxy (set on a subclass per proxy)
    protocol_version = 'HTTP/1.0'  # one request per connection: simple, and "down" is exact

    def log_message(self, *args):  # never log (paths are harmless, but keep stderr clean)
        return

    def _read_body(self):
        length = int(self.headers.get('Content-Length') or 0)
        return self.rfile.read(length) if length else b''

    def _handle(self):
        proxy = self.owner
        raw = self._read_body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        fault, call = proxy._decide(self.command, self.path, body if isinstance(body, dict) else None)
        if call is not None:
            call()
        if fault == 'down':
            self.close_connection = True
            threading.Thread(target=proxy._close_listener, daemon=True).start()
            return  # the connection closes with no answer at all
        if fault == 'status':
            self._answer(proxy.status, json.dumps({'errors': [ERRORS.get(proxy.status, 'error')]}).encode(),
                         'application/json')
            return
        if fault == 'kill':
            self.close_connection = True
            return  # the client was killed by call(): nobody waits for an answer
        if fault == 'slow':
            proxy._stopping.wait(proxy.delay)
        self._forward(raw, proxy.rewrite(self.path) if fault == 'rewrite' else self.path)

    def _forward(self, raw, path):
        proxy = self.owner
        conn = http.client.HTTPConnection(proxy.upstream[0], proxy.upstream[1], timeout=60)
        try:
            headers = dict((k, v) for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP)
            conn.request(self.command, path, body=raw or None, headers=headers)
            response = conn.getresponse()
            data = response.read()
            with proxy._lock:
                proxy.forwarded += 1
            self._answer(response.status, data, response.getheader('Content-Type'),
                         [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP
                          and k.lower() != 'content-type'])
        except OSError:
            self._answer(502, json.dumps({'errors': ['upstream unreachable']}).encode(), 'application/json')
        finally:
            conn.close()

    def _answer(self, status, data, content_type=None, headers=()):
        try:
            self.send_response(status)
            for key, value in headers:
                self.send_header(key, value)
            if content_type:
                self.send_header('Content-Type', content_type)
            self.send_header('Content-Length', str(len(data)))
            self.send_header('Connection', 'close')
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up (timeout) or was killed
            pass

    do_GET = do_POST = do_PUT = do_DELETE = do_LIST = do_HEAD = _handle


def wait_for(predicate, timeout=10.0, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
