"""Real `meltano run` of each tap against the sandbox into DuckDB and JSONL.

Each test gets its own sandbox, Meltano system database, state backend and output paths
(environment variables override meltano.yml), so it never touches the project's own state.
The sandbox logs every request line, so what a run asked the API is checked server-side.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from singer_sdk import Stream

from api_sandbox.testing import SandboxProcess
from e2e.meltano_support import (
    as_instant,
    default_streams,
    meltano,
    plugin_config,
    requested_window_starts,
    table_stats,
    tap_env,
)
from repo_support import TAPS
from singer_rest_toolkit import DateWindowStream
from tap_agyletime.streams import STREAM_TYPES as AGYLETIME_STREAMS
from tap_amilia.streams import STREAM_TYPES as AMILIA_STREAMS

# Concurrent `meltano run`s of one plugin in one project share .meltano/run/<plugin>/ and
# delete each other's catalog: every Meltano test runs in the same xdist worker, in turn.
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("meltano")]


def dated_routes(stream_types: Iterable[type[Stream]]) -> dict[str, tuple[str, str]]:
    """Each default date-windowed stream's route and the parameter of a window's first instant."""
    return {
        stream.name: (str(stream.path), stream.window_params[0])
        for stream in stream_types
        if issubclass(stream, DateWindowStream) and stream.selected_by_default
    }


DATED_ROUTES: dict[str, dict[str, tuple[str, str]]] = {
    "tap-amilia": dated_routes(AMILIA_STREAMS),
    "tap-agyletime": dated_routes(AGYLETIME_STREAMS),
}
"""Default stream -> (vendor route, query parameter of a window's first instant), for the
taps whose date-ranged streams re-read ``lookback_days`` before their bookmark."""
ROUNDING = timedelta(days=1)
"""A window may start at the midnight before (bookmark - lookback): days, not instants."""


@pytest.mark.parametrize("tap", TAPS)
def test_meltano_run_into_duckdb_loads_every_default_stream_and_reruns_cleanly(
    tap: str, sandbox: SandboxProcess, meltano_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**meltano_env, **tap_env(tap, sandbox)}
    streams = default_streams(tap, env)
    assert streams, f"{tap} selects no stream by default"
    schema = tap.replace("-", "_")
    warehouse = tmp_path / "warehouse.duckdb"

    meltano("run", tap, "target-duckdb", env=env)
    first = table_stats(warehouse, schema, streams)
    missing = sorted(s for s in streams if s.lower() not in first)
    assert not missing, f"no table for default streams {missing}"
    for table, (rows, distinct) in first.items():
        assert rows > 0, f"{schema}.{table} is empty"
        assert rows == distinct, f"{schema}.{table} has duplicate primary keys"

    state = json.loads(meltano("state", "get", f"sandbox:{tap}-to-target-duckdb", env=env).stdout)
    bookmarks: dict[str, dict[str, Any]] = state["singer_state"]["bookmarks"]
    assert bookmarks, "the run saved no bookmarks"
    requests_first = sandbox.stats()[schema.removeprefix("tap_")]["requests"]
    first_log = sandbox.output()

    meltano("run", tap, "target-duckdb", env=env)
    second = table_stats(warehouse, schema, streams)
    assert second == first, "a second run changed row counts of keyed tables"
    requests_second = sandbox.stats()[schema.removeprefix("tap_")]["requests"] - requests_first
    assert requests_second > 0
    if tap in DATED_ROUTES:
        second_log = sandbox.output()[len(first_log) :]
        assert_second_run_rereads_only_the_lookback(
            tap, bookmarks, first_log, second_log, plugin_config(tap, env)
        )


def assert_second_run_rereads_only_the_lookback(
    tap: str,
    bookmarks: dict[str, dict[str, Any]],
    first_log: str,
    second_log: str,
    config: dict[str, Any],
) -> None:
    """Each dated stream's second run asked for windows from (its first-run bookmark minus
    ``lookback_days``) on, within a day of rounding, and not from start_date again.

    Window starts come from the sandbox's access log; the bookmark from Meltano's state.
    """
    lookback = timedelta(days=int(config["lookback_days"]))
    start_date = as_instant(str(config["start_date"]))
    routes = DATED_ROUTES[tap]
    bookmarked = {name for name, b in bookmarks.items() if b.get("replication_key_value")}
    assert bookmarked == set(routes), (
        f"{tap}: streams with a date bookmark {sorted(bookmarked)} are not the dated streams "
        f"this test checks {sorted(routes)}; update DATED_ROUTES"
    )
    for stream, (route, parameter) in routes.items():
        first_starts = requested_window_starts(first_log, route, parameter)
        second_starts = requested_window_starts(second_log, route, parameter)
        assert first_starts, f"{stream}: the first run sent no GET {route}?{parameter}="
        assert second_starts, f"{stream}: the second run sent no GET {route}?{parameter}="
        bookmark = as_instant(str(bookmarks[stream]["replication_key_value"]))
        earliest_first, earliest_second = min(first_starts), min(second_starts)
        assert earliest_first == start_date, (
            f"{stream}: the first run started at {earliest_first}, not at start_date {start_date}"
        )
        lookback_start = bookmark - lookback
        assert lookback_start - ROUNDING <= earliest_second <= lookback_start, (
            f"{stream}: the second run started at {_iso(earliest_second)}; the bookmark "
            f"{_iso(bookmark)} minus {lookback.days} lookback days is {_iso(lookback_start)}"
        )
        assert earliest_second > earliest_first, (
            f"{stream}: the second run re-read from {_iso(earliest_second)}, as the first did"
        )


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def test_meltano_run_into_jsonl_writes_records(
    sandbox: SandboxProcess, meltano_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**meltano_env, **tap_env("tap-agyletime", sandbox)}
    meltano("run", "tap-agyletime", "target-jsonl", env=env)
    files = {p.stem: p for p in (tmp_path / "jsonl").glob("*.jsonl")}
    assert "users" in files
    users = [json.loads(line) for line in files["users"].read_text(encoding="utf-8").splitlines()]
    assert users
    assert all("id" in user for user in users)
