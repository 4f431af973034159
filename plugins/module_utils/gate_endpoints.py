# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Which endpoints of a host the validate role gates, and which one stands for the whole host.

A host is charged once: exactly one endpoint per host has scope ``host`` (its front port, or all
its instances loaded together, or its only instance) and carries the host's cost; the others
(scope ``instance``) show each instance's throughput and latency, never a cost.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.inferops.vllm.plugins.module_utils import telemetry


class EndpointError(Exception):
    pass


def _url(scheme, address, port):
    host = '[%s]' % address if ':' in str(address) and not str(address).startswith('[') else address
    return '%s://%s:%s' % (scheme, host, port)


def _from_targets(targets):
    out = []
    for i, t in enumerate(targets):
        if not isinstance(t, dict) or not t.get('name') or not t.get('url'):
            raise EndpointError('validate_targets[%d] needs name and url, got %r' % (i, t))
        scope = t.get('scope') or ('host' if len(targets) == 1 or t['name'] == 'front' else 'instance')
        if scope not in ('host', 'instance'):
            raise EndpointError('validate_targets[%d].scope must be host or instance, got %r' % (i, scope))
        entry = {'name': t['name'], 'url': t['url'], 'scope': scope, 'metrics_urls': t.get('metrics_urls')}
        # a front port without its instances' /metrics has no single counter to compare with
        entry['cross_check'] = t.get('cross_check', not (t['name'] == 'front' and not t.get('metrics_urls')))
        out.append(entry)
    if sum(1 for e in out if e['scope'] == 'host') > 1:
        raise EndpointError('validate_targets has several entries with scope host: a host is charged once, so '
                            'give scope: host to one endpoint (the front port, or the only instance)')
    return out


def gate_endpoints(instances=None, front_port=None, address='127.0.0.1', scheme='http', targets=None,
                   gate_instances=True, instances_loopback=False, runner_on_host=False):
    """List of {name, url | urls, scope, cross_check, metrics_urls, on_host, skipped} to gate for one host.

    ``instances_loopback``: the instances listen on 127.0.0.1 of the host (behind its front), so the runner
    reaches them only when it is the host itself (``runner_on_host``); otherwise their endpoints are marked
    ``on_host`` (the role gates them from the host) and the front's /metrics cross-check, which needs the
    instances' own /metrics from the runner, is skipped with the reason in ``skipped``.
    """
    if targets:
        return _from_targets(targets)
    instances = instances or []
    for i, inst in enumerate(instances):
        if not isinstance(inst, dict) or not inst.get('name') or inst.get('port') in (None, ''):
            raise EndpointError('validate_instances[%d] needs name and port (as in instance_plan), got %r' % (i, inst))
    on_host = bool(instances_loopback) and not runner_on_host
    if instances_loopback:
        # the instances serve plain HTTP on loopback; the front may serve TLS
        urls = [_url('http', '127.0.0.1', inst['port']) for inst in instances]
    else:
        urls = [_url(scheme, address, inst['port']) for inst in instances]
    out = []
    if front_port not in (None, ''):
        entry = {'name': 'front', 'url': _url(scheme, address, front_port), 'scope': 'host', 'cross_check': True,
                 'metrics_urls': [u + '/metrics' for u in urls] or None}
        if on_host:
            entry.update(cross_check=False, metrics_urls=None,
                         skipped='/metrics cross-check: the instances\' /metrics listen on 127.0.0.1 of the host, '
                                 'out of the runner\'s reach (each instance is gated and cross-checked on the host)')
        out.append(entry)
    elif len(instances) == 1:
        out.append({'name': instances[0]['name'], 'url': urls[0], 'scope': 'host', 'cross_check': True,
                    'metrics_urls': None})
        return out
    elif len(instances) > 1:
        out.append({'name': 'host', 'urls': urls, 'scope': 'host', 'cross_check': True, 'metrics_urls': None})
    if gate_instances:
        for inst, url in zip(instances, urls):
            entry = {'name': inst['name'], 'url': url, 'scope': 'instance', 'cross_check': True, 'metrics_urls': None}
            if on_host:
                entry['on_host'] = True
            out.append(entry)
    if not out:
        raise EndpointError('nothing to gate: set validate_instances (the plan\'s instances), validate_front_port, '
                            'or validate_targets (a list of {name, url})')
    return out


_NOT_RESULT = ('invocation', 'item', 'ansible_loop_var', 'changed', 'failed', '_ansible_no_log',
               '_ansible_item_label', '_ansible_delegated_vars', '_ansible_verbose_always')


def gate_record(res, host, runner, hardware):
    """The fleet report's record of one looped throughput task result."""
    item = res.get('item') or {}
    result = dict((k, v) for k, v in res.items() if k not in _NOT_RESULT)
    result.setdefault('verdict', 'error')
    record = {'host': host, 'target': item.get('name'), 'scope': item.get('scope', 'instance'),
              'url': res.get('url') or item.get('url') or ' + '.join(item.get('urls') or []),
              # a loopback-only instance is gated from its host
              'runner': host if item.get('on_host') else runner, 'hardware': hardware, 'result': result}
    if item.get('skipped'):
        record['skipped'] = item['skipped']
    return record


def host_record(records, vllm_version=None, profile=None):
    """What a later run compares with (regression gate): the host-scope record, reduced to its figures.

    Returns {} when no record has scope host.
    """
    hosts = [r for r in records if r.get('scope') == 'host']
    if not hosts:
        return {}
    rec = hosts[0]
    res = rec['result']
    cfg = res.get('config') or {}
    cap = res.get('capacity') or None
    return {
        'host': rec['host'], 'target': rec['target'], 'hardware': rec['hardware'], 'scope': 'host',
        'model': res.get('model'), 'vllm_version': vllm_version or None, 'profile': profile,
        'load': {'mode': res.get('mode'), 'api': res.get('api'), 'prompt_tokens': cfg.get('prompt_tokens'),
                 'output_tokens': cfg.get('output_tokens'), 'concurrency': cfg.get('concurrency'),
                 'rate': cfg.get('rate')},
        'capacity': dict((k, cap.get(k)) for k in ('requests_per_s', 'output_tokens_per_s', 'total_tokens_per_s',
                                                   'limiting_slo')) if cap else None,
        'throughput': res.get('throughput'),
        'verdict': res.get('verdict'),
        'finished_epoch': (res.get('window') or {}).get('end_epoch'),
        'telemetry': telemetry.brief(res.get('telemetry')),
    }
