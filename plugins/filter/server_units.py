# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: server_units
short_description: The server role's per-instance units, from the plan's instances
version_added: 0.2.0
author:
  - inferops.vllm contributors (@inferops)
description:
  - What the server role renders for each instance - unit name, cache directory, environment, command line,
    memory figures, C(/dev/shm) - from the instances of M(inferops.vllm.instance_plan) and the role's settings.
  - The planned figures (KV cache, binding, preloads, oneDNN, memory and its limit, C(/dev/shm)) are copied, never
    recomputed; an instance written by hand that lacks one gets the planner's constant or its KV cache only.
positional: settings
options:
  _input:
    description: The plan's instances (or hand-written dicts with at least C(name) and C(port)).
    type: list
    elements: dict
    required: true
  settings:
    description:
      - The role's settings - C(accelerator), C(runtime) (C(systemd) or C(podman)), C(unit_prefix), C(cache_dir),
        C(model_name), C(model_path), C(model_runtime_path), C(listen), C(extra_args), C(extra_env),
        C(container_shm_size) (empty for the plan's).
    type: dict
    required: true
'''

EXAMPLES = r'''
- name: Units of the plan's instances
  ansible.builtin.set_fact:
    units: "{{ plan.plan.instances | inferops.vllm.server_units(settings) }}"
  vars:
    settings: {accelerator: cpu, runtime: systemd, unit_prefix: inferops-vllm-, cache_dir: /var/lib/inferops-vllm/cache,
               model_name: tiny, model_path: /models/tiny, model_runtime_path: /models/tiny, listen: 127.0.0.1,
               extra_args: [], extra_env: {}, container_shm_size: ""}
'''

RETURN = r'''
_value:
  description:
    - Per instance C(name), C(unit), C(port), C(cpuset), C(mems), C(served), C(cache), C(env), C(gpus), C(argv),
      C(memory_gib), C(memory_max_mib), C(shm_mib), C(shm_size).
  type: list
  elements: dict
'''

from ansible_collections.inferops.vllm.plugins.module_utils.server_units import server_units


class FilterModule(object):
    def filters(self):
        return {'server_units': server_units}
