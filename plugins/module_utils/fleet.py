# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Fleet view of throughput gate results: one row per gated endpoint, medians per
model and hardware class, the hosts that fall too far below their peers, and the
cost per 1M tokens charged once per host (never once per endpoint)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

# one table-cell format for the whole report (profilefleet cannot import this module: fleet imports it)
from ansible_collections.inferops.vllm.plugins.module_utils.profilefleet import render_section as profile_section, table_cell
from ansible_collections.inferops.vllm.plugins.module_utils.telemetry import brief as telemetry_brief

SCOPES = ('host', 'instance')
CAPACITY = 'capacity'
MEASURED = 'measured load'
MIXED = 'mixed'
NOT_AT_CAPACITY = 'at the measured load, not at capacity: run the gate with mode: capacity for cost at SLO'


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


def per_1m(cost_per_hour, tokens_per_s):
    """Cost of 1M tokens for a machine costing ``cost_per_hour`` that serves ``tokens_per_s``
    (the gate's own formula and rounding, so figures recomputed here match its report)."""
    if cost_per_hour is None or not tokens_per_s:
        return None
    return round(cost_per_hour / (tokens_per_s * 3600.0) * 1e6, 6)


def _scope(record):
    # Records written before scope existed were one gate per endpoint: instance.
    scope = record.get('scope') or 'instance'
    if scope not in SCOPES:
        raise FleetError('gate record for %s/%s has scope %r, expected one of %s'
                         % (record['host'], record['target'], scope, ', '.join(SCOPES)))
    return scope


def _charged_rates(row, basis):
    """(basis, output tok/s, total tok/s) the host's hourly cost is spread over.

    Capacity when the gate measured it; otherwise the load the gate offered, said as such.
    """
    if basis in (None, CAPACITY) and row['capacity_output_tokens_per_s'] is not None:
        return CAPACITY, row['capacity_output_tokens_per_s'], row['capacity_total_tokens_per_s']
    return MEASURED, row['output_tokens_per_s'], row['total_tokens_per_s']


def _host_cost(row, result):
    """The host row's price and cost per 1M tokens; None everywhere when unpriced."""
    cost = result.get('cost') or {}
    basis, output_rate, total_rate = _charged_rates(row, cost.get('basis'))
    price = cost.get('host_cost_per_hour')
    return {
        'basis': basis,
        'output_tokens_per_s': output_rate,
        'total_tokens_per_s': total_rate,
        'host_cost_per_hour': price,
        'per_1m_output_tokens': per_1m(price, output_rate),
        'per_1m_total_tokens': per_1m(price, total_rate),
    }


def gate_row(record):
    """Flatten one record {host, target, url, runner, hardware, scope, result} into a report row."""
    for key in ('host', 'target', 'result'):
        if key not in record:
            raise FleetError('gate record %r has no %r key' % (record, key))
    result = record['result'] or {}
    rates = result.get('throughput') or {}
    requests = result.get('requests') or {}
    capacity = result.get('capacity') or {}
    row = {
        'host': record['host'],
        'target': record['target'],
        'scope': _scope(record),
        'url': record.get('url') or result.get('url'),
        'runner': record.get('runner'),
        'hardware': record.get('hardware') or 'unknown',
        'model': result.get('model') or 'unknown',
        'verdict': result.get('verdict') or 'error',
        'msg': result.get('msg') or '',
        'output_tokens_per_s': rates.get('output_tokens_per_s'),
        'total_tokens_per_s': rates.get('total_tokens_per_s'),
        'requests_per_s': rates.get('requests_per_s'),
        'capacity_requests_per_s': capacity.get('requests_per_s'),
        'capacity_output_tokens_per_s': capacity.get('output_tokens_per_s'),
        'capacity_total_tokens_per_s': capacity.get('total_tokens_per_s'),
        'ttft_p95_ms': _p95(result, 'ttft'),
        'itl_p95_ms': _p95(result, 'itl'),
        'tpot_p95_ms': _p95(result, 'tpot'),
        'e2e_p95_ms': _p95(result, 'e2e'),
        'error_rate': requests.get('error_rate'),
        'cost_per_1m_output_tokens': None,
        'cost_per_1m_total_tokens': None,
        'cost_basis': None,
        'below_median_pct': None,
        'outlier': False,
        # Host telemetry sampled during the run (the validate role joins it to the host-scope record only).
        'telemetry': telemetry_brief(result.get('telemetry')),
        'conformance': conformance_cell(record.get('conformance')),
    }
    # Only the run that loaded the whole host may carry its cost: an instance shares the
    # host with its siblings and the front port, so charging it the whole host's hour is
    # what counted one host two or three times.
    if row['scope'] == 'host':
        host_cost = _host_cost(row, result)
        row['cost_per_1m_output_tokens'] = host_cost['per_1m_output_tokens']
        row['cost_per_1m_total_tokens'] = host_cost['per_1m_total_tokens']
        row['cost_basis'] = host_cost['basis']
    return row


def conformance_cell(summary):
    """The server role's conformance summary of the host (``server_conformance``) in a few words."""
    if not summary:
        return 'not checked'
    status = summary.get('status') or 'unknown'
    text = '%s: %s checks ok, %s skipped' % (status, summary.get('ok', '?'), summary.get('skipped', '?'))
    inconclusive = summary.get('inconclusive') or []
    if inconclusive:
        text += '; ' + '; '.join(inconclusive)
    return text


def _flag_outliers(rows, scope, outlier_pct):
    """Medians of one scope per (model, hardware); flags that scope's rows too far below.

    A whole host and one of its instances are not peers, so scopes never share a median.
    """
    groups = {}
    for row in rows:
        if row['scope'] == scope and row['output_tokens_per_s'] is not None:
            groups.setdefault((row['model'], row['hardware']), []).append(row['output_tokens_per_s'])
    medians = []
    for (model, hardware), values in sorted(groups.items()):
        median = _median(values)
        medians.append({'model': model, 'hardware': hardware, 'endpoints': len(values),
                        'median_output_tokens_per_s': median})
        for row in rows:
            rate = row['output_tokens_per_s']
            if (row['scope'] != scope or row['model'] != model or row['hardware'] != hardware
                    or rate is None or not median):
                continue
            below = round(100.0 * (median - rate) / median, 1)
            row['below_median_pct'] = below
            row['outlier'] = below > float(outlier_pct)
    return medians


def _host_entries(records, rows):
    """One cost entry per host, from its host-scope record."""
    entries = {}
    for record, row in zip(records, rows):
        if row['scope'] != 'host':
            continue
        if row['host'] in entries:
            # Two whole-host runs would charge the host twice: the bug this replaces.
            raise FleetError('host %s has more than one host-scope gate record (%s and %s)'
                             % (row['host'], entries[row['host']]['target'], row['target']))
        entry = {'host': row['host'], 'target': row['target'], 'hardware': row['hardware'],
                 'model': row['model'], 'verdict': row['verdict']}
        entry.update(_host_cost(row, record['result'] or {}))
        entry['note'] = _unpriced_reason(entry)
        entries[row['host']] = entry
    return [entries[host] for host in sorted(entries)]


def _unpriced_reason(entry):
    if entry['host_cost_per_hour'] is None:
        return 'no price (host_cost_per_hour)'
    if not entry['output_tokens_per_s']:
        return 'no measured output tokens/s'
    return None


def _basis_of(entries):
    bases = set(entry['basis'] for entry in entries)
    return bases.pop() if len(bases) == 1 else (MIXED if bases else None)


def _sum_or_none(values):
    # A host without the figure would make the sum look cheaper than it is: no sum at all.
    values = list(values)
    if not values or any(value is None for value in values):
        return None
    return sum(values)


def _pool(entries):
    """Summed price and tokens/s of priced hosts, and the cost per 1M of the pool."""
    cost_per_hour = sum(entry['host_cost_per_hour'] for entry in entries) if entries else None
    output_rate = _sum_or_none(entry['output_tokens_per_s'] for entry in entries)
    total_rate = _sum_or_none(entry['total_tokens_per_s'] for entry in entries)
    return {
        'hosts': len(entries),
        'host_cost_per_hour': cost_per_hour,
        'output_tokens_per_s': output_rate,
        'total_tokens_per_s': total_rate,
        'per_1m_output_tokens': per_1m(cost_per_hour, output_rate),
        'per_1m_total_tokens': per_1m(cost_per_hour, total_rate),
        'basis': _basis_of(entries),
    }


def _classes(priced):
    groups = {}
    for entry in priced:
        groups.setdefault((entry['hardware'], entry['model']), []).append(entry)
    classes = []
    for (hardware, model), entries in sorted(groups.items()):
        pool = {'hardware': hardware, 'model': model}
        pool.update(_pool(entries))
        classes.append(pool)
    return classes


def _fleet(hosts, priced):
    fleet = _pool(priced)
    fleet['models'] = sorted(set(entry['model'] for entry in priced))
    fleet['left_out'] = [{'host': entry['host'], 'reason': entry['note']} for entry in hosts if entry['note']]
    notes = []
    if len(fleet['models']) > 1:
        notes.append('the models differ (%s): the fleet figure mixes their costs' % ', '.join(fleet['models']))
    for item in fleet['left_out']:
        notes.append('%s left out of the sums: %s' % (item['host'], item['reason']))
    fleet['note'] = '; '.join(notes) or None
    return fleet


def summarize(records, outlier_pct=20.0):
    """Rows, medians per (model, hardware), outliers and the cost per host, class and fleet.

    A row is an outlier when its output tokens/s is more than ``outlier_pct`` percent
    below the median of the rows that share its scope, model and hardware class; rows
    without a measured rate (check mode, errors) are left out of the medians. ``medians``
    holds the instance rows' medians (as before scope existed), ``host_medians`` the
    host rows'.

    Cost is charged once per host, from its host-scope record, at capacity when the gate
    measured it; class and fleet figures are summed cost over summed tokens/s of priced hosts.
    """
    if not 0 <= float(outlier_pct) < 100:
        raise FleetError('outlier_pct must be between 0 and 100, got %r' % (outlier_pct,))
    rows = [gate_row(record) for record in records]
    medians = _flag_outliers(rows, 'instance', outlier_pct)
    host_medians = _flag_outliers(rows, 'host', outlier_pct)
    hosts = _host_entries(records, rows)
    priced = [entry for entry in hosts if not entry['note']]
    verdicts = {}
    for row in rows:
        verdicts[row['verdict']] = verdicts.get(row['verdict'], 0) + 1
    return {
        'rows': sorted(rows, key=lambda r: (r['host'], r['target'])),
        'medians': medians,
        'host_medians': host_medians,
        'verdicts': verdicts,
        'outliers': [r['host'] + '/' + r['target'] for r in rows if r['outlier']],
        'outlier_pct': float(outlier_pct),
        'passed': all(r['verdict'] == 'pass' for r in rows) and bool(rows),
        'hosts': hosts,
        'classes': _classes(priced),
        'fleet': _fleet(hosts, priced),
    }


def _endpoint_table(summary):
    lines = ['| host | endpoint | scope | model | verdict | output tok/s | req/s | TTFT p95 ms | ITL p95 ms '
             '| TPOT p95 ms | E2E p95 ms | errors | $ per 1M output tok | vs median | runner | conformance |',
             '|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|']
    for row in summary['rows']:
        vs = '-' if row['below_median_pct'] is None else '%+.1f%%' % (0.0 - row['below_median_pct'])
        if row['outlier']:
            vs += ' **outlier**'
        # Instance rows never show a cost: the host's hour is charged once, on its host row.
        cost = table_cell(row.get('cost_per_1m_output_tokens'), 4) if row.get('scope') == 'host' else '-'
        lines.append('| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |' % (
            row['host'], row['target'], row.get('scope') or 'instance', row['model'], row['verdict'],
            table_cell(row['output_tokens_per_s']), table_cell(row['requests_per_s'], 2),
            table_cell(row['ttft_p95_ms']), table_cell(row['itl_p95_ms']), table_cell(row.get('tpot_p95_ms')),
            table_cell(row['e2e_p95_ms']), table_cell(row['error_rate'], 3), cost, vs, row['runner'] or '-',
            row.get('conformance') or 'not checked'))
    return lines


def _median_lines(summary):
    lines = ['Medians per model and hardware (outlier: more than %.0f%% below):' % summary['outlier_pct'], '']
    for med in summary['medians']:
        lines.append('- %s on %s: %s output tok/s over %d endpoint(s)' % (
            med['model'], med['hardware'], table_cell(med['median_output_tokens_per_s']), med['endpoints']))
    for med in summary.get('host_medians') or []:
        lines.append('- %s on %s, whole host: %s output tok/s over %d host(s)' % (
            med['model'], med['hardware'], table_cell(med['median_output_tokens_per_s']), med['endpoints']))
    return lines


def _basis_cell(basis):
    return basis if basis == CAPACITY else '%s (not capacity)' % basis


def _cost_lines(summary):
    """Cost per 1M tokens per host, per class and for the fleet."""
    lines = ['## Cost per 1M tokens at SLO', '',
             'Charged once per host, from the run that loaded the whole host (scope host), at the '
             'highest rate that met every SLO; instance rows carry no cost.', '']
    hosts = summary.get('hosts') or []
    if not hosts:
        lines.append('No host-scope run in these results: no cost per 1M tokens.')
        return lines
    lines.append('| host | class | model | output tok/s at capacity | $/h | $ per 1M output tok '
                 '| $ per 1M total tok | basis |')
    lines.append('|---|---|---|---:|---:|---:|---:|---|')
    for host in hosts:
        lines.append('| %s | %s | %s | %s | %s | %s | %s | %s |' % (
            host['host'], host['hardware'], host['model'], table_cell(host['output_tokens_per_s']),
            table_cell(host['host_cost_per_hour'], 2), table_cell(host['per_1m_output_tokens'], 4),
            table_cell(host['per_1m_total_tokens'], 4), _basis_cell(host['basis'])))
    lines.append('')
    lines.append('| class | model | hosts | $/h | output tok/s | total tok/s | $ per 1M output tok '
                 '| $ per 1M total tok | basis |')
    lines.append('|---|---|---:|---:|---:|---:|---:|---:|---|')
    for cls in summary['classes']:
        lines.append('| %s | %s | %d | %s | %s | %s | %s | %s | %s |' % (
            cls['hardware'], cls['model'], cls['hosts'], table_cell(cls['host_cost_per_hour'], 2),
            table_cell(cls['output_tokens_per_s']), table_cell(cls['total_tokens_per_s']),
            table_cell(cls['per_1m_output_tokens'], 4), table_cell(cls['per_1m_total_tokens'], 4),
            _basis_cell(cls['basis'])))
    lines.append('')
    lines.extend(_fleet_lines(summary['fleet'], hosts))
    return lines


def _fleet_lines(fleet, hosts):
    lines = ['Fleet: %d priced host(s), %s $/h, %s output tok/s: %s per 1M output tokens, '
             '%s per 1M total tokens (%s).' % (
                 fleet['hosts'], table_cell(fleet['host_cost_per_hour'], 2), table_cell(fleet['output_tokens_per_s']),
                 table_cell(fleet['per_1m_output_tokens'], 4), table_cell(fleet['per_1m_total_tokens'], 4),
                 fleet['basis'] or 'no basis')]
    measured = [host['host'] for host in hosts if host['basis'] != CAPACITY]
    if measured:
        lines.append('')
        lines.append('Cost of %s is %s.' % (', '.join(measured), NOT_AT_CAPACITY))
    if fleet.get('note'):
        lines.append('')
        lines.append('Note: %s.' % fleet['note'])
    return lines


def _telemetry_lines(summary):
    """Energy, CPU and NUMA of each host while its host-scope run loaded it (absent sensors named)."""
    rows = [row for row in summary['rows'] if row.get('telemetry')]
    if not rows:
        return []
    lines = ['', '## Host telemetry during the gate', '',
             'Sampled on each inference host over its host-scope run; energy covers the counted sensors only '
             '(RAPL package and DRAM, GPU boards).', '',
             '| host | endpoint | W | J per output tok | energy per 1M output tok | NUMA miss ratio '
             '| instances (cores busy, share of its CPUs, ctx sw/s) | not measured |',
             '|---|---|---:|---:|---:|---:|---|---|']
    for row in rows:
        tel = row['telemetry']
        if not tel.get('available'):
            lines.append('| %s | %s | - | - | - | - | - | %s |' % (row['host'], row['target'], tel.get('reason')))
            continue
        insts = '; '.join(
            ('%s: %s, %s, %s' % (i['name'], table_cell(i.get('cpu_cores'), 2), table_cell(i.get('cpu_util'), 2),
                                 table_cell(i.get('ctxt_switches_per_s'), 0)))
            if not i.get('reason') else '%s: %s' % (i['name'], i['reason']) for i in tel.get('instances') or [])
        lines.append('| %s | %s | %s | %s | %s | %s | %s | %s |' % (
            row['host'], row['target'], table_cell(tel.get('watts'), 1), table_cell(tel.get('joules_per_output_token'), 4),
            table_cell(tel.get('energy_cost_per_1m_output_tokens'), 4), table_cell(tel.get('numa_miss_ratio'), 4),
            insts or '-', '; '.join(tel.get('energy_absent') or []) or '-'))
    return lines


def render_markdown(summary, title='vLLM fleet throughput report'):
    """The summary as a Markdown page (the table operators read first)."""
    lines = ['# %s' % title, '']
    counts = ', '.join('%s: %d' % item for item in sorted(summary['verdicts'].items()))
    lines.append('Endpoints: %d (%s).' % (len(summary['rows']), counts or 'none'))
    lines.append('')
    lines.extend(_endpoint_table(summary))
    lines.append('')
    lines.extend(_median_lines(summary))
    lines.append('')
    lines.extend(_cost_lines(summary))
    lines.extend(_telemetry_lines(summary))
    section = profile_section(summary.get('profiles'))
    if section:
        lines.append('')
        lines.extend(section)
    failing = [r for r in summary['rows'] if r['verdict'] != 'pass']
    if failing:
        lines.append('')
        lines.append('Not passing:')
        lines.append('')
        for row in failing:
            lines.append('- %s/%s (%s): %s' % (row['host'], row['target'], row['verdict'],
                                               row['msg'].replace('\n', '; ')))
    return '\n'.join(lines) + '\n'
