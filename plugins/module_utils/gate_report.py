# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Report writers of the throughput gate: JSON, JUnit XML (one test case per SLO), Markdown."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re
import tempfile
import xml.etree.ElementTree as ET

from ansible_collections.inferops.vllm.plugins.module_utils.capacity import rate_label


class ReportError(Exception):
    pass


def _safe_name(name):
    return re.sub(r'[^A-Za-z0-9._-]+', '_', name or 'throughput').strip('._') or 'throughput'


def _atomic_write(path, text):
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix='.tmp-', dir=directory)
    try:
        with os.fdopen(fd, 'w') as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.rename(tmp, path)
    except Exception:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _num(v, digits=2):
    if v is None:
        return 'n/a'
    if isinstance(v, float):
        return ('%.' + str(digits) + 'f') % v
    return str(v)


def junit_xml(result):
    slos = result.get('slos') or []
    verdict = result.get('verdict')
    suite_name = 'inferops.vllm.throughput %s %s' % (result.get('url', ''), result.get('model') or '')
    cases = []
    if verdict == 'error':
        cases.append(('readiness', 'fail', result.get('msg', ''), None))
    for s in slos:
        cases.append((s['name'], s['status'], s.get('message', ''), s))
    suites = ET.Element('testsuites')
    failures = sum(1 for c in cases if c[1] == 'fail')
    skipped = sum(1 for c in cases if c[1] == 'inconclusive')
    duration = (result.get('window') or {}).get('duration_s') or 0.0
    suite = ET.SubElement(suites, 'testsuite', {
        'name': suite_name.strip(), 'tests': str(len(cases)), 'failures': str(failures), 'errors': '0',
        'skipped': str(skipped), 'time': '%.3f' % duration})
    props = ET.SubElement(suite, 'properties')
    thr = result.get('throughput') or {}
    for key, value in (('verdict', verdict), ('url', result.get('url')), ('model', result.get('model')),
                       ('api', result.get('api')), ('mode', result.get('mode')), ('seed', result.get('seed')),
                       ('output_tokens_per_s', thr.get('output_tokens_per_s')),
                       ('requests_per_s', thr.get('requests_per_s')),
                       ('capacity_requests_per_s', (result.get('capacity') or {}).get('requests_per_s')),
                       ('client_saturated', (result.get('client') or {}).get('saturated'))):
        ET.SubElement(props, 'property', {'name': key, 'value': '' if value is None else str(value)})
    for name, status, message, s in cases:
        case = ET.SubElement(suite, 'testcase', {'classname': 'throughput.%s' % _safe_name(result.get('model')),
                                                 'name': name, 'time': '%.3f' % duration})
        if status == 'fail':
            el = ET.SubElement(case, 'failure', {'message': message.split('\n')[0][:500], 'type': 'SLO' if s else 'readiness'})
            el.text = message
        elif status == 'inconclusive':
            el = ET.SubElement(case, 'skipped', {'message': message[:500]})
        else:
            out = ET.SubElement(case, 'system-out')
            out.text = message
    _indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding='unicode') + '\n'


def _indent(elem, level=0):
    pad = '\n' + '  ' * level
    if len(elem):
        if not (elem.text or '').strip():
            elem.text = pad + '  '
        for child in elem:
            _indent(child, level + 1)
        if not (child.tail or '').strip():
            child.tail = pad
    if level and not (elem.tail or '').strip():
        elem.tail = pad


def markdown(result):
    lines = []
    verdict = (result.get('verdict') or '').upper()
    lines.append('# Throughput gate: %s' % verdict)
    lines.append('')
    modes = {'closed': 'closed loop', 'open': 'open loop', 'capacity': 'capacity search'}
    mode = modes.get(result.get('mode'), result.get('mode'))
    lines.append('`%s`, model `%s`, api `%s`, stream %s, %s' % (
        result.get('url'), result.get('model'), result.get('api'), result.get('stream'), mode))
    lines.append('')
    msg = result.get('msg') or ''
    if msg:
        lines.append('```')
        lines.append(msg)
        lines.append('```')
        lines.append('')
    slos = result.get('slos') or []
    if slos:
        lines.append('## SLOs')
        lines.append('')
        lines.append('| SLO | measured | threshold | samples | status |')
        lines.append('|---|---:|---:|---:|---|')
        for s in slos:
            op = '>=' if s.get('direction') == 'min' else '<='
            lines.append('| `%s` | %s %s | %s %s | %d | %s |' % (
                s['name'], _num(s.get('measured'), 3), s.get('unit') or '', op, _num(s.get('threshold'), 3),
                s.get('samples') or 0, s['status']))
        lines.append('')
    thr = result.get('throughput')
    if thr:
        req = result.get('requests') or {}
        lines.append('## Throughput')
        lines.append('')
        lines.append('| requests | failed | req/s | output tok/s | total tok/s | window s |')
        lines.append('|---:|---:|---:|---:|---:|---:|')
        lines.append('| %s | %s | %s | %s | %s | %s |' % (
            req.get('total'), req.get('failed'), _num(thr.get('requests_per_s')), _num(thr.get('output_tokens_per_s')),
            _num(thr.get('total_tokens_per_s')), _num((result.get('window') or {}).get('duration_s'))))
        if req.get('errors'):
            lines.append('')
            lines.append('Errors: ' + ', '.join('%s %d' % kv for kv in sorted(req['errors'].items())))
        lines.append('')
    lat = result.get('latency_ms')
    if lat:
        lines.append('## Latency (ms)')
        lines.append('')
        lines.append('| metric | n | mean | p50 | p90 | p95 | p99 | p99.9 | max | too few samples for |')
        lines.append('|---|---:|---:|---:|---:|---:|---:|---:|---:|---|')
        for key, label in (('ttft', 'TTFT'), ('itl', 'ITL'), ('tpot', 'TPOT'), ('e2e', 'E2E')):
            s = lat.get(key) or {}
            lines.append('| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |' % (
                label, s.get('count') or 0, _num(s.get('mean')), _num(s.get('p50')), _num(s.get('p90')),
                _num(s.get('p95')), _num(s.get('p99')), _num(s.get('p99_9')), _num(s.get('max')),
                ', '.join(p.replace('_', '.') for p in s.get('few_samples') or []) or '-'))
        lines.append('')
        lines.append('As `vllm bench serve` defines them: TTFT and E2E from the request\'s start (its scheduled send time '
                     'in an open loop); TPOT = (E2E - TTFT) / (tokens - 1) per request; ITL = every gap between tokens '
                     'of every request, pooled.')
        lines.append('')
    lines.extend(_profile_lines(result.get('profile')))
    lines.extend(_schedule_lines(result.get('schedule')))
    lines.extend(_capacity_lines(result.get('capacity')))
    cc = result.get('cross_check')
    if cc:
        lines.append('## Server cross-check (/metrics)')
        lines.append('')
        if cc.get('available'):
            lines.append('| count | client | server | difference |')
            lines.append('|---|---:|---:|---:|')
            for key, c in sorted(cc['counts'].items()):
                lines.append('| %s | %s | %s | %s |' % (key, c['client'], c['server'], c['difference']))
            if cc.get('note'):
                lines.append('')
                lines.append(cc['note'])
        else:
            lines.append('Not available: %s' % cc.get('reason'))
        lines.append('')
    client = result.get('client')
    if client:
        lines.append('## Client self-check')
        lines.append('')
        lag = client.get('loop_lag_ms') or {}
        conc = client.get('concurrency') or {}
        lines.append('- CPU: %s s, %s of one core' % (_num(client.get('cpu_s')), _num(client.get('cpu_util'), 3)))
        lines.append('- event-loop lag p95: %s ms' % _num(lag.get('p95')))
        lines.append('- concurrency asked %s, achieved mean %s' % (conc.get('asked'), _num(conc.get('achieved_mean'))))
        reasons = client.get('reasons') or []
        lines.append('- saturated: %s%s' % (client.get('saturated'), (' (' + '; '.join(reasons) + ')') if reasons else ''))
        lines.append('')
    lines.extend(_telemetry_lines(result.get('telemetry')))
    cost = result.get('cost')
    if cost:
        lines.append('## Cost')
        lines.append('')
        basis = cost.get('basis') or 'measured load'
        lines.append('%s per hour -> %s per 1M output tokens, %s per 1M total tokens, at %s' % (
            cost.get('host_cost_per_hour'), _num(cost.get('per_1m_output_tokens'), 4),
            _num(cost.get('per_1m_total_tokens'), 4),
            'capacity (the highest rate that met every SLO)' if basis == 'capacity'
            else 'the measured load, not at capacity (run with mode: capacity for cost at SLO)'))
        lines.append('')
    warnings = result.get('warnings') or []
    if warnings:
        lines.append('## Warnings')
        lines.append('')
        lines.extend('- ' + w for w in warnings)
        lines.append('')
    return '\n'.join(lines)


def _telemetry_lines(tel):
    """Host telemetry over the gate's window (joined by the validate role; absent from the module's own report)."""
    if not tel:
        return []
    lines = ['## Host telemetry during the gate', '']
    if not tel.get('available'):
        return lines + ['Not measured: %s' % tel.get('reason'), '']
    energy = tel.get('energy') or {}
    if energy.get('joules') is not None:
        lines.append('- energy: %s J over %s s (%s W): %s' % (
            _num(energy['joules'], 1), _num((tel.get('window') or {}).get('duration_s'), 1), _num(energy.get('watts'), 1),
            ', '.join('%s %s J' % (k, _num(v, 1)) for k, v in sorted((energy.get('by_source') or {}).items()))))
        lines.append('- %s J per output token; energy cost per 1M output tokens: %s' % (
            _num(tel.get('joules_per_output_token'), 4),
            ('%s at %s per kWh' % (_num(tel.get('energy_cost_per_1m_output_tokens'), 4), tel.get('price_per_kwh')))
            if tel.get('energy_cost_per_1m_output_tokens') is not None else 'no price (validate_host_energy_cost_per_kwh)'))
        lines.append('- covers %s' % (energy.get('covers') or '-'))
    else:
        lines.append('- energy: not measured, no joules per token')
    for why in energy.get('absent') or []:
        lines.append('- absent: %s' % why)
    numa = tel.get('numa') or {}
    if numa.get('available'):
        lines.append('- NUMA: %s hits, %s misses, miss ratio %s over %s node(s)' % (
            numa.get('numa_hit'), numa.get('numa_miss'), _num(numa.get('miss_ratio'), 4), numa.get('nodes')))
    else:
        lines.append('- NUMA: not measured (%s)' % numa.get('reason'))
    instances = tel.get('instances') or []
    if instances:
        lines.append('')
        lines.append('| instance | processes | CPU s | cores busy | of its CPUs | voluntary ctx sw | involuntary ctx sw '
                     '| ctx sw/s |')
        lines.append('|---|---:|---:|---:|---:|---:|---:|---:|')
        for inst in instances:
            if not inst.get('found'):
                lines.append('| %s | not found: %s |  |  |  |  |  |  |' % (inst['name'], inst.get('reason')))
                continue
            lines.append('| %s | %s | %s | %s | %s | %s | %s | %s |' % (
                inst['name'], inst.get('processes'), _num(inst.get('cpu_s')), _num(inst.get('cpu_cores'), 3),
                _num(inst.get('cpu_util'), 3), inst.get('voluntary_ctxt_switches'),
                inst.get('involuntary_ctxt_switches'), _num(inst.get('ctxt_switches_per_s'), 1)))
    lines.append('')
    return lines


def _profile_lines(prof):
    """The workload profile's part: answer checks and TTFT of first against later turns."""
    if not prof:
        return []
    lines = ['## Workload profile `%s`' % prof.get('name'), '']
    lines.append('- %s, api %s, answers expected: %s; rates count sessions per second' % (
        prof.get('kind'), prof.get('api'), (prof.get('expects') or '').replace('_', ' ')))
    if prof.get('answers_checked'):
        lines.append('- answers checked %s, valid rate %s, invalid_output %s%s' % (
            prof.get('answers_checked'), _num(prof.get('valid_rate'), 4), prof.get('invalid_output'),
            (' (e.g. %s)' % prof['invalid_example']) if prof.get('invalid_example') else ''))
    ttft = prof.get('ttft_ms') or {}
    lines.append('')
    lines.append('| TTFT (ms) | n | p50 | p95 |')
    lines.append('|---|---:|---:|---:|')
    for key, label in (('first_turns', 'first turns'), ('later_turns', 'later turns')):
        t = ttft.get(key) or {}
        lines.append('| %s | %s | %s | %s |' % (label, t.get('count') or 0, _num(t.get('p50')), _num(t.get('p95'))))
    lines.append('')
    return lines


def _schedule_lines(sched):
    if not sched:
        return []
    late = sched.get('lateness_ms') or {}
    unit = rate_label(sched.get('rate_unit'))
    return ['## Schedule (open loop)', '',
            '- offered %s %s (%s), achieved %s %s' % (
                sched.get('offered_rate'), unit, sched.get('arrival'), _num(sched.get('achieved_rate')), unit),
            '- sends later than %s ms: %s; lateness p50 %s, p95 %s, max %s ms' % (
                _num(sched.get('late_limit_ms'), 0), sched.get('late_sends'), _num(late.get('p50')),
                _num(late.get('p95')), _num(late.get('max'))),
            '- in-flight cap %s (the rate needed %s at the unloaded E2E), waits for it %s, unsent %s' % (
                sched.get('cap'), _num(sched.get('in_flight_needed')), sched.get('cap_waits'), sched.get('unsent')),
            '']


def _capacity_lines(cap):
    if not cap:
        return []
    lines = ['## Capacity at SLO', '']
    unit = rate_label(cap.get('rate_unit'))
    if cap.get('requests_per_s') is None:
        lines.append('No rate tried met every SLO (search ended: %s).' % cap.get('ended'))
    else:
        lines.append('%s %s, %s output tok/s, %s total tok/s; limited by %s; bracket %s; search ended: %s.' % (
            _num(cap.get('requests_per_s'), 3), unit, _num(cap.get('output_tokens_per_s')),
            _num(cap.get('total_tokens_per_s')), cap.get('limiting_slo') or '-', cap.get('bracket'), cap.get('ended')))
    lines.append('')
    lines.append('Latency and throughput against offered load:')
    lines.append('')
    lines.append('| step | offered %s | achieved %s | verdict | TTFT p95 ms | TPOT p95 ms | ITL p95 ms '
                 '| E2E p95 ms | output tok/s |' % (unit, unit))
    lines.append('|---:|---:|---:|---|---:|---:|---:|---:|---:|')
    for st in sorted(cap.get('steps') or [], key=lambda x: x.get('rate') or 0):
        lines.append('| %s | %s | %s | %s | %s | %s | %s | %s | %s |' % (
            st.get('step'), _num(st.get('rate'), 3), _num(st.get('achieved_rate')), st.get('verdict'),
            _num(st.get('ttft_p95_ms')), _num(st.get('tpot_p95_ms')), _num(st.get('itl_p95_ms')),
            _num(st.get('e2e_p95_ms')), _num(st.get('output_tokens_per_s'))))
    lines.append('')
    return lines


def write_reports(result, report_dir, report_name='throughput'):
    """Write NAME.json, NAME.junit.xml and NAME.md into report_dir; return their paths."""
    name = _safe_name(report_name)
    try:
        if not os.path.isdir(report_dir):
            os.makedirs(report_dir)
        paths = {
            'json': os.path.join(report_dir, name + '.json'),
            'junit': os.path.join(report_dir, name + '.junit.xml'),
            'markdown': os.path.join(report_dir, name + '.md'),
        }
        _atomic_write(paths['json'], json.dumps(result, indent=2, sort_keys=True, default=str) + '\n')
        _atomic_write(paths['junit'], junit_xml(result))
        _atomic_write(paths['markdown'], markdown(result))
    except (IOError, OSError) as exc:
        raise ReportError('cannot write reports to report_dir %r: %s: choose a writable directory' % (report_dir, exc))
    return paths
