# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Capacity at SLO: the highest offered rate at which every SLO holds, by bracketing then bisecting.

Pure search logic: the caller measures one open-loop step at the rate ``next_rate()`` asks for
and reports its verdict with ``record()``. Starting from a guess, the rate doubles while steps
pass and halves while they fail, until one passing and one failing rate bracket the capacity;
then the bracket is bisected until it is narrower than ``precision`` (relative), or the caller
runs out of budget. Like ``vllm bench sweep serve_sla``, but with the bracket found from a guess
rather than a fixed range.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

# The unit of the rates a run offers and finds (the result's ``capacity.rate_unit``, and a workload
# profile's ``rate_unit``): requests per second, or with a workload profile sessions per second (a
# session's turns are sent in order, each after the previous answer; a single-turn session is one request).
REQUESTS_PER_S = 'requests_per_s'
SESSIONS_PER_S = 'sessions_per_s'
RATE_LABELS = {REQUESTS_PER_S: 'req/s', SESSIONS_PER_S: 'sessions/s'}


def rate_label(unit=None):
    """How a rate in ``unit`` is written ('req/s', 'sessions/s'); a rate without a unit counts requests."""
    return RATE_LABELS.get(unit or REQUESTS_PER_S, unit)


class CapacitySearch(object):
    """Bracket-and-bisect over offered rates (requests or sessions per second: see ``rate_label``)."""

    def __init__(self, start_rate, precision=0.05, min_rate=None, max_rate=None):
        if not start_rate > 0:
            raise ValueError('the start rate must be > 0, got %r' % (start_rate,))
        self.precision = float(precision)
        self.min_rate = float(min_rate) if min_rate else start_rate / 64.0
        self.max_rate = float(max_rate) if max_rate else start_rate * 64.0
        self.rate = min(max(float(start_rate), self.min_rate), self.max_rate)
        self.lo = None          # highest rate that passed
        self.hi = None          # lowest rate that failed
        self.done = None        # why the search ended: converged, below_min, at_max, inconclusive
        self.steps = []

    def next_rate(self):
        """The rate to measure next, or None when the search is over (see ``done``)."""
        return None if self.done else self.rate

    def record(self, rate, verdict):
        """Take the verdict (pass, fail or inconclusive) of the step at ``rate``."""
        self.steps.append((rate, verdict))
        if verdict == 'inconclusive':
            self.done = 'inconclusive'
            return
        if verdict == 'pass':
            self.lo = rate if self.lo is None else max(self.lo, rate)
        else:
            self.hi = rate if self.hi is None else min(self.hi, rate)
        if self.lo is not None and self.hi is not None:
            if self.hi <= self.lo * (1.0 + self.precision):
                self.done = 'converged'
                return
            self.rate = (self.lo + self.hi) / 2.0
            return
        if self.hi is None:       # only passes so far: go up
            if rate >= self.max_rate:
                self.done = 'at_max'
                return
            self.rate = min(rate * 2.0, self.max_rate)
            return
        if rate <= self.min_rate:  # only failures so far: go down
            self.done = 'below_min'
            return
        self.rate = max(rate / 2.0, self.min_rate)

    @property
    def capacity(self):
        return self.lo

    def precision_reached(self):
        return self.lo is not None and self.hi is not None and self.hi <= self.lo * (1.0 + self.precision)
