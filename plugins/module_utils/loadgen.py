# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Load engine of the throughput gate (asyncio, standard library only).

Flow of ``run_gate``: readiness (``/health``, ``/v1/models``, model and ``max_model_len``) ->
``/metrics`` probe -> prompt calibration (``/tokenize`` or ``usage.prompt_tokens``) -> warm-up ->
``/metrics`` before -> measured load (closed loop at fixed concurrency or open loop at a constant
or Poisson rate) -> ``/metrics`` after -> statistics, cross-check, client self-check, SLOs.

Tokens are counted from the server's ``usage`` (``include_usage`` + ``continuous_usage_stats``);
SSE chunks are only counted when a server sends no usage at all, and that fallback is reported.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import asyncio
import json
import os
import random
import re
import time

from ansible_collections.inferops.vllm.plugins.module_utils.httpclient import (
    Endpoint, HttpError, Pool, fetch,
)
from ansible_collections.inferops.vllm.plugins.module_utils import loadstats
from ansible_collections.inferops.vllm.plugins.module_utils.promparse import (
    PromParseError, Snapshot, vllm_delta,
)

_perf = time.perf_counter

# Common English words; most tokenizers encode each (with its leading space) as one token.
WORDS = (
    'the of and to in is that for it as was with be by on not he this are or his from at which but have an '
    'had they you were their one all we can her has there been if more when will would who so no she other '
    'its may these about than into only some could them what out time new up first two any very most our '
    'then over also made after many such like did years way make just where well down must should back '
    'each those people because good much through work water day part long last how get between own world '
    'life still same great year old place see take number use three house small found under know right end '
    'again while home man point land big few line set show hand high being name help every near off light '
    'city tree state story open run keep game love page book side told paper music river car road sea field'
).split()

DEFAULTS = {
    'url': 'http://127.0.0.1:8000',
    'model': None,
    'api': 'completions',
    'stream': True,
    'mode': 'closed',
    'concurrency': None,
    'rate': None,
    'arrival': 'poisson',
    'duration_s': None,
    'num_requests': None,
    'warmup_requests': 8,
    'prompt_tokens': 128,
    'output_tokens': 128,
    'request_timeout_s': 60.0,
    'ready_timeout_s': 120.0,
    'api_key': None,
    'headers': None,
    'ca_path': None,
    'validate_certs': True,
    'metrics_url': None,
    'cross_check': True,
    'on_inconclusive': 'fail',
    'client_max_cpu': 0.9,
    'client_max_lag_ms': 20.0,
    'host_cost_per_hour': None,
    'seed': None,
    'min_output_tokens_per_s': None,
    'min_total_tokens_per_s': None,
    'min_requests_per_s': None,
    'max_ttft_p95_ms': None,
    'max_itl_p95_ms': None,
    'max_tpot_p95_ms': None,
    'max_e2e_p95_ms': None,
    'max_error_rate': 0.0,
    'max_token_mismatch': 0.0,
    'min_goodput_ratio': None,
}
DEFAULT_DURATION_S = 60.0
DEFAULT_CLOSED_CONCURRENCY = 16
DEFAULT_OPEN_CAP = 1024
BREAKER_FAILURES = 20

# Failures after which the server may have generated tokens the client never saw.
_MAY_HAVE_GENERATED = ('timeout', 'disconnect', 'stream_error', 'bad_response', 'output_length', 'client_error')

_CT_RE = re.compile(br'"completion_tokens"\s*:\s*(\d+)')


class GateError(Exception):
    """Readiness or configuration problem: the message says what is wrong and what to do."""

    def __init__(self, message, result=None):
        super(GateError, self).__init__(message)
        self.message = message
        self.result = result or {}


def _error_text(body_text):
    """The human part of an OpenAI/vLLM error body."""
    try:
        obj = json.loads(body_text)
    except ValueError:
        return body_text.strip()[:300]
    if isinstance(obj, dict):
        err = obj.get('error', obj)
        if isinstance(err, dict):
            return str(err.get('message') or err.get('detail') or err)[:300]
        if err is not None and not isinstance(err, dict):
            return str(err)[:300]
        if 'detail' in obj:
            return str(obj['detail'])[:300]
        if 'message' in obj:
            return str(obj['message'])[:300]
    return body_text.strip()[:300]


def _data_of(event):
    """Payload of one SSE event block (lines joined), or None for comments/empty events."""
    data = []
    for line in event.split(b'\n'):
        if line.startswith(b'data:'):
            v = line[5:]
            if v[:1] == b' ':
                v = v[1:]
            data.append(v)
    if not data:
        return None
    return b'\n'.join(data)


def _has_content(choices):
    for c in choices:
        if not isinstance(c, dict):
            continue
        if c.get('text'):
            return True
        delta = c.get('delta')
        if isinstance(delta, dict) and (delta.get('content') or delta.get('reasoning_content')
                                        or delta.get('reasoning') or delta.get('tool_calls')):
            return True
    return False


class SSEStream(object):
    """Sink for one streamed response: splits SSE events, times tokens, reads usage.

    Fast path: once the stream has shown continuous usage, an event is a JSON object whose
    ``completion_tokens`` is read with a regex (a quote inside a JSON string is always escaped,
    so the pattern cannot match inside text); the first event, events without usage, error
    events and the last event are fully decoded.
    """

    __slots__ = ('buf', 'events', 'ct', 'first_t', 'last_t', 'continuous', 'chunks', 'first_chunk_t',
                 'last_chunk_t', 'final_ct', 'final_pt', 'pt', 'last_payload', 'done', 'malformed', 'error')

    def __init__(self):
        self.buf = b''
        self.events = 0
        self.ct = 0
        self.first_t = None
        self.last_t = None
        self.continuous = False
        self.chunks = 0
        self.first_chunk_t = None
        self.last_chunk_t = None
        self.final_ct = None
        self.final_pt = None
        self.pt = None
        self.last_payload = None
        self.done = False
        self.malformed = 0
        self.error = None

    def feed(self, data, t):
        if self.buf:
            data = self.buf + data
        if b'\r' in data:
            data = data.replace(b'\r\n', b'\n')
        if b'\n\n' not in data:
            self.buf = data
            return
        parts = data.split(b'\n\n')
        self.buf = parts.pop()
        for ev in parts:
            if ev[:6] == b'data: ' and ev.find(b'\n', 6) < 0:
                p = ev[6:]
            else:
                p = _data_of(ev)
                if p is None:
                    continue
            if p == b'[DONE]':
                self.done = True
                continue
            self.events += 1
            if self.continuous and p[:1] == b'{' and p[-1:] == b'}':
                m = _CT_RE.search(p)
                if m is not None and b'"error"' not in p:
                    ct = int(m.group(1))
                    if ct > self.ct:
                        if self.first_t is None:
                            self.first_t = t
                        self.last_t = t
                        self.ct = ct
                    self.last_payload = p
                    continue
            self._slow(p, t)

    def _slow(self, p, t):
        try:
            obj = json.loads(p)
        except ValueError:
            self.malformed += 1
            return
        if not isinstance(obj, dict):
            self.malformed += 1
            return
        err = obj.get('error')
        if err:
            self.error = _error_text(json.dumps(obj))
            return
        choices = obj.get('choices')
        usage = obj.get('usage')
        ct = None
        if isinstance(usage, dict) and isinstance(usage.get('completion_tokens'), int):
            ct = usage['completion_tokens']
            if isinstance(usage.get('prompt_tokens'), int):
                self.pt = usage['prompt_tokens']
        if not isinstance(choices, list):
            if ct is None:
                self.malformed += 1
            return
        if ct is not None:
            if choices:
                self.continuous = True
                if ct > self.ct:
                    if self.first_t is None:
                        self.first_t = t
                    self.last_t = t
                    self.ct = ct
                self.last_payload = p
            else:
                self.final_ct = ct
                self.final_pt = self.pt
                self.last_payload = None
        if choices and _has_content(choices):
            self.chunks += 1
            if self.first_chunk_t is None:
                self.first_chunk_t = t
            self.last_chunk_t = t

    def finish(self):
        """Return (tokens, source, first_t, last_t, prompt_tokens); source usage|chunks."""
        if self.final_ct is None and self.last_payload is not None:
            try:
                obj = json.loads(self.last_payload)
                usage = obj.get('usage') if isinstance(obj, dict) else None
                if isinstance(usage, dict) and isinstance(usage.get('completion_tokens'), int):
                    self.final_ct = usage['completion_tokens']
                    if isinstance(usage.get('prompt_tokens'), int):
                        self.final_pt = usage['prompt_tokens']
            except ValueError:
                self.malformed += 1
        if self.first_t is not None:
            first, last = self.first_t, self.last_t
        else:
            first, last = self.first_chunk_t, self.last_chunk_t
        if self.final_ct is not None:
            return self.final_ct, 'usage', first, last, self.final_pt if self.final_pt is not None else self.pt
        if self.continuous:
            return self.ct, 'usage', first, last, self.pt
        return self.chunks, 'chunks', first, last, self.pt

    def partial_tokens(self):
        return self.ct if self.continuous else self.chunks


def _status_error(status, text, ctx):
    """(kind, message) for a non-200 answer to a completion request."""
    detail = _error_text(text)
    if status in (401, 403):
        if ctx.get('has_auth'):
            return 'http_%d' % status, ('the server rejected the API key (HTTP %d): set api_key to the key the vLLM '
                                        'server was started with (--api-key / VLLM_API_KEY)' % status)
        return 'http_%d' % status, ('the server requires an API key (HTTP %d): set api_key (and keep it in a vault)'
                                    % status)
    if status == 404:
        served = ctx.get('served') or []
        return 'http_404', ('HTTP 404 (%s): model %r is not served here; served models: %s: set model to one of them'
                            % (detail, ctx.get('model'), ', '.join(served) or 'unknown'))
    if status == 400:
        return 'http_400', ('HTTP 400 (%s): the server refused the request; check prompt_tokens + output_tokens '
                            'against max_model_len and that the server is vLLM (ignore_eos, min_tokens)' % detail)
    if status == 429:
        return 'http_429', 'HTTP 429 (%s): the server or a proxy rate-limits this client' % detail
    return 'http_%d' % status, "HTTP %d (%s): see the server's log" % (status, detail or 'no body')


class Recorder(object):
    """Per-phase counters and samples (cheap appends on the hot path)."""

    def __init__(self, output_tokens):
        self.asked = output_tokens
        self.rows = []            # completed OK: (t_send, ttft, itl, e2e, tpot, tokens, prompt_tokens)
        self.errors = {}
        self.examples = {}
        self.failed = 0
        self.completed_http = 0   # full 200 responses, OK or not (server counts them as finished)
        self.http_out_tokens = 0
        self.http_prompt_tokens = 0
        self.partial_tokens = 0   # tokens seen in failed requests
        self.unseen_tokens_max = 0  # tokens a failed request may have generated unseen
        self.maybe_generated = 0  # failed requests the server may have finished
        self.sources = {'usage': 0, 'chunks': 0}
        self.malformed_events = 0
        self.missing_done = 0
        self.length_mismatch = 0
        self.lateness = []
        self.first_send = None
        self.last_end = None
        self.prompt_max = 0
        self.prompt_unknown = 0   # complete responses without usage.prompt_tokens
        self.consecutive_failures = 0

    def fail(self, kind, message, partial=0, may_generate=None):
        self.failed += 1
        self.consecutive_failures += 1
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if kind not in self.examples:
            self.examples[kind] = message
        if may_generate is None:
            may_generate = kind in _MAY_HAVE_GENERATED or kind.startswith('http_5')
        self.partial_tokens += partial or 0
        if may_generate:
            self.maybe_generated += 1
            self.unseen_tokens_max += max(0, self.asked - (partial or 0))


class Gate(object):
    """One gate run against one OpenAI-compatible endpoint."""

    def __init__(self, opts):
        o = dict(DEFAULTS)
        o.update(dict((k, v) for k, v in opts.items() if v is not None or k not in DEFAULTS))
        self.o = o
        if o['concurrency'] is None:
            o['concurrency'] = DEFAULT_CLOSED_CONCURRENCY if o['mode'] == 'closed' else DEFAULT_OPEN_CAP
        if o['duration_s'] is None and o['num_requests'] is None:
            o['duration_s'] = DEFAULT_DURATION_S
        self.seed = o['seed'] if o['seed'] is not None else int.from_bytes(os.urandom(4), 'big')
        self.rng = random.Random(self.seed)
        timeout = float(o['request_timeout_s'])
        try:
            self.endpoint = Endpoint(o['url'], api_key=o['api_key'], headers=o['headers'],
                                     validate_certs=o['validate_certs'], ca_path=o['ca_path'],
                                     connect_timeout=min(10.0, timeout))
            murl = o['metrics_url'] or (self.endpoint.url + '/metrics')
            self.metrics_endpoint = Endpoint(murl.rsplit('/metrics', 1)[0] if murl.endswith('/metrics') else murl,
                                             api_key=o['api_key'], headers=o['headers'],
                                             validate_certs=o['validate_certs'], ca_path=o['ca_path'],
                                             connect_timeout=min(10.0, timeout))
            self.metrics_path = '/metrics' if murl.endswith('/metrics') else ''
        except HttpError as exc:
            raise GateError(exc.message)
        self.metrics_url = murl
        self.timeout = timeout
        self.warnings = []
        self.pool = None
        self.mpool = None
        self.model = o['model']
        self.served = []
        self.words = list(WORDS)
        self.n_words = max(1, int(o['prompt_tokens']))
        self.has_tokenize = None
        self._prefix = None
        self._body_head = None
        self._body_tail = None

    # -- helpers ---------------------------------------------------------------------------
    def _ctx(self):
        return {'has_auth': self.endpoint.has_auth, 'served': self.served, 'model': self.model}

    def _path(self):
        return '/v1/chat/completions' if self.o['api'] == 'chat' else '/v1/completions'

    def _prepare_bodies(self):
        o = self.o
        fixed = {'model': self.model, 'max_tokens': int(o['output_tokens']), 'min_tokens': int(o['output_tokens']),
                 'ignore_eos': True, 'stream': bool(o['stream'])}
        if o['stream']:
            fixed['stream_options'] = {'include_usage': True, 'continuous_usage_stats': True}
        tail = json.dumps(fixed, separators=(',', ':'))[1:]
        if o['api'] == 'chat':
            self._body_head = b'{"messages":[{"role":"user","content":'
            self._body_tail = b'}],' + tail.encode('utf-8')
        else:
            self._body_head = b'{"prompt":'
            self._body_tail = b',' + tail.encode('utf-8')
        accept = 'text/event-stream' if o['stream'] else 'application/json'
        self._prefix = self.endpoint.request_prefix('POST', self._path(), accept=accept)

    def make_prompt(self, n_words=None):
        n = self.n_words if n_words is None else n_words
        return ' '.join(self.rng.choices(self.words, k=n))

    def make_request(self, prompt=None):
        if prompt is None:
            prompt = self.make_prompt()
        body = self._body_head + json.dumps(prompt).encode('utf-8') + self._body_tail
        return self._prefix + str(len(body)).encode('ascii') + b'\r\n\r\n' + body

    # -- readiness -------------------------------------------------------------------------
    async def wait_ready(self):
        o = self.o
        ready_timeout = float(o['ready_timeout_s'])
        start = _perf()
        deadline = start + ready_timeout
        attempts = 0
        last = None
        health = None
        while True:
            attempts += 1
            remaining = max(0.2, deadline - _perf())
            try:
                resp = await fetch(self.pool, 'GET', '/health', timeout=min(remaining, 10.0))
                if resp.status in (200, 404, 405):
                    health = 'ok' if resp.status == 200 else 'absent'
                    resp = await fetch(self.pool, 'GET', '/v1/models', timeout=min(remaining, 10.0))
                    if resp.status == 200:
                        return self._models_ready(resp, health, attempts, _perf() - start)
                    if resp.status in (401, 403):
                        raise GateError(_status_error(resp.status, resp.text(), self._ctx())[1] + ' (GET /v1/models)')
                    last = 'GET /v1/models answered HTTP %d: %s' % (resp.status, _error_text(resp.text()))
                else:
                    last = 'GET /health answered HTTP %d %s (the server is not ready yet)' % (resp.status, resp.reason)
            except HttpError as exc:
                last = exc.message
                if exc.kind in ('tls', 'config', 'dns'):
                    raise GateError(exc.message)
            if _perf() >= deadline:
                raise GateError('%s was not ready within ready_timeout_s=%s (%d attempts): %s'
                                % (self.endpoint.url, o['ready_timeout_s'], attempts, last))
            await asyncio.sleep(min(1.0, max(0.05, deadline - _perf())))

    def _models_ready(self, resp, health, attempts, waited):
        try:
            data = json.loads(resp.body.decode('utf-8'))
            models = [m for m in data.get('data', []) if isinstance(m, dict) and m.get('id')]
        except (ValueError, AttributeError, UnicodeDecodeError):
            raise GateError('GET /v1/models did not return an OpenAI model list: is url the OpenAI-compatible '
                            'API of vLLM? got %r' % resp.text(200))
        self.served = [m['id'] for m in models]
        if not models:
            raise GateError('GET /v1/models lists no model: the server has not loaded one; check its logs')
        if self.model is None:
            if len(models) != 1:
                raise GateError('several models are served (%s): set model to one of them' % ', '.join(self.served))
            self.model = models[0]['id']
        chosen = [m for m in models if m['id'] == self.model]
        if not chosen:
            raise GateError('model %r is not served at %s; served models: %s: set model to one of them'
                            % (self.model, self.endpoint.url, ', '.join(self.served)))
        mml = chosen[0].get('max_model_len')
        need = int(self.o['prompt_tokens']) + int(self.o['output_tokens'])
        if isinstance(mml, int) and need > mml:
            raise GateError('prompt_tokens (%s) + output_tokens (%s) = %d exceeds max_model_len %d of model %r: '
                            'lower prompt_tokens/output_tokens or serve the model with a larger --max-model-len'
                            % (self.o['prompt_tokens'], self.o['output_tokens'], need, mml, self.model))
        if not isinstance(mml, int):
            self.warnings.append('/v1/models does not report max_model_len; prompt + output length not checked')
        return {'health': health, 'attempts': attempts, 'waited_s': round(waited, 3), 'served_models': self.served,
                'model': self.model, 'max_model_len': mml if isinstance(mml, int) else None}

    # -- /metrics --------------------------------------------------------------------------
    async def scrape(self):
        resp = await fetch(self.mpool, 'GET', self.metrics_path, timeout=min(self.timeout, 10.0))
        if resp.status != 200:
            raise HttpError('GET %s answered HTTP %d' % (self.metrics_url, resp.status), kind='metrics')
        try:
            return Snapshot(resp.body.decode('utf-8', 'replace'), _perf())
        except PromParseError as exc:
            raise HttpError('%s is not Prometheus text: %s' % (self.metrics_url, exc), kind='metrics')

    async def probe_metrics(self):
        try:
            snap = await self.scrape()
        except HttpError as exc:
            return {'available': False, 'reason': exc.message}
        if not snap.has('vllm:generation_tokens_total'):
            return {'available': False, 'reason': '%s has no vllm:generation_tokens_total (not a vLLM server, or a '
                                                  'proxy in front of it)' % self.metrics_url}
        return {'available': True, 'models': snap.model_names()}

    # -- calibration -----------------------------------------------------------------------
    async def _tokenize(self, text, raw=False):
        if self.o['api'] == 'chat' and not raw:
            payload = {'model': self.model, 'messages': [{'role': 'user', 'content': text}],
                       'add_generation_prompt': True}
        else:
            payload = {'model': self.model, 'prompt': text}
        resp = await fetch(self.pool, 'POST', '/tokenize', json.dumps(payload).encode('utf-8'), timeout=self.timeout)
        if resp.status != 200:
            raise HttpError('POST /tokenize answered HTTP %d: %s' % (resp.status, _error_text(resp.text())),
                            kind='http_%d' % resp.status)
        obj = json.loads(resp.body.decode('utf-8'))
        if isinstance(obj.get('count'), int):
            return obj['count']
        return len(obj['tokens'])

    async def _usage_count(self, text):
        o = self.o
        payload = {'model': self.model, 'max_tokens': 1, 'stream': False}
        if o['api'] == 'chat':
            payload['messages'] = [{'role': 'user', 'content': text}]
        else:
            payload['prompt'] = text
        resp = await fetch(self.pool, 'POST', self._path(), json.dumps(payload).encode('utf-8'), timeout=self.timeout)
        if resp.status != 200:
            kind, msg = _status_error(resp.status, resp.text(), self._ctx())
            raise GateError('prompt calibration request failed: ' + msg)
        try:
            usage = json.loads(resp.body.decode('utf-8')).get('usage') or {}
            return int(usage['prompt_tokens'])
        except (ValueError, KeyError, TypeError, AttributeError):
            raise GateError('the server returned no usage.prompt_tokens to calibrate prompt length: enable usage '
                            'reporting (vLLM does by default) or use a server with /tokenize')

    async def calibrate(self):
        target = int(self.o['prompt_tokens'])
        info = {'target_tokens': target}
        counter = None
        try:
            await self._tokenize('hello')
            self.has_tokenize = True
            counter = self._tokenize
            info['source'] = 'tokenize'
        except (HttpError, ValueError, KeyError, TypeError, AttributeError):
            self.has_tokenize = False
            counter = self._usage_count
            info['source'] = 'usage.prompt_tokens'
        if self.has_tokenize:
            # Keep the words that are exactly one token after a space.
            base = await self._tokenize('the', raw=True)
            counts = await asyncio.gather(*[self._tokenize('the ' + w, raw=True) for w in WORDS])
            single = [w for w, c in zip(WORDS, counts) if c - base == 1]
            info['single_token_words'] = len(single)
            if len(single) >= 16:
                self.words = single
        # Two points give overhead (template, BOS) and tokens per word.
        n1 = max(2, target // 4)
        n2 = max(n1 + 2, target // 2)
        c1 = await counter(self.make_prompt(n1))
        c2 = await counter(self.make_prompt(n2))
        slope = max(0.05, (c2 - c1) / float(n2 - n1))
        overhead = c1 - slope * n1
        n = max(1, int(round((target - overhead) / slope)))
        c = None
        for _i in range(4):
            c = await counter(self.make_prompt(n))
            if c == target:
                break
            step = int(round((target - c) / slope)) or (1 if target > c else -1)
            if n + step < 1:
                break
            n += step
        self.n_words = n
        info.update({'words': n, 'tokens_per_word': round(slope, 4), 'overhead_tokens': round(overhead, 2),
                     'sample_tokens': c})
        if overhead > target:
            self.warnings.append('prompt_tokens %d is below the fixed prompt overhead (%.0f tokens, e.g. the chat '
                                 'template): prompts will be longer than asked' % (target, overhead))
        return info

    # -- load ------------------------------------------------------------------------------
    async def run_phase(self, rec, concurrency, num_requests, duration_s, mode='closed', rate=None,
                        arrival='poisson', monitor=False):
        phase = _Phase(self, rec, concurrency, num_requests, duration_s, mode, rate, arrival)
        return await phase.run(monitor)


class _Phase(object):
    """One batch of requests (warm-up or measurement) with its scheduler and self-check."""

    def __init__(self, gate, rec, concurrency, num_requests, duration_s, mode, rate, arrival):
        self.g = gate
        self.rec = rec
        self.concurrency = int(concurrency)
        self.num = num_requests
        self.duration = duration_s
        self.mode = mode
        self.rate = rate
        self.arrival = arrival
        self.issued = 0
        self.inflight = 0
        self.max_inflight = 0
        self.area = 0.0
        self.last_change = None
        self.start = None
        self.deadline = None
        self.stop_t = None
        self.stop_area = None
        self.stopped_early = None
        self.lags = []
        self.cap_waits = 0
        self.cap_wait_s = 0.0
        self._slot = None
        self._done = False

    def _may_issue(self):
        if self.stop_t is not None:
            return False
        now = _perf()
        rec = self.rec
        stop = None
        if self.num is not None and self.issued >= self.num:
            stop = 'count'
        elif self.deadline is not None and now >= self.deadline:
            stop = 'duration'
        elif rec.failed >= BREAKER_FAILURES and not rec.rows and rec.completed_http == 0:
            stop = 'breaker'
            self.stopped_early = ('stopped after the first %d requests all failed (%s)'
                                  % (rec.failed, ', '.join('%s: %d' % kv for kv in sorted(rec.errors.items()))))
        elif rec.consecutive_failures >= max(BREAKER_FAILURES, 2 * self.concurrency):
            stop = 'breaker'
            self.stopped_early = ('stopped after %d failures in a row (%s): the server stopped serving during the run'
                                  % (rec.consecutive_failures,
                                     ', '.join('%s: %d' % kv for kv in sorted(rec.errors.items()))))
        if stop is None:
            return True
        self._mark_stop(now)
        return False

    def _mark_stop(self, now):
        if self.stop_t is None:
            self.stop_t = now
            self.stop_area = self.area + self.inflight * (now - self.last_change)

    def _track(self, t, d):
        self.area += self.inflight * (t - self.last_change)
        self.last_change = t
        self.inflight += d
        if self.inflight > self.max_inflight:
            self.max_inflight = self.inflight
        if d < 0 and self._slot is not None and not self._slot.done():
            self._slot.set_result(None)

    async def _one(self, scheduled, counted=False):
        g = self.g
        rec = self.rec
        data = g.make_request()
        sink = SSEStream() if g.o['stream'] else None
        t0 = _perf()
        if not counted:
            self._track(t0, 1)
        if rec.first_send is None:
            rec.first_send = t0
        if scheduled is not None:
            rec.lateness.append(t0 - scheduled)
        try:
            resp = await g.pool.request(data, sink, g.timeout)
            t1 = _perf()
            self._record(resp, sink, t0, t1)
        except HttpError as exc:
            t1 = _perf()
            partial = sink.partial_tokens() if sink is not None else 0
            msg = exc.message
            if exc.kind == 'timeout' and sink is not None:
                msg = ('no complete response within request_timeout_s=%s (%d tokens received): raise '
                       'request_timeout_s, or find out why the server stalls' % (g.o['request_timeout_s'], partial))
            rec.fail(exc.kind, msg, partial)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # pylint: disable=broad-except
            t1 = _perf()
            rec.fail('client_error', 'unexpected client error: %r' % (exc,))
        self._track(t1, -1)
        rec.last_end = t1

    def _record(self, resp, sink, t0, t1):
        g = self.g
        rec = self.rec
        if resp.status != 200:
            kind, msg = _status_error(resp.status, resp.text(), g._ctx())
            rec.fail(kind, msg)
            return
        asked = rec.asked
        if sink is not None:
            if sink.buf.strip():
                sink.feed(b'\n\n', t1)
            tokens, source, first, last, pt = sink.finish()
            rec.malformed_events += sink.malformed
            if sink.error:
                rec.fail('stream_error', "error event in the stream: %s: see the server's log" % sink.error,
                         sink.partial_tokens())
                return
            if not sink.done:
                rec.missing_done += 1
            if source == 'chunks' and tokens == 0:
                if sink.events == 0:
                    rec.fail('bad_response', 'HTTP 200 but no SSE events in the body: is this an OpenAI-compatible '
                                             'streaming endpoint?')
                else:
                    rec.fail('bad_response', 'HTTP 200 but neither usage nor tokens could be read from %d SSE events '
                                             '(%d not valid JSON)' % (sink.events, sink.malformed))
                return
        else:
            try:
                obj = json.loads(resp.body.decode('utf-8'))
                usage = obj.get('usage') or {}
                tokens = int(usage['completion_tokens'])
                pt = usage.get('prompt_tokens')
                source = 'usage'
            except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
                rec.fail('bad_response', 'HTTP 200 without a JSON body carrying usage.completion_tokens: %s'
                         % resp.text(200))
                return
            first = last = None
        rec.completed_http += 1
        rec.http_out_tokens += tokens
        if isinstance(pt, int):
            rec.http_prompt_tokens += pt
            if pt > rec.prompt_max:
                rec.prompt_max = pt
        else:
            rec.prompt_unknown += 1
        rec.sources[source] += 1
        if source == 'usage' and tokens != asked:
            rec.length_mismatch += 1
            rec.fail('output_length', 'usage.completion_tokens %d where %d were asked: the server did not honour '
                     'ignore_eos/min_tokens (use vLLM, or a proxy that passes these fields)' % (tokens, asked),
                     0, may_generate=False)  # its tokens are already in http_out_tokens
            return
        e2e = t1 - t0
        ttft = (first - t0) if first is not None else None
        itl = ((last - first) / (tokens - 1)) if (first is not None and tokens > 1) else None
        tpot = (e2e / tokens) if tokens else None
        rec.rows.append((t0, ttft, itl, e2e, tpot, tokens, pt))
        rec.consecutive_failures = 0

    async def _worker(self):
        while self._may_issue():
            self.issued += 1
            await self._one(None)

    async def _arrivals(self):
        loop = asyncio.get_running_loop()
        tasks = set()
        rng = self.g.rng
        rate = float(self.rate)
        next_t = self.start
        while True:
            if self.deadline is not None and next_t >= self.deadline:
                self._mark_stop(_perf())
                break
            delay = next_t - _perf()
            if delay > 0.0005:
                await asyncio.sleep(delay)
            if not self._may_issue():
                break
            if self.inflight >= self.concurrency:
                w0 = _perf()
                self.cap_waits += 1
                while self.inflight >= self.concurrency:
                    self._slot = loop.create_future()
                    await self._slot
                self._slot = None
                self.cap_wait_s += _perf() - w0
            self.issued += 1
            # counted in flight from now on, so that a burst of arrivals cannot overshoot the cap
            self._track(_perf(), 1)
            task = loop.create_task(self._one(next_t, counted=True))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            next_t += (1.0 / rate) if self.arrival == 'constant' else rng.expovariate(rate)
        if tasks:
            await asyncio.gather(*tasks)

    async def _lag_monitor(self, interval=0.01):
        while not self._done:
            t = _perf()
            await asyncio.sleep(interval)
            self.lags.append(_perf() - t - interval)

    async def run(self, monitor=False):
        loop = asyncio.get_running_loop()
        mon = loop.create_task(self._lag_monitor()) if monitor else None
        cpu0 = time.thread_time()
        pcpu0 = time.process_time()
        self.start = self.last_change = _perf()
        epoch0 = time.time()
        if self.duration is not None:
            self.deadline = self.start + float(self.duration)
        try:
            if self.mode == 'open':
                await self._arrivals()
            else:
                n = self.concurrency if self.num is None else min(self.concurrency, self.num)
                await asyncio.gather(*[self._worker() for _i in range(max(1, n))])
        finally:
            self._done = True
            end = _perf()
            if mon is not None:
                mon.cancel()
                try:
                    await mon
                except asyncio.CancelledError:
                    pass
        self._mark_stop(end)
        return {
            'start': self.start, 'end': end, 'stop': self.stop_t, 'epoch0': epoch0 - self.start,
            'cpu_s': time.thread_time() - cpu0, 'process_cpu_s': time.process_time() - pcpu0,
            'issued': self.issued, 'mean_inflight': (self.stop_area / (self.stop_t - self.start))
            if self.stop_t > self.start else 0.0,
            'max_inflight': self.max_inflight, 'lags': self.lags, 'cap_waits': self.cap_waits,
            'cap_wait_s': self.cap_wait_s, 'stopped_early': self.stopped_early,
        }


def _r(v, digits=3):
    return None if v is None else round(v, digits)


def _cross_check(rec, before, after, model):
    """Compare the client's counts with the server's /metrics deltas."""
    d = vllm_delta(before, after, model)
    out_low = rec.http_out_tokens + rec.partial_tokens
    out_high = out_low + rec.unseen_tokens_max
    req_low = rec.completed_http
    req_high = req_low + rec.maybe_generated
    pt_low = rec.http_prompt_tokens
    pt_high = pt_low + rec.maybe_generated * rec.prompt_max
    checks = {}
    worst = 0.0
    for key, server, low, high in (('output_tokens', d['generation_tokens'], out_low, out_high),
                                   ('requests', d['requests_success'], req_low, req_high),
                                   ('prompt_tokens', d['prompt_tokens'], pt_low, pt_high)):
        entry = {'client': low if low == high else [low, high], 'server': server}
        if key == 'prompt_tokens' and rec.prompt_unknown:
            entry.update({'client': None, 'difference': None, 'relative': None,
                          'note': '%d responses gave no usage.prompt_tokens' % rec.prompt_unknown})
        elif server is None:
            entry['difference'] = None
            entry['relative'] = None
        else:
            diff = loadstats.bounded_difference(server, low, high)
            rel = abs(diff) / float(max(low, 1))
            entry['difference'] = diff
            entry['relative'] = round(rel, 6)
            worst = max(worst, rel)
        checks[key] = entry
    exact = rec.maybe_generated == 0
    out = {'available': True, 'exact': exact, 'counts': checks, 'mismatch': round(worst, 6),
           'server': d, 'ok': worst == 0.0}
    if not exact:
        out['note'] = ('%d failed requests may have generated tokens the client did not see; the client counts are '
                       'given as [seen, seen + possible] bounds' % rec.maybe_generated)
    if d['missing']:
        out['note'] = (out.get('note', '') + ' missing server metrics: %s' % ', '.join(d['missing'])).strip()
    if d['reset']:
        out['note'] = (out.get('note', '') + ' a server counter went backwards: the server restarted during the '
                       'run').strip()
    return out


# Below these the self-check criteria are reported but not applied: connection set-up (TLS
# handshakes) dominates a very short window, and a p95 of a handful of lag samples is noise.
MIN_LAG_SAMPLES = 20
MIN_CPU_WINDOW_S = 0.25
MIN_CONCURRENCY_WINDOW_S = 1.0


def _client_check(o, stats, rec, window_s):
    reasons = []
    phase_s = stats['end'] - stats['start']
    cpu_util = stats['cpu_s'] / phase_s if phase_s > 0 else 0.0
    lags = sorted(stats['lags'])
    lag = loadstats.summarize(lags)
    lat = loadstats.summarize(rec.lateness)
    asked_c = int(o['concurrency'])
    if phase_s >= MIN_CPU_WINDOW_S and cpu_util >= float(o['client_max_cpu']):
        reasons.append('client CPU %.0f%% of one core >= client_max_cpu %.0f%%' % (100 * cpu_util, 100 * o['client_max_cpu']))
    if lag['count'] >= MIN_LAG_SAMPLES and lag['p95'] > float(o['client_max_lag_ms']):
        reasons.append('client event-loop lag p95 %.1f ms > client_max_lag_ms %s' % (lag['p95'], o['client_max_lag_ms']))
    out = {'cpu_s': _r(stats['cpu_s']), 'process_cpu_s': _r(stats['process_cpu_s']), 'cpu_util': _r(cpu_util, 4),
           'loop_lag_ms': lag, 'concurrency': {'asked': asked_c, 'max_in_flight': stats['max_inflight']}}
    if o['mode'] == 'closed':
        ach = stats['mean_inflight']
        n_exp = asked_c if o['num_requests'] is None else min(asked_c, int(o['num_requests']))
        out['concurrency']['achieved_mean'] = _r(ach, 2)
        span = (stats['stop'] or stats['end']) - stats['start']
        if n_exp > 0 and span >= MIN_CONCURRENCY_WINDOW_S and ach < 0.85 * n_exp and not stats['stopped_early']:
            reasons.append('achieved mean concurrency %.1f < 85%% of the asked %d' % (ach, n_exp))
    else:
        span = (stats['stop'] - stats['start']) if stats['stop'] else window_s
        achieved_rate = stats['issued'] / span if span > 0 else 0.0
        out['schedule_lateness_ms'] = lat
        out['rate'] = {'asked': o['rate'], 'achieved': _r(achieved_rate, 3), 'arrival': o['arrival']}
        out['concurrency']['achieved_mean'] = _r(stats['mean_inflight'], 2)
        out['cap_waits'] = stats['cap_waits']
        if lat['count'] >= MIN_LAG_SAMPLES and lat['p95'] > float(o['client_max_lag_ms']) and not stats['cap_waits']:
            reasons.append('requests left p95 %.1f ms behind schedule > client_max_lag_ms %s'
                           % (lat['p95'], o['client_max_lag_ms']))
        if stats['cap_waits']:
            out['note'] = ('%d arrivals waited for a free slot under the concurrency cap %d (the server could not keep '
                           'up with the asked rate)' % (stats['cap_waits'], asked_c))
    if phase_s < MIN_CONCURRENCY_WINDOW_S:
        out['note'] = ((out.get('note', '') + ' ').lstrip() + 'the window (%.2f s) is too short to judge every '
                       'self-check criterion; gate for at least a few seconds' % phase_s)
    out['saturated'] = bool(reasons)
    out['reasons'] = reasons
    return out


async def _settled_after(gate, rec, before, model):
    """Scrape /metrics after the run until the server's counters agree or stop moving (<= ~2 s)."""
    after = None
    cc = None
    prev = None
    for _i in range(9):
        after = await gate.scrape()
        cc = _cross_check(rec, before, after, model)
        key = (cc['server']['generation_tokens'], cc['server']['requests_success'], cc['server']['prompt_tokens'])
        if cc['ok'] or (prev is not None and key == prev and _i >= 3):
            break
        prev = key
        await asyncio.sleep(0.25)
    return after, cc


async def run_gate_async(opts, check_mode=False):
    gate = Gate(opts)
    o = gate.o
    loop = asyncio.get_running_loop()
    gate.pool = Pool(gate.endpoint, loop)
    gate.mpool = Pool(gate.metrics_endpoint, loop)
    result = {'url': gate.endpoint.url, 'api': o['api'], 'stream': o['stream'], 'mode': o['mode'],
              'seed': gate.seed, 'warnings': gate.warnings}
    try:
        return await _run(gate, result, check_mode)
    except GateError as exc:
        exc.result = result
        raise
    finally:
        gate.pool.close()
        gate.mpool.close()


async def _run(gate, result, check_mode):
    o = gate.o
    result['readiness'] = await gate.wait_ready()
    result['model'] = gate.model
    metrics = {'available': False, 'reason': 'cross_check is false'}
    if o['cross_check']:
        metrics = await gate.probe_metrics()
    result['metrics_probe'] = dict(metrics, url=gate.metrics_url)
    result['config'] = dict((k, o[k]) for k in (
        'concurrency', 'rate', 'arrival', 'duration_s', 'num_requests', 'warmup_requests', 'prompt_tokens',
        'output_tokens', 'request_timeout_s'))
    if check_mode:
        result['verdict'] = 'not_run'
        result['msg'] = 'check mode: %s is ready and serves %r; no load was sent' % (gate.endpoint.url, gate.model)
        if o['cross_check'] and not metrics['available']:
            gate.warnings.append('cross-check will be impossible: %s' % metrics['reason'])
        return result
    result['prompt'] = await gate.calibrate()
    gate._prepare_bodies()

    # Warm-up: results discarded, /metrics "before" taken afterwards.
    n_warm = int(o['warmup_requests'])
    if n_warm > 0:
        wrec = Recorder(int(o['output_tokens']))
        await gate.run_phase(wrec, min(n_warm, int(o['concurrency'])), n_warm, None)
        result['warmup'] = {'requests': n_warm, 'failed': wrec.failed, 'errors': wrec.errors}
        if wrec.failed == n_warm:
            kind = sorted(wrec.errors.items(), key=lambda kv: -kv[1])[0][0]
            raise GateError('all %d warm-up requests failed: %s' % (n_warm, wrec.examples[kind]))

    before = None
    if metrics['available']:
        try:
            before = await gate.scrape()
        except HttpError as exc:
            metrics = {'available': False, 'reason': exc.message}

    rec = Recorder(int(o['output_tokens']))
    stats = await gate.run_phase(rec, o['concurrency'], o['num_requests'], o['duration_s'], o['mode'], o['rate'],
                                 o['arrival'], monitor=True)

    cross = {'available': False, 'reason': metrics.get('reason')}
    if metrics['available'] and before is not None:
        try:
            _after, cross = await _settled_after(gate, rec, before, gate.model)
        except HttpError as exc:
            cross = {'available': False, 'reason': exc.message}
    cross['metrics_url'] = gate.metrics_url

    _assemble(gate, result, rec, stats, cross)
    return result


def _assemble(gate, result, rec, stats, cross):
    o = gate.o
    rows = rec.rows
    first = rec.first_send if rec.first_send is not None else stats['start']
    last = rec.last_end if rec.last_end is not None else stats['end']
    window = max(1e-9, last - first)
    completed = len(rows)
    total = completed + rec.failed
    out_tokens = sum(r[5] for r in rows)
    prompt_tokens = sum(r[6] for r in rows if isinstance(r[6], int))
    summary = {
        'ttft': loadstats.summarize([r[1] for r in rows]),
        'itl': loadstats.summarize([r[2] for r in rows]),
        'tpot': loadstats.summarize([r[4] for r in rows]),
        'e2e': loadstats.summarize([r[3] for r in rows]),
    }
    result['window'] = {'duration_s': _r(window), 'issue_s': _r((stats['stop'] or last) - stats['start']),
                        'drain_s': _r(max(0.0, last - (stats['stop'] or last))),
                        'start_epoch': _r(stats['epoch0'] + first), 'end_epoch': _r(stats['epoch0'] + last)}
    err_rate = (rec.failed / float(total)) if total else None
    result['requests'] = {'total': total, 'completed': completed, 'failed': rec.failed, 'errors': rec.errors,
                          'error_examples': rec.examples, 'error_rate': _r(err_rate, 6)}
    if stats['stopped_early']:
        result['requests']['stopped_early'] = stats['stopped_early']
    thr = {'requests_per_s': _r(completed / window), 'output_tokens_per_s': _r(out_tokens / window),
           'total_tokens_per_s': _r((out_tokens + prompt_tokens) / window),
           'prompt_tokens_per_s': _r(prompt_tokens / window)}
    result['throughput'] = thr
    result['latency_ms'] = summary
    pts = sorted(r[6] for r in rows if isinstance(r[6], int))
    prompt_info = result.get('prompt', {})
    prompt_info['measured'] = {'count': len(pts), 'mean': _r(sum(pts) / float(len(pts)), 2) if pts else None,
                               'min': pts[0] if pts else None, 'max': pts[-1] if pts else None}
    result['tokens'] = {'output_total': out_tokens, 'prompt_total': prompt_tokens,
                        'output_per_request': int(o['output_tokens']), 'length_mismatches': rec.length_mismatch,
                        'counted_from': dict(rec.sources), 'malformed_sse_events': rec.malformed_events,
                        'streams_without_done': rec.missing_done}
    if rec.sources['chunks']:
        gate.warnings.append('%d of %d responses carried no usage: their output tokens were counted as one per SSE '
                             'chunk (wrong with multi-token chunks, e.g. speculative decoding); make the server or '
                             'proxy pass stream_options include_usage' % (rec.sources['chunks'], rec.completed_http))
    if rec.malformed_events:
        gate.warnings.append('%d SSE events were not valid JSON and were skipped; token counts fell back to the '
                             'remaining usage' % rec.malformed_events)
    if rec.missing_done:
        gate.warnings.append('%d streams ended without data: [DONE]' % rec.missing_done)

    good_rows = [{'ttft': r[1], 'itl': r[2], 'e2e': r[3], 'tpot': r[4], 'out': r[5]} for r in rows]
    result['goodput'] = loadstats.goodput(good_rows, o, window)

    client = _client_check(o, stats, rec, window)
    result['client'] = client

    if cross.get('available'):
        hit = cross['server'].get('prefix_cache_hit_rate')
        if hit is not None and hit > 0.5:
            gate.warnings.append('the server served %.0f%% of prompt tokens from its prefix cache: TTFT is lower '
                                 'than for fresh prompts (a fixed seed repeats prompts across runs)' % (100 * hit))
    result['cross_check'] = cross
    result['cost'] = loadstats.cost(o['host_cost_per_hour'], thr['output_tokens_per_s'], thr['total_tokens_per_s'])

    measured = _measured(o, result, rec, completed, total, window, summary, cross)
    sat_reason = '; '.join(client['reasons'])
    thresholds = dict(o)
    if not o['cross_check']:
        thresholds['max_token_mismatch'] = None
    slos = loadstats.evaluate_slos(thresholds, measured, client['saturated'],
                                   'the client was the bottleneck (%s)' % sat_reason)
    result['slos'] = slos
    verdict = loadstats.verdict(slos)
    if stats['stopped_early'] and verdict == 'pass':
        verdict = 'fail'
    result['verdict'] = verdict
    result['msg'] = _message(gate, result, slos, verdict, client, stats)


def _measured(o, result, rec, completed, total, window, summary, cross):
    thr = result['throughput']
    detail_thr = '%d requests in %.1f s' % (completed, window)
    why_thr = None if completed else 'no request completed'
    m = {
        'output_tokens_per_s': {'value': thr['output_tokens_per_s'] if completed else None, 'samples': completed,
                                'detail': detail_thr, 'why': why_thr},
        'total_tokens_per_s': {'value': thr['total_tokens_per_s'] if completed else None, 'samples': completed,
                               'detail': detail_thr, 'why': why_thr},
        'requests_per_s': {'value': thr['requests_per_s'] if completed else None, 'samples': completed,
                           'detail': detail_thr, 'why': why_thr},
    }
    for key in ('ttft', 'itl', 'tpot', 'e2e'):
        s = summary[key]
        why = None
        if not s['count']:
            why = 'needs stream: true' if key in ('ttft', 'itl') and not o['stream'] else 'no completed request'
        m['%s_p95_ms' % key] = {'value': s['p95'], 'samples': s['count'], 'why': why}
    errs = ', '.join('%s: %d' % kv for kv in sorted(rec.errors.items()))
    m['error_rate'] = {'value': (rec.failed / float(total)) if total else None, 'samples': total,
                       'detail': '%d of %d requests failed%s' % (rec.failed, total, (' (%s)' % errs) if errs else ''),
                       'why': '; '.join('%s: %s' % (k, v) for k, v in sorted(rec.examples.items()))[:600] or None}
    if cross.get('available'):
        c = cross['counts']
        detail = 'client vs server: %s' % ', '.join(
            '%s %s vs %s' % (k.replace('_', ' '), c[k]['client'], c[k]['server'])
            for k in ('output_tokens', 'prompt_tokens', 'requests') if c[k]['client'] is not None)
        m['token_mismatch'] = {'value': cross['mismatch'], 'samples': completed, 'detail': detail,
                               'why': ('other traffic reached this instance during the gate, or the metrics come from '
                                       'another instance (a proxy spreading load): run on an idle instance or set '
                                       'metrics_url to this instance\'s own /metrics')}
    else:
        m['token_mismatch'] = {'value': None, 'samples': 0,
                               'why': '%s; set metrics_url, or cross_check: false to skip the cross-check'
                                      % (cross.get('reason') or 'server /metrics unavailable')}
    g = result['goodput']
    m['goodput_ratio'] = {'value': g['ratio'], 'samples': completed,
                          'detail': '%d of %d completed requests met the latency thresholds' % (g['good_requests'],
                                                                                                completed)}
    if not o['cross_check']:
        m.pop('token_mismatch')
    return m


def _message(gate, result, slos, verdict, client, stats):
    o = gate.o
    thr = result['throughput']
    head = ('%s %s: %.1f output tok/s, %.2f req/s, %d requests, error rate %s'
            % (gate.endpoint.url, gate.model, thr['output_tokens_per_s'] or 0.0, thr['requests_per_s'] or 0.0,
               result['requests']['total'], result['requests']['error_rate']))
    if verdict == 'pass':
        return 'throughput gate passed: ' + head
    lines = []
    if verdict == 'fail':
        lines.append('throughput gate FAILED (%s):' % head)
        lines.extend('- ' + r['message'] for r in slos if r['status'] == 'fail')
        if stats['stopped_early']:
            lines.append('- ' + stats['stopped_early'] + ': ' + '; '.join(
                '%s: %s' % kv for kv in sorted(result['requests']['error_examples'].items())))
        lines.append('To pass: fix the errors above, tune or scale the instance, or revise the SLO options; '
                     'the full figures are in the result and reports.')
    else:
        lines.append('throughput gate INCONCLUSIVE (%s):' % head)
        lines.extend('- ' + r['message'] for r in slos if r['status'] == 'inconclusive')
        if client['saturated']:
            lines.append('The load client was the bottleneck: run the gate from a host with spare CPU (delegate_to), '
                         'lower concurrency/rate, or raise client_max_cpu/client_max_lag_ms if you accept it.')
        if o['on_inconclusive'] == 'warn':
            lines.append('(on_inconclusive: warn, so the play continues)')
    return '\n'.join(lines)


def run_gate(opts, check_mode=False):
    """Synchronous entry point for the module; raises GateError on readiness/config problems."""
    return asyncio.run(run_gate_async(opts, check_mode))
