# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Workload profiles: validation errors name the field, defaults, the seeded generator (sessions,
shared prefixes, multi-turn history, tools, structured output, affinity keys), answer checks and
the shipped built-ins."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import json
import os
import re

import pytest

from ansible_collections.inferops.vllm.plugins.module_utils import profiles as P
from ansible_collections.inferops.vllm.plugins.module_utils.lengthdist import LengthDist
from ansible_collections.inferops.vllm.plugins.module_utils.loadstats import SLO_BY_NAME
from ansible_collections.inferops.vllm.plugins.module_utils.schemacheck import check_schema, minimal_instance, validate

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
BUILTIN_DIR = os.path.join(ROOT, 'roles', 'validate', 'files', 'profiles')
BUILTINS = ('agentic', 'batch', 'chat', 'long_generation', 'rag', 'summarization')

MINIMAL = {'name': 'mini', 'input_tokens': 32, 'output_tokens': 16}
TOOLS = [{'type': 'function', 'function': {'name': 'lookup', 'parameters': {
    'type': 'object', 'properties': {'id': {'type': 'integer', 'minimum': 1}}, 'required': ['id']}}},
    {'type': 'function', 'function': {'name': 'close', 'parameters': {'type': 'object', 'properties': {}}}}]
SCHEMA = {'type': 'object', 'properties': {'title': {'type': 'string'}, 'n': {'type': 'integer', 'minimum': 0},
                                           'tag': {'type': 'string', 'enum': ['a', 'b']}},
          'required': ['title', 'n'], 'additionalProperties': False}


def prof(**kw):
    p = copy.deepcopy(MINIMAL)
    p.update(kw)
    return p


# -- built-ins -----------------------------------------------------------------------------------
def test_the_six_builtins_ship_and_validate():
    assert tuple(P.builtin_names(BUILTIN_DIR)) == BUILTINS
    for name in BUILTINS:
        p = P.load_builtin(name, BUILTIN_DIR)
        assert p['name'] == name
        # the longest session fits a tiny model served with --max-model-len 2048, with room for a
        # chat template and the tool definitions
        assert P.check_fits(p, 2048, overhead_tokens=150) is None, name
        for key in p['slos']:
            assert key in SLO_BY_NAME


@pytest.mark.parametrize('name', BUILTINS)
def test_each_builtin_says_where_its_numbers_come_from_and_that_it_is_scaled(name):
    with open(os.path.join(BUILTIN_DIR, name + '.yml')) as f:
        text = f.read()
    comments = ' '.join(line.lstrip('# ') for line in text.splitlines() if line.startswith('#'))
    assert 'Where the numbers come from' in comments
    assert '2048' in comments and 'your own' in comments


def test_builtin_shapes_match_the_issue():
    b = dict((n, P.load_builtin(n, BUILTIN_DIR)) for n in BUILTINS)
    assert b['batch']['kind'] == 'batch' and b['batch']['slos'] == {} and b['batch']['workload'] == 'offline'
    assert b['batch']['structured_output'] is not None and b['batch']['input_tokens']['kind'] == 'histogram'
    for n in ('chat', 'summarization', 'rag', 'long_generation', 'agentic'):
        assert set(b[n]['slos']) == {'max_ttft_p95_ms', 'max_tpot_p95_ms'}, n
    ag = b['agentic']
    assert ag['turns'] == {'min': 4, 'max': 8} and ag['shared_prefix']['count'] == 1 and len(ag['tools']) >= 2
    # the issue's answers are 30-80 tokens: a tool call ends where it closes, so the cap must cover the longest
    assert LengthDist(ag['output_tokens']).min_value >= 80
    assert ag['tool_choice'] == 'required' and ag['parallel_tool_calls'] is False
    assert LengthDist(b['long_generation']['output_tokens']).min_value >= 1000
    summ_in, summ_out = P.expected_tokens(b['summarization'])
    assert summ_in / summ_out > 20
    assert b['rag']['shared_prefix']['count'] > 1 and b['rag']['shared_prefix']['tokens'] > 500
    assert b['chat']['input_tokens']['kind'] == 'lognormal'


def _unbounded(schema, where):
    """Fields of a JSON schema that guided decoding could grow without end: strings without an enum or a
    counted pattern / maxLength, numbers without a maximum."""
    t = schema.get('type')
    if 'enum' in schema or 'const' in schema:
        return []
    if t == 'string':
        counted = re.search(r'\{\d+,\d+\}\$$', schema.get('pattern', ''))
        return [] if counted or 'maxLength' in schema else [where]
    if t in ('integer', 'number'):
        return [] if 'maximum' in schema or 'exclusiveMaximum' in schema else [where]
    out = []
    for name, sub in (schema.get('properties') or {}).items():
        out += _unbounded(sub, '%s.%s' % (where, name))
    return out


@pytest.mark.parametrize('name', ['agentic', 'batch'])
def test_builtin_answers_are_bounded_so_guided_decoding_closes_them(name):
    # A model that does not stop on its own (the random-weight test model) fills an unbounded field until
    # max_tokens under guided decoding: the answer is not JSON (bench-profiles on vLLM: batch 22% valid
    # with a 200-character title, agentic's tool arguments not JSON).
    p = P.load_builtin(name, BUILTIN_DIR)
    schemas = [('structured_output', p['structured_output']['schema'])] if p['structured_output'] else []
    schemas += [(t['function']['name'], t['function']['parameters']) for t in p['tools']]
    assert schemas
    for where, schema in schemas:
        assert _unbounded(schema, where) == []
    assert _unbounded({'type': 'object', 'properties': {'a': {'type': 'string'}, 'n': {'type': 'integer'}}}, 'x') \
        == ['x.a', 'x.n']


@pytest.mark.parametrize('name', BUILTINS)
def test_builtin_prompts_read_like_text_not_one_repeated_word(name):
    p = P.load_builtin(name, BUILTIN_DIR)
    for s in P.sessions(p, 1, 5, model='m'):
        for req in s['requests']:
            body = req['body']
            text = body['messages'][-1]['content'] if 'messages' in body else body['prompt']
            words = text.split()
            assert len(set(words)) >= min(len(words), 8), text[:200]
            assert all(a != b for a, b in zip(words, words[1:]))


def test_unknown_builtin_lists_the_builtins():
    with pytest.raises(P.ProfileError) as exc:
        P.load_builtin('chatty', BUILTIN_DIR)
    msg = str(exc.value)
    assert "unknown profile 'chatty'" in msg
    assert 'agentic, batch, chat, long_generation, rag, summarization' in msg


def test_resolve_mixes_names_and_dicts_and_refuses_duplicates():
    got = P.resolve(['agentic', prof(name='mine')], BUILTIN_DIR)
    assert [p['name'] for p in got] == ['agentic', 'mine']
    with pytest.raises(P.ProfileError, match="profile 'chat': listed twice"):
        P.resolve(['chat', 'chat'], BUILTIN_DIR)


# -- validation ----------------------------------------------------------------------------------
def test_defaults_are_filled_in():
    p = P.validate(MINIMAL)
    assert p['kind'] == 'interactive' and p['workload'] == 'online' and p['api'] == 'chat'
    assert p['turns'] == {'min': 1, 'max': 1} and p['think_time_s'] == {'min': 0.0, 'max': 0.0}
    assert p['shared_prefix'] == {'tokens': 0, 'count': 1}
    assert p['tools'] == [] and p['tool_choice'] == 'none' and p['structured_output'] is None
    assert p['ignore_eos'] is True
    assert p['arrival'] == 'poisson' and p['burstiness'] == 1.0
    assert p['slos'] == P.DEFAULT_SLOS['interactive'] == {'max_ttft_p95_ms': 2000, 'max_tpot_p95_ms': 100}
    assert p['input_tokens'] == {'kind': 'fixed', 'value': 32}
    b = P.validate(prof(kind='batch'))
    assert b['slos'] == {} and b['workload'] == 'offline'
    assert P.validate(p) == p          # validating a validated profile changes nothing


def test_tools_default_to_required_and_no_forced_length():
    p = P.validate(prof(tools=TOOLS))
    assert p['tool_choice'] == 'required' and p['ignore_eos'] is False
    assert P.expects(p) == 'tool_call'
    assert P.validate(prof(tools=TOOLS, tool_choice='close'))['tool_choice'] == 'close'
    assert P.validate(prof(tools=TOOLS, tool_choice={'type': 'function', 'function': {'name': 'lookup'}})
                      )['tool_choice'] == 'lookup'
    s = P.validate(prof(structured_output={'schema': SCHEMA}))
    assert P.expects(s) == 'json' and s['structured_output']['name'] == 'answer' and s['ignore_eos'] is False


def test_parallel_tool_calls_is_sent_only_when_set():
    one = P.session(P.validate(prof(tools=TOOLS, parallel_tool_calls=False)), 1, 0)['requests'][0]['body']
    assert one['parallel_tool_calls'] is False and one['tool_choice'] == 'required'
    assert 'parallel_tool_calls' not in P.session(P.validate(prof(tools=TOOLS)), 1, 0)['requests'][0]['body']


@pytest.mark.parametrize('change,message', [
    ({'turns': 0}, "profile 'p': turns must be an integer >= 1 or {min, max}, got 0"),
    ({'turns': {'min': 0, 'max': 4}}, "profile 'p': turns.min must be an integer >= 1, got 0"),
    ({'turns': {'min': 5, 'max': 4}}, "profile 'p': turns.max (4) must be >= turns.min (5)"),
    ({'input_tokens': -5}, "profile 'p': input_tokens must be an integer >= 1 (or a distribution dict), got -5"),
    ({'output_tokens': {'kind': 'uniform', 'min': -3, 'max': 4}},
     "profile 'p': output_tokens.min must be an integer >= 1, got -3"),
    ({'input_tokens': {'kind': 'histogram', 'bins': [{'value': 8, 'weight': 0.5}, {'value': 9, 'weight': 0.6}]}},
     "profile 'p': input_tokens.bins weights must sum to 1"),
    ({'colour': 'red'}, "profile 'p': unknown field colour; accepted: name, description, kind"),
    ({'api': 'responses'}, "profile 'p': api must be one of chat, completions, got 'responses'"),
    ({'kind': 'realtime'}, "profile 'p': kind must be one of interactive, batch"),
    ({'workload': 'latency'}, "profile 'p': workload (the planner workload it is served with) must be one of online, "
                              "offline"),
    ({'shared_prefix': {'tokens': -1}}, "profile 'p': shared_prefix.tokens must be an integer >= 0, got -1"),
    ({'shared_prefix': {'tokens': 10, 'count': 0}}, "profile 'p': shared_prefix.count must be an integer >= 1"),
    ({'shared_prefix': {'size': 10}}, "profile 'p': shared_prefix must be {tokens"),
    ({'think_time_s': -1}, "profile 'p': think_time_s must be a number >= 0.0 or {min, max}, got -1"),
    ({'arrival': 'bursty'}, "profile 'p': arrival must be one of constant, poisson, gamma, got 'bursty'"),
    ({'arrival': 'constant', 'burstiness': 0.5}, 'burstiness applies to arrival poisson or gamma, not constant'),
    ({'burstiness': 0}, "profile 'p': burstiness must be a number > 0, got 0"),
    ({'slos': {'max_ttft_ms': 10}}, "profile 'p': slos has unknown SLO name max_ttft_ms; known SLOs: "),
    ({'slos': {'max_ttft_p95_ms': -1}}, "profile 'p': slos.max_ttft_p95_ms must be a number >= 0"),
    ({'tool_choice': 'required'}, "profile 'p': tool_choice 'required' needs tools"),
    ({'tools': TOOLS, 'tool_choice': 'search'}, "tool_choice must be one of auto, required, none or the name of a "
                                                "tool (lookup, close), got 'search'"),
    ({'tools': TOOLS, 'api': 'completions'}, "profile 'p': tools need api: chat"),
    ({'tools': [{'type': 'function', 'function': {'name': 'x', 'parameters': {'type': 'object', 'oneOf': []}}}]},
     "tools[0].function.parameters uses JSON Schema keyword oneOf that the gate does not check"),
    ({'tools': TOOLS + TOOLS[:1]}, "tools[2].function.name 'lookup' is used by two tools"),
    ({'tools': TOOLS, 'structured_output': {'schema': SCHEMA}}, 'structured_output and tools with tool_choice '
                                                                "'required' exclude each other"),
    ({'tools': TOOLS, 'ignore_eos': True}, 'ignore_eos: true would force the answer past the end'),
    ({'structured_output': {'schema': {'type': 'thing'}}}, "structured_output.schema.type must be one of object"),
    ({'structured_output': {'schema': SCHEMA, 'format': 'x'}}, 'structured_output has unknown field format'),
    ({'structured_output': {'schema': {'type': 'string', 'pattern': '[a-'}}},
     "structured_output.schema.pattern must be a regular expression, got '[a-'"),
    ({'tools': TOOLS, 'parallel_tool_calls': 'no'}, "profile 'p': parallel_tool_calls must be true, false or null"),
    ({'parallel_tool_calls': False}, "profile 'p': parallel_tool_calls needs tools"),
])
def test_bad_profiles_name_the_field_and_the_accepted_values(change, message):
    with pytest.raises(P.ProfileError) as exc:
        P.validate(prof(name='p', **change))
    assert message in str(exc.value)


def test_missing_lengths_and_name():
    with pytest.raises(P.ProfileError, match="profile 'x': output_tokens is required"):
        P.validate({'name': 'x', 'input_tokens': 3})
    with pytest.raises(P.ProfileError, match='a profile needs a name'):
        P.validate({'input_tokens': 3, 'output_tokens': 3})
    assert P.validate({'input_tokens': 3, 'output_tokens': 3}, name='given')['name'] == 'given'


def test_poisson_with_burstiness_is_gamma_and_maps_to_the_gate_options():
    p = P.validate(prof(arrival='poisson', burstiness=0.5))
    assert p['arrival'] == 'gamma'
    assert P.gate_arrival(p) == {'arrival': 'poisson', 'burstiness': 0.5}
    assert P.gate_arrival(P.validate(prof(arrival='constant'))) == {'arrival': 'constant', 'burstiness': 1.0}
    assert P.gate_arrival(P.validate(prof())) == {'arrival': 'poisson', 'burstiness': 1.0}


def test_check_fits_says_what_does_not_fit():
    p = P.validate(prof(name='big', shared_prefix={'tokens': 1000}, turns=3,
                        input_tokens={'kind': 'uniform', 'min': 1, 'max': 200}, output_tokens=100))
    # 1000 + 3 x (200 + 100) = 1900
    assert P.max_context_tokens(p) == 1900
    assert P.check_fits(p, 1900) is None
    msg = P.check_fits(p, 1024)
    assert "profile 'big': its longest session needs 1900 tokens" in msg and 'max_model_len is 1024' in msg


# -- the generator -------------------------------------------------------------------------------
MULTI = prof(name='multi', shared_prefix={'tokens': 40, 'count': 3}, turns={'min': 2, 'max': 4},
             think_time_s={'min': 1, 'max': 3}, input_tokens={'kind': 'uniform', 'min': 5, 'max': 30},
             output_tokens={'kind': 'lognormal', 'mean': 40, 'sd': 20, 'min': 4, 'max': 200})


def test_same_seed_same_sessions_other_seed_other_sessions():
    p = P.validate(MULTI)
    a = P.sessions(p, 99, 20, model='m')
    assert json.dumps(a) == json.dumps(P.sessions(p, 99, 20, model='m'))
    assert json.dumps(a) != json.dumps(P.sessions(p, 100, 20, model='m'))
    # a session depends on (seed, index) only: building others before it changes nothing
    assert P.session(p, 99, 13, model='m') == a[13]
    assert P.sessions(p, 99, 5, start=10, model='m') == a[10:15]


def test_multi_turn_sessions_carry_history_prefix_and_think_time():
    p = P.validate(MULTI)
    ss = P.sessions(p, 5, 60, model='m')
    prefixes = {}
    for s in ss:
        reqs = s['requests']
        assert 2 <= len(reqs) <= 4
        system = reqs[0]['body']['messages'][0]
        assert system['role'] == 'system' and len(system['content'].split()) == 40
        prefixes.setdefault(s['prefix'], set()).add(system['content'])
        for t, r in enumerate(reqs):
            msgs = r['body']['messages']
            assert r['turn'] == t and len(msgs) == 1 + 2 * t + 1
            assert msgs[0] == system                      # every turn keeps the session's prefix
            if t:
                # the previous request whole (prefix, history, question), then its (placeholder) answer
                assert msgs[:-2] == reqs[t - 1]['body']['messages']
                assert msgs[-2]['role'] == 'assistant' and len(msgs[-2]['content'].split()) == \
                    reqs[t - 1]['max_tokens']
                assert 1.0 <= r['delay_s'] <= 3.0
            else:
                assert r['delay_s'] == 0.0
            assert len(msgs[-1]['content'].split()) == r['input_tokens']
            assert r['body']['max_tokens'] == r['max_tokens'] == r['body']['min_tokens']
            assert r['body']['ignore_eos'] is True and r['body']['stream'] is True
            assert r['headers'] == {'x-session-id': s['key']} and r['body']['user'] == s['key']
            assert r['path'] == '/v1/chat/completions' and r['expects'] == 'text'
    # N distinct prefixes, each identical across the sessions that use it
    assert sorted(prefixes) == [0, 1, 2]
    assert all(len(texts) == 1 for texts in prefixes.values())
    assert len(set(next(iter(t)) for t in prefixes.values())) == 3
    assert len(set(s['key'] for s in ss)) == 60


def test_generated_lengths_follow_the_distributions():
    p = P.validate(prof(input_tokens={'kind': 'lognormal', 'mean': 100, 'sd': 60, 'max': 5000},
                        output_tokens={'kind': 'uniform', 'min': 10, 'max': 90}))
    reqs = [r for s in P.sessions(p, 3, 3000) for r in s['requests']]
    mean_in = sum(r['input_tokens'] for r in reqs) / float(len(reqs))
    mean_out = sum(r['max_tokens'] for r in reqs) / float(len(reqs))
    assert abs(mean_in - 100) < 5 and abs(mean_out - 50) < 2.5


def test_tokens_per_word_scales_the_text():
    p = P.validate(prof(input_tokens=60))
    r = P.session(p, 1, 0, tokens_per_word=1.5)['requests'][0]
    assert len(r['body']['messages'][-1]['content'].split()) == 40 and r['input_tokens'] == 60


def test_agentic_like_sessions_share_one_prefix_and_send_tools():
    p = P.validate(prof(name='ag', shared_prefix={'tokens': 50, 'count': 1}, turns={'min': 4, 'max': 8},
                        tools=TOOLS, output_tokens={'kind': 'uniform', 'min': 30, 'max': 80}))
    ss = P.sessions(p, 2, 10, model='m', stream=False)
    systems = set(s['requests'][0]['body']['messages'][0]['content'] for s in ss)
    assert len(systems) == 1
    r = ss[0]['requests'][1]
    body = r['body']
    assert body['tools'] == p['tools'] and body['tool_choice'] == 'required'
    assert 'ignore_eos' not in body and 'min_tokens' not in body and 'stream_options' not in body
    assert r['expects'] == 'tool_call'
    answer = json.loads(body['messages'][-2]['content'])
    assert answer['name'] in ('lookup', 'close') and isinstance(answer['arguments'], dict)
    named = P.validate(prof(tools=TOOLS, tool_choice='lookup'))
    assert P.session(named, 1, 0)['requests'][0]['body']['tool_choice'] == {'type': 'function',
                                                                            'function': {'name': 'lookup'}}


def test_structured_output_and_completions_bodies():
    p = P.validate(prof(structured_output={'schema': SCHEMA, 'name': 'rec'}, turns=2))
    r = P.session(p, 4, 0, model='m')['requests'][1]
    expected = {'type': 'json_schema', 'json_schema': {'name': 'rec', 'schema': SCHEMA, 'strict': True}}
    assert r['body']['response_format'] == expected
    assert validate(json.loads(r['body']['messages'][-2]['content']), SCHEMA) == []
    c = P.validate(prof(api='completions', shared_prefix={'tokens': 10}, turns=2))
    reqs = P.session(c, 4, 0, model='m')['requests']
    assert reqs[1]['path'] == '/v1/completions' and isinstance(reqs[1]['body']['prompt'], str)
    assert reqs[1]['body']['prompt'].startswith(reqs[0]['body']['prompt'])
    assert 'messages' not in reqs[1]['body']


# -- answer checks -------------------------------------------------------------------------------
def call(name, args):
    return {'role': 'assistant', 'content': None, 'tool_calls': [
        {'id': 'chatcmpl-tool-1', 'type': 'function', 'function': {'name': name, 'arguments': args}}]}


@pytest.mark.parametrize('message,ok,reason', [
    (call('lookup', '{"id": 3}'), True, None),
    (call('lookup', '{}'), True, None),
    ({'role': 'assistant', 'content': 'hello', 'tool_calls': []}, False, 'no tool call in the answer'),
    ({'role': 'assistant', 'content': 'hello'}, False, 'no tool call in the answer'),
    (call('delete', '{}'), False, "names function 'delete', not one of the tools (lookup, close)"),
    (call('lookup', '{"id": '), False, 'arguments are not JSON'),
    (call('lookup', '[1, 2]'), False, 'arguments are JSON but not an object'),
    (call('lookup', ''), False, 'arguments are not JSON'),
])
def test_check_tool_call(message, ok, reason):
    got = P.check_tool_call(message, ['lookup', 'close'])
    assert got[0] is ok
    assert (got[1] is None) if reason is None else (reason in got[1])


@pytest.mark.parametrize('text,ok,reason', [
    ('{"title": "x", "n": 0}', True, None),
    ('{"title": "x", "n": 2, "tag": "b"}', True, None),
    ('{"title": "x"}', False, "required property 'n' is missing"),
    ('{"title": "x", "n": -1}', False, 'must be >= 0'),
    ('{"title": "x", "n": 1, "tag": "c"}', False, "must be one of 'a', 'b'"),
    ('{"title": "x", "n": 1, "extra": 1}', False, "property 'extra' is not allowed"),
    ('{"title": 5, "n": 1}', False, 'expected string'),
    ('[]', False, 'expected object'),
    ('{"title": "x", ', False, 'not JSON'),
    (None, False, 'not JSON'),
])
def test_check_structured(text, ok, reason):
    got = P.check_structured(text, SCHEMA)
    assert got[0] is ok
    assert (got[1] is None) if reason is None else (reason in got[1])


def test_check_answer_by_profile_kind():
    tool = P.validate(prof(tools=TOOLS))
    assert P.check_answer(tool, call('close', '{}')) == (True, None)
    js = P.validate(prof(structured_output={'schema': SCHEMA}))
    assert P.check_answer(js, {'content': '{"title": "t", "n": 1}'}) == (True, None)
    assert P.check_answer(js, '{"n": 1}')[0] is False
    assert P.check_answer(P.validate(prof()), 'any text') == (True, None)


def test_accumulate_streamed_tool_call_deltas():
    acc = {}
    P.accumulate_tool_calls(acc, [{'index': 0, 'id': 'chatcmpl-tool-9', 'type': 'function',
                                   'function': {'name': 'lookup', 'arguments': ''}}])
    P.accumulate_tool_calls(acc, [{'index': 0, 'function': {'arguments': '{"id"'}}])
    P.accumulate_tool_calls(acc, [{'index': 0, 'function': {'arguments': ':7}'}}])
    calls = list(acc.values())
    fn = {'name': 'lookup', 'arguments': '{"id":7}'}
    assert calls == [{'id': 'chatcmpl-tool-9', 'type': 'function', 'function': fn}]
    assert P.check_tool_call({'tool_calls': calls}, ['lookup']) == (True, None)


# -- the JSON Schema subset against the jsonschema library -----------------------------------------
INSTANCES = [{'title': 'x', 'n': 0}, {'title': 'x'}, {'title': 'x', 'n': 1.5}, {'title': 'x', 'n': 2.0},
             {'title': 1, 'n': 1}, {'title': 'x', 'n': 1, 'tag': 'a'}, {'title': 'x', 'n': 1, 'tag': 'z'},
             {'title': 'x', 'n': 1, 'more': True}, [], 'text', None, {'title': 'x', 'n': True}]


def test_subset_validator_agrees_with_the_jsonschema_library():
    jsonschema = pytest.importorskip('jsonschema')
    schemas = [SCHEMA, {'type': 'array', 'items': {'type': 'number', 'maximum': 3}, 'minItems': 1},
               {'type': ['string', 'null'], 'maxLength': 3}, {'type': 'string', 'pattern': '^[0-9]{1,3}$'}]
    schemas += [t['function']['parameters'] for t in P.load_builtin('agentic', BUILTIN_DIR)['tools']]
    schemas.append(P.load_builtin('batch', BUILTIN_DIR)['structured_output']['schema'])
    extra = [[1, 2], [5], [], 'ab', 'abcd', {'query': 'q'}, {'query': 'q', 'top_k': 0}, {'ticket_id': 3},
             {'ticket_id': 3, 'status': 'pending'}, {'ticket_id': 3, 'status': 'gone'},
             {'title': 't', 'category': 'invoice', 'urgent': False}, {'title': 't', 'category': 'x', 'urgent': 1},
             {'query': 'a' * 25}, {'query': ''}, '12', '1234', {'query': 'ok\x11'}, {'ticket_id': 100000}, {'ticket_id': 99999},
             {'title': 'a' * 30, 'category': 'invoice', 'urgent': False}, {'title': 'ok, 12', 'category': 'other',
                                                                           'urgent': True, 'amount': 1000001}]
    for schema in schemas:
        assert check_schema(schema) == []
        jsonschema.Draft7Validator.check_schema(schema)
        for inst in INSTANCES + extra:
            ours = validate(inst, schema) == []
            theirs = jsonschema.Draft7Validator(schema).is_valid(inst)
            assert ours == theirs, (schema, inst)
        assert validate(minimal_instance(schema), schema) == []
