# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Snapshots of a release: the files that make a deployment live, kept and put back as a whole.

A release is every file matched by a list of glob patterns (units, drop-ins, quadlet files,
environment files, configuration, the symlink that selects the venv...). ``snapshot`` copies
them, with their mode, owner and (for symlinks) target, into ``<root>/<id>/files/`` and writes
``<root>/<id>/manifest.json``. The id is a hash of what the snapshot holds (paths, types, modes,
owners, targets, checksums and the patterns themselves), so a snapshot of files that did not
change finds itself already there and changes nothing.

``restore`` makes the live files what the snapshot holds: each file that differs is written to a
temporary file in its own directory and renamed over the live path (a reader sees the old or the
new file, never half of one); a live path that a pattern matches but the snapshot does not hold is
removed; symlinks are recreated the same way. Every check that can refuse (a corrupt snapshot, a
directory where a file should be, a symlink whose target is gone) runs before the first change.

Directories are never removed or snapshotted, only the files and symlinks in them. ``root`` is
the caller's: 0700 and owned by the user running this, since snapshots can hold secrets (their
files keep the live files' modes and owners).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import fnmatch
import glob
import hashlib
import json
import os
import re
import shutil
import stat
import time
import uuid

FORMAT = 1
MANIFEST = 'manifest.json'
FILES = 'files'
ROOT_MODE = 0o700
ID_RE = re.compile(r'^[0-9a-f]{16}$')
_TMP_PREFIX = '.tmp-'
_CHUNK = 1 << 16


class ReleaseError(Exception):
    """A snapshot or restore that cannot be done (nothing was changed unless ``applied`` says so)."""

    def __init__(self, msg, applied=None):
        super(ReleaseError, self).__init__(msg)
        self.applied = applied or []


def _check_patterns(patterns, what):
    for pattern in patterns:
        if not isinstance(pattern, str) or not pattern.startswith('/'):
            raise ReleaseError('%s must be absolute paths or glob patterns, got %r' % (what, pattern))


def _excluded(path, exclude):
    return any(fnmatch.fnmatchcase(path, pattern) for pattern in exclude)


def expand(patterns, exclude=()):
    """The files and symlinks the patterns match now (directories skipped), sorted, without ``exclude``."""
    found = set()
    for pattern in patterns:
        for path in glob.glob(pattern):
            path = os.path.normpath(path)
            if _excluded(path, exclude):
                continue
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISLNK(st.st_mode) or stat.S_ISREG(st.st_mode):
                found.add(path)
    return sorted(found)


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b''):
            digest.update(chunk)
    return digest.hexdigest()


def _names(uid, gid):
    try:
        import pwd
        owner = pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        owner = str(uid)
    try:
        import grp
        group = grp.getgrgid(gid).gr_name
    except (ImportError, KeyError):
        group = str(gid)
    return owner, group


def describe(path):
    """Manifest entry of one live file or symlink."""
    st = os.lstat(path)
    owner, group = _names(st.st_uid, st.st_gid)
    entry = {'path': path, 'uid': st.st_uid, 'gid': st.st_gid, 'owner': owner, 'group': group}
    if stat.S_ISLNK(st.st_mode):
        entry.update(type='link', target=os.readlink(path), mode=None, sha256=None, size=None)
    elif stat.S_ISREG(st.st_mode):
        entry.update(type='file', target=None, mode='%04o' % stat.S_IMODE(st.st_mode), sha256=_sha256(path),
                     size=st.st_size)
    else:
        raise ReleaseError('%s is neither a file nor a symlink' % path)
    return entry


def snapshot_id(entries, patterns, exclude):
    """Hash of what a snapshot holds: same files, same patterns, same id."""
    keyed = [[e['path'], e['type'], e['mode'], e['uid'], e['gid'], e['target'], e['sha256']] for e in entries]
    text = json.dumps({'format': FORMAT, 'patterns': sorted(patterns), 'exclude': sorted(exclude), 'entries': keyed},
                      sort_keys=True)
    return hashlib.sha256(text.encode('utf-8')).hexdigest()[:16]


def stored_path(snapdir, path):
    return os.path.join(snapdir, FILES, path.lstrip('/'))


def _write_file(dest, source, mode, uid, gid, expect_sha=None):
    """Copy ``source`` into ``dest`` through a temporary file in dest's directory and a rename.

    The temporary file is created 0600 (a secret is never readable by others, not even while it is
    written) and gets its mode and owner before the rename. On any error it is removed and dest is
    left as it was.
    """
    directory = os.path.dirname(dest)
    tmp = os.path.join(directory, '.%s.inferops-release-%s' % (os.path.basename(dest), uuid.uuid4().hex[:8]))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, 'wb') as out:
            with open(source, 'rb') as src:
                for chunk in iter(lambda: src.read(_CHUNK), b''):
                    digest.update(chunk)
                    out.write(chunk)
            out.flush()
            os.fchown(out.fileno(), uid, gid)
            os.fchmod(out.fileno(), mode)
            os.fsync(out.fileno())
        if expect_sha is not None and digest.hexdigest() != expect_sha:
            raise ReleaseError('%s changed while it was copied (checksum %s, expected %s): nothing was replaced'
                               % (source, digest.hexdigest(), expect_sha))
        os.rename(tmp, dest)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _write_link(dest, target, uid, gid):
    """Point ``dest`` at ``target`` through a temporary symlink and a rename (atomic for a reader)."""
    tmp = os.path.join(os.path.dirname(dest), '.%s.inferops-release-%s' % (os.path.basename(dest), uuid.uuid4().hex[:8]))
    os.symlink(target, tmp)
    try:
        os.lchown(tmp, uid, gid)
        os.rename(tmp, dest)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def ensure_root(root, check_mode=False):
    """Create ``root`` 0700 (or fix its mode); refuse one owned by another user. Returns whether it changed."""
    try:
        st = os.lstat(root)
    except OSError:
        if not check_mode:
            os.makedirs(root, ROOT_MODE)
            os.chmod(root, ROOT_MODE)
        return True
    if not stat.S_ISDIR(st.st_mode):
        raise ReleaseError('the snapshot root %s exists and is not a directory' % root)
    if st.st_uid != os.geteuid():
        raise ReleaseError('the snapshot root %s is owned by uid %d, not by the user running this (uid %d): '
                           'snapshots can hold secrets, refusing it' % (root, st.st_uid, os.geteuid()))
    if stat.S_IMODE(st.st_mode) != ROOT_MODE:
        if not check_mode:
            os.chmod(root, ROOT_MODE)
        return True
    return False


def load_manifest(snapdir):
    """The manifest of a snapshot directory, or ReleaseError saying why it cannot be used."""
    try:
        with open(os.path.join(snapdir, MANIFEST)) as handle:
            manifest = json.load(handle)
    except (IOError, OSError, ValueError) as exc:
        raise ReleaseError('snapshot %s has no readable %s: %s' % (snapdir, MANIFEST, exc))
    if not isinstance(manifest, dict) or manifest.get('format') != FORMAT or not isinstance(manifest.get('entries'), list):
        raise ReleaseError('snapshot %s: %s is not a release manifest of format %d' % (snapdir, MANIFEST, FORMAT))
    return manifest


def verify(snapdir, manifest=None):
    """Problems of a stored snapshot (missing or altered copies, an id that does not match), [] when sound."""
    manifest = manifest if manifest is not None else load_manifest(snapdir)
    problems = []
    for entry in manifest['entries']:
        if entry['type'] != 'file':
            continue
        copy = stored_path(snapdir, entry['path'])
        try:
            if _sha256(copy) != entry['sha256']:
                problems.append('the copy of %s does not match its checksum' % entry['path'])
        except (IOError, OSError):
            problems.append('the copy of %s is missing' % entry['path'])
    expected = snapshot_id(manifest['entries'], manifest.get('patterns', []), manifest.get('exclude', []))
    if manifest.get('id') != expected or os.path.basename(os.path.normpath(snapdir)) != expected:
        problems.append('its id does not match what it holds (%s)' % expected)
    return problems


def snapshot_ids(root):
    try:
        return sorted(name for name in os.listdir(root) if ID_RE.match(name))
    except OSError:
        return []


def _remove_tree(path):
    shutil.rmtree(path, ignore_errors=True)


def snapshot(root, patterns, exclude=(), keep=None, check_mode=False):
    """Snapshot the live files the patterns match into ``<root>/<id>``.

    ``keep``: None keeps every other snapshot; a list removes every other snapshot under root but
    these ids and the new one. Returns ``{changed, id, path, files, created, pruned}``.
    """
    patterns, exclude = list(patterns), list(exclude)
    _check_patterns(patterns, 'paths')
    _check_patterns(exclude, 'exclude')
    if not patterns:
        raise ReleaseError('paths is empty: a snapshot needs the patterns of the files that make a release live')
    changed = ensure_root(root, check_mode)
    entries = [describe(path) for path in expand(patterns, exclude)]
    sid = snapshot_id(entries, patterns, exclude)
    snapdir = os.path.join(root, sid)
    sound = False
    if os.path.isdir(snapdir):
        try:
            sound = not verify(snapdir)
        except ReleaseError:
            sound = False
    created = not sound
    if created and not check_mode:
        tmp = os.path.join(root, '%s%s-%s' % (_TMP_PREFIX, sid, uuid.uuid4().hex[:8]))
        os.mkdir(tmp, ROOT_MODE)
        try:
            for entry in entries:
                dest = stored_path(tmp, entry['path'])
                if not os.path.isdir(os.path.dirname(dest)):
                    os.makedirs(os.path.dirname(dest), ROOT_MODE)
                if entry['type'] == 'link':
                    os.symlink(entry['target'], dest)
                else:
                    _write_file(dest, entry['path'], int(entry['mode'], 8), entry['uid'], entry['gid'],
                                expect_sha=entry['sha256'])
            manifest = {'format': FORMAT, 'id': sid, 'taken': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
                        'patterns': patterns, 'exclude': exclude, 'entries': entries}
            with open(os.path.join(tmp, MANIFEST), 'w') as handle:
                json.dump(manifest, handle, indent=2, sort_keys=True)
                handle.write('\n')
            # An unsound snapshot of the same id is moved aside first, so the rename below cannot fail on it.
            if os.path.lexists(snapdir):
                aside = os.path.join(root, '%sbroken-%s' % (_TMP_PREFIX, uuid.uuid4().hex[:8]))
                os.rename(snapdir, aside)
                _remove_tree(aside)
            os.rename(tmp, snapdir)
        except BaseException:
            _remove_tree(tmp)
            raise
    changed = changed or created
    pruned = []
    if keep is not None:
        keep_ids = set(keep) | set([sid])
        pruned = [other for other in snapshot_ids(root) if other not in keep_ids]
        leftovers = [name for name in _listdir(root) if name.startswith(_TMP_PREFIX)]
        if not check_mode:
            for name in pruned + leftovers:
                _remove_tree(os.path.join(root, name))
        changed = changed or bool(pruned) or bool(leftovers)
    return {'changed': changed, 'id': sid, 'path': snapdir, 'files': entries, 'created': created, 'pruned': pruned}


def _listdir(path):
    try:
        return os.listdir(path)
    except OSError:
        return []


def _same(entry, live):
    if live is None or live['type'] != entry['type']:
        return False
    if entry['type'] == 'link':
        return live['target'] == entry['target'] and live['uid'] == entry['uid'] and live['gid'] == entry['gid']
    return all(live[key] == entry[key] for key in ('sha256', 'mode', 'uid', 'gid'))


def _live(path):
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if stat.S_ISDIR(st.st_mode):
        raise ReleaseError('%s is a directory on the host, where the snapshot has a %s: nothing was restored'
                           % (path, 'file or symlink'))
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
        raise ReleaseError('%s is neither a file nor a symlink on the host: nothing was restored' % path)
    return describe(path)


def plan_restore(root, sid, patterns=(), exclude=(), require_link_targets=True):
    """What ``restore`` would write and remove: ``{snapdir, manifest, write: [entries], remove: [paths], unchanged}``.

    Raises ReleaseError, before anything changes, when the snapshot is missing or corrupt, a live
    path is a directory, or (``require_link_targets``) a symlink would point at nothing.
    """
    if not isinstance(sid, str) or not ID_RE.match(sid):
        raise ReleaseError('id %r is not a snapshot id (16 hex digits, as a snapshot returns it)' % (sid,))
    snapdir = os.path.join(root, sid)
    if not os.path.isdir(snapdir):
        raise ReleaseError('there is no snapshot %s under %s (snapshots there: %s)'
                           % (sid, root, ', '.join(snapshot_ids(root)) or 'none'))
    manifest = load_manifest(snapdir)
    problems = verify(snapdir, manifest)
    if problems:
        raise ReleaseError('snapshot %s cannot be restored, nothing was changed: %s' % (snapdir, '; '.join(problems)))
    patterns = list(manifest.get('patterns', [])) + [p for p in patterns if p not in manifest.get('patterns', [])]
    exclude = list(manifest.get('exclude', [])) + [p for p in exclude if p not in manifest.get('exclude', [])]
    _check_patterns(patterns, 'paths')
    _check_patterns(exclude, 'exclude')
    held = dict((entry['path'], entry) for entry in manifest['entries'])
    write, unchanged = [], []
    for entry in manifest['entries']:
        if entry['type'] == 'link' and require_link_targets:
            target = os.path.normpath(os.path.join(os.path.dirname(entry['path']), entry['target']))
            if target not in held and not os.path.exists(target):
                raise ReleaseError('the snapshot points %s at %s, which no longer exists: nothing was restored'
                                   % (entry['path'], target))
        if _same(entry, _live(entry['path'])):
            unchanged.append(entry['path'])
        else:
            write.append(entry)
    remove = [path for path in expand(patterns, exclude) if path not in held]
    return {'snapdir': snapdir, 'manifest': manifest, 'write': write, 'remove': remove, 'unchanged': unchanged}


def restore(root, sid, patterns=(), exclude=(), require_link_targets=True, check_mode=False):
    """Make the live files what snapshot ``sid`` holds. Returns ``{changed, id, path, restored, removed, unchanged}``.

    On an error part way (a full disk), ReleaseError.applied lists what was already written or
    removed; the file being written when it failed is left as it was.
    """
    plan = plan_restore(root, sid, patterns, exclude, require_link_targets)
    restored = [entry['path'] for entry in plan['write']]
    removed = list(plan['remove'])
    if not check_mode:
        applied = []
        current = None
        try:
            for entry in plan['write']:
                current = entry['path']
                parent = os.path.dirname(entry['path'])
                if not os.path.isdir(parent):
                    os.makedirs(parent, 0o755)
                if entry['type'] == 'link':
                    _write_link(entry['path'], entry['target'], entry['uid'], entry['gid'])
                else:
                    _write_file(entry['path'], stored_path(plan['snapdir'], entry['path']), int(entry['mode'], 8),
                                entry['uid'], entry['gid'], expect_sha=entry['sha256'])
                applied.append(entry['path'])
            for path in plan['remove']:
                current = path
                os.unlink(path)
                applied.append(path)
        except (IOError, OSError, ReleaseError) as exc:
            raise ReleaseError('restoring snapshot %s failed at %s (%s); already restored or removed: %s'
                               % (sid, current, exc, ', '.join(applied) or 'nothing'), applied)
    return {'changed': bool(restored or removed), 'id': sid, 'path': plan['snapdir'], 'restored': restored,
            'removed': removed, 'unchanged': plan['unchanged']}
