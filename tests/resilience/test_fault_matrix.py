"""Every tap x every fault: a real CLI sync against the sandbox with the fault injected.

Each cell ends in one of two acceptable ways, fixed per fault below: the sync completes with
exactly the primary keys the sandbox holds (none missing, none twice), or it exits non-zero
with a last stderr line naming the stream and the cause. A hang (past the cell's time bound)
or a partial success with exit code 0 fails the cell. Observed outcomes are written for
docs/reliability.md (see reliability_report.py).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from api_sandbox.testing import SandboxProcess
from repo_support import TAPS
from resilience.fault_cases import CELL_TIMEOUT_S, FAULTS, MAX_RETRIES, REQUEST_TIMEOUT_S, FaultCase
from resilience.reliability_report import CellResult, record_cell
from resilience.tap_profiles import SCALE, SEED, profile
from resilience.tap_runner import TapRun, run_tap


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxProcess]:
    with SandboxProcess(scale=SCALE, seed=SEED) as server:
        yield server


LOG_PREFIX = re.compile(r"^\S+ \S+ \| \w+\s*\| \S+\s*\| ")
"""The SDK's ``time | LEVEL | logger |`` prefix of a log line, left out of the report."""


def classify(run: TapRun, stream: str, expected: set[Any], keys: list[Any]) -> tuple[str, str]:
    """(outcome, detail): complete, failed clearly, partial, duplicates, hang or unclear failure."""
    if run.timed_out:
        return "hang", f"killed after {CELL_TIMEOUT_S} s"
    if run.returncode == 0:
        if len(keys) != len(set(keys)):
            return "duplicates", f"{len(keys) - len(set(keys))} records emitted twice"
        if set(keys) != expected:
            missing, extra = len(expected - set(keys)), len(set(keys) - expected)
            return "partial", f"exit 0 with {missing} records missing, {extra} unexpected"
        return "complete", f"{len(keys)} records, exactly the sandbox's"
    line = LOG_PREFIX.sub("", run.last_error_line)
    if line.startswith(f"{stream}: ") and "Traceback" not in run.stderr:
        return "failed clearly", line
    return "unclear failure", line or f"exit {run.returncode} with an empty stderr"


@pytest.mark.parametrize("case", FAULTS, ids=[case.name for case in FAULTS])
@pytest.mark.parametrize("tap", TAPS)
def test_fault_cell(tap: str, case: FaultCase, sandbox: SandboxProcess) -> None:
    tap_profile = profile(tap)
    if case.needs_tokens and not tap_profile.uses_tokens:
        record_cell(
            CellResult(tap, case.name, case.description, tap_profile.stream, "n/a", "", 0, 0, 0)
        )
        pytest.skip(f"{tap} authenticates without an expiring token")
    sandbox.clear_faults()
    sandbox.reset()
    for fault in case.faults:
        # skip=1: the first page succeeds, so every fault strikes in the middle of the stream.
        sandbox.add_fault(tap_profile.vendor, path=tap_profile.route, skip=1, **fault)
    config = {
        **tap_profile.config(sandbox),
        "request_timeout": REQUEST_TIMEOUT_S,
        "max_retries": MAX_RETRIES,
        **case.config,
    }
    started = time.monotonic()
    run = run_tap(tap, config, {tap_profile.stream}, timeout_s=CELL_TIMEOUT_S)
    elapsed = time.monotonic() - started
    records = run.records.get(tap_profile.stream, [])
    keys = [tap_profile.record_key(record) for record in records]
    outcome, detail = classify(run, tap_profile.stream, tap_profile.expected_keys(), keys)
    stats = sandbox.stats()[tap_profile.vendor]
    record_cell(
        CellResult(
            tap=tap,
            fault=case.name,
            injected=case.description,
            stream=tap_profile.stream,
            outcome=outcome,
            detail=detail,
            exit_code=run.returncode,
            requests=stats["requests"],
            elapsed_s=round(elapsed, 1),
        )
    )
    allowed = (
        {"complete", "failed clearly"}
        if case.either
        else {"complete" if case.completes else "failed clearly"}
    )
    assert outcome in allowed, f"{outcome}: {detail}\n{run.stderr[-3000:]}"
    if outcome == "failed clearly":
        assert re.search(case.cause, run.last_error_line), run.last_error_line
