# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: fleet_markdown
short_description: Render a fleet throughput summary as Markdown
version_added: 0.1.0
author:
  - inferops.vllm contributors (@inferops)
description:
  - Renders what P(inferops.vllm.fleet_summary#filter) returned as a Markdown page, one table row per
    gated endpoint (scope, tokens/s, TTFT, ITL, TPOT and E2E p95, verdict, distance from the median,
    where the load ran; the cost per 1M output tokens on host rows only), then the medians.
  - A C(Cost per 1M tokens at SLO) section follows - one row per host (class, model, output tokens/s at
    capacity, cost per hour, cost per 1M output and total tokens, basis), one row per hardware class and
    model, and a fleet line. Hosts costed at the measured load rather than at capacity are named as such.
  - Last come the reasons of every endpoint that did not pass.
positional: title
options:
  _input:
    description: The output of P(inferops.vllm.fleet_summary#filter).
    type: dict
    required: true
  title:
    description: The page title.
    type: str
    default: vLLM fleet throughput report
'''

EXAMPLES = r'''
- name: Markdown report
  ansible.builtin.copy:
    content: "{{ fleet | inferops.vllm.fleet_markdown }}"
    dest: /var/tmp/fleet.md
    mode: "0644"
'''

RETURN = r'''
_value:
  description: The Markdown page.
  type: str
'''

from ansible.errors import AnsibleFilterError
from ansible_collections.inferops.vllm.plugins.module_utils.fleet import render_markdown


def fleet_markdown(summary, title='vLLM fleet throughput report'):
    try:
        return render_markdown(summary, title)
    except (KeyError, TypeError) as exc:
        raise AnsibleFilterError('fleet_markdown expects the output of fleet_summary: %s' % exc)


class FilterModule(object):
    def filters(self):
        return {'fleet_markdown': fleet_markdown}
