# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The placement report: rows from the validate role's fleet reports and from classes given as input, the
cheapest class per profile and fleet (answers worked by hand), Markdown, HTML with and without charts,
and bad input."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.inferops.vllm.plugins.module_utils import placement_report as R
from ansible_collections.inferops.vllm.plugins.module_utils.placement import PlacementError


def fleet_doc(rows):
    return {'summary': {'rows': [], 'profiles': {'placement_rows': rows}}, 'results': []}


def prow(profile, klass, cap, price, met=True, cost=None, steps=None):
    return {'profile': profile, 'hardware_class': klass, 'capacity_rps': cap, 'cost_per_hour': price,
            'cost_per_1m': cost, 'slo_met': met, 'slo_excess': None if met else 1.4, 'hosts': 1,
            'rate_unit': 'sessions_per_s', 'source': 'measured', 'steps': steps or []}


CPU = fleet_doc([prow('agentic', 'cpu', 3.0, 1.0, cost=0.9, steps=[{'rate': 2.0, 'ttft_p95_ms': 300.0},
                                                                   {'rate': 4.0, 'ttft_p95_ms': 2600.0}]),
                 prow('long_generation', 'cpu', 0.5, 1.0, cost=3.1)])
# a GPU class from another report: agentic 10 sessions/s, long_generation 4, $5 per host-hour
GPU = [{'profile': 'agentic', 'hardware_class': 'gpu', 'capacity_rps': 10.0, 'cost_per_hour': 5.0, 'cost_per_1m': 1.4},
       {'profile': 'long_generation', 'hardware_class': 'gpu', 'capacity_rps': 4.0, 'cost_per_hour': 5.0,
        'cost_per_1m': 1.9}]


def test_measured_and_input_classes_gpu_wins_one_profile_and_loses_the_other():
    rep = R.build([CPU], GPU, {'agentic': 40, 'long_generation': 4})
    assert [(r['profile'], r['hardware_class'], r['source']) for r in rep['rows']] == [
        ('agentic', 'cpu', 'measured (report 0)'), ('agentic', 'gpu', 'input'),
        ('long_generation', 'cpu', 'measured (report 0)'), ('long_generation', 'gpu', 'input')]
    # agentic: cpu $1/3 = 0.333 per sessions/s-hour beats gpu $5/10 = 0.5; long_generation: gpu 5/4 beats cpu 1/0.5
    assert rep['per_profile']['agentic']['hardware_class'] == 'cpu'
    assert rep['per_profile']['long_generation']['hardware_class'] == 'gpu'
    # 40 agentic: 14 cpu ($14, 42 = 5% headroom); 4 long_generation: 1 gpu ($5) -> $19/h
    f = rep['fleet']
    assert f['profiles']['agentic']['hosts'] == {'cpu': 14} and f['profiles']['long_generation']['hosts'] == {'gpu': 1}
    assert f['cost_per_hour'] == pytest.approx(19.0) and f['profiles']['agentic']['headroom'] == pytest.approx(0.05)
    md = R.markdown(rep)
    assert '- agentic: **cpu**, 3.000 sessions/s per host, $0.9000 per 1M output tokens; then gpu' in md
    assert '| agentic | cpu | 3.000 sessions/s | 1.00 | 0.9000 | yes |' in md
    assert '| agentic | 40.00 sessions/s | 14 x cpu | 42.00 sessions/s | 5.0% | 14.00 |' in md
    assert not [line for line in md.splitlines() if line.startswith(('|', '-')) and 'req/s' in line]
    assert 'Fleet: 14 x cpu, 1 x gpu, 19.00 per hour.' in md


def test_no_class_meets_a_profile_names_the_closest():
    doc = fleet_doc([prow('summarization', 'cpu', None, 1.0, met=False)])
    rep = R.build([doc], [{'profile': 'summarization', 'hardware_class': 'gpu', 'capacity_rps': None,
                           'cost_per_hour': 4.0, 'slo_excess': 2.0}])
    assert rep['per_profile']['summarization']['meets'] is False
    assert 'summarization: no class meets it; closest: cpu (worst SLO figure 1.40x its limit)' in R.markdown(rep)
    assert 'No target mix given' in R.markdown(rep)


def test_the_same_class_measured_twice_keeps_the_slower():
    other = fleet_doc([prow('agentic', 'cpu', 2.5, 1.0)])
    rep = R.build([CPU, other])
    assert [r['capacity_rps'] for r in rep['rows'] if r['profile'] == 'agentic'] == [2.5]


def test_a_target_for_a_profile_no_class_was_measured_on():
    with pytest.raises(PlacementError) as exc:
        R.build([CPU], GPU, {'agentic': 40, 'rag': 2})
    assert "the target mix names profile 'rag', which no hardware class was measured on" in str(exc.value)
    assert 'measured profiles: agentic, long_generation' in str(exc.value)


def test_a_class_with_no_price():
    with pytest.raises(PlacementError) as exc:
        R.build([CPU], [{'profile': 'agentic', 'hardware_class': 'gpu', 'capacity_rps': 10.0}])
    assert "hardware class 'gpu' has no price" in str(exc.value) and 'cost_per_hour' in str(exc.value)


def test_bad_input_classes_and_reports_are_named():
    with pytest.raises(PlacementError) as exc:
        R.build([], [{'profile': 'agentic', 'hardware_class': 'gpu', 'capacity': 10, 'cost_per_hour': 1}])
    assert 'placement_classes[0] has unknown field capacity' in str(exc.value)
    with pytest.raises(PlacementError) as exc:
        R.build([], [{'hardware_class': 'gpu', 'capacity_rps': 10, 'cost_per_hour': 1}])
    assert 'placement_classes[0].profile must be a non-empty string' in str(exc.value)
    with pytest.raises(PlacementError) as exc:
        R.build([{'summary': {'rows': []}}])
    assert 'placement_reports[0] has no workload profile results' in str(exc.value)
    with pytest.raises(PlacementError) as exc:
        R.build([{'rows': []}])
    assert 'placement_reports[0] is not a fleet report' in str(exc.value)
    with pytest.raises(PlacementError) as exc:
        R.build([], [])
    assert 'nothing to place' in str(exc.value)
    with pytest.raises(PlacementError) as exc:
        R.build([CPU], [{'profile': 'agentic', 'hardware_class': 'cpu', 'capacity_rps': 2, 'cost_per_hour': 2}])
    assert "hardware class 'cpu' has two prices" in str(exc.value)


def test_a_profile_in_requests_per_second_keeps_its_unit():
    # rows that say requests_per_s (a multi-turn profile measured by a closed loop) are shown in req/s
    doc = fleet_doc([dict(prow('batch', 'cpu', 6.0, 1.0, cost=0.5), rate_unit='requests_per_s')])
    rep = R.build([doc, CPU], [{'profile': 'batch', 'hardware_class': 'gpu', 'capacity_rps': 30.0, 'cost_per_hour': 4.0,
                                'rate_unit': 'requests_per_s'}], {'batch': 20, 'agentic': 3})
    assert rep['per_profile']['batch']['message'] == 'batch: cheapest on gpu (30 req/s per host at its SLOs)'
    md = R.markdown(rep)
    assert '| batch | cpu | 6.000 req/s |' in md and '| agentic | cpu | 3.000 sessions/s |' in md
    assert '| batch | 20.00 req/s | 1 x gpu | 30.00 req/s |' in md
    page = R.html_page(rep, with_charts=False)[0]
    assert '<td>batch</td><td>cpu</td><td>6.000 req/s</td>' in page


def test_a_profile_given_in_two_units_is_refused():
    with pytest.raises(PlacementError) as exc:
        R.build([CPU], [{'profile': 'agentic', 'hardware_class': 'gpu', 'capacity_rps': 30.0, 'cost_per_hour': 4.0,
                         'rate_unit': 'requests_per_s'}])
    assert "profile 'agentic' is measured in sessions/s on 'cpu' and in req/s on 'gpu'" in str(exc.value)
    with pytest.raises(PlacementError) as exc:
        R.build([CPU], [{'profile': 'agentic', 'hardware_class': 'cpu', 'capacity_rps': 2.0, 'cost_per_hour': 1.0,
                         'rate_unit': 'requests_per_s'}])
    assert "profile 'agentic' on hardware class 'cpu' is given in sessions/s" in str(exc.value)
    with pytest.raises(PlacementError) as exc:
        R.build([], [{'profile': 'agentic', 'hardware_class': 'gpu', 'capacity_rps': 3.0, 'cost_per_hour': 4.0,
                      'rate_unit': 'tokens_per_s'}])
    assert "rate_unit of profile 'agentic' on 'gpu' (row 0) must be one of requests_per_s, sessions_per_s" in str(exc.value)


def test_html_without_charts_says_why():
    page, drawn, note = R.html_page(R.build([CPU], GPU, {'agentic': 40}), with_charts=False)
    assert drawn == 0 and note == R.NO_CHARTS
    assert 'matplotlib is not installed on the controller' in page and '<img' not in page
    assert '<td>agentic</td><td>cpu</td><td>3.000 sessions/s</td><td>1.00</td><td>0.9000</td><td>yes</td>' in page
    assert '<td>agentic</td><td>40.00 sessions/s</td><td>14 x cpu</td><td>42.00 sessions/s</td>' in page
    assert 'Fleet: 14 x cpu, 14.00 per hour.' in page


def test_html_with_charts_when_matplotlib_is_there():
    pytest.importorskip('matplotlib')
    page, drawn, note = R.html_page(R.build([CPU], GPU, {'agentic': 40}), with_charts=True)
    # the cost bars, and agentic's TTFT against offered load (long_generation has no steps)
    assert drawn == 2 and note is None
    assert page.count('<img alt=') == 2 and 'data:image/svg+xml;base64,' in page


def test_have_matplotlib_matches_the_import():
    try:
        import matplotlib  # noqa: F401  pylint: disable=unused-import
        found = True
    except ImportError:
        found = False
    assert R.have_matplotlib() is found
