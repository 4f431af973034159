# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restart (or start) vLLM instances one at a time, each drained through the front first when there is one,
and stop at the first that does not serve again, so the rest keep serving what they ran before.

Input: one JSON argument:
  units, ports:   the instances' systemd units and ports, in order
  restart:        the units whose inputs changed (restart them; start the others only if they are not active),
                  or "unless_running_since" (a rollback): restart every unit but those active and still the process
                  systemd started as invocations_before[unit], since a process older than the failed run runs the
                  restored release already
  invocations_before: {unit: its InvocationID when the failed run began}
  unit_prefix:    the units' name prefix; the rest of the name (without .service) is the server's name at the front
  probe_host:     where /health is asked (http://probe_host:port/health)
  wait_s:         how long to wait for /health after a restart
  max_restarts:   restarts during that wait after which the instance counts as crash-looping
  front:          {"socket": ..., "backend": ..., "drain_s": N, "tracking": [backends whose server of the same
                  name tracks it]} or null (no front)
  stop_on_failure: leave the instances after a failed one as they are
With a front whose runtime socket exists (HAProxy runs), a restart is a planned one: the instance is set to
drain (no new requests; HAProxy sends them to the others), its requests in flight end (at most drain_s), it
is restarted, /health is awaited, and it is set back to ready; HAProxy's health check then takes it back in,
which is awaited too, so the next instance is never restarted while this one is still out. Without a front,
/health is awaited after a restart when another instance is restarted after it, for the same reason.
An instance awaited that does not answer /health in time (or fails, or keeps dying) is a failure: with
stop_on_failure the instances after it are left as they are (a deployment: they still run the release
that served), without it the others are still restarted (a rollback: each should serve the restored release).
Output (stdout): JSON {"instances": [{"unit", "action": "restarted" | "started" | "", "drained", "healthy",
"waited", "notes"}], "failed": [{"unit", "reason", "journal"}], "not_restarted": [units left alone after a failure]}.
Exit status 0 unless systemctl itself fails: the caller decides from "failed".
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import csv
import json
import os
import socket
import subprocess
import sys
import time

from urllib.request import urlopen


def runtime(path, command, timeout=5.0):
    """One command on HAProxy's runtime API; its answer."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
        sock.sendall((command + '\n').encode())
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
        return b''.join(chunks).decode('utf-8', 'replace')
    finally:
        sock.close()


def stat_rows(front):
    """`show stat` rows (status, scur, ...) of the server in its backend and in the backends tracking it."""
    text = runtime(front['socket'], 'show stat')
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or not lines[0].startswith('# '):
        return {}
    backends = [front['backend']] + list(front.get('tracking') or [])
    rows = {}
    for row in csv.DictReader([lines[0][2:]] + lines[1:]):
        if row.get('pxname') in backends and row.get('svname') == front['server']:
            rows[row['pxname']] = row
    return rows


def server_stat(front):
    """The server's row of `show stat` in its own backend, or {}."""
    return stat_rows(front).get(front['backend'], {})


def in_flight(front):
    """Requests the server has in flight, through its backend and the backends tracking it (drain
    state propagates to tracking servers, their requests in flight do not show in its own row)."""
    return sum(int(row.get('scur') or 0) for row in stat_rows(front).values())


def systemctl(*args):
    return subprocess.call(['systemctl'] + list(args))


def healthy(url):
    try:
        return urlopen(url, timeout=5).getcode() == 200
    except Exception:  # pylint: disable=broad-except
        return False


def restarts(unit):
    out = subprocess.check_output(['systemctl', 'show', '-P', 'NRestarts', unit]).decode().strip()
    return int(out or 0)


def wait_until(predicate, seconds, step=1.0):
    end = time.time() + seconds
    while True:
        if predicate():
            return True
        if time.time() >= end:
            return False
        time.sleep(step)


def invocation(unit):
    return subprocess.check_output(['systemctl', 'show', '-P', 'InvocationID', unit]).decode().strip()


def journal(unit, lines=40):
    try:
        return subprocess.check_output(['journalctl', '-u', unit, '-n', str(lines), '--no-pager', '-o', 'cat'],
                                       stderr=subprocess.STDOUT).decode('utf-8', 'replace')
    except (OSError, subprocess.CalledProcessError) as exc:
        return 'journalctl failed: %s' % exc


def wanted_action(spec, active):
    """'restart', 'start' or '' for one instance."""
    if spec['restart'] == 'unless_running_since':
        before = spec.get('invocation_before') or ''
        if active and before and invocation(spec['unit']) == before:
            return ''            # the same process as before the failed run: it runs the restored release
        return 'restart' if active else 'start'
    if spec['restart']:
        return 'restart'
    return '' if active else 'start'


def one(spec, wait):
    """Restart or start one instance; with wait, await its /health. Its result."""
    unit = spec['unit']
    front = spec.get('front') or None
    if front and not os.path.exists(front['socket']):
        front = None  # no HAProxy running yet (first deployment): nothing to drain
    out = {'unit': unit, 'action': '', 'drained': False, 'healthy': False, 'waited': False, 'notes': []}
    verb = wanted_action(spec, systemctl('is-active', '--quiet', unit) == 0)
    if not verb:
        return out
    if verb == 'restart' and front:
        runtime(front['socket'], 'set server %s/%s state drain' % (front['backend'], front['server']))
        out['drained'] = True
        if not wait_until(lambda: in_flight(front) == 0, front['drain_s']):
            out['notes'].append('requests still in flight after %ss of drain' % front['drain_s'])
    try:
        systemctl('reset-failed', unit)
        if systemctl(verb, unit) != 0:
            raise SystemExit('systemctl %s %s failed' % (verb, unit))
        out['action'] = 'restarted' if verb == 'restart' else 'started'
        if front or wait:
            before = restarts(unit)

            def ready_or_dying():
                return healthy(spec['health_url']) or systemctl('is-failed', '--quiet', unit) == 0 \
                    or restarts(unit) - before >= spec['max_restarts']
            wait_until(ready_or_dying, spec['wait_s'], step=2.0)
            out['waited'] = True
            out['healthy'] = healthy(spec['health_url'])
            out['restarts'] = restarts(unit) - before
    finally:
        if out['drained']:
            # Ready again even when it failed: HAProxy's health check keeps a dead instance out.
            runtime(front['socket'], 'set server %s/%s state ready' % (front['backend'], front['server']))
    if out['drained'] and out['healthy']:
        if not wait_until(lambda: server_stat(front).get('status') == 'UP', 15, step=0.5):
            out['notes'].append('HAProxy did not report it UP within 15 s')
    return out


def failure_reason(spec, result):
    if systemctl('is-failed', '--quiet', spec['unit']) == 0:
        return 'the unit failed'
    if result.get('restarts', 0) >= spec['max_restarts']:
        return 'it keeps dying (restarted %d time%s)' % (result['restarts'], '' if result['restarts'] == 1 else 's')
    return '/health did not answer 200 within %s s' % spec['wait_s']


def instance_specs(request):
    """One spec per instance: unit, restart (True, False or 'unless_running_since'), health_url, front."""
    specs = []
    restart = request['restart']
    prefix = request.get('unit_prefix') or ''
    front = request.get('front')
    for unit, port in zip(request['units'], request['ports']):
        name = unit[len(prefix):] if prefix and unit.startswith(prefix) else unit
        if name.endswith('.service'):
            name = name[:-len('.service')]
        specs.append({
            'unit': unit,
            'restart': restart if restart == 'unless_running_since' else unit in restart,
            'invocation_before': (request.get('invocations_before') or {}).get(unit, ''),
            'health_url': 'http://%s:%s/health' % (request['probe_host'], port),
            'wait_s': int(request['wait_s']), 'max_restarts': int(request['max_restarts']),
            'front': dict(front, server=name) if front else None,
        })
    return specs


def main(request):
    specs = instance_specs(request)
    out = {'instances': [], 'failed': [], 'not_restarted': []}
    for i, spec in enumerate(specs):
        if out['failed'] and request.get('stop_on_failure'):
            if spec['restart']:
                out['not_restarted'].append(spec['unit'])
            continue
        # await this one when another is restarted after it: never two instances out at once
        later = any(s['restart'] for s in specs[i + 1:])
        result = one(spec, wait=later)
        out['instances'].append(result)
        if result['waited'] and not result['healthy']:
            out['failed'].append({'unit': spec['unit'], 'reason': failure_reason(spec, result),
                                  'journal': journal(spec['unit'])})
    return out


if __name__ == '__main__':
    print(json.dumps(main(json.loads(sys.argv[1]))))
