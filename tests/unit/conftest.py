"""Unit tests import the collection from WARDEN_TEST_COLLECTIONS (the folder holding
ansible_collections/ of the built and installed collection), put first on sys.path."""

import os
import sys

import pytest

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if _ROOT not in sys.path:  # for `tests.bed` helpers
    sys.path.append(_ROOT)

from tests.bed.collection_path import CollectionPathError, ensure_on_path  # noqa: E402

try:
    COLLECTIONS = ensure_on_path()
except CollectionPathError as exc:
    raise pytest.UsageError(str(exc))


def pytest_report_header(config):
    return f"netkingdom.warden collection under test: {COLLECTIONS}"
