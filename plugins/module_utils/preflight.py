# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only host checks of the server role, run before anything is changed (``server_preflight``).

For each planned instance: its port (and the front's) is free or held by the role's own units, its
cpuset lies within the CPUs this host allows, its memory nodes are online; the instances' memory
fits the host (or its cgroup limit); /dev/shm is large enough. Returns problems as sentences that
the role joins into one failure message, and the facts it read.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.inferops.vllm.plugins.module_utils.topology import (
    TopologyError, format_cpulist, parse_cpulist, read_cgroup, read_meminfo)

GIB = 1024.0 ** 3
LISTEN = '0A'


def _read(path, default=''):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return default


def listening_inodes(proc='/proc'):
    """{port: set(inode)} of TCP sockets in LISTEN state (IPv4 and IPv6)."""
    ports = {}
    for name in ('tcp', 'tcp6'):
        for line in _read(os.path.join(proc, 'net', name)).splitlines()[1:]:
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
                comm = _read(os.path.join(proc, pid, 'comm')).strip()
                cgroup = _read(os.path.join(proc, pid, 'cgroup')).replace('\n', ' ')
                owners.setdefault(target[8:-1], []).append((int(pid), comm, cgroup))
    return owners


def check_ports(ports, proc='/proc'):
    """Problems for ports (``[{port, what, owners}]``) held by a process outside their owners' cgroups."""
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
        foreign = [h for h in holders if not any(mark in h[2] for mark in item.get('owners') or [])]
        if foreign:
            who = ', '.join('pid %s (%s)' % (pid, comm) for pid, comm, _cg in foreign)
            problems.append('port %d (%s) is already in use by %s, which is not one of this role\'s services; '
                            'free it or choose another port' % (port, item['what'], who))
    return problems


def _cpulist(value, what, problems):
    try:
        return set(parse_cpulist(value or ''))
    except ValueError as exc:
        problems.append('%s: %s' % (what, exc))
        return set()


def check_instances(instances, allowed, nodes):
    """Problems of each instance's cpuset (outside ``allowed``) and mems (not in ``nodes``)."""
    problems = []
    for inst in instances:
        name = inst['name']
        cpus = _cpulist(inst.get('cpuset'), 'instance %s: cpuset' % name, problems)
        outside = cpus - allowed if allowed else set()
        if outside:
            problems.append('instance %s: cpuset %s uses CPUs %s that this host does not have or allow (allowed: %s)'
                            % (name, inst.get('cpuset'), format_cpulist(outside), format_cpulist(allowed)))
        mems = _cpulist(inst.get('mems'), 'instance %s: mems' % name, problems)
        if mems - nodes:
            problems.append('instance %s: mems %s names NUMA nodes that are not online (online: %s)'
                            % (name, inst.get('mems'), format_cpulist(nodes)))
    return problems


def check_memory(need_gib, total_bytes, limit_bytes):
    """(problems, usable GiB): the instances' memory against the host's, or its cgroup limit when lower."""
    usable = min(total_bytes, limit_bytes) if limit_bytes else total_bytes
    if usable and need_gib > usable / GIB:
        return (['the instances need about %.1f GiB (the plan\'s memory_gib: weights + KV cache + runtime overhead) '
                 'but the host has %.1f GiB%s: the plan does not fit'
                 % (need_gib, usable / GIB, ' (cgroup limit)' if limit_bytes and limit_bytes < total_bytes else '')],
                usable / GIB)
    return [], usable / GIB


def shm_mib(path='/dev/shm'):
    try:
        stat = os.statvfs(path)
    except OSError:
        return 0
    return stat.f_blocks * stat.f_frsize // (1024 * 1024)


def preflight(instances, owners=None, front=None, min_shm_mib=0, root='/', allowed=None):
    """The checks; ``root`` prefixes proc/ and sys/ (a fixture tree in tests), ``allowed`` overrides the
    CPUs this process may use (default: its affinity)."""
    proc = os.path.join(root, 'proc')
    ports = [{'port': inst['port'], 'what': 'instance %s' % inst['name'], 'owners': owners or []}
             for inst in instances]
    if front:
        ports.append({'port': front['port'], 'what': 'front port', 'owners': front.get('owners') or []})
    problems = check_ports(ports, proc)

    if allowed is None:
        allowed = set(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else set()
    online = _read(os.path.join(root, 'sys/devices/system/node/online')).strip()
    try:
        nodes = set(parse_cpulist(online)) if online else set([0])
    except ValueError:
        nodes = set([0])
    problems.extend(check_instances(instances, set(allowed), nodes))

    need_gib = sum(float(inst.get('memory_gib') or 0) for inst in instances)
    try:
        total = read_meminfo(root)['total_bytes']
    except TopologyError as exc:
        problems.append('cannot read the host memory: %s' % exc)
        total = 0
    try:
        limit = read_cgroup(root, sorted(allowed), sorted(nodes))['memory_limit_bytes']
    except TopologyError:
        limit = None    # no readable cgroup limit: the host's memory is the bound
    memory_problems, usable_gib = check_memory(need_gib, total, limit)
    problems.extend(memory_problems)

    facts = {'allowed_cpus': format_cpulist(allowed), 'numa_nodes': format_cpulist(nodes),
             'memory_gib': round(usable_gib, 2), 'memory_planned_gib': round(need_gib, 2)}
    if min_shm_mib:
        facts['shm_mib'] = shm_mib(os.path.join(root, 'dev/shm'))
        if facts['shm_mib'] < min_shm_mib:
            problems.append('/dev/shm is %d MiB; vLLM CPU needs at least %d MiB for these instances '
                            '(containers: --shm-size)' % (facts['shm_mib'], min_shm_mib))
    return {'problems': problems, 'facts': facts}
