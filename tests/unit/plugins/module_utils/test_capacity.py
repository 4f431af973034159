# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The capacity search on its own: a step passes when the rate is at most a known capacity."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.inferops.vllm.plugins.module_utils.capacity import CapacitySearch


def search(true_capacity, start, precision=0.05, **kw):
    s = CapacitySearch(start, precision, **kw)
    while s.next_rate() is not None:
        rate = s.next_rate()
        s.record(rate, 'pass' if rate <= true_capacity else 'fail')
    return s


@pytest.mark.parametrize('start', [1.0, 7.0, 19.5, 20.0, 33.0, 250.0])
def test_converges_from_any_start_within_precision(start):
    s = search(19.5, start)
    assert s.done == 'converged'
    assert s.lo <= 19.5 < s.hi <= s.lo * 1.05
    assert 19.5 * 0.95 <= s.capacity <= 19.5


def test_brackets_upward_then_bisects():
    s = search(19.5, 5.0)
    assert [r for r, _v in s.steps][:4] == [5.0, 10.0, 20.0, 15.0]


def test_nothing_passes_down_to_the_minimum():
    s = search(0.1, 4.0, min_rate=0.5)
    assert s.done == 'below_min' and s.capacity is None
    assert [r for r, _v in s.steps] == [4.0, 2.0, 1.0, 0.5]


def test_everything_passes_up_to_the_maximum():
    s = search(1e9, 4.0, max_rate=20.0)
    assert s.done == 'at_max' and s.capacity == 20.0


def test_an_inconclusive_step_ends_the_search():
    s = CapacitySearch(4.0)
    s.record(4.0, 'pass')
    s.record(8.0, 'inconclusive')
    assert s.done == 'inconclusive' and s.next_rate() is None and s.capacity == 4.0


def test_bad_start():
    with pytest.raises(ValueError):
        CapacitySearch(0)
