"""The base stream: headers, auth, cursor paging, pacing, retries, errors and date windows."""

from __future__ import annotations

import abc
from collections.abc import Callable, Generator, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlparse

import backoff
import requests
from singer_sdk import RESTStream
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.helpers._util import utc_now
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.pagination import BaseAPIPaginator, SinglePagePaginator
from singer_sdk.singerlib import RecordMessage, SelectionMask
from singer_sdk.streams.rest import HTTPRequest, PageContext

from tap_amperity.conform import Conformer
from tap_amperity.responses import envelope, next_token, vendor_message

if TYPE_CHECKING:
    from backoff.types import Details
    from singer_sdk.helpers.types import Context

    from tap_amperity.auth import AmperityAuthenticator
    from tap_amperity.tap import TapAmperity

MAX_BACKOFF_S = 60.0
MAX_RETRY_AFTER_S = 300.0
"""A longer ``Retry-After`` is cut to this, so one answer cannot stall a run for hours."""
DEFAULT_PAGE_SIZE = 100
AMPERITY_API = "api_version"
PROFILE_API = "profile_api_version"
UNSTABLE_API = "unstable"


def retry_after_seconds(exc: Exception) -> float | None:
    """The ``Retry-After`` of the response behind ``exc`` (Amperity sends none; honoured if it does)."""
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


class CursorPaginator(BaseAPIPaginator[str | None]):
    """``next_token`` paging: stop when it is absent, null or empty; follow it past empty pages.

    A token the API already sent during this listing means a loop: stop the stream loudly
    rather than read pages twice or forever.
    """

    def __init__(self, stream_name: str) -> None:
        super().__init__(None)
        self._stream_name = stream_name
        self._seen: set[str] = set()

    def get_next(self, response: requests.Response) -> str | None:
        """The next token, or None at the end."""
        token = next_token(envelope(response))
        if token is not None:
            if token in self._seen:
                msg = (
                    f"{self._stream_name}: the API sent the same next_token twice for "
                    f"GET {urlparse(response.url).path}; stopping instead of reading pages again"
                )
                raise FatalAPIError(msg)
            self._seen.add(token)
        return token

    def continue_if_empty(self, response: requests.Response) -> bool:
        """An empty page that still has a next token is not the end."""
        return next_token(envelope(response)) is not None


class AmperityStream(RESTStream[str | None], abc.ABC):
    """A GET listing of the Amperity API (or the Profile API) in the ``{data, next_token}`` envelope."""

    api_version_setting: ClassVar[str] = AMPERITY_API
    """Setting holding this endpoint's ``api-version`` (or ``UNSTABLE_API``)."""
    paged: ClassVar[bool] = True
    """False for listings that take no ``limit``/``next_token`` (ingest jobs)."""
    records_jsonpath = "$.data[*]"
    retry_base_delay_s: ClassVar[float] = 1.0
    """First backoff wait (doubles, full jitter); the API sends no Retry-After."""
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    """The SDK's recursive conformance is applied by :meth:`post_process` instead: the same
    rules, with the schema read once per stream instead of once per value."""

    def __init__(self, tap: TapAmperity) -> None:
        super().__init__(tap=tap)
        self._amperity_tap = tap  # shared pacer, session and token, read when first needed
        self.max_tries: int | None = None
        """Overrides ``max_retries`` (discovery samples with few tries)."""
        self._conformer: Conformer | None = None
        self._all_selected: tuple[SelectionMask, bool] | None = None

    # --- request ----------------------------------------------------------------------------
    @property
    def url_base(self) -> str:
        """``api_url`` (default ``https://{tenant_id}.amperity.com/api``)."""
        return self._amperity_tap.api_url

    @property
    def authenticator(self) -> AmperityAuthenticator:
        """The tap's one token holder."""
        return self._amperity_tap.token_authenticator

    @property
    def requests_session(self) -> requests.Session:
        """The tap's session for this thread (one connection pool per thread)."""
        return self._amperity_tap.session

    @property
    def timeout(self) -> int:
        """Seconds to wait for a response."""
        return int(self.config.get("request_timeout", 60))

    @property
    def api_version(self) -> str:
        """The ``api-version`` this endpoint is called with."""
        if self.api_version_setting == UNSTABLE_API:
            return UNSTABLE_API
        defaults = {AMPERITY_API: "2024-04-01", PROFILE_API: "2025-07-31"}
        return str(self.config.get(self.api_version_setting) or defaults[self.api_version_setting])

    @property
    def http_headers(self) -> dict[str, Any]:
        """``Amperity-Tenant`` and ``api-version`` on every call."""
        return {
            **super().http_headers,
            "Amperity-Tenant": self.config["tenant_id"],
            "api-version": self.api_version,
        }

    def query_filters(self, context: Context | None) -> dict[str, Any]:
        """Filters of the listing, sent again on every page."""
        return {}

    def get_http_request(self, *, page: PageContext[str | None]) -> HTTPRequest:
        """The listing's filters, ``limit`` and the page token (never an empty one)."""
        request = super().get_http_request(page=page)
        params = dict(self.query_filters(page.stream_context))
        if self.paged:
            params["limit"] = self.config.get("page_size", DEFAULT_PAGE_SIZE)
            if page.next_page_token:
                params["next_token"] = page.next_page_token
        request.params = params
        return request

    def build_prepared_request(self, *args: Any, **kwargs: Any) -> requests.PreparedRequest:
        """Prepare without auth: the token is added when sending, inside the retry loop."""
        request = requests.Request(*args, **kwargs)
        request.headers.setdefault("User-Agent", self.user_agent)
        return self.requests_session.prepare_request(request)

    def get_new_paginator(self) -> BaseAPIPaginator[Any]:
        """A fresh cursor paginator per listing; one page for unpaged listings."""
        return CursorPaginator(self.name) if self.paged else SinglePagePaginator()

    # --- pacing and retries -------------------------------------------------------------------
    def request_decorator(
        self, func: Callable[[requests.PreparedRequest, Context | None], requests.Response]
    ) -> Callable[[requests.PreparedRequest, Context | None], requests.Response]:
        """Every attempt (retries too) waits for the tap-wide pace first.

        A token that needs renewing is renewed before the wait (the token request takes its
        own slot): a slot taken before a token request would be spent a whole round trip
        later, when it may no longer be free on the API's one-second window. The token is
        checked again when the request is sent, so it cannot expire during the wait.
        """

        def paced(request: requests.PreparedRequest, context: Context | None) -> requests.Response:
            self.authenticator.ensure_token()
            self._amperity_tap.pacer.wait()
            return func(request, context)

        decorated: Callable[[requests.PreparedRequest, Context | None], requests.Response]
        decorated = super().request_decorator(paced)
        return decorated

    def backoff_max_tries(self) -> int:
        """Tries in all, ``max_retries`` (default 8); fewer for discovery's sampling."""
        return self.max_tries or int(self.config.get("max_retries", 8))

    def backoff_jitter(self, value: float) -> float:
        """No extra jitter: waits are jittered below, and a Retry-After is kept exact."""
        return value

    def backoff_wait_generator(self) -> Generator[float, None, None]:
        """Retry-After if ever sent; no wait after a 401; else exponential with full jitter."""
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
            method = response.request.method if response.request is not None else "GET"
            cause = f"HTTP {response.status_code} from {method} {urlparse(response.url).path}"
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

    # --- responses ----------------------------------------------------------------------------
    def error_line(self, response: requests.Response) -> str:
        """``stream: HTTP status from GET /path: message (request_id ...)`` (no query string)."""
        path = urlparse(response.url).path
        return (
            f"{self.name}: HTTP {response.status_code} from GET {path}: {vendor_message(response)}"
        )

    def validate_response(self, response: requests.Response) -> None:
        """Sort a response into success, retry (429, 5xx, bad body, first 401) or stop."""
        self._amperity_tap.note_deprecation(response, self.path)
        status = response.status_code
        if status == HTTPStatus.UNAUTHORIZED:
            if self.authenticator.forget_rejected_token(response):
                raise RetriableAPIError(self.error_line(response), response)
            msg = f"{self.error_line(response)}; {self.authenticator.rejection_hint}"
            raise FatalAPIError(msg)
        if status == HTTPStatus.TOO_MANY_REQUESTS or status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            raise RetriableAPIError(self.error_line(response), response)
        if status in (HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND):
            msg = (
                f"{self.error_line(response)}. The API key cannot use this endpoint (or "
                f"api_url is wrong): deselect the '{self.name}' stream"
            )
            raise FatalAPIError(msg)
        if status >= HTTPStatus.BAD_REQUEST:
            raise FatalAPIError(self.error_line(response))
        try:
            body = envelope(response)
        except ValueError:
            msg = f"{self.name}: HTTP {status} from GET {urlparse(response.url).path} is not JSON"
            raise RetriableAPIError(msg, response) from None
        if not isinstance(body.get("data"), list):
            msg = f"{self.name}: the response to GET {urlparse(response.url).path} has no data list"
            raise RetriableAPIError(msg, response)
        self.authenticator.token_accepted(response)

    def parse_response(self, response: requests.Response) -> Iterable[dict[str, Any]]:
        """The records of ``data``."""
        return [item for item in envelope(response)["data"] if isinstance(item, dict)]

    def generate_child_contexts(
        self, record: dict[str, Any], context: Context | None
    ) -> Iterable[Context | None]:
        """No context for a stream without children: the SDK would copy one and walk the empty
        child list for every record."""
        if self.child_streams:
            yield from super().generate_child_contexts(record, context)

    def _generate_record_messages(
        self, record: dict[str, Any]
    ) -> Generator[RecordMessage, None, None]:
        """The SDK's RECORD messages, without its walk over every property of every record
        to drop deselected ones when no property is deselected (a sixth of a sync's time on
        small records). Conformance is already done (:meth:`post_process`)."""
        mask = self.mask
        if self._all_selected is None or self._all_selected[0] is not mask:
            # A missing breadcrumb takes its parent's value, so all True means all selected.
            self._all_selected = (mask, all(mask.values()))
        if not self._all_selected[1]:
            yield from super()._generate_record_messages(record)
            return
        for stream_map in self.stream_maps:
            mapped = stream_map.transform(record)
            if mapped is not None:
                yield RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped,
                    version=self._stream_version,
                    time_extracted=utc_now(),
                )

    def post_process(
        self, row: dict[str, Any], context: Context | None = None
    ) -> dict[str, Any] | None:
        """The record conformed to the stream's (effective) schema, as the SDK would."""
        schema = self.effective_schema
        if self._conformer is None or self._conformer.schema is not schema:
            self._conformer = Conformer(schema, self.name, self.logger)
        return self._conformer.conform(row)


def as_utc(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime (naive means UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_instant(value: str) -> datetime:
    """An ISO-8601 date or date-time as an aware UTC datetime."""
    return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))


def iso_z(value: datetime) -> str:
    """``2026-06-19T04:00:18.764Z``, the API's date-time format."""
    value = as_utc(value)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def windows(start: datetime, end: datetime, size: timedelta) -> Iterator[tuple[datetime, datetime]]:
    """Consecutive half-open windows of ``size`` covering ``[start, end)``."""
    while start < end:
        stop = min(start + size, end)
        yield start, stop
        start = stop


class DateWindowStream(AmperityStream, abc.ABC):
    """A listing read in date windows from the bookmark (minus a lookback) to now.

    The bookmark is the end of the last completed window: a window's records are written
    before the bookmark moves past them, so an interrupted run resumed from its last STATE
    loses nothing.
    """

    window_params: ClassVar[tuple[str, str]] = ("created_from", "created_to")
    window_days: ClassVar[int] = 7
    lookback: ClassVar[timedelta] = timedelta(0)
    default_history: ClassVar[timedelta] = timedelta(days=7)
    """How far back the first run reads without a start_date."""
    is_sorted = True  # the bookmark only ever moves to a later completed window's end

    def _increment_stream_state(
        self, latest_record: dict[str, Any], *, context: Context | None = None
    ) -> None:
        """Records do not move the bookmark; completed windows do (see :meth:`get_records`)."""

    def sync_range(self, context: Context | None) -> tuple[datetime, datetime, datetime | None]:
        """(start, end, bookmark): from the bookmark minus the lookback, or start_date, to now."""
        now = datetime.now(UTC)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # the API's precision
        configured = self.config.get("start_date")
        start_date = parse_instant(configured) if configured else None
        value = self.get_starting_replication_key_value(context)
        bookmark = parse_instant(value) if value and value != configured else None
        if bookmark is not None:
            start = bookmark - self.lookback
        elif start_date is not None:
            start = start_date
        else:
            start = now - self.default_history
        if start_date is not None:
            start = max(start, start_date)
        return start, now, bookmark

    def query_filters(self, context: Context | None) -> dict[str, Any]:
        """The window (from the request context) in the endpoint's parameter names."""
        if not context or "window_start" not in context:
            msg = f"{self.name}: a date-windowed request needs a window"
            raise ValueError(msg)
        start_param, end_param = self.window_params
        return {start_param: context["window_start"], end_param: context["window_end"]}

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Each window's records, then the window's end as the new bookmark."""
        start, end, bookmark = self.sync_range(context)
        for window_start, window_end in windows(start, end, timedelta(days=self.window_days)):
            window = {"window_start": iso_z(window_start), "window_end": iso_z(window_end)}
            yield from self.request_records({**(context or {}), **window})
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
