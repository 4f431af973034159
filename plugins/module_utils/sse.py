# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Server-sent events of one streamed OpenAI completion: token times and the server's usage.

Every event that brings new output tokens is recorded as (arrival time, tokens it carried),
so that TTFT, TPOT and the pooled inter-token latencies can be computed the way
``vllm bench serve`` defines them. Tokens are counted from ``usage`` wherever the server
sends it (on every chunk with ``continuous_usage_stats``, on the last content chunk, or on a
final chunk without choices); a content chunk without usage counts as one token until a
later usage corrects the total.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import re

_CT_RE = re.compile(br'"completion_tokens"\s*:\s*(\d+)')


def error_text(body_text):
    """The human part of an OpenAI/vLLM error body."""
    try:
        obj = json.loads(body_text)
    except ValueError:
        return body_text.strip()[:300]
    if isinstance(obj, dict):
        err = obj.get('error', obj)
        if isinstance(err, dict):
            return str(err.get('message') or err.get('detail') or err)[:300]
        if err is not None and not isinstance(err, dict):
            return str(err)[:300]
        if 'detail' in obj:
            return str(obj['detail'])[:300]
        if 'message' in obj:
            return str(obj['message'])[:300]
    return body_text.strip()[:300]


def _data_of(event):
    """Payload of one SSE event block (lines joined), or None for comments/empty events."""
    data = []
    for line in event.split(b'\n'):
        if line.startswith(b'data:'):
            v = line[5:]
            if v[:1] == b' ':
                v = v[1:]
            data.append(v)
    if not data:
        return None
    return b'\n'.join(data)


def _has_content(choices):
    for c in choices:
        if not isinstance(c, dict):
            continue
        if c.get('text'):
            return True
        delta = c.get('delta')
        if isinstance(delta, dict) and (delta.get('content') or delta.get('reasoning_content')
                                        or delta.get('reasoning') or delta.get('tool_calls')):
            return True
    return False


class SSEStream(object):
    """Sink for one streamed response (``feed(data, t)`` from the HTTP client).

    Fast path: once the stream has shown usage on chunks with choices (continuous usage), an
    event is a JSON object whose ``completion_tokens`` is read with a regex (a quote inside a
    JSON string is always escaped, so the pattern cannot match inside text); other events are
    fully decoded.
    """

    __slots__ = ('buf', 'events', 'seen', 'times', 'counts', 'usage_seen', 'continuous', 'final_ct', 'pt',
                 'last_payload', 'done', 'malformed', 'error')

    def __init__(self):
        self.buf = b''
        self.events = 0
        self.seen = 0            # output tokens timed so far
        self.times = []          # arrival time of each event that brought tokens
        self.counts = []         # tokens each of those events brought
        self.usage_seen = False
        self.continuous = False
        self.final_ct = None
        self.pt = None
        self.last_payload = None
        self.done = False
        self.malformed = 0
        self.error = None

    def feed(self, data, t):
        if self.buf:
            data = self.buf + data
        if b'\r' in data:
            data = data.replace(b'\r\n', b'\n')
        if b'\n\n' not in data:
            self.buf = data
            return
        parts = data.split(b'\n\n')
        self.buf = parts.pop()
        for ev in parts:
            if ev[:6] == b'data: ' and ev.find(b'\n', 6) < 0:
                p = ev[6:]
            else:
                p = _data_of(ev)
                if p is None:
                    continue
            if p == b'[DONE]':
                self.done = True
                continue
            self.events += 1
            if self.continuous and p[:1] == b'{' and p[-1:] == b'}':
                m = _CT_RE.search(p)
                if m is not None and b'"error"' not in p:
                    self._tokens_to(int(m.group(1)), t)
                    self.last_payload = p
                    continue
            self._slow(p, t)

    def _tokens_to(self, ct, t):
        if ct > self.seen:
            self.times.append(t)
            self.counts.append(ct - self.seen)
            self.seen = ct

    def _slow(self, p, t):
        try:
            obj = json.loads(p)
        except ValueError:
            self.malformed += 1
            return
        if not isinstance(obj, dict):
            self.malformed += 1
            return
        self._event(obj, p, t)

    def _event(self, obj, p, t):
        """One decoded event (a dict): its tokens, usage or error."""
        err = obj.get('error')
        if err:
            self.error = error_text(json.dumps(obj))
            return
        choices = obj.get('choices')
        usage = obj.get('usage')
        ct = None
        if isinstance(usage, dict) and isinstance(usage.get('completion_tokens'), int):
            ct = usage['completion_tokens']
            self.usage_seen = True
            if isinstance(usage.get('prompt_tokens'), int):
                self.pt = usage['prompt_tokens']
        if not isinstance(choices, list):
            if ct is None:
                self.malformed += 1
            return
        if not choices:
            if ct is not None:       # the final usage-only chunk: a total, no timing
                self.final_ct = ct
                self.last_payload = None
            return
        if ct is not None:
            # usage on a chunk with choices: continuous usage, or the usage riding on the last
            # content chunk; either way the total so far is exact
            self.continuous = True
            self.last_payload = p
            self._tokens_to(ct, t)
        elif _has_content(choices):
            self._tokens_to(self.seen + 1, t)

    def finish(self):
        """Return (tokens, source, times, counts, prompt_tokens); source usage|chunks."""
        if self.final_ct is None and self.last_payload is not None:
            try:
                obj = json.loads(self.last_payload)
                usage = obj.get('usage') if isinstance(obj, dict) else None
                if isinstance(usage, dict) and isinstance(usage.get('completion_tokens'), int):
                    self.final_ct = usage['completion_tokens']
                    if isinstance(usage.get('prompt_tokens'), int):
                        self.pt = usage['prompt_tokens']
            except ValueError:
                self.malformed += 1
        if self.final_ct is not None:
            return self.final_ct, 'usage', self.times, self.counts, self.pt
        if self.usage_seen:
            return self.seen, 'usage', self.times, self.counts, self.pt
        return self.seen, 'chunks', self.times, self.counts, self.pt

    def partial_tokens(self):
        return self.seen


def token_gaps(times, counts):
    """Inter-token gaps of one stream, token-weighted: a gap that brought k tokens is k gaps of gap/k."""
    out = []
    for i in range(1, len(times)):
        gap = times[i] - times[i - 1]
        k = counts[i]
        if k == 1:
            out.append(gap)
        else:
            out.extend([gap / k] * k)
    return out
