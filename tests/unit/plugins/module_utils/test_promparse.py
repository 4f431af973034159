# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import math
import os

import pytest

from ansible_collections.inferops.vllm.plugins.module_utils.promparse import (
    PromParseError, Snapshot, histogram_bucket_bound, histogram_quantile, parse_text, sum_deltas, vllm_delta,
)

FIXTURES = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures', 'metrics'))
MODEL = 'ibm-granite/granite-3.3-2b-instruct'


def read(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return f.read()


def load(name):
    return Snapshot(read(name))


def test_parse_labels_escapes_and_special_values():
    text = '\n'.join([
        '# HELP x A "quoted" help',
        '# TYPE x counter',
        'x_total{a="b\\"c",d="e\\\\f",g="line\\nbreak",h=""} 3',
        'y 1.5e+09 1700000000000',
        'z{le="+Inf"} +Inf',
        'n NaN',
        'spaced{ a = "1" , b="2",} -2',
    ])
    parsed = parse_text(text)
    assert parsed['types'] == {'x': 'counter'}
    s = parsed['samples']
    assert s[0] == ('x_total', {'a': 'b"c', 'd': 'e\\f', 'g': 'line\nbreak', 'h': ''}, 3.0)
    assert s[1] == ('y', {}, 1.5e9)
    assert s[2][2] == float('inf')
    assert math.isnan(s[3][2])
    assert s[4] == ('spaced', {'a': '1', 'b': '2'}, -2.0)


@pytest.mark.parametrize('bad', ['x{a="1"', 'x{a=1} 2', 'x{a="1"}', 'x abc'])
def test_parse_errors_name_the_line(bad):
    with pytest.raises(PromParseError) as exc:
        parse_text('ok 1\n' + bad)
    assert 'line 2' in str(exc.value)


def test_recorded_vllm_page_counters():
    snap = load('vllm_0.10_cpu_after.prom')
    assert snap.model_names() == [MODEL]
    match = {'model_name': MODEL}
    # two data-parallel engines are summed
    assert snap.counter('vllm:generation_tokens_total', match) == 70705 + 2000
    assert snap.counter('vllm:request_success_total', match, {'finished_reason': ('abort', 'error')}) == 10 + 218 + 5
    assert snap.counter('vllm:no_such_metric_total') is None
    assert snap.by_label('vllm:request_success_total', 'finished_reason') == {
        'stop': 10.0, 'length': 223.0, 'abort': 3.0, 'error': 0.0}
    h = snap.histogram('vllm:time_to_first_token_seconds', match)
    assert h['count'] == 228 + 5
    assert h['buckets'][float('inf')] == 233


def test_recorded_vllm_delta():
    d = vllm_delta(load('vllm_0.10_cpu_before.prom'), load('vllm_0.10_cpu_after.prom'), MODEL)
    assert d['model_filter'] == MODEL
    assert d['generation_tokens'] == 16384
    assert d['prompt_tokens'] == 16384
    assert d['requests_success'] == 128          # the aborted request is not a success
    assert d['requests_by_reason'] == {'abort': 1, 'error': 0, 'length': 128, 'stop': 0}
    assert d['preemptions'] == 1
    assert d['prefix_cache_hit_rate'] == pytest.approx(1024 / 16384.0)
    assert d['reset'] is False and d['missing'] == []
    ttft = d['latency']['ttft']
    assert ttft['count'] == 128
    assert ttft['mean_ms'] == pytest.approx(40.0)
    assert (ttft['p50_le_ms'], ttft['p95_le_ms'], ttft['p99_le_ms']) == (40.0, 80.0, 80.0)
    itl = d['latency']['itl']
    assert itl['metric'] == 'vllm:inter_token_latency_seconds'  # preferred over the deprecated TPOT histogram
    assert itl['count'] == 16256 and itl['p50_le_ms'] == 50.0
    e2e = d['latency']['e2e']
    assert e2e['mean_ms'] == pytest.approx(1312.5) and e2e['p50_le_ms'] == 1500.0 and e2e['p95_le_ms'] == 2000.0


def test_delta_model_filter_falls_back_and_reset_detected():
    before = load('vllm_0.10_cpu_after.prom')
    after = load('vllm_0.10_cpu_before.prom')   # counters went backwards: a restart
    d = vllm_delta(before, after, 'another-model')
    assert d['model_filter'] is None
    assert d['reset'] is True


def test_missing_metrics_reported():
    d = vllm_delta(Snapshot('foo 1\n'), Snapshot('foo 2\n'), 'm')
    assert d['generation_tokens'] is None
    assert 'vllm:generation_tokens_total' in d['missing']
    assert d['latency'] == {}


def test_histogram_quantile_interpolates_like_prometheus():
    hist = {'buckets': {0.1: 10.0, 0.2: 30.0, float('inf'): 40.0}, 'sum': 0, 'count': 40}
    assert histogram_quantile(0.25, hist) == pytest.approx(0.1)
    assert histogram_quantile(0.5, hist) == pytest.approx(0.15)
    assert histogram_quantile(0.99, hist) == pytest.approx(0.2)  # +Inf bucket: the last finite bound
    assert histogram_bucket_bound(0.5, hist) == 0.2
    assert histogram_quantile(0.5, {'buckets': {}, 'sum': 0, 'count': 0}) is None


def test_recorded_real_vllm_0_32_cpu():
    """Scraped from vLLM 0.32 (CPU) around 5 completions (16 tokens) and 2 chat completions (8 tokens)."""
    before = load('vllm_0.32_cpu_before.prom')
    after = load('vllm_0.32_cpu_after.prom')
    assert after.model_names() == ['tiny']
    d = vllm_delta(before, after, 'tiny')
    assert (d['generation_tokens'], d['prompt_tokens'], d['requests_success']) == (96, 94, 7)
    assert d['requests_by_reason']['length'] == 7
    assert d['reset'] is False and d['missing'] == []
    assert d['latency']['ttft']['count'] == 7 and d['latency']['e2e']['count'] == 7
    assert d['latency']['itl']['metric'] == 'vllm:inter_token_latency_seconds'
    assert d['latency']['itl']['count'] == 5 * 15 + 2 * 7


def test_prefix_cache_hit_rate_summed_over_two_instances():
    """Two instances behind one front port: their counters add up, and the hit rate is the summed hits over the
    summed queries (weighted by each instance's queries), not the mean of the two rates."""
    a = vllm_delta(load('vllm_0.10_cpu_before.prom'), load('vllm_0.10_cpu_after.prom'), MODEL)
    # instance b: the vLLM 0.32 pages, with 47 of its 94 queried prompt tokens found in its prefix cache
    hits = 'vllm:prefix_cache_hits_total{engine="0",model_name="tiny"} '
    after_b = read('vllm_0.32_cpu_after.prom')
    assert after_b.count(hits + '0.0') == 1
    b = vllm_delta(load('vllm_0.32_cpu_before.prom'), Snapshot(after_b.replace(hits + '0.0', hits + '47.0')), 'tiny')
    assert (a['prefix_cache_hits'], a['prefix_cache_queries']) == (1024, 16384)
    assert (b['prefix_cache_hits'], b['prefix_cache_queries']) == (47, 94)
    assert (a['prefix_cache_hit_rate'], b['prefix_cache_hit_rate']) == (pytest.approx(0.0625), pytest.approx(0.5))
    s = sum_deltas([a, b])
    assert s['instances'] == 2
    assert (s['prefix_cache_hits'], s['prefix_cache_queries']) == (1024 + 47, 16384 + 94)
    assert s['prefix_cache_hit_rate'] == pytest.approx(1071 / 16478.0)        # 6.5%, where the mean of rates is 28%
    assert (s['generation_tokens'], s['prompt_tokens'], s['requests_success']) == (16384 + 96, 16384 + 94, 128 + 7)
    assert s['requests_by_reason']['length'] == 128 + 7 and s['requests_by_reason']['abort'] == 1
    assert s['reset'] is False and s['missing'] == []
    # the order of the instances does not matter; one instance is its own account
    assert sum_deltas([b, a])['prefix_cache_hit_rate'] == s['prefix_cache_hit_rate']
    assert sum_deltas([a]) is a


def test_summed_hit_rate_is_unknown_when_an_instance_has_no_prefix_cache_counters():
    a = vllm_delta(load('vllm_0.10_cpu_before.prom'), load('vllm_0.10_cpu_after.prom'), MODEL)

    def without_prefix(name):
        return Snapshot('\n'.join(line for line in read(name).splitlines() if not line.startswith('vllm:prefix_cache_')))
    b = vllm_delta(without_prefix('vllm_0.32_cpu_before.prom'), without_prefix('vllm_0.32_cpu_after.prom'), 'tiny')
    assert b['prefix_cache_queries'] is None and b['generation_tokens'] == 96
    s = sum_deltas([a, b])
    # a rate over one instance's counters would pass for the host's: none is given
    assert s['prefix_cache_queries'] is None and s['prefix_cache_hit_rate'] is None
    assert s['generation_tokens'] == 16384 + 96
