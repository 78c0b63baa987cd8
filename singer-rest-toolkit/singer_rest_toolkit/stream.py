"""The base of every stream: sessions, pace, retries, one error-line format, conformance and
per-parent prefetch. A vendor's base stream adds its URL, headers, paginator and error body."""

from __future__ import annotations

import abc
import logging
import sys
import threading
from collections.abc import Callable, Generator, Iterable
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

import requests
from singer_sdk import RESTStream
from singer_sdk.exceptions import FatalAPIError
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.singerlib.catalog import REPLICATION_INCREMENTAL
from typing_extensions import override

from singer_rest_toolkit.bookmarks import bad_bookmark
from singer_rest_toolkit.conform import RecordConformer
from singer_rest_toolkit.dates import parse_instant, utc_now
from singer_rest_toolkit.exchange import (
    ONE_LINE_ERRORS,
    Exchange,
    Send,
    UnavailableStreamError,
    request_label,
)
from singer_rest_toolkit.pacing import MAIN_API
from singer_rest_toolkit.pagination import PageSize
from singer_rest_toolkit.responses import body_excerpt
from singer_rest_toolkit.scheduler import Plan
from singer_rest_toolkit.sdk_internals.record_loop import FastRecordMessages
from singer_rest_toolkit.sdk_internals.state import starting_replication_value

if TYPE_CHECKING:
    from backoff.types import Details
    from singer_sdk.helpers.types import Context
    from singer_sdk.streams.rest import HTTPRequest, PageContext

    from singer_rest_toolkit.auth import RenewingAuthenticator
    from singer_rest_toolkit.pacing import Pacer
    from singer_rest_toolkit.progress import SyncProgress
    from singer_rest_toolkit.scheduler import Scheduler
    from singer_rest_toolkit.settings import Settings

_TToken = TypeVar("_TToken")


class StreamHost(Protocol):
    """What a stream needs of its tap (a :class:`~singer_rest_toolkit.tap.RestTap`)."""

    default_page_size: ClassVar[int]

    @property
    def settings(self) -> Settings:
        """The typed settings."""

    @property
    def authenticator(self) -> RenewingAuthenticator:
        """The credentials every stream shares."""

    @property
    def progress(self) -> SyncProgress:
        """The sync's counters."""

    @property
    def scheduler(self) -> Scheduler:
        """The owner of every listing fetched ahead."""

    def pacer_for(self, family: str) -> Pacer:
        """The pace of ``family``."""

    def thread_session(self) -> requests.Session:
        """The calling thread's HTTP session."""


def _as_is(record: dict[str, Any]) -> dict[str, Any]:
    return record


class RestStream(FastRecordMessages, RESTStream[_TToken], abc.ABC):
    """A paced, retried GET listing of a :class:`~singer_rest_toolkit.tap.RestTap`.

    A vendor's base stream sets ``url_base``, its headers, ``get_http_request``,
    ``get_new_paginator`` and ``parse_response``, and tells :meth:`vendor_message` (the
    error body) and :meth:`check_body` (a 2xx body that cannot be right).
    """

    unavailable_hint: ClassVar[str] = "Deselect the '{name}' stream"
    """After a 403/404's error line: what to check, or how to deselect the stream."""
    retry_base_delay_s: ClassVar[float] = 1.0
    """First backoff wait when the API sends no Retry-After (doubles, with full jitter)."""
    api_family: ClassVar[str] = MAIN_API
    """The API family of the endpoint: its pace and worker pool (``RestTap.api_families``)."""
    page_size_param: ClassVar[str] = "limit"
    """The query parameter of the page size; a request without it is not paged."""
    independent_requests: ClassVar[bool] = False
    """True when the listing's requests do not wait for each other (date windows), False
    for a chain of pages, each asked for with the cursor of the one before."""
    max_page_size: ClassVar[int | None] = None
    """The largest page the endpoint is documented to accept; None when undocumented (then
    the tap's ``default_page_size`` is tried, and lowered if the API refuses or caps it)."""
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    """Records are conformed in :meth:`post_process` instead, by the SDK's rules compiled
    once per schema (conform.py)."""

    def __init__(self, tap: StreamHost) -> None:
        super().__init__(tap=tap)  # type: ignore[arg-type]
        self.rest_tap = tap
        self._progress = tap.progress
        self.max_tries: int | None = None
        """Overrides ``max_retries`` (a discovery sample needs few tries)."""
        self._conformer: RecordConformer | None = None
        self._conform: Callable[[dict[str, Any]], dict[str, Any]] | None = None
        """What post_process does to each record after the parent's keys, decided at the
        first record of each sync (see :meth:`start_records`)."""
        self._children_to_sync: list[RestStream[Any]] | None = None
        """Set by each :meth:`get_records` call; None until then (ask the SDK)."""
        self._delivered = False
        """True once a listing of this stream was read, in the order of a sequential run: a
        later 403/404 is an error, not a stream this account cannot read."""
        self.unavailable: str | None = None
        """The error line of a stream skipped as unavailable (see :meth:`get_records`)."""
        first = tap.settings.first_page_size(self.max_page_size, tap.default_page_size)
        self.page_size = PageSize(self.name, self.page_size_param, first, self.logger)
        """What ``page_size_param`` asks for: lowered when the API refuses or caps it."""
        self._building = threading.local()
        """The page whose request the calling thread builds (see :meth:`request_again`)."""

    @property
    def settings(self) -> Settings:
        """The tap's typed settings."""
        return self.rest_tap.settings

    @override
    def log(self, message: str, *args: Any, level: int = logging.INFO, **kwargs: Any) -> None:
        """The SDK's "An unhandled error occurred while syncing" line is left out for an
        error the CLI reports in its own one line."""
        if level >= logging.ERROR and isinstance(sys.exc_info()[1], ONE_LINE_ERRORS):
            return
        super().log(message, *args, level=level, **kwargs)

    # --- request ----------------------------------------------------------------------------
    @property
    @override
    def authenticator(self) -> RenewingAuthenticator:
        return self.rest_tap.authenticator

    @property
    @override
    def requests_session(self) -> requests.Session:
        return self.rest_tap.thread_session()  # worker threads must not share one

    @property
    @override
    def timeout(self) -> int:
        return self.settings.request_timeout

    @override
    def build_prepared_request(self, *args: Any, **kwargs: Any) -> requests.PreparedRequest:
        """Prepare without auth: credentials are added when sending, inside the retry loop."""
        request = requests.Request(*args, **kwargs)
        request.headers.setdefault("User-Agent", self.user_agent)
        return self.requests_session.prepare_request(request)

    # --- the exchange (exchange.py) ---------------------------------------------------------
    @cached_property
    def exchange(self) -> Exchange:
        """This stream's requests: pace, token, retries, error lines, page size."""
        tap = self.rest_tap
        return Exchange(
            self,
            authenticator=tap.authenticator,
            pacer=tap.pacer_for(self.api_family),
            page_size=self.page_size,
            progress=tap.progress,
            max_retries=self.settings.max_retries,
            logger=self.logger,
        )

    @override
    def get_http_request(self, *, page: PageContext[_TToken]) -> HTTPRequest:
        """A vendor's request of ``page``; its page size, if any, asked as it is built."""
        self._building.page = page
        self.page_size.forget()
        return super().get_http_request(page=page)

    def request_again(self) -> requests.PreparedRequest:
        """The request of the page being fetched, built again (its page size asked anew)."""
        request = self.get_http_request(page=self._building.page)
        body = {"json" if self.payload_as_json else "data": request.data}
        return self.build_prepared_request(
            method=request.method,
            url=request.url,
            params=request.encode_params(),
            headers=request.headers,
            **body,
        )

    @override
    def request_decorator(self, func: Send) -> Send:
        retried: Send = super().request_decorator(self.exchange.paced(func))
        return self.exchange.negotiated(retried)

    @override
    def backoff_max_tries(self) -> int:
        return self.exchange.max_tries()

    @override
    def backoff_jitter(self, value: float) -> float:
        """No extra jitter: waits are jittered by the exchange, a Retry-After kept exact."""
        return value

    @override
    def backoff_wait_generator(self) -> Generator[float, None, None]:
        return self.backoff_runtime(value=self.exchange.wait_for())

    @override
    def backoff_handler(self, details: Details) -> None:
        self.exchange.retrying(details)

    @override
    def validate_response(self, response: requests.Response) -> None:
        self.exchange.check(response)

    # --- the vendor's reading of its responses ------------------------------------------------
    def request_label(self, response: requests.Response) -> str:
        """``GET /path`` of the request behind ``response`` (never its query string)."""
        return request_label(response)

    @override
    def compare_start_date(self, value: str, start_date_value: str) -> str:
        """With a start_date the SDK compares the bookmark to it before the stream reads it:
        one that is not a date-time stops the run in the same one line as without."""
        try:
            return super().compare_start_date(value, start_date_value)
        except ValueError:
            raise bad_bookmark(self, value) from None

    def query_filters(self, context: Context | None) -> dict[str, Any]:
        """Filters of the listing that depend on the context (a date window)."""
        return {}

    def vendor_message(self, response: requests.Response) -> str:
        """The vendor's error message and ids; by default an excerpt of the body."""
        return body_excerpt(response)

    def error_line(self, response: requests.Response) -> str:
        """``stream: HTTP status from GET /path: vendor message (ids)``."""
        return self.exchange.error_line(response)

    def check_body(self, response: requests.Response, body: Any) -> None:
        """Raise RetriableAPIError (a glitch worth asking again) or FatalAPIError for a 2xx
        body that cannot be right."""

    def page_fill(self, body: Any) -> tuple[int, bool] | None:
        """(records on the page, whether a next page follows) of a 2xx body; None when the
        body does not say (then nothing is learnt about the page size from it)."""
        return None

    # --- records ------------------------------------------------------------------------------
    @override
    def post_process(
        self, row: dict[str, Any], context: Context | None = None
    ) -> dict[str, Any] | None:
        """A child record carries its parent's keys; the record conformed to the schema."""
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

    def _record_conformance(self) -> Callable[[dict[str, Any]], dict[str, Any]]:
        """The conformer of the stream's schema; nothing for a stream read only for its
        children (nothing is written)."""
        if not self.selected:
            return _as_is
        schema = self.effective_schema
        conformer = self._conformer
        if conformer is None or conformer.schema is not schema:
            conformer = self._conformer = RecordConformer(self.name, schema, self.logger)
        return conformer

    # --- listings: the scheduler's (scheduler.py) ---------------------------------------------
    @property
    def page_size_now(self) -> int:
        """The page size the stream asks for now."""
        return self.page_size.current

    def children_to_sync(self) -> list[RestStream[Any]]:
        """Child streams the SDK will sync for each record of this stream."""
        return [
            child
            for child in self.child_streams
            if isinstance(child, RestStream)
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
        records = self.rest_tap.scheduler.listing(self, context, top_level=top_level)
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
        plan = self.rest_tap.scheduler.plan(self)
        if plan is not None and not context:
            return plan.starting_value
        return super().get_starting_replication_key_value(context)

    def fetch_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """The listing's records from the API (a date-windowed stream reads its windows)."""
        return self.request_records(context)

    @override
    def generate_child_contexts(
        self, record: dict[str, Any], context: Context | None
    ) -> Iterable[Context | None]:
        """No context when no child stream syncs: the SDK would otherwise copy the record's
        context and ask every child whether it is selected, for every record."""
        if self._children_to_sync is None or self._children_to_sync:
            yield from super().generate_child_contexts(record, context)
