# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Fleet view of throughput gate results: one row per gated endpoint, medians per
model and hardware class, and the hosts that fall too far below their peers."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class FleetError(Exception):
    """A gate record that cannot be summarised."""


def _median(values):
    ordered = sorted(values)
    if not ordered:
        return None
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2.0


def _p95(result, metric):
    return ((result.get('latency_ms') or {}).get(metric) or {}).get('p95')


def gate_row(record):
    """Flatten one record {host, target, url, runner, hardware, result} into a report row."""
    for key in ('host', 'target', 'result'):
        if key not in record:
            raise FleetError('gate record %r has no %r key' % (record, key))
    result = record['result'] or {}
    rates = result.get('throughput') or {}
    requests = result.get('requests') or {}
    return {
        'host': record['host'],
        'target': record['target'],
        'url': record.get('url') or result.get('url'),
        'runner': record.get('runner'),
        'hardware': record.get('hardware') or 'unknown',
        'model': result.get('model') or 'unknown',
        'verdict': result.get('verdict') or 'error',
        'msg': result.get('msg') or '',
        'output_tokens_per_s': rates.get('output_tokens_per_s'),
        'requests_per_s': rates.get('requests_per_s'),
        'ttft_p95_ms': _p95(result, 'ttft'),
        'itl_p95_ms': _p95(result, 'itl'),
        'e2e_p95_ms': _p95(result, 'e2e'),
        'error_rate': requests.get('error_rate'),
        'cost_per_1m_output_tokens': (result.get('cost') or {}).get('per_1m_output_tokens'),
        'below_median_pct': None,
        'outlier': False,
    }


def summarize(records, outlier_pct=20.0):
    """Rows, medians per (model, hardware) and outliers.

    A row is an outlier when its output tokens/s is more than ``outlier_pct`` percent
    below the median of the rows that share its model and hardware class; rows
    without a measured rate (check mode, errors) are left out of the medians.
    """
    if not 0 <= float(outlier_pct) < 100:
        raise FleetError('outlier_pct must be between 0 and 100, got %r' % (outlier_pct,))
    rows = [gate_row(record) for record in records]
    groups = {}
    for row in rows:
        if row['output_tokens_per_s'] is not None:
            groups.setdefault((row['model'], row['hardware']), []).append(row['output_tokens_per_s'])
    medians = []
    for (model, hardware), values in sorted(groups.items()):
        median = _median(values)
        medians.append({'model': model, 'hardware': hardware, 'endpoints': len(values),
                        'median_output_tokens_per_s': median})
        for row in rows:
            rate = row['output_tokens_per_s']
            if row['model'] != model or row['hardware'] != hardware or rate is None or not median:
                continue
            below = round(100.0 * (median - rate) / median, 1)
            row['below_median_pct'] = below
            row['outlier'] = below > float(outlier_pct)
    verdicts = {}
    for row in rows:
        verdicts[row['verdict']] = verdicts.get(row['verdict'], 0) + 1
    return {
        'rows': sorted(rows, key=lambda r: (r['host'], r['target'])),
        'medians': medians,
        'verdicts': verdicts,
        'outliers': [r['host'] + '/' + r['target'] for r in rows if r['outlier']],
        'outlier_pct': float(outlier_pct),
        'passed': all(r['verdict'] == 'pass' for r in rows) and bool(rows),
    }


def _cell(value, digits=1):
    if value is None:
        return '-'
    if isinstance(value, float):
        return ('%.' + str(digits) + 'f') % value
    return str(value)


def render_markdown(summary, title='vLLM fleet throughput report'):
    """The summary as a Markdown page (the table operators read first)."""
    lines = ['# %s' % title, '']
    counts = ', '.join('%s: %d' % item for item in sorted(summary['verdicts'].items()))
    lines.append('Endpoints: %d (%s).' % (len(summary['rows']), counts or 'none'))
    lines.append('')
    lines.append('| host | endpoint | model | verdict | output tok/s | req/s | TTFT p95 ms | ITL p95 ms '
                 '| E2E p95 ms | errors | $ per 1M output tok | vs median | runner |')
    lines.append('|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|')
    for row in summary['rows']:
        vs = '-' if row['below_median_pct'] is None else '%+.1f%%' % (0.0 - row['below_median_pct'])
        if row['outlier']:
            vs += ' **outlier**'
        lines.append('| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |' % (
            row['host'], row['target'], row['model'], row['verdict'],
            _cell(row['output_tokens_per_s']), _cell(row['requests_per_s'], 2),
            _cell(row['ttft_p95_ms']), _cell(row['itl_p95_ms']), _cell(row['e2e_p95_ms']),
            _cell(row['error_rate'], 3), _cell(row['cost_per_1m_output_tokens'], 3), vs, row['runner'] or '-'))
    lines.append('')
    lines.append('Medians per model and hardware (outlier: more than %.0f%% below):' % summary['outlier_pct'])
    lines.append('')
    for med in summary['medians']:
        lines.append('- %s on %s: %s output tok/s over %d endpoint(s)' % (
            med['model'], med['hardware'], _cell(med['median_output_tokens_per_s']), med['endpoints']))
    failing = [r for r in summary['rows'] if r['verdict'] != 'pass']
    if failing:
        lines.append('')
        lines.append('Not passing:')
        lines.append('')
        for row in failing:
            lines.append('- %s/%s (%s): %s' % (row['host'], row['target'], row['verdict'],
                                               row['msg'].replace('\n', '; ')))
    return '\n'.join(lines) + '\n'
