"""The base of every stream: sessions, pace, retries, one error-line format, conformance and
per-parent prefetch. A vendor's base stream adds its URL, headers, paginator and error body."""

from __future__ import annotations

import abc
from collections.abc import Callable, Generator, Iterable
from datetime import datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar
from urllib.parse import urlsplit

import backoff
import requests
from singer_sdk import RESTStream
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.singerlib.catalog import REPLICATION_INCREMENTAL
from typing_extensions import override

from singer_rest_toolkit.bookmarks import bad_bookmark, end_date_of, past_end
from singer_rest_toolkit.conform import RecordConformer
from singer_rest_toolkit.dates import parse_instant, utc_now
from singer_rest_toolkit.pacing import MAIN_API
from singer_rest_toolkit.pagination import PageSize, with_query_value
from singer_rest_toolkit.prefetch import RecordsOnly, raise_if_cancelled
from singer_rest_toolkit.progress import API, RATE_LIMIT
from singer_rest_toolkit.responses import body_excerpt, json_body
from singer_rest_toolkit.sdk_internals import FastRecordMessages, starting_replication_value
from singer_rest_toolkit.switches import stock_path

if TYPE_CHECKING:
    from backoff.types import Details
    from singer_sdk.helpers.types import Context

    from singer_rest_toolkit.auth import RenewingAuthenticator
    from singer_rest_toolkit.prefetch import Prefetcher
    from singer_rest_toolkit.tap import RestTap

_TToken = TypeVar("_TToken")

MAX_BACKOFF_S = 60.0
MAX_RETRY_AFTER_S = 300.0
"""A longer ``Retry-After`` is cut to this, so one answer cannot stall a run for hours."""


class UnavailableStreamError(FatalAPIError):
    """The stream's endpoint answered 403/404. Before any of its listings was read, that
    means the stream is not available to this account: the tap skips it, syncs the others,
    then exits non-zero naming it; after, it is an error like any other."""


class PageSizeRefusedError(FatalAPIError):
    """A 400 naming the page size: asked again at once with a smaller page, outside the retry
    budget (each refusal lowers the size, so this ends)."""


def retry_after_seconds(exc: BaseException | None) -> float | None:
    """The ``Retry-After`` of the response behind ``exc`` (seconds or an HTTP date), capped."""
    response = getattr(exc, "response", None)
    value = response.headers.get("Retry-After") if response is not None else None
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(value) - utc_now()).total_seconds()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def _as_is(record: dict[str, Any]) -> dict[str, Any]:
    return record


def is_unauthorised(exc: BaseException | None) -> bool:
    """True if ``exc`` is a retry after a 401 (the token is renewed at once, no wait)."""
    response = getattr(exc, "response", None)
    return response is not None and response.status_code == HTTPStatus.UNAUTHORIZED


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

    def __init__(self, tap: RestTap) -> None:
        super().__init__(tap=tap)
        self.rest_tap = tap
        self._progress = tap.progress
        self.max_tries: int | None = None
        """Overrides ``max_retries`` (a discovery sample needs few tries)."""
        self._conformer: RecordConformer | None = None
        self._conform: Callable[[dict[str, Any]], dict[str, Any]] | None = None
        """What post_process does to each record after the parent's keys, decided at the
        first record of each sync (see :meth:`start_records`)."""
        self._until: datetime | None = None
        """end_date, for the records of an incremental stream (see :meth:`start_records`)."""
        self._children_to_sync: list[RestStream[Any]] | None = None
        """Set by each :meth:`get_records` call; None until then (ask the SDK)."""
        self._delivered = False
        """True once a listing of this stream was read, in the order of a sequential run: a
        later 403/404 is an error, not a stream this account cannot read."""
        self.unavailable: str | None = None
        """The error line of a stream skipped as unavailable (see :meth:`get_records`)."""
        self._starting_value_ahead: tuple[Any] | None = None
        """The starting replication value of a listing fetched before the stream's sync
        began (see :meth:`fetch_ahead`), in a tuple (it may be None)."""
        self._sdk_conforms = stock_path()
        """The SDK's stock path: the SDK conforms each record as it writes it."""
        if self._sdk_conforms:
            self.TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.RECURSIVE
        self.page_size = PageSize(
            self.name, self.page_size_param, self.first_page_size(), self.logger
        )
        """What ``page_size_param`` asks for: lowered when the API refuses or caps it."""

    def first_page_size(self) -> int:
        """The ``page_size`` setting (not above a documented maximum), else the largest size
        documented, else the tap's trial size."""
        configured = self.config.get("page_size")
        documented = self.max_page_size
        if configured:
            return min(int(configured), documented) if documented else int(configured)
        return documented or self.rest_tap.default_page_size

    def prefetcher(self) -> Prefetcher | None:
        """The pool of this stream's API family; None when it fetches nothing ahead."""
        return self.rest_tap.prefetcher_for(self.api_family)

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
        return int(self.config.get("request_timeout", 60))

    @override
    def build_prepared_request(self, *args: Any, **kwargs: Any) -> requests.PreparedRequest:
        """Prepare without auth: credentials are added when sending, inside the retry loop."""
        request = requests.Request(*args, **kwargs)
        request.headers.setdefault("User-Agent", self.user_agent)
        return self.requests_session.prepare_request(request)

    # --- pace and retries ---------------------------------------------------------------------
    @override
    def request_decorator(
        self, func: Callable[[requests.PreparedRequest, Context | None], requests.Response]
    ) -> Callable[[requests.PreparedRequest, Context | None], requests.Response]:
        """Every attempt (retries too) waits for the pace of the stream's API family first,
        and asks for no larger page than the API was found to serve (a refused size is asked
        again at once, smaller).

        A token that needs renewing is renewed before the wait (the token request takes its
        own slot): a slot taken before a token request would be spent a whole round trip
        later, when it may no longer be free on the API's one-second window.
        """
        pacer = self.rest_tap.pacer_for(self.api_family)
        page_size = self.page_size
        progress = self._progress

        def paced(request: requests.PreparedRequest, context: Context | None) -> requests.Response:
            while True:
                raise_if_cancelled()  # a fetch ahead whose reader is gone
                asked = page_size.asked(request.url or "")
                if asked is not None and asked > page_size.current:  # a next page, a retry
                    url = with_query_value(
                        request.url or "", page_size.param, str(page_size.current)
                    )
                    request.prepare_url(url, None)
                self.authenticator.ensure_token()
                with progress.waiting(RATE_LIMIT):
                    pacer.wait()
                try:
                    with progress.waiting(API):
                        return func(request, context)
                except PageSizeRefusedError:
                    continue

        decorated: Callable[[requests.PreparedRequest, Context | None], requests.Response]
        decorated = super().request_decorator(paced)
        return decorated

    @override
    def backoff_max_tries(self) -> int:
        """Tries in all: :attr:`max_tries` when set, else ``max_retries`` (default 8)."""
        return self.max_tries or int(self.config.get("max_retries", 8))

    @override
    def backoff_jitter(self, value: float) -> float:
        """No extra jitter: waits are jittered below, and a Retry-After is kept exact."""
        return value

    @override
    def backoff_wait_generator(self) -> Generator[float, None, None]:
        """Retry-After when sent; no wait after a 401; else exponential with full jitter."""
        delays = backoff.expo(base=2, factor=self.retry_base_delay_s, max_value=MAX_BACKOFF_S)
        next(delays)  # python-backoff generators start with a priming value

        def wait_for(exc: Exception) -> float:
            after = retry_after_seconds(exc)
            if after is not None:
                return after
            if is_unauthorised(exc):
                return 0.0
            return backoff.full_jitter(next(delays))

        return self.backoff_runtime(value=wait_for)

    @override
    def backoff_handler(self, details: Details) -> None:
        """One WARNING line per retry: stream, cause, wait and attempt (never a header)."""
        exc = details.get("exception")
        response = getattr(exc, "response", None)
        cause = (
            f"HTTP {response.status_code} from {self.request_label(response)}"
            if response is not None
            else type(exc).__name__
        )
        renewing = "renewing the access token and retrying"
        self.logger.warning(
            "%s: %s; %s in %.1f s (attempt %d of %d)",
            self.name,
            cause,
            renewing if is_unauthorised(exc) else "retrying",
            details.get("wait") or 0.0,
            details["tries"],
            self.backoff_max_tries(),
        )

    # --- responses ----------------------------------------------------------------------------
    def request_label(self, response: requests.Response) -> str:
        """``GET /path`` of the request behind ``response`` (never its query string)."""
        method = response.request.method if response.request is not None else "GET"
        return f"{method} {urlsplit(response.url).path}"

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
        return (
            f"{self.name}: HTTP {response.status_code} from {self.request_label(response)}: "
            f"{self.vendor_message(response)}"
        )

    def check_body(self, response: requests.Response, body: Any) -> None:
        """Raise RetriableAPIError (a glitch worth asking again) or FatalAPIError for a 2xx
        body that cannot be right."""

    @override
    def validate_response(self, response: requests.Response) -> None:
        """Sort a response into success, retry (429, 408, 5xx, bad body, first 401) or stop."""
        status = response.status_code
        if status == HTTPStatus.UNAUTHORIZED:
            if self.authenticator.renew_after_401(response):
                raise RetriableAPIError(self.error_line(response), response)
            msg = f"{self.error_line(response)}; {self.authenticator.rejection_hint}"
            raise FatalAPIError(msg)
        if (
            status in (HTTPStatus.TOO_MANY_REQUESTS, HTTPStatus.REQUEST_TIMEOUT)
            or status >= HTTPStatus.INTERNAL_SERVER_ERROR
        ):
            raise RetriableAPIError(self.error_line(response), response)
        asked = self.page_size.asked(response.request.url or "") if response.request else None
        if (
            status == HTTPStatus.BAD_REQUEST
            and asked is not None
            and self.page_size.refused(asked, self.vendor_message(response))
        ):
            raise PageSizeRefusedError(self.error_line(response), response)
        if status in (HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND):
            hint = self.unavailable_hint.format(name=self.name)
            raise UnavailableStreamError(f"{self.error_line(response)}. {hint}")
        if status >= HTTPStatus.BAD_REQUEST:
            raise FatalAPIError(self.error_line(response))
        try:
            body = json_body(response)
        except ValueError:
            msg = f"{self.name}: HTTP {status} from {self.request_label(response)} is not JSON"
            raise RetriableAPIError(msg, response) from None
        self.check_body(response, body)
        self.authenticator.token_accepted(response)
        fill = self.page_fill(body) if asked is not None else None
        if asked is not None and fill is not None:
            self.page_size.served(asked, *fill)

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
        record = conform(row)
        if self._until is not None and past_end(self, record, self._until):
            return None  # after end_date: neither written nor counted in the bookmark
        return record

    @override
    def start_records(self) -> None:
        self._conform = None  # selection or schema may have changed since the last sync
        self._until = end_date_of(self) if self.replication_key else None

    def _record_conformance(self) -> Callable[[dict[str, Any]], dict[str, Any]]:
        """The conformer of the stream's schema; nothing for a stream read only for its
        children (nothing is written) or on the SDK's path (the SDK conforms)."""
        if not self.selected or self._sdk_conforms:
            return _as_is
        schema = self.effective_schema
        conformer = self._conformer
        if conformer is None or conformer.schema is not schema:
            conformer = self._conformer = RecordConformer(self.name, schema, self.logger)
        return conformer

    # --- per-parent listings fetched ahead (prefetch.py) --------------------------------------
    def children_to_sync(self) -> list[RestStream[Any]]:
        """Child streams the SDK will sync for each record of this stream."""
        return [
            child
            for child in self.child_streams
            if isinstance(child, RestStream)
            and child.unavailable is None
            and (child.selected or child.has_selected_descendents)
        ]

    def has_children_to_sync(self) -> bool:
        """True if a child stream will be synced for each record."""
        return bool(self.children_to_sync())

    @override
    def syncs_children(self) -> bool:
        """:meth:`generate_child_contexts` yields nothing when no child stream syncs."""
        return self.has_children_to_sync()

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """The listing's records; none for a stream this account cannot read (its endpoint
        answered 403/404 to the first request), which is reported when the sync ends."""
        if self.unavailable is not None:
            return
        records = iter(self.listing_records(context))
        try:
            for record in records:
                self._delivered = True
                yield record
                yield from records  # the rest without a step of this loop each
        except UnavailableStreamError as exc:
            if self._delivered:  # the endpoint answered before: not an unavailable stream
                raise FatalAPIError(str(exc)) from None
            if not self.config.get("skip_unavailable_streams", True):
                raise
            self.unavailable = str(exc)
            self.logger.error("%s; skipping the stream, the others go on", exc)
        else:
            self._delivered = True

    def listing_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """The listing's records; they come from the fetch made ahead when there is one.

        A child listing is fetched by the pool of its own API family; a parent reads ahead as
        far as the largest pool of its children's families needs. A top-level stream first
        keeps the next streams of the sync fetching (``RestTap.fetch_streams_ahead``).
        """
        tap = self.rest_tap
        children = self._children_to_sync = self.children_to_sync()
        top_level = self.parent_stream_type is None
        pools = [pool for pool in {child.prefetcher() for child in children} if pool is not None]
        try:
            if top_level:
                tap.fetch_streams_ahead(self)
                listing = tap.take_fetched_ahead(self.name)
            else:
                own = self.prefetcher()
                listing = own.take(self.name, context) if own is not None else None
            if listing is not None and (listing.children_queued or not pools):
                yield from listing.records()
                return
            records = listing.records() if listing is not None else self.fetch_records(context)
            if not pools:
                yield from records
                return
            reader = max(pools, key=lambda pool: pool.ahead)
            yield from reader.read_ahead(
                records, lambda batch: self.submit_children(batch, context)
            )
        finally:
            if top_level:
                tap.end_listing_tree(self)

    def fetch_ahead(self, pool: Prefetcher) -> None:
        """Queue this stream's listing in ``pool`` before its sync begins. Its children are
        queued as its records are read, as usual.

        Only a listing whose fetch changes no state: one context, a known starting value
        (worked out now, as the SDK will at the sync's start) not later than now.
        """
        if self.partitions is not None or not self._freeze_starting_value():
            return
        pool.submit(RecordsOnly(self.name, self.fetch_records), None, self.page_size.current)

    def listing_names(self) -> tuple[str, ...]:
        """The names this stream's listings are fetched ahead under."""
        return (self.name,)

    def end_fetch_ahead(self) -> None:
        """Forget what was worked out for a fetch ahead: the next sync works it out again."""
        self._starting_value_ahead = None

    def _freeze_starting_value(self) -> bool:
        """Work out the starting replication value now; False when there is none to trust."""
        if self.replication_method != REPLICATION_INCREMENTAL:
            return True
        try:
            value = starting_replication_value(self)
            if value and parse_instant(str(value)) > utc_now():
                return False  # a bookmark from the future: warned about in the stream's turn
        except Exception:  # raised again in the stream's own turn
            return False
        self._starting_value_ahead = (value,)
        return True

    @override
    def get_starting_replication_key_value(self, context: Context | None) -> Any | None:
        """The value worked out before a fetch ahead (the SDK writes the same at the sync's
        start), else the SDK's."""
        ahead = self._starting_value_ahead
        if ahead is not None and not context:
            return ahead[0]
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

    def submit_children(self, records: list[dict[str, Any]], context: Context | None) -> bool:
        """Queue the child listings of ``records`` in the tap's pool; False if there are none.

        Contexts are computed as the SDK will compute them; a record whose context cannot be
        computed is skipped here: the SDK meets the same error when it reaches the record.
        """
        pools = [(child, child.prefetcher()) for child in self.children_to_sync()]
        children = [(child, pool) for child, pool in pools if pool is not None]
        if not children:
            return False
        for record in records:
            try:
                contexts = list(self.generate_child_contexts(record, context))
            except Exception:  # noqa: S112 - see the docstring
                continue
            for child_context in contexts:
                if child_context is not None:
                    for child, pool in children:
                        pool.submit(child, child_context, child.page_size.current)
        return True
