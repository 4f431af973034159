# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Placement: cheapest class per profile and the exact cheapest fleet, on cases worked by hand
(each answer is derived in the comments), plus bad input."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import itertools

import pytest

from ansible_collections.inferops.vllm.plugins.module_utils.placement import (
    PlacementError, best_per_profile, cheapest_fleet, placement,
)


def row(profile, klass, cap, price, met=True, cost_1m=None, excess=None):
    r = {'profile': profile, 'hardware_class': klass, 'capacity_rps': cap, 'cost_per_hour': price,
         'cost_per_1m': cost_1m, 'slo_met': met}
    if excess is not None:
        r['slo_excess'] = excess
    return r


# Case 2 rows: CPU $1/h, GPU $5/h.
#   agentic:          CPU 3 req/s ($0.333 per req/s-hour), GPU 10 req/s ($0.50)  -> CPU wins
#   long_generation:  CPU 0.5 req/s ($2.00),               GPU 4 req/s ($1.25)   -> GPU wins
MIXED = [row('agentic', 'cpu', 3.0, 1.0, cost_1m=0.9), row('agentic', 'gpu', 10.0, 5.0, cost_1m=1.4),
         row('long_generation', 'cpu', 0.5, 1.0, cost_1m=3.1), row('long_generation', 'gpu', 4.0, 5.0, cost_1m=1.9)]


def test_case1_one_profile_mixing_classes_beats_the_cheapest_class_alone():
    # CPU 2 req/s at $1, GPU 10 req/s at $4: GPU is the cheaper class ($0.40 vs $0.50 per req/s-hour).
    # Target 12 req/s, minimal covers of 2c + 10g >= 12: g=2 ($8), g=1 c=1 ($5, exactly 12), g=0 c=6 ($6).
    # Cheapest: 1 GPU + 1 CPU = $5/h, capacity 12, headroom 0.
    rows = [row('chat', 'cpu', 2.0, 1.0), row('chat', 'gpu', 10.0, 4.0)]
    assert best_per_profile(rows)['chat']['hardware_class'] == 'gpu'
    assert best_per_profile(rows)['chat']['ranking'] == ['gpu', 'cpu']
    f = cheapest_fleet(rows, {'chat': 12})
    assert f['profiles']['chat']['hosts'] == {'cpu': 1, 'gpu': 1}
    assert f['cost_per_hour'] == pytest.approx(5.0)
    assert f['profiles']['chat']['capacity_rps'] == pytest.approx(12.0)
    assert f['profiles']['chat']['headroom'] == pytest.approx(0.0)
    assert f['shared_hosts'] is False


def test_case2_gpu_wins_one_profile_and_loses_another():
    best = best_per_profile(MIXED)
    assert best['agentic']['hardware_class'] == 'cpu' and best['agentic']['cost_per_1m'] == 0.9
    assert best['long_generation']['hardware_class'] == 'gpu'
    assert best['agentic']['cost_per_rps_hour'] == pytest.approx(1 / 3.0)
    # Target 40 agentic + 4 long_generation:
    # agentic, 3c + 10g >= 40: g=0 c=14 ($14); g=1 c=10 ($15); g=2 c=7 ($17); g=3 c=4 ($17); g=4 ($20) -> 14 CPU
    #   capacity 42, headroom 2/40 = 0.05
    # long_generation, 0.5c + 4g >= 4: g=1 ($5); g=0 c=8 ($8) -> 1 GPU, capacity 4, headroom 0
    # fleet: 14 CPU + 1 GPU = $19/h
    f = cheapest_fleet(MIXED, {'agentic': 40, 'long_generation': 4})
    assert f['profiles']['agentic']['hosts'] == {'cpu': 14}
    assert f['profiles']['agentic']['headroom'] == pytest.approx(0.05)
    assert f['profiles']['agentic']['spare_rps'] == pytest.approx(2.0)
    assert f['profiles']['long_generation']['hosts'] == {'gpu': 1}
    assert f['hosts'] == {'cpu': 14, 'gpu': 1}
    assert f['cost_per_hour'] == pytest.approx(19.0)


def test_case3_no_class_meets_a_profile_names_the_closest():
    # summarization misses its SLOs on both; the GPU's worst SLO figure is 1.2x its limit, the CPU's 1.8x.
    rows = MIXED + [row('summarization', 'cpu', None, 1.0, met=False, excess=1.8),
                    row('summarization', 'gpu', None, 5.0, met=False, excess=1.2)]
    best = best_per_profile(rows)['summarization']
    assert best['meets'] is False and best['hardware_class'] is None and best['closest'] == 'gpu'
    assert best['message'] == 'summarization: no class meets it; closest: gpu (worst SLO figure 1.20x its limit)'
    with pytest.raises(PlacementError, match="no hardware class meets the SLOs of profile 'summarization'"):
        cheapest_fleet(rows, {'summarization': 1})
    # a profile nobody asks for does not stop the others' fleet
    assert cheapest_fleet(rows, {'agentic': 40})['cost_per_hour'] == pytest.approx(14.0)


def test_case4_inventory_makes_profiles_compete_for_hosts():
    # No GPU on hand: long_generation needs 8 CPU ($8), agentic 14 CPU ($14): 22 CPU, $22.
    f = cheapest_fleet(MIXED, {'agentic': 40, 'long_generation': 4}, available={'gpu': 0})
    assert f['hosts'] == {'cpu': 22} and f['cost_per_hour'] == pytest.approx(22.0)
    # At most 12 CPU: agentic cannot take 14 CPU. long_generation keeps 1 GPU ($5); agentic's cheapest
    # cover with <= 12 CPU is g=1 c=10 ($15) (g=2 c=7 is $17): total $20, 10 CPU + 2 GPU.
    f = cheapest_fleet(MIXED, {'agentic': 40, 'long_generation': 4}, available={'cpu': 12, 'gpu': 5})
    assert f['profiles']['agentic']['hosts'] == {'cpu': 10, 'gpu': 1}
    assert f['profiles']['long_generation']['hosts'] == {'gpu': 1}
    assert f['hosts'] == {'cpu': 10, 'gpu': 2} and f['cost_per_hour'] == pytest.approx(20.0)
    # Too few hosts for any combination: 3 CPU and 1 GPU cannot give 40 + 4 req/s.
    with pytest.raises(PlacementError, match='cannot serve the target mix'):
        cheapest_fleet(MIXED, {'agentic': 40, 'long_generation': 4}, available={'cpu': 3, 'gpu': 1})


def test_case5_the_most_cost_efficient_class_is_not_always_in_the_cheapest_fleet():
    # A: 7 req/s at $7 ($1.00 per req/s-hour), B: 5 req/s at $5.5 ($1.10). Target 10 req/s:
    # 2A = $14 (14 req/s), A+B = $12.5 (12), 2B = $11 (exactly 10) -> 2 B, although A is the best class.
    rows = [row('rag', 'a', 7.0, 7.0), row('rag', 'b', 5.0, 5.5)]
    assert best_per_profile(rows)['rag']['hardware_class'] == 'a'
    f = cheapest_fleet(rows, {'rag': 10})
    assert f['profiles']['rag']['hosts'] == {'b': 2} and f['cost_per_hour'] == pytest.approx(11.0)


def test_case6_exact_multiples_and_float_capacities_need_no_extra_host():
    # 2.5 req/s per host, target 10: exactly 4 hosts (headroom 0); 0.1 req/s per host, target 0.3:
    # 3 hosts, although 3 x 0.1 is 0.30000000000000004 in floating point.
    assert cheapest_fleet([row('p', 'x', 2.5, 3.0)], {'p': 10})['hosts'] == {'x': 4}
    assert cheapest_fleet([row('p', 'x', 0.1, 3.0)], {'p': 0.3})['hosts'] == {'x': 3}
    # a zero target needs no host
    f = cheapest_fleet(MIXED, {'agentic': 0, 'long_generation': 4})
    assert f['profiles']['agentic']['hosts'] == {} and f['hosts'] == {'gpu': 1}


def test_ties_prefer_fewer_hosts():
    # X: 1 req/s at $1, Y: 2 req/s at $2. Target 2: 2 X or 1 Y, both $2 -> the single Y host.
    f = cheapest_fleet([row('p', 'x', 1.0, 1.0), row('p', 'y', 2.0, 2.0)], {'p': 2})
    assert f['hosts'] == {'y': 1}


def brute_force(rows, target):
    """Every count vector up to a generous bound: the reference for the exact search."""
    classes = sorted(set(r['hardware_class'] for r in rows))
    best = None
    for counts in itertools.product(range(0, 16), repeat=len(classes)):
        total = 0.0
        ok = True
        for p, t in target.items():
            cap = sum(k * r['capacity_rps'] for k, c in zip(counts, classes) for r in rows
                      if r['profile'] == p and r['hardware_class'] == c)
            ok = ok and cap >= t - 1e-9
        if ok:
            total = sum(k * [r['cost_per_hour'] for r in rows if r['hardware_class'] == c][0]
                        for k, c in zip(counts, classes))
            best = total if best is None else min(best, total)
    return best


@pytest.mark.parametrize('caps,prices,target', [
    ((3.0, 7.0, 11.0), (1.0, 2.2, 3.1), 23.0),
    ((1.5, 4.0, 9.5), (0.7, 1.9, 4.0), 17.25),
    ((2.0, 5.0, 6.0), (2.0, 4.9, 5.8), 13.0),
])
def test_single_profile_matches_brute_force(caps, prices, target):
    rows = [row('p', 'c%d' % i, c, h) for i, (c, h) in enumerate(zip(caps, prices))]
    assert cheapest_fleet(rows, {'p': target})['cost_per_hour'] == pytest.approx(brute_force(rows, {'p': target}))


# -- bad input -------------------------------------------------------------------------------------
def test_target_for_a_profile_no_class_was_measured_on():
    with pytest.raises(PlacementError) as exc:
        cheapest_fleet(MIXED, {'agentic': 4, 'chat': 2})
    assert str(exc.value) == ("the target mix names profile 'chat', which no hardware class was measured on; "
                              'measured profiles: agentic, long_generation')


def test_class_with_no_price():
    rows = MIXED + [row('agentic', 'xeon-max', 5.0, None)]
    with pytest.raises(PlacementError) as exc:
        best_per_profile(rows)
    assert "hardware class 'xeon-max' has no price" in str(exc.value)
    assert 'validate_host_cost_per_hour' in str(exc.value)


@pytest.mark.parametrize('rows,target,available,message', [
    (MIXED + [row('agentic', 'gpu', 9.0, 5.0)], None, None,
     "profile 'agentic' on hardware class 'gpu' is measured twice"),
    (MIXED[:1] + [row('long_generation', 'cpu', 1.0, 2.0)], None, None, "hardware class 'cpu' has two prices"),
    ([row('a', 'cpu', 1.0, 0)], None, None, "cost_per_hour of hardware class 'cpu' (row 0) must be a number > 0"),
    ([row('a', 'cpu', -1.0, 1.0)], None, None, 'must be a number >= 0 or null'),
    ([], None, None, 'non-empty list'),
    (MIXED, {'agentic': -1}, None, "target rate of profile 'agentic' must be a number >= 0"),
    (MIXED, {'agentic': 1}, {'tpu': 2}, "available names hardware class 'tpu', which was not measured"),
    (MIXED, {'agentic': 1}, {'cpu': -2}, "available['cpu'] must be an integer >= 0"),
])
def test_bad_input(rows, target, available, message):
    with pytest.raises(PlacementError) as exc:
        if target is None:
            best_per_profile(rows)
        else:
            cheapest_fleet(rows, target, available)
    assert message in str(exc.value)


def test_placement_gives_both_answers():
    out = placement(MIXED, {'agentic': 40, 'long_generation': 4})
    assert out['per_profile']['agentic']['hardware_class'] == 'cpu'
    assert out['fleet']['cost_per_hour'] == pytest.approx(19.0)
    assert placement(MIXED)['fleet'] is None


def test_rates_are_named_in_the_rows_unit():
    # rows without a rate_unit are sessions/s (the gate's capacity with a workload profile); rows that say
    # requests_per_s keep req/s, in the per-profile message, the fleet and the errors about that profile's target
    reqs = [dict(r, rate_unit='requests_per_s') for r in MIXED if r['profile'] == 'long_generation']
    rows = [r for r in MIXED if r['profile'] == 'agentic'] + reqs
    best = best_per_profile(rows)
    assert best['agentic']['message'] == 'agentic: cheapest on cpu (3 sessions/s per host at its SLOs)'
    assert best['long_generation']['message'] == 'long_generation: cheapest on gpu (4 req/s per host at its SLOs)'
    f = cheapest_fleet(rows, {'agentic': 40, 'long_generation': 4})
    assert f['profiles']['agentic']['rate_unit'] == 'sessions_per_s'
    assert f['profiles']['long_generation']['rate_unit'] == 'requests_per_s'
    with pytest.raises(PlacementError) as exc:
        cheapest_fleet(rows, {'long_generation': -1})
    assert "target rate of profile 'long_generation' must be a number >= 0 (req/s), got -1" in str(exc.value)
    with pytest.raises(PlacementError) as exc:
        cheapest_fleet(rows, {'agentic': -1})
    assert "target rate of profile 'agentic' must be a number >= 0 (sessions/s), got -1" in str(exc.value)
    with pytest.raises(PlacementError) as exc:
        cheapest_fleet([row('rag', 'cpu', None, 1.0, met=False, excess=2.0)], {'rag': 4})
    assert 'so no fleet can serve its 4 sessions/s' in str(exc.value)
    with pytest.raises(PlacementError) as exc:
        cheapest_fleet([dict(row('chat', c, 0.001, 1.0), rate_unit='requests_per_s') for c in 'abc'], {'chat': 1})
    assert str(exc.value).startswith('target 1 req/s needs up to [1000, 1000, 1000] hosts of a class')
    with pytest.raises(PlacementError) as exc:
        best_per_profile([row('chat', 'cpu', 2.0, 1.0), dict(row('chat', 'gpu', 9.0, 4.0), rate_unit='requests_per_s')])
    assert "profile 'chat' is measured in sessions/s on 'cpu' and in req/s on 'gpu' (row 1)" in str(exc.value)
