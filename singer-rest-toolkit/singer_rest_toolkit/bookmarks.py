"""A stream's bookmark as read from the state: never from the future, always a date-time."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from singer_sdk import Stream

from singer_rest_toolkit.dates import parse_instant

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class BadBookmarkError(Exception):
    """The state holds a bookmark that is not a date-time (reported in one line)."""


def bad_bookmark(stream: Stream, value: Any) -> BadBookmarkError:
    """The one line for a bookmark that is not a date-time, naming the stream and the state."""
    return BadBookmarkError(
        f"{stream.name}: the bookmark {stream.replication_key!r} in the state is not a "
        f"date-time: {value!r}; fix or remove this stream's entry in the state"
    )


def bookmark_of(stream: Stream, context: Context | None, now: datetime) -> datetime | None:
    """The stream's bookmark in the state, or None on a first run. One later than ``now``
    (clock skew, a hand-edited or foreign state) would skip everything up to it: it is read
    as ``now``, with a warning; one that is not a date-time raises BadBookmarkError."""
    value = stream.get_starting_replication_key_value(context)
    if not value or value == stream.config.get("start_date"):  # the SDK falls back to it
        return None
    try:
        bookmark = parse_instant(str(value))
    except ValueError:
        raise bad_bookmark(stream, value) from None
    if bookmark > now:
        stream.logger.warning(
            "%s: the bookmark %s in the state is later than now (%s); reading as if it were now",
            stream.name,
            value,
            now.isoformat(),
        )
        # Should this run write no record, the next one starts from here, not the future.
        stream.get_context_state(context)["replication_key_value"] = now.isoformat()
        return now
    return bookmark
