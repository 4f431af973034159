# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Figures of one measured phase: throughput, latency, schedule, the client's self-check, and the
cross-check of the client's counts against the servers' /metrics.

Who is to blame decides the verdict: a client that fell behind (its CPU, its event loop, its
in-flight cap set too low for the offered rate, its file descriptors) makes a result
``inconclusive``; a server that did not keep up shows in latency timed from the schedule, and
its SLOs fail.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.inferops.vllm.plugins.module_utils import loadstats
from ansible_collections.inferops.vllm.plugins.module_utils.capacity import REQUESTS_PER_S, SESSIONS_PER_S, rate_label
from ansible_collections.inferops.vllm.plugins.module_utils.promparse import sum_deltas, vllm_delta

# Below these the self-check criteria are reported but not applied: connection set-up (TLS
# handshakes) dominates a very short window, and a p95 of a handful of lag samples is noise.
MIN_LAG_SAMPLES = 20
MIN_CPU_WINDOW_S = 0.25
MIN_CONCURRENCY_WINDOW_S = 1.0


def _r(v, digits=3):
    return None if v is None else round(v, digits)


def cap_too_small(cap, rate, records, e2e_ref=None):
    """In-flight requests an open loop at ``rate`` needs at the server's unloaded service time, and
    whether ``cap`` is below that (Little's law: in flight = rate x time in system).

    The unloaded service time is the warm-up's median E2E (``e2e_ref``) or the fastest request of
    the phase, whichever is shorter: in overload every request of the phase queued at the server.
    """
    service = [r.end - r.sent for r in records if r.error is None and r.end is not None]
    if e2e_ref:
        service.append(e2e_ref)
    if not rate or not service:
        return None, False
    needed = float(rate) * min(service)
    return needed, cap < needed


def phase_figures(o, rec, stats, e2e_ref=None):
    """Everything measured in one phase (records with ``measured`` set), as a result fragment."""
    measured = rec.measured()
    done = [r for r in measured if r.error is None]
    failed = [r for r in measured if r.error is not None]
    open_loop = stats['mode'] == 'open'
    needed, cap_small = (cap_too_small(stats['concurrency'], stats['rate'], done, e2e_ref) if open_loop
                         else (None, False))
    errors = dict(rec.errors)
    sides = dict(rec.sides)
    unsent = stats.get('unsent') or 0
    if unsent:
        kind = 'unsent_client' if cap_small else 'unsent'
        side = 'client' if cap_small else 'server'
        errors[kind] = errors.get(kind, 0) + unsent
        sides[side] += unsent
    examples = dict(rec.examples)
    if unsent:
        examples.setdefault('unsent_client' if cap_small else 'unsent', (
            '%d arrivals due in the window were still waiting for a free slot under the in-flight cap %d when the '
            'grace period ended' % (unsent, stats['concurrency'])))
    issued = len(measured) + unsent
    starts = [r.start for r in measured]
    ends = [r.end for r in measured if r.end is not None]
    first = min(starts) if starts else stats['start']
    last = max(ends) if ends else stats['end']
    window = max(1e-9, last - first)
    out_tokens = sum(r.output_tokens for r in done)
    prompt_tokens = sum(r.prompt_tokens for r in done if r.prompt_tokens is not None)
    itl = []
    for r in done:
        if r.gaps:
            itl.extend(r.gaps)
    latency = {
        'ttft': loadstats.summarize([r.ttft for r in done]),
        'tpot': loadstats.summarize([r.tpot for r in done]),
        'itl': loadstats.summarize(itl),
        'e2e': loadstats.summarize([r.e2e for r in done]),
    }
    n_failed = len(failed) + unsent
    server_failed = sides['server']
    out = {
        'window': {'duration_s': _r(window), 'issue_s': _r((stats['stop'] or last) - stats['start']),
                   'drain_s': _r(max(0.0, last - (stats['stop'] or last))), 'trimmed_s': _r(stats.get('trim_s')),
                   'start_epoch': _r(stats['epoch0'] + first), 'end_epoch': _r(stats['epoch0'] + last)},
        'requests': {'total': issued, 'completed': len(done), 'failed': n_failed, 'errors': errors,
                     'error_examples': examples, 'by_side': sides,
                     'error_rate': _r(server_failed / float(issued), 6) if issued else None},
        'throughput': {'requests_per_s': _r(len(done) / window), 'output_tokens_per_s': _r(out_tokens / window),
                       'total_tokens_per_s': _r((out_tokens + prompt_tokens) / window),
                       'prompt_tokens_per_s': _r(prompt_tokens / window)},
        'latency_ms': latency,
        'tokens': {'output_total': out_tokens, 'prompt_total': prompt_tokens,
                   'output_per_request': int(o['output_tokens']), 'length_mismatches': rec.length_mismatch,
                   'counted_from': dict(rec.sources), 'malformed_sse_events': rec.malformed_events,
                   'streams_without_done': rec.missing_done},
    }
    if stats.get('stopped_early'):
        out['requests']['stopped_early'] = stats['stopped_early']
    thresholds = o['slo_thresholds']
    g = loadstats.goodput(done, thresholds, issued, window)
    out['goodput'] = dict((k, _r(v, 6) if isinstance(v, float) else v) for k, v in g.items())
    if open_loop:
        out['schedule'] = schedule(o, stats, measured, needed)
    out['client'] = client_check(o, stats, rec, cap_small, needed, sides)
    pts = sorted(r.prompt_tokens for r in done if r.prompt_tokens is not None)
    out['prompt_measured'] = {'count': len(pts), 'mean': _r(sum(pts) / float(len(pts)), 2) if pts else None,
                              'min': pts[0] if pts else None, 'max': pts[-1] if pts else None}
    return out


def rate_unit(o):
    """The unit of an open loop's rate: sessions per second with a workload profile (one unit of the
    schedule is a session), else requests."""
    return SESSIONS_PER_S if o.get('profile') is not None else REQUESTS_PER_S


def schedule(o, stats, measured, needed):
    """Offered against achieved: how the open loop kept (or failed to keep) its schedule."""
    limit_ms = float(o['client_max_lag_ms'])
    late = [r.lateness for r in measured if r.lateness is not None]
    lat = loadstats.summarize(late)
    # arrivals only: later turns of a profile's sessions follow their answers, not the schedule
    sent = [r.sent for r in measured if r.scheduled is not None]
    sched = [r.scheduled for r in measured if r.scheduled is not None]
    span = (max(sent) - min(sched)) if sent and sched else 0.0
    return {
        'offered_rate': stats['rate'], 'rate_unit': rate_unit(o),
        # n sends span n - 1 gaps from the first scheduled time to the last send
        'achieved_rate': _r((len(sent) - 1) / span, 3) if span > 0 and len(sent) > 1 else None,
        'arrival': o['arrival'], 'burstiness': o['burstiness'],
        'late_sends': sum(1 for x in late if x * 1000.0 > limit_ms),
        'late_limit_ms': limit_ms,
        'lateness_ms': {'count': lat['count'], 'p50': lat['p50'], 'p95': lat['p95'], 'max': lat['max']},
        'cap': stats['concurrency'], 'cap_waits': stats['cap_waits'], 'cap_wait_s': _r(stats['cap_wait_s']),
        'in_flight_needed': _r(needed, 2),
        'unsent': stats.get('unsent') or 0,
    }


def client_check(o, stats, rec, cap_small, needed, sides):
    """Was the client the bottleneck? Reasons name what and how to fix it."""
    reasons = []
    phase_s = stats['end'] - stats['start']
    cpu_util = stats['cpu_s'] / phase_s if phase_s > 0 else 0.0
    lag = loadstats.summarize(sorted(stats['lags']))
    asked_c = int(stats['concurrency'])
    if phase_s >= MIN_CPU_WINDOW_S and cpu_util >= float(o['client_max_cpu']):
        reasons.append('client CPU %.0f%% of one core >= client_max_cpu %.0f%%' % (100 * cpu_util, 100 * o['client_max_cpu']))
    if lag['count'] >= MIN_LAG_SAMPLES and lag['p95'] > float(o['client_max_lag_ms']):
        reasons.append('client event-loop lag p95 %.1f ms > client_max_lag_ms %s' % (lag['p95'], o['client_max_lag_ms']))
    if sides.get('client'):
        kinds = ', '.join('%s: %d' % (k, v) for k, v in sorted(rec.errors.items())
                          if k in ('client_error', 'client_resources'))
        reasons.append('%d requests failed in the client itself%s' % (sides['client'], (' (%s)' % kinds) if kinds else ''))
    out = {'cpu_s': _r(stats['cpu_s']), 'process_cpu_s': _r(stats['process_cpu_s']), 'cpu_util': _r(cpu_util, 4),
           'loop_lag_ms': lag, 'concurrency': {'asked': asked_c, 'max_in_flight': stats['max_inflight'],
                                               'achieved_mean': _r(stats['mean_inflight'], 2)}}
    if stats['mode'] == 'closed':
        n_exp = asked_c if o['num_requests'] is None else min(asked_c, int(o['num_requests']))
        span = (stats['stop'] or stats['end']) - stats['start']
        ach = stats['mean_inflight']
        if n_exp > 0 and span >= MIN_CONCURRENCY_WINDOW_S and ach < 0.85 * n_exp and not stats['stopped_early']:
            reasons.append('achieved mean concurrency %.1f < 85%% of the asked %d' % (ach, n_exp))
    else:
        late = [r.lateness for r in rec.measured() if r.lateness is not None]
        lat = loadstats.summarize(late)
        if cap_small and (stats['cap_waits'] or stats.get('unsent')):
            unit = rate_unit(o)
            reasons.append('the in-flight cap %d is below the %.1f %s in flight that %s %s needs even at '
                           "the server's unloaded response time: raise concurrency (the open-loop cap)"
                           % (asked_c, needed, 'sessions' if unit == SESSIONS_PER_S else 'requests', stats['rate'],
                              rate_label(unit)))
        elif lat['count'] >= MIN_LAG_SAMPLES and lat['p95'] > float(o['client_max_lag_ms']) and not stats['cap_waits']:
            reasons.append('requests left p95 %.1f ms behind schedule > client_max_lag_ms %s (the client, not the '
                           'server, fell behind)' % (lat['p95'], o['client_max_lag_ms']))
        if stats['cap_waits'] and not cap_small:
            out['note'] = ('%d arrivals waited for a free slot under the in-flight cap %d because the server did not '
                           'finish requests fast enough; their latency counts from their scheduled time'
                           % (stats['cap_waits'], asked_c))
    if phase_s < MIN_CONCURRENCY_WINDOW_S:
        out['note'] = ((out.get('note', '') + ' ').lstrip() + 'the window (%.2f s) is too short to judge every '
                       'self-check criterion; gate for at least a few seconds' % phase_s)
    out['saturated'] = bool(reasons)
    out['reasons'] = reasons
    return out


def cross_check(tally, before, after, model):
    """Compare the client's whole-run counts with the summed /metrics deltas of every metrics endpoint."""
    d = sum_deltas([vllm_delta(b, a, model) for b, a in zip(before, after)])
    out_low = tally.http_out_tokens + tally.partial_tokens
    out_high = out_low + tally.unseen_tokens_max
    req_low = tally.completed_http
    req_high = req_low + tally.maybe_generated
    pt_low = tally.http_prompt_tokens
    pt_high = pt_low + tally.maybe_generated * tally.prompt_max
    checks = {}
    worst = 0.0
    for key, server, low, high in (('output_tokens', d['generation_tokens'], out_low, out_high),
                                   ('requests', d['requests_success'], req_low, req_high),
                                   ('prompt_tokens', d['prompt_tokens'], pt_low, pt_high)):
        entry = {'client': low if low == high else [low, high], 'server': server}
        if key == 'prompt_tokens' and tally.prompt_unknown:
            entry.update({'client': None, 'difference': None, 'relative': None,
                          'note': '%d responses gave no usage.prompt_tokens' % tally.prompt_unknown})
        elif server is None:
            entry['difference'] = None
            entry['relative'] = None
        else:
            diff = loadstats.bounded_difference(server, low, high)
            rel = abs(diff) / float(max(low, 1))
            entry['difference'] = diff
            entry['relative'] = round(rel, 6)
            worst = max(worst, rel)
        checks[key] = entry
    exact = tally.maybe_generated == 0
    out = {'available': True, 'exact': exact, 'counts': checks, 'mismatch': round(worst, 6),
           'server': d, 'ok': worst == 0.0, 'instances': len(after)}
    notes = []
    if not exact:
        notes.append('%d failed requests may have generated tokens the client did not see; the client counts are '
                     'given as [seen, seen + possible] bounds' % tally.maybe_generated)
    foreign = (d['requests_success'] - req_high) if d['requests_success'] is not None else 0
    if foreign > 0:
        # Somebody else used the server during the gate: the counts cannot be compared, which is
        # no fault of the server's counting.
        out['foreign_requests'] = foreign
        out['inconclusive'] = ('cross-check inconclusive: the server counted %d requests the gate did not send '
                               '(other traffic during the gate)' % foreign)
        notes.append(out['inconclusive'])
    if d['missing']:
        notes.append('missing server metrics: %s' % ', '.join(d['missing']))
    if d['reset']:
        notes.append('a server counter went backwards: the server restarted during the run')
    if notes:
        out['note'] = ' '.join(notes)
    return out
