#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A fake vLLM OpenAI-compatible server (standard library asyncio only).

Endpoints: GET /health, GET /v1/models (with max_model_len), POST /tokenize,
POST /v1/completions and /v1/chat/completions (JSON or SSE with usage and
continuous_usage_stats), GET /metrics (Prometheus text with vLLM's metric names and
labels), and for tests POST /_admin/config (change settings) and GET /_admin/stats.

Fault switches (settings): api_key (401 without it), fail_rate (HTTP 500 on that share of
requests), stall_rate + stall_after_tokens (stop sending mid-stream for stall_s seconds, by
default 3600), malformed_rate (an invalid JSON event in the stream), no_usage,
no_continuous_usage, tokens_per_chunk (several tokens per SSE event), honor_ignore_eos=false
(shorter outputs), no_tokenize, no_metrics, metrics_extra_tokens_per_request (server counts
more tokens than it sends), not_ready_s. TLS with --tls-cert/--tls-key.

Capacity and faults for the throughput gate's capacity search:

- slots (0 = unlimited): at most that many completion requests are served at once; the others
  wait in a FIFO queue before their TTFT starts (vllm:num_requests_waiting in /metrics). One
  request of n output tokens holds its slot for ``service_time(n)`` = ttft_s + (n - k) *
  token_delay_s with k = min(tokens_per_chunk, n), i.e. ttft_s + (n - 1) * token_delay_s for one
  token per chunk, streamed or not; the capacity is slots / service_time(n) requests per second.
- stall_every (0 = off) + stall_s + stall_after_tokens: requests N, 2N, ... (counted from 1 over
  all completion requests received) send nothing for stall_s seconds after stall_after_tokens
  tokens, then complete normally. A non-streamed request answers stall_s later.
- usage_on_last_chunk: a stream that asked for include_usage gets the usage object on its last
  content chunk (the one with finish_reason) instead of continuous usage or a usage-only chunk.
- die_after_requests (0 = off): receiving that many completion requests kills the server: the
  listening socket is closed (later connections are refused) and every open connection, the
  one that carried the last request included, is aborted without an answer.

Workload profiles (tools, structured output, session affinity):

- A chat request with ``tools`` and a tool_choice other than "none" is answered with one tool
  call: the function named by tool_choice, else the first tool, with the smallest arguments valid
  against its parameters schema, streamed the way vLLM streams tool calls (a delta with id, type
  and function.name, then deltas of argument fragments; finish_reason "tool_calls", or "stop" for
  a named tool_choice, "length" when max_tokens cut it short). Each delta counts as one token.
- A request with ``response_format`` {type: json_schema} is answered with the smallest JSON
  document valid against the schema (4 characters per token; cut short by max_tokens it is
  invalid, finish_reason "length"). ``{type: json_object}`` gets ``{}``.
- tool_parser=false: the server was started without --tool-call-parser (and --enable-auto-tool-choice):
  a chat request with tools and a tool_choice other than "none" gets vLLM's HTTP 400 ('"auto" tool
  choice requires --enable-auto-tool-choice and --tool-call-parser to be set', or 'tool_choice=
  "required" requires --tool-call-parser to be set').
- prefix_cache=true: a prefix cache as vLLM's counts it: a prompt's words (the fake tokenizer's tokens)
  in blocks of 16, each block keyed by everything up to its end; the leading blocks seen before are hits. /metrics then has
  vllm:prefix_cache_queries_total / _hits_total in tokens (off: queries = prompt tokens, hits 0).
- invalid_output_rate (0 = off, 1 = always): that share of tool-call and JSON answers is wrong on
  purpose (tool arguments that are not JSON; a JSON document of the wrong type), for negative tests.
- Every completion request's ``x-session-id`` header and body ``user`` field are recorded:
  GET /_admin/stats gives ``sessions`` (requests per key, header first, else user),
  ``session_log`` (the [header, user] pair of each request, the last 10,000) and counts of
  ``tool_call_requests``, ``structured_requests`` and ``invalid_outputs``.

    python tests/support/fake_openai_server.py --port 8000 --token-delay-ms 5
    python tests/support/fake_openai_server.py --port 0 --port-file /tmp/port --config '{"fail_rate": 0.1}'

Tests import it: ``FakeServer(settings).start_thread()`` or ``FakeServerProcess(settings)``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import asyncio
import collections
import contextlib
import http.client
import json
import os
import random
import re
import ssl
import subprocess
import sys
import threading
import time

DEFAULTS = {
    'model': 'tiny-llama',
    'max_model_len': 2048,
    'api_key': None,
    'ttft_s': 0.0,
    'token_delay_s': 0.0,
    'tokens_per_chunk': 1,
    'fail_rate': 0.0,
    'stall_rate': 0.0,
    'stall_after_tokens': 2,
    'malformed_rate': 0.0,
    'no_usage': False,
    'no_continuous_usage': False,
    'honor_ignore_eos': True,
    'no_tokenize': False,
    'no_metrics': False,
    'no_health': False,
    'metrics_extra_tokens_per_request': 0,
    'not_ready_s': 0.0,
    'seed': 1,
    'slots': 0,
    'stall_every': 0,
    'stall_s': 3600.0,
    'usage_on_last_chunk': False,
    'die_after_requests': 0,
    'invalid_output_rate': 0.0,
    'tool_parser': True,
    'prefix_cache': False,
    'long_word_chars': 8,
}
PREFIX_BLOCK_TOKENS = 16     # vLLM's default KV cache block size
PREFIX_CACHE_MAX_BLOCKS = 200000
SESSION_LOG_MAX = 10000
CHARS_PER_TOKEN = 4

TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
                20.0, 40.0, 80.0, 160.0, 640.0, 2560.0)
ITL_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0,
               40.0, 80.0)
E2E_BUCKETS = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0,
               480.0, 960.0, 1920.0, 7680.0)
WORDS = ('hello', 'world', 'token', 'fast', 'model', 'serve', 'river', 'light', 'paper', 'stone')
REASONS = {200: 'OK', 400: 'Bad Request', 401: 'Unauthorized', 404: 'Not Found', 500: 'Internal Server Error',
           503: 'Service Unavailable'}


def count_tokens(text, long_word_chars=8):
    """The fake tokenizer: one token per word, two for words longer than ``long_word_chars`` characters
    (setting long_word_chars), plus BOS."""
    words = text.split()
    return 1 + len(words) + sum(1 for w in words if len(w) > long_word_chars)


CHAT_TEMPLATE_TOKENS = 6

# One admitted completion request. stall: seconds of silence to inject (0.0: none);
# usage_last: the usage object rides on the last content chunk (usage_on_last_chunk).
# answer: None (plain words) or a dict from _structured_answer(): kind (tool|json), pieces (the
# token-bearing fragments), finish (the API's finish_reason), name and call_id for a tool call.
_Req = collections.namedtuple('_Req', 'rid chat prompt_tokens n max_tokens stream usage cont usage_last stall '
                                      'malformed t0 answer')


def minimal_instance(schema):
    """Smallest value valid against a JSON schema (type, properties/required, items/minItems, enum,
    const, minimum/exclusiveMinimum, minLength, a pattern that one of a few plain strings matches), as vLLM's
    guided decoding could produce it."""
    schema = schema if isinstance(schema, dict) else {}
    if 'const' in schema:
        return schema['const']
    if schema.get('enum'):
        return schema['enum'][0]
    t = schema.get('type', 'object')
    if isinstance(t, list):
        t = t[0]
    if t == 'object':
        props = schema.get('properties') or {}
        return dict((k, minimal_instance(props.get(k, {}))) for k in schema.get('required') or [])
    if t == 'array':
        return [minimal_instance(schema.get('items') or {}) for _i in range(int(schema.get('minItems', 0)))]
    if t == 'string':
        size = max(1, int(schema.get('minLength', 1)))
        fits = [text for text in ('a' * size, 'A' * size, '1' * size, 'a1' * size)
                if 'pattern' not in schema or re.search(schema['pattern'], text)]
        return fits[0] if fits else 'a' * size
    if t in ('integer', 'number'):
        v = schema.get('minimum', schema['exclusiveMinimum'] + 1 if 'exclusiveMinimum' in schema else 0)
        return int(-(-v // 1)) if t == 'integer' else v
    if t == 'boolean':
        return False
    return None


def _split(text, size=CHARS_PER_TOKEN):
    return [text[i:i + size] for i in range(0, len(text), size)] or ['']


def _prefix_hits(blocks, text):
    """Tokens of ``text`` served from the prefix cache ``blocks`` (a set, updated): whole blocks of
    PREFIX_BLOCK_TOKENS words (the fake tokenizer's tokens), each keyed by its words and the key of the
    block before it (so by everything up to its end, as vLLM's block hashes), counted while seen before."""
    if len(blocks) > PREFIX_CACHE_MAX_BLOCKS:
        blocks.clear()
    words = text.split()
    hits = 0
    key = None
    leading = True
    for end in range(PREFIX_BLOCK_TOKENS, len(words) + 1, PREFIX_BLOCK_TOKENS):
        key = hash((key, tuple(words[end - PREFIX_BLOCK_TOKENS:end])))
        if leading and key in blocks:
            hits += PREFIX_BLOCK_TOKENS
        else:
            leading = False
            blocks.add(key)
    return hits


def _no_tool_parser(req):
    """vLLM's refusal of a tool call when it was started without a tool-call parser, or None."""
    choice = req.get('tool_choice')
    if not req.get('tools') or choice in (None, 'none'):
        return None
    if choice == 'auto':
        return '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'
    if isinstance(choice, dict):
        desc = 'function "%s"' % ((choice.get('function') or {}).get('name'))
    else:
        desc = '"%s"' % choice
    return 'tool_choice=%s requires --tool-call-parser to be set' % desc


def _tool_name(req):
    """(function name, named: bool) a tool-call answer uses, or (None, False) for no tool call."""
    tools = [t for t in req.get('tools') or [] if isinstance(t, dict) and isinstance(t.get('function'), dict)]
    choice = req.get('tool_choice')
    if not tools or choice == 'none':
        return None, False
    if isinstance(choice, dict):
        return (choice.get('function') or {}).get('name'), True
    return tools[0]['function'].get('name'), False


class Histogram(object):
    def __init__(self, buckets):
        self.bounds = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, v):
        self.sum += v
        self.count += 1
        for i, b in enumerate(self.bounds):
            if v <= b:
                self.counts[i] += 1
                return
        self.counts[-1] += 1

    def lines(self, name, labels):
        out = []
        cum = 0
        for b, c in zip(self.bounds + (float('inf'),), self.counts):
            cum += c
            le = '+Inf' if b == float('inf') else repr(float(b))
            out.append('%s_bucket{engine="0",le="%s",%s} %s' % (name, le, labels, float(cum)))
        out.append('%s_count{engine="0",%s} %s' % (name, labels, float(self.count)))
        out.append('%s_sum{engine="0",%s} %r' % (name, labels, self.sum))
        return out


class Stats(object):
    def __init__(self):
        self.prompt_tokens = 0
        self.prefix_queries = 0
        self.prefix_hits = 0
        self.prefix_blocks = set()
        self.generation_tokens = 0
        self.success = {'stop': 0, 'length': 0, 'abort': 0, 'error': 0}
        self.running = 0          # requests being served (holding a slot)
        self.max_running = 0
        self.ttft = Histogram(TTFT_BUCKETS)
        self.itl = Histogram(ITL_BUCKETS)
        self.e2e = Histogram(E2E_BUCKETS)
        self.requests = 0          # completion requests received
        self.http_requests = 0
        self.connections = 0
        self.first_t = None
        self.last_t = None
        self.completed = 0
        self.sessions = collections.Counter()
        self.session_log = collections.deque(maxlen=SESSION_LOG_MAX)
        self.tool_call_requests = 0
        self.structured_requests = 0
        self.invalid_outputs = 0


class FakeServer(object):
    """Configurable fake vLLM server; run it in a loop (``serve``), a thread or as a script."""

    def __init__(self, settings=None, host='127.0.0.1', port=0, tls_cert=None, tls_key=None):
        self.cfg = dict(DEFAULTS)
        self.cfg.update(settings or {})
        self.initial = dict(settings or {})
        self.host = host
        self.port = port
        self.tls = None
        if tls_cert:
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(tls_cert, tls_key)
        self.stats = Stats()
        self.rng = random.Random(self.cfg['seed'])
        self.started = time.monotonic()
        self.server = None
        self.loop = None
        self._thread = None
        self._ready = threading.Event()
        self._stop = None
        self._ids = 0
        # futures of the requests waiting for a slot, oldest first: an explicit FIFO because
        # asyncio.Semaphore does not promise strict arrival order under contention
        self._waiters = collections.deque()
        self._conns = set()
        self.dead = False

    # -- lifecycle --------------------------------------------------------------------------
    async def serve(self):
        self.loop = asyncio.get_running_loop()
        self._stop = self.loop.create_future()
        self.server = await self.loop.create_server(lambda: _Conn(self), self.host, self.port, ssl=self.tls,
                                                    backlog=1024)
        self.port = self.server.sockets[0].getsockname()[1]
        self.started = time.monotonic()
        self._ready.set()
        try:
            await self._stop
        finally:
            self.server.close()
            await self.server.wait_closed()

    def start_thread(self):
        self._thread = threading.Thread(target=lambda: asyncio.run(self.serve()), daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError('fake server did not start')
        return self

    def stop(self):
        if self.loop is not None and self._stop is not None:
            self.loop.call_soon_threadsafe(lambda: self._stop.done() or self._stop.set_result(None))
        if self._thread is not None:
            self._thread.join(5)

    @property
    def url(self):
        return '%s://127.0.0.1:%d' % ('https' if self.tls else 'http', self.port)

    # -- helpers ----------------------------------------------------------------------------
    def labels(self):
        return 'model_name="%s"' % self.cfg['model']

    def next_id(self):
        self._ids += 1
        return '%x%06x' % (int(self.started * 1000) & 0xffffff, self._ids)

    def metrics_text(self):
        s = self.stats
        lb = self.labels()
        lines = [
            '# HELP vllm:num_requests_running Number of requests in model execution batches.',
            '# TYPE vllm:num_requests_running gauge',
            'vllm:num_requests_running{engine="0",%s} %s' % (lb, float(s.running)),
            '# HELP vllm:num_requests_waiting Number of requests waiting to be processed.',
            '# TYPE vllm:num_requests_waiting gauge',
            'vllm:num_requests_waiting{engine="0",%s} %s' % (lb, float(self.waiting())),
            '# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.',
            '# TYPE vllm:kv_cache_usage_perc gauge',
            'vllm:kv_cache_usage_perc{engine="0",%s} %s' % (lb, min(1.0, s.running / 64.0)),
            '# HELP vllm:prompt_tokens_total Number of prefill tokens processed.',
            '# TYPE vllm:prompt_tokens_total counter',
            'vllm:prompt_tokens_total{engine="0",%s} %s' % (lb, float(s.prompt_tokens)),
            '# HELP vllm:generation_tokens_total Number of generation tokens processed.',
            '# TYPE vllm:generation_tokens_total counter',
            'vllm:generation_tokens_total{engine="0",%s} %s' % (lb, float(s.generation_tokens)),
            '# HELP vllm:request_success_total Count of successfully processed requests.',
            '# TYPE vllm:request_success_total counter',
        ]
        for reason in ('stop', 'length', 'abort', 'error'):
            lines.append('vllm:request_success_total{engine="0",finished_reason="%s",%s} %s'
                         % (reason, lb, float(s.success[reason])))
        for name, hist, help_text in (
                ('vllm:time_to_first_token_seconds', s.ttft, 'Histogram of time to first token in seconds.'),
                ('vllm:inter_token_latency_seconds', s.itl, 'Histogram of inter-token latency in seconds.'),
                ('vllm:e2e_request_latency_seconds', s.e2e, 'Histogram of e2e request latency in seconds.')):
            lines.append('# HELP %s %s' % (name, help_text))
            lines.append('# TYPE %s histogram' % name)
            lines.extend(hist.lines(name, lb))
        lines.append('# HELP vllm:prefix_cache_queries_total Prefix cache queries, in terms of number of queried tokens.')
        lines.append('# TYPE vllm:prefix_cache_queries_total counter')
        cached = self.cfg['prefix_cache']
        lines.append('vllm:prefix_cache_queries_total{engine="0",%s} %s'
                     % (lb, float(s.prefix_queries if cached else s.prompt_tokens)))
        lines.append('# HELP vllm:prefix_cache_hits_total Prefix cache hits, in terms of number of cached tokens.')
        lines.append('# TYPE vllm:prefix_cache_hits_total counter')
        lines.append('vllm:prefix_cache_hits_total{engine="0",%s} %s' % (lb, float(s.prefix_hits if cached else 0)))
        return ('\n'.join(lines) + '\n').encode('utf-8')

    def ready(self):
        return time.monotonic() - self.started >= float(self.cfg['not_ready_s'])

    def service_time(self, n):
        """Seconds one request of ``n`` output tokens holds its slot (without queue wait or stall).

        The first SSE event (k = min(tokens_per_chunk, n) tokens) goes out ttft_s after the slot
        is taken and each later token adds token_delay_s: ttft_s + (n - k) * token_delay_s, the
        same for a non-streamed answer, so a known capacity does not depend on streaming.
        """
        k = min(max(1, int(self.cfg['tokens_per_chunk'])), n)
        return float(self.cfg['ttft_s']) + (n - k) * float(self.cfg['token_delay_s'])

    # -- slots: a FIFO queue in front of the "engine" -----------------------------------------
    def waiting(self):
        # a cancelled future may sit in the deque until its task runs its cleanup
        return sum(1 for f in self._waiters if not f.done())

    def _slot_free(self):
        slots = int(self.cfg['slots'] or 0)
        return slots <= 0 or self.stats.running < slots

    def _take_slot(self):
        st = self.stats
        st.running += 1
        st.max_running = max(st.max_running, st.running)

    def try_take_slot(self):
        """Take a slot now if one is free and nobody queues before us (a newcomer never overtakes)."""
        if self.waiting() or not self._slot_free():
            return False
        self._take_slot()
        return True

    async def wait_slot(self):
        """Queue for a slot; on cancellation leave the queue, or pass on a slot granted meanwhile."""
        fut = self.loop.create_future()
        self._waiters.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                # granted just before the client left: the slot is ours, so hand it on
                self.release_slot()
            else:
                try:
                    self._waiters.remove(fut)
                except ValueError:
                    pass       # already skipped by grant_slots()
            raise

    def release_slot(self):
        self.stats.running -= 1
        self.grant_slots()

    def grant_slots(self):
        """Hand free slots to the oldest waiters (also after a live increase of ``slots``)."""
        while self._waiters and self._slot_free():
            fut = self._waiters.popleft()
            if fut.done():
                continue       # its client went away; wait_slot() cleans up
            self._take_slot()
            fut.set_result(None)

    def die(self):
        """Simulate a crashed server: stop listening (ECONNREFUSED) and abort every connection."""
        self.dead = True
        if self.server is not None:
            self.server.close()
        for conn in list(self._conns):
            conn.closed = True
            conn.transport.abort()


def _json(status, obj, extra=b''):
    body = json.dumps(obj, separators=(',', ':')).encode('utf-8')
    return (b'HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n%s\r\n'
            % (status, REASONS.get(status, 'Error').encode(), len(body), extra)) + body


def _error(status, message, etype):
    return _json(status, {'object': 'error', 'message': message, 'type': etype, 'param': None, 'code': status})


def _chunk(b):
    return b'%x\r\n%s\r\n' % (len(b), b)


SSE_HEAD = (b'HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n'
            b'transfer-encoding: chunked\r\n\r\n')


async def _sleep_until(when):
    left = when - time.monotonic()
    if left > 0:
        await asyncio.sleep(left)


class _Conn(asyncio.Protocol):
    def __init__(self, srv):
        self.srv = srv
        self.transport = None
        self.buf = b''
        self.busy = None       # task of a delayed response
        self.closed = False

    def connection_made(self, transport):
        self.transport = transport
        self.srv.stats.connections += 1
        self.srv._conns.add(self)
        if self.srv.dead:
            # accepted in the same loop turn the server died: a dead server answers nobody
            self.closed = True
            transport.abort()

    def connection_lost(self, exc):
        self.closed = True
        self.srv._conns.discard(self)
        if self.busy is not None and not self.busy.done():
            self.busy.cancel()

    def data_received(self, data):
        self.buf += data
        if self.busy is None:
            self._process()

    def _process(self):
        while not self.closed:
            if self.buf and not (65 <= self.buf[0] <= 90):
                # not an HTTP request line (e.g. a TLS ClientHello): answer like uvicorn and hang up
                self.transport.write(_error(400, 'Invalid HTTP request received.', 'BadRequestError'))
                self.transport.close()
                self.closed = True
                return
            end = self.buf.find(b'\r\n\r\n')
            if end < 0:
                return
            head = self.buf[:end].decode('latin-1').split('\r\n')
            headers = {}
            for line in head[1:]:
                k, _s, v = line.partition(':')
                headers[k.strip().lower()] = v.strip()
            length = int(headers.get('content-length', '0') or 0)
            if len(self.buf) < end + 4 + length:
                return
            body = self.buf[end + 4:end + 4 + length]
            self.buf = self.buf[end + 4 + length:]
            try:
                method, path, _v = head[0].split(' ', 2)
            except ValueError:
                self.transport.write(_error(400, 'bad request line', 'BadRequestError'))
                self.transport.close()
                return
            result = self.srv_handle(method, path.split('?', 1)[0], headers, body)
            if result is None:
                continue
            # a coroutine: finish it before reading the next request on this connection
            self.busy = asyncio.ensure_future(result)
            self.busy.add_done_callback(self._done)
            return

    def _done(self, task):
        self.busy = None
        if not task.cancelled() and task.exception() is not None and not self.closed:
            self.transport.abort()
            return
        if not self.closed:
            self._process()

    # -- routing ----------------------------------------------------------------------------
    def srv_handle(self, method, path, headers, body):
        srv = self.srv
        st = srv.stats
        st.http_requests += 1
        cfg = srv.cfg
        w = self.transport.write
        if path == '/health':
            if cfg['no_health']:
                w(_json(404, {'detail': 'Not Found'}))
            elif not srv.ready():
                w(_json(503, {'detail': 'loading'}))
            else:
                w(b'HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n')
            return None
        if path == '/metrics':
            if cfg['no_metrics']:
                w(_json(404, {'detail': 'Not Found'}))
            else:
                text = srv.metrics_text()
                w(b'HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4; charset=utf-8\r\n'
                  b'content-length: %d\r\n\r\n' % len(text) + text)
            return None
        if path == '/_admin/config':
            if method == 'POST':
                upd = json.loads(body or b'{}')
                if upd.pop('_reset', False):
                    cfg.clear()
                    cfg.update(DEFAULTS)
                    cfg.update(srv.initial)
                cfg.update(upd)
                if 'not_ready_s' in upd:
                    srv.started = time.monotonic()
                srv.rng = random.Random(cfg['seed'])
                srv.grant_slots()      # more slots now: serve the queue
            w(_json(200, cfg))
            return None
        if path == '/_admin/stats':
            w(_json(200, {'requests': st.requests, 'completed': st.completed, 'first_t': st.first_t,
                          'last_t': st.last_t, 'connections': st.connections, 'http_requests': st.http_requests,
                          'generation_tokens': st.generation_tokens, 'prompt_tokens': st.prompt_tokens,
                          'running': st.running, 'waiting': srv.waiting(), 'max_running': st.max_running,
                          'sessions': dict(st.sessions), 'session_log': list(st.session_log),
                          'tool_call_requests': st.tool_call_requests, 'structured_requests': st.structured_requests,
                          'invalid_outputs': st.invalid_outputs}))
            return None
        if path.startswith('/v1/') and cfg['api_key']:
            if headers.get('authorization') != 'Bearer %s' % cfg['api_key']:
                w(_json(401, {'error': 'Unauthorized'}))
                return None
        if not srv.ready() and path.startswith('/v1/'):
            w(_json(503, {'detail': 'loading'}))
            return None
        if path == '/v1/models' and method == 'GET':
            w(_json(200, {'object': 'list', 'data': [{
                'id': cfg['model'], 'object': 'model', 'created': int(time.time()), 'owned_by': 'vllm',
                'root': '/models/' + cfg['model'], 'parent': None, 'max_model_len': cfg['max_model_len'],
                'permission': []}]}))
            return None
        if path == '/tokenize' and method == 'POST':
            if cfg['no_tokenize']:
                w(_json(404, {'detail': 'Not Found'}))
                return None
            req = json.loads(body)
            if 'messages' in req:
                n = count_tokens(' '.join(m.get('content', '') for m in req['messages']),
                                 cfg['long_word_chars']) + CHAT_TEMPLATE_TOKENS
            else:
                n = count_tokens(req.get('prompt', ''), cfg['long_word_chars'])
            w(_json(200, {'count': n, 'max_model_len': cfg['max_model_len'], 'tokens': list(range(n))}))
            return None
        if path in ('/v1/completions', '/v1/chat/completions') and method == 'POST':
            return self.completion(path.endswith('chat/completions'), body, headers)
        w(_json(404, {'detail': 'Not Found'}))
        return None

    def completion(self, chat, body, headers=None):
        srv = self.srv
        cfg = srv.cfg
        st = srv.stats
        w = self.transport.write
        t0 = time.monotonic()
        st.requests += 1
        if st.first_t is None:
            st.first_t = time.time()
        st.last_t = time.time()
        if cfg['die_after_requests'] and st.requests >= int(cfg['die_after_requests']):
            srv.die()
            return None
        try:
            req = json.loads(body)
        except ValueError:
            w(_error(400, 'invalid JSON body', 'BadRequestError'))
            return None
        if req.get('model') != cfg['model']:
            w(_error(404, 'The model `%s` does not exist.' % req.get('model'), 'NotFoundError'))
            return None
        header_key = (headers or {}).get('x-session-id')
        user_key = req.get('user')
        st.session_log.append([header_key, user_key])
        if header_key or user_key:
            st.sessions[header_key or user_key] += 1
        if chat:
            msgs = req.get('messages') or []
            prompt_tokens = count_tokens(' '.join(str(m.get('content') or '') for m in msgs),
                                         cfg['long_word_chars']) + CHAT_TEMPLATE_TOKENS
        else:
            prompt_tokens = count_tokens(str(req.get('prompt', '')), cfg['long_word_chars'])
        max_tokens = int(req.get('max_tokens') or req.get('max_completion_tokens') or 16)
        if prompt_tokens + max_tokens > cfg['max_model_len']:
            w(_error(400, "This model's maximum context length is %d tokens. However, you requested %d tokens "
                          "(%d in the messages, %d in the completion)." % (cfg['max_model_len'], prompt_tokens +
                                                                           max_tokens, prompt_tokens, max_tokens),
                     'BadRequestError'))
            return None
        if cfg['prefix_cache']:
            text = ' '.join(str(m.get('content') or '') for m in req.get('messages') or []) if chat \
                else str(req.get('prompt', ''))
            st.prefix_queries += prompt_tokens
            st.prefix_hits += min(prompt_tokens, _prefix_hits(st.prefix_blocks, text))
        refusal = None if cfg['tool_parser'] or not chat else _no_tool_parser(req)
        if refusal:
            w(_error(400, refusal, 'BadRequestError'))
            return None
        rng = srv.rng
        if cfg['fail_rate'] and rng.random() < cfg['fail_rate']:
            w(_error(500, 'Internal server error (injected fault)', 'InternalServerError'))
            return None
        forced = req.get('ignore_eos') or (req.get('min_tokens') or 0) >= max_tokens
        n = max_tokens if (forced and cfg['honor_ignore_eos']) else max(1, max_tokens // 2)
        answer = self._structured_answer(req, chat, max_tokens)
        if answer is not None:
            n = answer['n']
        stall = bool(cfg['stall_rate']) and rng.random() < cfg['stall_rate']
        # deterministic stalls use no random draw, so seeded fault sequences stay as they were
        every = int(cfg['stall_every'] or 0)
        stall = stall or (every > 0 and st.requests % every == 0)
        malformed = bool(cfg['malformed_rate']) and rng.random() < cfg['malformed_rate']
        stream = bool(req.get('stream'))
        opts = req.get('stream_options') or {}
        usage = bool(opts.get('include_usage')) and not cfg['no_usage']
        usage_last = usage and bool(cfg['usage_on_last_chunk'])
        cont = (usage and not usage_last and bool(opts.get('continuous_usage_stats'))
                and not cfg['no_continuous_usage'])
        ctx = _Req(srv.next_id(), chat, prompt_tokens, n, max_tokens, stream, usage, cont, usage_last,
                   float(cfg['stall_s']) if stall else 0.0, malformed, t0, answer)
        if srv.try_take_slot():
            return self.start(ctx)
        return self.queued(ctx)

    def _structured_answer(self, req, chat, max_tokens):
        """The tool-call or JSON answer a request asks for (see the module docstring), or None."""
        srv = self.srv
        st = srv.stats
        name, named = _tool_name(req) if chat else (None, False)
        fmt = req.get('response_format') or {}
        if name is None and fmt.get('type') not in ('json_schema', 'json_object'):
            return None
        rate = float(srv.cfg['invalid_output_rate'] or 0.0)
        # drawn only for these requests, so the seeded fault sequences of plain ones stay as they were
        invalid = rate > 0 and srv.rng.random() < rate
        st.invalid_outputs += int(invalid)
        if name is not None:
            st.tool_call_requests += 1
            tool = [t['function'] for t in req['tools'] if isinstance(t, dict) and
                    (t.get('function') or {}).get('name') == name]
            params = (tool[0].get('parameters') if tool else None) or {'type': 'object'}
            args = '{"' if invalid else json.dumps(minimal_instance(params), separators=(',', ':'))
            pieces = _split(args)[:max(0, max_tokens - 1)]
            cut = 1 + len(_split(args)) > max_tokens
            return {'kind': 'tool', 'name': name, 'call_id': 'chatcmpl-tool-' + srv.next_id(), 'pieces': pieces,
                    'n': 1 + len(pieces), 'finish': 'length' if cut else ('stop' if named else 'tool_calls')}
        st.structured_requests += 1
        schema = (fmt.get('json_schema') or {}).get('schema') or {'type': 'object'}
        if invalid:
            doc = [] if schema.get('type', 'object') == 'object' else {'invalid': True}
        else:
            doc = minimal_instance(schema)
        full = _split(json.dumps(doc, separators=(',', ':')))
        pieces = full[:max_tokens]
        return {'kind': 'json', 'pieces': pieces, 'n': len(pieces),
                'finish': 'length' if len(full) > max_tokens else 'stop'}

    async def queued(self, ctx):
        """Wait in the FIFO queue for a slot (before TTFT starts), then serve the request."""
        try:
            await self.srv.wait_slot()
        except asyncio.CancelledError:
            # the client left while queued: aborted before any prefill, so no tokens to count
            self.srv.stats.success['abort'] += 1
            raise
        pending = self.start(ctx)
        if pending is not None:
            await pending

    def start(self, ctx):
        """Serve a request that holds a slot: answer now, or return the coroutine that will."""
        cfg = self.srv.cfg
        if cfg['ttft_s'] or cfg['token_delay_s'] or ctx.stall:
            return self.slow(ctx)
        try:
            if ctx.stream:
                self.transport.write(SSE_HEAD + b''.join(_chunk(e) for e in self.events(ctx)) + b'0\r\n\r\n')
            else:
                self.transport.write(self.full(ctx))
            self.account(ctx, ctx.n, time.monotonic() - ctx.t0, [], _reason(ctx))
        finally:
            self.srv.release_slot()
        return None

    def account(self, ctx, generated, e2e, gaps, reason):
        st = self.srv.stats
        st.prompt_tokens += ctx.prompt_tokens
        st.generation_tokens += generated + int(self.srv.cfg['metrics_extra_tokens_per_request'])
        if reason:
            st.success[reason] += 1
        if reason in ('stop', 'length'):
            st.completed += 1
            st.ttft.observe(e2e if not gaps else e2e - sum(gaps))
            for g in gaps:
                st.itl.observe(g)
            st.e2e.observe(e2e)

    async def slow(self, ctx):
        srv = self.srv
        cfg = srv.cfg
        sent = 0
        gaps = []
        try:
            if not ctx.stream:
                # nothing is visible before the answer: one sleep for the whole service time (and
                # stall) keeps the known capacity exact instead of adding n sleeps' overhead
                await asyncio.sleep(srv.service_time(ctx.n) + ctx.stall)
                self.transport.write(self.full(ctx))
                self.account(ctx, ctx.n, time.monotonic() - ctx.t0, [], _reason(ctx))
                return
            # Tokens are due at fixed times from the start of service (not after each sleep), so a
            # sleep that overshoots does not push the later ones back and the capacity stays
            # slots / service_time on a busy machine too.
            due = time.monotonic() + cfg['ttft_s']
            await _sleep_until(due)
            self.transport.write(SSE_HEAD)
            last = None
            stalled = False
            for ev, tokens_after in self.events(ctx, with_counts=True):
                if tokens_after > sent:
                    if ctx.stall and not stalled and sent >= cfg['stall_after_tokens']:
                        # one silent pause: not even a keep-alive, so a client's idle timeout sees it
                        stalled = True
                        due += ctx.stall
                    if sent and cfg['token_delay_s']:
                        due += cfg['token_delay_s'] * (tokens_after - sent)
                    await _sleep_until(due)
                    now = time.monotonic()
                    if last is not None:
                        gaps.append(now - last)
                    last = now
                    sent = tokens_after
                self.transport.write(_chunk(ev))
            self.transport.write(b'0\r\n\r\n')
            self.account(ctx, ctx.n, time.monotonic() - ctx.t0, gaps, _reason(ctx))
        except asyncio.CancelledError:
            # client went away: vLLM aborts the request; the tokens made so far were generated
            self.account(ctx, sent, time.monotonic() - ctx.t0, [], 'abort')
            raise
        finally:
            srv.release_slot()

    def full(self, ctx):
        n = ctx.n
        prompt_tokens = ctx.prompt_tokens
        text = ''.join(' ' + WORDS[i % len(WORDS)] for i in range(n))
        fin = 'length'
        ans = ctx.answer
        if ans is not None:
            fin = ans['finish']
            text = ''.join(ans['pieces']) if ans['kind'] == 'json' else None
        obj = {'id': ('chatcmpl-' if ctx.chat else 'cmpl-') + ctx.rid,
               'object': 'chat.completion' if ctx.chat else 'text_completion',
               'created': int(time.time()), 'model': self.srv.cfg['model']}
        if ctx.chat:
            calls = []
            if ans is not None and ans['kind'] == 'tool':
                calls = [{'id': ans['call_id'], 'type': 'function',
                          'function': {'name': ans['name'], 'arguments': ''.join(ans['pieces'])}}]
            obj['choices'] = [{'index': 0, 'message': {'role': 'assistant', 'content': text, 'tool_calls': calls},
                               'logprobs': None, 'finish_reason': fin, 'stop_reason': None}]
        else:
            obj['choices'] = [{'index': 0, 'text': text, 'logprobs': None, 'finish_reason': fin, 'stop_reason': None,
                               'prompt_logprobs': None}]
        if not self.srv.cfg['no_usage']:
            obj['usage'] = {'prompt_tokens': prompt_tokens, 'total_tokens': prompt_tokens + n, 'completion_tokens': n,
                            'prompt_tokens_details': None}
        return _json(200, obj)

    @staticmethod
    def answer_delta(ans, chat, done, step):
        """The delta of tokens done .. done + step of a tool-call or JSON answer."""
        if ans['kind'] == 'json':
            text = ''.join(ans['pieces'][done:done + step])
            return {'content': text} if chat else text
        calls = []
        for t in range(done, done + step):
            if t == 0:
                calls.append({'id': ans['call_id'], 'type': 'function', 'index': 0,
                              'function': {'name': ans['name'], 'arguments': ''}})
            else:
                calls.append({'index': 0, 'function': {'arguments': ans['pieces'][t - 1]}})
        return {'tool_calls': calls}

    def events(self, ctx, with_counts=False):
        """SSE event bytes (b'data: ...\\n\\n') shaped like vLLM's, optionally with tokens sent after each."""
        rid, chat, pt, n, usage, cont, malformed = (ctx.rid, ctx.chat, ctx.prompt_tokens, ctx.n, ctx.usage,
                                                    ctx.cont, ctx.malformed)
        model = self.srv.cfg['model']
        k = max(1, int(self.srv.cfg['tokens_per_chunk']))
        created = int(time.time())
        out = []
        if chat:
            head = ('{"id":"chatcmpl-%s","object":"chat.completion.chunk","created":%d,"model":"%s","choices":'
                    % (rid, created, model))
            first = head + '[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]'
            if cont:
                first += ',"usage":{"prompt_tokens":%d,"total_tokens":%d,"completion_tokens":0}' % (pt, pt)
            out.append((first + '}', 0))
        else:
            head = '{"id":"cmpl-%s","object":"text_completion","created":%d,"model":"%s","choices":' % (rid, created, model)
        done = 0
        i = 0
        ans = ctx.answer
        while done < n:
            step = min(k, n - done)
            if ans is not None:
                delta = self.answer_delta(ans, chat, done, step)
            else:
                text = ''.join(' ' + WORDS[(done + j) % len(WORDS)] for j in range(step))
                delta = {'content': text} if chat else text
            done += step
            fin = json.dumps((ans['finish'] if ans is not None else 'length') if done == n else None)
            if chat:
                ch = '[{"index":0,"delta":%s,"logprobs":null,"finish_reason":%s}]' % (
                    json.dumps(delta, separators=(',', ':')), fin)
            else:
                ch = '[{"index":0,"text":%s,"logprobs":null,"finish_reason":%s,"stop_reason":null}]' % (
                    json.dumps(delta), fin)
            ev = head + ch
            if cont or (ctx.usage_last and done == n):
                ev += ',"usage":{"prompt_tokens":%d,"total_tokens":%d,"completion_tokens":%d}' % (pt, pt + done, done)
            out.append((ev + '}', done))
            i += 1
            if malformed and i == 2:
                out.append(('{"id":"broken", "choices": [', done))
        if usage and not ctx.usage_last:
            out.append((head + '[],"usage":{"prompt_tokens":%d,"total_tokens":%d,"completion_tokens":%d}}'
                        % (pt, pt + n, n), n))
        res = [(b'data: ' + e.encode('utf-8') + b'\n\n', c) for e, c in out]
        if malformed:
            res.insert(1, (b': keep-alive comment\n\n', 0))
        res.append((b'data: [DONE]\n\n', n))
        if with_counts:
            return res
        return [e for e, _c in res]


def _reason(ctx):
    # the engine's reason, as vLLM counts it in vllm:request_success_total (not the API's tool_calls)
    if ctx.answer is not None:
        return 'length' if ctx.answer['finish'] == 'length' else 'stop'
    return 'length' if ctx.n == ctx.max_tokens else 'stop'


# -- test helpers -----------------------------------------------------------------------------
def http_json(url, method='GET', path='/', obj=None, timeout=10, context=None):
    """Tiny http.client call for tests and benchmarks; returns (status, parsed JSON or text)."""
    scheme, rest = url.split('://', 1)
    hostport = rest.split('/', 1)[0]
    host, _s, port = hostport.rpartition(':')
    if scheme == 'https':
        conn = http.client.HTTPSConnection(host, int(port), timeout=timeout,
                                           context=context or ssl._create_unverified_context())
    else:
        conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        body = json.dumps(obj).encode('utf-8') if obj is not None else None
        conn.request(method, path, body, {'Content-Type': 'application/json'} if body else {})
        resp = conn.getresponse()
        data = resp.read()
    finally:
        conn.close()
    try:
        return resp.status, json.loads(data)
    except ValueError:
        return resp.status, data.decode('utf-8', 'replace')


@contextlib.contextmanager
def running(**settings):
    """A FakeServer with these settings on a thread of this process, stopped on exit."""
    srv = FakeServer(settings).start_thread()
    try:
        yield srv
    finally:
        srv.stop()


class FakeServerProcess(object):
    """Run the fake server in a child process (own CPU, own GIL); ``configure`` changes settings live."""

    def __init__(self, settings=None, tls_cert=None, tls_key=None, extra_args=None):
        self.settings = settings or {}
        self.tls_cert = tls_cert
        self.tls_key = tls_key
        self.extra_args = extra_args or []
        self.proc = None
        self.port = None
        self._portfile = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        import tempfile
        fd, self._portfile = tempfile.mkstemp(prefix='fakevllm-port-')
        os.close(fd)
        os.unlink(self._portfile)
        cmd = [sys.executable, os.path.abspath(__file__), '--port', '0', '--port-file', self._portfile,
               '--config', json.dumps(self.settings)] + self.extra_args
        if self.tls_cert:
            cmd += ['--tls-cert', self.tls_cert, '--tls-key', self.tls_key]
        self.proc = subprocess.Popen(cmd)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if os.path.exists(self._portfile):
                with open(self._portfile) as f:
                    txt = f.read().strip()
                if txt:
                    self.port = int(txt)
                    return self
            if self.proc.poll() is not None:
                raise RuntimeError('fake server exited with %s' % self.proc.returncode)
            time.sleep(0.02)
        self.stop()
        raise RuntimeError('fake server did not start in 20 s')

    @property
    def url(self):
        return '%s://127.0.0.1:%d' % ('https' if self.tls_cert else 'http', self.port)

    def configure(self, reset=True, **settings):
        """Change settings live; ``reset`` first restores the settings the server was started with."""
        if reset:
            settings['_reset'] = True
        status, cfg = http_json(self.url, 'POST', '/_admin/config', settings)
        if status != 200:
            raise RuntimeError('configure failed: %s %s' % (status, cfg))
        return cfg

    def stats(self):
        return http_json(self.url, 'GET', '/_admin/stats')[1]

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self._portfile and os.path.exists(self._portfile):
            os.unlink(self._portfile)


def main(argv=None):
    p = argparse.ArgumentParser(description='fake vLLM OpenAI-compatible server')
    p.add_argument('--host', default='127.0.0.1')
    p.add_argument('--port', type=int, default=8000)
    p.add_argument('--port-file', help='write the bound port here (use with --port 0)')
    p.add_argument('--model', help='served model name')
    p.add_argument('--max-model-len', type=int)
    p.add_argument('--api-key')
    p.add_argument('--ttft-ms', type=float)
    p.add_argument('--token-delay-ms', type=float)
    p.add_argument('--tokens-per-chunk', type=int)
    p.add_argument('--fail-rate', type=float)
    p.add_argument('--stall-rate', type=float)
    p.add_argument('--malformed-rate', type=float)
    p.add_argument('--no-usage', action='store_true', default=None)
    p.add_argument('--slots', type=int, help='requests served at once, the others queue FIFO (0: unlimited)')
    p.add_argument('--stall-every', type=int, help='every Nth completion request pauses --stall-s seconds')
    p.add_argument('--stall-s', type=float, help='length of a stall in seconds (default 3600)')
    p.add_argument('--tls-cert')
    p.add_argument('--tls-key')
    p.add_argument('--config', default='{}', help='JSON object of settings (see DEFAULTS)')
    a = p.parse_args(argv)
    settings = json.loads(a.config)
    for key, val in (('model', a.model), ('max_model_len', a.max_model_len), ('api_key', a.api_key),
                     ('tokens_per_chunk', a.tokens_per_chunk), ('fail_rate', a.fail_rate),
                     ('stall_rate', a.stall_rate), ('malformed_rate', a.malformed_rate), ('no_usage', a.no_usage),
                     ('slots', a.slots), ('stall_every', a.stall_every), ('stall_s', a.stall_s)):
        if val is not None:
            settings[key] = val
    if a.ttft_ms is not None:
        settings['ttft_s'] = a.ttft_ms / 1000.0
    if a.token_delay_ms is not None:
        settings['token_delay_s'] = a.token_delay_ms / 1000.0
    srv = FakeServer(settings, a.host, a.port, a.tls_cert, a.tls_key)

    async def run():
        task = asyncio.ensure_future(srv.serve())
        while srv.server is None or srv.port == 0:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        if a.port_file:
            tmp = a.port_file + '.tmp'
            with open(tmp, 'w') as f:
                f.write(str(srv.port))
            os.rename(tmp, a.port_file)
        sys.stderr.write('fake vLLM server on %s (model %s)\n' % (srv.url, srv.cfg['model']))
        await task

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass


if __name__ == '__main__':
    main()
