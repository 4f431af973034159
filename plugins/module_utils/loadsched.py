# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Scheduler of the throughput gate: when each request leaves.

Closed loop: ``concurrency`` workers, each sends its next request when the last one ends.
Open loop: requests are due at arrival times (constant spacing, Poisson, or gamma-distributed
gaps with ``burstiness`` as in ``vllm bench serve``, scaled as it scales them so that a run's arrivals
span exactly count / rate) whatever the server does. A cap on
requests in flight protects the client; an arrival that finds it full waits, keeps its
scheduled time (so the wait counts in its latency) and is reported. Arrivals due before the
end of the window are sent even after it, or counted as unsent when still waiting a grace
period later, never silently dropped.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import asyncio
import itertools
import math
import time

from ansible_collections.inferops.vllm.plugins.module_utils.loadrecord import RequestRecord

_perf = time.perf_counter
BREAKER_FAILURES = 20


def arrival_gaps(rate, arrival, rng, burstiness=1.0):
    """Endless gaps (s) between arrivals at ``rate`` per second.

    poisson with burstiness b: gamma-distributed gaps of shape b and mean 1/rate (b = 1 is
    Poisson, b < 1 burstier, b > 1 more regular), as vllm bench serve draws them.
    """
    rate = float(rate)
    if arrival == 'constant':
        gap = 1.0 / rate
        while True:
            yield gap
    b = float(burstiness or 1.0)
    if b == 1.0:
        while True:
            yield rng.expovariate(rate)
    theta = 1.0 / (rate * b)
    while True:
        yield rng.gammavariate(b, theta)


def scheduled_gaps(rate, arrival, rng, burstiness=1.0, count=None):
    """Gaps of a run of ``count`` arrivals, scaled so that they span exactly ``count / rate``.

    ``vllm bench serve`` does the same (its ``normalize_factor``): without it the span of N
    Poisson arrivals varies by about 1/sqrt(N) (±10% for 300), so the offered rate is not the
    one asked for and two runs of the same load differ by that much in queueing. After
    ``count`` gaps (a run that goes on) the gaps are drawn as they come.
    """
    gaps = arrival_gaps(rate, arrival, rng, burstiness)
    if arrival == 'constant' or not count or count < 2:
        return gaps
    first = list(itertools.islice(gaps, int(count)))
    factor = (count / float(rate)) / sum(first)
    return itertools.chain((g * factor for g in first), gaps)


def _arrivals_in(num, duration, rate):
    """How many arrivals the run is made of: its count, else what its window holds at ``rate``."""
    if num is not None:
        return int(num)
    if duration is not None and rate:
        return int(math.ceil(float(duration) * float(rate) - 1e-9))
    return None


class Phase(object):
    """One batch of requests (warm-up, measured run, or one capacity step).

    ``send(record, index)`` is the coroutine that performs request number ``index`` and
    accounts it into ``rec``; the phase only decides when it starts.
    """

    def __init__(self, rec, send, concurrency, num_requests=None, duration_s=None, mode='closed', rate=None,
                 arrival='poisson', burstiness=1.0, rng=None, trim_s=0.0, grace_s=None):
        self.rec = rec
        self.send = send
        self.concurrency = int(concurrency)
        self.num = num_requests
        self.duration = duration_s
        self.mode = mode
        self.rate = rate
        self.arrival = arrival
        self.burstiness = burstiness
        self.rng = rng
        self.trim_s = float(trim_s or 0.0)
        self.grace_s = grace_s
        self.issued = 0
        self.inflight = 0
        self.max_inflight = 0
        self.area = 0.0
        self.last_change = None
        self.start = None
        self.deadline = None
        self.stop_t = None
        self.stop_area = None
        self.stopped_early = None
        self.lags = []
        self.cap_waits = 0
        self.cap_wait_s = 0.0
        self.unsent = 0
        self._slot = None
        self._done = False

    # -- bookkeeping ----------------------------------------------------------------------------
    def _breaker(self):
        rec = self.rec
        if len(rec.records) >= BREAKER_FAILURES and not rec.any_success and \
                rec.consecutive_failures >= BREAKER_FAILURES:
            return ('stopped after the first %d requests all failed (%s)'
                    % (rec.consecutive_failures, ', '.join('%s: %d' % kv for kv in sorted(rec.errors.items()))))
        if rec.any_success and rec.consecutive_failures >= max(BREAKER_FAILURES, 2 * self.concurrency):
            return ('stopped after %d failures in a row (%s): the server stopped serving during the run'
                    % (rec.consecutive_failures, ', '.join('%s: %d' % kv for kv in sorted(rec.errors.items()))))
        return None

    def _may_issue(self, now):
        if self.stop_t is not None:
            return False
        stop = None
        if self.num is not None and self.issued >= self.num:
            stop = 'count'
        elif self.deadline is not None and now >= self.deadline and self.mode == 'closed':
            stop = 'duration'
        else:
            stop = self._breaker()
            if stop:
                self.stopped_early = stop
        if stop is None:
            return True
        self._mark_stop(now)
        return False

    def _mark_stop(self, now):
        if self.stop_t is None:
            self.stop_t = now
            self.stop_area = self.area + self.inflight * (now - self.last_change)

    def _track(self, t, d):
        self.area += self.inflight * (t - self.last_change)
        self.last_change = t
        self.inflight += d
        if self.inflight > self.max_inflight:
            self.max_inflight = self.inflight
        if d < 0 and self._slot is not None and not self._slot.done():
            self._slot.set_result(None)

    async def _one(self, scheduled, index):
        now = _perf()
        measured = (scheduled if scheduled is not None else now) >= self.start + self.trim_s
        record = RequestRecord(scheduled, now, measured)
        self.rec.add(record)
        try:
            await self.send(record, index)
        finally:
            self._track(_perf(), -1)

    # -- loops ----------------------------------------------------------------------------------
    async def _worker(self):
        while self._may_issue(_perf()):
            index = self.issued
            self.issued += 1
            self._track(_perf(), 1)
            await self._one(None, index)

    async def _wait_for_slot(self, loop, hard_stop):
        """Wait until a request in flight ends; False when the hard stop came first."""
        while self.inflight >= self.concurrency:
            self._slot = loop.create_future()
            left = hard_stop - _perf()
            if left <= 0:
                return False
            try:
                await asyncio.wait_for(asyncio.shield(self._slot), left)
            except asyncio.TimeoutError:
                return False
        self._slot = None
        return True

    async def _arrivals(self):
        loop = asyncio.get_running_loop()
        tasks = set()
        gaps = scheduled_gaps(self.rate, self.arrival, self.rng, self.burstiness,
                              _arrivals_in(self.num, self.duration, self.rate))
        next_t = self.start
        grace = self.grace_s if self.grace_s is not None else 60.0
        hard_stop = (self.deadline + grace) if self.deadline is not None else float('inf')
        while True:
            # (the microsecond: a window of rate x duration arrivals ends where the next one is due)
            if self.deadline is not None and next_t >= self.deadline - 1e-6:
                break
            if self.num is not None and self.issued >= self.num:
                break
            delay = next_t - _perf()
            if delay > 0.0005:
                await asyncio.sleep(delay)
            if self._breaker():
                self.stopped_early = self._breaker()
                break
            if self.inflight >= self.concurrency:
                w0 = _perf()
                self.cap_waits += 1
                if not await self._wait_for_slot(loop, hard_stop):
                    self.unsent = self._count_unsent(next_t, gaps)
                    break
                self.cap_wait_s += _perf() - w0
            index = self.issued
            self.issued += 1
            # counted in flight from now on, so that a burst of arrivals cannot overshoot the cap
            self._track(_perf(), 1)
            task = loop.create_task(self._one(next_t, index))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            next_t += next(gaps)
        self._mark_stop(_perf())
        if tasks:
            await asyncio.gather(*tasks)

    def _count_unsent(self, next_t, gaps):
        """Arrivals that were due before the window's end and never left (the one waiting included)."""
        n = 0
        t = next_t
        while (self.deadline is None or t < self.deadline) and (self.num is None or self.issued + n < self.num):
            n += 1
            t += next(gaps)
            if n > 10000000:
                break
        return n

    async def _lag_monitor(self, interval=0.01):
        while not self._done:
            t = _perf()
            await asyncio.sleep(interval)
            self.lags.append(_perf() - t - interval)

    async def run(self, monitor=False):
        loop = asyncio.get_running_loop()
        mon = loop.create_task(self._lag_monitor()) if monitor else None
        cpu0 = time.thread_time()
        pcpu0 = time.process_time()
        self.start = self.last_change = _perf()
        epoch0 = time.time()
        if self.duration is not None:
            self.deadline = self.start + float(self.duration)
        try:
            if self.mode == 'open':
                await self._arrivals()
            else:
                n = self.concurrency if self.num is None else min(self.concurrency, self.num)
                await asyncio.gather(*[self._worker() for _i in range(max(1, n))])
        finally:
            self._done = True
            end = _perf()
            if mon is not None:
                mon.cancel()
                try:
                    await mon
                except asyncio.CancelledError:
                    pass
        self._mark_stop(end)
        return {
            'start': self.start, 'end': end, 'stop': self.stop_t, 'epoch0': epoch0 - self.start,
            'cpu_s': time.thread_time() - cpu0, 'process_cpu_s': time.process_time() - pcpu0,
            'issued': self.issued, 'mean_inflight': (self.stop_area / (self.stop_t - self.start))
            if self.stop_t > self.start else 0.0,
            'max_inflight': self.max_inflight, 'lags': self.lags, 'cap_waits': self.cap_waits,
            'cap_wait_s': self.cap_wait_s, 'stopped_early': self.stopped_early, 'unsent': self.unsent,
            'concurrency': self.concurrency, 'rate': self.rate, 'mode': self.mode, 'trim_s': self.trim_s,
        }
