# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import math
import os

import pytest

from ansible_collections.inferops.vllm.plugins.module_utils.promparse import (
    PromParseError, Snapshot, histogram_bucket_bound, histogram_quantile, parse_text, vllm_delta,
)

FIXTURES = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures', 'metrics'))
MODEL = 'ibm-granite/granite-3.3-2b-instruct'


def load(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return Snapshot(f.read())


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
