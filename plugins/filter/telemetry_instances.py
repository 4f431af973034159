# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: telemetry_instances
short_description: The instances host telemetry measures, from the plan's instances
version_added: 0.2.0
author:
  - inferops.vllm contributors (@inferops)
description:
  - The C(instances) option of M(inferops.vllm.host_telemetry) - the explicit list when one is given, else one
    entry per planned instance with its systemd unit C(<unit_prefix><name>.service) (the server role names
    systemd and quadlet units alike).
positional: unit_prefix, explicit
options:
  _input:
    description: The plan's instances, each with C(name).
    type: list
    elements: dict
    required: true
  unit_prefix:
    description: Prefix of the units' names.
    type: str
    required: true
  explicit:
    description: Instances given as C(name) and C(unit) or C(pid); they replace the derived list.
    type: list
    elements: dict
'''

EXAMPLES = r'''
- name: Units of the plan's instances
  ansible.builtin.debug:
    msg: "{{ [{'name': 'vllm-node0', 'port': 8100}] | inferops.vllm.telemetry_instances('inferops-vllm-') }}"
'''

RETURN = r'''
_value:
  description: C(name) and C(unit) (or C(pid)) per instance.
  type: list
  elements: dict
'''

from ansible_collections.inferops.vllm.plugins.module_utils.telemetry import instances_to_sample


class FilterModule(object):
    def filters(self):
        return {'telemetry_instances': instances_to_sample}
