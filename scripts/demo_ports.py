# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check that the demo's ports are free on this machine (scripts/demo.sh runs it before it creates anything).

usage: demo_ports.py PORT...   exit 0 when every port is free, else 1 with one line per busy port.
A port is busy when binding it on loopback fails (any listener on 127.0.0.1 or on all addresses),
or when a container publishes it (rootful podman may forward without a listening socket).
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import json
import socket
import subprocess
import sys


def published_by_containers():
    """{port: container name} of the ports running containers publish."""
    try:
        out = subprocess.run(['podman', 'ps', '--format', 'json'], capture_output=True, text=True, check=False).stdout
        containers = json.loads(out or '[]')
    except (OSError, ValueError):
        return {}
    ports = {}
    for container in containers:
        name = (container.get('Names') or ['?'])[0]
        for mapping in container.get('Ports') or []:
            first = int(mapping.get('host_port') or 0)
            for port in range(first, first + int(mapping.get('range') or 1)):
                ports[port] = name
    return ports


def bind_error(port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(('127.0.0.1', port))
    except OSError as exc:
        return 'in use' if exc.errno == errno.EADDRINUSE else str(exc)
    finally:
        sock.close()
    return None


def main(ports):
    containers = published_by_containers()
    busy = []
    for port in ports:
        if port in containers:
            busy.append('port %d is published by the container %s' % (port, containers[port]))
        else:
            error = bind_error(port)
            if error:
                busy.append('port %d is %s on this machine' % (port, error))
    for line in busy:
        print(line)
    return 1 if busy else 0


if __name__ == '__main__':
    sys.exit(main([int(port) for port in sys.argv[1:]]))
