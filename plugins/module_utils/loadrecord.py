# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Accounting of the throughput gate: one record per request, and what the counts add up to.

Latency words are those of ``vllm bench serve``: TTFT from the request's start to its first
token, E2E from its start to its end, TPOT = (E2E - TTFT) / (tokens - 1) per request, ITL every
gap between tokens. In an open loop a request *starts at its scheduled send time*, not when the
client got round to sending it, so a queue the server built (or the in-flight cap) shows in the
latency instead of hiding in the client (coordinated omission).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

from ansible_collections.inferops.vllm.plugins.module_utils.sse import error_text, token_gaps

# Failures after which the server may have generated tokens the client never saw.
MAY_HAVE_GENERATED = ('timeout', 'stall', 'disconnect', 'stream_error', 'bad_response', 'output_length',
                      'client_error')
# Failures caused by the load client itself (its process limits, its own bugs, its own cap):
# they make a run inconclusive, never a server failure.
CLIENT_KINDS = ('client_error', 'client_resources', 'unsent_client')


def error_side(kind):
    return 'client' if kind in CLIENT_KINDS else 'server'


class RequestRecord(object):
    """One request: when it was due, sent, answered, and what it brought."""

    __slots__ = ('scheduled', 'sent', 'first_token', 'end', 'output_tokens', 'prompt_tokens', 'gaps',
                 'error', 'measured', 'turn')

    def __init__(self, scheduled, sent, measured=True):
        self.scheduled = scheduled    # open loop: when the schedule said to send it; closed loop: None
        self.sent = sent
        self.first_token = None
        self.end = None
        self.output_tokens = 0
        self.prompt_tokens = None
        self.gaps = None
        self.error = None             # kind of failure, None when it completed as asked
        self.measured = measured      # False: inside a trimmed warm-up, counted for the cross-check only
        self.turn = None              # workload profiles: the turn of its session (0 = first)

    @property
    def start(self):
        return self.scheduled if self.scheduled is not None else self.sent

    @property
    def ttft(self):
        return None if self.first_token is None else self.first_token - self.start

    @property
    def e2e(self):
        return None if self.end is None else self.end - self.start

    @property
    def tpot(self):
        if self.first_token is None or self.output_tokens < 2:
            return None
        return (self.end - self.first_token) / (self.output_tokens - 1)

    @property
    def lateness(self):
        return None if self.scheduled is None else self.sent - self.scheduled


class Tally(object):
    """Whole-run counts for the cross-check with the server's /metrics (warm-ups of steps included)."""

    def __init__(self, asked):
        self.asked = asked
        self.completed_http = 0       # full 200 responses, OK or not (the server counts them as finished)
        self.http_out_tokens = 0
        self.http_prompt_tokens = 0
        self.partial_tokens = 0       # tokens seen in failed requests
        self.unseen_tokens_max = 0    # tokens a failed request may have generated unseen
        self.maybe_generated = 0      # failed requests the server may have finished
        self.prompt_max = 0
        self.prompt_unknown = 0       # complete responses without usage.prompt_tokens
        self.sent = 0


class Recorder(object):
    """Records of one phase (warm-up, measured run, capacity step) and their failures."""

    def __init__(self, tally):
        self.tally = tally
        self.asked = tally.asked
        self.records = []
        self.errors = {}
        self.examples = {}
        self.sides = {'server': 0, 'client': 0}
        self.sources = {'usage': 0, 'chunks': 0}
        self.malformed_events = 0
        self.missing_done = 0
        self.length_mismatch = 0
        self.consecutive_failures = 0
        self.any_success = False

    # -- views --------------------------------------------------------------------------------
    def measured(self):
        return [r for r in self.records if r.measured]

    def completed(self):
        return [r for r in self.records if r.measured and r.error is None]

    def failed(self):
        return [r for r in self.records if r.measured and r.error is not None]

    # -- accounting ---------------------------------------------------------------------------
    def add(self, record):
        self.records.append(record)
        self.tally.sent += 1

    def fail(self, record, kind, message, partial=0, may_generate=None):
        record.error = kind
        self.consecutive_failures += 1
        side = error_side(kind)
        if record.measured:
            self.errors[kind] = self.errors.get(kind, 0) + 1
            self.sides[side] += 1
            if kind not in self.examples:
                self.examples[kind] = message
        if may_generate is None:
            may_generate = kind in MAY_HAVE_GENERATED or kind.startswith('http_5')
        t = self.tally
        t.partial_tokens += partial or 0
        if may_generate:
            t.maybe_generated += 1
            t.unseen_tokens_max += max(0, self.asked - (partial or 0))

    def ok(self, record):
        self.consecutive_failures = 0
        self.any_success = True


def missing_tool_flags(text):
    """The server flags a vLLM refusal of a tool call names (``"auto" tool choice requires
    --enable-auto-tool-choice and --tool-call-parser to be set``); [] for any other text."""
    text = text or ''
    if 'tool-call-parser' not in text:
        return []
    flags = ['--tool-call-parser <parser>']
    if 'enable-auto-tool-choice' in text:
        flags.insert(0, '--enable-auto-tool-choice')
    return flags


def status_error(status, text, ctx):
    """(kind, message) for a non-200 answer to a completion request."""
    detail = error_text(text)
    if status in (401, 403):
        if ctx.get('has_auth'):
            return 'http_%d' % status, ('the server rejected the API key (HTTP %d): set api_key to the key the vLLM '
                                        'server was started with (--api-key / VLLM_API_KEY)' % status)
        return 'http_%d' % status, ('the server requires an API key (HTTP %d): set api_key (and keep it in a vault)'
                                    % status)
    if status == 404:
        served = ctx.get('served') or []
        return 'http_404', ('HTTP 404 (%s): model %r is not served here; served models: %s: set model to one of them'
                            % (detail, ctx.get('model'), ', '.join(served) or 'unknown'))
    if status == 400 and 'tool-call-parser' in (detail or ''):
        return 'http_400', ('HTTP 400 (%s): the server has no tool-call parser, so it refuses tool calls: start vLLM '
                            'with %s (the server role sets them from server_tool_call_family)'
                            % (detail, ' '.join(missing_tool_flags(detail))))
    if status == 400:
        return 'http_400', ('HTTP 400 (%s): the server refused the request; check prompt_tokens + output_tokens '
                            'against max_model_len and that the server is vLLM (ignore_eos, min_tokens)' % detail)
    if status == 429:
        return 'http_429', 'HTTP 429 (%s): the server or a proxy rate-limits this client' % detail
    return 'http_%d' % status, "HTTP %d (%s): see the server's log" % (status, detail or 'no body')


def record_response(rec, record, resp, sink, t_end, ctx, asked=None):
    """Account one HTTP answer (streamed through ``sink`` or a JSON body) into ``record`` and ``rec``.

    ``asked``: the output tokens this request forced (default: the run's); 0 when its answer may end
    where it ends (a workload profile's tool call or JSON document), so its length is not checked.
    """
    record.end = t_end
    if resp.status != 200:
        kind, msg = status_error(resp.status, resp.text(), ctx)
        rec.fail(record, kind, msg)
        return
    if asked is None:
        asked = rec.asked
    times = counts = None
    if sink is not None:
        if sink.buf.strip():
            sink.feed(b'\n\n', t_end)
        tokens, source, times, counts, pt = sink.finish()
        rec.malformed_events += sink.malformed
        if sink.error:
            rec.fail(record, 'stream_error', "error event in the stream: %s: see the server's log" % sink.error,
                     sink.partial_tokens())
            return
        if not sink.done:
            rec.missing_done += 1
        if source == 'chunks' and tokens == 0:
            if sink.events == 0:
                rec.fail(record, 'bad_response', 'HTTP 200 but no SSE events in the body: is this an '
                                                 'OpenAI-compatible streaming endpoint?')
            else:
                rec.fail(record, 'bad_response', 'HTTP 200 but neither usage nor tokens could be read from %d SSE '
                                                 'events (%d not valid JSON)' % (sink.events, sink.malformed))
            return
    else:
        try:
            obj = json.loads(resp.body.decode('utf-8'))
            usage = obj.get('usage') or {}
            tokens = int(usage['completion_tokens'])
            pt = usage.get('prompt_tokens')
            source = 'usage'
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
            rec.fail(record, 'bad_response', 'HTTP 200 without a JSON body carrying usage.completion_tokens: %s'
                     % resp.text(200))
            return
    t = rec.tally
    t.completed_http += 1
    t.http_out_tokens += tokens
    if isinstance(pt, int):
        t.http_prompt_tokens += pt
        t.prompt_max = max(t.prompt_max, pt)
    else:
        t.prompt_unknown += 1
    rec.sources[source] += 1
    record.output_tokens = tokens
    record.prompt_tokens = pt if isinstance(pt, int) else None
    if source == 'usage' and asked and tokens != asked:
        rec.length_mismatch += 1
        rec.fail(record, 'output_length', 'usage.completion_tokens %d where %d were asked: the server did not honour '
                 'ignore_eos/min_tokens (use vLLM, or a proxy that passes these fields)' % (tokens, asked),
                 0, may_generate=False)  # its tokens are already counted as complete
        return
    if times:
        record.first_token = times[0]
        record.gaps = token_gaps(times, counts)
    rec.ok(record)
