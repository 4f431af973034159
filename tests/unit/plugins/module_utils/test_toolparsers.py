# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Model families and vLLM tool-call parsers: the table, the server arguments, an unknown family, and the
server role's server_units filter putting them into every instance's vLLM command line."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.inferops.vllm.plugins.module_utils import toolparsers as T

# vLLM's registered parser names (vllm/tool_parsers/__init__.py of vllm 0.32), those the table uses
VLLM_PARSERS = {'deepseek_v3', 'deepseek_v31', 'openai', 'glm45', 'granite', 'granite4', 'granite-20b-fc', 'hermes',
                'hunyuan_a13b', 'internlm', 'jamba', 'kimi_k2', 'llama3_json', 'llama4_pythonic', 'minimax_m2',
                'mistral', 'phi4_mini_json', 'qwen3_coder', 'pythonic', 'xlam'}


def test_every_parser_in_the_table_is_one_vllm_registers():
    assert set(T.TOOL_CALL_PARSERS.values()) <= VLLM_PARSERS


def test_server_args_of_a_family():
    assert T.server_args('llama-3') == ['--enable-auto-tool-choice', '--tool-call-parser', 'llama3_json']
    assert T.server_args('qwen2.5')[-1] == 'hermes' and T.server_args('mistral')[-1] == 'mistral'
    assert T.server_args('') == [] and T.server_args(None) == []


def test_unknown_family_lists_the_known_ones():
    with pytest.raises(T.ToolParserError) as exc:
        T.server_args('llama-9')
    msg = str(exc.value)
    assert msg.startswith("server_tool_call_family='llama-9' is not a model family")
    assert 'llama-3, llama-4' in msg and 'qwen2.5' in msg and 'server_extra_args' in msg


def test_has_tool_parsing():
    assert T.has_tool_parsing(['--port', '1', '--tool-call-parser', 'hermes'])
    assert T.has_tool_parsing(['--tool-call-parser=hermes'])
    assert not T.has_tool_parsing(['--enable-auto-tool-choice']) and not T.has_tool_parsing(None)


def render_units(server_tool_call_family='', server_extra_args=(), structured_args=()):
    """The units as the server role renders them: the server_units filter with the settings
    tasks/validate.yml gives it (tool_args from tool_call_args, then the operator's extra_args)."""
    from ansible_collections.inferops.vllm.plugins.filter.server_units import FilterModule
    from ansible_collections.inferops.vllm.plugins.filter.tool_call_args import tool_call_args
    settings = {'accelerator': 'cpu', 'runtime': 'systemd', 'unit_prefix': 'inferops-vllm-',
                'cache_dir': '/var/lib/inferops-vllm/cache', 'model_name': 'tiny-llama',
                'model_path': '/srv/models/tiny-llama', 'model_runtime_path': '/srv/models/tiny-llama',
                'listen': '127.0.0.1', 'tool_args': tool_call_args(server_tool_call_family),
                'structured_args': list(structured_args), 'extra_args': list(server_extra_args), 'extra_env': {},
                'container_shm_size': ''}
    instances = [{'name': 'vllm-node0', 'port': 8101, 'args': ['--dtype', 'bfloat16']}]
    return FilterModule().filters()['server_units'](instances, settings)


def _argv(units):
    return units[0]['argv']


def test_the_server_role_adds_the_parser_flags_to_every_instance():
    argv = _argv(render_units(server_tool_call_family='qwen2.5', server_extra_args=['--enforce-eager']))
    i = argv.index('--tool-call-parser')
    assert argv[i + 1] == 'hermes' and '--enable-auto-tool-choice' in argv
    assert argv.index('--dtype') < i < argv.index('--enforce-eager')     # plan args, tool args, extra args


def test_no_family_no_tool_flags():
    argv = _argv(render_units())
    assert '--tool-call-parser' not in argv and '--enable-auto-tool-choice' not in argv


# -- guided decoding: server_structured_outputs_backend / _compact ------------------------------------------
def test_structured_outputs_argument():
    from ansible_collections.inferops.vllm.plugins.module_utils import structured_outputs as S
    assert S.server_args('xgrammar', True) == ['--structured-outputs-config',
                                               '{"backend":"xgrammar","disable_any_whitespace":true}']
    assert S.server_args('auto', False) == ['--structured-outputs-config', '{"backend":"auto"}']
    assert S.server_args('', False) == [] and S.server_args(None, False) == []
    assert S.given_in(['--structured-outputs-config.backend', 'guidance']) and not S.given_in(['--port', '1'])


@pytest.mark.parametrize('backend,compact,message', [
    ('xgramar', False, "server_structured_outputs_backend='xgramar' is not a vLLM structured-outputs backend; "
                       "accepted: auto, xgrammar, guidance, outlines, lm-format-enforcer"),
    ('outlines', True, 'server_structured_outputs_compact=true is supported by vLLM only with '
                       "server_structured_outputs_backend=xgrammar or guidance, got 'outlines'"),
    ('', True, 'server_structured_outputs_compact=true needs server_structured_outputs_backend set to one of xgrammar'),
])
def test_structured_outputs_refusals_name_the_variables(backend, compact, message):
    from ansible.errors import AnsibleFilterError
    from ansible_collections.inferops.vllm.plugins.filter.structured_outputs_args import structured_outputs_args
    with pytest.raises(AnsibleFilterError) as exc:
        structured_outputs_args(backend, compact)
    assert message in str(exc.value)


def test_the_server_role_renders_guided_decoding_after_the_tool_flags():
    from ansible_collections.inferops.vllm.plugins.filter.structured_outputs_args import structured_outputs_args
    units = render_units(server_tool_call_family='qwen2.5', server_extra_args=['--enforce-eager'],
                         structured_args=structured_outputs_args('xgrammar', 'true'))
    argv = _argv(units)
    i = argv.index('--structured-outputs-config')
    assert argv[i + 1] == '{"backend":"xgrammar","disable_any_whitespace":true}'
    assert argv.index('--tool-call-parser') < i < argv.index('--enforce-eager')
    assert '--structured-outputs-config' not in _argv(render_units())
