# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Host CPU / memory / GPU topology read from sysfs and procfs.

Every function takes ``root``, a path prefix under which ``sys/`` and ``proc/``
are looked up, so that tests can point it at a fixture tree.  Nothing here
writes anything.  Unreadable or malformed files raise :class:`TopologyError`
naming the file; files that legitimately may be absent are treated as such.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os
import re


# Highest CPU / node number accepted in a cpulist (NR_CPUS is at most 8192 on Linux).
MAX_CPULIST_ID = 65535

# cgroup v1 reports "no limit" as PAGE_COUNTER_MAX * PAGE_SIZE (9223372036854771712 with
# 4 KiB pages); anything this large is treated as unlimited.
CGROUP_UNLIMITED_BYTES = 1 << 62

NVIDIA_VENDOR_ID = 0x10de
# PCI base class/subclass of GPUs: 0x0300 VGA compatible, 0x0302 3D controller.
GPU_CLASSES = (0x0300, 0x0302)

FLAG_NAMES = ('avx2', 'avx512f', 'avx512_bf16', 'avx512_vnni', 'amx_tile', 'amx_bf16', 'amx_int8', 'avx_vnni')

# /proc/cpuinfo vendor_id -> the short vendor name the planner and the roles branch on.
VENDORS = {'GenuineIntel': 'intel', 'AuthenticAMD': 'amd'}
# AMD EPYC NUMA-nodes-per-socket BIOS settings (NPS0 is one node over both sockets).
NPS_MODES = (1, 2, 4)

_RANGE_RE = re.compile(r'^(\d+)(?:-(\d+))?$')
_NODE_DIR_RE = re.compile(r'^node(\d+)$')
_HUGEPAGES_DIR_RE = re.compile(r'^hugepages-(\d+kB)$')
_NODE_MEMINFO_RE = re.compile(r'^Node\s+(\d+)\s+([^:\s]+):\s*(.*)$')
_CACHE_INDEX_RE = re.compile(r'^index(\d+)$')
_CACHE_SIZE_RE = re.compile(r'^(\d+)([KMG]?)$')
_CACHE_UNITS = {'': 1, 'K': 1024, 'M': 1024 ** 2, 'G': 1024 ** 3}


class TopologyError(Exception):
    """A file needed to describe the topology is missing, unreadable or malformed."""

    def __init__(self, path, reason):
        self.path = path
        self.reason = reason
        super(TopologyError, self).__init__('%s: %s' % (path, reason))


# --------------------------------------------------------------------------- cpulists

def parse_cpulist(text):
    """Parse a kernel cpulist such as ``"0-3,8,10-11"`` into a sorted list of unique ints.

    An empty (or whitespace-only) string gives ``[]``.  Raises ``ValueError`` on anything else
    that is not a comma separated list of ``N`` or ``N-M`` (with ``N <= M``).
    """
    if not isinstance(text, str):
        raise ValueError('cpu list must be a string, got %s' % type(text).__name__)
    stripped = text.strip()
    if not stripped:
        return []
    cpus = set()
    for chunk in stripped.split(','):
        match = _RANGE_RE.match(chunk.strip())
        if not match:
            raise ValueError('invalid cpu list %r: bad element %r (expected N or N-M)' % (stripped, chunk))
        low = int(match.group(1))
        high = int(match.group(2)) if match.group(2) is not None else low
        if high < low:
            raise ValueError('invalid cpu list %r: range %r is reversed' % (stripped, chunk))
        if high > MAX_CPULIST_ID:
            raise ValueError('invalid cpu list %r: %d is above %d' % (stripped, high, MAX_CPULIST_ID))
        cpus.update(range(low, high + 1))
    return sorted(cpus)


def format_cpulist(cpus):
    """Format CPU numbers as a kernel cpulist: ``[0, 1, 2, 3, 8]`` -> ``"0-3,8"``; ``[]`` -> ``""``."""
    values = set()
    for cpu in cpus:
        if isinstance(cpu, bool) or not isinstance(cpu, int) or cpu < 0:
            raise ValueError('invalid cpu number %r: expected a non-negative integer' % (cpu,))
        values.add(cpu)
    parts = []
    ordered = sorted(values)
    index = 0
    while index < len(ordered):
        start = end = ordered[index]
        while index + 1 < len(ordered) and ordered[index + 1] == end + 1:
            index += 1
            end = ordered[index]
        parts.append('%d' % start if start == end else '%d-%d' % (start, end))
        index += 1
    return ','.join(parts)


# --------------------------------------------------------------------------- file helpers

def _join(root, relpath):
    return os.path.join(root, relpath)


def _read(path, optional=False):
    """Return the text of ``path``; ``None`` if optional and absent; else raise TopologyError."""
    try:
        with open(path, 'r', encoding='utf-8', errors='replace') as handle:
            return handle.read()
    except (IOError, OSError) as exc:
        if optional and exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return None
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            raise TopologyError(path, 'file is missing')
        raise TopologyError(path, 'cannot read: %s' % (exc.strerror or exc))


def _read_cpulist(path, optional=False):
    text = _read(path, optional=optional)
    if text is None:
        return None
    try:
        return parse_cpulist(text)
    except ValueError as exc:
        raise TopologyError(path, 'malformed cpu list: %s' % exc)


def _parse_int(path, text, base=10):
    try:
        return int(text.strip(), base)
    except ValueError:
        raise TopologyError(path, 'expected an integer, found %r' % text.strip()[:80])


def _read_int(path, optional=False, base=10):
    text = _read(path, optional=optional)
    if text is None:
        return None
    return _parse_int(path, text, base)


def _listdir(path):
    """Sorted entries of a directory, or ``None`` if it does not exist."""
    try:
        return sorted(os.listdir(path))
    except (IOError, OSError) as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return None
        raise TopologyError(path, 'cannot list directory: %s' % (exc.strerror or exc))


# --------------------------------------------------------------------------- procfs

def parse_meminfo(path, text, node_format=False):
    """Parse /proc/meminfo (or a node meminfo when ``node_format``) into ``{key: bytes_or_count}``."""
    values = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        if node_format:
            match = _NODE_MEMINFO_RE.match(line.strip())
            if not match:
                raise TopologyError(path, 'malformed line %r' % line)
            key, rest = match.group(2), match.group(3)
        else:
            if ':' not in line:
                raise TopologyError(path, 'malformed line %r' % line)
            key, rest = line.split(':', 1)
            key = key.strip()
        fields = rest.split()
        if not fields or len(fields) > 2 or (len(fields) == 2 and fields[1] != 'kB'):
            raise TopologyError(path, 'malformed value in line %r' % line)
        try:
            number = int(fields[0])
        except ValueError:
            raise TopologyError(path, 'non-integer value %r for %s' % (fields[0], key))
        values[key] = number * 1024 if len(fields) == 2 else number
    return values


def read_meminfo(root):
    """``{total_bytes, available_bytes, free_bytes}`` from /proc/meminfo."""
    path = _join(root, 'proc/meminfo')
    values = parse_meminfo(path, _read(path))
    for key in ('MemTotal', 'MemFree'):
        if key not in values:
            raise TopologyError(path, '%s is missing' % key)
    return {
        'total_bytes': values['MemTotal'],
        'free_bytes': values['MemFree'],
        'available_bytes': values.get('MemAvailable', values['MemFree']),
    }


def read_cpuinfo(root):
    """Vendor, model name, selected flags and the best ISA class from the first processor of /proc/cpuinfo."""
    path = _join(root, 'proc/cpuinfo')
    text = _read(path)
    first = None
    current = {}
    for line in text.splitlines() + ['']:
        if not line.strip():
            if 'processor' in current:
                first = current
                break
            current = {}
            continue
        if ':' not in line:
            raise TopologyError(path, 'malformed line %r' % line)
        key, value = line.split(':', 1)
        current.setdefault(key.strip(), value.strip())
    if first is None:
        raise TopologyError(path, 'no "processor" entry found')
    flag_set = set(first.get('flags', first.get('Features', '')).split())
    flags = dict((name, name in flag_set) for name in FLAG_NAMES)
    if flags['amx_tile'] and (flags['amx_bf16'] or flags['amx_int8']):
        isa = 'amx'
    elif flags['avx512f']:
        isa = 'avx512'
    elif flags['avx2']:
        isa = 'avx2'
    else:
        isa = 'baseline'
    return {
        'vendor': first.get('vendor_id', first.get('CPU implementer', '')),
        'model_name': first.get('model name', ''),
        'flags': flags,
        'isa': isa,
    }


def read_process_status(root):
    """Cpus_allowed_list and Mems_allowed_list of /proc/self/status."""
    path = _join(root, 'proc/self/status')
    text = _read(path)
    fields = {}
    for line in text.splitlines():
        if ':' in line:
            key, value = line.split(':', 1)
            fields[key.strip()] = value.strip()
    result = {}
    for key in ('Cpus_allowed_list', 'Mems_allowed_list'):
        if key not in fields:
            raise TopologyError(path, '%s is missing' % key)
        try:
            result[key] = parse_cpulist(fields[key])
        except ValueError as exc:
            raise TopologyError(path, 'malformed %s: %s' % (key, exc))
    return result


# --------------------------------------------------------------------------- CPUs

def read_cpus(root):
    """online / offline / isolated / present CPU lists."""
    base = _join(root, 'sys/devices/system/cpu')
    online = _read_cpulist(os.path.join(base, 'online'))
    if not online:
        raise TopologyError(os.path.join(base, 'online'), 'no online CPUs listed')
    present = _read_cpulist(os.path.join(base, 'present'))
    offline = _read_cpulist(os.path.join(base, 'offline'), optional=True) or []
    isolated = _read_cpulist(os.path.join(base, 'isolated'), optional=True) or []
    return {'online': online, 'offline': offline, 'isolated': isolated, 'present': present}


def read_cpu_topology(root, online):
    """Per online CPU: ``{cpu: {package, core_id, die, siblings}}`` (siblings restricted to online CPUs)."""
    base = _join(root, 'sys/devices/system/cpu')
    online_set = set(online)
    result = {}
    for cpu in online:
        topo = os.path.join(base, 'cpu%d' % cpu, 'topology')
        siblings = _read_cpulist(os.path.join(topo, 'thread_siblings_list'))
        result[cpu] = {
            'package': _read_int(os.path.join(topo, 'physical_package_id')),
            'core_id': _read_int(os.path.join(topo, 'core_id')),
            'die': _read_int(os.path.join(topo, 'die_id'), optional=True),
            'siblings': sorted((set(siblings) & online_set) | set([cpu])),
        }
    return result


def _parse_cache_size(path, text):
    """A cache ``size`` file (``32768K``) in bytes."""
    match = _CACHE_SIZE_RE.match(text.strip())
    if not match:
        raise TopologyError(path, 'expected a size such as 32768K, found %r' % text.strip()[:80])
    return int(match.group(1)) * _CACHE_UNITS[match.group(2)]


def read_l3_caches(root, online):
    """Groups of online CPUs that share one L3 cache: ``[{cpus, size_bytes}]`` sorted by first CPU.

    Read from ``cpuN/cache/indexM`` with ``level`` 3 (``shared_cpu_list``, ``size``). On AMD EPYC each
    group is a CCD (core complex die); on Xeon usually the whole socket. ``[]`` when the kernel shows
    no cache information (some VMs, containers with a masked /sys).
    """
    base = _join(root, 'sys/devices/system/cpu')
    online_set = set(online)
    seen = set()
    caches = []
    for cpu in online:
        if cpu in seen:
            continue
        cache_dir = os.path.join(base, 'cpu%d' % cpu, 'cache')
        for entry in _listdir(cache_dir) or []:
            if not _CACHE_INDEX_RE.match(entry):
                continue
            index = os.path.join(cache_dir, entry)
            if _read_int(os.path.join(index, 'level'), optional=True) != 3:
                continue
            shared = _read_cpulist(os.path.join(index, 'shared_cpu_list'))
            size_path = os.path.join(index, 'size')
            size_text = _read(size_path, optional=True)
            cpus = sorted((set(shared) & online_set) | set([cpu]))
            seen.update(cpus)
            caches.append({
                'cpus': cpus,
                'size_bytes': _parse_cache_size(size_path, size_text) if size_text is not None else None,
            })
            break
    return sorted(caches, key=lambda cache: cache['cpus'][0])


def _nps(vendor, numa_nodes, l3_domains, nodes_per_socket):
    """AMD EPYC NPS mode from the NUMA nodes, as SNC is inferred on Xeon; ``None`` on other vendors."""
    if vendor != 'amd':
        return None
    with_cpus = [node for node in numa_nodes if node['cpus']]
    if any(node['socket'] is None for node in with_cpus):
        mode = 'NPS0'
    elif nodes_per_socket in NPS_MODES:
        mode = 'NPS%d' % nodes_per_socket
    elif l3_domains and sorted(node['cpus'] for node in with_cpus) == sorted(domain['cpus'] for domain in l3_domains):
        # BIOS "L3 cache as NUMA domain": one node per CCD
        mode = 'L3'
    else:
        mode = 'NPS%d' % nodes_per_socket
    return {'mode': mode, 'nodes_per_socket': nodes_per_socket}


def _physical_cores(cpu_topo):
    """Unique sibling groups (each a sorted list), sorted by their first CPU."""
    seen = {}
    for info in cpu_topo.values():
        group = tuple(info['siblings'])
        seen[group] = list(group)
    return sorted(seen.values(), key=lambda core: core[0])


# --------------------------------------------------------------------------- NUMA

def _read_hugepages(path):
    """``{"2048kB": {total, free}}`` from a hugepages directory (absent -> ``{}``)."""
    result = {}
    for entry in _listdir(path) or []:
        match = _HUGEPAGES_DIR_RE.match(entry)
        if not match:
            continue
        sub = os.path.join(path, entry)
        result[match.group(1)] = {
            'total': _read_int(os.path.join(sub, 'nr_hugepages')),
            'free': _read_int(os.path.join(sub, 'free_hugepages')),
        }
    return result


def _node_ids(base):
    ids = _read_cpulist(os.path.join(base, 'online'), optional=True)
    if ids is None:
        ids = sorted(int(m.group(1)) for m in (_NODE_DIR_RE.match(e) for e in _listdir(base) or []) if m)
    return ids


def read_numa_nodes(root, online, meminfo):
    """Raw NUMA nodes: ``[{id, cpus, memory_total_bytes, memory_free_bytes, hugepages, distances, has_memory}]``.

    Without ``sys/devices/system/node`` (non-NUMA kernel) a single node 0 holds every online CPU
    and the memory of /proc/meminfo.
    """
    base = _join(root, 'sys/devices/system/node')
    online_set = set(online)
    if not os.path.isdir(base):
        return [{
            'id': 0,
            'cpus': list(online),
            'memory_total_bytes': meminfo['total_bytes'],
            'memory_free_bytes': meminfo['free_bytes'],
            'hugepages': _read_hugepages(_join(root, 'sys/kernel/mm/hugepages')),
            'distances': [10],
            'has_memory': meminfo['total_bytes'] > 0,
        }]
    ids = _node_ids(base)
    if not ids:
        raise TopologyError(base, 'no NUMA nodes found')
    has_memory = _read_cpulist(os.path.join(base, 'has_memory'), optional=True)
    nodes = []
    for node_id in ids:
        node_dir = os.path.join(base, 'node%d' % node_id)
        cpus = _read_cpulist(os.path.join(node_dir, 'cpulist'))
        mem_path = os.path.join(node_dir, 'meminfo')
        mem = parse_meminfo(mem_path, _read(mem_path), node_format=True)
        for key in ('MemTotal', 'MemFree'):
            if key not in mem:
                raise TopologyError(mem_path, '%s is missing' % key)
        dist_path = os.path.join(node_dir, 'distance')
        dist_text = _read(dist_path)
        try:
            distances = [int(value) for value in dist_text.split()]
        except ValueError:
            raise TopologyError(dist_path, 'expected integers, found %r' % dist_text.strip()[:80])
        if not distances:
            raise TopologyError(dist_path, 'file is empty')
        nodes.append({
            'id': node_id,
            'cpus': sorted(set(cpus) & online_set),
            'memory_total_bytes': mem['MemTotal'],
            'memory_free_bytes': mem['MemFree'],
            'hugepages': _read_hugepages(os.path.join(node_dir, 'hugepages')),
            'distances': distances,
            'has_memory': (node_id in has_memory) if has_memory is not None else mem['MemTotal'] > 0,
        })
    return nodes


# --------------------------------------------------------------------------- GPUs

def _pci_address(dev, entry):
    """The device's PCI_SLOT_NAME from its uevent file, else the directory name.

    The directory name is the address on a live host; reading uevent first lets fixture trees
    use names without ``:``, which are not portable file names.
    """
    text = _read(os.path.join(dev, 'uevent'), optional=True) or ''
    for line in text.splitlines():
        if line.startswith('PCI_SLOT_NAME='):
            value = line.split('=', 1)[1].strip()
            if value:
                return value
    return entry


def read_gpus(root):
    """NVIDIA display/3D controllers on the PCI bus (absent PCI tree -> ``[]``), sorted by address."""
    base = _join(root, 'sys/bus/pci/devices')
    gpus = []
    for entry in _listdir(base) or []:
        dev = os.path.join(base, entry)
        vendor = _read_int(os.path.join(dev, 'vendor'), base=16)
        if vendor != NVIDIA_VENDOR_ID:
            continue
        pci_class = _read_int(os.path.join(dev, 'class'), base=16)
        if (pci_class >> 8) not in GPU_CLASSES:
            continue
        device = _read_int(os.path.join(dev, 'device'), base=16)
        numa_node = _read_int(os.path.join(dev, 'numa_node'), optional=True)
        gpus.append({
            'pci_address': _pci_address(dev, entry),
            'vendor_id': '0x%04x' % vendor,
            'device_id': '0x%04x' % device,
            'class': '0x%06x' % pci_class,
            'numa_node': numa_node if numa_node is not None and numa_node >= 0 else None,
        })
    return sorted(gpus, key=lambda gpu: gpu['pci_address'])


# --------------------------------------------------------------------------- cgroups

def _parse_proc_cgroup(root):
    """``[(controllers, path)]`` from /proc/self/cgroup, or ``None`` if absent."""
    path = _join(root, 'proc/self/cgroup')
    text = _read(path, optional=True)
    if text is None:
        return None
    entries = []
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = line.split(':', 2)
        if len(parts) != 3 or not parts[2].startswith('/'):
            raise TopologyError(path, 'malformed line %r' % line)
        entries.append(([name for name in parts[1].split(',') if name], parts[2]))
    return entries


def _cgroup_dir(mount, cgpath):
    """The directory of ``cgpath`` under ``mount``; the mount itself when absent (private cgroup namespace)."""
    candidate = os.path.normpath(os.path.join(mount, cgpath.lstrip('/')))
    if (candidate == mount or candidate.startswith(mount.rstrip(os.sep) + os.sep)) and os.path.isdir(candidate):
        return candidate
    return mount


def _ancestors(directory, mount):
    """``directory`` and its parents up to and including ``mount``."""
    result = [directory]
    while directory != mount and directory.startswith(mount):
        directory = os.path.dirname(directory)
        result.append(directory)
    return result


def _min_or_none(values):
    values = [value for value in values if value is not None]
    return min(values) if values else None


def _memory_limit(path, optional=True):
    text = _read(path, optional=optional)
    if text is None or text.strip() == 'max':
        return None
    value = _parse_int(path, text)
    if value < 0 or value >= CGROUP_UNLIMITED_BYTES:
        return None
    return value


def _v2_cpu_quota(path):
    text = _read(path, optional=True)
    if text is None:
        return None
    fields = text.split()
    if len(fields) != 2:
        raise TopologyError(path, 'expected "QUOTA PERIOD", found %r' % text.strip()[:80])
    if fields[0] == 'max':
        return None
    quota = _parse_int(path, fields[0])
    period = _parse_int(path, fields[1])
    if period <= 0:
        raise TopologyError(path, 'period must be positive, found %d' % period)
    return quota / period


def _v1_cpu_quota(directory):
    quota = _read_int(os.path.join(directory, 'cpu.cfs_quota_us'), optional=True)
    if quota is None or quota < 0:
        return None
    period_path = os.path.join(directory, 'cpu.cfs_period_us')
    period = _read_int(period_path)
    if period <= 0:
        raise TopologyError(period_path, 'period must be positive, found %d' % period)
    return quota / period


def _v1_mount(cg_root, entries, controller):
    """(mount dir, cgroup path) of a v1 controller, or ``None``."""
    cgpath = '/'
    names = [controller]
    for controllers, path in entries:
        if controller in controllers:
            cgpath = path
            names.append(','.join(controllers))
    for name in names:
        mount = os.path.join(cg_root, name)
        if os.path.isdir(mount):
            return mount, cgpath
    return None


def read_cgroup(root, allowed_cpus, allowed_mems):
    """cgroup version, path, cpuset and the tightest memory / CPU limits on the path to the root."""
    cg_root = os.path.normpath(_join(root, 'sys/fs/cgroup'))
    entries = _parse_proc_cgroup(root) or []
    result = {
        'version': None,
        'path': '',
        'cpuset_cpus': list(allowed_cpus),
        'cpuset_mems': list(allowed_mems),
        'memory_limit_bytes': None,
        'cpu_quota_cores': None,
    }
    if os.path.isfile(os.path.join(cg_root, 'cgroup.controllers')):
        cgpath = '/'
        for controllers, path in entries:
            if not controllers:
                cgpath = path
        directory = _cgroup_dir(cg_root, cgpath)
        chain = _ancestors(directory, cg_root)
        cpus = _read_cpulist(os.path.join(directory, 'cpuset.cpus.effective'), optional=True)
        mems = _read_cpulist(os.path.join(directory, 'cpuset.mems.effective'), optional=True)
        result.update({
            'version': 2,
            'path': cgpath,
            'memory_limit_bytes': _min_or_none(_memory_limit(os.path.join(d, 'memory.max')) for d in chain),
            'cpu_quota_cores': _min_or_none(_v2_cpu_quota(os.path.join(d, 'cpu.max')) for d in chain),
        })
    else:
        mounts = dict((name, _v1_mount(cg_root, entries, name)) for name in ('memory', 'cpu', 'cpuset'))
        if not any(mounts.values()):
            return result
        result['version'] = 1
        result['path'] = next((m[1] for m in (mounts['memory'], mounts['cpu'], mounts['cpuset']) if m), '/')
        cpus = mems = None
        if mounts['memory']:
            mount, cgpath = mounts['memory']
            chain = _ancestors(_cgroup_dir(mount, cgpath), mount)
            result['memory_limit_bytes'] = _min_or_none(_memory_limit(os.path.join(d, 'memory.limit_in_bytes')) for d in chain)
        if mounts['cpu']:
            mount, cgpath = mounts['cpu']
            chain = _ancestors(_cgroup_dir(mount, cgpath), mount)
            result['cpu_quota_cores'] = _min_or_none(_v1_cpu_quota(d) for d in chain)
        if mounts['cpuset']:
            mount, cgpath = mounts['cpuset']
            directory = _cgroup_dir(mount, cgpath)
            cpus = _read_cpulist(os.path.join(directory, 'cpuset.effective_cpus'), optional=True)
            if cpus is None:
                cpus = _read_cpulist(os.path.join(directory, 'cpuset.cpus'), optional=True)
            mems = _read_cpulist(os.path.join(directory, 'cpuset.effective_mems'), optional=True)
            if mems is None:
                mems = _read_cpulist(os.path.join(directory, 'cpuset.mems'), optional=True)
    if result['cpu_quota_cores'] is not None:
        result['cpu_quota_cores'] = round(result['cpu_quota_cores'], 4)
    if cpus is not None:
        result['cpuset_cpus'] = cpus
    if mems is not None:
        result['cpuset_mems'] = mems
    return result


# --------------------------------------------------------------------------- assembly

def gather_topology(root='/'):
    """Return the full topology dictionary (the ``topology`` result of ``inferops.vllm.cpu_topology``)."""
    cpus = read_cpus(root)
    online = cpus['online']
    status = read_process_status(root)
    cpus['allowed'] = sorted(set(status['Cpus_allowed_list']) & set(online))

    cpu_topo = read_cpu_topology(root, online)
    cores = _physical_cores(cpu_topo)
    threads_per_core = max(len(core) for core in cores)

    meminfo = read_meminfo(root)
    raw_nodes = read_numa_nodes(root, online, meminfo)
    gpus = read_gpus(root)

    numa_nodes = []
    for raw in raw_nodes:
        node_cpus = set(raw['cpus'])
        packages = sorted(set(cpu_topo[cpu]['package'] for cpu in node_cpus))
        node_cores = [core for core in cores if core[0] in node_cpus]
        numa_nodes.append({
            'id': raw['id'],
            'socket': packages[0] if len(packages) == 1 else None,
            'cpus': sorted(node_cpus),
            'cores': node_cores,
            'physical_cores': [core[0] for core in node_cores],
            'memory_total_bytes': raw['memory_total_bytes'],
            'memory_free_bytes': raw['memory_free_bytes'],
            'hugepages': raw['hugepages'],
            'cpu_less': not node_cpus,
            'distances': raw['distances'],
            'gpus': sorted(gpu['pci_address'] for gpu in gpus
                           if gpu['numa_node'] == raw['id'] or (len(raw_nodes) == 1 and gpu['numa_node'] is None)),
        })

    sockets = []
    for package in sorted(set(info['package'] for info in cpu_topo.values())):
        socket_cpus = sorted(cpu for cpu, info in cpu_topo.items() if info['package'] == package)
        socket_set = set(socket_cpus)
        dies = set(cpu_topo[cpu]['die'] for cpu in socket_cpus if cpu_topo[cpu]['die'] is not None)
        sockets.append({
            'id': package,
            'numa_nodes': [node['id'] for node in numa_nodes if socket_set & set(node['cpus'])],
            'cpus': socket_cpus,
            'physical_cores': len([core for core in cores if core[0] in socket_set]),
            'dies': max(len(dies), 1),
        })

    per_socket = [len([node for node in numa_nodes if node['socket'] == sock['id']]) for sock in sockets]
    nodes_per_socket = max(per_socket + [1])

    l3_domains = []
    for index, cache in enumerate(read_l3_caches(root, online)):
        cache_set = set(cache['cpus'])
        packages = sorted(set(cpu_topo[cpu]['package'] for cpu in cache_set))
        l3_domains.append({
            'id': index,
            'cpus': cache['cpus'],
            'physical_cores': [core[0] for core in cores if core[0] in cache_set],
            'size_bytes': cache['size_bytes'],
            'socket': packages[0] if len(packages) == 1 else None,
            'numa_nodes': [node['id'] for node in numa_nodes if cache_set & set(node['cpus'])],
        })

    cpu_info = read_cpuinfo(root)
    vendor = VENDORS.get(cpu_info['vendor'], 'other')

    return {
        'cpus': cpus,
        'smt_active': threads_per_core > 1,
        'threads_per_core': threads_per_core,
        'vendor': vendor,
        'cpu': cpu_info,
        'memory': {
            'total_bytes': meminfo['total_bytes'],
            'available_bytes': meminfo['available_bytes'],
            'free_bytes': meminfo['free_bytes'],
        },
        'sockets': sockets,
        'numa_nodes': numa_nodes,
        'memory_only_nodes': [raw['id'] for raw in raw_nodes if not raw['cpus'] and raw['has_memory']],
        'snc': {'enabled': nodes_per_socket > 1, 'nodes_per_socket': nodes_per_socket},
        'nps': _nps(vendor, numa_nodes, l3_domains, nodes_per_socket),
        'l3_domains': l3_domains,
        'gpus': gpus,
        'cgroup': read_cgroup(root, cpus['allowed'], status['Mems_allowed_list']),
    }
