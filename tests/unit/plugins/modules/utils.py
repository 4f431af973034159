# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a module's main() in-process with given arguments, as ansible would."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import json

import pytest

from ansible.module_utils import basic
from ansible.module_utils.common.text.converters import to_bytes
try:  # ansible-core >= 2.19
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # older ansible-core: patch the serialized arguments directly
    patch_module_args = None


@contextlib.contextmanager
def module_args(args, monkeypatch):
    if patch_module_args is not None:
        with patch_module_args(args):
            yield
    else:
        monkeypatch.setattr(basic, '_ANSIBLE_ARGS', to_bytes(json.dumps({'ANSIBLE_MODULE_ARGS': args})))
        yield


def run_module(main, args, monkeypatch, capsys):
    """Run ``main()`` with ``args``; return (exit code, parsed JSON result, raw stdout)."""
    with module_args(args, monkeypatch):
        with pytest.raises(SystemExit) as exc:
            main()
    out = capsys.readouterr().out
    return exc.value.code, json.loads(out), out
