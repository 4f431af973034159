#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deployed vLLM service vs a plain `vllm serve` with defaults: same host, model and load.

Uses the plain server at --baseline-url (bench_server.sh starts it in the deployed host), or
starts one from a vLLM venv (vLLM's defaults; only the KV cache is pinned so a
shared machine is not exhausted, and the hub is off), then runs the same closed-loop load
(streamed completions, output length forced with ignore_eos, tokens counted from the server's
usage, warm-up excluded) against the deployed endpoint and the plain server in alternating
rounds, stops the plain server, and prints output tokens/s of each (median over rounds) and
the ratio deployed / baseline.

Standard library only. Example:
  benchmarks/bench_server.py --deployed http://10.88.0.5:8000 --api-key-file key.txt \
      --model /var/tmp/inferops-vllm/models/tiny-llama --served-model-name tiny-llama
"""

from __future__ import absolute_import, division, print_function

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlsplit

WORDS = ('the model serves tokens on every core of the host while the scheduler batches '
         'requests and the cache keeps keys and values for each sequence in memory').split()


def make_prompts(count, words, seed):
    rng = random.Random(seed)
    return [' '.join(rng.choice(WORDS) for _word in range(words)) for _prompt in range(count)]


async def http_request(url, method='GET', body=None, headers=None, timeout=600.0):
    """One HTTP/1.1 request; returns (status, headers, body-lines async iterator reader)."""
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port or 80
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    payload = json.dumps(body).encode() if body is not None else b''
    lines = ['%s %s HTTP/1.1' % (method, parts.path or '/'), 'Host: %s:%d' % (host, port),
             'Connection: close', 'Accept: */*']
    if body is not None:
        lines += ['Content-Type: application/json', 'Content-Length: %d' % len(payload)]
    for key, value in (headers or {}).items():
        lines.append('%s: %s' % (key, value))
    writer.write(('\r\n'.join(lines) + '\r\n\r\n').encode() + payload)
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), timeout)
    status = int(status_line.split()[1])
    resp_headers = {}
    while True:
        line = (await asyncio.wait_for(reader.readline(), timeout)).decode().strip()
        if not line:
            break
        key, _sep, value = line.partition(':')
        resp_headers[key.strip().lower()] = value.strip()
    return status, resp_headers, reader, writer


async def read_body(reader, resp_headers, timeout=600.0):
    """Whole body, handling chunked transfer encoding."""
    if resp_headers.get('transfer-encoding', '').lower() != 'chunked':
        return await asyncio.wait_for(reader.read(), timeout)
    out = b''
    while True:
        size = int((await asyncio.wait_for(reader.readline(), timeout)).strip() or b'0', 16)
        if size == 0:
            break
        out += await asyncio.wait_for(reader.readexactly(size), timeout)
        await reader.readline()
    return out


async def one_request(base, model, prompt, max_tokens, headers):
    """Streamed completion; returns (completion tokens from usage, seconds)."""
    body = {'model': model, 'prompt': prompt, 'max_tokens': max_tokens, 'ignore_eos': True,
            'temperature': 0, 'stream': True, 'stream_options': {'include_usage': True}}
    start = time.monotonic()
    status, resp_headers, reader, writer = await http_request(base + '/v1/completions', 'POST', body, headers)
    try:
        raw = await read_body(reader, resp_headers)
    finally:
        writer.close()
    if status != 200:
        raise RuntimeError('HTTP %d from %s: %s' % (status, base, raw[:300]))
    tokens = 0
    for line in raw.decode().splitlines():
        if line.startswith('data: ') and line != 'data: [DONE]':
            event = json.loads(line[6:])
            if event.get('usage'):
                tokens = event['usage']['completion_tokens']
    return tokens, time.monotonic() - start


async def run_load(base, model, prompts, max_tokens, concurrency, headers):
    queue = list(prompts)
    results = []

    async def worker():
        while queue:
            prompt = queue.pop()
            results.append(await one_request(base, model, prompt, max_tokens, headers))

    start = time.monotonic()
    await asyncio.gather(*[worker() for _worker in range(concurrency)])
    wall = time.monotonic() - start
    tokens = sum(r[0] for r in results)
    if tokens != max_tokens * len(prompts):
        raise RuntimeError('%s: %d tokens for %d requests of %d: ignore_eos not honoured'
                           % (base, tokens, len(prompts), max_tokens))
    latencies = sorted(r[1] for r in results)
    return {'requests': len(results), 'output_tokens': tokens, 'seconds': round(wall, 2),
            'output_tok_per_s': round(tokens / wall, 1),
            'p50_latency_s': round(latencies[len(latencies) // 2], 3)}


async def wait_ready(base, model, headers, timeout, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError('the baseline server exited with %s' % proc.returncode)
        try:
            status, resp_headers, reader, writer = await http_request(base + '/v1/models', headers=headers, timeout=5)
            raw = await read_body(reader, resp_headers, 5)
            writer.close()
            if status == 200 and model in [m['id'] for m in json.loads(raw)['data']]:
                return
        except (OSError, ValueError, asyncio.TimeoutError):
            pass
        await asyncio.sleep(2)
    raise RuntimeError('%s did not serve %s within %d s' % (base, model, timeout))


def measure(args, base, headers, label):
    prompts = make_prompts(args.requests, args.prompt_words, args.seed)
    warm = make_prompts(2 * args.concurrency, args.prompt_words, args.seed + 1)
    asyncio.run(run_load(base, args.served_model_name, warm, args.max_tokens, args.concurrency, headers))
    result = asyncio.run(run_load(base, args.served_model_name, prompts, args.max_tokens, args.concurrency, headers))
    result['label'] = label
    print('%-9s %s' % (label, json.dumps(result)), flush=True)
    return result


def start_baseline(args, log):
    env = dict(os.environ)
    env.update({'HF_HUB_OFFLINE': '1', 'VLLM_NO_USAGE_STATS': '1', 'DO_NOT_TRACK': '1',
                'VLLM_CPU_KVCACHE_SPACE': str(args.baseline_kv_gib),
                'VLLM_CACHE_ROOT': tempfile.mkdtemp(prefix='bench-vllm-cache-')})
    # `vllm serve MODEL` with vLLM's defaults (the console command needs the metadata alias
    # that the role adds; the module entry point is the same server).
    cmd = [os.path.join(args.baseline_venv, 'bin', 'python'), '-m', 'vllm.entrypoints.openai.api_server',
           '--model', args.model, '--served-model-name', args.served_model_name,
           '--host', '127.0.0.1', '--port', str(args.baseline_port)] + args.baseline_arg
    print('baseline: %s' % ' '.join(cmd), flush=True)
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def alternate(args, deployed_base, headers, base):
    """Both servers stay up for every round and the rounds alternate, so background load on a
    shared machine and the idle cost of the other server hit both sides."""
    rounds = []
    for number in range(args.rounds):
        deployed = measure(args, deployed_base, headers, 'deployed')
        baseline = measure(args, base, {}, 'baseline')
        ratio = round(deployed['output_tok_per_s'] / baseline['output_tok_per_s'], 3)
        print('round %d: deployed / baseline output tok/s = %.3f' % (number + 1, ratio), flush=True)
        rounds.append({'round': number + 1, 'deployed': deployed, 'baseline': baseline, 'ratio': ratio})
    return rounds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--deployed', required=True, help='base URL of the deployed service (front port)')
    parser.add_argument('--api-key-file', help='file holding the deployed service API key')
    parser.add_argument('--model', required=True, help='model directory for the baseline server')
    parser.add_argument('--served-model-name', default='tiny-llama')
    parser.add_argument('--baseline-url',
                        help='a plain server already running (else one is started from --baseline-venv here)')
    parser.add_argument('--baseline-venv', default='/var/tmp/inferops-vllm/vllm-venv')
    parser.add_argument('--baseline-port', type=int, default=8290)
    parser.add_argument('--baseline-kv-gib', type=int, default=1)
    parser.add_argument('--baseline-arg', action='append', default=[], help='extra baseline argument (repeat)')
    parser.add_argument('--requests', type=int, default=64)
    parser.add_argument('--concurrency', type=int, default=8)
    parser.add_argument('--max-tokens', type=int, default=64)
    parser.add_argument('--prompt-words', type=int, default=64)
    parser.add_argument('--seed', type=int, default=1234)
    parser.add_argument('--rounds', type=int, default=3, help='alternating deployed/baseline measurements')
    parser.add_argument('--ready-timeout', type=int, default=300)
    parser.add_argument('--min-ratio', type=float, default=1.25,
                        help='the median deployed / baseline ratio below which the benchmark fails')
    parser.add_argument('--json', help='write both results and the ratio to this file')
    args = parser.parse_args(argv)

    headers = {}
    if args.api_key_file:
        with open(args.api_key_file) as handle:
            headers['Authorization'] = 'Bearer ' + handle.read().strip()

    asyncio.run(wait_ready(args.deployed, args.served_model_name, headers, args.ready_timeout))
    deployed_base = args.deployed.rstrip('/')
    if args.baseline_url:
        base = args.baseline_url.rstrip('/')
        asyncio.run(wait_ready(base, args.served_model_name, {}, args.ready_timeout))
        rounds = alternate(args, deployed_base, headers, base)
    else:
        base = 'http://127.0.0.1:%d' % args.baseline_port
        with tempfile.NamedTemporaryFile(prefix='bench-baseline-', suffix='.log', delete=False) as log:
            proc = start_baseline(args, log)
            try:
                started = time.monotonic()
                asyncio.run(wait_ready(base, args.served_model_name, {}, args.ready_timeout, proc))
                print('baseline ready in %.0f s (log %s)' % (time.monotonic() - started, log.name), flush=True)
                rounds = alternate(args, deployed_base, headers, base)
            finally:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(60)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)

    deployed_tps = statistics.median(r['deployed']['output_tok_per_s'] for r in rounds)
    baseline_tps = statistics.median(r['baseline']['output_tok_per_s'] for r in rounds)
    ratio = deployed_tps / baseline_tps
    median_ratio = statistics.median(r['ratio'] for r in rounds)
    print('output tok/s (median of %d rounds): deployed %.1f, baseline %.1f, ratio of medians %.2f; per round %s'
          % (len(rounds), deployed_tps, baseline_tps, ratio, [r['ratio'] for r in rounds]), flush=True)
    ok = median_ratio >= args.min_ratio
    print('median of the per-round ratios %.3f: %s (deployed must be >= %.2f x the plain server)'
          % (median_ratio, 'PASS' if ok else 'FAIL', args.min_ratio), flush=True)
    if args.json:
        with open(args.json, 'w') as handle:
            json.dump({'deployed_tok_per_s': deployed_tps, 'baseline_tok_per_s': baseline_tps, 'ratio': round(ratio, 3),
                       'median_round_ratio': median_ratio, 'min_ratio': args.min_ratio, 'pass': ok,
                       'rounds': rounds}, handle, indent=2)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
