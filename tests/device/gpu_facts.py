#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Real-hardware evidence for the NVIDIA path, read with the collection's own module_utils (run by run_gpu_facts.sh).

    gpu_facts.py commands                       the nvidia-smi argument lists nvidia.py/telemetry.py use, one per line
    gpu_facts.py facts --out DIR [--model-path P]
        topology (gather_topology of /), nvidia-smi query + version -> nvidia.build_facts with the NUMA join,
        an NVIDIA instance plan (build_plan, tiny model), nvidia.compare -> DIR/facts.json
    gpu_facts.py telemetry --out DIR [--duration 30] [--busy-after 8] [--busy-s 12] [--settle-s 2]
        samples powercap, numastat, nvidia-smi power rows and a bf16 matmul worker's /proc counters through
        telemetry.sample() while the worker keeps the GPU busy for part of the window (sampling starts settle_s
        after the worker's warm-up) -> DIR/telemetry.json; prints every sample's power (SAMPLE lines) and the
        joules (ENERGY: the collection's integral of the draw next to a trapezoid over the raw rows)
    gpu_facts.py modules --out DIR [--model-path P]
        runs the modules cpu_topology, nvidia_gpu_info, instance_plan, host_telemetry (needs ansible on
        PYTHONPATH) -> DIR/modules.json

Every step records its error and goes on: the JSON files are written in any case. Needs the collection
importable as ansible_collections.inferops.vllm (run_gpu_facts.sh sets PYTHONPATH).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import traceback

from ansible_collections.inferops.vllm.plugins.module_utils import nvidia, telemetry
from ansible_collections.inferops.vllm.plugins.module_utils.plan import build_plan, read_model_dir
from ansible_collections.inferops.vllm.plugins.module_utils.topology import gather_topology

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, '..', '..'))
SMI_TIMEOUT_S = 60


def _err(result, step, exc):
    result.setdefault('errors', {})[step] = '%s: %s' % (type(exc).__name__, exc)
    result.setdefault('tracebacks', {})[step] = traceback.format_exc()
    sys.stderr.write('gpu_facts: %s failed: %s: %s\n' % (step, type(exc).__name__, exc))


def _write_json(path, data):
    tmp = path + '.tmp'
    with open(tmp, 'w') as handle:
        json.dump(data, handle, indent=1, sort_keys=True, default=str)
        handle.write('\n')
    os.rename(tmp, path)


def smi_commands():
    """(name, argv tail) of every nvidia-smi command line the collection's NVIDIA code runs."""
    return [
        ('query-gpu', nvidia.query_args()),               # nvidia_gpu_info
        ('version', ['--version']),                       # nvidia_gpu_info (CUDA version)
        ('banner', []),                                   # nvidia_gpu_info fallback when --version lacks CUDA
        ('power-query', nvidia.power_query_args()),       # host_telemetry, every sample
    ]


def run_smi(argv_tail):
    """(rc, stdout, stderr) of nvidia-smi as the modules run it (LC_ALL=C); rc 127 when absent."""
    smi = shutil.which('nvidia-smi')
    if not smi:
        return 127, '', 'nvidia-smi not found in PATH'
    env = dict(os.environ, LC_ALL='C')
    try:
        proc = subprocess.run([smi] + list(argv_tail), check=False, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=env, timeout=SMI_TIMEOUT_S, universal_newlines=True)
    except subprocess.TimeoutExpired:
        return 124, '', 'timed out after %ds' % SMI_TIMEOUT_S
    return proc.returncode, proc.stdout, proc.stderr


# --------------------------------------------------------------------------- facts

def cmd_facts(args):
    result = {'python': sys.version, 'started': time.time()}
    topology = None
    try:
        topology = gather_topology('/')
        result['topology'] = topology
    except Exception as exc:  # pylint: disable=broad-except
        _err(result, 'topology', exc)

    query = run_smi(nvidia.query_args())
    version = run_smi(['--version'])
    result['smi'] = {'query': query, 'version': version}
    version_text = version[1]
    if version[0] != 0 or 'CUDA' not in version_text:
        banner = run_smi([])
        result['smi']['banner'] = banner
        version_text = banner[1]
    facts = None
    try:
        result['parsed_query'] = nvidia.parse_query_gpu(query[1])
        facts = nvidia.build_facts(query[1], version_text, topology=topology, numa_reader=nvidia.sysfs_numa_reader('/'))
        result['nvidia_facts'] = facts
        # the same join from sysfs alone (no topology facts), as the module does for GPUs the topology lacks
        result['nvidia_facts_sysfs_only'] = nvidia.build_facts(query[1], version_text, numa_reader=nvidia.sysfs_numa_reader('/'))
    except Exception as exc:  # pylint: disable=broad-except
        _err(result, 'nvidia_facts', exc)

    plan = None
    try:
        model_info = read_model_dir(args.model_path) if args.model_path else None
        options = {'accelerator': 'nvidia', 'model_name': 'tiny-llama', 'model_path': args.model_path}
        if facts and facts['gpus'] and facts['gpus'][0]['memory_mib']:
            options['gpu_memory_gib'] = round(facts['gpus'][0]['memory_mib'] / 1024.0, 1)
        result['plan_options'] = options
        result['model_info'] = None if model_info is None else dict(model_info, config='(%d keys)' % len(model_info['config'] or {}))
        plan = build_plan(topology, options, model_info)
        result['plan'] = plan
    except Exception as exc:  # pylint: disable=broad-except
        _err(result, 'plan', exc)

    try:
        if facts is not None:
            result['compare'] = nvidia.compare(facts['gpus'], topology=topology, plan=plan)
    except Exception as exc:  # pylint: disable=broad-except
        _err(result, 'compare', exc)
    result['ended'] = time.time()
    _write_json(os.path.join(args.out, 'facts.json'), result)
    summary = {'gpus': [(g['index'], g['name'], g['memory_mib'], g['pci_address'], g['numa_node'])
                        for g in (facts or {}).get('gpus') or []],
               'driver': (facts or {}).get('driver_version'), 'cuda': (facts or {}).get('cuda_version'),
               'plan_instances': [(i['name'], i['cpuset'], i['mems'], [g['numa_node'] for g in i['gpus']])
                                  for i in (plan or {}).get('instances') or []],
               'compare': result.get('compare'), 'errors': result.get('errors')}
    print('FACTS ' + json.dumps(summary, default=str))
    return 0


# --------------------------------------------------------------------------- telemetry

def cmd_burn(args):
    """The GPU load: bf16 8192^3 matmuls from the go file's appearance for busy_s seconds."""
    report = {'pid': os.getpid(), 'started': time.time()}

    def save():
        _write_json(args.report, report)
    try:
        import torch  # pylint: disable=import-outside-toplevel
        report['torch'] = torch.__version__
        report['cuda'] = torch.version.cuda
        if not torch.cuda.is_available():
            report['error'] = 'torch.cuda.is_available() is False'
            save()
            return 0
        report['device'] = torch.cuda.get_device_name(0)
        n = 8192
        a = torch.randn(n, n, device='cuda', dtype=torch.bfloat16)
        b = torch.randn(n, n, device='cuda', dtype=torch.bfloat16)
        for dummy in range(3):
            c = a @ b
        torch.cuda.synchronize()
        report['ready'] = time.time()
        save()
        deadline = time.time() + args.wait_s
        while not os.path.exists(args.go) and time.time() < deadline:
            time.sleep(0.05)
        if not os.path.exists(args.go):
            report['error'] = 'no go file within %ss' % args.wait_s
            save()
            return 0
        start = time.time()
        count = 0
        while time.time() - start < args.busy_s:
            for dummy in range(20):
                c = a @ b
            torch.cuda.synchronize()
            count += 20
        end = time.time()
        report.update(busy_start=start, busy_end=end, matmuls=count,
                      tflops=round(2.0 * n ** 3 * count / (end - start) / 1e12, 1), checksum=float(c[0, 0]))
    except Exception as exc:  # pylint: disable=broad-except
        report['error'] = '%s: %s' % (type(exc).__name__, exc)
    save()
    return 0


def _mean(values):
    values = [v for v in values if v is not None]
    return round(sum(values) / len(values), 2) if values else None


def cmd_telemetry(args):
    result = {'started': time.time(), 'duration_s': args.duration, 'interval_s': 1.0,
              'busy_after_s': args.busy_after, 'busy_s': args.busy_s}
    out_path = os.path.join(args.out, 'telemetry.json')
    work = args.work or args.out
    go = os.path.join(work, 'burn.go')
    report_path = os.path.join(work, 'burn.json')
    for path in (go, report_path):
        if os.path.exists(path):
            os.unlink(path)
    worker = None
    try:
        worker = subprocess.Popen([sys.executable, os.path.abspath(__file__), 'burn', '--go', go, '--report', report_path,
                                   '--busy-s', str(args.busy_s), '--wait-s', str(args.duration + 30)])
        result['worker_pid'] = worker.pid
        deadline = time.time() + args.ready_wait
        while time.time() < deadline and worker.poll() is None:
            if os.path.exists(report_path):
                with open(report_path) as handle:
                    if 'ready' in json.load(handle):
                        break
            time.sleep(0.2)
        result['worker_ready_after_s'] = round(time.time() - result['started'], 2)
        # let the warm-up matmuls leave nvidia-smi's power.draw (a 1 s average on recent GPUs) before the idle samples
        time.sleep(args.settle_s)
    except Exception as exc:  # pylint: disable=broad-except
        _err(result, 'worker', exc)

    raw_rows = []
    first = {}
    t0 = time.time()
    state = {'go': False, 'gpu_reason': None}

    def read():
        now = time.time()
        if not state['go'] and now - t0 >= args.busy_after:
            with open(go, 'w') as handle:
                handle.write('go\n')
            state['go'] = now
        powercap = telemetry.read_powercap('/')
        numastat = telemetry.read_numastat('/')
        rc, out, err = run_smi(nvidia.power_query_args())
        rows = None
        if rc == 0:
            try:
                rows = nvidia.parse_power_query(out)
            except nvidia.NvidiaError as exc:
                state['gpu_reason'] = str(exc)
        else:
            state['gpu_reason'] = 'nvidia-smi rc %d: %s' % (rc, (err or out).strip()[:200])
        raw_rows.append({'t': now, 't_done': time.time(), 'rc': rc, 'stdout': out, 'stderr': err})
        pids = telemetry.descendants('/', worker.pid) if worker is not None and worker.poll() is None else []
        snap = telemetry.snapshot(now, powercap, numastat, rows, {'burn': telemetry.instance_snapshot('/', pids)})
        first.setdefault('v', (powercap, numastat, rows, snap))
        return snap

    try:
        run = telemetry.sample(read, args.duration, 1.0, lambda: False, time.time, time.sleep, os.sysconf('SC_CLK_TCK'))
        powercap, numastat, rows, snap = first['v']
        tel = {'sampled': True, 'samples': run['samples'], 'interval_s': 1.0, 'gaps': run['gaps'],
               'sensors': {'rapl': powercap,
                           'gpu': {'available': bool(rows), 'gpus': rows or [],
                                   'reason': None if rows else (state['gpu_reason'] or 'nvidia-smi listed no GPU')},
                           'numa': {'available': numastat['available'], 'nodes': len(numastat['nodes']),
                                    'reason': numastat['reason']}},
               'instances': [{'name': 'burn', 'found': bool(snap['instances']['burn']['pids']),
                              'processes': len(snap['instances']['burn']['pids']),
                              'cpus_allowed': snap['instances']['burn']['cpus_allowed'], 'reason': None}]}
        result['host_telemetry_like'] = tel
        result['gpu_method'] = run['gpu_method']
    except Exception as exc:  # pylint: disable=broad-except
        _err(result, 'sample', exc)
    result['go_at'] = state['go']
    result['power_rows_raw'] = raw_rows

    if worker is not None:
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            result.setdefault('errors', {})['worker'] = 'killed after the window (still running 30 s later)'
    burn = {}
    if os.path.exists(report_path):
        with open(report_path) as handle:
            burn = json.load(handle)
    result['burn'] = burn

    # idle vs busy power from the parsed rows, and the window figures over the busy span
    try:
        parsed = []
        for row in raw_rows:
            if row['rc'] == 0:
                for gpu in nvidia.parse_power_query(row['stdout']):
                    parsed.append(dict(gpu, t=row['t']))
        start, end = burn.get('busy_start'), burn.get('busy_end')
        if start and end:
            busy = [p['power_w'] for p in parsed if start + 1.0 <= p['t'] <= end]
            idle_before = [p['power_w'] for p in parsed if p['t'] < start - 0.2]
            idle_after = [p['power_w'] for p in parsed if p['t'] > end + 3.0]
        else:
            busy, idle_before, idle_after = [], [p['power_w'] for p in parsed], []
        result['power'] = {'idle_before_w': _mean(idle_before), 'busy_w': _mean(busy), 'idle_after_w': _mean(idle_after),
                           'busy_max_w': max(busy) if busy else None, 'n_idle_before': len(idle_before),
                           'n_busy': len(busy), 'n_idle_after': len(idle_after)}
        # every sample: seconds from the first, phase against the worker's busy span, the draw of each GPU
        t_first = raw_rows[0]['t'] if raw_rows else 0.0
        per_sample = []
        for row in raw_rows:
            if start and end:
                # nvidia-smi answered after the load began (t_done) and was asked before it ended (t): busy
                phase = 'idle' if row['t_done'] < start else ('after' if row['t'] > end else 'busy')
            else:
                phase = 'idle'
            watts = [g['power_w'] for g in nvidia.parse_power_query(row['stdout'])] if row['rc'] == 0 else None
            per_sample.append({'s': round(row['t'] - t_first, 2), 'phase': phase, 'rc': row['rc'], 'power_w': watts})
        result['power_samples'] = per_sample
        for entry in per_sample:
            print('SAMPLE %6.2fs %-5s rc %d W %s' % (entry['s'], entry['phase'], entry['rc'], entry['power_w']))
        tel = result.get('host_telemetry_like')
        if tel and start and end:
            result['busy_window_figures'] = telemetry.window_figures(tel, start, end, output_tokens=None)
        if tel:
            span = tel['samples']
            result['whole_window_figures'] = telemetry.window_figures(tel, span[0]['t'], span[-1]['t'], output_tokens=None)
            # the collection's cumulative GPU joules against a trapezoid over the raw rows, computed here apart
            by_gpu = {}
            for row in raw_rows:
                if row['rc'] == 0:
                    for gpu in nvidia.parse_power_query(row['stdout']):
                        by_gpu.setdefault(str(gpu['index']), []).append((row['t'], gpu['power_w']))
            trapezoid = dict((k, round(sum((a[1] + b[1]) / 2.0 * (b[0] - a[0]) for a, b in zip(v, v[1:])
                                           if a[1] is not None and b[1] is not None), 3)) for k, v in by_gpu.items())
            result['energy_check'] = {'collection_gpu_j': span[-1]['gpu_j'], 'trapezoid_gpu_j': trapezoid,
                                      'span_s': round(span[-1]['t'] - span[0]['t'], 3)}
    except Exception as exc:  # pylint: disable=broad-except
        _err(result, 'figures', exc)
    result['ended'] = time.time()
    _write_json(out_path, result)
    rapl = ((result.get('host_telemetry_like') or {}).get('sensors') or {}).get('rapl') or {}
    print('TELEMETRY ' + json.dumps({'power': result.get('power'), 'burn': dict((k, burn.get(k)) for k in (
        'device', 'torch', 'tflops', 'matmuls', 'error')), 'rapl_available': rapl.get('available'),
        'rapl_reason': rapl.get('reason'), 'gpu_method': result.get('gpu_method'),
        'busy_energy': ((result.get('busy_window_figures') or {}).get('energy') or {}).get('by_source'),
        'errors': result.get('errors')}, default=str))
    busy_fig = (result.get('busy_window_figures') or {})
    whole_fig = (result.get('whole_window_figures') or {})
    print('ENERGY ' + json.dumps({
        'gpu_method': result.get('gpu_method'), 'check': result.get('energy_check'),
        'busy': {'s': (busy_fig.get('window') or {}).get('duration_s'), 'joules': (busy_fig.get('energy') or {}).get('joules'),
                 'watts': (busy_fig.get('energy') or {}).get('watts')},
        'whole': {'s': (whole_fig.get('window') or {}).get('duration_s'), 'joules': (whole_fig.get('energy') or {}).get('joules'),
                  'watts': (whole_fig.get('energy') or {}).get('watts')}}, default=str))
    return 0


# --------------------------------------------------------------------------- modules

def _run_module(name, module_args, timeout):
    path = os.path.join(ROOT, 'plugins', 'modules', name + '.py')
    args_file = '/tmp/inferops-facts-%s-args.json' % name
    with open(args_file, 'w') as handle:
        json.dump({'ANSIBLE_MODULE_ARGS': module_args}, handle)
    started = time.time()
    try:
        proc = subprocess.run([sys.executable, path, args_file], check=False, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=timeout, universal_newlines=True)
    except subprocess.TimeoutExpired:
        return {'rc': 124, 'error': 'timed out after %ss' % timeout}
    entry = {'rc': proc.returncode, 'seconds': round(time.time() - started, 2), 'stderr': proc.stderr[-4000:]}
    try:
        entry['result'] = json.loads(proc.stdout)
    except ValueError:
        entry['stdout'] = proc.stdout[-4000:]
    return entry


def cmd_modules(args):
    result = {'started': time.time()}
    try:
        import ansible  # noqa: F401 pylint: disable=import-outside-toplevel,unused-import
        result['ansible'] = ansible.__file__
    except ImportError as exc:
        _err(result, 'ansible', exc)
        _write_json(os.path.join(args.out, 'modules.json'), result)
        print('MODULES skipped: no ansible importable')
        return 0
    topo = _run_module('cpu_topology', {}, 60)
    result['cpu_topology'] = topo
    topology = (topo.get('result') or {}).get('topology')
    info = _run_module('nvidia_gpu_info', {'topology': topology} if topology else {}, 90)
    result['nvidia_gpu_info'] = info
    gpus = ((info.get('result') or {}).get('nvidia_gpu') or {}).get('gpus') or []
    plan_args = {'accelerator': 'nvidia', 'model_name': 'tiny-llama'}
    if args.model_path:
        plan_args['model_path'] = args.model_path
    if gpus and gpus[0].get('memory_mib'):
        plan_args['gpu_memory_gib'] = round(gpus[0]['memory_mib'] / 1024.0, 1)
    if topology:
        plan_args['topology'] = topology
    result['instance_plan'] = _run_module('instance_plan', plan_args, 60)
    result['host_telemetry'] = _run_module('host_telemetry', {'duration_s': 3, 'interval_s': 1}, 60)
    result['ended'] = time.time()
    _write_json(os.path.join(args.out, 'modules.json'), result)
    brief = {}
    for name in ('cpu_topology', 'nvidia_gpu_info', 'instance_plan', 'host_telemetry'):
        entry = result[name]
        res = entry.get('result') or {}
        brief[name] = {'rc': entry.get('rc'), 'failed': res.get('failed'), 'msg': (res.get('msg') or '')[:300]}
    ht = (result['host_telemetry'].get('result') or {})
    samples = ht.get('samples') or []
    brief['host_telemetry'].update(gpu=(ht.get('sensors') or {}).get('gpu'), gpu_method=ht.get('gpu_method'),
                                   gpu_j=samples[-1].get('gpu_j') if samples else None,
                                   span_s=round(samples[-1]['t'] - samples[0]['t'], 3) if samples else None)
    brief['nvidia_gpu_info']['gpus'] = gpus
    brief['instance_plan']['instances'] = [(i.get('name'), i.get('cpuset'), i.get('gpus')) for i in
                                           ((result['instance_plan'].get('result') or {}).get('plan') or {}).get('instances') or []]
    print('MODULES ' + json.dumps(brief, default=str))
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    sub = parser.add_subparsers(dest='cmd')
    sub.add_parser('commands')
    for name in ('facts', 'telemetry', 'modules'):
        p = sub.add_parser(name)
        p.add_argument('--out', required=True)
        p.add_argument('--work')
        p.add_argument('--model-path')
        p.add_argument('--duration', type=float, default=30.0)
        p.add_argument('--busy-after', type=float, default=8.0)
        p.add_argument('--busy-s', type=float, default=12.0)
        p.add_argument('--ready-wait', type=float, default=90.0)
        p.add_argument('--settle-s', type=float, default=2.0)
    p = sub.add_parser('burn')
    p.add_argument('--go', required=True)
    p.add_argument('--report', required=True)
    p.add_argument('--busy-s', type=float, default=12.0)
    p.add_argument('--wait-s', type=float, default=60.0)
    args = parser.parse_args(argv)
    if args.cmd == 'commands':
        for name, tail in smi_commands():
            print('%s %s' % (name, ' '.join(tail)))
        return 0
    if args.cmd == 'burn':
        return cmd_burn(args)
    if args.cmd is None:
        parser.error('a command is needed')
    if not os.path.isdir(args.out):
        os.makedirs(args.out)
    return {'facts': cmd_facts, 'telemetry': cmd_telemetry, 'modules': cmd_modules}[args.cmd](args)


if __name__ == '__main__':
    sys.exit(main())
