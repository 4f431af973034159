# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""examples/run_with_ansible_runner.py against a fake vLLM server on loopback.

The example runs playbooks/validate.yml through ansible-runner on one host,
`inference-local` (ansible_connection=local, group cpu_inference): plan.yml reads this
machine's real topology and plans one instance per NUMA node from the fake server's port,
the validate role gates them from localhost and writes fleet.json, and the example reads
the verdicts back from fleet.json and from the runner's job events.
"""

from __future__ import absolute_import, division, print_function

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(REPO, 'examples', 'run_with_ansible_runner.py')
FAKE_SERVER = os.path.join(REPO, 'tests', 'support', 'fake_openai_server.py')
RUN_TIMEOUT = 55

pytest.importorskip('ansible_runner')


def _free_port():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]
    finally:
        sock.close()


def _wait_listening(port, proc, timeout=15.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError('the fake server exited with rc=%s' % proc.returncode)
        try:
            socket.create_connection(('127.0.0.1', port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError('the fake server did not listen on %d within %.0fs' % (port, timeout))


@pytest.fixture(scope='module')
def fake_server(tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp('fake') / 'server.log'
    with open(str(log), 'w') as out:
        proc = subprocess.Popen([sys.executable, FAKE_SERVER, '--host', '127.0.0.1', '--port', str(port),
                                 '--model', 'tiny-llama', '--max-model-len', '2048', '--token-delay-ms', '1'],
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_listening(port, proc)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope='module')
def collections_dir(tmp_path_factory):
    """This checkout as inferops.vllm, whatever the checkout's directory is called."""
    root = tmp_path_factory.mktemp('collections')
    link = root / 'ansible_collections' / 'inferops' / 'vllm'
    link.parent.mkdir(parents=True)
    link.symlink_to(REPO, target_is_directory=True)
    return root


def _inventory(tmp_path):
    path = tmp_path / 'hosts.yml'
    path.write_text(yaml.safe_dump({'inference': {'children': {'cpu_inference': {'hosts': {
        'inference-local': {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable},
    }}}}}))
    return path


def _extra_vars(tmp_path, port, slos):
    path = tmp_path / 'vars.yml'
    path.write_text(yaml.safe_dump({
        'inferops_model_name': 'tiny-llama',
        'inferops_model_path': str(tmp_path / 'models' / 'tiny-llama'),
        'inferops_model_weights_gib': 0.02,
        'inferops_model_kv_bytes_per_token': 8192,
        'inferops_max_model_len': 2048,
        'inferops_kv_cache_gib': 1,
        'inferops_os_headroom_gib': 1,
        'inferops_runtime_overhead_gib': 1,
        'inferops_base_port': port,
        # The fake server stands for one instance on loopback, gated directly: no front, and a
        # loopback listener needs no key.
        'server_expose_instances': True,
        'server_listen_address': '127.0.0.1',
        'validate_address': '127.0.0.1',
        'validate_duration_s': 3,
        'validate_warmup_requests': 2,
        'validate_concurrency': 4,
        'validate_prompt_tokens': 32,
        'validate_output_tokens': 32,
        'validate_hardware_class': 'test-runner',
        'validate_host_cost_per_hour': 0.5,
        'validate_slos': slos,
        'validate_report_dir': str(tmp_path / 'report'),
    }))
    return path


def _run_example(tmp_path, port, collections_dir, slos):
    result_json = tmp_path / 'result.json'
    env = dict(os.environ)
    env['ANSIBLE_COLLECTIONS_PATH'] = os.pathsep.join(
        [str(collections_dir)] + [p for p in env.get('ANSIBLE_COLLECTIONS_PATH', '').split(os.pathsep) if p])
    env.update({'ANSIBLE_NOCOLOR': '1', 'ANSIBLE_CONFIG': os.path.join(REPO, 'ansible.cfg')})
    cmd = [sys.executable, EXAMPLE, '--playbook', 'playbooks/validate.yml',
           '--inventory', str(_inventory(tmp_path)), '--extra-vars', '@' + str(_extra_vars(tmp_path, port, slos)),
           '--private-data-dir', str(tmp_path / 'runner'), '--result-json', str(result_json)]
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=RUN_TIMEOUT, check=False)
    parsed = None
    if result_json.is_file():
        with open(str(result_json)) as handle:
            parsed = json.load(handle)
    return proc, parsed


def _runner_stdout(tmp_path):
    """The playbook output ansible-runner kept, for failure messages."""
    artifacts = tmp_path / 'runner' / 'artifacts'
    for ident in sorted(artifacts.iterdir()) if artifacts.is_dir() else []:
        if (ident / 'stdout').is_file():
            return (ident / 'stdout').read_text()[-6000:]
    return '(no runner stdout)'


def test_gate_passes_and_is_read_back(tmp_path, fake_server, collections_dir):
    proc, parsed = _run_example(tmp_path, fake_server, collections_dir, {'min_output_tokens_per_s': 1})
    assert proc.returncode == 0, '%s\n%s' % (proc.stdout, _runner_stdout(tmp_path))
    assert parsed['status'] == 'successful' and parsed['rc'] == 0
    assert parsed['passed'] is True and parsed['fleet_passed'] is True
    assert parsed['fleet_json'] == str(tmp_path / 'report' / 'fleet.json')
    assert parsed['endpoints'], parsed
    for endpoint in parsed['endpoints']:
        assert endpoint['host'] == 'inference-local'
        assert endpoint['url'].startswith('http://127.0.0.1:')
        assert endpoint['model'] == 'tiny-llama'
        assert endpoint['verdict'] == 'pass', endpoint
        assert endpoint['output_tokens_per_s'] > 0
        assert endpoint['cross_check_available'] is True and endpoint['cross_check_ok'] is True, endpoint
        assert endpoint['cost_per_1m_output_tokens'] > 0
        assert endpoint['missed_slos'] == [] and endpoint['failed_slos'] == []
        # Both sources saw the gate: the fleet report and the job events.
        assert endpoint['source'] == 'fleet.json' and endpoint['in_events'] is True
        assert '%s/%s: verdict=pass' % (endpoint['host'], endpoint['endpoint']) in proc.stdout
    # The per-endpoint reports of the module sit next to fleet.json.
    assert (tmp_path / 'report' / 'inference-local' / (parsed['endpoints'][0]['endpoint'] + '.junit.xml')).is_file()


def test_unmet_slo_fails_with_the_slo_named(tmp_path, fake_server, collections_dir):
    proc, parsed = _run_example(tmp_path, fake_server, collections_dir, {'min_output_tokens_per_s': 1e9})
    assert proc.returncode == 2, '%s\n%s' % (proc.stdout, _runner_stdout(tmp_path))
    assert 'min_output_tokens_per_s' in proc.stdout
    assert 'gate FAILED' in proc.stdout
    assert parsed['status'] == 'failed' and parsed['passed'] is False
    # The role enforces after writing the report: the failure still left fleet.json behind.
    assert parsed['fleet_json'] and parsed['fleet_passed'] is False
    for endpoint in parsed['endpoints']:
        assert endpoint['verdict'] == 'fail'
        assert endpoint['failed_slos'] == ['min_output_tokens_per_s']
        assert endpoint['output_tokens_per_s'] > 0


def _load_example():
    spec = importlib.util.spec_from_file_location('run_with_ansible_runner', EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _FakeRunnerResult(object):  # pylint: disable=too-few-public-methods
    def __init__(self, status, rc, events):
        self.status, self.rc, self.events = status, rc, events


def test_events_alone_give_the_verdicts_when_the_play_stopped_early(tmp_path):
    """No fleet.json (the play failed before the report): the job events still carry the gate."""
    example = _load_example()
    item = {'item': {'name': 'vllm-node0', 'port': 8100}, 'verdict': 'fail', 'url': 'http://h:8100',
            'throughput': {'output_tokens_per_s': 12.5}, 'cross_check': {'available': True, 'ok': True},
            'slos': [{'name': 'max_ttft_p95_ms', 'status': 'fail', 'message': 'TTFT p95: measured 900 ms'}]}
    events = [
        {'event': 'runner_item_on_ok', 'event_data': {'task_action': 'inferops.vllm.throughput', 'host': 'h', 'res': item}},
        {'event': 'runner_on_ok', 'event_data': {'task_action': 'ansible.builtin.set_fact', 'host': 'h', 'res': {}}},
        {'event': 'runner_on_ok', 'event_data': {'task_action': 'inferops.vllm.throughput', 'host': 'h',
                                                 'res': {'results': [item], 'changed': False}}},
    ]
    parsed = example.collect(_FakeRunnerResult('failed', 2, events), str(tmp_path))
    assert parsed['fleet_json'] is None
    (endpoint,) = parsed['endpoints']
    assert (endpoint['host'], endpoint['endpoint'], endpoint['source']) == ('h', 'vllm-node0', 'events')
    assert endpoint['failed_slos'] == ['max_ttft_p95_ms']
    assert example.exit_code(parsed) == 2
    # A run that never reached the gate is an error, not a pass.
    assert example.exit_code(example.collect(_FakeRunnerResult('failed', 2, []), str(tmp_path))) == 1
    assert example.exit_code(example.collect(_FakeRunnerResult('successful', 0, []), str(tmp_path))) == 1


def test_extra_vars_forms(tmp_path):
    example = _load_example()
    vars_file = tmp_path / 'v.yml'
    vars_file.write_text('a: 1\nb: [x]\n')
    assert example.parse_extravar('@' + str(vars_file)) == {'a': 1, 'b': ['x']}
    assert example.parse_extravar('{"validate_slos": {"max_ttft_p95_ms": 500}}') == {'validate_slos': {'max_ttft_p95_ms': 500}}
    assert example.parse_extravar('validate_duration_s=10') == {'validate_duration_s': 10}
    assert example.parse_extravar('server_vllm_version=0.32.0') == {'server_vllm_version': '0.32.0'}
    with pytest.raises(ValueError):
        example.parse_extravar('not-a-var')
