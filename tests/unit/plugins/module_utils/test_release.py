# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Release snapshots on a fake host tree: round trip, removal, symlinks, modes, atomicity, check mode."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import stat

import pytest

from ansible_collections.inferops.vllm.plugins.module_utils import release


class Host(object):
    """A host's release files under a tmp dir: units, a drop-in, env files (one a 0600 secret), venvs, links."""

    def __init__(self, base):
        self.base = str(base)
        self.root = self.p('etc/inferops-vllm/releases')
        self.unit = self.p('etc/systemd/system/inferops-vllm-a.service')
        self.dropin = self.p('etc/systemd/system/inferops-vllm-a.service.d/limits.conf')
        self.wants = self.p('etc/systemd/system/multi-user.target.wants/inferops-vllm-a.service')
        self.env = self.p('etc/inferops-vllm/a.env')
        self.key = self.p('etc/inferops-vllm/api-key.env')
        self.tuning = self.p('etc/inferops-vllm/cpu-tuning.env')
        self.deployed = self.p('etc/inferops-vllm/deployed.json')
        self.current = self.p('opt/venvs/current')
        self.old_venv = self.p('opt/venvs/vllm-cpu-0.32.0')
        self.new_venv = self.p('opt/venvs/vllm-cpu-0.33.0')
        self.patterns = [
            self.p('etc/systemd/system/inferops-vllm-*.service'),
            self.p('etc/systemd/system/inferops-vllm-*.service.d/*.conf'),
            self.p('etc/systemd/system/*.target.wants/inferops-vllm-*'),
            self.p('etc/inferops-vllm/*.env'),
            self.p('etc/inferops-vllm/*.json'),
            self.current,
        ]
        self.exclude = [self.tuning]
        for venv in (self.old_venv, self.new_venv):
            os.makedirs(os.path.join(venv, 'bin'))
        self.write(self.unit, 'ExecStart=/opt/venvs/current/bin/vllm serve /m --port 8101\n')
        self.write(self.dropin, '[Service]\nLimitNOFILE=65536\n')
        self.write(self.env, 'VLLM_CPU_KVCACHE_SPACE=1\n')
        self.write(self.key, 'VLLM_API_KEY=secret-3f9c\n', 0o600)
        self.write(self.tuning, 'MALLOC_ARENA_MAX=4\n')
        self.write(self.deployed, '{"vllm_version": "0.32.0"}\n')
        os.makedirs(os.path.dirname(self.wants))
        os.symlink(self.unit, self.wants)
        os.symlink(self.old_venv, self.current)

    def p(self, rel):
        return os.path.join(self.base, rel)

    @staticmethod
    def write(path, text, mode=0o644):
        if not os.path.isdir(os.path.dirname(path)):
            os.makedirs(os.path.dirname(path))
        with open(path, 'w') as handle:
            handle.write(text)
        os.chmod(path, mode)

    @staticmethod
    def read(path):
        with open(path) as handle:
            return handle.read()

    def state(self):
        """Every file and symlink under the host tree except the snapshots: {path: (kind, content or target, mode)}."""
        out = {}
        for top, dirs, files in os.walk(self.base):
            if top.startswith(self.root):
                continue
            for name in files + [d for d in dirs if os.path.islink(os.path.join(top, d))]:
                path = os.path.join(top, name)
                st = os.lstat(path)
                if stat.S_ISLNK(st.st_mode):
                    out[path] = ('link', os.readlink(path), None)
                else:
                    out[path] = ('file', self.read(path), stat.S_IMODE(st.st_mode))
        return out

    def snapshot(self, **kwargs):
        return release.snapshot(self.root, self.patterns, self.exclude, **kwargs)

    def restore(self, sid, **kwargs):
        return release.restore(self.root, sid, **kwargs)

    def upgrade(self):
        """What a failed upgrade leaves: new unit text, a new drop-in, a new instance, new venv, a changed key mode."""
        self.write(self.unit, 'ExecStart=/opt/venvs/current/bin/vllm serve /m --port 8101 --no-such-flag\n')
        self.write(self.p('etc/systemd/system/inferops-vllm-a.service.d/zz-new.conf'), '[Service]\nNice=5\n')
        self.write(self.p('etc/systemd/system/inferops-vllm-b.service'), 'ExecStart=/bin/false\n')
        os.symlink(self.p('etc/systemd/system/inferops-vllm-b.service'),
                   self.p('etc/systemd/system/multi-user.target.wants/inferops-vllm-b.service'))
        self.write(self.p('etc/inferops-vllm/b.env'), 'X=1\n')
        os.chmod(self.key, 0o644)
        os.unlink(self.env)
        os.unlink(self.current)
        os.symlink(self.new_venv, self.current)


@pytest.fixture
def host(tmp_path):
    return Host(tmp_path)


def test_round_trip_restores_every_file_mode_and_symlink(host):
    before = host.state()
    taken = host.snapshot()
    assert taken['changed'] and taken['created']
    assert sorted(e['path'] for e in taken['files']) == sorted([
        host.unit, host.dropin, host.wants, host.env, host.key, host.deployed, host.current])
    host.upgrade()
    assert host.state() != before

    done = host.restore(taken['id'])

    assert done['changed']
    assert host.state() == before
    assert sorted(done['restored']) == sorted([host.unit, host.env, host.key, host.current])
    assert sorted(done['removed']) == sorted([
        host.p('etc/systemd/system/inferops-vllm-a.service.d/zz-new.conf'),
        host.p('etc/systemd/system/inferops-vllm-b.service'),
        host.p('etc/systemd/system/multi-user.target.wants/inferops-vllm-b.service'),
        host.p('etc/inferops-vllm/b.env')])
    assert os.readlink(host.current) == host.old_venv
    assert stat.S_IMODE(os.stat(host.key).st_mode) == 0o600


def test_restore_leaves_no_temporary_file_and_a_second_restore_changes_nothing(host):
    taken = host.snapshot()
    host.upgrade()
    host.restore(taken['id'])
    again = host.restore(taken['id'])
    assert not again['changed'] and again['restored'] == [] and again['removed'] == []
    assert not [p for p in host.state() if '.inferops-release-' in p]


def test_same_files_same_snapshot_unchanged(host):
    first = host.snapshot()
    second = host.snapshot()
    assert second['id'] == first['id']
    assert not second['changed'] and not second['created']
    os.utime(host.unit, (1, 1))  # a new mtime is not a new release
    assert host.snapshot()['id'] == first['id']
    host.write(host.env, 'VLLM_CPU_KVCACHE_SPACE=2\n')
    third = host.snapshot()
    assert third['id'] != first['id'] and third['created']


def test_snapshot_root_is_root_only_and_copies_keep_modes(host):
    taken = host.snapshot()
    assert stat.S_IMODE(os.stat(host.root).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(taken['path']).st_mode) == 0o700
    key_copy = release.stored_path(taken['path'], host.key)
    assert stat.S_IMODE(os.stat(key_copy).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(release.stored_path(taken['path'], host.unit)).st_mode) == 0o644
    with open(os.path.join(taken['path'], release.MANIFEST)) as handle:
        manifest = json.load(handle)
    # the manifest names the key file, never its content
    assert 'secret-3f9c' not in json.dumps(manifest)
    entry = [e for e in manifest['entries'] if e['path'] == host.key][0]
    assert entry['mode'] == '0600' and entry['uid'] == os.getuid() and entry['type'] == 'file'
    link = [e for e in manifest['entries'] if e['path'] == host.current][0]
    assert link['type'] == 'link' and link['target'] == host.old_venv and link['sha256'] is None


def test_a_loose_root_is_made_root_only(host):
    os.makedirs(host.root)
    os.chmod(host.root, 0o755)
    assert host.snapshot()['changed']
    assert stat.S_IMODE(os.stat(host.root).st_mode) == 0o700


def test_a_root_of_another_owner_is_refused(host):
    if os.geteuid() != 0:
        pytest.skip('needs root to give the root directory away')
    os.makedirs(host.root)
    os.chown(host.root, 65534, 65534)
    with pytest.raises(release.ReleaseError, match='owned by uid 65534'):
        host.snapshot()


def test_excluded_paths_are_never_snapshotted_nor_removed(host):
    taken = host.snapshot()
    assert host.tuning not in [e['path'] for e in taken['files']]
    host.write(host.tuning, 'MALLOC_ARENA_MAX=8\n')
    done = host.restore(taken['id'])
    assert host.tuning not in done['removed'] + done['restored']
    assert host.read(host.tuning) == 'MALLOC_ARENA_MAX=8\n'


def test_check_mode_writes_nothing(host):
    dry = host.snapshot(check_mode=True)
    assert dry['changed'] and dry['created']
    assert not os.path.exists(host.root)
    taken = host.snapshot()
    assert taken['id'] == dry['id']
    host.upgrade()
    upgraded = host.state()
    would = host.restore(taken['id'], check_mode=True)
    assert would['changed']
    assert host.current in would['restored']
    assert host.p('etc/inferops-vllm/b.env') in would['removed']
    assert host.state() == upgraded


def test_a_failing_write_leaves_that_file_whole_and_says_what_was_done(host, monkeypatch):
    taken = host.snapshot()
    host.upgrade()
    upgraded_unit = host.read(host.unit)
    real_rename = os.rename

    def failing_rename(src, dest):
        if dest == host.unit:
            raise OSError(28, 'No space left on device')
        return real_rename(src, dest)

    monkeypatch.setattr(release.os, 'rename', failing_rename)
    with pytest.raises(release.ReleaseError) as err:
        host.restore(taken['id'])
    # the restore writes in manifest order (sorted paths): the env files, then the unit, which fails
    assert err.value.applied == [host.env, host.key]
    assert 'No space left on device' in str(err.value)
    assert host.read(host.unit) == upgraded_unit
    assert not [p for p in host.state() if '.inferops-release-' in p]
    monkeypatch.setattr(release.os, 'rename', real_rename)
    host.restore(taken['id'])
    assert 'no-such-flag' not in host.read(host.unit)


def test_a_link_to_a_removed_venv_is_refused_before_any_change(host):
    taken = host.snapshot()
    host.upgrade()
    upgraded = host.state()
    os.rmdir(os.path.join(host.old_venv, 'bin'))
    os.rmdir(host.old_venv)
    with pytest.raises(release.ReleaseError, match='vllm-cpu-0.32.0, which no longer exists'):
        host.restore(taken['id'])
    assert host.state() == upgraded
    # asked not to check, it restores the dangling link as it was
    done = host.restore(taken['id'], require_link_targets=False)
    assert os.readlink(host.current) == host.old_venv and done['changed']


def test_a_corrupt_snapshot_is_refused_and_retaken(host):
    taken = host.snapshot()
    copy = release.stored_path(taken['path'], host.unit)
    os.chmod(copy, 0o644)
    with open(copy, 'a') as handle:
        handle.write('tampered\n')
    host.upgrade()
    upgraded = host.state()
    with pytest.raises(release.ReleaseError, match='does not match its checksum'):
        host.restore(taken['id'])
    assert host.state() == upgraded
    assert release.verify(taken['path'])


def test_a_corrupt_snapshot_of_the_live_files_is_rebuilt(host):
    taken = host.snapshot()
    os.unlink(release.stored_path(taken['path'], host.env))
    again = host.snapshot()
    assert again['id'] == taken['id'] and again['created'] and again['changed']
    assert release.verify(again['path']) == []


def test_a_directory_where_a_file_was_is_refused(host):
    taken = host.snapshot()
    os.unlink(host.env)
    os.makedirs(host.env)
    with pytest.raises(release.ReleaseError, match='is a directory'):
        host.restore(taken['id'])


def test_keep_prunes_other_snapshots(host):
    first = host.snapshot()
    host.write(host.env, 'VLLM_CPU_KVCACHE_SPACE=2\n')
    second = host.snapshot(keep=[first['id']])
    assert second['pruned'] == [] and sorted(release.snapshot_ids(host.root)) == sorted([first['id'], second['id']])
    host.write(host.env, 'VLLM_CPU_KVCACHE_SPACE=3\n')
    third = host.snapshot(keep=[second['id']], check_mode=True)
    assert third['pruned'] == [first['id']] and first['id'] in release.snapshot_ids(host.root)
    third = host.snapshot(keep=[second['id']])
    assert third['pruned'] == [first['id']]
    assert sorted(release.snapshot_ids(host.root)) == sorted([second['id'], third['id']])
    assert not host.snapshot(keep=[second['id']])['changed']


def test_restore_adds_the_callers_patterns_to_the_snapshots(host):
    taken = host.snapshot()
    extra = host.p('etc/containers/systemd/inferops-vllm-a.container')
    host.write(extra, '[Container]\n')
    assert extra not in host.restore(taken['id'])['removed']
    done = host.restore(taken['id'], patterns=[host.p('etc/containers/systemd/inferops-vllm-*.container')])
    assert done['removed'] == [extra] and not os.path.exists(extra)


def test_restore_recreates_a_missing_drop_in_directory(host):
    taken = host.snapshot()
    os.unlink(host.dropin)
    os.rmdir(os.path.dirname(host.dropin))
    done = host.restore(taken['id'])
    assert done['restored'] == [host.dropin] and host.read(host.dropin) == '[Service]\nLimitNOFILE=65536\n'


@pytest.mark.parametrize('sid,msg', [
    ('../etc', 'is not a snapshot id'),
    ('0123456789abcdef', 'there is no snapshot 0123456789abcdef'),
])
def test_unknown_ids_are_refused(host, sid, msg):
    host.snapshot()
    with pytest.raises(release.ReleaseError, match=msg):
        host.restore(sid)


def test_relative_patterns_and_empty_paths_are_refused(host):
    with pytest.raises(release.ReleaseError, match='must be absolute'):
        release.snapshot(host.root, ['etc/*.env'])
    with pytest.raises(release.ReleaseError, match='paths is empty'):
        release.snapshot(host.root, [])
