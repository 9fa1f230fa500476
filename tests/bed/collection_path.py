"""Put the collection under test first on sys.path.

The tests import the collection as ``ansible_collections.netkingdom.warden...`` from the
built and installed copy named by ``WARDEN_TEST_COLLECTIONS`` (the folder that holds
``ansible_collections/``), never from whatever happens to be importable.
"""

import importlib
import os
import sys

ENV = "WARDEN_TEST_COLLECTIONS"
PROBE = os.path.join("ansible_collections", "netkingdom", "warden", "plugins", "module_utils", "_gate", "rules.py")
PROBE_MODULE = "ansible_collections.netkingdom.warden.plugins.module_utils._gate.rules"


class CollectionPathError(RuntimeError):
    """WARDEN_TEST_COLLECTIONS is unset or does not hold the collection."""


def _ansible_test_root():
    """When the checkout itself sits at .../ansible_collections/netkingdom/warden (ansible-test
    layout), the folder above ansible_collections/; otherwise None."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    parts = root.split(os.sep)
    if parts[-3:] == ["ansible_collections", "netkingdom", "warden"]:
        return os.sep.join(parts[:-3])
    return None


def collections_dir(allow_ansible_test_layout=True):
    """The folder holding ansible_collections/ that the tests must import from."""
    value = os.environ.get(ENV)
    if not value:
        fallback = _ansible_test_root() if allow_ansible_test_layout else None
        if fallback:
            return fallback
        raise CollectionPathError(
            f"{ENV} is not set: point it at the folder that holds ansible_collections/ of the "
            f"built and installed collection (for development: a folder whose "
            f"ansible_collections/netkingdom/warden links to the checkout)")
    path = os.path.abspath(value)
    if not os.path.isfile(os.path.join(path, PROBE)):
        raise CollectionPathError(f"{ENV}={value}: {os.path.join(path, PROBE)} does not exist")
    return path


def ensure_on_path():
    """Insert the collections folder first on sys.path, check the import resolves there,
    and return the folder."""
    path = collections_dir()
    if sys.path[:1] != [path]:
        if path in sys.path:
            sys.path.remove(path)
        sys.path.insert(0, path)
    importlib.invalidate_caches()
    module = importlib.import_module(PROBE_MODULE)
    origin = os.path.abspath(module.__file__)
    if not origin.startswith(path + os.sep):
        raise CollectionPathError(
            f"{PROBE_MODULE} was already imported from {origin}, not from {path}: "
            f"set {ENV} before anything imports the collection")
    return path
