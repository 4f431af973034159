# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Model families and the vLLM tool-call parser that reads their tool calls.

A model writes tool calls in the format it was trained on (Hermes <tool_call> tags, Llama 3 JSON,
Mistral [TOOL_CALLS], pythonic lists, ...); vLLM turns them into OpenAI ``tool_calls`` only with the
parser of that format (``--tool-call-parser``), and answers ``tool_choice: auto`` only with
``--enable-auto-tool-choice`` as well. Without a parser vLLM refuses every tool_choice but "none" with
HTTP 400. Parser names are those vLLM registers (vllm/tool_parsers/__init__.py of vllm 0.32, and the
tool-calling page of its docs); the family names are what users call the models.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

# family -> vLLM parser
TOOL_CALL_PARSERS = {
    'deepseek-v3': 'deepseek_v3',
    'deepseek-v3.1': 'deepseek_v31',
    'gpt-oss': 'openai',
    'glm-4.5': 'glm45',
    'granite-3': 'granite',
    'granite-4': 'granite4',
    'granite-20b-fc': 'granite-20b-fc',
    'hermes': 'hermes',
    'hunyuan-a13b': 'hunyuan_a13b',
    'internlm2': 'internlm',
    'jamba': 'jamba',
    'kimi-k2': 'kimi_k2',
    'llama-3': 'llama3_json',
    'llama-4': 'llama4_pythonic',
    'minimax-m2': 'minimax_m2',
    'mistral': 'mistral',
    'phi-4-mini': 'phi4_mini_json',
    'qwen2.5': 'hermes',
    'qwen3': 'hermes',
    'qwen3-coder': 'qwen3_coder',
    'toolace': 'pythonic',
    'xlam': 'xlam',
}


class ToolParserError(ValueError):
    """An unknown model family; the message lists the known ones."""


def families():
    return sorted(TOOL_CALL_PARSERS)


def parser_for(family, var='server_tool_call_family'):
    """The vLLM tool-call parser of a model family."""
    if family not in TOOL_CALL_PARSERS:
        raise ToolParserError('%s=%r is not a model family this collection knows the tool-call parser of; known '
                              'families: %s. For another model, pass --enable-auto-tool-choice --tool-call-parser '
                              '<parser> in server_extra_args (see vLLM\'s tool calling docs for the parser names)'
                              % (var, family, ', '.join(families())))
    return TOOL_CALL_PARSERS[family]


def server_args(family, var='server_tool_call_family'):
    """vLLM arguments that make it parse a family's tool calls (tool_choice auto, required and named);
    [] for no family (empty or None: tools not wanted)."""
    if family in (None, ''):
        return []
    return ['--enable-auto-tool-choice', '--tool-call-parser', parser_for(family, var)]


def has_tool_parsing(args):
    """Whether vLLM arguments give it a tool-call parser."""
    args = [str(a) for a in args or []]
    return '--tool-call-parser' in args or any(a.startswith('--tool-call-parser=') for a in args)
