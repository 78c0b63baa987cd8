"""One stream's HTTP exchange: pace, token, retries and Retry-After, the 401 renewal, the
one-line error and page-size negotiation. The stream hands it the SDK's hooks, one line each;
the vendor's reading of its responses stays on the stream (:class:`VendorSide`)."""

from __future__ import annotations

import time
from collections.abc import Callable
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

    def request_label(self, response: requests.Response) -> str: ...

    def vendor_message(self, response: requests.Response) -> str: ...

    def check_body(self, response: requests.Response, body: Any) -> None: ...

    def page_fill(self, body: Any) -> tuple[int, bool] | None: ...

    def request_again(self) -> requests.PreparedRequest: ...


class Exchange:
    """The requests of one stream: every attempt waits for its API family's pace (a token
    due for renewal is renewed first: the token request takes a slot of its own), failures
    are retried within ``max_retries``, and whatever stops the stream does so in one line."""

    def __init__(
        self,
        stream: VendorSide,
        *,
        authenticator: RenewingAuthenticator,
        pacer: Pacer,
        page_size: PageSize,
        progress: SyncProgress,
        max_retries: int,
        max_retry_s: float,
        logger: logging.Logger,
    ) -> None:
        self._stream = stream
        self._authenticator = authenticator
        self._pacer = pacer
        self.page_size = page_size
        self._progress = progress
        self._max_retries = max_retries
        self._max_retry_s = max_retry_s
        self._logger = logger

    # --- sending ------------------------------------------------------------------------------
    def paced(self, send: Send) -> Send:
        """``send``, after the token and the pace; inside the SDK's retry loop."""

        def paced(request: requests.PreparedRequest, context: Any) -> requests.Response:
            before_request()  # a fetch ahead: within its pool's memory, its reader not gone
            try:
                self._authenticator.ensure_token()
                with self._progress.waiting(RATE_LIMIT):
                    self._pacer.wait()
                with self._progress.waiting(API):
                    return send(request, context)
            except RedirectRefusedError as exc:  # the session knows no stream
                raise RedirectRefusedError(f"{self._stream.name}: {exc}") from None

        return paced

    def negotiated(self, retried: Send) -> Send:
        """``retried``, built again with a smaller page each time the API refuses the size."""

        def negotiated(request: requests.PreparedRequest, context: Any) -> requests.Response:
            while True:
                try:
                    return retried(request, context)
                except PageSizeRefusedError:
                    request = self._stream.request_again()

        return negotiated

    # --- retries (the SDK's backoff hooks) ----------------------------------------------------
    def max_tries(self) -> int:
        """Tries in all: the stream's ``max_tries`` when set, else ``max_retries``."""
        return self._stream.max_tries or self._max_retries

    def wait_for(self) -> Callable[[Exception], float]:
        """Retry-After when sent; no wait after a 401; else exponential with full jitter.

        Within the retry budget (``max_retry_seconds`` from the request's first failure): a
        Retry-After beyond what is left stops the request at once, a backoff is cut to it.
        A 429 also slows the family's pace (pacing.py).
        """
        delays = backoff.expo(
            base=2, factor=self._stream.retry_base_delay_s, max_value=MAX_BACKOFF_S
        )
        next(delays)  # python-backoff generators start with a priming value
        first_failure: float | None = None  # per request: backoff asks for a new wait_for

        def wait_for(exc: Exception) -> float:
            nonlocal first_failure
            now = time.monotonic()
            first_failure = now if first_failure is None else first_failure
            failing = now - first_failure
            left = self._max_retry_s - failing
            status = status_of(exc)
            if status == HTTPStatus.TOO_MANY_REQUESTS:
                self._pacer.refused()
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
                f"{self._stream.name}: {self.cause(exc)}; {reason}, beyond the retry budget "
                f"(max_retry_seconds={self._max_retry_s:g})"
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
            return str(exc).removeprefix(f"{self._stream.name}: ")
        return f"HTTP {response.status_code} from {self._stream.request_label(response)}"

    def retrying(self, details: Details) -> None:
        """One WARNING line per retry: stream, cause, wait and attempt (never a header).
        The wait counts as waiting (for the rate limit after a 429), not as working."""
        exc = details.get("exception")
        wait = details.get("wait") or 0.0
        status = status_of(exc)
        self._progress.waited(RATE_LIMIT if status == HTTPStatus.TOO_MANY_REQUESTS else RETRY, wait)
        self._logger.warning(
            "%s: %s; %s in %.1f s (attempt %d of %d)",
            self._stream.name,
            self.cause(exc),
            "renewing the access token and retrying"
            if status == HTTPStatus.UNAUTHORIZED
            else "retrying",
            wait,
            details["tries"],
            self.max_tries(),
        )

    # --- responses ----------------------------------------------------------------------------
    def error_line(self, response: requests.Response, message: str | None = None) -> str:
        """``stream: HTTP status from GET /path: vendor message (ids)``."""
        label = self._stream.request_label(response)
        if message is None:
            message = f": {self._stream.vendor_message(response)}"
        return f"{self._stream.name}: HTTP {response.status_code} from {label}{message}"

    def check(self, response: requests.Response) -> None:
        """Sort a response into success, retry (429, 408, 5xx, bad body, first 401) or stop."""
        stream, status = self._stream, response.status_code
        if status == HTTPStatus.UNAUTHORIZED:
            if self._authenticator.renew_after_401(response):
                raise RetriableAPIError(self.error_line(response), response)
            msg = f"{self.error_line(response)}; {self._authenticator.rejection_hint}"
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
            body = json_body(response)
        except ValueError as exc:
            reason = f" is not JSON: {not_json_reason(response, exc)}"
            raise RetriableAPIError(self.error_line(response, reason), response) from None
        stream.check_body(response, body)
        self._authenticator.token_accepted(response)
        fill = stream.page_fill(body) if asked is not None else None
        if asked is not None and fill is not None:
            self.page_size.served(asked, *fill)
