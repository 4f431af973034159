# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Messages in the user's words: module option names rewritten as the variables the user set.

A playbook that fills a module's options from inventory variables (``playbooks/plan.yml`` fills
``inferops.vllm.instance_plan`` from ``inferops_*``) passes the module a ``var_names`` map
``{option: variable}``; the module runs every refusal, warning and explanation through
``in_user_words`` so that ``hugepages_2m_per_node=4096`` reads ``inferops_hugepages_2m_per_node=4096``.
The planner keeps writing its own option names: this is the one place they are translated.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

# An option is a whole word: not part of a longer name, a path or a dotted name.
_BEFORE = r'(?<![A-Za-z0-9_./-])'
_AFTER = r'(?![A-Za-z0-9_-])'


def check_var_names(var_names, options):
    """Return an error sentence for a bad ``var_names`` map, or None."""
    if not isinstance(var_names, dict):
        return 'var_names must be a mapping of option name to variable name'
    unknown = sorted(set(var_names) - set(options))
    if unknown:
        return 'var_names names unknown option(s): %s; accepted: %s' % (', '.join(unknown), ', '.join(sorted(options)))
    bad = sorted(k for k, v in var_names.items() if not isinstance(v, str) or not re.match(r'^[A-Za-z_][A-Za-z0-9_]*$', v))
    if bad:
        return 'var_names of %s must be a variable name (letters, digits, underscores)' % ', '.join(bad)
    return None


def _pattern(option):
    # An option that is an ordinary word too ("instances", "strategy") is only an option when a value follows.
    tail = '(?==)' if '_' not in option else _AFTER
    return re.compile(_BEFORE + re.escape(option) + tail)


def in_user_words(text, var_names):
    """``text`` with every option named in ``var_names`` replaced by its variable."""
    if not var_names or not text:
        return text
    # Longest first, so that kv_cache_max_gib is not read as kv_cache_gib plus a tail.
    for option in sorted(var_names, key=len, reverse=True):
        if var_names[option] != option:
            text = _pattern(option).sub(var_names[option], text)
    return text
