# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Memory of one planned vLLM CPU instance and its limit, each decided once (with its reason).

The instance needs its weights, its KV cache (all ranks) and the runtime overhead per rank; its
limit (systemd ``MemoryMax=``, the container's ``--memory``) is the KV cache plus the parts that
vary (weights, runtime, the /dev/shm it writes) with a headroom, so that an instance which outgrows its plan is killed by the kernel inside its own unit
(which restarts it) instead of pushing another instance or the host into the OOM killer.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import math

MIB_PER_GIB = 1024


def _fmt(value):
    value = round(float(value), 2)
    return str(int(value)) if value == int(value) else '%.2f' % value


def instance_memory(name, weights_gib, kv_total_gib, overhead_gib, tp, shm_mib, headroom_pct, limit=True):
    """Return (figures, sentence) for one CPU instance.

    figures: memory_gib (weights + KV cache + overhead x ranks), shm_mib, memory_max_mib (None when
    ``limit`` is false) and memory_max_bytes.
    """
    overhead_total = overhead_gib * tp
    need_gib = weights_gib + kv_total_gib + overhead_total
    figures = {'memory_gib': round(need_gib, 2), 'shm_mib': shm_mib, 'memory_max_mib': None, 'memory_max_bytes': None}
    sentence = '%s: memory %s GiB = %s weights + %s KV cache + %s runtime overhead%s' % (
        name, _fmt(need_gib), _fmt(weights_gib), _fmt(kv_total_gib), _fmt(overhead_total),
        ' (%s x %d ranks)' % (_fmt(overhead_gib), tp) if tp > 1 else '')
    if not limit:
        return figures, sentence + '; no memory limit (memory_limit=false): an instance that outgrows it meets the ' \
            'host\'s OOM killer, which may pick another process.'
    # The KV cache is allocated once at its planned size (VLLM_CPU_KVCACHE_SPACE); the headroom covers what
    # varies: the runtime (activations grow with the batch), the weights while they load, /dev/shm.
    factor = 1 + headroom_pct / 100.0
    varying_mib = (weights_gib + overhead_total) * MIB_PER_GIB + shm_mib
    max_mib = int(math.ceil(kv_total_gib * MIB_PER_GIB + varying_mib * factor - 1e-9))
    figures['memory_max_mib'] = max_mib
    figures['memory_max_bytes'] = max_mib * 1024 * 1024
    sentence += ('; memory limit %d MiB = %s GiB KV cache (allocated once at its planned size) + (%s GiB weights and '
                 'runtime + %d MiB /dev/shm) x %s (memory_limit_headroom_pct=%d): MemoryMax= for a systemd unit, '
                 '--memory for a container, so an instance that outgrows its plan is OOM-killed inside its own unit, '
                 'which restarts it, and no other instance is touched.'
                 % (max_mib, _fmt(kv_total_gib), _fmt(weights_gib + overhead_total), shm_mib, _fmt(factor), headroom_pct))
    return figures, sentence
