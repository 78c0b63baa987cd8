"""Fixtures of the release tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from filelock import FileLock

from release.release_support import PACKAGES, build


@pytest.fixture(scope="session")
def built_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdists and wheels of the published packages, built once per test session.

    xdist workers share the session's base temporary directory: the first builds, the
    others wait for it and reuse the build.
    """
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the session's, above the worker's own
    out = shared / "release-dist"
    with FileLock(shared / "release-dist.lock"):
        if len(list(out.glob("*.whl"))) != len(PACKAGES):
            out.mkdir(exist_ok=True)
            build(out)
    return out
