# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release module's arguments, check mode and results, on a tmp dir."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.inferops.vllm.plugins.modules import release as release_module
from ansible_collections.inferops.vllm.tests.unit.plugins.modules import utils as module_utils


def run(args, monkeypatch, capsys):
    return module_utils.run_module(release_module.main, args, monkeypatch, capsys)[:2]


def _tree(tmp_path):
    unit = tmp_path / 'inferops-vllm-a.service'
    unit.write_text(u'ExecStart=/bin/vllm serve\n')
    return str(tmp_path / 'releases'), [str(tmp_path / 'inferops-vllm-*.service')], unit


def test_snapshot_then_restore(tmp_path, monkeypatch, capsys):
    root, paths, unit = _tree(tmp_path)
    rc, taken = run({'root': root, 'paths': paths}, monkeypatch, capsys)
    assert rc == 0 and taken['changed'] and taken['created']
    assert [f['path'] for f in taken['files']] == [str(unit)]
    rc, again = run({'root': root, 'paths': paths}, monkeypatch, capsys)
    assert rc == 0 and not again['changed'] and again['id'] == taken['id']

    unit.write_text(u'ExecStart=/bin/vllm serve --no-such-flag\n')
    rc, dry = run({'state': 'restore', 'root': root, 'id': taken['id'], '_ansible_check_mode': True},
                  monkeypatch, capsys)
    assert rc == 0 and dry['changed'] and dry['restored'] == [str(unit)]
    assert 'no-such-flag' in unit.read_text()
    rc, done = run({'state': 'restore', 'root': root, 'id': taken['id']}, monkeypatch, capsys)
    assert rc == 0 and done['changed'] and done['restored'] == [str(unit)] and done['removed'] == []
    assert unit.read_text() == u'ExecStart=/bin/vllm serve\n'


def test_check_mode_snapshot_creates_nothing(tmp_path, monkeypatch, capsys):
    root, paths, _unit = _tree(tmp_path)
    rc, dry = run({'root': root, 'paths': paths, '_ansible_check_mode': True}, monkeypatch, capsys)
    assert rc == 0 and dry['changed'] and len(dry['id']) == 16
    assert not os.path.exists(root)


def test_restore_needs_an_id(tmp_path, monkeypatch, capsys):
    root, _paths, _unit = _tree(tmp_path)
    rc, out = run({'state': 'restore', 'root': root}, monkeypatch, capsys)
    assert rc == 1 and 'state is restore' in out['msg'] and 'id' in out['msg']


def test_a_missing_snapshot_fails_naming_it(tmp_path, monkeypatch, capsys):
    root, paths, _unit = _tree(tmp_path)
    rc, taken = run({'root': root, 'paths': paths}, monkeypatch, capsys)
    rc, out = run({'state': 'restore', 'root': root, 'id': 'ffffffffffffffff'}, monkeypatch, capsys)
    assert rc == 1
    assert out['msg'] == 'there is no snapshot ffffffffffffffff under %s (snapshots there: %s)' % (root, taken['id'])
    assert out['applied'] == []
