# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: gate_endpoints
short_description: The endpoints of one host that the throughput gate loads
version_added: 0.2.0
author:
  - inferops.vllm contributors (@inferops)
description:
  - Turns a host's planned instances and front port (or explicit targets) into the list of endpoints the
    validate role gates. Exactly one endpoint has C(scope=host) and stands for the whole host (its front
    port, all its instances loaded together, or its only instance); it alone carries the host's cost.
  - The others have C(scope=instance) and show each instance's throughput and latency.
positional: front_port, address, scheme, targets, gate_instances, instances_loopback, runner_on_host
options:
  _input:
    description: The plan's instances, each with C(name) and C(port).
    type: list
    elements: dict
    required: true
  front_port:
    description: The host's front (load balancer) port, or null.
    type: int
  address:
    description: Address the runner reaches the host at.
    type: str
    default: 127.0.0.1
  scheme:
    description: C(http) or C(https).
    type: str
    default: http
  targets:
    description:
      - Explicit endpoints, each C(name) and C(url), optionally C(scope), C(cross_check) and C(metrics_urls);
        they replace the instances and the front port.
    type: list
    elements: dict
  gate_instances:
    description: Also gate each instance on its own when the host-level endpoint is not that instance.
    type: bool
    default: true
  instances_loopback:
    description:
      - The instances listen on C(127.0.0.1) of the host, behind its front. Unless O(runner_on_host), their
        endpoints get C(on_host=true) (gated from the host itself) and the front's C(/metrics) cross-check is
        skipped, its reason in C(skipped).
    type: bool
    default: false
  runner_on_host:
    description: The gate's runner is the inference host itself.
    type: bool
    default: false
'''

EXAMPLES = r'''
- name: Endpoints of a host with two instances behind its front port
  ansible.builtin.debug:
    msg: "{{ [{'name': 'vllm-a', 'port': 8101}, {'name': 'vllm-b', 'port': 8102}] | inferops.vllm.gate_endpoints(8000, '10.0.0.5') }}"
'''

RETURN = r'''
_value:
  description:
    - List of C(name), C(url) (or C(urls) for instances loaded together), C(scope), C(cross_check), C(metrics_urls),
      and where it applies C(on_host) (gate it from the host) and C(skipped) (what is not checked, and why).
  type: list
  elements: dict
'''

from ansible.errors import AnsibleFilterError
from ansible_collections.inferops.vllm.plugins.module_utils.gate_endpoints import EndpointError, gate_endpoints


def _gate_endpoints(instances, front_port=None, address='127.0.0.1', scheme='http', targets=None,
                    gate_instances=True, instances_loopback=False, runner_on_host=False):
    try:
        return gate_endpoints(instances, front_port, address, scheme, targets, gate_instances,
                              bool(instances_loopback), bool(runner_on_host))
    except EndpointError as exc:
        raise AnsibleFilterError('gate_endpoints: %s' % exc)


class FilterModule(object):
    def filters(self):
        return {'gate_endpoints': _gate_endpoints}
