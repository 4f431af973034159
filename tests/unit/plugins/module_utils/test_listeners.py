# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.inferops.vllm.plugins.module_utils.listeners import ListenerError, decide, networks

ROLE = {'front_port': 'server_front_port', 'expose_instances': 'server_expose_instances',
        'listen_address': 'server_listen_address'}


@pytest.mark.parametrize('expose,address,expected', [
    (False, '', (True, '0.0.0.0', 8000, '127.0.0.1', True)),
    (False, '127.0.0.1', (True, '127.0.0.1', 8000, '127.0.0.1', False)),
    (False, '[::1]', (True, '::1', 8000, '127.0.0.1', False)),
    (False, '192.0.2.10', (True, '192.0.2.10', 8000, '127.0.0.1', True)),
    (True, '', (False, None, None, '0.0.0.0', True)),
    (True, '127.0.0.1', (False, None, None, '127.0.0.1', False)),
    (True, '2001:db8::1', (False, None, None, '2001:db8::1', True)),
])
def test_decide(expose, address, expected):
    got = decide(8000, expose, address)
    assert (got['front'], got['front_address'], got['front_port'], got['instance_address'],
            got['network_exposed']) == expected
    assert got['reason']


@pytest.mark.parametrize('args,words', [
    ((8000, False, 'host.example'), ['server_listen_address=', 'host.example', 'not an IP address']),
    ((8000, 'true', ''), ['server_expose_instances=', 'true or false']),
    ((0, False, ''), ['server_front_port=0']),
    (('8000', False, ''), ['server_front_port=']),
])
def test_decide_refuses_naming_the_variable(args, words):
    with pytest.raises(ListenerError) as exc:
        decide(*args, names=ROLE)
    for word in words:
        assert word in str(exc.value)


def test_networks_normalised():
    assert networks(['10.0.0.0/8', '192.0.2.7', ' 2001:db8::/32', '10.1.2.3/16'], 'v') == [
        '10.0.0.0/8', '192.0.2.7/32', '2001:db8::/32', '10.1.0.0/16']
    assert networks([], 'v') == []
    assert networks(None, 'v') == []


@pytest.mark.parametrize('entries,words', [
    (['10.0.0.0/8', 'scraper.example'], ['server_front_metrics_networks[1]=', 'scraper.example', 'not a network']),
    (['10.0.0.0/33'], ['server_front_metrics_networks[0]=', '10.0.0.0/33']),
    ([10], ['server_front_metrics_networks[0]=10']),
    ('10.0.0.0/8', ['server_front_metrics_networks must be a list']),
])
def test_networks_refused_naming_the_variable(entries, words):
    with pytest.raises(ListenerError) as exc:
        networks(entries, 'server_front_metrics_networks')
    for word in words:
        assert word in str(exc.value)
