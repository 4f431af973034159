#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""make bench-profiles: every built-in workload profile against the real vLLM CPU server with the tiny model.

One vLLM server (tools parsed: --enable-auto-tool-choice --tool-call-parser of the tiny model's family,
so the agentic profile's tool calls are answered) serves every built-in profile of the validate role
in turn: a capacity search at the profile's own SLOs (closed-loop throughput for a profile without a
latency SLO, batch), and the cost per 1M output tokens at that capacity for a host costing
--cost-per-hour. Prints one table row per profile (the validate role's fleet-report row:
profilefleet.profile_row) and fails when a profile could not be measured or the whole run took
longer than --max-total-s (15 minutes).

The server runs with STRUCTURED_ARGS (the server role's default guided decoding: xgrammar, no free
whitespace in JSON answers). Then structured
output (``response_format`` with a JSON schema, TICKET_SCHEMA) on the same server,
--structured-requests each: with room to answer, every answer must validate against the schema
(vLLM's guided decoding); with room for only 3 tokens, every answer is cut short and the gate must
count each as ``invalid_output``. Either case not as expected fails the benchmark.

--fake runs the same thing against tests/support/fake_openai_server.py (4 slots, 20 ms to the first
token, 2 ms per token, prefix cache on) with short budgets: a test of this script, not a benchmark.

    python3 benchmarks/bench_profiles.py [--profiles agentic,chat] [--json out.json]
    python3 benchmarks/bench_profiles.py --fake --budget-s 6
"""

from __future__ import absolute_import, division, print_function

import argparse
import os
import signal
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, 'tests', 'support'))
# pylint: disable=wrong-import-position
from bench_gate_vs_vllm_bench import ASSETS, BenchError, Server, free_port, pin_client_and_server  # noqa: E402
from report_table import finish, fmt, table  # noqa: E402
from ansible_collections.inferops.vllm.plugins.module_utils import profilefleet, profiles, structured_outputs  # noqa: E402
from ansible_collections.inferops.vllm.plugins.module_utils.capacity import rate_label  # noqa: E402
from ansible_collections.inferops.vllm.plugins.module_utils.loadgen import GateError, run_gate  # noqa: E402
from ansible_collections.inferops.vllm.plugins.module_utils.toolparsers import server_args  # noqa: E402
# pylint: enable=wrong-import-position

BUILTIN_DIR = os.path.join(ROOT, 'roles', 'validate', 'files', 'profiles')
# The tiny test model is a Llama whose tokenizer lacks Llama 3's <|python_tag|>, which vLLM's llama3_json
# parser requires at start-up; the Llama 4 pythonic parser needs no special token. The agentic profile asks
# for tool_choice required, which vLLM answers with guided JSON whatever the parser.
TINY_FAMILY = 'llama-4'
# Guided decoding without free whitespace, as the server role sets it by default (server_structured_outputs_*):
# held to a JSON schema, the tiny model's random weights fill the whitespace the grammar allows until max_tokens
# (1 of 16 answers valid, 1,783+ characters, in the first run on vLLM); with xgrammar's disable_any_whitespace
# 16 of 16 were.
STRUCTURED_ARGS = structured_outputs.server_args('xgrammar', True)
FAKE = {'slots': 4, 'ttft_s': 0.02, 'token_delay_s': 0.002, 'prefix_cache': True}
# Budget weights: long answers need long steps to finish enough requests (see loadgen._step_seconds).
WEIGHT = {'long_generation': 3.5, 'summarization': 1.2}
# Step length: a step's p95 needs 100 requests (loadgen._step_seconds stretches a step up to 4x this); at
# long_generation's ~0.8 sessions/s on one core a 10 s step could stretch to 40 s, 26 requests, and the
# verdict at capacity was inconclusive on too few samples.
STEP_S = {'long_generation': 45.0}
HEADER = ['profile', 'mode', 'verdict', 'capacity', 'output tok/s', '$ per 1M output tok', 'prefix cache hits',
          'valid answers', 'TTFT p50 first / later ms', 'limited by', 'wall s']


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    p.add_argument('--profiles', default=','.join(profiles.builtin_names(BUILTIN_DIR)),
                   help='comma-separated built-in profiles (default: all)')
    p.add_argument('--budget-s', type=float, default=95.0,
                   help='capacity search budget of one profile (weighted up for long answers)')
    p.add_argument('--step-s', type=float, default=10.0, help='length of one capacity step')
    p.add_argument('--closed-s', type=float, default=45.0, help='measured window of a profile without a latency SLO')
    p.add_argument('--concurrency', type=int, default=8, help='sessions in flight, closed loop (batch)')
    p.add_argument('--cost-per-hour', type=float, default=1.0, help='price of the host, for cost per 1M tokens')
    p.add_argument('--max-total-s', type=float, default=900.0, help='fail when the whole run takes longer')
    p.add_argument('--seed', type=int, default=1500)
    p.add_argument('--structured-requests', type=int, default=16,
                   help='requests of each structured-output case (0: none)')
    p.add_argument('--no-pin', dest='pin', action='store_false',
                   help='let the server and the load client share every CPU (default: the client on CPU 0, the '
                        'server on the others; on 2 cores, unpinned, vLLM\'s busy-polling worker, engine core and '
                        'API server left the client so little CPU that the gate called chat, rag and '
                        'long_generation inconclusive: the client fell behind its schedule)')
    p.add_argument('--fake', action='store_true', help='run against the fake server (tests this script)')
    p.add_argument('--vllm-venv', default=os.path.join(ASSETS, 'vllm-venv'))
    p.add_argument('--model-dir', default=os.path.join(ASSETS, 'models', 'tiny-llama'))
    p.add_argument('--served-model-name', default='tiny-llama')
    p.add_argument('--json', help='write the rows and results here')
    a = p.parse_args(argv)
    a.profiles = [x.strip() for x in a.profiles.split(',') if x.strip()]
    return a


def gate_options(a, url, run):
    """The throughput gate's options for one profile run (``run``: one of profilefleet.role_runs)."""
    o = {'url': url, 'profile': run['profile'], 'mode': run['mode'], 'seed': a.seed, 'warmup_requests': 4,
         'host_cost_per_hour': a.cost_per_hour, 'request_timeout_s': 300.0, 'on_inconclusive': 'warn'}
    if run['mode'] == 'capacity':
        o.update(capacity_budget_s=a.budget_s * WEIGHT.get(run['name'], 1.0),
                 capacity_step_s=a.step_s if a.fake else max(a.step_s, STEP_S.get(run['name'], 0.0)))
    else:
        o.update(concurrency=a.concurrency, duration_s=a.closed_s)
    return o


def measure(a, url, runs, out):
    """Run every profile; append (row, result) to ``out``; the gate's refusal is a row with verdict error."""
    for run in runs:
        print('%s: %s ...' % (run['name'], 'capacity search' if run['mode'] == 'capacity' else 'closed loop'),
              flush=True)
        t0 = time.time()
        try:
            res = run_gate(gate_options(a, url, run))
        except GateError as exc:
            res = dict(getattr(exc, 'result', None) or {}, verdict='error', msg=exc.message)
        wall = time.time() - t0
        row = profilefleet.profile_row({'host': 'bench', 'target': 'server', 'profile': run['name'],
                                        'mode': run['mode'], 'hardware': 'this machine', 'result': res})
        row['wall_s'] = round(wall, 1)
        out.append((row, res))
        print('  %s in %.0f s: %s' % (row['verdict'], wall, (res.get('msg') or '').split('\n')[0][:300]), flush=True)


# Structured output on the real server: vLLM's guided decoding holds even the tiny model (random
# weights) to the schema, so every answer must validate; the same requests with room for only 3 answer
# tokens are cut short, and the gate must count each as invalid_output. Enums and a boolean keep a
# valid answer short whatever the model's weights.
TICKET_SCHEMA = {'type': 'object', 'required': ['status', 'team', 'escalate'], 'additionalProperties': False,
                 'properties': {'status': {'type': 'string', 'enum': ['open', 'pending', 'solved']},
                                'team': {'type': 'string', 'enum': ['billing', 'network', 'accounts']},
                                'escalate': {'type': 'boolean'}}}
STRUCTURED_CASES = (('schema-valid answers', 96, 1.0), ('answers cut short at 3 tokens', 3, 0.0))


def structured_profile(max_tokens):
    return {'name': 'structured-output', 'api': 'chat', 'kind': 'batch',
            'input_tokens': {'kind': 'fixed', 'value': 32}, 'output_tokens': {'kind': 'fixed', 'value': max_tokens},
            'structured_output': {'schema': TICKET_SCHEMA, 'name': 'ticket'}, 'slos': {}}


def measure_structured(a, url):
    """The two structured-output runs: [{case, requests, valid_rate, invalid_output, example, ok}]."""
    out = []
    for case, max_tokens, want in STRUCTURED_CASES:
        print('structured output: %s ...' % case, flush=True)
        o = {'url': url, 'profile': structured_profile(max_tokens), 'mode': 'closed', 'concurrency': 4,
             'num_requests': a.structured_requests, 'seed': a.seed, 'warmup_requests': 0,
             'request_timeout_s': 120.0, 'on_inconclusive': 'warn'}
        try:
            prof = run_gate(o).get('profile') or {}
        except GateError as exc:
            prof = {'invalid_example': 'gate error: %s' % exc.message}
        row = {'case': case, 'max_tokens': max_tokens, 'valid_rate': prof.get('valid_rate'),
               'invalid_output': prof.get('invalid_output'), 'example': prof.get('invalid_example')}
        row['ok'] = row['valid_rate'] == want and (want == 1.0 or row['invalid_output'] == a.structured_requests)
        out.append(row)
        print('  valid %s, invalid_output %s%s' % (row['valid_rate'], row['invalid_output'],
                                                   ', e.g. %s' % str(row['example'])[:200] if row['example'] else ''),
              flush=True)
    return out


def report_rows(rows):
    """The printed table (header first)."""
    lines = [HEADER]
    for r in rows:
        valid = 'n/a' if r['valid_rate'] is None else '%.1f%% of %s' % (100 * r['valid_rate'], r['answers_checked'])
        hit = 'n/a' if r['prefix_cache_hit_rate'] is None else '%.1f%%' % (100 * r['prefix_cache_hit_rate'])
        lines.append([r['profile'], r['mode'], r['verdict'],
                      '%s %s' % (fmt(r['capacity'], 3), rate_label(r['rate_unit'])),
                      fmt(r['output_tokens_per_s']), fmt(r['cost_per_1m_output_tokens'], 4), hit, valid,
                      '%s / %s' % (fmt(r['ttft_first_p50_ms']), fmt(r['ttft_later_p50_ms'])),
                      r['limiting_slo'] or '-', fmt(r.get('wall_s'))])
    return lines


def verdicts(rows, total_s, max_total_s, structured=()):
    """What makes the benchmark fail: a profile not measured (error), a structured-output case not as
    expected, or the run over its time."""
    failed = ['%s: %s' % (r['profile'], r['msg'].split('\n')[0][:200]) for r in rows if r['verdict'] == 'error']
    failed += ['structured output, %s: valid rate %s, invalid_output %s' % (r['case'], r['valid_rate'], r['invalid_output'])
               for r in structured if not r['ok']]
    if total_s > max_total_s:
        failed.append('the run took %.0f s, more than %.0f s' % (total_s, max_total_s))
    return failed


def main(argv=None):
    a = parse_args(argv)
    try:
        runs = profilefleet.role_runs(a.profiles, BUILTIN_DIR, '--profiles')
    except profilefleet.ProfileRunError as exc:
        print(str(exc))
        return 2
    signal.signal(signal.SIGTERM, lambda *_args: sys.exit(143))
    out, structured = [], []
    t0 = time.time()
    workdir = tempfile.mkdtemp(prefix='bench-profiles-')
    try:
        if a.fake:
            from fake_openai_server import FakeServerProcess  # pylint: disable=import-outside-toplevel
            with FakeServerProcess(FAKE) as srv:
                print('fake server on %s (%s)' % (srv.url, FAKE), flush=True)
                measure(a, srv.url, runs, out)
                structured = measure_structured(a, srv.url) if a.structured_requests else []
        else:
            for path, what in ((os.path.join(a.vllm_venv, 'bin', 'python'), '--vllm-venv'),
                               (a.model_dir, '--model-dir')):
                if not os.path.exists(path):
                    print('%s not found (%s; make vllm-assets builds it)' % (path, what))
                    return 2
            port = free_port()
            extra = server_args(TINY_FAMILY) + STRUCTURED_ARGS
            server_cpus = pin_client_and_server() if a.pin else None
            print('starting vLLM (%s, %s) on 127.0.0.1:%d%s ...' % (
                a.model_dir, ' '.join(extra), port,
                ', server on CPUs %s, load client on CPU %s' % (sorted(server_cpus), sorted(os.sched_getaffinity(0)))
                if server_cpus else ''), flush=True)
            with Server(a.vllm_venv, a.model_dir, a.served_model_name, port, workdir, extra_args=extra,
                        cpus=server_cpus) as srv:
                print('ready in %.0f s' % srv.ready_s, flush=True)
                measure(a, srv.url, runs, out)
                structured = measure_structured(a, srv.url) if a.structured_requests else []
    except (BenchError, OSError, RuntimeError) as exc:
        print('could not run the benchmark: %s' % exc)
        return 2
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    total = time.time() - t0
    rows = [r for r, _res in out]
    print()
    print(table(report_rows(rows)))
    print()
    print('%d profiles in %.0f s (server start included), host priced at %s per hour%s.'
          % (len(rows), total, a.cost_per_hour, ' - FAKE SERVER, not a benchmark' if a.fake else ''))
    for r in structured:
        print('structured output (response_format, %d requests), %s: valid rate %s, invalid_output %s'
              % (a.structured_requests, r['case'], fmt(r['valid_rate'], 3), r['invalid_output']))
    figures = {'date': time.strftime('%Y-%m-%d %H:%M:%S %z'), 'fake': a.fake, 'total_s': round(total, 1),
               'cpus': os.cpu_count(), 'pinned': a.pin and not a.fake, 'rows': rows, 'results': [res for _r, res in out], 'structured': structured}
    return finish('bench-profiles', verdicts(rows, total, a.max_total_s, structured), figures, a.json)


if __name__ == '__main__':
    sys.exit(main())
