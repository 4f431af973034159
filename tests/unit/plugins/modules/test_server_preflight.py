# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The server_preflight module: input checks, and the checks' result on a fixture host."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.inferops.vllm.plugins.modules import server_preflight
from ansible_collections.inferops.vllm.tests.unit.plugins.module_utils.test_preflight import fake_host
from ansible_collections.inferops.vllm.tests.unit.plugins.modules import utils as module_utils


def run(args, monkeypatch, capsys):
    return module_utils.run_module(server_preflight.main, args, monkeypatch, capsys)[:2]


def test_problems_are_returned_not_failed(tmp_path, monkeypatch, capsys):
    root = fake_host(tmp_path, mem_kib=2 * 1024 * 1024)
    code, result = run({'root': root, 'instances': [{'name': 'a', 'port': 8101, 'cpuset': '', 'mems': '0',
                                                     'memory_gib': 3}], '_ansible_check_mode': True},
                       monkeypatch, capsys)
    assert code == 0 and result['changed'] is False
    assert len(result['problems']) == 1 and 'the plan does not fit' in result['problems'][0]
    assert result['facts']['memory_planned_gib'] == 3.0


def test_an_instance_without_a_port_is_refused(tmp_path, monkeypatch, capsys):
    code, result = run({'root': fake_host(tmp_path), 'instances': [{'name': 'a'}]}, monkeypatch, capsys)
    assert code == 1
    assert result['msg'].startswith('instances[0]: port missing')


def test_a_front_without_a_port_is_refused(tmp_path, monkeypatch, capsys):
    code, result = run({'root': fake_host(tmp_path), 'instances': [], 'front': {'owners': []}}, monkeypatch, capsys)
    assert code == 1
    assert 'front: port missing' in result['msg']
