# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Conventions of the roles that load platform variables (server, xeon_tuning, nvidia_gpu): one set_vars
pattern, the same text in every role but for its private prefix; every variable a role defines in its tasks
(set_fact, register, task vars, loop_var) is private (__ROLE_) or a public fact its README documents."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import glob
import os
import re

import pytest
import yaml

ROLES_DIR = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'roles')
ROLES = ['server', 'xeon_tuning', 'nvidia_gpu']
SET_FACT = ('ansible.builtin.set_fact', 'set_fact')
INCLUDE_VARS = ('ansible.builtin.include_vars', 'include_vars')


def _load(role, *parts):
    with open(os.path.join(ROLES_DIR, role, *parts)) as f:
        return yaml.safe_load(f)


def _tasks(tasks):
    """Every task, blocks opened (block, rescue, always)."""
    out = []
    for task in tasks or []:
        out.append(task)
        for key in ('block', 'rescue', 'always'):
            out += _tasks(task.get(key))
    return out


def _defined(role):
    """(file, how, name) for every variable the role's tasks and handlers define."""
    files = sorted(glob.glob(os.path.join(ROLES_DIR, role, 'tasks', '*.yml'))
                   + glob.glob(os.path.join(ROLES_DIR, role, 'handlers', '*.yml')))
    assert files
    out = []
    for path in files:
        with open(path) as f:
            for task in _tasks(yaml.safe_load(f)):
                name = os.path.relpath(path, ROLES_DIR)
                for module in SET_FACT:
                    out += [(name, 'set_fact', key) for key in task.get(module) or {} if key != 'cacheable']
                if 'register' in task:
                    out.append((name, 'register', task['register']))
                out += [(name, 'vars', key) for key in task.get('vars') or {}]
                loop_var = (task.get('loop_control') or {}).get('loop_var')
                if loop_var:
                    out.append((name, 'loop_var', loop_var))
    return out


def _platform_task(role):
    found = [t for t in _tasks(_load(role, 'tasks', 'set_vars.yml')) if any(m in t for m in INCLUDE_VARS)]
    assert len(found) == 1, '%s: one include_vars task in tasks/set_vars.yml, found %d' % (role, len(found))
    return found[0]


def _unprefixed(value, role):
    """The task with the role's private prefix replaced by a placeholder."""
    text = yaml.safe_dump(value, sort_keys=True)
    return re.sub(r'(?<![A-Za-z0-9_])__%s_' % role, '__ROLE_', text)


def test_set_vars_is_the_same_in_every_role():
    reference = _unprefixed(_platform_task(ROLES[0]), ROLES[0])
    for role in ROLES[1:]:
        assert _unprefixed(_platform_task(role), role) == reference, role


def test_set_vars_loads_os_family_then_distribution_then_major_versions():
    task = _platform_task('server')
    assert task['loop'] == [
        "{{ ansible_facts['os_family'] }}.yml",
        "{{ ansible_facts['distribution'] }}.yml",
        "{{ ansible_facts['os_family'] }}_{{ ansible_facts['distribution_major_version'] }}.yml",
        "{{ ansible_facts['distribution'] }}_{{ ansible_facts['distribution_major_version'] }}.yml",
    ]
    assert task['when'] == '__server_vars_file is file'


@pytest.mark.parametrize('role', ROLES)
def test_every_vars_file_is_one_set_vars_can_load(role):
    names = [os.path.basename(p) for p in glob.glob(os.path.join(ROLES_DIR, role, 'vars', '*.yml'))]
    assert [n for n in names if n != 'main.yml' and not re.match(r'^[A-Za-z]+(_[0-9]+)?\.yml$', n)] == []


@pytest.mark.parametrize('role', ROLES)
def test_role_variables_are_private_or_documented_public_facts(role):
    with open(os.path.join(ROLES_DIR, role, 'README.md')) as f:
        readme = f.read()
    wrong = []
    for path, how, name in _defined(role):
        if name.startswith('__%s_' % role):
            continue
        public = name.startswith('%s_' % role) and how == 'set_fact' and re.search(r'`%s`' % re.escape(name), readme)
        if not public:
            wrong.append('%s: %s %s' % (path, how, name))
    assert wrong == []


@pytest.mark.parametrize('role', ROLES)
def test_vars_files_hold_private_names_and_defaults_public_ones(role):
    for path in glob.glob(os.path.join(ROLES_DIR, role, 'vars', '*.yml')):
        assert [k for k in _load(role, 'vars', os.path.basename(path)) or {} if not k.startswith('__%s_' % role)] == [], path
    assert [k for k in _load(role, 'defaults', 'main.yml') or {} if not k.startswith('%s_' % role)] == []
