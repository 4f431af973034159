# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: gate_markdown
short_description: The Markdown report of one throughput gate result
version_added: 0.2.0
author:
  - inferops.vllm contributors (@inferops)
description:
  - The same page M(inferops.vllm.throughput) writes as C(<report_name>.md), rendered from a result the role has
    added to (the host telemetry of P(inferops.vllm.gate_telemetry#filter)).
options:
  _input:
    description: A result of M(inferops.vllm.throughput), for example C(record.result) of a gate record.
    type: dict
    required: true
'''

EXAMPLES = r'''
- name: Rewrite the host run's report with its telemetry
  ansible.builtin.copy:
    content: "{{ record.result | inferops.vllm.gate_markdown }}"
    dest: /var/tmp/inferops-vllm-gate/host1/front.md
    mode: "0644"
'''

RETURN = r'''
_value:
  description: The Markdown page.
  type: str
'''

from ansible_collections.inferops.vllm.plugins.module_utils.gate_report import markdown


class FilterModule(object):
    def filters(self):
        return {'gate_markdown': markdown}
