"""Fixtures of the release tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from release.release_support import build


@pytest.fixture(scope="session")
def built_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdists and wheels of the published packages, built once per test process."""
    out = tmp_path_factory.mktemp("dist")
    build(out)
    return out
