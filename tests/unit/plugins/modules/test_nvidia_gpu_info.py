# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import stat


from ansible_collections.inferops.vllm.plugins.module_utils.topology import gather_topology
from ansible_collections.inferops.vllm.plugins.modules import nvidia_gpu_info
from ansible_collections.inferops.vllm.tests.unit.plugins.modules import utils as module_utils

FIXTURES = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures', 'sysfs'))

QUERY = """\
0, GPU-6f1c2a54-8d3e-4b7a-9c21-0e5d4f3a2b10, NVIDIA H100 80GB HBM3, 81559, 00000000:18:00.0, 580.95.05, Enabled
1, GPU-0b7e9d12-3c4f-4a8b-8e6d-5f2a1c9b7d34, NVIDIA H100 80GB HBM3, 81559, 00000000:2A:00.0, 580.95.05, Enabled
2, GPU-c93a7f45-1e2d-4f6b-a0c8-7d4e3b2a1f56, NVIDIA H100 80GB HBM3, 81559, 00000000:9A:00.0, 580.95.05, Enabled
3, GPU-5d2e8b67-9f0a-4c1d-b3e7-2a6f4c8d0e78, NVIDIA H100 80GB HBM3, 81559, 00000000:AB:00.0, 580.95.05, Enabled
"""
VERSION = """\
NVIDIA-SMI version  : 580.95.05
NVML version        : 580.95
DRIVER version      : 580.95.05
CUDA Version        : 13.0
"""
CDI = """\
cdiVersion: 0.5.0
kind: nvidia.com/gpu
devices:
- name: "0"
- name: "1"
- name: "2"
- name: "3"
- name: all
"""


def run_module(args, monkeypatch, capsys):
    """Run nvidia_gpu_info.main() with ``args``; return (exit code, parsed JSON result)."""
    return module_utils.run_module(nvidia_gpu_info.main, args, monkeypatch, capsys)[:2]


def fake_smi(tmp_path, query=QUERY, version=VERSION, rc=0):
    """An nvidia-smi stand-in: prints ``query`` for --query-gpu, ``version`` for --version."""
    (tmp_path / 'query.txt').write_text(query)
    (tmp_path / 'version.txt').write_text(version)
    script = tmp_path / 'nvidia-smi'
    script.write_text(
        '#!/bin/sh\n'
        'case "$1" in\n'
        '  --query-gpu=*) cat "%s"; exit %d ;;\n'
        '  --version) cat "%s" ;;\n'
        '  *) echo "banner without versions" ;;\n'
        'esac\n' % (tmp_path / 'query.txt', rc, tmp_path / 'version.txt'))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def test_facts_cdi_and_plan(tmp_path, monkeypatch, capsys):
    cdi = tmp_path / 'nvidia.yaml'
    cdi.write_text(CDI)
    topo = gather_topology(os.path.join(FIXTURES, 'gpu_4x_2node'))
    plan = {'instances': [{'name': 'a', 'gpus': [{'index': 0, 'pci_address': '0000:18:00.0'}, {'index': 1, 'pci_address': '0000:2a:00.0'}]}]}
    args = {'nvidia_smi': fake_smi(tmp_path), 'topology': topo, 'plan': plan,
            'cdi_spec_paths': [str(tmp_path / 'absent.yaml'), str(cdi)], '_ansible_check_mode': True}
    code, result = run_module(args, monkeypatch, capsys)
    assert code == 0, result
    assert result['changed'] is False
    facts = result['nvidia_gpu']
    assert facts['driver_version'] == '580.95.05'
    assert facts['cuda_version'] == '13.0'
    assert facts['count'] == 4
    assert [g['numa_node'] for g in facts['gpus']] == [0, 0, 1, 1]
    assert [g['pci_address'] for g in facts['gpus']] == ['0000:18:00.0', '0000:2a:00.0', '0000:9a:00.0', '0000:ab:00.0']
    assert result['cdi']['path'] == str(cdi)
    assert result['cdi']['missing'] == []
    assert result['cdi']['error'] is None
    assert result['problems'] == []


def test_numa_from_sysfs_without_topology(tmp_path, monkeypatch, capsys):
    root = tmp_path / 'root'
    for address, node in (('0000:18:00.0', '1'), ('0000:2a:00.0', '-1')):
        dev = root / 'sys/bus/pci/devices' / address
        dev.mkdir(parents=True)
        (dev / 'numa_node').write_text(node + '\n')
    args = {'nvidia_smi': fake_smi(tmp_path), 'root': str(root), 'cdi_spec_paths': [str(tmp_path / 'none.yaml')]}
    code, result = run_module(args, monkeypatch, capsys)
    assert code == 0, result
    assert [g['numa_node'] for g in result['nvidia_gpu']['gpus']] == [1, None, None, None]
    assert result['cdi']['path'] is None
    assert result['cdi']['missing'][-1] == 'all'
    assert len(result['cdi']['missing']) == 5
    assert 'no CDI specification' in result['cdi']['error']


def test_cuda_version_from_banner_when_version_flag_fails(tmp_path, monkeypatch, capsys):
    smi = fake_smi(tmp_path, version='')
    with open(smi, 'w') as handle:
        handle.write('#!/bin/sh\ncase "$1" in\n  --query-gpu=*) cat "%s" ;;\n  --version) echo "unknown option" >&2; exit 2 ;;\n'
                     '  *) echo "| NVIDIA-SMI 580.95.05   Driver Version: 580.95.05   CUDA Version: 13.0 |" ;;\nesac\n'
                     % (tmp_path / 'query.txt'))
    code, result = run_module({'nvidia_smi': smi, 'cdi_spec_paths': []}, monkeypatch, capsys)
    assert code == 0, result
    assert result['nvidia_gpu']['cuda_version'] == '13.0'


def test_missing_gpu_and_bad_plan_are_problems_not_failures(tmp_path, monkeypatch, capsys):
    topo = gather_topology(os.path.join(FIXTURES, 'gpu_4x_2node'))
    plan = {'instances': [{'name': 'b', 'gpus': [{'index': 3, 'pci_address': '0000:ab:00.0'}]}]}
    smi = fake_smi(tmp_path, query=''.join(QUERY.splitlines(True)[:3]))
    code, result = run_module({'nvidia_smi': smi, 'topology': topo, 'plan': plan, 'cdi_spec_paths': []}, monkeypatch, capsys)
    assert code == 0, result
    assert len(result['problems']) == 2
    assert all('0000:ab:00.0' in line for line in result['problems'])


def test_nvidia_smi_not_found(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv('PATH', str(tmp_path))
    code, result = run_module({'nvidia_smi': 'nvidia-smi-does-not-exist'}, monkeypatch, capsys)
    assert code == 1
    assert result['nvidia_smi_found'] is False
    assert result['msg'].startswith('nvidia-smi not found (nvidia_smi=nvidia-smi-does-not-exist')
    assert 'install the driver' in result['msg']


def test_nvidia_smi_cannot_talk_to_the_driver(tmp_path, monkeypatch, capsys):
    smi = fake_smi(tmp_path, query="NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n", rc=9)
    code, result = run_module({'nvidia_smi': smi}, monkeypatch, capsys)
    assert code == 1
    assert result['nvidia_smi_found'] is True
    assert 'exited 9' in result['msg']
    assert "couldn't communicate with the NVIDIA driver" in result['msg']


def test_unreadable_output_fails_cleanly(tmp_path, monkeypatch, capsys):
    smi = fake_smi(tmp_path, query='0, GPU-x, NVIDIA H100\n')
    code, result = run_module({'nvidia_smi': smi}, monkeypatch, capsys)
    assert code == 1
    assert result['msg'].startswith('cannot read the output of %s: nvidia-smi line 1 has 3 fields' % smi)
    assert 'exception' not in result


def test_bad_timeout(tmp_path, monkeypatch, capsys):
    code, result = run_module({'nvidia_smi': fake_smi(tmp_path), 'timeout_s': 0}, monkeypatch, capsys)
    assert code == 1
    assert 'timeout_s=0' in result['msg']
