"""The collection tarball under test (what users, execution environments and AWX install).

``collection_tarball(scratch)`` returns the ``netkingdom-warden-<version>.tar.gz`` that sits next
to the collections folder the tests use (``make build`` leaves ``build/netkingdom-warden-*.tar.gz``
beside ``build/collections``); when there is none (a development run against a symlink farm), it
builds one from the checkout the collections folder points at, into ``scratch``.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.bed.collection_path import collections_dir

BIN = os.path.dirname(sys.executable)


def collection_source():
    """The checkout the collections folder holds (followed through symlinks)."""
    return Path(collections_dir(), 'ansible_collections', 'netkingdom', 'warden').resolve()


def collection_version(source=None):
    """The version of the collection under test: galaxy.yml of a checkout, or MANIFEST.json of an
    installed collection (an install from the tarball has no galaxy.yml)."""
    source = Path(source or collection_source())
    if (source / 'galaxy.yml').is_file():
        return str(yaml.safe_load((source / 'galaxy.yml').read_text())['version'])
    return str(json.loads((source / 'MANIFEST.json').read_text())['collection_info']['version'])


def collection_tarball(scratch):
    """Path of the tarball for the collection under test (found next to the collections
    folder, else built into ``scratch``)."""
    source = collection_source()
    name = 'netkingdom-warden-%s.tar.gz' % collection_version(source)
    beside = Path(collections_dir()).parent / name
    if beside.is_file():
        return beside
    scratch = Path(scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    built = scratch / name
    if not built.is_file():
        proc = subprocess.run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'build', '--force',
                               '--output-path', str(scratch), str(source)],
                              capture_output=True, text=True, timeout=300, check=False)
        if proc.returncode != 0 or not built.is_file():
            raise RuntimeError('ansible-galaxy collection build failed (%d):\n%s%s'
                               % (proc.returncode, proc.stdout, proc.stderr))
    return built


def install_tarball(tarball, collections_path):
    """``ansible-galaxy collection install`` of the tarball into ``collections_path`` (offline)."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collections_path))
    proc = subprocess.run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'install', '--offline', '--force',
                           '-p', str(collections_path), str(tarball)],
                          capture_output=True, text=True, timeout=300, check=False, env=env)
    if proc.returncode != 0:
        raise RuntimeError('ansible-galaxy collection install failed (%d):\n%s%s'
                           % (proc.returncode, proc.stdout, proc.stderr))
    return Path(collections_path) / 'ansible_collections' / 'netkingdom' / 'warden'
