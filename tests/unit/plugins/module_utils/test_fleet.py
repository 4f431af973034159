# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.inferops.vllm.plugins.module_utils.fleet import FleetError, render_markdown, summarize


def record(host, rate, verdict='pass', model='tiny', hardware='spr', target='front', msg='', cost=None):
    result = {'verdict': verdict, 'msg': msg, 'model': model}
    if rate is not None:
        result['throughput'] = {'output_tokens_per_s': rate, 'requests_per_s': rate / 64.0}
        result['latency_ms'] = {'ttft': {'p95': 12.5}, 'itl': {'p95': 3.25}, 'e2e': {'p95': 250.0}}
        result['requests'] = {'error_rate': 0.0}
    if cost is not None:
        result['cost'] = {'per_1m_output_tokens': cost}
    return {'host': host, 'target': target, 'hardware': hardware, 'runner': 'localhost', 'result': result}


def test_median_and_outlier_per_model_and_hardware():
    summary = summarize([
        record('a', 1000.0), record('b', 1100.0), record('c', 700.0),   # median 1000: c is 30 % below
        record('d', 200.0, hardware='avx2'),                             # alone in its class: never an outlier
    ], outlier_pct=20)
    rows = {r['host']: r for r in summary['rows']}
    assert summary['medians'] == [
        {'model': 'tiny', 'hardware': 'avx2', 'endpoints': 1, 'median_output_tokens_per_s': 200.0},
        {'model': 'tiny', 'hardware': 'spr', 'endpoints': 3, 'median_output_tokens_per_s': 1000.0},
    ]
    assert rows['c']['below_median_pct'] == 30.0 and rows['c']['outlier'] is True
    assert rows['b']['below_median_pct'] == -10.0 and rows['b']['outlier'] is False
    assert rows['d']['below_median_pct'] == 0.0 and rows['d']['outlier'] is False
    assert summary['outliers'] == ['c/front']
    assert summary['passed'] is True


def test_even_count_median_and_threshold_is_strict():
    summary = summarize([record('a', 100.0), record('b', 80.0)], outlier_pct=10)
    assert summary['medians'][0]['median_output_tokens_per_s'] == 90.0
    rows = {r['host']: r for r in summary['rows']}
    assert rows['b']['below_median_pct'] == 11.1 and rows['b']['outlier'] is True
    summary = summarize([record('a', 100.0), record('b', 80.0)], outlier_pct=11.1)
    assert summary['outliers'] == []


def test_failed_and_unmeasured_rows_are_reported_not_averaged():
    summary = summarize([record('a', 500.0), record('b', None, verdict='error', msg='connection refused'),
                         record('c', 100.0, verdict='fail', msg='output tok/s 100 < 400 (n=12)')])
    assert summary['verdicts'] == {'error': 1, 'fail': 1, 'pass': 1}
    assert summary['passed'] is False
    assert summary['medians'][0]['endpoints'] == 2
    page = render_markdown(summary)
    assert '- b/front (error): connection refused' in page
    assert '- c/front (fail): output tok/s 100 < 400 (n=12)' in page


def test_markdown_table_has_one_row_per_endpoint():
    summary = summarize([record('a', 1000.0, cost=0.5), record('b', 700.0, cost=0.71)], outlier_pct=20)
    page = render_markdown(summary, title='T')
    assert page.startswith('# T\n')
    table = [line for line in page.splitlines() if line.startswith('| a ') or line.startswith('| b ')]
    assert len(table) == 2
    assert '| 1000.0 |' in table[0] and '| 0.500 |' in table[0]
    assert '| -17.6% |' in table[1] and 'outlier' not in table[1]  # median 850: 17.6 % below, under 20 %


def test_empty_fleet_does_not_pass():
    assert summarize([])['passed'] is False


@pytest.mark.parametrize('bad', [-1, 100, 250])
def test_bad_outlier_pct(bad):
    with pytest.raises(FleetError, match='outlier_pct'):
        summarize([record('a', 1.0)], bad)


def test_record_without_result_is_named():
    with pytest.raises(FleetError, match="'result'"):
        summarize([{'host': 'a', 'target': 'x'}])
