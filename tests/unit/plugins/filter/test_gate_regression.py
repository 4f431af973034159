# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.inferops.vllm.plugins.filter.gate_regression import FilterModule, gate_regression


def record(rate, version):
    return {'host': 'node1', 'hardware': 'Intel Xeon 8480+', 'scope': 'host', 'model': 'tiny-llama',
            'vllm_version': version, 'profile': None,
            'load': {'mode': 'closed', 'api': 'completions', 'prompt_tokens': 128, 'output_tokens': 64,
                     'concurrency': 8, 'rate': None},
            'capacity': None,
            'throughput': {'output_tokens_per_s': rate, 'requests_per_s': rate / 64.0, 'total_tokens_per_s': rate * 3},
            'verdict': 'pass', 'finished_epoch': 1767225600.1}


def test_registered():
    assert FilterModule().filters() == {'gate_regression': gate_regression}


def test_current_is_the_input_and_previous_the_first_argument():
    # 600 * (1 - 0.10) = 540: 500 is -16.7 % and fails; swapped (500 -> 600) it would pass
    out = gate_regression(record(500.0, '0.32.0'), record(600.0, '0.31.0'), 0.10)
    assert out['status'] == 'fail'
    assert (out['previous'], out['current'], out['floor']) == (600.0, 500.0, 540.0)
    assert out['reason'] == (u'throughput at the fixed load fell from 600.0 to 500.0 output tok/s (-16.7%), '
                             u'below 540.0 = previous \u00d7 (1 \u2212 0.10) (vLLM 0.31.0 \u2192 0.32.0)')


def test_defaults_first_deployment_and_ten_percent():
    out = gate_regression(record(500.0, '0.32.0'))
    assert out['status'] == 'skipped' and out['tolerance'] == 0.10
    assert out['reason'] == 'first deployment on node1: no previous report to compare with'
    # 600 * 0.9 = 540: 545 passes with the default tolerance
    assert gate_regression(record(545.0, '0.32.0'), record(600.0, '0.31.0'))['status'] == 'pass'


@pytest.mark.parametrize('tolerance', [1.0, -0.1, 'lots'])
def test_bad_tolerance_is_a_filter_error(tolerance):
    with pytest.raises(AnsibleFilterError) as exc:
        gate_regression(record(500.0, '0.32.0'), {}, tolerance)
    assert 'gate_regression: validate_regression_tolerance must be' in str(exc.value)
