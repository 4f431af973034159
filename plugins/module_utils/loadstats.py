# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Statistics for the throughput gate: percentiles, goodput, the SLO table and its evaluation,
confidence intervals of repeated trials, verdict, cost."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import math

PERCENTILES = (('p50', 0.50), ('p90', 0.90), ('p95', 0.95), ('p99', 0.99), ('p99_9', 0.999))


class Slo(object):
    """One service level objective the gate knows: the single table every copy is checked against."""

    __slots__ = ('name', 'label', 'key', 'direction', 'unit', 'quantile', 'klass', 'per_request', 'description')

    def __init__(self, name, label, key, direction, unit, quantile, klass, per_request, description):
        self.name = name
        self.label = label
        self.key = key
        self.direction = direction
        self.unit = unit
        self.quantile = quantile
        self.klass = klass
        self.per_request = per_request
        self.description = description


# klass decides how a result is read when the client itself was the bottleneck:
#   throughput: a pass is a true lower bound, a miss is inconclusive;
#   latency/goodput: both inconclusive (client delay inflates latency, lighter load deflates it);
#   errors: a miss stands (the server answered errors), a pass is inconclusive (lighter load);
#   accuracy: counting does not depend on client speed, the result stands.
# per_request: the request field a latency SLO also applies to per request, for goodput.
SLOS = (
    Slo('min_output_tokens_per_s', 'output tokens/s', 'output_tokens_per_s', 'min', 'tok/s', None, 'throughput', None,
        'minimum output tokens per second over the measured window (in mode capacity, at capacity)'),
    Slo('min_total_tokens_per_s', 'total tokens/s', 'total_tokens_per_s', 'min', 'tok/s', None, 'throughput', None,
        'minimum prompt + output tokens per second (in mode capacity, at capacity)'),
    Slo('min_requests_per_s', 'requests/s', 'requests_per_s', 'min', 'req/s', None, 'throughput', None,
        'minimum completed requests per second (in mode capacity, at capacity)'),
    Slo('max_ttft_p95_ms', 'TTFT p95', 'ttft_p95_ms', 'max', 'ms', 0.95, 'latency', 'ttft',
        'maximum 95th percentile of time to first token in ms, from the scheduled send time in an open loop '
        '(needs stream); also a per-request goodput criterion'),
    Slo('max_itl_p95_ms', 'ITL p95', 'itl_p95_ms', 'max', 'ms', 0.95, 'latency', None,
        'maximum 95th percentile of inter-token latency in ms, pooled over every gap of every request (needs stream)'),
    Slo('max_tpot_p95_ms', 'TPOT p95', 'tpot_p95_ms', 'max', 'ms', 0.95, 'latency', 'tpot',
        'maximum 95th percentile of time per output token in ms, (E2E - TTFT) / (tokens - 1) per request '
        '(needs stream); also a per-request goodput criterion'),
    Slo('max_e2e_p95_ms', 'E2E latency p95', 'e2e_p95_ms', 'max', 'ms', 0.95, 'latency', 'e2e',
        'maximum 95th percentile of end-to-end request latency in ms; also a per-request goodput criterion'),
    Slo('max_error_rate', 'error rate', 'error_rate', 'max', '', None, 'errors', None,
        'maximum share of requests the server failed (0 to 1); client-side failures make the run inconclusive'),
    Slo('max_token_mismatch', 'client/server count mismatch', 'token_mismatch', 'max', '', None, 'accuracy', None,
        "maximum relative difference between the client's and the server's /metrics counts of output tokens, "
        'prompt tokens and completed requests (0 = exact)'),
    Slo('min_goodput_ratio', 'goodput ratio', 'goodput_ratio', 'min', '', None, 'goodput', None,
        'minimum share of issued requests (failures included) that completed and met every per-request latency SLO'),
)
SLO_OPTIONS = tuple(s.name for s in SLOS)
SLO_BY_NAME = dict((s.name, s) for s in SLOS)
# SLOs with a default value (the gate checks them unless told otherwise)
SLO_DEFAULTS = {'max_error_rate': 0.0, 'max_token_mismatch': 0.0}
LATENCY_SLOS = tuple(s.name for s in SLOS if s.klass == 'latency')


def check_slo_names(slos, where='slos'):
    """Message naming the unknown SLO keys and the known ones, or None."""
    unknown = sorted(k for k in (slos or {}) if k not in SLO_BY_NAME)
    if not unknown:
        return None
    return '%s has unknown SLO %s %s; known SLOs: %s' % (
        where, 'names' if len(unknown) > 1 else 'name', ', '.join(unknown), ', '.join(SLO_OPTIONS))


def percentile(sorted_values, q):
    """Linear interpolation between closest ranks (numpy's default); sorted input."""
    n = len(sorted_values)
    if n == 0:
        return None
    if n == 1:
        return sorted_values[0]
    pos = q * (n - 1)
    lo = int(math.floor(pos))
    hi = min(lo + 1, n - 1)
    frac = pos - lo
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac


def samples_needed(q):
    """Samples for a tail percentile to rest on at least 5 observations at or beyond it."""
    if q is None or q <= 0.5:
        return 10
    return int(math.ceil(5.0 / (1.0 - q) - 1e-9))


def summarize(values, scale=1000.0, digits=3):
    """count/mean/min/p50/p90/p95/p99/p99_9/max of ``values`` (seconds) in ms (``scale``).

    ``few_samples`` lists the percentiles with fewer samples than they need to rest on at least
    five observations at or beyond them (a p99 needs 500): such a figure is shown, not trusted.
    """
    vals = sorted(v * scale for v in values if v is not None)
    out = {'count': len(vals)}
    if not vals:
        for k in ('mean', 'min', 'max'):
            out[k] = None
        for name, _q in PERCENTILES:
            out[name] = None
        out['few_samples'] = []
        return out
    out['mean'] = round(sum(vals) / len(vals), digits)
    out['min'] = round(vals[0], digits)
    out['max'] = round(vals[-1], digits)
    for name, q in PERCENTILES:
        out[name] = round(percentile(vals, q), digits)
    out['few_samples'] = [name for name, q in PERCENTILES if len(vals) < samples_needed(q)]
    return out


def goodput(records, thresholds, issued, window_s):
    """Requests that completed and met every per-request latency SLO set, over the requests issued.

    ``records``: completed requests (objects with ttft/tpot/e2e in seconds and output_tokens);
    ``issued``: every request of the window, failed ones included (they count against goodput).
    """
    active = [(s.name, s.per_request, thresholds[s.name] / 1000.0) for s in SLOS
              if s.per_request and thresholds.get(s.name) is not None]
    good = 0
    good_tokens = 0
    for rec in records:
        ok = True
        for _name, field, limit in active:
            v = getattr(rec, field)
            if v is None or v > limit:
                ok = False
                break
        if ok:
            good += 1
            good_tokens += rec.output_tokens or 0
    return {
        'criteria_ms': dict((name, thresholds[name]) for name, _f, _l in active),
        'good_requests': good,
        'issued_requests': issued,
        'ratio': (good / float(issued)) if issued else None,
        'requests_per_s': (good / window_s) if window_s > 0 else None,
        'output_tokens_per_s': (good_tokens / window_s) if window_s > 0 else None,
    }


# Two-sided 95% quantiles of Student's t for 1..30 degrees of freedom (then the normal's 1.96).
_T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def mean_ci(values, digits=3):
    """Mean and 95% confidence interval (Student's t) of repeated measurements; None values skipped."""
    vals = [float(v) for v in values if v is not None]
    n = len(vals)
    if not n:
        return {'n': 0, 'mean': None, 'ci95': None, 'values': []}
    mean = sum(vals) / n
    if n < 2:
        return {'n': n, 'mean': round(mean, digits), 'ci95': None, 'values': [round(v, digits) for v in vals]}
    var = sum((v - mean) ** 2 for v in vals) / (n - 1)
    half = (_T95[n - 2] if n - 1 <= len(_T95) else 1.96) * math.sqrt(var / n)
    return {'n': n, 'mean': round(mean, digits), 'ci95': [round(mean - half, digits), round(mean + half, digits)],
            'half_width': round(half, digits), 'values': [round(v, digits) for v in vals]}


def _fmt(v, unit=''):
    if v is None:
        return 'n/a'
    if isinstance(v, float):
        if abs(v) >= 100:
            s = '%.1f' % v
        elif abs(v) >= 1:
            s = '%.2f' % v
        else:
            s = '%.4g' % v
    else:
        s = str(v)
    return s + ((' ' + unit) if unit else '')


def evaluate_slos(thresholds, measured, saturated=False, saturation_reason='', strict_samples=True,
                  client_delay_ms=None):
    """Compare measured values with the SLO thresholds that are set.

    ``measured``: metric key -> {'value': number|None, 'samples': int, 'detail': str, 'why': str,
    'ci95': [low, high] (optional, from trials)}. Returns a list of dicts (one per SLO set) with
    status pass|fail|inconclusive and a message. With trials, a pass whose 95% confidence
    interval reaches across the threshold is inconclusive: the next run could as well fail.
    ``strict_samples=False`` (a capacity step): a percentile from too few samples that already
    misses its threshold is a fail (more than 5% of the requests missed it), one that meets it
    stays inconclusive.
    ``client_delay_ms`` (the longest the saturated client itself held anything up, e.g. its worst
    event-loop lag): a latency that misses its threshold by more than that is the server's miss
    and fails even though the client was saturated.
    """
    results = []
    for slo in SLOS:
        thr = thresholds.get(slo.name)
        if thr is None:
            continue
        opt, label, unit, q, klass = slo.name, slo.label, slo.unit, slo.quantile, slo.klass
        m = measured.get(slo.key) or {}
        value = m.get('value')
        samples = m.get('samples', 0) or 0
        detail = m.get('detail') or ('%d samples' % samples)
        res = {'name': opt, 'label': label, 'threshold': thr, 'measured': value, 'samples': samples,
               'unit': unit, 'direction': slo.direction, 'class': klass}
        op = '>=' if slo.direction == 'min' else '<='
        if value is None:
            res['status'] = 'inconclusive'
            res['message'] = '%s: not measured (%s); %s' % (label, m.get('why') or 'no samples', opt)
            results.append(res)
            continue
        need = samples_needed(q) if q is not None else 0
        missed = not (value >= thr if slo.direction == 'min' else value <= thr)
        beyond_client = (missed and klass == 'latency' and client_delay_ms is not None
                         and value > thr + client_delay_ms)
        if q is not None and samples < need and not (missed and not strict_samples and
                                                     (not saturated or beyond_client)):
            res['status'] = 'inconclusive'
            res['few_samples'] = True
            res['message'] = ('%s: only %d samples, a p%d needs at least %d: raise duration_s or num_requests (%s)'
                              % (label, samples, int(round(q * 100)), need, opt))
            results.append(res)
            continue

        def meets(v):
            return v >= thr if slo.direction == 'min' else v <= thr

        met = meets(value)
        if q is not None and samples < need:
            detail += ' (fewer than the %d a p%d needs, but already over the limit)' % (need, int(round(q * 100)))
        ci = m.get('ci95')
        crosses = bool(ci) and met and not (meets(ci[0]) and meets(ci[1]))
        if saturated and not (klass == 'accuracy' or (klass == 'throughput' and met) or (klass == 'errors' and not met)
                              or beyond_client):
            status = 'inconclusive'
        elif crosses:
            status = 'inconclusive'
        else:
            status = 'pass' if met else 'fail'
        res['status'] = status
        text = '%s: measured %s, required %s %s (%s), %s' % (label, _fmt(value, unit), op, _fmt(thr, unit), opt, detail)
        if ci:
            res['ci95'] = ci
            text += ', 95%% interval %s to %s' % (_fmt(ci[0], unit), _fmt(ci[1], unit))
        if status == 'inconclusive':
            if crosses and not saturated:
                text += '; the interval reaches across the threshold: run more trials or a longer window'
            else:
                text += '; not trusted because %s' % (saturation_reason or 'the client was the bottleneck')
        elif status == 'fail' and m.get('why'):
            text += '; %s' % m['why']
        if status == 'fail' and saturated and beyond_client:
            text += ('; the client was saturated (%s) but held requests up by at most %.0f ms, far less than the miss'
                     % (saturation_reason, client_delay_ms))
        res['message'] = text
        results.append(res)
    return results


def verdict(slo_results):
    """pass | fail | inconclusive from SLO results (fail wins over inconclusive)."""
    statuses = [r['status'] for r in slo_results]
    if 'fail' in statuses:
        return 'fail'
    if 'inconclusive' in statuses:
        return 'inconclusive'
    return 'pass'


def cost(host_cost_per_hour, output_tokens_per_s, total_tokens_per_s, basis='capacity'):
    """Cost per 1M output and total tokens of a host at the given rates.

    ``basis`` says which load the rates were measured at: ``capacity`` (the highest rate that met
    every SLO, the figure to compare hosts by) or ``measured load`` (whatever the gate offered).
    """
    if host_cost_per_hour is None:
        return None
    out = {'host_cost_per_hour': host_cost_per_hour, 'per_1m_output_tokens': None, 'per_1m_total_tokens': None,
           'basis': basis}
    if output_tokens_per_s:
        out['per_1m_output_tokens'] = round(host_cost_per_hour / (output_tokens_per_s * 3600.0) * 1e6, 6)
    if total_tokens_per_s:
        out['per_1m_total_tokens'] = round(host_cost_per_hour / (total_tokens_per_s * 3600.0) * 1e6, 6)
    return out


def bounded_difference(server, low, high):
    """Signed distance of ``server`` outside [low, high] (0 inside)."""
    if server < low:
        return server - low
    if server > high:
        return server - high
    return 0
