# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One SLO table (loadstats.SLOS): every copy of the SLO names must match it, or this test fails."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

import yaml

from ansible_collections.inferops.vllm.plugins.module_utils import loadstats
from ansible_collections.inferops.vllm.plugins.modules import throughput

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
NAMES = set(loadstats.SLO_OPTIONS)
SLO_RE = re.compile(r'\b((?:min|max)_[a-z0-9_]+?_(?:per_s|ms|rate|mismatch|ratio))\b')


def read(path):
    with open(os.path.join(ROOT, path)) as f:
        return f.read()


def test_module_options_and_docs():
    spec = throughput.argument_spec()
    assert NAMES <= set(spec), NAMES - set(spec)
    doc = yaml.safe_load(throughput.DOCUMENTATION)['options']
    assert NAMES <= set(doc), NAMES - set(doc)
    for slo in loadstats.SLOS:
        text = ' '.join(doc[slo.name]['description'])
        assert slo.description in text.replace('\n', ' '), slo.name


def test_role_vars_and_argument_specs():
    role_vars = yaml.safe_load(read('roles/validate/vars/main.yml'))['__validate_slo_options']
    assert role_vars == list(loadstats.SLO_OPTIONS)
    spec = yaml.safe_load(read('roles/validate/meta/argument_specs.yml'))
    text = ' '.join(spec['argument_specs']['main']['options']['validate_slos']['description'])
    assert set(SLO_RE.findall(text)) == NAMES


def test_role_readme_lists_exactly_the_known_slos():
    line = [ln for ln in read('roles/validate/README.md').splitlines() if ln.startswith('| `validate_slos`')][0]
    assert set(SLO_RE.findall(line)) == NAMES


def test_aap_surveys_only_use_known_slos():
    text = read('aap/controller/job_templates.yml')
    used = set(m for m in re.findall(r'validate_slos\.([a-z0-9_]+)', text))
    used |= set(m for m in re.findall(r"'([a-z0-9_]+)': aap_slo_", text))
    assert used and used <= NAMES, used - NAMES
