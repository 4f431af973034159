# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: gate_regression
short_description: Compare a host's gate record with the one of its previous run
version_added: 0.1.0
author:
  - inferops.vllm contributors (@inferops)
description:
  - Takes this run's host-level gate record (what the validate role writes to
    C(<validate_report_dir>/<host>/host.json)) and the previous run's, and says whether
    the service regressed.
  - The records are compared only when they describe the same service measured the same
    way, that is, the same C(model), C(hardware), C(scope) and C(profile), and both with the
    verdict C(pass). Both with a C(capacity) compares capacity output tokens/s; otherwise both
    measured at the same C(load) (mode, api, prompt and output tokens, concurrency, rate)
    compares C(throughput.output_tokens_per_s). Anything else gives the status C(skipped), with the reason.
  - The status is C(fail) when the current figure is below previous * (1 - O(tolerance)).
positional: previous, tolerance
options:
  _input:
    description:
      - This run's host record, a dict with C(host), C(hardware), C(scope), C(model),
        C(vllm_version), C(profile), C(load), C(capacity), C(throughput) and C(verdict).
    type: dict
    required: true
  previous:
    description:
      - The previous run's host record, same shape. V(None) or an empty dict means there
        was none (first deployment), which gives the status C(skipped).
    type: dict
    default: {}
  tolerance:
    description:
      - The drop allowed, as a fraction of the previous figure (V(0.10) allows 10%).
      - Must be at least 0 and below 1.
    type: float
    default: 0.10
'''

EXAMPLES = r'''
- name: Compare with the previous report
  ansible.builtin.set_fact:
    regression: "{{ validate_host_record | inferops.vllm.gate_regression(validate_previous_host_record | default({}), 0.10) }}"

- name: Stop on a regression
  ansible.builtin.fail:
    msg: "{{ regression.reason }}"
  when: regression.status == 'fail'
'''

RETURN = r'''
_value:
  description:
    - C(status) (V(pass), V(fail) or V(skipped)), C(reason) (a sentence with both figures, the floor
      and the vLLM versions, or why nothing was compared), C(metric) (V(capacity output tok/s),
      V(output tok/s at the fixed load) or V(None)), C(previous) and C(current) (the figures compared),
      C(floor) (previous * (1 - tolerance)) and C(tolerance).
  type: dict
'''

from ansible.errors import AnsibleFilterError
from ansible_collections.inferops.vllm.plugins.module_utils.regression import compare


def gate_regression(current, previous=None, tolerance=0.10):
    try:
        return compare(previous, current, tolerance)
    except ValueError as exc:
        raise AnsibleFilterError('gate_regression: %s' % exc)


class FilterModule(object):
    def filters(self):
        return {'gate_regression': gate_regression}
