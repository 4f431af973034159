# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fake vLLM server's capacity and fault settings (slots, stall_every, usage_on_last_chunk,
die_after_requests), with plain http.client/socket clients: the gate's capacity search is
tested against this server, so its known capacity must hold on its own."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import http.client
import json
import os
import socket
import sys
import threading
import time

import pytest

SUPPORT = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..', 'support'))
sys.path.insert(0, SUPPORT)
from fake_openai_server import FakeServerProcess, http_json, running  # noqa: E402  pylint: disable=wrong-import-position

MODEL = 'tiny-llama'


# -- helpers ------------------------------------------------------------------------------------
fake = running  # one FakeServer on a thread per test, stopped on exit


def connect(url, timeout=10):
    host, port = url.split('://', 1)[1].rsplit(':', 1)
    return http.client.HTTPConnection(host, int(port), timeout=timeout)


def body(n=4, stream=False, chat=False, usage=False, continuous=False):
    obj = {'model': MODEL, 'max_tokens': n, 'ignore_eos': True, 'stream': stream}
    if chat:
        obj['messages'] = [{'role': 'user', 'content': 'hello world'}]
    else:
        obj['prompt'] = 'hello world'
    if usage:
        obj['stream_options'] = {'include_usage': True, 'continuous_usage_stats': continuous}
    return obj


def send(conn, obj, chat=False):
    path = '/v1/chat/completions' if chat else '/v1/completions'
    conn.request('POST', path, json.dumps(obj).encode('utf-8'), {'Content-Type': 'application/json'})


def complete(url, obj=None, chat=False):
    """One non-streamed request; returns (status, parsed answer, monotonic time it was read)."""
    conn = connect(url)
    try:
        send(conn, obj or body(), chat)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, json.loads(data), time.monotonic()
    finally:
        conn.close()


def stream(url, obj, chat=False):
    """One streamed request; returns (status, [(monotonic time, SSE line)], seconds it took)."""
    t0 = time.monotonic()
    conn = connect(url)
    try:
        send(conn, obj, chat)
        resp = conn.getresponse()
        lines = []
        while True:
            line = resp.readline()
            if not line:
                break
            if line.strip():
                lines.append((time.monotonic(), line.strip()))
        return resp.status, lines, time.monotonic() - t0
    finally:
        conn.close()


def data_events(lines):
    return [json.loads(ln[len(b'data: '):]) for _t, ln in lines
            if ln.startswith(b'data: ') and ln != b'data: [DONE]']


def metrics(url):
    _status, text = http_json(url, 'GET', '/metrics')
    out = {}
    for line in text.splitlines():
        if line and not line.startswith('#'):
            key, val = line.rsplit(' ', 1)
            out[key] = float(val)
    return out


def metric(m, name, **labels):
    for key, val in m.items():
        base, _s, lab = key.partition('{')
        if base == name and all('%s="%s"' % kv in lab for kv in labels.items()):
            return val
    raise KeyError(name)


def stats(url):
    return http_json(url, 'GET', '/_admin/stats')[1]


def wait_for(cond, timeout=2.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.005)
    return cond()


def spawn(fn, *args):
    """Run fn(*args) in a thread; its ``result`` is the return value or the exception raised.

    The exception is kept, not raised: pytest formatting a thread's exception while it formats
    the test's own failure trips a CPython 3.11 bug (AST recursion depth mismatch).
    """
    def run():
        try:
            th.result = fn(*args)
        except Exception as exc:  # pylint: disable=broad-except
            th.result = exc
    th = threading.Thread(target=run, daemon=True)
    th.start()
    return th


def closed_by_peer(sock):
    sock.settimeout(2)
    try:
        return sock.recv(100) == b''
    except ConnectionResetError:
        return True


def drain(resp):
    """Read a response to its end: its lines, or None when the connection broke mid-response."""
    lines = []
    try:
        while True:
            line = resp.readline()
            if not line:
                return lines
            lines.append(line)
    except (http.client.HTTPException, ConnectionError):
        return None


def raw_request(url, obj):
    """Send a completion request on a bare socket (to hang up while it is queued or served)."""
    host, port = url.split('://', 1)[1].rsplit(':', 1)
    sock = socket.create_connection((host, int(port)), timeout=5)
    data = json.dumps(obj).encode('utf-8')
    sock.sendall(b'POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
                 b'Content-Length: %d\r\n\r\n%s' % (len(data), data))
    return sock


# -- slots --------------------------------------------------------------------------------------
def test_slots_serve_in_fifo_waves_at_the_known_capacity():
    # service time of 4 tokens: ttft_s + (4 - 1) * token_delay_s = 0.05 + 0.03 = 0.08 s; 2 slots
    # serve 8 requests in 4 waves. The slot count comes through the CLI flag.
    with FakeServerProcess({'ttft_s': 0.05, 'token_delay_s': 0.01}, extra_args=['--slots', '2']) as srv:
        assert srv.configure(reset=False)['slots'] == 2
        service = 0.08
        barrier = threading.Barrier(9)

        def one():
            barrier.wait()
            return complete(srv.url)

        threads = [spawn(one) for _i in range(8)]
        barrier.wait()
        t0 = time.monotonic()
        for th in threads:
            th.join(10)
        wall = time.monotonic() - t0
        assert all(th.result[0] == 200 for th in threads)
        assert all(th.result[1]['usage']['completion_tokens'] == 4 for th in threads)
        done = sorted(th.result[2] - t0 for th in threads)
        for i, t in enumerate(done):
            # request i is in wave i // 2: it cannot end before (wave + 1) * service
            assert t >= (i // 2 + 1) * service - 0.005, done
        assert 4 * service - 0.005 <= wall < 4 * service + 0.15, done
        st = srv.stats()
        assert st['max_running'] == 2 and st['running'] == 0 and st['waiting'] == 0
        m = metrics(srv.url)
        assert metric(m, 'vllm:generation_tokens_total') == 32
        assert metric(m, 'vllm:prompt_tokens_total') == 8 * 3
        assert metric(m, 'vllm:request_success_total', finished_reason='length') == 8
        assert metric(m, 'vllm:e2e_request_latency_seconds_count') == 8
        assert metric(m, 'vllm:num_requests_waiting') == 0


def test_service_time_is_the_same_streamed_or_not():
    # ttft_s + (n - 1) * token_delay_s = 0.02 + 2 * 0.08: a token delay more (0.26 s) must fail
    with fake(ttft_s=0.02, token_delay_s=0.08) as srv:
        assert srv.service_time(3) == pytest.approx(0.18)
        t0 = time.monotonic()
        status, obj, t_end = complete(srv.url, body(n=3))
        assert status == 200 and obj['usage']['completion_tokens'] == 3
        assert 0.18 - 0.005 <= t_end - t0 < 0.18 + 0.06
        status, lines, took = stream(srv.url, body(n=3, stream=True))
        assert status == 200 and len(data_events(lines)) == 3
        assert 0.18 - 0.005 <= took < 0.18 + 0.06


def test_queue_is_first_in_first_out():
    with fake(slots=1, ttft_s=0.05) as srv:
        n = 6
        sent = [threading.Event() for _i in range(n)]
        finished = {}

        def one(i):
            if i:
                sent[i - 1].wait(5)
                time.sleep(0.005)   # arrive strictly after the previous request
            conn = connect(srv.url)
            send(conn, body(n=1))
            sent[i].set()
            resp = conn.getresponse()
            resp.read()
            finished[i] = time.monotonic()
            conn.close()
            return resp.status

        threads = [spawn(one, i) for i in range(n)]
        for th in threads:
            th.join(10)
        assert [th.result for th in threads] == [200] * n
        order = sorted(finished, key=finished.get)
        assert order == list(range(n)), order
        assert stats(srv.url)['max_running'] == 1


def test_metrics_gauges_report_running_and_waiting():
    with fake(slots=2, ttft_s=0.4) as srv:
        threads = [spawn(complete, srv.url) for _i in range(5)]
        assert wait_for(lambda: stats(srv.url)['waiting'] == 3, 0.3)
        m = metrics(srv.url)
        assert metric(m, 'vllm:num_requests_running') == 2
        assert metric(m, 'vllm:num_requests_waiting') == 3
        st = stats(srv.url)
        assert (st['running'], st['waiting']) == (2, 3)
        for th in threads:
            th.join(10)
        assert all(th.result[0] == 200 for th in threads)
        m = metrics(srv.url)
        assert metric(m, 'vllm:num_requests_running') == 0
        assert metric(m, 'vllm:num_requests_waiting') == 0
        assert stats(srv.url)['max_running'] == 2


def test_client_leaving_the_queue_frees_no_slot():
    with fake(slots=1, ttft_s=0.15) as srv:
        first = spawn(complete, srv.url)
        assert wait_for(lambda: stats(srv.url)['running'] == 1)
        leaver = raw_request(srv.url, body())
        assert wait_for(lambda: stats(srv.url)['waiting'] == 1)
        rest = [spawn(complete, srv.url) for _i in range(2)]
        assert wait_for(lambda: stats(srv.url)['waiting'] == 3)
        leaver.close()
        assert wait_for(lambda: stats(srv.url)['waiting'] == 2)
        # the request being served still holds the only slot
        assert stats(srv.url)['running'] == 1
        for th in [first] + rest:
            th.join(10)
        assert [th.result[0] for th in [first] + rest] == [200, 200, 200]
        ends = sorted(th.result[2] for th in rest)
        assert ends[1] - ends[0] >= 0.15 - 0.005     # still one at a time
        st = stats(srv.url)
        assert (st['max_running'], st['running'], st['waiting'], st['completed']) == (1, 0, 0, 3)
        m = metrics(srv.url)
        assert metric(m, 'vllm:request_success_total', finished_reason='abort') == 1
        assert metric(m, 'vllm:request_success_total', finished_reason='length') == 3
        assert metric(m, 'vllm:generation_tokens_total') == 12


def test_client_leaving_while_served_passes_its_slot_on():
    with fake(slots=1, ttft_s=0.3) as srv:
        leaver = raw_request(srv.url, body())
        assert wait_for(lambda: stats(srv.url)['running'] == 1)
        waiter = spawn(complete, srv.url)
        assert wait_for(lambda: stats(srv.url)['waiting'] == 1)
        t0 = time.monotonic()
        leaver.close()
        waiter.join(10)
        assert waiter.result[0] == 200
        assert waiter.result[2] - t0 < 0.3 + 0.15      # did not wait for the leaver's full service
        # read through the server's loop: it releases the slot just after writing the answer
        st = stats(srv.url)
        assert (st['running'], st['waiting'], st['max_running']) == (0, 0, 1)
        assert metric(metrics(srv.url), 'vllm:request_success_total', finished_reason='abort') == 1


# -- stalls -------------------------------------------------------------------------------------
def test_stall_every_third_request_pauses_silently_then_completes():
    with fake(stall_every=3, stall_s=0.3, ttft_s=0.01, token_delay_s=0.01) as srv:
        runs = [stream(srv.url, body(n=4, stream=True)) for _i in range(4)]
        for status, lines, _took in runs:
            events = data_events(lines)
            assert status == 200 and lines[-1][1] == b'data: [DONE]'
            assert ''.join(e['choices'][0]['text'] for e in events) == ' hello world token fast'
            assert events[-1]['choices'][0]['finish_reason'] == 'length'
        took = [r[2] for r in runs]
        others = took[:2] + took[3:]
        # 0.3 s of stall on top of the same service time (10 ms for scheduling jitter)
        assert took[2] >= min(others) + 0.3 - 0.01 and took[2] - max(others) >= 0.25, took
        gaps = [[b[0] - a[0] for a, b in zip(r[1], r[1][1:])] for r in runs]
        assert max(gaps[2]) >= 0.3, gaps[2]
        assert all(max(g) < 0.2 for g in gaps[:2] + gaps[3:]), gaps
        # non-streamed: the 6th request answers stall_s later, with all its tokens
        t0 = time.monotonic()
        quick = complete(srv.url)
        t1 = time.monotonic()
        slow = complete(srv.url)
        assert slow[2] - t1 >= (quick[2] - t0) + 0.25
        assert slow[1]['usage']['completion_tokens'] == 4
        m = metrics(srv.url)
        assert metric(m, 'vllm:request_success_total', finished_reason='length') == 6
        assert metric(m, 'vllm:generation_tokens_total') == 24
        assert metric(m, 'vllm:inter_token_latency_seconds_count') == 4 * 3


def test_stall_s_shortens_stall_rate_stalls():
    with fake(stall_rate=1.0, stall_s=0.1) as srv:
        status, lines, took = stream(srv.url, body(n=4, stream=True))
        assert status == 200 and len(data_events(lines)) == 4 and took >= 0.1


# -- usage on the last chunk --------------------------------------------------------------------
@pytest.mark.parametrize('chat', [False, True])
def test_usage_rides_on_the_last_content_chunk(chat):
    with fake(usage_on_last_chunk=True, tokens_per_chunk=2) as srv:
        status, lines, _t = stream(srv.url, body(n=5, stream=True, chat=chat, usage=True, continuous=True), chat)
        assert status == 200 and lines[-1][1] == b'data: [DONE]'
        events = data_events(lines)
        last = events[-1]
        assert last['choices'] and last['choices'][0]['finish_reason'] == 'length'
        assert last['usage']['completion_tokens'] == 5
        assert last['usage']['prompt_tokens'] + 5 == last['usage']['total_tokens']
        assert not [e for e in events[:-1] if 'usage' in e]
        # without include_usage there is no usage at all
        _s, lines, _t = stream(srv.url, body(n=5, stream=True, chat=chat), chat)
        assert not [e for e in data_events(lines) if 'usage' in e]


def test_default_usage_is_a_separate_chunk():
    with fake() as srv:
        _s, lines, _t = stream(srv.url, body(n=3, stream=True, usage=True))
        events = data_events(lines)
        assert events[-1]['choices'] == [] and events[-1]['usage']['completion_tokens'] == 3
        assert 'usage' not in events[-2]


# -- die_after_requests -------------------------------------------------------------------------
def test_die_after_requests_aborts_connections_and_refuses_new_ones():
    with fake(die_after_requests=3, stall_rate=1.0) as srv:
        host, port = '127.0.0.1', srv.port
        # request 1 stalls forever mid-stream (stall_s defaults to an hour)
        in_flight = connect(srv.url)
        send(in_flight, body(n=4, stream=True))
        resp = in_flight.getresponse()
        assert resp.readline().startswith(b'data: ')
        idle = socket.create_connection((host, port), timeout=5)
        http_json(srv.url, 'POST', '/_admin/config', {'stall_rate': 0.0})
        assert complete(srv.url)[0] == 200                      # request 2
        with pytest.raises((http.client.HTTPException, ConnectionError)):
            complete(srv.url)                                   # request 3 kills the server
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((host, port), timeout=5)    # the 4th connection
        assert closed_by_peer(idle)
        # the stalled stream ends at once, without its [DONE]
        in_flight.sock.settimeout(2)
        rest = drain(resp)
        assert rest is None or b'data: [DONE]\n' not in rest
        idle.close()
        in_flight.close()
        assert srv.stats.requests == 3 and srv.stats.completed == 1
