# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.inferops.vllm.plugins.module_utils import loadstats


def test_percentile_linear_interpolation():
    vals = list(range(1, 101))  # 1..100
    assert loadstats.percentile(vals, 0.5) == pytest.approx(50.5)
    assert loadstats.percentile(vals, 0.95) == pytest.approx(95.05)
    assert loadstats.percentile(vals, 0.99) == pytest.approx(99.01)
    assert loadstats.percentile(vals, 0.0) == 1 and loadstats.percentile(vals, 1.0) == 100
    assert loadstats.percentile([7], 0.99) == 7
    assert loadstats.percentile([], 0.5) is None


def test_summarize_in_ms_with_counts():
    s = loadstats.summarize([0.001 * i for i in range(1, 101)] + [None])
    assert s['count'] == 100
    assert s['min'] == 1.0 and s['max'] == 100.0
    assert s['p50'] == 50.5 and s['p90'] == 90.1 and s['p99'] == 99.01
    assert s['mean'] == 50.5
    empty = loadstats.summarize([])
    assert s['few_samples'] == ['p99', 'p99_9']     # 100 samples: a p95 is trusted, a p99 needs 500
    assert empty == {'count': 0, 'mean': None, 'min': None, 'max': None, 'p50': None, 'p90': None, 'p95': None,
                     'p99': None, 'p99_9': None, 'few_samples': []}
    big = loadstats.summarize([0.001 * i for i in range(1, 5001)])
    assert big['few_samples'] == [] and big['p99_9'] == pytest.approx(4995.001)


def test_samples_needed():
    assert loadstats.samples_needed(0.95) == 100
    assert loadstats.samples_needed(0.99) == 500
    assert loadstats.samples_needed(0.5) == 10


def measured(**kw):
    base = {
        'output_tokens_per_s': {'value': 812.4, 'samples': 1234, 'detail': '1234 requests in 30.0 s'},
        'ttft_p95_ms': {'value': 412.0, 'samples': 1180},
        'itl_p95_ms': {'value': 30.0, 'samples': 1180},
        'error_rate': {'value': 0.0, 'samples': 1234, 'detail': '0 of 1234 requests failed'},
        'token_mismatch': {'value': 0.0, 'samples': 1234},
    }
    base.update(kw)
    return base


def test_slo_messages_one_line_each_with_value_threshold_samples():
    thr = {'min_output_tokens_per_s': 1000, 'max_ttft_p95_ms': 300, 'max_itl_p95_ms': 50, 'max_error_rate': 0.0,
           'max_token_mismatch': 0.0}
    res = loadstats.evaluate_slos(thr, measured())
    by = dict((r['name'], r) for r in res)
    assert by['min_output_tokens_per_s']['status'] == 'fail'
    assert by['min_output_tokens_per_s']['message'] == (
        'output tokens/s: measured 812.4 tok/s, required >= 1000 tok/s (min_output_tokens_per_s), '
        '1234 requests in 30.0 s')
    assert by['max_ttft_p95_ms']['message'] == (
        'TTFT p95: measured 412.0 ms, required <= 300 ms (max_ttft_p95_ms), 1180 samples')
    assert by['max_itl_p95_ms']['status'] == 'pass'
    assert loadstats.verdict(res) == 'fail'
    assert all('\n' not in r['message'] for r in res)


def test_unset_slos_are_skipped_and_pass_verdict():
    res = loadstats.evaluate_slos({'max_error_rate': 0.0, 'max_ttft_p95_ms': None}, measured())
    assert [r['name'] for r in res] == ['max_error_rate']
    assert loadstats.verdict(res) == 'pass'


def test_too_few_samples_is_inconclusive():
    res = loadstats.evaluate_slos({'max_ttft_p95_ms': 300}, measured(ttft_p95_ms={'value': 100.0, 'samples': 40}))
    assert res[0]['status'] == 'inconclusive'
    assert 'only 40 samples, a p95 needs at least 100' in res[0]['message']
    assert loadstats.verdict(res) == 'inconclusive'


def test_not_measured_is_inconclusive_with_reason():
    res = loadstats.evaluate_slos({'max_token_mismatch': 0.0},
                                  measured(token_mismatch={'value': None, 'samples': 0, 'why': 'no /metrics'}))
    assert res[0]['status'] == 'inconclusive' and 'no /metrics' in res[0]['message']


@pytest.mark.parametrize('name, key, value, expected', [
    ('min_output_tokens_per_s', 'output_tokens_per_s', 2000.0, 'pass'),        # a met minimum is a true bound
    ('min_output_tokens_per_s', 'output_tokens_per_s', 10.0, 'inconclusive'),  # the client may be why it is low
    ('max_ttft_p95_ms', 'ttft_p95_ms', 10.0, 'inconclusive'),
    ('max_ttft_p95_ms', 'ttft_p95_ms', 9000.0, 'inconclusive'),
    ('max_error_rate', 'error_rate', 0.5, 'fail'),                 # the server did answer errors
    ('max_error_rate', 'error_rate', 0.0, 'inconclusive'),         # but lighter load may hide errors
    ('max_token_mismatch', 'token_mismatch', 0.2, 'fail'),         # counting does not depend on client speed
    ('max_token_mismatch', 'token_mismatch', 0.0, 'pass'),
])
def test_saturated_client_never_gives_a_false_verdict(name, key, value, expected):
    thr = {'min_output_tokens_per_s': 1000, 'max_ttft_p95_ms': 300, 'max_error_rate': 0.0, 'max_token_mismatch': 0.0}
    m = measured(**{key: dict(measured()[key], value=value)})
    res = loadstats.evaluate_slos({name: thr[name]}, m, saturated=True, saturation_reason='CPU 99%')
    assert res[0]['status'] == expected
    if expected == 'inconclusive':
        assert 'not trusted because CPU 99%' in res[0]['message']


class Req(object):
    def __init__(self, ttft, tpot, e2e, output_tokens=100):
        self.ttft, self.tpot, self.e2e, self.output_tokens = ttft, tpot, e2e, output_tokens


def test_goodput_counts_failures_against_it():
    done = [Req(0.1, 0.01, 1.0), Req(0.5, 0.01, 1.0), Req(None, 0.01, 1.0)]
    # 3 completed, 1 failed: issued = 4
    g = loadstats.goodput(done, {'max_ttft_p95_ms': 200, 'max_e2e_p95_ms': None}, 4, 10.0)
    assert g['good_requests'] == 1 and g['ratio'] == pytest.approx(1 / 4.0)
    assert g['requests_per_s'] == pytest.approx(0.1) and g['output_tokens_per_s'] == pytest.approx(10.0)
    assert g['criteria_ms'] == {'max_ttft_p95_ms': 200}
    everything = loadstats.goodput(done, {}, 4, 10.0)
    assert everything['good_requests'] == 3 and everything['ratio'] == pytest.approx(0.75)
    tpot = loadstats.goodput(done, {'max_tpot_p95_ms': 5}, 3, 10.0)
    assert tpot['good_requests'] == 0


def test_mean_ci_student_t():
    ci = loadstats.mean_ci([10.0, 12.0, 14.0])
    # mean 12, sd 2, t(2) = 4.303: half width 4.303 * 2 / sqrt(3) = 4.969
    assert ci['mean'] == 12.0 and ci['half_width'] == pytest.approx(4.969, abs=1e-3)
    assert ci['ci95'] == [pytest.approx(7.031, abs=1e-3), pytest.approx(16.969, abs=1e-3)]
    assert loadstats.mean_ci([5.0])['ci95'] is None
    assert loadstats.mean_ci([None, None])['n'] == 0


def test_a_pass_whose_interval_crosses_the_slo_is_inconclusive():
    m = {'output_tokens_per_s': {'value': 105.0, 'samples': 300, 'ci95': [90.0, 120.0]}}
    res = loadstats.evaluate_slos({'min_output_tokens_per_s': 100}, m)
    assert res[0]['status'] == 'inconclusive' and 'interval reaches across' in res[0]['message']
    m['output_tokens_per_s']['ci95'] = [101.0, 109.0]
    assert loadstats.evaluate_slos({'min_output_tokens_per_s': 100}, m)[0]['status'] == 'pass'
    m = {'ttft_p95_ms': {'value': 600.0, 'samples': 300, 'ci95': [400.0, 800.0]}}
    # the mean misses: a fail, interval or not
    assert loadstats.evaluate_slos({'max_ttft_p95_ms': 500}, m)[0]['status'] == 'fail'


def test_unknown_slo_names_list_the_known_ones():
    msg = loadstats.check_slo_names({'max_ttft_p95': 1, 'max_e2e_p95_ms': 2}, 'validate_slos')
    assert msg.startswith('validate_slos has unknown SLO name max_ttft_p95;')
    assert all(name in msg for name in loadstats.SLO_OPTIONS)
    assert loadstats.check_slo_names({'max_e2e_p95_ms': 2}) is None


def test_cost_per_million_tokens():
    c = loadstats.cost(3.6, 1000.0, 2000.0)
    # 1000 tok/s = 3.6M tok/h -> 1.0 per 1M output tokens
    assert c == {'host_cost_per_hour': 3.6, 'per_1m_output_tokens': 1.0, 'per_1m_total_tokens': 0.5,
                 'basis': 'capacity'}
    assert loadstats.cost(3.6, 1000.0, 2000.0, 'measured load')['basis'] == 'measured load'
    assert loadstats.cost(None, 1.0, 1.0) is None
    assert loadstats.cost(1.0, 0.0, 0.0)['per_1m_output_tokens'] is None


def test_bounded_difference():
    assert loadstats.bounded_difference(10, 10, 10) == 0
    assert loadstats.bounded_difference(12, 10, 15) == 0
    assert loadstats.bounded_difference(9, 10, 15) == -1
    assert loadstats.bounded_difference(17, 10, 15) == 2


def test_a_miss_far_beyond_the_saturated_clients_own_delay_is_the_servers():
    m = {'ttft_p95_ms': {'value': 3000.0, 'samples': 300}}
    # the client lagged at most 40 ms: a TTFT 2.8 s over its limit is not its doing
    res = loadstats.evaluate_slos({'max_ttft_p95_ms': 200}, m, saturated=True, saturation_reason='CPU 99%',
                                  client_delay_ms=40.0)
    assert res[0]['status'] == 'fail' and 'held requests up by at most 40 ms' in res[0]['message']
    # a miss within the client's delay stays inconclusive
    m = {'ttft_p95_ms': {'value': 230.0, 'samples': 300}}
    res = loadstats.evaluate_slos({'max_ttft_p95_ms': 200}, m, saturated=True, client_delay_ms=40.0)
    assert res[0]['status'] == 'inconclusive'
    # and a pass never becomes trusted that way
    m = {'ttft_p95_ms': {'value': 100.0, 'samples': 300}}
    res = loadstats.evaluate_slos({'max_ttft_p95_ms': 200}, m, saturated=True, client_delay_ms=40.0)
    assert res[0]['status'] == 'inconclusive'
