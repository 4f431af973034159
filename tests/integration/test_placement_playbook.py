# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/placement.yml through ansible-playbook on recorded per-profile results: a fleet report the
validate role wrote with validate_profiles [agentic, chat] against the fake server (tests/fixtures/placement/
fleet-cpu.json, class "test", $2/h) plus a GPU class given as input; and bad input."""

from __future__ import absolute_import, division, print_function

import json
import math
import os
import subprocess
import sys

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURE = os.path.join(REPO, 'tests', 'fixtures', 'placement', 'fleet-cpu.json')
PLAYBOOK = os.path.join(REPO, 'playbooks', 'placement.yml')


@pytest.fixture(scope='module')
def collections_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp('collections')
    link = root / 'ansible_collections' / 'inferops' / 'vllm'
    link.parent.mkdir(parents=True)
    link.symlink_to(REPO)
    deps = os.environ.get('ANSIBLE_COLLECTIONS_PATH', '')
    return ':'.join(p for p in (str(root), deps) if p)


@pytest.fixture(scope='module')
def cpu():
    with open(FIXTURE) as f:
        fleet = json.load(f)
    return dict((r['profile'], r) for r in fleet['summary']['profiles']['placement_rows'])


def play(tmp_path, collections_dir, extra):
    out = tmp_path / 'out'
    extra = dict({'placement_output_dir': str(out)}, **extra)
    vars_file = tmp_path / 'vars.yml'
    vars_file.write_text(yaml.safe_dump(extra))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_dir, ANSIBLE_NOCOLOR='1',
               ANSIBLE_LOCALHOST_WARNING='0', ANSIBLE_INVENTORY_UNPARSED_WARNING='0')
    proc = subprocess.run([sys.executable, '-m', 'ansible', 'playbook', '-i', 'localhost,', '-c', 'local',
                           '-e', 'ansible_python_interpreter=%s' % sys.executable, '-e', '@%s' % vars_file, PLAYBOOK],
                          env=env, cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=120, check=False)
    return proc.returncode, proc.stdout, out


def gpu_classes(cpu, price=6.0):
    # a GPU class 3x the CPU host's price: 10x its agentic capacity (wins), 1.5x its chat capacity (loses)
    return [{'profile': 'agentic', 'hardware_class': 'gpu', 'capacity_rps': cpu['agentic']['capacity_rps'] * 10,
             'cost_per_hour': price},
            {'profile': 'chat', 'hardware_class': 'gpu', 'capacity_rps': cpu['chat']['capacity_rps'] * 1.5,
             'cost_per_hour': price}]


def test_recorded_results_are_what_the_role_wrote(cpu):
    assert sorted(cpu) == ['agentic', 'chat']
    for row in cpu.values():
        assert row['hardware_class'] == 'test' and row['cost_per_hour'] == 2.0 and row['slo_met']
        assert row['capacity_rps'] > 0 and row['cost_per_1m'] > 0 and row['steps']


def test_placement_of_measured_and_input_classes(tmp_path, collections_dir, cpu):
    a_cap, c_cap = cpu['agentic']['capacity_rps'], cpu['chat']['capacity_rps']
    # targets rounded down, so the covers worked out below hold whatever the recorded capacities are
    target = {'agentic': math.floor(a_cap * 12 * 1000) / 1000.0, 'chat': math.floor(c_cap * 2.5 * 1000) / 1000.0}
    rc, out, outdir = play(tmp_path, collections_dir, {'placement_reports': [FIXTURE],
                                                       'placement_classes': gpu_classes(cpu),
                                                       'placement_target': target})
    assert rc == 0, out
    md = (outdir / 'placement.md').read_text()
    # agentic: gpu $6 / 10x beats cpu $2 / 1x; chat: cpu $2 / 1x beats gpu $6 / 1.5x
    assert '- agentic: **gpu**' in md and '- chat: **test**' in md
    # agentic 12x a CPU host: covers of 10g + 1c >= 12: g=1 c=2 ($10) is the cheapest (g=2 $12, c=12 $24)
    assert '| agentic | %.2f sessions/s | 1 x gpu, 2 x test |' % target['agentic'] in md
    # chat 2.5x: 3 CPU hosts ($6) beat 1 GPU + 1 CPU ($8) and 2 GPU ($12)
    assert '| chat | %.2f sessions/s | 3 x test |' % target['chat'] in md
    assert 'Fleet: 1 x gpu, 5 x test, 16.00 per hour.' in md
    page = (outdir / 'placement.html').read_text()
    try:
        import matplotlib  # noqa: F401  pylint: disable=unused-import
        assert page.count('<img alt=') >= 2
    except ImportError:
        assert 'matplotlib is not installed on the controller' in page and '<img' not in page
        assert 'matplotlib is not installed on the controller' in out
    assert 'Cheapest fleet for the target mix' in page


def test_a_target_for_a_profile_no_class_was_measured_on(tmp_path, collections_dir, cpu):
    rc, out, outdir = play(tmp_path, collections_dir, {'placement_reports': [FIXTURE],
                                                       'placement_target': {'agentic': 1, 'long_generation': 4}})
    assert rc != 0
    assert "the target mix names profile 'long_generation', which no hardware class was measured on" in out
    assert not (outdir / 'placement.md').exists()


def test_a_class_with_no_price(tmp_path, collections_dir, cpu):
    classes = gpu_classes(cpu)
    del classes[0]['cost_per_hour']
    rc, out, _outdir = play(tmp_path, collections_dir, {'placement_reports': [FIXTURE], 'placement_classes': classes})
    assert rc != 0 and "hardware class 'gpu' has no price" in out


def test_no_input(tmp_path, collections_dir):
    rc, out, _outdir = play(tmp_path, collections_dir, {})
    assert rc != 0 and 'Give placement_reports' in out
