# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""aap/execution-environment.yml makes a valid ansible-builder 3 build context.

Everything up to the image build runs here: the collection tarball, `ansible-builder create`
(schema validation, Containerfile, _build/ contents), installing the tarball the way the
Containerfile's galaxy stage does (from _build/, with the copied requirements.yml), and
`ansible-builder introspect` on the installed collection. The image build itself pulls the
base image from registry.redhat.io, which these machines cannot reach.
"""

from __future__ import absolute_import, division, print_function

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AAP = os.path.join(REPO, 'aap')
EE_FILES = ('execution-environment.yml', 'requirements.yml', 'requirements.txt', 'bindep.txt')
DEFAULT_BASE_IMAGE = re.compile(r'registry\.redhat\.io/ansible-automation-platform-\d+/ee-minimal-rhel9(:\S+)?$')
TIMEOUT = 120
# Host packages of the test harness (podman containers for molecule), never wanted in the EE.
HARNESS_PACKAGES = {'podman', 'runc', 'debootstrap', 'shellcheck', 'fuse-overlayfs', 'git', 'python3-venv'}


def _tool(name):
    """The tool from this Python's environment first (the venv), then PATH."""
    local = os.path.join(os.path.dirname(sys.executable), name)
    return local if os.access(local, os.X_OK) else shutil.which(name)


def _run(cmd, cwd=None):
    proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=TIMEOUT, check=False)
    assert proc.returncode == 0, '%s failed (rc=%s):\n%s' % (' '.join(cmd), proc.returncode, proc.stdout[-4000:])
    return proc.stdout


def _load(path):
    with open(path) as handle:
        return yaml.safe_load(handle)


@pytest.fixture(scope='module')
def builder():
    path = _tool('ansible-builder')
    if not path:
        pytest.skip('ansible-builder is not installed (pip install ansible-builder)')
    return path


@pytest.fixture(scope='module')
def galaxy_version():
    return _load(os.path.join(REPO, 'galaxy.yml'))['version']


@pytest.fixture(scope='module')
def context(builder, tmp_path_factory):
    """The aap/ files copied to a scratch dir next to a freshly built tarball, and the context made from them."""
    work = tmp_path_factory.mktemp('ee')
    for name in EE_FILES:
        shutil.copy(os.path.join(AAP, name), str(work / name))
    _run([_tool('ansible-galaxy'), 'collection', 'build', '--force', '--output-path', str(work / 'build'), REPO])
    out = _run([builder, 'create', '-f', str(work / 'execution-environment.yml'), '-c', str(work / 'context'), '-v3'])
    return {'work': work, 'dir': work / 'context', 'build': work / 'context' / '_build', 'output': out}


def test_definition_is_version_3_with_pinned_ranges():
    ee = _load(os.path.join(AAP, 'execution-environment.yml'))
    assert ee['version'] == 3
    assert DEFAULT_BASE_IMAGE.match(ee['images']['base_image']['name'])
    deps = ee['dependencies']
    assert deps['galaxy'] == 'requirements.yml'
    assert deps['python'] == 'requirements.txt'
    assert deps['system'] == 'bindep.txt'
    for key, package in (('ansible_core', 'ansible-core'), ('ansible_runner', 'ansible-runner')):
        pin = deps[key]['package_pip']
        assert re.match(r'^%s>=[\d.]+,<[\d.]+$' % package, pin), '%s must be a range, got %s' % (key, pin)


def test_requirements_name_the_tarball_of_this_version(galaxy_version):
    galaxy = _load(os.path.join(REPO, 'galaxy.yml'))
    reqs = dict((c['name'], c) for c in _load(os.path.join(AAP, 'requirements.yml'))['collections'])
    tarball = 'collections/inferops-vllm-%s.tar.gz' % galaxy_version
    assert tarball in reqs, 'aap/requirements.yml must install %s (galaxy.yml version %s)' % (tarball, galaxy_version)
    assert reqs[tarball]['type'] == 'file'
    for dependency, version in galaxy['dependencies'].items():
        assert reqs[dependency]['version'] == version, dependency


def test_create_writes_the_containerfile(context):
    with open(str(context['dir'] / 'Containerfile')) as handle:
        containerfile = handle.read()
    match = re.search(r'^ARG EE_BASE_IMAGE="([^"]+)"', containerfile, re.M)
    assert match and DEFAULT_BASE_IMAGE.match(match.group(1)), 'the base image is a build ARG (override with --build-arg)'
    assert re.search(r'^FROM \$EE_BASE_IMAGE', containerfile, re.M)
    assert re.search(r'^ARG ANSIBLE_INSTALL_REFS="ansible-core>=[^"]+ ansible-runner>=[^"]+"', containerfile, re.M)
    assert re.search(r'^ARG PKGMGR="/usr/bin/microdnf"', containerfile, re.M)
    assert 'COPY _build /build' in containerfile
    assert 'ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml' in containerfile
    assert '--user-pip=requirements.txt --user-bindep=bindep.txt' in containerfile


def test_build_dir_holds_the_tarball_and_requirements(context, galaxy_version):
    build = context['build']
    assert (build / 'collections' / ('inferops-vllm-%s.tar.gz' % galaxy_version)).is_file()
    for name in ('requirements.yml', 'requirements.txt', 'bindep.txt'):
        with open(str(build / name)) as copied, open(os.path.join(AAP, name)) as source:
            assert copied.read() == source.read(), name
    # Every file requirement resolves from _build/, the galaxy stage's working directory.
    for entry in _load(str(build / 'requirements.yml'))['collections']:
        if entry.get('type') == 'file':
            assert (build / entry['name']).is_file(), entry['name']


@pytest.fixture(scope='module')
def installed(context, galaxy_version):
    """The tarball installed as the galaxy stage does (cwd _build/), minus the Galaxy downloads."""
    build = context['build']
    local_only = {'collections': [c for c in _load(str(build / 'requirements.yml'))['collections']
                                  if c.get('type') == 'file']}
    reqs = context['work'] / 'file-requirements.yml'
    reqs.write_text(yaml.safe_dump(local_only))
    dest = context['work'] / 'installed'
    _run([_tool('ansible-galaxy'), 'collection', 'install', '--force', '--no-deps', '-r', str(reqs), '-p', str(dest)],
         cwd=str(build))
    root = dest / 'ansible_collections' / 'inferops' / 'vllm'
    with open(str(root / 'MANIFEST.json')) as handle:
        manifest = json.load(handle)
    assert manifest['collection_info']['version'] == galaxy_version
    return dest


def test_tarball_installs_with_the_roles_and_modules(installed):
    root = installed / 'ansible_collections' / 'inferops' / 'vllm'
    for role in ('xeon_tuning', 'server', 'nvidia_gpu', 'validate'):
        assert (root / 'roles' / role / 'meta' / 'argument_specs.yml').is_file(), role
    for module in ('cpu_topology', 'instance_plan', 'throughput'):
        assert (root / 'plugins' / 'modules' / (module + '.py')).is_file(), module
    for playbook in ('site.yml', 'tune.yml', 'deploy.yml', 'validate.yml'):
        assert (root / 'playbooks' / playbook).is_file(), playbook
    assert not (root / 'tests').exists() or not (root / 'tests' / 'unit').exists(), 'build_ignore keeps tests out'


def test_introspect_lists_the_collection_dependencies(builder, installed):
    out = _run([builder, 'introspect', '--sanitize', '--user-pip', os.path.join(AAP, 'requirements.txt'),
                '--user-bindep', os.path.join(AAP, 'bindep.txt'), str(installed)])
    data = yaml.safe_load(out[out.index('---'):])
    assert isinstance(data['python'], list) and isinstance(data['system'], list)
    ours = [line for line in data['system'] if line.endswith('# from collection inferops.vllm')]
    user = [line for line in data['system'] if line.endswith('# from collection user')]
    assert any(line.startswith('openssh-clients') for line in user), user
    assert any(line.startswith('rsync') for line in user), user
    # The collection's root bindep.txt lists the test harness's host packages; the EE build
    # (bindep's default profile) must install none of them: each carries the `test` profile.
    for line in ours:
        profiles = re.search(r'\[([^\]]*)\]', line)
        test_only = bool(profiles) and 'test' in profiles.group(1).split()
        assert test_only or line.split()[0] not in HARNESS_PACKAGES, 'would land in the EE: %s' % line
    # The modules use the standard library only: no Python requirement from the collection.
    assert not [line for line in data['python'] if 'inferops.vllm' in line], data['python']
