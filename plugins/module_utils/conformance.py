# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Instance conformance: does a running vLLM instance have what its plan chose?

Everything here reads a ``/proc`` tree given as ``proc`` (``/proc`` on a host, a fixture tree in the
unit tests) and the planned instance; the module finds the main PIDs (systemctl / podman) and passes
them in. Each check gives one result::

    {'instance': 'vllm-node0', 'check': 'cpus', 'status': 'ok' | 'drift' | 'skipped' | 'inconclusive',
     'expected': '0-3', 'found': '0-3', 'line': 'vllm-node0 cpus: expected 0-3, found 0-3'}

``skipped`` always says why (a check that cannot tell anything here is never a silent pass);
``inconclusive`` says what could not be read.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os
import re

from ansible_collections.inferops.vllm.plugins.module_utils.topology import format_cpulist, parse_cpulist

STATUSES = ('ok', 'drift', 'skipped', 'inconclusive')
CHECKS = ('running', 'cpus', 'mems', 'numa_residency', 'preloads', 'env', 'cmdline', 'omp_threads', 'hugepages')
DEFAULT_SECRET_KEYS = ('VLLM_API_KEY', 'HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN')
# VLLM_CPU_OMP_THREADS_BIND values that leave the cores to vLLM: nothing planned to compare with.
UNPLANNED_BINDS = ('', 'auto', 'all', 'nobind')
# command-line flags whose values are never shown (vLLM refuses --api-key in the plan; a drift may add it)
# (--api-key, --hf-token; not --max-num-batched-tokens)
SECRET_FLAG_RE = re.compile(r'(^--|-)(key|token|secret|password)$')


class ProcReadError(Exception):
    """A /proc file could not be read; ``str()`` says which and why."""


# --------------------------------------------------------------------------- reading /proc

def _read(path):
    try:
        with open(path, 'rb') as handle:
            return handle.read()
    except (IOError, OSError) as exc:
        if exc.errno in (errno.ENOENT, errno.ESRCH):
            raise ProcReadError('%s: no such file (the process may have exited)' % path)
        raise ProcReadError('%s: cannot read: %s' % (path, exc.strerror or exc))


def _text(path):
    return _read(path).decode('utf-8', 'replace')


def parse_status(text):
    """``/proc/PID/status`` (or a task's) into ``{key: value}`` strings."""
    fields = {}
    for line in text.splitlines():
        if ':' in line:
            key, value = line.split(':', 1)
            fields[key.strip()] = value.strip()
    return fields


def status_cpulist(fields, key, path='status'):
    if key not in fields:
        raise ProcReadError('%s: %s is missing' % (path, key))
    try:
        return parse_cpulist(fields[key])
    except ValueError as exc:
        raise ProcReadError('%s: malformed %s: %s' % (path, key, exc))


def parse_nul_list(data):
    """``cmdline`` / ``environ``: NUL-separated fields (bytes) into a list of str."""
    if isinstance(data, bytes):
        data = data.decode('utf-8', 'replace')
    parts = data.split('\0')
    if parts and parts[-1] == '':
        parts.pop()
    return parts


def parse_environ(data):
    env = {}
    for entry in parse_nul_list(data):
        if '=' in entry:
            key, value = entry.split('=', 1)
            env[key] = value
    return env


def parse_maps(text):
    """Paths of the files mapped in ``/proc/PID/maps`` (the 6th column, may contain spaces)."""
    paths = set()
    for line in text.splitlines():
        fields = line.split(None, 5)
        if len(fields) == 6 and fields[5].startswith('/'):
            path = fields[5]
            if path.endswith(' (deleted)'):
                path = path[:-len(' (deleted)')]
            paths.add(path)
    return paths


def parse_numa_maps(text):
    """``/proc/PID/numa_maps`` into ``{'nodes': {node: bytes}, 'huge_bytes': int}``.

    Each line ends with ``N<node>=<pages>`` counts and ``kernelpagesize_kB=<size>``; hugetlbfs
    mappings carry the word ``huge``.
    """
    nodes = {}
    huge = 0
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 2:
            continue
        page_kb = 4
        counts = {}
        is_huge = False
        for field in fields[2:]:
            if field == 'huge':
                is_huge = True
            elif field.startswith('kernelpagesize_kB='):
                page_kb = int(field.split('=', 1)[1])
            elif field[:1] == 'N' and '=' in field and field[1:].split('=', 1)[0].isdigit():
                node, pages = field[1:].split('=', 1)
                counts[int(node)] = int(pages)
        for node, pages in counts.items():
            size = pages * page_kb * 1024
            nodes[node] = nodes.get(node, 0) + size
            if is_huge:
                huge += size
    return {'nodes': nodes, 'huge_bytes': huge}


def _ppid(proc, pid):
    text = _text(os.path.join(proc, str(pid), 'stat'))
    # the command name (field 2) is in parentheses and may hold spaces or ')'
    rest = text[text.rindex(')') + 2:].split()
    return int(rest[1])


def process_tree(proc, pid):
    """``pid`` and its descendants, parents first. Raises ProcReadError when ``pid`` is gone."""
    pid = int(pid)
    if not os.path.isdir(os.path.join(proc, str(pid))):
        raise ProcReadError('%s: no such process' % os.path.join(proc, str(pid)))
    children = {}
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            parent = _ppid(proc, entry)
        except (ProcReadError, ValueError, IndexError):
            continue  # exited while we looked, or not a process directory
        children.setdefault(parent, []).append(int(entry))
    tree, queue = [], [pid]
    while queue:
        current = queue.pop(0)
        tree.append(current)
        queue.extend(sorted(children.get(current, [])))
    return tree


def thread_affinities(proc, pid):
    """``{tid: [cpus]}`` of every thread of ``pid`` (threads that exit meanwhile are left out)."""
    base = os.path.join(proc, str(pid), 'task')
    result = {}
    try:
        tids = [t for t in os.listdir(base) if t.isdigit()]
    except OSError as exc:
        raise ProcReadError('%s: cannot list threads: %s' % (base, exc.strerror or exc))
    for tid in tids:
        path = os.path.join(base, tid, 'status')
        try:
            fields = parse_status(_text(path))
        except ProcReadError:
            continue
        result[int(tid)] = status_cpulist(fields, 'Cpus_allowed_list', path)
    return result


def resolve_in_root(root, path, hops=40):
    """Resolve the symlinks of ``path`` as seen from ``root`` (``/`` or ``/proc/PID/root``)."""
    parts = [p for p in path.split('/') if p]
    resolved = ''
    while parts and hops > 0:
        part = parts.pop(0)
        if part == '.':
            continue
        if part == '..':
            resolved = os.path.dirname(resolved)
            continue
        candidate = resolved + '/' + part
        full = os.path.join(root, candidate.lstrip('/'))
        if os.path.islink(full):
            hops -= 1
            target = os.readlink(full)
            if target.startswith('/'):
                resolved = ''
            parts = [p for p in target.split('/') if p] + parts
            continue
        resolved = candidate
    return resolved or '/'


# --------------------------------------------------------------------------- plan side

def parse_flags(argv):
    """Command-line flags as ``{flag: value or None}`` (last one wins, as with argparse)."""
    flags = {}
    index = 0
    argv = [str(a) for a in argv]
    while index < len(argv):
        arg = argv[index]
        if arg.startswith('--') and len(arg) > 2:
            if '=' in arg:
                name, value = arg.split('=', 1)
                flags[name] = value
            elif index + 1 < len(argv) and not argv[index + 1].startswith('--'):
                flags[arg] = argv[index + 1]
                index += 1
            else:
                flags[arg] = None
        index += 1
    return flags


def planned_bind(value):
    """VLLM_CPU_OMP_THREADS_BIND (``'1-55|57-111'``: one cpulist per rank) into a sorted cpu list,
    or None when it leaves the binding to vLLM."""
    value = (value or '').strip()
    if value.lower() in UNPLANNED_BINDS:
        return None
    cpus = set()
    for rank in value.split('|'):
        cpus.update(parse_cpulist(rank))
    return sorted(cpus)


def _preloads(env):
    return [p for p in (env.get('LD_PRELOAD') or '').replace(' ', ':').split(':') if p]


# --------------------------------------------------------------------------- results

def result(instance, check, status, expected, found, why=None):
    line = '%s %s: expected %s, found %s' % (instance, check, expected, found)
    if status == 'skipped':
        line = '%s %s: skipped: %s' % (instance, check, why)
    elif status == 'inconclusive':
        line = '%s %s: inconclusive: %s' % (instance, check, why)
    elif why:
        line = '%s (%s)' % (line, why)
    return {'instance': instance, 'check': check, 'status': status,
            'expected': expected, 'found': found, 'why': why, 'line': line}


def not_running(instance, state, last_log):
    """The instance has no main process: say so, with the unit's last journal line."""
    return result(instance, 'running', 'drift', 'a running main process', 'none (%s)' % (state or 'unknown state'),
                  'last journal line: %s' % (last_log.strip() if last_log and last_log.strip() else '(none)'))


def unknown(name, known):
    """A unit or container the plan does not know: reported, not checked, not touched."""
    return result(name, 'planned', 'drift', 'one of %s' % (', '.join(known) or '(no instance)'), 'not in the plan',
                  'not checked and not touched')


def select(instances, names, runtime, container_prefix=''):
    """Split ``names`` (units, containers or instance names; empty = all) into planned instances and unknown names."""
    index = {}
    for inst in instances:
        for key in (inst.get('name'), inst.get('unit'), container_name(inst, container_prefix)):
            if key:
                index[key] = inst
    if not names:
        return list(instances), []
    chosen, missing = [], []
    for name in names:
        if name in index:
            if index[name] not in chosen:
                chosen.append(index[name])
        else:
            missing.append(name)
    return chosen, missing


def container_name(inst, prefix=''):
    return inst.get('container') or (prefix + inst['name'] if inst.get('name') else None)


# --------------------------------------------------------------------------- checks

class _Reader(object):
    """Reads each /proc file once per run and keeps the failure when it cannot."""

    def __init__(self, proc, pids):
        self.proc = proc
        self.pids = pids
        self._cache = {}

    def get(self, pid, what, parse):
        key = (pid, what)
        if key not in self._cache:
            try:
                self._cache[key] = (parse(_read(os.path.join(self.proc, str(pid), what))), None)
            except ProcReadError as exc:
                self._cache[key] = (None, str(exc))
            except (ValueError, IndexError) as exc:
                self._cache[key] = (None, '%s: malformed: %s' % (os.path.join(self.proc, str(pid), what), exc))
        return self._cache[key]


def check_instance(inst, pid, proc='/proc', threshold=95.0, host_nodes=None, unit_policy=None,
                   secret_keys=DEFAULT_SECRET_KEYS, required_env_keys=(), root=None):
    """Every check of one running instance (main process ``pid``) against its planned ``inst``.

    ``inst``: name, cpuset, mems, env, argv (the server role's units, or plan instances with args),
    optional hugepages. ``host_nodes``: NUMA node ids of the host (None: unknown). ``unit_policy``:
    ``{'NUMAPolicy': 'bind', 'NUMAMask': '0'}`` from systemd, when the memory policy is set there.
    ``threshold``: least percent of resident memory on the planned nodes (0 disables the check).
    ``root``: where the process's files are seen (``/proc/PID/root`` for a container; default ``/``).
    """
    name = inst['name']
    results = []
    try:
        pids = process_tree(proc, pid)
    except ProcReadError as exc:
        return [result(name, 'running', 'drift', 'a running main process', 'none', str(exc))]
    reader = _Reader(proc, pids)
    results.append(result(name, 'running', 'ok', 'a running main process',
                          'pid %d with %d process%s' % (pid, len(pids), '' if len(pids) == 1 else 'es')))
    results.append(_check_cpus(name, inst, pids, proc))
    results.append(_check_mems(name, inst, pid, reader, unit_policy))
    numa = [(p,) + reader.get(p, 'numa_maps', lambda d: parse_numa_maps(d.decode('utf-8', 'replace'))) for p in pids]
    # a child that exited while we read is not unreadable: leave it out
    numa = [entry for entry in numa if entry[1] is not None or not _gone(proc, entry[0])]
    results.append(_check_residency(name, inst, numa, threshold, host_nodes))
    results.append(_check_preloads(name, inst, pids, reader, root or '/'))
    results.append(_check_env(name, inst, pid, reader, secret_keys, required_env_keys))
    results.append(_check_cmdline(name, inst, pid, reader))
    results.append(_check_omp(name, inst, pids, proc))
    results.append(_check_hugepages(name, inst, numa))
    return results


def _gone(proc, pid):
    return not os.path.isdir(os.path.join(proc, str(pid)))


def _planned_cpus(inst):
    return parse_cpulist(str(inst.get('cpuset') or ''))


def _check_cpus(name, inst, pids, proc):
    """Allowed CPUs of every thread of the tree, together, against the planned cpuset.

    The union, not the main thread alone: vLLM narrows its OpenMP threads (and, without engine
    multiprocessing, the main thread) to single cores, all inside the cpuset.
    """
    planned = _planned_cpus(inst)
    expected = format_cpulist(planned)
    if not planned:
        return result(name, 'cpus', 'skipped', 'any', '-', 'the plan sets no cpuset')
    union = set()
    threads = 0
    for pid in pids:
        try:
            affinities = thread_affinities(proc, pid)
        except ProcReadError as exc:
            if _gone(proc, pid):
                continue  # a short-lived child (a compiler, a tokenizer worker) exited meanwhile
            return result(name, 'cpus', 'inconclusive', expected, '?', str(exc))
        for cpus in affinities.values():
            union.update(cpus)
            threads += 1
    if not threads:
        return result(name, 'cpus', 'inconclusive', expected, '?', 'no thread status readable under %s' % proc)
    found = format_cpulist(sorted(union))
    return result(name, 'cpus', 'ok' if sorted(union) == planned else 'drift', expected, found)


def _check_mems(name, inst, pid, reader, unit_policy):
    planned = parse_cpulist(str(inst.get('mems') or ''))
    if not planned:
        return result(name, 'mems', 'skipped', 'any', '-', 'the plan binds no memory node')
    expected = format_cpulist(planned)
    status, why = reader.get(pid, 'status', lambda d: parse_status(d.decode('utf-8', 'replace')))
    if status is None:
        return result(name, 'mems', 'inconclusive', expected, '?', why)
    try:
        allowed = status_cpulist(status, 'Mems_allowed_list')
    except ProcReadError as exc:
        return result(name, 'mems', 'inconclusive', expected, '?', str(exc))
    found = format_cpulist(allowed)
    if allowed == planned:
        return result(name, 'mems', 'ok', expected, found)
    policy = unit_policy or {}
    mode = (policy.get('NUMAPolicy') or '').strip()
    mask = (policy.get('NUMAMask') or '').strip()
    if mode:
        try:
            mask_nodes = parse_cpulist(mask)
        except ValueError:
            mask_nodes = None
        found = 'NUMAPolicy=%s NUMAMask=%s (Mems_allowed %s)' % (mode, mask or '-', format_cpulist(allowed))
        if mode == 'bind' and mask_nodes == planned:
            return result(name, 'mems', 'ok', expected, found)
        return result(name, 'mems', 'drift', expected, found)
    return result(name, 'mems', 'drift', expected, found, 'Mems_allowed_list of main process %d' % pid)


def _check_residency(name, inst, numa, threshold, host_nodes):
    planned = parse_cpulist(str(inst.get('mems') or ''))
    expected = '>= %s%% on node%s %s' % (_num(threshold), '' if len(planned) == 1 else 's', format_cpulist(planned))
    if not threshold:
        return result(name, 'numa_residency', 'skipped', '-', '-', 'disabled (threshold 0)')
    if not planned:
        return result(name, 'numa_residency', 'skipped', '-', '-', 'the plan binds no memory node')
    if host_nodes is not None and len(host_nodes) < 2:
        return result(name, 'numa_residency', 'skipped', expected, '-',
                      'the host has one NUMA node: all memory is on it, so residency proves nothing')
    unreadable = [why for _pid, data, why in numa if data is None]
    if unreadable:
        return result(name, 'numa_residency', 'inconclusive', expected, '?', unreadable[0])
    total = sum(b for _pid, data, _why in numa for b in data['nodes'].values())
    if not total:
        return result(name, 'numa_residency', 'inconclusive', expected, '?', 'no resident page in numa_maps')
    on_plan = sum(b for _pid, data, _why in numa for n, b in data['nodes'].items() if n in planned)
    share = 100.0 * on_plan / total
    per_node = {}
    for _pid, data, _why in numa:
        for node, size in data['nodes'].items():
            per_node[node] = per_node.get(node, 0) + size
    found = '%.1f%% of %.1f MiB (%s)' % (share, total / 1048576.0,
                                         ', '.join('N%d %.1f MiB' % (n, per_node[n] / 1048576.0) for n in sorted(per_node)))
    return result(name, 'numa_residency', 'ok' if share + 1e-9 >= threshold else 'drift', expected, found)


def _check_preloads(name, inst, pids, reader, root):
    planned = _preloads(inst.get('env') or {})
    if not planned:
        return result(name, 'preloads', 'skipped', 'none', '-', 'the plan preloads no library')
    expected = ':'.join(planned)
    missing = []
    unreadable = []
    checked = 0
    for pid in pids:
        mapped, why = reader.get(pid, 'maps', lambda d: parse_maps(d.decode('utf-8', 'replace')))
        if mapped is None:
            if not _gone(reader.proc, pid):
                unreadable.append(why)
            continue
        checked += 1
        for lib in planned:
            names = set([lib, resolve_in_root(root, lib)])
            if not names & mapped and lib not in missing:
                missing.append(lib)
    if missing:
        return result(name, 'preloads', 'drift', expected, 'not mapped: %s' % ':'.join(missing),
                      'in %d process%s' % (checked, '' if checked == 1 else 'es'))
    if unreadable or not checked:
        return result(name, 'preloads', 'inconclusive', expected, '?',
                      unreadable[0] if unreadable else 'every process exited while it was read')
    return result(name, 'preloads', 'ok', expected, 'all mapped in %d process%s' % (checked, '' if checked == 1 else 'es'))


def _is_secret(key, secret_keys):
    return key in secret_keys


def _check_env(name, inst, pid, reader, secret_keys, required_env_keys):
    planned = dict((str(k), str(v)) for k, v in (inst.get('env') or {}).items())
    wanted = sorted(set(planned) | set(required_env_keys))
    if not wanted:
        return result(name, 'env', 'skipped', '-', '-', 'the plan sets no environment')
    environ, why = reader.get(pid, 'environ', parse_environ)
    expected = '%d key%s' % (len(wanted), '' if len(wanted) == 1 else 's')
    if environ is None:
        return result(name, 'env', 'inconclusive', expected, '?', why)
    wrong = []
    for key in wanted:
        secret = _is_secret(key, secret_keys)
        if key not in environ:
            wrong.append('%s unset' % key)
        elif key in planned and environ[key] != planned[key]:
            if secret:
                wrong.append('%s differs (secret, value not shown)' % key)
            else:
                wrong.append('%s=%s (planned %s)' % (key, environ[key], planned[key]))
    if wrong:
        return result(name, 'env', 'drift', expected + ' as planned', '; '.join(wrong))
    return result(name, 'env', 'ok', expected + ' as planned', '%d as planned' % len(wanted))


def _secret_flag(flag):
    return bool(SECRET_FLAG_RE.search(flag.lower()))


def _shown(flag, value):
    """A flag's value as a line may show it: never the value of a key, token or password flag."""
    if value is None:
        return '(no value)'
    return '<hidden>' if _secret_flag(flag) else value


def _check_cmdline(name, inst, pid, reader):
    argv = inst.get('argv') or inst.get('args')
    if not argv:
        return result(name, 'cmdline', 'skipped', '-', '-', 'the plan gives no arguments')
    planned = parse_flags(argv)
    cmdline, why = reader.get(pid, 'cmdline', parse_nul_list)
    expected = '%d flag%s' % (len(planned), '' if len(planned) == 1 else 's')
    if cmdline is None:
        return result(name, 'cmdline', 'inconclusive', expected, '?', why)
    if not cmdline:
        return result(name, 'cmdline', 'inconclusive', expected, '?', 'empty cmdline (a kernel thread or a zombie)')
    found = parse_flags(cmdline)
    wrong = []
    for flag in sorted(planned):
        if flag not in found:
            wrong.append('%s missing' % flag)
        elif found[flag] != planned[flag]:
            wrong.append('%s %s (planned %s)' % (flag, _shown(flag, found[flag]), _shown(flag, planned[flag])))
    for flag in sorted(set(found) - set(planned)):
        wrong.append('%s%s not planned' % (flag, '' if found[flag] is None else ' ' + _shown(flag, found[flag])))
    if wrong:
        return result(name, 'cmdline', 'drift', expected + ' as planned', '; '.join(wrong))
    return result(name, 'cmdline', 'ok', expected + ' as planned', '%d as planned' % len(planned))


def _check_omp(name, inst, pids, proc):
    env = inst.get('env') or {}
    raw = inst.get('omp_threads_bind') or env.get('VLLM_CPU_OMP_THREADS_BIND')
    try:
        bind = planned_bind(raw)
    except ValueError as exc:
        return result(name, 'omp_threads', 'inconclusive', str(raw), '?', 'planned bind is not a cpulist: %s' % exc)
    if bind is None:
        return result(name, 'omp_threads', 'skipped', '-', '-',
                      'VLLM_CPU_OMP_THREADS_BIND=%s leaves the cores to vLLM' % (raw or 'unset'))
    expected = 'one thread bound to each core of %s' % format_cpulist(bind)
    cpuset = _planned_cpus(inst)
    if len(cpuset) == 1:
        return result(name, 'omp_threads', 'skipped', expected, '-',
                      'the cpuset is one CPU: every thread is bound to it, binding cannot be told apart')
    bound = {}
    for pid in pids:
        try:
            affinities = thread_affinities(proc, pid)
        except ProcReadError:
            continue
        for _tid, cpus in affinities.items():
            if len(cpus) == 1:
                bound[cpus[0]] = bound.get(cpus[0], 0) + 1
    if not bound:
        return result(name, 'omp_threads', 'drift', expected, 'no thread bound to a single core')
    missing = sorted(set(bind) - set(bound))
    stray = sorted(set(bound) - set(bind))
    threads = sum(bound.values())
    found = '%d thread%s bound to %s' % (threads, '' if threads == 1 else 's', format_cpulist(sorted(bound)))
    notes = []
    if missing:
        notes.append('none on %s' % format_cpulist(missing))
    if stray:
        notes.append('bound outside the plan on %s' % format_cpulist(stray))
    if notes:
        return result(name, 'omp_threads', 'drift', expected, found + ' (' + '; '.join(notes) + ')')
    return result(name, 'omp_threads', 'ok', expected, found)


def _check_hugepages(name, inst, numa):
    planned = inst.get('hugepages')
    if not planned:
        # instance_plan never plans them (vLLM's memory is ordinary torch memory); an instance given with
        # hugepages=true by hand is checked
        return result(name, 'hugepages', 'skipped', 'none', '-',
                      'no hugepages planned (the planner plans none: vLLM cannot use static hugepages)')
    unreadable = [why for _pid, data, why in numa if data is None]
    if unreadable:
        return result(name, 'hugepages', 'inconclusive', 'hugepages in use', '?', unreadable[0])
    huge = sum(data['huge_bytes'] for _pid, data, _why in numa)
    found = '%s MiB of hugetlb pages' % _num(huge / 1048576.0)  # 0 MiB, 2048 MiB
    return result(name, 'hugepages', 'ok' if huge else 'drift', 'hugepages in use', found)


def _num(value):
    value = round(float(value), 1)
    return str(int(value)) if value == int(value) else '%.1f' % value


# --------------------------------------------------------------------------- summary

def summarize(results):
    """``{'lines', 'drift', 'inconclusive', 'skipped', 'ok', 'status'}`` of all check results."""
    lines = [r['line'] for r in results]
    by = dict((s, [r['line'] for r in results if r['status'] == s]) for s in STATUSES)
    status = 'drift' if by['drift'] else ('inconclusive' if by['inconclusive'] else 'ok')
    return {'lines': lines, 'drift': by['drift'], 'inconclusive': by['inconclusive'], 'skipped': by['skipped'],
            'ok': by['ok'], 'status': status}
