# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: tool_call_args
short_description: The vLLM arguments that parse a model family's tool calls
version_added: 0.3.0
author:
  - inferops.vllm contributors (@inferops)
description:
  - Returns C(--enable-auto-tool-choice --tool-call-parser <parser>) for a model family (C(llama-3), C(qwen2.5),
    C(hermes), C(mistral), C(granite-3), ...), from the collection's table of families and vLLM parsers; an empty
    family returns an empty list.
  - An unknown family fails, listing the known ones.
positional: var
options:
  _input:
    description: The model family; empty for none.
    type: str
    required: true
  var:
    description: Name of the variable the family came from, used in error messages.
    type: str
    default: server_tool_call_family
'''

EXAMPLES = r'''
- name: Arguments for a Qwen2.5 model's tool calls
  ansible.builtin.debug:
    msg: "{{ 'qwen2.5' | inferops.vllm.tool_call_args }}"
'''

RETURN = r'''
_value:
  description: The vLLM arguments, e.g. C([--enable-auto-tool-choice, --tool-call-parser, hermes]).
  type: list
  elements: str
'''

from ansible.errors import AnsibleFilterError
from ansible_collections.inferops.vllm.plugins.module_utils.toolparsers import ToolParserError, server_args


def tool_call_args(family, var='server_tool_call_family'):
    try:
        return server_args(family, var)
    except ToolParserError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    def filters(self):
        return {'tool_call_args': tool_call_args}
