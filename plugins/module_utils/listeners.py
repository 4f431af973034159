# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Which process of a host listens on the network, decided once (the planner and the server role call it).

By default the instances bind loopback and the front (HAProxy) is the host's one network listener, also for
a single instance: it alone can ask for the API key on every path, refuse vLLM's control endpoints and
terminate TLS. ``expose_instances`` opts out: each instance then listens on ``listen_address`` and no front
runs (vLLM guards only ``/v1/*`` with its key).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress

LOOPBACK = '127.0.0.1'
ANY = '0.0.0.0'


class ListenerError(Exception):
    """The input cannot be used; the message names the variable."""


def _address(value, variable):
    if value in (None, ''):
        return ''
    try:
        return str(ipaddress.ip_address(str(value).strip('[]')))
    except ValueError:
        raise ListenerError('%s=%r is not an IP address: give one (0.0.0.0 or :: for every interface, '
                            '127.0.0.1 for this host only) or leave it empty' % (variable, value))


def is_loopback(address):
    return ipaddress.ip_address(address).is_loopback


def decide(front_port, expose_instances=False, listen_address='', names=None):
    """The host's listeners: {front, front_address, front_port, instance_address, network_exposed, reason}.

    ``names`` maps front_port, expose_instances and listen_address to the variables the user sets, so a
    refusal names those.
    """
    names = dict({'front_port': 'front_port', 'expose_instances': 'expose_instances',
                  'listen_address': 'listen_address'}, **(names or {}))
    if not isinstance(expose_instances, bool):
        raise ListenerError('%s=%r must be true or false' % (names['expose_instances'], expose_instances))
    address = _address(listen_address, names['listen_address'])
    if expose_instances:
        instance_address = address or ANY
        return {
            'front': False, 'front_address': None, 'front_port': None,
            'instance_address': instance_address,
            'network_exposed': not is_loopback(instance_address),
            'reason': '%s=true: each instance listens on %s itself and no front runs; vLLM asks for the API key '
                      'on /v1/* only, so /metrics, /tokenize, /version and its control endpoints answer whoever '
                      'reaches the instance ports.' % (names['expose_instances'], instance_address),
        }
    if not isinstance(front_port, int) or isinstance(front_port, bool) or not 0 < front_port < 65536:
        raise ListenerError('%s=%r must be a port number 1-65535' % (names['front_port'], front_port))
    front_address = address or ANY
    return {
        'front': True, 'front_address': front_address, 'front_port': front_port,
        'instance_address': LOOPBACK,
        'network_exposed': not is_loopback(front_address),
        'reason': 'the instances bind %s; the front (HAProxy) on %s port %d is the one network listener, also '
                  'for a single instance: it asks for the API key on every path but /health and refuses '
                  'vLLM\'s control endpoints (%s=true opts out).'
                  % (LOOPBACK, front_address, front_port, names['expose_instances']),
    }


def networks(entries, variable):
    """The allow-list ``entries`` as normalised networks (``10.0.0.0/8``); a bad entry names ``variable``."""
    if entries is None:
        return []
    if isinstance(entries, str) or not isinstance(entries, (list, tuple)):
        raise ListenerError('%s must be a list of networks such as 10.0.0.0/8 or 192.0.2.7/32, got %r'
                            % (variable, entries))
    out = []
    for index, entry in enumerate(entries):
        try:
            if not isinstance(entry, str):
                raise ValueError(entry)
            out.append(str(ipaddress.ip_network(entry.strip(), strict=False)))
        except ValueError:
            raise ListenerError('%s[%d]=%r is not a network: give an address or a network in CIDR form '
                                '(10.0.0.0/8, 192.0.2.7, 2001:db8::/32)' % (variable, index, entry))
    return out
