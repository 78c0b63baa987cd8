"""Fixtures shared by the cross-tap tests (per-tap tests live in tests/<vendor>/)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from repo_support import ROOT


@pytest.fixture(scope="session")
def meltano_project() -> dict[str, Any]:
    """The parsed meltano.yml."""
    project: dict[str, Any] = yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8"))
    return project
