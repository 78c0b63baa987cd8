"""Malformed --config, --state and --catalog files: running them, the fuzzer's strategies and
the counts docs/reliability.md shows.

A run goes through a tap's real CLI (click's command, in this process; a few tests start the
executable). The config points at a closed local port: a file that is accepted runs until
the first request, which fails in its own known line, so every run ends quickly either way.
"""

from __future__ import annotations

import functools
import io
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from click.testing import CliRunner
from hypothesis import strategies as st

from repo_support import ROOT, TAPS
from resilience.tap_runner import discovered_catalog
from resilience.test_bad_config import GOOD
from singer_rest_toolkit import DateWindowStream, RestTap

FAST_FAIL = {"max_retries": 1, "request_timeout": 2}
"""Added to each tap's good config: an accepted file fails fast at the closed port."""
UNREACHABLE = "cannot reach 127.0.0.1:9"
"""The line of a run that got as far as its first request."""
KINDS = ("config", "state", "catalog")


def good_config(tap: str) -> dict[str, Any]:
    return {**GOOD[tap], **FAST_FAIL}


@functools.cache
def catalog_of(tap: str) -> dict[str, Any]:
    """The tap's own catalog (`--discover` with the good config)."""
    catalog: dict[str, Any] = json.loads(
        discovered_catalog(tap, json.dumps(good_config(tap), sort_keys=True))
    )
    return catalog


def date_time_streams(tap: str) -> list[tuple[str, str]]:
    """(stream, replication key) of each incremental stream whose key is a date-time."""
    return [
        (entry["tap_stream_id"], entry["replication_key"])
        for entry in catalog_of(tap)["streams"]
        if entry.get("replication_key")
        and entry["schema"]["properties"][entry["replication_key"]].get("format") == "date-time"
    ]


def other_tap(tap: str) -> str:
    return TAPS[(TAPS.index(tap) + 1) % len(TAPS)]


# --- running ----------------------------------------------------------------------------------
@dataclass
class Outcome:
    """What one run of the CLI did."""

    exit_code: int
    stdout: str
    errors: list[str]
    warnings: list[str]
    traceback: str | None
    """An exception other than an exit, or an error logged with its traceback."""

    @property
    def last_error(self) -> str:
        return self.errors[-1] if self.errors else ""

    def verdict(self, path: str) -> str:
        """``refused`` (one line naming ``path``, non-zero, nothing written), ``ran on``
        (it got to the first request), or what went wrong."""
        if self.traceback is not None:
            return "traceback"
        if self.exit_code == 0:
            return "exit 0"
        if any(path in line for line in self.errors) and not self.stdout:
            return "refused"
        if UNREACHABLE in self.last_error:
            return "ran on"
        if "Config validation failed" in self.last_error or (self.errors and not self.stdout):
            return "refused naming a setting"
        return "unclear failure"


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def _captured_logs() -> Iterator[_Records]:
    handler = _Records()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


@functools.cache
def tap_class(tap: str) -> type[RestTap]:
    """The tap's class (imported only when a test of that tap runs)."""
    module = __import__(f"{tap.replace('-', '_')}.tap", fromlist=["tap"])
    found: type[RestTap] = next(
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, RestTap)
        and getattr(value, "name", "") == tap
    )
    return found


@functools.cache
def command(tap: str) -> click.Command:
    """The tap's click command (built once: each build adds a console log handler)."""
    built: click.Command = tap_class(tap).cli
    return built


def window_stream(tap: str) -> tuple[str, str]:
    """(stream, replication key) of the tap's first date-windowed stream with a date-time key."""
    instance = tap_class(tap)(config=good_config(tap), validate_config=False)
    windowed = {
        name for name, stream in instance.streams.items() if isinstance(stream, DateWindowStream)
    }
    return next((name, key) for name, key in date_time_streams(tap) if name in windowed)


def run_in_process(tap: str, args: list[str]) -> Outcome:
    """The tap's CLI with ``args`` in this process: exit code, stdout, log lines."""
    with _captured_logs() as logs:
        result = CliRunner().invoke(command(tap), args, catch_exceptions=True)
    errors = [record.getMessage() for record in logs.records if record.levelno >= logging.ERROR]
    warnings = [record.getMessage() for record in logs.records if record.levelno == logging.WARNING]
    traceback = None
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        traceback = f"{type(result.exception).__name__}: {result.exception}"
    logged = [r for r in logs.records if r.levelno >= logging.ERROR and r.exc_info]
    if logged:
        traceback = f"logged with a traceback: {logged[0].getMessage()}"
    if result.stderr.strip():  # click's usage errors (a bad --config) are printed, not logged
        errors += [line for line in result.stderr.splitlines() if line.strip()]
    return Outcome(result.exit_code, result.stdout, errors, warnings, traceback)


def write_json(directory: Path, name: str, value: Any) -> str:
    path = directory / name
    if isinstance(value, str):  # raw text (not JSON) as it is
        path.write_text(value, encoding="utf-8")
    else:
        path.write_text(json.dumps(value), encoding="utf-8")
    return str(path)


def run_with(tap: str, directory: Path, kind: str, value: Any) -> tuple[Outcome, str]:
    """Run ``tap`` with ``value`` as its ``kind`` file (and the good config); the outcome and
    the file's path."""
    path = write_json(directory, f"{kind}-{tap}.json", value)
    config = write_json(directory, f"good-config-{tap}.json", good_config(tap))
    args = ["--config", path] if kind == "config" else ["--config", config, f"--{kind}", path]
    return run_in_process(tap, args), path


# --- the counts ---------------------------------------------------------------------------------
COUNTS_DIR = ROOT / "output" / "malformed-inputs"
REPORT = ROOT / "docs" / "reliability.md"
TABLE_START = (
    "<!-- malformed-inputs table: generated by tests/resilience/test_malformed_inputs.py -->"
)
TABLE_END = "<!-- end of the malformed-inputs table -->"


@dataclass
class Tally:
    """The outcomes of one class of malformed file on one tap."""

    tap: str
    kind: str
    name: str
    expected: str
    outcomes: dict[str, int] = field(default_factory=dict)

    def add(self, verdict: str) -> None:
        self.outcomes[verdict] = self.outcomes.get(verdict, 0) + 1

    def save(self) -> None:
        COUNTS_DIR.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^a-z0-9]+", "-", f"{self.tap} {self.kind} {self.name}".lower())
        (COUNTS_DIR / f"{slug}.json").write_text(json.dumps(asdict(self)), encoding="utf-8")


def load_tallies(since: float) -> list[Tally]:
    if not COUNTS_DIR.is_dir():
        return []
    return [
        Tally(**json.loads(path.read_text(encoding="utf-8")))
        for path in sorted(COUNTS_DIR.glob("*.json"))
        if path.stat().st_mtime >= since
    ]


def render_table(tallies: list[Tally]) -> str:
    """Rows: kind and class of file, what the tap does, the count tried per tap, tracebacks."""
    rows: dict[tuple[str, str, str], dict[str, Tally]] = {}
    for tally in tallies:
        rows.setdefault((tally.kind, tally.name, tally.expected), {})[tally.tap] = tally
    lines = [
        "| file | class | the tap | " + " | ".join(TAPS) + " | tracebacks |",
        "|---|---|---|" + "---|" * len(TAPS) + "---|",
    ]
    order = {kind: number for number, kind in enumerate(KINDS)}
    for (kind, name, expected), by_tap in sorted(rows.items(), key=lambda r: order[r[0][0]]):
        cells = []
        for tap in TAPS:
            tally = by_tap.get(tap)
            cells.append(_cell(tally) if tally else "not run")
        tracebacks = sum(t.outcomes.get("traceback", 0) for t in by_tap.values())
        lines.append(
            f"| --{kind} | {name} | {expected} | " + " | ".join(cells) + f" | {tracebacks} |"
        )
    total = sum(sum(t.outcomes.values()) for t in tallies)
    lines += ["", f"{total} malformed files tried in all."]
    return "\n".join(lines)


def _cell(tally: Tally) -> str:
    tried = sum(tally.outcomes.values())
    if len(tally.outcomes) == 1:
        return str(tried)
    shown = ", ".join(f"{count} {verdict}" for verdict, count in sorted(tally.outcomes.items()))
    return f"{tried} ({shown})"


def write_table_if_complete(since: float, expected_tallies: int) -> bool:
    """Put the counts table into docs/reliability.md if this session ran every class."""
    tallies = load_tallies(since)
    if len(tallies) < expected_tallies:
        return False
    text = REPORT.read_text(encoding="utf-8")
    if TABLE_START not in text or TABLE_END not in text:
        return False
    before, rest = text.split(TABLE_START, 1)
    after = rest.split(TABLE_END, 1)[1]
    REPORT.write_text(
        f"{before}{TABLE_START}\n{render_table(tallies)}\n{TABLE_END}{after}", encoding="utf-8"
    )
    return True


# --- hypothesis strategies -----------------------------------------------------------------------
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
"""Any JSON value, small."""
DATE_TIMES = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.just(None) | st.timezones(),
).map(lambda d: d.isoformat())
"""Date-times from 2000 on: a start_date centuries back is valid, but its date windows take a
tap many seconds to plan (one planning is timed in the review notes, not here)."""


def state_files(tap: str) -> st.SearchStrategy[Any]:
    """States shaped like the SDK's (stream names, keys, partitions, progress markers and
    signposts of this tap and others) with any part replaced by any JSON value."""
    streams = [entry["tap_stream_id"] for entry in catalog_of(tap)["streams"]]
    keys = sorted({key for _, key in date_time_streams(tap)} | {"Id", "updated_at"})
    value = st.one_of(DATE_TIMES, JSON)
    bookmark = st.fixed_dictionaries(
        {},
        optional={
            "replication_key": st.sampled_from(keys) | JSON,
            "replication_key_value": value,
            "replication_key_signpost": value,
            "starting_replication_value": value,
            "progress_markers": st.fixed_dictionaries(
                {},
                optional={
                    "Note": JSON,
                    "replication_key": st.sampled_from(keys) | JSON,
                    "replication_key_value": value,
                },
            )
            | JSON,
        },
    )
    partition = st.builds(
        lambda base, context: {**base, "context": context},
        bookmark,
        st.dictionaries(st.text(max_size=6), SCALARS, max_size=2) | JSON,
    )
    entry = st.builds(
        lambda base, partitions: {**base, **({"partitions": partitions} if partitions else {})},
        bookmark,
        st.none() | st.lists(partition, max_size=3) | JSON,
    )
    names = st.sampled_from(streams) | st.text(max_size=10)
    state = st.builds(
        lambda bookmarks: {"bookmarks": bookmarks},
        st.dictionaries(names, entry | JSON, max_size=3) | JSON,
    )
    return st.one_of(
        state,
        state.map(lambda inner: {"value": inner}),
        st.dictionaries(st.sampled_from(["bookmarks", "currently_syncing", "x"]), JSON),
        JSON,
    )


def config_files(tap: str) -> st.SearchStrategy[Any]:
    """The good config with settings removed or replaced by any JSON value, or any JSON."""
    good = good_config(tap)
    settings = sorted({*good, "start_date", "page_size", "max_requests_per_second"} - {*FAST_FAIL})
    # Never without its URLs (the tap would call the vendor's real host), and never slower to
    # give up than FAST_FAIL says.
    settings = [name for name in settings if not name.endswith("_url")]
    return st.one_of(
        st.builds(
            lambda drop, changes: {
                **{k: v for k, v in good.items() if k not in drop},
                **changes,
            },
            st.sets(st.sampled_from(settings), max_size=2),
            st.dictionaries(st.sampled_from(settings), JSON | DATE_TIMES, max_size=2),
        ),
        JSON,
    )


@st.composite
def catalog_files(draw: st.DrawFn, tap: str) -> Any:
    """The tap's own catalog with a few parts of it replaced: a stream's schema, keys,
    replication key, metadata or name, a property's schema, or the whole file."""
    catalog = json.loads(json.dumps(catalog_of(tap)))
    entries = catalog["streams"]
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        entry = draw(st.sampled_from(entries))
        schema = entry.get("schema")
        own = schema.get("properties") if isinstance(schema, dict) else None
        properties = sorted(own) if isinstance(own, dict) and own else ["Id"]
        part = draw(
            st.sampled_from(
                [
                    "schema",
                    "property",
                    "key_properties",
                    "replication_key",
                    "selected",
                    "metadata",
                    "tap_stream_id",
                    "drop stream",
                    "streams",
                    "file",
                ]
            )
        )
        if part == "schema":
            entry["schema"] = draw(JSON | st.just({}) | st.just({"type": "object"}))
        elif part == "property" and isinstance(own, dict):
            name = draw(st.sampled_from(properties))
            types = st.sampled_from(["string", "integer", "number", "boolean", "object", "array"])
            own[name] = draw(st.builds(lambda t: {"type": [t, "null"]}, types) | JSON)
        elif part == "key_properties":
            entry["key_properties"] = draw(
                st.lists(st.sampled_from(properties) | st.text(max_size=5), max_size=2) | JSON
            )
        elif part == "replication_key":
            entry["replication_key"] = draw(st.sampled_from(properties) | JSON)
            entry["replication_method"] = draw(
                st.sampled_from(["INCREMENTAL", "FULL_TABLE"]) | JSON
            )
        elif part == "selected" and isinstance(entry.get("metadata"), list):
            for metadata in entry["metadata"]:
                if (
                    isinstance(metadata, dict)
                    and metadata.get("breadcrumb") == []
                    and isinstance(metadata.get("metadata"), dict)
                ):
                    metadata["metadata"]["selected"] = draw(st.booleans() | JSON)
        elif part == "metadata":
            entry["metadata"] = draw(
                st.lists(st.fixed_dictionaries({"breadcrumb": JSON, "metadata": JSON}), max_size=2)
                | JSON
            )
        elif part == "tap_stream_id":
            entry["tap_stream_id"] = draw(st.text(max_size=8) | JSON)
        elif part == "drop stream" and len(entries) > 1:
            entries.remove(entry)
        elif part == "streams":
            catalog["streams"] = draw(JSON)
            return catalog
        elif part == "file":
            return draw(JSON)
    return catalog


def printed(value: Any) -> str:
    """A fuzzed file as it was written, for a failure message."""
    text = io.StringIO()
    json.dump(value, text)
    return text.getvalue()[:300]
