"""The base streams: hosts, auth, paging, pacing, retries, errors and date windows."""

from __future__ import annotations

import abc
from collections.abc import Callable, Generator, Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from email.utils import parsedate_to_datetime
from functools import cached_property
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlparse

import backoff
import requests
from singer_sdk import RESTStream
from singer_sdk import singerlib as singer
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.helpers._typing import _warn_unmapped_properties
from singer_sdk.helpers._util import utc_now
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.pagination import BaseAPIPaginator
from singer_sdk.streams.rest import HTTPRequest, PageContext

from tap_agyletime.auth import AgyleTimeAuthenticator
from tap_agyletime.conformance import ObjectConformer, compile_conformer
from tap_agyletime.responses import envelope, next_page_token, record_list, vendor_message

if TYPE_CHECKING:
    from backoff.types import Details
    from singer_sdk.helpers.types import Context

    from tap_agyletime.pacing import Pacer
    from tap_agyletime.tap import TapAgyleTime

TENANT = "tenant"
REGIONAL = "regional"
MAX_BACKOFF_S = 60.0
MAX_RETRY_AFTER_S = 300.0
"""A longer ``Retry-After`` is cut to this, so one answer cannot stall a run for hours."""


def retry_after_seconds(exc: Exception) -> float | None:
    """The ``Retry-After`` of the response behind ``exc`` (seconds or an HTTP date)."""
    response = getattr(exc, "response", None)
    value = response.headers.get("Retry-After") if response is not None else None
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def is_unauthorised(exc: Exception) -> bool:
    """True if ``exc`` is a retry after a 401 (the token is renewed at once, no wait)."""
    response = getattr(exc, "response", None)
    return response is not None and response.status_code == HTTPStatus.UNAUTHORIZED


class NextPageTokenPaginator(BaseAPIPaginator[str | None]):
    """``nextPageToken`` paging: stop when it is absent or empty, follow it past empty pages.

    A token the API already sent during this listing means a loop: stop the stream rather
    than read pages twice or forever.
    """

    def __init__(self, stream_name: str) -> None:
        super().__init__(None)
        self._stream_name = stream_name
        self._seen: set[str] = set()

    def get_next(self, response: requests.Response) -> str | None:
        """The next token, or None at the end."""
        token = next_page_token(envelope(response))
        if token is not None:
            if token in self._seen:
                msg = (
                    f"{self._stream_name}: the API sent the same nextPageToken twice for "
                    f"GET {urlparse(response.url).path}; stopping instead of reading pages again"
                )
                raise FatalAPIError(msg)
            self._seen.add(token)
        return token

    def continue_if_empty(self, response: requests.Response) -> bool:
        """An empty page that still has a next token is not the end."""
        return next_page_token(envelope(response)) is not None


class AgyleTimeStream(RESTStream[str | None], abc.ABC):
    """A GET listing on the tenant or the regional host, in the JSend envelope."""

    host: ClassVar[str] = TENANT
    """``TENANT`` (``{tenant_url}``, paths start after ``/api``) or ``REGIONAL``."""
    records_key: ClassVar[str | None] = None
    """Key of the record list when ``data`` is an object (else: its only list)."""
    retry_base_delay_s: ClassVar[float] = 1.0
    """First backoff wait when the API sends no Retry-After (doubles, with jitter)."""
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    """Records are conformed in :meth:`post_process` instead, by the SDK's recursive rules
    compiled once per schema (tap_agyletime.conformance): the SDK's per-record schema walk
    was the largest cost per record."""

    def __init__(self, tap: TapAgyleTime) -> None:
        super().__init__(tap=tap)
        self._agyletime_tap = tap  # shared limiter, token and URLs, read when first needed

    @property
    def _pacer(self) -> Pacer:
        return self._agyletime_tap.pacer

    # --- request ----------------------------------------------------------------------------
    @property
    def url_base(self) -> str:
        """The tenant URL (with ``/api``) or the regional URL."""
        urls = self._agyletime_tap.urls
        return urls.tenant if self.host == TENANT else urls.regional

    @property
    def authenticator(self) -> AgyleTimeAuthenticator:
        """The tap's one token holder."""
        return self._agyletime_tap.token_authenticator

    @property
    def timeout(self) -> int:
        """Seconds to wait for a response."""
        return int(self.config.get("request_timeout", 60))

    def query_filters(self, context: Context | None) -> dict[str, Any]:
        """Filters of the listing, sent again on every page."""
        return {}

    def get_http_request(self, *, page: PageContext[str | None]) -> HTTPRequest:
        """The listing's filters, ``pageLimit`` and the page token."""
        request = super().get_http_request(page=page)
        request.params = {
            **self.query_filters(page.stream_context),
            "pageLimit": self.config.get("page_size", 1000),
            "nextPageToken": page.next_page_token,
        }
        return request

    def build_prepared_request(self, *args: Any, **kwargs: Any) -> requests.PreparedRequest:
        """Prepare without auth: the token is added when sending, inside the retry loop."""
        request = requests.Request(*args, **kwargs)
        request.headers.setdefault("User-Agent", self.user_agent)
        return self.requests_session.prepare_request(request)

    def get_new_paginator(self) -> NextPageTokenPaginator:
        """A fresh ``nextPageToken`` paginator per listing (and per date window)."""
        return NextPageTokenPaginator(self.name)

    # --- pacing and retries -------------------------------------------------------------------
    def request_decorator(
        self, func: Callable[[requests.PreparedRequest, Context | None], requests.Response]
    ) -> Callable[[requests.PreparedRequest, Context | None], requests.Response]:
        """Every attempt (retries too) waits for the tap-wide rate limiter first."""

        def paced(request: requests.PreparedRequest, context: Context | None) -> requests.Response:
            self._pacer.wait()
            return func(request, context)

        decorated: Callable[[requests.PreparedRequest, Context | None], requests.Response]
        decorated = super().request_decorator(paced)
        return decorated

    def backoff_max_tries(self) -> int:
        """Tries in all, ``max_retries`` (default 8)."""
        return int(self.config.get("max_retries", 8))

    def backoff_jitter(self, value: float) -> float:
        """No extra jitter: waits are jittered below, and Retry-After is kept exact."""
        return value

    def backoff_wait_generator(self) -> Generator[float, None, None]:
        """Retry-After when sent; no wait after a 401; else exponential with full jitter."""
        delays = backoff.expo(base=2, factor=self.retry_base_delay_s, max_value=MAX_BACKOFF_S)
        next(delays)  # python-backoff generators start with a priming 0

        def wait_for(exc: Exception) -> float:
            after = retry_after_seconds(exc)
            if after is not None:
                return after
            if is_unauthorised(exc):
                return 0.0
            return backoff.full_jitter(next(delays))

        return self.backoff_runtime(value=wait_for)

    def backoff_handler(self, details: Details) -> None:
        """One WARNING line per retry: stream, cause, wait and attempt (never a header)."""
        exc = details.get("exception")
        response = getattr(exc, "response", None)
        if response is not None:
            cause = f"HTTP {response.status_code} from GET {urlparse(response.url).path}"
            if response.request is not None and response.request.method == "POST":
                cause = f"HTTP {response.status_code} from the token endpoint"
        else:
            cause = type(exc).__name__
        action = (
            "renewing the access token and retrying" if exc and is_unauthorised(exc) else "retrying"
        )
        self.logger.warning(
            "%s: %s; %s in %.1f s (attempt %d of %d)",
            self.name,
            cause,
            action,
            details.get("wait") or 0.0,
            details["tries"],
            self.backoff_max_tries(),
        )

    # --- records ------------------------------------------------------------------------------
    @cached_property
    def _conform(self) -> ObjectConformer:
        """The conformer of the schema the SDK would conform to (the catalog's, if given)."""
        return compile_conformer(self.effective_schema)

    def post_process(self, row: dict[str, Any], context: Context | None = None) -> dict[str, Any]:
        """Conform types and drop undeclared keys, exactly as the SDK's RECURSIVE level does."""
        unmapped: list[str] = []
        record = self._conform(row, unmapped)
        if unmapped:
            _warn_unmapped_properties(self.name, tuple(unmapped), self.logger)
        return record

    @cached_property
    def _selects_every_property(self) -> bool:
        """True unless the catalog deselects a property (the SDK then prunes nothing)."""
        return all(self.mask.values())

    def _generate_record_messages(
        self, record: dict[str, Any]
    ) -> Generator[singer.RecordMessage, None, None]:
        """The SDK's RECORD messages without two per-record costs that change nothing here.

        When the catalog deselects no property, the SDK's pruning still copies and walks
        every record to remove nothing; and its conformance is a no-op (post_process
        conformed). Any catalog that deselects a property takes the SDK's own path.
        """
        if not self._selects_every_property:
            yield from super()._generate_record_messages(record)
            return
        for stream_map in self.stream_maps:
            mapped_record = stream_map.transform(record)
            if mapped_record is not None:
                yield singer.RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped_record,
                    version=self._stream_version,
                    time_extracted=utc_now(),
                )

    def generate_child_contexts(
        self, record: dict[str, Any], context: Context | None
    ) -> Iterable[Context | None]:
        """None: these streams have no children (the SDK would copy every record for them)."""
        return ()

    # --- responses ----------------------------------------------------------------------------
    def error_line(self, response: requests.Response) -> str:
        """``stream: HTTP status from GET /path: vendor message (code X)`` (no query string)."""
        path = urlparse(response.url).path
        return (
            f"{self.name}: HTTP {response.status_code} from GET {path}: {vendor_message(response)}"
        )

    def validate_response(self, response: requests.Response) -> None:
        """Sort a response into success, retry (429, 5xx, bad body, first 401) or stop."""
        status = response.status_code
        if status == HTTPStatus.UNAUTHORIZED:
            if self.authenticator.forget_rejected_token():
                raise RetriableAPIError(self.error_line(response), response)
            msg = f"{self.error_line(response)}; a freshly issued token was refused too"
            raise FatalAPIError(msg)
        if status == HTTPStatus.TOO_MANY_REQUESTS or status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            raise RetriableAPIError(self.error_line(response), response)
        if status in (HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND):
            msg = (
                f"{self.error_line(response)}. This tenant cannot use this endpoint (or "
                f"tenant_url/regional_url is wrong): deselect the '{self.name}' stream"
            )
            raise FatalAPIError(msg)
        if status >= HTTPStatus.BAD_REQUEST:
            raise FatalAPIError(self.error_line(response))
        try:
            body = envelope(response)
        except ValueError:
            msg = f"{self.name}: HTTP {status} from GET {urlparse(response.url).path} is not JSON"
            raise RetriableAPIError(msg, response) from None
        if body.get("status") in ("error", "fail"):
            raise FatalAPIError(self.error_line(response))
        if "data" not in body:
            msg = f"{self.name}: the response to GET {urlparse(response.url).path} has no data"
            raise RetriableAPIError(msg, response)
        self.authenticator.token_accepted()

    def parse_response(self, response: requests.Response) -> Iterable[dict[str, Any]]:
        """The records of ``data`` (a list, or an object holding one)."""
        try:
            return record_list(envelope(response)["data"], self.records_key)
        except ValueError as exc:
            msg = f"{self.name}: unexpected response to GET {urlparse(response.url).path}: {exc}"
            raise FatalAPIError(msg) from None


def as_utc(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime (naive means UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_instant(value: str) -> datetime:
    """An ISO-8601 date or date-time as an aware UTC datetime."""
    return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))


def iso_z(value: datetime) -> str:
    """``2007-11-06T16:34:41.000Z``, the API's date-time format."""
    return as_utc(value).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def windows(start: datetime, end: datetime, size: timedelta) -> Iterator[tuple[datetime, datetime]]:
    """Consecutive half-open windows of ``size`` covering ``[start, end)``."""
    while start < end:
        stop = min(start + size, end)
        yield start, stop
        start = stop


class DateWindowStream(AgyleTimeStream, abc.ABC):
    """A date-ranged listing read in windows from the bookmark (minus the lookback) to now.

    The bookmark is the end of the last completed window: a window's records are written
    before the bookmark moves past them, so an interrupted run resumed from its last STATE
    loses nothing. Each run starts ``lookback_days`` before the bookmark to pick up data the
    vendor changes after the fact.
    """

    window_params: ClassVar[tuple[str, str]] = ("startTime", "endTime")
    """Query parameters that carry a window's start and end."""
    window_days: ClassVar[int] = 92
    align_to_days: ClassVar[bool] = False
    """Metrics are per day: windows start at midnight UTC."""
    is_sorted = True  # the bookmark only ever moves to a later completed window's end

    def _increment_stream_state(
        self, latest_record: dict[str, Any], *, context: Context | None = None
    ) -> None:
        """Records do not move the bookmark; completed windows do (see :meth:`get_records`)."""

    def record_time(self, record: dict[str, Any]) -> datetime | None:
        """When a record falls, to keep only the window's own records (see README)."""
        value = record.get(self.replication_key or "")
        try:
            return parse_instant(value) if isinstance(value, str) and value else None
        except ValueError:
            return None

    def sync_range(self, context: Context | None) -> tuple[datetime, datetime, datetime | None]:
        """(start, end, bookmark): from the bookmark minus the lookback, or start_date, to now."""
        now = datetime.now(UTC)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # the API's precision
        lookback = timedelta(days=int(self.config.get("lookback_days", 14)))
        configured = self.config.get("start_date")
        start_date = parse_instant(configured) if configured else None
        value = self.get_starting_replication_key_value(context)
        bookmark = parse_instant(value) if value and value != configured else None
        if bookmark is not None:
            start = bookmark - lookback
        elif start_date is not None:
            start = start_date
        else:
            start = now - lookback
        if start_date is not None:
            start = max(start, start_date)
        if self.align_to_days:
            start = datetime.combine(start.date(), time(), tzinfo=UTC)
        return start, now, bookmark

    def query_filters(self, context: Context | None) -> dict[str, Any]:
        """The window (from the request context) in the endpoint's parameter names."""
        if not context or "window_start" not in context:
            msg = f"{self.name}: a date-ranged request needs a window"
            raise ValueError(msg)
        start_param, end_param = self.window_params
        return {start_param: context["window_start"], end_param: context["window_end"]}

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Each window's records, then the window's end as the new bookmark."""
        start, end, bookmark = self.sync_range(context)
        for window_start, window_end in windows(start, end, timedelta(days=self.window_days)):
            window = {"window_start": iso_z(window_start), "window_end": iso_z(window_end)}
            for record in self.request_records({**(context or {}), **window}):
                moment = self.record_time(record)
                # Keep only the window's records, in case the API ignores the end filter.
                if moment is None or window_start <= moment < window_end:
                    yield record
            if bookmark is None or window_end > bookmark:
                self._save_bookmark(context, window_end)
                bookmark = window_end

    def _save_bookmark(self, context: Context | None, window_end: datetime) -> None:
        """Move the bookmark to ``window_end`` and emit STATE at once."""
        assert self.replication_key is not None
        self.state_manager.increment_state(
            {self.replication_key: window_end.isoformat()},
            context=context,
            replication_key=self.replication_key,
        )
        self.finalize_state_progress_markers(self.get_context_state(context))


class MetricsStream(DateWindowStream, abc.ABC):
    """Per-day metrics: ``data.dates[].users[].channels[]`` flattened to one row per channel."""

    align_to_days = True
    replication_key = "date"
    primary_keys = ("userId", "date", "channel")
    window_days: ClassVar[int] = 7
    """One response holds every user x day of its window: a week keeps it (and memory) small."""

    def query_filters(self, context: Context | None) -> dict[str, Any]:
        """The window plus the grouping the nesting relies on."""
        return {**super().query_filters(context), "userGrouping": "true", "dateGrouping": "true"}

    def record_time(self, record: dict[str, Any]) -> datetime | None:
        """Midnight UTC of the row's date."""
        value = record.get("date")
        try:
            day = date.fromisoformat(str(value)[:10])
        except ValueError:
            return None
        return datetime.combine(day, time(), tzinfo=UTC)

    def parse_response(self, response: requests.Response) -> Iterable[dict[str, Any]]:
        """One row per (date, user, channel); ``data`` may also be the list of dates."""
        data = envelope(response)["data"]
        dates = data.get("dates") if isinstance(data, dict) else data
        if dates is None and (data is None or not any(v is not None for v in data.values())):
            return  # a window without activity: data null, {} or {"dates": null}
        if not isinstance(dates, list):
            msg = f"{self.name}: unexpected response to GET {urlparse(response.url).path}: no dates"
            raise FatalAPIError(msg)
        for entry in dates:
            for user in entry.get("users") or []:
                for channel in user.get("channels") or []:
                    yield self.metric_row(str(entry.get("date")), user, channel)

    @abc.abstractmethod
    def metric_row(self, day: str, user: dict[str, Any], channel: dict[str, Any]) -> dict[str, Any]:
        """The row of one user's channel on ``day``."""
