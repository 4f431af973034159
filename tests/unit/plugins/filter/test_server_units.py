# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The server role's units are the plan's instances, copied: no figure is recomputed."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.inferops.vllm.plugins.filter.server_units import FilterModule
from ansible_collections.inferops.vllm.plugins.module_utils.plan import build_plan
from ansible_collections.inferops.vllm.plugins.module_utils.topology import gather_topology

FIXTURES = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures', 'sysfs'))
server_units = FilterModule().filters()['server_units']
SETTINGS = {'accelerator': 'cpu', 'runtime': 'systemd', 'unit_prefix': 'inferops-vllm-',
            'cache_dir': '/var/lib/inferops-vllm/cache', 'model_name': '', 'model_path': '/srv/models/tiny-llama/',
            'model_runtime_path': '/srv/models/tiny-llama', 'listen': '127.0.0.1', 'extra_args': ['--enforce-eager'],
            'extra_env': {'VLLM_LOGGING_LEVEL': 'INFO'}, 'container_shm_size': ''}


def settings(**extra):
    out = dict(SETTINGS)
    out.update(extra)
    return out


def test_plan_figures_are_copied():
    plan = build_plan(gather_topology(os.path.join(FIXTURES, 'spr_2s_112c')),
                      {'model_name': 'llama', 'model_weights_gib': 14.96, 'model_kv_bytes_per_token': 131072,
                       'onednn_fpmath_mode': 'BF16', 'tcmalloc_path': '/usr/lib64/libtcmalloc_minimal.so.4'})
    units = server_units(plan['instances'], settings())
    for inst, unit in zip(plan['instances'], units):
        assert unit['memory_gib'] == inst['memory_gib']
        assert unit['memory_max_mib'] == inst['memory_max_mib']
        assert unit['shm_mib'] == inst['shm_mib'] == 160
        assert unit['shm_size'] == '4g'
        for key, value in inst['env'].items():
            assert unit['env'][key] == value
        assert unit['argv'][:4] == ['serve', '/srv/models/tiny-llama', '--host', '127.0.0.1']
        assert unit['argv'][4:] == inst['args'] + ['--enforce-eager']
        assert unit['unit'] == 'inferops-vllm-%s.service' % inst['name']
        assert (unit['cpuset'], unit['mems']) == (inst['cpuset'], inst['mems'])
    assert units[0]['env']['ONEDNN_DEFAULT_FPMATH_MODE'] == 'BF16'
    assert units[0]['env']['VLLM_LOGGING_LEVEL'] == 'INFO'
    assert units[0]['env']['VLLM_CACHE_ROOT'] == '/var/lib/inferops-vllm/cache/vllm-node0'


def test_hand_written_instance_gets_served_name_port_and_no_limit():
    (unit,) = server_units([{'name': 'vllm-a', 'port': 8101, 'kv_cache_gib': 2, 'tensor_parallel_size': 2}],
                           settings(extra_args=[]))
    assert unit['argv'][4:] == ['--served-model-name', 'tiny-llama', '--port', '8101']
    assert unit['served'] == 'tiny-llama'
    # not planned: the KV cache of both ranks is all that is known; no memory limit, the planner's shm
    assert (unit['memory_gib'], unit['memory_max_mib'], unit['shm_mib'], unit['shm_size']) == (4.0, None, 160, '4g')
    assert (unit['env']['VLLM_CPU_KVCACHE_SPACE'], unit['env']['VLLM_CPU_OMP_THREADS_BIND']) == ('2', 'auto')


def test_container_settings_and_shm_override():
    (unit,) = server_units([{'name': 'vllm-a', 'port': 8101, 'args': ['--served-model-name', 'x'],
                             'container_shm_mib': 4096, 'memory_max_mib': 5077}],
                           settings(runtime='podman', container_shm_size='8g', model_runtime_path='/models/model'))
    assert unit['shm_size'] == '8g'
    assert unit['memory_max_mib'] == 5077
    assert unit['served'] == 'x'
    assert unit['env']['VLLM_CACHE_ROOT'] == '/var/cache/vllm'
    assert unit['cache'] == '/var/lib/inferops-vllm/cache/vllm-a'


def test_nvidia_gpus_renumbered_inside_a_container():
    inst = {'name': 'vllm-gpu2-3', 'port': 8100, 'gpus': [{'index': 2}, {'index': 3}],
            'env': {'CUDA_VISIBLE_DEVICES': '2,3'}}
    (systemd,) = server_units([inst], settings(accelerator='nvidia'))
    (podman,) = server_units([inst], settings(accelerator='nvidia', runtime='podman'))
    assert systemd['gpus'] == podman['gpus'] == [2, 3]
    assert systemd['env']['CUDA_VISIBLE_DEVICES'] == '2,3'
    assert podman['env']['CUDA_VISIBLE_DEVICES'] == '0,1'
    assert 'VLLM_CPU_KVCACHE_SPACE' not in systemd['env']
    assert (systemd['memory_gib'], systemd['shm_size']) == (0.0, '16g')
