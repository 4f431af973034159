# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The gate driving a workload profile: sessions of requests built by profiles.py, answers checked.

One unit of the schedulers (loadsched.Phase) is a *session*: its turns run in order, each sent
after the previous answer plus its think time, carrying the earlier turns with the real answers
(chat API; completions keep the generator's stand-ins). For a single-turn profile a session is
one request. So with a profile, ``concurrency`` is sessions in flight (closed loop), ``rate`` and
the capacity found are sessions per second (open loop, capacity), ``num_requests`` is sessions.

Every turn is one RequestRecord (``turn`` set). An answer that is not what the profile expects (no
tool call, tool arguments that are not a JSON object, a document that does not match the
``response_format`` schema) fails its record with the error kind ``invalid_output``: a server-side
error, so it counts in the error rate and against goodput, while its tokens stay counted for the
cross-check (the server did finish the request). The session key goes in the ``x-session-id``
header and the body's ``user`` field, so a front port can keep a session on one instance.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import asyncio
import json
import time

from ansible_collections.inferops.vllm.plugins.module_utils import loadstats, profiles
from ansible_collections.inferops.vllm.plugins.module_utils.httpclient import HttpError
from ansible_collections.inferops.vllm.plugins.module_utils.lengthdist import LengthDist
from ansible_collections.inferops.vllm.plugins.module_utils.loadrecord import RequestRecord, record_response
from ansible_collections.inferops.vllm.plugins.module_utils.sse import SSEStream

_perf = time.perf_counter
INVALID = 'invalid_output'


class AnswerStream(SSEStream):
    """An SSEStream that also keeps the answer: content text and tool calls.

    Every event is decoded (the regex fast path of SSEStream stays off): only profile runs that
    check answers pay for it. ``answer()`` is {'content', 'tool_calls'} (chat) or the text.
    """

    __slots__ = ('parts', 'calls', 'chat')

    def __init__(self, chat=True):
        super(AnswerStream, self).__init__()
        self.parts = []
        self.calls = {}
        self.chat = chat

    def _event(self, obj, p, t):
        for c in obj.get('choices') or []:
            if not isinstance(c, dict):
                continue
            if c.get('text'):
                self.parts.append(c['text'])
            delta = c.get('delta')
            if isinstance(delta, dict):
                if delta.get('content'):
                    self.parts.append(delta['content'])
                if isinstance(delta.get('tool_calls'), list):
                    profiles.accumulate_tool_calls(self.calls, [d for d in delta['tool_calls'] if isinstance(d, dict)])
        super(AnswerStream, self)._event(obj, p, t)
        self.continuous = False

    def answer(self):
        text = ''.join(self.parts)
        if not self.chat:
            return text
        return {'content': text, 'tool_calls': [self.calls[i] for i in sorted(self.calls)]}


def body_answer(body, chat):
    """The answer of a non-streamed response body (bytes)."""
    try:
        choice = json.loads(body.decode('utf-8'))['choices'][0]
    except (ValueError, KeyError, IndexError, TypeError, AttributeError, UnicodeDecodeError):
        return {'content': None, 'tool_calls': []} if chat else ''
    if chat:
        msg = choice.get('message') or {}
        return {'content': msg.get('content'), 'tool_calls': msg.get('tool_calls') or []}
    return choice.get('text') or ''


def history_text(answer):
    """How a real answer stands in the next turns' history: its text, or its tool call as JSON
    ({name, arguments}, the form of profiles.placeholder_answer)."""
    if not isinstance(answer, dict):
        return answer
    calls = answer.get('tool_calls') or []
    if calls:
        fn = calls[0].get('function') or {}
        try:
            args = json.loads(fn.get('arguments') or '')
        except ValueError:
            args = fn.get('arguments')
        return json.dumps({'name': fn.get('name'), 'arguments': args})
    return answer.get('content') or ''


def with_answers(body, answers):
    """``body`` (a chat turn) with the earlier turns' stand-in answers replaced by the real ones."""
    msgs = body.get('messages')
    if not msgs or not answers:
        return body
    off = 1 if msgs[0].get('role') == 'system' else 0
    out = [dict(m) for m in msgs]
    for i, ans in enumerate(answers):
        j = off + 2 * i + 1
        if ans is not None and j < len(out) and out[j].get('role') == 'assistant':
            out[j]['content'] = history_text(ans)
    return dict(body, messages=out)


def tool_parsing_refused(profile, url, message):
    """The gate's refusal of a tool profile against a server without tool parsing (its warm-up's answer)."""
    choice = profile['tool_choice']
    flags = '--enable-auto-tool-choice --tool-call-parser <parser>' if choice == 'auto' else \
        '--tool-call-parser <parser> (and --enable-auto-tool-choice for tool_choice auto)'
    return ("profile '%s' sends tools with tool_choice %r, but the server at %s was started without tool parsing: "
            "missing server flag %s. It answered: %s. Start vLLM with %s, the parser of the model's family (the "
            "server role: server_tool_call_family), or run a profile without tools"
            % (profile['name'], choice, url, '--tool-call-parser' if choice != 'auto' else
               '--enable-auto-tool-choice / --tool-call-parser', message, flags))


class ProfileDriver(object):
    """Sends a validated profile's sessions through a Gate (its pools, seed, model, options)."""

    def __init__(self, gate, profile):
        self.gate = gate
        self.p = profile
        self.expects = profiles.expects(profile)
        self.chat = profile['api'] == 'chat'
        self.next_index = 0
        self.tokens_per_word = 1.0
        self.max_output = LengthDist(profile['output_tokens'], checked=True).max_value
        self.mean_turns = (profile['turns']['min'] + profile['turns']['max']) / 2.0
        # the answer is read only where it is checked or carried into a later turn; otherwise the
        # stream goes through SSEStream's fast path, as without a profile
        self.keep_answer = self.expects != 'text' or (self.chat and profile['turns']['max'] > 1)
        self._prefixes = {}

    def session_s(self, e2e_s):
        """How long the longest session lasts when each turn takes ``e2e_s`` (sizes an open loop's in-flight cap)."""
        turns = self.p['turns']['max']
        return turns * e2e_s + (turns - 1) * self.p['think_time_s']['max']

    def _request_bytes(self, pool_i, req, body):
        key = (pool_i, req['path'])
        if key not in self._prefixes:
            accept = 'text/event-stream' if self.gate.o['stream'] else 'application/json'
            pre = self.gate.endpoints[pool_i].request_prefix('POST', req['path'], accept=accept)
            cut = pre.rfind(b'Content-Type: ')
            self._prefixes[key] = (pre[:cut], pre[cut:])
        head, tail = self._prefixes[key]
        extra = b''.join(('%s: %s\r\n' % kv).encode('utf-8') for kv in sorted(req['headers'].items()))
        data = json.dumps(body, separators=(',', ':')).encode('utf-8')
        return head + extra + tail + str(len(data)).encode('ascii') + b'\r\n\r\n' + data

    def sender(self, rec, first_turn_only=False):
        """The coroutine a Phase calls for its unit ``index``: one whole session (its first turn
        into ``record``, later turns into new records)."""
        gate = self.gate
        o = gate.o
        ctx = gate.ctx()

        async def send(record, _index):
            i = self.next_index
            self.next_index += 1
            sess = profiles.session(self.p, gate.seed, i, model=gate.model, stream=o['stream'],
                                    tokens_per_word=self.tokens_per_word)
            reqs = sess['requests'][:1] if first_turn_only else sess['requests']
            pool_i = i % len(gate.pools)     # every turn of a session to the same endpoint
            answers = []
            for t, req in enumerate(reqs):
                if t:
                    await asyncio.sleep(req['delay_s'])
                    record = RequestRecord(None, _perf(), record.measured)
                    rec.add(record)
                record.turn = t
                body = with_answers(req['body'], answers) if self.chat else req['body']
                answer = await self._one(rec, record, ctx, pool_i, req, body, sess['key'])
                if record.error is not None and record.error != INVALID:
                    break            # the server failed this turn: the session cannot go on
                answers.append(answer)
        return send

    async def _one(self, rec, record, ctx, pool_i, req, body, key):
        gate = self.gate
        stream = gate.o['stream']
        data = self._request_bytes(pool_i, req, body)
        if not stream:
            sink = None
        elif self.keep_answer:
            sink = AnswerStream(self.chat)
        else:
            sink = SSEStream()
        try:
            resp = await gate.pools[pool_i].request(data, sink, gate.timeout)
            record_response(rec, record, resp, sink, _perf(), ctx,
                            asked=req['max_tokens'] if self.p['ignore_eos'] else 0)
        except HttpError as exc:
            record.end = _perf()
            partial = sink.partial_tokens() if sink is not None else 0
            msg = exc.message
            if exc.kind == 'timeout':
                msg = ('no complete response within request_timeout_s=%s (%d tokens received): raise '
                       'request_timeout_s, or find out why the server stalls' % (gate.o['request_timeout_s'], partial))
            rec.fail(record, exc.kind, msg, partial)
            return None
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # pylint: disable=broad-except
            record.end = _perf()
            rec.fail(record, 'client_error', 'unexpected client error: %r' % (exc,))
            return None
        if record.error is not None:
            return None
        if not self.keep_answer:
            return None
        answer = sink.answer() if sink is not None else body_answer(resp.body, self.chat)
        ok, why = profiles.check_answer(self.p, answer)
        if not ok:
            # the server finished it (its tokens stay counted for the cross-check), but the answer is unusable
            msg = ('profile %r expects a %s: %s (session %s, turn %d); a tool profile needs a server started with '
                   '--enable-auto-tool-choice --tool-call-parser, structured output a guided-decoding backend'
                   % (self.p['name'], self.expects.replace('_', ' '), why, key, record.turn))
            rec.fail(record, INVALID, msg, 0, may_generate=False)
            return None
        return answer

    def summary(self, figs, records):
        """The ``profile`` part of the result: answer checks and first vs later turn TTFT."""
        req = (figs or {}).get('requests') or {}
        invalid = (req.get('errors') or {}).get(INVALID, 0)
        completed = req.get('completed') or 0
        checked = self.expects != 'text'
        first = [r.ttft for r in records if r.turn == 0]
        later = [r.ttft for r in records if r.turn is not None and r.turn > 0]
        out = {
            'name': self.p['name'], 'kind': self.p['kind'], 'api': self.p['api'], 'expects': self.expects,
            'answers_checked': completed + invalid if checked else 0,
            'valid_rate': round(completed / float(completed + invalid), 6) if checked and completed + invalid else None,
            'invalid_output': invalid,
            'invalid_example': (req.get('error_examples') or {}).get(INVALID),
            'sessions_started': self.next_index,
            'turns': dict(self.p['turns']), 'think_time_s': dict(self.p['think_time_s']),
            'shared_prefix': dict(self.p['shared_prefix']),
            'arrival': profiles.gate_arrival(self.p),
            'rate_unit': 'sessions_per_s',
            'ttft_ms': {'first_turns': _short(loadstats.summarize(first)),
                        'later_turns': _short(loadstats.summarize(later))},
        }
        return out


def _short(s):
    return dict((k, s.get(k)) for k in ('count', 'p50', 'p95', 'mean'))
