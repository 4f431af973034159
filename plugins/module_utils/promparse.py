# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Prometheus text exposition parser and vLLM counter/histogram deltas (standard library only)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import math


class PromParseError(ValueError):
    pass


# Counters whose before/after difference the gate compares with its own counts.
GEN_TOKENS = 'vllm:generation_tokens_total'
PROMPT_TOKENS = 'vllm:prompt_tokens_total'
REQUEST_SUCCESS = 'vllm:request_success_total'
PREFIX_QUERIES = 'vllm:prefix_cache_queries_total'
PREFIX_HITS = 'vllm:prefix_cache_hits_total'
PREEMPTIONS = 'vllm:num_preemptions_total'
# Histograms (seconds); the first name found wins (vLLM renamed time_per_output_token).
HISTOGRAMS = {
    'ttft': ('vllm:time_to_first_token_seconds',),
    'itl': ('vllm:inter_token_latency_seconds', 'vllm:time_per_output_token_seconds'),
    'e2e': ('vllm:e2e_request_latency_seconds',),
    'queue': ('vllm:request_queue_time_seconds',),
}
# finished_reason values that are not a successful completion.
NOT_SUCCESS = ('abort', 'error')


def _parse_value(text):
    t = text.strip()
    if t in ('+Inf', 'Inf', '+inf', 'inf'):
        return float('inf')
    if t in ('-Inf', '-inf'):
        return float('-inf')
    if t.lower() == 'nan':
        return float('nan')
    return float(t)


def _parse_labels(line, pos):
    """Parse ``{a="b",c="d"}`` starting at line[pos] == '{'; return (labels, index after '}')."""
    labels = {}
    i = pos + 1
    n = len(line)
    while True:
        while i < n and line[i] in ' \t,':
            i += 1
        if i >= n:
            raise PromParseError('unterminated label set')
        if line[i] == '}':
            return labels, i + 1
        eq = line.find('=', i)
        if eq < 0:
            raise PromParseError('label without value')
        name = line[i:eq].strip()
        i = eq + 1
        while i < n and line[i] == ' ':
            i += 1
        if i >= n or line[i] != '"':
            raise PromParseError('label value not quoted')
        i += 1
        out = []
        while True:
            if i >= n:
                raise PromParseError('unterminated label value')
            c = line[i]
            if c == '\\' and i + 1 < n:
                nxt = line[i + 1]
                out.append('\n' if nxt == 'n' else nxt)
                i += 2
                continue
            if c == '"':
                i += 1
                break
            out.append(c)
            i += 1
        labels[name] = ''.join(out)


def parse_text(text):
    """Parse Prometheus (or OpenMetrics) text; return {'samples': [(name, labels, value)], 'types': {...}}."""
    samples = []
    types = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line[0] == '#':
            parts = line.split(None, 3)
            if len(parts) >= 4 and parts[1] == 'TYPE':
                types[parts[2]] = parts[3].strip()
            continue
        brace = line.find('{')
        space = line.find(' ')
        try:
            if brace >= 0 and (space < 0 or brace < space):
                name = line[:brace]
                labels, end = _parse_labels(line, brace)
                rest = line[end:].split()
            else:
                fields = line.split()
                name = fields[0]
                labels = {}
                rest = fields[1:]
            if not rest:
                raise PromParseError('sample without value')
            value = _parse_value(rest[0])
        except (PromParseError, ValueError) as exc:
            raise PromParseError('line %d: %s: %r' % (lineno, exc, raw[:120]))
        samples.append((name, labels, value))
    return {'samples': samples, 'types': types}


def _matches(labels, match):
    if not match:
        return True
    for k, v in match.items():
        if labels.get(k) != v:
            return False
    return True


class Snapshot(object):
    """One scrape of /metrics."""

    def __init__(self, text, t=None):
        parsed = parse_text(text)
        self.samples = parsed['samples']
        self.types = parsed['types']
        self.t = t
        self.names = set(s[0] for s in self.samples)

    def has(self, name):
        return name in self.names

    def model_names(self):
        return sorted(set(s[1]['model_name'] for s in self.samples
                          if s[0].startswith('vllm:') and 'model_name' in s[1]))

    def counter(self, name, match=None, exclude=None):
        """Sum of all samples of ``name`` whose labels match; ``exclude`` = {label: (values)}."""
        total = 0.0
        found = False
        for n, labels, value in self.samples:
            if n != name or not _matches(labels, match):
                continue
            if exclude and any(labels.get(k) in vals for k, vals in exclude.items()):
                continue
            found = True
            total += value
        return total if found else None

    def by_label(self, name, label, match=None):
        out = {}
        for n, labels, value in self.samples:
            if n == name and _matches(labels, match):
                key = labels.get(label, '')
                out[key] = out.get(key, 0.0) + value
        return out

    def histogram(self, name, match=None):
        """Return {'buckets': {le: cumulative}, 'sum': s, 'count': c} summed over label sets, or None."""
        buckets = {}
        total = None
        count = None
        bname = name + '_bucket'
        sname = name + '_sum'
        cname = name + '_count'
        for n, labels, value in self.samples:
            if n == bname and _matches(labels, match):
                le = _parse_value(labels.get('le', '+Inf'))
                buckets[le] = buckets.get(le, 0.0) + value
            elif n == sname and _matches(labels, match):
                total = (total or 0.0) + value
            elif n == cname and _matches(labels, match):
                count = (count or 0.0) + value
        if count is None and not buckets:
            return None
        return {'buckets': buckets, 'sum': total or 0.0, 'count': count or 0.0}


def histogram_delta(before, after):
    if after is None:
        return None
    if before is None:
        before = {'buckets': {}, 'sum': 0.0, 'count': 0.0}
    buckets = {}
    for le, v in after['buckets'].items():
        buckets[le] = v - before['buckets'].get(le, 0.0)
    return {'buckets': buckets, 'sum': after['sum'] - before['sum'], 'count': after['count'] - before['count']}


def histogram_quantile(q, hist):
    """Prometheus-style quantile estimate from cumulative buckets (linear within a bucket)."""
    if not hist or not hist['buckets']:
        return None
    bounds = sorted(hist['buckets'].items())
    total = bounds[-1][1]
    if total <= 0:
        return None
    rank = q * total
    prev_le = 0.0
    prev_count = 0.0
    for le, count in bounds:
        if count >= rank:
            if math.isinf(le):
                return prev_le
            if count == prev_count:
                return le
            return prev_le + (le - prev_le) * (rank - prev_count) / (count - prev_count)
        prev_le = le
        prev_count = count
    return bounds[-1][0]


def histogram_bucket_bound(q, hist):
    """Upper bound (le) of the first bucket whose cumulative count reaches the q-quantile rank."""
    if not hist or not hist['buckets']:
        return None
    bounds = sorted(hist['buckets'].items())
    total = bounds[-1][1]
    if total <= 0:
        return None
    rank = q * total
    for le, count in bounds:
        if count >= rank:
            return le
    return bounds[-1][0]


def _delta(before, after, name, match, exclude=None):
    a = after.counter(name, match, exclude)
    if a is None:
        return None
    b = before.counter(name, match, exclude) if before is not None else None
    return a - (b or 0.0)


def choose_match(snapshot, model):
    """Label filter for one served model, or None when labels do not name models."""
    names = snapshot.model_names()
    if model and model in names:
        return {'model_name': model}
    return None


def vllm_delta(before, after, model=None):
    """Server-side account of what happened between two snapshots.

    Returns a dict with token/request counter deltas (None where a metric is absent),
    histogram-derived latency figures in ms, the prefix-cache hit rate and a ``reset``
    flag when a counter went backwards (server restarted during the run).
    """
    match = choose_match(after, model)
    out = {
        'model_filter': match['model_name'] if match else None,
        'generation_tokens': _delta(before, after, GEN_TOKENS, match),
        'prompt_tokens': _delta(before, after, PROMPT_TOKENS, match),
        'requests_success': _delta(before, after, REQUEST_SUCCESS, match, {'finished_reason': NOT_SUCCESS}),
        'preemptions': _delta(before, after, PREEMPTIONS, match),
        'missing': [],
    }
    reasons_after = after.by_label(REQUEST_SUCCESS, 'finished_reason', match)
    reasons_before = before.by_label(REQUEST_SUCCESS, 'finished_reason', match) if before else {}
    out['requests_by_reason'] = dict((k, v - reasons_before.get(k, 0.0)) for k, v in sorted(reasons_after.items()))
    for key, name in (('generation_tokens', GEN_TOKENS), ('prompt_tokens', PROMPT_TOKENS),
                      ('requests_success', REQUEST_SUCCESS)):
        if out[key] is None:
            out['missing'].append(name)
    out['reset'] = any(v is not None and v < 0 for v in (out['generation_tokens'], out['prompt_tokens'],
                                                         out['requests_success']))
    q = _delta(before, after, PREFIX_QUERIES, match)
    h = _delta(before, after, PREFIX_HITS, match)
    out['prefix_cache_queries'] = q
    out['prefix_cache_hits'] = h
    out['prefix_cache_hit_rate'] = (h / q) if (q and h is not None and q > 0) else None
    latency = {}
    for key, names in HISTOGRAMS.items():
        for name in names:
            ha = after.histogram(name, match)
            if ha is None:
                continue
            d = histogram_delta(before.histogram(name, match) if before else None, ha)
            entry = {'metric': name, 'count': int(round(d['count']))}
            if d['count'] > 0:
                entry['mean_ms'] = 1000.0 * d['sum'] / d['count']
                # Bucket bounds are coarse (vLLM's first E2E bucket is 0.3 s): report the upper bound of
                # the bucket holding each quantile, not an interpolation that looks more exact than it is.
                for qname, qv in (('p50_le_ms', 0.5), ('p95_le_ms', 0.95), ('p99_le_ms', 0.99)):
                    v = histogram_bucket_bound(qv, d)
                    entry[qname] = None if v is None else (None if math.isinf(v) else 1000.0 * v)
            latency[key] = entry
            break
    out['latency'] = latency
    for k in ('generation_tokens', 'prompt_tokens', 'requests_success', 'preemptions', 'prefix_cache_queries',
              'prefix_cache_hits'):
        if out[k] is not None:
            out[k] = int(round(out[k]))
    out['requests_by_reason'] = dict((k, int(round(v))) for k, v in out['requests_by_reason'].items())
    return out


def sum_deltas(deltas):
    """One server-side account from the deltas of several instances (a host behind its front port).

    Counters add up; the prefix-cache hit rate is recomputed from the summed hits and queries;
    histogram-derived latency is kept per instance only (buckets of different instances are not
    merged here).
    """
    if len(deltas) == 1:
        return deltas[0]
    out = {'model_filter': deltas[0].get('model_filter'), 'missing': [], 'reset': False, 'requests_by_reason': {},
           'latency': {}, 'instances': len(deltas)}
    for key in ('generation_tokens', 'prompt_tokens', 'requests_success', 'preemptions', 'prefix_cache_queries',
                'prefix_cache_hits'):
        vals = [d.get(key) for d in deltas]
        out[key] = None if any(v is None for v in vals) else sum(vals)
    for d in deltas:
        out['reset'] = out['reset'] or bool(d.get('reset'))
        for name in d.get('missing') or []:
            if name not in out['missing']:
                out['missing'].append(name)
        for k, v in (d.get('requests_by_reason') or {}).items():
            out['requests_by_reason'][k] = out['requests_by_reason'].get(k, 0) + v
    q, h = out['prefix_cache_queries'], out['prefix_cache_hits']
    out['prefix_cache_hit_rate'] = (float(h) / q) if (q and h is not None) else None
    return out
