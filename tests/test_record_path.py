"""The toolkit's record path writes exactly what the SDK's stock path writes.

Every stream of each tap (default and opt-in) is synced twice against one sandbox, at the
same frozen instant: once through the SDK's own code (:func:`stock_record_path`: requests'
JSON parser, ``Stream._sync_records``, ``Stream._generate_record_messages`` with the SDK's
recursive type conformance, the SDK's msgspec writer flushing every message) and
once through the toolkit's (msgspec parsing, the compiled conformer working in place, its
record loop, RECORD lines in blocks). stdout must be the same bytes: SCHEMA,
RECORD and STATE messages, their order and every ``time_extracted``.
"""

from __future__ import annotations

import decimal
import json
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, time
from typing import Any

import pytest
import time_machine
from singer_sdk import Stream, Tap
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.helpers.conform import TypeConformanceLevel

from agyletime import agyletime_support
from amilia import amilia_support
from amperity import amperity_support
from api_sandbox.testing import SandboxProcess
from repo_support import sync_output
from singer_rest_toolkit import RestStream, responses
from singer_rest_toolkit.sdk_internals.record_loop import FastRecordMessages
from singer_rest_toolkit.writer import BufferedWriter
from tap_agyletime.streams import STREAM_TYPES as AGYLETIME_STREAMS
from tap_agyletime.tap import TapAgyleTime
from tap_amilia.streams import STREAM_TYPES as AMILIA_STREAMS
from tap_amilia.tap import TapAmilia
from tap_amperity.streams import STREAM_TYPES as AMPERITY_STREAMS
from tap_amperity.tap import TapAmperity

pytestmark = pytest.mark.xdist_group("record_path")

ConfigOf = Callable[[SandboxProcess], dict[str, Any]]
TAPS: dict[str, tuple[type[Tap], tuple[str, ...], ConfigOf]] = {
    "amilia": (
        TapAmilia,
        tuple(s.name for s in AMILIA_STREAMS),
        lambda sandbox: amilia_support.key_pair_config(sandbox, max_requests_per_second=100_000),
    ),
    "amperity": (
        TapAmperity,
        tuple(s.name for s in AMPERITY_STREAMS),
        lambda sandbox: amperity_support.sandbox_config(sandbox, max_requests_per_second=100_000),
    ),
    "agyletime": (
        TapAgyleTime,
        tuple(s.name for s in AGYLETIME_STREAMS),
        lambda sandbox: agyletime_support.sandbox_config(sandbox, max_requests_per_second=100_000),
    ),
}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxProcess]:
    """One sandbox for both paths, its ceilings off (pace is not what is compared)."""
    with SandboxProcess(scale=0.05) as server:
        server.configure(rate_limits=dict.fromkeys(TAPS, 0))
        yield server


def stock_record_path(patch: pytest.MonkeyPatch) -> None:
    """Sync through the SDK's own code instead of the toolkit's record path."""
    patch.setattr(responses, "parse_json", lambda r, _=None: r.json(parse_float=decimal.Decimal))
    patch.setattr(FastRecordMessages, "_sync_records", Stream._sync_records)
    patch.setattr(RestStream, "TYPE_CONFORMANCE_LEVEL", TypeConformanceLevel.RECURSIVE)
    patch.setattr(RestStream, "_record_conformance", lambda _: lambda record: record)
    patch.setattr(BufferedWriter, "write_message", MsgSpecWriter.write_message)


def noon_today() -> datetime:
    """Midday UTC of this test's day: both runs read the same day's data."""
    return datetime.combine(datetime.now(UTC).date(), time(12), tzinfo=UTC)


def run(
    vendor: str, sandbox: SandboxProcess, monkeypatch: pytest.MonkeyPatch, *, stock: bool
) -> tuple[bytes, int]:
    """stdout of a sync of every stream, and how many streams took the toolkit's loop."""
    tap_class, streams, config_of = TAPS[vendor]
    loops: list[str] = []
    toolkit_loop = FastRecordMessages._write_records

    def counted(stream: FastRecordMessages, *args: Any) -> Any:
        loops.append(stream.name)
        return toolkit_loop(stream, *args)

    with monkeypatch.context() as patch:
        patch.setattr(FastRecordMessages, "_write_records", counted)
        if stock:
            stock_record_path(patch)
        # Frozen: windows end, bookmarks and time_extracted are "now", the same in both runs.
        with time_machine.travel(noon_today(), tick=False):
            output, error = sync_output(tap_class(config=config_of(sandbox)), streams)
    assert error is None, error
    return output, len(loops)


@pytest.mark.parametrize("vendor", sorted(TAPS))
def test_every_stream_writes_the_sdks_exact_bytes(
    vendor: str, sandbox: SandboxProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    stock, stock_loops = run(vendor, sandbox, monkeypatch, stock=True)
    ours, our_loops = run(vendor, sandbox, monkeypatch, stock=False)
    assert stock_loops == 0
    assert our_loops > 0, "the toolkit's record loop was not used"
    lines = stock.splitlines()
    messages = [json.loads(line) for line in lines]
    with_records = {m["stream"] for m in messages if m["type"] == "RECORD"}
    assert with_records == set(TAPS[vendor][1]), "a stream wrote no record: not a sample of it"
    assert ours.splitlines() == lines  # the first difference, line by line
    assert ours == stock


@pytest.mark.parametrize("vendor", sorted(TAPS))
def test_each_stream_writes_its_schema_once_per_sync(
    vendor: str, sandbox: SandboxProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SDK writes a child stream's SCHEMA again for each parent record (a target flushes
    its buffers at each one); the toolkit writes it once per sync, before its first record."""
    output, _ = run(vendor, sandbox, monkeypatch, stock=False)
    messages = [json.loads(line) for line in output.splitlines()]
    schemas = Counter(m["stream"] for m in messages if m["type"] == "SCHEMA")
    assert set(schemas) == set(TAPS[vendor][1])
    assert set(schemas.values()) == {1}
    first = {}
    for index, message in enumerate(messages):
        first.setdefault((message["type"], message.get("stream")), index)
    for stream in schemas:
        if ("RECORD", stream) in first:
            assert first["SCHEMA", stream] < first["RECORD", stream]
    with monkeypatch.context() as patch:  # the SDK's own: one SCHEMA per parent record
        patch.setattr(FastRecordMessages, "_write_schema_message", Stream._write_schema_message)
        sdks, _ = run(vendor, sandbox, monkeypatch, stock=False)
    sdk_schemas = Counter(
        m["stream"] for m in map(json.loads, sdks.splitlines()) if m["type"] == "SCHEMA"
    )
    if vendor in {"amilia", "amperity"}:  # per-parent streams with several parents
        assert max(sdk_schemas.values()) > 1, "the SDK no longer repeats SCHEMA: drop the override"
