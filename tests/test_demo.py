"""`make demo`'s script: the runs it starts and the lines it reads from Meltano's log."""

from __future__ import annotations

from typing import Any

import pytest

from release.release_support import script

demo = script("demo")


@pytest.mark.parametrize(
    ("line", "parsed"),
    [
        (
            "2026-12-06T17:35:31Z [info     ] tap-amilia   tap-amilia progress: 906 records, "
            "372 requests, 5 s elapsed cmd_type=elb consumer=False",
            ("tap-amilia", "progress", "906 records, 372 requests, 5 s elapsed"),
        ),
        (
            "2026-12-06T17:35:32Z [info     ] tap-agyletime progress: 1 records",
            ("tap-agyletime", "progress", "1 records"),
        ),
        (
            "2026-12-06T17:35:39Z [info     ] tap-amilia   tap-amilia time: 13.6 s in all: 5.0 s "
            "waiting for the rate limit",
            ("tap-amilia", "time", "13.6 s in all: 5.0 s waiting for the rate limit"),
        ),
    ],
)
def test_demo_reads_each_tap_progress_and_time_lines(line: str, parsed: tuple[str, ...]) -> None:
    match = demo.TAP_LINE.search(line)
    assert match is not None
    assert match.groups() == parsed


def test_demo_ignores_other_log_lines() -> None:
    assert demo.TAP_LINE.search("[info     ] tap-amilia   METRIC metric_name=record_count") is None


def test_demo_runs_each_tap_into_its_own_duckdb_loader(meltano_project: dict[str, Any]) -> None:
    """Side by side: one loader (one Meltano run directory) and one DuckDB file per tap."""
    loaders = {p["name"] for p in meltano_project["plugins"]["loaders"]}
    commands = [demo.command(schema) for schema in demo.TAP_SCHEMAS]
    targets = [command[-1] for command in commands]
    assert len(set(targets)) == len(targets)
    assert set(targets) <= loaders
    assert all("--environment=sandbox" in command for command in commands)
    files = {demo.warehouse(schema) for schema in demo.TAP_SCHEMAS}
    assert len(files) == len(demo.TAP_SCHEMAS)
