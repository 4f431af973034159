# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Token-length distributions of workload profiles: a spec dict in, seeded integer draws out.

Spec forms (every draw is an integer >= 1):

- ``128`` or ``{kind: fixed, value: 128}``
- ``{kind: uniform, min: 32, max: 256}`` (integers, both ends included)
- ``{kind: normal, mean: 200, sd: 50, min: 1, max: 1024}``
- ``{kind: lognormal, mean: 200, sd: 150, min: 1, max: 1024}``: ``mean`` and ``sd`` are those of the
  lengths themselves (as a dataset's statistics are quoted), converted to the log-space mu/sigma.
  ``max`` is required for both (a load test must know its longest request), ``min`` defaults to 1;
  draws outside the bounds are redrawn (a truncated distribution, whose moments ``moments()`` gives).
- ``{kind: histogram, bins: [{value: 16, weight: 0.25}, {range: [17, 64], weight: 0.75}]}``: a bin is
  one length or a range of lengths drawn uniformly; the weights must sum to 1 (within 1e-6).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import math

KINDS = ('fixed', 'uniform', 'normal', 'lognormal', 'histogram')
_KEYS = {
    'fixed': ('kind', 'value'),
    'uniform': ('kind', 'min', 'max'),
    'normal': ('kind', 'mean', 'sd', 'min', 'max'),
    'lognormal': ('kind', 'mean', 'sd', 'min', 'max'),
    'histogram': ('kind', 'bins'),
}
WEIGHT_TOLERANCE = 1e-6
# Rejection sampling must not spin: the bounds have to keep at least this share of the distribution.
MIN_MASS = 0.01


class LengthDistError(ValueError):
    """A spec that is not a valid distribution; the message names the field and what it accepts."""


def _phi(x):
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _pdf(x):
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def _int(spec, key, where, minimum=1, required=True, default=None):
    val = spec.get(key, default)
    if val is None:
        if required:
            raise LengthDistError('%s.%s is required for kind %s' % (where, key, spec.get('kind')))
        return None
    if isinstance(val, bool) or not isinstance(val, int) or val < minimum:
        raise LengthDistError('%s.%s must be an integer >= %d, got %r' % (where, key, minimum, val))
    return val


def _num(spec, key, where, positive=True):
    val = spec.get(key)
    if isinstance(val, bool) or not isinstance(val, (int, float)) or (positive and not val > 0):
        raise LengthDistError('%s.%s must be a number > 0, got %r' % (where, key, val))
    return float(val)


def normalize(spec, where='length'):
    """The spec checked and with defaults filled in (a new dict); raises LengthDistError naming ``where``."""
    if isinstance(spec, int) and not isinstance(spec, bool):
        if spec < 1:
            raise LengthDistError('%s must be an integer >= 1 (or a distribution dict), got %r' % (where, spec))
        spec = {'kind': 'fixed', 'value': spec}
    if not isinstance(spec, dict):
        raise LengthDistError('%s must be an integer or a dict with kind (one of %s), got %r'
                              % (where, ', '.join(KINDS), spec))
    kind = spec.get('kind')
    if kind not in KINDS:
        raise LengthDistError('%s.kind must be one of %s, got %r' % (where, ', '.join(KINDS), kind))
    unknown = sorted(k for k in spec if k not in _KEYS[kind])
    if unknown:
        raise LengthDistError('%s has unknown field%s %s for kind %s; accepted: %s'
                              % (where, 's' if len(unknown) > 1 else '', ', '.join(map(str, unknown)), kind,
                                 ', '.join(_KEYS[kind])))
    if kind == 'fixed':
        return {'kind': kind, 'value': _int(spec, 'value', where)}
    if kind == 'uniform':
        lo, hi = _int(spec, 'min', where), _int(spec, 'max', where)
        if hi < lo:
            raise LengthDistError('%s.max (%d) must be >= %s.min (%d)' % (where, hi, where, lo))
        return {'kind': kind, 'min': lo, 'max': hi}
    if kind in ('normal', 'lognormal'):
        out = {'kind': kind, 'mean': _num(spec, 'mean', where), 'sd': _num(spec, 'sd', where),
               'min': _int(spec, 'min', where, required=False, default=1), 'max': _int(spec, 'max', where)}
        if out['max'] < out['min']:
            raise LengthDistError('%s.max (%d) must be >= %s.min (%d)' % (where, out['max'], where, out['min']))
        mass = LengthDist(out, where, checked=True).bounds_mass()
        if mass < MIN_MASS:
            raise LengthDistError('%s: the bounds min=%d, max=%d keep only %.2g%% of a %s with mean %g and sd %g; '
                                  'widen them or move the mean inside'
                                  % (where, out['min'], out['max'], 100 * mass, kind, out['mean'], out['sd']))
        return out
    return {'kind': kind, 'bins': _bins(spec.get('bins'), where)}


def _bins(bins, where):
    if not isinstance(bins, list) or not bins:
        raise LengthDistError('%s.bins must be a non-empty list of {value or range, weight}, got %r' % (where, bins))
    out = []
    total = 0.0
    for i, b in enumerate(bins):
        w = '%s.bins[%d]' % (where, i)
        if not isinstance(b, dict):
            raise LengthDistError('%s must be a dict with value (or range) and weight, got %r' % (w, b))
        unknown = sorted(k for k in b if k not in ('value', 'range', 'weight'))
        if unknown:
            raise LengthDistError('%s has unknown field %s; accepted: value, range, weight'
                                  % (w, ', '.join(map(str, unknown))))
        if ('value' in b) == ('range' in b):
            raise LengthDistError('%s needs exactly one of value (a length) or range ([lo, hi]), got %r' % (w, b))
        if 'value' in b:
            lo = hi = _int(b, 'value', w)
        else:
            rng = b['range']
            if not (isinstance(rng, list) and len(rng) == 2 and all(isinstance(x, int) and not isinstance(x, bool)
                                                                    and x >= 1 for x in rng) and rng[0] <= rng[1]):
                raise LengthDistError('%s.range must be [lo, hi], integers with 1 <= lo <= hi, got %r' % (w, rng))
            lo, hi = rng
        weight = b.get('weight')
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
            raise LengthDistError('%s.weight must be a number >= 0, got %r' % (w, weight))
        total += weight
        out.append({'lo': lo, 'hi': hi, 'weight': float(weight)})
    if abs(total - 1.0) > WEIGHT_TOLERANCE:
        raise LengthDistError('%s.bins weights must sum to 1 (within %g), got %.9g' % (where, WEIGHT_TOLERANCE, total))
    return out


def _lognormal_params(mean, sd):
    """mu, sigma of the underlying normal for lengths of the given mean and sd."""
    sigma2 = math.log(1.0 + (sd * sd) / (mean * mean))
    return math.log(mean) - sigma2 / 2.0, math.sqrt(sigma2)


class LengthDist(object):
    """A validated distribution: ``sample(rng)`` draws one length from a ``random.Random``."""

    def __init__(self, spec, where='length', checked=False):
        self.spec = spec if checked else normalize(spec, where)
        self.where = where
        s = self.spec
        self.kind = s['kind']
        if self.kind in ('normal', 'lognormal'):
            self.lo, self.hi = s['min'], s['max']
            if self.kind == 'lognormal':
                self.mu, self.sigma = _lognormal_params(s['mean'], s['sd'])
            else:
                self.mu, self.sigma = s['mean'], s['sd']
        elif self.kind == 'histogram':
            acc = 0.0
            self.cum = []
            for b in s['bins']:
                acc += b['weight']
                self.cum.append(acc)

    # -- bounds ---------------------------------------------------------------------------------
    @property
    def min_value(self):
        s = self.spec
        if self.kind == 'fixed':
            return s['value']
        if self.kind == 'histogram':
            return min(b['lo'] for b in s['bins'] if b['weight'] > 0)
        return s['min']

    @property
    def max_value(self):
        s = self.spec
        if self.kind == 'fixed':
            return s['value']
        if self.kind == 'histogram':
            return max(b['hi'] for b in s['bins'] if b['weight'] > 0)
        return s['max']

    def _z(self, x):
        # bounds in the space where the distribution is normal; draws are rounded, so a bound
        # covers the half unit around it
        if self.kind == 'lognormal':
            return (math.log(x) - self.mu) / self.sigma
        return (x - self.mu) / self.sigma

    def _zbounds(self):
        return self._z(max(self.lo - 0.5, 1e-9) if self.kind == 'lognormal' else self.lo - 0.5), self._z(self.hi + 0.5)

    def bounds_mass(self):
        """Share of the untruncated (normal or lognormal) distribution inside [min, max]."""
        a, b = self._zbounds()
        return _phi(b) - _phi(a)

    # -- draws ----------------------------------------------------------------------------------
    def sample(self, rng):
        s = self.spec
        kind = self.kind
        if kind == 'fixed':
            return s['value']
        if kind == 'uniform':
            return rng.randint(s['min'], s['max'])
        if kind == 'histogram':
            u = rng.random()
            for b, c in zip(s['bins'], self.cum):
                if u < c:
                    return b['lo'] if b['lo'] == b['hi'] else rng.randint(b['lo'], b['hi'])
            last = [b for b in s['bins'] if b['weight'] > 0][-1]     # u at the float sum's edge
            return rng.randint(last['lo'], last['hi'])
        while True:
            x = rng.gauss(self.mu, self.sigma)
            if kind == 'lognormal':
                x = math.exp(min(x, 700.0))
            n = int(math.floor(x + 0.5))
            if self.lo <= n <= self.hi:
                return n

    def samples(self, rng, count):
        return [self.sample(rng) for _i in range(count)]

    # -- analytic moments -----------------------------------------------------------------------
    def moments(self):
        """(mean, sd) of the distribution as drawn: truncated to the bounds, before rounding for
        normal/lognormal (rounding adds at most 1/12 to the variance), exact for the discrete forms."""
        s = self.spec
        kind = self.kind
        if kind == 'fixed':
            return float(s['value']), 0.0
        if kind == 'uniform':
            n = s['max'] - s['min'] + 1
            return (s['min'] + s['max']) / 2.0, math.sqrt((n * n - 1) / 12.0)
        if kind == 'histogram':
            m1 = m2 = 0.0
            for b in s['bins']:
                n = b['hi'] - b['lo'] + 1
                mean = (b['lo'] + b['hi']) / 2.0
                var = (n * n - 1) / 12.0
                m1 += b['weight'] * mean
                m2 += b['weight'] * (var + mean * mean)
            return m1, math.sqrt(max(0.0, m2 - m1 * m1))
        a, b = self._zbounds()
        z = _phi(b) - _phi(a)
        if kind == 'normal':
            pa, pb = _pdf(a), _pdf(b)
            ta = a * pa if math.isfinite(a) else 0.0
            tb = b * pb if math.isfinite(b) else 0.0
            mean = self.mu + self.sigma * (pa - pb) / z
            var = self.sigma ** 2 * (1.0 + (ta - tb) / z - ((pa - pb) / z) ** 2)
            return mean, math.sqrt(max(0.0, var))
        mu, sigma = self.mu, self.sigma

        def raw(k):
            # E[X^k | a < Z < b] of a lognormal, Z = (ln X - mu) / sigma
            return (math.exp(k * mu + (k * sigma) ** 2 / 2.0) * (_phi(b - k * sigma) - _phi(a - k * sigma)) / z)
        m1 = raw(1)
        return m1, math.sqrt(max(0.0, raw(2) - m1 * m1))

    def cdf(self, x):
        """P(draw <= x), exact, for the discrete forms (fixed, uniform, histogram)."""
        s = self.spec
        if self.kind == 'fixed':
            return 1.0 if x >= s['value'] else 0.0
        if self.kind == 'uniform':
            bins = [{'lo': s['min'], 'hi': s['max'], 'weight': 1.0}]
        elif self.kind == 'histogram':
            bins = s['bins']
        else:
            raise ValueError('cdf() is for the discrete forms; use moments() for %s' % self.kind)
        p = 0.0
        for b in bins:
            if x >= b['hi']:
                p += b['weight']
            elif x >= b['lo']:
                p += b['weight'] * (x - b['lo'] + 1) / float(b['hi'] - b['lo'] + 1)
        return min(1.0, p)


def make(spec, where='length'):
    """A LengthDist from a spec (raises LengthDistError naming ``where``)."""
    return LengthDist(spec, where)
