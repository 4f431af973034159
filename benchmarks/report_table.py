# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Markdown tables for the benchmark scripts' printed reports."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


def fmt(v, digits=1):
    """A cell: n/a for None, floats with `digits` decimals."""
    if v is None:
        return 'n/a'
    if isinstance(v, float):
        return ('%.' + str(digits) + 'f') % v
    return str(v)


def table(rows):
    """A Markdown table; the first row is the header."""
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, r in enumerate(rows):
        lines.append('| ' + ' | '.join(str(c).ljust(w) for c, w in zip(r, widths)) + ' |')
        if n == 0:
            lines.append('|' + '|'.join('-' * (w + 2) for w in widths) + '|')
    return '\n'.join(lines)


def finish(name, failed, figures, json_path=None):
    """Print the benchmark's closing PASS/FAIL line, write its figures as JSON, return its exit status."""
    import json
    print()
    print('%s: %s' % (name, 'PASS' if not failed else 'FAIL (%s)' % '; '.join(failed)))
    if json_path:
        with open(json_path, 'w') as f:
            json.dump(figures, f, indent=2, default=str)
    return 1 if failed else 0
