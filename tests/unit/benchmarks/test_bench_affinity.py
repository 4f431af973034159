# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""benchmarks/bench_affinity.py (make bench-affinity): the leastconn variant of the role's front
configuration, the hit rate beyond the shared prefix, and what fails the benchmark. The runs themselves
need the 2-instance molecule host and are not run here."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import sys

import pytest

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
sys.path.insert(0, os.path.join(ROOT, 'benchmarks'))

import bench_affinity as B  # noqa: E402  pylint: disable=wrong-import-position,import-error

CFG = """frontend vllm
    option http-buffer-request
    http-request set-header x-session-id %[req.body,json_query('$.user')] if !{ req.hdr(x-session-id) -m found }
    use_backend vllm_sessions if { req.hdr(x-session-id) -m found }
    default_backend vllm_instances
"""


def test_leastconn_drops_only_the_session_rule():
    out = B.leastconn_cfg(CFG)
    assert 'use_backend' not in out
    assert out == CFG.replace("    use_backend vllm_sessions if { req.hdr(x-session-id) -m found }\n", '')


def test_a_configuration_without_session_affinity_is_refused():
    with pytest.raises(B.BenchError, match='expected one use_backend line'):
        B.leastconn_cfg(CFG.replace('    use_backend', '    # no'))


def test_hit_rate_beyond_the_shared_part():
    # 10 requests, each finding 640 shared tokens cached; 2000 more hits of 4000 more tokens queried
    run = {'requests': 10, 'hits': 6400 + 2000, 'queries': 6400 + 4000}
    assert B.own_context_rate(run, 640.0) == pytest.approx(0.5)
    assert B.own_context_rate(dict(run, queries=6400), 640.0) is None


def _med(hit_a, hit_l, own_a, own_l, ttft_a, ttft_l):
    return {'affinity': {'hit_rate': hit_a, 'own_context_hit_rate': own_a, 'ttft_later_p50': ttft_a},
            'leastconn': {'hit_rate': hit_l, 'own_context_hit_rate': own_l, 'ttft_later_p50': ttft_l}}


def test_verdicts():
    ok = [{'failed': 0}]
    assert B.verdicts(_med(0.9, 0.4, 0.8, 0.3, 50.0, 80.0), ok) == []
    failed = B.verdicts(_med(0.95, 0.85, 0.8, 0.3, 90.0, 80.0), [{'failed': 2}])
    assert failed == ['prefix-cache hit rate with affinity 1.12 x the leastconn rate (< 2)',
                      'later-turn TTFT p50 with affinity 90.0 ms, not lower than leastconn 80.0 ms',
                      '2 request(s) failed']
