# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only host checks of the server role, run before anything is changed.

Input: one JSON argument with
  instances:   [{"name": "vllm-a", "port": 8101, "cpuset": "0-3", "mems": "0", "memory_gib": 4.0}]
  owners:      cgroup path fragments of the role's own units ("/inferops-vllm-"): ports they hold are fine
  front:       {"port": 8000, "owners": ["/haproxy.service"]} or null
  min_shm_mib: /dev/shm size the instances need (0 = no check)
Output (stdout): JSON {"problems": [...], "facts": {...}}. Exit status 0 either way;
the role turns problems into one failure message.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re
import sys

GIB = 1024.0 ** 3
LISTEN = '0A'


def parse_cpulist(text):
    """'0-3,8' -> {0, 1, 2, 3, 8}; raises ValueError on anything else."""
    cpus = set()
    text = (text or '').strip()
    if not text:
        return cpus
    for part in text.split(','):
        match = re.match(r'^\s*(\d+)(?:-(\d+))?\s*$', part)
        if not match:
            raise ValueError('not a cpulist: %r' % text)
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        if last < first:
            raise ValueError('reversed range in cpulist: %r' % text)
        cpus.update(range(first, last + 1))
    return cpus


def format_cpulist(cpus):
    cpus = sorted(cpus)
    ranges = []
    for cpu in cpus:
        if ranges and cpu == ranges[-1][1] + 1:
            ranges[-1][1] = cpu
        else:
            ranges.append([cpu, cpu])
    return ','.join(str(first) if first == last else '%d-%d' % (first, last) for first, last in ranges)


def read(path, default=''):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return default


def listening_inodes(proc='/proc'):
    """{port: set(inode)} of TCP sockets in LISTEN state (IPv4 and IPv6)."""
    ports = {}
    for name in ('tcp', 'tcp6'):
        lines = read(os.path.join(proc, 'net', name)).splitlines()[1:]
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != LISTEN:
                continue
            port = int(fields[1].rsplit(':', 1)[1], 16)
            ports.setdefault(port, set()).add(fields[9])
    return ports


def socket_owners(inodes, proc='/proc'):
    """{inode: [(pid, comm, cgroup)]} for the given socket inodes."""
    owners = {}
    if not inodes:
        return owners
    wanted = set('socket:[%s]' % inode for inode in inodes)
    for pid in os.listdir(proc):
        if not pid.isdigit():
            continue
        fd_dir = os.path.join(proc, pid, 'fd')
        try:
            fds = os.listdir(fd_dir)
        except (IOError, OSError):
            continue
        for fd in fds:
            try:
                target = os.readlink(os.path.join(fd_dir, fd))
            except (IOError, OSError):
                continue
            if target in wanted:
                inode = target[8:-1]
                comm = read(os.path.join(proc, pid, 'comm')).strip()
                cgroup = read(os.path.join(proc, pid, 'cgroup')).replace('\n', ' ')
                owners.setdefault(inode, []).append((int(pid), comm, cgroup))
    return owners


def check_ports(ports, proc='/proc'):
    problems = []
    listening = listening_inodes(proc)
    wanted = [p for p in ports if int(p['port']) in listening]
    inodes = set()
    for item in wanted:
        inodes.update(listening[int(item['port'])])
    owners = socket_owners(inodes, proc)
    for item in wanted:
        port = int(item['port'])
        holders = []
        for inode in listening[port]:
            holders.extend(owners.get(inode, [(None, '?', '')]))
        foreign = [h for h in holders if not any(mark in h[2] for mark in item.get('owners', []))]
        if foreign:
            who = ', '.join('pid %s (%s)' % (pid, comm) for pid, comm, _cg in foreign)
            problems.append('port %d (%s) is already in use by %s, which is not one of this role\'s services; '
                            'free it or choose another port' % (port, item['what'], who))
    return problems


def memory_limit_bytes():
    for path in ('/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes'):
        value = read(path).strip()
        if value and value != 'max' and value.isdigit() and int(value) < (1 << 60):
            return int(value)
    return None


def main(argv):
    spec = json.loads(argv[1])
    problems = []
    facts = {}

    ports = [{'port': inst['port'], 'what': 'instance %s' % inst['name'], 'owners': spec.get('owners', [])}
             for inst in spec.get('instances', [])]
    if spec.get('front'):
        ports.append({'port': spec['front']['port'], 'what': 'front port', 'owners': spec['front'].get('owners', [])})
    problems.extend(check_ports(ports))

    allowed = os.sched_getaffinity(0) if hasattr(os, 'sched_getaffinity') else set()
    facts['allowed_cpus'] = format_cpulist(allowed)
    online_nodes = read('/sys/devices/system/node/online').strip()
    try:
        nodes = parse_cpulist(online_nodes) if online_nodes else set([0])
    except ValueError:
        nodes = set([0])
    facts['numa_nodes'] = format_cpulist(nodes)

    need_gib = 0.0
    for inst in spec.get('instances', []):
        name = inst['name']
        try:
            cpus = parse_cpulist(inst.get('cpuset') or '')
        except ValueError as exc:
            problems.append('instance %s: cpuset %s' % (name, exc))
            cpus = set()
        outside = cpus - allowed if allowed else set()
        if outside:
            problems.append('instance %s: cpuset %s uses CPUs %s that this host does not have or allow (allowed: %s)'
                            % (name, inst.get('cpuset'), format_cpulist(outside), facts['allowed_cpus']))
        try:
            mems = parse_cpulist(inst.get('mems') or '')
        except ValueError as exc:
            problems.append('instance %s: mems %s' % (name, exc))
            mems = set()
        if mems - nodes:
            problems.append('instance %s: mems %s names NUMA nodes that are not online (online: %s)'
                            % (name, inst.get('mems'), facts['numa_nodes']))
        need_gib += float(inst.get('memory_gib') or 0)

    mem_total = 0
    for line in read('/proc/meminfo').splitlines():
        if line.startswith('MemTotal:'):
            mem_total = int(line.split()[1]) * 1024
    limit = memory_limit_bytes()
    usable = min(mem_total, limit) if limit else mem_total
    facts['memory_gib'] = round(usable / GIB, 2)
    facts['memory_planned_gib'] = round(need_gib, 2)
    if usable and need_gib > usable / GIB:
        problems.append('the instances need about %.1f GiB (the plan\'s memory_gib: weights + KV cache + runtime overhead) but the host '
                        'has %.1f GiB%s: the plan does not fit' % (need_gib, usable / GIB,
                                                                   ' (cgroup limit)' if limit else ''))

    min_shm = int(spec.get('min_shm_mib') or 0)
    if min_shm:
        try:
            stat = os.statvfs('/dev/shm')
            shm_mib = stat.f_blocks * stat.f_frsize // (1024 * 1024)
        except OSError:
            shm_mib = 0
        facts['shm_mib'] = shm_mib
        if shm_mib < min_shm:
            problems.append('/dev/shm is %d MiB; vLLM CPU needs at least %d MiB for these instances '
                            '(containers: --shm-size)' % (shm_mib, min_shm))

    print(json.dumps({'problems': problems, 'facts': facts}))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
