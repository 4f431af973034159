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
  - "Latency words mean what C(vllm bench serve) means. A request starts at its scheduled send time in an open loop
    (so a queue the server builds, or the in-flight cap, shows in the latency: no coordinated omission) and when it
    is sent in a closed loop. TTFT = first token - start. E2E = end of the response - start.
    TPOT = (E2E - TTFT) / (output tokens - 1), one value per request. ITL = every gap between successive tokens of
    every request, pooled (a gap that brought k tokens counts as k gaps of gap/k), so one stalled stream shows in
    its p99.9 and max. Each has count, mean, min, p50, p90, p95, p99, p99_9, max and C(few_samples), the percentiles
    resting on fewer than five samples beyond them (a p99 needs 500, a p99.9 5,000)."
  - "Goodput = requests that completed and met every per-request latency SLO (TTFT, TPOT, E2E) / requests issued;
    failed requests count against it."
  - "I(mode=capacity) finds capacity at SLO: the highest offered rate (open loop) at which every latency, error and
    goodput SLO holds. A short closed-loop probe gives the starting rate; the rate doubles while steps pass and
    halves while they fail, then the bracket is bisected until it is narrower than I(capacity_precision) or
    I(capacity_budget_s) runs out. Each step lasts I(capacity_step_s); its first 20% is its warm-up and left out.
    Throughput SLOs are then judged at capacity, and the cost per 1M tokens is computed at capacity."
  - Cross-check - the server's C(/metrics) (C(vllm:generation_tokens_total), C(vllm:prompt_tokens_total),
    C(vllm:request_success_total)) is read before and after the measured window; the client's counts must agree.
  - Client self-check - its own CPU use, event-loop lag, lateness against the arrival schedule, its in-flight cap
    against the rate x unloaded E2E an open loop needs, its own failures (file descriptors) and achieved against asked
    concurrency. When the client was the bottleneck the verdict is C(inconclusive) (see I(on_inconclusive)), never a
    false pass or fail; when sends fall behind because the server does not finish requests, the latency timed from
    the schedule shows it and the SLO fails.
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
  urls:
    description:
      - Several base URLs loaded together (a host's instances), requests spread round-robin, so an open-loop rate
        is split evenly. Replaces I(url). Their C(/metrics) counters are summed for the cross-check.
    type: list
    elements: str
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
      - C(capacity) searches the highest rate at which every SLO holds (see the description); needs a latency SLO.
    type: str
    choices: [closed, open, capacity]
    default: closed
  concurrency:
    description:
      - Closed loop - requests kept in flight (default 16).
      - Open loop and capacity steps - upper bound on requests in flight. By default it is derived from the rate
        times the E2E of the warm-up requests, times 4 (at least 16, at most 4096; 1024 without warm-up). An arrival
        that finds it full waits and keeps its scheduled time. When the cap is below rate x the unloaded E2E (the
        warm-up's median, or the fastest request), the client is to blame and the result is inconclusive.
    type: int
  rate:
    description: Open loop arrival rate in requests per second (sessions per second with I(profile)). Required when I(mode=open).
    type: float
  arrival:
    description: Open loop spacing of arrivals.
    type: str
    choices: [constant, poisson]
    default: poisson
  burstiness:
    description:
      - With I(arrival=poisson), the shape of gamma-distributed gaps between arrivals, as in C(vllm bench serve)
        (1 is Poisson, below 1 burstier, above 1 more regular).
    type: float
    default: 1.0
  duration_s:
    description:
      - Length of the measured window in seconds. With I(num_requests) as well, whichever comes first ends it.
      - When neither is set, 60 seconds. Requests in flight at the end are completed, not counted as failures.
      - Open loop - arrivals due before the end are still sent (late) for up to I(request_timeout_s); the ones still
        waiting then count as C(unsent) failures, never dropped.
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
  stall_timeout_s:
    description:
      - Idle limit of one response once its first byte arrived - no byte for this long is a C(stall) error, whatever
        I(request_timeout_s) still allows.
    type: float
    default: 30
  ready_timeout_s:
    description: How long to wait for C(/health) and C(/v1/models) before failing.
    type: float
    default: 120
  refused_timeout_s:
    description:
      - How long a refused connection (nothing listens on the port) is retried before the gate says the server is
        down. A server that answers C(/health) with an error is waited for up to I(ready_timeout_s).
    type: float
    default: 10
  trials:
    description:
      - Repeat the measurement (or the capacity search) this many times. Results give the mean and 95% confidence
        interval of throughput, latency and capacity; a pass whose interval reaches across an SLO is C(inconclusive).
    type: int
    default: 1
  capacity_precision:
    description: I(mode=capacity) - stop when the failing rate is within this fraction above the passing one.
    type: float
    default: 0.05
  capacity_budget_s:
    description: I(mode=capacity) - time for the probe and the steps; the search reports where it got when it runs out.
    type: float
    default: 300
  capacity_step_s:
    description: I(mode=capacity) - length of one step at one rate (its first 20% is its warm-up).
    type: float
    default: 10
  capacity_start_rate:
    description: I(mode=capacity) - first rate to try (requests/s; sessions/s with I(profile)); by default the rate of a closed-loop probe.
    type: float
  capacity_min_rate:
    description: I(mode=capacity) - lowest rate tried; below it the gate fails (default start rate / 64).
    type: float
  capacity_max_rate:
    description: I(mode=capacity) - highest rate tried (default start rate x 64).
    type: float
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
    type: str
  metrics_urls:
    description:
      - Prometheus endpoints whose counters together account for the load, e.g. every instance behind a front port
        that answers I(url). Their deltas are summed for the cross-check. Replaces I(metrics_url).
    type: list
    elements: str
  cross_check:
    description:
      - Compare the client's counts with the server's C(/metrics). When true and C(/metrics) is unreachable the
        I(max_token_mismatch) SLO is inconclusive.
    type: bool
    default: true
  slos:
    description:
      - All SLOs as one dict, keyed by the SLO option names below (what the validate role passes as C(validate_slos)).
      - Naming an SLO both here and as its own option is refused.
    type: dict
  min_output_tokens_per_s:
    description:
      - SLO - minimum output tokens per second over the measured window (in mode capacity, at capacity).
    type: float
  min_total_tokens_per_s:
    description:
      - SLO - minimum prompt + output tokens per second (in mode capacity, at capacity).
    type: float
  min_requests_per_s:
    description:
      - SLO - minimum completed requests per second (in mode capacity, at capacity).
    type: float
  max_ttft_p95_ms:
    description:
      - SLO - maximum 95th percentile of time to first token in ms, from the scheduled send time in an open loop
        (needs stream); also a per-request goodput criterion.
    type: float
  max_itl_p95_ms:
    description:
      - SLO - maximum 95th percentile of inter-token latency in ms, pooled over every gap of every request (needs
        stream).
    type: float
  max_tpot_p95_ms:
    description:
      - SLO - maximum 95th percentile of time per output token in ms, (E2E - TTFT) / (tokens - 1) per request (needs
        stream); also a per-request goodput criterion.
    type: float
  max_e2e_p95_ms:
    description:
      - SLO - maximum 95th percentile of end-to-end request latency in ms; also a per-request goodput criterion.
    type: float
  max_error_rate:
    description:
      - SLO - maximum share of requests the server failed (0 to 1); client-side failures make the run inconclusive.
        When not set, 0.0.
    type: float
  max_token_mismatch:
    description:
      - SLO - maximum relative difference between the client's and the server's /metrics counts of output tokens,
        prompt tokens and completed requests (0 = exact). When not set, 0.0.
    type: float
  min_goodput_ratio:
    description:
      - SLO - minimum share of issued requests (failures included) that completed and met every per-request latency
        SLO.
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
    description:
      - Cost of the host per hour (any currency). The result gives the cost per 1M output and total tokens at capacity
        (I(mode=capacity)), else at the measured load (its C(basis) says which). Give it only to a run that loads the
        whole host (I(urls), or a front port), so the host is charged once.
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
      - With I(profile), the seed of its workload generator too - the same seed sends the same sessions again.
    type: int
  profile:
    description:
      - A workload profile (a dict of the profile schema of issue 15, for example a built-in of the validate role
        read with C(from_yaml)) whose work the gate drives instead of the fixed word prompt. It is validated first;
        an error names the field and the accepted values.
      - Each request's body comes from the profile's seeded generator - prompt text of its input length, its shared
        prefix, its output length (forced with C(ignore_eos) unless the answer is a tool call or a JSON document),
        its C(tools)/C(tool_choice) or C(response_format). I(prompt_tokens) and I(output_tokens) are then unused.
      - The profile sets I(api), I(arrival) and I(burstiness); its C(slos) apply unless an SLO is given as an option
        or in I(slos) (then only the given ones do).
      - Answers are checked - with tools, a tool call naming one of them with JSON-object arguments; with
        C(structured_output), a JSON document valid against its schema. A failed check is an error of kind
        C(invalid_output) (the server's side), counted in the error rate and against goodput.
      - The unit of work is a B(session) - its turns are sent in order, each after the previous answer and its think
        time, carrying the earlier turns with the real answers (chat API). A session of a single-turn profile is one
        request. So I(concurrency) (closed loop) is sessions in flight, I(num_requests) is sessions, and I(rate),
        I(capacity_start_rate), I(capacity_min_rate), I(capacity_max_rate) and the capacity found are B(sessions
        per second) (C(capacity.rate_unit=sessions_per_s)). Warm-up requests are first turns of sessions.
      - Every request carries the session key in the C(x-session-id) header and the body's C(user) field.
      - A profile with tools sends at least one warm-up request (one even with I(warmup_requests=0)); a server started
        without a tool-call parser refuses it with HTTP 400 and the gate fails there, naming the missing server flag
        (C(--tool-call-parser), and C(--enable-auto-tool-choice) for C(tool_choice=auto)).
    type: dict
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
  - The cross-check reads C(/metrics) once the servers are idle (running and waiting requests at 0, at most 10 s).
    When a server counted more requests than the gate sent (other traffic), the count SLO is inconclusive, not failed.
  - Errors are classified - the server's (HTTP errors, disconnects, timeouts, stalls, refused connections) count in
    the error rate; the client's own (C(client_resources) such as file descriptors, C(client_error)) make the run
    inconclusive.
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

- name: Capacity at SLO of a host with two instances loaded together, and its cost per 1M tokens there
  inferops.vllm.throughput:
    urls: [http://10.0.0.5:8100, http://10.0.0.5:8101]
    mode: capacity
    arrival: constant
    capacity_budget_s: 240
    slos:
      max_ttft_p95_ms: 1000
      max_tpot_p95_ms: 100
      max_error_rate: 0.01
    host_cost_per_hour: 3.2
    trials: 2
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
  description: closed, open or capacity.
  returned: always
  type: str
  sample: closed
urls:
  description: The base URLs loaded together, when I(urls) named several.
  returned: when several URLs were loaded
  type: list
  elements: str
  sample: [http://127.0.0.1:8100, http://127.0.0.1:8101]
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
    urls:
      description: Metrics URLs.
      type: list
      elements: str
      sample: [http://127.0.0.1:8000/metrics]
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
  description: Warm-up requests, their errors (excluded from all figures) and their median time in the server.
  returned: when warmup_requests > 0 and not check mode
  type: dict
  sample: {requests: 8, failed: 0, errors: {}, e2e_median_ms: 212.4}
tool_probe:
  description:
    - With a tool profile and I(warmup_requests=0) - the one request sent first to learn whether the server parses
      tool calls (a server without C(--tool-call-parser) fails the gate there, naming the flag); excluded from all
      figures.
  returned: when profile has tools, warmup_requests is 0 and not check mode
  type: dict
  sample: {requests: 1, failed: 0, errors: {}}
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
      description:
        - Failures by kind - the server's (connect, tls, timeout, stall, disconnect, http_NNN, stream_error, bad_response,
          output_length, unsent) and the client's (client_resources, client_error, unsent_client).
      type: dict
      sample: {http_500: 2}
    by_side:
      description: Failures caused by the server and by the client itself.
      type: dict
      sample: {server: 2, client: 0}
    error_examples:
      description: First message seen for each kind.
      type: dict
      sample: {http_500: "HTTP 500 (Internal server error)"}
    error_rate:
      description: Failures caused by the server / total.
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
  description:
    - ttft, itl, tpot and e2e (see the description for their definitions), each with count, mean, min, p50, p90, p95,
      p99, p99_9, max in ms, and few_samples (the percentiles with too few samples to trust).
    - With several I(trials), pooled over every request of every trial.
    - In I(mode=capacity), the figures of the step at capacity.
  returned: unless check mode
  type: dict
  sample: {ttft: {count: 398, mean: 41.2, min: 20.1, p50: 38.0, p90: 60.2, p95: 71.9, p99: 90.3, p99_9: 100.8, max: 101.0,
                  few_samples: [p99, p99_9]}}
schedule:
  description:
    - Open loop and capacity steps - offered against achieved rate, sends later than I(client_max_lag_ms)
      (late_sends), lateness distribution, the in-flight cap, waits for it, the in-flight count the rate needed at
      the unloaded E2E, and arrivals never sent.
  returned: in an open loop or capacity search
  type: dict
  sample: {offered_rate: 28.0, achieved_rate: 18.2, arrival: constant, burstiness: 1.0, late_sends: 412, late_limit_ms: 20.0,
           lateness_ms: {count: 540, p50: 2400.1, p95: 5010.2, max: 5390.7}, cap: 8, cap_waits: 431, cap_wait_s: 1210.4,
           in_flight_needed: 5.7, unsent: 0}
capacity:
  description:
    - I(mode=capacity) - the highest offered rate at which every SLO held (requests_per_s), the output and total
      tokens/s measured there, the SLO that broke above it (limiting_slo, limit), the final bracket, whether
      I(capacity_precision) was reached, why the search ended (converged, budget, below_min, at_max, inconclusive),
      the probe, and every step (rate, verdict, achieved rate, p95 latencies, output tokens/s, failing SLOs) - the
      latency/throughput curve.
    - With several I(trials), requests_per_s and output_tokens_per_s are the trials' mean and C(trials) gives the interval.
  returned: in mode capacity
  type: dict
  sample: {requests_per_s: 19.1, output_tokens_per_s: 1222.4, total_tokens_per_s: 3667.2, limiting_slo: max_ttft_p95_ms,
           bracket: [19.1, 20.0], precision: 0.05, precision_reached: true, ended: converged,
           steps: [{step: 1, rate: 17.9, verdict: pass, ttft_p95_ms: 71.2, output_tokens_per_s: 1145.6}]}
trials:
  description: With I(trials) > 1 - per figure, the number of trials, mean, 95% confidence interval and each value.
  returned: when trials > 1
  type: dict
  sample: {n: 3, figures: {output_tokens_per_s: {n: 3, mean: 812.0, ci95: [790.1, 833.9], half_width: 21.9,
                                                 values: [801.2, 815.3, 819.5]}}}
tokens:
  description: Token accounting (totals, length mismatches, usage vs chunk-count fallback, malformed SSE events).
  returned: unless check mode
  type: dict
  sample: {output_total: 50944, prompt_total: 50944, output_per_request: 128, length_mismatches: 0,
           counted_from: {usage: 398, chunks: 0}, malformed_sse_events: 0, streams_without_done: 0}
goodput:
  description: Requests that completed and met every per-request latency SLO set, over the requests issued, and rates.
  returned: unless check mode
  type: dict
  sample: {criteria_ms: {max_ttft_p95_ms: 500}, good_requests: 390, issued_requests: 400, ratio: 0.975,
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
    metrics_urls:
      description: Metrics URLs whose deltas were summed.
      type: list
      elements: str
      sample: [http://127.0.0.1:8000/metrics]
    foreign_requests:
      description: Requests the servers counted beyond what the gate sent (other traffic); the count SLO is then inconclusive.
      type: int
      sample: 12
    reason:
      description: Why it is not available.
      type: str
      sample: GET http://127.0.0.1:8000/metrics answered HTTP 404
    note:
      description: Caveats (failed requests, missing metrics, server restart).
      type: str
      sample: 2 failed requests may have generated tokens the client did not see
cost:
  description:
    - Cost per 1M output and total tokens - host cost per hour / tokens per hour. C(basis) is C(capacity) in
      I(mode=capacity) (the figure to compare hosts by) and C(measured load) otherwise.
  returned: when host_cost_per_hour is set and not check mode
  type: dict
  sample: {host_cost_per_hour: 3.2, per_1m_output_tokens: 1.102, per_1m_total_tokens: 0.551, basis: capacity}
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
profile:
  description:
    - With I(profile) - its name, kind, API and what an answer must be (C(expects) tool_call, json or text), the
      answers checked and the share valid (C(valid_rate); null for text answers, which are not checked), the
      C(invalid_output) count and one example message, sessions started (warm-up included), its turns, think time,
      shared prefix and arrival, C(rate_unit) (sessions_per_s), and TTFT of the first turns of sessions against
      their later turns (count, p50, p95, mean in ms - a later turn carries the earlier ones, so a prefix cache
      shows there). In mode capacity also C(capacity_sessions_per_s).
  returned: when profile is set and not check mode
  type: dict
  sample: {name: agentic, kind: interactive, api: chat, expects: tool_call, answers_checked: 42, valid_rate: 1.0,
           invalid_output: 0, invalid_example: null, sessions_started: 9, turns: {min: 4, max: 8},
           think_time_s: {min: 0.5, max: 2.0}, shared_prefix: {tokens: 640, count: 1},
           arrival: {arrival: poisson, burstiness: 1.0}, rate_unit: sessions_per_s,
           ttft_ms: {first_turns: {count: 8, p50: 210.4, p95: 260.1, mean: 215.0},
                     later_turns: {count: 34, p50: 95.2, p95: 140.8, mean: 101.3}}}
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

import math
import traceback

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.inferops.vllm.plugins.module_utils import loadstats, profiles
from ansible_collections.inferops.vllm.plugins.module_utils.loadgen import GateError, run_gate
from ansible_collections.inferops.vllm.plugins.module_utils.gate_report import ReportError, write_reports


def argument_spec():
    spec = dict(
        url=dict(type='str', default='http://127.0.0.1:8000'),
        urls=dict(type='list', elements='str'),
        model=dict(type='str'),
        api=dict(type='str', choices=['completions', 'chat'], default='completions'),
        stream=dict(type='bool', default=True),
        mode=dict(type='str', choices=['closed', 'open', 'capacity'], default='closed'),
        concurrency=dict(type='int'),
        rate=dict(type='float'),
        arrival=dict(type='str', choices=['constant', 'poisson'], default='poisson'),
        burstiness=dict(type='float', default=1.0),
        duration_s=dict(type='float'),
        num_requests=dict(type='int'),
        warmup_requests=dict(type='int', default=8),
        prompt_tokens=dict(type='int', default=128, no_log=False),
        output_tokens=dict(type='int', default=128, no_log=False),
        request_timeout_s=dict(type='float', default=60.0),
        stall_timeout_s=dict(type='float', default=30.0),
        ready_timeout_s=dict(type='float', default=120.0),
        refused_timeout_s=dict(type='float', default=10.0),
        trials=dict(type='int', default=1),
        capacity_precision=dict(type='float', default=0.05),
        capacity_budget_s=dict(type='float', default=300.0),
        capacity_step_s=dict(type='float', default=10.0),
        capacity_start_rate=dict(type='float'),
        capacity_min_rate=dict(type='float'),
        capacity_max_rate=dict(type='float'),
        api_key=dict(type='str', no_log=True),
        headers=dict(type='dict', no_log=True),
        ca_path=dict(type='path'),
        validate_certs=dict(type='bool', default=True),
        metrics_url=dict(type='str'),
        metrics_urls=dict(type='list', elements='str'),
        cross_check=dict(type='bool', default=True),
        slos=dict(type='dict'),
        on_inconclusive=dict(type='str', choices=['fail', 'warn'], default='fail'),
        client_max_cpu=dict(type='float', default=0.9),
        client_max_lag_ms=dict(type='float', default=20.0),
        host_cost_per_hour=dict(type='float'),
        report_dir=dict(type='path'),
        report_name=dict(type='str', default='throughput'),
        seed=dict(type='int'),
        profile=dict(type='dict'),
    )
    # one option per SLO of the table in loadstats ('token' in a name is not a secret)
    for slo in loadstats.SLOS:
        spec[slo.name] = dict(type='float', no_log=False)
    return spec


def _finite(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _slo_checks():
    """(name, test, accepted) for each SLO of the table."""
    out = []
    for slo in loadstats.SLOS:
        if slo.klass in ('errors', 'goodput'):
            out.append((slo.name, lambda v: 0 <= v <= 1, 'a fraction from 0 to 1'))
        elif slo.klass == 'accuracy':
            out.append((slo.name, lambda v: v >= 0, 'a fraction >= 0 (0 = exact)'))
        else:
            out.append((slo.name, lambda v: v >= 0, 'a number >= 0 (%s)' % slo.unit))
    return out


CHECKS = (
    ('concurrency', lambda v: v >= 1, 'an integer >= 1'),
    ('rate', lambda v: v > 0, 'a number > 0 ({per_s})'),
    ('burstiness', lambda v: v > 0, 'a number > 0 (1 = Poisson)'),
    ('duration_s', lambda v: v > 0, 'a number of seconds > 0'),
    ('num_requests', lambda v: v >= 1, 'an integer >= 1'),
    ('warmup_requests', lambda v: v >= 0, 'an integer >= 0'),
    ('prompt_tokens', lambda v: v >= 1, 'an integer >= 1'),
    ('output_tokens', lambda v: v >= 1, 'an integer >= 1'),
    ('request_timeout_s', lambda v: v > 0, 'a number of seconds > 0'),
    ('stall_timeout_s', lambda v: v > 0, 'a number of seconds > 0'),
    ('ready_timeout_s', lambda v: v >= 0, 'a number of seconds >= 0'),
    ('refused_timeout_s', lambda v: v >= 0, 'a number of seconds >= 0'),
    ('trials', lambda v: v >= 1, 'an integer >= 1'),
    ('capacity_precision', lambda v: 0 < v < 1, 'a fraction above 0 and below 1 (0.05 = 5%)'),
    ('capacity_budget_s', lambda v: v > 0, 'a number of seconds > 0'),
    ('capacity_step_s', lambda v: v > 0, 'a number of seconds > 0'),
    ('capacity_start_rate', lambda v: v > 0, 'a number > 0 ({per_s})'),
    ('capacity_min_rate', lambda v: v > 0, 'a number > 0 ({per_s})'),
    ('capacity_max_rate', lambda v: v > 0, 'a number > 0 ({per_s})'),
    ('client_max_cpu', lambda v: 0 < v <= 1, 'a fraction of one core, above 0 and at most 1'),
    ('client_max_lag_ms', lambda v: v > 0, 'a number of ms > 0'),
    ('host_cost_per_hour', lambda v: v >= 0, 'a number >= 0'),
)


def validate(p):
    """Return an error message naming the option and the accepted values, or None.

    A valid I(profile) is replaced by its validated form (defaults filled in).
    """
    if p.get('profile') is not None:
        try:
            p['profile'] = profiles.validate(p['profile'])
        except profiles.ProfileError as exc:
            return 'profile: %s' % exc
    slos = p.get('slos') or {}
    err = loadstats.check_slo_names(slos)
    if err:
        return err
    both = sorted(k for k in slos if p.get(k) is not None)
    if both:
        return '%s given both as an option and in slos: give each SLO once' % ', '.join(both)
    merged = dict(p)
    for name, value in slos.items():
        try:
            merged[name] = float(value)
        except (TypeError, ValueError):
            return 'slos.%s=%r is invalid: it must be a number' % (name, value)
    if p.get('profile') is not None and not slos and not any(p.get(s.name) is not None for s in loadstats.SLOS):
        merged.update(p['profile']['slos'])     # the profile's SLOs apply when the user gave none
    # with a profile the unit of work is a session: rates count sessions per second
    per_s = 'sessions per second: with a profile the unit is a session' if p.get('profile') else 'requests per second'
    for name, ok, accepted in CHECKS + tuple(_slo_checks()):
        v = merged.get(name)
        if v is None:
            continue
        where = ('slos.' + name) if name in slos else name
        if not _finite(v) or not ok(v):
            return '%s=%s is invalid: it must be %s' % (where, v, accepted.replace('{per_s}', per_s))
    if not p['stream']:
        for name in ('max_ttft_p95_ms', 'max_itl_p95_ms', 'max_tpot_p95_ms'):
            if merged.get(name) is not None:
                return ('%s needs stream: true (time to first token, inter-token latency and time per output token '
                        'are only seen in a stream)' % name)
    if merged.get('max_itl_p95_ms') is not None and p['output_tokens'] < 2 and p.get('profile') is None:
        return 'max_itl_p95_ms needs output_tokens >= 2 (ITL is the time between successive tokens)'
    if p['mode'] != 'open' and p.get('rate') is not None:
        return 'rate is only used with mode: open (mode: closed keeps concurrency requests in flight, mode: capacity ' \
               'searches the rate)'
    if p['mode'] == 'capacity':
        if not any(merged.get(n) is not None for n in loadstats.LATENCY_SLOS):
            return ('mode: capacity needs a latency SLO to find the highest rate that meets it: set one of %s%s'
                    % (', '.join(loadstats.LATENCY_SLOS), (" (profile '%s' has none of its own)"
                                                           % p['profile']['name']) if p.get('profile') else ''))
        if p.get('num_requests') is not None or p.get('duration_s') is not None:
            return 'mode: capacity runs steps of capacity_step_s: leave duration_s and num_requests unset'
        lo, hi = p.get('capacity_min_rate'), p.get('capacity_max_rate')
        if lo is not None and hi is not None and lo >= hi:
            return 'capacity_min_rate=%s must be below capacity_max_rate=%s' % (lo, hi)
    if p.get('urls') is not None and p['url'] != 'http://127.0.0.1:8000':
        return 'give either url or urls, not both'
    for url in (p.get('urls') or [p['url'] or '']):
        if not (url.startswith('http://') or url.startswith('https://')):
            return 'url=%s is invalid: it must start with http:// or https:// (for example http://127.0.0.1:8000)' % url
        if url.rstrip('/').endswith('/v1'):
            return 'url=%s: give the base URL without /v1 (for example http://127.0.0.1:8000)' % url
    if p.get('urls') is not None and not p['urls']:
        return 'urls is empty: give at least one base URL'
    if p.get('metrics_url') and p.get('metrics_urls'):
        return 'give either metrics_url or metrics_urls, not both'
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
