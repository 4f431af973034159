# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fake vLLM server's workload-profile features, read back with the profiles' own checks: tool
calls (streamed as vLLM streams them), response_format JSON, the invalid-output switch and the
session keys it records."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import http.client
import json
import os
import sys

import pytest

from ansible_collections.inferops.vllm.plugins.module_utils import profiles as P

SUPPORT = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..', 'support'))
sys.path.insert(0, SUPPORT)
from fake_openai_server import http_json, running  # noqa: E402  pylint: disable=wrong-import-position

MODEL = 'tiny-llama'
TOOLS = [{'type': 'function', 'function': {'name': 'get_ticket', 'parameters': {
    'type': 'object', 'properties': {'ticket_id': {'type': 'integer', 'minimum': 1},
                                     'status': {'type': 'string', 'enum': ['open', 'solved']}},
    'required': ['ticket_id', 'status']}}},
    {'type': 'function', 'function': {'name': 'search', 'parameters': {
        'type': 'object', 'properties': {'query': {'type': 'string', 'minLength': 3}}, 'required': ['query']}}}]
SCHEMA = {'type': 'object', 'properties': {'title': {'type': 'string'}, 'n': {'type': 'integer', 'minimum': 2},
                                           'tags': {'type': 'array', 'items': {'type': 'string'}, 'minItems': 1}},
          'required': ['title', 'n', 'tags'], 'additionalProperties': False}


fake = running  # one FakeServer on a thread per test, stopped on exit


def body(stream=False, max_tokens=64, **extra):
    obj = {'model': MODEL, 'messages': [{'role': 'user', 'content': 'find my ticket'}], 'max_tokens': max_tokens,
           'stream': stream}
    if stream:
        obj['stream_options'] = {'include_usage': True}
    obj.update(extra)
    return obj


def post(url, obj, headers=None):
    """POST a chat request; returns (answer or SSE events, response status)."""
    host, port = url.split('://', 1)[1].rsplit(':', 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        h = {'Content-Type': 'application/json'}
        h.update(headers or {})
        conn.request('POST', '/v1/chat/completions', json.dumps(obj).encode('utf-8'), h)
        resp = conn.getresponse()
        data = resp.read().decode('utf-8')
    finally:
        conn.close()
    if obj.get('stream'):
        return [json.loads(ln[6:]) for ln in data.split('\n') if ln.startswith('data: ') and ln != 'data: [DONE]'], \
            resp.status
    return json.loads(data), resp.status


def streamed_message(events):
    """(message rebuilt from the deltas, finish_reason, usage) of a streamed chat answer."""
    acc = {}
    content = ''
    finish = usage = None
    for ev in events:
        if ev.get('usage') and not ev['choices']:
            usage = ev['usage']
        for ch in ev['choices']:
            delta = ch.get('delta') or {}
            content += delta.get('content') or ''
            P.accumulate_tool_calls(acc, delta.get('tool_calls'))
            finish = ch.get('finish_reason') or finish
    return {'content': content, 'tool_calls': list(acc.values())}, finish, usage


@pytest.mark.parametrize('stream', [False, True])
def test_tools_get_a_valid_tool_call_of_the_first_tool(stream):
    with fake() as srv:
        ans, status = post(srv.url, body(stream, tools=TOOLS))
        assert status == 200
        if stream:
            msg, finish, usage = streamed_message(ans)
            # vLLM's stream: the first tool delta carries id, type and the name, later ones fragments
            tool_deltas = [ch['delta']['tool_calls'][0] for ev in ans for ch in ev['choices']
                           if ch.get('delta', {}).get('tool_calls')]
            assert tool_deltas[0]['id'].startswith('chatcmpl-tool-') and tool_deltas[0]['type'] == 'function'
            assert tool_deltas[0]['function'] == {'name': 'get_ticket', 'arguments': ''}
            assert all(set(d) == {'index', 'function'} for d in tool_deltas[1:]) and len(tool_deltas) > 2
            assert usage['completion_tokens'] == len(tool_deltas)
        else:
            msg = ans['choices'][0]['message']
            finish = ans['choices'][0]['finish_reason']
        assert finish == 'tool_calls'
        assert P.check_tool_call(msg, ['get_ticket', 'search']) == (True, None)
        assert json.loads(msg['tool_calls'][0]['function']['arguments']) == {'ticket_id': 1, 'status': 'open'}
        assert http_json(srv.url, 'GET', '/_admin/stats')[1]['tool_call_requests'] == 1


def test_named_tool_choice_and_none():
    with fake() as srv:
        ans, _s = post(srv.url, body(tools=TOOLS, tool_choice={'type': 'function', 'function': {'name': 'search'}}))
        ch = ans['choices'][0]
        assert ch['finish_reason'] == 'stop'        # vLLM: "stop" for a named tool choice
        assert json.loads(ch['message']['tool_calls'][0]['function']['arguments']) == {'query': 'aaa'}
        ans, _s = post(srv.url, body(tools=TOOLS, tool_choice='none', max_tokens=5, ignore_eos=True))
        ch = ans['choices'][0]
        assert ch['message']['tool_calls'] == [] and len(ch['message']['content'].split()) == 5
        assert P.check_tool_call(ch['message'], ['search'])[0] is False


def test_a_tool_call_cut_short_by_max_tokens_is_length_and_invalid():
    with fake() as srv:
        msg, finish, _u = streamed_message(post(srv.url, body(True, max_tokens=3, tools=TOOLS))[0])
        assert finish == 'length'
        ok, reason = P.check_tool_call(msg, ['get_ticket'])
        assert not ok and 'not JSON' in reason


@pytest.mark.parametrize('stream', [False, True])
def test_response_format_gets_a_schema_valid_document(stream):
    rf = {'type': 'json_schema', 'json_schema': {'name': 'rec', 'schema': SCHEMA}}
    with fake() as srv:
        ans, _s = post(srv.url, body(stream, response_format=rf))
        if stream:
            msg, finish, usage = streamed_message(ans)
            assert usage['completion_tokens'] == len([1 for ev in ans for ch in ev['choices']
                                                      if ch['delta'].get('content')])
        else:
            msg, finish = ans['choices'][0]['message'], ans['choices'][0]['finish_reason']
        assert finish == 'stop'
        assert P.check_structured(msg['content'], SCHEMA) == (True, None)
        assert json.loads(msg['content']) == {'title': 'a', 'n': 2, 'tags': ['a']}
        assert http_json(srv.url, 'GET', '/_admin/stats')[1]['structured_requests'] == 1


def test_invalid_output_switch_makes_answers_fail_the_checks():
    rf = {'type': 'json_schema', 'json_schema': {'name': 'rec', 'schema': SCHEMA}}
    with fake(invalid_output_rate=1.0) as srv:
        ans, _s = post(srv.url, body(response_format=rf))
        ok, reason = P.check_structured(ans['choices'][0]['message']['content'], SCHEMA)
        assert not ok and 'expected object' in reason
        msg, _f, _u = streamed_message(post(srv.url, body(True, tools=TOOLS))[0])
        ok, reason = P.check_tool_call(msg, ['get_ticket', 'search'])
        assert not ok and 'not JSON' in reason
        assert http_json(srv.url, 'GET', '/_admin/stats')[1]['invalid_outputs'] == 2
        # switched off live, the next answer is valid again
        http_json(srv.url, 'POST', '/_admin/config', {'invalid_output_rate': 0.0})
        ans, _s = post(srv.url, body(response_format=rf))
        assert P.check_structured(ans['choices'][0]['message']['content'], SCHEMA)[0] is True


def test_session_keys_are_recorded_header_first():
    with fake() as srv:
        post(srv.url, body(user='u-1'), {'x-session-id': 's-1'})
        post(srv.url, body(user='u-1'), {'x-session-id': 's-1'})
        post(srv.url, body(user='u-2'))
        post(srv.url, body())
        st = http_json(srv.url, 'GET', '/_admin/stats')[1]
        assert st['sessions'] == {'s-1': 2, 'u-2': 1}
        assert st['session_log'] == [['s-1', 'u-1'], ['s-1', 'u-1'], [None, 'u-2'], [None, None]]


def test_a_generated_agentic_session_round_trips_through_the_fake_server():
    p = P.validate({'name': 'ag', 'input_tokens': 8, 'output_tokens': {'kind': 'uniform', 'min': 30, 'max': 80},
                    'turns': 3, 'shared_prefix': {'tokens': 20}, 'tools': TOOLS})
    s = P.session(p, 3, 0, model=MODEL)
    with fake() as srv:
        for req in s['requests']:
            events, status = post(srv.url, req['body'], req['headers'])
            assert status == 200
            msg, finish, _u = streamed_message(events)
            assert P.check_answer(p, msg) == (True, None) and finish == 'tool_calls'
        st = http_json(srv.url, 'GET', '/_admin/stats')[1]
        assert st['sessions'] == {s['key']: 3}


def test_without_tool_parser_tool_calls_get_vllms_refusal():
    with fake(tool_parser=False) as srv:
        ans, status = post(srv.url, body(tools=TOOLS, tool_choice='required'))
        assert status == 400 and ans['message'] == 'tool_choice="required" requires --tool-call-parser to be set'
        ans, status = post(srv.url, body(tools=TOOLS, tool_choice='auto'))
        assert status == 400
        assert ans['message'] == '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'
        ans, status = post(srv.url, body(tools=TOOLS, tool_choice={'type': 'function', 'function': {'name': 'search'}}))
        assert status == 400 and ans['message'] == 'tool_choice=function "search" requires --tool-call-parser to be set'
        # tool_choice none, and no tools at all, are served
        assert post(srv.url, body(tools=TOOLS, tool_choice='none'))[1] == 200
        assert post(srv.url, body())[1] == 200


def _prefix_counters(srv):
    conn = http.client.HTTPConnection('127.0.0.1', int(srv.url.rsplit(':', 1)[1]), timeout=10)
    try:
        conn.request('GET', '/metrics')
        text = conn.getresponse().read().decode('utf-8')
    finally:
        conn.close()
    out = {}
    for ln in text.splitlines():
        for name in ('vllm:prefix_cache_queries_total', 'vllm:prefix_cache_hits_total'):
            if ln.startswith(name + '{'):
                out[name.split(':')[1]] = float(ln.rsplit(' ', 1)[1])
    return out


def test_prefix_cache_counts_leading_blocks_seen_before():
    shared = ' '.join('w%d' % i for i in range(165))      # 10 whole blocks of 16 words (tokens), 5 words more
    with fake(prefix_cache=True) as srv:
        post(srv.url, body(messages=[{'role': 'user', 'content': shared + ' first question'}]))
        first = _prefix_counters(srv)
        assert first['prefix_cache_hits_total'] == 0 and first['prefix_cache_queries_total'] > 0
        post(srv.url, body(messages=[{'role': 'user', 'content': shared + ' another one'}]))
        second = _prefix_counters(srv)
        # the 10 shared blocks; the 11th mixes shared and new words, so it misses
        assert second['prefix_cache_hits_total'] == 160
    with fake() as srv:                   # off by default: hits stay 0
        post(srv.url, body(messages=[{'role': 'user', 'content': shared}]))
        post(srv.url, body(messages=[{'role': 'user', 'content': shared}]))
        assert _prefix_counters(srv)['prefix_cache_hits_total'] == 0
