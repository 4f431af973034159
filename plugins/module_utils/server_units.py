# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What the server role renders per instance: the plan's instances plus the role's own settings.

Nothing is decided here that the planner decides (KV cache, binding, preloads, oneDNN, memory,
/dev/shm): those are copied from the plan. This only adds what belongs to the deployment (unit
name, cache directory, offline switches, the listen address, the operator's extra arguments and
environment) and, for hand-written instances that lack a planned figure, the planner's own
constants (never a second formula).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import posixpath

from ansible_collections.inferops.vllm.plugins.module_utils.plan import CONTAINER_SHM_MIB, SHM_MIB_PER_INSTANCE

# The container's cache directory (its volume) and the switches that keep vLLM offline and quiet.
CONTAINER_CACHE = '/var/cache/vllm'
OFFLINE_ENV = {'HF_HUB_OFFLINE': '1', 'TRANSFORMERS_OFFLINE': '1', 'VLLM_NO_USAGE_STATS': '1', 'DO_NOT_TRACK': '1'}


def _served_name(args, settings):
    if '--served-model-name' in args:
        return args[args.index('--served-model-name') + 1], args
    served = settings.get('model_name') or posixpath.basename(str(settings.get('model_path') or '').rstrip('/'))
    return served, ['--served-model-name', served] + args


def _gpus(inst, accelerator):
    if accelerator != 'nvidia':
        return []
    if inst.get('gpus'):
        return [int(gpu['index']) for gpu in inst['gpus']]
    visible = str((inst.get('env') or {}).get('CUDA_VISIBLE_DEVICES', ''))
    return [int(index) for index in visible.split(',') if index.strip()]


def server_unit(inst, settings):
    """One instance of the plan (or a hand-written one) as the role's units render it."""
    accelerator = settings['accelerator']
    runtime = settings['runtime']
    # the plan's arguments, the tool-call parser's (server_tool_call_family), guided decoding's
    # (server_structured_outputs_*), then the operator's
    args = [str(a) for a in list(inst.get('args') or []) + list(settings.get('tool_args') or [])
            + list(settings.get('structured_args') or []) + list(settings.get('extra_args') or [])]
    served, args = _served_name(args, settings)
    if '--port' not in args:
        args += ['--port', str(inst['port'])]
    host_cache = '%s/%s' % (settings['cache_dir'], inst['name'])
    cache = host_cache if runtime == 'systemd' else CONTAINER_CACHE
    env = dict(OFFLINE_ENV)
    env.update({'VLLM_CACHE_ROOT': cache, 'XDG_CACHE_HOME': cache + '/xdg', 'HF_HOME': cache + '/hf'})
    if accelerator == 'cpu':
        # hand-written instances without these keys: vLLM's own minimum and automatic binding
        env['VLLM_CPU_KVCACHE_SPACE'] = str(inst.get('kv_cache_gib') if inst.get('kv_cache_gib') is not None else 1)
        env['VLLM_CPU_OMP_THREADS_BIND'] = str(inst.get('omp_threads_bind') or 'auto')
    for key, value in (inst.get('env') or {}).items():
        env[key] = str(value)
    for key, value in (settings.get('extra_env') or {}).items():
        env[key] = str(value)
    gpus = _gpus(inst, accelerator)
    if accelerator == 'nvidia':
        # A container sees only the GPUs CDI adds to it, numbered from 0: its CUDA_VISIBLE_DEVICES is 0..n-1.
        env['CUDA_DEVICE_ORDER'] = 'PCI_BUS_ID'
        env['CUDA_VISIBLE_DEVICES'] = ','.join(str(i) for i in (range(len(gpus)) if runtime == 'podman' else gpus))
    tp = int(inst.get('tensor_parallel_size') or 1)
    memory_gib = inst.get('memory_gib')
    if memory_gib is None:
        # not planned (hand-written, or NVIDIA): what is known, the KV cache
        kv = inst.get('kv_cache_total_gib')
        memory_gib = float(kv if kv is not None else (inst.get('kv_cache_gib') or 0) * tp) if accelerator == 'cpu' else 0.0
    shm_mib = int(inst.get('container_shm_mib') or CONTAINER_SHM_MIB[accelerator])
    shm_size = settings.get('container_shm_size') or ('%dg' % (shm_mib // 1024) if shm_mib % 1024 == 0 else '%dm' % shm_mib)
    return {
        'name': inst['name'],
        'unit': '%s%s.service' % (settings['unit_prefix'], inst['name']),
        'port': int(inst['port']),
        'cpuset': str(inst.get('cpuset') or ''),
        'mems': str(inst.get('mems') or ''),
        'served': served,
        'cache': host_cache,
        'env': env,
        'gpus': gpus,
        'argv': ['serve', settings['model_runtime_path'], '--host', settings['listen']] + args,
        'memory_gib': round(float(memory_gib), 2),
        'memory_max_mib': inst.get('memory_max_mib'),
        'shm_mib': int(inst.get('shm_mib') or SHM_MIB_PER_INSTANCE),
        'shm_size': shm_size,
    }


def server_units(instances, settings):
    """The role's units for ``instances`` (the plan's) with ``settings`` (the role's variables)."""
    return [server_unit(inst, settings) for inst in instances or []]
