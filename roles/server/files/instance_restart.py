# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restart (or start) one vLLM instance, drained through the front first when there is one.

Input: one JSON argument with
  unit:        the systemd unit
  restart:     true = restart it (its inputs changed); false = start it only if it is not active
  health_url:  the instance's /health
  wait_s:      how long to wait for /health after a restart behind the front
  max_restarts: restarts during that wait after which the instance counts as crash-looping
  front:       {"socket": ..., "backend": ..., "server": ..., "drain_s": N, "tracking": [backends whose server
               of the same name tracks it]} or null (no front)
With a front whose runtime socket exists (HAProxy runs), a restart is a planned one: the instance is set to
drain (no new requests; HAProxy sends them to the others), its requests in flight end (at most drain_s), it
is restarted, /health is awaited, and it is set back to ready; HAProxy's health check then takes it back in,
which is awaited too, so the next instance is never restarted while this one is still out.
Output (stdout): JSON {"action": "restarted" | "started" | "", "drained": bool, "healthy": bool, "notes": [...]}.
Exit status 0 unless systemctl itself fails: readiness decides whether the instance serves.
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


def main(spec):
    unit = spec['unit']
    front = spec.get('front') or None
    if front and not os.path.exists(front['socket']):
        front = None  # no HAProxy running yet (first deployment): nothing to drain
    out = {'action': '', 'drained': False, 'healthy': False, 'notes': []}
    active = systemctl('is-active', '--quiet', unit) == 0
    if not spec['restart'] and active:
        return out
    if spec['restart'] and front:
        runtime(front['socket'], 'set server %s/%s state drain' % (front['backend'], front['server']))
        out['drained'] = True
        if not wait_until(lambda: in_flight(front) == 0, front['drain_s']):
            out['notes'].append('requests still in flight after %ss of drain' % front['drain_s'])
    try:
        systemctl('reset-failed', unit)
        verb = 'restart' if spec['restart'] else 'start'
        if systemctl(verb, unit) != 0:
            raise SystemExit('systemctl %s %s failed' % (verb, unit))
        out['action'] = 'restarted' if spec['restart'] else 'started'
        if front:
            before = restarts(unit)

            def ready_or_dying():
                return healthy(spec['health_url']) or systemctl('is-failed', '--quiet', unit) == 0 \
                    or restarts(unit) - before >= spec['max_restarts']
            wait_until(ready_or_dying, spec['wait_s'], step=2.0)
            out['healthy'] = healthy(spec['health_url'])
    finally:
        if out['drained']:
            # Ready again even when it failed: HAProxy's health check keeps a dead instance out.
            runtime(front['socket'], 'set server %s/%s state ready' % (front['backend'], front['server']))
    if out['drained'] and out['healthy']:
        if not wait_until(lambda: server_stat(front).get('status') == 'UP', 15, step=0.5):
            out['notes'].append('HAProxy did not report it UP within 15 s')
    return out


if __name__ == '__main__':
    print(json.dumps(main(json.loads(sys.argv[1]))))
