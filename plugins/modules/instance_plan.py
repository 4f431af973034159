#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: instance_plan
short_description: Plan vLLM instances (CPU pinning, NUMA, TP, dtype, KV cache, GPUs) for a host
description:
  - Turns a host's topology (the C(topology) result of M(inferops.vllm.cpu_topology)), a model and a few
    operator choices into a concrete deployment plan that the C(xeon_tuning) and C(server) roles render.
  - Pure computation; nothing on the host is changed, the result is the same in check mode and C(changed) is
    always C(false).
  - When O(topology) is not given, the module reads the host's sysfs and procfs under O(root) itself.
  - "CPU hosts: one instance per NUMA node (default), per socket, or one for the whole host. Each instance is pinned
    to the physical cores of its node(s) (one SMT sibling per core), minus O(reserved_cores_per_instance)
    housekeeping cores, with its memory bound to those nodes; the tensor parallel size is the number of NUMA nodes
    of the instance and must be 1, 2, 4 or 8."
  - "KV cache per rank (C(VLLM_CPU_KVCACHE_SPACE)) = floor(node memory - static hugepages - weights / TP -
    O(runtime_overhead_gib) - share of O(os_headroom_gib)), capped by a cgroup memory limit and
    O(kv_cache_max_gib). The plan fails when an instance cannot hold the weights, or one O(max_model_len)
    sequence."
  - "NVIDIA hosts: GPUs (sorted by PCI address, which is the index order with C(CUDA_DEVICE_ORDER=PCI_BUS_ID)) are
    grouped by NUMA node, O(gpus_per_instance) per instance; each instance is pinned to its GPUs' node.
    sysfs has no GPU UUIDs: the C(nvidia_gpu) role adds them."
  - Every decision is explained in RV(plan.explain). See C(docs/instance_plan.md) for worked examples
    (2-socket Sapphire Rapids, Xeon 6 with SNC3) and the table of rules.
version_added: 0.1.0
author:
  - inferops.vllm contributors (@inferops)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  topology:
    description:
      - The C(topology) result of M(inferops.vllm.cpu_topology).
      - When omitted, the module reads the topology of the managed host under O(root).
    type: dict
  root:
    description:
      - Path prefix under which C(sys/) and C(proc/) are read when O(topology) is not given.
    type: path
    default: /
  accelerator:
    description:
      - C(cpu) plans vLLM CPU instances, C(nvidia) plans vLLM CUDA instances on the host's NVIDIA GPUs.
    type: str
    choices: [cpu, nvidia]
    default: cpu
  strategy:
    description:
      - How CPU instances map to the hardware (ignored for O(accelerator=nvidia)).
      - C(per_numa_node) one instance per NUMA node with usable CPUs, tensor parallel size 1.
      - C(per_socket) one instance per socket, one tensor-parallel rank per NUMA node of the socket
        (with sub-NUMA clustering SNC2/SNC4 gives TP 2/4; SNC3 gives TP 3 and is refused; AMD EPYC NPS2/NPS4
        gives TP 2/4).
      - C(single) one instance over all usable NUMA nodes, one rank per node.
    type: str
    choices: [per_numa_node, per_socket, single]
    default: per_numa_node
  model_name:
    description:
      - The served model name (C(--served-model-name)), what clients put in requests.
    type: str
    required: true
  model_path:
    description:
      - Local directory of the staged model. When it is a readable directory, the weight files
        (C(*.safetensors), else C(*.gguf), else C(*.bin)/C(*.pt)) give O(model_weights_gib) and C(config.json) gives
        the KV cache bytes per token and the checkpoint dtype.
    type: path
  model_weights_gib:
    description:
      - Size of the checkpoint's weights in GiB. Required on CPU unless O(model_path) holds the weight files.
      - When C(config.json) states a checkpoint dtype that differs from the serving dtype (for example bf16
        weights served as float32 on an AVX2 host), the in-memory size is scaled accordingly.
    type: float
  model_kv_bytes_per_token:
    description:
      - KV cache bytes per token for the whole model at the serving dtype.
      - Default from O(model_path)/config.json, 2 x num_hidden_layers x num_key_value_heads x head_dim x dtype bytes
        (head_dim defaults to hidden_size / num_attention_heads; MLA models use kv_lora_rank + qk_rope_head_dim).
      - When unknown, only a KV cache of at least 1 GiB is enforced and RV(plan.warnings) says so.
    type: int
  max_model_len:
    description:
      - Maximum sequence length (C(--max-model-len)); every instance must hold one sequence of this length.
    type: int
    default: 4096
  dtype:
    description:
      - Serving dtype. C(auto) is bfloat16 on CPUs with C(amx_bf16) or C(avx512_bf16) (AMD EPYC Zen 4/5 have
        C(avx512_bf16) and no AMX), else float32; on NVIDIA it is passed to vLLM as C(auto) (the model's dtype).
      - C(bfloat16) on a CPU without those flags and C(float16) on CPU are refused.
    type: str
    choices: [auto, bfloat16, float32, float16]
    default: auto
  reserved_cores_per_instance:
    description:
      - Physical cores at the start of each CPU instance left to the API server and the OS (no inference thread).
    type: int
    default: 1
  runtime_overhead_gib:
    description:
      - Memory per tensor-parallel rank for the runtime (Python, torch, activations), subtracted before the KV cache.
    type: float
    default: 3
  os_headroom_gib:
    description:
      - Memory left to the OS for the whole host, split evenly over the NUMA nodes that hold instances.
    type: float
    default: 4
  kv_cache_gib:
    description:
      - KV cache GiB per tensor-parallel rank (the value of C(VLLM_CPU_KVCACHE_SPACE)) instead of the computed one.
        It must still fit the memory.
    type: int
  kv_cache_max_gib:
    description:
      - Upper bound for the computed KV cache GiB per rank.
    type: int
  workload:
    description:
      - C(online) (latency) plans max-num-seqs 128 and max-num-batched-tokens 2048 per rank; C(offline) (throughput)
        256 and 4096 per rank. CPU only; NVIDIA instances keep vLLM's defaults.
      - This is the batching shape of the instances, not a workload profile (the kind of traffic the gate sends,
        such as chat or agentic); each workload profile names the planner workload it is served with.
    type: str
    choices: [online, offline]
    default: online
  instances:
    description:
      - Upper bound on the number of instances; the first ones in node, socket or GPU order are kept and the rest of
        the host stays housekeeping.
    type: int
  base_port:
    description:
      - Port of the first instance; instance I(i) listens on O(base_port) + I(i).
    type: int
    default: 8100
  front_port:
    description:
      - The port of the front (HAProxy), the host's one network listener in front of the instances (also for a
        single instance) unless O(expose_instances). Must not collide with an instance port.
    type: int
    default: 8000
  expose_instances:
    description:
      - Opt out of the front. By default the instances bind C(127.0.0.1) and the front is the one network
        listener (it asks for the API key on every path but C(/health) and refuses vLLM's control endpoints).
      - V(true) makes each instance listen on O(listen_address) itself and runs no front; vLLM then asks for
        the key on C(/v1/*) only, so C(/metrics), C(/tokenize), C(/version) and its control endpoints answer
        whoever reaches the instance ports.
    type: bool
    default: false
  listen_address:
    description:
      - The IP address the network listener binds, the front's or, with O(expose_instances), the
        instances'. Empty means C(0.0.0.0).
    type: str
    default: ''
  name_prefix:
    description:
      - Prefix of instance names (C(<prefix>-node<N>), C(<prefix>-socket<N>), C(<prefix>-all), C(<prefix>-gpu<i>),
        C(<prefix>-gpu<i>-<j>) for a range, C(<prefix>-gpu<i>_<j>) for other sets). Lowercase letters, digits, C(.),
        C(_) and C(-).
    type: str
    default: vllm
  tcmalloc_path:
    description:
      - Absolute path of tcmalloc where the instances run (the C(xeon_tuning) role installs it; RHEL
        C(/usr/lib64/libtcmalloc_minimal.so.4), Debian C(/usr/lib/<arch>-linux-gnu/libtcmalloc_minimal.so.4)).
        Preloaded first. CPU only. Empty or unset preloads no tcmalloc.
      - The plan's C(env.LD_PRELOAD) is the one owner of C(LD_PRELOAD); the server role refuses a path that does
        not exist on the host before it starts anything.
    type: str
  intel_openmp_path:
    description:
      - Absolute path of the Intel OpenMP library (C(libiomp5.so)) of the vLLM runtime the instances run, for
        example C(<server_current_link>/lib/libiomp5.so) of the venv, or its path inside the image. Preloaded after
        tcmalloc. CPU only. Empty or unset preloads none (vLLM then runs on torch's GNU OpenMP).
    type: str
  preload_libraries:
    description:
      - More absolute library paths for C(LD_PRELOAD), after O(tcmalloc_path) and O(intel_openmp_path) (duplicates
        of those are dropped).
    type: list
    elements: path
    default: []
  onednn_fpmath_mode:
    description:
      - Value of C(ONEDNN_DEFAULT_FPMATH_MODE). C(BF16) and C(ANY) let oneDNN compute float32 math in bf16 and need
        C(amx_bf16) or C(avx512_bf16). CPU only. Unset (or empty) leaves oneDNN's C(STRICT).
      - The plan is the one owner of the C(ONEDNN_*) variables (each instance's environment file); the
        C(xeon_tuning) role's environment file sets none.
    type: str
    choices: [STRICT, BF16, ANY]
  onednn_max_cpu_isa:
    description:
      - Value of C(ONEDNN_MAX_CPU_ISA), the highest instruction set oneDNN may use (A/B comparisons, mixed fleets).
        CPU only. Unset (or empty) leaves it unset.
    type: str
    choices: [DEFAULT, SSE41, AVX, AVX2, AVX2_VNNI, AVX2_VNNI_2, AVX512_CORE, AVX512_CORE_VNNI, AVX512_CORE_BF16,
              AVX512_CORE_FP16, AVX512_CORE_AMX, AVX512_CORE_AMX_FP16, AVX10_1_512, AVX10_1_512_AMX,
              AVX10_1_512_AMX_FP16, AVX10_2_512, AVX10_2_512_AMX_2]
  onednn_primitive_cache_capacity:
    description:
      - Value of C(ONEDNN_PRIMITIVE_CACHE_CAPACITY) (oneDNN's default 1024 kernels); C(0) leaves it unset. CPU only.
    type: int
    default: 0
  memory_limit:
    description:
      - Give every CPU instance a memory limit (RV(plan.instances[].memory_max_mib), C(MemoryMax=) of its systemd
        unit, C(--memory) of its container), so that an instance that outgrows its plan is OOM-killed inside its
        own unit, which restarts it. C(false) plans none.
    type: bool
    default: true
  memory_limit_headroom_pct:
    description:
      - The memory limit of a CPU instance is its KV cache (allocated once at its planned size) plus its weights,
        runtime overhead and C(/dev/shm) times 1 + this percentage.
    type: int
    default: 25
  hugepages_2m_per_node:
    description:
      - Number of static 2 MiB hugepages to reserve on every NUMA node that holds an instance (RV(plan.host.hugepages)).
        C(0) leaves the current pools alone; either way the reserved pages are subtracted from the KV cache.
    type: int
    default: 0
  tensor_parallel_size:
    description:
      - Expected tensor parallel size (1, 2, 4 or 8). On CPU it must equal the NUMA nodes per instance of the
        O(strategy); on NVIDIA it is the GPUs per instance.
    type: int
  gpus_per_instance:
    description:
      - GPUs per NVIDIA instance (1, 2, 4 or 8). Default the smallest that holds the weights and one sequence when
        O(gpu_memory_gib) and the model size are known, else 1.
    type: int
  gpu_memory_gib:
    description:
      - Memory of one GPU in GiB, used to size O(gpus_per_instance) and to check that the model fits.
    type: float
  gpu_memory_utilization:
    description:
      - Fraction of each GPU's memory vLLM may use (C(--gpu-memory-utilization)), greater than 0 and at most 1.
    type: float
    default: 0.9
  var_names:
    description:
      - The variable each option was filled from, as a mapping of option name to variable name, for a playbook that
        fills the options from inventory variables (C(playbooks/plan.yml) maps every option to its C(inferops_*) variable).
      - Refusals, warnings and RV(plan.explain) then name the variable the user set, with its value
        (C(inferops_hugepages_2m_per_node=4096) instead of C(hugepages_2m_per_node=4096)).
      - Options not in the mapping keep their own names.
    type: dict
    default: {}
notes:
  - The plan is a plain dictionary; the roles render it. Run it in check mode to review a plan before tuning a host.
  - C(VLLM_CPU_KVCACHE_SPACE) is per tensor-parallel rank in vLLM, so RV(plan.instances[].kv_cache_gib) is per rank
    and RV(plan.instances[].kv_cache_total_gib) the sum over ranks.
seealso:
  - module: inferops.vllm.cpu_topology
'''

EXAMPLES = r'''
- name: Gather the topology
  inferops.vllm.cpu_topology:
  register: facts

- name: Plan one CPU instance per NUMA node for a staged model
  inferops.vllm.instance_plan:
    topology: "{{ facts.topology }}"
    model_name: llama-3.1-8b-instruct
    model_path: /srv/models/Llama-3.1-8B-Instruct
    max_model_len: 8192
    tcmalloc_path: /usr/lib64/libtcmalloc_minimal.so.4
    intel_openmp_path: /opt/inferops-vllm/current/lib/libiomp5.so
  register: plan

- name: Show why
  ansible.builtin.debug:
    var: plan.plan.explain

- name: Plan before the model is staged, TP across the sockets' sub-NUMA nodes
  inferops.vllm.instance_plan:
    model_name: qwen2.5-7b
    model_weights_gib: 14.2
    model_kv_bytes_per_token: 57344
    strategy: per_socket
    kv_cache_max_gib: 64
    workload: offline

- name: Plan from inventory variables; messages name the variables, not the options
  inferops.vllm.instance_plan:
    model_name: "{{ inferops_model_name }}"
    model_path: "{{ inferops_model_path }}"
    instances: "{{ inferops_max_instances | default(omit) }}"
    hugepages_2m_per_node: "{{ inferops_hugepages_2m_per_node | default(0) }}"
    var_names:
      model_name: inferops_model_name
      model_path: inferops_model_path
      instances: inferops_max_instances
      hugepages_2m_per_node: inferops_hugepages_2m_per_node

- name: Plan NVIDIA instances, two GPUs each
  inferops.vllm.instance_plan:
    accelerator: nvidia
    model_name: llama-3.1-70b-instruct
    model_weights_gib: 131.4
    gpu_memory_gib: 80
'''

RETURN = r'''
plan:
  description: The deployment plan.
  returned: success
  type: dict
  contains:
    accelerator:
      description: The accelerator planned for.
      type: str
      returned: always
      sample: cpu
    strategy:
      description: The CPU strategy used; null for NVIDIA plans.
      type: str
      returned: always
      sample: per_numa_node
    workload:
      description:
        - The batching shape planned (C(online) or C(offline)); not a workload profile (the kind of traffic, such as
          chat or agentic), which names the planner workload it is served with.
      type: str
      returned: always
      sample: online
    dtype:
      description: The resolved serving dtype.
      type: str
      returned: always
      sample: bfloat16
    model:
      description: What the planner knows about the model.
      type: dict
      returned: always
      contains:
        name:
          description: Served model name.
          type: str
          returned: always
          sample: llama-3.1-8b-instruct
        path:
          description: The O(model_path), or null.
          type: str
          returned: always
          sample: /srv/models/Llama-3.1-8B-Instruct
        weights_gib:
          description: In-memory weights of one copy of the model (GiB), null when unknown (NVIDIA only).
          type: float
          returned: always
          sample: 14.96
        checkpoint_dtype:
          description: dtype of the checkpoint from config.json, null when unknown or quantized.
          type: str
          returned: always
          sample: bfloat16
        kv_bytes_per_token:
          description: KV cache bytes per token for the whole model at the serving dtype, null when unknown.
          type: int
          returned: always
          sample: 131072
        max_model_len:
          description: Maximum sequence length.
          type: int
          returned: always
          sample: 8192
        sequence_kv_gib:
          description: KV cache GiB of one max_model_len sequence (all ranks), null when unknown.
          type: float
          returned: always
          sample: 1.0
    instances:
      description: One entry per vLLM instance, in port order.
      type: list
      elements: dict
      returned: always
      contains:
        name:
          description: Instance name (systemd unit / container suffix).
          type: str
          returned: always
          sample: vllm-node0
        index:
          description: Position of the instance, 0-based.
          type: int
          returned: always
          sample: 0
        port:
          description: Port of the instance's OpenAI server (O(base_port) + index).
          type: int
          returned: always
          sample: 8100
        accelerator:
          description: C(cpu) or C(nvidia).
          type: str
          returned: always
          sample: cpu
        numa_nodes:
          description: NUMA nodes whose memory the instance is bound to.
          type: list
          elements: int
          returned: always
          sample: [0]
        mems:
          description: C(numa_nodes) as a cpuset.mems / NUMAMask string; empty when unbound.
          type: str
          returned: always
          sample: "0"
        sockets:
          description: Sockets the instance runs on.
          type: list
          elements: int
          returned: always
          sample: [0]
        cpus:
          description: Every allowed CPU of the instance's nodes, SMT siblings included (its CPU affinity).
          type: list
          elements: int
          returned: always
          sample: [0, 1, 2, 112, 113, 114]
        cpuset:
          description: C(cpus) as a cpulist for C(CPUAffinity=) / C(--cpuset-cpus).
          type: str
          returned: always
          sample: 0-55,112-167
        inference_cpus:
          description: The CPUs the OpenMP inference threads are bound to (one per physical core); empty for NVIDIA.
          type: list
          elements: int
          returned: always
          sample: [1, 2, 3]
        housekeeping_cpus:
          description: CPUs of the instance that run no inference thread (reserved cores, SMT siblings).
          type: list
          elements: int
          returned: always
          sample: [0, 112, 113]
        omp_threads_bind:
          description: Value of C(VLLM_CPU_OMP_THREADS_BIND), ranks separated by C(|); null for NVIDIA.
          type: str
          returned: always
          sample: 1-55
        tensor_parallel_size:
          description: Tensor parallel size (ranks = NUMA nodes on CPU, GPUs on NVIDIA).
          type: int
          returned: always
          sample: 1
        ranks:
          description:
            - One entry per tensor-parallel rank. CPU ranks have C(rank), C(numa_node), C(cpus), C(cpulist), C(threads),
              C(memory_gib), C(hugepages_gib), C(weights_gib), C(runtime_overhead_gib), C(headroom_gib),
              C(free_for_kv_gib); NVIDIA ranks have C(rank), C(gpu), C(pci_address), C(numa_node).
          type: list
          elements: dict
          returned: always
          sample: [{rank: 0, numa_node: 0, cpulist: "1-55", threads: 55, memory_gib: 251.36, free_for_kv_gib: 227.4}]
        dtype:
          description: Serving dtype (C(--dtype)).
          type: str
          returned: always
          sample: bfloat16
        kv_cache_gib:
          description: KV cache GiB per rank (C(VLLM_CPU_KVCACHE_SPACE)); null for NVIDIA (vLLM sizes it).
          type: int
          returned: always
          sample: 227
        kv_cache_total_gib:
          description: KV cache GiB over all ranks; null for NVIDIA.
          type: int
          returned: always
          sample: 227
        kv_cache_memory_bytes:
          description: C(kv_cache_gib) in bytes, for C(--kv-cache-memory-bytes) on newer vLLM; null for NVIDIA.
          type: int
          returned: always
          sample: 243739394048
        kv_cache_sequences:
          description: Full-length sequences the KV cache holds; null when the bytes per token are unknown.
          type: int
          returned: always
          sample: 227
        weights_gib:
          description: Weights of one copy of the model, GiB.
          type: float
          returned: always
          sample: 14.96
        memory_gib:
          description: Memory the CPU instance needs, GiB - weights + KV cache (all ranks) + runtime overhead x ranks;
            null for NVIDIA.
          type: float
          returned: always
          sample: 246.96
        memory_max_mib:
          description:
            - Memory limit of the CPU instance in MiB (systemd C(MemoryMax=), container C(--memory)) - KV cache +
              (weights + runtime overhead + C(shm_mib)) x (1 + O(memory_limit_headroom_pct) / 100), rounded up.
            - Null for NVIDIA and with O(memory_limit=false).
          type: int
          returned: always
          sample: 257685
        memory_max_bytes:
          description: C(memory_max_mib) in bytes; null when there is no limit.
          type: int
          returned: always
          sample: 270202306560
        shm_mib:
          description: Free C(/dev/shm) the instance needs at start (vLLM's shared-memory queues), MiB.
          type: int
          returned: always
          sample: 160
        container_shm_mib:
          description: Size of a container's own C(/dev/shm) (C(ShmSize=)), MiB - 4096 for CPU, 16384 for NVIDIA.
          type: int
          returned: always
          sample: 4096
        max_model_len:
          description: C(--max-model-len).
          type: int
          returned: always
          sample: 8192
        max_num_seqs:
          description: C(--max-num-seqs) (per-rank value x ranks); null for NVIDIA.
          type: int
          returned: always
          sample: 128
        max_num_batched_tokens:
          description: C(--max-num-batched-tokens) (per-rank value x ranks); null for NVIDIA.
          type: int
          returned: always
          sample: 2048
        gpu_memory_utilization:
          description: C(--gpu-memory-utilization).
          type: float
          returned: when accelerator is nvidia
          sample: 0.9
        gpus:
          description: GPUs of the instance in CUDA index order (empty on CPU). The nvidia_gpu role adds UUIDs.
          type: list
          elements: dict
          returned: always
          contains:
            index:
              description: CUDA device index with C(CUDA_DEVICE_ORDER=PCI_BUS_ID).
              type: int
              returned: always
              sample: 0
            pci_address:
              description: PCI address.
              type: str
              returned: always
              sample: "0000:18:00.0"
            numa_node:
              description:
                - NUMA node of the GPU. When sysfs gives none (numa_node -1, usual in a VM) and the host has one NUMA node
                  with CPUs, that node; null when sysfs gives none and the host has several.
              type: int
              returned: always
              sample: 0
        env:
          description:
            - Environment of the instance. CPU - C(VLLM_CPU_KVCACHE_SPACE), C(VLLM_CPU_OMP_THREADS_BIND), C(LD_PRELOAD)
              (O(tcmalloc_path), then O(intel_openmp_path), then O(preload_libraries)), C(ONEDNN_DEFAULT_FPMATH_MODE),
              C(ONEDNN_MAX_CPU_ISA), C(ONEDNN_PRIMITIVE_CACHE_CAPACITY) (when set). C(VLLM_CPU_NUM_OF_RESERVED_CPU) is
              never set (it applies to C(VLLM_CPU_OMP_THREADS_BIND=auto) only; the plan binds explicitly).
              NVIDIA - C(CUDA_DEVICE_ORDER), C(CUDA_VISIBLE_DEVICES), C(LD_PRELOAD) (O(preload_libraries)
              only), C(NCCL_SOCKET_IFNAME=lo). Both - C(GLOO_SOCKET_IFNAME=lo) (every rank runs on this host, so
              vLLM's torch.distributed and NCCL bootstrap sockets bind loopback, not the address the host name
              resolves to). C(OMP_*)/C(KMP_*) are never set (vLLM sets them).
          type: dict
          returned: always
          sample: {GLOO_SOCKET_IFNAME: lo, VLLM_CPU_KVCACHE_SPACE: "227", VLLM_CPU_OMP_THREADS_BIND: "1-55"}
        args:
          description: Arguments for C(vllm serve <model>) (the model itself is not included).
          type: list
          elements: str
          returned: always
          sample: ["--served-model-name", "llama", "--port", "8100", "--dtype", "bfloat16", "--tensor-parallel-size", "1"]
    host:
      description: Host-level outputs for the tuning role.
      type: dict
      returned: always
      contains:
        inference_cpus:
          description: CPUs that run inference threads.
          type: list
          elements: int
          returned: always
          sample: [1, 2, 3]
        inference_cpulist:
          description: C(inference_cpus) as a cpulist.
          type: str
          returned: always
          sample: 1-55,57-111
        housekeeping_cpus:
          description: Every allowed CPU that runs no inference thread (reserved cores, SMT siblings, unused nodes).
          type: list
          elements: int
          returned: always
          sample: [0, 56, 112]
        housekeeping_cpulist:
          description: C(housekeeping_cpus) as a cpulist (for irqbalance, systemd CPUAffinity of the rest of the system).
          type: str
          returned: always
          sample: 0,56,112-223
        numa_nodes:
          description: NUMA nodes that hold instances.
          type: list
          elements: int
          returned: always
          sample: [0, 1]
        hugepages:
          description: Static hugepages to reserve, per node id (string) and page size; empty when not requested.
          type: dict
          returned: always
          sample: {"0": {"2048kB": 1024}, "1": {"2048kB": 1024}}
        numa_balancing:
          description: Value for C(kernel.numa_balancing) (0, instances are pinned).
          type: int
          returned: always
          sample: 0
        front_port:
          description: The front's port; null when O(expose_instances) (no front).
          type: int
          returned: always
          sample: 8000
        listeners:
          description:
            - Who listens where, decided once here (the server role and the gate render it; the reason is in
              C(explain)).
            - C(front) (bool), C(front_address) and C(front_port) (null without a front), C(instance_address)
              (C(127.0.0.1) behind the front), C(network_exposed) (the network listener binds a non-loopback
              address, so an API key is required).
          type: dict
          returned: always
          sample: {"front": true, "front_address": "0.0.0.0", "front_port": 8000, "instance_address": "127.0.0.1",
                   "network_exposed": true}
        ports:
          description: Instance ports (load balancer backends).
          type: list
          elements: int
          returned: always
          sample: [8100, 8101]
        memory_planned_gib:
          description: Sum of RV(plan.instances[].memory_gib) of the CPU instances (0 for NVIDIA).
          type: float
          returned: always
          sample: 498.92
        shm_mib:
          description: Sum of RV(plan.instances[].shm_mib), the free host C(/dev/shm) systemd units need at start.
          type: int
          returned: always
          sample: 320
        memory_limit_gib:
          description: The cgroup memory limit that capped the plan, null when none.
          type: float
          returned: always
          sample: 8.0
    explain:
      description: One sentence per decision, in order.
      type: list
      elements: str
      returned: always
      sample: ["dtype auto -> bfloat16: the CPU has amx_bf16."]
    warnings:
      description: Things the plan could not check or that will hurt (also emitted as Ansible warnings).
      type: list
      elements: str
      returned: always
      sample: []
'''

import traceback

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.inferops.vllm.plugins.module_utils.option_names import check_var_names, in_user_words
from ansible_collections.inferops.vllm.plugins.module_utils.plan import (
    ACCELERATORS, DEFAULTS, DTYPES, FPMATH_MODES, ONEDNN_MAX_CPU_ISAS, STRATEGIES, WORKLOADS, PlanError, build_plan,
    read_model_dir)
from ansible_collections.inferops.vllm.plugins.module_utils.topology import TopologyError, gather_topology

# Defaults and choices are the planner's own (module_utils/plan.py DEFAULTS and its value lists), stated once;
# tests/unit/plugins/modules/test_instance_plan_defaults.py checks DOCUMENTATION and playbooks/plan.yml against them.
ARGUMENT_SPEC = dict(
    topology=dict(type='dict'),
    root=dict(type='path', default='/'),
    accelerator=dict(type='str', choices=list(ACCELERATORS), default=DEFAULTS['accelerator']),
    strategy=dict(type='str', choices=list(STRATEGIES), default=DEFAULTS['strategy']),
    model_name=dict(type='str', required=True),
    model_path=dict(type='path'),
    model_weights_gib=dict(type='float'),
    model_kv_bytes_per_token=dict(type='int', no_log=False),
    max_model_len=dict(type='int', default=DEFAULTS['max_model_len']),
    dtype=dict(type='str', choices=list(DTYPES), default=DEFAULTS['dtype']),
    reserved_cores_per_instance=dict(type='int', default=DEFAULTS['reserved_cores_per_instance']),
    runtime_overhead_gib=dict(type='float', default=DEFAULTS['runtime_overhead_gib']),
    os_headroom_gib=dict(type='float', default=DEFAULTS['os_headroom_gib']),
    kv_cache_gib=dict(type='int'),
    kv_cache_max_gib=dict(type='int'),
    workload=dict(type='str', choices=list(WORKLOADS), default=DEFAULTS['workload']),
    instances=dict(type='int'),
    base_port=dict(type='int', default=DEFAULTS['base_port']),
    front_port=dict(type='int', default=DEFAULTS['front_port']),
    expose_instances=dict(type='bool', default=DEFAULTS['expose_instances']),
    listen_address=dict(type='str', default=DEFAULTS['listen_address']),
    name_prefix=dict(type='str', default=DEFAULTS['name_prefix']),
    tcmalloc_path=dict(type='str'),
    intel_openmp_path=dict(type='str'),
    preload_libraries=dict(type='list', elements='path', default=list(DEFAULTS['preload_libraries'])),
    onednn_fpmath_mode=dict(type='str', choices=list(FPMATH_MODES)),
    onednn_max_cpu_isa=dict(type='str', choices=list(ONEDNN_MAX_CPU_ISAS)),
    onednn_primitive_cache_capacity=dict(type='int', default=DEFAULTS['onednn_primitive_cache_capacity']),
    memory_limit=dict(type='bool', default=DEFAULTS['memory_limit']),
    memory_limit_headroom_pct=dict(type='int', default=DEFAULTS['memory_limit_headroom_pct']),
    hugepages_2m_per_node=dict(type='int', default=DEFAULTS['hugepages_2m_per_node']),
    tensor_parallel_size=dict(type='int'),
    gpus_per_instance=dict(type='int'),
    gpu_memory_gib=dict(type='float'),
    gpu_memory_utilization=dict(type='float', default=DEFAULTS['gpu_memory_utilization']),
    var_names=dict(type='dict', default={}),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    options = dict((key, params[key]) for key in ARGUMENT_SPEC if key not in ('topology', 'root', 'var_names'))
    var_names = params['var_names'] or {}
    problem = check_var_names(var_names, ARGUMENT_SPEC)
    if problem:
        module.fail_json(msg=problem)

    topology = params['topology']
    try:
        if topology is None:
            topology = gather_topology(params['root'])
    except TopologyError as exc:
        module.fail_json(msg='cannot read the topology under root=%s: %s' % (params['root'], exc))

    try:
        model_info = None
        if params['model_path'] and (params['model_weights_gib'] is None or params['model_kv_bytes_per_token'] is None):
            model_info = read_model_dir(params['model_path'])
        plan = build_plan(topology, options, model_info)
    except PlanError as exc:
        module.fail_json(msg=in_user_words(str(exc), var_names))
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg='instance plan failed unexpectedly: %s' % exc, exception=traceback.format_exc())

    plan['warnings'] = [in_user_words(text, var_names) for text in plan['warnings']]
    plan['explain'] = [in_user_words(text, var_names) for text in plan['explain']]
    for warning in plan['warnings']:
        module.warn(warning)
    module.exit_json(changed=False, plan=plan)


if __name__ == '__main__':
    main()
