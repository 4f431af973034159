#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: host_telemetry
short_description: Sample an inference host's energy, per-instance CPU and NUMA counters while it is loaded
description:
  - Runs on the inference host and samples, from a start snapshot to an end snapshot with periodic samples in
    between, the host's energy counters (RAPL powercap package and DRAM zones, Intel and AMD; C(nvidia-smi)
    power on GPU hosts), the CPU time and voluntary/involuntary context switches of every process of each
    given instance, and the host's NUMA hits and misses (C(numastat)).
  - Sampling ends when I(stop_file) appears (the module then removes it) or after I(duration_s).
    The validate role starts it with C(async) before the throughput gate and creates I(stop_file) once the
    gate has finished, so the samples cover the gate's run; the P(inferops.vllm.gate_telemetry#filter) filter
    then takes the figures over the gate's measured window.
  - Returns cumulative figures per sample (joules per zone since the first sample, CPU seconds and context
    switches per instance, NUMA counters), not rates, so any window within the samples can be measured.
  - Absent sensors are reported absent with the reason (no C(/sys/class/powercap/intel-rapl:*), C(energy_uj)
    not readable, no C(nvidia-smi)); nothing is estimated in their place.
  - Read-only; in check mode the sensors and instances are read once and nothing is sampled.
version_added: 0.2.0
author:
  - inferops.vllm contributors (@inferops)
options:
  instances:
    description:
      - The instances whose processes are measured. Each has C(name) and either C(unit) (a systemd unit; every
        process in its cgroup, a container's included) or C(pid) (that process and its descendants).
      - An instance that is not running is reported with the reason, not failed.
    type: list
    elements: dict
    default: []
  duration_s:
    description: Longest time to sample, in seconds (sampling ends earlier when I(stop_file) appears).
    type: float
    default: 600.0
  interval_s:
    description:
      - Seconds between samples. Must be short enough that no RAPL counter wraps twice between two samples
        (minutes at server power).
    type: float
    default: 1.0
  stop_file:
    description: Path whose appearance ends the sampling; removed by the module when it has seen it.
    type: path
  nvidia_smi:
    description:
      - C(auto) samples GPU power when C(nvidia-smi) is on the host's PATH, C(never) leaves GPUs out, any other
        value is the path of the C(nvidia-smi) binary to use.
    type: str
    default: auto
  root:
    description: Prefix under which C(sys/) and C(proc/) are read (a fixture tree in tests).
    type: path
    default: /
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - Since Linux 5.10 C(energy_uj) is readable by root only (CVE-2020-8694); run with C(become) to get energy.
  - AMD EPYC/Ryzen (Family 17h and later) exposes package (and on some kernels core) zones through the same
    C(intel-rapl) powercap driver and no DRAM zone; DRAM energy is then reported absent.
  - Energy covers the counted zones only (CPU packages, DRAM, GPU boards); fans, disks, NICs and power supply
    losses are not measured.
  - Context switches are summed over the threads alive at each sample; a process that exits between two samples
    takes its last interval with it.
'''

EXAMPLES = r'''
- name: Sample the host while the gate runs on the runner
  inferops.vllm.host_telemetry:
    instances:
      - {name: vllm-node0, unit: inferops-vllm-vllm-node0.service}
    duration_s: 900
    interval_s: 1
    stop_file: /run/inferops-vllm-telemetry.stop
  become: true
  async: 960
  poll: 0
  register: telemetry_job

- name: Read the sensors only
  inferops.vllm.host_telemetry:
    duration_s: 2
  check_mode: true
  register: sensors
'''

RETURN = r'''
sampled:
  description: True when samples were taken (false in check mode).
  returned: always
  type: bool
  sample: true
reason:
  description: Why nothing was sampled.
  returned: when not sampled
  type: str
  sample: "check mode: the sensors were read, nothing was sampled"
ended:
  description: What ended the sampling, C(stop_file) or C(duration).
  returned: when sampled
  type: str
  sample: stop_file
interval_s:
  description: I(interval_s).
  returned: always
  type: float
  sample: 1.0
clock_ticks:
  description: Clock ticks per second of C(/proc/PID/stat) times.
  returned: always
  type: int
  sample: 100
sensors:
  description: What the host has, and why a sensor is absent.
  returned: always
  type: dict
  contains:
    rapl:
      description:
        - RAPL powercap - C(available), C(reason) when absent, C(dram) when there is no DRAM zone, and C(zones)
          (C(id), C(name), C(kind), C(counted), C(energy_uj) at the first reading, C(max_energy_range_uj)).
      type: dict
      sample: {available: false, reason: "no /sys/class/powercap (kernel without powercap, or a VM that hides it)", zones: []}
    gpu:
      description: C(available), C(reason) when absent, C(gpus) (C(index), C(power_w)).
      type: dict
      sample: {available: false, reason: no nvidia-smi on the host}
    numa:
      description: C(available), C(reason) when absent, C(nodes) (how many).
      type: dict
      sample: {available: true, nodes: 2}
instances:
  description: Each instance - C(name), C(unit) or C(pid), C(found), C(reason) when not found, C(processes) and
    C(cpus_allowed) (the CPUs its processes may run on) at the first sample.
  returned: always
  type: list
  elements: dict
  sample: [{name: vllm-node0, unit: inferops-vllm-vllm-node0.service, found: true, processes: 3, cpus_allowed: [0, 1]}]
samples:
  description:
    - Cumulative figures since the first sample - C(t) (Unix time), C(energy_j) per RAPL zone id, C(gpu_j) per GPU
      index, C(numa) counters, C(instances) (C(cpu_s), C(voluntary), C(involuntary) per instance name).
  returned: always
  type: list
  elements: dict
  sample: [{t: 1767225600.0, energy_j: {"intel-rapl:0": 0.0}, gpu_j: {}, numa: {numa_hit: 0, numa_miss: 0},
            instances: {vllm-node0: {cpu_s: 0.0, voluntary: 0, involuntary: 0}}}]
gaps:
  description: Intervals a counter gave no usable reading for (added nothing rather than a guess).
  returned: always
  type: list
  elements: str
  sample: []
gpu_method:
  description:
    - Per GPU index, C(power.draw), the draw integrated over the samples (trapezoid rule), as nvidia-smi reports
      no energy counter.
  returned: when GPUs were sampled
  type: dict
  sample: {"0": power.draw}
'''

import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.inferops.vllm.plugins.module_utils import nvidia, telemetry


class Instances(object):
    """Turns each instance option into its current PIDs (a unit's cgroup or a PID's tree)."""

    def __init__(self, module, root, specs):
        self.module = module
        self.root = root
        self.specs = []
        for i, spec in enumerate(specs):
            name = spec.get('name')
            if not name or bool(spec.get('unit')) == bool(spec.get('pid')):
                module.fail_json(msg='instances[%d] needs name and one of unit or pid, got %r' % (i, spec))
            entry = {'name': str(name), 'found': False, 'reason': None}
            if spec.get('unit'):
                entry['unit'] = str(spec['unit'])
                entry['cgroup'] = self._cgroup(entry)
            else:
                try:
                    entry['pid'] = int(spec['pid'])
                except (TypeError, ValueError):
                    module.fail_json(msg='instances[%d].pid must be an integer, got %r' % (i, spec['pid']))
            self.specs.append(entry)

    def _cgroup(self, entry):
        systemctl = self.module.get_bin_path('systemctl')
        if not systemctl:
            entry['reason'] = 'no systemctl on the host to find unit %s' % entry['unit']
            return None
        rc, out, err = self.module.run_command([systemctl, 'show', '--property=ControlGroup,ActiveState',
                                                entry['unit']], environ_update={'LC_ALL': 'C'})
        props = dict(line.split('=', 1) for line in out.splitlines() if '=' in line)
        if rc != 0 and not props:
            entry['reason'] = 'cannot ask systemd about unit %s: %s' % (entry['unit'], (err or out).strip()[:200])
            return None
        if not props.get('ControlGroup'):
            entry['reason'] = 'unit %s is not running (ActiveState=%s)' % (entry['unit'], props.get('ActiveState') or 'unknown')
            return None
        for directory in telemetry.cgroup_dirs(self.root, props['ControlGroup']):
            if os.path.isdir(directory):
                return directory
        entry['reason'] = 'cgroup %s of unit %s not found under /sys/fs/cgroup' % (props['ControlGroup'], entry['unit'])
        return None

    def pids(self, entry):
        if 'pid' in entry:
            return telemetry.descendants(self.root, entry['pid']) if os.path.isdir(
                os.path.join(self.root, 'proc', str(entry['pid']))) else []
        if entry.get('cgroup'):
            return telemetry.cgroup_pids(entry['cgroup']) or []
        return []

    def snapshot(self):
        snaps = {}
        for entry in self.specs:
            snaps[entry['name']] = telemetry.instance_snapshot(self.root, self.pids(entry))
        return snaps

    def describe(self, first):
        rows = []
        for entry in self.specs:
            snap = first[entry['name']]
            row = dict((k, v) for k, v in entry.items() if k != 'cgroup')
            row['processes'] = len(snap['pids'])
            row['cpus_allowed'] = snap['cpus_allowed']
            row['found'] = bool(snap['pids'])
            if not row['found'] and not row['reason']:
                row['reason'] = ('no process %s' % entry['pid']) if 'pid' in entry else 'no process in the unit\'s cgroup'
            rows.append(row)
        return rows


class Gpus(object):
    def __init__(self, module, setting):
        self.module = module
        self.binary = None
        self.reason = None
        if setting == 'never':
            self.reason = 'nvidia_smi: never'
        elif setting == 'auto':
            self.binary = module.get_bin_path('nvidia-smi')
            if not self.binary:
                self.reason = 'no nvidia-smi on the host'
        elif os.access(setting, os.X_OK):
            self.binary = setting
        else:
            self.reason = 'nvidia_smi %s is not an executable' % setting

    def read(self):
        if not self.binary:
            return None
        rc, out, err = self.module.run_command([self.binary] + nvidia.power_query_args(),
                                               environ_update={'LC_ALL': 'C'})
        if rc != 0:
            self.reason = 'nvidia-smi failed (rc %d): %s' % (rc, (err or out).strip()[:200])
            self.binary = None
            return None
        try:
            return nvidia.parse_power_query(out)
        except nvidia.NvidiaError as exc:
            self.reason = str(exc)
            self.binary = None
            return None


def main():
    module = AnsibleModule(
        argument_spec=dict(
            instances=dict(type='list', elements='dict', default=[]),
            duration_s=dict(type='float', default=600.0),
            interval_s=dict(type='float', default=1.0),
            stop_file=dict(type='path'),
            nvidia_smi=dict(type='str', default='auto'),
            root=dict(type='path', default='/'),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if not p['duration_s'] > 0 or not p['interval_s'] > 0:
        module.fail_json(msg='duration_s and interval_s must be above 0, got %r and %r' % (p['duration_s'], p['interval_s']))
    root = p['root']
    instances = Instances(module, root, p['instances'])
    gpus = Gpus(module, p['nvidia_smi'])
    clock_ticks = os.sysconf('SC_CLK_TCK')
    state = {}
    run = {}

    def read():
        powercap = telemetry.read_powercap(root)
        numastat = telemetry.read_numastat(root)
        rows = gpus.read()
        snap = telemetry.snapshot(time.time(), powercap, numastat, rows, instances.snapshot())
        state.setdefault('first', (powercap, numastat, rows, snap))
        return snap

    def stop():
        return bool(p['stop_file']) and os.path.exists(p['stop_file'])

    result = {'changed': False, 'interval_s': p['interval_s'], 'clock_ticks': clock_ticks}
    try:
        if module.check_mode:
            read()
            result.update(sampled=False, samples=[], gaps=[],
                          reason='check mode: the sensors were read, nothing was sampled')
        else:
            run = telemetry.sample(read, p['duration_s'], p['interval_s'], stop, time.time, time.sleep, clock_ticks)
            result.update(sampled=True, samples=run['samples'], ended=run['ended'], gaps=run['gaps'])
            if run['ended'] == 'stop_file':
                try:
                    os.unlink(p['stop_file'])
                except OSError:
                    pass
    except telemetry.TelemetryError as exc:
        module.fail_json(msg='host_telemetry: %s' % exc)
    powercap, numastat, rows, first = state['first']
    result['sensors'] = {
        'rapl': powercap,
        'gpu': {'available': bool(rows), 'gpus': rows or [],
                'reason': None if rows else (gpus.reason or 'nvidia-smi listed no GPU')},
        'numa': {'available': numastat['available'], 'nodes': len(numastat['nodes']), 'reason': numastat['reason']},
    }
    result['instances'] = instances.describe(first['instances'])
    if rows:
        result['gpu_method'] = run['gpu_method'] if result['sampled'] else dict((str(g['index']), 'power.draw') for g in rows)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
