"""Stream state: per-record bookmarks as the SDK moves them, date windows' bookmarks, and a
starting value worked out ahead on a copy of the state."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from singer_sdk import Stream
from singer_sdk.helpers._state import PROGRESS_MARKERS
from singer_sdk.singerlib.catalog import REPLICATION_INCREMENTAL
from singer_sdk.streams._state import StreamStateManager
from typing_extensions import override

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


Increment = Callable[[dict[str, Any]], None]


def record_bookmarks(stream: Stream) -> Callable[[Context | None], Increment] | None:
    """``Stream._increment_stream_state`` per record of a context, the SDK's usual case done
    inline: when the stream and its state manager are the SDK's own and both values are
    strings (which ``to_json_compatible`` keeps as they are), the SDK's assignment is made on
    the state dict found once per context; any other case (the first record, a non-string, a
    sorted value going back) calls the SDK. None when records do not move the bookmark (full
    table, date windows)."""
    method = type(stream)._increment_stream_state
    if (
        stream.replication_method != REPLICATION_INCREMENTAL
        or method is WindowBookmarks._increment_stream_state
    ):
        return None
    manager = stream.state_manager
    inline = (
        method is Stream._increment_stream_state
        and type(manager).increment_state is StreamStateManager.increment_state
        and bool(stream.replication_key)
    )
    key = stream.replication_key or ""
    is_sorted = manager._is_sorted and manager.state_partitioning_keys is None
    check = manager._check_sorted

    def start(context: Context | None) -> Increment:
        """The update of one context (whose state dict exists by now)."""
        if not inline:
            return lambda record: stream._increment_stream_state(record, context=context)
        state = stream.state_manager.get_context_state(context)

        def increment(record: dict[str, Any]) -> None:
            progress = state if is_sorted else state.get(PROGRESS_MARKERS)
            if progress is not None:
                value = record.get(key)
                old = progress.get("replication_key_value")
                if type(value) is str and type(old) is str:
                    if not check or value >= old:
                        progress["replication_key"] = key
                        progress["replication_key_value"] = value
                        return
                    if not is_sorted:
                        return  # an unsorted stream keeps the larger value
            stream._increment_stream_state(record, context=context)

        return increment

    return start


class WindowBookmarks(Stream):
    """Records do not move the bookmark: a completed date window does (see windows.py)."""

    @override
    def _increment_stream_state(
        self, latest_record: dict[str, Any], *, context: Context | None = None
    ) -> None:
        pass


_QUIET = logging.getLogger("singer_rest_toolkit.starting_value")
_QUIET.disabled = True


def starting_replication_value(stream: Stream) -> Any:
    """The starting replication value the SDK will write as ``stream``'s sync begins, worked
    out now by the SDK's own code on a copy of the state (its log line left to that turn)."""
    bookmarks = stream.tap_state.get("bookmarks") or {}
    manager = StreamStateManager(
        tap_name=stream.tap_name,
        stream_name=stream.name,
        tap_state={"bookmarks": {stream.name: copy.deepcopy(bookmarks.get(stream.name, {}))}},
        state_partitioning_keys=stream.state_partitioning_keys,
    )
    manager._logger = _QUIET
    manager.write_starting_replication_value(
        context=None,
        replication_method=stream.replication_method,
        replication_key=stream.replication_key,
        config=dict(stream.config),
        compare_start_date_fn=stream.compare_start_date,
    )
    return manager.get_starting_replication_value(None, stream.replication_method)
