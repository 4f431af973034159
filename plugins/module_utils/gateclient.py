# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The gate's view of the servers: readiness, /metrics, prompt calibration, and one request.

A gate loads one or several OpenAI-compatible endpoints (several: a host's instances loaded
together, requests spread round-robin) and reads one or several ``/metrics`` endpoints (a front
port's instances: their counters add up).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import asyncio
import json
import os
import random
import time

from ansible_collections.inferops.vllm.plugins.module_utils.httpclient import (
    Endpoint, HttpError, Pool, fetch,
)
from ansible_collections.inferops.vllm.plugins.module_utils.loadrecord import record_response, status_error
# WORDS: common English words, most of them one token; the gate keeps the ones that are (calibrate)
from ansible_collections.inferops.vllm.plugins.module_utils.prompttext import WORDS, TextGen
from ansible_collections.inferops.vllm.plugins.module_utils.promparse import PromParseError, Snapshot
from ansible_collections.inferops.vllm.plugins.module_utils.sse import SSEStream, error_text

_perf = time.perf_counter


RUNNING = 'vllm:num_requests_running'
WAITING = 'vllm:num_requests_waiting'


class GateError(Exception):
    """Readiness or configuration problem: the message says what is wrong and what to do."""

    def __init__(self, message, result=None):
        super(GateError, self).__init__(message)
        self.message = message
        self.result = result or {}


def _endpoint(url, o, timeout):
    return Endpoint(url, api_key=o['api_key'], headers=o['headers'], validate_certs=o['validate_certs'],
                    ca_path=o['ca_path'], connect_timeout=min(10.0, timeout))


class Gate(object):
    """Endpoints, pools and request bodies of one gate run; ``o`` holds the options with defaults."""

    def __init__(self, o):
        self.o = o
        self.seed = o['seed'] if o['seed'] is not None else int.from_bytes(os.urandom(4), 'big')
        self.rng = random.Random(self.seed)
        self.timeout = float(o['request_timeout_s'])
        urls = list(o.get('urls') or [o['url']])
        if o.get('metrics_urls'):
            murls = list(o['metrics_urls'])
        elif o.get('metrics_url'):
            murls = [o['metrics_url']]
        else:
            murls = [u.rstrip('/') + '/metrics' for u in urls]
        try:
            self.endpoints = [_endpoint(u, o, self.timeout) for u in urls]
            self.metrics_endpoints = []
            for m in murls:
                base, path = (m.rsplit('/metrics', 1)[0], '/metrics') if m.endswith('/metrics') else (m, '')
                self.metrics_endpoints.append((_endpoint(base, o, self.timeout), path, m))
        except HttpError as exc:
            raise GateError(exc.message)
        self.endpoint = self.endpoints[0]
        self.metrics_urls = murls
        self.warnings = []
        self.pools = []
        self.mpools = []
        self.model = o['model']
        self.served = []
        self.words = list(WORDS)
        self.n_words = max(1, int(o['prompt_tokens']))
        self.has_tokenize = None
        self._prefixes = None
        self._body_head = None
        self._body_tail = None
        self.driver = None          # a profilework.ProfileDriver when a workload profile is run

    @property
    def url(self):
        return ' + '.join(e.url for e in self.endpoints)

    def open(self, loop):
        self.pools = [Pool(e, loop) for e in self.endpoints]
        self.mpools = [Pool(e, loop) for e, _p, _u in self.metrics_endpoints]
        self.pool = self.pools[0]

    def close(self):
        for p in self.pools + self.mpools:
            p.close()

    # -- helpers ---------------------------------------------------------------------------
    def ctx(self):
        return {'has_auth': self.endpoint.has_auth, 'served': self.served, 'model': self.model}

    def _path(self):
        return '/v1/chat/completions' if self.o['api'] == 'chat' else '/v1/completions'

    def prepare_bodies(self):
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
        self._prefixes = [e.request_prefix('POST', self._path(), accept=accept) for e in self.endpoints]

    def make_prompt(self, n_words=None):
        n = self.n_words if n_words is None else n_words
        return ' '.join(self.rng.choices(self.words, k=n))

    def make_request(self, prompt=None, index=0):
        if prompt is None:
            prompt = self.make_prompt()
        body = self._body_head + json.dumps(prompt).encode('utf-8') + self._body_tail
        prefix = self._prefixes[index % len(self._prefixes)]
        return prefix + str(len(body)).encode('ascii') + b'\r\n\r\n' + body

    # -- one request -------------------------------------------------------------------------
    def sender(self, rec):
        """The coroutine a scheduler calls to perform request ``index`` into ``record``."""
        if self.driver is not None:
            return self.driver.sender(rec)     # a workload profile: one session per index
        pools = self.pools
        stream = self.o['stream']
        timeout = self.timeout
        ctx = self.ctx()

        async def send(record, index):
            data = self.make_request(index=index)
            sink = SSEStream() if stream else None
            try:
                resp = await pools[index % len(pools)].request(data, sink, timeout)
                record_response(rec, record, resp, sink, _perf(), ctx)
            except HttpError as exc:
                record.end = _perf()
                partial = sink.partial_tokens() if sink is not None else 0
                msg = exc.message
                if exc.kind == 'timeout' and sink is not None:
                    msg = ('no complete response within request_timeout_s=%s (%d tokens received): raise '
                           'request_timeout_s, or find out why the server stalls' % (self.o['request_timeout_s'],
                                                                                     partial))
                rec.fail(record, exc.kind, msg, partial)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # pylint: disable=broad-except
                record.end = _perf()
                rec.fail(record, 'client_error', 'unexpected client error: %r' % (exc,))
        return send

    async def watch_stalls(self, stop):
        """Abort streams that went silent for stall_timeout_s (after their first byte) until ``stop`` is set."""
        limit = float(self.o['stall_timeout_s'])
        step = min(0.25, limit / 4.0)
        while not stop.is_set():
            now = _perf()
            for pool in self.pools:
                pool.check_stalls(now, limit)
            try:
                await asyncio.wait_for(stop.wait(), step)
            except asyncio.TimeoutError:
                pass

    # -- readiness -------------------------------------------------------------------------
    async def wait_ready(self):
        out = None
        for pool in self.pools:
            out = await self._wait_ready(pool, out)
        return out

    async def _wait_ready(self, pool, previous):
        o = self.o
        ready_timeout = float(o['ready_timeout_s'])
        refused_timeout = min(ready_timeout, float(o['refused_timeout_s']))
        url = pool.endpoint.url
        start = _perf()
        deadline = start + ready_timeout
        attempts = 0
        last = None
        refused_since = None
        health = None
        while True:
            attempts += 1
            remaining = max(0.2, deadline - _perf())
            try:
                resp = await fetch(pool, 'GET', '/health', timeout=min(remaining, 10.0))
                refused_since = None
                if resp.status in (200, 404, 405):
                    health = 'ok' if resp.status == 200 else 'absent'
                    resp = await fetch(pool, 'GET', '/v1/models', timeout=min(remaining, 10.0))
                    if resp.status == 200:
                        return self._models_ready(resp, health, attempts, _perf() - start, url, previous)
                    if resp.status in (401, 403):
                        raise GateError(status_error(resp.status, resp.text(), self.ctx())[1] + ' (GET /v1/models)')
                    last = 'GET /v1/models answered HTTP %d: %s' % (resp.status, error_text(resp.text()))
                else:
                    last = 'GET /health answered HTTP %d %s (the server is not ready yet)' % (resp.status, resp.reason)
            except HttpError as exc:
                last = exc.message
                if exc.kind in ('tls', 'config', 'dns', 'client_resources'):
                    raise GateError(exc.message)
                if exc.refused:
                    refused_since = refused_since or _perf()
                    # A server that loads its model answers /health 503; a refused port is a server
                    # that is not running: say so quickly instead of waiting out ready_timeout_s.
                    if _perf() - refused_since >= refused_timeout:
                        raise GateError('%s refused every connection for %.1f s (refused_timeout_s): the server is '
                                        'down or not listening there: %s' % (url, refused_timeout, exc.message))
            if _perf() >= deadline:
                raise GateError('%s was not ready within ready_timeout_s=%s (%d attempts): %s'
                                % (url, o['ready_timeout_s'], attempts, last))
            await asyncio.sleep(min(1.0, max(0.05, deadline - _perf())))

    def _models_ready(self, resp, health, attempts, waited, url, previous):
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
                            % (self.model, url, ', '.join(self.served)))
        mml = chosen[0].get('max_model_len')
        need = int(self.o['prompt_tokens']) + int(self.o['output_tokens'])
        if isinstance(mml, int) and need > mml:
            raise GateError('prompt_tokens (%s) + output_tokens (%s) = %d exceeds max_model_len %d of model %r: '
                            'lower prompt_tokens/output_tokens or serve the model with a larger --max-model-len'
                            % (self.o['prompt_tokens'], self.o['output_tokens'], need, mml, self.model))
        if not isinstance(mml, int) and previous is None:
            self.warnings.append('/v1/models does not report max_model_len; prompt + output length not checked')
        out = {'health': health, 'attempts': attempts, 'waited_s': round(waited, 3), 'served_models': self.served,
               'model': self.model, 'max_model_len': mml if isinstance(mml, int) else None}
        if previous is not None:
            out['attempts'] += previous['attempts']
            out['waited_s'] = round(out['waited_s'] + previous['waited_s'], 3)
        return out

    # -- /metrics --------------------------------------------------------------------------
    async def scrape(self):
        """One snapshot per metrics endpoint."""
        snaps = []
        for pool, (_e, path, url) in zip(self.mpools, self.metrics_endpoints):
            resp = await fetch(pool, 'GET', path, timeout=min(self.timeout, 10.0))
            if resp.status != 200:
                raise HttpError('GET %s answered HTTP %d' % (url, resp.status), kind='metrics')
            try:
                snaps.append(Snapshot(resp.body.decode('utf-8', 'replace'), _perf()))
            except PromParseError as exc:
                raise HttpError('%s is not Prometheus text: %s' % (url, exc), kind='metrics')
        return snaps

    async def probe_metrics(self):
        try:
            snaps = await self.scrape()
        except HttpError as exc:
            return {'available': False, 'reason': exc.message}
        for snap, (_e, _p, url) in zip(snaps, self.metrics_endpoints):
            if not snap.has('vllm:generation_tokens_total'):
                return {'available': False, 'reason': '%s has no vllm:generation_tokens_total (not a vLLM server, or '
                                                      'a proxy in front of it: give the instances\' own /metrics in '
                                                      'metrics_urls)' % url}
        return {'available': True, 'models': sorted(set(m for s in snaps for m in s.model_names()))}

    async def idle_snapshots(self, limit_s=10.0):
        """Scrape until the servers have nothing running or waiting (bounded): counters then hold still.

        Returns (snapshots, seconds waited, still busy: bool).
        """
        t0 = _perf()
        while True:
            snaps = await self.scrape()
            busy = sum((s.counter(RUNNING) or 0.0) + (s.counter(WAITING) or 0.0) for s in snaps)
            if busy <= 0 or _perf() - t0 >= limit_s:
                return snaps, _perf() - t0, busy > 0
            await asyncio.sleep(0.1)

    # -- calibration -----------------------------------------------------------------------
    async def _tokenize(self, text, raw=False):
        if self.o['api'] == 'chat' and not raw:
            payload = {'model': self.model, 'messages': [{'role': 'user', 'content': text}],
                       'add_generation_prompt': True}
        else:
            payload = {'model': self.model, 'prompt': text}
        resp = await fetch(self.pool, 'POST', '/tokenize', json.dumps(payload).encode('utf-8'), timeout=self.timeout)
        if resp.status != 200:
            raise HttpError('POST /tokenize answered HTTP %d: %s' % (resp.status, error_text(resp.text())),
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
            _kind, msg = status_error(resp.status, resp.text(), self.ctx())
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

    async def text_tokens_per_word(self, words=1000, seed=0):
        """Tokens per word of workload-profile text (prompttext's Zipf-weighted vocabulary, whose long words
        are several tokens each), which the single-token words of the gate's own prompts do not tell: a
        profile's prompts built at their rate came out too long (summarization's 1,700-token inputs ran past
        the tiny model's 2,048-token context in make bench-profiles). Two samples of ``words`` and twice as
        many words, so that the chat template's fixed tokens cancel."""
        if self.has_tokenize:
            async def counter(text):
                return await self._tokenize(text, raw=True)
        else:
            counter = self._usage_count
        gen = TextGen(seed)
        c1 = await counter(gen.words(words))
        c2 = await counter(gen.words(2 * words))
        return max(0.05, (c2 - c1) / float(words))
