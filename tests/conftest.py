"""Fixtures shared by the cross-tap tests (per-tap tests live in tests/<vendor>/)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
import yaml

from api_sandbox.testing import FOLLOW_CLOCK_ENV
from repo_support import ROOT
from resilience.reliability_report import write_report_if_complete
from resilience.test_malformed_inputs import write_counts_if_complete

SESSION_STARTED = pytest.StashKey[float]()
SESSION_TRAVEL = pytest.StashKey[time_machine.travel]()
TEST_NOW_ENV = "TEST_NOW"
"""An ISO-8601 instant (``make test-dates NOW=...``): every test starts at it, clock ticking."""


def test_now() -> datetime | None:
    """The instant of ``TEST_NOW``, if set (naive means UTC)."""
    text = os.environ.get(TEST_NOW_ENV, "").strip()
    if not text:
        return None
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


@pytest.fixture(autouse=True)
def clock_at_test_now() -> Iterator[None]:
    """With ``TEST_NOW`` set, each test starts at that instant and the clock ticks from there.

    time-machine fakes ``time.time``, ``datetime.now`` and ``date.today`` for every thread
    of this process (the tests and the taps they run in process), not ``time.monotonic``, so
    sleeps and timeouts work. Sandboxes follow: :class:`api_sandbox.testing.SandboxProcess`
    starts them with ``--now`` and re-synchronises their clock on ``reset()``.
    """
    now = test_now()
    if now is None:
        yield
        return
    with time_machine.travel(now, tick=True):
        yield


@pytest.fixture(scope="session")
def meltano_project() -> dict[str, Any]:
    """The parsed meltano.yml."""
    project: dict[str, Any] = yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8"))
    return project


def pytest_configure(config: pytest.Config) -> None:
    config.stash[SESSION_STARTED] = time.time()
    now = test_now()
    if now is not None:
        # Collection too (module-level sandboxes and data models): the whole run is at NOW.
        os.environ[FOLLOW_CLOCK_ENV] = "1"
        travel = time_machine.travel(now, tick=True)
        travel.start()
        config.stash[SESSION_TRAVEL] = travel


def pytest_report_header(config: pytest.Config) -> str | None:
    now = test_now()
    if now is None:
        return None
    return (
        f"clock: every test starts at {now.isoformat()} (TEST_NOW), TZ={os.environ.get('TZ', '')!r}"
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    travel = config.stash.get(SESSION_TRAVEL, None)
    if travel is not None:
        travel.stop()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """On the controlling process: docs/reliability.md from a complete fault matrix run, and
    its counts of malformed input files from a complete run of those."""
    if hasattr(session.config, "workerinput"):
        return
    write_report_if_complete(since=session.config.stash[SESSION_STARTED] - 1)
    write_counts_if_complete(since=session.config.stash[SESSION_STARTED] - 1)
