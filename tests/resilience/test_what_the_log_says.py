"""What the taps' logs say about a run that met trouble, through the real CLI: why a 200 was
retried, records whose replication value is not a date-time, where the time went."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from agyletime.agyletime_support import sandbox_config as agyletime_config
from amperity.amperity_support import SCALE, SEED, sandbox_config
from api_sandbox.testing import SandboxProcess, shared_sandbox
from resilience.tap_runner import run_tap

AUDIT = "/api/audit-events"
SUMMARY = re.compile(
    r"time: (?P<all>[\d.]+) s in all: (?P<pace>[\d.]+) s waiting for the rate limit, "
    r"(?P<api>[\d.]+) s waiting for the API, (?P<work>[\d.]+) s working"
)


@pytest.fixture
def sandbox() -> Iterator[SandboxProcess]:
    server = shared_sandbox(scale=SCALE, seed=SEED)
    server.reset()
    server.configure(rate_limits={"amperity": 0, "agyletime": 0})
    yield server
    server.reset()


def test_a_retried_200_says_what_was_wrong_with_its_body(sandbox: SandboxProcess) -> None:
    sandbox.add_fault("amperity", "truncate", path=AUDIT, count=1)
    sandbox.add_fault("amperity", "html", path=AUDIT, count=1)
    run = run_tap("tap-amperity", sandbox_config(sandbox), {"audit_events"})
    assert run.returncode == 0, run.last_error_line
    retries = [line for line in run.stderr.splitlines() if "retrying in" in line]
    assert len(retries) == 2, retries
    assert any("HTTP 200 from GET /" in r and "cut short or garbled" in r for r in retries)
    assert any("HTTP 200 from GET /" in r and "an HTML page" in r for r in retries)


def test_replication_values_that_are_not_date_times_are_counted_once(
    sandbox: SandboxProcess,
) -> None:
    sandbox.add_fault(
        "amperity", "set_field", path=AUDIT, key="happened_at", value="yesterday", count=-1
    )
    run = run_tap("tap-amperity", sandbox_config(sandbox), {"audit_events"})
    assert run.returncode == 0, run.last_error_line
    written = len(run.records["audit_events"])
    assert written > 0
    lines = [line for line in run.stderr.splitlines() if "not a date-time" in line]
    assert len(lines) == 1, lines
    assert "audit_events" in lines[0]
    assert f" {written} record(s) had a happened_at" in lines[0], lines[0]


def test_dates_that_are_date_times_are_not_flagged(sandbox: SandboxProcess) -> None:
    run = run_tap("tap-amperity", sandbox_config(sandbox), {"audit_events"})
    assert run.returncode == 0, run.last_error_line
    assert "not a date-time" not in run.stderr


def test_backoff_is_waiting_not_working_in_the_time_summary(sandbox: SandboxProcess) -> None:
    # Two 429s asking for 2 s each: 4 s of the run are spent waiting for the rate limit.
    sandbox.add_fault("agyletime", "status", path="tasks", status=429, retry_after=2, count=2)
    run = run_tap("tap-agyletime", agyletime_config(sandbox), {"tasks"})
    assert run.returncode == 0, run.last_error_line
    found = SUMMARY.search(run.stderr)
    assert found is not None, run.stderr[-2000:]
    assert float(found["pace"]) >= 3.9, found.group(0)
    assert float(found["work"]) <= float(found["all"]) - 3.9, found.group(0)
