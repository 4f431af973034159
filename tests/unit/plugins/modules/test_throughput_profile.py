# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""inferops.vllm.throughput main() with a workload profile: refused profiles, and a tool-call profile run."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import sys

import pytest

from ansible_collections.inferops.vllm.plugins.modules import throughput
from ansible_collections.inferops.vllm.tests.unit.plugins.modules import utils as module_utils

SUPPORT = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..', '..', 'support'))
sys.path.insert(0, SUPPORT)
from fake_openai_server import FakeServerProcess  # noqa: E402  pylint: disable=wrong-import-position

TOOLS = [{'type': 'function', 'function': {'name': 'lookup', 'parameters': {
    'type': 'object', 'properties': {'q': {'type': 'string'}}, 'required': ['q']}}}]


def profile(**kw):
    p = {'name': 'tooly', 'input_tokens': 16, 'output_tokens': {'kind': 'uniform', 'min': 16, 'max': 24},
         'tools': TOOLS, 'slos': {'max_ttft_p95_ms': 3000}}
    p.update(kw)
    return p


@pytest.fixture(scope='module')
def server():
    with FakeServerProcess({'token_delay_s': 0.001}) as srv:
        yield srv


@pytest.mark.parametrize('args,text', [
    ({'profile': profile(turns=0)}, "profile: profile 'tooly': turns must be an integer >= 1"),
    ({'profile': profile(colour='red')}, "unknown field colour; accepted: name,"),
    ({'profile': profile(input_tokens=-4)}, "profile 'tooly': input_tokens"),
    ({'profile': profile(slos={}), 'mode': 'capacity'}, "(profile 'tooly' has none of its own)"),
    # with a profile the unit of work is a session: its rates are sessions per second
    ({'profile': profile(), 'mode': 'open', 'rate': 0},
     'rate=0.0 is invalid: it must be a number > 0 (sessions per second: with a profile the unit is a session)'),
    ({'profile': profile(), 'mode': 'capacity', 'capacity_start_rate': -1},
     'capacity_start_rate=-1.0 is invalid: it must be a number > 0 (sessions per second: with a profile'),
])
def test_invalid_profiles_are_refused(args, text, monkeypatch, capsys):
    code, res, _out = module_utils.run_module(throughput.main, dict({'url': 'http://127.0.0.1:9'}, **args),
                                              monkeypatch, capsys)
    assert code == 1 and text in res['msg'], res['msg']


def test_profile_slos_count_for_capacity_mode(server, monkeypatch, capsys):
    # no SLO option given: the profile's latency SLO lets capacity mode start (check mode: readiness only)
    args = {'url': server.url, 'profile': profile(), 'mode': 'capacity', '_ansible_check_mode': True}
    code, res, _out = module_utils.run_module(throughput.main, args, monkeypatch, capsys)
    assert code == 0 and res['verdict'] == 'not_run', res['msg']
    assert res['api'] == 'chat'


def test_tool_profile_through_the_module(server, monkeypatch, capsys):
    server.configure()
    args = {'url': server.url, 'profile': profile(), 'num_requests': 12, 'concurrency': 3, 'warmup_requests': 1,
            'seed': 3, 'client_max_cpu': 1.0, 'client_max_lag_ms': 5000.0, 'max_error_rate': 0.0}
    code, res, _out = module_utils.run_module(throughput.main, args, monkeypatch, capsys)
    assert code == 0 and res['verdict'] == 'pass', res['msg']
    assert res['profile']['valid_rate'] == 1.0 and res['profile']['answers_checked'] == 12
    assert res['config']['slos_from'] == 'user' and list(res['config']['slos']) == ['max_error_rate',
                                                                                    'max_token_mismatch']
    assert server.stats()['tool_call_requests'] >= 13
