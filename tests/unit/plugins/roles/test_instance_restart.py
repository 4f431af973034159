# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for roles/server/files/instance_restart.py: the order of a planned restart behind the front
(drain, requests in flight end, restart, /health, ready, HAProxy sees it UP), against a fake HAProxy runtime
socket that keeps the server's state the way HAProxy does, and systemctl / /health replaced; a sequence that
stops at the first instance that does not come back; a rollback that leaves alone what never ran the failed
release."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib.util
import itertools
import os
import socket
import tempfile
import threading

import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'roles', 'server', 'files', 'instance_restart.py')
SPEC = importlib.util.spec_from_file_location('instance_restart', SCRIPT)
restart = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(restart)

# The first columns of HAProxy 2.6's `show stat` header, as it prints them (the parser reads by name).
HEADER = '# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight'


class FakeHaproxy(object):
    """A runtime socket: `set server B/S state drain|ready` and `show stat`, one command per connection."""

    def __init__(self, path, log):
        self.path, self.log = path, log
        self.state = {'status': 'UP', 'scur': 2}
        self.sessions = None  # in flight through the session-affinity backend's tracking server, when set
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(8)
        self.thread = threading.Thread(target=self.serve)
        self.thread.daemon = True
        self.thread.start()

    def serve(self):
        while True:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
            command = conn.recv(4096).decode().strip()
            answer = '\n'
            if command == 'show stat':
                self.log.append('stat %(status)s %(scur)s' % self.state
                                + ('' if self.sessions is None else ' s%d' % self.sessions))
                row = 'vllm_instances,vllm-a,0,0,%(scur)d,5,,10,0,0,,0,,0,0,0,0,%(status)s,1' % self.state
                rows = [HEADER, 'vllm,FRONTEND,,,0,1,4096,10,0,0,0,0,0,,,,,OPEN,', row]
                if self.sessions is not None:
                    rows.append('vllm_sessions,vllm-a,0,0,%d,5,,10,0,0,,0,,0,0,0,0,%s,1'
                                % (self.sessions, self.state['status']))
                    self.sessions = max(0, self.sessions - 1)
                answer = '\n'.join(rows + [''])
                # requests in flight end one per look; a readied server comes UP on the next look
                self.state['scur'] = max(0, self.state['scur'] - 1)
                if self.state['status'] == 'READY':
                    self.state['status'] = 'UP'
            elif command.startswith('set server vllm_instances/vllm-a state '):
                wanted = command.rsplit(' ', 1)[1]
                self.log.append(wanted)
                self.state['status'] = 'DRAIN' if wanted == 'drain' else 'READY'
            conn.sendall(answer.encode())
            conn.close()

    def close(self):
        self.sock.close()


@pytest.fixture
def haproxy():
    path = os.path.join(tempfile.mkdtemp(), 'admin.sock')
    log = []
    fake = FakeHaproxy(path, log)
    yield fake
    fake.close()


def spec(sock, restart_it=True):
    return {'unit': 'inferops-vllm-vllm-a.service', 'restart': restart_it, 'health_url': 'http://127.0.0.1:1/health',
            'wait_s': 30, 'max_restarts': 4,
            'front': {'socket': sock, 'backend': 'vllm_instances', 'server': 'vllm-a', 'drain_s': 10}}


def fake_host(monkeypatch, log, active=True, health_after=2):
    """systemctl and /health: the instance answers /health on the health_after-th look after its restart."""
    looks = {'n': 0, 'restarted': False}

    def systemctl(*args):
        log.append('systemctl ' + ' '.join(args))
        if args[0] == 'is-active':
            return 0 if active else 3
        if args[0] == 'is-failed':
            return 1
        if args[0] in ('restart', 'start'):
            looks['restarted'] = True
        return 0

    def healthy(_url):
        if not looks['restarted']:
            return True
        looks['n'] += 1
        return looks['n'] >= health_after

    monkeypatch.setattr(restart, 'systemctl', systemctl)
    monkeypatch.setattr(restart, 'healthy', healthy)
    monkeypatch.setattr(restart, 'restarts', lambda unit: 0)
    monkeypatch.setattr(restart.time, 'sleep', lambda s: None)


def test_planned_restart_drains_first_and_readies_after_health(haproxy, monkeypatch):
    fake_host(monkeypatch, haproxy.log)
    out = restart.one(spec(haproxy.path), wait=False)
    assert out == {'unit': 'inferops-vllm-vllm-a.service', 'action': 'restarted', 'drained': True, 'healthy': True,
                   'waited': True, 'restarts': 0, 'notes': []}
    log = haproxy.log
    # drained, then the two requests in flight end, then the restart, then ready, then HAProxy shows it UP
    assert log.index('drain') < log.index('stat DRAIN 0') < log.index('systemctl restart inferops-vllm-vllm-a.service')
    assert log.index('systemctl restart inferops-vllm-vllm-a.service') < log.index('ready') < log.index('stat UP 0')


def test_an_instance_that_does_not_come_back_is_set_ready_all_the_same(haproxy, monkeypatch):
    fake_host(monkeypatch, haproxy.log, health_after=10 ** 6)
    counts = itertools.count()
    monkeypatch.setattr(restart, 'restarts', lambda unit: next(counts))  # systemd restarts it again and again
    out = restart.one(spec(haproxy.path), wait=False)
    assert out['action'] == 'restarted' and out['drained'] and not out['healthy'] and out['waited']
    # HAProxy's health check keeps a dead instance out; the admin state is never left on drain
    assert haproxy.log[-1] == 'ready'


def test_nothing_to_do_for_an_active_unchanged_instance(haproxy, monkeypatch):
    fake_host(monkeypatch, haproxy.log)
    assert restart.one(spec(haproxy.path, restart_it=False), wait=True)['action'] == ''
    assert 'drain' not in haproxy.log


def test_a_stopped_instance_is_started_without_a_drain(haproxy, monkeypatch):
    fake_host(monkeypatch, haproxy.log, active=False)
    out = restart.one(spec(haproxy.path, restart_it=False), wait=False)
    assert out['action'] == 'started' and not out['drained']
    assert 'drain' not in haproxy.log and 'systemctl start inferops-vllm-vllm-a.service' in haproxy.log


def test_no_running_front_restarts_plainly(monkeypatch, tmp_path):
    log = []
    fake_host(monkeypatch, log)
    out = restart.one(spec(str(tmp_path / 'no.sock')), wait=False)
    assert out == {'unit': 'inferops-vllm-vllm-a.service', 'action': 'restarted', 'drained': False, 'healthy': False,
                   'waited': False, 'notes': []}
    assert log == ['systemctl is-active --quiet inferops-vllm-vllm-a.service', 'systemctl reset-failed inferops-vllm-vllm-a.service',
                   'systemctl restart inferops-vllm-vllm-a.service']


def test_requests_in_flight_through_the_session_backend_are_waited_for(haproxy, monkeypatch):
    fake_host(monkeypatch, haproxy.log)
    haproxy.sessions = 4  # more than in its own backend: the drain waits for these too
    plan = spec(haproxy.path)
    plan['front']['tracking'] = ['vllm_sessions']
    out = restart.one(plan, wait=False)
    assert out['drained'] and out['healthy'] and out['notes'] == []
    log = haproxy.log
    assert log.index('stat DRAIN 0 s0') < log.index('systemctl restart inferops-vllm-vllm-a.service')


# -- a sequence of instances (what the role calls) -----------------------------------------------------
class FakeHost(object):
    """systemctl, /health and InvocationID of several units: a unit in ``broken`` never answers /health
    after a restart (a flag vLLM rejects); every start gives the unit a new InvocationID, as systemd does."""

    def __init__(self, monkeypatch, active, broken=()):
        self.log = []
        self.active = dict(active)
        self.broken = set(broken)
        self.invocation = dict((u, 'inv-%s-0' % u) for u in active if active[u])
        self.started = set()
        monkeypatch.setattr(restart, 'systemctl', self.systemctl)
        monkeypatch.setattr(restart, 'healthy', self.healthy)
        monkeypatch.setattr(restart, 'restarts', lambda unit: 0)
        monkeypatch.setattr(restart, 'invocation', lambda unit: self.invocation.get(unit, ''))
        monkeypatch.setattr(restart, 'journal', lambda unit: 'journal of %s' % unit)
        monkeypatch.setattr(restart.time, 'sleep', lambda s: None)
        monkeypatch.setattr(restart.time, 'time', itertools.count(0, 5).__next__)   # 5 s per look

    def systemctl(self, *args):
        verb, unit = args[0], args[-1]
        if verb in ('restart', 'start'):
            self.log.append('%s %s' % (verb, unit))
            self.started.add(unit)
            self.active[unit] = True
            self.invocation[unit] = 'inv-%s-%d' % (unit, len(self.log))
            return 0
        if verb == 'is-active':
            return 0 if self.active.get(unit) else 3
        if verb == 'is-failed':
            return 1
        return 0

    def healthy(self, url):
        unit = 'inferops-vllm-%s.service' % url.split(':')[-1].split('/')[0]
        if unit in self.broken and unit in self.started:
            return False
        self.log.append('healthy %s' % unit)
        return bool(self.active.get(unit))


def request(units, restart_units, stop_on_failure=True, **kw):
    req = {'units': ['inferops-vllm-%s.service' % u for u in units], 'ports': list(units),
           'restart': restart_units if isinstance(restart_units, str) else ['inferops-vllm-%s.service' % u for u in restart_units],
           'unit_prefix': 'inferops-vllm-', 'probe_host': '127.0.0.1', 'wait_s': 30, 'max_restarts': 3,
           'stop_on_failure': stop_on_failure, 'front': None}
    req.update(kw)
    return req


def unit(u):
    return 'inferops-vllm-%s.service' % u


def test_a_failed_restart_stops_the_sequence_and_the_rest_keep_serving(monkeypatch):
    # the upgrade's flag breaks every instance; the first one to restart shows it, the second is not touched
    host = FakeHost(monkeypatch, {unit(8100): True, unit(8101): True}, broken=[unit(8100), unit(8101)])
    out = restart.main(request([8100, 8101], [8100, 8101]))
    assert [r['action'] for r in out['instances']] == ['restarted']
    assert out['failed'] == [{'unit': unit(8100), 'reason': '/health did not answer 200 within 30 s',
                              'journal': 'journal of %s' % unit(8100)}]
    assert out['not_restarted'] == [unit(8101)]
    assert 'restart %s' % unit(8101) not in host.log


def test_without_a_front_each_restart_is_awaited_before_the_next(monkeypatch):
    host = FakeHost(monkeypatch, {unit(8100): True, unit(8101): True})
    out = restart.main(request([8100, 8101], [8100, 8101]))
    assert out['failed'] == [] and [r['action'] for r in out['instances']] == ['restarted', 'restarted']
    assert host.log.index('healthy %s' % unit(8100)) < host.log.index('restart %s' % unit(8101))
    # the last one is not awaited here: the role's readiness check awaits every instance next
    assert out['instances'][0]['waited'] and not out['instances'][1]['waited']


def test_without_stop_on_failure_the_others_are_still_restarted(monkeypatch):
    FakeHost(monkeypatch, {unit(8100): True, unit(8101): True}, broken=[unit(8100)])
    out = restart.main(request([8100, 8101], [8100, 8101], stop_on_failure=False))
    assert [r['action'] for r in out['instances']] == ['restarted', 'restarted']
    assert [f['unit'] for f in out['failed']] == [unit(8100)] and out['not_restarted'] == []


def test_a_rollback_leaves_alone_an_instance_that_never_ran_the_failed_release(monkeypatch):
    host = FakeHost(monkeypatch, {unit(8100): True, unit(8101): True, unit(8102): False})
    before = dict(host.invocation)
    host.invocation[unit(8100)] = 'inv-restarted-by-the-failed-run'
    out = restart.main(request([8100, 8101, 8102], 'unless_running_since', stop_on_failure=False,
                               invocations_before=before))
    # 8100 ran the failed release: restarted; 8101 still runs its old process: untouched; 8102 was down: started
    assert [r['action'] for r in out['instances']] == ['restarted', '', 'started']
    assert host.log.count('restart %s' % unit(8101)) == 0 and out['failed'] == []


def test_a_rollback_without_recorded_invocations_restarts_every_instance(monkeypatch):
    FakeHost(monkeypatch, {unit(8100): True})
    out = restart.main(request([8100], 'unless_running_since', stop_on_failure=False))
    assert [r['action'] for r in out['instances']] == ['restarted']


def test_the_front_server_is_named_after_the_unit():
    specs = restart.instance_specs(request([8100], [8100], front={'socket': '/run/haproxy/admin.sock',
                                                                  'backend': 'vllm_instances', 'drain_s': 5}))
    assert specs[0]['front']['server'] == '8100' and specs[0]['health_url'] == 'http://127.0.0.1:8100/health'
    assert specs[0]['restart'] is True
