# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for roles/server/files/server_preflight.py (the server role's read-only host checks)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib.util
import json
import os

import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'roles', 'server', 'files', 'server_preflight.py')
SPEC = importlib.util.spec_from_file_location('server_preflight', SCRIPT)
preflight = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(preflight)

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


@pytest.mark.parametrize('text, expected', [
    ('', set()),
    ('0', {0}),
    ('0-3,8', {0, 1, 2, 3, 8}),
    (' 1 , 4-5 ', {1, 4, 5}),
])
def test_parse_cpulist(text, expected):
    assert preflight.parse_cpulist(text) == expected


@pytest.mark.parametrize('text', ['a', '3-1', '1,,2', '-1'])
def test_parse_cpulist_rejects(text):
    with pytest.raises(ValueError):
        preflight.parse_cpulist(text)


def test_format_cpulist():
    assert preflight.format_cpulist({0, 1, 2, 3, 8, 10, 11}) == '0-3,8,10-11'
    assert preflight.format_cpulist(set()) == ''


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


def test_main_reports_cpus_outside_affinity_and_memory(monkeypatch, capsys):
    monkeypatch.setattr(preflight, 'check_ports', lambda ports: [])
    monkeypatch.setattr(preflight.os, 'sched_getaffinity', lambda pid: {0, 1}, raising=False)
    spec = {
        'instances': [
            {'name': 'a', 'port': 8101, 'cpuset': '0', 'mems': '0', 'memory_gib': 4},
            {'name': 'b', 'port': 8102, 'cpuset': '1-3', 'mems': '0', 'memory_gib': 1.0e6},
        ],
        'owners': ['/inferops-vllm-'],
        'front': None,
        'min_shm_mib': 0,
    }
    assert preflight.main(['preflight', json.dumps(spec)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert any('instance b: cpuset 1-3 uses CPUs 2-3' in p for p in out['problems'])
    assert any('does not fit' in p for p in out['problems'])
    assert not any('instance a' in p for p in out['problems'])
    assert out['facts']['allowed_cpus'] == '0-1'
