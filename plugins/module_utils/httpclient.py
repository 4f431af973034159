# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Minimal asyncio HTTP/1.1 client for load generation (standard library only).

One protocol object per TCP/TLS connection, one request at a time per connection (no
pipelining), keep-alive reuse through a small LIFO pool.  Response bodies are framed by
Content-Length, chunked transfer coding or connection close.  A 200 response to a streamed
request hands decoded body bytes to a *sink* (``sink.feed(data, t)``) together with the
``time.perf_counter()`` value taken when the bytes arrived, so the caller can time tokens
without an extra copy or an extra task per read.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import asyncio
import errno
import socket
import ssl
import threading
import time

try:
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover - Python 2 is not supported by this module
    urlsplit = None

_perf = time.perf_counter

USER_AGENT = 'inferops-vllm-throughput/0.1'
MAX_HEAD = 65536
MAX_BODY = 64 * 1024 * 1024


class HttpError(Exception):
    """Any failure of one HTTP exchange; ``kind`` is a short machine-readable class."""

    kind = 'http'
    refused = False   # the server's port refused the connection (nothing listens there)

    def __init__(self, message, kind=None):
        super(HttpError, self).__init__(message)
        self.message = message
        if kind:
            self.kind = kind


class ConnectError(HttpError):
    kind = 'connect'


class TLSError(HttpError):
    kind = 'tls'


class RequestTimeout(HttpError):
    kind = 'timeout'


class StallTimeout(HttpError):
    kind = 'stall'


class Disconnected(HttpError):
    kind = 'disconnect'


class ClientResources(HttpError):
    """The client itself ran out of something (file descriptors, ports, memory): not the server's fault."""
    kind = 'client_resources'


# errno values that mean the load client, not the server, hit a limit
CLIENT_ERRNOS = tuple(getattr(errno, name) for name in ('EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM', 'EADDRNOTAVAIL')
                      if hasattr(errno, name))


class ProtocolError(HttpError):
    kind = 'bad_response'


class Response(object):
    __slots__ = ('status', 'reason', 'headers', 'body', 'version')

    def __init__(self, status, reason, headers, body, version):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.version = version

    def text(self, limit=2000):
        body = self.body or b''
        return body[:limit].decode('utf-8', 'replace')


class Endpoint(object):
    """Where to send requests: scheme, host, port, base path, TLS context, static headers."""

    def __init__(self, url, api_key=None, headers=None, validate_certs=True, ca_path=None,
                 connect_timeout=10.0):
        if urlsplit is None:
            raise HttpError('Python 3 is required')
        parts = urlsplit(url)
        if parts.scheme not in ('http', 'https') or not parts.hostname:
            raise HttpError('url must look like http://HOST:PORT or https://HOST:PORT, got %r' % (url,), kind='config')
        self.url = url.rstrip('/')
        self.scheme = parts.scheme
        self.host = parts.hostname
        try:
            port = parts.port
        except ValueError:
            raise HttpError('url %r has an invalid port' % (url,), kind='config')
        self.port = port or (443 if parts.scheme == 'https' else 80)
        self.base_path = parts.path.rstrip('/')
        self.connect_timeout = connect_timeout
        self.ssl = None
        if self.scheme == 'https':
            self.ssl = make_ssl_context(validate_certs, ca_path)
        host_header = self.host
        if ':' in host_header:
            host_header = '[%s]' % host_header
        default_port = 443 if self.scheme == 'https' else 80
        if self.port != default_port:
            host_header = '%s:%d' % (host_header, self.port)
        lines = ['Host: %s' % host_header, 'User-Agent: %s' % USER_AGENT, 'Connection: keep-alive']
        if api_key:
            lines.append('Authorization: Bearer %s' % api_key)
        for name, value in sorted((headers or {}).items()):
            name = str(name)
            value = str(value)
            if '\r' in name or '\n' in name or ':' in name or '\r' in value or '\n' in value:
                raise HttpError('headers: header %r has characters not allowed in HTTP headers' % (name,), kind='config')
            lines.append('%s: %s' % (name, value))
        self.static_headers = ('\r\n'.join(lines) + '\r\n').encode('latin-1')
        self.has_auth = bool(api_key) or any(str(k).lower() == 'authorization' for k in (headers or {}))

    def netloc(self):
        return '%s:%d' % (self.host, self.port)

    def build(self, method, path, body=None, content_type='application/json', accept=None):
        """Return the full request bytes."""
        head = '%s %s%s HTTP/1.1\r\n' % (method, self.base_path, path)
        extra = ''
        if accept:
            extra += 'Accept: %s\r\n' % accept
        if body is not None:
            extra += 'Content-Type: %s\r\nContent-Length: %d\r\n' % (content_type, len(body))
        data = head.encode('latin-1') + self.static_headers + extra.encode('latin-1') + b'\r\n'
        if body is not None:
            data += body
        return data

    def request_prefix(self, method, path, accept=None, content_type='application/json'):
        """Request bytes up to (not including) the Content-Length value, for hot paths."""
        head = '%s %s%s HTTP/1.1\r\n' % (method, self.base_path, path)
        extra = ''
        if accept:
            extra += 'Accept: %s\r\n' % accept
        extra += 'Content-Type: %s\r\nContent-Length: ' % content_type
        return head.encode('latin-1') + self.static_headers + extra.encode('latin-1')


def make_ssl_context(validate_certs=True, ca_path=None):
    try:
        if validate_certs:
            ctx = ssl.create_default_context(cafile=ca_path) if ca_path else ssl.create_default_context()
        else:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            if ca_path:
                ctx.load_verify_locations(cafile=ca_path)
    except (IOError, OSError, ssl.SSLError) as exc:
        raise TLSError('ca_path %r could not be loaded as a PEM CA bundle: %s' % (ca_path, exc))
    return ctx


def describe_connect_error(exc, endpoint, timeout=None):
    """Turn a low-level exception raised while connecting into an HttpError with advice."""
    where = '%s://%s' % (endpoint.scheme, endpoint.netloc())
    if timeout is None:
        timeout = endpoint.connect_timeout
    if isinstance(exc, HttpError):
        return exc
    if isinstance(exc, getattr(ssl, 'SSLCertVerificationError', ())):
        detail = getattr(exc, 'verify_message', None) or str(exc)
        return TLSError('TLS certificate of %s was not accepted (%s): give the CA bundle that signed it '
                        'in ca_path, or set validate_certs: false for a test host' % (where, detail))
    if isinstance(exc, ssl.SSLError):
        return TLSError('TLS handshake with %s failed (%s): check that the server speaks HTTPS on that port '
                        '(use http:// otherwise) and that ca_path/validate_certs fit its certificate' % (where, exc))
    if isinstance(exc, asyncio.TimeoutError):
        return ConnectError('connecting to %s timed out after %.1f s: check the host address, the port and '
                            'firewalls between this host and the server' % (where, timeout))
    if isinstance(exc, socket.gaierror):
        permanent = exc.errno in (getattr(socket, 'EAI_NONAME', -2), getattr(socket, 'EAI_NODATA', -5))
        return ConnectError('cannot resolve host %r (%s): check the host name in url' % (endpoint.host, exc.strerror or exc),
                            kind='dns' if permanent else 'connect')
    if isinstance(exc, ConnectionRefusedError):
        err = ConnectError('connection refused by %s: is the vLLM service running and listening on that '
                           'address and port? check url' % (where,))
        err.refused = True
        return err
    if isinstance(exc, OSError) and exc.errno in CLIENT_ERRNOS:
        return ClientResources('the load client could not open a connection to %s (%s): it ran out of file '
                               'descriptors, ports or memory; raise its open-files limit (ulimit -n) or lower '
                               'concurrency' % (where, exc.strerror or exc))
    if isinstance(exc, OSError):
        if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return ConnectError('%s is unreachable (%s): check the host address in url and the routing' % (where, exc.strerror))
        if isinstance(exc, ConnectionResetError) or 'reset' in str(exc).lower():
            return ConnectError('connection to %s was reset during setup (%s): the port may not speak HTTP%s, '
                                'check url' % (where, exc, 'S' if endpoint.scheme == 'https' else ''))
        return ConnectError('cannot connect to %s: %s' % (where, exc))
    return ConnectError('cannot connect to %s: %r' % (where, exc))


class Connection(asyncio.Protocol):
    """One HTTP/1.1 connection; one outstanding request at a time."""

    def __init__(self, loop):
        self.loop = loop
        self.transport = None
        self.closed = False
        self.keep_alive = True
        self.requests = 0
        self.received = 0
        self.last_rx = None       # when the last bytes arrived (the stall watchdog reads it)
        self._waiter = None
        self._sink = None
        self._timer = None
        self._reset_parser()

    # -- asyncio.Protocol -------------------------------------------------------------------
    def connection_made(self, transport):
        self.transport = transport

    def connection_lost(self, exc):
        self.closed = True
        self._cancel_timer()
        if self._state == 6 and self._status is not None:
            # Body delimited by connection close.
            self._finish()
            return
        w = self._waiter
        if w is not None and not w.done():
            if self.received == 0 and self.requests > 1:
                err = Disconnected('keep-alive connection closed by the server before it answered', kind='stale')
            elif self.received == 0:
                err = Disconnected('connection closed by the server before it answered (if the server uses TLS, '
                                   'the url must start with https://)')
            else:
                why = (' (%s)' % exc) if exc else ''
                err = Disconnected("connection closed by the server in the middle of a response%s: see the server's "
                                   'log (did it crash or restart?)' % why)
            w.set_exception(err)
        self._waiter = None

    def eof_received(self):
        return False

    def data_received(self, data):
        t = _perf()
        self.last_rx = t
        self.received += len(data)
        try:
            self._feed(data, t)
        except HttpError as exc:
            self._fail(exc)
        except (ValueError, IndexError) as exc:
            self._fail(ProtocolError('malformed HTTP response: %s' % (exc,)))

    # -- public -----------------------------------------------------------------------------
    def request(self, data, sink=None, timeout=None):
        """Send ``data`` (complete request bytes); return a future resolving to a Response."""
        if self.closed or self.transport is None:
            raise Disconnected('connection already closed', kind='stale')
        self.requests += 1
        self.received = 0
        self.last_rx = None
        self._reset_parser()
        self._sink = sink
        w = self.loop.create_future()
        self._waiter = w
        if timeout is not None:
            self._timer = self.loop.call_later(timeout, self._on_timeout, timeout)
        self.transport.write(data)
        return w

    def close(self):
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def abort(self):
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    # -- internals --------------------------------------------------------------------------
    def _reset_parser(self):
        self._state = 0      # 0 head, 1 length body, 2 chunked, 3 trailers, 6 until close, 7 done
        self._buf = b''
        self._status = None
        self._reason = ''
        self._version = ''
        self._headers = None
        self._left = 0
        self._chunk_left = 0
        self._need_crlf = False
        self._parts = None
        self._stream = False

    def _cancel_timer(self):
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _on_timeout(self, timeout):
        self._timer = None
        w = self._waiter
        self._waiter = None
        self.abort()
        if w is not None and not w.done():
            w.set_exception(RequestTimeout('no complete response within %.1f s' % timeout))

    def stall(self, limit):
        """Abort the response under way: no byte came for ``limit`` seconds after it started."""
        self._fail(StallTimeout('no byte for %.1f s in the middle of a response (stall_timeout_s): the server '
                                'stopped sending; see its log' % limit))

    def _fail(self, exc):
        self._cancel_timer()
        w = self._waiter
        self._waiter = None
        self.abort()
        if w is not None and not w.done():
            w.set_exception(exc)

    def _finish(self):
        self._cancel_timer()
        self._state = 7
        w = self._waiter
        self._waiter = None
        body = None
        if self._parts is not None:
            body = b''.join(self._parts)
        if not self.keep_alive:
            self.close()
        if w is not None and not w.done():
            w.set_result(Response(self._status, self._reason, self._headers, body, self._version))

    def _deliver(self, data, t):
        if self._stream:
            self._sink.feed(data, t)
        else:
            self._parts.append(data)
            if self.received > MAX_BODY:
                raise ProtocolError('response body larger than %d bytes' % MAX_BODY)

    def _feed(self, data, t):
        state = self._state
        if state == 0:
            buf = self._buf + data if self._buf else data
            end = buf.find(b'\r\n\r\n')
            if end < 0:
                if len(buf) > MAX_HEAD:
                    raise ProtocolError('response header larger than %d bytes' % MAX_HEAD)
                self._buf = buf
                return
            self._parse_head(buf[:end])
            self._buf = b''
            data = buf[end + 4:]
            state = self._state
            if state == 7:
                return
            if not data:
                if state == 1 and self._left == 0:
                    self._finish()
                return
        if state == 2:
            self._feed_chunked(data, t)
        elif state == 1:
            n = len(data)
            if n >= self._left:
                if self._left:
                    self._deliver(data[:self._left] if n > self._left else data, t)
                self._left = 0
                self._finish()
            else:
                self._left -= n
                self._deliver(data, t)
        elif state == 3:
            self._feed_trailers(data)
        elif state == 6:
            self._deliver(data, t)
        elif state == 7:
            # Bytes after a complete response on a connection we do not pipeline on.
            self.keep_alive = False

    def _parse_head(self, head):
        lines = head.split(b'\r\n')
        status_line = lines[0].decode('latin-1')
        parts = status_line.split(' ', 2)
        if len(parts) < 2 or not parts[0].startswith('HTTP/'):
            raise ProtocolError('not an HTTP response (status line %r): does url point at the HTTP port?' % status_line[:80])
        self._version = parts[0]
        self._status = int(parts[1])
        self._reason = parts[2] if len(parts) > 2 else ''
        headers = {}
        for line in lines[1:]:
            k, sep, v = line.partition(b':')
            if not sep:
                continue
            key = k.strip().lower().decode('latin-1')
            val = v.strip().decode('latin-1')
            if key in headers:
                headers[key] = headers[key] + ', ' + val
            else:
                headers[key] = val
        self._headers = headers
        conn = headers.get('connection', '').lower()
        if self._version == 'HTTP/1.0':
            self.keep_alive = 'keep-alive' in conn
        elif 'close' in conn:
            self.keep_alive = False
        self._stream = self._status == 200 and self._sink is not None
        if not self._stream:
            self._parts = []
        if self._status in (204, 304) or 100 <= self._status < 200:
            self._finish()
            return
        te = headers.get('transfer-encoding', '').lower()
        if 'chunked' in te:
            self._state = 2
        elif 'content-length' in headers:
            self._left = int(headers['content-length'])
            self._state = 1
        else:
            self.keep_alive = False
            self._state = 6

    def _feed_chunked(self, data, t):
        buf = self._buf + data if self._buf else data
        pos = 0
        n = len(buf)
        out = []
        while pos < n:
            left = self._chunk_left
            if left:
                take = n - pos
                if take > left:
                    take = left
                out.append(buf[pos:pos + take] if (pos or take != n) else buf)
                pos += take
                left -= take
                self._chunk_left = left
                if left == 0:
                    self._need_crlf = True
                continue
            if self._need_crlf:
                if n - pos < 2:
                    break
                if buf[pos:pos + 2] != b'\r\n':
                    raise ProtocolError('chunked body: missing CRLF after a chunk')
                pos += 2
                self._need_crlf = False
                continue
            eol = buf.find(b'\r\n', pos)
            if eol < 0:
                if n - pos > 1024:
                    raise ProtocolError('chunked body: chunk size line too long')
                break
            size_field = buf[pos:eol].split(b';', 1)[0].strip()
            try:
                size = int(size_field, 16)
            except ValueError:
                raise ProtocolError('chunked body: bad chunk size %r' % size_field[:20])
            pos = eol + 2
            if size == 0:
                self._buf = b''
                if out:
                    self._deliver(b''.join(out) if len(out) > 1 else out[0], t)
                self._state = 3
                self._feed_trailers(buf[pos:])
                return
            self._chunk_left = size
        self._buf = buf[pos:] if pos < n else b''
        if out:
            self._deliver(b''.join(out) if len(out) > 1 else out[0], t)

    def _feed_trailers(self, data):
        buf = self._buf + data if self._buf else data
        if buf.startswith(b'\r\n'):
            rest = buf[2:]
        else:
            end = buf.find(b'\r\n\r\n')
            if end < 0:
                self._buf = buf
                return
            rest = buf[end + 4:]
        self._buf = b''
        if rest:
            self.keep_alive = False
        self._finish()


def _resolve_in_thread(loop, host, port):
    """getaddrinfo in a daemon thread: a hung resolver can never block the end of the run.

    (asyncio's default executor is joined when asyncio.run() returns, and
    concurrent.futures joins its threads at interpreter exit.)
    """
    fut = loop.create_future()

    def done(result, exc):
        if not fut.done():
            if exc is not None:
                fut.set_exception(exc)
            else:
                fut.set_result(result)

    def work():
        try:
            res = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
            err = None
        except Exception as exc:  # pylint: disable=broad-except
            res, err = None, exc
        try:
            loop.call_soon_threadsafe(done, res, err)
        except RuntimeError:
            pass  # the loop is closed: nobody waits any more

    t = threading.Thread(target=work, name='resolve-%s' % host)
    t.daemon = True
    t.start()
    return fut


class Pool(object):
    """Keep-alive connections to one endpoint (LIFO reuse)."""

    def __init__(self, endpoint, loop=None):
        self.endpoint = endpoint
        self.loop = loop or asyncio.get_event_loop()
        self.idle = []
        self.active = set()
        self.opened = 0
        self.reused = 0
        self._addrs = None

    async def _addresses(self):
        if self._addrs is None:
            ep = self.endpoint
            infos = await _resolve_in_thread(self.loop, ep.host, ep.port)
            if not infos:
                raise socket.gaierror(socket.EAI_NONAME, 'no address')
            self._addrs = infos
        return self._addrs

    async def _open(self, loop, kwargs):
        last = None
        for family, _type, _proto, _canon, sockaddr in await self._addresses():
            try:
                return await loop.create_connection(lambda: Connection(loop), sockaddr[0], sockaddr[1],
                                                    family=family, **kwargs)
            except OSError as exc:
                last = exc
        raise last

    async def connect(self, timeout=None):
        ep = self.endpoint
        loop = self.loop
        timeout = ep.connect_timeout if timeout is None else min(timeout, ep.connect_timeout)
        kwargs = {}
        if ep.ssl is not None:
            kwargs['ssl'] = ep.ssl
            kwargs['server_hostname'] = ep.host
        try:
            _t, proto = await asyncio.wait_for(self._open(loop, kwargs), timeout)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # pylint: disable=broad-except
            raise describe_connect_error(exc, ep, timeout)
        sock = proto.transport.get_extra_info('socket')
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except (OSError, AttributeError):
                pass
        self.opened += 1
        return proto

    async def acquire(self, timeout=None):
        idle = self.idle
        while idle:
            conn = idle.pop()
            if not conn.closed:
                self.reused += 1
                return conn
        return await self.connect(timeout)

    def release(self, conn):
        if conn.closed or not conn.keep_alive or conn._state != 7:
            conn.close()
            return
        self.idle.append(conn)

    def close(self):
        for conn in self.idle:
            conn.close()
        self.idle = []

    def check_stalls(self, now, limit):
        """Abort the responses that started and then sent nothing for ``limit`` seconds."""
        for conn in list(self.active):
            if conn.last_rx is not None and now - conn.last_rx > limit and conn._waiter is not None:
                conn.stall(limit)

    async def request(self, data, sink=None, timeout=None, retry_stale=True):
        """Send one request, reusing a pooled connection; retry once on a stale keep-alive."""
        start = _perf()
        conn = await self.acquire(timeout)
        reused = conn.requests > 0
        remaining = None if timeout is None else max(0.001, timeout - (_perf() - start))
        self.active.add(conn)
        try:
            resp = await conn.request(data, sink, remaining)
        except HttpError as exc:
            self.active.discard(conn)
            conn.abort()
            if retry_stale and reused and exc.kind == 'stale':
                remaining = None if timeout is None else max(0.001, timeout - (_perf() - start))
                return await self.request(data, sink, remaining, retry_stale=False)
            if exc.kind == 'stale':
                exc.kind = 'disconnect'
            raise
        except asyncio.CancelledError:
            self.active.discard(conn)
            conn.abort()
            raise
        self.active.discard(conn)
        self.release(conn)
        return resp


async def fetch(pool, method, path, body=None, timeout=10.0, accept=None):
    """One request with a complete (non-streamed) body; returns a Response."""
    data = pool.endpoint.build(method, path, body, accept=accept)
    return await pool.request(data, None, timeout)
