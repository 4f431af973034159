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
    percent below their median.
  - The companion filter P(inferops.vllm.fleet_markdown#filter) renders such a summary as a Markdown page.
positional: outlier_pct
options:
  _input:
    description:
      - List of records, each a dict with C(host), C(target), C(result) (what M(inferops.vllm.throughput)
        returned) and optionally C(url), C(runner) and C(hardware).
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
  description: C(rows), C(medians), C(verdicts) (count per verdict), C(outliers), C(outlier_pct), C(passed).
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
