# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Regression gate: compare a host's gate record with the one of its previous run.

A record is what the validate role writes to ``<report dir>/<host>/host.json``:
``{host, hardware, scope, model, vllm_version, profile, load, capacity, throughput,
verdict, finished_epoch}``. Two records are compared only when they measure the same
thing: same model, hardware class, scope and profile, both passing, and either both
with a capacity figure (compared: capacity output tokens/s) or both measured at the
same load (compared: output tokens/s at that load). Anything else is skipped, with
the reason; a skipped comparison never fails a deployment.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import math

CAPACITY = 'capacity output tok/s'
FIXED_LOAD = 'output tok/s at the fixed load'

# Fields that must be equal for two records to describe the same service.
IDENTITY_FIELDS = ('model', 'hardware', 'scope', 'profile')
# Fields of ``load`` that must be equal for two throughput figures to be comparable.
LOAD_FIELDS = ('mode', 'api', 'prompt_tokens', 'output_tokens', 'concurrency', 'rate')

_TIMES = u'\u00d7'
_MINUS = u'\u2212'
_ARROW = u'\u2192'


def check_tolerance(tolerance):
    """The tolerance as a float, or ValueError unless 0 <= tolerance < 1."""
    value = None
    if not isinstance(tolerance, bool):
        try:
            value = float(tolerance)
        except (TypeError, ValueError):
            value = None
    if value is None or math.isnan(value) or not 0 <= value < 1:
        raise ValueError('validate_regression_tolerance must be a number with 0 <= tolerance < 1 '
                         '(a fraction: 0.10 allows a 10%% drop), got %r' % (tolerance,))
    return value


def _show(value):
    if value is None:
        return 'none'
    if isinstance(value, float):
        return '%g' % value
    return str(value)


def _fmt_tolerance(tolerance):
    text = '%.2f' % tolerance
    return text if float(text) == tolerance else '%g' % tolerance


def _number(value):
    """A finite int or float, else None (booleans and strings are not figures)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if math.isnan(value) or math.isinf(value):
        return None
    return value


def _result(status, reason, tolerance, metric=None, previous=None, current=None, floor=None):
    return {'status': status, 'reason': reason, 'metric': metric, 'previous': previous,
            'current': current, 'floor': floor, 'tolerance': tolerance}


def _identity_differences(previous, current):
    return [(field, previous.get(field), current.get(field)) for field in IDENTITY_FIELDS
            if previous.get(field) != current.get(field)]


def _load_differences(previous_load, current_load):
    return [(field, previous_load.get(field), current_load.get(field)) for field in LOAD_FIELDS
            if previous_load.get(field) != current_load.get(field)]


def _pick_metric(previous, current):
    """(metric, previous figure, current figure) or (None, reason it cannot be compared)."""
    prev_capacity = previous.get('capacity') or {}
    cur_capacity = current.get('capacity') or {}
    if isinstance(prev_capacity, dict) and isinstance(cur_capacity, dict) and prev_capacity and cur_capacity:
        return CAPACITY, prev_capacity.get('output_tokens_per_s'), cur_capacity.get('output_tokens_per_s')
    prev_load = previous.get('load') or {}
    cur_load = current.get('load') or {}
    if not isinstance(prev_load, dict) or not isinstance(cur_load, dict) or not prev_load or not cur_load:
        which = 'previous report' if not prev_load or not isinstance(prev_load, dict) else 'this report'
        return None, ('the load is not recorded in the %s and the two reports do not both have a '
                      'capacity: not compared' % which)
    differences = _load_differences(prev_load, cur_load)
    if differences:
        return None, 'the load differs: %s: not compared' % '; '.join(
            '%s was %s, is %s' % (field, _show(old), _show(new)) for field, old, new in differences)
    return (FIXED_LOAD, (previous.get('throughput') or {}).get('output_tokens_per_s'),
            (current.get('throughput') or {}).get('output_tokens_per_s'))


def compare(previous, current, tolerance):
    """Compare ``current`` (this run's host record) with ``previous`` (the last run's).

    Returns ``{status, reason, metric, previous, current, floor, tolerance}`` where status
    is ``fail`` when the current figure is below ``previous * (1 - tolerance)``, ``pass``
    when it is not, and ``skipped`` when the records cannot be compared. Raises ValueError
    for a tolerance outside [0, 1) or a current record that is not a dict.
    """
    tolerance = check_tolerance(tolerance)
    if not isinstance(current, dict):
        raise ValueError('the current host record must be a dict, got %r' % (current,))
    host = current.get('host') or 'this host'
    if not previous:
        return _result('skipped', 'first deployment on %s: no previous report to compare with' % host,
                       tolerance)
    if not isinstance(previous, dict):
        raise ValueError('the previous host record must be a dict, got %r' % (previous,))

    differences = _identity_differences(previous, current)
    if differences:
        return _result('skipped', 'previous report is for %s: not compared' % '; '.join(
            '%s %s, this one for %s' % (field, _show(old), _show(new)) for field, old, new in differences),
            tolerance)

    if current.get('verdict') != 'pass':
        return _result('skipped', 'this report\'s verdict is %s, not pass: only a passing report is '
                       'compared with the previous one' % _show(current.get('verdict')), tolerance)
    if previous.get('verdict') != 'pass':
        return _result('skipped', 'previous report\'s verdict is %s, not pass: a failed or inconclusive '
                       'report is no baseline' % _show(previous.get('verdict')), tolerance)

    picked = _pick_metric(previous, current)
    if picked[0] is None:
        return _result('skipped', picked[1], tolerance)
    metric, old, new = picked
    old, new = _number(old), _number(new)
    if old is None or new is None:
        return _result('skipped', 'no %s in %s: not compared' % (
            metric, 'the previous report' if old is None else 'this report'), tolerance,
            metric=metric, previous=old, current=new)
    if old <= 0:
        return _result('skipped', 'previous %s is %s: no baseline to compare with' % (metric, _show(old)),
                       tolerance, metric=metric, previous=old, current=new)

    floor = old * (1 - tolerance)
    change_pct = 100.0 * (new - old) / old
    what = 'capacity' if metric == CAPACITY else 'throughput at the fixed load'
    versions = 'vLLM %s %s %s' % (_show(previous.get('vllm_version') or 'unknown'), _ARROW,
                                  _show(current.get('vllm_version') or 'unknown'))
    bound = '%.1f = previous %s (1 %s %s)' % (floor, _TIMES, _MINUS, _fmt_tolerance(tolerance))
    # At the floor passes: the product can carry float noise (812 * 0.9 = 730.8000000000001).
    failed = new < floor and not math.isclose(new, floor, rel_tol=1e-9, abs_tol=1e-9)
    if failed:
        reason = '%s fell from %.1f to %.1f output tok/s (%+.1f%%), below %s (%s)' % (
            what, old, new, change_pct, bound, versions)
    else:
        reason = '%s went from %.1f to %.1f output tok/s (%+.1f%%), at or above %s (%s)' % (
            what, old, new, change_pct, bound, versions)
    return _result('fail' if failed else 'pass', reason, tolerance, metric=metric, previous=old,
                   current=new, floor=round(floor, 6))
