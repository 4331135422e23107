# The HTTP API of the UCM: a Microdot app that shows the engine's state (status, cached
# SGD data, the frame log) and sends DR commands, JSON in and out. Every request that
# changes state needs "Authorization: Bearer <token>". Each connection is bounded in
# size and time, so no client, however malformed or slow, can stall the server.
# Runs on MicroPython >= 1.22 and on CPython >= 3.10 (make sim, tests).
#   app = make_app(ucm, token, log=print, page=None, request_timeout_s=10)
#   await serve(app, "0.0.0.0", 80)

import asyncio
import json
import os

import ucm_heap as heap
from microdot import Microdot, Request, Response
from ucm.clock import sleep_ms, ticks_add, ticks_diff, ticks_ms

MAX_BODY = 2048  # request body bytes; a larger Content-Length gets 413
MAX_LINE = 2048  # one request line or header line
MAX_HEAD = 4096  # the request line and all headers together
HANDLER_TIMEOUT_S = 60  # last-resort cap on one handler (engine calls bound themselves)
MAX_CLIENTS = 4  # connections handled at once; more wait for a slot
# Wrong tokens: after FAILS_FREE of them from one address, that address waits (429)
# BACKOFF_MS, doubled at each further wrong token up to BACKOFF_MAX_MS; a right token
# clears it. At most FAILS_KEPT addresses are remembered.
FAILS_FREE = 5
BACKOFF_MS = 1000
BACKOFF_MAX_MS = 60000
FAILS_KEPT = 8
BUSY_WAIT_S = 2  # ... this long, then get 503
# A GET that puts traffic on the bus (?refresh=1, the setpoint): without the token, one
# per BUS_FREE_MS for each of them (else 429); with it, any time
BUS_FREE_MS = 10000
CHUNK = 512  # JSON answers are written in pieces of about this many characters

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    411: "Length Required",
    403: "Forbidden",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_SAFE = ("GET", "HEAD", "OPTIONS")  # the methods that need no token


def _json(body, status=200, headers=None):
    if status == 200 and type(body) is dict:
        # streamed: no whole-answer string (and its bytes copy) on the heap
        h = {"Content-Type": "application/json; charset=UTF-8"}
        if headers:
            h.update(headers)
        return Response(_chunks(body), 200, h, "OK")
    return Response(body, status, headers, _REASONS.get(status))


def _pieces(obj):
    # The JSON text of obj in pieces: dict members and list (or iterator, e.g. a
    # generator) items one by one, at every depth; other values whole.
    t = type(obj)
    if t is dict:
        sep = "{"
        for k in obj:
            yield sep + json.dumps(k) + ":"
            for p in _pieces(obj[k]):
                yield p
            sep = ","
        yield "{}" if sep == "{" else "}"
    elif t is list or t is tuple or hasattr(obj, "__next__"):
        sep = "["
        for v in obj:
            yield sep
            for p in _pieces(v):
                yield p
            sep = ","
        yield "[]" if sep == "[" else "]"
    else:
        yield json.dumps(obj)


def _chunks(obj):
    # _pieces joined into strings of about CHUNK characters
    buf = []
    n = 0
    for p in _pieces(obj):
        buf.append(p)
        n += len(p)
        if n >= CHUNK:
            yield "".join(buf)
            buf = []
            n = 0
    if buf:
        yield "".join(buf)


class _Bad(Exception):
    # Invalid input: args = (message, field or None[, status]) -> 400 (or the status
    # given) with {"error": message, "field": field}
    pass


def _bad(message, field=None, status=400, headers=None):
    return _json({"error": message, "field": field}, status, headers)


def _same(given, expected):
    # Constant-time comparison of bytes: no early exit, and a length mismatch still
    # runs the whole loop. The time depends only on len(given).
    n = len(expected)
    diff = len(given) ^ n
    for i in range(len(given)):
        diff |= given[i] ^ expected[i % n]
    return diff == 0


class _Reader:
    # Wraps a connection's stream for Request.create with bounded reads: a line over
    # MAX_LINE or a head over MAX_HEAD raises ValueError (-> 400). MicroPython's
    # Stream.readline has no limit, so a client could otherwise fill the heap.
    def __init__(self, stream):
        self.s = stream
        self.buf = b""
        self.head = 0  # bytes of request line and headers handed out
        self.got = 0  # bytes received
        self.lengths = 0  # Content-Length headers seen

    async def _more(self, n):
        data = await self.s.read(n)
        self.got += len(data)
        self.buf += data
        return data

    async def readline(self):
        while True:
            i = self.buf.find(b"\n") + 1
            if not i and len(self.buf) <= MAX_LINE and await self._more(256):
                continue
            if not i:  # end of stream, or too long (raised below)
                i = len(self.buf)
            line = self.buf[:i]
            self.buf = self.buf[i:]
            self.head += i
            if i > MAX_LINE or self.head > MAX_HEAD:
                raise ValueError("request head too long")
            if line[:15].lower() == b"content-length:":
                self.lengths += 1
                if self.lengths > 1:  # which one is the body's? refused (400)
                    raise ValueError("two Content-Length headers")
            return line

    async def readexactly(self, n):
        if n < 0:
            raise ValueError("negative Content-Length")
        while len(self.buf) < n:
            if not await self._more(n - len(self.buf)):
                raise EOFError("body cut short")
        data = self.buf[:n]
        self.buf = self.buf[n:]
        return data

    async def read(self, n=-1):
        if not self.buf:
            return await self.s.read(n)
        data = self.buf if n < 0 else self.buf[:n]
        self.buf = self.buf[len(data) :]
        return data


async def _body_without_length(req, stream, wait_s=0.05):
    """A POST/PUT/PATCH/DELETE that has no Content-Length (nor Transfer-Encoding) but
    bytes after its head: already received, or arriving within wait_s."""
    h = req.headers
    if req.method.upper() in _SAFE or "Content-Length" in h or "Transfer-Encoding" in h:
        return False
    if not stream.buf:
        try:
            await asyncio.wait_for(stream._more(64), wait_s)
        except (asyncio.TimeoutError, OSError):
            pass
    return bool(stream.buf)


class ApiApp(Microdot):
    """The Microdot app of the API. Adds, on top of Microdot: the bearer-token check on
    every request whose method is not GET, HEAD or OPTIONS (before routing, so unknown
    paths and methods need it too); a time limit on each connection; bounded reads."""

    def __init__(self, ucm, token, log, request_timeout_s, page, page_file, system, max_clients, hosts):
        # (make_app checks the arguments)
        Microdot.__init__(self)
        self.ucm = ucm
        self._log_fn = log
        self.request_timeout_s = request_timeout_s
        self.handler_timeout_s = HANDLER_TIMEOUT_S
        self.page = page  # None: the endpoint index (api_admin)
        self.page_file = page_file
        self.system = system
        self.max_clients = max_clients
        self.hosts = ("localhost",) + tuple(h.lower() for h in hosts)  # besides IP addresses ("*": any)
        self.active = 0  # connections being handled
        self.busy = 0  # connections answered 503 because max_clients were busy
        self.fails = {}  # address -> [wrong tokens, blocked until ticks]
        self.bus_gets = {}  # GET that puts traffic on the bus -> ticks of the last one without token
        self.set_token(token)

    def set_token(self, token):
        """A new API token: "" (none configured yet) makes every change 401 except the
        set-up form's first submission."""
        self.token_set = bool(token)
        if not token:
            token = "".join("%02x" % b for b in os.urandom(16))  # nobody knows it
        self._token = token.encode()
        self._secret = token

    def log(self, msg):
        self._log_fn(msg.replace(self._secret, "<token>"))

    def shutdown(self):
        # ends serve(): the listening server closes (Microdot's shutdown, left out)
        self.stopping = True
        self.server.close()

    def default_options_handler(self, req):
        # OPTIONS: the methods the path has (Microdot's reads its router, left out)
        return _options(req)

    def authorized(self, req):
        h = req.headers.get("Authorization") or ""
        if h[:7].lower() != "bearer ":
            return False
        return _same(h[7:].strip().encode(), self._token)

    def _blocked(self, addr):
        """ms this address must still wait after wrong tokens, or 0."""
        f = self.fails.get(addr)
        if f is None or f[0] < FAILS_FREE:
            return 0
        left = ticks_diff(f[1], ticks_ms())
        return left if left > 0 else 0

    def _wrong_token(self, addr):
        f = self.fails.get(addr)
        if f is None:
            if len(self.fails) >= FAILS_KEPT:  # forget one (which one is not up to the client)
                del self.fails[next(iter(self.fails))]
            f = self.fails[addr] = [0, 0]
        f[0] += 1
        now = ticks_ms()
        if f[0] >= FAILS_FREE:
            wait = BACKOFF_MS << min(f[0] - FAILS_FREE, 6)
            f[1] = ticks_add(now, wait if wait < BACKOFF_MAX_MS else BACKOFF_MAX_MS)

    def host_ok(self, host):
        """True for a Host header naming this board: an IP address, or one of hosts
        (its hostname, hostname.local, localhost, config http_hosts). Refusing other
        names stops a DNS-rebinding page from reaching the API through the browser.
        No Host (HTTP/1.0 tools) is accepted: browsers always send one."""
        if not host or "*" in self.hosts:
            return True
        h = host.lower()
        if h[0] == "[":  # IPv6 address
            return True
        h = h.partition(":")[0]
        return not h.strip("0123456789.") or h in self.hosts

    async def dispatch_request(self, req):
        # Every request: the guards, then the one route table (_IMPL, through _endpoint).
        # Microdot's own router, error handlers and hooks are not used (and left out of
        # its .mpy: tools/deploy.py TRIM): one table routes every path.
        if req is None:  # the request could not be parsed
            return _json({"error": "malformed request", "field": None}, 400)
        method = req.method.upper()
        res = None
        if not self.host_ok(req.headers.get("Host")):
            res = _json({"error": "Host is not a name of this board (config http_hosts)"}, 403)
        elif "Transfer-Encoding" in req.headers:  # chunked bodies are not read
            res = _json({"error": "send a Content-Length, not a Transfer-Encoding"}, 411)
        elif method not in _SAFE and not (req.path == "/api/setup" and not self.token_set):
            addr = req.client_addr[0] if req.client_addr else None
            wait = self._blocked(addr)
            if wait:
                s = str((wait + 999) // 1000)
                res = _json({"error": "too many wrong tokens: wait %s s" % s}, 429, {"Retry-After": s})
            elif not self.authorized(req):
                self._wrong_token(addr)
                res = _json({"error": "unauthorized"}, 401, {"WWW-Authenticate": "Bearer"})
            else:
                self.fails.pop(addr, None)
        if res is None:
            if req.content_length > req.max_content_length:
                res = _json({"error": "body too large (at most %d bytes)" % MAX_BODY}, 413)
            elif method == "OPTIONS":
                res = Response(headers=self.options_handler(req))
            else:
                res = await _endpoint(req)
        res.is_head = method == "HEAD"
        return res

    async def handle_request(self, reader, writer):
        # One connection: read the request (within request_timeout_s), run the handler,
        # write the response (within request_timeout_s), close. The handler itself is
        # not cut by the client's timeout: an engine command always ends with a Result
        # (its own link and App ACK timeouts), and cancelling it halfway would leave the
        # client without the answer to a command that may have been sent.
        try:
            await self._exchange(reader, writer)
        except asyncio.TimeoutError:
            pass  # a silent or slow client: just close
        except OSError:
            pass  # the client went away
        except Exception as exc:
            self.log("api: connection: %s %s" % (type(exc).__name__, exc))
        try:
            writer.close()
            await asyncio.wait_for(writer.wait_closed(), 1)
        except Exception:
            pass

    async def _slot(self):
        # True once this connection may be handled (at most max_clients at once): a
        # burst waits a little, a lasting overload gets 503 instead of exhausting the heap
        waited = 0
        while self.active >= self.max_clients:
            if waited >= BUSY_WAIT_S * 1000:
                return False
            await sleep_ms(20)
            waited += 20
        self.active += 1
        return True

    async def _exchange(self, reader, writer):
        stream = _Reader(reader)
        try:
            req = await asyncio.wait_for(
                Request.create(self, stream, writer, writer.get_extra_info("peername")), self.request_timeout_s
            )
        except asyncio.TimeoutError:
            raise
        except OSError:
            return
        except Exception:  # malformed: bad request line or header, bad length, ...
            req = None
        if req is None and not stream.got:
            return  # connected and closed without a byte: nothing to answer
        if req is not None and await _body_without_length(req, stream):
            # the body would be ignored and the command run as {}: refuse it instead
            await self._write(_json({"error": "a request with a body needs a Content-Length"}, 411), writer)
            return
        # Reading a request costs little; running it and writing the answer is where the
        # heap goes: at most max_clients at once, a burst waits, an overload gets 503
        if not await self._slot():
            self.busy += 1
            await self._write(_json({"error": "busy, try again soon"}, 503, {"Retry-After": "1"}), writer)
            return
        try:
            try:
                res = await asyncio.wait_for(self.dispatch_request(req), self.handler_timeout_s)
            except asyncio.TimeoutError:
                self.log("api: no answer within %s s" % self.handler_timeout_s)
                res = _json({"error": "no answer in time"}, 504)
            await self._write(res, writer)
        finally:
            self.active -= 1
            heap.sample()

    async def _write(self, res, writer):
        if res is not Response.already_handled:
            await asyncio.wait_for(res.write(writer), self.request_timeout_s)


def _system(app):
    if app.system is None or app.system.config is None:
        raise _Bad("this board has no configuration store", None, 404)
    return app.system


# --- endpoints: impl(app, req, arg) -> Response, in the route modules ------------------

# "METHOD path" -> ("job.function", its argument): the route modules ucm_api_<job>, by
# job, each imported on its first request: read (the heater's and the board's state),
# cmd (commands), admin (configuration, restart, set-up), ninebit (the 9-bit bus).
# POST /api/dr/<name> goes to ucm_api_cmd.dr. ApiApp.dispatch_request sends every
# request to _endpoint, which looks it up here (a Microdot route per path would cost
# heap for each, and its router a table of its own).
_IMPL = {
    "GET /": ("read.index", None),
    "GET /api/status": ("read.status", None),
    "GET /api/sgd/info": ("read.cached", ("info", "refresh_info")),
    "GET /api/sgd/energy": ("read.cached", ("energy", "refresh_energy")),
    "GET /api/sgd/setpoint": ("cmd.get_setpoint", None),
    "PUT /api/sgd/setpoint": ("cmd.put_setpoint", None),
    "GET /api/log": ("read.frames", None),
    "GET /metrics": ("read.metrics", None),
    "GET /api/config": ("read.get_config", None),
    "PUT /api/config": ("admin.put_config", None),
    "POST /api/restart": ("admin.restart", None),
    "GET /setup": ("admin.setup_page", None),
    "POST /api/setup": ("admin.setup", None),
    "GET /api/ninebit/frames": ("ninebit.frames", None),
    "GET /api/ninebit/params": ("ninebit.params", None),
    "POST /api/ninebit/send": ("ninebit.send", None),
}
_DR_PREFIX = "/api/dr/"


def _loaded(ref):
    # "read.function" -> the function of ucm_api_read, the module imported on first use
    mod, _, name = ref.partition(".")
    return getattr(__import__("ucm_api_" + mod), name)


def _methods(path):
    """The methods a path has (for 405 and OPTIONS); [] for a path that does not exist."""
    if path.startswith(_DR_PREFIX):
        return ["POST"] if _loaded("cmd.exists")(path[len(_DR_PREFIX) :]) else []
    return [k.partition(" ")[0] for k in _IMPL if k.partition(" ")[2] == path]


def _options(req):
    allow = _methods(req.path)
    if "GET" in allow:
        allow.append("HEAD")
    allow.append("OPTIONS")
    return {"Allow": ", ".join(allow)}


async def _endpoint(req):
    # Every route: invalid input -> 400 naming the field; any other exception -> 500,
    # logged through the app's log, never a traceback in the response.
    method = req.method.upper()
    if method == "HEAD":
        method = "GET"
    try:
        hit = _IMPL.get(method + " " + req.path)
        if hit is None and method == "POST" and req.path.startswith(_DR_PREFIX):
            name = req.path[len(_DR_PREFIX) :]
            if _loaded("cmd.exists")(name):
                hit = ("cmd.dr", name)
        if hit is None:
            if not _methods(req.path):
                return _json({"error": "not found"}, 404)
            return _json({"error": "method not allowed"}, 405, {"Allow": _options(req)["Allow"]})
        impl, arg = hit
        return await _loaded(impl)(req.app, req, arg)
    except _Bad as e:
        return _bad(*e.args)
    except Exception as e:
        req.app.log("api: %s %s: %s %s" % (req.method, req.path, type(e).__name__, e))
        return _json({"error": "internal error"}, 500)


def make_app(
    ucm,
    token,
    log=print,
    page=None,
    request_timeout_s=10,
    page_file=None,
    system=None,
    max_clients=MAX_CLIENTS,
    hosts=(),
):
    """The API app for the engine `ucm` (lib/ucm runner). token: the bearer token that
    every request changing state must carry (a non-empty str). log(str): where handler
    exceptions are reported (the token is masked). page: the HTML of GET / (bytes or
    str), else a small index of the endpoints; page_file: a file to serve at / instead
    (streamed from flash; a name ending in .gz is sent gzip-encoded). request_timeout_s: the time a client has
    to send its request, and again to take the response, before the connection is
    closed. system: the firmware's side (firmware/main.py System): status() for the
    "firmware" object of /api/status, config (a Config or None), change(app, changes,
    fail), can_restart and restart_soon(); None: those endpoints answer 404/409.
    max_clients: requests handled at once (more wait up to BUSY_WAIT_S, then get 503).
    hosts: the names besides IP addresses and localhost that Host may carry ("*": any).

    Sets Microdot's Request limits (class attributes, so for the whole process): body
    at most MAX_BODY bytes (else 413), lines at most MAX_LINE."""
    if type(token) is not str or token.strip() != token:
        raise ValueError("token: a string without surrounding spaces")
    if not request_timeout_s > 0:
        raise ValueError("request_timeout_s: must be > 0")
    Request.max_content_length = MAX_BODY
    Request.max_body_length = MAX_BODY
    Request.max_readline = MAX_LINE
    return ApiApp(ucm, token, log, request_timeout_s, page, page_file, system, max_clients, hosts)


async def serve(app, host, port):
    """Serve `app` on host:port until app.shutdown() (Microdot's start_server)."""
    app.stopping = False
    await app.start_server(host=host, port=port)
    if not app.stopping:
        # Microdot returns normally when its task is cancelled (under CPython it catches
        # serve_forever's CancelledError): pass the cancellation on, or a supervisor
        # would take it for a server that ended and start it again
        raise asyncio.CancelledError()
