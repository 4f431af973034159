# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Placement: which hardware class serves which workload profile cheapest, and the cheapest fleet
for a target mix of rates.

Input rows, one per (profile, hardware class) measured (by the gate, or from another report):
``{profile, hardware_class, capacity_rps, cost_per_1m, cost_per_hour, slo_met}`` with
``capacity_rps`` the capacity at the profile's SLOs (None when no step met them), ``cost_per_hour``
the class's price per host and optionally ``slo_excess`` (worst SLO figure / its limit, > 1 is a
miss) to say which class came closest when none meets the SLOs, and ``rate_unit``: the unit of the
capacity, and of that profile's target rate (sessions per second unless a row says
``requests_per_s``; one unit per profile, capacities in two units cannot be compared).

Cheapest class per profile: within one profile every request has the same token shape, so the
cost per 1M tokens of a class is proportional to cost_per_hour / capacity_rps; the ranking uses
that ratio (always computable) and reports the measured cost_per_1m.

Cheapest fleet: integer host counts per class and profile minimising the fleet's cost per hour
such that every profile's hosts together reach its target rate. Hosts are NOT shared between
profiles: the capacities were measured with one profile alone, and a host serving a mix has a
capacity nobody measured (long prefills of one profile push another's TTFT past its SLO, and the
prefix cache and session affinity are split), so adding measured fractions would promise what
was never shown. Without limits the problem splits per profile; with ``available`` (hosts per
class on hand) the profiles compete for hosts and are solved together. Both are exact: every
minimal cover of a profile's target is enumerated (a cover that still covers with one host fewer
is never cheaper, prices being > 0) and a branch and bound over the profiles picks the cheapest
combination that fits the inventory. Ties go to fewer hosts, then to more capacity, then to the
class names' order, so the answer is reproducible.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import math

from ansible_collections.inferops.vllm.plugins.module_utils.capacity import RATE_LABELS, SESSIONS_PER_S, rate_label

EPS = 1e-9
MAX_COMBINATIONS = 200000


class PlacementError(ValueError):
    """Bad input; the message names the row, profile or class and what is expected."""


def _pos(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or math.isinf(value):
        raise PlacementError('%s must be a number > 0, got %r' % (what, value))
    return float(value)


def normalize_rows(rows):
    """Rows checked: (clean rows, {class: price}); raises PlacementError naming the bad field."""
    if not isinstance(rows, list) or not rows:
        raise PlacementError('placement needs measured rows (a non-empty list), got %r' % (rows,))
    out = []
    prices = {}
    seen = set()
    units = {}
    for i, r in enumerate(rows):
        if not isinstance(r, dict):
            raise PlacementError('row %d must be a dict, got %r' % (i, r))
        p, c = r.get('profile'), r.get('hardware_class')
        if not isinstance(p, str) or not p or not isinstance(c, str) or not c:
            raise PlacementError('row %d needs profile and hardware_class (non-empty strings), got %r, %r' % (i, p, c))
        if (p, c) in seen:
            raise PlacementError('profile %r on hardware class %r is measured twice (row %d)' % (p, c, i))
        seen.add((p, c))
        price = r.get('cost_per_hour')
        if price is None:
            raise PlacementError("hardware class %r has no price: row %d (profile %r) has no cost_per_hour; set "
                                 "validate_host_cost_per_hour for its hosts (or cost_per_hour in the input report)"
                                 % (c, i, p))
        price = _pos(price, 'cost_per_hour of hardware class %r (row %d)' % (c, i))
        if c in prices and abs(prices[c] - price) > 1e-9 * max(1.0, price):
            raise PlacementError('hardware class %r has two prices: %g and %g per hour (row %d); one class, one price'
                                 % (c, prices[c], price, i))
        prices[c] = price
        cap = r.get('capacity_rps')
        if cap is not None:
            if isinstance(cap, bool) or not isinstance(cap, (int, float)) or cap < 0:
                raise PlacementError('capacity_rps of profile %r on %r (row %d) must be a number >= 0 or null, got %r'
                                     % (p, c, i, cap))
            cap = float(cap)
        unit = r.get('rate_unit') or SESSIONS_PER_S
        if unit not in RATE_LABELS:
            raise PlacementError('rate_unit of profile %r on %r (row %d) must be one of %s, got %r'
                                 % (p, c, i, ', '.join(sorted(RATE_LABELS)), unit))
        if units.setdefault(p, (unit, c))[0] != unit:
            raise PlacementError('profile %r is measured in %s on %r and in %s on %r (row %d): capacities in two units '
                                 'cannot be compared; measure the profile the same way on every class'
                                 % (p, rate_label(units[p][0]), units[p][1], rate_label(unit), c, i))
        met = bool(r.get('slo_met')) and cap is not None and cap > 0
        out.append({'profile': p, 'hardware_class': c, 'capacity_rps': cap, 'cost_per_1m': r.get('cost_per_1m'),
                    'cost_per_hour': price, 'slo_met': met, 'slo_excess': r.get('slo_excess'), 'rate_unit': unit})
    return out, prices


def _units(rows):
    """{profile: its rate label}: 'sessions/s' or 'req/s'."""
    return dict((r['profile'], rate_label(r['rate_unit'])) for r in rows)


def _rank(row):
    return (row['cost_per_hour'] / row['capacity_rps'], -row['capacity_rps'], row['hardware_class'])


def _closeness(row):
    ex = row.get('slo_excess')
    ex = float(ex) if isinstance(ex, (int, float)) and not isinstance(ex, bool) else float('inf')
    return (ex, -(row['capacity_rps'] or 0.0), row['cost_per_hour'], row['hardware_class'])


def best_per_profile(rows):
    """{profile: {meets, hardware_class, capacity_rps, rate_unit, cost_per_1m, cost_per_hour, cost_per_rps_hour,
    ranking: [classes meeting the SLOs, cheapest first], closest (when none meets), message}}."""
    rows, _prices = normalize_rows(rows)
    units = _units(rows)
    out = {}
    for p in sorted(set(r['profile'] for r in rows)):
        mine = [r for r in rows if r['profile'] == p]
        ok = sorted((r for r in mine if r['slo_met']), key=_rank)
        if ok:
            b = ok[0]
            out[p] = {'meets': True, 'hardware_class': b['hardware_class'], 'capacity_rps': b['capacity_rps'],
                      'cost_per_1m': b['cost_per_1m'], 'cost_per_hour': b['cost_per_hour'],
                      'cost_per_rps_hour': b['cost_per_hour'] / b['capacity_rps'],
                      'ranking': [r['hardware_class'] for r in ok], 'closest': None, 'rate_unit': b['rate_unit'],
                      'message': '%s: cheapest on %s (%.4g %s per host at its SLOs)'
                                 % (p, b['hardware_class'], b['capacity_rps'], units[p])}
        else:
            c = sorted(mine, key=_closeness)[0]
            ex = c.get('slo_excess')
            how = (' (worst SLO figure %.2fx its limit)' % ex) if isinstance(ex, (int, float)) else ''
            out[p] = {'meets': False, 'hardware_class': None, 'capacity_rps': None, 'cost_per_1m': None,
                      'cost_per_hour': None, 'cost_per_rps_hour': None, 'ranking': [],
                      'closest': c['hardware_class'], 'rate_unit': c['rate_unit'],
                      'message': '%s: no class meets it; closest: %s%s' % (p, c['hardware_class'], how)}
    return out


def _covers(target, classes, unit='sessions/s'):
    """Every minimal integer cover of ``target`` (a rate in ``unit``) by classes [(name, capacity, price)]:
    tuples of counts."""
    n = len(classes)
    ubs = [int(math.ceil(target / c[1] - EPS)) for c in classes]
    combos = 1
    for ub in ubs[:-1]:
        combos *= ub + 1
    if combos > MAX_COMBINATIONS:
        raise PlacementError('target %g %s needs up to %s hosts of a class: too many combinations (%d) for the '
                             'exact search; split the target or measure a larger host class'
                             % (target, unit, ubs, combos))
    out = []

    def rec(i, remaining, counts):
        if i == n - 1:
            last = max(0, int(math.ceil(remaining / classes[i][1] - EPS)))
            out.append(tuple(counts + [last]))
            return
        for k in range(ubs[i], -1, -1):
            rec(i + 1, max(0.0, remaining - k * classes[i][1]), counts + [k])
    rec(0, float(target), [])
    minimal = []
    for counts in out:
        cap = sum(k * c[1] for k, c in zip(counts, classes))
        if all(k == 0 or cap - c[1] < target - EPS for k, c in zip(counts, classes)):
            minimal.append(counts)
    return minimal


def cheapest_fleet(rows, target, available=None):
    """The cheapest fleet for ``target`` ({profile: rate in its rows' rate_unit, sessions/s by default}) with
    ``available`` ({class: hosts}) as limits.

    Returns {profiles: {p: {target_rps, hosts: {class: n}, capacity_rps, spare_rps, headroom,
    cost_per_hour}}, hosts: {class: n}, cost_per_hour, shared_hosts: False}.
    """
    rows, prices = normalize_rows(rows)
    if not isinstance(target, dict) or not target:
        raise PlacementError('the target mix must be a dict of profile to rate (sessions/s, or req/s for a profile '
                             'measured in requests), got %r' % (target,))
    units = _units(rows)
    measured = sorted(set(r['profile'] for r in rows))
    available = dict(available or {})
    for c, n in available.items():
        if c not in prices:
            raise PlacementError('available names hardware class %r, which was not measured; measured classes: %s'
                                 % (c, ', '.join(sorted(prices))))
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise PlacementError('available[%r] must be an integer >= 0, got %r' % (c, n))
    best = best_per_profile(rows)
    choices = {}
    for p in sorted(target):
        t = target[p]
        if p not in measured:
            raise PlacementError('the target mix names profile %r, which no hardware class was measured on; measured '
                                 'profiles: %s' % (p, ', '.join(measured)))
        if isinstance(t, bool) or not isinstance(t, (int, float)) or t < 0:
            raise PlacementError('target rate of profile %r must be a number >= 0 (%s), got %r' % (p, units[p], t))
        if t == 0:
            choices[p] = ([], [((), 0.0)])
            continue
        if not best[p]['meets']:
            raise PlacementError('no hardware class meets the SLOs of profile %r, so no fleet can serve its %g %s '
                                 '(%s)' % (p, t, units[p], best[p]['message']))
        classes = sorted(((r['hardware_class'], r['capacity_rps'], r['cost_per_hour']) for r in rows
                          if r['profile'] == p and r['slo_met']), key=lambda c: c[0])
        cands = []
        for counts in _covers(float(t), classes, units[p]):
            cost = sum(k * c[2] for k, c in zip(counts, classes))
            cap = sum(k * c[1] for k, c in zip(counts, classes))
            cands.append((cost, sum(counts), -cap, counts))
        cands.sort()
        choices[p] = ([c[0] for c in classes], [(cand[3], cand[0]) for cand in cands])
    order = sorted(choices)
    lower = [0.0] * (len(order) + 1)
    for i in range(len(order) - 1, -1, -1):
        lower[i] = lower[i + 1] + choices[order[i]][1][0][1]
    state = {'best': None, 'key': None}

    def fits(used):
        return all(used.get(c, 0) <= n for c, n in available.items())

    def dfs(i, cost, used, picked):
        if state['best'] is not None and cost + lower[i] > state['key'][0] + EPS:
            return
        if i == len(order):
            hosts = sum(used.values())
            key = (cost, hosts)
            if state['best'] is None or key < state['key']:
                state['best'], state['key'] = list(picked), key
            return
        names, cands = choices[order[i]]
        for counts, ccost in cands:
            if state['best'] is not None and cost + ccost + lower[i + 1] > state['key'][0] + EPS:
                break      # sorted by cost: the rest are dearer
            nu = dict(used)
            for c, k in zip(names, counts):
                if k:
                    nu[c] = nu.get(c, 0) + k
            if fits(nu):
                dfs(i + 1, cost + ccost, nu, picked + [(names, counts)])
    dfs(0, 0.0, {}, [])
    if state['best'] is None:
        raise PlacementError('the hosts available (%s) cannot serve the target mix %s at the measured capacities'
                             % (', '.join('%s: %d' % kv for kv in sorted(available.items())), target))
    caps = dict(((r['profile'], r['hardware_class']), r['capacity_rps']) for r in rows)
    unit_of = dict((r['profile'], r['rate_unit']) for r in rows)
    result = {'profiles': {}, 'hosts': {}, 'cost_per_hour': 0.0, 'shared_hosts': False}
    for p, (names, counts) in zip(order, state['best']):
        hosts = dict((c, k) for c, k in zip(names, counts) if k)
        cap = sum(k * caps[(p, c)] for c, k in hosts.items())
        cost = sum(k * prices[c] for c, k in hosts.items())
        t = float(target[p])
        result['profiles'][p] = {'target_rps': t, 'hosts': hosts, 'capacity_rps': cap, 'spare_rps': cap - t,
                                 'headroom': (cap - t) / t if t else None, 'cost_per_hour': cost,
                                 'rate_unit': unit_of[p]}
        for c, k in hosts.items():
            result['hosts'][c] = result['hosts'].get(c, 0) + k
        result['cost_per_hour'] += cost
    return result


def placement(rows, target=None, available=None):
    """Both answers: {per_profile: best_per_profile(rows), fleet: cheapest_fleet(...) or None}."""
    return {'per_profile': best_per_profile(rows),
            'fleet': cheapest_fleet(rows, target, available) if target else None}
