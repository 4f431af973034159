#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: nvidia_gpu_info
short_description: Read NVIDIA GPU facts from nvidia-smi and check them against the PCI bus, a plan and the CDI spec
description:
  - Runs C(nvidia-smi --query-gpu) and C(nvidia-smi --version) and returns the driver and CUDA versions and, for every
    GPU, its index, UUID, name, memory, PCI address and persistence mode.
  - The NUMA node of each GPU comes from I(topology) (the C(topology) result of M(inferops.vllm.cpu_topology)), joined
    by PCI address; GPUs the topology does not list are looked up in sysfs under I(root).
  - PCI addresses are returned in the sysfs form C(0000:18:00.0) (nvidia-smi prints C(00000000:18:00.0)).
  - Reads the first CDI specification found in I(cdi_spec_paths) and reports which GPUs it does not name.
  - Lists disagreements in C(problems) (a GPU on the PCI bus that nvidia-smi does not see, a GPU of I(plan) that is
    missing or numbered differently) without failing; the caller decides.
  - Fails when nvidia-smi is not installed or cannot talk to the driver, with nvidia-smi's own message.
  - This is an information module; it never changes anything and always reports C(changed=false).
version_added: 0.1.0
author:
  - inferops.vllm contributors (@inferops)
options:
  nvidia_smi:
    description:
      - Name or path of nvidia-smi. A bare name is looked up in C(PATH), C(/usr/bin) and C(/usr/sbin).
    type: str
    default: nvidia-smi
  topology:
    description:
      - The C(topology) result of M(inferops.vllm.cpu_topology), for the NUMA node of each GPU and the list of GPUs on
        the PCI bus.
    type: dict
  plan:
    description:
      - The C(plan) result of M(inferops.vllm.instance_plan). Each planned GPU (C(instances[].gpus[])) must be listed by
        nvidia-smi at the same index, else a line is added to C(problems).
    type: dict
  root:
    description:
      - Prefix under which C(sys/bus/pci/devices/ADDRESS/numa_node) is read for GPUs that I(topology) does not list.
    type: path
    default: /
  cdi_spec_paths:
    description:
      - CDI specifications to look for, in order; the first that exists is read.
    type: list
    elements: path
    default: [/var/run/cdi/nvidia.yaml, /etc/cdi/nvidia.yaml, /var/run/cdi/nvidia.json, /etc/cdi/nvidia.json]
  timeout_s:
    description:
      - Seconds each nvidia-smi call may take (a hung driver makes nvidia-smi block).
    type: int
    default: 60
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
  - nvidia-smi numbers GPUs in PCI bus order, the order C(CUDA_DEVICE_ORDER=PCI_BUS_ID) gives CUDA and the order in
    which M(inferops.vllm.instance_plan) numbers them.
'''

EXAMPLES = r'''
- name: Read the topology
  inferops.vllm.cpu_topology:
  register: topo

- name: Read the GPUs
  inferops.vllm.nvidia_gpu_info:
    topology: "{{ topo.topology }}"
  register: gpu

- name: Every GPU is in the CDI spec and nothing disagrees
  ansible.builtin.assert:
    that:
      - gpu.cdi.missing | length == 0
      - gpu.problems | length == 0
    fail_msg: "{{ gpu.problems + gpu.cdi.missing }}"

- name: Check a plan against the GPUs the driver sees
  inferops.vllm.nvidia_gpu_info:
    topology: "{{ topo.topology }}"
    plan: "{{ plan.plan }}"
  register: gpu
  failed_when: gpu.problems | length > 0
'''

RETURN = r'''
nvidia_gpu:
  description: What nvidia-smi reports.
  returned: success
  type: dict
  contains:
    driver_version:
      description: Driver version.
      returned: always
      type: str
      sample: "580.95.05"
    cuda_version:
      description: Highest CUDA version the driver supports (null when nvidia-smi does not print it).
      returned: always
      type: str
      sample: "13.0"
    count:
      description: Number of GPUs listed.
      returned: always
      type: int
      sample: 4
    gpus:
      description: One entry per GPU, sorted by index.
      returned: always
      type: list
      elements: dict
      contains:
        index:
          description: nvidia-smi index (PCI bus order).
          returned: always
          type: int
          sample: 0
        uuid:
          description: GPU UUID.
          returned: always
          type: str
          sample: GPU-6f1c2a54-8d3e-4b7a-9c21-0e5d4f3a2b10
        name:
          description: Product name.
          returned: always
          type: str
          sample: NVIDIA H100 80GB HBM3
        memory_mib:
          description: Total memory in MiB (null when not reported).
          returned: always
          type: int
          sample: 81559
        pci_address:
          description: PCI address in the sysfs form.
          returned: always
          type: str
          sample: "0000:18:00.0"
        numa_node:
          description: NUMA node of the GPU (null when unknown).
          returned: always
          type: int
          sample: 0
        persistence_mode:
          description: Whether persistence mode is on (null when not reported).
          returned: always
          type: bool
          sample: true
cdi:
  description: The CDI specification found.
  returned: success
  type: dict
  contains:
    path:
      description: Path of the specification read (null when none of I(cdi_spec_paths) exists).
      returned: always
      type: str
      sample: /var/run/cdi/nvidia.yaml
    kind:
      description: Its C(kind).
      returned: always
      type: str
      sample: nvidia.com/gpu
    devices:
      description: Device names it lists.
      returned: always
      type: list
      elements: str
      sample: ["0", "GPU-6f1c2a54-8d3e-4b7a-9c21-0e5d4f3a2b10", "all"]
    missing:
      description: GPUs (C(INDEX (UUID))) it does not name, plus C(all) when that device is absent; every GPU when no spec exists.
      returned: always
      type: list
      elements: str
      sample: []
    error:
      description: Why the specification could not be read (null when it was).
      returned: always
      type: str
      sample: null
problems:
  description: One line per disagreement between nvidia-smi, the PCI bus (I(topology)) and I(plan).
  returned: success
  type: list
  elements: str
  sample: ["plan instance vllm-gpu0-1 uses GPU 0000:2a:00.0 (index 1), which nvidia-smi does not list"]
nvidia_smi:
  description: Path of the nvidia-smi that was run.
  returned: success
  type: str
  sample: /usr/bin/nvidia-smi
'''

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.inferops.vllm.plugins.module_utils.nvidia import (
    NvidiaError,
    build_facts,
    cdi_missing,
    compare,
    parse_cdi_spec,
    query_args,
    sysfs_numa_reader,
)

NVIDIA_SMI_HINT = ('install the driver (inferops.vllm.nvidia_gpu role, or the nvidia-open package from the CUDA repository) '
                   'and rerun')


def _find_smi(module, name):
    if os.path.sep in name:
        return name if os.access(name, os.X_OK) else None
    return module.get_bin_path(name, opt_dirs=['/usr/bin', '/usr/sbin', '/usr/local/bin'])


def _run(module, argv, timeout_s):
    timeout_bin = module.get_bin_path('timeout')
    if timeout_bin:
        argv = [timeout_bin, str(timeout_s)] + argv
    return module.run_command(argv, environ_update={'LC_ALL': 'C'})


def _read_cdi(paths, gpus):
    for path in paths:
        if not os.path.exists(path):
            continue
        result = {'path': path, 'kind': None, 'devices': [], 'missing': [], 'error': None}
        try:
            with open(path) as handle:
                spec = parse_cdi_spec(handle.read())
        except (IOError, OSError) as exc:
            result['error'] = 'cannot read %s: %s' % (path, exc)
        except NvidiaError as exc:
            result['error'] = '%s: %s' % (path, exc)
        else:
            result.update(kind=spec['kind'], devices=spec['devices'], missing=cdi_missing(gpus, spec))
            return result
        result['missing'] = cdi_missing(gpus, {'devices': []})
        return result
    return {'path': None, 'kind': None, 'devices': [], 'missing': cdi_missing(gpus, {'devices': []}),
            'error': 'no CDI specification at %s' % ', '.join(paths)}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            nvidia_smi=dict(type='str', default='nvidia-smi'),
            topology=dict(type='dict'),
            plan=dict(type='dict'),
            root=dict(type='path', default='/'),
            cdi_spec_paths=dict(type='list', elements='path',
                                default=['/var/run/cdi/nvidia.yaml', '/etc/cdi/nvidia.yaml',
                                         '/var/run/cdi/nvidia.json', '/etc/cdi/nvidia.json']),
            timeout_s=dict(type='int', default=60),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if params['timeout_s'] < 1:
        module.fail_json(msg='timeout_s=%s must be a whole number of seconds >= 1' % params['timeout_s'])
    smi = _find_smi(module, params['nvidia_smi'])
    if not smi:
        module.fail_json(msg='nvidia-smi not found (nvidia_smi=%s, looked in PATH, /usr/bin, /usr/sbin): %s'
                         % (params['nvidia_smi'], NVIDIA_SMI_HINT), nvidia_smi_found=False)

    rc, out, err = _run(module, [smi] + query_args(), params['timeout_s'])
    if rc != 0:
        detail = (out.strip() or err.strip() or 'no output').splitlines()
        reason = 'timed out after %ss' % params['timeout_s'] if rc == 124 else 'exited %d' % rc
        module.fail_json(msg='%s %s: %s' % (smi, reason, ' '.join(line.strip() for line in detail[:3])),
                         nvidia_smi_found=True, rc=rc, stdout=out, stderr=err)
    version_rc, version_out, dummy = _run(module, [smi, '--version'], params['timeout_s'])
    if version_rc != 0 or 'CUDA' not in version_out:
        # Drivers before 525 have no --version; their banner carries the CUDA version.
        dummy, version_out, dummy = _run(module, [smi], params['timeout_s'])

    facts, problems = None, []
    try:
        facts = build_facts(out, version_out, topology=params['topology'], numa_reader=sysfs_numa_reader(params['root']))
        problems = compare(facts['gpus'], topology=params['topology'], plan=params['plan'])
    except NvidiaError as exc:
        module.fail_json(msg='cannot read the output of %s: %s' % (smi, exc), nvidia_smi_found=True, stdout=out)
    if not facts['gpus']:
        problems.append('nvidia-smi lists no GPU')
    module.exit_json(changed=False, nvidia_gpu=facts, cdi=_read_cdi(params['cdi_spec_paths'], facts['gpus']),
                     problems=problems, nvidia_smi=smi)


if __name__ == '__main__':
    main()
