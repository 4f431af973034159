# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Workload profiles across a fleet: which profile runs the validate role makes, one report row per
(host, profile), and the placement inputs (one row per profile and hardware class) they give.

The validate role's ``validate_profiles`` lists built-in names and/or profile dicts. Each becomes one
gate run against the host as a whole: a capacity search at the profile's own SLOs when it has a
latency SLO (interactive work), else a closed loop whose throughput is its capacity (batch work has
no latency objective). The host's price is charged at that capacity, so every row's cost per 1M
tokens is the host's cost for that kind of work.

A row carries what decides where a kind of work belongs: capacity (sessions/s: a session of a
single-turn profile is one request), cost per 1M tokens there, the prefix-cache hit rate the servers
counted (high on purpose for a profile with a shared prefix or several turns, so no warning then),
the share of valid tool calls / JSON documents, and TTFT of first turns against later ones.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.inferops.vllm.plugins.module_utils import profiles
from ansible_collections.inferops.vllm.plugins.module_utils.capacity import REQUESTS_PER_S, SESSIONS_PER_S, rate_label
from ansible_collections.inferops.vllm.plugins.module_utils.loadstats import LATENCY_SLOS
from ansible_collections.inferops.vllm.plugins.module_utils.placement import (
    PlacementError, best_per_profile, cheapest_fleet,
)

CAPACITY = 'capacity'
CLOSED = 'closed'
# A hit rate above this is worth a word when the profile was not built to hit (same as the gate's warning).
HIGH_HIT_RATE = 0.5
# Verdicts whose capacity may be used for placement: inconclusive means the client, not the server,
# stopped the search, so the rate found still met every SLO (a lower bound of the capacity).
USABLE = ('pass', 'inconclusive')
# What a row keeps of each capacity step: the latency/throughput curve the placement report draws.
STEP_KEYS = ('rate', 'verdict', 'ttft_p95_ms', 'tpot_p95_ms', 'e2e_p95_ms', 'output_tokens_per_s')


class ProfileRunError(ValueError):
    """Bad validate_profiles input; the message names the variable and the accepted values."""


def role_runs(items, directory, var='validate_profiles'):
    """The gate runs for ``items`` (names of built-ins in ``directory`` and/or profile dicts):
    [{name, mode, profile}] with the validated profile; an unknown name lists the built-ins."""
    if items is None:
        return []
    if not isinstance(items, list):
        raise ProfileRunError('%s must be a list of built-in profile names (%s) or profile dicts, got %r'
                              % (var, ', '.join(profiles.builtin_names(directory)), items))
    try:
        resolved = profiles.resolve(items, directory)
    except profiles.ProfileError as exc:
        raise ProfileRunError('%s: %s' % (var, exc))
    out = []
    for item, p in zip(items, resolved):
        latency = any(k in LATENCY_SLOS for k in p['slos'])
        # the module gets the profile as written (it validates it again, and a validated form is not
        # always valid input: histogram bins are rewritten)
        source = _builtin_doc(item, directory) if isinstance(item, str) else item
        out.append({'name': p['name'], 'mode': CAPACITY if latency else CLOSED, 'profile': source})
    return out


def _builtin_doc(name, directory):
    import yaml  # the controller's, as profiles.load_builtin
    with open(os.path.join(directory, name + '.yml')) as f:
        return yaml.safe_load(f)


_NOT_RESULT = ('invocation', 'item', 'ansible_loop_var', 'changed', 'failed', '_ansible_no_log',
               '_ansible_item_label', '_ansible_delegated_vars', '_ansible_verbose_always')


def profile_record(res, host, runner, hardware, target=None):
    """The record of one looped profile run (its ``item`` one of ``role_runs``)."""
    item = res.get('item') or {}
    result = dict((k, v) for k, v in res.items() if k not in _NOT_RESULT)
    result.setdefault('verdict', 'error')
    return {'host': host, 'target': target, 'profile': item.get('name'), 'mode': item.get('mode'),
            'runner': runner, 'hardware': hardware, 'scope': 'host', 'result': result}


def _num(v):
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def slo_excess(slos):
    """Worst measured/limit over the failed SLOs (a max_* SLO: measured/limit; a min_*: limit/measured), or None."""
    worst = None
    for s in slos or []:
        m, t = _num(s.get('measured')), _num(s.get('threshold'))
        if s.get('status') != 'fail' or m is None or t is None:
            continue
        if s.get('name', '').startswith('min_'):
            ex = (t / m) if m > 0 else float('inf')
        else:
            ex = (m / t) if t > 0 else float('inf')
        worst = ex if worst is None else max(worst, ex)
    return worst


def builds_cache_hits(prof):
    """Whether a profile hits the prefix cache on purpose: a shared prefix, or later turns carrying earlier ones."""
    sp = (prof or {}).get('shared_prefix') or {}
    turns = (prof or {}).get('turns') or {}
    return bool(sp.get('tokens')) or (turns.get('max') or 1) > 1


def profile_row(record):
    """One report row of a profile record."""
    res = record.get('result') or {}
    prof = res.get('profile') or {}
    cap = res.get('capacity') or {}
    cost = res.get('cost') or {}
    thr = res.get('throughput') or {}
    mode = record.get('mode') or res.get('mode')
    if mode == CAPACITY:
        capacity, out_tps, total_tps = cap.get('requests_per_s'), cap.get('output_tokens_per_s'), \
            cap.get('total_tokens_per_s')
        basis = 'capacity at SLO'
    else:
        # closed loop, no latency SLO: what the host carried is its capacity; a session of a single-turn
        # profile is one request (multi-turn batch work counts requests, said by rate_unit)
        capacity, out_tps, total_tps = thr.get('requests_per_s'), thr.get('output_tokens_per_s'), \
            thr.get('total_tokens_per_s')
        basis = 'throughput (no latency SLO)'
    single = ((prof.get('turns') or {}).get('max') or 1) == 1
    unit = cap.get('rate_unit') or prof.get('rate_unit') or SESSIONS_PER_S
    if mode != CAPACITY and not single:
        unit = REQUESTS_PER_S
    cross = res.get('cross_check') or {}
    hit = (cross.get('server') or {}).get('prefix_cache_hit_rate') if cross.get('available') else None
    expected = builds_cache_hits(prof)
    ttft = prof.get('ttft_ms') or {}
    first, later = ttft.get('first_turns') or {}, ttft.get('later_turns') or {}
    verdict = res.get('verdict') or 'error'
    met = verdict in USABLE and bool(capacity) and capacity > 0
    row = {
        'host': record.get('host'), 'target': record.get('target'), 'hardware': record.get('hardware') or 'unknown',
        'profile': record.get('profile') or prof.get('name'), 'mode': mode, 'model': res.get('model') or 'unknown',
        'verdict': verdict, 'msg': res.get('msg') or '',
        'capacity': capacity, 'rate_unit': unit, 'basis': basis,
        'output_tokens_per_s': out_tps, 'total_tokens_per_s': total_tps,
        'limiting_slo': cap.get('limiting_slo'),
        'host_cost_per_hour': cost.get('host_cost_per_hour'),
        'cost_per_1m_output_tokens': cost.get('per_1m_output_tokens') if met else None,
        'cost_per_1m_total_tokens': cost.get('per_1m_total_tokens') if met else None,
        'prefix_cache_hit_rate': hit, 'builds_cache_hits': expected,
        'high_hit_rate_warning': hit is not None and hit > HIGH_HIT_RATE and not expected,
        'expects': prof.get('expects'), 'answers_checked': prof.get('answers_checked'),
        'valid_rate': prof.get('valid_rate'), 'invalid_output': prof.get('invalid_output'),
        'ttft_first_p50_ms': first.get('p50'), 'ttft_first_p95_ms': first.get('p95'),
        'ttft_later_p50_ms': later.get('p50'), 'ttft_later_p95_ms': later.get('p95'),
        'slo_met': met, 'slo_excess': slo_excess(res.get('slos')),
        'slos': dict((s.get('name'), s.get('threshold')) for s in res.get('slos') or [] if s.get('name')),
        'steps': [dict((k, st.get(k)) for k in STEP_KEYS)
                  for st in sorted(cap.get('steps') or [], key=lambda x: x.get('rate') or 0)],
    }
    return row


def placement_rows(rows):
    """One placement input per (profile, hardware class): the class's slowest host that met the SLOs (a
    fleet sized on it holds on every host of the class), else its closest miss; the class's price."""
    groups = {}
    for r in rows:
        groups.setdefault((r['profile'], r['hardware']), []).append(r)
    out = []
    for (p, c), mine in sorted(groups.items()):
        ok = [r for r in mine if r['slo_met']]
        if ok:
            pick = min(ok, key=lambda r: (r['capacity'], r['host'] or ''))
        else:
            pick = min(mine, key=lambda r: (r['slo_excess'] if r['slo_excess'] is not None else float('inf'),
                                            r['host'] or ''))
        prices = sorted(set(r['host_cost_per_hour'] for r in mine if r['host_cost_per_hour'] is not None))
        out.append({'profile': p, 'hardware_class': c, 'capacity_rps': pick['capacity'] if ok else None,
                    'cost_per_1m': pick['cost_per_1m_output_tokens'] if ok else None,
                    'cost_per_hour': prices[-1] if len(prices) == 1 else (None if not prices else prices),
                    'slo_met': bool(ok), 'slo_excess': None if ok else pick['slo_excess'],
                    'hosts': len(mine), 'rate_unit': pick['rate_unit'], 'source': 'measured',
                    'steps': pick['steps']})
    return out


def _placement(rows, target, available):
    """(per_profile, fleet, error): placement of ``rows``; a bad input is reported, never raised (the report
    is still written)."""
    if not rows:
        return None, None, None
    multi = [r for r in rows if isinstance(r['cost_per_hour'], list)]
    if multi:
        r = multi[0]
        return None, None, ('hardware class %r has hosts with different prices (%s per hour): give hosts of one '
                            'class one validate_host_cost_per_hour, or split the class (validate_hardware_class)'
                            % (r['hardware_class'], ', '.join('%g' % x for x in r['cost_per_hour'])))
    try:
        per = best_per_profile(rows)
        fleet = cheapest_fleet(rows, target, available) if target else None
    except PlacementError as exc:
        return None, None, str(exc)
    return per, fleet, None


def summarize(records, target=None, available=None):
    """Rows of every profile record, the placement inputs they give, and the placement itself."""
    rows = sorted((profile_row(r) for r in records or []), key=lambda r: (r['profile'] or '', r['host'] or ''))
    # check mode measures nothing: no placement from it (it would say no class meets any profile)
    inputs = placement_rows([r for r in rows if r['verdict'] != 'not_run'])
    per, fleet, error = _placement(inputs, target, available)
    return {'rows': rows, 'placement_rows': inputs, 'per_profile': per, 'fleet': fleet, 'placement_error': error,
            'target': dict(target) if target else None,
            'warnings': ['%s/%s: the server served %.0f%% of prompt tokens from its prefix cache, and profile %r '
                         'shares no prefix and has one turn: TTFT is lower than for fresh prompts'
                         % (r['host'], r['profile'], 100 * r['prefix_cache_hit_rate'], r['profile'])
                         for r in rows if r['high_hit_rate_warning']]}


# -- Markdown ------------------------------------------------------------------------------------
def table_cell(value, digits=1):
    if value is None:
        return '-'
    if isinstance(value, float):
        return ('%.' + str(digits) + 'f') % value
    return str(value)


def _pct(value):
    return '-' if value is None else '%.1f%%' % (100.0 * value)


def _rate(value, unit, digits=3):
    """A rate with its unit ('1.500 sessions/s'); '-' without a value. Placement rows without a unit are in
    sessions/s (placement.py)."""
    if value is None:
        return '-'
    return '%s %s' % (table_cell(value, digits), rate_label(unit or SESSIONS_PER_S))


def profile_lines(summary):
    """The per-profile table of a fleet report."""
    rows = (summary or {}).get('rows') or []
    if not rows:
        return []
    lines = ['## Workload profiles', '',
             'One gate run per host and profile, against the whole host: capacity at the profile\'s own SLOs '
             '(profiles without a latency SLO: closed-loop throughput), the host charged once at that capacity. '
             'Prefix-cache hits are expected for profiles with a shared prefix or several turns.', '',
             '| host | class | profile | verdict | capacity | output tok/s | $ per 1M output tok | prefix cache hits '
             '| valid answers | TTFT p50 first turn ms | TTFT p50 later turns ms | limited by |',
             '|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|']
    for r in rows:
        hit = _pct(r['prefix_cache_hit_rate'])
        if r['prefix_cache_hit_rate'] is not None:
            hit += ' (expected)' if r['builds_cache_hits'] else (' **high**' if r['high_hit_rate_warning'] else '')
        valid = '-' if r['valid_rate'] is None else '%s of %s' % (_pct(r['valid_rate']), r['answers_checked'])
        lines.append('| %s | %s | %s | %s | %s %s | %s | %s | %s | %s | %s | %s | %s |' % (
            r['host'], r['hardware'], r['profile'], r['verdict'], table_cell(r['capacity'], 3),
            rate_label(r['rate_unit']), table_cell(r['output_tokens_per_s']),
            table_cell(r['cost_per_1m_output_tokens'], 4), hit, valid, table_cell(r['ttft_first_p50_ms']),
            table_cell(r['ttft_later_p50_ms']), r['limiting_slo'] or '-'))
    lines.append('')
    for w in (summary.get('warnings') or []):
        lines.append('Warning: %s.' % w)
    bad = [r for r in rows if r['verdict'] not in USABLE]
    for r in bad:
        lines.append('- %s/%s (%s): %s' % (r['host'], r['profile'], r['verdict'], r['msg'].replace('\n', '; ')))
    if bad or summary.get('warnings'):
        lines.append('')
    return lines


def placement_lines(per_profile, fleet, error=None, inputs=None):
    """The placement section: the cheapest class per profile, the cheapest fleet for the target mix."""
    lines = ['## Placement', '']
    if error:
        lines.extend(['Placement not computed: %s.' % error, ''])
        return lines
    if not per_profile:
        return []
    if inputs:
        lines.append('| profile | class | capacity per host | $/h per host | $ per 1M output tok | meets its SLOs | '
                     'source |')
        lines.append('|---|---|---:|---:|---:|---|---|')
        for r in inputs:
            lines.append('| %s | %s | %s | %s | %s | %s | %s |' % (
                r['profile'], r['hardware_class'], _rate(r.get('capacity_rps'), r.get('rate_unit')),
                table_cell(r.get('cost_per_hour'), 2),
                table_cell(r.get('cost_per_1m'), 4), 'yes' if r.get('slo_met') else 'no', r.get('source') or '-'))
        lines.append('')
    lines.append('Cheapest class per profile (by price per host over capacity per host):')
    lines.append('')
    for p in sorted(per_profile):
        b = per_profile[p]
        if b['meets']:
            lines.append('- %s: **%s**, %s per host, $%s per 1M output tokens%s' % (
                p, b['hardware_class'], _rate(b['capacity_rps'], b.get('rate_unit')), table_cell(b.get('cost_per_1m'), 4),
                ('; then ' + ', '.join(b['ranking'][1:])) if len(b['ranking']) > 1 else ''))
        else:
            lines.append('- %s' % b['message'])
    lines.append('')
    if fleet:
        lines.append('Cheapest fleet for the target mix (hosts are not shared between profiles: each capacity was '
                     'measured with one profile alone):')
        lines.append('')
        lines.append('| profile | target | hosts | capacity | headroom | $/h |')
        lines.append('|---|---:|---|---:|---:|---:|')
        for p in sorted(fleet['profiles']):
            f = fleet['profiles'][p]
            hosts = ', '.join('%d x %s' % (n, c) for c, n in sorted(f['hosts'].items())) or 'none'
            lines.append('| %s | %s | %s | %s | %s | %s |' % (
                p, _rate(f['target_rps'], f.get('rate_unit'), 2), hosts, _rate(f['capacity_rps'], f.get('rate_unit'), 2),
                _pct(f['headroom']), table_cell(f['cost_per_hour'], 2)))
        total = ', '.join('%d x %s' % (n, c) for c, n in sorted(fleet['hosts'].items()))
        lines.append('')
        lines.append('Fleet: %s, %s per hour.' % (total or 'no hosts', table_cell(fleet['cost_per_hour'], 2)))
        lines.append('')
    return lines


def render_section(summary):
    """Both parts, as the fleet report shows them."""
    if not summary or not summary.get('rows'):
        return []
    lines = profile_lines(summary)
    lines.extend(placement_lines(summary.get('per_profile'), summary.get('fleet'), summary.get('placement_error'),
                                 summary.get('placement_rows')))
    return lines
