# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: profile_summary
short_description: Workload profile rows and placement of a fleet
version_added: 0.3.0
author:
  - inferops.vllm contributors (@inferops)
description:
  - Takes the records of workload profile runs (P(inferops.vllm.profile_record#filter)) and returns one row per host
    and profile (capacity at the profile's SLOs, cost per 1M tokens there, prefix-cache hit rate and whether the
    profile is built to hit it, valid tool-call / JSON rate, TTFT of first against later turns), the placement
    inputs (one per profile and hardware class - the class's slowest host that met the SLOs), the cheapest class
    per profile and, with O(target), the cheapest fleet.
  - A placement that cannot be computed (a class without a price, a target profile nobody measured) is reported in
    C(placement_error); the rows are still returned.
positional: target, available
options:
  _input:
    description: Profile run records.
    type: list
    elements: dict
    required: true
  target:
    description: Target mix, profile name to rate (in the profile's rate unit, sessions/s).
    type: dict
  available:
    description: Hosts on hand per hardware class (limits of the fleet).
    type: dict
'''

EXAMPLES = r'''
- name: Profile rows and placement
  ansible.builtin.set_fact:
    profiles_summary: "{{ records | inferops.vllm.profile_summary({'agentic': 40, 'long_generation': 4}) }}"
'''

RETURN = r'''
_value:
  description: C(rows), C(placement_rows), C(per_profile), C(fleet), C(placement_error), C(target), C(warnings).
  type: dict
'''

from ansible_collections.inferops.vllm.plugins.module_utils.profilefleet import summarize


def profile_summary(records, target=None, available=None):
    return summarize(records or [], target or None, available or None)


class FilterModule(object):
    def filters(self):
        return {'profile_summary': profile_summary}
