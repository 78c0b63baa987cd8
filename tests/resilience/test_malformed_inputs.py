"""Malformed --config, --state and --catalog files end in one line naming the file, or run on
with a warning where that is safe; never a traceback, never output before the refusal.

Each named class of the hardening review is tried on every tap, then hypothesis generates
files of each kind from the JSON structure the SDK reads. Runs go through each tap's CLI in
this process (a few through the executable). A state the SDK wrote itself, at every point of
a real sync against the sandbox, is read back without a warning and resumes.
Counts of what was tried go to docs/reliability.md (see malformed_inputs.py).
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from api_sandbox.testing import SandboxProcess
from repo_support import BIN, TAPS
from resilience.malformed_inputs import (
    Outcome,
    Tally,
    catalog_files,
    catalog_of,
    config_files,
    date_time_streams,
    good_config,
    other_tap,
    printed,
    run_in_process,
    run_with,
    state_files,
    window_stream,
    write_json,
    write_table_if_complete,
)
from resilience.tap_profiles import SCALE, SEED, profile
from resilience.tap_runner import TapRun, run_tap
from singer_rest_toolkit.inputs import BadInputFileError, read_input_file

REFUSED, WARNED = "refused in one line", "warns, runs on"
FUZZ_EXAMPLES = {"config": 25, "state": 40, "catalog": 40}
"""Examples per tap and kind: the whole module runs in about a minute on two cores."""


def _incremental(tap: str) -> tuple[str, str]:
    return date_time_streams(tap)[0]


def _catalog(tap: str, change: Callable[[dict[str, Any]], None], stream: str = "") -> Any:
    """The tap's catalog with ``change`` applied to one stream's entry (the first incremental
    one unless named)."""
    catalog = copy.deepcopy(catalog_of(tap))
    name = stream or _incremental(tap)[0]
    change(next(entry for entry in catalog["streams"] if entry["tap_stream_id"] == name))
    return catalog


def _key_boolean(entry: dict[str, Any]) -> None:
    entry["schema"]["properties"][entry["key_properties"][0]] = {"type": ["boolean", "null"]}


def _select(catalog: dict[str, Any], selected: bool) -> dict[str, Any]:
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = selected
    return catalog


def _only_unknown_selected(tap: str) -> dict[str, Any]:
    catalog = _select(copy.deepcopy(catalog_of(tap)), selected=False)
    stranger = copy.deepcopy(catalog_of(other_tap(tap))["streams"][0])
    stranger["tap_stream_id"] = stranger["stream"] = "not_a_stream_of_this_tap"
    catalog["streams"].append(stranger)
    return _select_one(catalog, "not_a_stream_of_this_tap")


def _select_one(catalog: dict[str, Any], name: str) -> dict[str, Any]:
    for entry in catalog["streams"]:
        if entry["tap_stream_id"] == name:
            for metadata in entry["metadata"]:
                if metadata["breadcrumb"] == []:
                    metadata["metadata"]["selected"] = True
    return catalog


def _with_unknown_stream(tap: str) -> dict[str, Any]:
    catalog = copy.deepcopy(catalog_of(tap))
    stranger = copy.deepcopy(catalog_of(other_tap(tap))["streams"][0])
    stranger["tap_stream_id"] = stranger["stream"] = "not_a_stream_of_this_tap"
    catalog["streams"].append(stranger)
    return catalog


def _bookmark(tap: str, value: Any, key: str | None = None) -> dict[str, Any]:
    stream, own_key = _incremental(tap)
    return {
        "bookmarks": {stream: {"replication_key": key or own_key, "replication_key_value": value}}
    }


def _stream(tap: str) -> str:
    return _incremental(tap)[0]


# (kind, class, what the tap must do, the files of that class for a tap)
CASES: list[tuple[str, str, str, Callable[[str], list[Any]]]] = [
    (
        "config",
        "valid JSON, not an object",
        REFUSED,
        lambda tap: [[], [good_config(tap)], "x", 5, True, None],
    ),
    (
        "state",
        "not a JSON object (array, string, number, null)",
        REFUSED,
        lambda tap: [[], ["bookmarks"], "x", 5, None],
    ),
    (
        "state",
        '`{"bookmarks": "oops"}` and other non-objects',
        REFUSED,
        lambda tap: [{"bookmarks": "oops"}, {"bookmarks": []}, {"bookmarks": 1}],
    ),
    (
        "state",
        "a bookmark that is a string (or array, number)",
        REFUSED,
        lambda tap: [{"bookmarks": {_stream(tap): v}} for v in ("x", [], 1)],
    ),
    (
        "state",
        "partitions of the wrong type",
        REFUSED,
        lambda tap: [
            {"bookmarks": {_stream(tap): {"partitions": v}}}
            for v in ("x", {"context": {}}, [1], [{"context": "x"}])
        ],
    ),
    (
        "state",
        "progress_markers of the wrong type",
        REFUSED,
        lambda tap: [{"bookmarks": {_stream(tap): {"progress_markers": v}}} for v in ("x", [], 1)],
    ),
    (
        "state",
        "replication_key_value a number or a list",
        REFUSED,
        lambda tap: [_bookmark(tap, v) for v in (5, 1.5, [], ["2024-01-01T00:00:00Z"])],
    ),
    (
        "state",
        "replication_key_value not a date-time",
        REFUSED,
        lambda tap: [_bookmark(tap, v) for v in ("yesterday", "2024-13-45", "5")],
    ),
    (
        "state",
        "bookmark under another replication key",
        WARNED,
        lambda tap: [
            _bookmark(tap, "2999-01-01T00:00:00Z", "some_other_field"),
            _bookmark(tap, 5, "Id"),
        ],
    ),
    (
        "state",
        'state wrapped in `{"value": ...}`',
        WARNED,
        lambda tap: [
            {"value": _bookmark(tap, "2024-01-01T00:00:00Z")},
            {"singer_state": _bookmark(tap, "2024-01-01T00:00:00Z")},
        ],
    ),
    (
        "state",
        "another tap's state",
        WARNED,
        lambda tap: [_bookmark(other_tap(tap), "2024-01-01T00:00:00Z")],
    ),
    (
        "catalog",
        "missing or empty schema",
        REFUSED,
        lambda tap: [
            _catalog(tap, lambda e: e.pop("schema")),
            _catalog(tap, lambda e: e.update(schema={})),
            _catalog(tap, lambda e: e.update(schema={"type": "object", "properties": {}})),
        ],
    ),
    (
        "catalog",
        "replication key not in the schema",
        REFUSED,
        lambda tap: [_catalog(tap, lambda e: e.update(replication_key="not_a_field"))],
    ),
    (
        "catalog",
        '`{"streams": "x"}` and other shapes',
        REFUSED,
        lambda tap: [{"streams": "x"}, {}, [], {"streams": [1]}, {"streams": [{"schema": {}}]}],
    ),
    (
        "catalog",
        "a key property declared boolean",
        REFUSED,
        lambda tap: [_catalog(tap, _key_boolean)],
    ),
    (
        "catalog",
        "key properties not in the schema",
        REFUSED,
        lambda tap: [_catalog(tap, lambda e: e.update(key_properties=["not_a_field"]))],
    ),
    ("catalog", "another tap's catalog", REFUSED, lambda tap: [catalog_of(other_tap(tap))]),
    (
        "catalog",
        "selects no stream, or only streams this tap does not have",
        REFUSED,
        lambda tap: [
            _select(copy.deepcopy(catalog_of(tap)), selected=False),
            _only_unknown_selected(tap),
        ],
    ),
    (
        "catalog",
        "lists a stream this tap does not have, besides its own",
        WARNED,
        lambda tap: [_with_unknown_stream(tap)],
    ),
]


def write_counts_if_complete(since: float) -> bool:
    """docs/reliability.md's counts table, if this session ran every class on every tap."""
    return write_table_if_complete(since, (len(CASES) + len(FUZZ_EXAMPLES)) * len(TAPS))


def check(outcome: Outcome, path: str, expected: str, shown: Any) -> str:
    """Assert the run did what its class expects; its verdict."""
    verdict = outcome.verdict(path)
    detail = f"{printed(shown)}\nerrors: {outcome.errors[-3:]}\n{outcome.traceback or ''}"
    assert verdict in {"refused", "ran on"}, f"{verdict}: {detail}"
    if expected == REFUSED:
        assert verdict == "refused", detail
        naming = [line for line in outcome.errors if path in line]
        assert all(len(line) < 400 and "\n" not in line for line in naming), naming
    else:
        assert verdict == "ran on", detail
        assert any(
            option in line for line in outcome.warnings for option in ("--state", "--catalog")
        ), outcome.warnings
    return verdict


@pytest.mark.parametrize("tap", TAPS)
@pytest.mark.parametrize(
    ("kind", "name", "expected", "files"), CASES, ids=[f"{c[0]}: {c[1]}" for c in CASES]
)
def test_each_malformed_class_is_one_line_or_a_warning(
    tap: str, kind: str, name: str, expected: str, files: Callable[[str], list[Any]], tmp_path: Path
) -> None:
    tally = Tally(tap, kind, name, expected)
    for value in files(tap):
        outcome, path = run_with(tap, tmp_path, kind, value)
        tally.add(check(outcome, path, expected, value))
    tally.save()


def _fuzz(kind: str, strategy: Callable[[str], Any]) -> Callable[[str, Path], None]:
    """A test running hypothesis' ``kind`` files through the CLI: each run is refused in one
    line naming the file, or reaches the first request; never a traceback."""

    def test(tap: str, tmp_path: Path) -> None:
        tally = Tally(tap, kind, f"hypothesis: {kind} files of any JSON structure", "either")

        @settings(
            max_examples=FUZZ_EXAMPLES[kind],
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        )
        @given(strategy(tap))
        def one(value: Any) -> None:
            outcome, path = run_with(tap, tmp_path, kind, value)
            verdict = outcome.verdict(path)
            if kind == "config" and verdict == "refused naming a setting":
                verdict = "refused"  # the settings' own checks, naming the setting
            assert verdict in {"refused", "ran on"}, (
                f"{verdict}: {printed(value)}\n{outcome.errors[-3:]}\n{outcome.traceback}"
            )
            tally.add(verdict)

        one()
        tally.save()

    return test


test_fuzzed_config_files = pytest.mark.parametrize("tap", TAPS)(_fuzz("config", config_files))
test_fuzzed_state_files = pytest.mark.parametrize("tap", TAPS)(_fuzz("state", state_files))
test_fuzzed_catalog_files = pytest.mark.parametrize("tap", TAPS)(_fuzz("catalog", catalog_files))

USERS = {"tap_stream_id": "users", "schema": {"properties": {"Id": {"type": "integer"}}}}


@pytest.mark.parametrize(
    ("kind", "value", "problem"),
    [
        (
            "state",
            {"bookmarks": {"users": {"partitions": [{"context": "x"}]}}},
            "bookmarks.users.partitions[0].context must be an object, not a string",
        ),
        (
            "state",
            {"bookmarks": {"a b": {"progress_markers": {"replication_key_value": True}}}},
            "bookmarks['a b'].progress_markers.replication_key_value must be a string or a "
            "number, not true",
        ),
        ("catalog", {"streams": [USERS, 1]}, "streams[1] must be an object, not a number"),
        (
            "catalog",
            {"streams": [{**USERS, "schema": {"properties": {"Id": {"title": "no type"}}}}]},
            "stream 'users': schema.properties.Id has none of 'type', 'anyOf', 'allOf'",
        ),
        (
            "catalog",
            {"streams": [{**USERS, "metadata": [{"breadcrumb": [], "metadata": {"selected": 1}}]}]},
            "stream 'users': metadata[0].metadata.selected must be true or false, not a number",
        ),
        (
            "catalog",
            {"streams": [{**USERS, "replication_method": "SOMETIMES"}]},
            "stream 'users': replication_method is 'SOMETIMES', not one of INCREMENTAL, "
            "FULL_TABLE, LOG_BASED",
        ),
    ],
    ids=["partition context", "progress marker value", "stream", "untyped", "metadata", "enum"],
)
def test_a_refusal_names_the_file_and_the_place_in_it(
    kind: str, value: Any, problem: str, tmp_path: Path
) -> None:
    path = tmp_path / f"{kind}.json"
    path.write_text(json.dumps(value), encoding="utf-8")
    with path.open(encoding="utf-8") as handle, pytest.raises(BadInputFileError) as refused:
        read_input_file(kind, handle, logging.getLogger(__name__))
    assert refused.value.line() == f"--{kind} {path}: {problem}"


@pytest.mark.parametrize("tap", TAPS)
@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("config", ["not", "an", "object"]),
        ("state", {"bookmarks": "oops"}),
        ("catalog", {"streams": "x"}),
    ],
    ids=["config", "state", "catalog"],
)
def test_the_executable_refuses_in_one_line(
    tap: str, kind: str, value: Any, tmp_path: Path
) -> None:
    path = write_json(tmp_path, f"malformed-{kind}.json", value)
    config = write_json(tmp_path, "good-config.json", good_config(tap))
    args = ["--config", path] if kind == "config" else ["--config", config, f"--{kind}", path]
    result = subprocess.run(
        [str(BIN / tap), *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode != 0
    assert result.stdout == ""
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    naming = [line for line in result.stderr.splitlines() if path in line]
    assert naming, result.stderr[-2000:]
    assert all(len(line) < 400 for line in naming), naming


# --- states the SDK writes itself ------------------------------------------------------------------
@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxProcess]:
    with SandboxProcess(scale=SCALE, seed=SEED) as server:
        yield server


@functools.cache
def _first_sync(tap: str, sandbox: SandboxProcess) -> tuple[set[str], TapRun]:
    """A sync of a date-windowed stream and the crash test's streams (a child stream among
    them): its streams and what it wrote."""
    streams = {window_stream(tap)[0], *profile(tap).crash_streams}
    run = run_tap(tap, profile(tap).config(sandbox), streams)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.states, "the sync wrote no state"
    return streams, run


@pytest.mark.parametrize("tap", TAPS)
def test_every_state_the_sdk_writes_is_read_back_without_a_warning_and_resumes(
    tap: str, sandbox: SandboxProcess, tmp_path: Path
) -> None:
    streams, first = _first_sync(tap, sandbox)
    # Read back by the same streams, up to the first request (at a closed port).
    catalog = write_json(tmp_path, "catalog.json", _select_streams(tap, streams))
    closed = write_json(tmp_path, "config.json", good_config(tap))
    for number, state in enumerate(first.states):  # every point a run could be stopped at
        path = write_json(tmp_path, f"state-{number}.json", state)
        outcome = run_in_process(tap, ["--config", closed, "--catalog", catalog, "--state", path])
        assert outcome.verdict(path) == "ran on", (printed(state), outcome.errors[-3:])
        assert not [w for w in outcome.warnings if "--state" in w], outcome.warnings
    resumed = run_tap(tap, profile(tap).config(sandbox), streams, state=first.states[-1])
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "--state" not in resumed.stderr
    stream, key = window_stream(tap)
    assert resumed.states[-1]["bookmarks"][stream]["replication_key"] == key


def _select_streams(tap: str, streams: set[str]) -> dict[str, Any]:
    catalog = _select(copy.deepcopy(catalog_of(tap)), selected=False)
    for name in streams:
        _select_one(catalog, name)
    return catalog


@pytest.mark.parametrize("tap", TAPS)
def test_a_bookmark_under_another_replication_key_starts_the_stream_over_with_one_warning(
    tap: str, sandbox: SandboxProcess
) -> None:
    """A date-windowed stream whose bookmark names another field, later than now: read from
    its start (it failed its sort check when the foreign value stayed in the state)."""
    stream, key = window_stream(tap)
    state = {
        "bookmarks": {
            stream: {
                "replication_key": "some_other_field",
                "replication_key_value": "2999-01-01T00:00:00Z",
            }
        }
    }
    run = run_tap(tap, profile(tap).config(sandbox), {stream}, state=state)
    assert run.returncode == 0, run.stderr[-2000:]
    warnings = [line for line in run.stderr.splitlines() if "some_other_field" in line]
    assert len(warnings) == 1, warnings
    assert "WARNING" in warnings[0], warnings
    first = _first_sync(tap, sandbox)[1]
    assert len(run.records.get(stream, [])) == len(first.records.get(stream, []))
    assert run.states[-1]["bookmarks"][stream]["replication_key"] == key


def _states_the_sdk_writes(tap: str) -> list[dict[str, Any]]:
    """States built by the SDK's own state functions for one of the tap's streams: a bookmark
    per partition, an unsorted stream's progress markers, a signpost and a starting value
    (the taps' syncs write none of these, a stream of another tap on the SDK might).
    The functions are private to the SDK: they are what it writes, so they are the reference."""
    from singer_sdk.helpers import _state

    stream, key = _incremental(tap)
    record = {key: "2026-01-02T03:04:05+00:00"}
    partitioned: dict[str, Any] = {}
    for number in (1, 2):
        partition = _state.get_writeable_state_dict(
            partitioned, stream, state_partition_context={"parent_id": number}
        )
        _state.increment_state(
            partition, latest_record=record, replication_key=key, is_sorted=True, check_sorted=True
        )
    interrupted: dict[str, Any] = {}
    entry = _state.get_writeable_state_dict(interrupted, stream)
    _state.write_starting_replication_value(entry, "2026-01-01T00:00:00+00:00")
    _state.write_replication_key_signpost(entry, "2026-01-03T00:00:00+00:00")
    _state.increment_state(
        entry, latest_record=record, replication_key=key, is_sorted=False, check_sorted=True
    )
    finished = copy.deepcopy(interrupted)
    _state.finalize_state_progress_markers(finished["bookmarks"][stream])
    return [partitioned, interrupted, finished, {**finished, "currently_syncing": stream}]


@pytest.mark.parametrize("tap", TAPS)
def test_the_state_shapes_the_sdk_writes_are_read_without_a_warning(
    tap: str, tmp_path: Path
) -> None:
    for number, state in enumerate(_states_the_sdk_writes(tap)):
        outcome, path = run_with(tap, tmp_path, "state", state)
        assert outcome.verdict(path) == "ran on", (number, printed(state), outcome.errors[-3:])
        assert not [w for w in outcome.warnings if "--state" in w], (number, outcome.warnings)
