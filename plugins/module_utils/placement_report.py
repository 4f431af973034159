# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The placement report (playbooks/placement.yml): measured workload-profile capacities of every hardware
class, from the validate role's fleet reports (``fleet.json``) and/or classes given as input (another
report's figures: profile, class, price per host-hour, capacity), turned by placement.py into the
cheapest class per profile and the cheapest fleet for a target mix; Markdown always, an HTML page with
charts when matplotlib can be imported on the controller (a note says so when it cannot).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import html
import io

from ansible_collections.inferops.vllm.plugins.module_utils.capacity import SESSIONS_PER_S, rate_label
from ansible_collections.inferops.vllm.plugins.module_utils.placement import PlacementError, placement
from ansible_collections.inferops.vllm.plugins.module_utils.profilefleet import placement_lines

INPUT_FIELDS = ('profile', 'hardware_class', 'capacity_rps', 'cost_per_hour', 'cost_per_1m', 'slo_met', 'slo_excess',
                'steps', 'source', 'rate_unit')
NO_CHARTS = ('matplotlib is not installed on the controller, so this page has no charts: install it into the '
             'Python that runs ansible-playbook (pip install matplotlib) to get them')


def _from_fleet(doc, i):
    if not isinstance(doc, dict) or not isinstance(doc.get('summary'), dict):
        raise PlacementError('placement_reports[%d] is not a fleet report of the validate role (no summary)' % i)
    prof = doc['summary'].get('profiles')
    if not prof or not prof.get('placement_rows'):
        raise PlacementError('placement_reports[%d] has no workload profile results: run the validate role with '
                             'validate_profiles to measure them' % i)
    out = []
    for r in prof['placement_rows']:
        row = dict((k, r.get(k)) for k in INPUT_FIELDS)
        row['source'] = 'measured (report %d)' % i
        out.append(row)
    return out


def _from_input(item, i):
    where = 'placement_classes[%d]' % i
    if not isinstance(item, dict):
        raise PlacementError('%s must be a dict {profile, hardware_class, capacity_rps, cost_per_hour}, got %r'
                             % (where, item))
    unknown = sorted(k for k in item if k not in INPUT_FIELDS)
    if unknown:
        raise PlacementError('%s has unknown field %s; accepted: %s'
                             % (where, ', '.join(unknown), ', '.join(INPUT_FIELDS)))
    for key in ('profile', 'hardware_class'):
        if not isinstance(item.get(key), str) or not item.get(key):
            raise PlacementError('%s.%s must be a non-empty string, got %r' % (where, key, item.get(key)))
    row = dict((k, item.get(k)) for k in INPUT_FIELDS)
    cap = row['capacity_rps']
    if row['slo_met'] is None:
        # a class given with its capacity at SLO met the SLOs at that capacity
        row['slo_met'] = isinstance(cap, (int, float)) and not isinstance(cap, bool) and cap > 0
    row['source'] = item.get('source') or 'input'
    return row


def collect(fleet_reports=None, classes=None):
    """Placement rows from fleet reports and input classes; one (profile, class) measured twice keeps the
    slower figure (a fleet sized on it holds on every host of the class)."""
    rows = []
    for i, doc in enumerate(fleet_reports or []):
        rows.extend(_from_fleet(doc, i))
    for i, item in enumerate(classes or []):
        rows.append(_from_input(item, i))
    if not rows:
        raise PlacementError('nothing to place: give placement_reports (fleet.json files of the validate role run '
                             'with validate_profiles) and/or placement_classes')
    merged = {}
    for r in rows:
        key = (r['profile'], r['hardware_class'])
        old = merged.get(key)
        if old is None:
            merged[key] = r
            continue
        units = (old.get('rate_unit') or SESSIONS_PER_S, r.get('rate_unit') or SESSIONS_PER_S)
        if units[0] != units[1]:
            raise PlacementError('profile %r on hardware class %r is given in %s (from %s) and in %s (from %s): '
                                 'capacities in two units cannot be compared' % (
                                     key[0], key[1], rate_label(units[0]), old['source'], rate_label(units[1]),
                                     r['source']))
        prices = (old.get('cost_per_hour'), r.get('cost_per_hour'))
        if prices[0] != prices[1] and None not in prices:
            raise PlacementError('hardware class %r has two prices: %s and %s per hour (profile %r, from %s and %s)'
                                 % (key[1], old['cost_per_hour'], r['cost_per_hour'], key[0], old['source'],
                                    r['source']))
        if r.get('slo_met') and (not old.get('slo_met') or r['capacity_rps'] < old['capacity_rps']):
            merged[key] = r
    return [merged[k] for k in sorted(merged)]


def build(fleet_reports=None, classes=None, target=None, available=None):
    """{rows, per_profile, fleet, target}; raises PlacementError naming the bad input."""
    rows = collect(fleet_reports, classes)
    res = placement(rows, target or None, available or None)
    return {'rows': rows, 'per_profile': res['per_profile'], 'fleet': res['fleet'],
            'target': dict(target) if target else None}


def markdown(report, title='Placement of workload profiles'):
    lines = ['# %s' % title, '',
             'Capacity is per host at each profile\'s SLOs, in sessions/s (a single-turn profile\'s session is one '
             'request) unless its rows say req/s; a profile\'s target is in the same unit; a class\'s price is per '
             'host-hour.', '']
    lines.extend(placement_lines(report['per_profile'], report['fleet'], None, report['rows'])[2:])
    if report.get('fleet') is None:
        lines.append('No target mix given (placement_target): no fleet computed.')
        lines.append('')
    return '\n'.join(lines) + '\n'


# -- HTML ------------------------------------------------------------------------------------------
def have_matplotlib():
    try:
        import matplotlib  # noqa: F401  pylint: disable=unused-import
        return True
    except ImportError:
        return False


def _svg(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format='svg', bbox_inches='tight')
    return buf.getvalue().decode('utf-8')


def charts(report):
    """[(title, svg)]: cost per 1M output tokens per profile and class; TTFT p95 against offered load per
    profile and class (the capacity search's steps). Needs matplotlib (Agg backend, no display)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    out = []
    rows = report['rows']
    profiles = sorted(set(r['profile'] for r in rows))
    classes = sorted(set(r['hardware_class'] for r in rows))
    priced = [r for r in rows if r.get('cost_per_1m') is not None]
    if priced:
        fig, ax = plt.subplots(figsize=(1.6 + 1.2 * len(profiles), 3.6))
        width = 0.8 / max(1, len(classes))
        for j, c in enumerate(classes):
            xs, ys = [], []
            for i, p in enumerate(profiles):
                r = [x for x in priced if x['profile'] == p and x['hardware_class'] == c]
                if r:
                    xs.append(i + j * width)
                    ys.append(r[0]['cost_per_1m'])
            ax.bar(xs, ys, width, label=c)
        ax.set_xticks([i + width * (len(classes) - 1) / 2.0 for i in range(len(profiles))])
        ax.set_xticklabels(profiles)
        ax.set_ylabel('$ per 1M output tokens at SLO')
        ax.legend(title='class')
        out.append(('Cost per 1M output tokens, per profile and class', _svg(fig)))
        plt.close(fig)
    for p in profiles:
        stepped = [r for r in rows if r['profile'] == p and r.get('steps')]
        if not stepped:
            continue
        fig, ax = plt.subplots(figsize=(5, 3.2))
        for r in stepped:
            pts = [(s['rate'], s['ttft_p95_ms']) for s in r['steps']
                   if s.get('rate') is not None and s.get('ttft_p95_ms') is not None]
            if pts:
                ax.plot([pt[0] for pt in pts], [pt[1] for pt in pts], marker='o', label=r['hardware_class'])
        ax.set_xlabel('offered load (%s)' % rate_label(stepped[0].get('rate_unit') or SESSIONS_PER_S))
        ax.set_ylabel('TTFT p95 (ms)')
        ax.legend(title='class')
        out.append(('Latency against offered load: %s' % p, _svg(fig)))
        plt.close(fig)
    return out


def _table(headers, rows):
    e = html.escape
    out = ['<table><tr>%s</tr>' % ''.join('<th>%s</th>' % e(h) for h in headers)]
    for r in rows:
        out.append('<tr>%s</tr>' % ''.join('<td>%s</td>' % e('-' if v is None else str(v)) for v in r))
    out.append('</table>')
    return '\n'.join(out)


def _fmt(v, digits=3):
    return None if v is None else ('%.*f' % (digits, v) if isinstance(v, float) else v)


def _fmt_rate(v, unit, digits=3):
    """A rate with its unit (rows without one are in sessions/s), None without a value."""
    return None if v is None else '%s %s' % (_fmt(v, digits), rate_label(unit or SESSIONS_PER_S))


def html_page(report, with_charts=None, title='Placement of workload profiles'):
    """(page, charts_drawn, note): the report as one self-contained HTML page (SVG charts inline)."""
    e = html.escape
    if with_charts is None:
        with_charts = have_matplotlib()
    parts = ['<!DOCTYPE html>', '<html><head><meta charset="utf-8"><title>%s</title>' % e(title),
             '<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}'
             'td,th{border:1px solid #999;padding:3px 8px;text-align:right}th{background:#eee}'
             '.note{background:#ffd;padding:8px;border:1px solid #cc9}</style></head><body>',
             '<h1>%s</h1>' % e(title)]
    note = None
    drawn = []
    if with_charts:
        drawn = charts(report)
    else:
        note = NO_CHARTS
        parts.append('<p class="note">Note: %s.</p>' % e(note))
    parts.append('<h2>Measured capacity per host at each profile\'s SLOs</h2>')
    parts.append(_table(['profile', 'class', 'capacity per host', '$/h per host', '$ per 1M output tok',
                         'meets its SLOs', 'source'],
                        [(r['profile'], r['hardware_class'], _fmt_rate(r.get('capacity_rps'), r.get('rate_unit')),
                          _fmt(r.get('cost_per_hour'), 2),
                          _fmt(r.get('cost_per_1m'), 4), 'yes' if r.get('slo_met') else 'no', r.get('source'))
                         for r in report['rows']]))
    parts.append('<h2>Cheapest class per profile</h2><ul>')
    for p in sorted(report['per_profile']):
        b = report['per_profile'][p]
        line = b['message']
        if b['meets']:
            line = '%s: %s, $%s per 1M output tokens' % (p, b['hardware_class'], _fmt(b.get('cost_per_1m'), 4))
        parts.append('<li>%s</li>' % e(line))
    parts.append('</ul>')
    fleet = report.get('fleet')
    if fleet:
        parts.append('<h2>Cheapest fleet for the target mix</h2>')
        parts.append(_table(['profile', 'target', 'hosts', 'capacity', 'headroom', '$/h'],
                            [(p, _fmt_rate(f['target_rps'], f.get('rate_unit'), 2),
                              ', '.join('%d x %s' % (n, c) for c, n in sorted(f['hosts'].items())) or 'none',
                              _fmt_rate(f['capacity_rps'], f.get('rate_unit'), 2),
                              None if f['headroom'] is None else '%.1f%%' % (100 * f['headroom']),
                              _fmt(f['cost_per_hour'], 2))
                             for p, f in sorted(fleet['profiles'].items())]))
        parts.append('<p>Fleet: %s, %s per hour.</p>' % (
            e(', '.join('%d x %s' % (n, c) for c, n in sorted(fleet['hosts'].items()))),
            e(_fmt(fleet['cost_per_hour'], 2))))
    for name, svg in drawn:
        parts.append('<h2>%s</h2>' % e(name))
        parts.append('<img alt="%s" src="data:image/svg+xml;base64,%s">'
                     % (e(name), base64.b64encode(svg.encode('utf-8')).decode('ascii')))
    parts.append('</body></html>')
    return '\n'.join(parts) + '\n', len(drawn), note
