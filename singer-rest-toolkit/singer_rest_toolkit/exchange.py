"""One stream's HTTP exchange: pace, token, retries and Retry-After, the 401 renewal, the
one-line error and page-size negotiation. The stream hands it the SDK's hooks, one line each;
the vendor's reading of its responses stays on the stream (:class:`VendorSide`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import backoff
import requests
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError

from singer_rest_toolkit.bookmarks import BadBookmarkError
from singer_rest_toolkit.dates import utc_now
from singer_rest_toolkit.prefetch import before_request
from singer_rest_toolkit.progress import API, RATE_LIMIT, RETRY
from singer_rest_toolkit.responses import json_body, not_json_reason
from singer_rest_toolkit.transport import RedirectRefusedError

if TYPE_CHECKING:
    import logging

    from backoff.types import Details

    from singer_rest_toolkit.auth import RenewingAuthenticator
    from singer_rest_toolkit.pacing import Pacer
    from singer_rest_toolkit.pagination import PageSize
    from singer_rest_toolkit.progress import SyncProgress

Send = Callable[[requests.PreparedRequest, Any], requests.Response]

MAX_BACKOFF_S = 60.0
MAX_RETRY_AFTER_S = 300.0
"""A longer ``Retry-After`` is cut to this, so one answer cannot stall a run for hours."""
ONE_LINE_ERRORS = (FatalAPIError, RetriableAPIError, BadBookmarkError, requests.RequestException)
"""Errors the CLI reports in one line of its own (``RestTap.invoke``)."""


class UnavailableStreamError(FatalAPIError):
    """A 403/404. Before any of the stream's listings was read, the stream is not available to
    this account: the tap skips it, syncs the others, then exits non-zero naming it."""


class StreamsSkippedError(UnavailableStreamError):
    """Streams skipped as unavailable, reported once every other stream was synced."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__(lines[0])
        self.lines = lines
        """The error line of each skipped stream."""


class RetryBudgetSpentError(FatalAPIError):
    """A request failed for longer than ``max_retry_seconds`` allows (or the API asked to
    wait beyond it): the run stops now rather than wait for an answer it cannot use."""


class PageSizeRefusedError(FatalAPIError):
    """A 400 naming the page size: the request is built again at once with a smaller page,
    outside the retry budget (each refusal lowers the size, so this ends)."""


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


def status_of(exc: BaseException | None) -> int | None:
    """The HTTP status of the response behind ``exc``; None when none came."""
    response = getattr(exc, "response", None)
    return None if response is None else int(response.status_code)


class VendorSide(Protocol):
    """What the exchange asks of a stream: the vendor's reading of its responses."""

    name: str
    unavailable_hint: ClassVar[str]
    retry_base_delay_s: ClassVar[float]
    max_tries: int | None
    records_key: ClassVar[str | None]

    def request_label(self, response: requests.Response) -> str: ...

    def vendor_message(self, response: requests.Response) -> str: ...

    def check_body(self, response: requests.Response, body: Any) -> None: ...

    def page_fill(self, body: Any) -> tuple[int, bool] | None: ...

    def request_again(self) -> requests.PreparedRequest: ...


@dataclass
class Exchange:
    """The requests of one stream: every attempt waits for its API family's pace (a token
    due for renewal is renewed first: the token request takes a slot of its own), failures
    are retried within ``max_retries``, and whatever stops the stream does so in one line."""

    stream: VendorSide
    _: KW_ONLY
    authenticator: RenewingAuthenticator
    pacer: Pacer
    page_size: PageSize
    progress: SyncProgress
    max_retries: int
    max_retry_s: float
    logger: logging.Logger

    # --- sending ------------------------------------------------------------------------------
    def paced(self, send: Send) -> Send:
        """``send``, after the token and the pace; inside the SDK's retry loop."""

        def paced(request: requests.PreparedRequest, context: Any) -> requests.Response:
            before_request()  # a fetch ahead: within its pool's memory, its reader not gone
            try:
                self.authenticator.ensure_token()
                with self.progress.waiting(RATE_LIMIT):
                    self.pacer.wait()
                with self.progress.waiting(API):
                    return send(request, context)
            except RedirectRefusedError as exc:  # the session knows no stream
                raise RedirectRefusedError(f"{self.stream.name}: {exc}") from None

        return paced

    def negotiated(self, retried: Send) -> Send:
        """``retried``, built again with a smaller page each time the API refuses the size."""

        def negotiated(request: requests.PreparedRequest, context: Any) -> requests.Response:
            while True:
                try:
                    return retried(request, context)
                except PageSizeRefusedError:
                    request = self.stream.request_again()

        return negotiated

    # --- retries (the SDK's backoff hooks) ----------------------------------------------------
    def max_tries(self) -> int:
        """Tries in all: the stream's ``max_tries`` when set, else ``max_retries``."""
        return self.stream.max_tries or self.max_retries

    def wait_for(self) -> Callable[[Exception], float]:
        """Retry-After when sent; no wait after a 401; else exponential with full jitter. All
        within ``max_retry_seconds`` from the request's first failure: a Retry-After beyond
        what is left stops the request at once, a backoff is cut to it. A 429 slows the pace."""
        delays = backoff.expo(
            base=2, factor=self.stream.retry_base_delay_s, max_value=MAX_BACKOFF_S
        )
        next(delays)  # python-backoff generators start with a priming value
        first_failure: float | None = None  # per request: backoff asks for a new wait_for

        def wait_for(exc: Exception) -> float:
            nonlocal first_failure
            now = time.monotonic()
            first_failure = now if first_failure is None else first_failure
            failing = now - first_failure
            left = self.max_retry_s - failing
            status = status_of(exc)
            if status == HTTPStatus.TOO_MANY_REQUESTS:
                self.pacer.refused()
            after = retry_after_seconds(exc)
            if after is not None and after > left:
                reason = f"the API asks to wait {after:.0f} s"
            elif left <= 0:
                reason = f"still failing after {failing:.0f} s"
            elif after is not None:
                return after
            else:
                unauthorised = status == HTTPStatus.UNAUTHORIZED
                return 0.0 if unauthorised else min(backoff.full_jitter(next(delays)), left)
            msg = (
                f"{self.stream.name}: {self.cause(exc)}; {reason}, beyond the retry budget "
                f"(max_retry_seconds={self.max_retry_s:g})"
            )
            raise RetryBudgetSpentError(msg) from None

        return wait_for

    def cause(self, exc: BaseException | None) -> str:
        """Why a request failed: its status and path, and what was wrong with a 2xx body."""
        response = getattr(exc, "response", None)
        if response is None:
            return type(exc).__name__
        if response.status_code < HTTPStatus.BAD_REQUEST and isinstance(exc, RetriableAPIError):
            # A truncated or HTML 200: the exception's own line says what was wrong.
            return str(exc).removeprefix(f"{self.stream.name}: ")
        return self.status_line(response)

    def retrying(self, details: Details) -> None:
        """One WARNING line per retry (never a header); the wait counts as waiting, not working."""
        exc = details.get("exception")
        wait = details.get("wait") or 0.0
        status = status_of(exc)
        self.progress.waited(RATE_LIMIT if status == HTTPStatus.TOO_MANY_REQUESTS else RETRY, wait)
        renewing = "renewing the access token and " if status == HTTPStatus.UNAUTHORIZED else ""
        self.logger.warning(
            "%s: %s; %sretrying in %.1f s (attempt %d of %d)",
            self.stream.name,
            self.cause(exc),
            renewing,
            wait,
            details["tries"],
            self.max_tries(),
        )

    # --- responses ----------------------------------------------------------------------------
    def status_line(self, response: requests.Response) -> str:
        """``HTTP status from GET /path``."""
        return f"HTTP {response.status_code} from {self.stream.request_label(response)}"

    def error_line(self, response: requests.Response) -> str:
        """``stream: HTTP status from GET /path: vendor message (ids)``."""
        message = self.stream.vendor_message(response)
        return f"{self.stream.name}: {self.status_line(response)}: {message}"

    def check(self, response: requests.Response) -> None:
        """Sort a response into success, retry (429, 408, 5xx, bad body, first 401) or stop."""
        stream, status = self.stream, response.status_code
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
        asked = self.page_size.asked
        if (
            status == HTTPStatus.BAD_REQUEST
            and asked is not None
            and self.page_size.refused(asked, stream.vendor_message(response))
        ):
            raise PageSizeRefusedError(self.error_line(response), response)
        if status in (HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND):
            hint = stream.unavailable_hint.format(name=stream.name)
            raise UnavailableStreamError(f"{self.error_line(response)}. {hint}")
        if status >= HTTPStatus.BAD_REQUEST:
            raise FatalAPIError(self.error_line(response))
        try:
            body = json_body(response, stream.records_key)
        except ValueError as exc:
            reason = not_json_reason(response, exc)
            msg = f"{stream.name}: {self.status_line(response)} is not JSON: {reason}"
            raise RetriableAPIError(msg, response) from None
        stream.check_body(response, body)
        self.authenticator.token_accepted(response)
        fill = stream.page_fill(body) if asked is not None else None
        if asked is not None and fill is not None:
            self.page_size.served(asked, *fill)
