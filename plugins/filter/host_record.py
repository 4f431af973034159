# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: host_record
short_description: The figures of a host's gate that a later run compares with
version_added: 0.2.0
author:
  - inferops.vllm contributors (@inferops)
description:
  - From a host's gate records (P(inferops.vllm.gate_record#filter)), the one that loaded the whole host,
    reduced to what P(inferops.vllm.gate_regression#filter) compares - model, hardware class, vLLM version,
    profile, load, capacity, throughput and verdict. An empty dict when no record loaded the whole host.
positional: vllm_version, profile
options:
  _input:
    description: The host's gate records.
    type: list
    elements: dict
    required: true
  vllm_version:
    description: vLLM version that served.
    type: str
  profile:
    description: Workload profile of the load, if any.
    type: str
'''

EXAMPLES = r'''
- name: This host's baseline record
  ansible.builtin.set_fact:
    validate_host_record: "{{ validate_results | inferops.vllm.host_record('0.32.0') }}"
'''

RETURN = r'''
_value:
  description:
    - C(host), C(target), C(hardware), C(scope), C(model), C(vllm_version), C(profile), C(load), C(capacity),
      C(throughput), C(verdict), C(finished_epoch), C(telemetry) (the host telemetry's brief figures, or null).
  type: dict
'''

from ansible_collections.inferops.vllm.plugins.module_utils.gate_endpoints import host_record


class FilterModule(object):
    def filters(self):
        return {'host_record': host_record}
