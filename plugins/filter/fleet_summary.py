# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: fleet_summary
short_description: Summarise throughput gate results across a fleet
version_added: 0.1.0
author:
  - inferops.vllm contributors (@inferops)
description:
  - Takes gate records (one per gated endpoint) and returns report rows, the median output
    tokens/s per model and hardware class, and the endpoints that fall more than O(outlier_pct)
    percent below their median. Rows are only compared with rows of the same scope (an instance
    with instances, a whole host with whole hosts).
  - Cost is charged once per host, from its C(scope=host) record (the run that loaded the whole
    host through its front port or all its instances at once), at the host's capacity when the gate
    measured it (C(mode=capacity)), else at the measured load, which the result says. Instance rows
    never carry a cost, whatever their result holds.
  - Per hardware class and model, and for the whole fleet, the cost per 1M tokens is the summed
    hourly cost over the summed tokens/s of the priced hosts. Hosts without a price or without a
    measured rate are listed with no cost and left out of the sums, with a note naming them.
  - The companion filter P(inferops.vllm.fleet_markdown#filter) renders such a summary as a Markdown page.
positional: outlier_pct
options:
  _input:
    description:
      - List of records, each a dict with C(host), C(target), C(result) (what M(inferops.vllm.throughput)
        returned) and optionally C(url), C(runner), C(hardware) and C(scope).
      - C(scope) is C(host) for the one run per host that loaded the whole host, C(instance) (the
        default, also for records written before scope existed) for a run against one instance.
    type: list
    elements: dict
    required: true
  outlier_pct:
    description: How far below the median (percent) an endpoint may fall before it is flagged.
    type: float
    default: 20
'''

EXAMPLES = r'''
- name: Summarise every host's gate results
  ansible.builtin.set_fact:
    fleet: "{{ ansible_play_hosts_all | map('extract', hostvars, 'validate_results') | flatten | inferops.vllm.fleet_summary(15) }}"
'''

RETURN = r'''
_value:
  description: The fleet summary.
  type: dict
  contains:
    rows:
      description:
        - One per record, sorted by host and endpoint - C(host), C(target), C(scope), C(url), C(runner),
          C(hardware), C(model), C(verdict), C(msg), C(output_tokens_per_s), C(total_tokens_per_s),
          C(requests_per_s), C(capacity_requests_per_s), C(capacity_output_tokens_per_s),
          C(capacity_total_tokens_per_s), C(ttft_p95_ms), C(itl_p95_ms), C(tpot_p95_ms), C(e2e_p95_ms),
          C(error_rate), C(cost_per_1m_output_tokens), C(cost_per_1m_total_tokens), C(cost_basis),
          C(below_median_pct), C(outlier).
        - The three cost keys are set on host rows only, null on instance rows.
      type: list
      elements: dict
    medians:
      description: Median output tokens/s of the instance rows per model and hardware class.
      type: list
      elements: dict
    host_medians:
      description: The same over the host rows.
      type: list
      elements: dict
    verdicts:
      description: Count per verdict.
      type: dict
    outliers:
      description: C(host/target) of every row too far below its median.
      type: list
      elements: str
    outlier_pct:
      description: The threshold used.
      type: float
    passed:
      description: True when there are rows and every one passed.
      type: bool
    hosts:
      description:
        - One per host with a host-scope record - C(host), C(target), C(hardware), C(model), C(verdict),
          C(host_cost_per_hour), C(output_tokens_per_s) and C(total_tokens_per_s) (at capacity when
          measured, else the measured load), C(basis) (C(capacity) or C(measured load)),
          C(per_1m_output_tokens), C(per_1m_total_tokens), C(note) (why the host is left out of the sums).
      type: list
      elements: dict
    classes:
      description:
        - One per hardware class and model over its priced hosts - C(hardware), C(model), C(hosts) (count),
          C(host_cost_per_hour), C(output_tokens_per_s), C(total_tokens_per_s) (sums),
          C(per_1m_output_tokens), C(per_1m_total_tokens) (summed cost over summed tokens),
          C(basis) (C(capacity), C(measured load) or C(mixed)).
      type: list
      elements: dict
    fleet:
      description:
        - The same sums over every priced host, plus C(models), C(left_out) (C(host) and C(reason) of each
          host left out of the sums) and C(note) (models differ, hosts left out; null when neither).
      type: dict
'''

from ansible.errors import AnsibleFilterError
from ansible_collections.inferops.vllm.plugins.module_utils.fleet import FleetError, summarize


def fleet_summary(records, outlier_pct=20):
    try:
        return summarize(records or [], outlier_pct)
    except FleetError as exc:
        raise AnsibleFilterError('fleet_summary: %s' % exc)


class FilterModule(object):
    def filters(self):
        return {'fleet_summary': fleet_summary}
