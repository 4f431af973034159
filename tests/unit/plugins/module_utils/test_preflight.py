# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The server role's read-only host checks (module_utils/preflight.py), against fixture /proc and sys trees."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.inferops.vllm.plugins.module_utils import preflight

TCP_HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n'


def tcp_line(port, state, inode):
    return '   0: 0100007F:%04X 00000000:0000 %s 00000000:00000000 00:00000000 00000000   999        0 %d 1 0\n' % (
        port, state, inode)


def fake_proc(tmp_path, sockets, processes):
    """sockets: [(port, state, inode)]; processes: {pid: (comm, cgroup, [inodes])}."""
    proc = tmp_path / 'proc'
    (proc / 'net').mkdir(parents=True)
    (proc / 'net' / 'tcp').write_text(TCP_HEADER + ''.join(tcp_line(*s) for s in sockets))
    (proc / 'net' / 'tcp6').write_text(TCP_HEADER)
    for pid, (comm, cgroup, inodes) in processes.items():
        fd_dir = proc / str(pid) / 'fd'
        fd_dir.mkdir(parents=True)
        (proc / str(pid) / 'comm').write_text(comm + '\n')
        (proc / str(pid) / 'cgroup').write_text(cgroup + '\n')
        for number, inode in enumerate(inodes, start=3):
            os.symlink('socket:[%d]' % inode, str(fd_dir / str(number)))
    return str(proc)


def test_listening_inodes_only_listen_state(tmp_path):
    proc = fake_proc(tmp_path, [(8101, '0A', 111), (8102, '01', 222)], {})
    assert preflight.listening_inodes(proc) == {8101: {'111'}}


def test_port_held_by_own_unit_is_fine(tmp_path):
    proc = fake_proc(tmp_path, [(8101, '0A', 111)],
                     {42: ('vllm', '0::/system.slice/inferops-vllm-vllm-a.service', [111])})
    ports = [{'port': 8101, 'what': 'instance vllm-a', 'owners': ['/inferops-vllm-']}]
    assert preflight.check_ports(ports, proc) == []


def test_port_held_by_foreign_process_is_refused(tmp_path):
    proc = fake_proc(tmp_path, [(8101, '0A', 111)],
                     {42: ('nginx', '0::/system.slice/nginx.service', [111])})
    ports = [{'port': 8101, 'what': 'instance vllm-a', 'owners': ['/inferops-vllm-']}]
    problems = preflight.check_ports(ports, proc)
    assert len(problems) == 1
    assert 'port 8101 (instance vllm-a)' in problems[0]
    assert 'pid 42 (nginx)' in problems[0]


def test_free_port_is_fine(tmp_path):
    proc = fake_proc(tmp_path, [(9000, '0A', 111)], {})
    assert preflight.check_ports([{'port': 8101, 'what': 'x', 'owners': []}], proc) == []


def fake_host(tmp_path, mem_kib=8 * 1024 * 1024, nodes='0', cgroup_max=None, sockets=(), processes=None):
    """A root with proc/ (sockets, meminfo, self/cgroup) and sys/ (node online, a cgroup v2 tree)."""
    fake_proc(tmp_path, list(sockets), processes or {})
    root = tmp_path
    (root / 'proc' / 'meminfo').write_text('MemTotal: %d kB\nMemFree: %d kB\n' % (mem_kib, mem_kib // 2))
    (root / 'proc' / 'self').mkdir()
    (root / 'proc' / 'self' / 'cgroup').write_text('0::/ansible.scope\n')
    (root / 'sys' / 'devices' / 'system' / 'node').mkdir(parents=True)
    (root / 'sys' / 'devices' / 'system' / 'node' / 'online').write_text(nodes + '\n')
    cg = root / 'sys' / 'fs' / 'cgroup'
    (cg / 'ansible.scope').mkdir(parents=True)
    (cg / 'cgroup.controllers').write_text('cpuset cpu memory\n')
    (cg / 'ansible.scope' / 'memory.max').write_text('%s\n' % (cgroup_max or 'max'))
    return str(root)


def test_cpus_outside_affinity_nodes_offline_and_memory_that_does_not_fit(tmp_path):
    root = fake_host(tmp_path, mem_kib=8 * 1024 * 1024, nodes='0')
    instances = [
        {'name': 'a', 'port': 8101, 'cpuset': '0', 'mems': '0', 'memory_gib': 4},
        {'name': 'b', 'port': 8102, 'cpuset': '1-3', 'mems': '1', 'memory_gib': 5},
    ]
    out = preflight.preflight(instances, owners=['/inferops-vllm-'], root=root, allowed={0, 1})
    problems = out['problems']
    assert any('instance b: cpuset 1-3 uses CPUs 2-3' in p for p in problems)
    assert any('instance b: mems 1 names NUMA nodes that are not online (online: 0)' in p for p in problems)
    assert any('need about 9.0 GiB' in p and 'has 8.0 GiB: the plan does not fit' in p for p in problems)
    assert not any('instance a' in p for p in problems)
    assert out['facts'] == {'allowed_cpus': '0-1', 'numa_nodes': '0', 'memory_gib': 8.0, 'memory_planned_gib': 9.0}


def test_a_cgroup_limit_below_the_host_memory_is_the_bound(tmp_path):
    root = fake_host(tmp_path, mem_kib=64 * 1024 * 1024, cgroup_max=6 * 1024 ** 3)
    out = preflight.preflight([{'name': 'a', 'port': 8101, 'cpuset': '0', 'mems': '0', 'memory_gib': 7}],
                              root=root, allowed={0})
    assert out['facts']['memory_gib'] == 6.0
    assert any('has 6.0 GiB (cgroup limit)' in p for p in out['problems'])


def test_a_plan_that_fits_a_free_host_has_no_problem(tmp_path):
    root = fake_host(tmp_path, sockets=[(9000, '0A', 111)])
    instances = [{'name': 'a', 'port': 8101, 'cpuset': '0', 'mems': '0', 'memory_gib': 4},
                 {'name': 'b', 'port': 8102, 'cpuset': '1', 'mems': '0', 'memory_gib': 3}]
    assert preflight.preflight(instances, root=root, allowed={0, 1})['problems'] == []


def test_the_front_port_held_by_another_service_is_refused(tmp_path):
    root = fake_host(tmp_path, sockets=[(8000, '0A', 111)],
                     processes={7: ('nginx', '0::/system.slice/nginx.service', [111])})
    out = preflight.preflight([], front={'port': 8000, 'owners': ['/haproxy.service']}, root=root, allowed={0})
    assert out['problems'] == ["port 8000 (front port) is already in use by pid 7 (nginx), which is not one of "
                               "this role's services; free it or choose another port"]


def test_a_malformed_cpuset_is_named(tmp_path):
    root = fake_host(tmp_path)
    out = preflight.preflight([{'name': 'a', 'port': 8101, 'cpuset': '3-1', 'mems': '0'}], root=root, allowed={0})
    assert out['problems'][0] == "instance a: cpuset: invalid cpu list '3-1': range '3-1' is reversed"


def test_shm_smaller_than_needed(tmp_path):
    root = fake_host(tmp_path)
    (tmp_path / 'dev' / 'shm').mkdir(parents=True)
    out = preflight.preflight([], min_shm_mib=1 << 40, root=root, allowed={0})
    assert out['facts']['shm_mib'] < 1 << 40
    assert any(p.startswith('/dev/shm is ') for p in out['problems'])
