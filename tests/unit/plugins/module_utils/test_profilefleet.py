# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Workload profiles across a fleet: the validate role's profile runs (validate_profiles), one report row per
host and profile, the placement inputs per class, and the report section; recorded results shaped as the
throughput module returns them."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible_collections.inferops.vllm.plugins.module_utils import profiles as P
from ansible_collections.inferops.vllm.plugins.module_utils import profilefleet as F
from ansible_collections.inferops.vllm.plugins.module_utils.fleet import render_markdown, summarize as fleet_summarize

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
BUILTIN_DIR = os.path.join(ROOT, 'roles', 'validate', 'files', 'profiles')
BUILTINS = ['agentic', 'batch', 'chat', 'long_generation', 'rag', 'summarization']


def result(profile, capacity=2.0, verdict='pass', price=1.0, hit=0.0, valid=None, checked=0, turns=1, prefix=0,
           out_tps=100.0, slos=None, mode='capacity'):
    """A throughput result with a profile, as the module returns it (only the keys the rows read)."""
    res = {
        'verdict': verdict, 'msg': '%s: %s' % (profile, verdict), 'model': 'tiny-llama', 'mode': mode,
        'capacity': {'requests_per_s': capacity, 'output_tokens_per_s': out_tps if capacity else None,
                     'total_tokens_per_s': 3 * out_tps if capacity else None, 'limiting_slo': 'max_ttft_p95_ms',
                     'rate_unit': 'sessions_per_s',
                     'steps': [{'rate': 4.0, 'verdict': 'fail', 'ttft_p95_ms': 2500.0},
                               {'rate': 2.0, 'verdict': 'pass', 'ttft_p95_ms': 300.0}]} if mode == 'capacity' else None,
        'throughput': {'requests_per_s': capacity, 'output_tokens_per_s': out_tps, 'total_tokens_per_s': 3 * out_tps},
        'cost': {'host_cost_per_hour': price, 'basis': 'capacity',
                 'per_1m_output_tokens': round(price / (out_tps * 3600.0) * 1e6, 6) if price else None,
                 'per_1m_total_tokens': round(price / (3 * out_tps * 3600.0) * 1e6, 6) if price else None}
        if price is not None else None,
        'cross_check': {'available': True, 'server': {'prefix_cache_hit_rate': hit}},
        'profile': {'name': profile, 'expects': 'tool_call' if valid is not None else 'text', 'valid_rate': valid,
                    'answers_checked': checked, 'invalid_output': 0, 'turns': {'min': turns, 'max': turns},
                    'shared_prefix': {'tokens': prefix, 'count': 1}, 'rate_unit': 'sessions_per_s',
                    'ttft_ms': {'first_turns': {'count': 10, 'p50': 220.0, 'p95': 300.0},
                                'later_turns': {'count': 30 if turns > 1 else 0, 'p50': 90.0 if turns > 1 else None,
                                                'p95': 140.0 if turns > 1 else None}}},
        'slos': slos or [{'name': 'max_ttft_p95_ms', 'measured': 300.0, 'threshold': 2000, 'status': 'pass'}],
    }
    return res


def record(host, hardware, profile, res, mode='capacity'):
    return {'host': host, 'target': 'front', 'profile': profile, 'mode': mode, 'runner': 'localhost',
            'hardware': hardware, 'scope': 'host', 'result': res}


# -- validate_profiles -> runs ----------------------------------------------------------------
def test_runs_of_built_ins_and_a_dict_with_their_modes():
    own = {'name': 'mine', 'input_tokens': 32, 'output_tokens': 16, 'slos': {'max_e2e_p95_ms': 900}}
    runs = F.role_runs(['agentic', 'batch', own], BUILTIN_DIR)
    assert [(r['name'], r['mode']) for r in runs] == [
        ('agentic', 'capacity'), ('batch', 'closed'), ('mine', 'capacity')]
    # batch has no latency SLO: throughput only, so a closed loop (a capacity search needs a latency SLO)
    assert not runs[1]['profile'].get('slos')
    # the module gets the profile as written and validates it
    assert runs[2]['profile'] is own
    assert P.validate(runs[0]['profile']) == P.load_builtin('agentic', BUILTIN_DIR)


def test_every_built_in_is_a_run():
    assert [r['name'] for r in F.role_runs(list(BUILTINS), BUILTIN_DIR)] == BUILTINS
    assert F.role_runs(None, BUILTIN_DIR) == [] and F.role_runs([], BUILTIN_DIR) == []


def test_unknown_profile_name_lists_the_built_ins():
    with pytest.raises(F.ProfileRunError) as exc:
        F.role_runs(['agentic', 'chatty'], BUILTIN_DIR)
    msg = str(exc.value)
    assert msg.startswith('validate_profiles: ') and "'chatty'" in msg
    assert 'agentic, batch, chat, long_generation, rag, summarization' in msg


def test_profiles_not_a_list_and_an_invalid_dict_are_named():
    with pytest.raises(F.ProfileRunError) as exc:
        F.role_runs('agentic', BUILTIN_DIR)
    assert 'validate_profiles must be a list' in str(exc.value) and 'long_generation' in str(exc.value)
    with pytest.raises(F.ProfileRunError) as exc:
        F.role_runs([{'name': 'x', 'input_tokens': 8, 'output_tokens': 8, 'turns': 0}], BUILTIN_DIR)
    assert "profile 'x'" in str(exc.value) and 'turns' in str(exc.value)
    with pytest.raises(F.ProfileRunError) as exc:
        F.role_runs(['chat', 'chat'], BUILTIN_DIR)
    assert 'listed twice' in str(exc.value)


def test_profile_record_of_a_looped_result():
    res = dict(result('chat'), item={'name': 'chat', 'mode': 'capacity', 'profile': {}}, invocation={}, changed=False,
               failed=False)
    rec = F.profile_record(res, 'h1', 'localhost', 'xeon', 'front')
    assert rec['profile'] == 'chat' and rec['mode'] == 'capacity' and rec['target'] == 'front'
    assert 'item' not in rec['result'] and 'invocation' not in rec['result']
    assert F.profile_record({'item': {'name': 'x'}}, 'h', 'r', 'c')['result']['verdict'] == 'error'


# -- rows ----------------------------------------------------------------------------------------
def test_row_of_a_capacity_search():
    res = result('agentic', capacity=1.5, hit=0.8, valid=1.0, checked=40, turns=6, prefix=640)
    row = F.profile_row(record('h1', 'xeon', 'agentic', res))
    assert row['capacity'] == 1.5 and row['rate_unit'] == 'sessions_per_s' and row['basis'] == 'capacity at SLO'
    assert row['cost_per_1m_output_tokens'] == pytest.approx(1.0 / (100 * 3600.0) * 1e6, rel=1e-5)
    assert row['slo_met'] and row['slo_excess'] is None
    # built to hit the prefix cache: 80% is expected, no warning
    assert row['prefix_cache_hit_rate'] == 0.8 and row['builds_cache_hits'] and not row['high_hit_rate_warning']
    assert row['valid_rate'] == 1.0 and row['answers_checked'] == 40
    assert (row['ttft_first_p50_ms'], row['ttft_later_p50_ms']) == (220.0, 90.0)
    assert [s['rate'] for s in row['steps']] == [2.0, 4.0]


def test_high_hit_rate_warns_only_for_a_profile_not_built_to_hit():
    plain = F.profile_row(record('h', 'c', 'long_generation', result('long_generation', hit=0.7)))
    assert plain['high_hit_rate_warning'] and not plain['builds_cache_hits']
    two_turns = F.profile_row(record('h', 'c', 'chat', result('chat', hit=0.7, turns=2)))
    assert not two_turns['high_hit_rate_warning']
    low = F.profile_row(record('h', 'c', 'long_generation', result('long_generation', hit=0.3)))
    assert not low['high_hit_rate_warning']
    s = F.summarize([record('h', 'c', 'long_generation', result('long_generation', hit=0.7)),
                     record('h', 'c', 'agentic', result('agentic', hit=0.9, turns=6, prefix=640))])
    assert len(s['warnings']) == 1 and "'long_generation'" in s['warnings'][0] and '70%' in s['warnings'][0]


def test_a_search_that_met_no_rate_has_no_cost_and_says_how_far():
    slos = [{'name': 'max_ttft_p95_ms', 'measured': 5000.0, 'threshold': 2000, 'status': 'fail'},
            {'name': 'min_goodput_ratio', 'measured': 0.5, 'threshold': 0.9, 'status': 'fail'}]
    row = F.profile_row(record('h', 'c', 'summarization', result('summarization', capacity=None, verdict='fail',
                                                                 slos=slos)))
    assert not row['slo_met'] and row['cost_per_1m_output_tokens'] is None
    assert row['slo_excess'] == pytest.approx(2.5)        # 5000 / 2000 beats 0.9 / 0.5


def test_closed_loop_batch_row_counts_its_throughput():
    res = result('batch', capacity=3.0, valid=1.0, checked=90, mode='closed', slos=[])
    row = F.profile_row(record('h', 'c', 'batch', res, mode='closed'))
    assert row['capacity'] == 3.0 and row['basis'] == 'throughput (no latency SLO)' and row['slo_met']
    assert row['rate_unit'] == 'sessions_per_s'          # single turn: a session is one request


# -- placement inputs --------------------------------------------------------------------------
def test_placement_rows_take_the_slowest_host_of_a_class():
    recs = [record('a1', 'cpu', 'chat', result('chat', capacity=2.0)),
            record('a2', 'cpu', 'chat', result('chat', capacity=1.6)),
            record('g1', 'gpu', 'chat', result('chat', capacity=9.0, price=4.0)),
            record('a1', 'cpu', 'rag', result('rag', capacity=None, verdict='fail',
                                              slos=[{'name': 'max_ttft_p95_ms', 'measured': 3000.0,
                                                     'threshold': 2000, 'status': 'fail'}]))]
    s = F.summarize(recs, {'chat': 10})
    rows = dict(((r['profile'], r['hardware_class']), r) for r in s['placement_rows'])
    assert rows[('chat', 'cpu')]['capacity_rps'] == 1.6 and rows[('chat', 'cpu')]['hosts'] == 2
    assert rows[('rag', 'cpu')]['slo_met'] is False and rows[('rag', 'cpu')]['slo_excess'] == 1.5
    assert s['placement_error'] is None
    # chat: cpu $1 / 1.6 = 0.625 per sessions/s-hour, gpu $4 / 9 = 0.444: gpu
    assert s['per_profile']['chat']['hardware_class'] == 'gpu'
    assert s['per_profile']['rag']['meets'] is False and 'closest: cpu' in s['per_profile']['rag']['message']
    # 10 sessions/s: 1.6c + 9g >= 10 -> g=1 c=1 ($5, 10.6) beats g=2 ($8) and c=7 ($7)
    assert s['fleet']['profiles']['chat']['hosts'] == {'cpu': 1, 'gpu': 1}
    assert s['fleet']['cost_per_hour'] == pytest.approx(5.0)


def test_a_class_without_a_price_is_named():
    s = F.summarize([record('a1', 'cpu', 'chat', result('chat', price=None))])
    assert s['per_profile'] is None
    assert "hardware class 'cpu' has no price" in s['placement_error']
    assert 'validate_host_cost_per_hour' in s['placement_error']


def test_two_prices_in_one_class_are_refused():
    s = F.summarize([record('a1', 'cpu', 'chat', result('chat', price=1.0)),
                     record('a2', 'cpu', 'chat', result('chat', price=1.2))])
    assert "hardware class 'cpu' has hosts with different prices (1, 1.2 per hour)" in s['placement_error']


def test_a_target_for_a_profile_nobody_measured_is_named():
    s = F.summarize([record('a1', 'cpu', 'chat', result('chat'))], {'agentic': 40})
    assert "names profile 'agentic', which no hardware class was measured on" in s['placement_error']
    assert 'measured profiles: chat' in s['placement_error']


# -- report --------------------------------------------------------------------------------------
def test_fleet_report_has_a_row_per_host_and_profile_and_the_placement():
    recs = [record('a1', 'cpu', 'agentic', result('agentic', capacity=1.5, hit=0.85, valid=1.0, checked=40,
                                                  turns=6, prefix=640)),
            record('a1', 'cpu', 'chat', result('chat', capacity=2.5, turns=2, hit=0.2))]
    summary = fleet_summarize([])
    summary['profiles'] = F.summarize(recs, {'agentic': 3})
    text = render_markdown(summary)
    assert '## Workload profiles' in text and '## Placement' in text
    assert '| a1 | cpu | agentic | pass | 1.500 sessions/s | 100.0 | 2.7778 | 85.0% (expected) | 100.0% of 40 ' \
           '| 220.0 | 90.0 | max_ttft_p95_ms |' in text
    assert '| a1 | cpu | chat | pass | 2.500 sessions/s |' in text
    assert '**high**' not in text and 'Warning' not in text
    assert '- agentic: **cpu**, 1.500 sessions/s per host' in text
    # every rate of the placement section says its unit: capacity per host, the target and the fleet's capacity
    assert '| agentic | cpu | 1.500 sessions/s | 1.00 |' in text
    assert '| agentic | 3.00 sessions/s | 2 x cpu | 3.00 sessions/s | 0.0% | 2.00 |' in text
    assert 'req/s' not in '\n'.join(F.render_section(summary['profiles']))


def test_placement_of_a_profile_measured_in_requests_says_req_per_s():
    # a multi-turn profile without a latency SLO runs a closed loop: its throughput counts requests, not sessions
    recs = [record('a1', 'cpu', 'batch', result('batch', capacity=3.0, turns=3, mode='closed', slos=[]), mode='closed'),
            record('a1', 'cpu', 'chat', result('chat', capacity=2.5))]
    s = F.summarize(recs, {'batch': 5, 'chat': 2})
    units = dict((r['profile'], r['rate_unit']) for r in s['placement_rows'])
    assert units == {'batch': 'requests_per_s', 'chat': 'sessions_per_s'}
    assert s['per_profile']['batch']['message'] == 'batch: cheapest on cpu (3 req/s per host at its SLOs)'
    assert s['per_profile']['chat']['message'] == 'chat: cheapest on cpu (2.5 sessions/s per host at its SLOs)'
    text = '\n'.join(F.render_section(s))
    assert '| batch | cpu | 3.000 req/s | 1.00 |' in text and '| chat | cpu | 2.500 sessions/s | 1.00 |' in text
    assert '- batch: **cpu**, 3.000 req/s per host' in text
    assert '| batch | 5.00 req/s | 2 x cpu | 6.00 req/s |' in text and '| chat | 2.00 sessions/s | 1 x cpu |' in text


def test_fleet_report_without_profiles_has_no_section():
    assert '## Workload profiles' not in render_markdown(fleet_summarize([]))
    assert F.render_section(None) == [] and F.render_section(F.summarize([])) == []


def test_report_shows_a_placement_error():
    summary = fleet_summarize([])
    summary['profiles'] = F.summarize([record('a1', 'cpu', 'chat', result('chat', price=None))])
    assert "Placement not computed: hardware class 'cpu' has no price" in render_markdown(summary)


def test_check_mode_rows_give_no_placement():
    res = dict(result('chat', capacity=None), verdict='not_run', capacity=None, cost=None)
    s = F.summarize([record('a1', 'cpu', 'chat', res)], {'chat': 1})
    assert len(s['rows']) == 1 and s['rows'][0]['verdict'] == 'not_run'
    assert s['placement_rows'] == [] and s['per_profile'] is None and s['placement_error'] is None
    assert '## Placement' not in '\n'.join(F.render_section(s))
