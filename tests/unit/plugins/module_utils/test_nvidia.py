# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest

from ansible_collections.inferops.vllm.plugins.module_utils import nvidia
from ansible_collections.inferops.vllm.plugins.module_utils.topology import gather_topology

FIXTURES = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures', 'sysfs'))

# Recorded-style output of `nvidia-smi --query-gpu=<QUERY_FIELDS> --format=csv,noheader,nounits` on a
# 2-socket host with four H100 SXM (the machine of the gpu_4x_2node fixture: GPUs at 18, 2a on node 0 and
# 9a, ab on node 1). nvidia-smi prints the 8-digit domain and upper-case bus numbers.
H100_X4_QUERY = """\
0, GPU-6f1c2a54-8d3e-4b7a-9c21-0e5d4f3a2b10, NVIDIA H100 80GB HBM3, 81559, 00000000:18:00.0, 580.95.05, Enabled
1, GPU-0b7e9d12-3c4f-4a8b-8e6d-5f2a1c9b7d34, NVIDIA H100 80GB HBM3, 81559, 00000000:2A:00.0, 580.95.05, Enabled
2, GPU-c93a7f45-1e2d-4f6b-a0c8-7d4e3b2a1f56, NVIDIA H100 80GB HBM3, 81559, 00000000:9A:00.0, 580.95.05, Enabled
3, GPU-5d2e8b67-9f0a-4c1d-b3e7-2a6f4c8d0e78, NVIDIA H100 80GB HBM3, 81559, 00000000:AB:00.0, 580.95.05, Enabled
"""
# `nvidia-smi --version` of the 580 branch.
H100_X4_VERSION = """\
NVIDIA-SMI version  : 580.95.05
NVML version        : 580.95
DRIVER version      : 580.95.05
CUDA Version        : 13.0
"""
# One L40S, persistence off, on a 570 driver; the CUDA version from the banner of plain `nvidia-smi`.
L40S_QUERY = "0, GPU-1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d, NVIDIA L40S, 46068, 00000000:4B:00.0, 570.172.08, Disabled\n"
L40S_BANNER = """\
Tue Jul  8 10:12:03 2025
+-----------------------------------------------------------------------------------------+
| NVIDIA-SMI 570.172.08             Driver Version: 570.172.08     CUDA Version: 12.8     |
|-----------------------------------------+------------------------+----------------------+
| GPU  Name                 Persistence-M | Bus-Id          Disp.A | Volatile Uncorr. ECC |
| Fan  Temp   Perf          Pwr:Usage/Cap |           Memory-Usage | GPU-Util  Compute M. |
|                                         |                        |               MIG M. |
|=========================================+========================+======================|
|   0  NVIDIA L40S                    Off |   00000000:4B:00.0 Off |                    0 |
| N/A   31C    P8             33W /  350W |       0MiB /  46068MiB |      0%      Default |
|                                         |                        |                  N/A |
+-----------------------------------------+------------------------+----------------------+
"""
# What nvidia-smi prints (rc 9) when the kernel module is not loaded.
NO_DRIVER = ("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. "
             "Make sure that the latest NVIDIA driver is installed and running.\n")

# nvidia-ctk cdi generate (1.18, device-name-strategy index and uuid), abridged; sequences not indented.
CDI_YAML = """\
---
cdiVersion: 0.5.0
containerEdits:
  deviceNodes:
  - path: /dev/nvidia-uvm
  - path: /dev/nvidiactl
  env:
  - NVIDIA_VISIBLE_DEVICES=void
  hooks:
  - args:
    - nvidia-cdi-hook
    - update-ldcache
    hookName: createContainer
    path: /usr/bin/nvidia-cdi-hook
  mounts:
  - containerPath: /usr/bin/nvidia-smi
    hostPath: /usr/bin/nvidia-smi
    options:
    - ro
devices:
- containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
  name: "0"
- containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
  name: GPU-6f1c2a54-8d3e-4b7a-9c21-0e5d4f3a2b10
- containerEdits:
    deviceNodes:
    - path: /dev/nvidia1
  name: "1"
- containerEdits:
    deviceNodes:
    - path: /dev/nvidia2
  name: '2'
- containerEdits:
    deviceNodes:
    - path: /dev/nvidia3
  name: "3"
- containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
    - path: /dev/nvidia1
    - path: /dev/nvidia2
    - path: /dev/nvidia3
  name: all
kind: nvidia.com/gpu
"""
# The same with indented sequences (another YAML writer), name first in the item.
CDI_YAML_INDENTED = """\
cdiVersion: "0.6.0"
kind: "nvidia.com/gpu"
devices:
    - name: "gpu0"
      containerEdits:
        deviceNodes:
            - path: /dev/nvidia0
    - name: all  # every GPU
      containerEdits:
        deviceNodes:
            - path: /dev/nvidia0
containerEdits:
    env:
        - NVIDIA_VISIBLE_DEVICES=void
"""


def gpu_topology():
    return gather_topology(os.path.join(FIXTURES, 'gpu_4x_2node'))


@pytest.mark.parametrize('raw, expected', [
    ('00000000:18:00.0', '0000:18:00.0'),
    ('00000000:AB:00.0', '0000:ab:00.0'),
    ('0000:2a:00.0', '0000:2a:00.0'),
    ('2A:00.0', '0000:2a:00.0'),
    (' 00000001:1B:1F.7 ', '0001:1b:1f.7'),
    ('00010000:01:00.0', '10000:01:00.0'),
])
def test_normalize_pci_address(raw, expected):
    assert nvidia.normalize_pci_address(raw) == expected


@pytest.mark.parametrize('raw', ['', None, 'GPU-1234', '0000:18:00', '0000:18:00.8', '0000:118:00.0'])
def test_normalize_pci_address_rejects(raw):
    with pytest.raises(nvidia.NvidiaError, match='not a PCI address'):
        nvidia.normalize_pci_address(raw)


def test_query_args_match_the_parser():
    args = nvidia.query_args()
    assert args[0] == '--query-gpu=index,uuid,name,memory.total,pci.bus_id,driver_version,persistence_mode'
    assert args[1] == '--format=csv,noheader,nounits'


def test_parse_h100_x4():
    gpus = nvidia.parse_query_gpu(H100_X4_QUERY)
    assert [g['index'] for g in gpus] == [0, 1, 2, 3]
    assert [g['pci_address'] for g in gpus] == ['0000:18:00.0', '0000:2a:00.0', '0000:9a:00.0', '0000:ab:00.0']
    assert gpus[0] == {
        'index': 0, 'uuid': 'GPU-6f1c2a54-8d3e-4b7a-9c21-0e5d4f3a2b10', 'name': 'NVIDIA H100 80GB HBM3',
        'memory_mib': 81559, 'pci_address': '0000:18:00.0', 'driver_version': '580.95.05', 'persistence_mode': True,
    }


def test_parse_sorts_by_index_and_skips_blank_lines():
    lines = H100_X4_QUERY.splitlines()
    gpus = nvidia.parse_query_gpu('\n'.join([lines[2], '', lines[0], '   ', lines[3], lines[1]]) + '\n\n')
    assert [g['index'] for g in gpus] == [0, 1, 2, 3]


def test_parse_not_available_values():
    gpus = nvidia.parse_query_gpu('0, [N/A], NVIDIA GH200 480GB, [N/A], 00000009:01:00.0, 570.86.15, [Not Supported]\n')
    assert gpus[0]['uuid'] is None
    assert gpus[0]['memory_mib'] is None
    assert gpus[0]['persistence_mode'] is None
    assert gpus[0]['pci_address'] == '0009:01:00.0'


def test_parse_quoted_name_with_comma():
    gpus = nvidia.parse_query_gpu('0, GPU-x, "NVIDIA A100-SXM4-80GB, rev 2", 81920, 00000000:07:00.0, 580.95.05, Enabled\n')
    assert gpus[0]['name'] == 'NVIDIA A100-SXM4-80GB, rev 2'


def test_parse_empty_output_is_no_gpu():
    assert nvidia.parse_query_gpu('') == []
    assert nvidia.parse_query_gpu('\n\n') == []


def test_parse_driver_error_message_is_an_error():
    with pytest.raises(nvidia.NvidiaError, match="line 1 has 1 fields.*couldn't communicate"):
        nvidia.parse_query_gpu(NO_DRIVER)


def test_parse_bad_number_names_the_field():
    with pytest.raises(nvidia.NvidiaError, match='memory.total is .80 GiB., not a number'):
        nvidia.parse_query_gpu('0, GPU-x, NVIDIA H100, 80 GiB, 00000000:18:00.0, 580.95.05, Enabled\n')


def test_parse_bad_bus_id():
    with pytest.raises(nvidia.NvidiaError, match='line 1: not a PCI address'):
        nvidia.parse_query_gpu('0, GPU-x, NVIDIA H100, 81559, bus18, 580.95.05, Enabled\n')


def test_parse_duplicate_index():
    line = H100_X4_QUERY.splitlines()[0]
    with pytest.raises(nvidia.NvidiaError, match='index 0 more than once'):
        nvidia.parse_query_gpu(line + '\n' + line + '\n')


def test_versions():
    assert nvidia.parse_cuda_version(H100_X4_VERSION) == '13.0'
    assert nvidia.parse_driver_version(H100_X4_VERSION) == '580.95.05'
    assert nvidia.parse_cuda_version(L40S_BANNER) == '12.8'
    assert nvidia.parse_driver_version(L40S_BANNER) == '570.172.08'
    assert nvidia.parse_cuda_version('') is None
    assert nvidia.parse_driver_version(None) is None


def test_facts_h100_x4_join_numa_from_topology():
    facts = nvidia.build_facts(H100_X4_QUERY, H100_X4_VERSION, topology=gpu_topology())
    assert facts['driver_version'] == '580.95.05'
    assert facts['cuda_version'] == '13.0'
    assert facts['count'] == 4
    assert [g['numa_node'] for g in facts['gpus']] == [0, 0, 1, 1]
    assert [g['memory_mib'] for g in facts['gpus']] == [81559] * 4
    assert set(facts['gpus'][0]) == {'index', 'uuid', 'name', 'memory_mib', 'pci_address', 'numa_node', 'persistence_mode'}


def test_facts_numa_reader_for_gpus_the_topology_lacks():
    seen = []

    def reader(address):
        seen.append(address)
        return 3

    facts = nvidia.build_facts(L40S_QUERY, L40S_BANNER, topology=gpu_topology(), numa_reader=reader)
    assert seen == ['0000:4b:00.0']
    assert facts['gpus'][0]['numa_node'] == 3
    assert facts['gpus'][0]['persistence_mode'] is False
    assert facts['cuda_version'] == '12.8'


def test_facts_without_topology_or_reader():
    facts = nvidia.build_facts(L40S_QUERY, None)
    assert facts['gpus'][0]['numa_node'] is None
    assert facts['cuda_version'] is None
    assert facts['driver_version'] == '570.172.08'


def test_facts_mixed_driver_versions_is_an_error():
    text = H100_X4_QUERY.replace('580.95.05, Enabled\n3,', '580.82.07, Enabled\n3,')
    with pytest.raises(nvidia.NvidiaError, match='several driver versions .580.82.07, 580.95.05.*reboot'):
        nvidia.build_facts(text, H100_X4_VERSION)


def test_facts_negative_numa_in_topology_is_unknown():
    topo = {'gpus': [{'pci_address': '0000:4b:00.0', 'numa_node': -1}]}
    facts = nvidia.build_facts(L40S_QUERY, L40S_BANNER, topology=topo, numa_reader=lambda a: 7)
    assert facts['gpus'][0]['numa_node'] is None


def test_topology_gpu_addresses_skip_non_gpu_functions():
    # The fixture also has an NVIDIA audio function (18:00.1) and an NVSwitch bridge (05:00.0).
    assert nvidia.topology_gpu_addresses(gpu_topology()) == ['0000:18:00.0', '0000:2a:00.0', '0000:9a:00.0', '0000:ab:00.0']
    assert nvidia.topology_gpu_addresses({'gpus': [{'pci_address': '0000:03:00.0', 'vendor_id': '0x1a03', 'class': '0x030000'}]}) == []
    assert nvidia.topology_gpu_addresses(None) == []


def test_cdi_yaml():
    spec = nvidia.parse_cdi_spec(CDI_YAML)
    assert spec == {'kind': 'nvidia.com/gpu',
                    'devices': ['0', 'GPU-6f1c2a54-8d3e-4b7a-9c21-0e5d4f3a2b10', '1', '2', '3', 'all']}


def test_cdi_yaml_indented_sequences():
    spec = nvidia.parse_cdi_spec(CDI_YAML_INDENTED)
    assert spec == {'kind': 'nvidia.com/gpu', 'devices': ['gpu0', 'all']}


def test_cdi_json():
    text = json.dumps({'cdiVersion': '0.5.0', 'kind': 'nvidia.com/gpu',
                       'devices': [{'name': '0', 'containerEdits': {}}, {'name': 'all', 'containerEdits': {}}]})
    assert nvidia.parse_cdi_spec(text) == {'kind': 'nvidia.com/gpu', 'devices': ['0', 'all']}


def test_cdi_empty_devices():
    assert nvidia.parse_cdi_spec('cdiVersion: 0.5.0\nkind: nvidia.com/gpu\ndevices: []\n')['devices'] == []


@pytest.mark.parametrize('text, message', [
    ('', 'empty'),
    ('{"kind": ', 'not valid JSON'),
    ('devices:\n- name: "0"\n', 'no top-level kind'),
])
def test_cdi_bad_specs(text, message):
    with pytest.raises(nvidia.NvidiaError, match=message):
        nvidia.parse_cdi_spec(text)


def test_cdi_missing():
    gpus = nvidia.parse_query_gpu(H100_X4_QUERY)
    assert nvidia.cdi_missing(gpus, nvidia.parse_cdi_spec(CDI_YAML)) == []
    spec = {'devices': ['0', 'GPU-0b7e9d12-3c4f-4a8b-8e6d-5f2a1c9b7d34', 'gpu2']}
    assert nvidia.cdi_missing(gpus, spec) == ['3 (GPU-5d2e8b67-9f0a-4c1d-b3e7-2a6f4c8d0e78)', 'all']
    assert nvidia.cdi_missing([], {'devices': []}) == []


def plan_for(indices_by_instance):
    addresses = ['0000:18:00.0', '0000:2a:00.0', '0000:9a:00.0', '0000:ab:00.0']
    return {'instances': [{'name': 'vllm-gpu%s' % '-'.join(str(i) for i in indices),
                           'gpus': [{'index': i, 'pci_address': addresses[i], 'numa_node': i // 2} for i in indices]}
                          for indices in indices_by_instance]}


def test_compare_agrees_with_plan_and_bus():
    gpus = nvidia.parse_query_gpu(H100_X4_QUERY)
    assert nvidia.compare(gpus, topology=gpu_topology(), plan=plan_for([[0, 1], [2, 3]])) == []


def test_compare_gpu_missing_from_nvidia_smi():
    gpus = nvidia.parse_query_gpu('\n'.join(H100_X4_QUERY.splitlines()[:3]))
    problems = nvidia.compare(gpus, topology=gpu_topology(), plan=plan_for([[2, 3]]))
    assert problems == [
        'GPU 0000:ab:00.0 is on the PCI bus but nvidia-smi does not list it (driver not bound, or the GPU fell off '
        'the bus: check dmesg for Xid errors)',
        'plan instance vllm-gpu2-3 uses GPU 0000:ab:00.0 (index 3), which nvidia-smi does not list',
    ]


def test_compare_index_mismatch():
    gpus = nvidia.parse_query_gpu(H100_X4_QUERY)
    plan = plan_for([[0]])
    plan['instances'][0]['gpus'][0]['index'] = 2
    problems = nvidia.compare(gpus, plan=plan)
    assert len(problems) == 1
    assert 'expects GPU 0000:18:00.0 at index 2 but nvidia-smi numbers it 0' in problems[0]
    assert 'CUDA_DEVICE_ORDER=PCI_BUS_ID' in problems[0]


def test_compare_bad_plan_address():
    gpus = nvidia.parse_query_gpu(L40S_QUERY)
    problems = nvidia.compare(gpus, plan={'instances': [{'name': 'x', 'gpus': [{'index': 0, 'pci_address': 'nope'}]}]})
    assert problems == ["plan instance x: not a PCI address: 'nope' (expected DOMAIN:BUS:DEVICE.FUNCTION such as 0000:18:00.0)"]


def test_compare_with_real_plan_from_the_planner():
    from ansible_collections.inferops.vllm.plugins.module_utils.plan import build_plan  # pylint: disable=import-outside-toplevel
    plan = build_plan(gpu_topology(), {'accelerator': 'nvidia', 'model_name': 'tiny', 'gpus_per_instance': 2})
    gpus = nvidia.parse_query_gpu(H100_X4_QUERY)
    assert [g['pci_address'] for i in plan['instances'] for g in i['gpus']] == [g['pci_address'] for g in gpus]
    assert nvidia.compare(gpus, topology=gpu_topology(), plan=plan) == []
