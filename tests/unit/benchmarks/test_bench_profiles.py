# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""benchmarks/bench_profiles.py (make bench-profiles): the gate options per profile, the printed table, what
fails the benchmark, and one run of the script against the fake server (--fake); never the real vLLM server."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
sys.path.insert(0, os.path.join(ROOT, 'benchmarks'))

import bench_profiles as B  # noqa: E402  pylint: disable=wrong-import-position,import-error


def _row(profile, verdict='pass', capacity=2.0, msg=''):
    return {'profile': profile, 'mode': 'capacity', 'verdict': verdict, 'capacity': capacity,
            'rate_unit': 'sessions_per_s', 'output_tokens_per_s': 150.0, 'cost_per_1m_output_tokens': 1.851852,
            'prefix_cache_hit_rate': 0.42, 'valid_rate': 1.0, 'answers_checked': 12, 'ttft_first_p50_ms': 210.0,
            'ttft_later_p50_ms': 95.5, 'limiting_slo': 'max_ttft_p95_ms', 'wall_s': 101.2, 'msg': msg}


def test_gate_options_per_mode():
    a = B.parse_args(['--budget-s', '100', '--step-s', '8'])
    runs = dict((r['name'], r) for r in B.profilefleet.role_runs(['long_generation', 'batch', 'chat'], B.BUILTIN_DIR))
    lg = B.gate_options(a, 'http://x:1', runs['long_generation'])
    assert lg['mode'] == 'capacity' and lg['capacity_budget_s'] == 350.0 and lg['capacity_step_s'] == 45.0
    assert 'duration_s' not in lg and lg['host_cost_per_hour'] == 1.0
    assert B.gate_options(a, 'http://x:1', runs['chat'])['capacity_budget_s'] == 100.0
    batch = B.gate_options(a, 'http://x:1', runs['batch'])
    assert batch['mode'] == 'closed' and batch['duration_s'] == 45.0 and batch['concurrency'] == 8
    assert a.profiles == ['agentic', 'batch', 'chat', 'long_generation', 'rag', 'summarization']


def test_table_rows():
    lines = B.report_rows([_row('agentic'), dict(_row('batch', capacity=None), valid_rate=None,
                                                 prefix_cache_hit_rate=None)])
    assert lines[0] == B.HEADER
    assert lines[1] == ['agentic', 'capacity', 'pass', '2.000 sessions/s', '150.0', '1.8519', '42.0%',
                        '100.0% of 12', '210.0 / 95.5', 'max_ttft_p95_ms', '101.2']
    assert lines[2][3] == 'n/a sessions/s' and lines[2][6] == 'n/a' and lines[2][7] == 'n/a'
    text = B.table(lines)
    assert text.splitlines()[1].startswith('|---')


def test_what_fails_the_benchmark():
    assert B.verdicts([_row('chat'), _row('rag', 'fail')], 800, 900) == []
    failed = B.verdicts([_row('agentic', 'error', msg='missing server flag --tool-call-parser\nmore')], 950, 900)
    assert failed == ['agentic: missing server flag --tool-call-parser', 'the run took 950 s, more than 900 s']


def test_unknown_profile_is_refused():
    assert B.main(['--profiles', 'nope', '--fake']) == 2


def test_fake_run_prints_the_table(tmp_path):
    out = tmp_path / 'bench.json'
    proc = subprocess.run([sys.executable, os.path.join(ROOT, 'benchmarks', 'bench_profiles.py'), '--fake',
                           '--profiles', 'batch', '--closed-s', '2', '--json', str(out)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stdout
    assert '| batch   | closed |' in proc.stdout and 'FAKE SERVER, not a benchmark' in proc.stdout
    figures = json.loads(out.read_text())
    row = figures['rows'][0]
    assert figures['fake'] and row['capacity'] > 0 and row['cost_per_1m_output_tokens'] > 0
    assert row['valid_rate'] == 1.0       # batch answers are JSON documents checked against its schema
    # response_format: every answer schema-valid; cut short at 3 tokens, every one counted invalid_output
    valid, cut = figures['structured']
    assert (valid['valid_rate'], valid['invalid_output'], valid['ok']) == (1.0, 0, True)
    assert (cut['valid_rate'], cut['invalid_output'], cut['ok']) == (0.0, 16, True)
    assert 'structured output (response_format, 16 requests), answers cut short at 3 tokens: valid rate 0.000' \
        in proc.stdout


def test_a_structured_case_not_as_expected_fails_the_benchmark():
    rows = [{'profile': 'chat', 'verdict': 'pass', 'msg': ''}]
    bad = [{'case': 'schema-valid answers', 'valid_rate': 0.75, 'invalid_output': 4, 'ok': False}]
    assert B.verdicts(rows, 10.0, 900.0, bad) == ['structured output, schema-valid answers: valid rate 0.75, '
                                                  'invalid_output 4']
    assert B.verdicts(rows, 10.0, 900.0, []) == []
