"""A stream's records after its pages: the parent's keys, the schema's conformance, then the
replication value's checks (past ``end_date``: dropped; not a date-time: counted)."""

from __future__ import annotations

import abc
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from singer_rest_toolkit.conform import RecordConformer
from singer_rest_toolkit.dates import as_utc, is_instant, parse_instant
from singer_rest_toolkit.sdk_internals.record_loop import FastRecordMessages

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from singer_rest_toolkit.progress import SyncProgress
    from singer_rest_toolkit.settings import Settings

RecordStep = Callable[[dict[str, Any]], dict[str, Any] | None]


def past(value: Any, end: datetime) -> bool:
    """True when ``value`` is an instant later than ``end`` (kept if unreadable)."""
    if isinstance(value, datetime):
        return as_utc(value) > end
    try:
        return isinstance(value, str) and bool(value) and parse_instant(value) > end
    except ValueError:
        return False


class ConformedRecords(FastRecordMessages, abc.ABC):
    """``post_process``: a child record carries its parent's keys, then is conformed and its
    replication value checked, as decided at each sync's first record."""

    _progress: SyncProgress
    _conformer: RecordConformer | None = None
    _conform: RecordStep | None = None
    not_instants = 0  # replication values not a date-time, though the schema says so
    _not_instant: Any = None

    @property
    @abc.abstractmethod
    def settings(self) -> Settings:
        """The tap's typed settings."""

    @override
    def post_process(
        self, row: dict[str, Any], context: Context | None = None
    ) -> dict[str, Any] | None:
        self._progress.records += 1
        if context and self.parent_stream_type is not None:
            for key, value in context.items():
                row.setdefault(key, value)
        conform = self._conform
        if conform is None:
            conform = self._conform = self._record_conformance()
        return conform(row)

    @override
    def start_records(self) -> None:
        self._conform = None  # selection or schema may have changed since the last sync

    def _record_conformance(self) -> RecordStep:
        """The schema's conformer, then the replication value's checks (none when not written)."""
        if not self.selected:
            return lambda record: record
        schema = self.effective_schema
        conformer = self._conformer
        if conformer is None or conformer.schema is not schema:
            conformer = self._conformer = RecordConformer(self.name, schema, self.logger)
        key, end = self.replication_key, self.settings.end_date
        if key is None or not self.is_timestamp_replication_key:
            return conformer

        def checked(row: dict[str, Any]) -> dict[str, Any] | None:
            value = row.get(key)
            if value is not None and not is_instant(value):
                self.not_instants += 1
                self._not_instant = value
            record = conformer(row)
            if end is not None and record is not None and past(record.get(key), end):
                return None  # past end_date: neither written nor in the bookmark
            return record

        return checked

    def warn_not_instants(self) -> None:
        """One warning, with a count, of replication values that are not a date-time: the
        bookmark cannot be trusted to move as they say."""
        if self.not_instants:
            self.logger.warning(
                "%s: %s record(s) had a %s that is not a date-time (e.g. %s); they were "
                "written as sent, but the bookmark may not reflect them",
                self.name,
                f"{self.not_instants:,}",
                self.replication_key,
                repr(self._not_instant)[:60],
            )
