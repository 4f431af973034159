# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest


from ansible.module_utils import basic

from ansible_collections.inferops.vllm.plugins.module_utils.plan import build_plan
from ansible_collections.inferops.vllm.plugins.module_utils.topology import gather_topology
from ansible_collections.inferops.vllm.plugins.modules import instance_plan
from ansible_collections.inferops.vllm.tests.unit.plugins.modules import utils as module_utils

FIXTURES = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures', 'sysfs'))
LLAMA8 = {'model_name': 'llama-3.1-8b', 'model_weights_gib': 14.96, 'model_kv_bytes_per_token': 131072, 'max_model_len': 8192}


def run_module(args, monkeypatch, capsys):
    """Run instance_plan.main() with ``args``; return (exit code, parsed JSON result)."""
    return module_utils.run_module(instance_plan.main, args, monkeypatch, capsys)[:2]


def root(name):
    return os.path.join(FIXTURES, name)


def test_reads_the_host_under_root(monkeypatch, capsys):
    code, result = run_module(dict(LLAMA8, root=root('spr_2s_112c')), monkeypatch, capsys)
    assert code == 0
    assert result['changed'] is False
    assert 'failed' not in result
    expected = build_plan(gather_topology(root('spr_2s_112c')), LLAMA8)
    assert result['plan'] == expected
    assert [(i['name'], i['cpuset'], i['omp_threads_bind'], i['kv_cache_gib']) for i in result['plan']['instances']] == [
        ('vllm-node0', '0-55,112-167', '1-55', 229), ('vllm-node1', '56-111,168-223', '57-111', 230)]


def test_topology_option_wins_over_root(monkeypatch, capsys):
    topology = gather_topology(root('xeon6_snc3'))
    code, result = run_module(dict(LLAMA8, topology=topology, root='/nonexistent'), monkeypatch, capsys)
    assert code == 0
    assert [i['name'] for i in result['plan']['instances']] == ['vllm-node%d' % n for n in range(6)]


def test_check_mode_same_plan(monkeypatch, capsys):
    args = dict(LLAMA8, root=root('spr_2s_112c'), strategy='single')
    normal = run_module(args, monkeypatch, capsys)[1]
    code, checked = run_module(dict(args, _ansible_check_mode=True), monkeypatch, capsys)
    assert code == 0
    assert checked['changed'] is False
    assert checked['plan'] == normal['plan']


def test_nvidia(monkeypatch, capsys):
    args = {'root': root('gpu_4x_2node'), 'accelerator': 'nvidia', 'model_name': 'llama-3.1-70b',
            'model_weights_gib': 131.4, 'gpu_memory_gib': 80}
    code, result = run_module(args, monkeypatch, capsys)
    assert code == 0
    assert [(i['name'], i['env']['CUDA_VISIBLE_DEVICES'], i['mems']) for i in result['plan']['instances']] == [
        ('vllm-gpu0-1', '0,1', '0'), ('vllm-gpu2-3', '2,3', '1')]


def test_warnings_are_ansible_warnings(monkeypatch, capsys):
    emitted = []
    # where they end up depends on whether controller code was imported in this process: record the calls
    monkeypatch.setattr(basic.AnsibleModule, 'warn', lambda self, warning: emitted.append(warning))
    args = {'root': root('avx2_1s'), 'model_name': 'qwen', 'model_weights_gib': 0.92, 'model_kv_bytes_per_token': 12288}
    code, result = run_module(args, monkeypatch, capsys)
    assert code == 0
    assert result['plan']['warnings'] == ['the cgroup CPU quota (2 cores) is below the 7 pinned inference threads: '
                                          'expect throttling']
    assert emitted == result['plan']['warnings']


def test_model_path_is_read(monkeypatch, capsys, tmp_path):
    (tmp_path / 'config.json').write_text(json.dumps({
        'num_hidden_layers': 24, 'num_attention_heads': 14, 'num_key_value_heads': 2, 'hidden_size': 896,
        'torch_dtype': 'bfloat16'}))
    (tmp_path / 'model.safetensors').write_bytes(b'\0' * (1024 * 1024))
    code, result = run_module({'root': root('vm_2core'), 'model_name': 'qwen', 'model_path': str(tmp_path),
                               'os_headroom_gib': 2}, monkeypatch, capsys)
    assert code == 0
    model = result['plan']['model']
    assert model['path'] == str(tmp_path)
    assert model['weights_gib'] == 0.0  # 1 MiB
    assert model['kv_bytes_per_token'] == 12288
    assert model['checkpoint_dtype'] == 'bfloat16'


@pytest.mark.parametrize('args,words', [
    ({'strategy': 'per_core'}, ['strategy', 'per_numa_node', 'per_socket', 'single']),
    ({'accelerator': 'tpu'}, ['accelerator', 'cpu', 'nvidia']),
    ({'dtype': 'int8'}, ['dtype', 'bfloat16']),
    ({'workload': 'batch'}, ['workload', 'online', 'offline']),
    ({'onednn_fpmath_mode': 'fast'}, ['onednn_fpmath_mode', 'STRICT']),
    ({'max_model_len': 'long'}, ['max_model_len']),
    ({'model_name': None}, ['model_name']),
    ({'tensor_parallel_size': 6}, ['tensor_parallel_size=6', '1, 2, 4 or 8']),
    ({'strategy': 'per_socket', 'root': root('xeon6_snc3')}, ['strategy=per_socket', 'strategy=per_numa_node']),
    ({'model_weights_gib': 600}, ['model does not fit', 'model_weights_gib']),
    ({'reserved_cores_per_instance': 56}, ['reserved_cores_per_instance=56', 'zero cores']),
    ({'dtype': 'bfloat16', 'root': root('avx2_1s')}, ['dtype=bfloat16']),
    ({'accelerator': 'nvidia'}, ['accelerator=nvidia', 'no NVIDIA GPU']),
    ({'accelerator': 'nvidia', 'gpus_per_instance': 8, 'root': root('gpu_4x_2node')}, ['gpus_per_instance=8']),
    ({'max_model_len': -5}, ['max_model_len=-5']),
])
def test_failures_name_the_option(args, words, monkeypatch, capsys):
    full = dict(LLAMA8, root=root('spr_2s_112c'))
    full.update(args)
    if full['model_name'] is None:
        del full['model_name']
    code, result = run_module(full, monkeypatch, capsys)
    assert code == 1
    assert result['failed'] is True
    assert 'plan' not in result
    assert 'exception' not in result
    for word in words:
        assert word in result['msg'], result['msg']


def test_unreadable_root_fails_cleanly(monkeypatch, capsys, tmp_path):
    code, result = run_module(dict(LLAMA8, root=str(tmp_path)), monkeypatch, capsys)
    assert code == 1
    assert result['msg'].startswith('cannot read the topology under root=%s' % tmp_path)


def test_epyc_genoa_nps4_per_socket(monkeypatch, capsys):
    code, result = run_module(dict(LLAMA8, root=root('genoa_2s_nps4'), strategy='per_socket'), monkeypatch, capsys)
    assert code == 0
    plan = result['plan']
    assert plan == build_plan(gather_topology(root('genoa_2s_nps4')), dict(LLAMA8, strategy='per_socket'))
    assert [(i['name'], i['tensor_parallel_size'], i['dtype'], i['mems']) for i in plan['instances']] == [
        ('vllm-socket0', 4, 'bfloat16', '0,1,2,3'), ('vllm-socket1', 4, 'bfloat16', '4,5,6,7')]
    assert any(line.startswith('bf16 via avx512_bf16 (no AMX on AMD)') for line in plan['explain'])
    assert any(line.startswith('AMD EPYC NPS4: 8 NUMA nodes') for line in plan['explain'])


def test_epyc_turin_per_numa_node_topology_option(monkeypatch, capsys):
    topology = gather_topology(root('turin_1s_nps2'))
    code, result = run_module(dict(LLAMA8, topology=topology, root='/nonexistent'), monkeypatch, capsys)
    assert code == 0
    assert [(i['name'], i['cpuset'], i['dtype']) for i in result['plan']['instances']] == [
        ('vllm-node0', '0-63,128-191', 'bfloat16'), ('vllm-node1', '64-127,192-255', 'bfloat16')]


VAR_NAMES = {'hugepages_2m_per_node': 'inferops_hugepages_2m_per_node', 'instances': 'inferops_max_instances',
             'model_path': 'inferops_model_path', 'model_name': 'inferops_model_name'}


def test_refusal_names_the_inventory_variable(monkeypatch, capsys):
    code, result = run_module(dict(LLAMA8, root=root('spr_2s_112c'), hugepages_2m_per_node=120000, var_names=VAR_NAMES),
                              monkeypatch, capsys)
    assert code == 1
    assert 'lower inferops_hugepages_2m_per_node=120000 to at most ' in result['msg']
    assert ' hugepages_2m_per_node' not in result['msg']


def test_missing_model_path_names_the_variable(monkeypatch, capsys):
    args = {'model_name': 'x', 'model_path': '/srv/models/does-not-exist', 'root': root('spr_2s_112c'), 'var_names': VAR_NAMES}
    code, result = run_module(args, monkeypatch, capsys)
    assert code == 1
    assert result['msg'].startswith('inferops_model_path=/srv/models/does-not-exist does not exist')


def test_too_many_instances_warn_in_the_users_words(monkeypatch, capsys):
    emitted = []
    monkeypatch.setattr(basic.AnsibleModule, 'warn', lambda self, warning: emitted.append(warning))
    code, result = run_module(dict(LLAMA8, root=root('spr_2s_112c'), instances=16, var_names=VAR_NAMES), monkeypatch, capsys)
    assert code == 0
    assert emitted == result['plan']['warnings']
    assert any('inferops_max_instances=16 is more than this host allows' in w and 'inferops_max_instances=2 or less' in w
               for w in emitted), emitted
    assert any('inferops_max_instances=16' in line for line in result['plan']['explain'])


def test_bad_var_names_are_refused(monkeypatch, capsys):
    code, result = run_module(dict(LLAMA8, root=root('spr_2s_112c'), var_names={'hugepages': 'x'}), monkeypatch, capsys)
    assert code == 1
    assert 'var_names names unknown option(s): hugepages' in result['msg']


LISTENER_NAMES = {'listen_address': 'server_listen_address', 'expose_instances': 'server_expose_instances'}


def test_listeners_in_the_users_words(monkeypatch, capsys):
    code, result = run_module(dict(LLAMA8, root=root('spr_2s_112c'), listen_address='front.example', var_names=LISTENER_NAMES),
                              monkeypatch, capsys)
    assert code == 1
    assert result['msg'].startswith("server_listen_address='front.example' is not an IP address")
    code, result = run_module(dict(LLAMA8, root=root('spr_2s_112c'), expose_instances=True, var_names=LISTENER_NAMES),
                              monkeypatch, capsys)
    assert code == 0
    assert result['plan']['host']['listeners']['front'] is False and result['plan']['host']['front_port'] is None
    assert any(line.startswith('server_expose_instances=true: each instance listens on 0.0.0.0 itself')
               for line in result['plan']['explain'])
