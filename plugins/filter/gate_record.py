# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: gate_record
short_description: The fleet report's record of one throughput gate run
version_added: 0.2.0
author:
  - inferops.vllm contributors (@inferops)
description:
  - Turns one looped result of M(inferops.vllm.throughput) (whose C(item) came from
    P(inferops.vllm.gate_endpoints#filter)) into the record P(inferops.vllm.fleet_summary#filter) reads.
positional: host, runner, hardware
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
'''

EXAMPLES = r'''
- name: Records of this host's gate runs
  ansible.builtin.set_fact:
    validate_results: "{{ gate.results | map('inferops.vllm.gate_record', inventory_hostname, 'localhost', 'xeon-8480') | list }}"
'''

RETURN = r'''
_value:
  description: C(host), C(target), C(scope), C(url), C(runner), C(hardware), C(result) (the module's result).
  type: dict
'''

from ansible_collections.inferops.vllm.plugins.module_utils.gate_endpoints import gate_record


class FilterModule(object):
    def filters(self):
        return {'gate_record': gate_record}
