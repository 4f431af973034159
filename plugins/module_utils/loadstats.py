# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Statistics for the throughput gate: percentiles, goodput, SLO evaluation, verdict, cost."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import math

PERCENTILES = (('p50', 0.50), ('p90', 0.90), ('p95', 0.95), ('p99', 0.99))

# option -> (label, metric key, direction, unit, quantile, class)
#   class decides how a result is read when the client itself was the bottleneck:
#   throughput: a pass is a true lower bound, a miss is inconclusive;
#   latency/goodput: both inconclusive (client delay inflates latency, lighter load deflates it);
#   errors: a miss stands (the server answered errors), a pass is inconclusive (lighter load);
#   accuracy: counting does not depend on client speed, the result stands.
SLOS = (
    ('min_output_tokens_per_s', 'output tokens/s', 'output_tokens_per_s', 'min', 'tok/s', None, 'throughput'),
    ('min_total_tokens_per_s', 'total tokens/s', 'total_tokens_per_s', 'min', 'tok/s', None, 'throughput'),
    ('min_requests_per_s', 'requests/s', 'requests_per_s', 'min', 'req/s', None, 'throughput'),
    ('max_ttft_p95_ms', 'TTFT p95', 'ttft_p95_ms', 'max', 'ms', 0.95, 'latency'),
    ('max_itl_p95_ms', 'ITL p95', 'itl_p95_ms', 'max', 'ms', 0.95, 'latency'),
    ('max_tpot_p95_ms', 'TPOT p95', 'tpot_p95_ms', 'max', 'ms', 0.95, 'latency'),
    ('max_e2e_p95_ms', 'E2E latency p95', 'e2e_p95_ms', 'max', 'ms', 0.95, 'latency'),
    ('max_error_rate', 'error rate', 'error_rate', 'max', '', None, 'errors'),
    ('max_token_mismatch', 'client/server count mismatch', 'token_mismatch', 'max', '', None, 'accuracy'),
    ('min_goodput_ratio', 'goodput ratio', 'goodput_ratio', 'min', '', None, 'goodput'),
)
SLO_OPTIONS = tuple(s[0] for s in SLOS)
# per-request latency thresholds used for goodput: option -> per-request field
GOODPUT_FIELDS = (('max_ttft_p95_ms', 'ttft'), ('max_itl_p95_ms', 'itl'),
                  ('max_tpot_p95_ms', 'tpot'), ('max_e2e_p95_ms', 'e2e'))


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
    """count/mean/min/p50/p90/p95/p99/max of ``values`` (seconds) in ms (``scale``)."""
    vals = sorted(v * scale for v in values if v is not None)
    out = {'count': len(vals)}
    if not vals:
        for k in ('mean', 'min', 'max'):
            out[k] = None
        for name, _q in PERCENTILES:
            out[name] = None
        return out
    out['mean'] = round(sum(vals) / len(vals), digits)
    out['min'] = round(vals[0], digits)
    out['max'] = round(vals[-1], digits)
    for name, q in PERCENTILES:
        out[name] = round(percentile(vals, q), digits)
    return out


def goodput(rows, thresholds, window_s):
    """Requests meeting every per-request latency threshold that is set.

    ``rows``: per completed request dicts/tuples with keys ttft, itl, tpot, e2e (seconds or
    None) and out (tokens). ``thresholds``: option -> ms (None = not set).
    """
    active = [(field, thresholds[opt] / 1000.0) for opt, field in GOODPUT_FIELDS
              if thresholds.get(opt) is not None]
    good = 0
    good_tokens = 0
    for row in rows:
        ok = True
        for field, limit in active:
            v = row.get(field)
            if v is None or v > limit:
                ok = False
                break
        if ok:
            good += 1
            good_tokens += row.get('out') or 0
    n = len(rows)
    return {
        'criteria_ms': dict((opt, thresholds[opt]) for opt, _f in GOODPUT_FIELDS if thresholds.get(opt) is not None),
        'good_requests': good,
        'completed_requests': n,
        'ratio': (good / n) if n else None,
        'requests_per_s': (good / window_s) if window_s > 0 else None,
        'output_tokens_per_s': (good_tokens / window_s) if window_s > 0 else None,
    }


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


def evaluate_slos(thresholds, measured, saturated=False, saturation_reason=''):
    """Compare measured values with the SLO thresholds that are set.

    ``measured``: metric key -> {'value': number|None, 'samples': int, 'detail': str, 'why': str}
    Returns a list of dicts (one per SLO set) with status pass|fail|inconclusive and a message.
    """
    results = []
    for opt, label, key, direction, unit, q, klass in SLOS:
        thr = thresholds.get(opt)
        if thr is None:
            continue
        m = measured.get(key) or {}
        value = m.get('value')
        samples = m.get('samples', 0) or 0
        detail = m.get('detail') or ('%d samples' % samples)
        res = {'name': opt, 'label': label, 'threshold': thr, 'measured': value, 'samples': samples,
               'unit': unit, 'direction': direction, 'class': klass}
        op = '>=' if direction == 'min' else '<='
        if value is None:
            res['status'] = 'inconclusive'
            res['message'] = '%s: not measured (%s); %s' % (label, m.get('why') or 'no samples', opt)
            results.append(res)
            continue
        need = samples_needed(q) if q is not None else 0
        if q is not None and samples < need:
            res['status'] = 'inconclusive'
            res['message'] = ('%s: only %d samples, a p%d needs at least %d: raise duration_s or num_requests (%s)'
                              % (label, samples, int(round(q * 100)), need, opt))
            results.append(res)
            continue
        met = value >= thr if direction == 'min' else value <= thr
        if saturated and not (klass == 'accuracy' or (klass == 'throughput' and met) or (klass == 'errors' and not met)):
            status = 'inconclusive'
        else:
            status = 'pass' if met else 'fail'
        res['status'] = status
        text = '%s: measured %s, required %s %s (%s), %s' % (label, _fmt(value, unit), op, _fmt(thr, unit), opt, detail)
        if status == 'inconclusive':
            text += '; not trusted because %s' % (saturation_reason or 'the client was the bottleneck')
        elif status == 'fail' and m.get('why'):
            text += '; %s' % m['why']
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


def cost(host_cost_per_hour, output_tokens_per_s, total_tokens_per_s):
    if host_cost_per_hour is None:
        return None
    out = {'host_cost_per_hour': host_cost_per_hour, 'per_1m_output_tokens': None, 'per_1m_total_tokens': None}
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
