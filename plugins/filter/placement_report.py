# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: placement_report
short_description: Cheapest hardware class per workload profile and cheapest fleet for a target mix
version_added: 0.3.0
author:
  - inferops.vllm contributors (@inferops)
description:
  - Reads the validate role's fleet reports (parsed C(fleet.json), run with C(validate_profiles)) and/or hardware
    classes given as input, and returns the placement - per profile the cheapest class that meets its SLOs (or
    none, with the closest), and with O(target) the cheapest fleet (hosts per class, cost per hour, headroom).
  - Returns the report as Markdown, and as an HTML page with charts (cost per 1M tokens per profile and class,
    TTFT p95 against offered load) when matplotlib can be imported on the controller; without it the page says so.
  - Bad input fails naming it - a target for a profile no class was measured on, a class with no price, an input
    class with an unknown field.
positional: classes, target, available
options:
  _input:
    description: Parsed C(fleet.json) files of the validate role.
    type: list
    elements: dict
    required: true
  classes:
    description:
      - Classes given as input, each C(profile), C(hardware_class), C(capacity_rps) (sessions/s per host at the
        profile's SLOs, null when none met them), C(cost_per_hour) (per host), optionally C(cost_per_1m),
        C(slo_met), C(slo_excess), C(steps), C(source), C(rate_unit) (C(sessions_per_s), the default, or
        C(requests_per_s); one unit per profile, capacities in two units are refused).
    type: list
    elements: dict
  target:
    description: Target mix, profile name to rate, in the unit of that profile's rows (sessions/s by default).
    type: dict
  available:
    description: Hosts on hand per hardware class.
    type: dict
  charts:
    description: Draw charts when matplotlib is importable (false never draws).
    type: bool
    default: true
'''

EXAMPLES = r'''
- name: Placement of the measured profiles
  ansible.builtin.set_fact:
    placement: >-
      {{ [lookup('file', '/var/tmp/gate/fleet.json') | from_json]
         | inferops.vllm.placement_report([], {'agentic': 40, 'long_generation': 4}) }}
'''

RETURN = r'''
_value:
  description:
    - C(rows) (placement inputs), C(per_profile), C(fleet) (null without a target), C(markdown), C(html),
      C(charts) (how many were drawn), C(note) (why there are no charts, or null).
  type: dict
'''

from ansible.errors import AnsibleFilterError
from ansible_collections.inferops.vllm.plugins.module_utils.placement import PlacementError
from ansible_collections.inferops.vllm.plugins.module_utils.placement_report import build, html_page, markdown


def placement_report(fleet_reports, classes=None, target=None, available=None, charts=True):
    try:
        report = build(fleet_reports, classes, target, available)
    except PlacementError as exc:
        raise AnsibleFilterError('placement: %s' % exc)
    page, drawn, note = html_page(report, None if charts else False)
    report.update({'markdown': markdown(report), 'html': page, 'charts': drawn, 'note': note})
    return report


class FilterModule(object):
    def filters(self):
        return {'placement_report': placement_report}
