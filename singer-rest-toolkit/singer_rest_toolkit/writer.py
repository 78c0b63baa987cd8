"""The SDK's msgspec writer, flushing at each non-RECORD message instead of each message."""

from __future__ import annotations

import sys

from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib import Message, RecordMessage
from typing_extensions import override


class BufferedWriter(MsgSpecWriter):
    """RECORDs leave in the buffer's blocks (one write system call per RECORD was a large
    share of a small-record sync); SCHEMA, STATE and the other messages still flush at
    once, so a target sees every record before the STATE that covers it, and a run killed
    mid-way loses only records no STATE has committed (they are read again)."""

    @override
    def write_message(self, message: Message) -> None:
        sys.stdout.buffer.write(self.format_message(message))
        if not isinstance(message, RecordMessage):
            sys.stdout.flush()
