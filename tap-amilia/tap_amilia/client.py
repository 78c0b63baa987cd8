"""The base streams: URL, auth, ``Paging.Next`` paging, pacing, retries, errors, date windows."""

from __future__ import annotations

import abc
import decimal
from collections.abc import Callable, Generator, Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import ParseResult, parse_qsl, quote, urljoin, urlparse

import backoff
import requests
from singer_sdk import RESTStream
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.helpers._util import utc_now
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.pagination import BaseHATEOASPaginator
from singer_sdk.singerlib import RecordMessage, SelectionMask
from singer_sdk.streams.rest import HTTPRequest, PageContext

from tap_amilia.auth import AmiliaAuthenticator, vendor_message
from tap_amilia.conform import RecordConformer

if TYPE_CHECKING:
    from backoff.types import Details
    from singer_sdk.helpers.types import Context

    from tap_amilia.tap import TapAmilia

MAX_BACKOFF_S = 60.0
MAX_RETRY_AFTER_S = 300.0
"""A longer ``Retry-After`` is cut to this, so one answer cannot stall a run for hours."""

_BODY = "_amilia_body"


def body_of(response: requests.Response) -> Any:
    """The parsed JSON body, parsed once per response (floats as Decimal, as the SDK does).

    Kept on the response itself: validation, parsing and paging all read it, possibly in
    a worker thread, and a shared cache would need a lock.
    """
    try:
        return getattr(response, _BODY)
    except AttributeError:
        body = response.json(parse_float=decimal.Decimal)
        setattr(response, _BODY, body)
        return body


def items_of(body: Any) -> list[Any] | None:
    """The records of a v3 list: ``Items`` of the envelope, or a bare array; None otherwise."""
    if isinstance(body, dict):
        items = body.get("Items")
        return items if isinstance(items, list) else None
    return body if isinstance(body, list) else None


def paging_of(body: Any) -> dict[str, Any]:
    """The envelope's ``Paging`` object (empty for a bare array)."""
    paging = body.get("Paging") if isinstance(body, dict) else None
    return paging if isinstance(paging, dict) else {}


def same_query(url_a: str, url_b: str) -> bool:
    """True if both URLs name the same page (same path, same query in any order)."""
    a, b = urlparse(url_a), urlparse(url_b)
    return a.path.lower() == b.path.lower() and sorted(
        parse_qsl(a.query, keep_blank_values=True)
    ) == sorted(parse_qsl(b.query, keep_blank_values=True))


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


class NextUrlPaginator(BaseHATEOASPaginator):
    """Follows ``Paging.Next`` as sent (never rebuilt); ``""``, null or a bare array end it.

    The URL must stay on the API's host, since every request carries the credentials. A
    URL already read during this listing means the API is cycling: stop loudly rather than
    read pages twice or forever.
    """

    def __init__(self, stream_name: str, api_url: str) -> None:
        super().__init__()
        self._stream_name = stream_name
        self._api = urlparse(api_url)
        self._seen: set[str] = set()

    def get_next_url(self, response: requests.Response) -> str | None:
        """The next page's absolute URL, or None on the last page."""
        following = paging_of(body_of(response)).get("Next")
        if not isinstance(following, str) or not following.strip():
            return None
        url = urlparse(urljoin(response.url, following.strip()))
        if not same_site(url.hostname or "", self._api.hostname or ""):
            msg = (
                f"{self._stream_name}: Paging.Next points to another host ({url.hostname}); "
                "refusing to send the credentials there"
            )
            raise FatalAPIError(msg)
        if self._api.scheme == "https" and url.scheme != "https":
            url = url._replace(scheme="https")  # a proxy may rewrite the scheme; keep TLS
        self._seen.add(_page_key(response.url))
        if _page_key(url.geturl()) in self._seen:
            msg = (
                f"{self._stream_name}: Paging.Next of GET {urlparse(response.url).path} "
                "points back to a page already read; stopping instead of looping"
            )
            raise FatalAPIError(msg)
        return url.geturl()


def same_site(host: str, api_host: str) -> bool:
    """True for the API's own host, or another host of its domain: Amilia serves the API on
    app.amilia.com and www.amilia.com alike, and a ``Next`` may name either. An IP address
    or a single-label host (a local sandbox) must match exactly."""
    host, api_host = host.lower().rstrip("."), api_host.lower().rstrip(".")
    if host == api_host:
        return True
    labels = api_host.split(".")
    if len(labels) < 3 or labels[-1].isdigit():
        return False
    return host.endswith("." + ".".join(labels[-2:]))


def _page_key(url: str) -> str:
    parsed = urlparse(url)
    return f"{parsed.path.lower()}?{sorted(parse_qsl(parsed.query, keep_blank_values=True))}"


def requested_offset(url: str) -> int | None:
    """How many records precede the page a URL asks for (``page``/``perPage``, any case)."""
    query = {k.lower(): v for k, v in parse_qsl(urlparse(url).query)}
    try:
        page = int(query.get("page", "1"))
        per_page = int(query.get("perpage", "200"))
    except ValueError:
        return None
    return max(0, page - 1) * per_page


class AmiliaStream(RESTStream[ParseResult | None], abc.ABC):
    """A GET listing below ``{api_url}/{language}/org/{organization}``."""

    query: ClassVar[dict[str, str]] = {}
    """Fixed filters of the listing (the ``show*`` flags that make it complete)."""
    paged: ClassVar[bool] = True
    """False for endpoints without ``page``/``perPage`` (a bare array)."""
    retry_base_delay_s: ClassVar[float] = 1.0
    """First backoff wait when the API sends no Retry-After (doubles, with full jitter)."""
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    """Conformed in :meth:`post_process` instead, the same way but planned once per schema
    (the SDK's generic conformance was the largest cost of a sync)."""

    def __init__(self, tap: TapAmilia) -> None:
        super().__init__(tap=tap)
        self._amilia_tap = tap  # shared limiter and authenticator
        self._conformer: RecordConformer | None = None
        self._all_selected: tuple[SelectionMask, bool] | None = None
        self._children_to_sync: list[AmiliaStream] | None = None
        """Set by each :meth:`get_records` call; None until then (ask the SDK)."""

    @property
    def requests_session(self) -> requests.Session:
        """The calling thread's session: worker threads must not share one."""
        return self._amilia_tap.thread_session()

    # --- request ----------------------------------------------------------------------------
    @property
    def url_base(self) -> str:
        """``{api_url}/{language}/org/{organization}``."""
        api_url = str(self.config.get("api_url", "https://app.amilia.com/api/v3")).rstrip("/")
        language = self.config.get("language", "en")
        organization = quote(str(self.config["organization"]).strip(), safe="")
        return f"{api_url}/{language}/org/{organization}"

    @property
    def authenticator(self) -> AmiliaAuthenticator:
        """The tap's one authenticator."""
        return self._amilia_tap.amilia_authenticator

    @property
    def http_headers(self) -> dict[str, str]:
        """``X-Amilia-Origin`` (who is calling) and JSON, on every call."""
        return self._amilia_tap.common_headers

    @property
    def timeout(self) -> int:
        """Seconds to wait for a response."""
        return int(self.config.get("request_timeout", 60))

    def query_filters(self, context: Context | None) -> dict[str, Any]:
        """Filters that depend on the context (date windows); sent on the first page only."""
        return {}

    def get_http_request(self, *, page: PageContext[ParseResult | None]) -> HTTPRequest:
        """The first page from the filters; later pages exactly as ``Paging.Next`` says."""
        request = super().get_http_request(page=page)
        if page.next_page_token is not None:
            request.url = page.next_page_token.geturl()
            request.params = {}
            return request
        request.params = {**self.query, **self.query_filters(page.stream_context)}
        if self.paged:
            request.params["perPage"] = int(self.config.get("page_size", 2000))
        return request

    def build_prepared_request(self, *args: Any, **kwargs: Any) -> requests.PreparedRequest:
        """Prepare without auth: credentials are added when sending, inside the retry loop."""
        request = requests.Request(*args, **kwargs)
        request.headers.setdefault("User-Agent", self.user_agent)
        return self.requests_session.prepare_request(request)

    def get_new_paginator(self) -> NextUrlPaginator | None:
        """A fresh ``Paging.Next`` paginator per listing (and per date window)."""
        if not self.paged:
            return None
        return NextUrlPaginator(self.name, str(self.config.get("api_url", "")))

    # --- pacing and retries -------------------------------------------------------------------
    def request_decorator(
        self, func: Callable[[requests.PreparedRequest, Context | None], requests.Response]
    ) -> Callable[[requests.PreparedRequest, Context | None], requests.Response]:
        """Every attempt (retries too) waits for the tap-wide rate limiter first."""

        fan_out = self._amilia_tap.fan_out

        def paced(request: requests.PreparedRequest, context: Context | None) -> requests.Response:
            if fan_out is not None:
                fan_out.raise_if_cancelled()  # a fetch ahead for a sync that ended
            self._amilia_tap.pacer.wait()
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
        next(delays)  # python-backoff generators start with a priming value

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
        else:
            cause = type(exc).__name__
        action = "renewing the token and retrying" if exc and is_unauthorised(exc) else "retrying"
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
        """``stream: HTTP status from GET /path: Message (TransactionId x)``, no query string."""
        path = urlparse(response.url).path
        return (
            f"{self.name}: HTTP {response.status_code} from GET {path}: {vendor_message(response)}"
        )

    def validate_response(self, response: requests.Response) -> None:
        """Sort a response into success, retry (429, 5xx, bad body, first 401) or stop."""
        status = response.status_code
        if status == HTTPStatus.UNAUTHORIZED:
            if self.authenticator.renew_after_401(response):
                raise RetriableAPIError(self.error_line(response), response)
            msg = f"{self.error_line(response)}; the credentials were refused"
            raise FatalAPIError(msg)
        if status == HTTPStatus.TOO_MANY_REQUESTS or status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            raise RetriableAPIError(self.error_line(response), response)
        if status == HTTPStatus.REQUEST_TIMEOUT:
            raise RetriableAPIError(self.error_line(response), response)
        if status in (HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND):
            msg = (
                f"{self.error_line(response)}. Check organization and the account's "
                f"permissions, or deselect the '{self.name}' stream"
            )
            raise FatalAPIError(msg)
        if status >= HTTPStatus.BAD_REQUEST:
            raise FatalAPIError(self.error_line(response))
        path = urlparse(response.url).path
        try:
            body = body_of(response)
        except ValueError:
            msg = f"{self.name}: HTTP {status} from GET {path} is not JSON"
            raise RetriableAPIError(msg, response) from None
        items = items_of(body)
        if items is None:
            msg = f"{self.name}: the response to GET {path} is neither a list nor Items/Paging"
            raise RetriableAPIError(msg, response)
        self._check_page_consistency(response, items)
        self.authenticator.token_accepted(response)

    def _check_page_consistency(self, response: requests.Response, items: list[Any]) -> None:
        """Retry a page that contradicts itself, rather than lose or re-read records.

        An empty page whose ``TotalCount`` says records remain, or a ``Next`` equal to the
        page just read, is a glitch: asking again is safe, since nothing was emitted yet.
        """
        paging = paging_of(body_of(response))
        following = paging.get("Next")
        if not isinstance(following, str) or not following.strip():
            return
        path = urlparse(response.url).path
        if same_query(urljoin(response.url, following.strip()), response.url):
            msg = f"{self.name}: Paging.Next of GET {path} points to the same page"
            raise RetriableAPIError(msg, response)
        total = paging.get("TotalCount")
        offset = requested_offset(response.url)
        if not items and isinstance(total, int) and offset is not None and total > offset:
            msg = (
                f"{self.name}: GET {path} returned no Items though TotalCount {total} "
                f"says records remain"
            )
            raise RetriableAPIError(msg, response)

    def parse_response(self, response: requests.Response) -> Iterable[dict[str, Any]]:
        """The page's records (``Items`` or the bare array)."""
        body = body_of(response)
        records = [item for item in items_of(body) or [] if isinstance(item, dict)]
        # The paginator still reads Paging once these records are emitted, but nothing reads
        # Items or the raw body again: keep the envelope without them, or the page stays
        # alive while the next one is fetched and parsed (a third of a large sync's peak
        # memory; the SDK holds the response until then).
        response._content = b""  # requests' cached body
        setattr(
            response,
            _BODY,
            {k: v for k, v in body.items() if k != "Items"} if isinstance(body, dict) else [],
        )
        return records

    # --- per-parent listings fetched ahead (see fanout.py) ------------------------------------
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """The listing's records; a child's come from the fetch made ahead when there is one."""
        fan_out = self._amilia_tap.fan_out
        self._children_to_sync = self._fan_out_children()
        if fan_out is None or (self.parent_stream_type is None and not self._children_to_sync):
            yield from self.request_records(context)  # nothing to fetch ahead
            return
        try:
            fetched = fan_out.take(self.name, context) if self.parent_stream_type else None
            if fetched is not None and (fetched.children_queued or not self._fan_out_children()):
                yield from fetched.records
            else:
                records = self.request_records(context) if fetched is None else fetched.records
                yield from fan_out.read_ahead(
                    records, lambda batch: self.submit_children(batch, context)
                )
            if fetched is not None and fetched.error is not None:
                raise fetched.error
        finally:
            if self.parent_stream_type is None:
                fan_out.discard()  # fetches of this tree nobody took (filtered parents)

    def _fan_out_children(self) -> list[AmiliaStream]:
        """Child streams the SDK will sync for each record of this stream."""
        return [
            child
            for child in self.child_streams
            if isinstance(child, AmiliaStream)
            and (child.selected or child.has_selected_descendents)
        ]

    def generate_child_contexts(
        self, record: dict[str, Any], context: Context | None
    ) -> Iterable[Context | None]:
        """No context when no child stream syncs: the SDK would otherwise ask every child of
        every record whether it is selected (a sixth of a small-record sync)."""
        if self._children_to_sync is None or self._children_to_sync:
            yield from super().generate_child_contexts(record, context)

    def submit_children(self, records: list[dict[str, Any]], context: Context | None) -> bool:
        """Queue the child listings of ``records`` in the tap's pool; False if there are none.

        Contexts are computed as the SDK will compute them; a record whose context cannot be
        computed is skipped here: the SDK meets the same error when it reaches the record.
        """
        fan_out = self._amilia_tap.fan_out
        children = self._fan_out_children()
        if fan_out is None or not children:
            return False
        for record in records:
            try:
                contexts = list(self.generate_child_contexts(record, context))
            except Exception:  # noqa: S112 - see the docstring
                continue
            for child_context in contexts:
                if child_context is not None:
                    for child in children:
                        fan_out.submit(child, child_context)
        return True

    def post_process(
        self, row: dict[str, Any], context: Context | None = None
    ) -> dict[str, Any] | None:
        """A child record carries its parent's id (the SDK adds it only to state partitions)."""
        if self.parent_stream_type is not None and context:
            for key, value in context.items():
                row.setdefault(key, value)
        if not self.selected:
            return row  # read only for its children: nothing is written
        schema = self.effective_schema
        conformer = self._conformer
        if conformer is None or conformer.schema is not schema:
            conformer = self._conformer = RecordConformer(self.name, schema, self.logger)
        return conformer(row)

    def _generate_record_messages(
        self, record: dict[str, Any]
    ) -> Generator[RecordMessage, None, None]:
        """The SDK's RECORD messages, without its walk over every property of every record
        to drop deselected ones when no property is deselected (a tenth of a small-record
        sync). Conformance is already done (:meth:`post_process`). This overrides a private
        SDK method: tests/amilia compare its output with the SDK's on every SDK upgrade."""
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


# --- date windows ----------------------------------------------------------------------------
def as_utc(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime (naive means UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_instant(value: str) -> datetime:
    """An ISO-8601 date or date-time (7 fractional digits allowed) as aware UTC."""
    return as_utc(datetime.fromisoformat(value.strip().replace("Z", "+00:00")))


def day_windows(first: date, last: date, days: int) -> Iterator[tuple[date, date]]:
    """Consecutive inclusive ``(from, to)`` day ranges of ``days`` covering ``first..last``."""
    while first <= last:
        to = min(first + timedelta(days=days - 1), last)
        yield first, to
        first = to + timedelta(days=1)


class DateWindowStream(AmiliaStream, abc.ABC):
    """A ``from``/``to`` listing read in day windows from the bookmark (minus lookback) to today
    (or ``lookahead_days`` later, see :attr:`reads_ahead`).

    ``to`` is inclusive in v3, so windows do not overlap. The bookmark moves only after a
    window's last record was written: to midnight UTC after the window, or to now for the
    window holding today. An interrupted run resumed from its last STATE loses nothing, and
    each run starts ``lookback_days`` before the bookmark to pick up late changes.
    """

    window_days: ClassVar[int] = 30
    reads_ahead: ClassVar[bool] = False
    """True when records are dated in the future (a schedule, bookings): the run goes on
    ``lookahead_days`` past today. The bookmark never passes now, so those days are read
    again by every run until they are in the past."""
    is_sorted = True  # the bookmark only ever moves forward, window by window

    def _increment_stream_state(
        self, latest_record: dict[str, Any], *, context: Context | None = None
    ) -> None:
        """Records do not move the bookmark; completed windows do (see :meth:`get_records`)."""

    def sync_days(self, context: Context | None) -> tuple[date, date, datetime | None]:
        """(first day, last day, bookmark) of this run."""
        now = datetime.now(UTC)
        lookback = timedelta(days=int(self.config.get("lookback_days", 7)))
        configured = self.config.get("start_date")
        start_date = parse_instant(str(configured)) if configured else None
        value = self.get_starting_replication_key_value(context)
        bookmark = parse_instant(str(value)) if value and value != configured else None
        if bookmark is not None:
            start = bookmark - lookback
        elif start_date is not None:
            start = start_date
        else:
            start = now - lookback
        if start_date is not None:
            start = max(start, start_date)
        ahead = int(self.config.get("lookahead_days", 90)) if self.reads_ahead else 0
        return start.date(), now.date() + timedelta(days=ahead), bookmark

    def query_filters(self, context: Context | None) -> dict[str, Any]:
        """The window's ``from``/``to`` (from the request context)."""
        if not context or "window_from" not in context:
            msg = f"{self.name}: a date-ranged request needs a window"
            raise ValueError(msg)
        return {"from": context["window_from"], "to": context["window_to"]}

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Each window's records, then the window's end as the new bookmark."""
        first, last, bookmark = self.sync_days(context)
        for window_from, window_to in day_windows(first, last, self.window_days):
            window = {"window_from": window_from.isoformat(), "window_to": window_to.isoformat()}
            yield from self.request_records({**(context or {}), **window})
            now = datetime.now(UTC)
            done = min(now, datetime.combine(window_to + timedelta(days=1), time(), tzinfo=UTC))
            if bookmark is None or done > bookmark:
                self._save_bookmark(context, done)
                bookmark = done

    def _save_bookmark(self, context: Context | None, done: datetime) -> None:
        """Move the bookmark to ``done`` and emit STATE at once."""
        assert self.replication_key is not None
        self.state_manager.increment_state(
            {self.replication_key: done.isoformat()},
            context=context,
            replication_key=self.replication_key,
        )
        self.finalize_state_progress_markers(self.get_context_state(context))
