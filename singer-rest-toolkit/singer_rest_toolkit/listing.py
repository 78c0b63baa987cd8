"""The stream's side of the scheduler: which listings it reads and from where, what can be
fetched before its turn; a stream this account cannot read is skipped in its turn, and an
error the CLI reports in one line is not logged by the SDK as well."""

from __future__ import annotations

import abc
import logging
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk.exceptions import FatalAPIError
from singer_sdk.singerlib.catalog import REPLICATION_INCREMENTAL
from typing_extensions import override

from singer_rest_toolkit.dates import parse_instant, utc_now
from singer_rest_toolkit.exchange import ONE_LINE_ERRORS, UnavailableStreamError
from singer_rest_toolkit.pacing import MAIN_API
from singer_rest_toolkit.scheduler import Plan
from singer_rest_toolkit.sdk_internals.record_loop import FastRecordMessages
from singer_rest_toolkit.sdk_internals.state import starting_replication_value

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from singer_rest_toolkit.pagination import PageSize
    from singer_rest_toolkit.scheduler import Scheduler
    from singer_rest_toolkit.settings import Settings


class ScheduledStream(FastRecordMessages, abc.ABC):
    """A stream whose listings come from its tap's :class:`~.scheduler.Scheduler`."""

    api_family: ClassVar[str] = MAIN_API
    """The API family of the endpoint: its pace and worker pool (``RestTap.api_families``)."""
    independent_requests: ClassVar[bool] = False
    """True when the listing's requests do not wait for each other (date windows), False
    for a chain of pages, each asked for with the cursor of the one before."""
    page_size: PageSize
    unavailable: str | None = None
    """The error line of a stream skipped as unavailable (see :meth:`get_records`)."""
    _delivered = False
    """True once a listing of this stream was read, in the order of a sequential run: a
    later 403/404 is an error, not a stream this account cannot read."""
    _children_to_sync: list[ScheduledStream] | None = None
    """Set by each :meth:`get_records` call; None until then (ask the SDK)."""

    @override
    def log(self, message: str, *args: Any, level: int = logging.INFO, **kwargs: Any) -> None:
        """The SDK's "An unhandled error occurred while syncing" line is left out for an
        error the CLI reports in its own one line."""
        if level >= logging.ERROR and isinstance(sys.exc_info()[1], ONE_LINE_ERRORS):
            return
        super().log(message, *args, level=level, **kwargs)

    @property
    @abc.abstractmethod
    def settings(self) -> Settings:
        """The tap's typed settings."""

    @property
    @abc.abstractmethod
    def scheduler(self) -> Scheduler:
        """The tap's scheduler."""

    @property
    def page_size_now(self) -> int:
        """The page size the stream asks for now."""
        return self.page_size.current

    def children_to_sync(self) -> list[ScheduledStream]:
        """Child streams the SDK will sync for each record of this stream."""
        return [
            child
            for child in self.child_streams
            if isinstance(child, ScheduledStream)
            and child.unavailable is None
            and (child.selected or child.has_selected_descendents)
        ]

    @override
    def syncs_children(self) -> bool:
        """:meth:`generate_child_contexts` yields nothing when no child stream syncs."""
        return bool(self.children_to_sync())

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """The listing's records, from the scheduler (fetched ahead when they were); none
        for a stream this account cannot read (its endpoint answered 403/404 to the first
        request), which is reported when the sync ends."""
        if self.unavailable is not None:
            return
        self._children_to_sync = self.children_to_sync()
        top_level = self.parent_stream_type is None
        records = self.scheduler.listing(self, context, top_level=top_level)
        try:
            for record in records:
                self._delivered = True
                yield record
                yield from records  # the rest without a step of this loop each
        except UnavailableStreamError as exc:
            if self._delivered:  # the endpoint answered before: not an unavailable stream
                raise FatalAPIError(str(exc)) from None
            if not self.settings.skip_unavailable_streams:
                raise
            self.unavailable = str(exc)
            self.logger.error("%s; skipping the stream, the others go on", exc)
        else:
            self._delivered = True

    def plan_ahead(self) -> Plan | None:
        """The listing to fetch before the stream's sync begins: only one whose fetch changes
        no state (one context, a known starting value not later than now)."""
        if self.partitions is not None:
            return None
        starting = self._starting_value_now()
        return None if starting is None else Plan(starting[0], self.fetch_records)

    def plan_windows(self, plan: Plan) -> Plan | None:
        """No windows: the listing is fetched whole."""
        return plan

    def _starting_value_now(self) -> tuple[Any] | None:
        """The starting replication value the SDK will write (in a tuple: it may be None),
        worked out now; None when there is none to trust yet."""
        if self.replication_method != REPLICATION_INCREMENTAL:
            return (None,)
        try:
            value = starting_replication_value(self)
            if value and parse_instant(str(value)) > utc_now():
                return None  # a bookmark from the future: warned about in the stream's turn
        except Exception:  # raised again in the stream's own turn
            return None
        return (value,)

    @override
    def get_starting_replication_key_value(self, context: Context | None) -> Any | None:
        """The value worked out before a fetch ahead (the SDK writes the same at the sync's
        start), else the SDK's."""
        plan = self.scheduler.plan(self)
        if plan is not None and not context:
            return plan.starting_value
        return super().get_starting_replication_key_value(context)

    @abc.abstractmethod
    def fetch_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """The listing's records from the API (a date-windowed stream reads its windows)."""

    @override
    def generate_child_contexts(
        self, record: dict[str, Any], context: Context | None
    ) -> Iterable[Context | None]:
        """No context when no child stream syncs: the SDK would otherwise copy the record's
        context and ask every child whether it is selected, for every record."""
        if self._children_to_sync is None or self._children_to_sync:
            yield from super().generate_child_contexts(record, context)
