# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The gate driving workload profiles against the fake vLLM server: bodies from the profile's generator,
answers checked (tool calls, response_format), invalid answers counted as errors, multi-turn sessions
with first vs later turn TTFT and session keys, capacity in sessions per second."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import json
import os
import sys

import pytest

from ansible_collections.inferops.vllm.plugins.module_utils import profiles as P
from ansible_collections.inferops.vllm.plugins.module_utils.gateclient import GateError
from ansible_collections.inferops.vllm.plugins.module_utils.loadgen import run_gate

SUPPORT = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'support')
sys.path.insert(0, SUPPORT)
from fake_openai_server import FakeServerProcess  # noqa: E402  pylint: disable=wrong-import-position

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
BUILTIN_DIR = os.path.join(ROOT, 'roles', 'validate', 'files', 'profiles')
# 4 slots, 20 ms to the first token, 2 ms per later token
KNOWN = {'slots': 4, 'ttft_s': 0.02, 'token_delay_s': 0.002}

TOOL_OUT = {'kind': 'uniform', 'min': 16, 'max': 32}     # room for the whole call (a cut one is invalid)
TOOLS = [{'type': 'function', 'function': {
    'name': 'get_ticket', 'parameters': {'type': 'object', 'properties': {'ticket_id': {'type': 'integer', 'minimum': 1}},
                                         'required': ['ticket_id']}}}]
SCHEMA = {'type': 'object', 'properties': {'answer': {'type': 'string'}, 'score': {'type': 'integer'}},
          'required': ['answer', 'score']}


@pytest.fixture(scope='module')
def server():
    with FakeServerProcess(KNOWN) as srv:
        yield srv


@pytest.fixture
def fake(server):
    server.configure()
    return server


def base(fake, profile, **kw):
    opts = {'url': fake.url, 'profile': profile, 'warmup_requests': 2, 'seed': 11, 'client_max_cpu': 1.0,
            'mode': 'closed', 'concurrency': 4}
    opts.update(kw)
    return opts


def assert_met(res):
    """Every SLO met, or short of samples only (these runs are a few dozen requests: a p95 needs 100)."""
    assert res['verdict'] in ('pass', 'inconclusive'), res['msg']
    for slo in res['slos']:
        assert slo['status'] == 'pass' or (slo['status'] == 'inconclusive' and slo.get('few_samples')), slo


def small(name, **kw):
    p = {'name': name, 'api': 'chat', 'input_tokens': {'kind': 'uniform', 'min': 8, 'max': 24},
         'output_tokens': {'kind': 'uniform', 'min': 4, 'max': 12}, 'arrival': 'poisson',
         'slos': {'max_ttft_p95_ms': 2000}}
    p.update(kw)
    return p


def test_builtin_chat_profile_sends_its_own_lengths_and_applies_its_slos(fake):
    chat = P.load_builtin('chat', BUILTIN_DIR)
    chat['think_time_s'] = {'min': 0.05, 'max': 0.1}        # its own 2-8 s would make a slow test
    res = run_gate(base(fake, chat, num_requests=12))
    assert_met(res)
    assert set(s['name'] for s in res['slos']) >= set(chat['slos'])
    assert res['api'] == 'chat' and res['config']['profile'] == 'chat' and res['config']['slos_from'] == 'profile'
    assert res['config']['slos'] == dict(chat['slos'], max_error_rate=0.0, max_token_mismatch=0.0)
    prof = res['profile']
    assert prof['name'] == 'chat' and prof['expects'] == 'text' and prof['valid_rate'] is None
    assert prof['invalid_output'] == 0
    # forced lengths (ignore_eos): every answer has exactly the drawn length, lengths vary with the distribution
    assert res['tokens']['length_mismatches'] == 0
    assert res['requests']['failed'] == 0
    n = res['requests']['total']
    assert 12 <= n <= 24 and res['profile']['ttft_ms']['first_turns']['count'] == 12    # 12 sessions of 1-2 turns
    assert res['prompt']['measured']['min'] < res['prompt']['measured']['max']
    assert res['cross_check']['ok'], res['cross_check']


def test_user_slos_replace_the_profile_defaults(fake):
    res = run_gate(base(fake, small('s'), num_requests=4, max_e2e_p95_ms=5000))
    assert res['config']['slos_from'] == 'user'
    assert 'max_ttft_p95_ms' not in res['config']['slos'] and res['config']['slos']['max_e2e_p95_ms'] == 5000


def test_tool_profile_with_valid_calls(fake):
    prof = small('tools', tools=TOOLS, tool_choice='required', output_tokens=TOOL_OUT)
    res = run_gate(base(fake, prof, num_requests=10))
    assert_met(res)
    p = res['profile']
    assert p['expects'] == 'tool_call' and p['valid_rate'] == 1.0 and p['answers_checked'] == 10
    assert fake.stats()['tool_call_requests'] >= 10 + 2    # measured + warm-up


def test_tool_profile_with_invalid_calls_fails_with_invalid_output(fake):
    fake.configure(invalid_output_rate=0.5)
    prof = small('tools', tools=TOOLS, tool_choice='required', output_tokens=TOOL_OUT)
    before = fake.stats()['invalid_outputs']
    res = run_gate(base(fake, prof, num_requests=20, warmup_requests=0))
    p = res['profile']
    assert res['verdict'] == 'fail', res['msg']
    bad = res['requests']['errors']['invalid_output']
    assert p['invalid_output'] == bad and 0 < bad < 20
    assert p['valid_rate'] == pytest.approx((20 - bad) / 20.0)
    assert res['requests']['error_rate'] == pytest.approx(bad / 20.0)
    assert res['goodput']['good_requests'] == 20 - bad
    # plus the tool probe a tool profile sends without a warm-up (it checks the server parses tool calls)
    probe = res['tool_probe']
    assert probe['requests'] == 1
    assert fake.stats()['invalid_outputs'] - before == bad + probe['errors'].get('invalid_output', 0)
    assert 'arguments are not JSON' in p['invalid_example'] and 'tool-call-parser' in p['invalid_example']
    assert 'max_error_rate' in res['msg']
    # the server finished the invalid ones: the cross-check still agrees
    assert res['cross_check']['ok'], res['cross_check']


def test_response_format_profile(fake):
    prof = small('json', structured_output={'schema': SCHEMA, 'name': 'verdict'},
                 output_tokens={'kind': 'fixed', 'value': 64})
    res = run_gate(base(fake, prof, num_requests=8))
    assert_met(res)
    assert res['profile']['expects'] == 'json' and res['profile']['valid_rate'] == 1.0
    assert fake.stats()['structured_requests'] >= 8
    fake.configure(invalid_output_rate=1.0)
    res = run_gate(base(fake, prof, num_requests=6, warmup_requests=0))
    assert res['verdict'] == 'fail' and res['profile']['valid_rate'] == 0.0
    assert res['profile']['invalid_output'] == 6
    assert 'does not match the schema' in res['profile']['invalid_example']


def test_response_format_cut_short_by_max_tokens_is_invalid(fake):
    prof = small('json', structured_output={'schema': SCHEMA}, output_tokens={'kind': 'fixed', 'value': 2})
    res = run_gate(base(fake, prof, num_requests=4, warmup_requests=0))
    assert res['profile']['invalid_output'] == 4 and 'not JSON' in res['profile']['invalid_example']


def agentic(**kw):
    a = P.load_builtin('agentic', BUILTIN_DIR)
    a = copy.deepcopy(a)
    a.update({'think_time_s': {'min': 0.05, 'max': 0.1}, 'turns': {'min': 3, 'max': 4},
              'shared_prefix': {'tokens': 200, 'count': 1}})
    a.update(kw)
    return P.validate(a)


def test_agentic_sessions_closed_loop(fake):
    prof = agentic()
    res = run_gate(base(fake, prof, num_requests=6, concurrency=3, warmup_requests=1))
    assert_met(res)
    p = res['profile']
    first, later = p['ttft_ms']['first_turns'], p['ttft_ms']['later_turns']
    assert first['count'] == 6 and 3 * 6 - 6 <= later['count'] <= 4 * 6 - 6
    assert first['p50'] is not None and later['p95'] is not None
    assert p['valid_rate'] == 1.0
    stats = fake.stats()
    keys = dict((P.session_key(prof, 11, i), None) for i in range(1, 7))     # session 0 was the warm-up
    seen = stats['sessions']
    for key in keys:
        assert 3 <= seen[key] <= 4, (key, seen)     # every turn of the session carried its key
    assert seen[P.session_key(prof, 11, 0)] == 1     # the warm-up sent the first turn only
    # header and body user field agree on every request
    assert all(h == u for h, u in stats['session_log'][-later['count'] - first['count']:])


def test_agentic_turns_carry_the_real_answers():
    from ansible_collections.inferops.vllm.plugins.module_utils.profilework import with_answers
    prof = agentic()
    s = P.session(prof, 1, 0, model='m')
    body = s['requests'][2]['body']
    real = {'content': None, 'tool_calls': [{'function': {'name': 'get_ticket', 'arguments': '{"ticket_id": 7}'}}]}
    out = with_answers(body, [real, {'content': 'plain words', 'tool_calls': []}])
    msgs = out['messages']
    assert msgs[0]['role'] == 'system'
    assert msgs[2]['content'] == '{"name": "get_ticket", "arguments": {"ticket_id": 7}}'
    assert msgs[4]['content'] == 'plain words'
    assert body['messages'][2]['content'] != msgs[2]['content']     # the generated body is left as it was


def test_agentic_sessions_open_loop(fake):
    prof = agentic()
    res = run_gate(base(fake, prof, mode='open', rate=4, duration_s=2, concurrency=None, warmup_requests=0))
    assert_met(res)
    p = res['profile']
    assert p['ttft_ms']['first_turns']['count'] >= 3 and p['ttft_ms']['later_turns']['count'] >= 6
    # the schedule counts arrivals (sessions), not the turns that followed them
    assert res['schedule']['achieved_rate'] < 2 * 4
    assert res['requests']['total'] >= 3 * p['ttft_ms']['first_turns']['count']


def test_capacity_with_a_profile_counts_sessions_per_second(fake):
    prof = small('cap', slos={'max_ttft_p95_ms': 150})
    res = run_gate(base(fake, prof, mode='capacity', concurrency=None, capacity_step_s=1, capacity_budget_s=30,
                        capacity_start_rate=20, capacity_max_rate=80))
    cap = res['capacity']
    assert cap['rate_unit'] == 'sessions_per_s' and res['profile']['rate_unit'] == 'sessions_per_s'
    assert res['profile']['capacity_sessions_per_s'] == cap['requests_per_s']
    assert cap['requests_per_s'] is not None, res['msg']
    assert 'sessions/s' in res['msg']


def test_capacity_messages_with_a_profile_give_sessions_per_second(fake):
    # each message about a rate the search offered says sessions/s, as the rate is in sessions
    with pytest.raises(GateError) as exc:
        run_gate(base(fake, small('tight'), mode='capacity', concurrency=None, capacity_step_s=10, capacity_budget_s=5,
                      capacity_start_rate=5))
    assert 'capacity_budget_s=5 is too small for one step: a step at 5 sessions/s takes' in exc.value.message
    res = run_gate(base(fake, small('never', slos={'max_ttft_p95_ms': 1}), mode='capacity', concurrency=None,
                        capacity_step_s=0.5, capacity_start_rate=8, capacity_min_rate=8))
    assert res['verdict'] == 'fail' and res['capacity']['ended'] == 'below_min', res['msg']
    assert '- even at 8 sessions/s, the lowest rate tried (capacity_min_rate)' in res['msg']
    assert 'req/s' not in res['msg'].split('\n', 1)[1]       # the head counts requests, the rest is sessions


def test_server_that_dies_during_a_profile_search_names_the_rate_in_sessions():
    with FakeServerProcess(dict(KNOWN, die_after_requests=30)) as srv:
        with pytest.raises(GateError) as exc:
            run_gate(base(srv, small('dies', slos={'max_ttft_p95_ms': 500}), mode='capacity', concurrency=None,
                          capacity_step_s=1, capacity_start_rate=20, capacity_budget_s=30, refused_timeout_s=1))
    assert 'the server stopped answering during capacity step 1 (20 sessions/s)' in exc.value.message, \
        exc.value.message


def test_open_loop_cap_too_small_with_a_profile_counts_sessions(fake):
    res = run_gate(base(fake, small('capped'), mode='open', rate=200, concurrency=1, duration_s=1,
                        warmup_requests=2))
    assert res['schedule']['rate_unit'] == 'sessions_per_s' and res['schedule']['cap_waits'] > 0
    assert any('the in-flight cap 1 is below the' in r and 'sessions in flight that 200 sessions/s needs' in r
               for r in res['client']['reasons']), res['client']['reasons']


def test_slo_detail_at_capacity_names_the_rate_unit():
    from ansible_collections.inferops.vllm.plugins.module_utils.loadgen import _measured, normalize
    o = normalize({'url': 'http://127.0.0.1:9'})
    figs = {'throughput': {'output_tokens_per_s': 120.0, 'total_tokens_per_s': 400.0, 'requests_per_s': 4.5},
            'latency_ms': {}, 'requests': {'completed': 36, 'total': 36}, 'window': {'duration_s': 8.0},
            'goodput': {}}
    sessions = _measured(o, figs, None, None, {'requests_per_s': 1.5, 'rate_unit': 'sessions_per_s'})
    assert sessions['output_tokens_per_s']['detail'] == 'at capacity 1.5 sessions/s (36 requests in 8.0 s)'
    requests = _measured(o, figs, None, None, {'requests_per_s': 4.5})
    assert requests['requests_per_s']['detail'] == 'at capacity 4.5 req/s (36 requests in 8.0 s)'


def test_profile_that_does_not_fit_the_model(fake):
    prof = small('big', input_tokens=1500, output_tokens=700)
    with pytest.raises(GateError) as exc:
        run_gate(base(fake, prof, num_requests=1))
    assert "profile 'big'" in exc.value.message and 'max_model_len is 2048' in exc.value.message


def test_invalid_profile_is_refused_before_any_request(fake):
    before = fake.stats()['requests']
    with pytest.raises(GateError) as exc:
        run_gate(base(fake, small('bad', turns=0), num_requests=1))
    assert 'turns' in exc.value.message
    assert fake.stats()['requests'] == before


def test_open_loop_cap_covers_whole_sessions():
    # the in-flight cap an open loop derives must hold sessions (turns plus think time), not single requests
    from ansible_collections.inferops.vllm.plugins.module_utils.loadgen import _unit_s, derived_cap
    from ansible_collections.inferops.vllm.plugins.module_utils.profilework import ProfileDriver

    class G(object):
        driver = None
    gate = G()
    assert _unit_s(gate, 0.5) == 0.5
    gate.driver = ProfileDriver(gate, P.load_builtin('agentic', BUILTIN_DIR))
    assert _unit_s(gate, 0.5) == pytest.approx(8 * 0.5 + 7 * 2.0)      # 8 turns, 2 s think time at most
    assert derived_cap(10, _unit_s(gate, 0.5)) == 720 and derived_cap(10, 0.5) == 20


def test_markdown_report_has_the_profile_section(fake):
    from ansible_collections.inferops.vllm.plugins.module_utils.gate_report import markdown
    fake.configure(invalid_output_rate=1.0)
    prof = small('tools', tools=TOOLS, tool_choice='required', output_tokens=TOOL_OUT)
    text = markdown(run_gate(base(fake, prof, num_requests=3, warmup_requests=0)))
    assert '## Workload profile `tools`' in text and 'valid rate 0.0000, invalid_output 3' in text
    assert '| first turns | 0 |' in text     # TTFT of completed (valid) answers only


def _chat_chunk(delta, ct, pt=9):
    obj = {'id': 'c', 'object': 'chat.completion.chunk', 'model': 'm',
           'choices': [{'index': 0, 'delta': delta, 'finish_reason': None}],
           'usage': {'prompt_tokens': pt, 'total_tokens': pt + ct, 'completion_tokens': ct}}
    return b'data: ' + json.dumps(obj, separators=(',', ':')).encode() + b'\n\n'


def test_answer_stream_keeps_tool_calls_and_text_with_the_same_token_times():
    from ansible_collections.inferops.vllm.plugins.module_utils.profilework import AnswerStream
    from ansible_collections.inferops.vllm.plugins.module_utils.sse import SSEStream
    # vLLM streams a tool call as id/type/name first, then argument fragments; continuous usage on every chunk
    events = [_chat_chunk({'role': 'assistant', 'content': ''}, 0),
              _chat_chunk({'tool_calls': [{'index': 0, 'id': 'call-1', 'type': 'function',
                                           'function': {'name': 'get_ticket', 'arguments': ''}}]}, 1),
              _chat_chunk({'tool_calls': [{'index': 0, 'function': {'arguments': '{"ticket'}}]}, 2),
              _chat_chunk({'tool_calls': [{'index': 0, 'function': {'arguments': '_id": 7}'}}]}, 3),
              _chat_chunk({'content': 'done'}, 4), b'data: [DONE]\n\n']
    plain, kept = SSEStream(), AnswerStream(chat=True)
    for i, ev in enumerate(events):
        plain.feed(ev, float(i))
        kept.feed(ev, float(i))
    assert kept.finish() == plain.finish()
    assert plain.continuous and not kept.continuous     # the plain stream took the regex fast path
    ans = kept.answer()
    assert ans['content'] == 'done'
    assert ans['tool_calls'] == [{'id': 'call-1', 'type': 'function',
                                  'function': {'name': 'get_ticket', 'arguments': '{"ticket_id": 7}'}}]
    assert P.check_tool_call(ans, ['get_ticket']) == (True, None)
    comp = AnswerStream(chat=False)
    comp.feed(b'data: {"choices":[{"index":0,"text":"{\\"a\\": 1}"}],"usage":{"completion_tokens":3}}\n\n', 1.0)
    assert comp.answer() == '{"a": 1}'


def test_answers_are_read_only_where_needed():
    from ansible_collections.inferops.vllm.plugins.module_utils.profilework import ProfileDriver
    keep = dict((name, ProfileDriver(None, P.load_builtin(name, BUILTIN_DIR)).keep_answer)
                for name in ('agentic', 'batch', 'chat', 'long_generation', 'rag', 'summarization'))
    # checked (agentic: tool calls, batch: JSON documents) or carried into a later turn (chat, 1-2 turns): read;
    # single-turn text: the fast path
    assert keep == {'agentic': True, 'batch': True, 'chat': True, 'long_generation': False, 'rag': False,
                    'summarization': False}


def test_capacity_search_over_multi_turn_sessions(fake):
    prof = agentic(slos={'max_ttft_p95_ms': 400})
    res = run_gate(base(fake, prof, mode='capacity', concurrency=None, capacity_step_s=1.5, capacity_budget_s=40,
                        capacity_max_rate=20, warmup_requests=2))
    cap = res['capacity']
    assert cap['rate_unit'] == 'sessions_per_s' and cap['probe'] is not None
    assert cap['steps'][0]['rate'] == pytest.approx(min(20.0, cap['probe']['requests_per_s']), rel=1e-3)
    assert cap['requests_per_s'] is not None, res['msg']
    # the rate searched is sessions per second: each brings 3-4 requests
    assert res['throughput']['requests_per_s'] > 2 * cap['requests_per_s'], (res['throughput'], cap)
    assert res['profile']['ttft_ms']['later_turns']['count'] > 0


def test_tool_profile_against_a_server_without_tool_parsing_names_the_missing_flag(fake):
    fake.configure(tool_parser=False)
    before = fake.stats()['requests']
    with pytest.raises(GateError) as exc:
        run_gate(base(fake, agentic(), num_requests=4, warmup_requests=0))
    msg = exc.value.message
    assert "profile 'agentic' sends tools with tool_choice 'required'" in msg
    assert 'started without tool parsing: missing server flag --tool-call-parser' in msg
    assert 'tool_choice="required" requires --tool-call-parser to be set' in msg       # vLLM's own words
    assert 'server_tool_call_family' in msg
    # refused at its first request (a warm-up one even with warmup_requests 0), before any measured load
    assert fake.stats()['requests'] - before == 1


def test_auto_tool_choice_without_tool_parsing_names_both_flags(fake):
    fake.configure(tool_parser=False)
    prof = small('auto', tools=TOOLS, tool_choice='auto', output_tokens=TOOL_OUT)
    with pytest.raises(GateError) as exc:
        run_gate(base(fake, prof, num_requests=2))
    assert 'missing server flag --enable-auto-tool-choice / --tool-call-parser' in exc.value.message


def test_profile_without_tools_runs_on_a_server_without_tool_parsing(fake):
    fake.configure(tool_parser=False)
    res = run_gate(base(fake, small('plain'), num_requests=4))
    assert_met(res)


def test_prefix_cache_hits_of_a_profile_built_to_hit_raise_no_warning(fake):
    fake.configure(prefix_cache=True)
    res = run_gate(base(fake, agentic(), num_requests=6, concurrency=3, warmup_requests=1))
    assert_met(res)
    hit = res['cross_check']['server']['prefix_cache_hit_rate']
    assert hit > 0.5, res['cross_check']['server']           # shared system prompt + growing turns
    assert not [w for w in res['warnings'] + res.get('gate_warnings', []) if 'prefix cache' in w]


def test_prefix_cache_hits_of_repeated_plain_prompts_warn(fake):
    fake.configure(prefix_cache=True)
    prof = small('plain', input_tokens=200, output_tokens=4)
    run_gate(base(fake, prof, num_requests=4, seed=5))
    res = run_gate(base(fake, prof, num_requests=4, seed=5))      # the same seed sends the same prompts again
    assert res['cross_check']['server']['prefix_cache_hit_rate'] > 0.5
    assert [w for w in res['warnings'] if 'from its prefix cache' in w]


def test_profile_text_is_sized_by_its_own_tokens_per_word(fake):
    # The gate's calibration words are one token each; a profile's text (Zipf-weighted words, the long ones
    # two tokens here when longer than 4 characters, several in a real tokenizer) is not: sized at the
    # calibration's rate, a 1,700-token summarization prompt overflowed the tiny model's context on vLLM.
    from fake_openai_server import count_tokens  # pylint: disable=import-error
    fake.configure(long_word_chars=4)
    prof = small('plain', input_tokens=400, output_tokens=4)
    res = run_gate(base(fake, prof, num_requests=2))
    rate = res['prompt']['profile_tokens_per_word']
    assert res['prompt']['tokens_per_word'] == 1.0 and rate > 1.1, res['prompt']
    text = P.session(P.validate(prof), 11, 0, tokens_per_word=rate)['requests'][0]['body']['messages'][-1]['content']
    assert abs(count_tokens(text, 4) - 1 - 400) <= 20, count_tokens(text, 4)
    unsized = P.session(P.validate(prof), 11, 0)['requests'][0]['body']['messages'][-1]['content']
    assert count_tokens(unsized, 4) - 1 > 440            # what the calibration's rate made of it
