# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: networks
short_description: An allow-list of networks, checked and normalised
version_added: 0.3.0
author:
  - inferops.vllm contributors (@inferops)
description:
  - Turns a list of addresses or CIDR networks into normalised networks (C(192.0.2.7) becomes C(192.0.2.7/32)).
  - An entry that is not a network fails, naming O(variable) and the entry.
positional: variable
options:
  _input:
    description: Addresses or networks.
    type: list
    elements: str
    required: true
  variable:
    description: The variable the list comes from, named in the refusal.
    type: str
    default: networks
'''

EXAMPLES = r'''
- name: The scrapers allowed to read /metrics
  ansible.builtin.debug:
    msg: "{{ ['10.0.0.0/8', '192.0.2.7'] | inferops.vllm.networks('server_front_metrics_networks') }}"
'''

RETURN = r'''
_value:
  description: The networks in CIDR form.
  type: list
  elements: str
'''

from ansible.errors import AnsibleFilterError
from ansible_collections.inferops.vllm.plugins.module_utils.listeners import ListenerError, networks


def _networks(entries, variable='networks'):
    try:
        return networks(entries, variable)
    except ListenerError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    def filters(self):
        return {'networks': _networks}
