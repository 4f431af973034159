# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""scripts/demo_ports.py and the port check of scripts/demo.sh: a busy demo port stops the demo before anything
is created, with a message naming the port and DEMO_PORT_BASE; free ports pass. Real sockets on loopback; the
demo itself (container, vLLM) is not run here."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import socket
import subprocess
import sys

import pytest

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
SCRIPT = os.path.join(ROOT, 'scripts', 'demo_ports.py')
DEMO = os.path.join(ROOT, 'scripts', 'demo.sh')
sys.path.insert(0, os.path.join(ROOT, 'scripts'))

import demo_ports  # noqa: E402  pylint: disable=wrong-import-position,import-error


@pytest.fixture
def busy_port():
    """A port some other program listens on (127.0.0.1), from the ephemeral range the kernel hands out."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(('127.0.0.1', 0))
    sock.listen(1)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def free_port():
    """A port nobody holds (the kernel's choice, released again)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def check(*ports):
    return subprocess.run([sys.executable, SCRIPT] + [str(p) for p in ports], capture_output=True, text=True,
                          check=False, timeout=60)


def test_a_busy_port_fails_the_check_and_is_named(busy_port):
    free = free_port()
    res = check(free, busy_port)
    assert res.returncode == 1, res
    assert res.stdout.splitlines() == ['port %d is in use on this machine' % busy_port]


def test_free_ports_pass():
    res = check(free_port(), free_port())
    assert res.returncode == 0 and res.stdout == '', res


def test_a_port_a_container_publishes_is_busy_without_a_listener(monkeypatch):
    # rootful podman may forward a published port without a socket bound on the host: podman ps says so
    port = free_port()
    out = json.dumps([{'Names': ['other-demo'], 'Ports': [{'host_port': port - 1, 'range': 2}]}])

    def fake_run(cmd, **_kw):
        assert cmd[:2] == ['podman', 'ps']
        return subprocess.CompletedProcess(cmd, 0, stdout=out, stderr='')
    monkeypatch.setattr(demo_ports.subprocess, 'run', fake_run)
    assert demo_ports.published_by_containers() == {port - 1: 'other-demo', port: 'other-demo'}
    assert demo_ports.main([port]) == 1


def demo(base, tmp_path):
    """scripts/demo.sh with DEMO_PORT_BASE=base, stopped by its port check (or it would start the demo): a
    container name nobody uses, so the script's removal of an earlier demo host touches nothing."""
    env = dict(os.environ, DEMO_PORT_BASE=str(base), DEMO_CONTAINER='inferops-demo-port-test-%d' % os.getpid(),
               INFEROPS_WORKDIR=str(tmp_path / 'work'))
    return subprocess.run(['bash', DEMO], capture_output=True, text=True, env=env, check=False, timeout=120)


def test_the_demo_stops_on_a_busy_front_port_and_says_how_to_move_it(busy_port, tmp_path):
    if busy_port > 65400:
        pytest.skip('the kernel handed out port %d, above the highest DEMO_PORT_BASE (65400)' % busy_port)
    res = demo(busy_port, tmp_path)
    assert res.returncode == 1, res
    assert 'port %d is in use on this machine' % busy_port in res.stderr
    assert 'the demo needs port %d on 127.0.0.1 (its front)' % busy_port in res.stderr
    assert 'move the demo\'s ports with DEMO_PORT_BASE' in res.stderr
    assert 'DEMO_PORT_BASE=%d make demo' % (busy_port + 1000) in res.stderr
    # stopped before anything was created: no set-up ran, no work directory, no container
    assert 'starting the target host' not in res.stderr
    assert not (tmp_path / 'work').exists()


@pytest.mark.parametrize('base', ['80', '70000', '8x'])
def test_a_demo_port_base_out_of_range_is_refused(base, tmp_path):
    res = demo(base, tmp_path)
    assert res.returncode == 2, res
    assert 'DEMO_PORT_BASE=%s must be a port number from 1024 to 65400' % base in res.stderr
