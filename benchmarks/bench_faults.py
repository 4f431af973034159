# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Faults on a deployed host, each repeated: time until the instance serves again.

usage: bench_faults.py [--container inferops-demo] [--runs 5] [--cases main,engine,worker,oom]
                       [--max-restart-s 60] [--oom-limit-mib 768] [--json out.json]

Runs inside the host (a systemd container, `podman exec`) the molecule scenario's fault scripts
(molecule/vllm_cpu_systemd/files): kill_and_time.py signals the API server (main), the engine core
(engine) or the CPU worker (worker; vLLM 0.32 at TP 1 runs it inside the engine core, and the script
says so) with SIGKILL; oom_and_time.py restarts the unit under a drop-in MemoryMax too small for vLLM,
so the kernel's OOM killer acts inside the unit, then removes the drop-in. Each case runs --runs times
in a row on the host's first instance. A run passes when the instance serves again (/health and a
one-token completion) and systemd started its new process within --max-restart-s of the fault: what
follows is the model load, the same for every start (printed as "start to serving").

Before each case (not each run) the unit's start-limit counter is reset: systemd < 254 allows
server_start_limit_burst (5) starts per server_start_limit_interval_sec (600 s), so a sixth death
within ten minutes is the watchdog's to revive, a later case's first run would measure that and not
the case. Exit status 1 when a run failed its bound, 2 when the host could not be used.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report_table import finish, fmt, table  # noqa: E402  pylint: disable=wrong-import-position

FILES = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'molecule', 'vllm_cpu_systemd', 'files')
SCRIPTS = ('kill_and_time.py', 'oom_and_time.py')
CASES = ('main', 'engine', 'worker', 'oom')


class HostError(Exception):
    pass


def podman(*args, **kw):
    return subprocess.run(['podman'] + list(args), capture_output=True, text=True, check=False, **kw)


def in_host(container, *argv):
    return podman('exec', container, *argv)


def first_instance(container):
    """The host's first instance (unit, port, served model name) from the watchdog's configuration."""
    got = in_host(container, 'cat', '/etc/inferops-vllm/watchdog.json')
    if got.returncode != 0:
        raise HostError('no /etc/inferops-vllm/watchdog.json in %s (is it deployed? make demo): %s'
                        % (container, got.stderr.strip()))
    instances = json.loads(got.stdout).get('instances') or []
    if not instances:
        raise HostError('the watchdog configuration of %s lists no instance' % container)
    return instances[0]


def run_case(container, case, inst, a):
    if case == 'oom':
        argv = ['python3', '/root/oom_and_time.py', inst['unit'], str(inst['port']), inst['served'],
                str(a.oom_limit_mib), str(a.timeout_s)]
    else:
        argv = ['python3', '/root/kill_and_time.py', inst['unit'], str(inst['port']), inst['served'], case, 'KILL',
                str(a.timeout_s)]
    got = in_host(container, *argv)
    try:
        figures = json.loads(got.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        figures = {'error': 'no figures (rc %d): %s %s' % (got.returncode, got.stdout[-300:], got.stderr[-300:])}
    figures['rc'] = got.returncode
    return figures


def verdict(figures, a):
    if figures.get('error') or figures.get('serving_s') is None:
        return 'FAIL (%s)' % (figures.get('error') or 'not serving within %ss' % a.timeout_s)
    if figures.get('new_process_s') is None or figures['new_process_s'] > a.max_restart_s:
        return 'FAIL (new process after %ss > %ss)' % (figures.get('new_process_s'), a.max_restart_s)
    return 'PASS'


def start_to_serving(figures):
    if figures.get('serving_s') is None or figures.get('new_process_s') is None:
        return None
    return round(figures['serving_s'] - figures['new_process_s'], 1)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    p.add_argument('--container', default=os.environ.get('DEMO_CONTAINER', 'inferops-demo'))
    p.add_argument('--runs', type=int, default=5, help='runs of each case, in a row')
    p.add_argument('--cases', default=','.join(CASES), help='comma-separated, of: %s' % ', '.join(CASES))
    p.add_argument('--max-restart-s', type=float, default=60.0,
                   help='bound on the seconds from the fault to the new process (the model load follows)')
    p.add_argument('--oom-limit-mib', type=int, default=768, help='the drop-in MemoryMax of the OOM case')
    p.add_argument('--timeout-s', type=float, default=300.0, help='seconds one run waits for serving')
    p.add_argument('--json', help='also write all figures here')
    a = p.parse_args()
    a.cases = [c.strip() for c in a.cases.split(',') if c.strip()]
    bad = [c for c in a.cases if c not in CASES]
    if bad or not a.cases:
        p.error('--cases: %s; the cases are %s' % (', '.join(bad) or 'none given', ', '.join(CASES)))
    if a.runs < 1:
        p.error('--runs: at least 1 (got %d)' % a.runs)
    return a


def main():
    a = parse_args()
    try:
        if podman('container', 'exists', a.container).returncode != 0:
            raise HostError('no container %s: deploy the demo host first (make demo)' % a.container)
        for name in SCRIPTS:
            got = podman('cp', os.path.join(FILES, name), '%s:/root/%s' % (a.container, name))
            if got.returncode != 0:
                raise HostError('podman cp %s: %s' % (name, got.stderr.strip()))
        inst = first_instance(a.container)
    except HostError as exc:
        print(exc)
        return 2
    systemd = in_host(a.container, 'systemctl', '--version').stdout.split('\n', 1)[0]
    print('host %s (%s), instance %s on port %s, %d runs of: %s' % (a.container, systemd, inst['unit'], inst['port'],
                                                                    a.runs, ', '.join(a.cases)), flush=True)
    figures = {'container': a.container, 'systemd': systemd, 'instance': inst, 'runs': a.runs, 'cases': {}}
    failed = []
    summary = [('case', 'runs passed', 'new process s (max)', 'serving s (median / max)', 'start to serving s (median)')]
    for case in a.cases:
        in_host(a.container, 'systemctl', 'reset-failed', inst['unit'])
        rows = [('run', 'target', 'new process s', 'serving s', 'start to serving s', 'result')]
        runs = []
        for n in range(1, a.runs + 1):
            got = run_case(a.container, case, inst, a)
            got['verdict'] = verdict(got, a)
            runs.append(got)
            target = 'OOM kill under MemoryMax=%dM' % a.oom_limit_mib if case == 'oom' else got.get('target', case)
            rows.append((n, target, fmt(got.get('new_process_s')), fmt(got.get('serving_s')),
                         fmt(start_to_serving(got)), got['verdict']))
            print('%s run %d/%d: %s' % (case, n, a.runs, json.dumps(got)), flush=True)
            if got['verdict'] != 'PASS':
                failed.append('%s run %d: %s' % (case, n, got['verdict']))
        print()
        print('case %s:' % case)
        print(table(rows))
        print(flush=True)
        figures['cases'][case] = runs
        ok = [r for r in runs if r['verdict'] == 'PASS']
        new = [r['new_process_s'] for r in runs if r.get('new_process_s') is not None]
        serving = [r['serving_s'] for r in runs if r.get('serving_s') is not None]
        loads = [start_to_serving(r) for r in runs if start_to_serving(r) is not None]
        summary.append((case, '%d/%d' % (len(ok), len(runs)), fmt(max(new) if new else None),
                        '%s / %s' % (fmt(statistics.median(serving) if serving else None), fmt(max(serving) if serving else None)),
                        fmt(statistics.median(loads) if loads else None)))
    print(table(summary))
    return finish('bench-faults', failed, figures, a.json)


if __name__ == '__main__':
    sys.exit(main())
