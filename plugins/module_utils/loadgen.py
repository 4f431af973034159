# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Load engine of the throughput gate (asyncio, standard library only): what one run does.

Flow of ``run_gate``: readiness (``/health``, ``/v1/models``, model and ``max_model_len``) ->
``/metrics`` probe -> prompt calibration -> warm-up -> ``/metrics`` before (servers idle) ->
measured load, ``trials`` times: a closed loop at fixed concurrency, an open loop at a rate,
or a capacity search (open-loop steps, bracket then bisect, see capacity.py) -> ``/metrics``
after (servers idle) -> statistics, cross-check, client self-check, SLOs, cost.

The parts: gateclient.py (servers, requests), loadsched.py (when requests leave),
loadrecord.py (what each request brought), gatefigures.py (a phase's figures and who is to
blame), loadstats.py (percentiles, the SLO table, verdicts), capacity.py (the search).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import asyncio
import math
import time

from ansible_collections.inferops.vllm.plugins.module_utils import loadstats
from ansible_collections.inferops.vllm.plugins.module_utils.capacity import (
    REQUESTS_PER_S, SESSIONS_PER_S, CapacitySearch, rate_label,
)
from ansible_collections.inferops.vllm.plugins.module_utils.gateclient import Gate, GateError
from ansible_collections.inferops.vllm.plugins.module_utils.gatefigures import cross_check, phase_figures
from ansible_collections.inferops.vllm.plugins.module_utils.httpclient import HttpError, fetch
from ansible_collections.inferops.vllm.plugins.module_utils.loadrecord import Recorder, Tally, missing_tool_flags
from ansible_collections.inferops.vllm.plugins.module_utils.loadsched import Phase
from ansible_collections.inferops.vllm.plugins.module_utils.profiles import ProfileError, check_fits, gate_arrival
from ansible_collections.inferops.vllm.plugins.module_utils.profiles import validate as validate_profile
from ansible_collections.inferops.vllm.plugins.module_utils.profilework import ProfileDriver, tool_parsing_refused

__all__ = ['DEFAULTS', 'Gate', 'GateError', 'normalize', 'run_gate']

_perf = time.perf_counter

DEFAULTS = {
    'url': 'http://127.0.0.1:8000',
    'urls': None,
    'model': None,
    'api': 'completions',
    'stream': True,
    'mode': 'closed',
    'concurrency': None,
    'rate': None,
    'arrival': 'poisson',
    'burstiness': 1.0,
    'duration_s': None,
    'num_requests': None,
    'warmup_requests': 8,
    'prompt_tokens': 128,
    'output_tokens': 128,
    'request_timeout_s': 60.0,
    'stall_timeout_s': 30.0,
    'ready_timeout_s': 120.0,
    'refused_timeout_s': 10.0,
    'api_key': None,
    'headers': None,
    'ca_path': None,
    'validate_certs': True,
    'metrics_url': None,
    'metrics_urls': None,
    'cross_check': True,
    'on_inconclusive': 'fail',
    'client_max_cpu': 0.9,
    'client_max_lag_ms': 20.0,
    'host_cost_per_hour': None,
    'seed': None,
    'trials': 1,
    'capacity_precision': 0.05,
    'capacity_budget_s': 300.0,
    'capacity_step_s': 10.0,
    'capacity_start_rate': None,
    'capacity_min_rate': None,
    'capacity_max_rate': None,
    'slos': None,
    'profile': None,
}
for _slo in loadstats.SLOS:
    DEFAULTS[_slo.name] = None
DEFAULT_DURATION_S = 60.0
DEFAULT_CLOSED_CONCURRENCY = 16
DEFAULT_OPEN_CAP = 1024
# Open-loop cap derived from the rate: in flight = rate x time in system (Little's law), with
# room for the latency to grow fourfold under load before the cap could bind.
CAP_HEADROOM = 4.0
CAP_MIN = 16
CAP_MAX = 4096
# Share of each capacity step left out as its warm-up (the queue starts empty).
STEP_TRIM = 0.2
# A step is lengthened until its percentiles rest on enough samples (a p95 needs 100), up to
# this many times capacity_step_s and within the budget.
STEP_MAX_STRETCH = 4.0
# Arrivals in a step's measured part (after STEP_TRIM) vary around rate x seconds (Poisson: which arrivals
# fall in the warm-up is random); sized for exactly the samples a p95 needs, steps came out at 94-99 of 100
# (bench-profiles on vLLM), and the verdict at capacity was inconclusive for want of one sample.
STEP_SAMPLE_MARGIN = 1.2


def normalize(opts):
    """Options with defaults filled in and the SLO thresholds merged into ``slo_thresholds``.

    SLOs come as single options or as one ``slos`` dict (the validate role passes its
    ``validate_slos`` through); naming one both ways is refused by the module.
    """
    o = dict(DEFAULTS)
    o.update(dict((k, v) for k, v in opts.items() if v is not None or k not in DEFAULTS))
    user_slos = bool(o.get('slos')) or any(o.get(slo.name) is not None for slo in loadstats.SLOS)
    if o['profile'] is not None:
        # the profile decides the API and the arrival process; its SLOs apply unless the user gave any
        try:
            o['profile'] = validate_profile(o['profile'])
        except ProfileError as exc:
            raise GateError('profile: %s' % exc)
        o['api'] = o['profile']['api']
        o.update(gate_arrival(o['profile']))
        o['slos_from'] = 'user' if user_slos else 'profile'
        if not user_slos:
            o['slos'] = dict(o['profile']['slos'])
    thresholds = dict(loadstats.SLO_DEFAULTS)
    for slo in loadstats.SLOS:
        if o.get(slo.name) is not None:
            thresholds[slo.name] = o[slo.name]
    for name, value in (o.get('slos') or {}).items():
        thresholds[name] = value
    if not o['cross_check']:
        thresholds['max_token_mismatch'] = None
    o['slo_thresholds'] = thresholds
    if o['mode'] == 'closed' and o['concurrency'] is None:
        o['concurrency'] = DEFAULT_CLOSED_CONCURRENCY
    if o['mode'] != 'capacity' and o['duration_s'] is None and o['num_requests'] is None:
        o['duration_s'] = DEFAULT_DURATION_S
    return o


def derived_cap(rate, e2e_s):
    """The open loop's in-flight cap when none is given: rate x expected E2E x headroom."""
    if not e2e_s:
        return DEFAULT_OPEN_CAP
    return int(max(CAP_MIN, min(CAP_MAX, math.ceil(float(rate) * e2e_s * CAP_HEADROOM))))


def _unit_s(gate, e2e_s):
    """How long one unit of an open loop stays in flight: a request, or with a profile a whole session."""
    if gate.driver is None or not e2e_s:
        return e2e_s
    return gate.driver.session_s(e2e_s)


def _rate_unit(gate):
    """The unit of the rates this run offers: sessions per second with a workload profile, else requests."""
    return SESSIONS_PER_S if gate.driver is not None else REQUESTS_PER_S


def _r(v, digits=3):
    return None if v is None else round(v, digits)


# -- one run ------------------------------------------------------------------------------
async def run_gate_async(opts, check_mode=False):
    o = normalize(opts)
    gate = Gate(o)
    gate.open(asyncio.get_running_loop())
    result = {'url': gate.url, 'api': o['api'], 'stream': o['stream'], 'mode': o['mode'], 'seed': gate.seed,
              'warnings': gate.warnings}
    if o['profile'] is not None:
        gate.driver = ProfileDriver(gate, o['profile'])
    if len(gate.endpoints) > 1:
        result['urls'] = [e.url for e in gate.endpoints]
    try:
        return await _run(gate, result, check_mode)
    except GateError as exc:
        exc.result = result
        raise
    finally:
        gate.close()


async def _run(gate, result, check_mode):
    o = gate.o
    result['readiness'] = await gate.wait_ready()
    result['model'] = gate.model
    mml = result['readiness'].get('max_model_len')
    if gate.driver is not None and mml:
        msg = check_fits(o['profile'], mml)
        if msg:
            raise GateError(msg)
    metrics = {'available': False, 'reason': 'cross_check is false'}
    if o['cross_check']:
        metrics = await gate.probe_metrics()
    result['metrics_probe'] = dict(metrics, urls=gate.metrics_urls)
    result['config'] = dict((k, o[k]) for k in (
        'concurrency', 'rate', 'arrival', 'burstiness', 'duration_s', 'num_requests', 'warmup_requests',
        'prompt_tokens', 'output_tokens', 'request_timeout_s', 'stall_timeout_s', 'trials'))
    result['config']['slos'] = dict((k, v) for k, v in o['slo_thresholds'].items() if v is not None)
    if o['mode'] == 'capacity':
        result['config'].update(dict((k, o[k]) for k in (
            'capacity_precision', 'capacity_budget_s', 'capacity_step_s', 'capacity_start_rate')))
    if gate.driver is not None:
        result['config']['profile'] = o['profile']['name']
        result['config']['slos_from'] = o['slos_from']
    if check_mode:
        result['verdict'] = 'not_run'
        result['msg'] = 'check mode: %s is ready and serves %r; no load was sent' % (gate.url, gate.model)
        if o['cross_check'] and not metrics['available']:
            gate.warnings.append('cross-check will be impossible: %s' % metrics['reason'])
        return result
    result['prompt'] = await gate.calibrate()
    gate.prepare_bodies()
    if gate.driver is not None:
        # a profile's text is not the calibration's single-token words: its own rate
        gate.driver.tokens_per_word = result['prompt']['profile_tokens_per_word'] = \
            round(await gate.text_tokens_per_word(), 4)
    e2e_ref = await _warmup(gate, result, Tally(_asked(gate)))
    tally = Tally(_asked(gate))    # what the cross-check compares: everything after "before"

    before = None
    if metrics['available']:
        try:
            before, waited, busy = await gate.idle_snapshots()
            if busy:
                gate.warnings.append('the server was still busy %.0f s after the warm-up (other traffic?): the '
                                     'cross-check may count requests the gate did not send' % waited)
        except HttpError as exc:
            metrics = {'available': False, 'reason': exc.message}

    stop = asyncio.Event()
    watcher = asyncio.ensure_future(gate.watch_stalls(stop))
    try:
        trials = []
        for n in range(int(o['trials'])):
            if o['mode'] == 'capacity':
                trials.append(await _capacity_trial(gate, result, tally, e2e_ref, n))
            else:
                trials.append(await _measured_trial(gate, tally, e2e_ref))
    finally:
        stop.set()
        await watcher

    cross = {'available': False, 'reason': metrics.get('reason')}
    if metrics['available'] and before is not None:
        try:
            cross = await _settled_cross_check(gate, tally, before)
        except HttpError as exc:
            cross = {'available': False, 'reason': exc.message}
    cross['metrics_urls'] = gate.metrics_urls
    _assemble(gate, result, trials, cross)
    return result


def _asked(gate):
    """Output tokens a request asks for: the option, or with a profile the most its distribution draws."""
    if gate.driver is not None:
        return int(gate.driver.max_output)
    return int(gate.o['output_tokens'])


async def _warmup(gate, result, tally):
    """Warm-up requests (discarded); returns the median time a request spends in the server.

    A tool profile sends at least one (a probe when warmup_requests is 0): a server started without a
    tool-call parser refuses every tool call, and the gate says which flag is missing before any load.
    """
    o = gate.o
    n_warm = int(o['warmup_requests'])
    tools = gate.driver is not None and gate.driver.expects == 'tool_call'
    if n_warm <= 0 and not tools:
        return None
    n_sent = max(1, n_warm)
    rec = Recorder(tally)
    conc = min(n_sent, int(o['concurrency'] or DEFAULT_CLOSED_CONCURRENCY))
    # with a profile: first turns of sessions only (no think time in a warm-up)
    send = gate.driver.sender(rec, first_turn_only=True) if gate.driver is not None else gate.sender(rec)
    await Phase(rec, send, conc, n_sent).run()
    # the server's HTTP 400 naming the flag, not an invalid answer (whose message gives the same advice)
    refusal = [m for k, m in rec.examples.items() if k == 'http_400' and missing_tool_flags(m)] if tools else []
    if refusal:
        raise GateError(tool_parsing_refused(o['profile'], gate.url, refusal[0]))
    if n_warm <= 0:
        result['tool_probe'] = {'requests': n_sent, 'failed': len(rec.failed()), 'errors': rec.errors}
        return None
    result['warmup'] = {'requests': n_warm, 'failed': len(rec.failed()), 'errors': rec.errors}
    if len(rec.failed()) == n_warm:
        kind = sorted(rec.errors.items(), key=lambda kv: -kv[1])[0][0]
        raise GateError('all %d warm-up requests failed: %s' % (n_warm, rec.examples[kind]))
    service = sorted(r.end - r.sent for r in rec.completed())
    e2e = service[len(service) // 2] if service else None
    result['warmup']['e2e_median_ms'] = _r(e2e * 1000.0 if e2e else None)
    return e2e


async def _measured_trial(gate, tally, e2e_ref):
    o = gate.o
    rec = Recorder(tally)
    cap = o['concurrency']
    if o['mode'] == 'open' and cap is None:
        cap = derived_cap(o['rate'], _unit_s(gate, e2e_ref))
    phase = Phase(rec, gate.sender(rec), cap, o['num_requests'], o['duration_s'], o['mode'], o['rate'],
                  o['arrival'], o['burstiness'], gate.rng, grace_s=min(gate.timeout, float(o['duration_s'] or 60)))
    stats = await phase.run(monitor=True)
    return {'figures': phase_figures(o, rec, stats, e2e_ref), 'records': rec.completed()}


# -- capacity at SLO ---------------------------------------------------------------------------
# SLOs judged per capacity step: those that a higher rate can break. Throughput minimums are
# judged on the capacity found, and the count cross-check on the whole run.
STEP_CLASSES = ('latency', 'errors', 'goodput')


async def _probe(gate, tally, seconds):
    """A short closed loop: the rate the server sustains with requests always waiting (search start)."""
    rec = Recorder(tally)
    conc = int(gate.o['concurrency'] or DEFAULT_CLOSED_CONCURRENCY)
    stats = await Phase(rec, gate.sender(rec), conc, None, seconds).run()
    stop = stats['stop'] or stats['end']
    # requests that ended after sending stopped are the drain, not the sustained rate
    done = [r for r in rec.completed() if r.end <= stop]
    span = max(1e-9, stop - stats['start'])
    if not done:
        # requests longer than the probe: count them all over the whole phase, drain included
        done = rec.completed()
        span = max(1e-9, stats['end'] - stats['start'])
    rate = len(done) / span
    if gate.driver is not None:
        rate /= gate.driver.mean_turns      # the search runs in sessions per second
    return {'concurrency': conc, 'seconds': _r(span), 'requests_per_s': _r(rate), 'failed': len(rec.failed())}


async def _server_alive(gate):
    for pool in gate.pools:
        try:
            resp = await fetch(pool, 'GET', '/health', timeout=3.0)
            if resp.status >= 500:
                return False, '%s/health answered HTTP %d' % (pool.endpoint.url, resp.status)
        except HttpError as exc:
            return False, exc.message
    return True, None


async def _capacity_trial(gate, result, tally, e2e_ref, trial):
    o = gate.o
    t0 = _perf()
    budget = float(o['capacity_budget_s'])
    step_s = float(o['capacity_step_s'])
    drain_s = min(gate.timeout, 2.0 * (e2e_ref or 1.0))
    out = {'steps': [], 'probe': None}
    result.setdefault('capacity_trials', []).append(out)
    start = o['capacity_start_rate']
    if start is None:
        if budget < step_s / 2.0 + step_s + drain_s:
            raise GateError('capacity_budget_s=%s is too small for the probe and one step (about %.0f s with '
                            'capacity_step_s=%s): raise capacity_budget_s or lower capacity_step_s'
                            % (o['capacity_budget_s'], step_s * 1.5 + drain_s, o['capacity_step_s']))
        out['probe'] = await _probe(gate, tally, max(2.0, step_s / 2.0))
        start = out['probe']['requests_per_s']
        if not start:
            raise GateError('no request completed in the %.0f s probe of the capacity search (%s): see the '
                            "server's log" % (step_s / 2.0, out['probe']))
    search = CapacitySearch(start, o['capacity_precision'], o['capacity_min_rate'], o['capacity_max_rate'])
    step_thr = dict((s.name, o['slo_thresholds'].get(s.name)) for s in loadstats.SLOS if s.klass in STEP_CLASSES)
    figures_at = {}
    ended = None
    while True:
        rate = search.next_rate()
        if rate is None:
            ended = search.done
            break
        seconds = _step_seconds(step_thr, rate, step_s, float('inf'))
        if _perf() - t0 + seconds + drain_s > budget:
            # a step cut short would rest on too few samples: stop the search instead
            if not out['steps']:
                raise GateError(
                    'capacity_budget_s=%s is too small for one step: a step at %.3g %s takes about %.0f s '
                    '(capacity_step_s=%s, stretched to collect the samples its percentiles need, plus draining): '
                    'raise capacity_budget_s' % (o['capacity_budget_s'], rate, rate_label(_rate_unit(gate)),
                                                 seconds + drain_s, o['capacity_step_s']))
            ended = 'budget'
            break
        rec = Recorder(tally)
        cap = o['concurrency'] or derived_cap(rate, _unit_s(gate, e2e_ref))
        phase = Phase(rec, gate.sender(rec), cap, None, seconds, 'open', rate, o['arrival'], o['burstiness'],
                      gate.rng, trim_s=STEP_TRIM * seconds, grace_s=min(gate.timeout, seconds))
        stats = await phase.run(monitor=True)
        figs = phase_figures(o, rec, stats, e2e_ref)
        client = figs['client']
        slos = loadstats.evaluate_slos(step_thr, _measured(o, figs, None, None), client['saturated'],
                                       'the client was the bottleneck (%s)' % '; '.join(client['reasons']),
                                       strict_samples=False, client_delay_ms=_client_delay_ms(client))
        verdict = loadstats.verdict(slos)
        step = _step_summary(len(out['steps']) + 1, rate, verdict, figs, slos)
        step['seconds'] = _r(seconds)
        if stats['stopped_early'] or any(r.error in ('connect', 'disconnect') for r in rec.records):
            alive, why = await _server_alive(gate)
            if not alive:
                step['verdict'] = 'error'
                out['steps'].append(step)
                examples = '; '.join('%s: %s' % kv for kv in sorted(figs['requests']['error_examples'].items()))
                raise GateError('the server stopped answering during capacity step %d (%.3g %s): %s; %s; the %d '
                                'finished steps are in the result' % (step['step'], rate, rate_label(_rate_unit(gate)),
                                                                      why, examples, len(out['steps']) - 1))
        out['steps'].append(step)
        figures_at[rate] = (figs, rec.completed(), slos)
        search.record(rate, _search_verdict(verdict, slos, client))
    out['ended'] = ended
    if gate.driver is not None:
        out['rate_unit'] = _rate_unit(gate)
    return _capacity_result(o, search, out, figures_at)


def _client_delay_ms(client):
    """The longest the client itself held anything up: its worst event-loop lag (None when unknown or
    when the client failed for other reasons, such as its own errors or a cap too small)."""
    lag = (client.get('loop_lag_ms') or {}).get('max')
    if lag is None or any('failed in the client itself' in r or 'in-flight cap' in r for r in client.get('reasons', [])):
        return None
    return lag


def _search_verdict(verdict, slos, client):
    """Which way the search goes: a step that met every SLO on too few samples to be sure still
    points up (the final verdict at capacity says how sure it is); a saturated client stops it."""
    if verdict != 'inconclusive' or client['saturated']:
        return verdict
    if all(s['status'] == 'pass' or s.get('few_samples') for s in slos):
        return 'pass'
    return verdict


# Fewest measured requests a step is stretched to, even past STEP_MAX_STRETCH (within the budget).
STEP_MIN_REQUESTS = 10


def _step_seconds(thresholds, rate, step_s, left_s):
    """Length of a step: capacity_step_s, stretched so its percentiles rest on enough samples."""
    quantiles = [s.quantile for s in loadstats.SLOS if s.quantile and thresholds.get(s.name) is not None]
    need = max([loadstats.samples_needed(q) for q in quantiles] or [0])
    per_request = 1.0 / (float(rate) * (1.0 - STEP_TRIM))
    stretch = max(STEP_MAX_STRETCH * step_s, STEP_MIN_REQUESTS * per_request)
    return max(step_s, min(need * per_request * STEP_SAMPLE_MARGIN, stretch, left_s))


def _step_summary(n, rate, verdict, figs, slos):
    lat = figs['latency_ms']
    sched = figs.get('schedule') or {}
    return {
        'step': n, 'rate': _r(rate, 4), 'verdict': verdict, 'achieved_rate': sched.get('achieved_rate'),
        'ttft_p95_ms': lat['ttft']['p95'], 'tpot_p95_ms': lat['tpot']['p95'], 'itl_p95_ms': lat['itl']['p95'],
        'e2e_p95_ms': lat['e2e']['p95'], 'output_tokens_per_s': figs['throughput']['output_tokens_per_s'],
        'requests': figs['requests']['total'], 'failed': figs['requests']['failed'],
        'late_sends': sched.get('late_sends'), 'unsent': sched.get('unsent'),
        'failing': [s['name'] for s in slos if s['status'] == 'fail'],
        'inconclusive': [s['message'] for s in slos if s['status'] == 'inconclusive'],
    }


def _capacity_result(o, search, out, figures_at):
    lo, hi = search.lo, search.hi
    limit = None
    if hi is not None:
        failing = [s for s in figures_at[hi][2] if s['status'] == 'fail']
        limit = failing[0] if failing else None
    if lo is not None:
        figs, records, _slos = figures_at[lo]
    else:
        lowest = min(figures_at) if figures_at else None
        figs, records, _slos = figures_at[lowest] if lowest is not None else (None, [], [])
    thr = (figs or {}).get('throughput') or {}
    cap = {
        'requests_per_s': _r(lo, 4),
        'output_tokens_per_s': thr.get('output_tokens_per_s') if lo is not None else None,
        'total_tokens_per_s': thr.get('total_tokens_per_s') if lo is not None else None,
        'limiting_slo': limit['name'] if limit else None,
        'limit': limit['message'] if limit else None,
        'bracket': [_r(lo, 4), _r(hi, 4)],
        'precision': o['capacity_precision'],
        'precision_reached': search.precision_reached(),
        'ended': out['ended'],
        'probe': out['probe'],
        'steps': out['steps'],
    }
    if 'rate_unit' in out:
        cap['rate_unit'] = out['rate_unit']
    out.update(cap)
    return {'figures': figs, 'records': records, 'capacity': cap, 'search': search}


# -- cross-check -------------------------------------------------------------------------------
async def _settled_cross_check(gate, tally, before):
    """Scrape /metrics once the servers are idle, until their counters agree or stop moving (<= ~2 s)."""
    after, _w, _busy = await gate.idle_snapshots()
    cc = cross_check(tally, before, after, gate.model)
    prev = None
    for i in range(8):
        key = (cc['server']['generation_tokens'], cc['server']['requests_success'], cc['server']['prompt_tokens'])
        if cc['ok'] or (prev is not None and key == prev and i >= 3):
            break
        prev = key
        await asyncio.sleep(0.25)
        after = await gate.scrape()
        cc = cross_check(tally, before, after, gate.model)
    return cc


# -- result ------------------------------------------------------------------------------------
def _combine(trials, key_paths):
    """mean and 95% interval over trials of each figure named by a path of keys."""
    out = {}
    for name, path in key_paths:
        vals = []
        for t in trials:
            v = t
            for k in path:
                v = (v or {}).get(k) if isinstance(v, dict) else None
            vals.append(v)
        out[name] = loadstats.mean_ci(vals)
    return out


TRIAL_FIGURES = (
    ('output_tokens_per_s', ('figures', 'throughput', 'output_tokens_per_s')),
    ('total_tokens_per_s', ('figures', 'throughput', 'total_tokens_per_s')),
    ('requests_per_s', ('figures', 'throughput', 'requests_per_s')),
    ('ttft_p95_ms', ('figures', 'latency_ms', 'ttft', 'p95')),
    ('tpot_p95_ms', ('figures', 'latency_ms', 'tpot', 'p95')),
    ('itl_p95_ms', ('figures', 'latency_ms', 'itl', 'p95')),
    ('e2e_p95_ms', ('figures', 'latency_ms', 'e2e', 'p95')),
    ('error_rate', ('figures', 'requests', 'error_rate')),
    ('goodput_ratio', ('figures', 'goodput', 'ratio')),
    ('capacity_requests_per_s', ('capacity', 'requests_per_s')),
    ('capacity_output_tokens_per_s', ('capacity', 'output_tokens_per_s')),
)


def _pooled(o, trials):
    """One set of figures for several trials: latency over every request, rates as the trials' mean."""
    figs = [t['figures'] for t in trials if t['figures']]
    if len(figs) == 1:
        return figs[0]
    if not figs:
        return None
    base = dict(figs[-1])
    records = [r for t in trials for r in t['records']]
    itl = [g for r in records if r.gaps for g in r.gaps]
    base['latency_ms'] = {'ttft': loadstats.summarize([r.ttft for r in records]),
                          'tpot': loadstats.summarize([r.tpot for r in records]),
                          'itl': loadstats.summarize(itl), 'e2e': loadstats.summarize([r.e2e for r in records])}
    base['throughput'] = dict((k, _r(sum(f['throughput'][k] or 0.0 for f in figs) / len(figs)))
                              for k in figs[0]['throughput'])
    req = {'total': 0, 'completed': 0, 'failed': 0, 'errors': {}, 'error_examples': {},
           'by_side': {'server': 0, 'client': 0}}
    for f in figs:
        r = f['requests']
        for k in ('total', 'completed', 'failed'):
            req[k] += r[k]
        for k, v in r['errors'].items():
            req['errors'][k] = req['errors'].get(k, 0) + v
        for k, v in r['error_examples'].items():
            req['error_examples'].setdefault(k, v)
        for k, v in r['by_side'].items():
            req['by_side'][k] += v
    req['error_rate'] = _r(req['by_side']['server'] / float(req['total']), 6) if req['total'] else None
    base['requests'] = req
    good = sum(f['goodput']['good_requests'] for f in figs)
    base['goodput'] = dict(figs[-1]['goodput'], good_requests=good, issued_requests=req['total'],
                           ratio=_r(good / float(req['total']), 6) if req['total'] else None)
    reasons = []
    for f in figs:
        for why in f['client']['reasons']:
            if why not in reasons:
                reasons.append(why)
    base['client'] = dict(figs[-1]['client'], saturated=bool(reasons), reasons=reasons)
    return base


def _assemble(gate, result, trials, cross):
    o = gate.o
    figs = _pooled(o, trials)
    capacity = trials[-1].get('capacity') if o['mode'] == 'capacity' else None
    per_trial = _combine(trials, TRIAL_FIGURES) if len(trials) > 1 else None
    if figs:
        for key in ('window', 'requests', 'throughput', 'latency_ms', 'tokens', 'goodput', 'client'):
            result[key] = figs[key]
        if gate.driver is not None:
            result['tokens'] = dict(figs['tokens'], output_per_request=None)
        if 'schedule' in figs:
            result['schedule'] = figs['schedule']
        result.setdefault('prompt', {})['measured'] = figs['prompt_measured']
    if capacity is not None:
        result['capacity'] = dict(capacity)
        if per_trial:
            keys = ('capacity_requests_per_s', 'capacity_output_tokens_per_s')
            result['capacity']['trials'] = dict((k, per_trial[k]) for k in keys)
            result['capacity']['requests_per_s'] = per_trial['capacity_requests_per_s']['mean']
            result['capacity']['output_tokens_per_s'] = per_trial['capacity_output_tokens_per_s']['mean']
        if len(trials) == 1:
            result.pop('capacity_trials', None)
    if per_trial:
        result['trials'] = {'n': len(trials), 'figures': per_trial}
    if gate.driver is not None:
        result['profile'] = gate.driver.summary(figs, [r for t in trials for r in t['records']])
        if capacity is not None:
            result['profile']['capacity_sessions_per_s'] = result['capacity']['requests_per_s']
    _warn(gate, result, figs, cross)
    result['cross_check'] = cross

    thr = result.get('throughput') or {}
    if capacity is not None:
        cap = result['capacity']
        result['cost'] = loadstats.cost(o['host_cost_per_hour'], cap['output_tokens_per_s'],
                                        cap['total_tokens_per_s'], 'capacity')
    else:
        result['cost'] = loadstats.cost(o['host_cost_per_hour'], thr.get('output_tokens_per_s'),
                                        thr.get('total_tokens_per_s'), 'measured load')

    client = result.get('client') or {'saturated': False, 'reasons': []}
    thresholds = dict(o['slo_thresholds'])
    measured = _measured(o, figs, cross, per_trial, capacity)
    # without a capacity every SLO is still reported on the step measured (the lowest rate, or the one the
    # search stopped at), so a message names each SLO the user set
    no_capacity = capacity is not None and capacity['requests_per_s'] is None
    slos = loadstats.evaluate_slos(thresholds, measured, client['saturated'],
                                   'the client was the bottleneck (%s)' % '; '.join(client['reasons']),
                                   strict_samples=not no_capacity, client_delay_ms=_client_delay_ms(client))
    result['slos'] = slos
    verdict = loadstats.verdict(slos)
    stopped = (result.get('requests') or {}).get('stopped_early')
    if stopped and verdict == 'pass':
        verdict = 'fail'
    if capacity is not None and verdict == 'pass':
        if capacity['ended'] == 'inconclusive':
            verdict = 'inconclusive'
        elif capacity['requests_per_s'] is None:
            verdict = 'fail'
    result['verdict'] = verdict
    result['msg'] = _message(gate, result, slos, verdict, client, stopped, capacity)


def _warn(gate, result, figs, cross):
    if not figs:
        return
    toks = figs['tokens']
    if toks['counted_from'].get('chunks'):
        gate.warnings.append('%d responses carried no usage: their output tokens were counted as one per SSE chunk '
                             '(wrong with multi-token chunks, e.g. speculative decoding); make the server or proxy '
                             'pass stream_options include_usage' % toks['counted_from']['chunks'])
    if toks['malformed_sse_events']:
        gate.warnings.append('%d SSE events were not valid JSON and were skipped; token counts fell back to the '
                             'remaining usage' % toks['malformed_sse_events'])
    if toks['streams_without_done']:
        gate.warnings.append('%d streams ended without data: [DONE]' % toks['streams_without_done'])
    for key, s in (figs.get('latency_ms') or {}).items():
        if s.get('count') and 'p99' in s.get('few_samples', []):
            gate.warnings.append('%s has %d samples: its p99 and p99.9 rest on fewer than 5 observations beyond them '
                                 '(a p99 needs 500, a p99.9 5,000)' % (key.upper(), s['count']))
            break
    if cross.get('available'):
        hit = cross['server'].get('prefix_cache_hit_rate')
        if hit is not None and hit > 0.5 and not (gate.driver is not None and _shares_prefix(gate)):
            gate.warnings.append('the server served %.0f%% of prompt tokens from its prefix cache: TTFT is lower '
                                 'than for fresh prompts (a fixed seed repeats prompts across runs)' % (100 * hit))


def _shares_prefix(gate):
    """Whether the profile hits the prefix cache on purpose (a high hit rate is then expected): a shared
    prefix, or later turns that carry the earlier ones."""
    p = gate.o['profile']
    return bool(p['shared_prefix']['tokens']) or p['turns']['max'] > 1


def _measured(o, figs, cross, per_trial, capacity=None):
    """metric key -> {value, samples, detail, why, ci95} for the SLO evaluation."""
    figs = figs or {'throughput': {}, 'latency_ms': {}, 'requests': {}, 'goodput': {}}
    thr = figs['throughput']
    completed = (figs['requests'] or {}).get('completed') or 0
    total = (figs['requests'] or {}).get('total') or 0
    window = ((figs.get('window') or {}).get('duration_s')) or 0.0
    detail_thr = '%d requests in %.1f s' % (completed, window)
    if capacity is not None and capacity.get('requests_per_s') is not None:
        detail_thr = 'at capacity %.3g %s (%d requests in %.1f s)' % (
            capacity['requests_per_s'], rate_label(capacity.get('rate_unit')), completed, window)
    why_thr = None if completed else 'no request completed'
    m = {}
    for key in ('output_tokens_per_s', 'total_tokens_per_s', 'requests_per_s'):
        m[key] = {'value': thr.get(key) if completed else None, 'samples': completed, 'detail': detail_thr,
                  'why': why_thr}
    lat = figs['latency_ms']
    for key in ('ttft', 'itl', 'tpot', 'e2e'):
        s = lat.get(key) or {'count': 0, 'p95': None}
        why = None
        if not s['count']:
            why = 'needs stream: true' if key in ('ttft', 'itl', 'tpot') and not o['stream'] else 'no completed request'
        m['%s_p95_ms' % key] = {'value': s['p95'], 'samples': s['count'], 'why': why}
    req = figs['requests'] or {}
    errs = ', '.join('%s: %d' % kv for kv in sorted((req.get('errors') or {}).items()))
    server_failed = (req.get('by_side') or {}).get('server', 0)
    m['error_rate'] = {'value': req.get('error_rate') if total else None, 'samples': total,
                       'detail': '%d of %d requests failed at the server%s' % (server_failed, total,
                                                                               (' (%s)' % errs) if errs else ''),
                       'why': '; '.join('%s: %s' % (k, v) for k, v in
                                        sorted((req.get('error_examples') or {}).items()))[:600] or None}
    if cross is not None:
        if cross.get('available') and not cross.get('inconclusive'):
            c = cross['counts']
            detail = 'client vs server: %s' % ', '.join(
                '%s %s vs %s' % (k.replace('_', ' '), c[k]['client'], c[k]['server'])
                for k in ('output_tokens', 'prompt_tokens', 'requests') if c[k]['client'] is not None)
            m['token_mismatch'] = {'value': cross['mismatch'], 'samples': completed, 'detail': detail,
                                   'why': ('the servers counted other tokens than the client received: run on idle '
                                           "instances, or give each instance's own /metrics in metrics_urls")}
        elif cross.get('inconclusive'):
            m['token_mismatch'] = {'value': None, 'samples': 0, 'why': cross['inconclusive']}
        else:
            m['token_mismatch'] = {'value': None, 'samples': 0,
                                   'why': '%s; set metrics_urls, or cross_check: false to skip the cross-check'
                                          % (cross.get('reason') or 'server /metrics unavailable')}
    g = figs.get('goodput') or {}
    m['goodput_ratio'] = {'value': g.get('ratio'), 'samples': total,
                          'detail': '%s of %d issued requests completed within every per-request SLO'
                                    % (g.get('good_requests'), total)}
    if per_trial:
        for key, name in (('output_tokens_per_s', 'capacity_output_tokens_per_s' if capacity else 'output_tokens_per_s'),
                          ('total_tokens_per_s', 'total_tokens_per_s'), ('requests_per_s', 'requests_per_s'),
                          ('ttft_p95_ms', 'ttft_p95_ms'), ('tpot_p95_ms', 'tpot_p95_ms'),
                          ('itl_p95_ms', 'itl_p95_ms'), ('e2e_p95_ms', 'e2e_p95_ms'),
                          ('error_rate', 'error_rate'), ('goodput_ratio', 'goodput_ratio')):
            ci = per_trial.get(name, {}).get('ci95')
            if ci and key in m:
                m[key]['ci95'] = ci
                m[key]['detail'] = (m[key].get('detail') or '%d samples' % m[key]['samples']) + \
                    ', %d trials' % per_trial[name]['n']
    return m


def _message(gate, result, slos, verdict, client, stopped, capacity):
    thr = result.get('throughput') or {}
    req = result.get('requests') or {}
    head = ('%s %s: %.1f output tok/s, %.2f req/s, %d requests, error rate %s'
            % (gate.url, gate.model, thr.get('output_tokens_per_s') or 0.0, thr.get('requests_per_s') or 0.0,
               req.get('total') or 0, req.get('error_rate')))
    unit = rate_label(capacity.get('rate_unit')) if capacity is not None else None
    if capacity is not None and capacity['requests_per_s'] is not None:
        head = ('%s %s: capacity at SLO %.3g %s, %.1f output tok/s (limited by %s; %d steps)'
                % (gate.url, gate.model, capacity['requests_per_s'], unit, capacity['output_tokens_per_s'] or 0.0,
                   capacity['limiting_slo'] or 'no SLO within the searched range', len(capacity['steps'])))
    if verdict == 'pass':
        return 'throughput gate passed: ' + head
    lines = []
    if verdict == 'fail':
        lines.append('throughput gate FAILED (%s):' % head)
        if capacity is not None and capacity['requests_per_s'] is None:
            steps = capacity['steps']
            lowest = min(steps, key=lambda s: s['rate']) if steps else None
            if lowest is not None:
                lines.append('- even at %.3g %s, the lowest rate tried (capacity_min_rate), an SLO was missed:'
                             % (lowest['rate'], unit))
        lines.extend('- ' + r['message'] for r in slos if r['status'] == 'fail')
        if stopped:
            lines.append('- ' + stopped + ': ' + '; '.join('%s: %s' % kv for kv in sorted(req['error_examples'].items())))
        lines.append('To pass: fix the errors above, tune or scale the instance, or revise the SLO options; '
                     'the full figures are in the result and reports.')
    else:
        lines.append('throughput gate INCONCLUSIVE (%s):' % head)
        lines.extend('- ' + r['message'] for r in slos if r['status'] == 'inconclusive')
        if capacity is not None and capacity['ended'] == 'inconclusive':
            lines.append('- the capacity search stopped at an inconclusive step: %s'
                         % '; '.join(capacity['steps'][-1]['inconclusive']))
        if client['saturated']:
            lines.append('The load client was the bottleneck: run the gate from a host with spare CPU (delegate_to), '
                         'lower concurrency/rate, or raise client_max_cpu/client_max_lag_ms if you accept it.')
        if gate.o['on_inconclusive'] == 'warn':
            lines.append('(on_inconclusive: warn, so the play continues)')
    return '\n'.join(lines)


def run_gate(opts, check_mode=False):
    """Synchronous entry point for the module; raises GateError on readiness/config problems."""
    return asyncio.run(run_gate_async(opts, check_mode))
