"""The SDK's msgspec writer, writing RECORDs in large blocks and flushing at each other message."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from singer_sdk.contrib.msgspec import MsgSpecWriter, encoder
from singer_sdk.singerlib import Message, RecordMessage
from typing_extensions import override

from singer_rest_toolkit import stop

BLOCK_BYTES = 1 << 16
"""RECORD lines are written once this many bytes are waiting (and before any other message)."""
_NULL_END = b"null}"


class BufferedWriter(MsgSpecWriter):
    """RECORDs leave in blocks of :data:`BLOCK_BYTES` (a write system call per RECORD was a large
    share of a small-record sync; ``sys.stdout`` is unbuffered under ``PYTHONUNBUFFERED``). Other
    messages write the waiting block first and flush at once: a target sees every record before
    the STATE that covers it. Every write goes out whole, exactly once (stop.py waits for it)."""

    def __init__(self) -> None:
        super().__init__()
        self._block = bytearray()
        self.records_written = 0
        """RECORD lines written to stdout so far."""

    @override
    def write_message(self, message: Message) -> None:
        if isinstance(message, RecordMessage):
            self._block.extend(self.format_message(message))  # encoded whole first: no partial line
            if len(self._block) >= BLOCK_BYTES:
                self.write_block()
            return
        self.write_block()
        with stop.deferred():
            _write_all(self.format_message(message))
            sys.stdout.flush()

    def record_writer(self, stream: str, version: int | None) -> Callable[[dict[str, Any]], None]:
        """A writer of ``stream``'s RECORDs stamped with the time of the call: the bytes of
        ``RecordMessage(...).to_dict()`` without a message per record (the head and the key
        before ``time_extracted`` encoded once; the instant as the SDK's ``utc_now()``)."""
        head = encoder.encode({"type": "RECORD", "stream": stream, "record": None})
        message: dict[str, Any] = {} if version is None else {"version": version}
        tail = encoder.encode({**message, "time_extracted": None})
        head, tail = head[: -len(_NULL_END)], b"," + tail[1 : -len(_NULL_END)]
        block = self._block
        extend, encode_into, now = block.extend, encoder.encode_into, datetime.now

        def write(record: dict[str, Any]) -> None:
            start = len(block)
            try:
                extend(head)
                encode_into(record, block, -1)
                extend(tail)
                encode_into(now(UTC), block, -1)
                extend(b"}\n")
            except BaseException:
                del block[start:]  # no partial line
                raise
            if len(block) >= BLOCK_BYTES:
                self.write_block()

        return write

    def write_block(self) -> None:
        """Write the RECORD lines waiting (a sync ending, or failing, writes them too)."""
        if self._block:
            lines = self._block.count(b"\n")
            with stop.deferred():
                _write_all(self._block)
                self.records_written += lines


def _write_all(data: bytearray) -> None:
    """Write ``data`` to stdout, removing what is written: an unbuffered stdout may take part of
    it when a signal arrives, and an error leaves only the rest for a later write."""
    write = sys.stdout.buffer.write
    while data:
        del data[: write(data) or 0]
