# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

import pytest

from ansible_collections.inferops.vllm.plugins.module_utils.gateclient import Gate, GateError
from ansible_collections.inferops.vllm.plugins.module_utils.loadgen import normalize
from ansible_collections.inferops.vllm.plugins.module_utils.loadrecord import status_error as _status_error
from ansible_collections.inferops.vllm.plugins.module_utils.sse import SSEStream, token_gaps


def chunk(ct, text=' a', pt=5, finish=None, usage=True):
    obj = {'id': 'cmpl-1', 'object': 'text_completion', 'created': 1, 'model': 'm',
           'choices': [{'index': 0, 'text': text, 'logprobs': None, 'finish_reason': finish, 'stop_reason': None}]}
    if usage:
        obj['usage'] = {'prompt_tokens': pt, 'total_tokens': pt + ct, 'completion_tokens': ct}
    return b'data: ' + json.dumps(obj, separators=(',', ':')).encode() + b'\n\n'


def final_usage(ct, pt=5):
    return (b'data: {"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[],'
            b'"usage":{"prompt_tokens":%d,"total_tokens":%d,"completion_tokens":%d}}\n\n' % (pt, pt + ct, ct))


def feed_all(stream, pieces):
    """(tokens, source, first token time, last token time, prompt tokens)."""
    for t, data in pieces:
        stream.feed(data, t)
    tokens, source, times, _counts, pt = stream.finish()
    return tokens, source, (times[0] if times else None), (times[-1] if times else None), pt


def test_continuous_usage_times_tokens_by_usage_not_chunks():
    # three events, the second carries 3 tokens (speculative decoding / multi-token chunk)
    body = [(1.0, chunk(1)), (2.0, chunk(4, text=' b c d')), (3.0, chunk(5, finish='length')),
            (3.5, final_usage(5)), (3.5, b'data: [DONE]\n\n')]
    s = SSEStream()
    tokens, source, first, last, pt = feed_all(s, body)
    assert (tokens, source, first, last, pt) == (5, 'usage', 1.0, 3.0, 5)
    assert s.done and s.malformed == 0 and s.events == 4


@pytest.mark.parametrize('size', [1, 3, 17, 10000])
def test_any_split_and_crlf(size):
    raw = (chunk(1) + b': comment\n\n' + chunk(2) + final_usage(2) + b'data: [DONE]\n\n').replace(b'\n', b'\r\n')
    s = SSEStream()
    for i in range(0, len(raw), size):
        s.feed(raw[i:i + size], float(i))
    tokens, source, _t, _c, pt = s.finish()
    assert (tokens, source, pt) == (2, 'usage', 5)
    assert s.done and s.malformed == 0


def test_multiline_data_and_no_space_after_colon():
    payload = json.dumps({'choices': [{'index': 0, 'text': 'x'}],
                          'usage': {'prompt_tokens': 1, 'completion_tokens': 1, 'total_tokens': 2}}, indent=1)
    event = b'event: message\n' + b''.join(b'data:' + line.encode() + b'\n' for line in payload.split('\n')) + b'\n'
    s = SSEStream()
    tokens, source, first, _l, _pt = feed_all(s, [(1.0, event), (2.0, b'data: [DONE]\n\n')])
    assert (tokens, source, first) == (1, 'usage', 1.0)


def test_usage_only_at_the_end_times_tokens_by_content():
    body = [(1.0, chunk(0, usage=False)), (2.0, chunk(0, text=' b', usage=False)),
            (2.5, chunk(0, text='', usage=False)), (3.0, final_usage(2)), (3.0, b'data: [DONE]\n\n')]
    tokens, source, first, last, _pt = feed_all(SSEStream(), body)
    assert (tokens, source, first, last) == (2, 'usage', 1.0, 2.0)


def test_no_usage_falls_back_to_chunk_count():
    body = [(1.0, chunk(0, usage=False)), (2.0, chunk(0, usage=False)), (2.0, b'data: [DONE]\n\n')]
    s = SSEStream()
    tokens, source, _f, _l, pt = feed_all(s, body)
    assert (tokens, source, pt) == (2, 'chunks', None)


def test_malformed_events_are_counted_and_skipped():
    body = [(1.0, chunk(1)), (1.5, b'data: {"id": broken\n\n'), (1.6, b'data: [1, 2]\n\n'),
            (2.0, chunk(2)), (2.5, final_usage(2)), (3.0, b'data: [DONE]\n\n')]
    s = SSEStream()
    tokens, source, _f, last, _pt = feed_all(s, body)
    assert (tokens, source, last) == (2, 'usage', 2.0)
    assert s.malformed == 2


def test_error_event_mid_stream():
    s = SSEStream()
    s.feed(chunk(1), 1.0)
    s.feed(b'data: {"error": {"object": "error", "message": "engine dead", "code": 500}}\n\n', 2.0)
    assert s.error == 'engine dead'
    assert s.partial_tokens() == 1


def test_chat_role_chunk_is_not_a_token():
    role = (b'data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant",'
            b'"content":""},"finish_reason":null}],"usage":{"prompt_tokens":9,"total_tokens":9,"completion_tokens":0}}\n\n')
    tok = (b'data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":" hi"},'
           b'"finish_reason":"length"}],"usage":{"prompt_tokens":9,"total_tokens":10,"completion_tokens":1}}\n\n')
    tokens, _s, first, last, pt = feed_all(SSEStream(), [(1.0, role), (2.0, tok), (2.0, b'data: [DONE]\n\n')])
    assert (tokens, first, last, pt) == (1, 2.0, 2.0, 9)


def test_text_that_looks_like_usage_does_not_fool_the_fast_path():
    s = SSEStream()
    s.feed(chunk(1), 1.0)
    s.feed(chunk(2, text='"completion_tokens": 99'), 2.0)
    assert s.seen == 2


def test_status_errors_say_what_to_do():
    ctx = {'has_auth': True, 'served': ['a', 'b'], 'model': 'c'}
    assert 'rejected the API key' in _status_error(401, '{"error":"Unauthorized"}', ctx)[1]
    assert 'requires an API key' in _status_error(401, '', dict(ctx, has_auth=False))[1]
    kind, msg = _status_error(404, '{"object":"error","message":"The model `c` does not exist."}', ctx)
    assert kind == 'http_404' and 'served models: a, b' in msg and 'does not exist' in msg
    assert _status_error(503, 'busy', ctx) == ('http_503', "HTTP 503 (busy): see the server's log")


def gate(**opts):
    return Gate(normalize(opts))


def test_gate_defaults_and_request_body():
    g = gate(url='http://127.0.0.1:1', model='m', output_tokens=16, seed=3)
    assert g.o['concurrency'] == 16 and g.o['duration_s'] == 60.0
    g.prepare_bodies()
    data = g.make_request('hello "world"')
    head, body = data.split(b'\r\n\r\n', 1)
    assert b'POST /v1/completions HTTP/1.1' in head and b'Content-Length: %d' % len(body) in head
    obj = json.loads(body)
    assert obj == {'prompt': 'hello "world"', 'model': 'm', 'max_tokens': 16, 'min_tokens': 16, 'ignore_eos': True,
                   'stream': True, 'stream_options': {'include_usage': True, 'continuous_usage_stats': True}}
    chat = gate(url='http://127.0.0.1:1', model='m', api='chat', stream=False, mode='open', rate=1.0)
    assert chat.o['concurrency'] is None    # derived from rate x warm-up E2E when the run starts
    chat.prepare_bodies()
    obj = json.loads(chat.make_request('x').split(b'\r\n\r\n', 1)[1])
    assert obj['messages'] == [{'role': 'user', 'content': 'x'}] and 'stream_options' not in obj
    # same seed, same prompts; the default seed is random so runs do not hit the prefix cache
    assert gate(seed=5).make_prompt(20) == gate(seed=5).make_prompt(20)
    assert len(set(gate().seed for _i in range(4))) > 1


def test_gate_rejects_bad_url():
    with pytest.raises(GateError) as exc:
        gate(url='localhost:8000')
    assert 'http://HOST:PORT' in exc.value.message


def test_events_without_blank_lines_yield_no_tokens():
    # a server that separates events with single newlines: one event of several data lines, not JSON
    s = SSEStream()
    s.feed(chunk(1).replace(b'\n\n', b'\n') + chunk(2).replace(b'\n\n', b'\n'), 1.0)
    s.feed(b'\n\n', 2.0)   # what the client appends when the body ends with an unterminated event
    tokens, source, _t, _c, _pt = s.finish()
    assert (tokens, source, s.malformed, s.events) == (0, 'chunks', 1, 1)


def test_usage_on_the_last_content_chunk_keeps_the_first_token_time():
    # a server without continuous usage that puts the usage on its last content chunk
    body = [(1.0, chunk(0, text=' a', usage=False)), (2.0, chunk(0, text=' b', usage=False)),
            (3.0, chunk(3, text=' c', finish='length')), (3.0, b'data: [DONE]\n\n')]
    s = SSEStream()
    tokens, source, first, last, pt = feed_all(s, body)
    assert (tokens, source, first, last, pt) == (3, 'usage', 1.0, 3.0, 5)
    assert s.counts == [1, 1, 1]


def test_multi_token_chunk_is_weighted_in_the_gaps():
    body = [(1.0, chunk(1)), (1.1, chunk(2)), (1.5, chunk(6, text=' b c d e')), (1.5, final_usage(6))]
    s = SSEStream()
    for t, data in body:
        s.feed(data, t)
    _tokens, _source, times, counts, _pt = s.finish()
    gaps = token_gaps(times, counts)
    assert len(gaps) == 5 and gaps[0] == pytest.approx(0.1) and gaps[1:] == [pytest.approx(0.1)] * 4


def test_a_stall_shows_as_one_long_gap():
    times = [0.0, 0.01, 0.02, 1.02, 1.03]
    gaps = token_gaps(times, [1] * 5)
    assert max(gaps) == pytest.approx(1.0) and len(gaps) == 4
