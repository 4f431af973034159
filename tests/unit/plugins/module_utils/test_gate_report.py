# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.inferops.vllm.plugins.module_utils.gate_report import ReportError, write_reports

RESULT = {
    'verdict': 'fail', 'url': 'http://h:8000', 'model': 'org/model', 'api': 'completions', 'stream': True,
    'mode': 'closed', 'seed': 1, 'msg': 'throughput gate FAILED:\n- TTFT p95: measured 412 ms ...',
    'window': {'duration_s': 30.0},
    'throughput': {'requests_per_s': 5.0, 'output_tokens_per_s': 640.0, 'total_tokens_per_s': 1280.0},
    'requests': {'total': 150, 'failed': 1, 'errors': {'http_500': 1}},
    'latency_ms': {'ttft': {'count': 149, 'mean': 300.0, 'p50': 280.0, 'p90': 390.0, 'p95': 412.0, 'p99': 500.0,
                            'max': 520.0}},
    'slos': [
        {'name': 'max_ttft_p95_ms', 'status': 'fail', 'message': 'TTFT p95: measured 412 ms <x> & "y"',
         'measured': 412.0, 'threshold': 300.0, 'samples': 149, 'unit': 'ms', 'direction': 'max'},
        {'name': 'min_output_tokens_per_s', 'status': 'pass', 'message': 'ok', 'measured': 640.0,
         'threshold': 100.0, 'samples': 149, 'unit': 'tok/s', 'direction': 'min'},
        {'name': 'max_token_mismatch', 'status': 'inconclusive', 'message': 'no metrics', 'measured': None,
         'threshold': 0.0, 'samples': 0, 'unit': '', 'direction': 'max'},
    ],
    'cost': {'host_cost_per_hour': 2.0, 'per_1m_output_tokens': 0.868, 'per_1m_total_tokens': 0.434},
}


def test_reports(tmp_path):
    paths = write_reports(RESULT, str(tmp_path / 'new' / 'dir'), 'host/1')
    assert sorted(os.path.basename(p) for p in paths.values()) == ['host_1.json', 'host_1.junit.xml', 'host_1.md']
    with open(paths['json']) as f:
        assert json.load(f)['verdict'] == 'fail'
    root = ET.parse(paths['junit']).getroot()
    suite = root.find('testsuite')
    assert (suite.get('tests'), suite.get('failures'), suite.get('skipped')) == ('3', '1', '1')
    cases = dict((c.get('name'), c) for c in suite.findall('testcase'))
    assert cases['max_ttft_p95_ms'].find('failure').get('message') == 'TTFT p95: measured 412 ms <x> & "y"'
    assert cases['max_token_mismatch'].find('skipped') is not None
    assert cases['min_output_tokens_per_s'].find('failure') is None
    props = dict((p.get('name'), p.get('value')) for p in suite.find('properties'))
    assert props['verdict'] == 'fail' and props['model'] == 'org/model'
    with open(paths['markdown']) as f:
        md = f.read()
    assert md.startswith('# Throughput gate: FAIL')
    assert '| `max_ttft_p95_ms` | 412.000 ms | <= 300.000 | 149 | fail |' in md
    assert 'per 1M output tokens' in md


def test_error_verdict_gives_a_failing_readiness_case(tmp_path):
    paths = write_reports({'verdict': 'error', 'msg': 'connection refused', 'url': 'http://h:1'}, str(tmp_path))
    suite = ET.parse(paths['junit']).getroot().find('testsuite')
    case = suite.find('testcase')
    assert case.get('name') == 'readiness' and case.find('failure').text == 'connection refused'


def test_unwritable_report_dir(tmp_path):
    f = tmp_path / 'file'
    f.write_text('x')
    with pytest.raises(ReportError) as exc:
        write_reports(RESULT, str(f / 'sub'))
    assert 'report_dir' in str(exc.value)


def test_capacity_schedule_and_cost_basis_in_markdown(tmp_path):
    result = dict(RESULT, mode='capacity', verdict='pass',
                  latency_ms={'itl': {'count': 900, 'p50': 10.0, 'p95': 12.0, 'p99': 30.0, 'p99_9': 1000.0,
                                      'max': 1001.0, 'few_samples': ['p99_9']}},
                  schedule={'offered_rate': 20.0, 'achieved_rate': 19.7, 'arrival': 'constant', 'late_sends': 3,
                            'late_limit_ms': 20.0, 'lateness_ms': {'p50': 0.4, 'p95': 25.0, 'max': 40.0}, 'cap': 32,
                            'in_flight_needed': 4.1, 'cap_waits': 0, 'unsent': 0},
                  capacity={'requests_per_s': 19.5, 'output_tokens_per_s': 312.0, 'total_tokens_per_s': 624.0,
                            'limiting_slo': 'max_ttft_p95_ms', 'bracket': [19.5, 20.3], 'ended': 'converged',
                            'steps': [{'step': 2, 'rate': 39.0, 'verdict': 'fail', 'ttft_p95_ms': 2300.0},
                                      {'step': 1, 'rate': 19.5, 'verdict': 'pass', 'ttft_p95_ms': 120.0,
                                       'output_tokens_per_s': 312.0}]},
                  cost={'host_cost_per_hour': 2.0, 'per_1m_output_tokens': 1.78, 'per_1m_total_tokens': 0.89,
                        'basis': 'capacity'})
    with open(write_reports(result, str(tmp_path))['markdown']) as f:
        md = f.read()
    assert 'capacity search' in md and '## Capacity at SLO' in md and 'limited by max_ttft_p95_ms' in md
    # the curve is ordered by offered rate
    assert md.index('| 1 | 19.500 |') < md.index('| 2 | 39.000 |')
    assert '| ITL | 900 |' in md and '| 1000.00 | 1001.00 | p99.9 |' in md
    assert 'in-flight cap 32' in md and 'at capacity (the highest rate that met every SLO)' in md
    # no workload profile: the rates count requests
    assert '- offered 20.0 req/s (constant), achieved 19.70 req/s' in md
    assert '19.500 req/s, 312.00 output tok/s' in md and '| step | offered req/s | achieved req/s | verdict |' in md
    assert 'sessions/s' not in md
    old = dict(RESULT)
    with open(write_reports(old, str(tmp_path / 'old'))['markdown']) as f:
        assert 'the measured load, not at capacity' in f.read()


def test_a_profile_run_gives_its_rates_in_sessions_per_second(tmp_path):
    # with a workload profile the schedule and the capacity search offer sessions, not requests: every rate of
    # the schedule, the capacity and the step table says sessions/s (the throughput table still counts requests)
    result = dict(RESULT, mode='capacity', verdict='pass',
                  profile={'name': 'agentic', 'kind': 'interactive', 'api': 'chat', 'expects': 'tool_call',
                           'rate_unit': 'sessions_per_s', 'ttft_ms': {}},
                  schedule={'offered_rate': 2.5, 'rate_unit': 'sessions_per_s', 'achieved_rate': 2.4,
                            'arrival': 'poisson', 'late_sends': 0, 'late_limit_ms': 20.0, 'lateness_ms': {}, 'cap': 64,
                            'in_flight_needed': 1.1, 'cap_waits': 0, 'unsent': 0},
                  capacity={'requests_per_s': 2.5, 'rate_unit': 'sessions_per_s', 'output_tokens_per_s': 300.0,
                            'total_tokens_per_s': 900.0, 'limiting_slo': 'max_ttft_p95_ms', 'bracket': [2.5, 2.6],
                            'ended': 'converged',
                            'steps': [{'step': 1, 'rate': 2.5, 'achieved_rate': 2.4, 'verdict': 'pass'}]})
    with open(write_reports(result, str(tmp_path))['markdown']) as f:
        md = f.read()
    assert '- offered 2.5 sessions/s (poisson), achieved 2.40 sessions/s' in md
    assert '2.500 sessions/s, 300.00 output tok/s' in md
    assert '| step | offered sessions/s | achieved sessions/s | verdict |' in md
    assert '| requests | failed | req/s |' in md
    rates = md[md.index('## Schedule'):md.index('## Server cross-check') if '## Server cross-check' in md else None]
    assert 'req/s' not in rates
