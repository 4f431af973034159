# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Host telemetry while the gate loads a host: energy, per-instance CPU time and context switches, NUMA.

The host_telemetry module takes snapshots on the inference host (this file reads them from a
filesystem root, so fixture trees stand in for /sys and /proc); the validate role lines them up with
the gate's measured window. Nothing here estimates a sensor that is not there: an absent sensor is
reported absent with the reason.

- Energy: the RAPL powercap zones ``/sys/class/powercap/intel-rapl:*``. The same ``intel_rapl``
  driver serves AMD (Family 17h and later, Linux 5.8+) with package (and on some kernels core)
  zones and no DRAM zone; the old ``amd_energy`` hwmon driver was removed in Linux 5.13. Counted:
  each ``package-N`` and each ``dram`` zone; ``core``/``uncore`` are parts of a package and
  ``psys`` (the whole platform, where present) overlaps them, so they are shown, never added.
  ``energy_uj`` wraps at ``max_energy_range_uj``; a wrap between two samples is added back (one wrap
  per sample interval at most: at 300 W a 262 kJ range wraps every ~15 min, the interval is seconds).
  Since Linux 5.10 (CVE-2020-8694) ``energy_uj`` is readable by root only.
- GPUs: ``nvidia-smi`` power rows (nvidia.parse_power_query): the power draw integrated over the samples
  (trapezoid rule; method ``power.draw``, said as such). nvidia-smi reports no energy counter (that is
  NVML's nvmlDeviceGetTotalEnergyConsumption only).
- Instances: CPU time from ``/proc/PID/stat`` (utime+stime of the whole thread group), context
  switches summed over ``/proc/PID/task/*/status`` (``/proc/PID/status`` counts one thread only),
  over every process of the instance (its systemd unit's cgroup, or a PID and its descendants).
  Processes that exit between two samples take their last interval with them.
- NUMA: ``/sys/devices/system/node/node*/numastat`` (numa_hit, numa_miss, ...), summed over nodes.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os

from ansible_collections.inferops.vllm.plugins.module_utils.topology import parse_cpulist

POWERCAP = 'sys/class/powercap'
RAPL_PREFIX = 'intel-rapl:'
NODES = 'sys/devices/system/node'
NUMA_KEYS = ('numa_hit', 'numa_miss', 'numa_foreign', 'interleave_hit', 'local_node', 'other_node')
# What the measured energy covers: said next to every joules-per-token figure.
NOT_MEASURED = 'fans, disks, NICs, PSU losses and anything outside the counted zones are not measured'


class TelemetryError(Exception):
    """Input that cannot be turned into figures (malformed /proc text, bad arguments)."""


def _join(root, relpath):
    return os.path.join(root or '/', relpath)


def _read(path):
    """(text, None) or (None, why) - telemetry reports unreadable files, it never stops on them."""
    try:
        with open(path, 'r', encoding='utf-8', errors='replace') as handle:
            return handle.read(), None
    except (IOError, OSError) as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return None, 'no %s' % path
        return None, '%s not readable: %s' % (path, exc.strerror or exc)


def _listdir(path):
    try:
        return sorted(os.listdir(path))
    except (IOError, OSError):
        return None


# --------------------------------------------------------------------------- RAPL powercap

def _zone_kind(name):
    if name.startswith('package'):
        return 'package'
    if name == 'dram':
        return 'dram'
    return name or 'unknown'


def read_powercap(root='/'):
    """The RAPL zones: ``{available, reason, zones: [{id, name, kind, counted, energy_uj, max_energy_range_uj}]}``.

    ``available`` is True when at least one counted zone (package or dram) has a readable counter.
    """
    base = _join(root, POWERCAP)
    entries = _listdir(base)
    if entries is None:
        return {'available': False, 'reason': 'no /%s (kernel without powercap, or a VM that hides it)' % POWERCAP,
                'zones': []}
    ids = [e for e in entries if e.startswith(RAPL_PREFIX)]
    if not ids:
        return {'available': False, 'zones': [],
                'reason': 'no /%s/%s* (no RAPL driver loaded: CPU without RAPL, intel_rapl_msr not loaded, '
                          'or a VM)' % (POWERCAP, RAPL_PREFIX)}
    zones = []
    reasons = []
    for zone_id in ids:
        path = os.path.join(base, zone_id)
        name, _why = _read(os.path.join(path, 'name'))
        name = (name or '').strip()
        kind = _zone_kind(name)
        zone = {'id': zone_id, 'name': name, 'kind': kind, 'counted': kind in ('package', 'dram'),
                'energy_uj': None, 'max_energy_range_uj': None}
        text, why = _read(os.path.join(path, 'energy_uj'))
        if text is None:
            if 'Permission denied' in why:
                why += ' (root only since Linux 5.10, CVE-2020-8694)'
            zone['reason'] = why.replace(_join(root, ''), '/')
            reasons.append('energy_uj of %s (%s) not readable' % (zone_id, name) if 'not readable' in why
                           else zone['reason'])
        else:
            try:
                zone['energy_uj'] = int(text.strip())
            except ValueError:
                raise TelemetryError('%s/energy_uj holds %r, not an integer' % (path, text.strip()[:40]))
        rng, _why = _read(os.path.join(path, 'max_energy_range_uj'))
        if rng is not None and rng.strip().isdigit():
            zone['max_energy_range_uj'] = int(rng.strip())
        zones.append(zone)
    readable = [z for z in zones if z['counted'] and z['energy_uj'] is not None]
    out = {'available': bool(readable), 'zones': zones, 'reason': None}
    if not readable:
        out['reason'] = '; '.join(reasons) or 'no package or dram zone under /%s/%s*' % (POWERCAP, RAPL_PREFIX)
    if readable and not any(z['kind'] == 'dram' for z in readable):
        out['dram'] = 'no dram zone (AMD RAPL has none; some Intel parts neither): DRAM energy not measured'
    return out


def energy_delta_uj(start, end, max_range):
    """Energy between two readings of one counter in uJ, adding back one wrap at ``max_range``.

    Returns None (never a negative figure) when the counter went backwards and its range is unknown.
    """
    if start is None or end is None:
        return None
    if end >= start:
        return end - start
    if not max_range or start > max_range:
        return None
    return (max_range - start) + end


# --------------------------------------------------------------------------- processes

def parse_proc_stat(text):
    """``/proc/PID/stat`` -> {pid, comm, state, ppid, utime, stime, starttime} (times in clock ticks).

    The command name may hold spaces and parentheses: the fields after it start at the last ')'.
    """
    head, sep, tail = (text or '').rpartition(')')
    if not sep or '(' not in head:
        raise TelemetryError('not a /proc/PID/stat line: %r' % (text or '')[:80])
    pid, _sep, comm = head.partition('(')
    fields = tail.split()
    # fields[0] is field 3 (state); utime is field 14, stime 15, starttime 22.
    if len(fields) < 20:
        raise TelemetryError('/proc/PID/stat line has %d fields after the command name, expected at least 20'
                             % len(fields))
    try:
        return {'pid': int(pid.strip()), 'comm': comm, 'state': fields[0], 'ppid': int(fields[1]),
                'utime': int(fields[11]), 'stime': int(fields[12]), 'starttime': int(fields[19])}
    except ValueError as exc:
        raise TelemetryError('malformed /proc/PID/stat line: %s' % exc)


def parse_proc_status(text):
    """``/proc/PID/status`` -> {voluntary, involuntary, cpus_allowed} (what telemetry needs of it)."""
    values = {}
    for line in (text or '').splitlines():
        key, sep, value = line.partition(':')
        if sep:
            values[key.strip()] = value.strip()
    try:
        out = {'voluntary': int(values['voluntary_ctxt_switches']),
               'involuntary': int(values['nonvoluntary_ctxt_switches'])}
    except (KeyError, ValueError):
        raise TelemetryError('/proc/PID/status has no voluntary_ctxt_switches / nonvoluntary_ctxt_switches')
    allowed = values.get('Cpus_allowed_list')
    out['cpus_allowed'] = parse_cpulist(allowed) if allowed else None
    return out


def read_process(root, pid):
    """One process: {pid, starttime, cpu_ticks, threads: {tid: [voluntary, involuntary]}, cpus_allowed};
    None when it is gone."""
    base = _join(root, 'proc/%d' % pid)
    text, _why = _read(os.path.join(base, 'stat'))
    if text is None:
        return None
    stat = parse_proc_stat(text)
    status_text, _why = _read(os.path.join(base, 'status'))
    status = parse_proc_status(status_text) if status_text else {'cpus_allowed': None}
    threads = {}
    for tid in _listdir(os.path.join(base, 'task')) or []:
        t_text, _why = _read(os.path.join(base, 'task', tid, 'status'))
        if t_text:
            t = parse_proc_status(t_text)
            threads[tid] = [t['voluntary'], t['involuntary']]
    if not threads and 'voluntary' in status:
        threads[str(pid)] = [status['voluntary'], status['involuntary']]
    return {'pid': pid, 'starttime': stat['starttime'], 'cpu_ticks': stat['utime'] + stat['stime'],
            'threads': threads, 'cpus_allowed': status.get('cpus_allowed')}


def descendants(root, pid):
    """``pid`` and every process below it, from the ppid of each /proc/N/stat."""
    children = {}
    for entry in _listdir(_join(root, 'proc')) or []:
        if not entry.isdigit():
            continue
        text, _why = _read(_join(root, 'proc/%s/stat' % entry))
        if text is None:
            continue
        try:
            stat = parse_proc_stat(text)
        except TelemetryError:
            continue
        children.setdefault(stat['ppid'], []).append(stat['pid'])
    tree, todo = [], [int(pid)]
    while todo:
        current = todo.pop()
        if current in tree:
            continue
        tree.append(current)
        todo.extend(children.get(current, []))
    return sorted(tree)


def cgroup_pids(directory):
    """Every PID in a cgroup directory and its sub-cgroups (cgroup.procs); None when it does not exist."""
    if not os.path.isdir(directory):
        return None
    pids = set()
    for path, _dirs, files in os.walk(directory):
        if 'cgroup.procs' in files:
            text, _why = _read(os.path.join(path, 'cgroup.procs'))
            pids.update(int(p) for p in (text or '').split() if p.isdigit())
    return sorted(pids)


def cgroup_dirs(root, control_group):
    """Where a unit's ControlGroup (``/system.slice/x.service``) lives: cgroup v2, hybrid, v1."""
    rel = control_group.lstrip('/')
    return [_join(root, os.path.join(mount, rel)) for mount in
            ('sys/fs/cgroup', 'sys/fs/cgroup/unified', 'sys/fs/cgroup/systemd')]


def instance_snapshot(root, pids):
    """Counters of an instance's processes: {pids, cpu_ticks: {key: n}, ctxt: {key: [vol, invol]}, cpus_allowed}.

    Keys carry the process start time so that a reused PID is never taken for the same process.
    """
    snap = {'pids': [], 'cpu_ticks': {}, 'ctxt': {}, 'cpus_allowed': None}
    allowed = set()
    for pid in pids:
        try:
            proc = read_process(root, pid)
        except TelemetryError:
            proc = None     # a process caught while it exits: its files are half gone
        if proc is None:
            continue
        key = '%d:%d' % (pid, proc['starttime'])
        snap['pids'].append(pid)
        snap['cpu_ticks'][key] = proc['cpu_ticks']
        for tid, counts in proc['threads'].items():
            snap['ctxt']['%s:%s' % (key, tid)] = counts
        allowed.update(proc['cpus_allowed'] or [])
    snap['cpus_allowed'] = sorted(allowed) if allowed else None
    return snap


def _counter_delta(before, after):
    """Sum over the keys of ``after`` of after - before (0 when new): what ran between the two."""
    return sum(max(0, value - before.get(key, 0)) for key, value in after.items())


# --------------------------------------------------------------------------- NUMA

def parse_numastat(text):
    values = {}
    for line in (text or '').splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            values[parts[0]] = int(parts[1])
    return values


def read_numastat(root='/'):
    """{available, reason, nodes: {nodeN: {numa_hit, ...}}}."""
    base = _join(root, NODES)
    entries = _listdir(base)
    nodes = {}
    for entry in entries or []:
        if entry.startswith('node') and entry[4:].isdigit():
            text, _why = _read(os.path.join(base, entry, 'numastat'))
            if text is not None:
                nodes[entry] = parse_numastat(text)
    if not nodes:
        return {'available': False, 'nodes': {}, 'reason': 'no /%s/node*/numastat' % NODES}
    return {'available': True, 'nodes': nodes, 'reason': None}


def _numa_total(nodes):
    return dict((key, sum(n.get(key, 0) for n in nodes.values())) for key in NUMA_KEYS)


# --------------------------------------------------------------------------- samples

def snapshot(t, powercap, numastat, gpus, instances):
    """One sample of raw counters: ``t`` (Unix time), read_powercap(), read_numastat(),
    nvidia.parse_power_query() rows or None, {name: instance_snapshot()}."""
    return {
        't': float(t),
        'rapl': dict((z['id'], [z['energy_uj'], z['max_energy_range_uj']]) for z in powercap.get('zones') or []
                     if z['counted'] and z['energy_uj'] is not None),
        'numa': _numa_total(numastat['nodes']) if numastat.get('available') else None,
        'gpus': dict((str(g['index']), g['power_w']) for g in gpus or []),
        'instances': instances,
    }


def new_totals(first, clock_ticks):
    """Cumulative figures at the first sample (all zero) - the start of the series."""
    return {
        't': first['t'], 'clock_ticks': int(clock_ticks),
        'energy_j': dict((zone, 0.0) for zone in first['rapl']),
        'gpu_j': dict((gpu, 0.0) for gpu in first['gpus']),
        'gpu_method': dict((gpu, 'power.draw') for gpu in first['gpus']),
        'numa': dict((k, 0) for k in NUMA_KEYS) if first['numa'] is not None else None,
        'instances': dict((name, {'cpu_s': 0.0, 'voluntary': 0, 'involuntary': 0})
                          for name in first['instances']),
        'gaps': [],
    }


def accumulate(totals, before, after):
    """The cumulative figures at ``after`` from those at ``before`` (a new dict; inputs unchanged).

    A RAPL counter that went backwards with no known range, or a zone that vanished, is recorded in
    ``gaps`` and adds nothing: a figure is never negative and never made up.
    """
    out = {'t': after['t'], 'clock_ticks': totals['clock_ticks'], 'gaps': list(totals['gaps']),
           'energy_j': dict(totals['energy_j']), 'gpu_j': dict(totals['gpu_j']),
           'gpu_method': dict(totals['gpu_method']), 'numa': None, 'instances': {}}
    dt = max(0.0, after['t'] - before['t'])
    for zone in out['energy_j']:
        b, a = before['rapl'].get(zone), after['rapl'].get(zone)
        delta = energy_delta_uj(b[0], a[0], a[1] or b[1]) if a and b else None
        if delta is None:
            out['gaps'].append('%s: no usable reading between t=%.3f and t=%.3f' % (zone, before['t'], after['t']))
        else:
            out['energy_j'][zone] += delta / 1e6
    for gpu in out['gpu_j']:
        if gpu not in before['gpus'] or gpu not in after['gpus']:
            out['gaps'].append('gpu %s: not listed between t=%.3f and t=%.3f' % (gpu, before['t'], after['t']))
            continue
        b, a = before['gpus'][gpu], after['gpus'][gpu]
        if a is not None and b is not None:
            out['gpu_j'][gpu] += (a + b) / 2.0 * dt
        else:
            out['gaps'].append('gpu %s: no power reading between t=%.3f and t=%.3f' % (gpu, before['t'], after['t']))
    if totals['numa'] is not None and before['numa'] is not None and after['numa'] is not None:
        out['numa'] = dict((k, totals['numa'][k] + max(0, after['numa'][k] - before['numa'][k])) for k in NUMA_KEYS)
    for name, cum in totals['instances'].items():
        b = before['instances'].get(name) or {'cpu_ticks': {}, 'ctxt': {}}
        a = after['instances'].get(name) or {'cpu_ticks': {}, 'ctxt': {}}
        vol = _counter_delta(dict((k, v[0]) for k, v in b['ctxt'].items()), dict((k, v[0]) for k, v in a['ctxt'].items()))
        inv = _counter_delta(dict((k, v[1]) for k, v in b['ctxt'].items()), dict((k, v[1]) for k, v in a['ctxt'].items()))
        out['instances'][name] = {
            'cpu_s': cum['cpu_s'] + _counter_delta(b['cpu_ticks'], a['cpu_ticks']) / float(totals['clock_ticks']),
            'voluntary': cum['voluntary'] + vol, 'involuntary': cum['involuntary'] + inv}
    return out


def series_point(totals):
    """What the module returns per sample: time and cumulative figures (JSON-ready, rounded)."""
    return {'t': round(totals['t'], 3),
            'energy_j': dict((k, round(v, 6)) for k, v in totals['energy_j'].items()),
            'gpu_j': dict((k, round(v, 6)) for k, v in totals['gpu_j'].items()),
            'numa': totals['numa'],
            'instances': dict((name, {'cpu_s': round(v['cpu_s'], 4), 'voluntary': v['voluntary'],
                                      'involuntary': v['involuntary']})
                              for name, v in totals['instances'].items())}


# --------------------------------------------------------------------------- derived figures

def joules_per_token(joules, tokens):
    """Energy per output token; None when either is unknown or no token was produced."""
    if joules is None or not tokens:
        return None
    return joules / float(tokens)


def energy_cost_per_1m(joules_per_output_token, price_per_kwh):
    """Energy cost of 1M tokens at ``price_per_kwh`` (1 kWh = 3.6e6 J); None without a price or a figure."""
    if joules_per_output_token is None or price_per_kwh is None:
        return None
    return joules_per_output_token * 1e6 / 3.6e6 * float(price_per_kwh)


def _value_at(series, t, get):
    """Linear interpolation of a cumulative figure at time t (t within the series' span)."""
    for left, right in zip(series, series[1:]):
        if left['t'] <= t <= right['t']:
            lv, rv = get(left), get(right)
            if lv is None or rv is None:
                return None
            span = right['t'] - left['t']
            return lv if span <= 0 else lv + (rv - lv) * (t - left['t']) / span
    return get(series[-1]) if series and t == series[-1]['t'] else None


def _between(series, start, end, get):
    a, b = _value_at(series, start, get), _value_at(series, end, get)
    return None if a is None or b is None else max(0.0, b - a)


def _r(value, digits=4):
    return None if value is None else round(value, digits)


def window_figures(telemetry, start_epoch, end_epoch, output_tokens, price_per_kwh=None):
    """Telemetry over the gate's measured window [start_epoch, end_epoch] with ``output_tokens`` produced in it.

    ``telemetry`` is the host_telemetry module's result. The window is clamped to the sampled span by at
    most one sample interval (plus 1 s of clock difference between the runner and the host); a window the
    samples do not cover gets no figures, with the reason.
    """
    series = telemetry.get('samples') or []
    sensors = telemetry.get('sensors') or {}
    out = {'available': False, 'reason': None, 'window': None, 'energy': None, 'joules_per_output_token': None,
           'energy_cost_per_1m_output_tokens': None, 'instances': [], 'numa': None}
    if not telemetry.get('sampled') or len(series) < 2:
        out['reason'] = telemetry.get('reason') or 'no telemetry samples (check mode or telemetry off)'
        return out
    if start_epoch is None or end_epoch is None or end_epoch <= start_epoch:
        out['reason'] = 'the gate measured no window'
        return out
    slack = float(telemetry.get('interval_s') or 1.0) + 1.0
    first, last = series[0]['t'], series[-1]['t']
    if start_epoch < first - slack or end_epoch > last + slack:
        out['reason'] = ('the samples (%.1f to %.1f) do not cover the gate window (%.1f to %.1f): is the host\'s '
                         'clock off from the runner\'s?' % (first, last, start_epoch, end_epoch))
        return out
    start, end = max(start_epoch, first), min(end_epoch, last)
    duration = end - start
    if duration <= 0:
        out['reason'] = 'the gate window is shorter than one sample interval'
        return out
    out['available'] = True
    out['window'] = {'start_epoch': _r(start, 3), 'end_epoch': _r(end, 3), 'duration_s': _r(duration, 3),
                     'gate_duration_s': _r(end_epoch - start_epoch, 3)}
    tokens = None if output_tokens is None else output_tokens * duration / float(end_epoch - start_epoch)
    out['energy'] = _energy(series, sensors, start, end, duration)
    out['joules_per_output_token'] = _r(joules_per_token(out['energy']['joules'], tokens), 6)
    out['energy_cost_per_1m_output_tokens'] = _r(
        energy_cost_per_1m(out['joules_per_output_token'], price_per_kwh), 6)
    if out['energy']['joules'] is not None and not tokens:
        out['energy']['note'] = 'no output tokens in the window: no joules per token'
    out['instances'] = _instances(series, telemetry.get('instances') or [], start, end, duration)
    out['numa'] = _numa(series, sensors, start, end)
    return out


def _energy(series, sensors, start, end, duration):
    rapl = sensors.get('rapl') or {}
    gpu = sensors.get('gpu') or {}
    zones = dict((z['id'], z) for z in rapl.get('zones') or [])
    parts, absent = {}, []
    for zone in sorted(series[0]['energy_j']):
        j = _between(series, start, end, lambda s, z=zone: s['energy_j'].get(z))
        if j is not None:
            parts['%s %s' % (zone, zones.get(zone, {}).get('name') or '?')] = _r(j, 3)
    if not rapl.get('available'):
        absent.append('RAPL: %s' % rapl.get('reason'))
    elif rapl.get('dram'):
        absent.append(rapl['dram'])
    for index in sorted(series[0]['gpu_j']):
        j = _between(series, start, end, lambda s, g=index: s['gpu_j'].get(g))
        if j is not None:
            parts['gpu %s' % index] = _r(j, 3)
    if not gpu.get('available'):
        absent.append('GPU: %s' % gpu.get('reason'))
    joules = sum(parts.values()) if parts else None
    return {'joules': _r(joules, 3), 'watts': _r(joules / duration, 2) if joules is not None else None,
            'by_source': parts, 'absent': absent,
            'covers': 'counted zones only: %s' % NOT_MEASURED if parts else None}


def _instance_between(series, name, key, start, end):
    return _between(series, start, end, lambda s: (s['instances'].get(name) or {}).get(key))


def _instances(series, instances, start, end, duration):
    rows = []
    for inst in instances:
        name = inst['name']
        cpu_s = _instance_between(series, name, 'cpu_s', start, end)
        vol = _instance_between(series, name, 'voluntary', start, end)
        inv = _instance_between(series, name, 'involuntary', start, end)
        cpus = len(inst.get('cpus_allowed') or []) or None
        cores = cpu_s / duration if cpu_s is not None else None
        rows.append({'name': name, 'found': bool(inst.get('found')), 'reason': inst.get('reason'),
                     'processes': inst.get('processes'), 'cpus_allowed': cpus,
                     'cpu_s': _r(cpu_s, 3), 'cpu_cores': _r(cores, 3),
                     'cpu_util': _r(cores / cpus, 4) if cores is not None and cpus else None,
                     'voluntary_ctxt_switches': None if vol is None else int(round(vol)),
                     'involuntary_ctxt_switches': None if inv is None else int(round(inv)),
                     'ctxt_switches_per_s': _r((vol + inv) / duration, 1) if vol is not None and inv is not None
                     else None})
    return rows


def _numa(series, sensors, start, end):
    numa = sensors.get('numa') or {}
    if not numa.get('available') or series[0].get('numa') is None:
        return {'available': False, 'reason': numa.get('reason') or 'no numastat samples'}
    hit = _between(series, start, end, lambda s: (s.get('numa') or {}).get('numa_hit'))
    miss = _between(series, start, end, lambda s: (s.get('numa') or {}).get('numa_miss'))
    if hit is None or miss is None:
        return {'available': False, 'reason': 'numastat missing from a sample'}
    return {'available': True, 'nodes': numa.get('nodes'), 'numa_hit': int(round(hit)), 'numa_miss': int(round(miss)),
            'miss_ratio': _r(miss / (hit + miss), 6) if hit + miss > 0 else None}


# --------------------------------------------------------------------------- sampling

def sample(read, duration_s, interval_s, stop, clock, sleep, clock_ticks):
    """Snapshots from now until ``stop()`` is true or ``duration_s`` has passed, one per ``interval_s``.

    ``read()`` returns a snapshot(); ``stop``, ``clock`` and ``sleep`` are injected so the loop is
    tested without waiting. Returns {samples: [series_point()], ended: stop_file|duration, gaps}.
    """
    if duration_s <= 0 or interval_s <= 0:
        raise TelemetryError('duration_s and interval_s must be above 0, got %r and %r' % (duration_s, interval_s))
    prev = read()
    totals = new_totals(prev, clock_ticks)
    samples = [series_point(totals)]
    deadline = clock() + duration_s
    while True:
        stopped = stop()
        if not stopped:
            sleep(max(0.0, min(interval_s, deadline - clock())))
        snap = read()
        totals = accumulate(totals, prev, snap)
        samples.append(series_point(totals))
        prev = snap
        if stopped:
            ended = 'stop_file'
            break
        if clock() >= deadline:
            ended = 'duration'
            break
    return {'samples': samples, 'ended': ended, 'gaps': totals['gaps'], 'gpu_method': totals['gpu_method']}


# --------------------------------------------------------------------------- joining the gate

def instances_to_sample(instances, unit_prefix, explicit=None):
    """host_telemetry's instances: ``explicit`` when given, else each planned instance's systemd unit
    (``<unit_prefix><name>.service``, the server role's naming for systemd and quadlet units alike)."""
    if explicit:
        return list(explicit)
    return [{'name': str(inst['name']), 'unit': '%s%s.service' % (unit_prefix, inst['name'])}
            for inst in instances or [] if isinstance(inst, dict) and inst.get('name')]


def join_gate(records, telemetry_result, price_per_kwh=None):
    """The gate records with ``result.telemetry`` (window_figures over its window) on the host-scope record.

    Only the run that loaded the whole host gets the host's energy: an instance run shares the host with idle
    siblings, so its joules per token would charge it for them.
    """
    tel = dict(telemetry_result or {})
    if tel.get('failed'):
        tel = {'sampled': False, 'reason': 'host_telemetry failed: %s' % (tel.get('msg') or 'no message')}
    out = []
    for record in records:
        record = dict(record)
        if record.get('scope') == 'host':
            result = dict(record.get('result') or {})
            window = result.get('window') or {}
            start, end = window.get('start_epoch'), window.get('end_epoch')
            rate = (result.get('throughput') or {}).get('output_tokens_per_s')
            # tokens in the window: the rate over it (equals tokens.output_total for one trial)
            tokens = rate * (end - start) if rate is not None and start is not None and end is not None else None
            result['telemetry'] = window_figures(tel, start, end, tokens, price_per_kwh)
            result['telemetry']['price_per_kwh'] = price_per_kwh
            record['result'] = result
        out.append(record)
    return out


_BRIEF_INSTANCE = ('name', 'cpu_cores', 'cpu_util', 'ctxt_switches_per_s', 'reason')


def brief(figures):
    """The few telemetry figures a host record keeps (fleet report, baseline)."""
    if not figures:
        return None
    energy = figures.get('energy') or {}
    return {'available': figures.get('available'), 'reason': figures.get('reason'),
            'watts': energy.get('watts'), 'joules_per_output_token': figures.get('joules_per_output_token'),
            'energy_cost_per_1m_output_tokens': figures.get('energy_cost_per_1m_output_tokens'),
            'energy_absent': energy.get('absent') or [],
            'numa_miss_ratio': (figures.get('numa') or {}).get('miss_ratio'),
            'instances': [dict((k, i.get(k)) for k in _BRIEF_INSTANCE) for i in figures.get('instances') or []]}
