#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: throughput
short_description: Throughput gate for a vLLM OpenAI-compatible endpoint
description:
  - Drives real load through the OpenAI-compatible API of a vLLM instance (C(/v1/completions) or
    C(/v1/chat/completions), streamed or not), measures it and compares it with service level objectives (SLOs).
    The task fails with one line per missed SLO (measured value, threshold, sample count).
  - Readiness first - C(/health), C(/v1/models) listing I(model), and C(max_model_len) covering
    I(prompt_tokens) + I(output_tokens).
  - Prompts have I(prompt_tokens) tokens without a client tokenizer (the server's C(/tokenize) when present,
    else calibration from C(usage.prompt_tokens)). Output length is forced (C(ignore_eos), C(min_tokens) = C(max_tokens))
    and checked against C(usage.completion_tokens). Tokens are counted from the server's C(usage)
    (C(include_usage), C(continuous_usage_stats)); one token per SSE chunk is only a reported fallback for servers
    that send no usage.
  - "Metrics: TTFT, ITL ((last token time - first token time) / (tokens - 1) per request), TPOT (E2E / tokens),
    E2E latency with p50/p90/p95/p99 and sample counts; requests/s, output and total tokens/s; errors by kind;
    goodput against the latency SLOs."
  - Cross-check - the server's C(/metrics) (C(vllm:generation_tokens_total), C(vllm:prompt_tokens_total),
    C(vllm:request_success_total)) is read before and after the measured window; the client's counts must agree.
  - Client self-check - its own CPU use, event-loop lag, lateness against the arrival schedule and achieved
    against asked concurrency. When the client was the bottleneck the verdict is C(inconclusive) (see I(on_inconclusive)),
    never a false pass or fail.
  - The load engine is standard-library asyncio (HTTP/1.1 keep-alive pool, chunked decoding, SSE); it runs on the
    managed node, so run the task where the client has spare CPU (for example C(delegate_to) a separate host).
  - Always returns C(changed=false). In check mode only readiness and configuration are checked; no load is sent.
version_added: 0.1.0
author:
  - inferops.vllm contributors (@inferops)
options:
  url:
    description: Base URL of the OpenAI-compatible server, without C(/v1).
    type: str
    default: http://127.0.0.1:8000
  model:
    description:
      - Served model name. When omitted, the only model listed by C(/v1/models) is used.
    type: str
  api:
    description: Which API to load.
    type: str
    choices: [completions, chat]
    default: completions
  stream:
    description: Stream responses (SSE). TTFT and ITL are only measured when streaming.
    type: bool
    default: true
  mode:
    description:
      - C(closed) keeps I(concurrency) requests in flight.
      - C(open) sends requests at I(rate) per second whatever the server does (I(arrival) spacing).
    type: str
    choices: [closed, open]
    default: closed
  concurrency:
    description:
      - Closed loop - requests kept in flight (default 16).
      - Open loop - upper bound on requests in flight (default 1024); arrivals that find it full wait and are reported.
    type: int
  rate:
    description: Open loop arrival rate in requests per second. Required when I(mode=open).
    type: float
  arrival:
    description: Open loop spacing of arrivals.
    type: str
    choices: [constant, poisson]
    default: poisson
  duration_s:
    description:
      - Length of the measured window in seconds. With I(num_requests) as well, whichever comes first ends it.
      - When neither is set, 60 seconds. Requests in flight at the end are completed, not counted as failures.
    type: float
  num_requests:
    description: Number of measured requests.
    type: int
  warmup_requests:
    description: Requests sent before the measured window and excluded from every figure.
    type: int
    default: 8
  prompt_tokens:
    description: Prompt length in tokens of every request.
    type: int
    default: 128
  output_tokens:
    description: Output length in tokens of every request (forced with C(ignore_eos) and C(min_tokens)).
    type: int
    default: 128
  request_timeout_s:
    description: Limit for one request, from sending to the last byte. A request over it counts as a C(timeout) error.
    type: float
    default: 60
  ready_timeout_s:
    description: How long to wait for C(/health) and C(/v1/models) before failing.
    type: float
    default: 120
  api_key:
    description: API key sent as C(Authorization Bearer) (vLLM C(--api-key)).
    type: str
  headers:
    description: Extra HTTP headers sent with every request (values are not logged).
    type: dict
  ca_path:
    description: PEM CA bundle to verify the server's certificate with.
    type: path
  validate_certs:
    description: Verify the TLS certificate of an C(https) I(url).
    type: bool
    default: true
  metrics_url:
    description:
      - Prometheus endpoint of the same instance for the cross-check. Defaults to I(url) + C(/metrics).
      - Set it when a proxy in front of several instances answers I(url).
    type: str
  cross_check:
    description:
      - Compare the client's counts with the server's C(/metrics). When true and C(/metrics) is unreachable the
        I(max_token_mismatch) SLO is inconclusive.
    type: bool
    default: true
  min_output_tokens_per_s:
    description: SLO - minimum output tokens per second over the measured window.
    type: float
  min_total_tokens_per_s:
    description: SLO - minimum prompt + output tokens per second.
    type: float
  min_requests_per_s:
    description: SLO - minimum completed requests per second.
    type: float
  max_ttft_p95_ms:
    description: SLO - maximum 95th percentile of time to first token, in ms (needs I(stream)). Also a goodput criterion.
    type: float
  max_itl_p95_ms:
    description: SLO - maximum 95th percentile of the per-request inter-token latency, in ms (needs I(stream)).
    type: float
  max_tpot_p95_ms:
    description: SLO - maximum 95th percentile of time per output token (E2E / tokens), in ms.
    type: float
  max_e2e_p95_ms:
    description: SLO - maximum 95th percentile of end-to-end request latency, in ms.
    type: float
  max_error_rate:
    description: SLO - maximum share of failed requests (0 to 1).
    type: float
    default: 0.0
  max_token_mismatch:
    description:
      - SLO - maximum relative difference between the client's and the server's counts of output tokens, prompt
        tokens and completed requests (0 = exact).
    type: float
    default: 0.0
  min_goodput_ratio:
    description: SLO - minimum share of completed requests that meet every latency threshold set (0 to 1).
    type: float
  on_inconclusive:
    description: What an C(inconclusive) verdict does to the task.
    type: str
    choices: [fail, warn]
    default: fail
  client_max_cpu:
    description: Client CPU use (share of one core over the window) from which the client counts as the bottleneck.
    type: float
    default: 0.9
  client_max_lag_ms:
    description: Event-loop lag p95 and open-loop lateness p95 (ms) from which the client counts as the bottleneck.
    type: float
    default: 20.0
  host_cost_per_hour:
    description: Cost of the host per hour (any currency); the result gives the cost per 1M tokens at the measured rate.
    type: float
  report_dir:
    description: Directory for the reports C(NAME.json), C(NAME.junit.xml) (one test case per SLO) and C(NAME.md).
    type: path
  report_name:
    description: Base name of the report files.
    type: str
    default: throughput
  seed:
    description:
      - Seed of the prompt generator. Default is random, so that repeated runs do not hit the server's prefix cache.
    type: int
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - The verdict is C(inconclusive) rather than pass/fail for a result the client could have caused. A missed
    throughput minimum, any latency SLO and a met error-rate SLO are not trusted when the client was saturated;
    a met throughput minimum, a missed error rate and the count cross-check stand.
  - A p95 needs at least 100 samples (five beyond the percentile); with fewer the SLO is inconclusive.
'''

EXAMPLES = r'''
- name: Gate the instance on its own port
  inferops.vllm.throughput:
    url: http://127.0.0.1:8000
    model: granite-3b
    concurrency: 16
    duration_s: 60
    prompt_tokens: 512
    output_tokens: 128
    min_output_tokens_per_s: 400
    max_ttft_p95_ms: 2000
    max_itl_p95_ms: 150
    host_cost_per_hour: 3.2
    report_dir: /var/tmp/vllm-gate
    report_name: "{{ inventory_hostname }}"

- name: Open loop at 4 requests/s, chat API, TLS and an API key, from the control node
  inferops.vllm.throughput:
    url: "https://{{ inventory_hostname }}:8443"
    api: chat
    mode: open
    rate: 4
    arrival: poisson
    num_requests: 400
    api_key: "{{ vllm_api_key }}"
    ca_path: /etc/pki/tls/certs/internal-ca.pem
    max_e2e_p95_ms: 8000
    on_inconclusive: warn
  delegate_to: localhost

- name: Readiness only
  inferops.vllm.throughput:
    url: http://127.0.0.1:8000
  check_mode: true
'''

RETURN = r'''
verdict:
  description: pass, fail, inconclusive, not_run (check mode) or error (readiness/configuration problem).
  returned: always
  type: str
  sample: pass
msg:
  description: One-line summary, or one line per missed or inconclusive SLO.
  returned: always
  type: str
  sample: "throughput gate passed: http://127.0.0.1:8000 tiny: 812.3 output tok/s, 6.35 req/s, 381 requests, error rate 0.0"
url:
  description: Base URL used.
  returned: always
  type: str
  sample: http://127.0.0.1:8000
model:
  description: Served model name used.
  returned: when the server answered /v1/models
  type: str
  sample: tiny
api:
  description: API loaded.
  returned: always
  type: str
  sample: completions
stream:
  description: Whether responses were streamed.
  returned: always
  type: bool
  sample: true
mode:
  description: closed or open loop.
  returned: always
  type: str
  sample: closed
seed:
  description: Seed of the prompt generator (give it back as I(seed) to repeat the prompts).
  returned: always
  type: int
  sample: 3141592
readiness:
  description: Result of the readiness wait.
  returned: when the server became ready
  type: dict
  contains:
    health:
      description: ok (200) or absent (no /health endpoint).
      type: str
      sample: ok
    attempts:
      description: Polls made.
      type: int
      sample: 1
    waited_s:
      description: Seconds until ready.
      type: float
      sample: 0.004
    served_models:
      description: Models listed by /v1/models.
      type: list
      elements: str
      sample: [tiny]
    model:
      description: Model chosen.
      type: str
      sample: tiny
    max_model_len:
      description: Context length reported by /v1/models (null when not reported).
      type: int
      sample: 2048
metrics_probe:
  description: Whether /metrics answered with vLLM metrics before the run.
  returned: when the server became ready
  type: dict
  contains:
    available:
      description: True when vllm:generation_tokens_total was found.
      type: bool
      sample: true
    url:
      description: Metrics URL.
      type: str
      sample: http://127.0.0.1:8000/metrics
    models:
      description: model_name label values found.
      type: list
      elements: str
      sample: [tiny]
    reason:
      description: Why it is not available.
      type: str
      sample: GET http://127.0.0.1:8000/metrics answered HTTP 404
config:
  description: Effective load settings (defaults filled in).
  returned: when the server became ready
  type: dict
  sample: {concurrency: 16, duration_s: 60.0, num_requests: null, prompt_tokens: 128, output_tokens: 128}
prompt:
  description: Prompt calibration.
  returned: unless check mode
  type: dict
  contains:
    target_tokens:
      description: I(prompt_tokens).
      type: int
      sample: 128
    source:
      description: tokenize or usage.prompt_tokens.
      type: str
      sample: tokenize
    words:
      description: Words per prompt.
      type: int
      sample: 127
    tokens_per_word:
      description: Calibrated slope.
      type: float
      sample: 1.0
    overhead_tokens:
      description: Fixed tokens (BOS, chat template).
      type: float
      sample: 1.0
    measured:
      description: Prompt tokens per request from usage (count, mean, min, max).
      type: dict
      sample: {count: 381, mean: 128.0, min: 128, max: 128}
warmup:
  description: Warm-up requests and their errors (excluded from all figures).
  returned: when warmup_requests > 0 and not check mode
  type: dict
  sample: {requests: 8, failed: 0, errors: {}}
window:
  description:
    - Measured window (first send to last completion), issuing time and drain time in seconds, and the window's
      start and end as Unix time (to line it up with server logs and dashboards).
  returned: unless check mode
  type: dict
  sample: {duration_s: 60.41, issue_s: 60.0, drain_s: 0.41, start_epoch: 1767225600.125, end_epoch: 1767225660.535}
requests:
  description: Request counts.
  returned: unless check mode
  type: dict
  contains:
    total:
      description: Requests measured.
      type: int
      sample: 400
    completed:
      description: Requests that succeeded with the asked output length.
      type: int
      sample: 398
    failed:
      description: Failed requests.
      type: int
      sample: 2
    errors:
      description: Failures by kind (connect, tls, timeout, disconnect, http_NNN, stream_error, bad_response, output_length).
      type: dict
      sample: {http_500: 2}
    error_examples:
      description: First message seen for each kind.
      type: dict
      sample: {http_500: "HTTP 500 (Internal server error)"}
    error_rate:
      description: failed / total.
      type: float
      sample: 0.005
    stopped_early:
      description: Set when the run stopped because every one of the first requests failed.
      type: str
      sample: stopped after the first 20 requests all failed (http_500 20)
throughput:
  description: Rates over the measured window.
  returned: unless check mode
  type: dict
  sample: {requests_per_s: 6.3, output_tokens_per_s: 806.4, total_tokens_per_s: 1612.8, prompt_tokens_per_s: 806.4}
latency_ms:
  description: ttft, itl, tpot and e2e, each with count, mean, min, p50, p90, p95, p99, max in ms.
  returned: unless check mode
  type: dict
  sample: {ttft: {count: 398, mean: 41.2, min: 20.1, p50: 38.0, p90: 60.2, p95: 71.9, p99: 90.3, max: 101.0}}
tokens:
  description: Token accounting (totals, length mismatches, usage vs chunk-count fallback, malformed SSE events).
  returned: unless check mode
  type: dict
  sample: {output_total: 50944, prompt_total: 50944, output_per_request: 128, length_mismatches: 0,
           counted_from: {usage: 398, chunks: 0}, malformed_sse_events: 0, streams_without_done: 0}
goodput:
  description: Completed requests that met every latency threshold set (per request), as a ratio and rates.
  returned: unless check mode
  type: dict
  sample: {criteria_ms: {max_ttft_p95_ms: 500}, good_requests: 390, completed_requests: 398, ratio: 0.98,
           requests_per_s: 6.2, output_tokens_per_s: 790.2}
client:
  description: Client self-check.
  returned: unless check mode
  type: dict
  contains:
    cpu_s:
      description: CPU seconds of the client's event-loop thread in the window.
      type: float
      sample: 1.9
    cpu_util:
      description: Share of one core.
      type: float
      sample: 0.03
    loop_lag_ms:
      description: Event-loop lag distribution (ms).
      type: dict
      sample: {count: 6000, p50: 0.1, p95: 0.4}
    concurrency:
      description: Asked, achieved mean and maximum requests in flight.
      type: dict
      sample: {asked: 16, achieved_mean: 15.9, max_in_flight: 16}
    schedule_lateness_ms:
      description: Open loop - how late requests left against their schedule.
      type: dict
      sample: {count: 400, p50: 0.2, p95: 0.9}
    rate:
      description: Open loop - asked and achieved arrival rate.
      type: dict
      sample: {asked: 4.0, achieved: 3.98, arrival: poisson}
    saturated:
      description: True when the client was the bottleneck.
      type: bool
      sample: false
    reasons:
      description: Why the client counts as saturated.
      type: list
      elements: str
      sample: []
cross_check:
  description: Client counts against the server's /metrics deltas.
  returned: unless check mode
  type: dict
  contains:
    available:
      description: Whether the cross-check ran.
      type: bool
      sample: true
    exact:
      description: False when failed requests may have generated tokens the client did not see (client counts become bounds).
      type: bool
      sample: true
    counts:
      description: output_tokens, prompt_tokens, requests - client, server, difference, relative.
      type: dict
      sample: {output_tokens: {client: 50944, server: 50944, difference: 0, relative: 0.0}}
    mismatch:
      description: Largest relative difference.
      type: float
      sample: 0.0
    ok:
      description: True when every count agrees.
      type: bool
      sample: true
    server:
      description: Server-side deltas (counters, finished reasons, histogram means and bucket bounds, prefix cache hit rate).
      type: dict
      sample: {generation_tokens: 50944, requests_success: 398, prefix_cache_hit_rate: 0.0}
    metrics_url:
      description: Metrics URL.
      type: str
      sample: http://127.0.0.1:8000/metrics
    reason:
      description: Why it is not available.
      type: str
      sample: GET http://127.0.0.1:8000/metrics answered HTTP 404
    note:
      description: Caveats (failed requests, missing metrics, server restart).
      type: str
      sample: 2 failed requests may have generated tokens the client did not see
cost:
  description: Cost per 1M output and total tokens at the measured rates.
  returned: when host_cost_per_hour is set and not check mode
  type: dict
  sample: {host_cost_per_hour: 3.2, per_1m_output_tokens: 1.102, per_1m_total_tokens: 0.551}
slos:
  description: One entry per SLO set.
  returned: unless check mode
  type: list
  elements: dict
  contains:
    name:
      description: Option name.
      type: str
      sample: max_ttft_p95_ms
    label:
      description: What is measured.
      type: str
      sample: TTFT p95
    measured:
      description: Measured value.
      type: float
      sample: 71.9
    threshold:
      description: The option's value.
      type: float
      sample: 500
    samples:
      description: Samples behind the value.
      type: int
      sample: 398
    status:
      description: pass, fail or inconclusive.
      type: str
      sample: pass
    message:
      description: One line with measured value, threshold and samples.
      type: str
      sample: "TTFT p95: measured 71.9 ms, required <= 500 ms (max_ttft_p95_ms), 398 samples"
gate_warnings:
  description: The warnings of this run (also emitted as Ansible warnings), e.g. usage missing, malformed SSE events.
  returned: always
  type: list
  elements: str
  sample: ["3 SSE events were not valid JSON and were skipped; token counts fell back to the remaining usage"]
reports:
  description: Paths of the reports written.
  returned: when report_dir is set
  type: dict
  sample: {json: /var/tmp/gate/throughput.json, junit: /var/tmp/gate/throughput.junit.xml, markdown: /var/tmp/gate/throughput.md}
'''

import traceback

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.inferops.vllm.plugins.module_utils.loadgen import GateError, run_gate
from ansible_collections.inferops.vllm.plugins.module_utils.gate_report import ReportError, write_reports

SLO_FLOAT = ('min_output_tokens_per_s', 'min_total_tokens_per_s', 'min_requests_per_s', 'max_ttft_p95_ms',
             'max_itl_p95_ms', 'max_tpot_p95_ms', 'max_e2e_p95_ms', 'max_error_rate', 'max_token_mismatch',
             'min_goodput_ratio')


def argument_spec():
    spec = dict(
        url=dict(type='str', default='http://127.0.0.1:8000'),
        model=dict(type='str'),
        api=dict(type='str', choices=['completions', 'chat'], default='completions'),
        stream=dict(type='bool', default=True),
        mode=dict(type='str', choices=['closed', 'open'], default='closed'),
        concurrency=dict(type='int'),
        rate=dict(type='float'),
        arrival=dict(type='str', choices=['constant', 'poisson'], default='poisson'),
        duration_s=dict(type='float'),
        num_requests=dict(type='int'),
        warmup_requests=dict(type='int', default=8),
        prompt_tokens=dict(type='int', default=128, no_log=False),
        output_tokens=dict(type='int', default=128, no_log=False),
        request_timeout_s=dict(type='float', default=60.0),
        ready_timeout_s=dict(type='float', default=120.0),
        api_key=dict(type='str', no_log=True),
        headers=dict(type='dict', no_log=True),
        ca_path=dict(type='path'),
        validate_certs=dict(type='bool', default=True),
        metrics_url=dict(type='str'),
        cross_check=dict(type='bool', default=True),
        on_inconclusive=dict(type='str', choices=['fail', 'warn'], default='fail'),
        client_max_cpu=dict(type='float', default=0.9),
        client_max_lag_ms=dict(type='float', default=20.0),
        host_cost_per_hour=dict(type='float'),
        report_dir=dict(type='path'),
        report_name=dict(type='str', default='throughput'),
        seed=dict(type='int'),
    )
    for name in SLO_FLOAT:
        spec[name] = dict(type='float', no_log=False)  # 'token' in a name is not a secret
    spec['max_error_rate']['default'] = 0.0
    spec['max_token_mismatch']['default'] = 0.0
    return spec


def validate(p):
    """Return an error message naming the option and the accepted values, or None."""
    checks = (
        ('concurrency', lambda v: v >= 1, 'an integer >= 1'),
        ('rate', lambda v: v > 0, 'a number > 0 (requests per second)'),
        ('duration_s', lambda v: v > 0, 'a number of seconds > 0'),
        ('num_requests', lambda v: v >= 1, 'an integer >= 1'),
        ('warmup_requests', lambda v: v >= 0, 'an integer >= 0'),
        ('prompt_tokens', lambda v: v >= 1, 'an integer >= 1'),
        ('output_tokens', lambda v: v >= 1, 'an integer >= 1'),
        ('request_timeout_s', lambda v: v > 0, 'a number of seconds > 0'),
        ('ready_timeout_s', lambda v: v >= 0, 'a number of seconds >= 0'),
        ('max_error_rate', lambda v: 0 <= v <= 1, 'a fraction from 0 to 1'),
        ('max_token_mismatch', lambda v: v >= 0, 'a fraction >= 0 (0 = exact)'),
        ('min_goodput_ratio', lambda v: 0 <= v <= 1, 'a fraction from 0 to 1'),
        ('client_max_cpu', lambda v: 0 < v <= 1, 'a fraction of one core, above 0 and at most 1'),
        ('client_max_lag_ms', lambda v: v > 0, 'a number of ms > 0'),
        ('host_cost_per_hour', lambda v: v >= 0, 'a number >= 0'),
    )
    for name, ok, accepted in checks:
        v = p.get(name)
        if v is not None and not ok(v):
            return '%s=%s is invalid: it must be %s' % (name, v, accepted)
    for name in ('min_output_tokens_per_s', 'min_total_tokens_per_s', 'min_requests_per_s', 'max_ttft_p95_ms',
                 'max_itl_p95_ms', 'max_tpot_p95_ms', 'max_e2e_p95_ms'):
        if p.get(name) is not None and p[name] < 0:
            return '%s=%s is invalid: it must be a number >= 0' % (name, p[name])
    if not p['stream']:
        for name in ('max_ttft_p95_ms', 'max_itl_p95_ms'):
            if p.get(name) is not None:
                return '%s needs stream: true (time to first token and inter-token latency are only seen in a stream)' % name
    if p.get('max_itl_p95_ms') is not None and p['output_tokens'] < 2:
        return 'max_itl_p95_ms needs output_tokens >= 2 (ITL is the time between first and last token)'
    if p['mode'] == 'closed' and p.get('rate') is not None:
        return 'rate is only used with mode: open (mode: closed keeps concurrency requests in flight)'
    url = p['url'] or ''
    if not (url.startswith('http://') or url.startswith('https://')):
        return 'url=%s is invalid: it must start with http:// or https:// (for example http://127.0.0.1:8000)' % url
    if url.rstrip('/').endswith('/v1'):
        return 'url=%s: give the base URL without /v1 (for example http://127.0.0.1:8000)' % url
    return None


def main():
    module = AnsibleModule(argument_spec=argument_spec(), required_if=[('mode', 'open', ['rate'])],
                           supports_check_mode=True)
    p = module.params
    err = validate(p)
    if err:
        module.fail_json(msg=err, changed=False, verdict='error')
    opts = dict((k, v) for k, v in p.items() if k not in ('report_dir', 'report_name'))
    try:
        result = run_gate(opts, check_mode=module.check_mode)
    except GateError as exc:
        result = dict(exc.result)
        result['verdict'] = 'error'
        result['msg'] = exc.message
        _finish(module, result, failed=True)
        return
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg='throughput gate crashed: %s (please report it)' % (exc,), changed=False,
                         verdict='error', exception=traceback.format_exc())
        return
    failed = result['verdict'] == 'fail' or (result['verdict'] == 'inconclusive' and p['on_inconclusive'] == 'fail')
    _finish(module, result, failed)


def _finish(module, result, failed):
    p = module.params
    warnings = result.pop('warnings', []) or []
    if result.get('verdict') == 'inconclusive' and not failed:
        warnings.append(result['msg'])
    if p['report_dir'] and not module.check_mode:
        try:
            result['reports'] = write_reports(dict(result, warnings=warnings), p['report_dir'], p['report_name'])
        except ReportError as exc:
            module.fail_json(changed=False, **dict(result, msg='%s (gate verdict: %s)' % (exc, result.get('verdict'))))
    for w in warnings:
        module.warn(w)
    result['gate_warnings'] = warnings
    result['changed'] = False
    if failed:
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
