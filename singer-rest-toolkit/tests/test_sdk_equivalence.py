"""Each use of an SDK internal (sdk_internals/: record loop, state, validation, process exit)
gives what the SDK itself gives.

Run at the lowest and the highest singer-sdk version the package allows
(``make test-sdk-range``): a change inside the SDK shows up here first.
"""

from __future__ import annotations

import copy
import decimal
import inspect
import json
import logging
import signal
import subprocess
import sys
import textwrap
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest
import requests
from singer_sdk import Stream, Tap
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers._typing import conform_record_data_types
from singer_sdk.helpers.conform import TypeConformanceLevel

from singer_rest_toolkit.conform import RecordConformer
from singer_rest_toolkit.responses import json_body, keep_only
from singer_rest_toolkit.sdk_internals.process_exit import NoSdkSignalHandlers
from singer_rest_toolkit.sdk_internals.record_loop import FastRecordMessages
from singer_rest_toolkit.sdk_internals.state import WindowBookmarks, record_bookmarks
from singer_rest_toolkit.sdk_internals.validation import SecretSafeValidation
from singer_rest_toolkit.writer import BufferedWriter

SCHEMA = th.PropertiesList(
    th.Property("id", th.IntegerType),
    th.Property("name", th.StringType),
    th.Property("active", th.BooleanType),
    th.Property("amount", th.NumberType),
    th.Property("when", th.DateTimeType),
    th.Property("tags", th.ArrayType(th.StringType)),
    th.Property("flags", th.ArrayType(th.BooleanType)),
    th.Property(
        "owner",
        th.ObjectType(
            th.Property("id", th.IntegerType),
            th.Property("vip", th.BooleanType),
            th.Property(
                "contacts", th.ArrayType(th.ObjectType(th.Property("kind", th.StringType)))
            ),
        ),
    ),
    th.Property("free_form", th.ObjectType()),
    th.Property("items", th.ArrayType(th.ObjectType())),
).to_dict()
OPEN_SCHEMA = {**SCHEMA, "additionalProperties": True}
RECORD: dict[str, Any] = {
    "id": 1,
    "name": "a",
    "active": True,
    "amount": decimal.Decimal("1.25"),
    "when": "2026-02-28T23:59:59.1234567-05:00",
    "tags": ["x"],
    "flags": [1, 0],
    "owner": {"id": 2, "vip": 1, "contacts": [{"kind": "e-mail", "extra": 1}]},
    "free_form": {"anything": [1, {"b": 2}]},
    "items": [{"k": 1}],
}
ODD_VALUES: list[Any] = [
    None,
    0,
    1,
    True,
    "false",
    "",
    decimal.Decimal("NaN"),
    float("inf"),
    decimal.Decimal("1.5"),
    [],
    [1, None],
    {},
    {"unknown": 1},
    [{"unknown": 1, "id": 2}],
]


def swapped(record: dict[str, Any], value: Any) -> dict[str, Any]:
    """Every leaf, nested ones too, replaced by ``value``; plus an undeclared key."""

    def swap(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: swap(v) if isinstance(v, dict | list) else value for k, v in node.items()}
        if isinstance(node, list):
            return [swap(item) for item in node]
        return value

    return {**swap(record), "undeclared": value}


@pytest.mark.parametrize("schema", [SCHEMA, OPEN_SCHEMA], ids=["closed", "open"])
@pytest.mark.parametrize("value", [*ODD_VALUES, "as-is"], ids=repr)
def test_the_conformer_gives_what_the_sdk_gives(
    schema: dict[str, Any], value: Any, caplog: pytest.LogCaptureFixture
) -> None:
    record = RECORD if value == "as-is" else swapped(RECORD, value)
    # The SDK warns once per stream, keys and logger: a fresh logger for each side.
    sdk_logger, our_logger = (logging.getLogger(f"test.{uuid.uuid4()}") for _ in range(2))
    with caplog.at_level(logging.WARNING):
        want = conform_record_data_types(
            "s", copy.deepcopy(record), schema, TypeConformanceLevel.RECURSIVE, sdk_logger
        )
        sdk_warnings = [r.getMessage() for r in caplog.records]
        caplog.clear()
        got = RecordConformer("s", schema, our_logger)(copy.deepcopy(record))
        our_warnings = [r.getMessage() for r in caplog.records]
    assert repr(got) == repr(want)
    kept = [w for w in our_warnings if "not declared in its schema: passed on as sent" in w]
    assert [w for w in our_warnings if w not in kept] == sdk_warnings
    if schema is OPEN_SCHEMA and "undeclared" in record:
        assert kept == [
            "Properties ('undeclared',) were present in the 's' stream but not declared in its "
            "schema: passed on as sent (a target that makes columns from the schema may not "
            "load them)"
        ]
    else:
        assert kept == []


class ExampleTap(SecretSafeValidation, Tap):
    name = "tap-example"
    config_jsonschema = th.PropertiesList(
        th.Property("user", th.StringType, required=True),
        th.Property("password", th.StringType, secret=True, required=True),
        th.Property("page_size", th.IntegerType),
    ).to_dict()
    checked: ClassVar[list[str]] = []

    def check_settings(self) -> None:
        self.checked.append(str(self.config["user"]))

    def discover_streams(self) -> list[Stream]:
        return [ExampleStream(self)]


class PlainTap(Tap):
    name = "tap-example"
    config_jsonschema = ExampleTap.config_jsonschema

    def discover_streams(self) -> list[Stream]:
        return []


class ExampleStream(WindowBookmarks, FastRecordMessages, Stream):
    name = "example"
    schema = SCHEMA
    primary_keys = ("id",)
    replication_key = "id"
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def get_records(self, context: Any) -> Any:
        yield from ()


class BookmarkedStream(FastRecordMessages, Stream):
    """Records move the bookmark (the SDK's own ``_increment_stream_state``)."""

    name = "bookmarked"
    schema = SCHEMA
    primary_keys = ("id",)
    replication_key = "when"
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def get_records(self, context: Any) -> Any:
        yield from ()


class BookmarkTap(Tap):
    name = "tap-example"
    config_jsonschema = ExampleTap.config_jsonschema

    def discover_streams(self) -> list[Stream]:
        return [BookmarkedStream(self)]


def validation_errors(tap_class: type[Tap], config: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigValidationError) as caught:
        tap_class(config=config)
    return list(caught.value.errors)


def test_settings_errors_are_the_sdks_without_a_secret_value() -> None:
    config = {"user": "u", "password": 12345678, "page_size": "big"}
    sdk = validation_errors(PlainTap, config)
    ours = validation_errors(ExampleTap, config)
    assert any("12345678" in error for error in sdk), "the SDK's message no longer shows it"
    assert not any("12345678" in error for error in ours)
    assert [e for e in ours if "page_size" in e] == [e for e in sdk if "page_size" in e]
    assert "password must be of type 'string' (value not shown: the setting is secret)" in ours


def test_the_taps_own_checks_run_after_the_sdks_validation() -> None:
    ExampleTap.checked.clear()
    ExampleTap(config={"user": "checked-user", "password": "p"})
    assert ExampleTap.checked == ["checked-user"]
    ExampleTap(config={"user": "unchecked", "password": "p"}, validate_config=False)
    assert ExampleTap.checked == ["checked-user"]


class BufferedTap(ExampleTap):
    message_writer_class = BufferedWriter


def written_records(
    tap_class: type[Tap],
    stream_maps: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    deselected: str | None = None,
) -> list[dict[str, Any]]:
    """The RECORD messages (less ``time_extracted``) a sync of two example records writes."""
    tap = tap_class(config={"user": "u", "password": "p", "stream_maps": stream_maps})
    stream = tap.streams["example"]
    if deselected is not None:
        stream.metadata["properties", deselected].selected = False
        stream._mask = None
    stream.get_records = lambda context: iter([{"id": 7, "name": "a"}, {"id": 3, "name": "b"}])  # type: ignore[method-assign]
    capsys.readouterr()
    list(stream._sync_records(None))
    messages = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    records = [m for m in messages if m["type"] == "RECORD"]
    assert all(m.pop("time_extracted") for m in records)
    return records


@pytest.mark.parametrize(
    "stream_maps",
    [
        {},
        {"example": {"doubled": "id * 2", "name": None}},
        {"example": {"__filter__": "id > 5"}},
        {"example_copy": {"__source__": "example"}},
    ],
    ids=["no map", "map", "filter", "alias"],
)
def test_record_messages_are_the_sdks(
    stream_maps: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    ours = written_records(BufferedTap, stream_maps, capsys)  # the toolkit's record loop
    assert ours == written_records(ExampleTap, stream_maps, capsys)  # the SDK's
    assert ours


def test_a_deselected_property_takes_the_sdks_own_path(capsys: pytest.CaptureFixture[str]) -> None:
    ours = written_records(BufferedTap, {}, capsys, deselected="name")
    assert ours == written_records(ExampleTap, {}, capsys, deselected="name")
    assert [m["record"] for m in ours] == [{"id": 7}, {"id": 3}]


def test_records_do_not_move_a_window_bookmark() -> None:
    def shape(method: Any) -> list[tuple[str, Any]]:
        return [(p.name, p.kind) for p in inspect.signature(method).parameters.values()]

    override = WindowBookmarks._increment_stream_state
    sdk = Stream._increment_stream_state
    assert shape(override) == shape(sdk), "the SDK changed the method the toolkit overrides"
    tap = ExampleTap(config={"user": "u", "password": "p"})
    stream = tap.streams["example"]
    before = copy.deepcopy(stream.stream_state)
    stream._increment_stream_state({"id": 99}, context=None)
    assert stream.stream_state == before


def test_a_parsed_page_is_released_and_only_what_paging_reads_is_kept() -> None:
    response = requests.Response()
    response.status_code = 200
    response._content = b'{"Items": [{"a": 1.5}], "Paging": {"Next": null}}'
    assert json_body(response) == {
        "Items": [{"a": decimal.Decimal("1.5")}],
        "Paging": {"Next": None},
    }
    keep_only(response, {"Paging": {"Next": None}})
    assert response.content == b""
    assert json_body(response) == {"Paging": {"Next": None}}


def test_queued_fetches_are_dropped_before_the_interpreter_joins_the_pool() -> None:
    program = textwrap.dedent(
        """
        import threading, time
        from concurrent.futures import ThreadPoolExecutor
        from singer_rest_toolkit.sdk_internals.process_exit import run_before_threads_join

        dropped = threading.Event()
        ran = []
        def task(n):
            if dropped.is_set():
                return
            time.sleep(0.05)
            ran.append(n)
        pool = ThreadPoolExecutor(1)
        for n in range(200):
            pool.submit(task, n)
        def drop():
            dropped.set()
            print("dropped after", len(ran), flush=True)
        run_before_threads_join(drop)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True, timeout=60
    )
    ran_before = int(result.stdout.split()[-1])
    assert ran_before < 10, "queued tasks ran before the hook: it was called too late"


WHENS: list[Any] = [
    "2026-01-02T00:00:00Z",
    "2026-01-03T00:00:00Z",
    "2026-01-01T00:00:00Z",  # goes back
    None,
    "2026-01-03T00:00:00Z",  # equal
    datetime(2026, 1, 4, tzinfo=UTC),  # not a string: the SDK converts it
    "2026-01-05T00:00:00Z",
    7,
    "2026-01-06T00:00:00Z",
]


@pytest.mark.parametrize("is_sorted", [False, True], ids=["unsorted", "sorted"])
@pytest.mark.parametrize("check_sorted", [True, False], ids=["checked", "unchecked"])
@pytest.mark.parametrize("context", [None, {"parent": 1}], ids=["stream", "partition"])
def test_per_record_bookmarks_are_the_sdks(
    is_sorted: bool, check_sorted: bool, context: dict[str, Any] | None
) -> None:
    """The inline bookmark update leaves the state (and raises) as the SDK's own."""

    def run(ours: bool) -> tuple[Any, list[str]]:
        tap = BookmarkTap(config={"user": "u", "password": "p"})
        settings = {"is_sorted": is_sorted, "check_sorted": check_sorted}
        stream = type("Sorting", (BookmarkedStream,), settings)(tap)
        stream._write_starting_replication_value(context)
        bookmarks = record_bookmarks(stream)
        assert bookmarks is not None
        increment = bookmarks(context)
        states, errors = [], []
        for when in WHENS:
            record = {"id": 1, "when": when}
            try:
                if ours:
                    increment(record)
                else:
                    stream._increment_stream_state(record, context=context)
            except Exception as exc:  # the same error is expected of both
                errors.append(f"{type(exc).__name__}: {exc}")
            states.append(copy.deepcopy(tap.state))
        return states, errors

    assert run(ours=True) == run(ours=False)


def test_an_overridden_bookmark_method_is_called_per_record() -> None:
    calls: list[dict[str, Any]] = []

    class Overridden(BookmarkedStream):
        def _increment_stream_state(
            self, latest_record: dict[str, Any], *, context: Any = None
        ) -> None:
            calls.append(latest_record)

    stream = Overridden(BookmarkTap(config={"user": "u", "password": "p"}))
    bookmarks = record_bookmarks(stream)
    assert bookmarks is not None
    bookmarks(None)({"when": "2026-01-01T00:00:00Z"})
    assert calls == [{"when": "2026-01-01T00:00:00Z"}]


class QuietSignalsTap(NoSdkSignalHandlers, PlainTap):
    pass


def test_the_sdk_takes_the_stop_signals_through_the_hook_a_toolkit_tap_leaves_empty() -> None:
    """The SDK installs its termination handler (exit 0, a STATE written mid-line) as a tap is
    built, through the method NoSdkSignalHandlers overrides: a toolkit tap leaves them alone."""
    stop_signals = (signal.SIGTERM, signal.SIGINT)
    before = {signum: signal.getsignal(signum) for signum in stop_signals}
    try:
        PlainTap(config={"user": "u", "password": "p"})
        for signum in stop_signals:
            handler = signal.getsignal(signum)
            assert getattr(handler, "__func__", None) is Tap._handle_termination
            signal.signal(signum, before[signum])
        QuietSignalsTap(config={"user": "u", "password": "p"})
        assert {signum: signal.getsignal(signum) for signum in stop_signals} == before
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)
