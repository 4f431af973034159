# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The gate's engine against a fake vLLM server with a known capacity (slots behind a FIFO queue):
open loops that stay open, vllm-bench latency words, capacity at SLO, and the faults around them.

Service time of one request on the fake server = ttft_s + (n - 1) x token_delay_s, so with
``slots`` K its capacity is K / service time requests per second.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import resource
import sys
import threading

import pytest

from ansible_collections.inferops.vllm.plugins.module_utils.gateclient import GateError
from ansible_collections.inferops.vllm.plugins.module_utils.loadgen import run_gate

SUPPORT = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'support')
sys.path.insert(0, SUPPORT)
from fake_openai_server import FakeServerProcess, http_json  # noqa: E402  pylint: disable=wrong-import-position

# 4 slots x (20 ms + 15 x 2 ms) = 4 / 0.05 s = 80 requests/s
KNOWN = {'slots': 4, 'ttft_s': 0.02, 'token_delay_s': 0.002}
OUT = 16
CAPACITY = 80.0
UNLOADED_TTFT_MS = 20.0


@pytest.fixture(scope='module')
def server():
    with FakeServerProcess(KNOWN) as srv:
        yield srv


@pytest.fixture
def fake(server):
    server.configure()
    return server


def base(fake, **kw):
    opts = {'url': fake.url, 'prompt_tokens': 16, 'output_tokens': OUT, 'warmup_requests': 4, 'seed': 7,
            'client_max_cpu': 1.0}
    opts.update(kw)
    return opts


def test_overload_behind_an_in_flight_cap_fails_instead_of_hiding(fake):
    # 1.4 x capacity with a cap of 8: the loop must stay open; latency timed from the schedule
    res = run_gate(base(fake, mode='open', rate=1.4 * CAPACITY, arrival='constant', concurrency=8, duration_s=3,
                        max_ttft_p95_ms=200))
    ttft = res['latency_ms']['ttft']
    assert res['verdict'] == 'fail', res['msg']
    assert ttft['p95'] >= 10 * UNLOADED_TTFT_MS, ttft
    assert res['schedule']['cap_waits'] > 0 and res['schedule']['late_sends'] > 0
    assert res['schedule']['achieved_rate'] < 1.2 * CAPACITY
    assert not res['client']['saturated'], res['client']['reasons']   # the server, not the client, fell behind
    assert 'TTFT p95' in res['msg'] and '(max_ttft_p95_ms)' in res['msg']


def test_below_capacity_the_open_loop_passes(fake):
    res = run_gate(base(fake, mode='open', rate=0.5 * CAPACITY, arrival='constant', duration_s=3,
                        max_ttft_p95_ms=200))
    assert res['verdict'] == 'pass', res['msg']
    assert res['latency_ms']['ttft']['p50'] < 3 * UNLOADED_TTFT_MS
    assert res['schedule']['cap'] >= 16 and res['schedule']['cap_waits'] == 0


def test_capacity_found_near_the_true_value():
    # 8 slots x (50 ms + 15 x 10 ms): 40 requests/s, slow enough per token that the fake server's own CPU
    # (it shares 2 cores with the client and the test run) is not the limit
    with FakeServerProcess({'slots': 8, 'ttft_s': 0.05, 'token_delay_s': 0.01}) as srv:
        res = run_gate(base(srv, mode='capacity', arrival='constant', capacity_step_s=2, capacity_budget_s=90,
                            max_ttft_p95_ms=150, min_output_tokens_per_s=10))
    cap = res['capacity']
    true = 40.0
    assert res['verdict'] == 'pass', res['msg']
    assert abs(cap['requests_per_s'] - true) / true <= 0.15, cap
    assert cap['limiting_slo'] == 'max_ttft_p95_ms' and cap['ended'] in ('converged', 'budget')
    assert cap['steps'][0]['rate'] == pytest.approx(cap['probe']['requests_per_s'], rel=1e-3)
    assert all(s['verdict'] in ('pass', 'fail') for s in cap['steps'])
    assert cap['output_tokens_per_s'] == pytest.approx(cap['requests_per_s'] * OUT, rel=0.2)
    assert res['cost'] is None and 'capacity at SLO' in res['msg']


def test_capacity_that_no_rate_meets(fake):
    res = run_gate(base(fake, mode='capacity', capacity_step_s=0.5, capacity_start_rate=8, capacity_min_rate=2,
                        max_ttft_p95_ms=5, max_error_rate=0.0, host_cost_per_hour=1.0))
    assert res['verdict'] == 'fail', res['msg']
    assert res['capacity']['requests_per_s'] is None and res['capacity']['ended'] == 'below_min'
    assert 'even at 2 req/s' in res['msg'] and 'TTFT p95: measured' in res['msg']
    assert [s['rate'] for s in res['capacity']['steps']] == [8.0, 4.0, 2.0]
    assert res['cost']['per_1m_output_tokens'] is None       # no capacity, no cost at capacity


def test_capacity_budget_too_small_for_one_step(fake):
    with pytest.raises(GateError) as exc:
        run_gate(base(fake, mode='capacity', capacity_step_s=10, capacity_budget_s=5, capacity_start_rate=5,
                      max_ttft_p95_ms=500))
    assert 'capacity_budget_s=5 is too small for one step' in exc.value.message


def test_server_that_dies_in_the_middle_of_a_search():
    # step 1 at 40 req/s (~150 requests) ends; the server dies during step 2. The client's own self-check is
    # relaxed: on a CI host busy with other stages, an event-loop lag in step 1 marked the client saturated, which
    # (rightly) stops the search before the server dies, and this test is about the server dying
    with FakeServerProcess(dict(KNOWN, die_after_requests=250)) as srv:
        with pytest.raises(GateError) as exc:
            run_gate(base(srv, mode='capacity', capacity_step_s=1.5, capacity_start_rate=40, capacity_budget_s=60,
                          max_ttft_p95_ms=500, refused_timeout_s=1, client_max_lag_ms=2000.0))
    msg = exc.value.message
    assert 'stopped answering during capacity step' in msg, msg
    steps = exc.value.result['capacity_trials'][0]['steps']
    assert steps[-1]['verdict'] == 'error' and len(steps) >= 2       # the finished steps are still reported


def test_stalled_stream_shows_in_itl_and_tpot_follows_vllm_bench(fake):
    fake.configure(stall_every=10, stall_s=1.0, stall_after_tokens=4, token_delay_s=0.01)
    res = run_gate(base(fake, mode='closed', concurrency=4, num_requests=40))
    itl = res['latency_ms']['itl']
    assert itl['max'] >= 1000.0 and itl['p99_9'] >= 500.0, itl       # a pooled gap, not a per-request mean
    assert itl['p50'] == pytest.approx(10.0, rel=0.3)
    lat = res['latency_ms']
    # TPOT = (E2E - TTFT) / (n - 1) per request, as vllm bench serve defines it
    assert lat['tpot']['p50'] == pytest.approx((lat['e2e']['p50'] - lat['ttft']['p50']) / (OUT - 1), rel=0.05)


def test_usage_on_the_last_chunk_keeps_ttft(fake):
    fake.configure(usage_on_last_chunk=True)
    res = run_gate(base(fake, concurrency=2, num_requests=20, cross_check=False))
    # the first token comes at ~20 ms, the usage with the last one at ~50 ms
    assert res['latency_ms']['ttft']['p50'] < 35.0 < 45.0 < res['latency_ms']['e2e']['p50']
    assert res['tokens']['counted_from'] == {'usage': 20, 'chunks': 0}
    assert res['latency_ms']['itl']['count'] == 20 * (OUT - 1)


def test_stall_timeout_is_separate_from_the_request_timeout(fake):
    fake.configure(stall_rate=1.0, stall_s=3600, slots=0)
    res = run_gate(base(fake, concurrency=2, num_requests=2, warmup_requests=0, stall_timeout_s=0.5,
                        request_timeout_s=60, cross_check=False))
    assert res['requests']['errors'] == {'stall': 2}
    assert 'stall_timeout_s' in res['requests']['error_examples']['stall']
    assert res['window']['duration_s'] < 3


def test_unsent_arrivals_are_counted_not_dropped(fake):
    fake.configure(stall_rate=1.0, stall_s=3600, slots=0)
    res = run_gate(base(fake, mode='open', rate=20, arrival='constant', concurrency=2, duration_s=1,
                        warmup_requests=0, request_timeout_s=0.8, cross_check=False))
    req = res['requests']
    assert req['total'] in (20, 21), req     # every arrival due in the window is accounted for
    assert req['errors'].get('unsent', 0) + req['errors'].get('unsent_client', 0) >= 10
    assert res['schedule']['unsent'] >= 10


def test_goodput_counts_failures_against_it(fake):
    fake.configure(fail_rate=0.25)
    res = run_gate(base(fake, concurrency=4, num_requests=80, max_error_rate=1.0, max_e2e_p95_ms=10000,
                        cross_check=False))
    g = res['goodput']
    assert g['issued_requests'] == 80 and g['good_requests'] == res['requests']['completed'] < 80
    assert g['ratio'] == pytest.approx(res['requests']['completed'] / 80.0)


def test_foreign_traffic_makes_the_cross_check_inconclusive(fake):
    fake.configure(slots=0)
    stop = threading.Event()

    def other_client():
        while not stop.is_set():
            http_json(fake.url, 'POST', '/v1/completions', {'model': 'tiny-llama', 'prompt': 'x', 'max_tokens': 4})

    t = threading.Thread(target=other_client)
    t.start()
    try:
        res = run_gate(base(fake, concurrency=2, duration_s=1.5))
    finally:
        stop.set()
        t.join()
    cc = res['cross_check']
    assert cc['foreign_requests'] > 0
    slo = [s for s in res['slos'] if s['name'] == 'max_token_mismatch'][0]
    assert slo['status'] == 'inconclusive' and 'did not send' in slo['message']
    assert res['verdict'] == 'inconclusive'


def test_client_out_of_file_descriptors_is_inconclusive(fake):
    fake.configure(slots=0, token_delay_s=0.02, no_tokenize=True)   # calibration one request at a time
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    in_use = len(os.listdir('/proc/self/fd'))
    resource.setrlimit(resource.RLIMIT_NOFILE, (in_use + 12, hard))
    try:
        res = run_gate(base(fake, mode='open', rate=200, arrival='constant', concurrency=64, duration_s=1,
                            warmup_requests=0, cross_check=False))
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert res['requests']['by_side']['client'] > 0, res['requests']
    assert 'client_resources' in res['requests']['errors']
    assert res['verdict'] == 'inconclusive'
    assert any('failed in the client itself' in r for r in res['client']['reasons'])


def test_trials_give_an_interval(fake):
    fake.configure(slots=0)
    res = run_gate(base(fake, concurrency=4, duration_s=1.0, trials=3, min_output_tokens_per_s=1))
    t = res['trials']
    assert t['n'] == 3 and len(t['figures']['output_tokens_per_s']['values']) == 3
    lo, hi = t['figures']['output_tokens_per_s']['ci95']
    assert lo <= t['figures']['output_tokens_per_s']['mean'] <= hi
    slo = [s for s in res['slos'] if s['name'] == 'min_output_tokens_per_s'][0]
    assert slo['ci95'] == [lo, hi] and slo['status'] == 'pass'


def test_several_urls_split_the_load_and_sum_the_metrics(fake):
    fake.configure(slots=0)
    with FakeServerProcess({'token_delay_s': 0.001}) as other:
        res = run_gate(base(fake, urls=[fake.url, other.url], concurrency=4, num_requests=40))
        assert res['cross_check']['ok'] and res['cross_check']['instances'] == 2, res['cross_check']
        assert other.stats()['completed'] >= 20
