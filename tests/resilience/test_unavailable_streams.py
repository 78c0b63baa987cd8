"""One unavailable stream does not cost the others: a stream whose endpoint answers 403 or 404
to its first request is reported and skipped, every other selected stream is synced, and the
tap exits non-zero with one line per skipped stream; `skip_unavailable_streams: false` stops
at once instead."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from api_sandbox.testing import SandboxProcess
from repo_support import TAPS
from resilience.tap_profiles import SCALE, SEED, profile
from resilience.tap_runner import run_tap

LOG_PREFIX = re.compile(r"^\S+ \S+ \| \w+\s*\| \S+\s*\| ")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxProcess]:
    with SandboxProcess(scale=SCALE, seed=SEED) as server:
        yield server


def error_lines(stderr: str) -> list[str]:
    return [LOG_PREFIX.sub("", line) for line in stderr.splitlines() if "| ERROR" in line]


@pytest.mark.parametrize("status", [403, 404])
@pytest.mark.parametrize("tap", TAPS)
def test_an_unavailable_stream_is_skipped_and_the_others_are_synced(
    tap: str, status: int, sandbox: SandboxProcess
) -> None:
    tap_profile = profile(tap)
    unavailable = tap_profile.stream
    others = {name: spec for name, spec in tap_profile.crash_streams.items() if name != unavailable}
    sandbox.clear_faults()
    sandbox.reset()
    sandbox.add_fault(
        tap_profile.vendor, kind="status", status=status, path=tap_profile.route, count=-1
    )
    config = tap_profile.config(sandbox)
    if tap_profile.crash_env.get(f"{tap.upper().replace('-', '_')}_START_DATE"):
        config["start_date"] = tap_profile.crash_env[f"{tap.upper().replace('-', '_')}_START_DATE"]
    run = run_tap(tap, config, {unavailable, *others})

    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert not run.records.get(unavailable)
    for name, (key_fields, expected) in others.items():
        keys = {
            tuple(record[field] for field in key_fields)
            if len(key_fields) > 1
            else record[key_fields[0]]
            for record in run.records.get(name, [])
        }
        assert keys == expected(), f"{name} was not synced completely beside the skipped stream"
    lines = error_lines(run.stderr)
    skipped = [line for line in lines if line.startswith(f"{unavailable}: HTTP {status} from GET")]
    assert len(skipped) == 2, lines  # once when it is skipped, once in the closing report
    assert f"deselect the '{unavailable}' stream" in skipped[-1]
    assert lines[-1] == skipped[-1], "the closing report ends with the skipped stream's line"
    assert any("skipped, not available to this account" in line for line in lines)
    bookmarks = run.states[-1].get("bookmarks", {}) if run.states else {}
    assert "replication_key_value" not in bookmarks.get(unavailable, {}), "its bookmark moved"


@pytest.mark.parametrize("tap", TAPS)
def test_skip_unavailable_streams_false_stops_at_once(tap: str, sandbox: SandboxProcess) -> None:
    tap_profile = profile(tap)
    sandbox.clear_faults()
    sandbox.reset()
    sandbox.add_fault(
        tap_profile.vendor, kind="status", status=404, path=tap_profile.route, count=-1
    )
    config = {**tap_profile.config(sandbox), "skip_unavailable_streams": False}
    run = run_tap(tap, config, {tap_profile.stream})
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    line = LOG_PREFIX.sub("", run.last_error_line)
    assert line.startswith(f"{tap_profile.stream}: HTTP 404 from GET"), line
    assert not any("skipped, not available" in line for line in error_lines(run.stderr))
