# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.inferops.vllm.plugins.module_utils.regression import (
    CAPACITY, FIXED_LOAD, check_tolerance, compare)


def record(capacity=812.0, rate=500.0, version='0.32.0', verdict='pass', **changes):
    rec = {
        'host': 'node1', 'hardware': 'Intel Xeon 8480+', 'scope': 'host', 'model': 'tiny-llama',
        'vllm_version': version, 'profile': None,
        'load': {'mode': 'capacity' if capacity is not None else 'closed', 'api': 'completions',
                 'prompt_tokens': 128, 'output_tokens': 64, 'concurrency': 8, 'rate': None},
        'capacity': None if capacity is None else {
            'requests_per_s': capacity / 64.0, 'output_tokens_per_s': capacity,
            'total_tokens_per_s': capacity * 3, 'limiting_slo': 'max_ttft_p95_ms'},
        'throughput': None if rate is None else {
            'output_tokens_per_s': rate, 'requests_per_s': rate / 64.0, 'total_tokens_per_s': rate * 3},
        'verdict': verdict, 'finished_epoch': 1767225600.1,
    }
    for key, value in changes.items():
        if key.startswith('load_'):
            rec['load'][key[5:]] = value
        else:
            rec[key] = value
    return rec


def test_capacity_regression_fails_with_both_figures_floor_and_versions():
    # floor = 812.0 * (1 - 0.10) = 730.8; (640.5 - 812) / 812 = -21.12 %
    out = compare(record(812.0, version='0.31.0'), record(640.5), 0.10)
    assert out == {
        'status': 'fail', 'metric': CAPACITY, 'previous': 812.0, 'current': 640.5,
        'floor': 730.8, 'tolerance': 0.10,
        'reason': u'capacity fell from 812.0 to 640.5 output tok/s (-21.1%), below 730.8 = '
                  u'previous \u00d7 (1 \u2212 0.10) (vLLM 0.31.0 \u2192 0.32.0)',
    }


def test_capacity_within_tolerance_passes():
    # 1000 * 0.95 = 950: 960 is -4.0 %, above the floor
    out = compare(record(1000.0, version='0.31.0'), record(960.0), 0.05)
    assert out['status'] == 'pass'
    assert out['metric'] == CAPACITY
    assert out['floor'] == 950.0
    assert out['reason'] == (u'capacity went from 1000.0 to 960.0 output tok/s (-4.0%), at or above 950.0 = '
                             u'previous \u00d7 (1 \u2212 0.05) (vLLM 0.31.0 \u2192 0.32.0)')


def test_exactly_at_the_floor_passes_and_just_below_fails():
    # 812 * 0.9 is 730.8000000000001 in floating point: 730.8 is at the floor, not below it
    assert compare(record(812.0), record(730.8), 0.10)['status'] == 'pass'
    assert compare(record(812.0), record(730.7), 0.10)['status'] == 'fail'


def test_improvement_passes_and_zero_tolerance_fails_any_drop():
    assert compare(record(800.0), record(900.0), 0.0)['status'] == 'pass'
    out = compare(record(800.0), record(799.0), 0.0)
    assert out['status'] == 'fail' and out['floor'] == 800.0
    assert '(1 \u2212 0.00)' in out['reason'] and '(-0.1%)' in out['reason']


def test_capacity_is_compared_even_when_the_load_differs():
    # the capacity search result does not depend on the starting load
    out = compare(record(812.0, load_concurrency=4), record(640.5, load_concurrency=16), 0.10)
    assert out['status'] == 'fail' and out['metric'] == CAPACITY


def test_same_fixed_load_compares_throughput():
    # 500 * (1 - 0.20) = 400: 390 is -22.0 %
    out = compare(record(None, rate=500.0, version='0.31.0'), record(None, rate=390.0), 0.20)
    assert out['status'] == 'fail'
    assert out['metric'] == FIXED_LOAD
    assert (out['previous'], out['current'], out['floor']) == (500.0, 390.0, 400.0)
    assert out['reason'] == (u'throughput at the fixed load fell from 500.0 to 390.0 output tok/s (-22.0%), '
                             u'below 400.0 = previous \u00d7 (1 \u2212 0.20) (vLLM 0.31.0 \u2192 0.32.0)')
    assert compare(record(None, rate=500.0), record(None, rate=410.0), 0.20)['status'] == 'pass'


def test_capacity_on_one_side_only_falls_back_to_the_same_load():
    # both reports measured the same closed load; only the previous one also searched capacity
    prev = record(812.0, rate=500.0, load_mode='closed')
    out = compare(prev, record(None, rate=300.0), 0.10)
    assert out['metric'] == FIXED_LOAD and out['status'] == 'fail' and out['previous'] == 500.0


@pytest.mark.parametrize('field, old, new, text', [
    ('concurrency', 8, 16, 'concurrency was 8, is 16'),
    ('rate', None, 4.0, 'rate was none, is 4'),
    ('api', 'completions', 'chat', 'api was completions, is chat'),
    ('prompt_tokens', 128, 512, 'prompt_tokens was 128, is 512'),
    ('output_tokens', 64, 128, 'output_tokens was 64, is 128'),
    ('mode', 'closed', 'open', 'mode was closed, is open'),
])
def test_different_load_is_skipped(field, old, new, text):
    out = compare(record(None, **{'load_' + field: old}), record(None, rate=1.0, **{'load_' + field: new}), 0.10)
    assert out['status'] == 'skipped'
    assert out['reason'] == 'the load differs: %s: not compared' % text
    assert out['metric'] is None and out['floor'] is None


def test_load_differences_are_all_listed():
    out = compare(record(None), record(None, load_concurrency=16, load_api='chat'), 0.10)
    assert out['reason'] == 'the load differs: api was completions, is chat; concurrency was 8, is 16: not compared'


@pytest.mark.parametrize('previous', [None, {}])
def test_first_deployment_is_skipped(previous):
    out = compare(previous, record(), 0.10)
    assert out == {'status': 'skipped', 'reason': 'first deployment on node1: no previous report to compare with',
                   'metric': None, 'previous': None, 'current': None, 'floor': None, 'tolerance': 0.10}


@pytest.mark.parametrize('field, old, new, reason', [
    ('model', 'tiny-llama', 'llama-3-8b',
     'previous report is for model tiny-llama, this one for llama-3-8b: not compared'),
    ('hardware', 'AMD EPYC 9654', 'Intel Xeon 8480+',
     'previous report is for hardware AMD EPYC 9654, this one for Intel Xeon 8480+: not compared'),
    ('profile', None, 'latency', 'previous report is for profile none, this one for latency: not compared'),
    ('scope', 'instance', 'host', 'previous report is for scope instance, this one for host: not compared'),
])
def test_other_service_is_skipped(field, old, new, reason):
    # a 50 % drop that would fail if it were compared
    out = compare(record(800.0, **{field: old}), record(400.0, **{field: new}), 0.10)
    assert out['status'] == 'skipped'
    assert out['reason'] == reason


def test_several_identity_differences_are_all_named():
    out = compare(record(model='a', hardware='x'), record(model='b', hardware='y'), 0.10)
    assert out['reason'] == 'previous report is for model a, this one for b; hardware x, this one for y: not compared'


@pytest.mark.parametrize('verdict', ['fail', 'inconclusive', None])
def test_previous_report_that_did_not_pass_is_no_baseline(verdict):
    out = compare(record(812.0, verdict=verdict), record(100.0), 0.10)
    assert out['status'] == 'skipped'
    assert out['reason'] == ("previous report's verdict is %s, not pass: a failed or inconclusive report "
                             "is no baseline" % (verdict or 'none'))


@pytest.mark.parametrize('verdict', ['fail', 'inconclusive'])
def test_current_report_that_did_not_pass_is_not_compared(verdict):
    out = compare(record(812.0), record(100.0, verdict=verdict), 0.10)
    assert out['status'] == 'skipped'
    assert out['reason'].startswith("this report's verdict is %s, not pass" % verdict)


def test_missing_or_unusable_figures_are_skipped():
    missing = record(None, rate=None)
    out = compare(record(None), missing, 0.10)
    assert out['status'] == 'skipped' and out['reason'] == 'no output tok/s at the fixed load in this report: not compared'
    no_figure = record(812.0)
    del no_figure['capacity']['output_tokens_per_s']
    out = compare(no_figure, record(640.5), 0.10)
    assert out['status'] == 'skipped' and out['reason'] == 'no capacity output tok/s in the previous report: not compared'
    out = compare(record(None, rate=0.0), record(None), 0.10)
    assert out['status'] == 'skipped' and out['reason'] == 'previous output tok/s at the fixed load is 0: no baseline to compare with'
    out = compare(record(None, load=None), record(None), 0.10)
    assert out['status'] == 'skipped' and 'load is not recorded in the previous report' in out['reason']


@pytest.mark.parametrize('tolerance, expected', [(0, 0.0), (0.1, 0.1), ('0.25', 0.25), (0.999, 0.999)])
def test_accepted_tolerances(tolerance, expected):
    assert check_tolerance(tolerance) == expected
    assert compare(record(100.0), record(100.0), tolerance)['tolerance'] == expected


@pytest.mark.parametrize('tolerance', [1, 1.0, -0.01, 10, 'ten', None, True, False, float('nan'), float('inf'), [0.1]])
def test_bad_tolerance_raises_naming_the_variable(tolerance):
    with pytest.raises(ValueError) as exc:
        compare(record(), record(), tolerance)
    assert 'validate_regression_tolerance' in str(exc.value)
    assert '0 <= tolerance < 1' in str(exc.value)


def test_bad_tolerance_is_reported_even_on_a_first_deployment():
    with pytest.raises(ValueError):
        compare(None, record(), 1.5)


def test_current_record_must_be_a_dict():
    with pytest.raises(ValueError):
        compare(record(), None, 0.10)
