# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The vLLM argument that sets guided decoding (``response_format`` JSON schemas, ``tool_choice``
required or named) for every request of a server: ``--structured-outputs-config``.

Why the role sets it and not vLLM's default (backend ``auto``, whitespace allowed): held to a JSON
schema, a model may fill the whitespace the JSON grammar allows until ``max_tokens`` (the random-weight
test model did: 1 of 16 answers valid in ``make bench-profiles``; 16 of 16 without free whitespace).
Compact JSON is also fewer tokens per answer. vLLM accepts ``disable_any_whitespace`` only with the
xgrammar and guidance backends (``vllm/config/structured_outputs.py``, vLLM 0.32).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

# vLLM 0.32's StructuredOutputsBackend; '' = no flag (vLLM's own default, backend auto)
BACKENDS = ('auto', 'xgrammar', 'guidance', 'outlines', 'lm-format-enforcer')
COMPACT_BACKENDS = ('xgrammar', 'guidance')
FLAG = '--structured-outputs-config'


class StructuredOutputsError(ValueError):
    """A backend vLLM does not know, or compact JSON asked of a backend that cannot give it."""


def server_args(backend, compact, var='server_structured_outputs_backend',
                compact_var='server_structured_outputs_compact'):
    """[FLAG, '<json>'] for a backend ('' or None: [], vLLM's default); raises naming the variables."""
    if backend in (None, ''):
        if compact:
            raise StructuredOutputsError('%s=true needs %s set to one of %s (vLLM restricts whitespace only there)'
                                         % (compact_var, var, ', '.join(COMPACT_BACKENDS)))
        return []
    if backend not in BACKENDS:
        raise StructuredOutputsError('%s=%r is not a vLLM structured-outputs backend; accepted: %s, or "" for '
                                     "vLLM's default" % (var, backend, ', '.join(BACKENDS)))
    if compact and backend not in COMPACT_BACKENDS:
        raise StructuredOutputsError('%s=true is supported by vLLM only with %s=%s, got %r; set %s=false or pick '
                                     'one of those backends' % (compact_var, var, ' or '.join(COMPACT_BACKENDS),
                                                                backend, compact_var))
    config = {'backend': backend}
    if compact:
        config['disable_any_whitespace'] = True
    return [FLAG, json.dumps(config, sort_keys=True, separators=(',', ':'))]


def given_in(args):
    """Whether vLLM arguments already set the structured-outputs config (whole or by a dotted key)."""
    return any(str(a) == FLAG or str(a).startswith(FLAG + '=') or str(a).startswith(FLAG + '.') for a in args or [])
