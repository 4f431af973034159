# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.inferops.vllm.plugins.module_utils.gate_endpoints import (
    EndpointError, gate_endpoints, gate_record, host_record,
)

TWO = [{'name': 'vllm-a', 'port': 8101}, {'name': 'vllm-b', 'port': 8102}]


def test_one_instance_is_the_host():
    eps = gate_endpoints(TWO[:1], None, '10.0.0.5')
    assert eps == [{'name': 'vllm-a', 'url': 'http://10.0.0.5:8101', 'scope': 'host', 'cross_check': True,
                    'metrics_urls': None}]


def test_front_port_is_the_host_and_sums_the_instances_metrics():
    eps = gate_endpoints(TWO, 8000, '10.0.0.5')
    assert [(e['name'], e['scope']) for e in eps] == [('front', 'host'), ('vllm-a', 'instance'),
                                                      ('vllm-b', 'instance')]
    assert eps[0]['metrics_urls'] == ['http://10.0.0.5:8101/metrics', 'http://10.0.0.5:8102/metrics']
    assert [e['name'] for e in gate_endpoints(TWO, 8000, '10.0.0.5', gate_instances=False)] == ['front']


def test_loopback_instances_behind_the_front_are_gated_from_the_host():
    eps = gate_endpoints(TWO, 8000, '10.0.0.5', 'https', instances_loopback=True)
    assert eps[0]['name'] == 'front' and eps[0]['url'] == 'https://10.0.0.5:8000' and eps[0]['scope'] == 'host'
    # the runner cannot reach the instances' /metrics: the front's cross-check is skipped, saying why
    assert eps[0]['cross_check'] is False and eps[0]['metrics_urls'] is None
    assert '127.0.0.1 of the host' in eps[0]['skipped']
    assert [(e['name'], e['url'], e.get('on_host')) for e in eps[1:]] == [
        ('vllm-a', 'http://127.0.0.1:8101', True), ('vllm-b', 'http://127.0.0.1:8102', True)]


def test_loopback_instances_with_the_runner_on_the_host():
    eps = gate_endpoints(TWO, 8000, '127.0.0.1', instances_loopback=True, runner_on_host=True)
    assert eps[0]['cross_check'] is True and 'skipped' not in eps[0]
    assert eps[0]['metrics_urls'] == ['http://127.0.0.1:8101/metrics', 'http://127.0.0.1:8102/metrics']
    assert [e.get('on_host') for e in eps[1:]] == [None, None]


def test_one_loopback_instance_behind_the_front():
    eps = gate_endpoints(TWO[:1], 8000, '10.0.0.5', instances_loopback=True)
    got = [(e['name'], e['scope'], e.get('on_host')) for e in eps]
    assert got == [('front', 'host', None), ('vllm-a', 'instance', True)]


def test_instances_without_a_front_are_loaded_together():
    eps = gate_endpoints(TWO, None, 'fe80::1', 'https')
    assert eps[0] == {'name': 'host', 'urls': ['https://[fe80::1]:8101', 'https://[fe80::1]:8102'], 'scope': 'host',
                      'cross_check': True, 'metrics_urls': None}
    assert len(eps) == 3


def test_targets():
    eps = gate_endpoints(targets=[{'name': 'x', 'url': 'http://h:1'}])
    assert eps[0]['scope'] == 'host' and eps[0]['cross_check'] is True
    eps = gate_endpoints(targets=[{'name': 'front', 'url': 'http://h:1'}, {'name': 'a', 'url': 'http://h:2'}])
    assert [(e['scope'], e['cross_check']) for e in eps] == [('host', False), ('instance', True)]
    with pytest.raises(EndpointError, match=r'validate_targets\[0\] needs name and url'):
        gate_endpoints(targets=[{'name': 'x'}])
    with pytest.raises(EndpointError, match='several entries with scope host'):
        gate_endpoints(targets=[{'name': 'a', 'url': 'http://h:1', 'scope': 'host'},
                                {'name': 'b', 'url': 'http://h:2', 'scope': 'host'}])


def test_bad_instances_and_nothing_to_gate():
    with pytest.raises(EndpointError, match=r'validate_instances\[1\] needs name and port'):
        gate_endpoints([TWO[0], {'name': 'b'}])
    with pytest.raises(EndpointError, match='nothing to gate'):
        gate_endpoints([], None)


def test_records_and_the_host_record():
    res = {'item': {'name': 'front', 'scope': 'host', 'url': 'http://h:8000'}, 'url': 'http://h:8000', 'changed': False,
           'verdict': 'pass', 'model': 'm', 'mode': 'capacity', 'api': 'completions',
           'config': {'prompt_tokens': 64, 'output_tokens': 64, 'concurrency': None, 'rate': None},
           'capacity': {'requests_per_s': 4.0, 'output_tokens_per_s': 256.0, 'total_tokens_per_s': 512.0,
                        'limiting_slo': 'max_ttft_p95_ms', 'steps': [1, 2]},
           'throughput': {'output_tokens_per_s': 250.0}, 'window': {'end_epoch': 5.0}, 'invocation': {}}
    rec = gate_record(res, 'node1', 'localhost', 'xeon')
    assert rec['scope'] == 'host' and rec['target'] == 'front' and 'invocation' not in rec['result']
    inst = gate_record({'item': {'name': 'a', 'scope': 'instance', 'url': 'http://h:1'}, 'failed': True,
                        'msg': 'x'}, 'node1', 'localhost', 'xeon')
    assert inst['result']['verdict'] == 'error'
    hr = host_record([inst, rec], '0.32.0')
    assert hr['capacity'] == {'requests_per_s': 4.0, 'output_tokens_per_s': 256.0, 'total_tokens_per_s': 512.0,
                              'limiting_slo': 'max_ttft_p95_ms'}
    assert hr['load']['mode'] == 'capacity' and hr['vllm_version'] == '0.32.0' and hr['hardware'] == 'xeon'
    assert host_record([inst]) == {}
