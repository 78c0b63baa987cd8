"""A good citizen at the ceiling: a 429 slows the family's pace (which climbs back
gradually), and one request never retries longer than its budget, through the real CLI
(the sandbox fixture starts each test without a rate limit)."""

from __future__ import annotations

from amperity.amperity_support import amperity_stats, days_ago, sandbox_config
from api_sandbox.testing import SandboxProcess
from resilience.tap_runner import run_tap

TAP = "tap-amperity"
AUDIT = "/api/audit-events"


def test_a_pace_set_above_the_api_limit_settles_under_it(sandbox: SandboxProcess) -> None:
    # The API admits 5 requests/s, the tap is told 10: without slowing down after a 429
    # about one request in three was refused; with it, a few 429s bring the pace under 5/s.
    sandbox.configure(rate_limits={"amperity": 5})
    config = sandbox_config(
        sandbox,
        page_size=1,
        max_requests_per_second=10,
        max_retries=8,
        start_date=days_ago(40).isoformat(),
    )
    run = run_tap(TAP, config, {"audit_events", "segments", "campaigns"}, timeout_s=300)
    assert run.returncode == 0, run.last_error_line
    stats = amperity_stats(sandbox)
    refused = stats["rate_limited"]
    assert stats["requests"] - refused >= 60, "too few requests to judge the pace"
    assert 1 <= refused <= 0.15 * stats["requests"], stats  # about a third without
    assert "HTTP 429 from GET" in run.stderr


def test_a_long_retry_after_fails_at_once_in_one_line(sandbox: SandboxProcess) -> None:
    # A persistent 429 asking for 300 s: beyond the default budget, so no wait at all.
    sandbox.add_fault("amperity", "status", path=AUDIT, status=429, retry_after=300, count=-1)
    config = sandbox_config(sandbox, max_retries=8)
    run = run_tap(TAP, config, {"audit_events"}, timeout_s=60)  # seconds, not 40 minutes
    assert not run.timed_out
    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    line = run.last_error_line
    assert "audit_events" in line, line
    assert "HTTP 429 from GET /" in line, line
    assert "300 s" in line, line
    assert "max_retry_seconds" in line, line
    assert amperity_stats(sandbox)["paths"].get("/amperity" + AUDIT) == 1


def test_retries_stop_when_the_budget_is_spent(sandbox: SandboxProcess) -> None:
    # 1 s per Retry-After, a 3 s budget: about four tries, not the eight max_retries allows.
    sandbox.add_fault("amperity", "status", path=AUDIT, status=503, retry_after=1, count=-1)
    config = sandbox_config(sandbox, max_retries=8, max_retry_seconds=3)
    run = run_tap(TAP, config, {"audit_events"}, timeout_s=60)
    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    assert "max_retry_seconds=3" in run.last_error_line, run.last_error_line
    tries = amperity_stats(sandbox)["paths"].get("/amperity" + AUDIT)
    assert tries is not None
    assert 2 <= tries <= 5, tries
