#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: instance_conformance
short_description: Check that running vLLM instances have the cpuset, memory, libraries, environment and flags planned
description:
  - For each planned instance, finds the main process (C(systemctl show -p MainPID) of its systemd unit, or
    C(podman inspect) of its container) and its process tree, and compares what runs with the plan, one check
    per line, C(expected X, found Y).
  - C(running) the instance has a main process; when not, the unit's state and last journal line are given.
  - C(cpus) the allowed CPUs of every thread of the tree (C(Cpus_allowed_list) of C(/proc/PID/task/*/status))
    together, against the planned cpuset.
  - C(mems) C(Mems_allowed_list) of the main process against the planned memory nodes; under systemd, where
    C(NUMAPolicy=bind) does not narrow C(Mems_allowed_list), the unit's C(NUMAPolicy)/C(NUMAMask) count.
  - C(numa_residency) the share of resident memory of the tree on the planned nodes (C(/proc/PID/numa_maps)),
    at least O(numa_threshold) percent.
  - C(preloads) every library of the planned C(LD_PRELOAD) is mapped (C(/proc/PID/maps)) in every process of the
    tree (symlinks resolved, inside the container for podman).
  - C(env) every planned environment key has its planned value in C(/proc/PID/environ); keys in
    O(required_env_keys) are checked for presence only; values of O(secret_env_keys) are never shown.
  - C(cmdline) the flags of C(/proc/PID/cmdline) against the planned arguments, in both directions (a changed
    value, a missing flag and a flag the plan does not have are each named).
  - C(omp_threads) each core of C(VLLM_CPU_OMP_THREADS_BIND) has a thread bound to it alone, and no thread is
    bound alone to a core outside it (vLLM CPU binds one OpenMP thread per core).
  - C(hugepages) hugetlb pages are mapped when the instance plans them.
  - A check that cannot tell anything here says C(skipped) with why (for example a host with one NUMA node, a
    cpuset of one CPU, no preload planned); one whose file cannot be read says C(inconclusive) with why. Neither
    is a pass.
  - The module fails when any check drifts, with the drifting lines; it also fails on a name in O(names) that
    the plan does not know (reported, not checked and not touched). It never changes anything.
version_added: 0.2.0
author:
  - inferops.vllm contributors (@inferops)
options:
  instances:
    description:
      - The planned instances as the C(inferops.vllm.server) role renders them (each with C(name), C(unit),
        C(cpuset), C(mems), C(env), C(argv)), or the C(instances) of M(inferops.vllm.instance_plan) (C(args)
        is used when C(argv) is absent).
      - C(env.LD_PRELOAD) gives the planned preloads, C(env.VLLM_CPU_OMP_THREADS_BIND) (or C(omp_threads_bind))
        the planned thread binding; C(hugepages=true) asks for the hugepage check.
    type: list
    elements: dict
    required: true
  runtime:
    description: How the instances run. C(systemd) units, or C(podman) containers (quadlet units).
    type: str
    choices: [systemd, podman]
    default: systemd
  container_prefix:
    description: Prefix of the container names (C(ContainerName=)) before the instance name, for O(runtime=podman).
    type: str
    default: ''
  names:
    description:
      - Check only these instances, given as instance names, unit names or container names. Empty checks all.
      - A name the plan does not know is reported and the module fails; that unit or container is not touched.
    type: list
    elements: str
    default: []
  numa_threshold:
    description:
      - Least percent of the resident memory of the process tree that must be on the planned NUMA nodes.
      - C(0) turns the residency check off (reported as skipped).
    type: float
    default: 95
  secret_env_keys:
    description: Environment keys whose values are never shown, only whether they are set or differ.
    type: list
    elements: str
    default: [VLLM_API_KEY, HF_TOKEN, HUGGING_FACE_HUB_TOKEN]
  required_env_keys:
    description: Environment keys that must be set in every instance (for example C(VLLM_API_KEY)), value not compared.
    type: list
    elements: str
    default: []
  fail_on_inconclusive:
    description: Fail also when a check is inconclusive (a file that cannot be read), not only on drift.
    type: bool
    default: false
  proc:
    description: Where C(/proc) is read; another tree only for tests.
    type: path
    default: /proc
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
  - Runs as root to read C(/proc/PID/environ), C(maps) and C(numa_maps) of the service account's processes.
  - Reads a few files per thread; on a 2-core host with two instances it takes well under a second.
seealso:
  - module: inferops.vllm.instance_plan
'''

EXAMPLES = r'''
- name: Check every instance the server role deployed
  inferops.vllm.instance_conformance:
    instances: "{{ inferops_plan.instances }}"
  become: true

- name: Check one quadlet container, with a looser residency threshold
  inferops.vllm.instance_conformance:
    instances: "{{ inferops_plan.instances }}"
    runtime: podman
    names: [vllm-node1]
    numa_threshold: 90
    required_env_keys: [VLLM_API_KEY]
  register: conformance
  become: true

- name: Show expected vs found
  ansible.builtin.debug:
    var: conformance.lines
'''

RETURN = r'''
lines:
  description:
    - "One line per check and instance, C(<instance> <check>: expected X, found Y), or C(skipped)/C(inconclusive) with why."
  returned: always
  type: list
  elements: str
  sample: ["vllm-a cpus: expected 0, found 0", "vllm-a numa_residency: skipped: the host has one NUMA node: all memory is on it, so residency proves nothing"]
drift:
  description: The lines of checks that drift from the plan (the module fails when this is not empty).
  returned: always
  type: list
  elements: str
  sample: ["vllm-a cpus: expected 0, found 0-1"]
inconclusive:
  description: The lines of checks whose files could not be read, with why.
  returned: always
  type: list
  elements: str
skipped:
  description: The lines of checks that do not apply here, with why.
  returned: always
  type: list
  elements: str
checks:
  description: Every check as a dict.
  returned: always
  type: list
  elements: dict
  contains:
    instance:
      description: Instance name (or the unknown unit/container name).
      type: str
    check:
      description: running, planned, cpus, mems, numa_residency, preloads, env, cmdline, omp_threads or hugepages.
      type: str
    status:
      description: ok, drift, skipped or inconclusive.
      type: str
    expected:
      description: What the plan says.
      type: str
    found:
      description: What runs.
      type: str
    why:
      description: Why it was skipped or inconclusive, or a detail.
      type: str
    line:
      description: The line as in RV(lines).
      type: str
status:
  description: C(drift) when any check drifts, else C(inconclusive) when any is, else C(ok).
  returned: always
  type: str
  sample: ok
pids:
  description: Main process id per instance name (0 when not running).
  returned: always
  type: dict
  sample: {"vllm-a": 1234, "vllm-b": 1301}
elapsed_s:
  description: Seconds the checks took on the host.
  returned: always
  type: float
  sample: 0.21
'''

import os
import re
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.inferops.vllm.plugins.module_utils import conformance
from ansible_collections.inferops.vllm.plugins.module_utils.topology import parse_cpulist

_NODE_RE = re.compile(r'^node(\d+)$')
BUDGET_S = 5
_SYSTEMD_PROPS = ('Id', 'MainPID', 'LoadState', 'ActiveState', 'SubState', 'NUMAPolicy', 'NUMAMask')


def _host_nodes(path='/sys/devices/system/node'):
    try:
        return sorted(int(m.group(1)) for m in (_NODE_RE.match(e) for e in os.listdir(path)) if m)
    except OSError:
        return None


def _validate(module, instances):
    for index, inst in enumerate(instances):
        where = 'instances[%d]' % index
        if not isinstance(inst.get('name'), str) or not inst['name']:
            module.fail_json(msg='%s has no name: pass the instances of the plan (or the server role units)' % where)
        for key in ('cpuset', 'mems'):
            try:
                parse_cpulist(str(inst.get(key) or ''))
            except ValueError as exc:
                module.fail_json(msg='%s.%s=%r is not a cpulist such as "0-3,8": %s' % (where, key, inst.get(key), exc))
        if not isinstance(inst.get('env') or {}, dict):
            module.fail_json(msg='%s.env must be a dict of environment variables' % where)
        argv = inst.get('argv') or inst.get('args') or []
        if not isinstance(argv, list):
            module.fail_json(msg='%s.argv (or args) must be a list of arguments' % where)


def _systemd_show(module, units):
    """``{unit: {property: value}}`` in one systemctl call."""
    cmd = [module.get_bin_path('systemctl', required=True), 'show', '--property=' + ','.join(_SYSTEMD_PROPS), '--'] + units
    rc, out, err = module.run_command(cmd)
    if rc != 0:
        module.fail_json(msg='systemctl show failed (rc %d): %s' % (rc, err.strip()))
    shown = {}
    for block, unit in zip(out.strip().split('\n\n'), units):
        props = {}
        for line in block.splitlines():
            if '=' in line:
                key, value = line.split('=', 1)
                props[key] = value
        shown[unit] = props
    return shown


def _podman_pid(module, container):
    podman = module.get_bin_path('podman')
    if not podman:
        return 0, 'podman is not installed'
    rc, out, err = module.run_command([podman, 'inspect', '--type', 'container', '--format',
                                       '{{.State.Pid}} {{.State.Status}}', container])
    if rc != 0:
        return 0, 'container %s: %s' % (container, (err.strip().splitlines() or ['not found'])[-1])
    fields = out.split()
    try:
        return int(fields[0]), 'container %s' % ' '.join(fields[1:])
    except (IndexError, ValueError):
        return 0, 'podman inspect said %r' % out.strip()


def _last_journal_line(module, unit):
    journalctl = module.get_bin_path('journalctl')
    if not journalctl:
        return ''
    rc, out, _err = module.run_command([journalctl, '-u', unit, '-n', '1', '--no-pager', '-o', 'cat'])
    return out.strip().splitlines()[-1] if rc == 0 and out.strip() else ''


def main():
    module = AnsibleModule(
        argument_spec=dict(
            instances=dict(type='list', elements='dict', required=True),
            runtime=dict(type='str', choices=['systemd', 'podman'], default='systemd'),
            container_prefix=dict(type='str', default=''),
            names=dict(type='list', elements='str', default=[]),
            numa_threshold=dict(type='float', default=95.0),
            secret_env_keys=dict(type='list', elements='str', no_log=False,
                                 default=list(conformance.DEFAULT_SECRET_KEYS)),
            required_env_keys=dict(type='list', elements='str', no_log=False, default=[]),
            fail_on_inconclusive=dict(type='bool', default=False),
            proc=dict(type='path', default='/proc'),
        ),
        supports_check_mode=True,
    )
    started = time.time()
    params = module.params
    if not 0 <= params['numa_threshold'] <= 100:
        module.fail_json(msg='numa_threshold=%s must be a percent between 0 and 100 (0 turns the residency check off)'
                         % params['numa_threshold'])
    _validate(module, params['instances'])
    prefix = params['container_prefix']
    chosen, missing = conformance.select(params['instances'], params['names'], params['runtime'], prefix)
    results = [conformance.unknown(name, [i['name'] for i in params['instances']]) for name in missing]

    units = dict((inst['name'], inst.get('unit') or inst['name'] + '.service') for inst in chosen)
    shown = _systemd_show(module, [units[i['name']] for i in chosen]) if chosen else {}
    host_nodes = _host_nodes()
    pids = {}
    for inst in chosen:
        name, unit = inst['name'], units[inst['name']]
        props = shown.get(unit, {})
        root = None
        policy = None
        if params['runtime'] == 'podman':
            container = conformance.container_name(inst, prefix)
            pid, state = _podman_pid(module, container)
            if pid:
                root = os.path.join(params['proc'], str(pid), 'root')
        else:
            try:
                pid = int(props.get('MainPID') or 0)
            except ValueError:
                pid = 0
            state = 'unit %s LoadState=%s ActiveState=%s SubState=%s' % (
                unit, props.get('LoadState', '?'), props.get('ActiveState', '?'), props.get('SubState', '?'))
            if props.get('NUMAPolicy', '') not in ('', 'default', 'n/a'):
                policy = {'NUMAPolicy': props.get('NUMAPolicy'), 'NUMAMask': props.get('NUMAMask', '')}
        pids[name] = pid
        if not pid:
            results.append(conformance.not_running(name, state, _last_journal_line(module, unit)))
            continue
        results.extend(conformance.check_instance(
            inst, pid, proc=params['proc'], threshold=params['numa_threshold'], host_nodes=host_nodes,
            unit_policy=policy, secret_keys=params['secret_env_keys'], required_env_keys=params['required_env_keys'],
            root=root))

    summary = conformance.summarize(results)
    elapsed = time.time() - started
    if elapsed > BUDGET_S:
        # numa_maps walks every page table entry: a very large resident set is what makes this slow
        module.warn('instance conformance took %.1f s on this host, more than its %d s budget' % (elapsed, BUDGET_S))
    out = dict(changed=False, checks=results, pids=pids, elapsed_s=round(elapsed, 3),
               lines=summary['lines'], drift=summary['drift'], inconclusive=summary['inconclusive'],
               skipped=summary['skipped'], status=summary['status'])
    if summary['drift']:
        module.fail_json(msg='instance conformance: %d check%s drift from the plan:\n%s'
                         % (len(summary['drift']), '' if len(summary['drift']) == 1 else 's', '\n'.join(summary['drift'])),
                         **out)
    if summary['inconclusive'] and params['fail_on_inconclusive']:
        module.fail_json(msg='instance conformance: inconclusive:\n%s' % '\n'.join(summary['inconclusive']), **out)
    module.exit_json(**out)


if __name__ == '__main__':
    main()
