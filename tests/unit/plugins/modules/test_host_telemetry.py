# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""host_telemetry's main(): on this machine's own /proc and /sys (a real process, real counters), on a
fixture tree, in check mode, and with bad input."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess
import sys
import time

import pytest

from ansible_collections.inferops.vllm.plugins.modules import host_telemetry
from ansible_collections.inferops.vllm.tests.unit.plugins.modules import utils as module_utils

FIXTURES = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures', 'powercap'))

BUSY = 'import time\nend = time.time() + 30\nwhile time.time() < end:\n    sum(range(100000))\n    time.sleep(0.001)\n'


def run(args, monkeypatch, capsys):
    return module_utils.run_module(host_telemetry.main, args, monkeypatch, capsys)[:2]


def test_samples_a_real_busy_process_on_this_machine(monkeypatch, capsys, tmp_path):
    busy = subprocess.Popen([sys.executable, '-c', BUSY])
    stop = tmp_path / 'stop'
    try:
        time.sleep(0.2)
        code, result = run({'instances': [{'name': 'busy', 'pid': busy.pid}], 'duration_s': 1.2, 'interval_s': 0.2,
                            'stop_file': str(stop), 'nvidia_smi': 'never'}, monkeypatch, capsys)
    finally:
        busy.kill()
        busy.wait()
    assert code == 0 and result['sampled'] and result['ended'] == 'duration'
    assert result['changed'] is False
    assert len(result['samples']) >= 5
    last = result['samples'][-1]['instances']['busy']
    assert last['cpu_s'] > 0.05                # it computes about half of the 1.2 s
    assert last['voluntary'] > 10              # and sleeps 1 ms per loop
    assert result['instances'][0]['found'] and result['instances'][0]['cpus_allowed']
    assert result['sensors']['gpu'] == {'available': False, 'gpus': [], 'reason': 'nvidia_smi: never'}
    if not result['sensors']['rapl']['available']:
        assert result['sensors']['rapl']['reason']
        assert all(s['energy_j'] == {} for s in result['samples'])


def test_stop_file_ends_sampling_and_is_removed(monkeypatch, capsys, tmp_path):
    stop = tmp_path / 'stop'
    stop.write_text('')
    started = time.time()
    code, result = run({'duration_s': 30, 'interval_s': 0.1, 'stop_file': str(stop), 'nvidia_smi': 'never'},
                       monkeypatch, capsys)
    assert code == 0 and result['ended'] == 'stop_file' and time.time() - started < 5
    assert not stop.exists()


def test_fixture_tree_in_check_mode_reads_sensors_only(monkeypatch, capsys, tmp_path):
    with open(os.path.join(FIXTURES, 'amd_epyc.json')) as handle:
        tree = json.load(handle)['trees'][0]
    for rel, text in tree.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    code, result = run({'root': str(tmp_path), 'duration_s': 5, 'nvidia_smi': 'never', '_ansible_check_mode': True,
                        'instances': [{'name': 'gone', 'pid': 999999}]}, monkeypatch, capsys)
    assert code == 0 and result['sampled'] is False and result['samples'] == []
    assert 'check mode' in result['reason']
    assert result['sensors']['rapl']['available'] and 'no dram zone' in result['sensors']['rapl']['dram']
    assert result['sensors']['numa'] == {'available': True, 'nodes': 1, 'reason': None}
    assert result['instances'] == [{'name': 'gone', 'pid': 999999, 'found': False, 'reason': 'no process 999999',
                                    'processes': 0, 'cpus_allowed': None}]


def test_bad_input_names_the_option(monkeypatch, capsys):
    code, result = run({'instances': [{'name': 'x'}]}, monkeypatch, capsys)
    assert code == 1 and result['msg'].startswith('instances[0] needs name and one of unit or pid')
    code, result = run({'instances': [{'name': 'x', 'pid': 'abc'}]}, monkeypatch, capsys)
    assert code == 1 and 'instances[0].pid must be an integer' in result['msg']
    code, result = run({'duration_s': 0}, monkeypatch, capsys)
    assert code == 1 and 'duration_s and interval_s must be above 0' in result['msg']
    code, result = run({'nvidia_smi': '/nonexistent/nvidia-smi', 'duration_s': 0.2, 'interval_s': 0.1,
                        '_ansible_check_mode': True}, monkeypatch, capsys)
    assert code == 0 and result['sensors']['gpu']['reason'] == 'nvidia_smi /nonexistent/nvidia-smi is not an executable'


# An nvidia-smi that answers as driver 580.159.04 on an H200 did (tests/fixtures/nvidia/h200): a query naming
# total_energy_consumption is refused with the recorded text and rc 2; index,power.draw gets one row per GPU.
FAKE_580_SMI = '''#!/bin/sh
case "$1" in
  *total_energy_consumption*) cat "%(refused)s"; exit 2 ;;
  --query-gpu=index,power.draw) echo "0, 81.05"; exit 0 ;;
  *) echo "unexpected arguments: $*" >&2; exit 2 ;;
esac
'''
RECORDED_H200 = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures', 'nvidia', 'h200'))


def test_gpu_power_is_sampled_with_the_columns_a_real_driver_accepts(monkeypatch, capsys, tmp_path):
    smi = tmp_path / 'nvidia-smi'
    smi.write_text(FAKE_580_SMI % {'refused': os.path.join(RECORDED_H200, 'power-query-total_energy_consumption.txt')})
    smi.chmod(0o755)
    code, result = run({'nvidia_smi': str(smi), 'duration_s': 0.3, 'interval_s': 0.1}, monkeypatch, capsys)
    assert code == 0, result
    assert result['sensors']['gpu'] == {'available': True, 'reason': None,
                                        'gpus': [{'index': 0, 'power_w': 81.05}]}
    assert result['gpu_method'] == {'0': 'power.draw'}
    assert result['gaps'] == []
    # 81.05 W over the sampled span
    span = result['samples'][-1]['t'] - result['samples'][0]['t']
    assert result['samples'][-1]['gpu_j']['0'] == pytest.approx(81.05 * span, rel=0.02, abs=0.01)
