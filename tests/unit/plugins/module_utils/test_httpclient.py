# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import asyncio

import pytest

from ansible_collections.inferops.vllm.plugins.module_utils.httpclient import (
    Connection, Endpoint, HttpError, Pool, ProtocolError, fetch,
)


class FakeTransport(object):
    def __init__(self):
        self.written = []
        self.closed = False

    def write(self, data):
        self.written.append(data)

    def close(self):
        self.closed = True

    def abort(self):
        self.closed = True

    def get_extra_info(self, name):
        return None


class Sink(object):
    def __init__(self):
        self.parts = []

    def feed(self, data, t):
        self.parts.append(data)


def exchange(pieces, sink=None):
    """Feed response ``pieces`` into a Connection; return (response or exception, sink, connection)."""
    async def go():
        loop = asyncio.get_running_loop()
        conn = Connection(loop)
        conn.connection_made(FakeTransport())
        fut = conn.request(b'GET / HTTP/1.1\r\n\r\n', sink, timeout=5)
        for p in pieces:
            conn.data_received(p)
        if not fut.done():
            conn.connection_lost(None)
        try:
            return await fut, conn
        except HttpError as exc:
            return exc, conn
    return asyncio.run(go())


def split_every(data, n):
    return [data[i:i + n] for i in range(0, len(data), n)]


CHUNKED = (b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/event-stream\r\n\r\n'
           b'7\r\ndata: a\r\n5;ext=1\r\n\n\nxyz\r\n0\r\nX-Trailer: 1\r\n\r\n')


@pytest.mark.parametrize('n', [1, 2, 3, 7, 1000])
def test_chunked_stream_any_fragmentation(n):
    sink = Sink()
    resp, conn = exchange(split_every(CHUNKED, n), sink)
    assert resp.status == 200
    assert b''.join(sink.parts) == b'data: a\n\nxyz'
    assert resp.body is None
    assert conn.keep_alive and not conn.closed


@pytest.mark.parametrize('n', [1, 5, 1000])
def test_content_length_body(n):
    raw = b'HTTP/1.1 404 Not Found\r\nContent-Length: 11\r\nConnection: close\r\n\r\nhello world'
    resp, conn = exchange(split_every(raw, n), Sink())   # a sink is only used for a 200
    assert resp.status == 404 and resp.reason == 'Not Found'
    assert resp.body == b'hello world'
    assert resp.text() == 'hello world'
    assert conn.keep_alive is False


def test_body_until_close():
    resp, _conn = exchange([b'HTTP/1.0 200 OK\r\n\r\npart1 ', b'part2'])
    assert resp.body == b'part1 part2'


def test_empty_body_and_repeated_headers():
    resp, _conn = exchange([b'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-A: 1\r\nx-a: 2\r\n\r\n'])
    assert resp.body == b'' and resp.headers['x-a'] == '1, 2'


@pytest.mark.parametrize('raw, text', [
    (b'SSH-2.0-OpenSSH_9.6\r\n\r\n', 'not an HTTP response'),
    (b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 'bad chunk size'),
    (b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXX', 'missing CRLF'),
])
def test_malformed_responses(raw, text):
    exc, conn = exchange([raw], Sink())
    assert isinstance(exc, ProtocolError) and text in exc.message
    assert conn.closed


def test_disconnect_mid_body():
    exc, _conn = exchange([b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort'])
    assert exc.kind == 'disconnect' and 'middle of a response' in exc.message


def test_timeout_aborts_connection():
    async def go():
        loop = asyncio.get_running_loop()
        conn = Connection(loop)
        conn.connection_made(FakeTransport())
        fut = conn.request(b'x', None, timeout=0.05)
        conn.data_received(b'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab')
        with pytest.raises(HttpError) as exc:
            await fut
        return exc.value, conn
    exc, conn = asyncio.run(go())
    assert exc.kind == 'timeout' and conn.closed


def test_endpoint_request_bytes_and_header_checks():
    ep = Endpoint('http://example.com:8000/base/', api_key='k', headers={'X-Team': 'ml'})
    assert (ep.host, ep.port, ep.base_path) == ('example.com', 8000, '/base')
    data = ep.build('POST', '/v1/completions', b'{}', accept='text/event-stream')
    head, body = data.split(b'\r\n\r\n')
    assert head.startswith(b'POST /base/v1/completions HTTP/1.1\r\nHost: example.com:8000\r\n')
    assert b'Authorization: Bearer k' in head and b'X-Team: ml' in head and b'Content-Length: 2' in head
    assert body == b'{}'
    assert Endpoint('https://[::1]/').netloc() == '::1:443'
    with pytest.raises(HttpError):
        Endpoint('http://h:1', headers={'X-Bad': 'a\r\nInjected: 1'})
    with pytest.raises(HttpError) as exc:
        Endpoint('ftp://h')
    assert exc.value.kind == 'config'
    with pytest.raises(HttpError) as exc:
        Endpoint('https://h', ca_path='/nonexistent/ca.pem')
    assert exc.value.kind == 'tls' and 'ca_path' in exc.value.message


def test_pool_retries_a_stale_keep_alive_connection():
    """The server closes every connection after one response without saying so: the pool retries once."""
    async def go():
        async def handle(reader, writer):
            await reader.readuntil(b'\r\n\r\n')
            writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
            await writer.drain()
            await asyncio.sleep(0.05)
            writer.close()
        server = await asyncio.start_server(handle, '127.0.0.1', 0)
        port = server.sockets[0].getsockname()[1]
        pool = Pool(Endpoint('http://127.0.0.1:%d' % port), asyncio.get_running_loop())
        bodies = []
        for _i in range(3):
            resp = await fetch(pool, 'GET', '/x', timeout=5)
            bodies.append(resp.body)
            await asyncio.sleep(0.1)
        pool.close()
        server.close()
        await server.wait_closed()
        return bodies, pool.opened
    bodies, opened = asyncio.run(go())
    assert bodies == [b'ok'] * 3
    assert opened == 3


def test_connect_refused_message():
    async def go():
        pool = Pool(Endpoint('http://127.0.0.1:1'), asyncio.get_running_loop())
        with pytest.raises(HttpError) as exc:
            await fetch(pool, 'GET', '/health', timeout=2)
        return exc.value
    exc = asyncio.run(go())
    assert exc.kind == 'connect' and 'connection refused' in exc.message
