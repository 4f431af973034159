# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: gate_telemetry
short_description: Join a host's telemetry to its gate records
version_added: 0.2.0
author:
  - inferops.vllm contributors (@inferops)
description:
  - Adds C(result.telemetry) to the record that loaded the whole host (C(scope=host)), from the samples of
    M(inferops.vllm.host_telemetry) taken on the host while the gate ran - energy (joules, watts, by source,
    what is absent and why), joules per output token, energy cost per 1M output tokens when a price per kWh is
    given, CPU utilisation and context switches per instance, NUMA miss ratio - over the gate's measured window.
  - Instance records are returned unchanged (the host's energy would charge one instance for its idle siblings).
positional: telemetry, price_per_kwh
options:
  _input:
    description: The host's gate records (P(inferops.vllm.gate_record#filter)).
    type: list
    elements: dict
    required: true
  telemetry:
    description: The registered result of M(inferops.vllm.host_telemetry) (or of C(async_status) on it).
    type: dict
    required: true
  price_per_kwh:
    description: Energy price per kWh, or null for no energy cost.
    type: float
'''

EXAMPLES = r'''
- name: Join the telemetry to the gate records
  ansible.builtin.set_fact:
    validate_results: "{{ validate_results | inferops.vllm.gate_telemetry(telemetry_job, 0.25) }}"
'''

RETURN = r'''
_value:
  description: The records, the host-scope one with C(result.telemetry).
  type: list
  elements: dict
'''

from ansible.errors import AnsibleFilterError
from ansible_collections.inferops.vllm.plugins.module_utils.telemetry import TelemetryError, join_gate


def _gate_telemetry(records, telemetry, price_per_kwh=None):
    try:
        return join_gate(records, telemetry, None if price_per_kwh is None else float(price_per_kwh))
    except (TelemetryError, TypeError, ValueError) as exc:
        raise AnsibleFilterError('gate_telemetry: %s' % exc)


class FilterModule(object):
    def filters(self):
        return {'gate_telemetry': _gate_telemetry}
