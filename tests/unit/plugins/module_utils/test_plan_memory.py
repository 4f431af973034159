# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The figures the planner owns besides KV cache and binding: instance memory with weights, the
memory limit per instance, /dev/shm, and the oneDNN environment; each with its reason in explain."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible_collections.inferops.vllm.plugins.module_utils.plan import PlanError, build_plan
from ansible_collections.inferops.vllm.plugins.module_utils.plan_memory import instance_memory
from ansible_collections.inferops.vllm.plugins.module_utils.topology import gather_topology

FIXTURES = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures', 'sysfs'))
# The molecule and demo model: a tiny Llama, 1 GiB of KV cache
TINY = {'model_name': 'tiny-llama', 'model_weights_gib': 0.01, 'model_kv_bytes_per_token': 8192, 'max_model_len': 2048,
        'kv_cache_gib': 1}
LLAMA8 = {'model_name': 'llama-3.1-8b', 'model_weights_gib': 14.96, 'model_kv_bytes_per_token': 131072, 'max_model_len': 8192}


def plan_for(name, base, **extra):
    options = dict(base)
    options.update(extra)
    return build_plan(gather_topology(os.path.join(FIXTURES, name)), options)


def lines(plan, word):
    return [line for line in plan['explain'] if word in line]


# --------------------------------------------------------------------------- instance_memory

def test_instance_memory_tp1_by_hand():
    figures, sentence = instance_memory('vllm-a', 0.01, 1, 3.0, 1, 160, 25)
    # 1 GiB KV + (0.01 + 3) GiB x 1024 + 160 MiB, the varying part x 1.25: 1024 + 3242.24 x 1.25 = 5076.8 -> 5077
    assert figures == {'memory_gib': 4.01, 'shm_mib': 160, 'memory_max_mib': 5077, 'memory_max_bytes': 5077 * 1048576}
    assert sentence.startswith('vllm-a: memory 4.01 GiB = 0.01 weights + 1 KV cache + 3 runtime overhead; '
                               'memory limit 5077 MiB = 1 GiB KV cache (allocated once at its planned size) + '
                               '(3.01 GiB weights and runtime + 160 MiB /dev/shm) x 1.25 (memory_limit_headroom_pct=25)')
    assert 'OOM-killed inside its own unit' in sentence


def test_instance_memory_tp2_counts_the_overhead_per_rank():
    figures, sentence = instance_memory('vllm-s0', 14.96, 2 * 100, 3.0, 2, 160, 0)
    # no headroom: 200 x 1024 + (14.96 + 6) x 1024 + 160 = 204800 + 21463.04 + 160 -> 226424
    assert figures['memory_gib'] == 220.96
    assert figures['memory_max_mib'] == 226424
    assert '6 runtime overhead (3 x 2 ranks)' in sentence
    assert 'x 1 (memory_limit_headroom_pct=0)' in sentence


def test_instance_memory_without_limit():
    figures, sentence = instance_memory('vllm-a', 1.0, 4, 3.0, 1, 160, 25, limit=False)
    assert figures == {'memory_gib': 8.0, 'shm_mib': 160, 'memory_max_mib': None, 'memory_max_bytes': None}
    assert 'no memory limit (memory_limit=false)' in sentence


# --------------------------------------------------------------------------- in the plan

def test_plan_memory_includes_weights_and_the_limit_is_in_explain():
    plan = plan_for('spr_2s_112c', LLAMA8)
    node0, node1 = plan['instances']
    assert (node0['memory_gib'], node1['memory_gib']) == (14.96 + 229 + 3, 14.96 + 230 + 3)
    assert plan['host']['memory_planned_gib'] == round(node0['memory_gib'] + node1['memory_gib'], 2)
    assert node1['memory_max_mib'] == 230 * 1024 + 23189  # (17.96 x 1024 + 160) x 1.25 = 23188.8 -> up
    assert lines(plan, 'vllm-node1: memory 247.96 GiB = 14.96 weights + 230 KV cache + 3 runtime overhead; '
                       'memory limit 258709 MiB')


def test_demo_like_host_tiny_model():
    """The demo's figures (inventories/demo: runtime overhead 2, KV 1 GiB) on a 2-core VM."""
    plan = plan_for('vm_2core', TINY, runtime_overhead_gib=2, os_headroom_gib=1)
    inst = plan['instances'][0]
    # 1024 + (2.01 x 1024 + 160) x 1.25 = 1024 + 2772.8 -> 3797 MiB: above the ~2.3 GiB measured while serving
    assert (inst['memory_gib'], inst['memory_max_mib'], inst['shm_mib'], inst['container_shm_mib']) == (3.01, 3797, 160, 4096)


def test_headroom_and_disabled_limit_options():
    # no headroom: 1024 + 3.01 x 1024 + 160 = 4266.24, rounded up
    assert plan_for('vm_2core', TINY, memory_limit_headroom_pct=0)['instances'][0]['memory_max_mib'] == 4267
    plan = plan_for('vm_2core', TINY, memory_limit=False)
    assert plan['instances'][0]['memory_max_mib'] is None
    assert plan['instances'][0]['memory_gib'] == 4.01
    assert lines(plan, 'no memory limit (memory_limit=false)')


def test_tp2_instance_limit_uses_all_ranks():
    plan = plan_for('spr_2s_112c', LLAMA8, strategy='single')
    inst = plan['instances'][0]
    tp, kv = inst['tensor_parallel_size'], inst['kv_cache_total_gib']
    assert tp == 2
    assert inst['memory_gib'] == round(14.96 + kv + 3 * tp, 2)
    assert lines(plan, 'runtime overhead (3 x 2 ranks)')


def test_shm_per_instance_and_host_with_reason():
    plan = plan_for('spr_2s_112c', LLAMA8)
    assert [i['shm_mib'] for i in plan['instances']] == [160, 160]
    assert plan['host']['shm_mib'] == 320
    (line,) = lines(plan, '/dev/shm: ')
    assert line.startswith('/dev/shm: 160 MiB free per instance at start (320 MiB for 2 instances; ')
    assert 'Insufficient space in /dev/shm' in line
    assert 'own /dev/shm of 4096 MiB' in line


def test_nvidia_has_no_memory_limit_and_says_why():
    plan = plan_for('gpu_4x_2node', dict(LLAMA8, accelerator='nvidia'))
    for inst in plan['instances']:
        assert (inst['memory_gib'], inst['memory_max_mib'], inst['shm_mib'], inst['container_shm_mib']) == (None, None, 160, 16384)
    assert plan['host']['memory_planned_gib'] == 0
    assert lines(plan, 'No memory limit on NVIDIA instances')
    assert lines(plan, 'own /dev/shm of 16384 MiB')


def test_onednn_settings_are_the_plans_with_reasons():
    plan = plan_for('spr_2s_112c', LLAMA8, onednn_fpmath_mode='bf16', onednn_max_cpu_isa='avx512_core_amx',
                    onednn_primitive_cache_capacity=2048)
    for inst in plan['instances']:
        assert inst['env']['ONEDNN_DEFAULT_FPMATH_MODE'] == 'BF16'
        assert inst['env']['ONEDNN_MAX_CPU_ISA'] == 'AVX512_CORE_AMX'
        assert inst['env']['ONEDNN_PRIMITIVE_CACHE_CAPACITY'] == '2048'
        assert 'VLLM_CPU_NUM_OF_RESERVED_CPU' not in inst['env']
    assert lines(plan, 'ONEDNN_MAX_CPU_ISA=AVX512_CORE_AMX as requested')
    assert lines(plan, 'ONEDNN_PRIMITIVE_CACHE_CAPACITY=2048 as requested')
    assert lines(plan, "the tuning role's environment file sets none")
    assert lines(plan, 'VLLM_CPU_NUM_OF_RESERVED_CPU unset: vLLM reads it only with VLLM_CPU_OMP_THREADS_BIND=auto')


def test_onednn_unset_by_default_and_by_empty_strings():
    for extra in ({}, {'onednn_fpmath_mode': '', 'onednn_max_cpu_isa': ''}):
        plan = plan_for('spr_2s_112c', LLAMA8, **extra)
        assert not [k for k in plan['instances'][0]['env'] if k.startswith('ONEDNN_')]
        assert lines(plan, "ONEDNN_DEFAULT_FPMATH_MODE unset (oneDNN's STRICT")


@pytest.mark.parametrize('options, words', [
    ({'memory_limit_headroom_pct': -1}, ['memory_limit_headroom_pct=-1', 'between 0 and 1000']),
    ({'memory_limit': 'yes'}, ['memory_limit=', 'true or false']),
    ({'onednn_max_cpu_isa': 'AVX9'}, ['onednn_max_cpu_isa=', 'AVX512_CORE_AMX']),
    ({'onednn_primitive_cache_capacity': -5}, ['onednn_primitive_cache_capacity=-5', 'at least 0']),
])
def test_bad_memory_and_onednn_options(options, words):
    with pytest.raises(PlanError) as err:
        plan_for('spr_2s_112c', LLAMA8, **options)
    for word in words:
        assert word in str(err.value)


@pytest.mark.parametrize('option', ['onednn_max_cpu_isa', 'onednn_primitive_cache_capacity'])
def test_onednn_options_refused_on_nvidia(option):
    value = 'AVX2' if option == 'onednn_max_cpu_isa' else 10
    with pytest.raises(PlanError) as err:
        plan_for('gpu_4x_2node', dict(LLAMA8, accelerator='nvidia'), **{option: value})
    assert '%s only applies to accelerator=cpu' % option in str(err.value)
