# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Token-length distributions: draws match the spec (moments within 5% over 10,000 draws, a
Kolmogorov-Smirnov test for histograms), the same seed gives the same draws, bad specs say why."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import math
import random

import pytest

from ansible_collections.inferops.vllm.plugins.module_utils.lengthdist import LengthDist, LengthDistError, make

N = 10000


def sample_moments(xs):
    m = sum(xs) / float(len(xs))
    return m, math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def close(a, b, rel=0.05):
    return abs(a - b) <= rel * abs(b)


# Bounds wide enough that truncation barely moves the moments: the spec's own mean and sd are
# then the target (and the truncated analytic moments agree with them to a fraction of 5%).
WIDE = [
    {'kind': 'normal', 'mean': 500, 'sd': 80, 'min': 1, 'max': 2000},
    {'kind': 'lognormal', 'mean': 200, 'sd': 120, 'min': 1, 'max': 20000},
    {'kind': 'lognormal', 'mean': 1200, 'sd': 150, 'min': 1, 'max': 100000},
]


@pytest.mark.parametrize('spec', WIDE)
def test_wide_bounds_mean_and_sd_within_5_percent_of_the_spec(spec):
    d = make(spec)
    xs = d.samples(random.Random(11), N)
    m, sd = sample_moments(xs)
    assert close(m, spec['mean']), (m, spec)
    assert close(sd, spec['sd']), (sd, spec)
    am, asd = d.moments()
    assert close(am, spec['mean'], 0.01) and close(asd, spec['sd'], 0.02)
    assert all(isinstance(x, int) and spec['min'] <= x <= spec['max'] for x in xs)


# Tight bounds cut the distribution: the draws must match the truncated analytic moments, which
# differ from the spec's mean/sd by more than 5% (so this checks the truncation, not luck).
TIGHT = [
    ({'kind': 'normal', 'mean': 100, 'sd': 60, 'min': 50, 'max': 160}, 'sd'),
    ({'kind': 'lognormal', 'mean': 120, 'sd': 100, 'min': 4, 'max': 200}, 'mean'),
    ({'kind': 'lognormal', 'mean': 160, 'sd': 110, 'min': 8, 'max': 384}, 'sd'),
]


@pytest.mark.parametrize('spec,moved', TIGHT)
def test_tight_bounds_match_the_truncated_analytic_moments(spec, moved):
    d = make(spec)
    am, asd = d.moments()
    spec_value = spec[moved]
    analytic = am if moved == 'mean' else asd
    assert not close(analytic, spec_value), 'the bounds should move the %s by more than 5%%' % moved
    m, sd = sample_moments(d.samples(random.Random(5), N))
    assert close(m, am) and close(sd, asd), (m, sd, am, asd)


def test_uniform_integer_moments():
    d = make({'kind': 'uniform', 'min': 16, 'max': 64})
    m, sd = sample_moments(d.samples(random.Random(3), N))
    # mean (16 + 64) / 2 = 40; sd of 49 equally likely integers sqrt((49^2 - 1) / 12) = 14.142
    assert d.moments() == (40.0, pytest.approx(14.1421, abs=1e-3))
    assert close(m, 40.0) and close(sd, 14.1421)


def test_fixed_and_int_shorthand():
    assert make(128).samples(random.Random(1), 5) == [128] * 5
    assert make({'kind': 'fixed', 'value': 7}).moments() == (7.0, 0.0)


HIST = {'kind': 'histogram', 'bins': [{'value': 32, 'weight': 0.2}, {'range': [33, 64], 'weight': 0.5},
                                      {'range': [65, 128], 'weight': 0.3}]}


def ks_statistic(xs, dist):
    """sup |F_n(x) - F(x)| over the support (a discrete distribution: check at every value)."""
    xs = sorted(xs)
    n = float(len(xs))
    worst = 0.0
    i = 0
    for x in range(dist.min_value, dist.max_value + 1):
        while i < len(xs) and xs[i] <= x:
            i += 1
        worst = max(worst, abs(i / n - dist.cdf(x)))
    return worst


def test_histogram_passes_kolmogorov_smirnov_at_5_percent():
    d = make(HIST)
    xs = d.samples(random.Random(2026), N)
    # critical value of the KS statistic at alpha = 0.05 for large n: 1.358 / sqrt(n) = 0.0136;
    # for a discrete distribution the test is conservative (the true level is below 5%)
    assert ks_statistic(xs, d) < 1.358 / math.sqrt(N)
    m, sd = sample_moments(xs)
    am, asd = d.moments()
    assert close(m, am) and close(sd, asd)


def test_ks_rejects_a_different_histogram():
    # the same test must be able to fail: draws from other weights are far from HIST's CDF
    other = make({'kind': 'histogram', 'bins': [{'value': 32, 'weight': 0.3}, {'range': [33, 64], 'weight': 0.4},
                                                {'range': [65, 128], 'weight': 0.3}]})
    xs = other.samples(random.Random(2026), N)
    assert ks_statistic(xs, make(HIST)) > 1.358 / math.sqrt(N)


@pytest.mark.parametrize('spec', WIDE + [t[0] for t in TIGHT] + [HIST, {'kind': 'uniform', 'min': 1, 'max': 9}])
def test_same_seed_same_draws_other_seed_other_draws(spec):
    d = make(spec)
    a = d.samples(random.Random(42), 200)
    assert a == d.samples(random.Random(42), 200)
    assert a != d.samples(random.Random(43), 200)


@pytest.mark.parametrize('spec,message', [
    (-5, 'length must be an integer >= 1 (or a distribution dict), got -5'),
    (0, 'got 0'),
    ({'kind': 'fixed', 'value': -1}, 'length.value must be an integer >= 1, got -1'),
    ({'kind': 'poisson', 'mean': 3}, 'length.kind must be one of fixed, uniform, normal, lognormal, histogram'),
    ({'kind': 'uniform', 'min': 10, 'max': 5}, 'length.max (5) must be >= length.min (10)'),
    ({'kind': 'normal', 'mean': 10, 'sd': 2}, 'length.max is required for kind normal'),
    ({'kind': 'lognormal', 'mean': 10, 'sd': 0, 'max': 50}, 'length.sd must be a number > 0, got 0'),
    ({'kind': 'normal', 'mean': 10, 'sd': 1, 'min': 100, 'max': 200}, 'keep only'),
    ({'kind': 'uniform', 'min': 1, 'max': 5, 'mean': 3}, 'unknown field mean for kind uniform'),
    ({'kind': 'histogram', 'bins': [{'value': 3, 'weight': 0.5}, {'value': 9, 'weight': 0.4}]},
     'weights must sum to 1'),
    ({'kind': 'histogram', 'bins': [{'value': 3, 'range': [1, 2], 'weight': 1.0}]}, 'exactly one of value'),
    ({'kind': 'histogram', 'bins': [{'range': [5, 2], 'weight': 1.0}]}, 'lo <= hi'),
    ({'kind': 'histogram', 'bins': [{'value': 0, 'weight': 1.0}]}, 'bins[0].value must be an integer >= 1'),
    ({'kind': 'histogram', 'bins': []}, 'non-empty list'),
])
def test_bad_specs_name_the_field(spec, message):
    with pytest.raises(LengthDistError) as exc:
        LengthDist(spec)
    assert message in str(exc.value)


def test_weights_within_tolerance_are_accepted():
    make({'kind': 'histogram', 'bins': [{'value': 3, 'weight': 0.3333333}, {'value': 4, 'weight': 0.6666667}]})
