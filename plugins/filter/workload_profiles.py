# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: workload_profiles
short_description: The validate role's workload profile runs, validated
version_added: 0.3.0
author:
  - inferops.vllm contributors (@inferops)
description:
  - Turns a list of built-in workload profile names and/or profile dicts into the gate runs the validate role
    makes, one per profile, each with its validated profile and its mode - C(capacity) (a search at the
    profile's own SLOs) when the profile has a latency SLO, else C(closed) (throughput only, e.g. C(batch)).
  - An unknown name fails, listing the built-in profiles; an invalid profile fails naming the field. Both happen
    on the controller, before any load.
positional: directory, var
options:
  _input:
    description: Names of built-in profiles (files C(<name>.yml) in O(directory)) and/or profile dicts.
    type: list
    elements: raw
    required: true
  directory:
    description: Directory of the built-in profiles (the validate role's C(files/profiles)).
    type: path
    required: true
  var:
    description: Name of the variable the list came from, used in error messages.
    type: str
    default: validate_profiles
'''

EXAMPLES = r'''
- name: Profile runs of the validate role
  ansible.builtin.set_fact:
    runs: "{{ ['agentic', 'chat'] | inferops.vllm.workload_profiles(role_path ~ '/files/profiles') }}"
'''

RETURN = r'''
_value:
  description: One per profile - C(name), C(mode) (C(capacity) or C(closed)), C(profile) (validated, defaults filled in).
  type: list
  elements: dict
'''

from ansible.errors import AnsibleFilterError
from ansible_collections.inferops.vllm.plugins.module_utils.profilefleet import ProfileRunError, role_runs


def workload_profiles(items, directory, var='validate_profiles'):
    try:
        return role_runs(items, directory, var)
    except ProfileRunError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    def filters(self):
        return {'workload_profiles': workload_profiles}
