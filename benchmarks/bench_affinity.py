#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""make bench-affinity: the front's session affinity vs least connections, agentic profile, 2-instance host.

    python3 benchmarks/bench_affinity.py [--container vllm-cpu-systemd] [--rate 0.4] [--sessions 30]
        [--rounds 3] [--json out.json]

The host is molecule's `vllm_cpu_systemd` (two single-core vLLM CPU instances behind the role's HAProxy
front), deployed by benchmarks/bench_affinity.sh. From this controller the gate's engine (``run_gate``,
the code of the ``inferops.vllm.throughput`` module) sends the built-in agentic profile's sessions,
answered as text (see ``agentic``), through the front in open loop (Poisson, --rate sessions/s,
--sessions sessions, a new seed every run) in two front configurations, alternating their order every
round:

- affinity: the role's configuration as deployed (every request with the session header goes to the
  consistent-hash backend, so every turn of a session reaches one instance);
- leastconn: the same file without its ``use_backend`` line for the session backend (so every request
  is balanced by least connections, as before session affinity), checked with ``haproxy -c`` and
  reloaded. The role's file is put back and HAProxy reloaded at the end, whatever happens.

Each run's prefix-cache hits and queries are the sums of both instances' ``/metrics`` deltas (read inside
the container: the instances listen on its loopback). Every session shares the profile's system prompt,
which both instances cache whichever balancing is used; so the report also gives the hit
rate beyond that shared part: a calibration run of first turns only (turns: 1, the same profile otherwise)
measures the tokens a request finds cached from the shared part alone, S per request, and
``(hits - S x requests) / (queries - S x requests)`` is the share of each session's own context
(its earlier turns and answers) found in the cache.

Prints a row per run and the medians per configuration, and checks what the workload-profile issue asks:
prefix-cache hit rate with affinity >= 2x the leastconn rate (the total, and beyond the shared part), and a
lower later-turn TTFT p50. Exit status 1 when one of them fails or a request failed, 2 when the host could
not be used.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import copy
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
# pylint: disable=wrong-import-position
from bench_gate_vs_vllm_bench import BenchError, ROOT, median_of  # noqa: E402  (also puts the collection on the path)
from bench_faults import podman  # noqa: E402
from report_table import finish, fmt, table  # noqa: E402
from ansible_collections.inferops.vllm.plugins.module_utils import profilefleet  # noqa: E402
from ansible_collections.inferops.vllm.plugins.module_utils.loadgen import GateError, run_gate  # noqa: E402
from ansible_collections.inferops.vllm.plugins.module_utils.promparse import Snapshot, sum_deltas, vllm_delta  # noqa: E402
# pylint: enable=wrong-import-position

BUILTIN_DIR = os.path.join(ROOT, 'roles', 'validate', 'files', 'profiles')
HAPROXY_CFG = '/etc/haproxy/haproxy.cfg'
MODES = ('affinity', 'leastconn')
# Read a URL inside the container (no curl in the image; its python3 is there for Ansible).
FETCH = 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())'
# Installs a front configuration: checked first, then written over the role's file in place (its owner and
# mode kept), then HAProxy reloaded.
INSTALL = ('cat > {cfg}.bench && haproxy -c -q -f {cfg}.bench && cat {cfg}.bench > {cfg} && rm -f {cfg}.bench '
           '&& systemctl reload haproxy').format(cfg=HAPROXY_CFG)


class Host(object):
    """The deployed 2-instance host: its front URL, the key, the instances' counters, the front's config."""

    def __init__(self, container):
        self.container = container
        deployed = json.loads(self.sh('cat /etc/inferops-vllm/deployed.json'))
        self.ports = [i['port'] for i in deployed['instances']]
        if len(self.ports) < 2 or not deployed.get('front_port'):
            raise BenchError('%s has %d instance(s) and front port %r: this benchmark needs 2 behind the front'
                             % (container, len(self.ports), deployed.get('front_port')))
        got = podman('inspect', container, '--format', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}')
        ip = got.stdout.strip()
        if not ip:
            raise BenchError('no IP address for %s: %s' % (container, got.stderr.strip()))
        self.url = 'http://%s:%d' % (ip, deployed['front_port'])
        # the role's root-only env file; kept in memory, never on a command line
        self.key = self.sh("sed -n 's/^VLLM_API_KEY=//p' /etc/inferops-vllm/api-key.env").strip() or None
        self.role_cfg = self.sh('cat ' + HAPROXY_CFG)

    def sh(self, script, stdin=None):
        got = podman('exec', '-i', self.container, 'sh', '-c', script, input=stdin)
        if got.returncode != 0:
            raise BenchError('in %s: %s failed (rc %d): %s' % (self.container, script[:80], got.returncode,
                                                               got.stderr.strip()[-500:]))
        return got.stdout

    def snapshots(self):
        out = []
        for port in self.ports:
            got = podman('exec', self.container, 'python3', '-c', FETCH, 'http://127.0.0.1:%d/metrics' % port)
            if got.returncode != 0:
                raise BenchError('metrics of instance port %d: %s' % (port, got.stderr.strip()[-300:]))
            out.append(Snapshot(got.stdout))
        return out

    def front(self, mode):
        """Install the front configuration of ``mode``; wait until it serves."""
        self.sh(INSTALL, stdin=self.role_cfg if mode == 'affinity' else leastconn_cfg(self.role_cfg))
        time.sleep(2)  # the old HAProxy process hands over its listener


def leastconn_cfg(cfg):
    """The role's configuration without the rule that sends keyed requests to the session backend."""
    lines = cfg.splitlines(True)
    kept = [ln for ln in lines if not ln.lstrip().startswith('use_backend ')]
    if len(lines) - len(kept) != 1:
        raise BenchError('expected one use_backend line in %s, found %d (is session affinity on?)'
                         % (HAPROXY_CFG, len(lines) - len(kept)))
    return ''.join(kept)


def agentic(first_turns_only=False):
    """The built-in agentic profile answered as text (tool_choice none: no tools in the requests, answers
    forced to the profile's 30-80 tokens). With tool calls the gate counted 1,091 of 1,098 requests of the
    first run failed, which left no latency figures: the tiny model's random weights never finish a tool
    call's JSON arguments within max_tokens (bench-profiles on vLLM: "arguments are not JSON"). The
    sessions (shared system prompt, 4-8 turns of growing context, think time) are what the prefix cache
    and the affinity act on. (The profile's tool arguments are bounded now, and the tiny model's calls close;
    the recorded runs were made before, as text: kept so, the answers forced to the calls' 30-80 tokens and
    not the profile's 96-token cap.)"""
    doc = copy.deepcopy(profilefleet.role_runs(['agentic'], BUILTIN_DIR, '--profile')[0]['profile'])
    doc['tool_choice'] = 'none'
    doc['output_tokens'] = {'kind': 'uniform', 'min': 30, 'max': 80}
    if first_turns_only:
        doc.update(name='agentic-first-turns', turns={'min': 1, 'max': 1})
    return doc


def one_run(a, host, mode, seed, profile, sessions):
    """One open-loop run of ``profile`` through the front; the summed counters of both instances."""
    before = host.snapshots()
    opts = {'url': host.url, 'api_key': host.key, 'profile': profile, 'mode': 'open', 'rate': a.rate,
            'num_requests': sessions, 'seed': seed, 'warmup_requests': 0, 'cross_check': False,
            'request_timeout_s': 120.0, 'on_inconclusive': 'warn'}
    t0 = time.time()
    try:
        res = run_gate(opts)
    except GateError as exc:
        raise BenchError('the gate (%s, seed %d): %s' % (mode, seed, exc.message))
    wall = time.time() - t0
    deltas = [vllm_delta(b, x) for b, x in zip(before, host.snapshots())]
    total = sum_deltas(deltas)
    ttft = (res.get('profile') or {}).get('ttft_ms') or {}
    req = res.get('requests') or {}
    return {'mode': mode, 'seed': seed, 'wall_s': round(wall, 1), 'verdict': res.get('verdict'),
            'requests': total['requests_success'], 'failed': req.get('failed'),
            'per_instance': [d['requests_success'] for d in deltas],
            'hits': total['prefix_cache_hits'], 'queries': total['prefix_cache_queries'],
            'hit_rate': total['prefix_cache_hit_rate'],
            'ttft_first_p50': (ttft.get('first_turns') or {}).get('p50'),
            'ttft_later_p50': (ttft.get('later_turns') or {}).get('p50'),
            'ttft_later_p95': (ttft.get('later_turns') or {}).get('p95')}


def own_context_rate(run, shared):
    """Hit rate beyond the shared part: the share of each request's own context found in the cache."""
    n = run['requests'] or 0
    beyond = run['queries'] - shared * n
    return (run['hits'] - shared * n) / beyond if beyond > 0 else None


def ratio(x, y):
    return x / y if x is not None and y else None


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    p.add_argument('--container', default='vllm-cpu-systemd')
    p.add_argument('--rate', type=float, default=0.4, help='sessions per second (open loop, Poisson)')
    p.add_argument('--sessions', type=int, default=30, help='sessions per run')
    p.add_argument('--rounds', type=int, default=3)
    p.add_argument('--seed', type=int, default=2000)
    p.add_argument('--json', help='write the runs and figures here')
    return p.parse_args(argv)


def measure(a, host):
    runs = []
    host.front('leastconn')
    print('warm-up and calibration: first turns only, leastconn (both instances cache the shared part) ...',
          flush=True)
    one_run(a, host, 'leastconn', a.seed, agentic(first_turns_only=True), 10)
    cal = one_run(a, host, 'leastconn', a.seed + 1, agentic(first_turns_only=True), 20)
    shared = cal['hits'] / float(cal['requests'])
    print('  %d first turns: %.1f tokens per request found cached (the shared part), %.1f queried'
          % (cal['requests'], shared, cal['queries'] / float(cal['requests'])), flush=True)
    for rnd in range(a.rounds):
        order = MODES if rnd % 2 == 0 else MODES[::-1]
        for mode in order:
            seed = a.seed + 10 + len(runs)
            host.front(mode)
            print('round %d/%d: %s, seed %d ...' % (rnd + 1, a.rounds, mode, seed), flush=True)
            run = one_run(a, host, mode, seed, agentic(), a.sessions)
            run['own_context_hit_rate'] = own_context_rate(run, shared)
            runs.append(run)
    return cal, shared, runs


def report(runs):
    rows = [['run', 'front', 'seed', 'requests (per instance)', 'failed', 'prefix-cache hit rate',
             'beyond the shared part', 'TTFT p50 first turns ms', 'TTFT p50 later turns ms',
             'TTFT p95 later turns ms', 'wall s']]
    for n, r in enumerate(runs):
        rows.append([n + 1, r['mode'], r['seed'], '%s (%s)' % (r['requests'], '/'.join(str(x) for x in r['per_instance'])),
                     r['failed'], fmt(r['hit_rate'], 3), fmt(r['own_context_hit_rate'], 3),
                     fmt(r['ttft_first_p50']), fmt(r['ttft_later_p50']), fmt(r['ttft_later_p95']), r['wall_s']])
    return table(rows)


def verdicts(med, runs):
    failed = []
    for key, what in (('hit_rate', 'prefix-cache hit rate'), ('own_context_hit_rate', 'hit rate beyond the shared part')):
        x = ratio(med['affinity'][key], med['leastconn'][key])
        if x is None or x < 2.0:
            failed.append('%s with affinity %s x the leastconn rate (< 2)' % (what, fmt(x, 2)))
    a_ttft, l_ttft = med['affinity']['ttft_later_p50'], med['leastconn']['ttft_later_p50']
    if a_ttft is None or l_ttft is None or a_ttft >= l_ttft:
        failed.append('later-turn TTFT p50 with affinity %s ms, not lower than leastconn %s ms'
                      % (fmt(a_ttft), fmt(l_ttft)))
    bad = sum(r['failed'] or 0 for r in runs)
    if bad:
        failed.append('%d request(s) failed' % bad)
    return failed


def main(argv=None):
    a = parse_args(argv)
    try:
        host = Host(a.container)
    except (BenchError, ValueError, KeyError) as exc:
        print('could not use the host: %s' % exc)
        return 2
    print('front %s, instances on the container loopback ports %s; agentic profile at %s sessions/s, %d per run'
          % (host.url, host.ports, a.rate, a.sessions), flush=True)
    try:
        cal, shared, runs = measure(a, host)
    except BenchError as exc:
        print('could not run the benchmark: %s' % exc)
        return 2
    finally:
        try:
            host.front('affinity')  # the role's file back, whatever happened
        except BenchError as exc:
            print('COULD NOT PUT THE ROLE\'S HAPROXY CONFIGURATION BACK: %s' % exc)
    med = {m: {k: median_of(r[k] for r in runs if r['mode'] == m)
               for k in ('hit_rate', 'own_context_hit_rate', 'ttft_later_p50', 'ttft_first_p50')} for m in MODES}
    print()
    print(report(runs))
    print()
    for m in MODES:
        print('median %-9s: hit rate %s, beyond the shared part %s, TTFT p50 first turns %s ms, later turns %s ms'
              % (m, fmt(med[m]['hit_rate'], 3), fmt(med[m]['own_context_hit_rate'], 3),
                 fmt(med[m]['ttft_first_p50']), fmt(med[m]['ttft_later_p50'])))
    print('affinity / leastconn: hit rate %s x, beyond the shared part %s x, later-turn TTFT p50 %s x'
          % (fmt(ratio(med['affinity']['hit_rate'], med['leastconn']['hit_rate']), 2),
             fmt(ratio(med['affinity']['own_context_hit_rate'], med['leastconn']['own_context_hit_rate']), 2),
             fmt(ratio(med['affinity']['ttft_later_p50'], med['leastconn']['ttft_later_p50']), 2)))
    figures = {'date': time.strftime('%Y-%m-%d %H:%M:%S %z'), 'rate': a.rate, 'sessions': a.sessions,
               'calibration': cal, 'shared_cached_tokens_per_request': shared, 'runs': runs, 'medians': med}
    return finish('bench-affinity', verdicts(med, runs), figures, a.json)


if __name__ == '__main__':
    sys.exit(main())
