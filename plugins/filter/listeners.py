# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: listeners
short_description: Who listens on the network of a vLLM host (the front or the instances)
version_added: 0.3.0
author:
  - inferops.vllm contributors (@inferops)
description:
  - The same decision M(inferops.vllm.instance_plan) returns as C(plan.host.listeners), for the server role run
    without a plan (hand-written O(server_instances)). By default the instances bind C(127.0.0.1) and the front
    (HAProxy) is the one network listener; O(expose_instances) opts out.
positional: expose_instances, listen_address
options:
  _input:
    description: The front port.
    type: int
    required: true
  expose_instances:
    description: Let each instance listen on O(listen_address) itself, with no front.
    type: bool
    default: false
  listen_address:
    description: The address the network listener binds; empty means C(0.0.0.0).
    type: str
    default: ''
'''

EXAMPLES = r'''
- name: The listeners of a host with the front on port 8000
  ansible.builtin.debug:
    msg: "{{ 8000 | inferops.vllm.listeners(false, '') }}"
'''

RETURN = r'''
_value:
  description: C(front), C(front_address), C(front_port), C(instance_address), C(network_exposed), C(reason).
  type: dict
'''

from ansible.errors import AnsibleFilterError
from ansible_collections.inferops.vllm.plugins.module_utils.listeners import ListenerError, decide

# The role's variables, so a refusal names what the user set.
_NAMES = {'front_port': 'server_front_port', 'expose_instances': 'server_expose_instances',
          'listen_address': 'server_listen_address'}


def _listeners(front_port, expose_instances=False, listen_address=''):
    try:
        port = int(front_port)
    except (TypeError, ValueError):
        port = front_port
    try:
        return decide(port, expose_instances, listen_address, _NAMES)
    except ListenerError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    def filters(self):
        return {'listeners': _listeners}
