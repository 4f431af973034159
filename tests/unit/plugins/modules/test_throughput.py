# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""inferops.vllm.throughput main() against the fake vLLM server, one test per fault."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import pytest

from ansible.module_utils import basic

from ansible_collections.inferops.vllm.plugins.modules import throughput
from ansible_collections.inferops.vllm.tests.unit.plugins.modules import utils as module_utils

SUPPORT = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..', '..', 'support'))
sys.path.insert(0, SUPPORT)
from fake_openai_server import FakeServerProcess  # noqa: E402  pylint: disable=wrong-import-position

MODEL = 'tiny-llama'
# Timing thresholds of the client self-check are relaxed where a test is not about them: the
# test machine is shared, and a starved client would (rightly) make the verdict inconclusive.
RELAXED = {'client_max_cpu': 1.0, 'client_max_lag_ms': 5000.0}


def run_module(args, monkeypatch, capsys):
    """Run throughput.main() with ``args``; return (exit code, parsed JSON result, raw stdout, seconds)."""
    t0 = time.monotonic()
    code, result, out = module_utils.run_module(throughput.main, args, monkeypatch, capsys)
    return code, result, out, time.monotonic() - t0


@pytest.fixture(scope='module')
def server():
    # 1 ms per token: the client is not the bottleneck unless a test makes it so
    with FakeServerProcess({'token_delay_s': 0.001}) as srv:
        yield srv


@pytest.fixture
def fake(server):
    server.configure()
    return server


def gate_args(fake, **kw):
    args = {'url': fake.url, 'model': MODEL, 'num_requests': 40, 'concurrency': 4, 'warmup_requests': 2,
            'prompt_tokens': 32, 'output_tokens': 8, 'request_timeout_s': 10, 'ready_timeout_s': 5, 'seed': 7}
    args.update(RELAXED)
    args.update(kw)
    return args


def warnings_of(res):
    """The run's warnings (also passed to AnsibleModule.warn, whose output depends on whether controller
    code was imported in this test process)."""
    return res.get('gate_warnings', [])


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_pass_with_reports(fake, tmp_path, monkeypatch, capsys):
    args = gate_args(fake, num_requests=120, min_output_tokens_per_s=1, max_ttft_p95_ms=5000, max_itl_p95_ms=5000,
                     max_e2e_p95_ms=10000, min_goodput_ratio=0.5, host_cost_per_hour=2.0,
                     report_dir=str(tmp_path / 'reports'), report_name='node1')
    code, res, _out, _t = run_module(args, monkeypatch, capsys)
    assert code == 0, res['msg']
    assert res['verdict'] == 'pass'
    assert res['changed'] is False
    assert res['requests'] == dict(res['requests'], total=120, completed=120, failed=0)
    assert res['tokens']['output_total'] == 120 * 8
    assert res['tokens']['counted_from'] == {'usage': 120, 'chunks': 0}
    assert res['prompt']['source'] == 'tokenize'
    assert res['prompt']['measured']['min'] == res['prompt']['measured']['max'] == 32
    cc = res['cross_check']
    assert cc['ok'] and cc['exact']
    assert cc['counts']['output_tokens'] == {'client': 960, 'server': 960, 'difference': 0, 'relative': 0.0}
    assert cc['counts']['requests']['server'] == 120
    for key in ('ttft', 'tpot', 'e2e'):
        assert res['latency_ms'][key]['count'] == 120
        assert res['latency_ms'][key]['p50'] <= res['latency_ms'][key]['p99']
    # ITL pools every gap of every request: 7 per 8-token request
    assert res['latency_ms']['itl']['count'] == 120 * 7
    assert res['latency_ms']['ttft']['few_samples'] == ['p99', 'p99_9']
    assert res['latency_ms']['itl']['p50'] >= 0.5  # 1 ms per token on the server
    assert res['cost']['per_1m_output_tokens'] > 0
    assert sorted(s['name'] for s in res['slos']) == sorted([
        'min_output_tokens_per_s', 'max_ttft_p95_ms', 'max_itl_p95_ms', 'max_e2e_p95_ms', 'min_goodput_ratio',
        'max_error_rate', 'max_token_mismatch'])
    paths = res['reports']
    with open(paths['json']) as f:
        assert json.load(f)['verdict'] == 'pass'
    suite = ET.parse(paths['junit']).getroot().find('testsuite')
    assert suite.get('tests') == '7' and suite.get('failures') == '0'
    assert len(suite.findall('testcase')) == 7
    with open(paths['markdown']) as f:
        md = f.read()
    assert md.startswith('# Throughput gate: PASS') and '| TTFT |' in md


def test_chat_not_streamed(fake, monkeypatch, capsys):
    code, res, _out, _t = run_module(gate_args(fake, api='chat', stream=False, num_requests=100, max_e2e_p95_ms=10000),
                                     monkeypatch, capsys)
    assert code == 0, res['msg']
    assert res['latency_ms']['ttft']['count'] == 0
    assert res['latency_ms']['e2e']['count'] == 100
    assert res['prompt']['measured']['mean'] == 32  # chat template overhead calibrated away
    assert res['cross_check']['ok']


def test_chat_stream_multi_token_chunks(fake, monkeypatch, capsys):
    fake.configure(tokens_per_chunk=3)
    code, res, _out, _t = run_module(gate_args(fake, api='chat', output_tokens=10), monkeypatch, capsys)
    assert code == 0, res['msg']
    # 4 chunks of up to 3 tokens: usage says 10, counting chunks would say 4
    assert res['tokens']['output_total'] == 400
    assert res['requests']['errors'] == {}
    assert res['cross_check']['counts']['output_tokens']['server'] == 400


def test_stream_without_continuous_usage(fake, monkeypatch, capsys):
    fake.configure(no_continuous_usage=True)
    code, res, _out, _t = run_module(gate_args(fake), monkeypatch, capsys)
    assert code == 0, res['msg']
    assert res['tokens']['counted_from'] == {'usage': 40, 'chunks': 0}
    assert res['latency_ms']['itl']['count'] == 40 * 7


def test_check_mode_sends_no_load(fake, monkeypatch, capsys):
    before = fake.stats()['requests']
    code, res, _out, _t = run_module(gate_args(fake, _ansible_check_mode=True), monkeypatch, capsys)
    assert code == 0
    assert res['verdict'] == 'not_run'
    assert res['readiness']['max_model_len'] == 2048
    assert res['metrics_probe']['available'] is True
    assert fake.stats()['requests'] == before


def test_unreachable_port(monkeypatch, capsys):
    # a refused port is a server that is down: said after refused_timeout_s, not after ready_timeout_s
    args = {'url': 'http://127.0.0.1:%d' % free_port(), 'ready_timeout_s': 120, 'refused_timeout_s': 1.5}
    code, res, _out, elapsed = run_module(args, monkeypatch, capsys)
    assert code == 1 and res['failed']
    assert res['verdict'] == 'error'
    assert 'refused every connection for 1.5 s (refused_timeout_s)' in res['msg']
    assert 'is the vLLM service running' in res['msg']
    assert elapsed < 5


def test_server_that_never_answers(monkeypatch, capsys):
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    sock.listen(16)  # connections are queued by the kernel but never accepted nor answered
    try:
        args = {'url': 'http://127.0.0.1:%d' % sock.getsockname()[1], 'ready_timeout_s': 1.0}
        code, res, _out, elapsed = run_module(args, monkeypatch, capsys)
    finally:
        sock.close()
    assert code == 1
    assert 'not ready within ready_timeout_s=1.0' in res['msg']
    assert elapsed < 5


def test_invalid_host_name(monkeypatch, capsys):
    code, res, _out, elapsed = run_module({'url': 'http://no-such-host.invalid:8000', 'ready_timeout_s': 30},
                                          monkeypatch, capsys)
    assert code == 1
    assert 'cannot resolve host' in res['msg']
    assert elapsed < 29  # a name that does not exist fails at once, a slow resolver within the timeout


def test_api_key_missing_and_rejected(fake, monkeypatch, capsys):
    fake.configure(api_key='s3cret-key')
    code, res, _out, _t = run_module(gate_args(fake), monkeypatch, capsys)
    assert code == 1
    assert 'requires an API key' in res['msg'] and 'set api_key' in res['msg']
    code, res, out, _t = run_module(gate_args(fake, api_key='wrong-key-123'), monkeypatch, capsys)
    assert code == 1
    assert 'rejected the API key' in res['msg']
    assert 'wrong-key-123' not in out
    code, res, out, _t = run_module(gate_args(fake, api_key='s3cret-key', headers={'X-Tenant': 'tenant-secret'}),
                                    monkeypatch, capsys)
    assert code == 0, res['msg']
    assert 's3cret-key' not in out and 'tenant-secret' not in out


def test_unknown_model_names_served_models(fake, monkeypatch, capsys):
    code, res, _out, _t = run_module(gate_args(fake, model='llama-70b'), monkeypatch, capsys)
    assert code == 1
    assert "model 'llama-70b' is not served" in res['msg']
    assert 'served models: tiny-llama' in res['msg']
    assert 'set model to one of them' in res['msg']


def test_model_defaults_to_the_only_served_one(fake, monkeypatch, capsys):
    args = gate_args(fake)
    del args['model']
    code, res, _out, _t = run_module(args, monkeypatch, capsys)
    assert code == 0, res['msg']
    assert res['model'] == MODEL


def test_context_too_long(fake, monkeypatch, capsys):
    code, res, _out, _t = run_module(gate_args(fake, prompt_tokens=2000, output_tokens=100), monkeypatch, capsys)
    assert code == 1
    assert 'exceeds max_model_len 2048' in res['msg']


def test_some_500s_fail_the_error_rate(fake, monkeypatch, capsys):
    fake.configure(fail_rate=0.3)
    code, res, _out, _t = run_module(gate_args(fake, num_requests=100), monkeypatch, capsys)
    assert code == 1
    assert res['verdict'] == 'fail'
    n500 = res['requests']['errors']['http_500']
    assert 10 <= n500 <= 60
    line = [ln for ln in res['msg'].splitlines() if 'error rate' in ln and 'max_error_rate' in ln][0]
    assert 'measured %s' % ('%.4g' % (n500 / 100.0)) in line
    assert 'required <= 0' in line and '%d of 100 requests failed' % n500 in line
    assert 'Internal server error' in line
    assert res['cross_check']['ok']  # 500s generated nothing; bounds hold
    code, res, _out, _t = run_module(gate_args(fake, num_requests=100, max_error_rate=0.9), monkeypatch, capsys)
    assert code == 0, res['msg']


def test_server_failing_everything_stops_early(fake, monkeypatch, capsys):
    fake.configure(fail_rate=1.0)
    code, res, _out, elapsed = run_module(gate_args(fake, num_requests=5000, warmup_requests=0), monkeypatch, capsys)
    assert code == 1 and res['verdict'] == 'fail'
    assert res['requests']['total'] < 40
    assert 'stopped after the first' in res['requests']['stopped_early']
    assert 'stopped after the first' in res['msg'] and 'Internal server error' in res['msg']
    assert elapsed < 10


def test_stall_mid_stream_times_out_in_bounded_time(fake, monkeypatch, capsys):
    fake.configure(stall_rate=1.0, stall_after_tokens=2)
    args = gate_args(fake, num_requests=4, warmup_requests=0, request_timeout_s=1.0)
    code, res, _out, elapsed = run_module(args, monkeypatch, capsys)
    assert code == 1
    assert res['requests']['errors'] == {'timeout': 4}
    assert 'request_timeout_s=1.0 (2 tokens received)' in res['requests']['error_examples']['timeout']
    assert elapsed < 8
    # the server aborted the stalled requests after the client gave up; counts stay within bounds
    assert res['cross_check']['exact'] is False


def test_partial_stalls_over_a_duration(fake, monkeypatch, capsys):
    fake.configure(stall_rate=0.2, stall_after_tokens=3, token_delay_s=0.002)
    args = gate_args(fake, num_requests=None, duration_s=1.0, warmup_requests=0, request_timeout_s=0.5,
                     max_error_rate=0.9)
    code, res, _out, elapsed = run_module(args, monkeypatch, capsys)
    assert res['requests']['errors'].get('timeout', 0) >= 1
    assert res['requests']['completed'] >= 1
    assert elapsed < 8
    assert code == 0, res['msg']


def test_malformed_sse_is_skipped_and_reported(fake, monkeypatch, capsys):
    fake.configure(malformed_rate=1.0)
    emitted = []
    monkeypatch.setattr(basic.AnsibleModule, 'warn', lambda self, warning: emitted.append(warning))
    code, res, _out, _t = run_module(gate_args(fake), monkeypatch, capsys)
    assert code == 0, res['msg']
    assert emitted == res['gate_warnings']  # each is an Ansible warning too
    assert res['tokens']['malformed_sse_events'] == 40
    assert res['tokens']['output_total'] == 320
    assert any('not valid JSON' in w for w in warnings_of(res))


def test_missing_usage_falls_back_to_chunks(fake, monkeypatch, capsys):
    fake.configure(no_usage=True)
    code, res, _out, _t = run_module(gate_args(fake), monkeypatch, capsys)
    assert code == 0, res['msg']
    assert res['tokens']['counted_from'] == {'usage': 0, 'chunks': 40}
    assert any('carried no usage' in w for w in warnings_of(res))


def test_output_length_not_honoured(fake, monkeypatch, capsys):
    fake.configure(honor_ignore_eos=False)
    code, res, _out, _t = run_module(gate_args(fake), monkeypatch, capsys)
    assert code == 1
    assert res['verdict'] == 'error'  # every warm-up request failed: stop before the measured run
    assert 'all 2 warm-up requests failed' in res['msg'] and 'ignore_eos/min_tokens' in res['msg']
    code, res, _out, _t = run_module(gate_args(fake, warmup_requests=0), monkeypatch, capsys)
    assert code == 1
    assert res['verdict'] == 'fail'
    assert list(res['requests']['errors']) == ['output_length']
    assert 20 <= res['requests']['errors']['output_length'] <= 40   # stops after 20 failures in a row
    assert 'ignore_eos/min_tokens' in res['msg']
    assert res['cross_check']['ok']


def test_server_counts_more_tokens_than_it_sent(fake, monkeypatch, capsys):
    fake.configure(metrics_extra_tokens_per_request=1)
    code, res, _out, _t = run_module(gate_args(fake), monkeypatch, capsys)
    assert code == 1
    assert res['verdict'] == 'fail'
    line = [ln for ln in res['msg'].splitlines() if 'max_token_mismatch' in ln][0]
    assert 'output tokens 320 vs 360' in line and 'requests 40 vs 40' in line
    assert 'metrics_url' in line


def test_no_metrics_is_inconclusive_unless_cross_check_off(fake, monkeypatch, capsys):
    fake.configure(no_metrics=True)
    code, res, _out, _t = run_module(gate_args(fake), monkeypatch, capsys)
    assert code == 1
    assert res['verdict'] == 'inconclusive'
    assert 'cross_check: false' in res['msg']
    code, res, _out, _t = run_module(gate_args(fake, cross_check=False), monkeypatch, capsys)
    assert code == 0, res['msg']
    assert res['verdict'] == 'pass'


def test_saturated_client_is_inconclusive(fake, monkeypatch, capsys):
    args = gate_args(fake, num_requests=None, duration_s=0.4, client_max_lag_ms=0.0001, min_output_tokens_per_s=1e9)
    code, res, _out, _t = run_module(args, monkeypatch, capsys)
    assert code == 1
    assert res['verdict'] == 'inconclusive'
    assert res['client']['saturated'] is True
    assert 'The load client was the bottleneck' in res['msg']
    slo = [s for s in res['slos'] if s['name'] == 'min_output_tokens_per_s'][0]
    assert slo['status'] == 'inconclusive'  # a missed minimum is not trusted when the client is saturated
    code, res, _out, _t = run_module(dict(args, on_inconclusive='warn'), monkeypatch, capsys)
    assert code == 0
    assert res['verdict'] == 'inconclusive'
    assert any('INCONCLUSIVE' in w for w in warnings_of(res))


def test_open_loop_constant_rate(fake, monkeypatch, capsys):
    args = gate_args(fake, mode='open', rate=100.0, arrival='constant', num_requests=60)
    code, res, _out, elapsed = run_module(args, monkeypatch, capsys)
    assert code == 0, res['msg']
    sched = res['schedule']
    assert sched['offered_rate'] == 100.0
    assert 80 <= sched['achieved_rate'] <= 120
    assert sched['lateness_ms']['count'] == 60 and sched['late_sends'] == 0 and sched['unsent'] == 0
    assert 0.5 <= res['window']['duration_s'] <= 5


def test_open_loop_cap_too_small_for_the_rate_blames_the_client(fake, monkeypatch, capsys):
    # 2000 req/s x ~40 ms per request needs ~80 in flight: a cap of 3 closes the loop, and that is the
    # client's doing, so the verdict is inconclusive (never a silent pass), and the cap is never overshot
    fake.configure(token_delay_s=0.005)
    args = gate_args(fake, mode='open', rate=2000.0, arrival='constant', num_requests=30, concurrency=3)
    code, res, _out, _t = run_module(args, monkeypatch, capsys)
    assert code == 1 and res['verdict'] == 'inconclusive', res['msg']
    assert res['client']['concurrency']['max_in_flight'] == 3
    assert res['schedule']['cap_waits'] > 0 and res['schedule']['in_flight_needed'] > 3
    assert any('in-flight cap 3 is below' in r and 'requests in flight that 2000.0 req/s needs' in r
               for r in res['client']['reasons']), res['client']['reasons']
    assert res['schedule']['rate_unit'] == 'requests_per_s'


def test_duration_bound_drains_in_flight(fake, monkeypatch, capsys):
    fake.configure(token_delay_s=0.002)
    args = gate_args(fake, num_requests=None, duration_s=0.6)
    code, res, _out, _t = run_module(args, monkeypatch, capsys)
    assert code == 0, res['msg']
    assert res['requests']['failed'] == 0  # requests at the window's edge complete, not fail
    assert res['window']['issue_s'] >= 0.6
    assert res['cross_check']['ok']


def test_waits_for_readiness(fake, monkeypatch, capsys):
    fake.configure(not_ready_s=1.0)
    code, res, _out, _t = run_module(gate_args(fake, ready_timeout_s=10), monkeypatch, capsys)
    assert code == 0, res['msg']
    assert res['readiness']['attempts'] >= 2 and res['readiness']['waited_s'] >= 0.5


def test_without_tokenize_calibrates_from_usage(fake, monkeypatch, capsys):
    fake.configure(no_tokenize=True)
    code, res, _out, _t = run_module(gate_args(fake, prompt_tokens=50), monkeypatch, capsys)
    assert code == 0, res['msg']
    assert res['prompt']['source'] == 'usage.prompt_tokens'
    assert abs(res['prompt']['measured']['mean'] - 50) <= 3


@pytest.mark.parametrize('args, text', [
    ({'mode': 'open'}, 'rate'),
    ({'api': 'grpc'}, 'completions, chat'),
    ({'concurrency': 0}, 'concurrency=0 is invalid: it must be an integer >= 1'),
    ({'max_error_rate': 2}, 'max_error_rate=2.0 is invalid: it must be a fraction from 0 to 1'),
    ({'stream': False, 'max_ttft_p95_ms': 100}, 'max_ttft_p95_ms needs stream: true'),
    ({'url': 'localhost:8000'}, 'must start with http:// or https://'),
    ({'url': 'http://127.0.0.1:8000/v1'}, 'without /v1'),
    ({'rate': 5}, 'rate is only used with mode: open'),
    ({'concurrency': 'many'}, 'concurrency'),
    ({'bogus_option': 1}, 'bogus_option'),
    ({'mode': 'open', 'rate': 0}, 'rate=0.0 is invalid: it must be a number > 0 (requests per second)'),
    ({'mode': 'capacity', 'max_ttft_p95_ms': 100, 'capacity_max_rate': 0},
     'capacity_max_rate=0.0 is invalid: it must be a number > 0 (requests per second)'),
    ({'mode': 'open', 'rate': 'nan'}, 'rate=nan is invalid: it must be a number > 0'),
    ({'mode': 'open', 'rate': -3}, 'rate=-3.0 is invalid'),
    ({'trials': 0}, 'trials=0 is invalid: it must be an integer >= 1'),
    ({'slos': {'max_ttft_p95': 100}}, 'slos has unknown SLO name max_ttft_p95; known SLOs: min_output_tokens_per_s,'),
    ({'slos': {'max_ttft_p95_ms': 100}, 'max_ttft_p95_ms': 200}, 'max_ttft_p95_ms given both as an option and in slos'),
    ({'slos': {'max_error_rate': 3}}, 'slos.max_error_rate=3.0 is invalid: it must be a fraction from 0 to 1'),
    ({'mode': 'capacity', 'min_output_tokens_per_s': 10}, 'mode: capacity needs a latency SLO'),
    ({'mode': 'capacity', 'max_ttft_p95_ms': 100, 'duration_s': 5}, 'leave duration_s and num_requests unset'),
    ({'mode': 'capacity', 'max_ttft_p95_ms': 100, 'capacity_precision': 0}, 'capacity_precision=0.0 is invalid'),
    ({'mode': 'capacity', 'max_ttft_p95_ms': 100, 'capacity_min_rate': 5, 'capacity_max_rate': 2},
     'capacity_min_rate=5.0 must be below capacity_max_rate=2.0'),
    ({'stream': False, 'slos': {'max_tpot_p95_ms': 10}}, 'max_tpot_p95_ms needs stream: true'),
    ({'url': 'http://a:1', 'urls': ['http://b:1']}, 'give either url or urls'),
])
def test_invalid_options(args, text, monkeypatch, capsys):
    code, res, _out, elapsed = run_module(args, monkeypatch, capsys)
    assert code == 1
    assert text in res['msg']
    assert elapsed < 2


@pytest.fixture(scope='module')
def tls_files(tmp_path_factory):
    d = tmp_path_factory.mktemp('tls')
    cert, key = str(d / 'cert.pem'), str(d / 'key.pem')
    subprocess.check_call(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert,
                           '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


def test_tls(tls_files, monkeypatch, capsys):
    cert, key = tls_files
    with FakeServerProcess({'token_delay_s': 0.001}, tls_cert=cert, tls_key=key) as srv:
        base = gate_args(srv, num_requests=10)
        code, res, _out, _t = run_module(base, monkeypatch, capsys)
        assert code == 1
        assert 'certificate' in res['msg'] and 'ca_path' in res['msg'] and 'validate_certs' in res['msg']
        code, res, _out, _t = run_module(dict(base, ca_path=cert), monkeypatch, capsys)
        assert code == 0, res['msg']
        assert res['url'].startswith('https://')
        code, res, _out, _t = run_module(dict(base, validate_certs=False), monkeypatch, capsys)
        assert code == 0, res['msg']
        code, res, _out, elapsed = run_module(dict(base, url=srv.url.replace('https', 'http'), ready_timeout_s=1.0),
                                              monkeypatch, capsys)
        assert code == 1 and elapsed < 4
        assert 'not ready' in res['msg'] and 'https://' in res['msg']


def test_https_to_a_plain_http_port(fake, monkeypatch, capsys):
    code, res, _out, elapsed = run_module(gate_args(fake, url=fake.url.replace('http', 'https')), monkeypatch, capsys)
    assert code == 1
    assert 'TLS handshake' in res['msg'] and 'use http://' in res['msg']
    assert elapsed < 5
