#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: cpu_topology
short_description: Gather the CPU, NUMA, memory, GPU and cgroup topology of a Linux host
description:
  - Reads C(/sys) and C(/proc) and returns the host's sockets, NUMA nodes, physical cores and SMT siblings,
    L3 cache domains (CCDs on AMD EPYC), CPU vendor and instruction set class, memory, NVIDIA GPUs with their
    NUMA nodes and the cgroup limits of the calling process, as input for planning vLLM instances.
  - Intel Xeon and AMD EPYC hosts are both described; on AMD the NPS (NUMA nodes per socket) mode is inferred
    from the nodes, as sub-NUMA clustering is on Xeon.
  - This is an information module; it never changes anything and always reports C(changed=false).
  - A missing or malformed kernel file that is always expected (for example C(/proc/cpuinfo) or
    C(/sys/devices/system/cpu/online)) makes the module fail with a message naming the file.
    Files that may legitimately be absent (C(isolated), C(offline), hugepages directories, the PCI tree,
    cgroup limit files, the NUMA node directory of non-NUMA kernels) are handled.
  - Without C(/sys/devices/system/node) the host is described as one NUMA node 0 holding every online CPU
    and the memory of C(/proc/meminfo).
version_added: 0.1.0
author:
  - inferops.vllm contributors (@inferops)
options:
  root:
    description:
      - Prefix under which C(sys/) and C(proc/) are read.
      - Point it at a copy of the kernel trees (for example a test fixture) to describe another machine.
    type: path
    default: /
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - C(/proc/self/status) and C(/proc/self/cgroup) describe the module's own process, which runs with the
    CPU affinity, memory nodes and cgroup of the connection (inside a container, those of the container).
  - PCI addresses come from C(PCI_SLOT_NAME) in each device's C(uevent) file, falling back to the directory name.
'''

EXAMPLES = r'''
- name: Gather the host topology
  inferops.vllm.cpu_topology:
  register: topo

- name: Show the NUMA nodes and their physical cores
  ansible.builtin.debug:
    msg: "node {{ item.id }}: {{ item.physical_cores | length }} cores, {{ item.memory_total_bytes | human_readable }}"
  loop: "{{ topo.topology.numa_nodes | rejectattr('cpu_less') }}"

- name: Refuse hosts without AVX-512
  ansible.builtin.assert:
    that: topo.topology.cpu.isa in ['amx', 'avx512']

- name: Show the NPS mode and the CCDs of an AMD EPYC host
  ansible.builtin.debug:
    msg: "{{ topo.topology.nps.mode }}, {{ topo.topology.l3_domains | length }} L3 domains"
  when: topo.topology.vendor == 'amd'

- name: Describe a recorded machine instead of the live host
  inferops.vllm.cpu_topology:
    root: /srv/fixtures/sysfs/spr_2s_112c
  delegate_to: localhost
'''

RETURN = r'''
topology:
  description: The host topology. Every list is sorted.
  returned: success
  type: dict
  contains:
    cpus:
      description: CPU sets, as lists of CPU numbers.
      returned: always
      type: dict
      sample: {"online": [0, 1, 2, 3], "offline": [], "isolated": [], "present": [0, 1, 2, 3], "allowed": [0, 1, 2, 3]}
      contains:
        online:
          description: Online CPUs (C(/sys/devices/system/cpu/online)).
          returned: always
          type: list
          elements: int
        offline:
          description: Offline CPUs (empty when the file is absent).
          returned: always
          type: list
          elements: int
        isolated:
          description: CPUs isolated from the scheduler with C(isolcpus=) (empty when the file is absent).
          returned: always
          type: list
          elements: int
        present:
          description: Present CPUs.
          returned: always
          type: list
          elements: int
        allowed:
          description: C(Cpus_allowed_list) of the module's process intersected with the online CPUs.
          returned: always
          type: list
          elements: int
    smt_active:
      description: Whether some physical core has more than one online hardware thread.
      returned: always
      type: bool
      sample: true
    threads_per_core:
      description: Largest number of online hardware threads on one physical core.
      returned: always
      type: int
      sample: 2
    vendor:
      description:
        - CPU vendor from C(vendor_id) in C(/proc/cpuinfo) - C(intel) (C(GenuineIntel)), C(amd) (C(AuthenticAMD)),
          C(other) for anything else. The raw value is RV(topology.cpu.vendor).
      returned: always
      type: str
      choices: [intel, amd, other]
      sample: amd
    cpu:
      description: Processor identification from the first entry of C(/proc/cpuinfo).
      returned: always
      type: dict
      contains:
        vendor:
          description: C(vendor_id), for example C(GenuineIntel).
          returned: always
          type: str
          sample: GenuineIntel
        model_name:
          description: C(model name).
          returned: always
          type: str
          sample: Intel(R) Xeon(R) Platinum 8480+
        flags:
          description: Presence of the instruction set flags that matter for CPU inference.
          returned: always
          type: dict
          sample: {"avx2": true, "avx512f": true, "avx512_bf16": true, "avx512_vnni": true,
                   "amx_tile": true, "amx_bf16": true, "amx_int8": true, "avx_vnni": true}
          contains:
            avx2:
              description: AVX2.
              returned: always
              type: bool
            avx512f:
              description: AVX-512 foundation.
              returned: always
              type: bool
            avx512_bf16:
              description: AVX-512 BF16.
              returned: always
              type: bool
            avx512_vnni:
              description: AVX-512 VNNI.
              returned: always
              type: bool
            amx_tile:
              description: AMX tiles.
              returned: always
              type: bool
            amx_bf16:
              description: AMX BF16.
              returned: always
              type: bool
            amx_int8:
              description: AMX INT8.
              returned: always
              type: bool
            avx_vnni:
              description: AVX-VNNI (VEX encoded).
              returned: always
              type: bool
        isa:
          description:
            - Best instruction set class present. C(amx) needs C(amx_tile) with C(amx_bf16) or C(amx_int8),
              C(avx512) needs C(avx512f), C(avx2) needs C(avx2); otherwise C(baseline).
          returned: always
          type: str
          choices: [amx, avx512, avx2, baseline]
          sample: amx
    memory:
      description: System memory from C(/proc/meminfo).
      returned: always
      type: dict
      sample: {"total_bytes": 540439707648, "available_bytes": 528885167104, "free_bytes": 523107897344}
      contains:
        total_bytes:
          description: C(MemTotal) in bytes.
          returned: always
          type: int
        available_bytes:
          description: C(MemAvailable) in bytes (C(MemFree) on kernels without it).
          returned: always
          type: int
        free_bytes:
          description: C(MemFree) in bytes.
          returned: always
          type: int
    sockets:
      description: Physical packages with online CPUs, by id.
      returned: always
      type: list
      elements: dict
      sample: [{"id": 0, "numa_nodes": [0], "cpus": [0, 1, 2, 3], "physical_cores": 2, "dies": 1}]
      contains:
        id:
          description: C(physical_package_id).
          returned: always
          type: int
        numa_nodes:
          description: NUMA nodes with CPUs on this socket.
          returned: always
          type: list
          elements: int
        cpus:
          description: Online CPUs of the socket.
          returned: always
          type: list
          elements: int
        physical_cores:
          description: Number of physical cores with an online CPU.
          returned: always
          type: int
        dies:
          description: Number of distinct C(die_id) values (1 when the kernel has no C(die_id)).
          returned: always
          type: int
    numa_nodes:
      description: NUMA nodes by id, including CPU-less (memory-only) nodes.
      returned: always
      type: list
      elements: dict
      contains:
        id:
          description: Node number.
          returned: always
          type: int
          sample: 0
        socket:
          description: Socket of the node's CPUs; null for CPU-less nodes and nodes spanning sockets.
          returned: always
          type: int
          sample: 0
        cpus:
          description: Online CPUs of the node.
          returned: always
          type: list
          elements: int
          sample: [0, 1, 112, 113]
        cores:
          description: Online hardware threads of each physical core of the node, sorted by their first CPU.
          returned: always
          type: list
          elements: list
          sample: [[0, 112], [1, 113]]
        physical_cores:
          description: First online thread of each physical core of the node.
          returned: always
          type: list
          elements: int
          sample: [0, 1]
        memory_total_bytes:
          description: C(MemTotal) of the node in bytes.
          returned: always
          type: int
          sample: 269892431872
        memory_free_bytes:
          description: C(MemFree) of the node in bytes.
          returned: always
          type: int
          sample: 257878130688
        hugepages:
          description: Static huge pages of the node by page size (for example C(2048kB), C(1048576kB)).
          returned: always
          type: dict
          sample: {"2048kB": {"total": 1024, "free": 512}, "1048576kB": {"total": 0, "free": 0}}
        cpu_less:
          description: Whether the node has no online CPU.
          returned: always
          type: bool
          sample: false
        distances:
          description: SLIT distances from this node to every node, in node order.
          returned: always
          type: list
          elements: int
          sample: [10, 21]
        gpus:
          description:
            - PCI addresses of the GPUs attached to this node. On a single-node host this also holds
              GPUs whose NUMA node is unknown.
          returned: always
          type: list
          elements: str
          sample: ["0000:18:00.0"]
    memory_only_nodes:
      description: Nodes with memory but no CPUs (CXL expanders, HBM).
      returned: always
      type: list
      elements: int
      sample: [1]
    snc:
      description:
        - Sub-NUMA clustering (or AMD NPS) detection, for every vendor. On AMD, RV(topology.nps) names the mode.
      returned: always
      type: dict
      sample: {"enabled": true, "nodes_per_socket": 3}
      contains:
        enabled:
          description: Whether some socket has more than one NUMA node with CPUs.
          returned: always
          type: bool
        nodes_per_socket:
          description: Largest number of NUMA nodes with CPUs on one socket.
          returned: always
          type: int
    nps:
      description:
        - AMD EPYC NPS (NUMA nodes per socket) mode, inferred from the NUMA nodes; null on other vendors.
        - In a virtual machine this is the NUMA layout the hypervisor shows, not the host's BIOS setting.
      returned: always
      type: dict
      sample: {"mode": "NPS4", "nodes_per_socket": 4}
      contains:
        mode:
          description:
            - C(NPS1), C(NPS2) or C(NPS4) from the nodes with CPUs per socket; C(NPS0) when a node spans sockets;
              C(L3) when every node is exactly one L3 domain (BIOS "L3 cache as NUMA domain").
          returned: always
          type: str
        nodes_per_socket:
          description: Largest number of NUMA nodes with CPUs on one socket.
          returned: always
          type: int
    l3_domains:
      description:
        - Groups of online CPUs that share one L3 cache (C(cpuN/cache/indexM) with C(level) 3), sorted by first CPU.
          On AMD EPYC each is a CCD (8 cores on Genoa and Turin); on Xeon usually a whole socket.
        - Empty when the kernel shows no cache information (some virtual machines and containers).
      returned: always
      type: list
      elements: dict
      sample: [{"id": 0, "cpus": [0, 1, 2, 3, 4, 5, 6, 7, 192, 193, 194, 195, 196, 197, 198, 199],
                "physical_cores": [0, 1, 2, 3, 4, 5, 6, 7], "size_bytes": 33554432, "socket": 0, "numa_nodes": [0]}]
      contains:
        id:
          description: Position in this list.
          returned: always
          type: int
        cpus:
          description: Online CPUs sharing the L3 (C(shared_cpu_list)).
          returned: always
          type: list
          elements: int
        physical_cores:
          description: First online thread of each physical core in the domain.
          returned: always
          type: list
          elements: int
        size_bytes:
          description: Size of the L3 in bytes; null when the kernel does not show it.
          returned: always
          type: int
        socket:
          description: Socket of the domain's CPUs (null if they span sockets).
          returned: always
          type: int
        numa_nodes:
          description: NUMA nodes holding the domain's CPUs.
          returned: always
          type: list
          elements: int
    gpus:
      description:
        - NVIDIA GPUs (PCI vendor C(0x10de), class C(0x0300xx) or C(0x0302xx)), by PCI address.
          Audio functions, bridges and NVSwitches are not reported.
      returned: always
      type: list
      elements: dict
      sample: [{"pci_address": "0000:18:00.0", "vendor_id": "0x10de", "device_id": "0x2330", "class": "0x030200", "numa_node": 0}]
      contains:
        pci_address:
          description: PCI address (domain:bus:device.function).
          returned: always
          type: str
        vendor_id:
          description: PCI vendor id.
          returned: always
          type: str
        device_id:
          description: PCI device id.
          returned: always
          type: str
        class:
          description: PCI class code.
          returned: always
          type: str
        numa_node:
          description: NUMA node of the device; null when the kernel reports -1 or nothing.
          returned: always
          type: int
    cgroup:
      description: cgroup of the module's process and its limits.
      returned: always
      type: dict
      sample: {"version": 2, "path": "/machine.slice/libpod-abc.scope", "cpuset_cpus": [0, 1, 2, 3],
               "cpuset_mems": [0], "memory_limit_bytes": 8589934592, "cpu_quota_cores": 4.0}
      contains:
        version:
          description: 2 when C(/sys/fs/cgroup) is the unified hierarchy, 1 for v1 (or hybrid) controllers, null without cgroups.
          returned: always
          type: int
        path:
          description:
            - The process's cgroup path from C(/proc/self/cgroup); for v1 the path of the memory controller
              (else cpu, else cpuset). Empty when there is no cgroup file system.
            - When that directory does not exist under the mount (a container with a private cgroup namespace)
              the limits are read from the mount's root.
          returned: always
          type: str
        cpuset_cpus:
          description: Effective cpuset of the cgroup; the allowed CPUs when the cgroup does not show one.
          returned: always
          type: list
          elements: int
        cpuset_mems:
          description: Effective memory nodes of the cgroup; C(Mems_allowed_list) when the cgroup does not show them.
          returned: always
          type: list
          elements: int
        memory_limit_bytes:
          description: Tightest memory limit from the cgroup up to the root; null when unlimited.
          returned: always
          type: int
        cpu_quota_cores:
          description: Tightest CFS quota divided by its period (CPUs' worth of time); null when unlimited.
          returned: always
          type: float
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.inferops.vllm.plugins.module_utils.topology import TopologyError, gather_topology


def main():
    module = AnsibleModule(
        argument_spec=dict(
            root=dict(type='path', default='/'),
        ),
        supports_check_mode=True,
    )
    root = module.params['root']
    try:
        topology = gather_topology(root)
    except TopologyError as exc:
        module.fail_json(msg='cpu_topology: cannot read the host topology under root=%s: %s' % (root, exc), path=exc.path)
    module.exit_json(changed=False, topology=topology)


if __name__ == '__main__':
    main()
