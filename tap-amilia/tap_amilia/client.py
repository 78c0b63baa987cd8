"""The base streams: URL, ``Paging.Next`` paging, the error body, date windows."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, ClassVar, Protocol
from urllib.parse import ParseResult, parse_qsl, quote, urlencode, urljoin, urlparse

import requests
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.helpers.types import Context
from singer_sdk.pagination import BaseHATEOASPaginator
from singer_sdk.streams.rest import HTTPRequest, PageContext
from typing_extensions import override

from singer_rest_toolkit import DateWindowStream, RestStream
from singer_rest_toolkit.pagination import query_value, with_query_value
from singer_rest_toolkit.responses import error_message, json_body
from singer_rest_toolkit.stream import StreamHost

if TYPE_CHECKING:
    from tap_amilia.settings import AmiliaSettings


class AmiliaHost(StreamHost, Protocol):
    """What an Amilia stream needs of its tap."""

    @property
    def settings(self) -> AmiliaSettings: ...


def common_headers(settings: AmiliaSettings) -> dict[str, str]:
    """Headers of every call, the token request's too: who is calling, and JSON."""
    return {"X-Amilia-Origin": settings.origin, "Accept": "application/json"}


def vendor_message(response: requests.Response) -> str:
    """Amilia's error ``Message`` and ``TransactionId``, else a short excerpt of the body."""
    return error_message(
        response, message_keys=("Message", "message"), id_keys=("TransactionId", "transactionId")
    )


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
        following = paging_of(json_body(response)).get("Next")
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


class AmiliaStream(RestStream[ParseResult | None]):
    """A GET listing below ``{api_url}/{language}/org/{organization}``."""

    query: ClassVar[dict[str, str]] = {}
    """Fixed filters of the listing (the ``show*`` flags that make it complete)."""
    paged: ClassVar[bool] = True
    """False for endpoints without ``page``/``perPage`` (a bare array)."""
    page_size_param = "perPage"
    records_key = "Items"  # or the bare array
    unavailable_hint = (
        "Check organization and the account's permissions, or deselect the '{name}' stream"
    )

    def __init__(self, tap: AmiliaHost) -> None:
        self.amilia_tap = tap
        super().__init__(tap)

    @property
    @override
    def settings(self) -> AmiliaSettings:
        return self.amilia_tap.settings

    @property
    @override
    def url_base(self) -> str:
        settings = self.settings
        organization = quote(settings.organization.strip(), safe="")
        return f"{settings.api_url.rstrip('/')}/{settings.language}/org/{organization}"

    @property
    @override
    def http_headers(self) -> dict[str, str]:
        """``X-Amilia-Origin`` (who is calling) and JSON, on every call."""
        return common_headers(self.settings)

    @override
    def get_http_request(self, *, page: PageContext[ParseResult | None]) -> HTTPRequest:
        """The first page from the filters; later pages exactly as ``Paging.Next`` says, but
        for a page size larger than the stream now asks for."""
        request = super().get_http_request(page=page)
        if page.next_page_token is not None:
            request.url = page.next_page_token.geturl()
            request.params = {}
            sent = query_value(request.url, self.page_size_param)
            if self.paged and sent is not None and sent.isdigit():
                size = self.page_size.ask(int(sent))
                if size != int(sent):
                    request.url = with_query_value(request.url, self.page_size_param, str(size))
            return request
        request.params = {**self.query, **self.query_filters(page.stream_context)}
        if self.paged:
            request.params[self.page_size_param] = self.page_size.ask()
        return request

    @override
    def get_new_paginator(self) -> NextUrlPaginator | None:
        """A fresh ``Paging.Next`` paginator per listing (and per date window)."""
        if not self.paged:
            return None
        return NextUrlPaginator(self.name, self.settings.api_url)

    @override
    def vendor_message(self, response: requests.Response) -> str:
        return vendor_message(response)

    @override
    def check_body(self, response: requests.Response, body: Any) -> None:
        """A body without records, or a page that contradicts itself, is asked again.

        An empty page whose ``TotalCount`` says records remain, or a ``Next`` equal to the
        page just read, is a glitch: asking again is safe, since nothing was emitted yet.
        """
        path = urlparse(response.url).path
        items = items_of(body)
        if items is None:
            msg = f"{self.name}: the response to GET {path} is neither a list nor Items/Paging"
            raise RetriableAPIError(msg, response)
        paging = paging_of(body)
        following = paging.get("Next")
        if not isinstance(following, str) or not following.strip():
            return
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

    @override
    def page_fill(self, body: Any) -> tuple[int, bool] | None:
        following = paging_of(body).get("Next")
        return len(items_of(body) or []), isinstance(following, str) and bool(following.strip())


class AmiliaDateWindowStream(DateWindowStream[ParseResult | None], AmiliaStream):
    """A ``from``/``to`` listing read in windows of days from the bookmark (minus
    ``lookback_days``) to today, or ``lookahead_days`` later (see :attr:`reads_ahead`).

    ``to`` is inclusive in v3, so windows of whole days do not overlap.
    """

    window_size = timedelta(days=30)
    window_params: ClassVar[tuple[str, str]] = ("from", "to")
    align_to_days = True
    reads_ahead: ClassVar[bool] = False
    """True when records are dated in the future (a schedule, bookings): the run goes on
    ``lookahead_days`` past today. The bookmark never passes now, so those days are read
    again by every run until they are in the past."""

    @override
    def lookahead(self) -> timedelta:
        return timedelta(days=self.settings.lookahead_days if self.reads_ahead else 0)

    @override
    def window_filters(self, start: datetime, end: datetime) -> dict[str, Any]:
        """The window's first and last day, in :attr:`window_params` (``from``/``to``, or
        ``start``/``end``: both inclusive in v3)."""
        first_param, last_param = self.window_params
        last = (end - timedelta(microseconds=1)).date()
        return {first_param: start.date().isoformat(), last_param: last.isoformat()}


class AmiliaPersonsStream(AmiliaStream):
    """A listing of persons (or family accounts) that can carry their medical information.

    ``showMedicalInfo=true`` is sent only when the ``include_medical_info`` setting asks for
    it: it is health data. Parameter values the docs do not list (:attr:`undocumented`, such
    as ``status=All`` where only ``Registered`` is documented) are sent, and if the API
    answers a request that carries them with a 400 whose message names the parameter, they
    are dropped for the rest of the run, with one warning, and the request is asked again
    without them.
    """

    undocumented: ClassVar[dict[str, str]] = {}
    """Query parameters whose value the docs do not list; dropped if the API refuses them."""

    @override
    def __init__(self, tap: AmiliaHost) -> None:
        super().__init__(tap=tap)
        self.refused = threading.Event()
        """Set once the API refused :attr:`undocumented` (worker threads share it)."""

    @override
    def query_filters(self, context: Context | None) -> dict[str, Any]:
        filters = {**super().query_filters(context)}
        if not self.refused.is_set():
            filters.update(self.undocumented)
        if self.settings.include_medical_info:
            filters["showMedicalInfo"] = "true"
        return filters

    @override
    def validate_response(self, response: requests.Response) -> None:
        """A 400 that names a parameter of :attr:`undocumented` (``The value 'All' is not
        valid for status.``) is asked again without them; any other 400 stops the stream."""
        if (
            response.status_code == HTTPStatus.BAD_REQUEST
            and self._carries_undocumented(response.request.url or response.url)
            and self._names_undocumented(self.vendor_message(response))
        ):
            if not self.refused.is_set():
                self.refused.set()
                sent = ", ".join(f"{k}={v}" for k, v in self.undocumented.items())
                self.logger.warning(
                    "%s: the API refused %s (%s); reading on without it, so only what the "
                    "API returns by default arrives",
                    self.name,
                    sent,
                    self.vendor_message(response),
                )
            raise RetriableAPIError(self.error_line(response), response)
        super().validate_response(response)

    @override
    def request_decorator(
        self, func: Callable[[requests.PreparedRequest, Context | None], requests.Response]
    ) -> Callable[[requests.PreparedRequest, Context | None], requests.Response]:
        """Once :attr:`undocumented` was refused, no attempt (a retry too) sends it."""

        def without_refused(
            request: requests.PreparedRequest, context: Context | None
        ) -> requests.Response:
            if self.refused.is_set() and self._carries_undocumented(request.url or ""):
                request.prepare_url(self._without_undocumented(request.url or ""), None)
            return func(request, context)

        return super().request_decorator(without_refused)

    def _names_undocumented(self, message: str) -> bool:
        words = set(re.findall(r"[a-z]+", message.lower()))
        return any(name.lower() in words for name in self.undocumented)

    def _carries_undocumented(self, url: str) -> bool:
        names = {k.lower() for k in self.undocumented}
        return bool(names) and any(
            k.lower() in names for k, _ in parse_qsl(urlparse(url).query, keep_blank_values=True)
        )

    def _without_undocumented(self, url: str) -> str:
        names = {k.lower() for k in self.undocumented}
        parsed = urlparse(url)
        kept = [
            (k, v)
            for k, v in parse_qsl(parsed.query, keep_blank_values=True)
            if k.lower() not in names
        ]
        return parsed._replace(query=urlencode(kept)).geturl()
