# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import json
import os
import shutil

import pytest

from ansible_collections.inferops.vllm.plugins.module_utils.plan import GIB, PlanError, build_plan, read_model_dir
from ansible_collections.inferops.vllm.plugins.module_utils.topology import gather_topology

FIXTURES = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures', 'sysfs'))

# Llama-3.1-8B-Instruct: 14.96 GiB of bf16 weights, 2 x 32 layers x 8 KV heads x 128 x 2 bytes per token
LLAMA8 = {'model_name': 'llama-3.1-8b', 'model_weights_gib': 14.96, 'model_kv_bytes_per_token': 131072, 'max_model_len': 8192}
# Qwen2.5-0.5B-Instruct: 0.92 GiB, 2 x 24 layers x 2 KV heads x 64 x 2 bytes per token
QWEN05 = {'model_name': 'qwen2.5-0.5b', 'model_weights_gib': 0.92, 'model_kv_bytes_per_token': 12288}


def topo(name):
    return gather_topology(os.path.join(FIXTURES, name))


def r(first, last):
    return list(range(first, last + 1))


def plan_for(name, base, **extra):
    options = dict(base)
    options.update(extra)
    return build_plan(topo(name), options)


def summary(instance):
    """The fields that make an instance, compact enough to spell out per fixture."""
    return {
        'name': instance['name'],
        'port': instance['port'],
        'numa_nodes': instance['numa_nodes'],
        'cpuset': instance['cpuset'],
        'bind': instance['omp_threads_bind'],
        'tp': instance['tensor_parallel_size'],
        'dtype': instance['dtype'],
        'kv': instance['kv_cache_gib'],
        'env': instance['env'],
    }


# --------------------------------------------------------------------------- fixtures: whole plans

def test_spr_2s_per_numa_node_whole_plan():
    plan = plan_for('spr_2s_112c', LLAMA8, preload_libraries=['/usr/lib64/libtcmalloc_minimal.so.4', '/opt/vllm/lib/libiomp5.so'])
    assert plan['accelerator'] == 'cpu'
    assert plan['strategy'] == 'per_numa_node'
    assert plan['dtype'] == 'bfloat16'
    assert plan['model'] == {
        'name': 'llama-3.1-8b', 'path': None, 'weights_gib': 14.96, 'checkpoint_dtype': None,
        'kv_bytes_per_token': 131072, 'max_model_len': 8192, 'sequence_kv_gib': 1.0,
    }
    preload = '/usr/lib64/libtcmalloc_minimal.so.4:/opt/vllm/lib/libiomp5.so'
    node0 = plan['instances'][0]
    assert node0 == {
        'name': 'vllm-node0',
        'index': 0,
        'port': 8100,
        'accelerator': 'cpu',
        'numa_nodes': [0],
        'mems': '0',
        'sockets': [0],
        'cpus': r(0, 55) + r(112, 167),
        'cpuset': '0-55,112-167',
        'inference_cpus': r(1, 55),
        'housekeeping_cpus': [0] + r(112, 167),
        'omp_threads_bind': '1-55',
        'tensor_parallel_size': 1,
        'ranks': [{
            'rank': 0, 'numa_node': 0, 'cpus': r(1, 55), 'cpulist': '1-55', 'threads': 55,
            'memory_gib': 251.36, 'hugepages_gib': 2.0, 'weights_gib': 14.96, 'runtime_overhead_gib': 3.0,
            'headroom_gib': 2.0, 'free_for_kv_gib': 229.4,
        }],
        'dtype': 'bfloat16',
        'kv_cache_gib': 229,
        'kv_cache_total_gib': 229,
        'kv_cache_memory_bytes': 229 * GIB,
        'kv_cache_sequences': 229,
        'weights_gib': 14.96,
        # 14.96 weights + 229 KV cache + 3 runtime overhead
        'memory_gib': 246.96,
        # 229 x 1024 MiB KV cache + ((14.96 + 3) x 1024 + 160 MiB shm) x 1.25 = 257684.8, rounded up
        'memory_max_mib': 257685,
        'memory_max_bytes': 257685 * 1024 * 1024,
        'shm_mib': 160,
        'container_shm_mib': 4096,
        'max_model_len': 8192,
        'max_num_seqs': 128,
        'max_num_batched_tokens': 2048,
        'gpus': [],
        'env': {'GLOO_SOCKET_IFNAME': 'lo', 'VLLM_CPU_KVCACHE_SPACE': '229', 'VLLM_CPU_OMP_THREADS_BIND': '1-55', 'LD_PRELOAD': preload},
        'args': ['--served-model-name', 'llama-3.1-8b', '--port', '8100', '--dtype', 'bfloat16',
                 '--tensor-parallel-size', '1', '--max-model-len', '8192', '--max-num-seqs', '128',
                 '--max-num-batched-tokens', '2048'],
    }
    node1 = plan['instances'][1]
    assert summary(node1) == {
        'name': 'vllm-node1', 'port': 8101, 'numa_nodes': [1], 'cpuset': '56-111,168-223', 'bind': '57-111',
        'tp': 1, 'dtype': 'bfloat16', 'kv': 230,
        'env': {'GLOO_SOCKET_IFNAME': 'lo', 'VLLM_CPU_KVCACHE_SPACE': '230', 'VLLM_CPU_OMP_THREADS_BIND': '57-111', 'LD_PRELOAD': preload},
    }
    assert node1['housekeeping_cpus'] == [56] + r(168, 223)
    assert node1['ranks'][0]['free_for_kv_gib'] == 230.01
    assert plan['host'] == {
        'inference_cpus': r(1, 55) + r(57, 111),
        'inference_cpulist': '1-55,57-111',
        'housekeeping_cpus': [0, 56] + r(112, 223),
        'housekeeping_cpulist': '0,56,112-223',
        'numa_nodes': [0, 1],
        'hugepages': {},
        'numa_balancing': 0,
        'front_port': 8000,
        'listeners': {'front': True, 'front_address': '0.0.0.0', 'front_port': 8000, 'instance_address': '127.0.0.1',
                      'network_exposed': True},
        'ports': [8100, 8101],
        'memory_planned_gib': 494.92,
        'shm_mib': 320,
        'memory_limit_gib': None,
    }
    assert plan['warnings'] == []
    explain = '\n'.join(plan['explain'])
    assert 'dtype auto -> bfloat16: the CPU has amx_bf16.' in explain
    assert 'vllm-node0: KV cache 229 GiB per rank = floor(251.36 GiB node 0 - 2 hugepages - 14.96 weights' in explain
    assert 'holds 229 full-length sequences' in explain


def test_spr_2s_single_is_tp2_across_sockets():
    plan = plan_for('spr_2s_112c', LLAMA8, strategy='single', workload='offline')
    assert len(plan['instances']) == 1
    inst = plan['instances'][0]
    assert summary(inst) == {
        'name': 'vllm-all', 'port': 8100, 'numa_nodes': [0, 1], 'cpuset': '0-223', 'bind': '1-55|57-111',
        'tp': 2, 'dtype': 'bfloat16', 'kv': 236,
        'env': {'GLOO_SOCKET_IFNAME': 'lo', 'VLLM_CPU_KVCACHE_SPACE': '236', 'VLLM_CPU_OMP_THREADS_BIND': '1-55|57-111'},
    }
    # ranks are equalised (55 threads each): node 1 gives up core 56 to housekeeping
    assert [(x['numa_node'], x['cpulist'], x['weights_gib'], x['free_for_kv_gib']) for x in inst['ranks']] == [
        (0, '1-55', 7.48, 236.88), (1, '57-111', 7.48, 237.49)]
    assert inst['kv_cache_total_gib'] == 472
    # per-rank KV per token is halved, so one 8192-token sequence needs 0.5 GiB per rank
    assert inst['kv_cache_sequences'] == 472
    assert (inst['max_num_seqs'], inst['max_num_batched_tokens']) == (512, 8192)
    assert inst['mems'] == '0,1' and inst['sockets'] == [0, 1]
    assert plan['host']['housekeeping_cpulist'] == '0,56,112-223'
    assert any('ranks equalised to 55 threads' in line for line in plan['explain'])


def test_spr_2s_per_socket_equals_per_numa_node():
    per_node = plan_for('spr_2s_112c', LLAMA8)
    per_socket = plan_for('spr_2s_112c', LLAMA8, strategy='per_socket')
    assert [i['name'] for i in per_socket['instances']] == ['vllm-socket0', 'vllm-socket1']
    strip = [dict((k, v) for k, v in i.items() if k not in ('name',)) for i in per_node['instances']]
    assert [dict((k, v) for k, v in i.items() if k not in ('name',)) for i in per_socket['instances']] == strip


def test_xeon6_snc3_per_numa_node_whole_plan():
    plan = plan_for('xeon6_snc3', LLAMA8)
    expected = [
        ('vllm-node0', 8100, [0], '0-42,256-298', '1-42', 234),
        ('vllm-node1', 8101, [1], '43-85,299-341', '44-85', 236),
        ('vllm-node2', 8102, [2], '86-127,342-383', '87-127', 236),
        ('vllm-node3', 8103, [3], '128-170,384-426', '129-170', 236),
        ('vllm-node4', 8104, [4], '171-213,427-469', '172-213', 236),
        ('vllm-node5', 8105, [5], '214-255,470-511', '215-255', 236),
    ]
    got = [(i['name'], i['port'], i['numa_nodes'], i['cpuset'], i['omp_threads_bind'], i['kv_cache_gib'])
           for i in plan['instances']]
    assert got == expected
    for inst in plan['instances']:
        assert inst['tensor_parallel_size'] == 1
        assert inst['dtype'] == 'bfloat16'
        assert inst['env'] == {'GLOO_SOCKET_IFNAME': 'lo', 'VLLM_CPU_KVCACHE_SPACE': str(inst['kv_cache_gib']),
                               'VLLM_CPU_OMP_THREADS_BIND': inst['omp_threads_bind']}
        assert inst['ranks'][0]['headroom_gib'] == 0.67
    assert [i['sockets'] for i in plan['instances']] == [[0], [0], [0], [1], [1], [1]]
    assert [len(i['inference_cpus']) for i in plan['instances']] == [42, 42, 41, 42, 42, 41]
    assert plan['host']['inference_cpulist'] == '1-42,44-85,87-127,129-170,172-213,215-255'
    assert plan['host']['housekeeping_cpulist'] == '0,43,86,128,171,214,256-511'
    assert plan['host']['ports'] == r(8100, 8105)
    assert any('Sub-NUMA clustering is on (3 nodes per socket)' in line for line in plan['explain'])


def test_cxl_memnode_gets_no_instance():
    plan = plan_for('cxl_memnode', LLAMA8)
    assert [summary(i) for i in plan['instances']] == [{
        'name': 'vllm-node0', 'port': 8100, 'numa_nodes': [0], 'cpuset': '0-63', 'bind': '1-31', 'tp': 1,
        'dtype': 'bfloat16', 'kv': 103,
        'env': {'GLOO_SOCKET_IFNAME': 'lo', 'VLLM_CPU_KVCACHE_SPACE': '103', 'VLLM_CPU_OMP_THREADS_BIND': '1-31'},
    }]
    assert plan['host']['numa_nodes'] == [0]
    assert plan['host']['housekeeping_cpulist'] == '0,32-63'
    assert any('NUMA node 1 has no CPUs (memory-only' in line for line in plan['explain'])
    # the CPU-less node never holds an instance, whatever the strategy
    single = plan_for('cxl_memnode', LLAMA8, strategy='single')
    assert [(i['name'], i['numa_nodes'], i['tensor_parallel_size']) for i in single['instances']] == [('vllm-all', [0], 1)]


def test_offline_isolated():
    plan = plan_for('offline_isolated', LLAMA8)
    assert [summary(i) for i in plan['instances']] == [{
        'name': 'vllm-node0', 'port': 8100, 'numa_nodes': [0], 'cpuset': '0-29', 'bind': '1-15', 'tp': 1,
        'dtype': 'float32', 'kv': 36,
        'env': {'GLOO_SOCKET_IFNAME': 'lo', 'VLLM_CPU_KVCACHE_SPACE': '36', 'VLLM_CPU_OMP_THREADS_BIND': '1-15'},
    }]
    inst = plan['instances'][0]
    # 4 GiB of 1 GiB pages are held on the node and subtracted from the KV cache
    assert inst['ranks'][0]['hugepages_gib'] == 4.0
    assert inst['housekeeping_cpus'] == [0] + r(16, 29)
    explain = '\n'.join(plan['explain'])
    assert 'Offline CPUs 30-31 are ignored.' in explain
    assert 'Isolated CPUs 4-7,20-23 are in the allowed set' in explain
    assert 'dtype auto -> float32' in explain


def test_avx2_1s_float32_cgroup_limits():
    plan = plan_for('avx2_1s', QWEN05)
    assert [summary(i) for i in plan['instances']] == [{
        'name': 'vllm-node0', 'port': 8100, 'numa_nodes': [0], 'cpuset': '0-15', 'bind': '1-7', 'tp': 1,
        'dtype': 'float32', 'kv': 12,
        'env': {'GLOO_SOCKET_IFNAME': 'lo', 'VLLM_CPU_KVCACHE_SPACE': '12', 'VLLM_CPU_OMP_THREADS_BIND': '1-7'},
    }]
    # 16 GiB cgroup limit: floor(16 - 0.92 - 3) = 12, although the node would allow 53
    assert plan['instances'][0]['ranks'][0]['free_for_kv_gib'] == 53.81
    assert plan['host']['memory_limit_gib'] == 16.0
    assert plan['host']['memory_planned_gib'] == 15.92
    assert plan['warnings'] == ['the cgroup CPU quota (2 cores) is below the 7 pinned inference threads: expect throttling']
    assert any('cgroup memory limit 16 GiB caps' in line for line in plan['explain'])


def test_container_limited():
    plan = plan_for('container_limited', QWEN05)
    assert [summary(i) for i in plan['instances']] == [{
        'name': 'vllm-node0', 'port': 8100, 'numa_nodes': [0], 'cpuset': '0-3,112-115', 'bind': '1-3', 'tp': 1,
        'dtype': 'bfloat16', 'kv': 4,
        'env': {'GLOO_SOCKET_IFNAME': 'lo', 'VLLM_CPU_KVCACHE_SPACE': '4', 'VLLM_CPU_OMP_THREADS_BIND': '1-3'},
    }]
    host = plan['host']
    assert (host['inference_cpulist'], host['housekeeping_cpulist'], host['numa_nodes']) == ('1-3', '0,112-115', [0])
    assert host['memory_limit_gib'] == 8.0
    explain = '\n'.join(plan['explain'])
    assert 'This process may only use CPUs 0-3,112-115' in explain
    assert 'NUMA node 1: none of its CPUs are allowed to this process' in explain


def test_vm_2core():
    plan = plan_for('vm_2core', QWEN05, os_headroom_gib=2)
    assert [summary(i) for i in plan['instances']] == [{
        'name': 'vllm-node0', 'port': 8100, 'numa_nodes': [0], 'cpuset': '0-1', 'bind': '1', 'tp': 1,
        'dtype': 'bfloat16', 'kv': 2,
        'env': {'GLOO_SOCKET_IFNAME': 'lo', 'VLLM_CPU_KVCACHE_SPACE': '2', 'VLLM_CPU_OMP_THREADS_BIND': '1'},
    }]
    assert any('dtype auto -> bfloat16: the CPU has avx512_bf16.' == line for line in plan['explain'])
    # no SMT on this VM: no sentence about siblings
    assert not any('SMT sibling' in line for line in plan['explain'])


def gpu_env(visible):
    # ranks share the host: gloo and NCCL bootstrap sockets on loopback
    return {'CUDA_DEVICE_ORDER': 'PCI_BUS_ID', 'CUDA_VISIBLE_DEVICES': visible, 'GLOO_SOCKET_IFNAME': 'lo', 'NCCL_SOCKET_IFNAME': 'lo'}


def test_instances_keep_their_distributed_sockets_on_loopback():
    cpu = plan_for('spr_2s_112c', LLAMA8)
    assert all(i['env']['GLOO_SOCKET_IFNAME'] == 'lo' and 'NCCL_SOCKET_IFNAME' not in i['env'] for i in cpu['instances'])
    assert any(line.startswith('GLOO_SOCKET_IFNAME=lo: ') for line in cpu['explain'])
    gpu = plan_for('gpu_4x_2node', LLAMA8, accelerator='nvidia')
    assert all(i['env']['NCCL_SOCKET_IFNAME'] == 'lo' for i in gpu['instances'])
    assert any(line.startswith('GLOO_SOCKET_IFNAME=lo, NCCL_SOCKET_IFNAME=lo: ') for line in gpu['explain'])


def test_gpu_4x_2node_one_gpu_each():
    plan = plan_for('gpu_4x_2node', LLAMA8, accelerator='nvidia')
    assert plan['strategy'] is None
    got = [(i['name'], i['port'], i['cpuset'], i['mems'], i['tensor_parallel_size'], i['env'], i['gpus'])
           for i in plan['instances']]
    assert got == [
        ('vllm-gpu0', 8100, '0-31,64-95', '0', 1, gpu_env('0'),
         [{'index': 0, 'pci_address': '0000:18:00.0', 'numa_node': 0}]),
        ('vllm-gpu1', 8101, '0-31,64-95', '0', 1, gpu_env('1'),
         [{'index': 1, 'pci_address': '0000:2a:00.0', 'numa_node': 0}]),
        ('vllm-gpu2', 8102, '32-63,96-127', '1', 1, gpu_env('2'),
         [{'index': 2, 'pci_address': '0000:9a:00.0', 'numa_node': 1}]),
        ('vllm-gpu3', 8103, '32-63,96-127', '1', 1, gpu_env('3'),
         [{'index': 3, 'pci_address': '0000:ab:00.0', 'numa_node': 1}]),
    ]
    inst = plan['instances'][0]
    assert inst['args'] == ['--served-model-name', 'llama-3.1-8b', '--port', '8100', '--dtype', 'auto',
                            '--tensor-parallel-size', '1', '--max-model-len', '8192', '--gpu-memory-utilization', '0.9']
    assert inst['kv_cache_gib'] is None and inst['omp_threads_bind'] is None and inst['inference_cpus'] == []
    assert plan['host']['inference_cpus'] == []
    assert plan['host']['housekeeping_cpulist'] == '0-127'


def test_gpu_4x_2node_sized_by_memory_groups_by_node():
    plan = plan_for('gpu_4x_2node', {'model_name': 'llama-3.1-70b', 'model_weights_gib': 131.4,
                                     'model_kv_bytes_per_token': 327680, 'max_model_len': 8192},
                    accelerator='nvidia', gpu_memory_gib=80)
    got = [(i['name'], i['cpuset'], i['numa_nodes'], i['tensor_parallel_size'], i['env']['CUDA_VISIBLE_DEVICES'],
            i['args'][i['args'].index('--tensor-parallel-size') + 1]) for i in plan['instances']]
    assert got == [('vllm-gpu0-1', '0-31,64-95', [0], 2, '0,1', '2'),
                   ('vllm-gpu2-3', '32-63,96-127', [1], 2, '2,3', '2')]
    assert any('gpus_per_instance 2: the smallest of 1/2/4/8' in line for line in plan['explain'])


def test_gpu_4x_2node_four_per_instance_spans_nodes():
    plan = plan_for('gpu_4x_2node', LLAMA8, accelerator='nvidia', gpus_per_instance=4)
    assert [(i['name'], i['mems'], i['cpuset'], i['env']['CUDA_VISIBLE_DEVICES']) for i in plan['instances']] == [
        ('vllm-gpu0-3', '0,1', '0-127', '0,1,2,3')]
    assert any('sit on different NUMA nodes' in line for line in plan['explain'])


def test_gpu_4x_2node_with_unknown_gpu_nodes_stays_unbound_and_says_why(tmp_path):
    # the recorded 2-node GPU host as a VM would show it: sysfs numa_node -1 on every NVIDIA device
    root = tmp_path / 'gpu_4x_2node_nonuma'
    shutil.copytree(os.path.join(FIXTURES, 'gpu_4x_2node'), str(root))
    devices = root / 'sys/bus/pci/devices'
    changed = 0
    for dev in sorted(devices.iterdir()):
        if (dev / 'vendor').read_text().strip() == '0x10de':
            (dev / 'numa_node').write_text('-1\n')
            changed += 1
    assert changed >= 4
    plan = build_plan(gather_topology(str(root)), dict(LLAMA8, accelerator='nvidia'))
    got = [(i['name'], i['cpuset'], i['mems'], i['numa_nodes'], [g['numa_node'] for g in i['gpus']]) for i in plan['instances']]
    # two nodes with CPUs: the GPU could be on either, so no node is guessed (every allowed CPU, memory unbound)
    assert got == [('vllm-gpu%d' % n, '0-127', '', [], [None]) for n in range(4)]
    assert ('vllm-gpu0: the NUMA node of GPU 0 is unknown (sysfs numa_node -1) and the host has 2 NUMA nodes with CPUs; '
            'it may run on every allowed CPU, memory unbound.' in plan['explain'])
    assert not any('no NUMA node with allowed CPUs' in line for line in plan['explain'])
    assert not any(line.startswith('sysfs reports no NUMA node') for line in plan['explain'])


def test_gpu_unknown_node_on_one_cpu_node_with_a_memory_node():
    # node 1 has memory but no CPUs (CXL): node 0 is still the only place for the GPU
    gpus = [{'pci_address': '0000:41:00.0', 'vendor_id': '0x10de', 'class': '0x030200', 'numa_node': -1}]
    t = synthetic([8, 0], gpus=gpus)
    plan = build_plan(t, {'model_name': 'm', 'accelerator': 'nvidia'})
    assert [(i['cpuset'], i['mems'], i['gpus'][0]['numa_node']) for i in plan['instances']] == [('0-15', '0', 0)]
    assert ('sysfs reports no NUMA node for GPU 0 (numa_node -1, usual in a VM); the host has one node with CPUs '
            '(the others are CPU-less memory), so it is node 0.' in plan['explain'])


def test_gpu_known_node_without_allowed_cpus_keeps_its_reason():
    # the GPU's node is known (1) but the cgroup allows only node 0's CPUs
    gpus = [{'pci_address': '0000:a1:00.0', 'vendor_id': '0x10de', 'class': '0x030200', 'numa_node': 1}]
    t = synthetic([4, 4], sockets_of=[0, 1], gpus=gpus)
    t['cpus']['allowed'] = [0, 1, 2, 3, 8, 9, 10, 11]
    plan = build_plan(t, {'model_name': 'm', 'accelerator': 'nvidia'})
    assert [(i['cpuset'], i['mems']) for i in plan['instances']] == [('0-3,8-11', '')]
    assert ('vllm-gpu0: its GPUs have no NUMA node with allowed CPUs; it may run on every allowed CPU, memory unbound.'
            in plan['explain'])


def test_gpu_fixture_on_cpu_uses_cgroup_limit():
    plan = plan_for('gpu_4x_2node', LLAMA8)
    # 256 GiB cgroup limit split over 2 instances: floor(128 - 14.96 - 3) = 110 GiB each
    assert [(i['name'], i['kv_cache_gib'], i['omp_threads_bind']) for i in plan['instances']] == [
        ('vllm-node0', 110, '1-31'), ('vllm-node1', 110, '33-63')]


@pytest.mark.parametrize('name', ['vm_2core', 'spr_2s_112c', 'xeon6_snc3', 'cxl_memnode', 'offline_isolated',
                                  'gpu_4x_2node', 'avx2_1s', 'container_limited'])
def test_every_fixture_invariants(name):
    """Properties every CPU plan keeps, on every fixture."""
    topology = topo(name)
    plan = build_plan(topology, dict(QWEN05, os_headroom_gib=2))
    allowed = set(topology['cpus']['allowed'])
    seen = set()
    for inst in plan['instances']:
        cpus = set(inst['cpus'])
        inference = set(inst['inference_cpus'])
        assert inference and inference <= cpus <= allowed
        assert not cpus & seen  # instances never share CPUs
        seen |= cpus
        assert set(inst['housekeeping_cpus']) == cpus - inference
        assert inst['tensor_parallel_size'] in (1, 2, 4, 8)
        assert inst['tensor_parallel_size'] == len(inst['numa_nodes']) == len(inst['ranks'])
        assert inst['omp_threads_bind'].count('|') == inst['tensor_parallel_size'] - 1
        assert inst['kv_cache_gib'] >= 1
        for node in topology['numa_nodes']:
            if node['id'] in inst['numa_nodes']:
                assert not node['cpu_less']
                # one inference thread per physical core at most
                for core in node['cores']:
                    assert len(set(core) & inference) <= 1
    host = plan['host']
    assert set(host['inference_cpus']) | set(host['housekeeping_cpus']) == allowed
    assert not set(host['inference_cpus']) & set(host['housekeeping_cpus'])
    json.dumps(plan)  # plain data only


# --------------------------------------------------------------------------- synthetic topologies

def synthetic(nodes, sockets_of=None, smt=True, flags=None, gpus=None, mem_gib=64, cgroup=None, isa='amx'):
    """Topology dict with ``nodes`` = list of core counts; CPU ids are consecutive, siblings after all cores."""
    total = sum(nodes)
    numa = []
    first = 0
    for node_id, count in enumerate(nodes):
        cores = [[c, c + total] if smt else [c] for c in range(first, first + count)]
        numa.append({
            'id': node_id, 'socket': (sockets_of or [0] * len(nodes))[node_id],
            'cpus': sorted(c for core in cores for c in core), 'cores': cores,
            'physical_cores': [core[0] for core in cores],
            'memory_total_bytes': int(mem_gib * GIB), 'memory_free_bytes': int(mem_gib * GIB),
            'hugepages': {'2048kB': {'total': 0, 'free': 0}}, 'cpu_less': False, 'distances': [],
        })
        first += count
    online = sorted(c for n in numa for c in n['cpus'])
    if flags is None:
        flags = {'avx2': True, 'avx512f': True, 'avx512_bf16': True, 'amx_bf16': True}
    return {
        'cpus': {'online': online, 'offline': [], 'isolated': [], 'present': online, 'allowed': online},
        'smt_active': smt, 'threads_per_core': 2 if smt else 1,
        'cpu': {'vendor': 'GenuineIntel', 'model_name': 'synthetic', 'flags': flags, 'isa': isa},
        'memory': {'total_bytes': int(mem_gib * GIB) * len(nodes), 'available_bytes': 0},
        'sockets': [], 'numa_nodes': numa, 'memory_only_nodes': [],
        'snc': {'enabled': len(set(sockets_of or [0])) < len(nodes), 'nodes_per_socket': 1},
        'gpus': gpus or [],
        'cgroup': cgroup or {'version': 2, 'path': '/', 'cpuset_cpus': online, 'cpuset_mems': [],
                             'memory_limit_bytes': None, 'cpu_quota_cores': None},
    }


def test_snc2_per_socket_tp2_equalises_unequal_nodes():
    # two sockets, SNC2, nodes of 8/7 and 8/8 cores
    t = synthetic([8, 7, 8, 8], sockets_of=[0, 0, 1, 1], mem_gib=32)
    plan = build_plan(t, dict(QWEN05, strategy='per_socket'))
    got = [(i['name'], i['numa_nodes'], i['omp_threads_bind'], i['tensor_parallel_size'], i['kv_cache_gib'])
           for i in plan['instances']]
    # socket0: rank 0 gives core 0 away (7 left), rank 1 has 7: no trim
    # socket1: rank 0 gives core 15 away (7 left); rank 1 trims its first core 23 to stay at 7 threads
    assert got == [('vllm-socket0', [0, 1], '1-7|8-14', 2, 27), ('vllm-socket1', [2, 3], '16-22|24-30', 2, 27)]
    assert plan['instances'][1]['housekeeping_cpus'] == [15, 23] + r(46, 61)


def test_tp_split_kv_heads_replicated_when_fewer_than_ranks(tmp_path):
    config = {'num_hidden_layers': 24, 'num_attention_heads': 14, 'num_key_value_heads': 1, 'hidden_size': 896,
              'torch_dtype': 'bfloat16'}
    (tmp_path / 'config.json').write_text(json.dumps(config))
    (tmp_path / 'model.safetensors').write_bytes(b'\0' * 1024)
    t = synthetic([4, 4], sockets_of=[0, 1], mem_gib=16)
    plan = build_plan(t, {'model_name': 'm', 'model_weights_gib': 1, 'strategy': 'single', 'max_model_len': 1000000,
                          'os_headroom_gib': 0, 'runtime_overhead_gib': 1},
                      read_model_dir(str(tmp_path)))
    # 2 x 24 x 1 x 64 x 2 = 6144 bytes/token; one KV head cannot be split, so each rank holds all of it
    assert plan['model']['kv_bytes_per_token'] == 6144
    inst = plan['instances'][0]
    assert inst['kv_cache_gib'] == 14
    assert inst['kv_cache_sequences'] == 2  # 14 GiB / (6144 B x 1e6) per rank


def test_hugepages_requested_are_reserved_and_subtracted():
    t = synthetic([4, 4], sockets_of=[0, 1], mem_gib=64)
    plan = build_plan(t, dict(QWEN05, hugepages_2m_per_node=4096))
    assert plan['host']['hugepages'] == {'0': {'2048kB': 4096}, '1': {'2048kB': 4096}}
    # 64 - 8 hugepages - 0.92 - 3 - 2 = 50.08
    assert [i['kv_cache_gib'] for i in plan['instances']] == [50, 50]


def test_kv_cache_override_and_cap():
    t = synthetic([4], mem_gib=64)
    assert build_plan(t, dict(QWEN05, kv_cache_max_gib=20))['instances'][0]['kv_cache_gib'] == 20
    plan = build_plan(t, dict(QWEN05, kv_cache_gib=8))
    assert plan['instances'][0]['env']['VLLM_CPU_KVCACHE_SPACE'] == '8'
    assert plan['instances'][0]['kv_cache_memory_bytes'] == 8 * GIB


def test_reserved_zero_and_onednn_and_prefix_ports():
    t = synthetic([4, 4], sockets_of=[0, 1], smt=False, mem_gib=32)
    plan = build_plan(t, dict(QWEN05, reserved_cores_per_instance=0, onednn_fpmath_mode='bf16', name_prefix='qwen',
                              base_port=9000, front_port=8080, workload='offline'))
    got = [(i['name'], i['port'], i['omp_threads_bind'], i['env'].get('ONEDNN_DEFAULT_FPMATH_MODE'), i['max_num_seqs'],
            i['max_num_batched_tokens']) for i in plan['instances']]
    assert got == [('qwen-node0', 9000, '0-3', 'BF16', 256, 4096), ('qwen-node1', 9001, '4-7', 'BF16', 256, 4096)]
    assert plan['host']['front_port'] == 8080
    assert plan['host']['housekeeping_cpus'] == []


def test_front_is_the_one_listener_also_for_one_instance():
    plan = plan_for('spr_2s_112c', LLAMA8, strategy='single')
    assert len(plan['instances']) == 1
    assert plan['host']['front_port'] == 8000
    assert plan['host']['listeners'] == {'front': True, 'front_address': '0.0.0.0', 'front_port': 8000,
                                         'instance_address': '127.0.0.1', 'network_exposed': True}
    explain = '\n'.join(plan['explain'])
    assert 'the instances bind 127.0.0.1; the front (HAProxy) on 0.0.0.0 port 8000 is the one network listener' in explain


def test_front_on_a_given_address():
    plan = plan_for('spr_2s_112c', LLAMA8, listen_address='10.1.2.3', front_port=8443)
    assert plan['host']['listeners'] == {'front': True, 'front_address': '10.1.2.3', 'front_port': 8443,
                                         'instance_address': '127.0.0.1', 'network_exposed': True}
    loopback = plan_for('spr_2s_112c', LLAMA8, listen_address='127.0.0.1')
    assert loopback['host']['listeners']['network_exposed'] is False


def test_expose_instances_opts_out_of_the_front():
    plan = plan_for('spr_2s_112c', LLAMA8, expose_instances=True, listen_address='::')
    assert plan['host']['front_port'] is None
    assert plan['host']['listeners'] == {'front': False, 'front_address': None, 'front_port': None,
                                         'instance_address': '::', 'network_exposed': True}
    explain = '\n'.join(plan['explain'])
    assert 'expose_instances=true: each instance listens on :: itself and no front runs' in explain
    # without a front its port may be anything, even an instance port
    assert plan_for('spr_2s_112c', LLAMA8, expose_instances=True, front_port=8101)['host']['front_port'] is None


def test_instances_cap():
    plan = plan_for('xeon6_snc3', QWEN05, instances=2)
    assert [i['name'] for i in plan['instances']] == ['vllm-node0', 'vllm-node1']
    assert plan['host']['numa_nodes'] == [0, 1]
    assert plan['host']['housekeeping_cpulist'] == '0,43,86-511'
    assert plan['instances'][0]['ranks'][0]['headroom_gib'] == 2.0


def test_read_model_dir_prefers_safetensors(tmp_path):
    (tmp_path / 'model-00001.safetensors').write_bytes(b'\0' * (3 * 1024 * 1024))
    (tmp_path / 'pytorch_model.bin').write_bytes(b'\0' * (50 * 1024 * 1024))  # ignored next to safetensors
    info = read_model_dir(str(tmp_path))
    assert info == {'weights_bytes': 3 * 1024 * 1024, 'weight_format': 'safetensors', 'config': None}


def test_model_dir_drives_weights_kv_and_dtype_scaling(tmp_path):
    (tmp_path / 'config.json').write_text(json.dumps({
        'num_hidden_layers': 2, 'num_attention_heads': 4, 'hidden_size': 256, 'torch_dtype': 'bfloat16'}))
    (tmp_path / 'model.safetensors').write_bytes(b'\0' * (512 * 1024 * 1024))
    plan = build_plan(topo('avx2_1s'), {'model_name': 'tiny', 'model_path': str(tmp_path)}, read_model_dir(str(tmp_path)))
    # float32 on AVX2: bf16 weights double in memory, KV elements are 4 bytes: 2 x 2 x 4 x 64 x 4
    assert plan['dtype'] == 'float32'
    assert plan['model']['weights_gib'] == 1.0
    assert plan['model']['checkpoint_dtype'] == 'bfloat16'
    assert plan['model']['kv_bytes_per_token'] == 4096
    assert plan['instances'][0]['kv_cache_gib'] == 12  # floor(16 - 1 - 3)


def test_model_dir_mla_and_text_config(tmp_path):
    (tmp_path / 'config.json').write_text(json.dumps({
        'text_config': {'num_hidden_layers': 10, 'num_attention_heads': 8, 'hidden_size': 1024, 'kv_lora_rank': 512,
                        'qk_rope_head_dim': 64, 'torch_dtype': 'bfloat16'}}))
    (tmp_path / 'w.gguf').write_bytes(b'\0' * 1024)
    info = read_model_dir(str(tmp_path))
    assert info['weight_format'] == 'gguf'
    plan = build_plan(synthetic([4], mem_gib=32), {'model_name': 'm', 'model_weights_gib': 1}, info)
    assert plan['model']['kv_bytes_per_token'] == 10 * (512 + 64) * 2


def test_read_model_dir_missing_and_broken(tmp_path):
    assert read_model_dir(str(tmp_path / 'nope')) is None
    assert read_model_dir(None) is None
    (tmp_path / 'config.json').write_text('{not json')
    with pytest.raises(PlanError, match='model_path=.*config.json'):
        read_model_dir(str(tmp_path))


def test_unknown_kv_bytes_warns():
    plan = build_plan(synthetic([4], mem_gib=32), {'model_name': 'm', 'model_weights_gib': 1})
    assert plan['model']['kv_bytes_per_token'] is None
    assert plan['instances'][0]['kv_cache_sequences'] is None
    assert plan['warnings'] == ['one max_model_len sequence could not be checked against the KV cache: '
                                'give model_kv_bytes_per_token or a staged model_path']


def test_gpu_filters_non_nvidia_and_unknown_node_and_leftovers():
    gpus = [
        {'pci_address': '0000:03:00.0', 'vendor_id': '0x1a03', 'device_id': '0x2000', 'class': '0x030000', 'numa_node': 0},
        {'pci_address': '0000:41:00.1', 'vendor_id': '0x10de', 'device_id': '0x1aef', 'class': '0x040300', 'numa_node': 0},
        {'pci_address': '0000:41:00.0', 'vendor_id': '0x10de', 'device_id': '0x2684', 'class': '0x030000', 'numa_node': -1},
        {'pci_address': '0000:21:00.0', 'vendor_id': '0x10de', 'device_id': '0x2684', 'class': '0x030000', 'numa_node': 0},
        {'pci_address': '0000:a1:00.0', 'vendor_id': '0x10de', 'device_id': '0x2684', 'class': '0x030000', 'numa_node': 1},
    ]
    t = synthetic([4, 4], sockets_of=[0, 1], gpus=gpus)
    plan = build_plan(t, {'model_name': 'm', 'accelerator': 'nvidia', 'gpus_per_instance': 2})
    # NVIDIA GPUs by PCI address: 0 = 21:00.0 (node 0), 1 = 41:00.0 (node unknown), 2 = a1:00.0 (node 1)
    # no node has two GPUs: 0 and 1 are paired across nodes, 2 is left over
    assert [(i['name'], i['env']['CUDA_VISIBLE_DEVICES'], i['mems']) for i in plan['instances']] == [('vllm-gpu0-1', '0,1', '0')]
    assert plan['warnings'] == ['1 GPU unused']
    explain = '\n'.join(plan['explain'])
    assert '2 display devices in the topology are not NVIDIA GPUs' in explain
    assert 'GPUs 2 are left over' in explain


def test_gpu_label_non_contiguous():
    gpus = [{'pci_address': '0000:%02x:00.0' % (i + 1), 'vendor_id': '0x10de', 'class': '0x030200', 'numa_node': n}
            for i, n in enumerate([0, 1, 0, 1])]
    plan = build_plan(synthetic([4, 4], sockets_of=[0, 1], gpus=gpus),
                      {'model_name': 'm', 'accelerator': 'nvidia', 'tensor_parallel_size': 2})
    assert [(i['name'], i['mems']) for i in plan['instances']] == [('vllm-gpu0_2', '0'), ('vllm-gpu1_3', '1')]


# --------------------------------------------------------------------------- bad inputs

BAD = [
    # (id, fixture, options, words the message must contain)
    ('unknown strategy', 'spr_2s_112c', dict(LLAMA8, strategy='per_core'), ['strategy=', 'per_numa_node, per_socket, single']),
    ('unknown accelerator', 'spr_2s_112c', dict(LLAMA8, accelerator='tpu'), ['accelerator=', 'cpu, nvidia']),
    ('model bigger than memory', 'spr_2s_112c', dict(LLAMA8, model_weights_gib=600),
     ['model does not fit', 'model_weights_gib', 'NUMA node 0']),
    ('model bigger than both sockets', 'spr_2s_112c', dict(LLAMA8, model_weights_gib=600, strategy='single'),
     ['model does not fit', '1/2 of 600']),
    ('model bigger than cgroup limit', 'container_limited', LLAMA8, ['cgroup memory limit', 'model_weights_gib']),
    ('zero cores left after reservation', 'container_limited', dict(QWEN05, reserved_cores_per_instance=4),
     ['reserved_cores_per_instance=4', 'zero cores', 'vllm-node0', '4 physical cores']),
    ('zero cores on a 2-core VM', 'vm_2core', dict(QWEN05, reserved_cores_per_instance=2), ['reserved_cores_per_instance=2']),
    ('tensor parallel 6', 'spr_2s_112c', dict(LLAMA8, tensor_parallel_size=6), ['tensor_parallel_size=6', '1, 2, 4 or 8']),
    ('tensor parallel 3', 'spr_2s_112c', dict(LLAMA8, tensor_parallel_size=3), ['tensor_parallel_size=3']),
    ('tensor parallel not matching strategy', 'spr_2s_112c', dict(LLAMA8, tensor_parallel_size=2),
     ['tensor_parallel_size=2', 'strategy=per_numa_node', '1 NUMA node']),
    ('per_socket on SNC3', 'xeon6_snc3', dict(LLAMA8, strategy='per_socket'),
     ['strategy=per_socket', 'tensor parallel size 3', 'strategy=per_numa_node']),
    ('single on SNC3', 'xeon6_snc3', dict(LLAMA8, strategy='single'), ['strategy=single', 'tensor parallel size 6']),
    ('bfloat16 on AVX2', 'avx2_1s', dict(QWEN05, dtype='bfloat16'), ['dtype=bfloat16', 'amx_bf16', 'avx2']),
    ('float16 on CPU', 'spr_2s_112c', dict(LLAMA8, dtype='float16'), ['dtype=float16', 'accelerator=cpu']),
    ('onednn bf16 on AVX2', 'avx2_1s', dict(QWEN05, onednn_fpmath_mode='BF16'), ['onednn_fpmath_mode=BF16']),
    ('onednn on nvidia', 'gpu_4x_2node', dict(QWEN05, accelerator='nvidia', onednn_fpmath_mode='STRICT'), ['onednn_fpmath_mode']),
    ('onednn unknown', 'spr_2s_112c', dict(LLAMA8, onednn_fpmath_mode='fast'), ['onednn_fpmath_mode=', 'STRICT, BF16, ANY']),
    ('nvidia without GPUs', 'spr_2s_112c', dict(LLAMA8, accelerator='nvidia'), ['accelerator=nvidia', 'no NVIDIA GPU']),
    ('gpus_per_instance larger than GPUs', 'gpu_4x_2node', dict(LLAMA8, accelerator='nvidia', gpus_per_instance=8),
     ['gpus_per_instance=8', '4 NVIDIA GPUs']),
    ('gpus_per_instance 3', 'gpu_4x_2node', dict(LLAMA8, accelerator='nvidia', gpus_per_instance=3), ['gpus_per_instance=3']),
    ('gpus_per_instance vs tensor_parallel_size', 'gpu_4x_2node',
     dict(LLAMA8, accelerator='nvidia', gpus_per_instance=2, tensor_parallel_size=4), ['tensor_parallel_size=4', 'gpus_per_instance=2']),
    ('model bigger than all GPUs', 'gpu_4x_2node', dict(LLAMA8, accelerator='nvidia', model_weights_gib=400, gpu_memory_gib=80),
     ['model does not fit', 'gpu_memory_gib', 'model_weights_gib']),
    ('model bigger than the requested GPUs', 'gpu_4x_2node',
     dict(LLAMA8, accelerator='nvidia', model_weights_gib=100, gpu_memory_gib=80, gpus_per_instance=1), ['gpus_per_instance=1']),
    ('one sequence does not fit', 'cxl_memnode', dict(LLAMA8, max_model_len=1000000),
     ['cannot hold one sequence', 'max_model_len=1000000', 'vllm-node0']),
    ('one sequence above kv_cache_max_gib', 'spr_2s_112c', dict(LLAMA8, max_model_len=100000, kv_cache_max_gib=8),
     ['cannot hold one sequence', 'raise kv_cache_max_gib']),
    ('kv_cache_gib too large', 'vm_2core', dict(QWEN05, kv_cache_gib=100), ['kv_cache_gib=100', 'vllm-node0']),
    ('kv_cache_gib above cap', 'vm_2core', dict(QWEN05, kv_cache_gib=10, kv_cache_max_gib=5), ['kv_cache_gib=10', 'kv_cache_max_gib=5']),
    ('no weights on cpu', 'spr_2s_112c', {'model_name': 'x'}, ['model_weights_gib is required']),
    ('no model name', 'spr_2s_112c', {'model_weights_gib': 1}, ['model_name']),
    ('model name with space', 'spr_2s_112c', dict(LLAMA8, model_name='a b'), ['model_name=']),
    ('zero max_model_len', 'spr_2s_112c', dict(LLAMA8, max_model_len=0), ['max_model_len=0', 'at least 1']),
    ('negative reserved cores', 'spr_2s_112c', dict(LLAMA8, reserved_cores_per_instance=-1), ['reserved_cores_per_instance=-1']),
    ('zero weights', 'spr_2s_112c', dict(LLAMA8, model_weights_gib=0), ['model_weights_gib=0']),
    ('negative overhead', 'spr_2s_112c', dict(LLAMA8, runtime_overhead_gib=-1), ['runtime_overhead_gib=-1']),
    ('negative headroom', 'spr_2s_112c', dict(LLAMA8, os_headroom_gib=-0.5), ['os_headroom_gib=-0.5']),
    ('zero kv cache', 'spr_2s_112c', dict(LLAMA8, kv_cache_gib=0), ['kv_cache_gib=0']),
    ('zero kv bytes', 'spr_2s_112c', dict(LLAMA8, model_kv_bytes_per_token=0), ['model_kv_bytes_per_token=0']),
    ('zero instances', 'spr_2s_112c', dict(LLAMA8, instances=0), ['instances=0']),
    ('negative hugepages', 'spr_2s_112c', dict(LLAMA8, hugepages_2m_per_node=-1), ['hugepages_2m_per_node=-1']),
    ('zero gpu memory utilization', 'gpu_4x_2node', dict(LLAMA8, accelerator='nvidia', gpu_memory_utilization=0),
     ['gpu_memory_utilization=0']),
    ('gpu memory utilization above 1', 'gpu_4x_2node', dict(LLAMA8, accelerator='nvidia', gpu_memory_utilization=1.5),
     ['gpu_memory_utilization=1.5']),
    ('zero gpu memory', 'gpu_4x_2node', dict(LLAMA8, accelerator='nvidia', gpu_memory_gib=0), ['gpu_memory_gib=0']),
    ('port out of range', 'spr_2s_112c', dict(LLAMA8, base_port=70000), ['base_port=70000']),
    ('ports run past 65535', 'xeon6_snc3', dict(QWEN05, base_port=65533), ['base_port=65533']),
    ('front port collides', 'spr_2s_112c', dict(LLAMA8, front_port=8101), ['front_port=8101', 'base_port=8100']),
    ('listen address not an IP', 'spr_2s_112c', dict(LLAMA8, listen_address='my-host'),
     ['listen_address=', 'my-host', 'not an IP address']),
    ('expose_instances not a bool', 'spr_2s_112c', dict(LLAMA8, expose_instances='yes'), ['expose_instances=']),
    ('bad name prefix', 'spr_2s_112c', dict(LLAMA8, name_prefix='My vLLM'), ['name_prefix=']),
    ('relative preload library', 'spr_2s_112c', dict(LLAMA8, preload_libraries=['libiomp5.so']), ['preload_libraries']),
    ('preload libraries not a list', 'spr_2s_112c', dict(LLAMA8, preload_libraries='/a.so'), ['preload_libraries']),
    ('relative tcmalloc path', 'spr_2s_112c', dict(LLAMA8, tcmalloc_path='libtcmalloc.so'), ['tcmalloc_path']),
    ('intel openmp path with a colon', 'spr_2s_112c', dict(LLAMA8, intel_openmp_path='/a.so:/b.so'), ['intel_openmp_path']),
    ('unknown option', 'spr_2s_112c', dict(LLAMA8, tp=2), ['unknown option', 'tp']),
    ('weights as string', 'spr_2s_112c', dict(LLAMA8, model_weights_gib='15'), ['model_weights_gib=']),
    ('boolean max_model_len', 'spr_2s_112c', dict(LLAMA8, max_model_len=True), ['max_model_len=']),
]


@pytest.mark.parametrize('fixture_name,options,words', [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_inputs(fixture_name, options, words):
    with pytest.raises(PlanError) as exc:
        build_plan(topo(fixture_name), options)
    message = str(exc.value)
    for word in words:
        assert word in message, message


@pytest.mark.parametrize('topology,words', [
    ({}, ['topology has no numa_nodes']),
    ([], ['topology must be a dict']),
    ({'numa_nodes': [{'cpus': [0]}]}, ['topology is malformed']),
])
def test_bad_topology(topology, words):
    with pytest.raises(PlanError) as exc:
        build_plan(topology, LLAMA8)
    for word in words:
        assert word in str(exc.value)


def test_no_usable_node():
    t = synthetic([2, 2], sockets_of=[0, 1])
    t['cgroup']['cpuset_mems'] = [5]
    with pytest.raises(PlanError, match='no NUMA node has both allowed CPUs and allowed memory'):
        build_plan(t, QWEN05)


def test_node_with_memory_outside_cpuset_mems_is_skipped():
    t = synthetic([2, 2], sockets_of=[0, 1])
    t['cgroup']['cpuset_mems'] = [1]
    plan = build_plan(t, QWEN05)
    assert [i['name'] for i in plan['instances']] == ['vllm-node1']
    assert plan['host']['inference_cpulist'] == '3'
    assert plan['host']['housekeeping_cpulist'] == '0-2,4-7'
    assert any('outside the cgroup cpuset.mems' in line for line in plan['explain'])


TCMALLOC = '/usr/lib64/libtcmalloc_minimal.so.4'
IOMP = '/opt/inferops-vllm/current/lib/libiomp5.so'


def test_preloads_tcmalloc_then_intel_openmp_then_extras_with_reason():
    plan = plan_for('spr_2s_112c', LLAMA8, tcmalloc_path=TCMALLOC, intel_openmp_path=IOMP,
                    preload_libraries=['/opt/extra/libfoo.so', TCMALLOC])
    assert [i['env']['LD_PRELOAD'] for i in plan['instances']] == [TCMALLOC + ':' + IOMP + ':/opt/extra/libfoo.so'] * 2
    line = [e for e in plan['explain'] if e.startswith('LD_PRELOAD=')]
    assert len(line) == 1
    assert line[0].startswith('LD_PRELOAD=%s:%s:/opt/extra/libfoo.so: tcmalloc first (%s: ' % (TCMALLOC, IOMP, TCMALLOC))
    assert 'then the Intel OpenMP of the installed vLLM runtime (%s: ' % IOMP in line[0]
    assert 'then preload_libraries /opt/extra/libfoo.so' in line[0]
    assert 'one owner' in line[0]


def test_empty_preload_paths_mean_none_and_are_said():
    plan = plan_for('spr_2s_112c', LLAMA8, tcmalloc_path='', intel_openmp_path='')
    assert all('LD_PRELOAD' not in i['env'] for i in plan['instances'])
    assert any(e.startswith('No LD_PRELOAD: tcmalloc_path, intel_openmp_path and preload_libraries are unset')
               for e in plan['explain'])


def test_intel_openmp_alone_without_tcmalloc():
    plan = plan_for('spr_2s_112c', LLAMA8, intel_openmp_path=IOMP)
    assert plan['instances'][0]['env']['LD_PRELOAD'] == IOMP


def test_nvidia_ignores_the_cpu_preloads_and_says_so():
    plan = plan_for('gpu_4x_2node', LLAMA8, accelerator='nvidia', tcmalloc_path=TCMALLOC, intel_openmp_path=IOMP)
    assert all('LD_PRELOAD' not in i['env'] for i in plan['instances'])
    assert any(e.startswith('tcmalloc_path and intel_openmp_path are CPU settings') for e in plan['explain'])


def test_plan_does_not_modify_inputs():
    t = topo('spr_2s_112c')
    before = copy.deepcopy(t)
    options = dict(LLAMA8, preload_libraries=['/a.so'])
    build_plan(t, options)
    assert t == before
    assert options == dict(LLAMA8, preload_libraries=['/a.so'])


# --------------------------------------------------------------------------- AMD EPYC

GENOA_BF16 = 'bf16 via avx512_bf16 (no AMX on AMD): oneDNN runs the bf16 matrix multiplications on AVX-512 BF16 instructions (Zen 4 and later).'


def test_genoa_nps4_per_numa_node_whole_plan():
    plan = plan_for('genoa_2s_nps4', LLAMA8)
    assert plan['dtype'] == 'bfloat16'
    got = [(i['name'], i['port'], i['numa_nodes'], i['sockets'], i['cpuset'], i['omp_threads_bind'], i['kv_cache_gib'])
           for i in plan['instances']]
    assert got == [
        ('vllm-node0', 8100, [0], [0], '0-23,192-215', '1-23', 170),
        ('vllm-node1', 8101, [1], [0], '24-47,216-239', '25-47', 173),
        ('vllm-node2', 8102, [2], [0], '48-71,240-263', '49-71', 173),
        ('vllm-node3', 8103, [3], [0], '72-95,264-287', '73-95', 173),
        ('vllm-node4', 8104, [4], [1], '96-119,288-311', '97-119', 173),
        ('vllm-node5', 8105, [5], [1], '120-143,312-335', '121-143', 173),
        ('vllm-node6', 8106, [6], [1], '144-167,336-359', '145-167', 173),
        ('vllm-node7', 8107, [7], [1], '168-191,360-383', '169-191', 173),
    ]
    for inst in plan['instances']:
        assert (inst['tensor_parallel_size'], inst['dtype'], inst['mems']) == (1, 'bfloat16', str(inst['numa_nodes'][0]))
        assert inst['args'][inst['args'].index('--dtype') + 1] == 'bfloat16'
        assert inst['env'] == {'GLOO_SOCKET_IFNAME': 'lo', 'VLLM_CPU_KVCACHE_SPACE': str(inst['kv_cache_gib']),
                               'VLLM_CPU_OMP_THREADS_BIND': inst['omp_threads_bind']}
        assert len(inst['inference_cpus']) == 23
        assert inst['ranks'][0]['headroom_gib'] == 0.5
    assert plan['host']['inference_cpulist'] == '1-23,25-47,49-71,73-95,97-119,121-143,145-167,169-191'
    assert plan['host']['housekeeping_cpulist'] == '0,24,48,72,96,120,144,168,192-383'
    assert plan['host']['ports'] == r(8100, 8107)
    assert plan['warnings'] == []
    explain = plan['explain']
    assert 'dtype auto -> bfloat16: the CPU has avx512_bf16.' in explain
    assert GENOA_BF16 in explain
    assert ('AMD EPYC NPS4: 8 NUMA nodes (2 sockets x 4, 24 cores each); one instance per node keeps every thread '
            'next to the memory channels of its node.') in explain
    assert ('L3 domains (CCDs): 3 per NUMA node, each 8 cores sharing 32 MiB of L3; threads are bound in core order, '
            "so a rank's threads keep to its node's L3 domains and no two instances share an L3.") in explain
    # the Xeon wording is not used on AMD
    assert not any('Sub-NUMA clustering' in line or 'amx_bf16' in line for line in explain)


def test_genoa_nps4_per_socket_is_tp4_over_the_sockets_nodes():
    plan = plan_for('genoa_2s_nps4', LLAMA8, strategy='per_socket')
    got = [(i['name'], i['numa_nodes'], i['cpuset'], i['omp_threads_bind'], i['tensor_parallel_size'], i['kv_cache_gib'])
           for i in plan['instances']]
    assert got == [
        ('vllm-socket0', [0, 1, 2, 3], '0-95,192-287', '1-23|25-47|49-71|73-95', 4, 181),
        ('vllm-socket1', [4, 5, 6, 7], '96-191,288-383', '97-119|121-143|145-167|169-191', 4, 184),
    ]
    inst = plan['instances'][0]
    assert [(x['rank'], x['numa_node'], x['threads']) for x in inst['ranks']] == [(0, 0, 23), (1, 1, 23), (2, 2, 23), (3, 3, 23)]
    assert inst['args'][inst['args'].index('--tensor-parallel-size') + 1] == '4'
    assert inst['mems'] == '0,1,2,3'
    assert ('AMD EPYC NPS4: 8 NUMA nodes (2 sockets x 4, 24 cores each); tensor parallelism spans each socket\'s nodes, '
            'one rank per node (TP 4).') in plan['explain']
    # tensor_parallel_size=4 agrees with per_socket on NPS4
    assert plan_for('genoa_2s_nps4', LLAMA8, strategy='per_socket', tensor_parallel_size=4)['instances'] == plan['instances']


def test_genoa_nps4_single_is_tp8():
    plan = plan_for('genoa_2s_nps4', LLAMA8, strategy='single')
    assert [(i['name'], i['tensor_parallel_size'], i['cpuset'], i['omp_threads_bind'].count('|')) for i in plan['instances']] == [
        ('vllm-all', 8, '0-383', 7)]
    assert any(line.endswith('tensor parallelism spans all nodes, one rank per node (TP 8).') for line in plan['explain'])


def test_genoa_nps_tp3_is_refused_like_snc3():
    # node 3 outside cpuset.mems leaves socket 0 three NPS4 nodes: TP 3 is refused
    t = topo('genoa_2s_nps4')
    t['cgroup']['cpuset_mems'] = [0, 1, 2, 4, 5, 6, 7]
    with pytest.raises(PlanError) as exc:
        build_plan(t, dict(LLAMA8, strategy='per_socket'))
    message = str(exc.value)
    for word in ('strategy=per_socket', 'vllm-socket0', 'tensor parallel size 3', '1, 2, 4 or 8', 'strategy=per_numa_node'):
        assert word in message, message
    # one instance per node still works there
    assert len(build_plan(t, LLAMA8)['instances']) == 7


def test_turin_nps2_per_numa_node_and_per_socket():
    plan = plan_for('turin_1s_nps2', LLAMA8)
    assert [summary(i) for i in plan['instances']] == [
        {'name': 'vllm-node0', 'port': 8100, 'numa_nodes': [0], 'cpuset': '0-63,128-191', 'bind': '1-63', 'tp': 1,
         'dtype': 'bfloat16', 'kv': 360, 'env': {'GLOO_SOCKET_IFNAME': 'lo', 'VLLM_CPU_KVCACHE_SPACE': '360', 'VLLM_CPU_OMP_THREADS_BIND': '1-63'}},
        {'name': 'vllm-node1', 'port': 8101, 'numa_nodes': [1], 'cpuset': '64-127,192-255', 'bind': '65-127', 'tp': 1,
         'dtype': 'bfloat16', 'kv': 363, 'env': {'GLOO_SOCKET_IFNAME': 'lo', 'VLLM_CPU_KVCACHE_SPACE': '363', 'VLLM_CPU_OMP_THREADS_BIND': '65-127'}},
    ]
    assert GENOA_BF16 in plan['explain']
    assert ('AMD EPYC NPS2: 2 NUMA nodes (1 socket x 2, 64 cores each); one instance per node keeps every thread next to '
            'the memory channels of its node.') in plan['explain']
    assert any(line.startswith('L3 domains (CCDs): 8 per NUMA node, each 8 cores sharing 32 MiB of L3;') for line in plan['explain'])
    socket = plan_for('turin_1s_nps2', LLAMA8, strategy='per_socket')
    assert [summary(i) for i in socket['instances']] == [
        {'name': 'vllm-socket0', 'port': 8100, 'numa_nodes': [0, 1], 'cpuset': '0-255', 'bind': '1-63|65-127', 'tp': 2,
         'dtype': 'bfloat16', 'kv': 367, 'env': {'GLOO_SOCKET_IFNAME': 'lo', 'VLLM_CPU_KVCACHE_SPACE': '367', 'VLLM_CPU_OMP_THREADS_BIND': '1-63|65-127'}}]
    assert ("AMD EPYC NPS2: 2 NUMA nodes (1 socket x 2, 64 cores each); tensor parallelism spans each socket's nodes, "
            'one rank per node (TP 2).') in socket['explain']


@pytest.mark.parametrize('name', ['genoa_2s_nps4', 'turin_1s_nps2'])
def test_epyc_fixture_invariants(name):
    test_every_fixture_invariants(name)


@pytest.mark.parametrize('name', ['genoa_2s_nps4', 'turin_1s_nps2'])
def test_epyc_bf16_options(name):
    # bf16 requested, and oneDNN's BF16 fpmath, both accepted without AMX
    plan = plan_for(name, LLAMA8, dtype='bfloat16', onednn_fpmath_mode='BF16')
    assert plan['dtype'] == 'bfloat16'
    assert GENOA_BF16 in plan['explain']
    assert all(i['env']['ONEDNN_DEFAULT_FPMATH_MODE'] == 'BF16' for i in plan['instances'])
    # float32 as requested: no bf16 sentence
    fp32 = plan_for(name, LLAMA8, dtype='float32')
    assert fp32['dtype'] == 'float32' and GENOA_BF16 not in fp32['explain']


def test_amd_without_avx512_bf16_is_float32():
    # a Milan-like host (Zen 3): AVX2 only
    t = topo('genoa_2s_nps4')
    t['cpu']['flags'] = dict((flag, flag == 'avx2') for flag in t['cpu']['flags'])
    t['cpu']['isa'] = 'avx2'
    t['cpu']['model_name'] = 'AMD EPYC 7763 64-Core Processor'
    plan = build_plan(t, LLAMA8)
    assert plan['dtype'] == 'float32'
    assert 'AMD EPYC without avx512_bf16 (before Zen 4: Rome, Milan): no bf16 instructions, so float32.' in plan['explain']
    with pytest.raises(PlanError, match='dtype=bfloat16 needs the amx_bf16 or avx512_bf16'):
        build_plan(t, dict(LLAMA8, dtype='bfloat16'))


def test_vendor_from_vendor_id_when_the_topology_predates_it():
    t = topo('genoa_2s_nps4')
    expected = build_plan(t, LLAMA8)
    del t['vendor']
    assert build_plan(t, LLAMA8) == expected


def make_sysfs():
    """The fixture generator, to build variants of its machines in tmp dirs."""
    import importlib.util
    spec = importlib.util.spec_from_file_location('make_sysfs', os.path.join(FIXTURES, '..', 'make_sysfs.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_nps0_says_why_it_is_a_poor_fit(tmp_path):
    gen = make_sysfs()
    machine = dict(gen._machines()['genoa_2s_nps4'])
    machine.update({'nodes': [gen._node(range(0, 192), 1610612736, 1600000000)], 'distances': [[10]], 'cgroup': None})
    plan = build_plan(gather_topology(gen.build_machine(str(tmp_path), 'genoa_nps0', machine)), LLAMA8)
    assert [(i['name'], i['numa_nodes'], i['sockets'], i['omp_threads_bind']) for i in plan['instances']] == [
        ('vllm-node0', [0], [], '1-191')]
    assert any(line.startswith('AMD EPYC NPS0: one NUMA node spans the sockets') for line in plan['explain'])
    # the 24 CCDs sit in the one node: 24 L3 domains per node
    assert any(line.startswith('L3 domains (CCDs): 24 per NUMA node') for line in plan['explain'])


def test_l3_as_numa_domain_per_node_and_tp16_refused(tmp_path):
    # BIOS "L3 cache as NUMA domain" on a Turin: 16 nodes of one CCD each
    gen = make_sysfs()
    machine = dict(gen._machines()['turin_1s_nps2'])
    machine.update({'nodes': [gen._node(range(first, first + 8), 50331648, 50000000) for first in range(0, 128, 8)],
                    'distances': gen._distances([0] * 16, same=11), 'cgroup': None})
    t = gather_topology(gen.build_machine(str(tmp_path), 'turin_l3numa', machine))
    plan = build_plan(t, QWEN05)
    assert len(plan['instances']) == 16
    assert plan['instances'][15]['omp_threads_bind'] == '121-127'
    assert ('AMD EPYC with L3 cache as NUMA domain: 16 NUMA nodes, one per CCD, 8 cores each; one instance per node '
            'keeps every thread next to the memory channels of its node.') in plan['explain']
    # one L3 per node: nothing more to say about L3
    assert not any(line.startswith('L3 domains') for line in plan['explain'])
    with pytest.raises(PlanError, match='tensor parallel size 16, which vLLM does not support'):
        build_plan(t, dict(QWEN05, strategy='per_socket'))


def test_l3_per_socket_on_xeon_changes_nothing(tmp_path):
    # a Xeon shows one L3 per socket (= per node here): no L3 sentence, the plan is the same
    root = str(tmp_path / 'spr')
    shutil.copytree(os.path.join(FIXTURES, 'spr_2s_112c'), root)
    for cpu in range(224):
        cache = os.path.join(root, 'sys/devices/system/cpu/cpu%d/cache/index3' % cpu)
        os.makedirs(cache)
        socket_cpus = '0-55,112-167' if cpu % 112 < 56 else '56-111,168-223'
        for name, text in (('level', '3'), ('size', '107520K'), ('shared_cpu_list', socket_cpus)):
            with open(os.path.join(cache, name), 'w') as handle:
                handle.write(text + '\n')
    with_l3 = gather_topology(root)
    assert [(d['socket'], d['numa_nodes'], d['size_bytes']) for d in with_l3['l3_domains']] == [
        (0, [0], 105 * 1024 ** 2), (1, [1], 105 * 1024 ** 2)]
    assert build_plan(with_l3, LLAMA8) == plan_for('spr_2s_112c', LLAMA8)


def test_malformed_l3_domains_in_the_topology():
    t = topo('turin_1s_nps2')
    t['l3_domains'] = ['0-7']
    with pytest.raises(PlanError, match='topology is malformed'):
        build_plan(t, LLAMA8)


# --------------------------------------------------------------------------- refusals that say what would work

def _largest_hugepages(message):
    import re
    found = re.search(r'lower hugepages_2m_per_node=(\d+) to at most (\d+) ', message)
    assert found, message
    return int(found.group(1)), int(found.group(2))


@pytest.mark.parametrize('requested', [120000, 118400])
def test_hugepages_that_crowd_out_the_model_name_the_largest_that_fits(requested):
    # spr_2s_112c node 0: 251.36 GiB; 120000 pages (234 GiB) leave no room for the weights, 118400 (231 GiB)
    # leave less than the KV cache of one sequence: both refusals give the largest count that plans.
    with pytest.raises(PlanError) as exc:
        plan_for('spr_2s_112c', LLAMA8, hugepages_2m_per_node=requested)
    asked, largest = _largest_hugepages(str(exc.value))
    assert asked == requested
    assert 0 < largest < requested
    plan = plan_for('spr_2s_112c', LLAMA8, hugepages_2m_per_node=largest)
    assert min(i['kv_cache_gib'] for i in plan['instances']) >= 1
    with pytest.raises(PlanError):
        plan_for('spr_2s_112c', LLAMA8, hugepages_2m_per_node=largest + 512)


def test_hugepages_advice_when_the_model_does_not_fit_even_without_them():
    t = synthetic([4], mem_gib=16)
    with pytest.raises(PlanError) as exc:
        build_plan(t, dict(LLAMA8, hugepages_2m_per_node=1024))
    assert 'even without hugepages' in str(exc.value)
    assert 'hugepages_2m_per_node=0' in str(exc.value)


def test_missing_model_path_says_it_does_not_exist():
    with pytest.raises(PlanError) as exc:
        build_plan(topo('spr_2s_112c'), {'model_name': 'x', 'model_path': '/srv/models/does-not-exist'},
                   read_model_dir('/srv/models/does-not-exist'))
    assert 'model_path=/srv/models/does-not-exist does not exist' in str(exc.value)


def test_model_dir_without_weights_says_so(tmp_path):
    with pytest.raises(PlanError) as exc:
        build_plan(topo('spr_2s_112c'), {'model_name': 'x', 'model_path': str(tmp_path)}, read_model_dir(str(tmp_path)))
    assert 'has no weight files' in str(exc.value)
    assert 'does not exist' not in str(exc.value)


def test_more_instances_than_the_cpu_host_allows_is_a_warning():
    plan = plan_for('spr_2s_112c', LLAMA8, instances=16)
    assert len(plan['instances']) == 2
    assert any('instances=16 is more than this host allows' in w and 'instances=2 or less' in w for w in plan['warnings'])


def test_more_instances_than_the_gpu_host_allows_is_a_warning():
    plan = plan_for('gpu_4x_2node', LLAMA8, accelerator='nvidia', instances=16)
    assert len(plan['instances']) == 4
    assert any('instances=16 is more than this host allows' in w and '4 NVIDIA GPUs' in w for w in plan['warnings'])


def test_fewer_instances_is_no_warning():
    assert plan_for('spr_2s_112c', LLAMA8, instances=1)['warnings'] == []
