# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: structured_outputs_args
short_description: The vLLM argument that sets guided decoding for structured output and tool calls
version_added: 0.3.0
author:
  - inferops.vllm contributors (@inferops)
description:
  - Returns C(--structured-outputs-config {"backend":...,"disable_any_whitespace":true}) for a guided-decoding
    backend (C(auto), C(xgrammar), C(guidance), C(outlines), C(lm-format-enforcer)); an empty backend returns an
    empty list (vLLM's default).
  - An unknown backend, or compact JSON with a backend other than C(xgrammar) or C(guidance), fails naming the
    variables and the accepted values.
positional: compact
options:
  _input:
    description: The backend; empty for vLLM's default.
    type: str
    required: true
  compact:
    description: Whether JSON answers may contain no free whitespace (vLLM's C(disable_any_whitespace)).
    type: bool
    default: false
'''

EXAMPLES = r'''
- name: Guided decoding with xgrammar and compact JSON
  ansible.builtin.debug:
    msg: "{{ 'xgrammar' | inferops.vllm.structured_outputs_args(true) }}"
'''

RETURN = r'''
_value:
  description: The vLLM arguments, e.g. C([--structured-outputs-config, '{"backend":"xgrammar","disable_any_whitespace":true}']).
  type: list
  elements: str
'''

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean
from ansible_collections.inferops.vllm.plugins.module_utils.structured_outputs import StructuredOutputsError, server_args


def structured_outputs_args(backend, compact=False):
    try:
        return server_args(backend, boolean(compact, strict=False))
    except StructuredOutputsError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    def filters(self):
        return {'structured_outputs_args': structured_outputs_args}
