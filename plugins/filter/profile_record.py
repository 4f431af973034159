# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: profile_record
short_description: The fleet report's record of one workload profile run
version_added: 0.3.0
author:
  - inferops.vllm contributors (@inferops)
description:
  - Turns one looped result of M(inferops.vllm.throughput) whose C(item) came from
    P(inferops.vllm.workload_profiles#filter) into the record P(inferops.vllm.profile_summary#filter) reads.
positional: host, runner, hardware, target
options:
  _input:
    description: One element of the registered loop's C(results).
    type: dict
    required: true
  host:
    description: Inventory name of the gated host.
    type: str
    required: true
  runner:
    description: Host the load ran on.
    type: str
    required: true
  hardware:
    description: Hardware class of the host.
    type: str
    required: true
  target:
    description: Name of the host-level endpoint the profile ran against.
    type: str
'''

EXAMPLES = r'''
- name: Records of this host's profile runs
  ansible.builtin.set_fact:
    validate_profile_results: "{{ runs.results | map('inferops.vllm.profile_record', inventory_hostname, 'localhost', 'xeon') | list }}"
'''

RETURN = r'''
_value:
  description: C(host), C(target), C(profile), C(mode), C(runner), C(hardware), C(scope) (host), C(result).
  type: dict
'''

from ansible_collections.inferops.vllm.plugins.module_utils.profilefleet import profile_record


class FilterModule(object):
    def filters(self):
        return {'profile_record': profile_record}
