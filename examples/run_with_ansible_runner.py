#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run an inferops.vllm playbook with ansible-runner and read the throughput gate's verdicts.

What a pipeline or a portal does instead of an Automation Controller job: run
playbooks/site.yml (or any stage playbook) programmatically, then read the gate's
JSON artifact and decide. Two sources, cross-checked:

- ``fleet.json``, which the validate role writes in ``validate_report_dir`` on the runner
  (this script points ``validate_report_dir`` into the private data dir unless you set it);
- the job events of the ``inferops.vllm.throughput`` task (``runner_on_ok`` /
  ``runner_on_failed``, ``event_data.res``), which exist even when the play stopped
  before the fleet report.

Prints one line per endpoint (tokens/s, TTFT p95, verdict, client/server token
cross-check, missed SLOs) and exits 0 when every gate passed, 2 when a gate did not
pass (fail, inconclusive or error), 1 when the run failed without a gate verdict (or
found no gate at all).

Example::

    examples/run_with_ansible_runner.py -i inventories/prod/hosts.yml \\
        -e @inventories/prod/model.yml -e 'validate_slos={"min_output_tokens_per_s": 400}'
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import sys
import tempfile

import yaml

GATE_ACTIONS = ('inferops.vllm.throughput', 'throughput')
DEFAULT_PROJECT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXIT_PASS, EXIT_ERROR, EXIT_GATE_FAILED = 0, 1, 2


def parse_extravar(text):
    """One -e value: @file (YAML or JSON), a JSON/YAML mapping, or KEY=VALUE (VALUE parsed as YAML)."""
    if text.startswith('@'):
        with open(text[1:]) as handle:
            data = yaml.safe_load(handle) or {}
    elif text.lstrip().startswith('{'):
        data = yaml.safe_load(text)
    elif '=' in text:
        key, value = text.split('=', 1)
        data = {key.strip(): yaml.safe_load(value) if value else ''}
    else:
        raise ValueError('extra var %r is neither @FILE, a mapping nor KEY=VALUE' % text)
    if not isinstance(data, dict):
        raise ValueError('extra var %r is not a mapping' % text)
    return data


def _gate_records_from_res(host, res):
    """Endpoint records from one throughput task result (a loop has one per item)."""
    items = res.get('results') if isinstance(res.get('results'), list) else [res]
    records = []
    for item in items:
        if not isinstance(item, dict) or ('verdict' not in item and 'msg' not in item):
            continue
        target = (item.get('item') or {}).get('name') or item.get('url') or 'endpoint'
        records.append({'host': host, 'target': target, 'result': item})
    return records


def gate_results_from_events(events):
    """Throughput task results found in runner job events, keyed by (host, endpoint)."""
    found = {}
    for event in events:
        if event.get('event') not in ('runner_on_ok', 'runner_on_failed'):
            continue
        data = event.get('event_data') or {}
        if data.get('task_action') not in GATE_ACTIONS:
            continue
        for record in _gate_records_from_res(data.get('host'), data.get('res') or {}):
            found[(record['host'], record['target'])] = record
    return found


def gate_results_from_fleet(path):
    """Records of fleet.json (written by the validate role), keyed by (host, endpoint)."""
    with open(path) as handle:
        fleet = json.load(handle)
    return dict(((rec['host'], rec['target']), rec) for rec in fleet.get('results', [])), fleet.get('summary') or {}


def summarize_endpoint(record):
    """The figures an operator reads first, from one gate record."""
    result = record.get('result') or {}
    latency = result.get('latency_ms') or {}
    cross = result.get('cross_check') or {}
    missed = [slo.get('message') or slo.get('name') for slo in result.get('slos') or []
              if slo.get('status') in ('fail', 'inconclusive')]
    return {
        'host': record.get('host'),
        'endpoint': record.get('target'),
        'url': result.get('url') or record.get('url'),
        'model': result.get('model'),
        'verdict': result.get('verdict') or 'error',
        'output_tokens_per_s': (result.get('throughput') or {}).get('output_tokens_per_s'),
        'requests_per_s': (result.get('throughput') or {}).get('requests_per_s'),
        'ttft_p95_ms': (latency.get('ttft') or {}).get('p95'),
        'error_rate': (result.get('requests') or {}).get('error_rate'),
        'cross_check_available': cross.get('available'),
        'cross_check_ok': cross.get('ok'),
        'cost_per_1m_output_tokens': (result.get('cost') or {}).get('per_1m_output_tokens'),
        'missed_slos': missed,
        'failed_slos': [slo.get('name') for slo in result.get('slos') or [] if slo.get('status') == 'fail'],
        'msg': result.get('msg') or '',
    }


def collect(runner_result, report_dir):
    """Endpoints from fleet.json and from the events; the fleet report wins where both exist."""
    from_events = gate_results_from_events(runner_result.events)
    fleet_path = os.path.join(report_dir, 'fleet.json')
    from_fleet, summary = {}, {}
    if os.path.isfile(fleet_path):
        from_fleet, summary = gate_results_from_fleet(fleet_path)
    merged = dict(from_events)
    merged.update(from_fleet)
    endpoints = [summarize_endpoint(merged[key]) for key in sorted(merged)]
    for endpoint in endpoints:
        key = (endpoint['host'], endpoint['endpoint'])
        endpoint['source'] = 'fleet.json' if key in from_fleet else 'events'
        endpoint['in_events'] = key in from_events
    return {
        'status': runner_result.status,
        'rc': runner_result.rc,
        'fleet_json': fleet_path if from_fleet else None,
        'fleet_passed': summary.get('passed'),
        'outliers': summary.get('outliers', []),
        'endpoints': endpoints,
        # not_run: check mode, nothing measured and nothing failed.
        'passed': bool(endpoints) and all(e['verdict'] in ('pass', 'not_run') for e in endpoints),
    }


def _fmt(value, pattern):
    return '-' if value is None else pattern % value


def print_report(parsed, stream=sys.stdout):
    for endpoint in parsed['endpoints']:
        cross = {True: 'ok', False: 'MISMATCH', None: 'n/a'}[endpoint['cross_check_ok']]
        stream.write('%s/%s: verdict=%s output_tok_s=%s req_s=%s ttft_p95_ms=%s errors=%s cross_check=%s\n' % (
            endpoint['host'], endpoint['endpoint'], endpoint['verdict'],
            _fmt(endpoint['output_tokens_per_s'], '%.1f'), _fmt(endpoint['requests_per_s'], '%.2f'),
            _fmt(endpoint['ttft_p95_ms'], '%.1f'), _fmt(endpoint['error_rate'], '%.3f'), cross))
        for line in endpoint['missed_slos']:
            stream.write('    missed: %s\n' % line)
        if endpoint['verdict'] not in ('pass', 'fail') and endpoint['msg']:
            stream.write('    %s\n' % endpoint['msg'].splitlines()[0])
    if parsed['outliers']:
        stream.write('outliers (below the fleet median): %s\n' % ', '.join(parsed['outliers']))
    stream.write('run %s (rc=%s); gate %s; fleet report: %s\n' % (
        parsed['status'], parsed['rc'],
        'passed' if parsed['passed'] else ('FAILED' if parsed['endpoints'] else 'not reached'),
        parsed['fleet_json'] or 'none'))


def exit_code(parsed):
    if parsed['endpoints'] and not parsed['passed']:
        return EXIT_GATE_FAILED
    if not parsed['endpoints'] or parsed['status'] != 'successful':
        return EXIT_ERROR
    return EXIT_PASS


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('-p', '--playbook', default='playbooks/site.yml',
                        help='playbook, relative to the project dir (default: %(default)s)')
    parser.add_argument('-i', '--inventory', required=True, help='inventory file or directory')
    parser.add_argument('-e', '--extra-vars', action='append', default=[], metavar='VARS',
                        help='KEY=VALUE, a JSON/YAML mapping or @FILE; repeatable, later ones win')
    parser.add_argument('--project-dir', default=DEFAULT_PROJECT_DIR,
                        help='directory holding the playbooks (default: this checkout)')
    parser.add_argument('--private-data-dir', help='ansible-runner private data dir (default: a new temporary one)')
    parser.add_argument('-l', '--limit', help='host pattern to limit the run to')
    parser.add_argument('--result-json', help='also write the parsed result to this file')
    parser.add_argument('-v', '--verbose', action='store_true', help='show the playbook output')
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        import ansible_runner  # pylint: disable=import-outside-toplevel
    except ImportError:
        sys.stderr.write('ansible-runner is not installed: pip install ansible-runner\n')
        return EXIT_ERROR

    extravars = {}
    try:
        for text in args.extra_vars:
            extravars.update(parse_extravar(text))
    except (OSError, ValueError, yaml.YAMLError) as exc:
        sys.stderr.write('%s\n' % exc)
        return EXIT_ERROR
    private_data_dir = os.path.abspath(args.private_data_dir or tempfile.mkdtemp(prefix='inferops-runner-'))
    if not os.path.isdir(private_data_dir):
        os.makedirs(private_data_dir)
    # Know where the fleet report lands: inside the private data dir unless told otherwise.
    extravars.setdefault('validate_report_dir', os.path.join(private_data_dir, 'gate-report'))

    runner_result = ansible_runner.run(
        private_data_dir=private_data_dir,
        project_dir=os.path.abspath(args.project_dir),
        playbook=args.playbook,
        inventory=os.path.abspath(args.inventory),
        extravars=extravars,
        limit=args.limit,
        quiet=not args.verbose,
    )
    parsed = collect(runner_result, extravars['validate_report_dir'])
    parsed['private_data_dir'] = private_data_dir
    parsed['playbook'] = args.playbook
    print_report(parsed)
    if args.result_json:
        with open(args.result_json, 'w') as handle:
            json.dump(parsed, handle, indent=2, sort_keys=True)
            handle.write('\n')
    return exit_code(parsed)


if __name__ == '__main__':
    sys.exit(main())
