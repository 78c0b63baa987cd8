"""Helpers of the date-edge tests (tests/<vendor>/test_<vendor>_date_edges.py): awkward
instants for hypothesis, bookmarks in a state, the one-line checks, the tap's CLI."""

from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from repo_support import BIN

DST_ZONES = (ZoneInfo("America/Toronto"), ZoneInfo("Australia/Sydney"))
LATER_THAN_NOW = "later than now"
NOT_A_DATE_TIME = "not a date-time"


def state_with(stream: str, replication_key: str, value: str) -> dict[str, Any]:
    """A Singer state holding one stream's bookmark."""
    return {
        "bookmarks": {stream: {"replication_key": replication_key, "replication_key_value": value}}
    }


def bookmarks_at(
    streams: Iterable[str], replication_key: Callable[[str], str], value: datetime | None
) -> dict[str, Any]:
    """A Singer state holding the same bookmark for each stream; no bookmark when ``value``
    is None."""
    if value is None:
        return {"bookmarks": {}}
    return {
        "bookmarks": {
            stream: state_with(stream, replication_key(stream), value.isoformat())["bookmarks"][
                stream
            ]
            for stream in streams
        }
    }


def awkward_instants(first: datetime, last: datetime) -> list[datetime]:
    """Instants in ``[first, last]`` where calendars bite: the first and last minute of each
    month (UTC), 29 February, and the hours around each clock change in Toronto and Sydney."""
    found: set[datetime] = set()
    day = first.date()
    while day <= last.date():
        following = day + timedelta(days=1)
        if following.day == 1:  # the last day of a month
            found.add(datetime.combine(day, time(23, 59), tzinfo=UTC))
            found.add(datetime.combine(following, time(0, 0), tzinfo=UTC))
        if day.month == 2 and day.day == 29:
            found.update(
                datetime.combine(day, moment, tzinfo=UTC) for moment in (time(0), time(12))
            )
        day = following
    hour = first.replace(minute=0, second=0, microsecond=0)
    while hour < last:
        for zone in DST_ZONES:
            if (
                hour.astimezone(zone).utcoffset()
                != (hour + timedelta(hours=1)).astimezone(zone).utcoffset()
            ):
                changed = hour + timedelta(hours=1)  # the clock changed at this UTC instant
                found.update(changed + timedelta(minutes=m) for m in (-30, 0, 30))
                local_midnight = datetime.combine(
                    changed.astimezone(zone).date(), time(), tzinfo=zone
                )
                found.add(local_midnight.astimezone(UTC))
        hour += timedelta(hours=1)
    return sorted(moment for moment in found if first <= moment <= last)


def instants(first: datetime, last: datetime) -> st.SearchStrategy[datetime]:
    """Aware UTC instants in ``[first, last]``, the awkward ones (above) half the time."""
    anywhere = st.datetimes(
        min_value=first.replace(tzinfo=None), max_value=last.replace(tzinfo=None)
    ).map(lambda moment: moment.replace(tzinfo=UTC))
    awkward = awkward_instants(first, last)
    return st.one_of(st.sampled_from(awkward), anywhere) if awkward else anywhere


def utc_today() -> date:
    """Today in UTC by this process's clock (the sandbox follows the same clock)."""
    return datetime.now(UTC).date()


def midnight(day: date) -> datetime:
    """Midnight UTC of ``day``."""
    return datetime.combine(day, time(), tzinfo=UTC)


def warnings_naming(records: list[logging.LogRecord], stream: str, phrase: str) -> list[str]:
    """WARNING lines that name ``stream`` and contain ``phrase``."""
    lines = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    return [line for line in lines if stream in line and phrase in line]


def run_tap_cli(
    tap: str, tmp_path: Path, config: dict[str, Any], state: dict[str, Any], stream: str
) -> subprocess.CompletedProcess[str]:
    """``tap --config --catalog --state`` with only ``stream`` selected (from --discover)."""
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config), encoding="utf-8")
    discovered = subprocess.run(
        [str(BIN / tap), "--config", str(config_path), "--discover"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    catalog = json.loads(discovered.stdout)
    for entry in catalog["streams"]:
        for metadata in entry.get("metadata", []):
            if metadata.get("breadcrumb") == []:
                metadata["metadata"]["selected"] = entry["tap_stream_id"] == stream
    catalog_path = tmp_path / "catalog.json"
    catalog_path.write_text(json.dumps(catalog), encoding="utf-8")
    state_path = tmp_path / "state.json"
    state_path.write_text(json.dumps(state), encoding="utf-8")
    command = [str(BIN / tap), "--config", str(config_path), "--catalog", str(catalog_path)]
    return subprocess.run(
        [*command, "--state", str(state_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def assert_fails_with_one_line_naming(
    result: subprocess.CompletedProcess[str], stream: str, bad_value: str
) -> None:
    """A non-zero exit, no traceback, and exactly one stderr line that says the stream's
    bookmark is not a date-time, with the stream's name and the bad value."""
    stderr = result.stderr
    assert result.returncode != 0, f"the run succeeded:\n{stderr[-3000:]}"
    assert "Traceback" not in stderr, f"a traceback:\n{stderr[-3000:]}"
    lines = [line for line in stderr.splitlines() if NOT_A_DATE_TIME in line]
    assert len(lines) == 1, f"expected one line with {NOT_A_DATE_TIME!r}:\n{stderr[-3000:]}"
    assert stream in lines[0], lines[0]
    assert bad_value in lines[0], lines[0]
