# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The planner's defaults are stated once (module_utils/plan.py DEFAULTS and its value lists): the
module's argument spec is built from them, and this test fails when the module's DOCUMENTATION or
playbooks/plan.yml says something else."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

import pytest
import yaml

from ansible_collections.inferops.vllm.plugins.module_utils import plan
from ansible_collections.inferops.vllm.plugins.modules import instance_plan

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
CHOICES = {
    'accelerator': plan.ACCELERATORS,
    'strategy': plan.STRATEGIES,
    'dtype': plan.DTYPES,
    'workload': plan.WORKLOADS,
    'onednn_fpmath_mode': plan.FPMATH_MODES,
    'onednn_max_cpu_isa': plan.ONEDNN_MAX_CPU_ISAS,
}
# Module options that are not planner options: how the module gets its input.
MODULE_ONLY = {'topology', 'root', 'var_names'}
DOC = yaml.safe_load(instance_plan.DOCUMENTATION)['options']


def _same(left, right):
    if isinstance(left, (int, float)) and isinstance(right, (int, float)) and not isinstance(left, bool):
        return float(left) == float(right)
    return left == right


def test_every_planner_option_is_a_module_option_and_back():
    assert set(plan.DEFAULTS) == set(instance_plan.ARGUMENT_SPEC) - MODULE_ONLY
    assert set(DOC) == set(instance_plan.ARGUMENT_SPEC)


@pytest.mark.parametrize('option', sorted(plan.DEFAULTS))
def test_argument_spec_and_documentation_defaults_are_the_planners(option):
    expected = plan.DEFAULTS[option]
    spec = instance_plan.ARGUMENT_SPEC[option]
    doc = DOC[option]
    if expected is None or option == 'model_name':
        assert spec.get('default') is None, option
        assert 'default' not in doc, '%s: DOCUMENTATION states a default the planner does not have' % option
    else:
        assert _same(spec['default'], expected), option
        assert _same(doc.get('default'), expected), \
            '%s: DOCUMENTATION default %r, planner default %r' % (option, doc.get('default'), expected)


@pytest.mark.parametrize('option', sorted(CHOICES))
def test_choices_are_the_planners(option):
    assert list(instance_plan.ARGUMENT_SPEC[option]['choices']) == list(CHOICES[option])
    assert list(DOC[option]['choices']) == list(CHOICES[option])


_DEFAULT_RE = re.compile(r'\|\s*default\((.*?)\)\s*\}\}\s*$')


def _plan_playbook_args():
    with open(os.path.join(ROOT, 'playbooks', 'plan.yml')) as handle:
        play = yaml.safe_load(handle)[0]
    task = [t for t in play['tasks'] if 'inferops.vllm.instance_plan' in t][0]
    return task['inferops.vllm.instance_plan'], task['vars']['__inferops_plan_var_names']


def test_plan_playbook_defaults_are_the_planners():
    args, var_names = _plan_playbook_args()
    checked = []
    for option, value in args.items():
        if option in MODULE_ONLY:
            continue
        assert option in plan.DEFAULTS, 'playbooks/plan.yml passes %s, which the planner does not know' % option
        assert option in var_names, 'playbooks/plan.yml has no var_names entry for %s' % option
        match = _DEFAULT_RE.search(str(value).strip())
        if not match or match.group(1) == 'omit':
            continue  # omit: the module's (the planner's) own default applies
        stated = yaml.safe_load(match.group(1))
        expected = plan.DEFAULTS[option]
        assert _same(stated, expected), 'playbooks/plan.yml: %s defaults to %r, the planner to %r' % (option, stated, expected)
        checked.append(option)
    # the test is not vacuous: the numeric and choice defaults the playbook spells out are all compared
    assert {'max_model_len', 'runtime_overhead_gib', 'os_headroom_gib', 'memory_limit_headroom_pct',
            'base_port', 'front_port', 'strategy', 'dtype'} <= set(checked)


def test_a_drifted_default_is_caught():
    """The comparison itself fails on a different value (so the tests above can fail)."""
    assert not _same(3, 1)
    assert not _same('per_numa_node', 'single')
    assert _DEFAULT_RE.search('{{ inferops_runtime_overhead_gib | default(1) }}').group(1) == '1'
