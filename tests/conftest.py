"""Fixtures shared by the cross-tap tests (per-tap tests live in tests/<vendor>/)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from filelock import FileLock

from repo_support import ROOT
from resilience.reliability_report import write_report_if_complete

SESSION_STARTED = pytest.StashKey[float]()


@pytest.fixture(scope="session")
def meltano_project() -> dict[str, Any]:
    """The parsed meltano.yml."""
    project: dict[str, Any] = yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8"))
    return project


@pytest.fixture(autouse=True)
def one_meltano_test_at_a_time(request: pytest.FixtureRequest) -> Iterator[None]:
    """Tests marked ``xdist_group("meltano")`` take turns across xdist workers.

    Concurrent `meltano run`s of one plugin share .meltano/run/<plugin>/ and delete each
    other's files. ``--dist loadgroup`` should keep the group on one worker, but with
    pytest 9.2 and pytest-xdist 3.8 it does not (pytest-dev/pytest-xdist#1386): a file lock
    does it whatever the scheduler.
    """
    marker = request.node.get_closest_marker("xdist_group")
    if marker is None or marker.args[:1] != ("meltano",):
        yield
        return
    (ROOT / ".meltano").mkdir(exist_ok=True)
    with FileLock(ROOT / ".meltano" / "tests.lock"):
        yield


def pytest_configure(config: pytest.Config) -> None:
    config.stash[SESSION_STARTED] = time.time()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """On the controlling process: docs/reliability.md from a complete fault matrix run."""
    if hasattr(session.config, "workerinput"):
        return
    write_report_if_complete(since=session.config.stash[SESSION_STARTED] - 1)
