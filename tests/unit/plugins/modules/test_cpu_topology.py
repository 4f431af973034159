# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.inferops.vllm.plugins.modules import cpu_topology
from ansible_collections.inferops.vllm.tests.unit.plugins.modules import utils as module_utils

FIXTURES = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures', 'sysfs'))


def run_module(args, monkeypatch, capsys):
    """Run cpu_topology.main() with ``args``; return (exit code, parsed JSON result)."""
    return module_utils.run_module(cpu_topology.main, args, monkeypatch, capsys)[:2]


def test_good_fixture(monkeypatch, capsys):
    code, result = run_module({'root': os.path.join(FIXTURES, 'spr_2s_112c')}, monkeypatch, capsys)
    assert code == 0
    assert result['changed'] is False
    assert 'failed' not in result
    topo = result['topology']
    assert [n['id'] for n in topo['numa_nodes']] == [0, 1]
    assert topo['numa_nodes'][0]['physical_cores'] == list(range(0, 56))
    assert topo['cpu']['isa'] == 'amx'
    assert topo['snc'] == {'enabled': False, 'nodes_per_socket': 1}
    assert topo['cgroup']['version'] == 2


def test_check_mode(monkeypatch, capsys):
    args = {'root': os.path.join(FIXTURES, 'gpu_4x_2node'), '_ansible_check_mode': True}
    code, result = run_module(args, monkeypatch, capsys)
    assert code == 0
    assert result['changed'] is False
    assert [g['pci_address'] for g in result['topology']['gpus']] == ['0000:18:00.0', '0000:2a:00.0', '0000:9a:00.0', '0000:ab:00.0']


def test_broken_fixture_fails_naming_the_path(monkeypatch, capsys):
    root = os.path.join(FIXTURES, 'broken_meminfo')
    code, result = run_module({'root': root}, monkeypatch, capsys)
    assert code == 1
    assert result['failed'] is True
    path = os.path.join(root, 'proc/meminfo')
    assert result['path'] == path
    assert path in result['msg']
    assert 'non-integer value' in result['msg']
    assert 'Traceback' not in result['msg']
    assert 'exception' not in result


def test_missing_cpuinfo_fails(monkeypatch, capsys):
    root = os.path.join(FIXTURES, 'broken_nocpuinfo')
    code, result = run_module({'root': root}, monkeypatch, capsys)
    assert code == 1
    assert result['failed'] is True
    assert os.path.join(root, 'proc/cpuinfo') + ': file is missing' in result['msg']


def test_unknown_option_fails(monkeypatch, capsys):
    code, result = run_module({'root': FIXTURES, 'bogus': 1}, monkeypatch, capsys)
    assert code == 1
    assert 'bogus' in result['msg']


def test_epyc_fixture(monkeypatch, capsys):
    code, result = run_module({'root': os.path.join(FIXTURES, 'genoa_2s_nps4')}, monkeypatch, capsys)
    assert code == 0
    assert result['changed'] is False
    topo = result['topology']
    assert topo['vendor'] == 'amd'
    assert topo['cpu']['vendor'] == 'AuthenticAMD'
    assert topo['cpu']['isa'] == 'avx512'
    assert topo['cpu']['flags']['avx512_bf16'] is True and topo['cpu']['flags']['amx_bf16'] is False
    assert topo['nps'] == {'mode': 'NPS4', 'nodes_per_socket': 4}
    assert len(topo['numa_nodes']) == 8 and len(topo['l3_domains']) == 24
    assert topo['l3_domains'][0]['size_bytes'] == 32 * 1024 * 1024


def test_intel_fixture_has_no_nps(monkeypatch, capsys):
    code, result = run_module({'root': os.path.join(FIXTURES, 'xeon6_snc3')}, monkeypatch, capsys)
    assert code == 0
    assert (result['topology']['vendor'], result['topology']['nps']) == ('intel', None)
    assert result['topology']['snc'] == {'enabled': True, 'nodes_per_socket': 3}
