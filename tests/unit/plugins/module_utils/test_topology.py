# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import shutil

import pytest

from ansible_collections.inferops.vllm.plugins.module_utils.topology import (
    TopologyError,
    format_cpulist,
    gather_topology,
    parse_cpulist,
)

FIXTURES = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures', 'sysfs'))
GOOD = ['vm_2core', 'spr_2s_112c', 'xeon6_snc3', 'cxl_memnode', 'offline_isolated', 'gpu_4x_2node', 'avx2_1s', 'container_limited']
KIB = 1024
GIB = 1024 ** 3


def fixture(name):
    return os.path.join(FIXTURES, name)


def topo(name):
    return gather_topology(fixture(name))


def r(start, stop):
    return list(range(start, stop))


def copy_fixture(tmp_path, name):
    target = str(tmp_path / name)
    shutil.copytree(fixture(name), target)
    return target


def write(root, relpath, text):
    path = os.path.join(root, relpath)
    if not os.path.isdir(os.path.dirname(path)):
        os.makedirs(os.path.dirname(path))
    with open(path, 'w') as handle:
        handle.write(text)


# --------------------------------------------------------------------------- cpulists

@pytest.mark.parametrize('text, expected', [
    ('0-3,8,10-11', [0, 1, 2, 3, 8, 10, 11]),
    ('0-3,8,10-11\n', [0, 1, 2, 3, 8, 10, 11]),
    ('', []),
    ('\n', []),
    ('5', [5]),
    ('0,0,1', [0, 1]),
    ('8,0-2', [0, 1, 2, 8]),
    ('4-7,20-23', [4, 5, 6, 7, 20, 21, 22, 23]),
    (' 1 , 3-4 ', [1, 3, 4]),
    ('7-7', [7]),
])
def test_parse_cpulist(text, expected):
    assert parse_cpulist(text) == expected


@pytest.mark.parametrize('text', ['a', '1-', '-1', '3-1', '1,,2', '1;2', '0-3,x', '1.5', '0x3', '1-2-3', '0-70000', ','])
def test_parse_cpulist_rejects(text):
    with pytest.raises(ValueError) as exc:
        parse_cpulist(text)
    assert 'invalid cpu list' in str(exc.value)


def test_parse_cpulist_rejects_non_string():
    with pytest.raises(ValueError):
        parse_cpulist([0, 1])


@pytest.mark.parametrize('cpus, expected', [
    ([0, 1, 2, 3, 8], '0-3,8'),
    ([], ''),
    ([5], '5'),
    ([0, 1], '0-1'),
    ([8, 3, 2, 1, 0, 3], '0-3,8'),
    ([0, 2, 4], '0,2,4'),
    (range(0, 224), '0-223'),
])
def test_format_cpulist(cpus, expected):
    assert format_cpulist(cpus) == expected


@pytest.mark.parametrize('cpus', [[-1], ['1'], [1.5], [True]])
def test_format_cpulist_rejects(cpus):
    with pytest.raises(ValueError):
        format_cpulist(cpus)


@pytest.mark.parametrize('text', ['0-3,8,10-11', '0', '0-223', '0-3,112-115', '1,3,5-9,100'])
def test_cpulist_round_trip(text):
    assert format_cpulist(parse_cpulist(text)) == text


@pytest.mark.parametrize('cpus', [[], [0], [0, 1, 2, 5, 7, 8, 9, 64], r(0, 56) + r(112, 168)])
def test_cpulist_round_trip_lists(cpus):
    assert parse_cpulist(format_cpulist(cpus)) == cpus


# --------------------------------------------------------------------------- all fixtures

@pytest.mark.parametrize('name', GOOD)
def test_structure_and_sorting(name):
    t = topo(name)
    json.dumps(t)  # plain data only
    for key in ('online', 'offline', 'isolated', 'present', 'allowed'):
        assert t['cpus'][key] == sorted(set(t['cpus'][key]))
    assert set(t['cpus']['allowed']) <= set(t['cpus']['online'])
    assert [s['id'] for s in t['sockets']] == sorted(s['id'] for s in t['sockets'])
    assert [n['id'] for n in t['numa_nodes']] == sorted(n['id'] for n in t['numa_nodes'])
    node_cpus = []
    for node in t['numa_nodes']:
        assert node['cpus'] == sorted(node['cpus'])
        assert [c[0] for c in node['cores']] == node['physical_cores'] == sorted(node['physical_cores'])
        assert sorted(cpu for core in node['cores'] for cpu in core) == node['cpus']
        for core in node['cores']:
            assert core == sorted(core)
        assert len(node['distances']) == len(t['numa_nodes'])
        node_cpus.extend(node['cpus'])
    assert sorted(node_cpus) == t['cpus']['online']
    assert sorted(cpu for s in t['sockets'] for cpu in s['cpus']) == t['cpus']['online']
    assert t['smt_active'] == (t['threads_per_core'] > 1)
    assert t['cpu']['isa'] in ('amx', 'avx512', 'avx2', 'baseline')
    assert t['gpus'] == sorted(t['gpus'], key=lambda g: g['pci_address'])


def test_deterministic():
    assert topo('xeon6_snc3') == topo('xeon6_snc3')


# --------------------------------------------------------------------------- per machine

def test_vm_2core_recorded_host():
    t = topo('vm_2core')
    assert t['cpus'] == {'online': [0, 1], 'offline': [], 'isolated': [], 'present': [0, 1], 'allowed': [0, 1]}
    assert t['smt_active'] is False
    assert t['threads_per_core'] == 1
    assert t['cpu']['vendor'] == 'AuthenticAMD'
    assert t['cpu']['isa'] == 'avx512'
    assert t['cpu']['flags'] == {'avx2': True, 'avx512f': True, 'avx512_bf16': True, 'avx512_vnni': True,
                                 'amx_tile': False, 'amx_bf16': False, 'amx_int8': False, 'avx_vnni': False}
    assert [(s['id'], s['numa_nodes'], s['cpus'], s['physical_cores']) for s in t['sockets']] == [(0, [0], [0, 1], 2)]
    node = t['numa_nodes'][0]
    assert (node['id'], node['socket'], node['cpus'], node['cores'], node['physical_cores']) == (0, 0, [0, 1], [[0], [1]], [0, 1])
    assert node['cpu_less'] is False
    assert node['distances'] == [10]
    assert sorted(node['hugepages']) == ['1048576kB', '2048kB']
    assert node['memory_total_bytes'] > 0
    assert t['memory']['total_bytes'] > 0
    assert t['memory_only_nodes'] == []
    assert t['snc'] == {'enabled': False, 'nodes_per_socket': 1}
    assert t['gpus'] == []  # only virtio devices and a host bridge
    cg = t['cgroup']
    assert cg['version'] == 1  # hybrid: v1 controllers plus an unused unified mount
    assert cg['path'].startswith('/process_api/')
    assert cg['memory_limit_bytes'] is None  # 9223372036854771712 = unlimited
    assert cg['cpu_quota_cores'] is None  # cfs_quota_us = -1
    assert cg['cpuset_cpus'] == [0, 1]
    assert cg['cpuset_mems'] == [0]


def test_spr_2s_112c():
    t = topo('spr_2s_112c')
    n0, n1 = t['numa_nodes'][0], t['numa_nodes'][1]
    assert t['cpus']['online'] == r(0, 224)
    assert t['cpus']['present'] == r(0, 224)
    assert t['cpus']['offline'] == [] and t['cpus']['isolated'] == []
    assert t['cpus']['allowed'] == r(0, 224)
    assert t['smt_active'] is True and t['threads_per_core'] == 2
    assert t['cpu'] == {
        'vendor': 'GenuineIntel', 'model_name': 'Intel(R) Xeon(R) Platinum 8480+', 'isa': 'amx',
        'flags': {'avx2': True, 'avx512f': True, 'avx512_bf16': True, 'avx512_vnni': True,
                  'amx_tile': True, 'amx_bf16': True, 'amx_int8': True, 'avx_vnni': True},
    }
    assert [(s['id'], s['numa_nodes'], s['cpus'], s['physical_cores'], s['dies']) for s in t['sockets']] == [
        (0, [0], r(0, 56) + r(112, 168), 56, 1),
        (1, [1], r(56, 112) + r(168, 224), 56, 1),
    ]
    assert len(t['numa_nodes']) == 2
    assert (n0['id'], n0['socket'], n0['cpus']) == (0, 0, r(0, 56) + r(112, 168))
    assert (n1['id'], n1['socket'], n1['cpus']) == (1, 1, r(56, 112) + r(168, 224))
    assert n0['physical_cores'] == r(0, 56)
    assert n1['physical_cores'] == r(56, 112)
    assert n0['cores'][:2] == [[0, 112], [1, 113]]
    assert n1['cores'][-1] == [111, 223]
    assert n0['memory_total_bytes'] == 263566828 * KIB
    assert n0['memory_free_bytes'] == 251834112 * KIB
    assert n1['memory_total_bytes'] == 264206324 * KIB
    assert 250 * GIB < n0['memory_total_bytes'] < 256 * GIB
    assert n0['hugepages'] == {'2048kB': {'total': 1024, 'free': 512}, '1048576kB': {'total': 0, 'free': 0}}
    assert n1['hugepages']['2048kB'] == {'total': 1024, 'free': 1024}
    assert n0['distances'] == [10, 21] and n1['distances'] == [21, 10]
    assert not n0['cpu_less'] and not n1['cpu_less']
    assert t['memory']['total_bytes'] == (263566828 + 264206324) * KIB
    assert t['memory']['available_bytes'] >= t['memory']['free_bytes']
    assert t['memory_only_nodes'] == []
    assert t['snc'] == {'enabled': False, 'nodes_per_socket': 1}
    assert t['gpus'] == []
    assert t['cgroup'] == {'version': 2, 'path': '/', 'cpuset_cpus': r(0, 224), 'cpuset_mems': [0, 1],
                           'memory_limit_bytes': None, 'cpu_quota_cores': None}


def test_xeon6_snc3():
    t = topo('xeon6_snc3')
    assert t['cpus']['online'] == r(0, 512)
    assert t['cpu']['model_name'] == 'Intel(R) Xeon(R) 6980P'
    assert t['cpu']['isa'] == 'amx'
    assert t['snc'] == {'enabled': True, 'nodes_per_socket': 3}
    assert [(s['id'], s['numa_nodes'], s['physical_cores'], len(s['cpus'])) for s in t['sockets']] == [
        (0, [0, 1, 2], 128, 256), (1, [3, 4, 5], 128, 256)]
    bounds = [(0, 43), (43, 86), (86, 128), (128, 171), (171, 214), (214, 256)]
    for node, (start, stop) in zip(t['numa_nodes'], bounds):
        assert node['physical_cores'] == r(start, stop)
        assert node['cpus'] == r(start, stop) + r(start + 256, stop + 256)
        assert node['cores'][0] == [start, start + 256]
        assert node['socket'] == (0 if start < 128 else 1)
        assert 250 * GIB < node['memory_total_bytes'] <= 256 * GIB
    assert [len(n['physical_cores']) for n in t['numa_nodes']] == [43, 43, 42, 43, 43, 42]
    assert t['numa_nodes'][0]['distances'] == [10, 12, 12, 21, 21, 21]
    assert t['numa_nodes'][4]['distances'] == [21, 21, 21, 12, 10, 12]
    assert t['memory_only_nodes'] == []
    cg = t['cgroup']
    assert (cg['version'], cg['path'], cg['memory_limit_bytes'], cg['cpu_quota_cores']) == (2, '/system.slice/vllm.service', None, None)
    assert cg['cpuset_mems'] == r(0, 6)


def test_cxl_memnode():
    t = topo('cxl_memnode')
    assert t['cpus']['online'] == r(0, 64)
    assert t['memory_only_nodes'] == [1]
    assert len(t['numa_nodes']) == 2
    n0, n1 = t['numa_nodes'][0], t['numa_nodes'][1]
    assert (n0['socket'], n0['cpus'], n0['physical_cores'], n0['cpu_less']) == (0, r(0, 64), r(0, 32), False)
    assert (n1['socket'], n1['cpus'], n1['cores'], n1['physical_cores'], n1['cpu_less']) == (None, [], [], [], True)
    assert n0['memory_total_bytes'] == 131230412 * KIB
    assert n1['memory_total_bytes'] == 256 * GIB
    assert n1['distances'] == [14, 10]
    assert [(s['id'], s['numa_nodes'], s['physical_cores']) for s in t['sockets']] == [(0, [0], 32)]
    assert t['snc'] == {'enabled': False, 'nodes_per_socket': 1}
    assert t['cpu']['isa'] == 'amx'
    # no cgroup file system and no /proc/self/cgroup
    assert t['cgroup'] == {'version': None, 'path': '', 'cpuset_cpus': r(0, 64), 'cpuset_mems': [0, 1],
                           'memory_limit_bytes': None, 'cpu_quota_cores': None}


def test_offline_isolated():
    t = topo('offline_isolated')
    assert t['cpus']['online'] == r(0, 30)
    assert t['cpus']['offline'] == [30, 31]
    assert t['cpus']['present'] == r(0, 32)
    assert t['cpus']['isolated'] == [4, 5, 6, 7, 20, 21, 22, 23]
    assert t['cpus']['allowed'] == r(0, 30)  # Cpus_allowed_list 0-31 intersected with online
    assert t['smt_active'] is True and t['threads_per_core'] == 2
    node = t['numa_nodes'][0]
    assert node['cpus'] == r(0, 30)
    assert node['physical_cores'] == r(0, 16)
    assert node['cores'][13:] == [[13, 29], [14], [15]]  # siblings 30 and 31 are offline
    assert node['hugepages'] == {'2048kB': {'total': 0, 'free': 0}, '1048576kB': {'total': 4, 'free': 4}}
    assert t['sockets'] == [{'id': 0, 'numa_nodes': [0], 'cpus': r(0, 30), 'physical_cores': 16, 'dies': 1}]
    assert t['cpu']['isa'] == 'avx512'
    assert t['cpu']['flags']['avx512_bf16'] is False and t['cpu']['flags']['avx512_vnni'] is True
    assert t['cgroup']['version'] == 2
    assert t['cgroup']['cpu_quota_cores'] is None


def test_gpu_4x_2node():
    t = topo('gpu_4x_2node')
    h100 = {'vendor_id': '0x10de', 'device_id': '0x2330', 'class': '0x030200'}
    expected = [dict(h100, pci_address=a, numa_node=n)
                for a, n in (('0000:18:00.0', 0), ('0000:2a:00.0', 0), ('0000:9a:00.0', 1), ('0000:ab:00.0', 1))]
    assert t['gpus'] == expected
    assert t['numa_nodes'][0]['gpus'] == ['0000:18:00.0', '0000:2a:00.0']
    assert t['numa_nodes'][1]['gpus'] == ['0000:9a:00.0', '0000:ab:00.0']
    assert [(s['id'], s['numa_nodes'], s['physical_cores']) for s in t['sockets']] == [(0, [0], 32), (1, [1], 32)]
    assert t['numa_nodes'][0]['cpus'] == r(0, 32) + r(64, 96)
    assert t['numa_nodes'][1]['physical_cores'] == r(32, 64)
    # parent slice limits memory tighter than the service itself
    assert t['cgroup']['memory_limit_bytes'] == 256 * GIB
    assert t['cgroup']['cpu_quota_cores'] is None


def test_avx2_1s_cgroup_v1():
    t = topo('avx2_1s')
    assert t['cpu']['isa'] == 'avx2'
    assert t['cpu']['model_name'] == 'Intel(R) Xeon(R) CPU E5-2667 v4 @ 3.20GHz'
    assert not any(v for k, v in t['cpu']['flags'].items() if k != 'avx2')
    assert t['numa_nodes'][0]['physical_cores'] == r(0, 8)
    assert t['numa_nodes'][0]['cores'][0] == [0, 8]
    assert t['sockets'][0]['physical_cores'] == 8
    assert t['cgroup'] == {'version': 1, 'path': '/system.slice/vllm.service', 'cpuset_cpus': r(0, 16), 'cpuset_mems': [0],
                           'memory_limit_bytes': 16 * GIB, 'cpu_quota_cores': 2.0}


def test_container_limited():
    t = topo('container_limited')
    assert t['cpus']['online'] == r(0, 224)
    assert t['cpus']['allowed'] == [0, 1, 2, 3, 112, 113, 114, 115]
    # the cgroup path does not exist in the container's cgroup mount: limits come from its root
    assert t['cgroup'] == {'version': 2, 'path': '/machine.slice/libpod-abc.scope',
                           'cpuset_cpus': [0, 1, 2, 3, 112, 113, 114, 115], 'cpuset_mems': [0],
                           'memory_limit_bytes': 8589934592, 'cpu_quota_cores': 4.0}
    # the host topology is unchanged
    assert len(t['numa_nodes']) == 2 and len(t['sockets']) == 2


# --------------------------------------------------------------------------- variants built in tmp dirs

def test_no_node_directory_gives_one_synthetic_node(tmp_path):
    root = copy_fixture(tmp_path, 'avx2_1s')
    shutil.rmtree(os.path.join(root, 'sys/devices/system/node'))
    write(root, 'sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages', '16\n')
    write(root, 'sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages', '8\n')
    t = gather_topology(root)
    assert len(t['numa_nodes']) == 1
    node = t['numa_nodes'][0]
    assert (node['id'], node['socket'], node['cpus'], node['physical_cores']) == (0, 0, r(0, 16), r(0, 8))
    assert node['memory_total_bytes'] == t['memory']['total_bytes']
    assert node['memory_free_bytes'] == t['memory']['free_bytes']
    assert node['hugepages'] == {'2048kB': {'total': 16, 'free': 8}}
    assert node['distances'] == [10]
    assert t['sockets'][0]['numa_nodes'] == [0]


def test_gpu_without_numa_node(tmp_path):
    root = copy_fixture(tmp_path, 'gpu_4x_2node')
    write(root, 'sys/bus/pci/devices/0000_9a_00.0/numa_node', '-1\n')
    os.remove(os.path.join(root, 'sys/bus/pci/devices/0000_ab_00.0/numa_node'))
    t = gather_topology(root)
    assert [g['numa_node'] for g in t['gpus']] == [0, 0, None, None]
    assert t['numa_nodes'][1]['gpus'] == []


def test_pci_address_from_directory_name_without_uevent(tmp_path):
    root = copy_fixture(tmp_path, 'gpu_4x_2node')
    os.remove(os.path.join(root, 'sys/bus/pci/devices/0000_18_00.0/uevent'))
    addresses = [g['pci_address'] for g in gather_topology(root)['gpus']]
    assert sorted(addresses) == ['0000:2a:00.0', '0000:9a:00.0', '0000:ab:00.0', '0000_18_00.0']


def test_no_pci_tree_no_isolated_no_offline(tmp_path):
    root = copy_fixture(tmp_path, 'gpu_4x_2node')
    shutil.rmtree(os.path.join(root, 'sys/bus'))
    os.remove(os.path.join(root, 'sys/devices/system/cpu/isolated'))
    os.remove(os.path.join(root, 'sys/devices/system/cpu/offline'))
    shutil.rmtree(os.path.join(root, 'sys/devices/system/node/node0/hugepages'))
    t = gather_topology(root)
    assert t['gpus'] == [] and t['numa_nodes'][0]['gpus'] == []
    assert t['cpus']['isolated'] == [] and t['cpus']['offline'] == []
    assert t['numa_nodes'][0]['hugepages'] == {}


def test_cgroup_v2_existing_path_and_ancestor_limits(tmp_path):
    root = copy_fixture(tmp_path, 'container_limited')
    cg = 'sys/fs/cgroup/'
    write(root, cg + 'machine.slice/memory.max', '4294967296\n')
    write(root, cg + 'machine.slice/libpod-abc.scope/memory.max', 'max\n')
    write(root, cg + 'machine.slice/libpod-abc.scope/cpu.max', '150000 100000\n')
    write(root, cg + 'machine.slice/libpod-abc.scope/cpuset.cpus.effective', '2-3\n')
    t = gather_topology(root)
    assert t['cgroup']['memory_limit_bytes'] == 4294967296
    assert t['cgroup']['cpu_quota_cores'] == 1.5
    assert t['cgroup']['cpuset_cpus'] == [2, 3]
    assert t['cgroup']['cpuset_mems'] == [0]  # no cpuset.mems.effective there: Mems_allowed_list


def test_cgroup_v1_missing_path_falls_back_to_root(tmp_path):
    root = copy_fixture(tmp_path, 'avx2_1s')
    write(root, 'proc/self/cgroup', '11:memory:/docker/0123abcd\n4:cpu,cpuacct:/docker/0123abcd\n10:cpuset:/docker/0123abcd\n')
    write(root, 'sys/fs/cgroup/memory/memory.limit_in_bytes', '2147483648\n')
    write(root, 'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us', '50000\n')
    t = gather_topology(root)
    assert t['cgroup']['version'] == 1
    assert t['cgroup']['path'] == '/docker/0123abcd'
    assert t['cgroup']['memory_limit_bytes'] == 2147483648
    assert t['cgroup']['cpu_quota_cores'] == 0.5


def test_meminfo_without_memavailable(tmp_path):
    root = copy_fixture(tmp_path, 'avx2_1s')
    write(root, 'proc/meminfo', 'MemTotal:       65775980 kB\nMemFree:        60817408 kB\nHugePages_Total:     512\n')
    t = gather_topology(root)
    assert t['memory'] == {'total_bytes': 65775980 * KIB, 'free_bytes': 60817408 * KIB, 'available_bytes': 60817408 * KIB}


def test_node_online_missing_lists_node_dirs(tmp_path):
    root = copy_fixture(tmp_path, 'cxl_memnode')
    for name in ('online', 'has_memory'):
        os.remove(os.path.join(root, 'sys/devices/system/node', name))
    t = gather_topology(root)
    assert [n['id'] for n in t['numa_nodes']] == [0, 1]
    assert t['memory_only_nodes'] == [1]


# --------------------------------------------------------------------------- failures

def test_broken_cpulist_names_path():
    with pytest.raises(TopologyError) as exc:
        topo('broken_cpulist')
    path = os.path.join(fixture('broken_cpulist'), 'sys/devices/system/cpu/online')
    assert exc.value.path == path
    assert str(exc.value).startswith(path + ': malformed cpu list')
    assert "'9-'" in str(exc.value)


def test_missing_cpuinfo_names_path():
    with pytest.raises(TopologyError) as exc:
        topo('broken_nocpuinfo')
    assert exc.value.path == os.path.join(fixture('broken_nocpuinfo'), 'proc/cpuinfo')
    assert exc.value.reason == 'file is missing'


def test_non_integer_meminfo_names_path():
    with pytest.raises(TopologyError) as exc:
        topo('broken_meminfo')
    assert exc.value.path == os.path.join(fixture('broken_meminfo'), 'proc/meminfo')
    assert "non-integer value 'lots' for MemFree" in str(exc.value)


def test_missing_root():
    with pytest.raises(TopologyError) as exc:
        gather_topology('/nonexistent/root')
    assert exc.value.path == '/nonexistent/root/sys/devices/system/cpu/online'


@pytest.mark.parametrize('relpath, text, reason', [
    ('sys/devices/system/cpu/cpu3/topology/core_id', 'three\n', "expected an integer, found 'three'"),
    ('sys/devices/system/cpu/cpu3/topology/thread_siblings_list', '3-\n', 'malformed cpu list'),
    ('sys/devices/system/node/node0/meminfo', 'Node 0 MemTotal: many kB\n', 'non-integer value'),
    ('sys/devices/system/node/node0/meminfo', 'Node 0 MemFree: 1 kB\n', 'MemTotal is missing'),
    ('sys/devices/system/node/node0/distance', '10 x\n', 'expected integers'),
    ('sys/devices/system/node/node0/hugepages/hugepages-2048kB/free_hugepages', '\n', 'expected an integer'),
    ('sys/devices/system/cpu/online', '\n', 'no online CPUs'),
    ('proc/self/status', 'Name:\tpython3\n', 'Cpus_allowed_list is missing'),
    ('proc/self/status', 'Cpus_allowed_list:\t0-x\nMems_allowed_list:\t0\n', 'malformed Cpus_allowed_list'),
    ('proc/self/cgroup', 'garbage\n', 'malformed line'),
    ('proc/cpuinfo', 'vendor_id\t: GenuineIntel\n', 'no "processor" entry'),
    ('proc/cpuinfo', 'processor\t: 0\nnonsense line\n', 'malformed line'),
    ('proc/meminfo', 'MemFree: 1 kB\n', 'MemTotal is missing'),
    ('proc/meminfo', 'MemTotal: 1 MB\nMemFree: 1 kB\n', 'malformed value'),
    ('sys/fs/cgroup/cpu,cpuacct/system.slice/vllm.service/cpu.cfs_quota_us', '1.5\n', 'expected an integer'),
    ('sys/fs/cgroup/cpu,cpuacct/system.slice/vllm.service/cpu.cfs_period_us', '0\n', 'period must be positive'),
    ('sys/fs/cgroup/memory/system.slice/vllm.service/memory.limit_in_bytes', 'lots\n', 'expected an integer'),
])
def test_malformed_files_name_their_path(tmp_path, relpath, text, reason):
    root = copy_fixture(tmp_path, 'avx2_1s')
    write(root, relpath, text)
    with pytest.raises(TopologyError) as exc:
        gather_topology(root)
    assert exc.value.path == os.path.join(root, relpath)
    assert reason in str(exc.value)


@pytest.mark.parametrize('relpath', [
    'sys/devices/system/cpu/present',
    'sys/devices/system/cpu/cpu5/topology/physical_package_id',
    'sys/devices/system/node/node0/cpulist',
    'proc/meminfo',
    'proc/self/status',
])
def test_missing_required_files_name_their_path(tmp_path, relpath):
    root = copy_fixture(tmp_path, 'avx2_1s')
    os.remove(os.path.join(root, relpath))
    with pytest.raises(TopologyError) as exc:
        gather_topology(root)
    assert exc.value.path == os.path.join(root, relpath)
    assert exc.value.reason == 'file is missing'


@pytest.mark.parametrize('relpath, text, reason', [
    ('sys/fs/cgroup/cpu.max', '400000\n', 'expected "QUOTA PERIOD"'),
    ('sys/fs/cgroup/memory.max', '8g\n', 'expected an integer'),
    ('sys/fs/cgroup/cpuset.cpus.effective', '0-3,,\n', 'malformed cpu list'),
])
def test_malformed_cgroup_v2_files(tmp_path, relpath, text, reason):
    root = copy_fixture(tmp_path, 'container_limited')
    write(root, relpath, text)
    with pytest.raises(TopologyError) as exc:
        gather_topology(root)
    assert exc.value.path == os.path.join(root, relpath)
    assert reason in str(exc.value)


def test_malformed_pci_vendor(tmp_path):
    root = copy_fixture(tmp_path, 'gpu_4x_2node')
    write(root, 'sys/bus/pci/devices/0000_18_00.0/vendor', 'nvidia\n')
    with pytest.raises(TopologyError) as exc:
        gather_topology(root)
    assert exc.value.path.endswith('sys/bus/pci/devices/0000_18_00.0/vendor')


# --------------------------------------------------------------------------- AMD EPYC

EPYC = ['genoa_2s_nps4', 'turin_1s_nps2']
MIB = 1024 ** 2


def make_sysfs():
    """The fixture generator, to build variants of its machines in tmp dirs."""
    import importlib.util
    spec = importlib.util.spec_from_file_location('make_sysfs', os.path.join(FIXTURES, '..', 'make_sysfs.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('name', EPYC)
def test_epyc_structure_and_l3_domains(name):
    test_structure_and_sorting(name)
    t = topo(name)
    assert t['vendor'] == 'amd'
    assert t['cpu']['vendor'] == 'AuthenticAMD'
    # every online CPU sits in exactly one L3 domain, and each domain in one NUMA node and one socket
    cpus = [cpu for domain in t['l3_domains'] for cpu in domain['cpus']]
    assert sorted(cpus) == t['cpus']['online']
    assert [d['id'] for d in t['l3_domains']] == list(range(len(t['l3_domains'])))
    for domain in t['l3_domains']:
        assert len(domain['numa_nodes']) == 1 and domain['socket'] is not None
        node = t['numa_nodes'][domain['numa_nodes'][0]]
        assert set(domain['cpus']) <= set(node['cpus'])
        assert domain['physical_cores'] == [cpu for cpu in domain['cpus'] if cpu in node['physical_cores']]


def test_genoa_2s_nps4():
    t = topo('genoa_2s_nps4')
    assert t['cpus']['online'] == r(0, 384) and t['cpus']['allowed'] == r(0, 384)
    assert t['smt_active'] is True and t['threads_per_core'] == 2
    assert t['vendor'] == 'amd'
    # Zen 4: AVX-512 with avx512_bf16 and avx512_vnni, no AMX
    assert t['cpu'] == {
        'vendor': 'AuthenticAMD', 'model_name': 'AMD EPYC 9654 96-Core Processor', 'isa': 'avx512',
        'flags': {'avx2': True, 'avx512f': True, 'avx512_bf16': True, 'avx512_vnni': True,
                  'amx_tile': False, 'amx_bf16': False, 'amx_int8': False, 'avx_vnni': False},
    }
    assert [(s['id'], s['numa_nodes'], s['physical_cores'], len(s['cpus']), s['dies']) for s in t['sockets']] == [
        (0, [0, 1, 2, 3], 96, 192, 1), (1, [4, 5, 6, 7], 96, 192, 1)]
    assert len(t['numa_nodes']) == 8
    for index, node in enumerate(t['numa_nodes']):
        first = index * 24
        assert node['physical_cores'] == r(first, first + 24)
        assert node['cpus'] == r(first, first + 24) + r(first + 192, first + 216)
        assert node['cores'][0] == [first, first + 192]
        assert node['socket'] == index // 4
        assert 188 * GIB < node['memory_total_bytes'] <= 192 * GIB
    assert t['numa_nodes'][0]['distances'] == [10, 12, 12, 12, 32, 32, 32, 32]
    assert t['numa_nodes'][5]['distances'] == [32, 32, 32, 32, 12, 10, 12, 12]
    # NPS4 is inferred from the nodes per socket, like SNC on Xeon (snc keeps its generic meaning)
    assert t['snc'] == {'enabled': True, 'nodes_per_socket': 4}
    assert t['nps'] == {'mode': 'NPS4', 'nodes_per_socket': 4}
    # 12 CCDs of 8 cores per socket, one 32 MiB L3 each; 3 per NPS4 node
    assert len(t['l3_domains']) == 24
    assert t['l3_domains'][0] == {'id': 0, 'cpus': r(0, 8) + r(192, 200), 'physical_cores': r(0, 8),
                                  'size_bytes': 32 * MIB, 'socket': 0, 'numa_nodes': [0]}
    assert t['l3_domains'][3]['cpus'] == r(24, 32) + r(216, 224) and t['l3_domains'][3]['numa_nodes'] == [1]
    assert (t['l3_domains'][12]['socket'], t['l3_domains'][12]['numa_nodes'], t['l3_domains'][12]['physical_cores']) == (
        1, [4], r(96, 104))
    assert [len([d for d in t['l3_domains'] if d['numa_nodes'] == [n]]) for n in range(8)] == [3] * 8
    assert set(d['size_bytes'] for d in t['l3_domains']) == {32 * MIB}
    assert t['memory_only_nodes'] == [] and t['gpus'] == []
    cg = t['cgroup']
    assert (cg['version'], cg['path'], cg['cpuset_mems']) == (2, '/system.slice/vllm.service', r(0, 8))


def test_turin_1s_nps2():
    t = topo('turin_1s_nps2')
    assert t['cpus']['online'] == r(0, 256)
    assert t['vendor'] == 'amd'
    assert t['cpu']['model_name'] == 'AMD EPYC 9755 128-Core Processor'
    # Zen 5 adds AVX-VNNI; still no AMX
    assert t['cpu']['isa'] == 'avx512'
    assert t['cpu']['flags'] == {'avx2': True, 'avx512f': True, 'avx512_bf16': True, 'avx512_vnni': True,
                                 'amx_tile': False, 'amx_bf16': False, 'amx_int8': False, 'avx_vnni': True}
    assert t['sockets'] == [{'id': 0, 'numa_nodes': [0, 1], 'cpus': r(0, 256), 'physical_cores': 128, 'dies': 1}]
    n0, n1 = t['numa_nodes']
    assert (n0['socket'], n0['physical_cores'], n0['cpus']) == (0, r(0, 64), r(0, 64) + r(128, 192))
    assert (n1['socket'], n1['physical_cores'], n1['cpus']) == (0, r(64, 128), r(64, 128) + r(192, 256))
    assert n0['distances'] == [10, 12] and n1['distances'] == [12, 10]
    assert n0['memory_total_bytes'] == 398458880 * KIB
    assert t['snc'] == {'enabled': True, 'nodes_per_socket': 2}
    assert t['nps'] == {'mode': 'NPS2', 'nodes_per_socket': 2}
    # 16 CCDs of 8 cores, 8 per NPS2 node
    assert len(t['l3_domains']) == 16
    assert [d['numa_nodes'] for d in t['l3_domains']] == [[0]] * 8 + [[1]] * 8
    assert t['l3_domains'][15] == {'id': 15, 'cpus': r(120, 128) + r(248, 256), 'physical_cores': r(120, 128),
                                   'size_bytes': 32 * MIB, 'socket': 0, 'numa_nodes': [1]}
    assert t['cgroup']['cpuset_cpus'] == r(0, 256)


@pytest.mark.parametrize('name, vendor, nps', [
    ('vm_2core', 'amd', {'mode': 'NPS1', 'nodes_per_socket': 1}),
    ('spr_2s_112c', 'intel', None),
    ('xeon6_snc3', 'intel', None),
    ('avx2_1s', 'intel', None),
])
def test_vendor_and_nps_of_the_other_fixtures(name, vendor, nps):
    t = topo(name)
    assert t['vendor'] == vendor
    assert t['nps'] == nps
    # these trees carry no cache directories
    assert t['l3_domains'] == []


def test_vendor_other(tmp_path):
    root = copy_fixture(tmp_path, 'avx2_1s')
    path = os.path.join(root, 'proc/cpuinfo')
    with open(path) as handle:
        text = handle.read()
    write(root, 'proc/cpuinfo', text.replace('GenuineIntel', 'CentaurHauls'))
    t = gather_topology(root)
    assert (t['vendor'], t['cpu']['vendor'], t['nps']) == ('other', 'CentaurHauls', None)


def test_nps0_one_node_over_both_sockets(tmp_path):
    gen = make_sysfs()
    spec = dict(gen._machines()['genoa_2s_nps4'])
    spec.update({'nodes': [gen._node(range(0, 192), 1610612736, 1600000000)], 'distances': [[10]], 'cgroup': None})
    t = gather_topology(gen.build_machine(str(tmp_path), 'genoa_nps0', spec))
    assert t['numa_nodes'][0]['socket'] is None
    assert t['nps'] == {'mode': 'NPS0', 'nodes_per_socket': 1}
    assert len(t['l3_domains']) == 24 and set(d['numa_nodes'][0] for d in t['l3_domains']) == {0}


def test_l3_as_numa_domain(tmp_path):
    gen = make_sysfs()
    spec = dict(gen._machines()['turin_1s_nps2'])
    nodes = [gen._node(range(first, first + 8), 50331648, 50000000) for first in range(0, 128, 8)]
    spec.update({'nodes': nodes, 'distances': gen._distances([0] * 16, same=11), 'cgroup': None})
    t = gather_topology(gen.build_machine(str(tmp_path), 'turin_l3numa', spec))
    assert len(t['numa_nodes']) == 16
    assert t['nps'] == {'mode': 'L3', 'nodes_per_socket': 16}
    assert [d['numa_nodes'] for d in t['l3_domains']] == [[n] for n in range(16)]


def add_l3(root, cpus=16, size='20480K\n'):
    """Give avx2_1s cache directories: L1d and L2 per core, one L3 (index3) shared by the socket."""
    for cpu in range(cpus):
        cache = 'sys/devices/system/cpu/cpu%d/cache/' % cpu
        write(root, cache + 'index0/level', '1\n')
        write(root, cache + 'index2/level', '2\n')
        write(root, cache + 'index2/shared_cpu_list', '%d,%d\n' % (cpu % 8, cpu % 8 + 8))
        write(root, cache + 'index3/level', '3\n')
        write(root, cache + 'index3/shared_cpu_list', '0-15\n')
        if size is not None:
            write(root, cache + 'index3/size', size)


def test_l3_found_by_level(tmp_path):
    root = copy_fixture(tmp_path, 'avx2_1s')
    add_l3(root)
    t = gather_topology(root)
    assert t['l3_domains'] == [{'id': 0, 'cpus': r(0, 16), 'physical_cores': r(0, 8), 'size_bytes': 20 * MIB,
                                'socket': 0, 'numa_nodes': [0]}]


def test_l3_size_optional(tmp_path):
    root = copy_fixture(tmp_path, 'avx2_1s')
    add_l3(root, size=None)
    assert [d['size_bytes'] for d in gather_topology(root)['l3_domains']] == [None]


@pytest.mark.parametrize('relpath, text, reason', [
    ('sys/devices/system/cpu/cpu0/cache/index3/size', 'lots\n', 'expected a size such as 32768K'),
    ('sys/devices/system/cpu/cpu0/cache/index3/shared_cpu_list', '0-7,\n', 'malformed cpu list'),
    ('sys/devices/system/cpu/cpu0/cache/index3/level', 'three\n', 'expected an integer'),
])
def test_malformed_l3_files_name_their_path(tmp_path, relpath, text, reason):
    root = copy_fixture(tmp_path, 'avx2_1s')
    add_l3(root)
    write(root, relpath, text)
    with pytest.raises(TopologyError) as exc:
        gather_topology(root)
    assert exc.value.path == os.path.join(root, relpath)
    assert reason in str(exc.value)


def test_missing_l3_shared_cpu_list_names_its_path(tmp_path):
    root = copy_fixture(tmp_path, 'avx2_1s')
    add_l3(root)
    relpath = 'sys/devices/system/cpu/cpu0/cache/index3/shared_cpu_list'
    os.remove(os.path.join(root, relpath))
    with pytest.raises(TopologyError) as exc:
        gather_topology(root)
    assert (exc.value.path, exc.value.reason) == (os.path.join(root, relpath), 'file is missing')
