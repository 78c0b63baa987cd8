"""The writer's RECORD lines are the bytes of the SDK's own message objects."""

from __future__ import annotations

import decimal
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.helpers._util import utc_now
from singer_sdk.singerlib import RecordMessage

from singer_rest_toolkit.writer import BLOCK_BYTES, BufferedWriter

RECORDS: list[dict[str, Any]] = [
    {"id": 1, "name": "plain"},
    {
        "id": 2,
        "name": 'quote " and \\ and \u00e9\u2603 \U0001f600',
        "amount": decimal.Decimal("1.50"),
    },
    {"nested": {"list": [1, None, True, {"x": "y"}]}, "when": datetime(2026, 1, 2, tzinfo=UTC)},
    {},
]


def stock_line(stream: str, record: dict[str, Any], version: int | None) -> bytes:
    message = RecordMessage(stream=stream, record=record, version=version, time_extracted=utc_now())
    return bytes(MsgSpecWriter().format_message(message))


@pytest.mark.parametrize("version", [None, 1767225600000])
@pytest.mark.parametrize("stream", ["events", 'odd "name"\u00e9'])
@pytest.mark.parametrize(
    "instant", ["2026-01-01T00:00:00+00:00", "2026-03-04T05:06:07.089123+00:00"]
)
def test_record_writer_writes_the_sdks_bytes(
    stream: str, version: int | None, instant: str
) -> None:
    writer = BufferedWriter()
    write = writer.record_writer(stream, version)
    with time_machine.travel(datetime.fromisoformat(instant), tick=False):
        expected = b"".join(stock_line(stream, record, version) for record in RECORDS)
        for record in RECORDS:
            write(record)
    assert bytes(writer._block) == expected


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no text")


def test_a_record_that_cannot_be_encoded_leaves_no_partial_line() -> None:
    writer = BufferedWriter()
    write = writer.record_writer("events", None)
    write({"id": 1})
    before = bytes(writer._block)
    with pytest.raises(RuntimeError):
        write({"id": 2, "bad": Unprintable()})
    assert bytes(writer._block) == before


def test_full_blocks_are_written(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.BytesIO()
    monkeypatch.setattr("sys.stdout", io.TextIOWrapper(out))
    writer = BufferedWriter()
    write = writer.record_writer("events", None)
    record = {"text": "x" * 1000}
    for _ in range(2 * BLOCK_BYTES // 1000):
        write(record)
    assert out.getvalue(), "nothing was written once a block was full"
    writer.write_block()
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 * BLOCK_BYTES // 1000
    assert all(
        line.startswith(b'{"type":"RECORD","stream":"events","record":{"text":"') for line in lines
    )


STOPPED_WRITER = textwrap.dedent(
    """
    import logging, sys
    from singer_rest_toolkit import stop
    from singer_rest_toolkit.writer import BufferedWriter

    writer = BufferedWriter()
    write = writer.record_writer("s", None)
    with stop.handled(logging.getLogger("writer")):
        try:
            for n in range(100_000):
                write({"id": n, "pad": "x" * 60})
        except stop.SyncStopped as stopped:
            writer.write_block()
            print(writer.records_written, file=sys.stderr, flush=True)
            stop.end(stopped.signum)
    """
)


@pytest.mark.parametrize("unbuffered", ["1", ""], ids=["unbuffered", "buffered"])
def test_a_stop_while_a_block_is_written_writes_it_whole_and_once(unbuffered: str) -> None:
    """A signal while the writer is blocked on a full pipe: the block goes out whole, never
    again, and the writer counts exactly the records written."""
    env = {**os.environ, "PYTHONUNBUFFERED": unbuffered}
    process = subprocess.Popen(
        [sys.executable, "-c", STOPPED_WRITER],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert process.stdout is not None
    first = os.read(process.stdout.fileno(), 100)  # the first block is out; the pipe fills
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    output = first + out
    assert process.returncode == 143, err
    assert output.endswith(b"\n")
    ids = [json.loads(line)["record"]["id"] for line in output.splitlines()]
    assert ids == list(range(len(ids)))  # each once, in order
    assert int(err.split()[-1]) == len(ids)
