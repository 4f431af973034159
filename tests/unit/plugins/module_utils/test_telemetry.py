# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host telemetry against fixture powercap/proc trees: the expected figures are worked out by hand here."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import json
import os

import pytest

from ansible_collections.inferops.vllm.plugins.module_utils import nvidia, telemetry

FIXTURES = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures', 'powercap'))


def write_tree(root, files):
    for rel, text in files.items():
        path = os.path.join(str(root), rel)
        if not os.path.isdir(os.path.dirname(path)):
            os.makedirs(os.path.dirname(path))
        with open(path, 'w') as handle:
            handle.write(text)
    return str(root)


def fixture_roots(name, tmp_path, extra=None):
    """The fixture's trees written under tmp_path/<name>/t<i>; returns (times, roots)."""
    with open(os.path.join(FIXTURES, name + '.json')) as handle:
        spec = json.load(handle)
    roots = []
    for i, files in enumerate(spec['trees']):
        files = dict(files, **((extra or [{}] * len(spec['trees']))[i]))
        roots.append(write_tree(tmp_path / name / ('t%d' % i), files))
    return spec['times'], roots


def sampled(times, roots, instances=None, gpu_rows=None, clock_ticks=100):
    """What host_telemetry returns, from one tree per sample, through telemetry.sample() with a fake clock."""
    state = {'i': 0}
    sensors = {}
    gpu_rows = gpu_rows or [None] * len(roots)

    def read():
        i = state['i']
        powercap, numastat = telemetry.read_powercap(roots[i]), telemetry.read_numastat(roots[i])
        sensors.setdefault('first', (powercap, numastat))
        snaps = dict((inst['name'], telemetry.instance_snapshot(roots[i], inst['pids'])) for inst in instances or [])
        return telemetry.snapshot(times[i], powercap, numastat, gpu_rows[i], snaps)

    def sleep(_seconds):
        state['i'] += 1

    run = telemetry.sample(read, duration_s=times[-1] - times[0], interval_s=times[1] - times[0],
                           stop=lambda: False, clock=lambda: times[state['i']], sleep=sleep, clock_ticks=clock_ticks)
    powercap, numastat = sensors['first']
    rows = [dict(inst, found=True) for inst in instances or []]
    return {'sampled': True, 'interval_s': times[1] - times[0], 'samples': run['samples'], 'ended': run['ended'],
            'gaps': run['gaps'],
            'sensors': {'rapl': powercap, 'numa': {'available': numastat['available'], 'nodes': len(numastat['nodes']),
                                                   'reason': numastat['reason']},
                        'gpu': {'available': bool(gpu_rows[0]), 'reason': None if gpu_rows[0] else 'no nvidia-smi on the host'}},
            'instances': rows}


# --------------------------------------------------------------------------- RAPL

def test_intel_two_sockets_counts_packages_and_dram_only(tmp_path):
    times, roots = fixture_roots('intel_2s', tmp_path)
    rapl = telemetry.read_powercap(roots[0])
    assert rapl['available'] and 'dram' not in rapl
    counted = sorted((z['id'], z['name']) for z in rapl['zones'] if z['counted'])
    assert counted == [('intel-rapl:0', 'package-0'), ('intel-rapl:0:0', 'dram'), ('intel-rapl:1', 'package-1'),
                       ('intel-rapl:1:0', 'dram')]
    # core (part of package 0) and psys (the platform, overlapping the packages) are listed, never added
    assert sorted(z['name'] for z in rapl['zones'] if not z['counted']) == ['core', 'psys']

    tel = sampled(times, roots)
    fig = telemetry.window_figures(tel, 1000.0, 1010.0, output_tokens=5000, price_per_kwh=0.30)
    # By hand: package-0 1300e6-100e6 uJ = 1200 J, dram 170e6-20e6 = 150 J, package-1 1250e6-200e6 = 1050 J,
    # dram 130e6-30e6 = 100 J: 2500 J in 10 s = 250 W; 2500 J / 5000 tokens = 0.5 J per token;
    # 1M tokens = 500,000 J = 0.13889 kWh, at 0.30 per kWh = 0.041667.
    assert fig['available']
    assert fig['energy']['joules'] == pytest.approx(2500.0)
    assert fig['energy']['watts'] == pytest.approx(250.0)
    assert fig['energy']['by_source'] == {'intel-rapl:0 package-0': 1200.0, 'intel-rapl:0:0 dram': 150.0,
                                          'intel-rapl:1 package-1': 1050.0, 'intel-rapl:1:0 dram': 100.0}
    assert fig['joules_per_output_token'] == pytest.approx(0.5)
    assert fig['energy_cost_per_1m_output_tokens'] == pytest.approx(500000 / 3.6e6 * 0.30, rel=1e-5)
    assert fig['energy_cost_per_1m_output_tokens'] == pytest.approx(0.041667, abs=1e-6)
    # NUMA by hand: hits (9000-1000) + (12000-2000) = 18000, misses 0 + 300 = 300 -> 300 / 18300
    assert fig['numa']['numa_hit'] == 18000 and fig['numa']['numa_miss'] == 300
    assert fig['numa']['miss_ratio'] == pytest.approx(300 / 18300.0, rel=1e-4)      # rounded to 6 digits


def test_dram_zones_with_the_same_name_are_both_counted(tmp_path):
    times, roots = fixture_roots('intel_2s', tmp_path)
    tel = sampled(times, roots)
    by_zone = tel['samples'][-1]['energy_j']
    assert by_zone == {'intel-rapl:0': 1200.0, 'intel-rapl:0:0': 150.0, 'intel-rapl:1': 1050.0, 'intel-rapl:1:0': 100.0}


def test_half_the_window_gets_half_the_energy_and_half_the_tokens(tmp_path):
    times, roots = fixture_roots('intel_2s', tmp_path)
    tel = sampled(times, roots)
    fig = telemetry.window_figures(tel, 1002.5, 1007.5, output_tokens=2500)
    # linear between the two samples: 5 s of 250 W = 1250 J, over 2500 tokens = 0.5 J/token; no price, no cost
    assert fig['energy']['joules'] == pytest.approx(1250.0)
    assert fig['joules_per_output_token'] == pytest.approx(0.5)
    assert fig['energy_cost_per_1m_output_tokens'] is None


def test_counter_wrap_is_added_back_never_negative(tmp_path):
    times, roots = fixture_roots('intel_wrap', tmp_path)
    tel = sampled(times, roots)
    # By hand: range 262143328850 uJ; 261743328850 -> wrap -> 100000000 is (262143328850 - 261743328850) + 100e6
    # = 400e6 + 100e6 uJ = 500 J; then 100e6 -> 600e6 = 500 J: 1000 J in 10 s.
    assert [s['energy_j']['intel-rapl:0'] for s in tel['samples']] == [0.0, 500.0, 1000.0]
    assert tel['gaps'] == []
    fig = telemetry.window_figures(tel, 2000.0, 2010.0, output_tokens=2000, price_per_kwh=0.2)
    assert fig['energy']['joules'] == pytest.approx(1000.0) and fig['energy']['watts'] == pytest.approx(100.0)
    assert fig['joules_per_output_token'] == pytest.approx(0.5)        # 1000 J / 2000 tokens
    assert fig['energy_cost_per_1m_output_tokens'] == pytest.approx(0.5e6 / 3.6e6 * 0.2, rel=1e-5)


def test_energy_delta_handles_wrap_and_refuses_to_guess():
    assert telemetry.energy_delta_uj(100, 350, 1000) == 250
    assert telemetry.energy_delta_uj(900, 50, 1000) == 150         # (1000 - 900) + 50
    assert telemetry.energy_delta_uj(900, 50, None) is None        # backwards, range unknown: no figure
    assert telemetry.energy_delta_uj(None, 50, 1000) is None


def test_a_counter_that_goes_backwards_without_a_range_is_a_gap_not_a_negative(tmp_path):
    times, roots = fixture_roots('intel_wrap', tmp_path)
    for root in roots:
        os.remove(os.path.join(root, 'sys/class/powercap/intel-rapl:0/max_energy_range_uj'))
    tel = sampled(times, roots)
    assert [s['energy_j']['intel-rapl:0'] for s in tel['samples']] == [0.0, 0.0, 500.0]
    assert len(tel['gaps']) == 1 and 'intel-rapl:0' in tel['gaps'][0]


def test_amd_layout_has_a_package_and_says_dram_is_not_measured(tmp_path):
    times, roots = fixture_roots('amd_epyc', tmp_path)
    rapl = telemetry.read_powercap(roots[0])
    assert rapl['available']
    assert [(z['name'], z['counted']) for z in rapl['zones']] == [('package-0', True), ('core', False)]
    assert 'no dram zone' in rapl['dram'] and 'AMD' in rapl['dram']
    tel = sampled(times, roots)
    fig = telemetry.window_figures(tel, 3000.0, 3010.0, output_tokens=1800, price_per_kwh=0.25)
    # package 905e6 - 5e6 uJ = 900 J (the core zone's 600 J is inside it); 900 J / 1800 tokens = 0.5 J/token
    assert fig['energy']['joules'] == pytest.approx(900.0)
    assert fig['joules_per_output_token'] == pytest.approx(0.5)
    assert any('no dram zone' in why for why in fig['energy']['absent'])
    assert fig['numa']['miss_ratio'] == 0.0


def test_absent_powercap_is_reported_absent_not_estimated(tmp_path):
    times, roots = fixture_roots('absent', tmp_path)
    rapl = telemetry.read_powercap(roots[0])
    assert rapl == {'available': False, 'zones': [],
                    'reason': 'no /sys/class/powercap (kernel without powercap, or a VM that hides it)'}
    tel = sampled(times, roots)
    fig = telemetry.window_figures(tel, 4000.0, 4010.0, output_tokens=1000, price_per_kwh=0.3)
    assert fig['available']                          # the window is measured; energy is not
    assert fig['energy']['joules'] is None and fig['joules_per_output_token'] is None
    assert fig['energy_cost_per_1m_output_tokens'] is None
    assert 'RAPL: no /sys/class/powercap' in fig['energy']['absent'][0]
    assert fig['numa'] == {'available': False, 'reason': 'no /sys/devices/system/node/node*/numastat'}


def test_powercap_without_rapl_zones(tmp_path):
    root = write_tree(tmp_path, {'sys/class/powercap/dtpm/name': 'dtpm\n'})
    rapl = telemetry.read_powercap(root)
    assert not rapl['available'] and rapl['reason'].startswith('no /sys/class/powercap/intel-rapl:*')


def test_unreadable_energy_counter_names_the_reason(tmp_path, monkeypatch):
    _times, roots = fixture_roots('amd_epyc', tmp_path)
    real_open = open

    def fake_open(path, *args, **kwargs):
        if path.endswith('energy_uj'):
            raise IOError(errno.EACCES, 'Permission denied')
        return real_open(path, *args, **kwargs)
    monkeypatch.setattr(telemetry, 'open', fake_open, raising=False)
    rapl = telemetry.read_powercap(roots[0])
    assert not rapl['available']
    assert rapl['reason'] == 'energy_uj of intel-rapl:0 (package-0) not readable; energy_uj of intel-rapl:0:0 (core) not readable'
    assert 'root only since Linux 5.10' in rapl['zones'][0]['reason']


# --------------------------------------------------------------------------- GPUs

# Rows of `nvidia-smi --query-gpu=index,power.draw --format=csv,noheader,nounits` (the format of
# tests/fixtures/nvidia/h200; nvidia-smi has no energy-counter field) of two H100 SXM and of a board that cannot
# report its draw.
H100_T0 = "0, 312.45\n1, 298.10\n"
H100_T1 = "0, 700.00\n1, 690.00\n"
T4_T0 = "0, 35.00\n"
T4_T1 = "0, 65.00\n"


def test_parse_power_query():
    assert nvidia.parse_power_query(H100_T0) == [{'index': 0, 'power_w': 312.45},
                                                 {'index': 1, 'power_w': 298.1}]
    assert nvidia.parse_power_query("0, [N/A]\n") == [{'index': 0, 'power_w': None}]
    with pytest.raises(nvidia.NvidiaError, match='expected 2'):
        nvidia.parse_power_query("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver\n")
    with pytest.raises(nvidia.NvidiaError, match='has 3 fields, expected 2'):
        nvidia.parse_power_query("0, 312.45, 9000000\n")
    assert nvidia.power_query_args() == ['--query-gpu=index,power.draw', '--format=csv,noheader,nounits']


def test_gpu_power_rows_of_nvidia_smi_with_rapl(tmp_path):
    times, roots = fixture_roots('intel_2s', tmp_path)
    rows = [nvidia.parse_power_query(H100_T0), nvidia.parse_power_query(H100_T1)]
    tel = sampled(times, roots, gpu_rows=rows)
    fig = telemetry.window_figures(tel, 1000.0, 1010.0, output_tokens=10000)
    # trapezoid over 10 s: GPU 0 (312.45 + 700) / 2 x 10 = 5062.25 J, GPU 1 (298.1 + 690) / 2 x 10 = 4940.5 J
    assert fig['energy']['by_source']['gpu 0'] == pytest.approx(5062.25)
    assert fig['energy']['by_source']['gpu 1'] == pytest.approx(4940.5)
    # plus RAPL 2500 J = 12502.75 J / 10000 tokens
    assert fig['joules_per_output_token'] == pytest.approx(1.250275)


def test_gpu_without_counter_integrates_power_draw_and_says_so(tmp_path):
    times, roots = fixture_roots('absent', tmp_path)
    rows = [nvidia.parse_power_query(T4_T0), nvidia.parse_power_query(T4_T1)]
    tel = sampled(times, roots, gpu_rows=rows)
    # trapezoid: (35 + 65) / 2 W x 10 s = 500 J
    assert tel['samples'][-1]['gpu_j'] == {'0': 500.0}
    fig = telemetry.window_figures(tel, 4000.0, 4010.0, output_tokens=1000)
    assert fig['joules_per_output_token'] == pytest.approx(0.5)
    assert any(why.startswith('RAPL:') for why in fig['energy']['absent'])


# --------------------------------------------------------------------------- processes

def stat_line(pid, comm, ppid, utime, stime, start):
    return ('%d (%s) S %d %d %d 0 -1 4194560 100 0 0 0 %d %d 0 0 20 0 4 0 %d 1000000 500 18446744073709551615\n'
            % (pid, comm, ppid, pid, pid, utime, stime, start))


def status_text(vol, invol, cpus='0-3'):
    return ('Name:\tvllm\nState:\tS (sleeping)\nCpus_allowed_list:\t%s\nvoluntary_ctxt_switches:\t%d\n'
            'nonvoluntary_ctxt_switches:\t%d\n' % (cpus, vol, invol))


def proc_tree(main, threads, child, child_threads):
    """/proc of an instance: process 4242 (threads 4242, 4243, ...) and its child 4250; an unrelated 77."""
    files = {'proc/4242/stat': stat_line(4242, 'vllm serve (api) x', 1, main[0], main[1], 5000),
             'proc/4242/status': status_text(*threads['4242']),
             'proc/4250/stat': stat_line(4250, 'python3', 4242, child[0], child[1], 5100),
             'proc/4250/status': status_text(*child_threads['4250']),
             'proc/77/stat': stat_line(77, 'sshd', 1, 5000, 5000, 10),
             'proc/77/status': status_text(1, 1)}
    for tid, counts in threads.items():
        files['proc/4242/task/%s/status' % tid] = status_text(*counts)
    for tid, counts in child_threads.items():
        files['proc/4250/task/%s/status' % tid] = status_text(*counts)
    return files


def test_parse_proc_stat_with_a_command_holding_parentheses():
    stat = telemetry.parse_proc_stat(stat_line(4242, 'vllm serve (api) x', 1, 1700, 300, 5000))
    assert stat == {'pid': 4242, 'comm': 'vllm serve (api) x', 'state': 'S', 'ppid': 1, 'utime': 1700, 'stime': 300,
                    'starttime': 5000}
    with pytest.raises(telemetry.TelemetryError):
        telemetry.parse_proc_stat('garbage')


def test_instance_cpu_and_context_switches_over_its_process_tree(tmp_path):
    t0 = proc_tree((1000, 200), {'4242': (10, 1), '4243': (100, 5)}, (100, 0), {'4250': (7, 0)})
    # t1: a new thread 4244 started during the window; the unrelated process 77 is never counted
    t1 = proc_tree((1700, 300), {'4242': (20, 2), '4243': (600, 55), '4244': (30, 3)}, (300, 0), {'4250': (17, 0)})
    t1['proc/77/stat'] = stat_line(77, 'sshd', 1, 9000, 9000, 10)
    times, roots = fixture_roots('absent', tmp_path, extra=[t0, t1])
    assert telemetry.descendants(roots[0], 4242) == [4242, 4250]
    tel = sampled(times, roots, instances=[{'name': 'vllm-node0', 'pids': [4242, 4250], 'cpus_allowed': [0, 1, 2, 3]}])
    fig = telemetry.window_figures(tel, 4000.0, 4010.0, output_tokens=100)
    inst = fig['instances'][0]
    # CPU by hand at 100 ticks/s: 4242 (1700+300)-(1000+200) = 800 ticks, 4250 300-100 = 200: 10 s of CPU in 10 s
    # = 1.0 core, a quarter of its 4 allowed CPUs
    assert inst['cpu_s'] == pytest.approx(10.0) and inst['cpu_cores'] == pytest.approx(1.0)
    assert inst['cpu_util'] == pytest.approx(0.25)
    # voluntary (20-10) + (600-100) + 30 (new thread) + (17-7) = 550; involuntary 1 + 50 + 3 + 0 = 54
    assert inst['voluntary_ctxt_switches'] == 550 and inst['involuntary_ctxt_switches'] == 54
    assert inst['ctxt_switches_per_s'] == pytest.approx(60.4)


def test_a_reused_pid_is_not_taken_for_the_same_process(tmp_path):
    t0 = proc_tree((1000, 200), {'4242': (10, 1)}, (100, 0), {'4250': (7, 0)})
    t1 = proc_tree((50, 10), {'4242': (3, 0)}, (100, 0), {'4250': (7, 0)})
    t1['proc/4242/stat'] = stat_line(4242, 'other', 1, 50, 10, 9999)     # another start time: another process
    times, roots = fixture_roots('absent', tmp_path, extra=[t0, t1])
    tel = sampled(times, roots, instances=[{'name': 'i', 'pids': [4242, 4250]}])
    # the new 4242 ran 60 ticks since it started (counted from 0), never -1140
    assert tel['samples'][-1]['instances']['i']['cpu_s'] == pytest.approx(0.6)


def test_cgroup_pids_walk_sub_cgroups(tmp_path):
    root = write_tree(tmp_path, {
        'sys/fs/cgroup/system.slice/x.service/cgroup.procs': '10\n11\n',
        'sys/fs/cgroup/system.slice/x.service/libpod-payload-abc/cgroup.procs': '20\n',
        'sys/fs/cgroup/system.slice/y.service/cgroup.procs': '30\n'})
    dirs = telemetry.cgroup_dirs(root, '/system.slice/x.service')
    assert dirs[0] == os.path.join(root, 'sys/fs/cgroup/system.slice/x.service')
    assert telemetry.cgroup_pids(dirs[0]) == [10, 11, 20]
    assert telemetry.cgroup_pids(dirs[1]) is None


# --------------------------------------------------------------------------- windows and derived figures

def test_joules_per_token_and_cost_by_hand():
    assert telemetry.joules_per_token(2500.0, 5000) == 0.5
    assert telemetry.joules_per_token(2500.0, 0) is None
    assert telemetry.joules_per_token(None, 10) is None
    # 0.5 J/token: 1M tokens = 5e5 J = 0.138889 kWh; at 0.12/kWh = 0.0166667
    assert telemetry.energy_cost_per_1m(0.5, 0.12) == pytest.approx(0.0166667, rel=1e-5)
    assert telemetry.energy_cost_per_1m(0.5, None) is None


def test_a_window_the_samples_do_not_cover_gets_no_figures(tmp_path):
    times, roots = fixture_roots('intel_2s', tmp_path)
    tel = sampled(times, roots)
    fig = telemetry.window_figures(tel, 1100.0, 1110.0, output_tokens=100)
    assert not fig['available'] and 'do not cover the gate window' in fig['reason']
    assert fig['joules_per_output_token'] is None
    # a second of clock difference between the runner and the host is clamped, not refused
    fig = telemetry.window_figures(tel, 999.5, 1010.0, output_tokens=5000)
    assert fig['available'] and fig['window']['duration_s'] == 10.0
    # the tokens are scaled to the part of the window the samples cover: 5000 x 10 / 10.5
    assert fig['joules_per_output_token'] == pytest.approx(2500.0 / (5000 * 10 / 10.5))


def test_unsampled_telemetry_says_why():
    fig = telemetry.window_figures({'sampled': False, 'reason': 'check mode: nothing sampled', 'samples': []},
                                   1.0, 2.0, 10)
    assert not fig['available'] and fig['reason'] == 'check mode: nothing sampled'


def test_sample_stops_at_the_stop_file_and_checks_its_arguments():
    calls = {'n': 0}

    def read():
        calls['n'] += 1
        return telemetry.snapshot(float(calls['n']), {'zones': []}, {'available': False}, None, {})
    run = telemetry.sample(read, 100.0, 1.0, stop=lambda: calls['n'] >= 3, clock=lambda: float(calls['n']),
                           sleep=lambda s: None, clock_ticks=100)
    assert run['ended'] == 'stop_file' and len(run['samples']) == 4     # start, 2 periodic, one after the stop
    with pytest.raises(telemetry.TelemetryError, match='above 0'):
        telemetry.sample(read, 0, 1.0, stop=lambda: False, clock=lambda: 0.0, sleep=lambda s: None, clock_ticks=100)


# --------------------------------------------------------------------------- joining the gate and reports

def gate_records(start, end, rate):
    host = {'host': 'h1', 'target': 'front', 'scope': 'host', 'hardware': 'spr', 'runner': 'localhost',
            'result': {'verdict': 'pass', 'model': 'tiny', 'window': {'start_epoch': start, 'end_epoch': end,
                                                                      'duration_s': end - start},
                       'throughput': {'output_tokens_per_s': rate, 'total_tokens_per_s': 2 * rate}}}
    inst = dict(host, target='vllm-a', scope='instance', result=dict(host['result']))
    return [host, inst]


def test_join_puts_the_window_figures_on_the_host_run_only(tmp_path):
    times, roots = fixture_roots('intel_2s', tmp_path)
    tel = sampled(times, roots)
    records = gate_records(1001.0, 1009.0, 500.0)
    joined = telemetry.join_gate(records, tel, 0.30)
    assert 'telemetry' not in records[0]['result']              # inputs unchanged
    assert 'telemetry' not in joined[1]['result']               # instance run: the host's energy is not its own
    fig = joined[0]['result']['telemetry']
    # 8 s of 250 W = 2000 J; 500 tok/s x 8 s = 4000 tokens -> 0.5 J/token; 0.5 x 1e6 / 3.6e6 x 0.30
    assert fig['energy']['joules'] == pytest.approx(2000.0)
    assert fig['joules_per_output_token'] == pytest.approx(0.5)
    assert fig['energy_cost_per_1m_output_tokens'] == pytest.approx(0.0416667, rel=1e-5)
    assert fig['price_per_kwh'] == 0.30
    short = telemetry.brief(fig)
    assert short['watts'] == pytest.approx(250.0) and short['joules_per_output_token'] == pytest.approx(0.5)
    assert short['numa_miss_ratio'] == pytest.approx(300 / 18300.0, rel=1e-4)


def test_join_of_a_failed_telemetry_job_says_so():
    joined = telemetry.join_gate(gate_records(1.0, 2.0, 10.0), {'failed': True, 'msg': 'boom', 'finished': 1})
    fig = joined[0]['result']['telemetry']
    assert not fig['available'] and fig['reason'] == 'host_telemetry failed: boom'


def test_join_of_check_mode_result():
    joined = telemetry.join_gate([{'host': 'h', 'target': 't', 'scope': 'host', 'result': {'verdict': 'not_run'}}],
                                 {'sampled': False, 'reason': 'check mode: the sensors were read, nothing was sampled'})
    assert joined[0]['result']['telemetry']['reason'].startswith('check mode')


def test_instances_to_sample_from_the_plan_or_explicit():
    plan = [{'name': 'vllm-node0', 'port': 8100}, {'name': 'vllm-node1', 'port': 8101}]
    assert telemetry.instances_to_sample(plan, 'inferops-vllm-') == [
        {'name': 'vllm-node0', 'unit': 'inferops-vllm-vllm-node0.service'},
        {'name': 'vllm-node1', 'unit': 'inferops-vllm-vllm-node1.service'}]
    explicit = [{'name': 'x', 'pid': 12}]
    assert telemetry.instances_to_sample(plan, 'inferops-vllm-', explicit) == explicit


def test_validate_role_names_units_as_the_server_role_does():
    import yaml
    repo = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
    with open(os.path.join(repo, 'roles', 'validate', 'vars', 'main.yml')) as handle:
        validate_prefix = yaml.safe_load(handle)['__validate_unit_prefix']
    with open(os.path.join(repo, 'roles', 'server', 'vars', 'main.yml')) as handle:
        server_prefix = yaml.safe_load(handle)['__server_unit_prefix']
    assert validate_prefix == server_prefix


def test_reports_show_the_telemetry(tmp_path):
    from ansible_collections.inferops.vllm.plugins.module_utils import fleet, gate_report
    times, roots = fixture_roots('amd_epyc', tmp_path)
    tel = sampled(times, roots)
    joined = telemetry.join_gate(gate_records(3000.0, 3010.0, 180.0), tel, 0.25)
    page = gate_report.markdown(joined[0]['result'])
    # 900 J / 1800 tokens = 0.5 J/token; 0.5e6 J per 1M = 0.138889 kWh x 0.25 = 0.0347
    assert '## Host telemetry during the gate' in page
    assert '0.5000 J per output token; energy cost per 1M output tokens: 0.0347 at 0.25 per kWh' in page
    assert 'absent: no dram zone' in page
    md = fleet.render_markdown(fleet.summarize(joined))
    assert '## Host telemetry during the gate' in md
    assert '| h1 | front | 90.0 | 0.5000 | 0.0347 | 0.0000 | - | no dram zone' in md
    # without telemetry, no section (reports of older runs are unchanged)
    assert '## Host telemetry' not in fleet.render_markdown(fleet.summarize(gate_records(1.0, 2.0, 5.0)))
    assert '## Host telemetry' not in gate_report.markdown(gate_records(1.0, 2.0, 5.0)[0]['result'])


def test_reports_say_why_telemetry_is_missing():
    from ansible_collections.inferops.vllm.plugins.module_utils import fleet, gate_report
    joined = telemetry.join_gate(gate_records(1.0, 2.0, 5.0), {'sampled': False, 'reason': 'check mode: x'})
    assert 'Not measured: check mode: x' in gate_report.markdown(joined[0]['result'])
    assert '| h1 | front | - | - | - | - | - | check mode: x |' in fleet.render_markdown(fleet.summarize(joined))
