# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The validate role through ansible-playbook (the ansible-core of the test venv, 2.19 in CI) against
fake vLLM servers on loopback: every documented form of targets, host-level cost charged once,
capacity mode from the role, and bad input.
"""

from __future__ import absolute_import, division, print_function

import glob
import json
import os
import subprocess
import sys

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, 'tests', 'support'))

from fake_openai_server import FakeServerProcess  # noqa: E402  pylint: disable=wrong-import-position

RUN_TIMEOUT = 240


@pytest.fixture(scope='module')
def servers():
    a = FakeServerProcess({'token_delay_s': 0.001}).start()
    b = FakeServerProcess({'token_delay_s': 0.001}).start()
    try:
        yield a, b
    finally:
        a.stop()
        b.stop()


@pytest.fixture(scope='module')
def collections_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp('collections')
    link = root / 'ansible_collections' / 'inferops' / 'vllm'
    link.parent.mkdir(parents=True)
    link.symlink_to(REPO)
    deps = os.environ.get('ANSIBLE_COLLECTIONS_PATH', '')
    return ':'.join(p for p in (str(root), deps) if p)


def play(tmp_path, collections_dir, role_vars, check=False, host='localhost'):
    """Run the validate role on ``host`` (a local connection); returns (rc, output, fleet.json or None)."""
    report = tmp_path / 'report'
    role_vars = dict({'validate_report_dir': str(report), 'validate_runner': 'localhost',
                      'validate_hardware_class': 'test', 'validate_duration_s': 1.5, 'validate_warmup_requests': 2,
                      'validate_prompt_tokens': 16, 'validate_output_tokens': 8, 'validate_enforce': True,
                      'validate_on_inconclusive': 'warn'}, **role_vars)
    book = [{'name': 'gate', 'hosts': host, 'gather_facts': False,
             'roles': [{'role': 'inferops.vllm.validate', 'vars': role_vars}]}]
    path = tmp_path / 'play.yml'
    path.write_text(yaml.safe_dump(book))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_dir, ANSIBLE_NOCOLOR='1',
               ANSIBLE_LOCALHOST_WARNING='0', ANSIBLE_INVENTORY_UNPARSED_WARNING='0')
    proc = subprocess.run([sys.executable, '-m', 'ansible', 'playbook', '-i', host + ',', '-c', 'local',
                           '-e', 'ansible_python_interpreter=%s' % sys.executable, str(path)]
                          + (['--check'] if check else []),
                          env=env, cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=RUN_TIMEOUT, check=False)
    fleet = report / 'fleet.json'
    return proc.returncode, proc.stdout, (json.loads(fleet.read_text()) if fleet.exists() else None)


def rows(fleet):
    return dict((r['target'], r) for r in fleet['summary']['rows'])


def test_targets_as_name_and_url(servers, tmp_path, collections_dir):
    a, _b = servers
    rc, out, fleet = play(tmp_path, collections_dir, {
        'validate_targets': [{'name': 'only', 'url': a.url}], 'validate_host_cost_per_hour': 1.8})
    assert rc == 0, out
    row = rows(fleet)['only']
    assert row['scope'] == 'host' and row['verdict'] in ('pass', 'inconclusive')
    assert row['cost_basis'] == 'measured load' and row['cost_per_1m_output_tokens'] > 0
    host = fleet['summary']['hosts'][0]
    assert host['per_1m_output_tokens'] == pytest.approx(1.8 / (host['output_tokens_per_s'] * 3600) * 1e6, rel=1e-4)


def test_instances_as_name_and_port_behind_a_front_port(servers, tmp_path, collections_dir):
    a, _b = servers
    port = a.port
    rc, out, fleet = play(tmp_path, collections_dir, {
        'validate_address': '127.0.0.1', 'validate_instances': [{'name': 'vllm-a', 'port': port}],
        'validate_front_port': port, 'validate_host_cost_per_hour': 2.0})
    assert rc == 0, out
    r = rows(fleet)
    assert r['front']['scope'] == 'host' and r['vllm-a']['scope'] == 'instance'
    # charged once: the front row has the cost, the instance row none
    assert r['front']['cost_per_1m_output_tokens'] > 0 and r['vllm-a']['cost_per_1m_output_tokens'] is None
    front = [x for x in fleet['results'] if x['target'] == 'front'][0]['result']
    assert front['cross_check']['available'] and front['cross_check']['ok']   # summed instance /metrics


def test_loopback_instances_behind_the_front_are_gated_from_their_host(servers, tmp_path, collections_dir):
    # The inference host is "node1" (a local connection standing for another machine), the runner localhost:
    # the front is gated from the runner, the loopback-only instance from node1, the front's cross-check
    # (it would read the instance's /metrics from the runner) skipped and said so.
    a, _b = servers
    rc, out, fleet = play(tmp_path, collections_dir, {
        'validate_address': '127.0.0.1', 'validate_instances': [{'name': 'vllm-a', 'port': a.port}],
        'validate_front_port': a.port, 'validate_instances_loopback': True, 'validate_telemetry': False},
        host='node1')
    assert rc == 0, out
    records = dict((x['target'], x) for x in fleet['results'])
    assert records['front']['runner'] == 'localhost' and records['vllm-a']['runner'] == 'node1'
    assert records['vllm-a']['url'] == 'http://127.0.0.1:%d' % a.port
    assert '/metrics cross-check' in records['front']['skipped']
    assert records['front']['result']['verdict'] in ('pass', 'inconclusive')
    assert records['vllm-a']['result']['verdict'] in ('pass', 'inconclusive')
    assert 'vllm-a: gated from node1 itself' in out and 'front: skipped: /metrics cross-check' in out


def test_capacity_of_a_two_instance_host_and_its_cost(servers, tmp_path, collections_dir):
    a, b = servers
    rc, out, fleet = play(tmp_path, collections_dir, {
        'validate_address': '127.0.0.1',
        'validate_instances': [{'name': 'vllm-a', 'port': a.port}, {'name': 'vllm-b', 'port': b.port}],
        'validate_mode': 'capacity', 'validate_capacity_step_s': 1.5, 'validate_capacity_budget_s': 40,
        'validate_capacity_start_rate': 20, 'validate_slos': {'max_ttft_p95_ms': 400, 'max_tpot_p95_ms': 100},
        'validate_host_cost_per_hour': 3.0})
    assert rc == 0, out
    r = rows(fleet)
    assert r['host']['scope'] == 'host' and r['vllm-a']['scope'] == r['vllm-b']['scope'] == 'instance'
    host = [x for x in fleet['results'] if x['target'] == 'host'][0]['result']
    assert host['mode'] == 'capacity' and len(host['urls']) == 2
    cap = host['capacity']
    assert cap['steps'] and cap['output_tokens_per_s'] > 0
    assert host['cost']['basis'] == 'capacity'
    assert host['cost']['per_1m_output_tokens'] == pytest.approx(3.0 / (cap['output_tokens_per_s'] * 3600) * 1e6,
                                                                 rel=1e-4)
    assert r['vllm-a']['cost_per_1m_output_tokens'] is None
    # the host's record became the baseline of the next rolling upgrade
    baseline = json.loads((tmp_path / 'report' / 'localhost' / 'host.latest.json').read_text())
    assert baseline['capacity']['output_tokens_per_s'] == cap['output_tokens_per_s']


def test_tpot_slo_from_the_role(servers, tmp_path, collections_dir):
    a, _b = servers
    rc, out, fleet = play(tmp_path, collections_dir, {
        'validate_targets': [{'name': 'only', 'url': a.url}], 'validate_slos': {'max_tpot_p95_ms': 0.001},
        'validate_on_inconclusive': 'fail', 'validate_num_requests': 120, 'validate_duration_s': 30})
    assert rc != 0
    assert 'max_tpot_p95_ms' in out and rows(fleet)['only']['verdict'] == 'fail'


def test_unknown_slo_name_lists_the_known_ones(servers, tmp_path, collections_dir):
    a, _b = servers
    rc, out, _fleet = play(tmp_path, collections_dir, {
        'validate_targets': [{'name': 'only', 'url': a.url}], 'validate_slos': {'max_ttft_ms': 5}})
    assert rc != 0
    assert 'validate_slos has unknown SLO names max_ttft_ms' in out and 'max_tpot_p95_ms' in out


def test_targets_without_url_are_named(tmp_path, collections_dir):
    rc, out, _fleet = play(tmp_path, collections_dir, {'validate_targets': [{'name': 'x'}]})
    assert rc != 0 and 'validate_targets[0] needs name and url' in out


def test_two_workload_profiles_per_host_and_their_placement(servers, tmp_path, collections_dir):
    a, _b = servers
    rc, out, fleet = play(tmp_path, collections_dir, {
        'validate_targets': [{'name': 'only', 'url': a.url}], 'validate_host_cost_per_hour': 2.0,
        'validate_profiles': ['agentic', 'chat'], 'validate_capacity_step_s': 1.5, 'validate_capacity_budget_s': 25,
        'validate_placement_target': {'agentic': 3, 'chat': 1}})
    assert rc == 0, out
    prof = fleet['summary']['profiles']
    rows_ = dict((r['profile'], r) for r in prof['rows'])
    assert sorted(rows_) == ['agentic', 'chat']
    for name, r in rows_.items():
        assert r['mode'] == 'capacity' and r['verdict'] in ('pass', 'inconclusive'), (name, r['msg'])
        assert r['capacity'] > 0 and r['output_tokens_per_s'] > 0 and r['cost_per_1m_output_tokens'] > 0, r
        assert r['cost_per_1m_output_tokens'] == pytest.approx(2.0 / (r['output_tokens_per_s'] * 3600) * 1e6,
                                                               rel=1e-4)
        assert r['prefix_cache_hit_rate'] is not None and not r['high_hit_rate_warning']
        assert r['ttft_first_p50_ms'] > 0
    # agentic: tool calls checked, later turns carry the earlier ones
    assert rows_['agentic']['valid_rate'] == 1.0 and rows_['agentic']['answers_checked'] > 0
    assert rows_['agentic']['ttft_later_p50_ms'] > 0 and rows_['agentic']['builds_cache_hits']
    assert rows_['chat']['valid_rate'] is None
    # one class measured: it is the cheapest for both, and the fleet covers the target
    assert prof['placement_error'] is None
    assert prof['per_profile']['agentic']['hardware_class'] == 'test'
    assert prof['fleet']['profiles']['agentic']['capacity_rps'] >= 3
    results = dict((r['profile'], r['result']) for r in fleet['profile_results'])
    assert results['agentic']['config']['profile'] == 'agentic'
    md = (tmp_path / 'report' / 'fleet.md').read_text()
    assert '## Workload profiles' in md and '| localhost | test | agentic |' in md and '## Placement' in md
    assert (tmp_path / 'report' / 'localhost' / 'profile-agentic.md').exists()
    if os.environ.get('INFEROPS_RECORD_PLACEMENT_FIXTURE'):
        # how tests/fixtures/placement/fleet-cpu.json (test_placement_playbook.py) was recorded
        with open(os.environ['INFEROPS_RECORD_PLACEMENT_FIXTURE'], 'w') as f:
            json.dump(fleet, f, indent=1, sort_keys=True)


def test_unknown_profile_is_refused_before_any_load(servers, tmp_path, collections_dir):
    a, _b = servers
    before = a.stats()['requests']
    rc, out, _fleet = play(tmp_path, collections_dir, {
        'validate_targets': [{'name': 'only', 'url': a.url}], 'validate_profiles': ['agentic', 'agentick']})
    assert rc != 0
    assert "validate_profiles: unknown profile 'agentick'" in out
    assert 'agentic, batch, chat, long_generation, rag, summarization' in out
    assert a.stats()['requests'] == before


def rapl_counters():
    """The RAPL package/dram zones of this machine whose energy_uj can be read (none in most VMs)."""
    zones = []
    for zone in glob.glob('/sys/class/powercap/intel-rapl:*'):
        try:
            with open(os.path.join(zone, 'name')) as name, open(os.path.join(zone, 'energy_uj')) as energy:
                if name.read().startswith(('package', 'dram')) and energy.read().strip():
                    zones.append(zone)
        except (IOError, OSError):
            pass
    return zones


def test_host_telemetry_is_sampled_while_the_gate_runs(servers, tmp_path, collections_dir):
    a, _b = servers
    rc, out, fleet = play(tmp_path, collections_dir, {
        'validate_targets': [{'name': 'only', 'url': a.url}], 'validate_duration_s': 3,
        'validate_telemetry_interval_s': 0.25, 'validate_host_energy_cost_per_kwh': 0.30,
        'validate_telemetry_instances': [{'name': 'fake', 'pid': a.proc.pid},
                                         {'name': 'gone', 'unit': 'inferops-vllm-not-deployed.service'}]})
    assert rc == 0, out
    result = [x for x in fleet['results'] if x['target'] == 'only'][0]['result']
    tel = result['telemetry']
    assert tel['available'], tel
    # the samples covered the gate's measured window
    assert tel['window']['duration_s'] == pytest.approx(result['window']['duration_s'], abs=0.3)
    insts = dict((i['name'], i) for i in tel['instances'])
    # the fake server is what the gate loaded: its process used CPU and switched context during the window
    assert insts['fake']['found'] and insts['fake']['processes'] >= 1
    assert insts['fake']['cpu_s'] > 0 and insts['fake']['voluntary_ctxt_switches'] > 0
    assert insts['fake']['cpu_util'] is not None and 0 < insts['fake']['cpu_util'] <= 1.0
    # a unit that does not run (or a machine without systemd): reported with the unit's name, not failed
    assert not insts['gone']['found'] and 'inferops-vllm-not-deployed.service' in insts['gone']['reason']
    assert tel['numa']['available'] == os.path.exists('/sys/devices/system/node/node0/numastat')
    if rapl_counters():
        assert tel['energy']['joules'] > 0 and tel['joules_per_output_token'] > 0
        assert tel['energy_cost_per_1m_output_tokens'] == pytest.approx(
            tel['joules_per_output_token'] * 1e6 / 3.6e6 * 0.30, rel=1e-3)
    else:
        # no RAPL here (a VM): absent, with the reason, never estimated
        assert tel['energy']['joules'] is None and tel['joules_per_output_token'] is None
        assert tel['energy_cost_per_1m_output_tokens'] is None
        assert any(why.startswith('RAPL: no /sys/class/powercap') for why in tel['energy']['absent']), tel['energy']
    row = rows(fleet)['only']
    assert row['telemetry']['instances'][0]['name'] == 'fake'
    md = (tmp_path / 'report' / 'fleet.md').read_text()
    assert '## Host telemetry during the gate' in md and 'fake: ' in md
    page = (tmp_path / 'report' / 'localhost' / 'only.md').read_text()
    assert '## Host telemetry during the gate' in page and '| fake |' in page
    saved = json.loads((tmp_path / 'report' / 'localhost' / 'only.json').read_text())
    assert saved['telemetry']['window'] == tel['window']
    baseline = json.loads((tmp_path / 'report' / 'localhost' / 'host.latest.json').read_text())
    assert baseline['telemetry']['instances'][0]['name'] == 'fake'
    assert not glob.glob('/tmp/inferops-vllm-telemetry-*.stop')     # the stop file was consumed


def test_host_telemetry_in_check_mode_and_turned_off(servers, tmp_path, collections_dir):
    a, _b = servers
    rc, out, fleet = play(tmp_path, collections_dir, {'validate_targets': [{'name': 'only', 'url': a.url}]},
                          check=True)
    assert rc == 0, out
    assert fleet is None     # check mode writes no report; the report shown says why nothing was sampled
    assert 'check mode: the sensors were read, nothing was sampled' in out
    rc, out, fleet = play(tmp_path, collections_dir, {'validate_targets': [{'name': 'only', 'url': a.url}],
                                                      'validate_telemetry': False})
    assert rc == 0, out
    result = [x for x in fleet['results'] if x['target'] == 'only'][0]['result']
    assert 'telemetry' not in result and rows(fleet)['only']['telemetry'] is None
