# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: cpulist
short_description: Normalise a Linux CPU list
version_added: 0.1.0
author:
  - inferops.vllm contributors
description:
  - Turns a CPU list given as a kernel cpulist string (C(0-3,8,10-11)), a single CPU number, or a list
    of CPU numbers and cpulist strings into one canonical form.
  - The string form is what C(/sys/devices/system/cpu/online), tuned's C(isolated_cores) and irqbalance's
    C(IRQBALANCE_BANNED_CPULIST) use; the list form is sorted, without duplicates.
  - Anything that is not a CPU list (negative numbers, reversed ranges, booleans, words) fails with a
    message naming O(name) and the accepted forms.
positional: output
options:
  _input:
    description: The CPU list. An empty string, an empty list or V(null) give an empty result.
    type: raw
    required: true
  output:
    description: V(str) gives a compressed cpulist string, V(list) a sorted list of integers.
    type: str
    default: str
    choices: [str, list]
  name:
    description: What the input is called in error messages (for example the variable it came from).
    type: str
    default: cpu list
'''

EXAMPLES = r'''
- name: Canonical cpulist string
  ansible.builtin.debug:
    msg: "{{ [3, 0, 1, 2, '8-9'] | inferops.vllm.cpulist }}"   # "0-3,8-9"

- name: Expand to integers, naming the variable in errors
  ansible.builtin.debug:
    msg: "{{ xeon_tuning_inference_cpus | inferops.vllm.cpulist('list', name='xeon_tuning_inference_cpus') }}"
'''

RETURN = r'''
_value:
  description: The CPU list as a compressed cpulist string, or as a sorted list of integers.
  type: raw
'''

from ansible.errors import AnsibleFilterError
from ansible_collections.inferops.vllm.plugins.module_utils.topology import MAX_CPULIST_ID, format_cpulist, parse_cpulist

MAX_CPU = MAX_CPULIST_ID
_ACCEPTED = 'a cpulist string such as "0-3,8", a CPU number, or a list of CPU numbers / cpulist strings'


def _bad(name, value, why):
    return AnsibleFilterError('%s: invalid CPU list %r (%s); expected %s' % (name, value, why, _ACCEPTED))


def _parse_string(text, name):
    try:
        return set(parse_cpulist(text))
    except ValueError as exc:
        raise _bad(name, text, str(exc))


def _parse_one(value, name):
    if isinstance(value, bool):
        raise _bad(name, value, 'a boolean is not a CPU number')
    if isinstance(value, int):
        if value < 0 or value > MAX_CPU:
            raise _bad(name, value, 'CPU numbers run from 0 to %d' % MAX_CPU)
        return set([value])
    if isinstance(value, str):
        return _parse_string(value, name)
    raise _bad(name, value, 'a %s is not a CPU list' % type(value).__name__)


def parse(value, name='cpu list'):
    """Return the set of CPU numbers ``value`` describes."""
    if value is None:
        return set()
    if isinstance(value, (list, tuple)):
        cpus = set()
        for item in value:
            if isinstance(item, (list, tuple, dict)) or item is None:
                raise _bad(name, value, 'element %r is not a CPU number or cpulist string' % (item,))
            cpus.update(_parse_one(item, name))
        return cpus
    return _parse_one(value, name)


def cpulist(value, output='str', name='cpu list'):
    """The filter: normalise ``value`` to a cpulist string or a sorted list of ints."""
    if output not in ('str', 'list'):
        raise AnsibleFilterError('cpulist: output must be "str" or "list", got %r' % (output,))
    cpus = parse(value, name)
    if output == 'list':
        return sorted(cpus)
    return format_cpulist(cpus)


class FilterModule(object):
    """CPU list filters."""

    def filters(self):
        return {'cpulist': cpulist}
