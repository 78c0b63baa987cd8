"""The base of every stream: sessions, pace, retries, one error-line format, conformance and
per-parent prefetch. A vendor's base stream adds its URL, headers, paginator and error body."""

from __future__ import annotations

import abc
import threading
from collections.abc import Generator, Iterable
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

import requests
from singer_sdk import RESTStream
from singer_sdk.helpers.conform import TypeConformanceLevel
from typing_extensions import override

from singer_rest_toolkit.bookmarks import bad_bookmark
from singer_rest_toolkit.exchange import Exchange, Send
from singer_rest_toolkit.pagination import PageSize
from singer_rest_toolkit.records import ConformedRecords
from singer_rest_toolkit.responses import body_excerpt, each_record, request_label, take_records
from singer_rest_toolkit.scheduler import ScheduledStream, Scheduler

if TYPE_CHECKING:
    from backoff.types import Details
    from singer_sdk.helpers.types import Context
    from singer_sdk.streams.rest import HTTPRequest, PageContext

    from singer_rest_toolkit.auth import RenewingAuthenticator
    from singer_rest_toolkit.pacing import Pacer
    from singer_rest_toolkit.progress import SyncProgress
    from singer_rest_toolkit.settings import Settings

_TToken = TypeVar("_TToken")


class StreamHost(Protocol):
    """What a stream needs of its tap (a :class:`~singer_rest_toolkit.tap.RestTap`)."""

    default_page_size: ClassVar[int]

    @property
    def settings(self) -> Settings: ...

    @property
    def authenticator(self) -> RenewingAuthenticator: ...

    @property
    def progress(self) -> SyncProgress: ...

    @property
    def scheduler(self) -> Scheduler: ...

    @property
    def pacers(self) -> dict[str, Pacer]: ...

    def thread_session(self) -> requests.Session: ...


class RestStream(ScheduledStream, ConformedRecords, RESTStream[_TToken], abc.ABC):
    """A paced, retried GET listing of a :class:`~singer_rest_toolkit.tap.RestTap`. A vendor's
    base stream sets ``url_base``, its headers, ``get_http_request``, ``get_new_paginator``,
    :attr:`records_key` (or ``parse_response``), :meth:`vendor_message` and :meth:`check_body`."""

    unavailable_hint: ClassVar[str] = "Deselect the '{name}' stream"
    """After a 403/404's error line: what to check, or how to deselect the stream."""
    retry_base_delay_s: ClassVar[float] = 1.0
    """First backoff wait when the API sends no Retry-After (doubles, with full jitter)."""
    page_size_param: ClassVar[str] = "limit"
    """The query parameter of the page size; a request without it is not paged."""
    records_key: ClassVar[str | None] = None
    """The body's key of a page's records (or the body itself, a bare array), which stay JSON
    text until each is read; None: the body is parsed whole and ``parse_response`` is the SDK's."""
    max_page_size: ClassVar[int | None] = None
    """The largest page the endpoint is documented to accept; None when undocumented (then
    the tap's ``default_page_size`` is tried, and lowered if the API refuses or caps it)."""
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE  # conform.py's, in post_process

    def __init__(self, tap: StreamHost) -> None:
        super().__init__(tap=tap)  # type: ignore[arg-type]
        self.rest_tap = tap
        self._progress = tap.progress
        self.max_tries: int | None = None  # instead of max_retries (a discovery sample)
        first = tap.settings.first_page_size(self.max_page_size, tap.default_page_size)
        self.page_size = PageSize(self.name, self.page_size_param, first, self.logger)
        self._building = threading.local()  # the page whose request a thread builds

    @property
    @override
    def settings(self) -> Settings:
        return self.rest_tap.settings

    @property
    @override
    def scheduler(self) -> Scheduler:
        return self.rest_tap.scheduler

    @override
    def fetch_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        return self.request_records(context)

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

    @cached_property
    def exchange(self) -> Exchange:
        """This stream's requests: pace, token, retries, error lines, page size."""
        tap = self.rest_tap
        return Exchange(
            self,
            authenticator=tap.authenticator,
            pacer=tap.pacers[self.api_family],
            page_size=self.page_size,
            progress=tap.progress,
            max_retries=self.settings.max_retries,
            max_retry_s=self.settings.max_retry_seconds,
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

    @override
    def parse_response(self, response: requests.Response) -> Iterable[dict[str, Any]]:
        """The objects among the page's records (:attr:`records_key`), which the cached body
        then no longer holds."""
        if self.records_key is None:
            return super().parse_response(response)
        return each_record(take_records(response, self.records_key))

    def check_body(self, response: requests.Response, body: Any) -> None:
        """Raise RetriableAPIError (worth asking again) or FatalAPIError for a wrong 2xx body."""

    def page_fill(self, body: Any) -> tuple[int, bool] | None:
        """(records on the page, whether a next page follows) of a 2xx body; None when the
        body does not say (then nothing is learnt about the page size from it)."""
        return None
