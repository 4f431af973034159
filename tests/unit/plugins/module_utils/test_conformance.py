# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import shutil

import pytest

from ansible_collections.inferops.vllm.plugins.module_utils import conformance as c

FIXTURES = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures', 'proc'))
TCMALLOC = '/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4'
IOMP = '/opt/inferops-vllm/venvs/vllm-cpu-0.32.0/lib/libiomp5.so'

# What the server role renders for the instance (its __server_units entry), as the module receives it.
PLANNED = {
    'name': 'vllm-node0',
    'unit': 'vllm-node0.service',
    'cpuset': '0-3',
    'mems': '0',
    'env': {'HF_HUB_OFFLINE': '1', 'VLLM_CPU_KVCACHE_SPACE': '4', 'VLLM_CPU_OMP_THREADS_BIND': '1-3',
            'LD_PRELOAD': TCMALLOC + ':' + IOMP},
    'argv': ['serve', '/srv/models/tiny-llama', '--host', '127.0.0.1', '--served-model-name', 'tiny-llama',
             '--port', '8100', '--dtype', 'bfloat16', '--max-num-seqs', '128'],
}


def proc(case):
    return os.path.join(FIXTURES, case)


@pytest.fixture
def root(tmp_path):
    """A host root where the planned tcmalloc path is a symlink to the versioned file /proc/PID/maps shows."""
    lib = tmp_path / 'usr' / 'lib' / 'x86_64-linux-gnu'
    lib.mkdir(parents=True)
    (lib / 'libtcmalloc_minimal.so.4.5.9').write_text(u'')
    os.symlink('libtcmalloc_minimal.so.4.5.9', str(lib / 'libtcmalloc_minimal.so.4'))
    return str(tmp_path)


def by_check(results):
    return dict((r['check'], r) for r in results)


def run(case, root, **kwargs):
    kwargs.setdefault('host_nodes', [0, 1])
    kwargs.setdefault('required_env_keys', ['VLLM_API_KEY'])
    return by_check(c.check_instance(PLANNED, 100, proc=proc(case), root=root, **kwargs))


def test_conforming_instance_passes_every_check(root):
    results = run('vllm_2node_ok', root)
    assert sorted(results) == sorted(c.CHECKS)
    assert dict((k, v['status']) for k, v in results.items()) == {
        'running': 'ok', 'cpus': 'ok', 'mems': 'ok', 'numa_residency': 'ok', 'preloads': 'ok', 'env': 'ok',
        'cmdline': 'ok', 'omp_threads': 'ok', 'hugepages': 'skipped'}
    # the tree is the API server and its engine core, not pid 1 or the unrelated sshd on the same cores
    assert results['running']['found'] == 'pid 100 with 2 processes'
    assert results['cpus']['line'] == 'vllm-node0 cpus: expected 0-3, found 0-3'
    # (20000 + 480000 + 1 + 3) pages on node 0 of 502104
    assert results['numa_residency']['found'] == '99.6% of 1961.4 MiB (N0 1953.2 MiB, N1 8.2 MiB)'
    assert results['preloads']['found'] == 'all mapped in 2 processes'
    assert results['omp_threads']['line'] == ('vllm-node0 omp_threads: expected one thread bound to each core of 1-3, '
                                              'found 3 threads bound to 1-3')
    assert results['hugepages']['line'] == ('vllm-node0 hugepages: skipped: no hugepages planned '
                                            '(the planner plans none: vLLM cannot use static hugepages)')
    assert c.summarize(list(results.values()))['drift'] == []


def test_drift_gives_one_line_per_check_and_hides_secret_values(root):
    results = run('vllm_2node_drift', root, secret_keys=['VLLM_API_KEY'])
    drift = dict((k, v['line']) for k, v in results.items() if v['status'] == 'drift')
    assert drift == {
        'cpus': 'vllm-node0 cpus: expected 0-3, found 0-5',
        'numa_residency': ('vllm-node0 numa_residency: expected >= 95% on node 0, found 63.9% of 1957.1 MiB '
                           '(N0 1250.0 MiB, N1 707.0 MiB)'),
        'preloads': 'vllm-node0 preloads: expected %s:%s, found not mapped: %s (in 2 processes)' % (TCMALLOC, IOMP, IOMP),
        'env': ('vllm-node0 env: expected 5 keys as planned, found LD_PRELOAD=%s (planned %s:%s); '
                'VLLM_CPU_KVCACHE_SPACE=8 (planned 4)' % (TCMALLOC, TCMALLOC, IOMP)),
        'cmdline': 'vllm-node0 cmdline: expected 5 flags as planned, found --max-num-seqs 64 (planned 128); --enforce-eager not planned',
        'omp_threads': ('vllm-node0 omp_threads: expected one thread bound to each core of 1-3, found 3 threads bound to '
                        '1-2,5 (none on 3; bound outside the plan on 5)'),
    }
    assert 'other-key' not in repr(results) and 's3cr3t' not in repr(results)


def test_residency_figures_match_a_hand_count(root):
    # drift tree: node 0 = (1 + 20000 + 3) + (1 + 300000 + 3) pages, node 1 = 1000 + 180000 pages, 4 KiB each
    n0, n1 = 320008, 181000
    share = 100.0 * n0 / (n0 + n1)
    found = run('vllm_2node_drift', root)['numa_residency']['found']
    assert found.startswith('%.1f%% of ' % share)
    assert '(N0 %.1f MiB, N1 %.1f MiB)' % (n0 * 4 / 1024.0, n1 * 4 / 1024.0) in found
    assert run('vllm_2node_drift', root, threshold=60)['numa_residency']['status'] == 'ok'


def test_secret_key_that_differs_is_named_without_value(root):
    planned = dict(PLANNED, env=dict(PLANNED['env'], VLLM_API_KEY='the-planned-key'))
    results = by_check(c.check_instance(planned, 100, proc=proc('vllm_2node_drift'), root=root, host_nodes=[0, 1]))
    assert 'VLLM_API_KEY differs (secret, value not shown)' in results['env']['found']
    assert 'other-key' not in results['env']['line'] and 'the-planned-key' not in results['env']['line']


def test_numa_maps_missing_is_inconclusive_with_why(root):
    results = run('vllm_numa_maps_missing', root)
    assert results['numa_residency']['status'] == 'inconclusive'
    assert results['numa_residency']['line'] == (
        'vllm-node0 numa_residency: inconclusive: %s/100/numa_maps: no such file (the process may have exited)'
        % proc('vllm_numa_maps_missing'))
    # the other checks still run
    assert results['cpus']['status'] == 'ok' and results['preloads']['status'] == 'ok'
    assert c.summarize(list(results.values()))['status'] == 'inconclusive'


def test_numa_maps_unreadable_is_inconclusive_with_why(tmp_path, root):
    tree = str(tmp_path / 'proc')
    shutil.copytree(proc('vllm_2node_ok'), tree)
    # a directory where the file should be: reading fails with EISDIR even as root
    os.remove(os.path.join(tree, '101', 'numa_maps'))
    os.mkdir(os.path.join(tree, '101', 'numa_maps'))
    results = by_check(c.check_instance(PLANNED, 100, proc=tree, root=root, host_nodes=[0, 1]))
    assert results['numa_residency']['status'] == 'inconclusive'
    assert results['numa_residency']['why'] == '%s/101/numa_maps: cannot read: Is a directory' % tree


def test_single_node_host_and_single_cpu_cpuset_are_skipped_with_why(root):
    planned = dict(PLANNED, cpuset='1', env=dict(PLANNED['env'], VLLM_CPU_OMP_THREADS_BIND='1'))
    results = by_check(c.check_instance(planned, 101, proc=proc('vllm_2node_ok'), root=root, host_nodes=[0]))
    assert results['numa_residency']['line'] == ('vllm-node0 numa_residency: skipped: the host has one NUMA node: all '
                                                 'memory is on it, so residency proves nothing')
    assert results['omp_threads']['status'] == 'skipped'
    assert 'the cpuset is one CPU' in results['omp_threads']['why']
    # the engine core alone: its threads allow 0-3 (the helper thread), more than the planned single CPU
    assert results['cpus']['line'] == 'vllm-node0 cpus: expected 1, found 0-3'


def test_auto_bind_and_disabled_threshold_are_skipped(root):
    planned = dict(PLANNED, env=dict(PLANNED['env'], VLLM_CPU_OMP_THREADS_BIND='auto'))
    results = by_check(c.check_instance(planned, 100, proc=proc('vllm_2node_ok'), root=root, host_nodes=[0, 1], threshold=0))
    assert results['omp_threads']['why'] == 'VLLM_CPU_OMP_THREADS_BIND=auto leaves the cores to vLLM'
    assert results['numa_residency']['why'] == 'disabled (threshold 0)'


def test_mems_from_the_systemd_memory_policy():
    # systemd NUMAPolicy=bind does not narrow Mems_allowed_list (0 in the fixture): the unit's policy counts
    planned = dict(PLANNED, mems='1')
    ok = by_check(c.check_instance(planned, 100, proc=proc('vllm_2node_ok'), host_nodes=[0, 1],
                                   unit_policy={'NUMAPolicy': 'bind', 'NUMAMask': '1'}))['mems']
    assert ok['status'] == 'ok' and ok['found'] == 'NUMAPolicy=bind NUMAMask=1 (Mems_allowed 0)'
    bad = by_check(c.check_instance(planned, 100, proc=proc('vllm_2node_ok'), host_nodes=[0, 1],
                                    unit_policy={'NUMAPolicy': 'bind', 'NUMAMask': '0'}))['mems']
    assert bad['line'] == 'vllm-node0 mems: expected 1, found NUMAPolicy=bind NUMAMask=0 (Mems_allowed 0)'
    unbound = by_check(c.check_instance(planned, 100, proc=proc('vllm_2node_ok'), host_nodes=[0, 1]))['mems']
    assert unbound['status'] == 'drift' and unbound['found'] == '0'


def test_hugepages_planned_but_unused_is_drift(root):
    planned = dict(PLANNED, hugepages=True)
    results = by_check(c.check_instance(planned, 100, proc=proc('vllm_2node_ok'), root=root, host_nodes=[0, 1]))
    assert results['hugepages']['line'] == 'vllm-node0 hugepages: expected hugepages in use, found 0 MiB of hugetlb pages'


def test_process_gone_is_reported_not_raised():
    results = c.check_instance(PLANNED, 4242, proc=proc('vllm_2node_ok'))
    assert [r['status'] for r in results] == ['drift']
    assert results[0]['check'] == 'running' and 'no such process' in results[0]['line']


def test_not_running_names_the_last_journal_line():
    line = c.not_running('vllm-a', 'ActiveState=failed SubState=failed', 'ValueError: bad value\n')['line']
    assert line == ('vllm-a running: expected a running main process, found none (ActiveState=failed SubState=failed) '
                    '(last journal line: ValueError: bad value)')
    assert c.not_running('vllm-a', '', '')['line'].endswith('(last journal line: (none))')


def test_unknown_unit_or_container_is_reported_not_checked():
    instances = [dict(PLANNED, name='vllm-a', unit='vllm-a.service'), dict(PLANNED, name='vllm-b', unit='vllm-b.service')]
    chosen, missing = c.select(instances, ['vllm-b.service', 'vllm-x.service'], 'systemd')
    assert [i['name'] for i in chosen] == ['vllm-b'] and missing == ['vllm-x.service']
    chosen, missing = c.select(instances, ['vllm-a'], 'podman', container_prefix='')
    assert [i['name'] for i in chosen] == ['vllm-a'] and missing == []
    assert c.select(instances, [], 'systemd') == (instances, [])
    assert c.unknown('vllm-x.service', ['vllm-a', 'vllm-b'])['line'] == (
        'vllm-x.service planned: expected one of vllm-a, vllm-b, found not in the plan (not checked and not touched)')


def test_secret_flag_values_are_never_shown(tmp_path):
    tree = str(tmp_path / 'proc')
    shutil.copytree(proc('vllm_2node_ok'), tree)
    with open(os.path.join(tree, '100', 'cmdline'), 'ab') as handle:
        handle.write(b'--api-key\0leaked-key-value\0')
    line = by_check(c.check_instance(PLANNED, 100, proc=tree, host_nodes=[0, 1]))['cmdline']['line']
    assert line == 'vllm-node0 cmdline: expected 5 flags as planned, found --api-key <hidden> not planned'


@pytest.mark.parametrize('argv,flags', [
    (['serve', 'm', '--port', '8100', '--enforce-eager', '--dtype=bfloat16'],
     {'--port': '8100', '--enforce-eager': None, '--dtype': 'bfloat16'}),
    (['--max-num-seqs', '32', '--max-num-seqs', '64'], {'--max-num-seqs': '64'}),
    (['--seed', '-1'], {'--seed': '-1'}),
])
def test_parse_flags(argv, flags):
    assert c.parse_flags(argv) == flags


def test_parsers():
    assert c.planned_bind('1-3|5-7') == [1, 2, 3, 5, 6, 7]
    assert c.planned_bind('auto') is None and c.planned_bind(None) is None
    with pytest.raises(ValueError):
        c.planned_bind('1-x')
    assert c.parse_environ(b'A=1\0B=x=y\0JUNK\0') == {'A': '1', 'B': 'x=y'}
    assert c.parse_maps('7f-8f r-xp 0 fd:01 1 /usr/lib/a b.so (deleted)\n7f-8f rw-p 0 00:00 0 [heap]\n') == set(['/usr/lib/a b.so'])
    numa = c.parse_numa_maps('7f default file=/dev/hugepages/x huge dirty=2 N1=2 kernelpagesize_kB=2048\n'
                             '7e bind:0 anon=3 N0=3 kernelpagesize_kB=4\n')
    assert numa == {'nodes': {0: 3 * 4096, 1: 2 * 2048 * 1024}, 'huge_bytes': 2 * 2048 * 1024}


def test_resolve_in_root_follows_relative_and_absolute_links(tmp_path):
    (tmp_path / 'opt' / 'v1' / 'lib').mkdir(parents=True)
    (tmp_path / 'opt' / 'v1' / 'lib' / 'libiomp5.so').write_text(u'')
    os.symlink('/opt/v1', str(tmp_path / 'opt' / 'current'))
    assert c.resolve_in_root(str(tmp_path), '/opt/current/lib/libiomp5.so') == '/opt/v1/lib/libiomp5.so'
    assert c.resolve_in_root(str(tmp_path), '/opt/none/lib.so') == '/opt/none/lib.so'
