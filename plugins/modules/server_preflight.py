#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: server_preflight
short_description: Check that a host can run the planned vLLM instances, before anything is changed
description:
  - Read-only checks the P(inferops.vllm.server#role) role runs before it changes anything, so that a plan
    that cannot run on the host fails with every reason at once and nothing half-deployed.
  - Ports of the instances (and of the front) must be free or held by the role's own units (a process whose
    cgroup path contains one of I(owners), or the front's owners).
  - Each instance's C(cpuset) must lie within the CPUs this host lets the module's process use (its CPU
    affinity, that is the host's online CPUs or a container's cpuset), and its C(mems) must name online NUMA nodes.
  - The instances' C(memory_gib) together must fit the host's memory, or its cgroup memory limit when that is
    lower; C(/dev/shm) must hold at least I(min_shm_mib).
  - Problems are returned, not failed on, so the role can name the variables the user set; the module fails
    only when its input is malformed.
version_added: 0.2.0
author:
  - inferops.vllm contributors (@inferops)
options:
  instances:
    description:
      - The planned instances (the role's C(__server_units)), each with C(name), C(port), C(cpuset) and C(mems)
        (kernel cpulists; empty means unpinned) and C(memory_gib) (weights, KV cache and runtime overhead).
    type: list
    elements: dict
    required: true
  owners:
    description: Fragments of the cgroup paths of the role's own units; a port they hold is not a conflict.
    type: list
    elements: str
    default: []
  front:
    description:
      - The front port, when the host has one, as C(port) and C(owners) (cgroup path fragments of its service,
        e.g. C(/haproxy.service)). Omitted or null when there is no front.
    type: dict
  min_shm_mib:
    description: Size of C(/dev/shm) the instances need, in MiB; C(0) skips the check (containers have their own).
    type: int
    default: 0
  root:
    description: Prefix under which C(proc/), C(sys/) and C(dev/shm) are read (a fixture tree in tests).
    type: path
    default: /
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Read-only; the same checks run in check mode.
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - Replaces the server role's C(files/server_preflight.py) script, which could not use the collection's
    cpulist and meminfo parsers.
'''

EXAMPLES = r'''
- name: Check ports, CPUs, NUMA nodes and memory on the host
  inferops.vllm.server_preflight:
    instances:
      - {name: vllm-a, port: 8101, cpuset: "0-3", mems: "0", memory_gib: 6.5}
      - {name: vllm-b, port: 8102, cpuset: "4-7", mems: "1", memory_gib: 6.5}
    owners: [/inferops-vllm-]
    front: {port: 8000, owners: [/haproxy.service]}
    min_shm_mib: 320
  register: preflight

- name: Fail when the host cannot run the plan
  ansible.builtin.fail:
    msg: "{{ preflight.problems | join('; ') }}"
  when: preflight.problems | length > 0
'''

RETURN = r'''
problems:
  description: One sentence per problem found; empty when the host can run the plan.
  returned: always
  type: list
  elements: str
  sample: ["port 8101 (instance vllm-a) is already in use by pid 42 (nginx), which is not one of this role's services; free it or choose another port"]
facts:
  description: What the checks read.
  returned: always
  type: dict
  contains:
    allowed_cpus:
      description: CPUs this process may use, as a cpulist.
      type: str
      sample: "0-7"
    numa_nodes:
      description: Online NUMA nodes, as a cpulist.
      type: str
      sample: "0-1"
    memory_gib:
      description: Memory the instances may use (the host's, or its cgroup limit when lower), GiB.
      type: float
      sample: 23.4
    memory_planned_gib:
      description: The instances' C(memory_gib) summed.
      type: float
      sample: 13.0
    shm_mib:
      description: Size of C(/dev/shm) in MiB (only when I(min_shm_mib) is set).
      type: int
      returned: when I(min_shm_mib) > 0
      sample: 2048
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.inferops.vllm.plugins.module_utils.preflight import preflight


def main():
    module = AnsibleModule(
        argument_spec=dict(
            instances=dict(type='list', elements='dict', required=True),
            owners=dict(type='list', elements='str', default=[]),
            front=dict(type='dict'),
            min_shm_mib=dict(type='int', default=0),
            root=dict(type='path', default='/'),
        ),
        supports_check_mode=True,
    )
    p = module.params
    for index, inst in enumerate(p['instances']):
        missing = [key for key in ('name', 'port') if inst.get(key) in (None, '')]
        if missing:
            module.fail_json(msg='instances[%d]: %s missing (each instance needs name and port; cpuset, mems and '
                                 'memory_gib are optional)' % (index, ', '.join(missing)))
    if p['front'] is not None and p['front'].get('port') in (None, ''):
        module.fail_json(msg='front: port missing (give front as {port, owners}, or leave it out)')
    result = preflight(p['instances'], owners=p['owners'], front=p['front'], min_shm_mib=p['min_shm_mib'],
                       root=p['root'])
    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()
