"""Fixtures shared by the cross-tap tests (per-tap tests live in tests/<vendor>/)."""

from __future__ import annotations

import time
from typing import Any

import pytest
import yaml

from repo_support import ROOT
from resilience.reliability_report import write_report_if_complete

SESSION_STARTED = pytest.StashKey[float]()


@pytest.fixture(scope="session")
def meltano_project() -> dict[str, Any]:
    """The parsed meltano.yml."""
    project: dict[str, Any] = yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8"))
    return project


def pytest_configure(config: pytest.Config) -> None:
    config.stash[SESSION_STARTED] = time.time()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """On the controlling process: docs/reliability.md from a complete fault matrix run."""
    if hasattr(session.config, "workerinput"):
        return
    write_report_if_complete(since=session.config.stash[SESSION_STARTED] - 1)
