# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Instance planner: host topology + model + operator choices -> vLLM deployment plan.

``build_plan(topology, options, model_info=None)`` is pure: it reads nothing and returns a
plain dict (or raises ``PlanError`` whose message names the offending option).
``read_model_dir(path)`` is the only function that touches the filesystem; the module calls it
to fill ``model_info`` from a staged model directory.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import math
import os
import re

from ansible_collections.inferops.vllm.plugins.module_utils import listeners
from ansible_collections.inferops.vllm.plugins.module_utils.plan_memory import instance_memory
from ansible_collections.inferops.vllm.plugins.module_utils.topology import VENDORS, format_cpulist

GIB = 1024 ** 3
TP_SIZES = (1, 2, 4, 8)
ACCELERATORS = ('cpu', 'nvidia')
STRATEGIES = ('per_numa_node', 'per_socket', 'single')
DTYPES = ('auto', 'bfloat16', 'float32', 'float16')
# The planner workload: the batching shape of the instances (latency or throughput), not a workload
# profile (the kind of traffic the gate sends; module_utils/profiles.py), which names the planner
# workload it is served with.
WORKLOADS = ('online', 'offline')
FPMATH_MODES = ('STRICT', 'BF16', 'ANY')
# ONEDNN_MAX_CPU_ISA values oneDNN accepts (its docs, "CPU dispatcher control").
ONEDNN_MAX_CPU_ISAS = ('DEFAULT', 'SSE41', 'AVX', 'AVX2', 'AVX2_VNNI', 'AVX2_VNNI_2', 'AVX512_CORE',
                       'AVX512_CORE_VNNI', 'AVX512_CORE_BF16', 'AVX512_CORE_FP16', 'AVX512_CORE_AMX',
                       'AVX512_CORE_AMX_FP16', 'AVX10_1_512', 'AVX10_1_512_AMX', 'AVX10_1_512_AMX_FP16',
                       'AVX10_2_512', 'AVX10_2_512_AMX_2')
# Free /dev/shm one vLLM instance needs at start (measured with vLLM 0.32 CPU: with less, its engine dies with
# "Insufficient space in /dev/shm"; the API server and engine core exchange requests through shared-memory
# queues). Also charged to the instance's memory, since tmpfs pages count against the writer's cgroup.
SHM_MIB_PER_INSTANCE = 160
# A container's own /dev/shm (ShmSize=): vLLM's CPU container docs ask for --shm-size 4g (tensor-parallel CPU
# ranks exchange activations through it); NVIDIA: NCCL's shared-memory transport between the GPUs' processes.
CONTAINER_SHM_MIB = {'cpu': 4096, 'nvidia': 16384}
# GLOO_SOCKET_IFNAME of every instance, NCCL_SOCKET_IFNAME of NVIDIA ones (Linux names the loopback interface lo).
# Seen by hand with vLLM 0.32 CPU and the tiny model: its worker listened on about a dozen TCP ports of the address
# the host name resolves to; with this, on 127.0.0.1 (the molecule scenarios assert nothing else listens beyond loopback). NCCL's maintainers give
# NCCL_SOCKET_IFNAME=lo for a single machine (NVIDIA/nccl#965); not run on a GPU here.
LOOPBACK_IFNAME = 'lo'
NVIDIA_VENDOR_ID = 0x10de
WEIGHT_SUFFIXES = ('.safetensors', '.bin', '.pt', '.gguf')

# per rank and planner workload: (max-num-seqs, max-num-batched-tokens)
WORKLOAD_SIZES = {'online': (128, 2048), 'offline': (256, 4096)}
DTYPE_BYTES = {'bfloat16': 2, 'float16': 2, 'half': 2, 'float32': 4, 'float': 4}

DEFAULTS = {
    'accelerator': 'cpu',
    'strategy': 'per_numa_node',
    'model_name': None,
    'model_path': None,
    'model_weights_gib': None,
    'model_kv_bytes_per_token': None,
    'max_model_len': 4096,
    'dtype': 'auto',
    'reserved_cores_per_instance': 1,
    'runtime_overhead_gib': 3.0,
    'os_headroom_gib': 4.0,
    'kv_cache_gib': None,
    'kv_cache_max_gib': None,
    'workload': 'online',
    'instances': None,
    'base_port': 8100,
    'front_port': 8000,
    'expose_instances': False,
    'listen_address': '',
    'name_prefix': 'vllm',
    'tcmalloc_path': None,
    'intel_openmp_path': None,
    'preload_libraries': [],
    'onednn_fpmath_mode': None,
    'onednn_max_cpu_isa': None,
    'onednn_primitive_cache_capacity': 0,
    'memory_limit': True,
    'memory_limit_headroom_pct': 25,
    'hugepages_2m_per_node': 0,
    'tensor_parallel_size': None,
    'gpus_per_instance': None,
    'gpu_memory_gib': None,
    'gpu_memory_utilization': 0.9,
}

_NAME_PREFIX_RE = re.compile(r'^[a-z0-9][a-z0-9_.-]{0,62}$')
_HUGEPAGE_KEY_RE = re.compile(r'^(\d+)kB$')
_EPS = 1e-9


class PlanError(Exception):
    """The plan cannot be made; the message names the option (or fact) to change."""


# --------------------------------------------------------------------------- helpers

def _gib(value):
    """Round a GiB figure for output and messages."""
    return round(float(value), 2)


def _fmt(value):
    """Format GiB figures in sentences: 3 -> '3', 14.964 -> '14.96'."""
    value = _gib(value)
    if value == int(value):
        return str(int(value))
    return '%.2f' % value


def _floor(value):
    return int(math.floor(value + _EPS))


def _plural(count, word):
    return '%d %s%s' % (count, word, '' if count == 1 else 's')


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# --------------------------------------------------------------------------- options

def _normalize_options(options):
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise PlanError('options must be a dict, got %s' % type(options).__name__)
    unknown = sorted(set(options) - set(DEFAULTS))
    if unknown:
        raise PlanError('unknown option(s): %s; accepted: %s' % (', '.join(unknown), ', '.join(sorted(DEFAULTS))))
    opts = dict(DEFAULTS)
    for key, value in options.items():
        if value is not None:
            opts[key] = value
    if opts['preload_libraries'] is None:
        opts['preload_libraries'] = []

    _choice(opts, 'accelerator', ACCELERATORS)
    _choice(opts, 'strategy', STRATEGIES)
    _choice(opts, 'dtype', DTYPES)
    _choice(opts, 'workload', WORKLOADS)
    if opts['onednn_fpmath_mode'] == '':
        opts['onednn_fpmath_mode'] = None  # '' is how a playbook says "unset"
    if opts['onednn_fpmath_mode'] is not None:
        opts['onednn_fpmath_mode'] = str(opts['onednn_fpmath_mode']).upper()
        _choice(opts, 'onednn_fpmath_mode', FPMATH_MODES)
    if opts['onednn_max_cpu_isa'] == '':
        opts['onednn_max_cpu_isa'] = None  # '' is how a playbook says "unset"
    if opts['onednn_max_cpu_isa'] is not None:
        opts['onednn_max_cpu_isa'] = str(opts['onednn_max_cpu_isa']).upper()
        _choice(opts, 'onednn_max_cpu_isa', ONEDNN_MAX_CPU_ISAS)
    if not isinstance(opts['memory_limit'], bool):
        raise PlanError('memory_limit=%r must be true or false' % (opts['memory_limit'],))

    if not isinstance(opts['model_name'], str) or not opts['model_name'].strip():
        raise PlanError('model_name is required: the name clients use in requests (--served-model-name)')
    if any(c.isspace() for c in opts['model_name']):
        raise PlanError('model_name=%r must not contain whitespace' % opts['model_name'])
    if not isinstance(opts['name_prefix'], str) or not _NAME_PREFIX_RE.match(opts['name_prefix']):
        raise PlanError('name_prefix=%r must start with a lowercase letter or digit and contain only '
                        'lowercase letters, digits, ".", "_" and "-" (it names systemd units and containers)'
                        % (opts['name_prefix'],))

    _int_range(opts, 'max_model_len', 1)
    _int_range(opts, 'reserved_cores_per_instance', 0)
    _int_range(opts, 'kv_cache_gib', 1)
    _int_range(opts, 'kv_cache_max_gib', 1)
    _int_range(opts, 'instances', 1)
    _int_range(opts, 'base_port', 1, 65535)
    _int_range(opts, 'front_port', 1, 65535)
    _int_range(opts, 'hugepages_2m_per_node', 0)
    try:
        opts['listeners'] = listeners.decide(opts['front_port'], opts['expose_instances'], opts['listen_address'])
    except listeners.ListenerError as exc:
        raise PlanError(str(exc))
    _int_range(opts, 'onednn_primitive_cache_capacity', 0)
    _int_range(opts, 'memory_limit_headroom_pct', 0, 1000)
    _int_range(opts, 'model_kv_bytes_per_token', 1)
    _number_range(opts, 'model_weights_gib', 0, strict=True)
    _number_range(opts, 'runtime_overhead_gib', 0)
    _number_range(opts, 'os_headroom_gib', 0)
    _number_range(opts, 'gpu_memory_gib', 0, strict=True)
    _number_range(opts, 'gpu_memory_utilization', 0, strict=True)
    if opts['gpu_memory_utilization'] > 1:
        raise PlanError('gpu_memory_utilization=%s must be greater than 0 and at most 1' % opts['gpu_memory_utilization'])
    for name in ('tensor_parallel_size', 'gpus_per_instance'):
        _int_range(opts, name, 1)
        if opts[name] is not None and opts[name] not in TP_SIZES:
            raise PlanError('%s=%s is not supported: vLLM tensor parallelism here accepts 1, 2, 4 or 8'
                            % (name, opts[name]))
    if opts['kv_cache_gib'] is not None and opts['kv_cache_max_gib'] is not None \
            and opts['kv_cache_gib'] > opts['kv_cache_max_gib']:
        raise PlanError('kv_cache_gib=%s is larger than kv_cache_max_gib=%s; drop one of them'
                        % (opts['kv_cache_gib'], opts['kv_cache_max_gib']))

    libs = opts['preload_libraries']
    if isinstance(libs, str) or not isinstance(libs, (list, tuple)):
        raise PlanError('preload_libraries must be a list of absolute library paths')
    for lib in libs:
        _library_path('preload_libraries entry', lib)
    opts['preload_libraries'] = list(libs)
    for name in ('tcmalloc_path', 'intel_openmp_path'):
        # '' is how a playbook says "none" (an Ansible default cannot be None)
        if opts[name] == '':
            opts[name] = None
        if opts[name] is not None:
            _library_path(name, opts[name])
    return opts


def _library_path(what, lib):
    if not isinstance(lib, str) or not lib.startswith('/') or ':' in lib or any(c.isspace() for c in lib):
        raise PlanError('%s %r must be an absolute path without ":" or whitespace '
                        '(entries are joined into LD_PRELOAD)' % (what, lib))


def _choice(opts, name, choices):
    if opts[name] not in choices:
        raise PlanError('%s=%r is not valid; accepted values: %s' % (name, opts[name], ', '.join(choices)))


def _int_range(opts, name, minimum, maximum=None):
    value = opts[name]
    if value is None:
        return
    if not _is_int(value):
        raise PlanError('%s=%r must be an integer' % (name, value))
    if value < minimum or (maximum is not None and value > maximum):
        if maximum is None:
            raise PlanError('%s=%d must be at least %d' % (name, value, minimum))
        raise PlanError('%s=%d must be between %d and %d' % (name, value, minimum, maximum))


def _number_range(opts, name, minimum, strict=False):
    value = opts[name]
    if value is None:
        return
    if not _is_number(value):
        raise PlanError('%s=%r must be a number' % (name, value))
    if value < minimum or (strict and value <= minimum):
        raise PlanError('%s=%s must be %s %s' % (name, value, 'greater than' if strict else 'at least', minimum))
    opts[name] = float(value)


# --------------------------------------------------------------------------- topology view

def _sorted_ints(values):
    return sorted(set(int(v) for v in (values or [])))


class _Node(object):
    """One NUMA node as the planner sees it (only what this process may use)."""

    def __init__(self, raw, allowed, mems_allowed):
        self.id = int(raw['id'])
        self.socket = raw.get('socket')
        self.cpus = _sorted_ints(raw.get('cpus'))
        self.cpu_less = bool(raw.get('cpu_less')) or not self.cpus
        self.memory_bytes = int(raw.get('memory_total_bytes') or 0)
        self.hugepages = raw.get('hugepages') or {}
        self.mem_allowed = mems_allowed is None or self.id in mems_allowed
        self.allowed_cpus = [c for c in self.cpus if c in allowed]
        cores = raw.get('cores')
        if not cores:
            # no sibling information: every CPU is its own core
            cores = [[c] for c in self.cpus]
        usable = []
        for core in cores:
            siblings = sorted(int(c) for c in core if int(c) in allowed)
            if siblings:
                usable.append(siblings)
        usable.sort(key=lambda s: s[0])
        # each usable core: [representative (first allowed sibling), other siblings...]
        self.cores = usable

    @property
    def physical(self):
        return [core[0] for core in self.cores]

    def hugepage_bytes(self, requested_2m):
        """Memory held by static hugepages on this node once the tuning role applies the plan.

        ``requested_2m`` (hugepages_2m_per_node) replaces the current 2 MiB pool when non-zero;
        other page sizes (1 GiB pages) keep their current pool.
        """
        pools = {}
        for key, info in self.hugepages.items():
            match = _HUGEPAGE_KEY_RE.match(str(key))
            if match:
                pools[int(match.group(1))] = int((info or {}).get('total') or 0)
        if requested_2m:
            pools[2048] = requested_2m
        return sum(size_kb * 1024 * count for size_kb, count in pools.items())


class _Topology(object):

    def __init__(self, topology):
        if not isinstance(topology, dict):
            raise PlanError('topology must be a dict as returned by inferops.vllm.cpu_topology')
        if not topology.get('numa_nodes'):
            raise PlanError('topology has no numa_nodes: pass the facts of inferops.vllm.cpu_topology (or let the module read root)')
        try:
            cpus = topology.get('cpus') or {}
            nodes_raw = sorted(topology['numa_nodes'], key=lambda n: int(n['id']))
            self.online = set(_sorted_ints(cpus.get('online')))
            if not self.online:
                self.online = set(c for n in nodes_raw for c in _sorted_ints(n.get('cpus')))
            allowed = cpus.get('allowed')
            self.allowed = set(_sorted_ints(allowed)) & self.online if allowed else set(self.online)
            self.offline = _sorted_ints(cpus.get('offline'))
            self.isolated = _sorted_ints(cpus.get('isolated'))
            cgroup = topology.get('cgroup') or {}
            mems = _sorted_ints(cgroup.get('cpuset_mems'))
            self.mems_allowed = set(mems) if mems else None
            self.memory_limit_bytes = cgroup.get('memory_limit_bytes')
            self.cpu_quota_cores = cgroup.get('cpu_quota_cores')
            self.nodes = [_Node(raw, self.allowed, self.mems_allowed) for raw in nodes_raw]
            self.total_memory_bytes = int((topology.get('memory') or {}).get('total_bytes') or 0)
            self.smt_active = bool(topology.get('smt_active'))
            self.threads_per_core = int(topology.get('threads_per_core') or 1)
            cpu = topology.get('cpu') or {}
            self.flags = dict(cpu.get('flags') or {})
            self.isa = cpu.get('isa')
            self.model_name = cpu.get('model_name')
            snc = topology.get('snc') or {}
            self.snc_enabled = bool(snc.get('enabled'))
            self.snc_nodes_per_socket = int(snc.get('nodes_per_socket') or 1)
            # older cpu_topology results have no 'vendor': derive it from vendor_id
            self.vendor = topology.get('vendor') or VENDORS.get(cpu.get('vendor'), 'other')
            nps = topology.get('nps') or {}
            self.nps_mode = nps.get('mode')
            self.nps_nodes_per_socket = int(nps.get('nodes_per_socket') or self.snc_nodes_per_socket)
            # each group of CPUs sharing one L3: its CPUs, number of physical cores and size in bytes
            self.l3_domains = [{'cpus': _sorted_ints(domain.get('cpus')), 'cores': len(domain.get('physical_cores') or []),
                                'size': domain.get('size_bytes')} for domain in topology.get('l3_domains') or []]
            self.gpus = list(topology.get('gpus') or [])
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise PlanError('topology is malformed (%s: %s); pass the facts of inferops.vllm.cpu_topology'
                            % (type(exc).__name__, exc))
        if len(self.nodes) == 1 and not self.nodes[0].memory_bytes:
            self.nodes[0].memory_bytes = self.total_memory_bytes
        self.by_id = dict((n.id, n) for n in self.nodes)

    @property
    def bf16(self):
        return bool(self.flags.get('amx_bf16') or self.flags.get('avx512_bf16'))

    def bf16_reason(self):
        if self.flags.get('amx_bf16'):
            return 'amx_bf16'
        if self.flags.get('avx512_bf16'):
            return 'avx512_bf16'
        return None

    @property
    def amd_name(self):
        """'AMD EPYC' (or 'AMD' for other AMD parts) on AMD hosts, else None."""
        if self.vendor != 'amd':
            return None
        return 'AMD EPYC' if 'EPYC' in (self.model_name or '') else 'AMD'


# --------------------------------------------------------------------------- model

def read_model_dir(path):
    """Read what the planner needs from a staged model directory (weights size, config.json).

    Returns None when ``path`` is not a readable directory. Raises PlanError when config.json
    exists but cannot be parsed.
    """
    if not path or not os.path.isdir(path) or not os.access(path, os.R_OK | os.X_OK):
        return None
    sizes = {}
    for entry in sorted(os.listdir(path)):
        lower = entry.lower()
        for suffix in WEIGHT_SUFFIXES:
            if lower.endswith(suffix):
                full = os.path.join(path, entry)
                if os.path.isfile(full):
                    sizes.setdefault(suffix, []).append(os.path.getsize(full))
    # vLLM loads safetensors when present and ignores the .bin/.pt duplicates next to them
    if sizes.get('.safetensors'):
        chosen = ['.safetensors']
    elif sizes.get('.gguf'):
        chosen = ['.gguf']
    else:
        chosen = ['.bin', '.pt']
    weights = sum(sum(sizes.get(s, [])) for s in chosen)
    info = {'weights_bytes': weights, 'weight_format': chosen[0].lstrip('.') if weights else None, 'config': None}
    config_path = os.path.join(path, 'config.json')
    if os.path.isfile(config_path):
        try:
            with open(config_path, 'rb') as handle:
                info['config'] = json.loads(handle.read().decode('utf-8'))
        except (IOError, OSError, ValueError) as exc:
            raise PlanError('model_path=%s: config.json cannot be read (%s)' % (path, exc))
    return info


def _model_geometry(config):
    """KV geometry from a Hugging Face config.json dict, or None."""
    if not isinstance(config, dict):
        return None
    cfg = config
    if 'num_hidden_layers' not in cfg and isinstance(cfg.get('text_config'), dict):
        cfg = cfg['text_config']
    try:
        layers = int(cfg['num_hidden_layers'])
        if cfg.get('kv_lora_rank'):
            # MLA (DeepSeek-style): one compressed latent + rope key per token and layer,
            # the same on every tensor-parallel rank
            return {'layers': layers, 'mla': True,
                    'elements_per_token': layers * (int(cfg['kv_lora_rank']) + int(cfg.get('qk_rope_head_dim') or 0))}
        heads = int(cfg['num_attention_heads'])
        kv_heads = int(cfg.get('num_key_value_heads') or heads)
        head_dim = cfg.get('head_dim') or int(cfg['hidden_size']) // heads
        head_dim = int(head_dim)
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    return {'layers': layers, 'mla': False, 'kv_heads': kv_heads, 'head_dim': head_dim,
            'elements_per_token': 2 * layers * kv_heads * head_dim}


def _checkpoint_dtype(config):
    if not isinstance(config, dict):
        return None
    if config.get('quantization_config'):
        return None
    value = config.get('torch_dtype') or config.get('dtype')
    if not value and isinstance(config.get('text_config'), dict):
        value = config['text_config'].get('torch_dtype') or config['text_config'].get('dtype')
    value = str(value or '').replace('torch.', '')
    return value if value in DTYPE_BYTES else None


# --------------------------------------------------------------------------- plan

class _Planner(object):

    def __init__(self, topology, options, model_info):
        self.opts = _normalize_options(options)
        self.topo = _Topology(topology)
        self.model_info = model_info or {}
        self.explain = []
        self.warnings = []

    def say(self, text):
        self.explain.append(text)

    def warn(self, text):
        self.warnings.append(text)

    # ---- dtype and model

    def resolve_dtype(self):
        opts, topo = self.opts, self.topo
        dtype = opts['dtype']
        if opts['accelerator'] == 'nvidia':
            if dtype == 'auto':
                self.say('dtype auto: vLLM takes the dtype from the model config on NVIDIA GPUs.')
            else:
                self.say('dtype %s as requested.' % dtype)
            return dtype
        if dtype == 'float16':
            raise PlanError('dtype=float16 is refused on accelerator=cpu: fp16 is unstable on the vLLM CPU backend; '
                            'use dtype=bfloat16 (needs amx_bf16 or avx512_bf16), float32 or auto')
        if dtype == 'bfloat16' and not topo.bf16:
            raise PlanError('dtype=bfloat16 needs the amx_bf16 or avx512_bf16 CPU flag and this host (isa %s) has neither; '
                            'use dtype=float32 or auto' % (topo.isa or 'unknown'))
        if dtype == 'auto':
            if topo.bf16:
                dtype = 'bfloat16'
                self.say('dtype auto -> bfloat16: the CPU has %s.' % topo.bf16_reason())
            else:
                dtype = 'float32'
                self.say('dtype auto -> float32: the CPU has neither amx_bf16 nor avx512_bf16 (isa %s); '
                         'float16 is not used on CPU.' % (topo.isa or 'unknown'))
        else:
            self.say('dtype %s as requested.' % dtype)
        if topo.amd_name and dtype == 'bfloat16' and not topo.flags.get('amx_bf16'):
            self.say('bf16 via avx512_bf16 (no AMX on AMD): oneDNN runs the bf16 matrix multiplications on AVX-512 BF16 '
                     'instructions (Zen 4 and later).')
        elif topo.amd_name and not topo.bf16:
            self.say('%s without avx512_bf16 (before Zen 4: Rome, Milan): no bf16 instructions, so float32.' % topo.amd_name)
        mode = opts['onednn_fpmath_mode']
        if mode in ('BF16', 'ANY') and not topo.bf16:
            raise PlanError('onednn_fpmath_mode=%s lets oneDNN compute in bf16, which needs amx_bf16 or avx512_bf16; '
                            'this host has neither: leave onednn_fpmath_mode unset' % mode)
        if mode:
            self.say('ONEDNN_DEFAULT_FPMATH_MODE=%s as requested (oneDNN may down-convert float32 math; storage stays %s).'
                     % (mode, dtype))
        return dtype

    def resolve_model(self, dtype):
        opts = self.opts
        config = self.model_info.get('config')
        ckpt_dtype = _checkpoint_dtype(config)
        geometry = _model_geometry(config)

        weights = opts['model_weights_gib']
        source = 'model_weights_gib'
        if weights is None and self.model_info.get('weights_bytes'):
            weights = self.model_info['weights_bytes'] / float(GIB)
            source = '%s files in model_path' % (self.model_info.get('weight_format') or 'weight')
        if weights is not None and ckpt_dtype and dtype in DTYPE_BYTES:
            scale = DTYPE_BYTES[dtype] / float(DTYPE_BYTES[ckpt_dtype])
            if scale != 1:
                self.say('Weights are stored as %s and served as %s: their memory is x%s the checkpoint size.'
                         % (ckpt_dtype, dtype, _fmt(scale)))
                weights *= scale
        if weights is None and opts['accelerator'] == 'cpu':
            if opts['model_path'] and 'weights_bytes' not in self.model_info:
                # read_model_dir found no directory there (the module passes None).
                raise PlanError('model_path=%s does not exist or is not a readable directory: stage the model there '
                                'first, fix model_path, or give model_weights_gib to plan before staging'
                                % opts['model_path'])
            raise PlanError('model_weights_gib is required: model_path %s has no weight files to measure '
                            '(give model_weights_gib, or stage the model before planning)'
                            % ('is not set' if not opts['model_path'] else '(%s)' % opts['model_path']))
        if weights is not None:
            self.say('Model %s: weights %s GiB (from %s).' % (opts['model_name'], _fmt(weights), source))

        kv_bytes = opts['model_kv_bytes_per_token']
        if kv_bytes is not None:
            self.say('KV cache per token: %d bytes (model_kv_bytes_per_token).' % kv_bytes)
        elif geometry:
            elem_bytes = DTYPE_BYTES.get(dtype) or DTYPE_BYTES.get(ckpt_dtype or '', 2)
            kv_bytes = geometry['elements_per_token'] * elem_bytes
            if geometry['mla']:
                self.say('KV cache per token: %d bytes (MLA latent, %d layers, %d-byte elements, from config.json).'
                         % (kv_bytes, geometry['layers'], elem_bytes))
            else:
                self.say('KV cache per token: %d bytes = 2 x %d layers x %d KV heads x %d head_dim x %d bytes (config.json).'
                         % (kv_bytes, geometry['layers'], geometry['kv_heads'], geometry['head_dim'], elem_bytes))
        elif opts['accelerator'] == 'cpu':
            self.say('KV cache per token unknown (no model_kv_bytes_per_token, no readable config.json): '
                     'the one-sequence check is skipped; only KV cache >= 1 GiB is enforced.')
            self.warn('one max_model_len sequence could not be checked against the KV cache: '
                      'give model_kv_bytes_per_token or a staged model_path')
        self.weights_gib = weights
        self.kv_bytes_per_token = kv_bytes
        self.geometry = geometry if opts['model_kv_bytes_per_token'] is None else None
        return {
            'name': opts['model_name'],
            'path': opts['model_path'],
            'weights_gib': None if weights is None else _gib(weights),
            'checkpoint_dtype': ckpt_dtype,
            'kv_bytes_per_token': kv_bytes,
            'max_model_len': opts['max_model_len'],
            'sequence_kv_gib': None if kv_bytes is None else _gib(kv_bytes * opts['max_model_len'] / float(GIB)),
        }

    def kv_bytes_per_token_per_rank(self, tp):
        if self.kv_bytes_per_token is None:
            return None
        geo = self.geometry
        if geo and geo['mla']:
            return self.kv_bytes_per_token
        if geo and geo['kv_heads'] < tp:
            # vLLM replicates KV heads when there are fewer than ranks
            return self.kv_bytes_per_token // geo['kv_heads']
        return self.kv_bytes_per_token / float(tp)

    # ---- common

    def workload_sizes(self, ranks):
        seqs, tokens = WORKLOAD_SIZES[self.opts['workload']]
        return seqs * ranks, tokens * ranks

    def describe_cpus(self):
        topo = self.topo
        if topo.offline:
            self.say('Offline CPUs %s are ignored.' % format_cpulist(topo.offline))
        excluded = sorted(topo.online - topo.allowed)
        if excluded:
            self.say('This process may only use CPUs %s (cgroup cpuset / affinity); %s outside it get nothing.'
                     % (format_cpulist(topo.allowed), _plural(len(excluded), 'online CPU')))
        if topo.isolated:
            used = [c for c in topo.isolated if c in topo.allowed]
            if used:
                self.say('Isolated CPUs %s are in the allowed set, so they are planned like any other core '
                         '(pinned inference threads are what isolation is for).' % format_cpulist(used))
            rest = [c for c in topo.isolated if c not in topo.allowed]
            if rest:
                self.say('Isolated CPUs %s are not allowed to this process and get no instance.' % format_cpulist(rest))
        for node in topo.nodes:
            if node.cpu_less:
                self.say('NUMA node %d has no CPUs (memory-only, e.g. CXL): no instance, and its memory is not planned.'
                         % node.id)

    def ports(self, count):
        opts = self.opts
        last = opts['base_port'] + count - 1
        if last > 65535:
            raise PlanError('base_port=%d leaves no room for %d instance ports (last would be %d > 65535)'
                            % (opts['base_port'], count, last))
        ports = [opts['base_port'] + i for i in range(count)]
        if opts['listeners']['front'] and opts['front_port'] in ports:
            raise PlanError('front_port=%d collides with the instance ports %d-%d (base_port=%d); pick another front_port or base_port'
                            % (opts['front_port'], ports[0], ports[-1], opts['base_port']))
        return ports

    def hugepages(self, node_ids):
        req = self.opts['hugepages_2m_per_node']
        if not req:
            return {}
        return dict((str(n), {'2048kB': req}) for n in node_ids)

    def describe_hugepages(self, node_ids):
        req = self.opts['hugepages_2m_per_node']
        if req:
            self.say('hugepages_2m_per_node=%d: %s GiB per instance node is reserved as 2 MiB pages; vLLM cannot use it '
                     '(its memory is ordinary torch memory), so it is subtracted.' % (req, _fmt(req * 2 / 1024.0)))
        held = [(n, self.topo.by_id[n].hugepage_bytes(0) / float(GIB)) for n in node_ids]
        held = [(n, gib) for n, gib in held if gib]
        if not req and held:
            self.say('Static hugepages already reserved (%s) are not usable by vLLM and are subtracted; '
                     'hugepages_2m_per_node=0 leaves the pools as they are.'
                     % ', '.join('node %d: %s GiB' % (n, _fmt(gib)) for n, gib in held))

    def preloads(self):
        """The LD_PRELOAD list, decided once: tcmalloc, then the runtime's Intel OpenMP, then the extras."""
        opts = self.opts
        cpu = opts['accelerator'] == 'cpu'
        chosen = []
        if cpu:
            chosen = [p for p in (opts['tcmalloc_path'], opts['intel_openmp_path']) if p]
        for lib in opts['preload_libraries']:
            if lib not in chosen:
                chosen.append(lib)
        return chosen

    def describe_preloads(self):
        opts = self.opts
        libs = self.preloads()
        if opts['accelerator'] != 'cpu' and (opts['tcmalloc_path'] or opts['intel_openmp_path']):
            self.say('tcmalloc_path and intel_openmp_path are CPU settings: not preloaded on accelerator=%s.'
                     % opts['accelerator'])
        if not libs:
            if opts['accelerator'] == 'cpu':
                self.say('No LD_PRELOAD: tcmalloc_path, intel_openmp_path and preload_libraries are unset, so vLLM '
                         'runs with glibc malloc and torch\'s GNU OpenMP.')
            return
        parts = []
        if opts['accelerator'] == 'cpu' and opts['tcmalloc_path']:
            parts.append('tcmalloc first (%s: fewer allocator locks and less fragmentation under many threads)'
                         % opts['tcmalloc_path'])
        if opts['accelerator'] == 'cpu' and opts['intel_openmp_path']:
            parts.append('then the Intel OpenMP of the installed vLLM runtime (%s: vLLM binds its threads per '
                         'VLLM_CPU_OMP_THREADS_BIND, and sets OMP_*/KMP_* itself when it is loaded)'
                         % opts['intel_openmp_path'])
        extras = [lib for lib in opts['preload_libraries'] if lib not in (opts['tcmalloc_path'], opts['intel_openmp_path'])]
        if extras:
            parts.append('then preload_libraries %s' % ':'.join(extras))
        self.say('LD_PRELOAD=%s: %s. The plan\'s environment is its one owner (the tuning role\'s environment '
                 'file sets no LD_PRELOAD); every path must exist where the instance runs, which the server '
                 'role checks before it starts anything.' % (':'.join(libs), ', '.join(parts)))

    def base_env(self):
        # Every rank of an instance runs on this host: torch.distributed's gloo sockets on loopback
        # (describe_local_sockets says why).
        env = {'GLOO_SOCKET_IFNAME': LOOPBACK_IFNAME}
        libs = self.preloads()
        if libs:
            env['LD_PRELOAD'] = ':'.join(libs)
        return env

    def describe_local_sockets(self):
        nccl = self.opts['accelerator'] == 'nvidia'
        self.say('GLOO_SOCKET_IFNAME=%s%s: vLLM\'s workers open their torch.distributed (gloo%s) sockets, about a dozen '
                 'listeners per instance, on the address the host name resolves to, which on most hosts is a network '
                 'address that no API key guards; every rank of an instance runs on this host, so they bind loopback.'
                 % (LOOPBACK_IFNAME, ', NCCL_SOCKET_IFNAME=' + LOOPBACK_IFNAME if nccl else '',
                    ', NCCL bootstrap' if nccl else ''))

    def onednn_env(self):
        """The ONEDNN_* variables of a CPU instance: the plan is their one owner."""
        opts = self.opts
        env = {}
        if opts['onednn_fpmath_mode']:
            env['ONEDNN_DEFAULT_FPMATH_MODE'] = opts['onednn_fpmath_mode']
        if opts['onednn_max_cpu_isa']:
            env['ONEDNN_MAX_CPU_ISA'] = opts['onednn_max_cpu_isa']
        if opts['onednn_primitive_cache_capacity']:
            env['ONEDNN_PRIMITIVE_CACHE_CAPACITY'] = str(opts['onednn_primitive_cache_capacity'])
        return env

    def describe_onednn(self):
        """Why each ONEDNN_* variable is (not) set, and why VLLM_CPU_NUM_OF_RESERVED_CPU is not."""
        opts = self.opts
        if not opts['onednn_fpmath_mode']:
            self.say('ONEDNN_DEFAULT_FPMATH_MODE unset (oneDNN\'s STRICT: float32 math stays float32); '
                     'onednn_fpmath_mode=BF16 trades a little accuracy for AMX/AVX-512 BF16 speed on float32 models.')
        if opts['onednn_max_cpu_isa']:
            self.say('ONEDNN_MAX_CPU_ISA=%s as requested: oneDNN uses no instruction set above it (A/B comparisons, '
                     'mixed fleets).' % opts['onednn_max_cpu_isa'])
        if opts['onednn_primitive_cache_capacity']:
            self.say('ONEDNN_PRIMITIVE_CACHE_CAPACITY=%d as requested (oneDNN\'s default 1024 compiled kernels; more '
                     'helps when many distinct shapes run).' % opts['onednn_primitive_cache_capacity'])
        self.say('The ONEDNN_* variables come from the plan alone (each instance\'s environment file); the tuning '
                 'role\'s environment file sets none.')
        self.say('VLLM_CPU_NUM_OF_RESERVED_CPU unset: vLLM reads it only with VLLM_CPU_OMP_THREADS_BIND=auto, and the '
                 'plan binds explicitly; its reserved cores are reserved_cores_per_instance=%d, left out of the bind '
                 'list.' % opts['reserved_cores_per_instance'])

    # ---- CPU

    def cpu_units(self):
        opts, topo = self.opts, self.topo
        candidates = []
        for node in topo.nodes:
            if node.cpu_less:
                continue
            if not node.allowed_cpus:
                self.say('NUMA node %d: none of its CPUs are allowed to this process, so it gets no instance.' % node.id)
                continue
            if not node.mem_allowed:
                self.say('NUMA node %d: its memory is outside the cgroup cpuset.mems, so it gets no instance '
                         '(its allowed CPUs stay housekeeping).' % node.id)
                continue
            candidates.append(node)
        if not candidates:
            raise PlanError('no NUMA node has both allowed CPUs and allowed memory (check the cgroup cpuset and topology)')

        strategy = opts['strategy']
        if strategy == 'per_numa_node':
            units = [('node%d' % n.id, [n]) for n in candidates]
            why = 'one instance per NUMA node with usable CPUs'
        elif strategy == 'per_socket':
            groups = {}
            order = []
            for node in candidates:
                label = 'socket%d' % node.socket if node.socket is not None else 'node%d' % node.id
                if label not in groups:
                    groups[label] = []
                    order.append(label)
                groups[label].append(node)
            units = [(label, groups[label]) for label in order]
            why = 'one instance per socket, one tensor-parallel rank per NUMA node of the socket'
        else:
            units = [('all', list(candidates))]
            why = 'one instance over all usable NUMA nodes, one tensor-parallel rank per node'
        if strategy == 'per_socket':
            where = '; '.join('%s: NUMA node%s %s' % (label, '' if len(nodes) == 1 else 's', ', '.join(str(n.id) for n in nodes))
                              for label, nodes in units)
        else:
            where = 'NUMA node%s %s' % ('' if len(candidates) == 1 else 's', ', '.join(str(n.id) for n in candidates))
        self.say('strategy=%s: %s -> %s (%s).' % (strategy, why, _plural(len(units), 'instance'), where))
        if topo.amd_name and (topo.nps_mode == 'NPS0' or topo.nps_mode and len([n for n in topo.nodes if not n.cpu_less]) > 1):
            # (a single node on a single socket, a small VM for one, has nothing to explain)
            self.say(self.nps_sentence(strategy, units))
        elif topo.snc_enabled:
            if strategy == 'per_numa_node':
                self.say('Sub-NUMA clustering is on (%d nodes per socket): one instance per sub-NUMA node keeps every '
                         'thread next to its memory.' % topo.snc_nodes_per_socket)
            else:
                self.say('Sub-NUMA clustering is on (%d nodes per socket): tensor parallelism spans the sub-NUMA nodes, '
                         'one rank per node.' % topo.snc_nodes_per_socket)

        self.describe_l3(candidates)

        if opts['instances'] is not None and opts['instances'] < len(units):
            dropped = units[opts['instances']:]
            units = units[:opts['instances']]
            self.say('instances=%s caps the plan: %s get no instance (their CPUs stay housekeeping).'
                     % (opts['instances'], ', '.join(unit[0] for unit in dropped)))
        elif opts['instances'] is not None and opts['instances'] > len(units):
            # Never a silent cap: the user asked for more than the host allows.
            text = ('instances=%s is more than this host allows: strategy=%s gives %s; planning %d (set instances=%d '
                    'or less, or another strategy)'
                    % (opts['instances'], strategy, _plural(len(units), 'unit'), len(units), len(units)))
            self.say(text + '.')
            self.warn(text)

        for label, nodes in units:
            tp = len(nodes)
            if tp not in TP_SIZES:
                hint = ('use strategy=per_numa_node (one instance per node)' if strategy != 'per_numa_node' else '')
                if strategy == 'single' and len(set(n.socket for n in nodes)) > 1:
                    per_socket = len([n for n in nodes if n.socket == nodes[0].socket])
                    if per_socket in TP_SIZES:
                        hint = 'use strategy=per_socket or per_numa_node'
                raise PlanError('strategy=%s gives instance %s-%s %d NUMA nodes (%s), so tensor parallel size %d, '
                                'which vLLM does not support (1, 2, 4 or 8); %s'
                                % (strategy, opts['name_prefix'], label, tp, ', '.join(str(n.id) for n in nodes), tp, hint))
            if opts['tensor_parallel_size'] is not None and opts['tensor_parallel_size'] != tp:
                raise PlanError('tensor_parallel_size=%s does not match strategy=%s: instance %s-%s spans %s, one rank '
                                'per node, so its tensor parallel size is %d; drop tensor_parallel_size or pick the '
                                'strategy that gives %s nodes per instance (per_numa_node: 1, per_socket: nodes per '
                                'socket, single: all nodes)'
                                % (opts['tensor_parallel_size'], strategy, opts['name_prefix'], label,
                                   _plural(tp, 'NUMA node'), tp, opts['tensor_parallel_size']))
        return units

    def nps_sentence(self, strategy, units):
        """Why the instances follow the NPS nodes of an AMD host."""
        topo = self.topo
        nodes = [n for n in topo.nodes if not n.cpu_less]
        sockets = sorted(set(n.socket for n in nodes if n.socket is not None))
        sizes = sorted(set(len(n.cores) for n in nodes))
        each = ', %d cores each' % sizes[0] if len(sizes) == 1 else ''
        mode = topo.nps_mode
        if mode == 'NPS0':
            return ('%s NPS0: one NUMA node spans the sockets and memory is interleaved over every channel, so no '
                    'instance can be kept next to its memory; NPS1 or NPS4 in the BIOS serves pinned instances better.'
                    % topo.amd_name)
        if mode == 'L3':
            head = '%s with L3 cache as NUMA domain: %s, one per CCD%s' % (topo.amd_name, _plural(len(nodes), 'NUMA node'), each)
        else:
            per = topo.nps_nodes_per_socket
            head = '%s %s: %s (%s x %d%s)' % (
                topo.amd_name, mode, _plural(len(nodes), 'NUMA node'), _plural(len(sockets), 'socket'), per, each)
        if strategy == 'per_numa_node':
            tail = 'one instance per node keeps every thread next to the memory channels of its node'
        else:
            tps = sorted(set(len(unit[1]) for unit in units))
            tail = 'tensor parallelism spans %s, one rank per node (TP %s)' % (
                "each socket's nodes" if strategy == 'per_socket' else 'all nodes', '/'.join(str(t) for t in tps))
        return '%s; %s.' % (head, tail)

    def describe_l3(self, nodes):
        """Say how the L3 domains (CCDs on EPYC) sit in the nodes, when every one lies in a node and some node has several."""
        topo = self.topo
        node_sets = [set(node.cpus) for node in nodes]
        used = [domain for domain in topo.l3_domains if any(set(domain['cpus']) & node_set for node_set in node_sets)]
        if not used or not all(any(set(domain['cpus']) <= node_set for node_set in node_sets) for domain in used):
            return
        inside = [len([domain for domain in used if set(domain['cpus']) <= node_set]) for node_set in node_sets]
        if max(inside) < 2:
            return
        cores = sorted(set(domain['cores'] for domain in used if domain['cores']))
        sizes = sorted(set(domain['size'] for domain in used if domain['size']))
        self.say('L3 domains%s: %s per NUMA node, each %s%s; threads are bound in core order, so a rank\'s threads '
                 'keep to its node\'s L3 domains and no two instances share an L3.' % (
                     ' (CCDs)' if topo.vendor == 'amd' else '',
                     '/'.join(str(count) for count in sorted(set(inside))),
                     '%s cores' % '/'.join(str(count) for count in cores) if cores else 'a group of cores',
                     ' sharing %s MiB of L3' % '/'.join(_fmt(size / 1048576.0) for size in sizes) if sizes else ' sharing an L3'))

    def cpu_ranks(self, name, nodes):
        """One rank per node; rank 0 gives up the reserved cores; ranks are equalised."""
        reserved = self.opts['reserved_cores_per_instance']
        first = nodes[0]
        if len(first.cores) <= reserved:
            raise PlanError('instance %s: NUMA node %d has %s allowed (CPUs %s) and reserved_cores_per_instance=%d '
                            'leaves zero cores for inference; lower reserved_cores_per_instance or allow more CPUs'
                            % (name, first.id, _plural(len(first.cores), 'physical core'),
                               format_cpulist(first.allowed_cpus), reserved))
        avail = [first.physical[reserved:]] + [n.physical for n in nodes[1:]]
        threads = min(len(a) for a in avail)
        ranks = []
        for index, (node, cores) in enumerate(zip(nodes, avail)):
            # rank 0 keeps the cores right after the reserved ones; the other ranks drop
            # their first cores, so housekeeping sits at the start of every node
            picked = cores[len(cores) - threads:] if index else cores[:threads]
            ranks.append({'rank': index, 'numa_node': node.id, 'cpus': picked})
        equalised = any(len(a) > threads for a in avail)
        return ranks, threads, equalised

    def cpu_memory(self, name, nodes, tp, headroom_share):
        """Per rank: memory of its node and what is left for the KV cache (GiB floats)."""
        opts = self.opts
        weights_share = self.weights_gib / tp
        rows = []
        for node in nodes:
            row = {
                'node': node,
                'node_gib': node.memory_bytes / float(GIB),
                'hugepages_gib': node.hugepage_bytes(opts['hugepages_2m_per_node']) / float(GIB),
                'weights_gib': weights_share,
                'overhead_gib': opts['runtime_overhead_gib'],
                'headroom_gib': headroom_share,
            }
            row['free'] = row['node_gib'] - row['hugepages_gib'] - weights_share - row['overhead_gib'] - headroom_share
            if row['free'] <= 0:
                advice = self.hugepages_advice(row, tp) or (
                    'lower model_weights_gib (a smaller or quantized model), spread the model over more nodes '
                    '(strategy=per_socket or single), or lower runtime_overhead_gib/os_headroom_gib')
                raise PlanError(
                    'model does not fit: instance %s needs %s GiB of weights%s + %s GiB runtime overhead + %s GiB OS '
                    'headroom%s on NUMA node %d, which has %s GiB; %s'
                    % (name, _fmt(weights_share), ' (1/%d of %s)' % (tp, _fmt(self.weights_gib)) if tp > 1 else '',
                       _fmt(row['overhead_gib']), _fmt(headroom_share),
                       ' + %s GiB hugepages (hugepages_2m_per_node=%d)' % (_fmt(row['hugepages_gib']), opts['hugepages_2m_per_node'])
                       if opts['hugepages_2m_per_node'] else
                       (' + %s GiB hugepages' % _fmt(row['hugepages_gib']) if row['hugepages_gib'] else ''),
                       node.id, _fmt(row['node_gib']), advice))
            rows.append(row)
        return rows

    def kv_need_gib(self, tp):
        """The KV cache a rank must hold at least: kv_cache_gib, else one max_model_len sequence, else 1 GiB."""
        if self.opts['kv_cache_gib'] is not None:
            return float(self.opts['kv_cache_gib'])
        per_token = self.kv_bytes_per_token_per_rank(tp)
        need = 0.0 if per_token is None else per_token * self.opts['max_model_len'] / float(GIB)
        return max(1.0, need)

    def hugepages_advice(self, row, tp):
        """When the requested 2 MiB hugepages crowd out the model: the largest count that leaves it room."""
        requested = self.opts['hugepages_2m_per_node']
        if not requested:
            return ''
        # VLLM_CPU_KVCACHE_SPACE is whole GiB: the KV cache needs the next whole GiB.
        kv_gib = math.ceil(self.kv_need_gib(tp) - _EPS)
        # The count applies to every node: the one with the least room decides (1 GiB pages keep their pool).
        nodes = [n for n in self.topo.nodes if not n.cpu_less and n.allowed_cpus and n.mem_allowed] or [row['node']]
        rooms = []
        for node in nodes:
            other_gib = node.hugepage_bytes(requested) / float(GIB) - requested * 2.0 / 1024
            rooms.append((node.memory_bytes / float(GIB) - other_gib - row['weights_gib'] - row['overhead_gib']
                          - row['headroom_gib'] - kv_gib, node.id))
        room, node_id = min(rooms)
        largest = int(math.floor(room * 512 + _EPS))
        if largest >= requested:
            return ''  # the hugepages are not what is in the way
        if largest <= 0:
            return ('even without hugepages NUMA node %d has no room for the model and its KV cache: set '
                    'hugepages_2m_per_node=0 and lower model_weights_gib, max_model_len or runtime_overhead_gib'
                    % node_id)
        return ('lower hugepages_2m_per_node=%d to at most %d (%s GiB per node), the largest that leaves NUMA node %d '
                'room for the model and a %d GiB KV cache per rank'
                % (requested, largest, _fmt(largest / 512.0), node_id, kv_gib))

    def cpu_kv(self, name, rows, tp, limit_gib, count):
        """KV cache GiB per rank (VLLM_CPU_KVCACHE_SPACE) and the sentence that explains it."""
        opts = self.opts
        limiting = min(rows, key=lambda r: r['free'])
        auto = _floor(limiting['free'])
        why = '%d GiB per rank = floor(%s GiB node %d%s - %s weights%s - %s runtime overhead - %s OS headroom)' % (
            auto, _fmt(limiting['node_gib']), limiting['node'].id,
            ' - %s hugepages' % _fmt(limiting['hugepages_gib']) if limiting['hugepages_gib'] else '',
            _fmt(limiting['weights_gib']), ' (1/%d)' % tp if tp > 1 else '',
            _fmt(limiting['overhead_gib']), _fmt(limiting['headroom_gib']))
        if tp > 1 and len(set(_gib(r['free']) for r in rows)) > 1:
            why += ', its smallest node (VLLM_CPU_KVCACHE_SPACE is per rank)'
        value = auto
        limited_by = 'memory'
        if limit_gib is not None:
            share = limit_gib / count
            budget = share - self.weights_gib - opts['runtime_overhead_gib'] * tp
            if budget <= 0:
                raise PlanError('model does not fit in the cgroup memory limit: instance %s needs %s GiB weights + %s GiB '
                                'runtime overhead and gets %s GiB of the %s GiB limit; lower model_weights_gib, '
                                'runtime_overhead_gib or instances=%d, or raise the container memory limit'
                                % (name, _fmt(self.weights_gib), _fmt(opts['runtime_overhead_gib'] * tp),
                                   _fmt(share), _fmt(limit_gib), count))
            cap = _floor(budget / tp)
            if cap < value:
                value = cap
                limited_by = 'cgroup'
                why = '%d GiB per rank = floor(%s GiB share of the cgroup memory limit - %s weights - %s runtime overhead%s); ' \
                      'the nodes alone would allow %d' % (
                          cap, _fmt(share), _fmt(self.weights_gib), _fmt(opts['runtime_overhead_gib'] * tp),
                          ', / %d ranks' % tp if tp > 1 else '', auto)
        fits = value
        if opts['kv_cache_max_gib'] is not None and opts['kv_cache_max_gib'] < value:
            value = opts['kv_cache_max_gib']
            limited_by = 'kv_cache_max_gib'
            why = '%s GiB per rank (kv_cache_max_gib; %s would fit)' % (value, fits)
        if opts['kv_cache_gib'] is not None:
            if opts['kv_cache_gib'] > value:
                raise PlanError('kv_cache_gib=%s does not fit instance %s: at most %s is free; lower kv_cache_gib'
                                % (opts['kv_cache_gib'], name, why))
            value = opts['kv_cache_gib']
            limited_by = 'kv_cache_gib'
            why = '%s GiB per rank (kv_cache_gib; up to %s would fit)' % (value, fits)
        per_token = self.kv_bytes_per_token_per_rank(tp)
        need = None if per_token is None else per_token * opts['max_model_len'] / float(GIB)
        if value < 1 or (need is not None and value + _EPS < need):
            need_txt = ('one max_model_len=%d sequence needs %s GiB per rank' % (opts['max_model_len'], _fmt(need))
                        if need is not None else 'vLLM needs at least 1 GiB')
            raise PlanError('instance %s cannot hold one sequence: its KV cache would be %s, and %s; %s'
                            % (name, why, need_txt, self.kv_advice(limited_by, tp, count, limiting)))
        sequences = None
        if need:
            sequences = int(math.floor(value / need + _EPS))
            why += '; one %d-token sequence needs %s GiB per rank, so it holds %d full-length sequences' % (
                opts['max_model_len'], _fmt(need), sequences)
        return {'per_rank': value, 'why': why, 'sequences': sequences}

    def kv_advice(self, limited_by, tp, count, row):
        if limited_by in ('kv_cache_gib', 'kv_cache_max_gib'):
            return 'raise %s or lower max_model_len' % limited_by
        if limited_by == 'cgroup':
            return 'lower max_model_len, model_weights_gib, runtime_overhead_gib or instances=%d, or raise the container memory limit' % count
        hugepages = self.hugepages_advice(row, tp)
        if hugepages:
            return hugepages
        advice = 'lower max_model_len, model_weights_gib, runtime_overhead_gib or os_headroom_gib'
        if self.opts['strategy'] != 'single' and tp < len([n for n in self.topo.nodes if not n.cpu_less]):
            advice += ', or spread the model over more NUMA nodes (strategy=per_socket or single)'
        return advice

    def plan_cpu(self, dtype):
        opts, topo = self.opts, self.topo
        self.describe_cpus()
        units = self.cpu_units()
        prefix = opts['name_prefix']
        ports = self.ports(len(units))
        instance_nodes = [n.id for unit in units for n in unit[1]]
        headroom_share = opts['os_headroom_gib'] / len(instance_nodes)
        self.say('os_headroom_gib=%s is split over the %s holding instances: %s GiB each.'
                 % (_fmt(opts['os_headroom_gib']), _plural(len(instance_nodes), 'NUMA node'), _fmt(headroom_share)))
        limit_gib = None
        if topo.memory_limit_bytes:
            limit_gib = topo.memory_limit_bytes / float(GIB)
            self.say('cgroup memory limit %s GiB caps weights + runtime overhead + KV cache of all instances '
                     '(%s GiB per instance).' % (_fmt(limit_gib), _fmt(limit_gib / len(units))))
        if topo.threads_per_core > 1 or topo.smt_active:
            self.say('Physical cores only: one thread is bound per core (its first allowed SMT sibling); the other '
                     'siblings stay in the instance cpuset as housekeeping.')
        self.describe_hugepages(sorted(set(instance_nodes)))
        reserved = opts['reserved_cores_per_instance']
        if reserved:
            self.say('reserved_cores_per_instance=%d: the first %s of each instance %s left to the API server and the OS, '
                     'not to inference threads.' % (reserved, 'physical core' if reserved == 1 else '%d physical cores' % reserved,
                                                    'is' if reserved == 1 else 'are'))
        else:
            self.say('reserved_cores_per_instance=0: every physical core runs an inference thread; the API server '
                     'shares them.')
        seqs, tokens = WORKLOAD_SIZES[opts['workload']]
        self.say('workload=%s: max-num-seqs %d and max-num-batched-tokens %d per tensor-parallel rank.'
                 % (opts['workload'], seqs, tokens))
        self.describe_onednn()

        instances = []
        for index, (label, nodes) in enumerate(units):
            name = '%s-%s' % (prefix, label)
            tp = len(nodes)
            ranks, threads, equalised = self.cpu_ranks(name, nodes)
            rows = self.cpu_memory(name, nodes, tp, headroom_share)
            kv = self.cpu_kv(name, rows, tp, limit_gib, len(units))
            node_ids = [n.id for n in nodes]
            cpus = sorted(c for n in nodes for c in n.allowed_cpus)
            inference = sorted(c for r in ranks for c in r['cpus'])
            housekeeping = sorted(set(cpus) - set(inference))
            bind = '|'.join(format_cpulist(r['cpus']) for r in ranks)
            for rank, row in zip(ranks, rows):
                rank['cpulist'] = format_cpulist(rank['cpus'])
                rank['threads'] = len(rank['cpus'])
                rank['memory_gib'] = _gib(row['node_gib'])
                rank['hugepages_gib'] = _gib(row['hugepages_gib'])
                rank['weights_gib'] = _gib(row['weights_gib'])
                rank['runtime_overhead_gib'] = _gib(row['overhead_gib'])
                rank['headroom_gib'] = _gib(row['headroom_gib'])
                rank['free_for_kv_gib'] = _gib(row['free'])
            max_seqs, max_tokens = self.workload_sizes(tp)
            env = {
                'VLLM_CPU_KVCACHE_SPACE': str(kv['per_rank']),
                'VLLM_CPU_OMP_THREADS_BIND': bind,
            }
            env.update(self.base_env())
            env.update(self.onednn_env())
            port = ports[index]
            self.say('%s: %s, %s, TP %d, inference cores %s%s.' % (
                name, 'NUMA node%s %s' % ('' if tp == 1 else 's', ','.join(str(n) for n in node_ids)),
                'cpuset %s' % format_cpulist(cpus), tp, bind,
                '' if not equalised else
                ' (ranks equalised to %d threads: tensor-parallel ranks run in lock-step, spare cores are housekeeping)'
                % threads))
            self.say('%s: KV cache %s.' % (name, kv['why']))
            memory, sentence = instance_memory(name, self.weights_gib, kv['per_rank'] * tp, opts['runtime_overhead_gib'],
                                               tp, SHM_MIB_PER_INSTANCE, opts['memory_limit_headroom_pct'],
                                               opts['memory_limit'])
            self.say(sentence)
            instances.append({
                'name': name,
                'index': index,
                'port': port,
                'accelerator': 'cpu',
                'numa_nodes': node_ids,
                'mems': ','.join(str(n) for n in node_ids),
                'sockets': sorted(set(n.socket for n in nodes if n.socket is not None)),
                'cpus': cpus,
                'cpuset': format_cpulist(cpus),
                'inference_cpus': inference,
                'housekeeping_cpus': housekeeping,
                'omp_threads_bind': bind,
                'tensor_parallel_size': tp,
                'ranks': ranks,
                'dtype': dtype,
                'kv_cache_gib': kv['per_rank'],
                'kv_cache_total_gib': kv['per_rank'] * tp,
                'kv_cache_memory_bytes': kv['per_rank'] * GIB,
                'kv_cache_sequences': kv['sequences'],
                'weights_gib': _gib(self.weights_gib),
                'memory_gib': memory['memory_gib'],
                'memory_max_mib': memory['memory_max_mib'],
                'memory_max_bytes': memory['memory_max_bytes'],
                'shm_mib': memory['shm_mib'],
                'container_shm_mib': CONTAINER_SHM_MIB['cpu'],
                'max_model_len': opts['max_model_len'],
                'max_num_seqs': max_seqs,
                'max_num_batched_tokens': max_tokens,
                'gpus': [],
                'env': env,
                'args': [
                    '--served-model-name', opts['model_name'],
                    '--port', str(port),
                    '--dtype', dtype,
                    '--tensor-parallel-size', str(tp),
                    '--max-model-len', str(opts['max_model_len']),
                    '--max-num-seqs', str(max_seqs),
                    '--max-num-batched-tokens', str(max_tokens),
                ],
            })
        return instances

    # ---- NVIDIA

    def nvidia_gpus(self):
        gpus = []
        skipped = 0
        for raw in self.topo.gpus:
            vendor = raw.get('vendor_id')
            try:
                vendor = int(str(vendor), 16) if isinstance(vendor, str) else int(vendor)
            except (TypeError, ValueError):
                vendor = None
            klass = str(raw.get('class') or '0x03')
            if vendor != NVIDIA_VENDOR_ID or not klass.lower().startswith('0x03'):
                skipped += 1
                continue
            node = raw.get('numa_node')
            # sysfs says -1 when the firmware gives the device no node (usual in VMs); cpu_topology reports that as null
            sysfs_node = -1 if node is None else int(node)
            node = None if sysfs_node < 0 else sysfs_node
            gpus.append({'pci_address': str(raw.get('pci_address')), 'numa_node': node, 'sysfs_node': sysfs_node})
        gpus.sort(key=lambda g: g['pci_address'])
        for index, gpu in enumerate(gpus):
            gpu['index'] = index
            gpu['node_unknown'] = gpu['numa_node'] is None
        if skipped:
            self.say('%s in the topology are not NVIDIA GPUs (e.g. a BMC display) and are ignored.'
                     % _plural(skipped, 'display device'))
        if not gpus:
            raise PlanError('accelerator=nvidia but the topology lists no NVIDIA GPU (vendor 0x10de); '
                            'use accelerator=cpu or check the host')
        self.place_unknown_gpus(gpus)
        return gpus

    def place_unknown_gpus(self, gpus):
        """Put GPUs whose NUMA node sysfs does not give on the host's node when it has only one with CPUs.

        A one-node host (most VMs) has nowhere else for the GPU to be; binding to that node is then exact. With
        several nodes the GPU stays unplaced (numa_node null) and plan_nvidia says why its instance is unbound.
        """
        unknown = [g for g in gpus if g['node_unknown']]
        if not unknown:
            return
        with_cpus = [n for n in self.topo.nodes if not n.cpu_less]
        which = ','.join(str(g['index']) for g in unknown)
        raw = ','.join(sorted(set(str(g['sysfs_node']) for g in unknown)))
        if len(with_cpus) == 1 and with_cpus[0].allowed_cpus and with_cpus[0].mem_allowed:
            node = with_cpus[0]
            for gpu in unknown:
                gpu['numa_node'] = node.id
            self.say('sysfs reports no NUMA node for GPU%s %s (numa_node %s, usual in a VM); the host has one node%s, '
                     'so %s node %d.' % ('' if len(unknown) == 1 else 's', which, raw,
                                         '' if len(self.topo.nodes) == 1 else ' with CPUs (the others are CPU-less memory)',
                                         'it is' if len(unknown) == 1 else 'they are on', node.id))

    def gpus_per_instance(self, count):
        opts = self.opts
        gpi = opts['gpus_per_instance']
        tp = opts['tensor_parallel_size']
        if gpi is not None and tp is not None and gpi != tp:
            raise PlanError('tensor_parallel_size=%s and gpus_per_instance=%s disagree: on NVIDIA the tensor parallel '
                            'size is the number of GPUs per instance' % (tp, gpi))
        if gpi is None:
            gpi = tp
        option = 'gpus_per_instance' if opts['gpus_per_instance'] is not None else 'tensor_parallel_size'
        mem = opts['gpu_memory_gib']
        need = None
        if mem is not None and self.weights_gib is not None:
            seq = 0.0
            if self.kv_bytes_per_token is not None:
                seq = self.kv_bytes_per_token * opts['max_model_len'] / float(GIB)
            need = self.weights_gib + seq
        if gpi is None:
            if need is None:
                gpi = 1
                self.say('gpus_per_instance 1 (default: give gpu_memory_gib and the model size to size it).')
            else:
                fitting = [n for n in TP_SIZES if n <= count and n * mem * opts['gpu_memory_utilization'] >= need]
                if not fitting:
                    raise PlanError('model does not fit: %s GiB of weights and one sequence need more than %d GPU(s) x '
                                    '%s GiB x gpu_memory_utilization %s; use a smaller or quantized model '
                                    '(model_weights_gib) or check gpu_memory_gib'
                                    % (_fmt(need), count, _fmt(mem), opts['gpu_memory_utilization']))
                gpi = fitting[0]
                self.say('gpus_per_instance %d: the smallest of 1/2/4/8 whose %s GiB x %s holds %s GiB of weights and '
                         'one sequence.' % (gpi, _fmt(mem), opts['gpu_memory_utilization'], _fmt(need)))
        else:
            if gpi > count:
                raise PlanError('%s=%d is more than the %s on this host' % (option, gpi, _plural(count, 'NVIDIA GPU')))
            if need is not None and gpi * mem * opts['gpu_memory_utilization'] < need:
                raise PlanError('model does not fit: %s=%d GPUs x %s GiB (gpu_memory_gib) x %s (gpu_memory_utilization) '
                                'is less than %s GiB of weights and one sequence; raise %s'
                                % (option, gpi, _fmt(mem), opts['gpu_memory_utilization'], _fmt(need), option))
            self.say('gpus_per_instance %d as requested.' % gpi)
        return gpi

    def plan_nvidia(self, dtype):
        opts, topo = self.opts, self.topo
        for option in ('onednn_fpmath_mode', 'onednn_max_cpu_isa', 'onednn_primitive_cache_capacity'):
            if opts[option]:
                raise PlanError('%s only applies to accelerator=cpu; leave it unset for nvidia' % option)
        self.describe_cpus()
        gpus = self.nvidia_gpus()
        gpi = self.gpus_per_instance(len(gpus))
        self.say('strategy does not apply to accelerator=nvidia: GPUs are grouped by NUMA node, %d per instance.' % gpi)
        groups = {}
        for gpu in gpus:
            groups.setdefault(gpu['numa_node'], []).append(gpu)
        order = sorted(k for k in groups if k is not None) + ([None] if None in groups else [])
        chunks, leftover = [], []
        for key in order:
            members = groups[key]
            whole = len(members) - len(members) % gpi
            chunks.extend(members[i:i + gpi] for i in range(0, whole, gpi))
            leftover.extend(members[whole:])
        leftover.sort(key=lambda g: g['index'])
        cross = len(leftover) - len(leftover) % gpi
        for i in range(0, cross, gpi):
            chunk = leftover[i:i + gpi]
            chunks.append(chunk)
            self.say('GPUs %s sit on different NUMA nodes; they form one instance anyway.'
                     % ','.join(str(g['index']) for g in chunk))
        unused = leftover[cross:]
        if unused:
            self.say('GPUs %s are left over (fewer than gpus_per_instance=%d) and get no instance.'
                     % (','.join(str(g['index']) for g in unused), gpi))
            self.warn('%s unused' % _plural(len(unused), 'GPU'))
        if not chunks:
            raise PlanError('gpus_per_instance=%d is more than the %s on this host' % (gpi, _plural(len(gpus), 'NVIDIA GPU')))
        if opts['instances'] is not None and opts['instances'] < len(chunks):
            self.say('instances=%s caps the plan at %s of %s possible instances.' % (opts['instances'], opts['instances'], len(chunks)))
            chunks = chunks[:opts['instances']]
        elif opts['instances'] is not None and opts['instances'] > len(chunks):
            text = ('instances=%s is more than this host allows: %s with gpus_per_instance=%d give %s; planning %d '
                    '(set instances=%d or less, or lower gpus_per_instance)'
                    % (opts['instances'], _plural(len(gpus), 'NVIDIA GPU'), gpi, _plural(len(chunks), 'instance'),
                       len(chunks), len(chunks)))
            self.say(text + '.')
            self.warn(text)
        chunks.sort(key=lambda c: c[0]['index'])
        ports = self.ports(len(chunks))
        self.say('CUDA_DEVICE_ORDER=PCI_BUS_ID makes CUDA device numbers follow PCI address order, the order of the '
                 'indices in this plan.')

        instances = []
        for index, chunk in enumerate(chunks):
            name = '%s-gpu%s' % (opts['name_prefix'], _gpu_label([g['index'] for g in chunk]))
            node_ids = sorted(set(g['numa_node'] for g in chunk if g['numa_node'] is not None))
            nodes = [topo.by_id[n] for n in node_ids if n in topo.by_id]
            cpus = sorted(c for n in nodes for c in n.allowed_cpus)
            mems = [n.id for n in nodes if n.mem_allowed and not n.cpu_less and n.allowed_cpus]
            unplaced = [g for g in chunk if g['numa_node'] is None]
            if unplaced:
                unknown = ('the NUMA node of GPU%s %s is unknown (sysfs numa_node %s) and the host has %s'
                           % ('' if len(unplaced) == 1 else 's', ','.join(str(g['index']) for g in unplaced),
                              ','.join(sorted(set(str(g['sysfs_node']) for g in unplaced))),
                              _plural(len([n for n in topo.nodes if not n.cpu_less]), 'NUMA node') + ' with CPUs'))
            if not cpus:
                cpus = sorted(topo.allowed)
                mems = []
                if len(unplaced) == len(chunk):
                    reason = unknown
                else:
                    reason = 'its GPUs have no NUMA node with allowed CPUs'
                self.say('%s: %s; it may run on every allowed CPU, memory unbound.' % (name, reason))
            else:
                self.say('%s: GPU%s %s on NUMA node%s %s, cpuset %s%s.' % (
                    name, '' if len(chunk) == 1 else 's', ','.join(str(g['index']) for g in chunk), '' if len(node_ids) == 1 else 's',
                    ','.join(str(n) for n in node_ids), format_cpulist(cpus), ' (%s)' % unknown if unplaced else ''))
            env = {'CUDA_DEVICE_ORDER': 'PCI_BUS_ID',
                   'CUDA_VISIBLE_DEVICES': ','.join(str(g['index']) for g in chunk),
                   # NCCL's bootstrap sockets, like gloo's: loopback (the ranks share this host)
                   'NCCL_SOCKET_IFNAME': LOOPBACK_IFNAME}
            env.update(self.base_env())
            port = ports[index]
            instances.append({
                'name': name,
                'index': index,
                'port': port,
                'accelerator': 'nvidia',
                'numa_nodes': mems,
                'mems': ','.join(str(n) for n in mems),
                'sockets': sorted(set(n.socket for n in nodes if n.socket is not None)),
                'cpus': cpus,
                'cpuset': format_cpulist(cpus),
                'inference_cpus': [],
                'housekeeping_cpus': cpus,
                'omp_threads_bind': None,
                'tensor_parallel_size': gpi,
                'ranks': [{'rank': r, 'gpu': g['index'], 'pci_address': g['pci_address'], 'numa_node': g['numa_node']}
                          for r, g in enumerate(chunk)],
                'dtype': dtype,
                'kv_cache_gib': None,
                'kv_cache_total_gib': None,
                'kv_cache_memory_bytes': None,
                'kv_cache_sequences': None,
                'weights_gib': None if self.weights_gib is None else _gib(self.weights_gib),
                'memory_gib': None,
                'memory_max_mib': None,
                'memory_max_bytes': None,
                'shm_mib': SHM_MIB_PER_INSTANCE,
                'container_shm_mib': CONTAINER_SHM_MIB['nvidia'],
                'max_model_len': opts['max_model_len'],
                'max_num_seqs': None,
                'max_num_batched_tokens': None,
                'gpu_memory_utilization': opts['gpu_memory_utilization'],
                'gpus': [{'index': g['index'], 'pci_address': g['pci_address'], 'numa_node': g['numa_node']} for g in chunk],
                'env': env,
                'args': [
                    '--served-model-name', opts['model_name'],
                    '--port', str(port),
                    '--dtype', dtype,
                    '--tensor-parallel-size', str(gpi),
                    '--max-model-len', str(opts['max_model_len']),
                    '--gpu-memory-utilization', str(opts['gpu_memory_utilization']),
                ],
            })
        if opts['hugepages_2m_per_node']:
            self.say('hugepages_2m_per_node=%d: reserved as 2 MiB pages on every NUMA node that holds an instance.'
                     % opts['hugepages_2m_per_node'])
        self.say('KV cache on GPUs is sized by vLLM from gpu_memory_utilization=%s; max-num-seqs and '
                 'max-num-batched-tokens keep vLLM\'s GPU defaults.' % opts['gpu_memory_utilization'])
        return instances

    # ---- host

    def host(self, instances):
        topo = self.topo
        inference = sorted(set(c for i in instances for c in i['inference_cpus']))
        housekeeping = sorted(topo.allowed - set(inference))
        node_ids = sorted(set(n for i in instances for n in i['numa_nodes']))
        if self.topo.cpu_quota_cores and inference and self.topo.cpu_quota_cores < len(inference):
            self.warn('the cgroup CPU quota (%s cores) is below the %s pinned inference threads: expect throttling'
                      % (_fmt(self.topo.cpu_quota_cores), len(inference)))
            self.say('cgroup cpu.max allows %s cores but %d inference threads are planned: raise the quota or '
                     'reserved_cores_per_instance.' % (_fmt(self.topo.cpu_quota_cores), len(inference)))
        self.say('kernel.numa_balancing=0: every instance is pinned to its CPUs and memory, so automatic page '
                 'migration would only add noise.')
        # Who listens on the network: decided here once; the server role and the gate render it.
        self.say(self.opts['listeners']['reason'])
        planned = sum(i['memory_gib'] for i in instances if i['memory_gib'] is not None)
        shm = sum(i['shm_mib'] for i in instances)
        self.say('/dev/shm: %d MiB free per instance at start (%d MiB for %s; vLLM\'s API server and engine core '
                 'exchange requests through shared-memory queues, and with less the engine dies with "Insufficient '
                 'space in /dev/shm"), the host\'s /dev/shm for systemd units; a container gets its own /dev/shm of '
                 '%d MiB (ShmSize=: %s).' % (
                     SHM_MIB_PER_INSTANCE, shm, _plural(len(instances), 'instance'),
                     CONTAINER_SHM_MIB[self.opts['accelerator']],
                     'vLLM\'s CPU container docs ask for --shm-size 4g; tensor-parallel ranks exchange activations '
                     'through it' if self.opts['accelerator'] == 'cpu' else 'NCCL\'s shared-memory transport '
                     'between the GPUs\' processes'))
        if self.opts['accelerator'] != 'cpu':
            self.say('No memory limit on NVIDIA instances: their weights and KV cache live on the GPUs, and the host '
                     'memory of a GPU instance is not planned.')
        return {
            'inference_cpus': inference,
            'inference_cpulist': format_cpulist(inference),
            'housekeeping_cpus': housekeeping,
            'housekeeping_cpulist': format_cpulist(housekeeping),
            'numa_nodes': node_ids,
            'hugepages': self.hugepages(node_ids),
            'numa_balancing': 0,
            'front_port': self.opts['listeners']['front_port'],
            'listeners': dict((k, v) for k, v in self.opts['listeners'].items() if k != 'reason'),
            'ports': [i['port'] for i in instances],
            'memory_planned_gib': _gib(planned),
            'shm_mib': shm,
            'memory_limit_gib': None if not topo.memory_limit_bytes else _gib(topo.memory_limit_bytes / float(GIB)),
        }

    def run(self):
        opts = self.opts
        dtype = self.resolve_dtype()
        model = self.resolve_model(dtype)
        if opts['accelerator'] == 'cpu':
            instances = self.plan_cpu(dtype)
        else:
            instances = self.plan_nvidia(dtype)
        self.describe_preloads()
        self.describe_local_sockets()
        host = self.host(instances)
        return {
            'accelerator': opts['accelerator'],
            'strategy': opts['strategy'] if opts['accelerator'] == 'cpu' else None,
            'workload': opts['workload'],
            'dtype': dtype,
            'model': model,
            'instances': instances,
            'host': host,
            'explain': self.explain,
            'warnings': self.warnings,
        }


def _gpu_label(indices):
    if len(indices) == 1:
        return str(indices[0])
    if indices == list(range(indices[0], indices[-1] + 1)):
        return '%d-%d' % (indices[0], indices[-1])
    return '_'.join(str(i) for i in indices)


def build_plan(topology, options, model_info=None):
    """Return the deployment plan for ``topology`` (cpu_topology facts) and ``options``.

    ``options`` uses the module's option names (missing or None -> default). ``model_info`` is what
    ``read_model_dir`` returned for ``model_path`` (or None). Raises PlanError.
    """
    return _Planner(topology, options, model_info).run()
