# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The server role's instance units (roles/server/templates/vllm.container.j2, the Podman quadlet, and
vllm.service.j2) rendered by Ansible's own templating with the role's defaults and private vars, for the
systemd version the host reports: before 254 the unit has a start limit (a crash loop stops there and the
role's watchdog timer revives it), from 254 on RestartSteps=/RestartMaxDelaySec= back restarts off and the
unit never gives up. The switch itself is the role's expression (tasks/set_vars.yml), not a copy."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

ROLE = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'roles', 'server'))
LOADER = DataLoader()
INSTANCE = {'name': 'node0', 'unit': 'inferops-vllm-node0.service', 'port': 8100,
            'argv': ['serve', '/models/model', '--port', '8100'], 'cache': '/var/lib/inferops-vllm/cache/node0',
            'shm_size': '1g', 'cpuset': '0-3', 'mems': '0', 'memory_max_mib': 4096, 'gpus': []}
# What the play and the role's other tasks set before the units are rendered (none of it decides the restart policy).
PLAY = {'ansible_managed': 'Ansible managed', 'server_model_path': '/srv/models/tiny-llama',
        '__server_image_ref': 'localhost/inferops-vllm-cpu:0.32.0', '__server_uid': 990, '__server_gid': 990,
        '__server_api_key_set': False, 'item': INSTANCE}


def role_vars(systemd_version, **extra):
    """The role's defaults and vars, the play's, and __server_restart_backoff as tasks/set_vars.yml derives it
    (``systemd_version`` None: no systemd fact)."""
    v = {}
    for name in ('defaults', 'vars'):
        v.update(LOADER.load_from_file(os.path.join(ROLE, name, 'main.yml'), trusted_as_template=True))
    v.update(PLAY)
    v['ansible_facts'] = {'systemd': {'version': systemd_version}} if systemd_version is not None else {}
    v.update(extra)
    tasks = LOADER.load_from_file(os.path.join(ROLE, 'tasks', 'set_vars.yml'), trusted_as_template=True)
    derived = [t['ansible.builtin.set_fact'] for t in tasks
               if '__server_restart_backoff' in (t.get('ansible.builtin.set_fact') or {})]
    assert len(derived) == 1
    v['__server_restart_backoff'] = Templar(loader=LOADER, variables=v).template(derived[0]['__server_restart_backoff'])
    return v


def render(template, variables):
    with open(os.path.join(ROLE, 'templates', template)) as f:
        return Templar(loader=LOADER, variables=variables).template(trust_as_template(f.read()))


def sections(text):
    """{section: [(key, value)]} of a systemd unit (keys may repeat; comments and blank lines skipped)."""
    out, current = {}, None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        if line.startswith('[') and line.endswith(']'):
            current = out.setdefault(line[1:-1], [])
            continue
        key, sep, value = line.partition('=')
        assert sep and current is not None, line
        current.append((key, value))
    return out


def keys(section, *names):
    return [(k, v) for k, v in section if k in names]


RESTART_KEYS = ('StartLimitIntervalSec', 'StartLimitBurst', 'Restart', 'RestartSec', 'RestartSteps', 'RestartMaxDelaySec')
TEMPLATES = ['vllm.container.j2', 'vllm.service.j2']


@pytest.mark.parametrize('template', TEMPLATES)
@pytest.mark.parametrize('version', [252, 253])
def test_before_systemd_254_the_unit_has_a_start_limit_and_no_restart_steps(template, version):
    v = role_vars(version)
    assert v['__server_restart_backoff'] is False
    unit = sections(render(template, v))
    # the defaults: 5 starts per 600 s; [Unit] is where systemd reads the start limit
    assert keys(unit['Unit'], *RESTART_KEYS) == [('StartLimitIntervalSec', '600'), ('StartLimitBurst', '5')]
    assert keys(unit['Service'], *RESTART_KEYS) == [('Restart', 'always'), ('RestartSec', '5')]


@pytest.mark.parametrize('template', TEMPLATES)
@pytest.mark.parametrize('version', [254, 257])
def test_from_systemd_254_restarts_back_off_and_never_give_up(template, version):
    v = role_vars(version)
    assert v['__server_restart_backoff'] is True
    unit = sections(render(template, v))
    assert keys(unit['Unit'], *RESTART_KEYS) == [('StartLimitIntervalSec', '0')]
    assert keys(unit['Service'], *RESTART_KEYS) == [('Restart', 'always'), ('RestartSec', '5'), ('RestartSteps', '5'),
                                                    ('RestartMaxDelaySec', '60')]


@pytest.mark.parametrize('template', TEMPLATES)
def test_the_restart_settings_are_the_users(template):
    old = sections(render(template, role_vars(252, server_start_limit_burst=3, server_start_limit_interval_sec=120,
                                              server_restart_sec=2)))
    assert keys(old['Unit'], *RESTART_KEYS) == [('StartLimitIntervalSec', '120'), ('StartLimitBurst', '3')]
    assert ('RestartSec', '2') in old['Service']
    new = sections(render(template, role_vars(255, server_restart_steps=8, server_restart_max_delay_sec=300,
                                              server_start_limit_burst=3)))
    assert keys(new['Unit'], *RESTART_KEYS) == [('StartLimitIntervalSec', '0')]
    assert keys(new['Service'], 'RestartSteps', 'RestartMaxDelaySec') == [('RestartSteps', '8'),
                                                                          ('RestartMaxDelaySec', '300')]


def test_without_a_systemd_version_the_unit_keeps_its_start_limit():
    # no systemd fact (the setup module could not read it): version 0, the older and safer form
    v = role_vars(None)
    assert v['__server_restart_backoff'] is False
    unit = sections(render('vllm.container.j2', v))
    assert ('StartLimitBurst', '5') in unit['Unit'] and not keys(unit['Service'], 'RestartSteps')


def test_the_container_unit_is_a_quadlet_of_the_instance():
    unit = sections(render('vllm.container.j2', role_vars(252)))
    assert set(unit) == {'Unit', 'Container', 'Service', 'Install'}
    assert ('ContainerName', 'inferops-vllm-node0') in unit['Container']
    assert ('Exec', 'serve /models/model --port 8100') in unit['Container']
    assert ('PodmanArgs', '--cpuset-cpus=0-3 --cpuset-mems=0 --memory=4096m') in unit['Container']
