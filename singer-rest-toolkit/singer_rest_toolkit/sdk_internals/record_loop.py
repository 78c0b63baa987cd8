"""The record loop: RECORD messages written straight into the writer's block (the SDK's own
loop for what it is not written for), and a parsed page held once."""

from __future__ import annotations

import copy
import functools
import warnings
from collections.abc import Callable, Generator, Sequence
from typing import TYPE_CHECKING, Any

import requests
from singer_sdk import Stream
from singer_sdk.helpers._compat import SingerSDKDeprecationWarning
from singer_sdk.mapper import SameRecordTransform, StreamMap
from typing_extensions import override

from singer_rest_toolkit.sdk_internals.state import record_bookmarks
from singer_rest_toolkit.writer import BufferedWriter

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class FastRecordMessages(Stream):
    """RECORD messages without the SDK's per-record walk and objects when nothing needs them.

    Even when the catalog deselects no property, ``Stream._generate_record_messages`` copies
    and walks every record to prune nothing, conforms it again, and builds, serializes and
    writes a message object per record. Here each record's message goes straight into the
    writer's block, and what only some streams need (partitions, child streams, per-record
    bookmarks) is decided once per sync; any other sync takes the SDK's own path."""

    schema_written = False

    @override
    def _write_schema_message(self) -> None:
        """The SCHEMA once per sync, not again for each parent record of a child stream (a
        target flushes every buffer it holds at each one)."""
        if not self.schema_written:
            self.schema_written = True
            super()._write_schema_message()

    def syncs_children(self) -> bool:
        """False when no record has a child context to sync: ``_process_record`` is skipped."""
        return bool(self.child_streams)

    def start_records(self) -> None:
        """As each sync (of the stream or a context) starts: post_process decides again."""

    @override
    def _sync_records(
        self, context: Context | None = None, *, write_messages: bool = True
    ) -> Generator[dict[str, Any], Any, Any]:
        self.start_records()
        writer = self._tap.message_writer
        if (
            write_messages
            and self.selected
            and self.ABORT_AT_RECORD_COUNT is None
            and isinstance(writer, BufferedWriter)
            and all(self.mask.values())  # a missing breadcrumb takes its parent's value
        ):
            records = self._write_records(context, writer)
        else:
            records = super()._sync_records(context, write_messages=write_messages)
        try:
            yield from records
        finally:
            if isinstance(writer, BufferedWriter):
                writer.write_block()

    def _write_records(
        self, context: Context | None, writer: BufferedWriter
    ) -> Generator[dict[str, Any], Any, Any]:
        """``Stream._sync_records`` of a selected stream writing messages, in its order."""
        record_counter = self.get_record_counter()
        record_index = 0
        context_list = [context] if context is not None else self.partitions
        maps = [
            (
                None if _is_identity(stream_map) else stream_map.transform,
                writer.record_writer(stream_map.stream_alias, self._stream_version),
            )
            for stream_map in self.stream_maps
        ]
        # The default map returns the record itself: no loop over maps per record.
        one = len(maps) == 1 and maps[0][0] is None
        write = maps[0][1] if one else functools.partial(_write_mapped, maps)
        state_manager, bookmarks = self.state_manager, record_bookmarks(self)
        state_every, post_process = self.STATE_MSG_FREQUENCY, self.post_process
        with record_counter, self.get_sync_timer() as timer:
            try:
                for context_element in context_list or [{}]:
                    record_counter.with_context(context_element)
                    timer.with_context(context_element)
                    current_context = context_element or None
                    state_partition_context = self._get_state_partition_context(current_context)
                    self._write_starting_replication_value(current_context)
                    child_context = None if current_context is None else copy.copy(current_context)
                    process = bool(state_partition_context) or self.syncs_children()
                    increment = None if bookmarks is None else bookmarks(current_context)
                    for record_result in self.get_records(current_context):
                        if isinstance(record_result, tuple):  # deprecated by the SDK, honoured
                            warnings.warn(
                                "Yielding a tuple of (record, child_context) is deprecated",
                                SingerSDKDeprecationWarning,
                                stacklevel=2,
                            )
                            raw, child_context = record_result
                        else:
                            raw = record_result
                        record = post_process(raw, current_context)
                        if record is None:
                            continue
                        if process:
                            self._process_record(
                                record,
                                child_context=child_context,
                                partition_context=state_partition_context,
                            )
                        write(record)
                        state_manager.is_flushed = False
                        if increment is not None:
                            increment(record)
                        record_index += 1
                        if record_index % state_every == 0:
                            self._write_state_message()
                        if record_index % COUNT_EVERY == 0:  # the counter reads the clock
                            record_counter.increment(COUNT_EVERY)
                        yield record
                    if current_context == state_partition_context:
                        self._finalize_state(self.get_context_state(current_context))
            finally:
                if record_index % COUNT_EVERY:
                    record_counter.increment(record_index % COUNT_EVERY)
        if not context:
            self._finalize_state(self.stream_state)
        self._write_state_message()


COUNT_EVERY = 100
"""Records added to the SDK's record counter at once (its total stays exact)."""


def _write_mapped(
    maps: Sequence[tuple[Callable[[dict[str, Any]], Any] | None, Callable[[dict[str, Any]], None]]],
    record: dict[str, Any],
) -> None:
    """The record through each stream map (an alias, a transform, a filter), in order."""
    for transform, write in maps:
        mapped = record if transform is None else transform(record)
        if mapped is not None:
            write(mapped)


def _is_identity(stream_map: StreamMap) -> bool:
    """True for the SDK's default map when it flattens nothing: it returns the record itself."""
    return type(stream_map) is SameRecordTransform and not (
        stream_map.flattening_options and stream_map.flattening_enabled
    )


def forget_body(response: requests.Response) -> None:
    """Drop requests' copy of a parsed body: the SDK holds the response until the next page
    arrives, and a large page would otherwise stay alive twice."""
    response._content = b""
