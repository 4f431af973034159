# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The NVIDIA path against output recorded on real hardware: one NVIDIA H200 in a Firecracker KVM guest
(16 vCPUs, one NUMA node, driver 580.159.04, CUDA 13.0), recorded on 2026-12-04 by
tests/device/run_gpu_facts.sh. tests/fixtures/nvidia/h200/README.md says what each file is; the host's
sysfs/procfs files are tests/fixtures/sysfs/h200_vm_1gpu (make_sysfs.py --record)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib.util
import os
import re

import pytest

from ansible_collections.inferops.vllm.plugins.module_utils import nvidia, telemetry
from ansible_collections.inferops.vllm.plugins.module_utils.plan import build_plan
from ansible_collections.inferops.vllm.plugins.module_utils.topology import gather_topology

HERE = os.path.dirname(__file__)
RECORDED = os.path.normpath(os.path.join(HERE, '..', '..', '..', 'fixtures', 'nvidia', 'h200'))
SYSFS = os.path.normpath(os.path.join(HERE, '..', '..', '..', 'fixtures', 'sysfs'))
HOST = os.path.join(SYSFS, 'h200_vm_1gpu')

H200_ADDRESS = '0000:00:06.0'          # nvidia-smi: 00000000:00:06.0
H200_MIB = 143771
GIB = 1024 ** 3


def recorded(name):
    with open(os.path.join(RECORDED, name)) as handle:
        return handle.read()


def host_topology():
    return gather_topology(HOST)


# --------------------------------------------------------------------------- nvidia-smi

def test_query_gpu_as_the_driver_prints_it():
    gpus = nvidia.parse_query_gpu(recorded('query-gpu.txt'))
    assert gpus == [{'index': 0, 'uuid': 'GPU-27e5baab-7f54-712a-dc92-59335c586370', 'name': 'NVIDIA H200',
                     'memory_mib': H200_MIB, 'pci_address': H200_ADDRESS, 'driver_version': '580.159.04',
                     'persistence_mode': True}]
    # the 8-digit domain of nvidia-smi is what the sysfs form shortens
    assert '00000000:00:06.0' in recorded('query-gpu.txt')


def test_versions_from_version_flag_and_banner_agree():
    version, banner = recorded('version.txt'), recorded('banner.txt')
    assert nvidia.parse_driver_version(version) == nvidia.parse_driver_version(banner) == '580.159.04'
    assert nvidia.parse_cuda_version(version) == nvidia.parse_cuda_version(banner) == '13.0'
    assert 'CUDA' in version      # so nvidia_gpu_info needs no banner fallback on this driver


def test_the_query_columns_are_what_was_run_on_the_device():
    # the device run took its arguments from query_args(); the recording is one row of exactly those columns
    assert nvidia.query_args() == ['--query-gpu=index,uuid,name,memory.total,pci.bus_id,driver_version,persistence_mode',
                                   '--format=csv,noheader,nounits']
    assert len(recorded('query-gpu.txt').strip().split(', ')) == len(nvidia.QUERY_FIELDS)


def test_nvidia_smi_q_agrees_with_the_query():
    q = recorded('nvidia-smi-q.txt')
    assert 'Product Name                                       : NVIDIA H200' in q
    assert 'Bus Id                                         : 00000000:00:06.0' in q
    assert re.search(r'FB Memory Usage\n\s+Total\s+: (\d+) MiB', q).group(1) == str(H200_MIB)


# --------------------------------------------------------------------------- power (the bug the device run found)

def test_the_energy_field_is_refused_by_a_real_driver_and_no_longer_asked_for():
    # recorded: `nvidia-smi --query-gpu=index,power.draw,total_energy_consumption --format=csv,noheader,nounits`
    # on driver 580.159.04 exits 2 with this text on stdout, so every power sample failed.
    refused = recorded('power-query-total_energy_consumption.txt')
    assert refused.strip() == 'Field "total_energy_consumption" is not a valid field to query.'
    assert nvidia.power_query_args() == ['--query-gpu=index,power.draw', '--format=csv,noheader,nounits']
    assert 'total_energy_consumption' not in ' '.join(nvidia.power_query_args())
    with pytest.raises(nvidia.NvidiaError, match='has 1 fields, expected 2'):
        nvidia.parse_power_query(refused)


def test_power_rows_have_no_energy_counter():
    # not recorded (the device run asked the old columns): the row format of the two asked columns, with the
    # idle draw that `nvidia-smi -q` and the banner recorded (81.05 W average, 81 W in the banner)
    assert 'Average Power Draw                             : 81.05 W' in recorded('nvidia-smi-q.txt')
    assert '81W /  700W' in recorded('banner.txt')
    assert nvidia.parse_power_query('0, 81.05\n') == [{'index': 0, 'power_w': 81.05}]
    assert nvidia.parse_power_query('0, [N/A]\n') == [{'index': 0, 'power_w': None}]


def test_gpu_energy_is_the_draw_integrated_when_rows_come_from_nvidia_smi():
    rows = [nvidia.parse_power_query('0, 81.05\n'), nvidia.parse_power_query('0, 621.50\n')]
    snaps = [telemetry.snapshot(100.0 + 2 * i, {'zones': []}, {'available': False}, rows[i], {}) for i in range(2)]
    totals = telemetry.new_totals(snaps[0], 100)
    assert totals['gpu_method'] == {'0': 'power.draw'}
    totals = telemetry.accumulate(totals, snaps[0], snaps[1])
    assert totals['gpu_j'] == {'0': pytest.approx((81.05 + 621.50) / 2 * 2.0)}
    assert totals['gaps'] == []


# --------------------------------------------------------------------------- the host's sysfs

def test_recorded_host_topology():
    t = host_topology()
    assert t['cpus']['online'] == list(range(16)) and t['cpus']['allowed'] == list(range(16))
    assert t['smt_active'] is False and t['threads_per_core'] == 1
    assert t['vendor'] == 'intel' and t['cpu']['isa'] == 'amx'
    assert [(s['id'], s['numa_nodes'], s['physical_cores']) for s in t['sockets']] == [(0, [0], 16)]
    assert [(n['id'], n['cpus'], n['distances']) for n in t['numa_nodes']] == [(0, list(range(16)), [10])]
    assert [(d['cpus'], d['size_bytes']) for d in t['l3_domains']] == [(list(range(16)), 300 * 1024 ** 2)]
    assert t['snc'] == {'enabled': False, 'nodes_per_socket': 1}
    assert t['cgroup']['version'] == 2 and t['cgroup']['memory_limit_bytes'] == 128 * GIB
    assert t['memory']['total_bytes'] > 120 * GIB


def test_recorded_host_gpu_on_the_pci_bus():
    t = host_topology()
    # the H200 (device 0x2335, 3D controller) is the only NVIDIA function; the rest are virtio devices
    assert t['gpus'] == [{'pci_address': H200_ADDRESS, 'vendor_id': '0x10de', 'device_id': '0x2335',
                          'class': '0x030200', 'numa_node': None}]
    with open(os.path.join(HOST, 'sys/bus/pci/devices/0000_00_06.0/numa_node')) as handle:
        assert handle.read().strip() == '-1'      # the guest's firmware gives the GPU no node
    # on a one-node host a GPU without a node is listed on that node
    assert t['numa_nodes'][0]['gpus'] == [H200_ADDRESS]
    assert nvidia.topology_gpu_addresses(t) == [H200_ADDRESS]


def test_facts_join_nvidia_smi_to_sysfs():
    t = host_topology()
    facts = nvidia.build_facts(recorded('query-gpu.txt'), recorded('version.txt'), topology=t)
    assert facts['driver_version'] == '580.159.04' and facts['cuda_version'] == '13.0'
    assert facts['count'] == 1
    gpu = facts['gpus'][0]
    assert (gpu['name'], gpu['memory_mib'], gpu['pci_address'], gpu['persistence_mode']) == \
        ('NVIDIA H200', H200_MIB, H200_ADDRESS, True)
    # numa_node -1 in sysfs is unknown, not node 0 (nvidia-smi topo -m says "NUMA Affinity 0" by its own reckoning)
    assert gpu['numa_node'] is None
    assert 'NUMA Affinity' in recorded('topo-m.txt')
    assert nvidia.compare(facts['gpus'], topology=t) == []


def test_facts_numa_from_the_sysfs_reader_alone():
    def reader(address):      # the module's reader over the fixture's directory names (':' -> '_')
        with open(os.path.join(HOST, 'sys/bus/pci/devices', address.replace(':', '_'), 'numa_node')) as handle:
            node = int(handle.read().strip())
        return node if node >= 0 else None
    facts = nvidia.build_facts(recorded('query-gpu.txt'), recorded('version.txt'), numa_reader=reader)
    assert [g['numa_node'] for g in facts['gpus']] == [None]


def test_plan_for_the_recorded_host():
    t = host_topology()
    plan = build_plan(t, {'accelerator': 'nvidia', 'model_name': 'tiny-llama',
                          'gpu_memory_gib': round(H200_MIB / 1024.0, 1)})
    assert [i['name'] for i in plan['instances']] == ['vllm-gpu0']
    inst = plan['instances'][0]
    # sysfs gives the GPU no node (numa_node -1), but the host has one node: the GPU is on node 0, and the
    # instance is bound to node 0's CPUs and memory (the recording's plan, before the fix, left memory unbound)
    assert inst['gpus'] == [{'index': 0, 'pci_address': H200_ADDRESS, 'numa_node': 0}]
    assert inst['ranks'] == [{'rank': 0, 'gpu': 0, 'pci_address': H200_ADDRESS, 'numa_node': 0}]
    assert inst['tensor_parallel_size'] == 1
    assert inst['env']['CUDA_VISIBLE_DEVICES'] == '0' and inst['env']['CUDA_DEVICE_ORDER'] == 'PCI_BUS_ID'
    assert inst['cpuset'] == '0-15' and inst['mems'] == '0' and inst['numa_nodes'] == [0]
    assert plan['host']['numa_nodes'] == [0]
    assert ('sysfs reports no NUMA node for GPU 0 (numa_node -1, usual in a VM); the host has one node, so it is node 0.'
            in plan['explain'])
    assert 'vllm-gpu0: GPU 0 on NUMA node 0, cpuset 0-15.' in plan['explain']
    assert not any('no NUMA node with allowed CPUs' in line or 'memory unbound' in line for line in plan['explain'])
    facts = nvidia.build_facts(recorded('query-gpu.txt'), recorded('version.txt'), topology=t)
    assert nvidia.compare(facts['gpus'], topology=t, plan=plan) == []


# --------------------------------------------------------------------------- telemetry sensors of the host

def test_telemetry_sensors_of_the_recorded_host():
    rapl = telemetry.read_powercap(HOST)
    assert rapl['available'] is False and rapl['zones'] == []
    assert rapl['reason'] == 'no /sys/class/powercap (kernel without powercap, or a VM that hides it)'
    assert 'No such file or directory' in recorded('host.txt')     # ls -la /sys/class/powercap/ there
    numa = telemetry.read_numastat(HOST)
    assert numa['available'] is True and list(numa['nodes']) == ['node0']
    assert numa['nodes']['node0']['numa_miss'] == 0 and numa['nodes']['node0']['numa_hit'] > 0


# --------------------------------------------------------------------------- the recorder

def test_record_leaves_out_what_it_cannot_read(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location('make_sysfs', os.path.join(SYSFS, '..', 'make_sysfs.py'))
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    source = tmp_path / 'host'
    (source / 'sys/devices/system/cpu').mkdir(parents=True)
    (source / 'sys/devices/system/cpu/present').write_text('0-1\n')
    (source / 'sys/devices/system/cpu/online').mkdir()     # globs, but open() fails (EISDIR)
    root = gen.record(str(tmp_path / 'out'), 'x', str(source))
    assert os.path.isfile(os.path.join(root, 'sys/devices/system/cpu/present'))
    assert not os.path.exists(os.path.join(root, 'sys/devices/system/cpu/online'))
    assert 'make_sysfs: left out sys/devices/system/cpu/online' in capsys.readouterr().err
