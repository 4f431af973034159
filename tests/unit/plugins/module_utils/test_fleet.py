# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.inferops.vllm.plugins.module_utils.fleet import FleetError, conformance_cell, render_markdown, summarize


def record(host, rate, verdict='pass', model='tiny', hardware='spr', target='front', msg='', cost=None):
    result = {'verdict': verdict, 'msg': msg, 'model': model}
    if rate is not None:
        result['throughput'] = {'output_tokens_per_s': rate, 'requests_per_s': rate / 64.0}
        result['latency_ms'] = {'ttft': {'p95': 12.5}, 'itl': {'p95': 3.25}, 'e2e': {'p95': 250.0}}
        result['requests'] = {'error_rate': 0.0}
    if cost is not None:
        result['cost'] = {'per_1m_output_tokens': cost}
    return {'host': host, 'target': target, 'hardware': hardware, 'runner': 'localhost', 'result': result}


def host_record(host, price, capacity=None, rate=400.0, basis='capacity', model='tiny', hardware='spr',
                total_ratio=2.0, target='front', verdict='pass'):
    """A whole-host run: capacity output tok/s (total = total_ratio times that) and the host's price."""
    rec = record(host, rate, verdict=verdict, model=model, hardware=hardware, target=target)
    rec['scope'] = 'host'
    result = rec['result']
    if rate is not None:
        result['throughput']['total_tokens_per_s'] = rate * total_ratio
    if capacity is not None:
        result['capacity'] = {'requests_per_s': capacity / 64.0, 'output_tokens_per_s': capacity,
                              'total_tokens_per_s': capacity * total_ratio, 'limiting_slo': 'max_ttft_p95_ms',
                              'steps': []}
    if price is not None or basis is not None:
        # The gate's own per-1M figures are deliberately off: the summary recomputes them
        # from the price and the tokens/s it shows next to them.
        result['cost'] = {'host_cost_per_hour': price, 'per_1m_output_tokens': 99.0,
                          'per_1m_total_tokens': 99.0, 'basis': basis}
    return rec


def instance_record(host, target, rate, **kw):
    rec = record(host, rate, target=target, **kw)
    rec['scope'] = 'instance'
    # What the old role did: the whole host's price on every endpoint.
    rec['result']['cost'] = {'host_cost_per_hour': 2.0, 'per_1m_output_tokens': 2.2222,
                             'per_1m_total_tokens': 1.1111, 'basis': 'measured load'}
    return rec


def cells(line):
    return [cell.strip() for cell in line.strip().strip('|').split('|')]


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
    assert '| 1000.0 |' in table[0]
    # Records without a scope are instances: the cost they carry was the whole host's hour
    # charged to one endpoint, so the cost column stays empty.
    assert [cells(line)[12] for line in table] == ['-', '-']
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


def test_host_with_two_instances_and_front_is_charged_once_at_capacity():
    summary = summarize([
        instance_record('h1', 'vllm-node0', 260.0), instance_record('h1', 'vllm-node1', 240.0),
        host_record('h1', 2.0, capacity=500.0, rate=450.0),
    ])
    rows = {r['target']: r for r in summary['rows']}
    # 2.0 $/h over 500 tok/s: 2.0 / (500 * 3600) * 1e6 = 1.111111 per 1M output tokens,
    # over 1000 total tok/s: 0.555556.
    assert rows['front']['scope'] == 'host'
    assert rows['front']['cost_per_1m_output_tokens'] == 1.111111
    assert rows['front']['cost_per_1m_total_tokens'] == 0.555556
    assert rows['front']['cost_basis'] == 'capacity'
    assert rows['front']['capacity_output_tokens_per_s'] == 500.0
    assert rows['front']['capacity_requests_per_s'] == 500.0 / 64.0
    for target in ('vllm-node0', 'vllm-node1'):
        assert rows[target]['scope'] == 'instance'
        assert rows[target]['cost_per_1m_output_tokens'] is None
        assert rows[target]['cost_per_1m_total_tokens'] is None
        assert rows[target]['cost_basis'] is None
        assert rows[target]['capacity_output_tokens_per_s'] is None
    assert summary['hosts'] == [{
        'host': 'h1', 'target': 'front', 'hardware': 'spr', 'model': 'tiny', 'verdict': 'pass',
        'basis': 'capacity', 'output_tokens_per_s': 500.0, 'total_tokens_per_s': 1000.0,
        'host_cost_per_hour': 2.0, 'per_1m_output_tokens': 1.111111, 'per_1m_total_tokens': 0.555556,
        'note': None,
    }]
    assert summary['classes'] == [{
        'hardware': 'spr', 'model': 'tiny', 'hosts': 1, 'host_cost_per_hour': 2.0,
        'output_tokens_per_s': 500.0, 'total_tokens_per_s': 1000.0,
        'per_1m_output_tokens': 1.111111, 'per_1m_total_tokens': 0.555556, 'basis': 'capacity',
    }]
    fleet = summary['fleet']
    assert (fleet['hosts'], fleet['host_cost_per_hour'], fleet['per_1m_output_tokens']) == (1, 2.0, 1.111111)
    assert fleet['note'] is None and fleet['left_out'] == []

    page = render_markdown(summary)
    table = dict((cells(line)[1], cells(line)) for line in page.splitlines() if line.startswith('| h1 | '))
    assert table['front'][2] == 'host' and table['front'][12] == '1.1111'
    assert table['vllm-node0'][2] == 'instance' and table['vllm-node0'][12] == '-'
    assert table['vllm-node1'][12] == '-'
    assert '## Cost per 1M tokens at SLO' in page
    assert '| h1 | spr | tiny | 500.0 | 2.00 | 1.1111 | 0.5556 | capacity |' in page
    assert '| spr | tiny | 1 | 2.00 | 500.0 | 1000.0 | 1.1111 | 0.5556 | capacity |' in page
    assert 'not at capacity' not in page


def test_class_cost_is_summed_cost_over_summed_tokens():
    summary = summarize([
        host_record('a', 2.0, capacity=500.0),
        host_record('b', 3.0, capacity=700.0),
        host_record('c', 1.0, capacity=250.0, hardware='avx2'),
    ])
    hosts = dict((h['host'], h) for h in summary['hosts'])
    assert hosts['b']['per_1m_output_tokens'] == 1.190476      # 3.0 / (700 * 3600) * 1e6
    classes = dict((c['hardware'], c) for c in summary['classes'])
    spr = classes['spr']
    # (2.0 + 3.0) / ((500 + 700) * 3600) * 1e6 = 1.157407, not the mean of 1.111111 and 1.190476.
    assert (spr['hosts'], spr['host_cost_per_hour'], spr['output_tokens_per_s']) == (2, 5.0, 1200.0)
    assert spr['per_1m_output_tokens'] == 1.157407
    assert spr['total_tokens_per_s'] == 2400.0 and spr['per_1m_total_tokens'] == 0.578704
    assert classes['avx2']['per_1m_output_tokens'] == 1.111111
    fleet = summary['fleet']
    # 6.0 / (1450 * 3600) * 1e6 = 1.149425
    assert (fleet['hosts'], fleet['host_cost_per_hour'], fleet['output_tokens_per_s']) == (3, 6.0, 1450.0)
    assert fleet['per_1m_output_tokens'] == 1.149425 and fleet['basis'] == 'capacity'
    assert fleet['models'] == ['tiny'] and fleet['note'] is None
    assert 'Fleet: 3 priced host(s), 6.00 $/h, 1450.0 output tok/s: 1.1494 per 1M output tokens' \
        in render_markdown(summary)


def test_host_without_price_is_listed_and_left_out_of_sums():
    summary = summarize([
        host_record('a', 2.0, capacity=500.0),
        host_record('b', None, capacity=700.0, basis=None),       # no cost at all
        host_record('c', None, capacity=800.0),                   # cost with host_cost_per_hour null
        host_record('d', 4.0, capacity=None, rate=None, verdict='error'),  # priced, nothing measured
    ])
    hosts = dict((h['host'], h) for h in summary['hosts'])
    for name in ('b', 'c'):
        assert hosts[name]['host_cost_per_hour'] is None
        assert hosts[name]['per_1m_output_tokens'] is None and hosts[name]['per_1m_total_tokens'] is None
        assert hosts[name]['note'] == 'no price (host_cost_per_hour)'
    assert hosts['b']['output_tokens_per_s'] == 700.0
    assert hosts['d']['per_1m_output_tokens'] is None and hosts['d']['note'] == 'no measured output tokens/s'
    assert summary['classes'][0]['hosts'] == 1
    assert summary['classes'][0]['per_1m_output_tokens'] == 1.111111
    fleet = summary['fleet']
    assert (fleet['hosts'], fleet['host_cost_per_hour'], fleet['output_tokens_per_s']) == (1, 2.0, 500.0)
    assert [item['host'] for item in fleet['left_out']] == ['b', 'c', 'd']
    assert 'b left out of the sums: no price' in fleet['note']
    assert 'd left out of the sums: no measured output tokens/s' in fleet['note']
    page = render_markdown(summary)
    assert '| b | spr | tiny | 700.0 | - | - | - | capacity |' in page
    assert 'Note: ' in page and 'c left out of the sums' in page


def test_measured_load_basis_is_said_plainly_and_mixes_the_class():
    summary = summarize([
        host_record('a', 2.0, capacity=500.0),
        host_record('b', 2.0, capacity=None, rate=400.0, basis='measured load'),
        # The gate says capacity but has no capacity figure: charged at what it measured.
        host_record('c', 2.0, capacity=None, rate=250.0, basis='capacity', hardware='avx2'),
    ])
    hosts = dict((h['host'], h) for h in summary['hosts'])
    assert hosts['b']['basis'] == 'measured load' and hosts['b']['output_tokens_per_s'] == 400.0
    assert hosts['b']['per_1m_output_tokens'] == 1.388889     # 2.0 / (400 * 3600) * 1e6
    assert hosts['c']['basis'] == 'measured load' and hosts['c']['per_1m_output_tokens'] == 2.222222
    rows = dict((r['host'], r) for r in summary['rows'])
    assert rows['b']['cost_basis'] == 'measured load'
    classes = dict((c['hardware'], c) for c in summary['classes'])
    assert classes['spr']['basis'] == 'mixed'
    # 4.0 / (900 * 3600) * 1e6
    assert classes['spr']['per_1m_output_tokens'] == 1.234568
    assert classes['avx2']['basis'] == 'measured load'
    assert summary['fleet']['basis'] == 'mixed'
    page = render_markdown(summary)
    assert ('Cost of b, c is at the measured load, not at capacity: run the gate with mode: capacity '
            'for cost at SLO.') in page
    assert '| spr | tiny | 2 | 4.00 | 900.0 | 1800.0 | 1.2346 | 0.6173 | mixed (not capacity) |' in page


def test_old_records_without_scope_are_instances_without_cost():
    old = [record('a', 1000.0, cost=0.5), record('b', 900.0, cost=0.6)]
    old[1]['result']['cost']['host_cost_per_hour'] = 2.0   # the whole host's price, on one endpoint
    summary = summarize(old)
    assert [r['scope'] for r in summary['rows']] == ['instance', 'instance']
    assert [r['cost_per_1m_output_tokens'] for r in summary['rows']] == [None, None]
    assert [r['tpot_p95_ms'] for r in summary['rows']] == [None, None]
    assert summary['hosts'] == [] and summary['classes'] == []
    assert summary['fleet']['hosts'] == 0 and summary['fleet']['per_1m_output_tokens'] is None
    assert summary['host_medians'] == []
    assert 'No host-scope run in these results: no cost per 1M tokens.' in render_markdown(summary)


def test_outliers_compare_rows_of_the_same_scope_only():
    summary = summarize([
        host_record('a', 2.0, capacity=1000.0, rate=1000.0), host_record('b', 2.0, capacity=900.0, rate=900.0),
        instance_record('a', 'vllm-node0', 500.0), instance_record('b', 'vllm-node0', 450.0),
    ], outlier_pct=20)
    # Mixed together the median would be 700 and both instances 29-36 % below it.
    assert summary['outliers'] == []
    assert summary['medians'] == [{'model': 'tiny', 'hardware': 'spr', 'endpoints': 2,
                                   'median_output_tokens_per_s': 475.0}]
    assert summary['host_medians'] == [{'model': 'tiny', 'hardware': 'spr', 'endpoints': 2,
                                        'median_output_tokens_per_s': 950.0}]
    rows = dict(((r['host'], r['target']), r) for r in summary['rows'])
    assert rows[('b', 'vllm-node0')]['below_median_pct'] == 5.3
    assert rows[('b', 'front')]['below_median_pct'] == 5.3
    page = render_markdown(summary)
    assert '- tiny on spr: 475.0 output tok/s over 2 endpoint(s)' in page
    assert '- tiny on spr, whole host: 950.0 output tok/s over 2 host(s)' in page


def test_tpot_is_in_the_row_and_the_table():
    rec = record('a', 1000.0)
    rec['result']['latency_ms']['tpot'] = {'p95': 4.75}
    summary = summarize([rec])
    assert summary['rows'][0]['tpot_p95_ms'] == 4.75
    page = render_markdown(summary)
    header = cells([line for line in page.splitlines() if line.startswith('| host | endpoint')][0])
    row = cells([line for line in page.splitlines() if line.startswith('| a ')][0])
    assert header[2] == 'scope' and header[9] == 'TPOT p95 ms' and row[9] == '4.8'


def test_fleet_of_several_models_says_so():
    summary = summarize([host_record('a', 2.0, capacity=500.0), host_record('b', 2.0, capacity=500.0, model='big')])
    fleet = summary['fleet']
    assert fleet['per_1m_output_tokens'] == 1.111111 and fleet['models'] == ['big', 'tiny']
    assert 'the models differ (big, tiny)' in fleet['note']
    assert [(c['model'], c['hosts']) for c in summary['classes']] == [('big', 1), ('tiny', 1)]


def test_two_host_records_for_one_host_are_refused():
    with pytest.raises(FleetError, match='host h1 has more than one host-scope gate record'):
        summarize([host_record('h1', 2.0, capacity=500.0), host_record('h1', 2.0, capacity=500.0, target='all')])


def test_unknown_scope_is_named():
    rec = record('a', 1.0)
    rec['scope'] = 'rack'
    with pytest.raises(FleetError, match="scope 'rack'"):
        summarize([rec])


def test_conformance_column_says_what_the_server_role_found():
    checked = record('a', 1000.0)
    checked['conformance'] = {'status': 'inconclusive', 'ok': '6', 'skipped': '2',
                              'inconclusive': ['vllm-a numa_residency: inconclusive: numa_maps unreadable']}
    unchecked = record('b', 1000.0)
    summary = summarize([checked, unchecked])
    rows = dict((r['host'], r) for r in summary['rows'])
    assert rows['a']['conformance'] == ('inconclusive: 6 checks ok, 2 skipped; '
                                        'vllm-a numa_residency: inconclusive: numa_maps unreadable')
    assert rows['b']['conformance'] == 'not checked'
    page = render_markdown(summary)
    header = cells([line for line in page.splitlines() if line.startswith('| host | endpoint')][0])
    row = cells([line for line in page.splitlines() if line.startswith('| b ')][0])
    assert header[-1] == 'conformance' and row[-1] == 'not checked'
    assert conformance_cell({'status': 'ok', 'ok': 9, 'skipped': 3, 'inconclusive': []}) == 'ok: 9 checks ok, 3 skipped'
