# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible.module_utils import basic

from ansible_collections.inferops.vllm.plugins.modules import instance_conformance
from ansible_collections.inferops.vllm.tests.unit.plugins.modules import utils as module_utils

PROC = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures', 'proc'))
INSTANCE = {
    'name': 'vllm-node0', 'unit': 'vllm-node0.service', 'cpuset': '0-3', 'mems': '0',
    'env': {'VLLM_CPU_KVCACHE_SPACE': '4', 'VLLM_CPU_OMP_THREADS_BIND': '1-3'},
    'argv': ['serve', '/srv/models/tiny-llama', '--host', '127.0.0.1', '--served-model-name', 'tiny-llama',
             '--port', '8100', '--dtype', 'bfloat16', '--max-num-seqs', '128'],
}


class FakeHost(object):
    """systemctl / journalctl / podman answers of a host, and the commands the module ran."""

    def __init__(self, main_pid=100, state='active', podman_pid=100):
        self.main_pid = main_pid
        self.state = state
        self.podman_pid = podman_pid
        self.calls = []

    def run_command(self, cmd, *args, **kwargs):
        self.calls.append(list(cmd))
        tool = os.path.basename(cmd[0])
        if tool == 'systemctl':
            units = cmd[cmd.index('--') + 1:]
            blocks = ['Id=%s\nMainPID=%d\nLoadState=loaded\nActiveState=%s\nSubState=%s\nNUMAPolicy=default\nNUMAMask='
                      % (u, self.main_pid, self.state, 'running' if self.main_pid else 'failed') for u in units]
            return 0, '\n\n'.join(blocks) + '\n', ''
        if tool == 'journalctl':
            return 0, 'Started vllm\nValueError: --max-num-seqs must be positive\n', ''
        if tool == 'podman':
            if cmd[-1] != 'vllm-node0':
                return 125, '', 'Error: no such container %s\n' % cmd[-1]
            return 0, '%d running\n' % self.podman_pid, ''
        raise AssertionError('unexpected command %r' % (cmd,))


def run(args, monkeypatch, capsys, host):
    monkeypatch.setattr(basic.AnsibleModule, 'run_command', lambda self, cmd, *a, **k: host.run_command(cmd, *a, **k))
    monkeypatch.setattr(basic.AnsibleModule, 'get_bin_path', lambda self, name, required=False, opt_dirs=None: '/usr/bin/' + name)
    # the fixture trees are of a 2-node host, whatever this machine has
    monkeypatch.setattr(instance_conformance, '_host_nodes', lambda path=None: [0, 1])
    args = dict({'proc': os.path.join(PROC, 'vllm_2node_ok')}, **args)
    return module_utils.run_module(instance_conformance.main, args, monkeypatch, capsys)[:2]


def test_conforming_instance_passes(monkeypatch, capsys):
    host = FakeHost()
    code, out = run({'instances': [INSTANCE]}, monkeypatch, capsys, host)
    assert code == 0, out
    assert out['drift'] == [] and out['pids'] == {'vllm-node0': 100}
    assert 'vllm-node0 cpus: expected 0-3, found 0-3' in out['lines']
    assert out['changed'] is False and out['elapsed_s'] < 5
    # read-only: one systemctl show for all units, nothing else
    assert [c[:2] for c in host.calls] == [['/usr/bin/systemctl', 'show']]


def test_drift_fails_with_the_drifting_line(monkeypatch, capsys):
    planned = dict(INSTANCE, argv=INSTANCE['argv'][:-1] + ['32'])
    code, out = run({'instances': [planned]}, monkeypatch, capsys, FakeHost())
    assert code == 1
    line = 'vllm-node0 cmdline: expected 5 flags as planned, found --max-num-seqs 128 (planned 32)'
    assert out['drift'] == [line]
    assert out['msg'] == 'instance conformance: 1 check drift from the plan:\n' + line


def test_unknown_unit_is_reported_and_not_touched(monkeypatch, capsys):
    host = FakeHost()
    code, out = run({'instances': [INSTANCE], 'names': ['vllm-node7.service']}, monkeypatch, capsys, host)
    assert code == 1
    assert out['drift'] == ['vllm-node7.service planned: expected one of vllm-node0, found not in the plan '
                            '(not checked and not touched)']
    assert host.calls == []


def test_instance_not_running_names_the_last_journal_line(monkeypatch, capsys):
    code, out = run({'instances': [INSTANCE]}, monkeypatch, capsys, FakeHost(main_pid=0, state='failed'))
    assert code == 1
    assert out['drift'] == [
        'vllm-node0 running: expected a running main process, found none (unit vllm-node0.service LoadState=loaded '
        'ActiveState=failed SubState=failed) (last journal line: ValueError: --max-num-seqs must be positive)']


def test_podman_container_by_name(monkeypatch, capsys):
    code, out = run({'instances': [INSTANCE], 'runtime': 'podman'}, monkeypatch, capsys, FakeHost(podman_pid=100))
    assert code == 0, out
    code, out = run({'instances': [dict(INSTANCE, name='vllm-node1', unit='vllm-node1.service')], 'runtime': 'podman'},
                    monkeypatch, capsys, FakeHost())
    assert code == 1
    assert out['drift'][0].startswith('vllm-node1 running: expected a running main process, found none (container '
                                      'vllm-node1: Error: no such container vllm-node1)')


def test_numa_maps_missing_is_inconclusive_not_failed_unless_asked(monkeypatch, capsys):
    args = {'instances': [INSTANCE], 'proc': os.path.join(PROC, 'vllm_numa_maps_missing')}
    code, out = run(args, monkeypatch, capsys, FakeHost())
    assert code == 0 and out['status'] == 'inconclusive'
    assert out['inconclusive'][0].startswith('vllm-node0 numa_residency: inconclusive: ')
    code, out = run(dict(args, fail_on_inconclusive=True), monkeypatch, capsys, FakeHost())
    assert code == 1 and out['msg'].startswith('instance conformance: inconclusive:')


def test_bad_input_names_the_field(monkeypatch, capsys):
    code, out = run({'instances': [dict(INSTANCE, cpuset='0-x')]}, monkeypatch, capsys, FakeHost())
    assert code == 1 and out['msg'].startswith("instances[0].cpuset='0-x' is not a cpulist")
    code, out = run({'instances': [INSTANCE], 'numa_threshold': 120}, monkeypatch, capsys, FakeHost())
    assert code == 1 and 'numa_threshold=120.0 must be a percent between 0 and 100' in out['msg']
