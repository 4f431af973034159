# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.inferops.vllm.plugins.filter.cpulist import FilterModule, cpulist


@pytest.mark.parametrize('value, expected', [
    ('0-3,8,10-11', '0-3,8,10-11'),
    (' 3, 1-2 ,0 ', '0-3'),
    ([3, 0, 1, 2, '8-9'], '0-3,8-9'),
    ([5, 5, '5'], '5'),
    (7, '7'),
    ('0', '0'),
    ('', ''),
    ([], ''),
    (None, ''),
    ((1, 3), '1,3'),
    ('0-1,1-2', '0-2'),
])
def test_string_output(value, expected):
    assert cpulist(value) == expected


@pytest.mark.parametrize('value, expected', [
    ('0-3,8', [0, 1, 2, 3, 8]),
    ([2, '0'], [0, 2]),
    ('', []),
    (None, []),
])
def test_list_output(value, expected):
    assert cpulist(value, 'list') == expected


@pytest.mark.parametrize('value, why', [
    ('3-1', 'reversed'),
    ('a-b', 'expected N or N-M'),
    ('1,,2', 'expected N or N-M'),
    ('-1', 'expected N or N-M'),
    (-1, 'CPU numbers run from 0'),
    (True, 'boolean'),
    ([1, False], 'boolean'),
    ([[1]], 'is not a CPU number or cpulist string'),
    ([None], 'is not a CPU number or cpulist string'),
    ({'a': 1}, 'dict is not a CPU list'),
    (1.5, 'float is not a CPU list'),
    ('70000', 'above'),
])
def test_invalid_input_names_the_variable(value, why):
    with pytest.raises(AnsibleFilterError) as err:
        cpulist(value, name='xeon_tuning_inference_cpus')
    message = str(err.value)
    assert message.startswith('xeon_tuning_inference_cpus: invalid CPU list')
    assert why in message
    assert 'expected a cpulist string' in message


def test_bad_output_option():
    with pytest.raises(AnsibleFilterError):
        cpulist('0', 'set')


def test_registered():
    assert FilterModule().filters()['cpulist'] is cpulist
