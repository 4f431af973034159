# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scheduler on its own, with a stand-in for the request (no server)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import asyncio
import itertools
import random
import statistics

import pytest

from ansible_collections.inferops.vllm.plugins.module_utils.loadrecord import Recorder, Tally
from ansible_collections.inferops.vllm.plugins.module_utils.loadsched import Phase, arrival_gaps, scheduled_gaps


def gaps(n, rate, arrival, burstiness=1.0):
    return list(itertools.islice(arrival_gaps(rate, arrival, random.Random(1), burstiness), n))


@pytest.mark.parametrize('arrival,burstiness,cv', [('constant', 1.0, 0.0), ('poisson', 1.0, 1.0),
                                                   ('poisson', 0.25, 2.0), ('poisson', 4.0, 0.5)])
def test_arrival_gaps_have_the_rate_and_the_spread(arrival, burstiness, cv):
    g = gaps(20000, 10.0, arrival, burstiness)
    assert statistics.mean(g) == pytest.approx(0.1, rel=0.03)
    # gamma of shape b: coefficient of variation 1 / sqrt(b)
    assert statistics.pstdev(g) / statistics.mean(g) == pytest.approx(cv, abs=0.05)


@pytest.mark.parametrize('arrival,burstiness', [('poisson', 1.0), ('poisson', 0.5), ('constant', 1.0)])
def test_a_run_of_n_arrivals_spans_exactly_n_over_rate(arrival, burstiness):
    # vllm bench serve's normalize_factor: the offered rate is the one asked for, in every run
    for seed in range(5):
        g = list(itertools.islice(scheduled_gaps(10.5, arrival, random.Random(seed), burstiness, 300), 300))
        assert sum(g) == pytest.approx(300 / 10.5, rel=1e-9)
    raw = [sum(itertools.islice(arrival_gaps(10.5, 'poisson', random.Random(seed)), 300)) for seed in range(5)]
    assert max(abs(s / (300 / 10.5) - 1) for s in raw) > 0.01     # what the scaling takes away


def test_scaled_gaps_keep_their_spread_and_go_on_after_the_run():
    g = list(itertools.islice(scheduled_gaps(10.0, 'poisson', random.Random(2), 1.0, 5000), 5100))
    assert statistics.pstdev(g[:5000]) / statistics.mean(g[:5000]) == pytest.approx(1.0, abs=0.05)
    assert len(g) == 5100


def run_phase(service_s, **kw):
    rec = Recorder(Tally(4))

    async def send(record, index):
        await asyncio.sleep(service_s)
        record.end = record.sent + service_s
        record.first_token = record.sent
        record.output_tokens = 4
        rec.ok(record)

    async def go():
        phase = Phase(rec, send, rng=random.Random(3), **kw)
        return await phase.run()
    return rec, asyncio.run(go())


def test_open_loop_never_overshoots_its_cap_and_keeps_the_schedule_time():
    rec, stats = run_phase(0.05, concurrency=3, num_requests=30, mode='open', rate=200.0, arrival='constant')
    assert stats['max_inflight'] == 3 and stats['cap_waits'] > 0 and stats['issued'] == 30
    late = [r.lateness for r in rec.records]
    assert max(late) > 0.2          # the late ones keep their scheduled time (their latency will show it)
    assert all(r.scheduled is not None and r.start == r.scheduled for r in rec.records)


def test_closed_loop_keeps_its_concurrency():
    rec, stats = run_phase(0.02, concurrency=4, duration_s=0.5)
    assert stats['max_inflight'] == 4 and all(r.scheduled is None for r in rec.records)
    assert stats['mean_inflight'] == pytest.approx(4, abs=0.3)


def test_arrivals_due_in_the_window_are_sent_late_or_counted_unsent():
    # 1 s at 40/s = 40 arrivals, one slot, 0.1 s per request: ~10 fit in the window + grace, the rest are unsent
    rec, stats = run_phase(0.1, concurrency=1, duration_s=1.0, mode='open', rate=40.0, arrival='constant',
                           grace_s=0.5)
    assert stats['issued'] + stats['unsent'] in (40, 41)
    assert stats['unsent'] >= 20


def test_trimmed_warm_up_is_recorded_but_not_measured():
    rec, _stats = run_phase(0.01, concurrency=2, duration_s=1.0, mode='open', rate=50.0, arrival='constant',
                            trim_s=0.2)
    measured = rec.measured()
    assert 0 < len(measured) < len(rec.records)
    assert len(rec.records) - len(measured) == pytest.approx(10, abs=1)


def test_an_open_loop_window_offers_exactly_its_rate():
    # duration-bound: rate x duration arrivals, whatever the Poisson draws (before: 40-60 here)
    for seed in (1, 2, 3):
        rec = Recorder(Tally(4))

        async def send(record, index):
            record.end = record.first_token = record.sent
            record.output_tokens = 1
            rec.ok(record)

        async def go():
            return await Phase(rec, send, 64, None, 1.0, 'open', 50.0, 'poisson', rng=random.Random(seed)).run()
        assert asyncio.run(go())['issued'] == 50
