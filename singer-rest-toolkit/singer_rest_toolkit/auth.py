"""What a stream needs from its tap's authenticator: credentials on each request, and one
protocol for a 401, written once for every vendor whose bearer token is renewed."""

from __future__ import annotations

import abc
import logging
import math
import threading
import time
from collections.abc import Callable, Collection
from typing import ClassVar, Protocol
from urllib.parse import urlsplit

import requests
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError

from singer_rest_toolkit.pacing import Pacer

SessionFactory = Callable[[], requests.Session]
"""The calling thread's HTTP session (``RestTap.thread_session``)."""


class RenewingAuthenticator(Protocol):
    """An authenticator shared by every stream and worker thread of a tap."""

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest: ...

    def ensure_token(self) -> None: ...

    def renew_after_401(self, response: requests.Response) -> bool: ...

    def token_accepted(self, response: requests.Response) -> None: ...

    @property
    def rejection_hint(self) -> str: ...


class FixedCredentials:
    """Credentials that cannot be renewed (a key pair, a pre-minted token): a 401 is final."""

    def __init__(
        self, headers: dict[str, str], rejection_hint: str = "the credentials were refused"
    ) -> None:
        self._headers = headers
        self.rejection_hint = rejection_hint
        """What the user should check when the credentials are refused."""

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        """Add the credentials."""
        r.headers.update(self._headers)
        return r

    def ensure_token(self) -> None:
        """Nothing expires."""

    def renew_after_401(self, response: requests.Response) -> bool:
        """A refused credential stays refused."""
        return False

    def token_accepted(self, response: requests.Response) -> None:
        """Nothing to track."""


def raise_for_token_response(
    response: requests.Response,
    *,
    step: str,
    message: str,
    refused: str,
    refusals: Collection[int] = (401, 403),
) -> str:
    """Sort a token request's answer: 429 and 5xx are retried, a refusal (``refusals``)
    stops the run with ``refused`` (what to check), any other 4xx stops it.

    ``step`` names the request in the error line (``authenticate``, ``token request``),
    ``message`` is the vendor's error message from the body. Returns the line's heading,
    ``step: HTTP 200 from POST /path``, for what the caller finds wrong in the body.
    """
    status = response.status_code
    where = (
        f"{response.request.method if response.request else 'POST'} {urlsplit(response.url).path}"
    )
    line = f"{step}: HTTP {status} from {where}: {message}"
    if status == 429 or status >= 500:
        raise RetriableAPIError(line, response)
    if status in refusals:
        raise FatalAPIError(f"{line}. {refused}")
    if status >= 400:
        raise FatalAPIError(line)
    return f"{step}: HTTP {status} from {where}"


class TokenLifetime:
    """When a bearer token is due for renewal: a tenth of its lifetime before it expires (at
    most ``max_margin_s``), so a request never leaves with a token about to lapse."""

    def __init__(self, max_margin_s: float = 60.0) -> None:
        self._max_margin_s = max_margin_s
        self._renew_at: float | None = None

    def start(self, lifetime_s: float | None) -> None:
        """A token valid for ``lifetime_s`` seconds (None: until refused) was issued now."""
        if lifetime_s is None:
            self._renew_at = math.inf
            return
        self._renew_at = time.monotonic() + lifetime_s - min(self._max_margin_s, lifetime_s / 10)

    def end(self) -> None:
        """The token was dropped."""
        self._renew_at = None

    @property
    def current(self) -> bool:
        """True while a token was issued and is not yet due for renewal."""
        return self._renew_at is not None and time.monotonic() < self._renew_at


def sent_token(response: requests.Response) -> str | None:
    """The bearer token the request behind ``response`` carried."""
    request = response.request
    header = request.headers.get("Authorization", "") if request is not None else ""
    return header.removeprefix("Bearer ") if header.startswith("Bearer ") else None


class TokenAuthenticator(abc.ABC):
    """A bearer token from the vendor's token endpoint, shared by every stream and worker.

    A vendor supplies only :meth:`request_token` (how to obtain a token, and its lifetime).
    Here, once for all: the token is renewed a little before it expires and once after a
    401; token requests wait for the main API's pace and go out on the calling thread's
    session; a refused credential costs one token request and stops the run.

    Thread safety: a lock makes "check, renew, read" one step, so threads that find the token
    expired together get one new token, not one each. A 401 is judged by the token the
    refused request carried: one sent with a token already replaced is retried with the
    current one; only the current token is dropped, so one renewal serves every thread that
    saw the 401. A token issued after a 401 and refused before any call accepted it means
    the credentials themselves are refused.
    """

    rejection_hint = "a freshly issued token was refused too"
    logger: ClassVar[logging.Logger] = logging.getLogger("singer_rest_toolkit.auth")
    """Where token requests are logged (a vendor names its own)."""

    def __init__(self, *, pacer: Pacer, timeout: float, session: SessionFactory) -> None:
        self._pacer = pacer
        self._timeout = timeout
        self._session = session
        self._lock = threading.RLock()
        self.access_token: str | None = None
        self.lifetime = TokenLifetime()
        self._renewing_after_401 = False
        self._unproven: str | None = None
        """A token issued after a 401 that no call has accepted yet."""
        self._refused: str | None = None
        """The error line of refused credentials: they stay refused for this run."""
        self.tokens_issued = 0

    @abc.abstractmethod
    def request_token(self, session: requests.Session, timeout: float) -> tuple[str, float | None]:
        """Ask the token endpoint for a token: (token, seconds it lives, None if unknown).

        Raise RetriableAPIError for an answer worth asking again (429, 5xx, a garbled body)
        and FatalAPIError for refused credentials (:func:`raise_for_token_response`).
        """

    def is_token_valid(self) -> bool:
        """True while the token has more than its refresh margin left."""
        return self.access_token is not None and self.lifetime.current

    def ensure_token(self) -> None:
        """Renew a missing or expiring token now; one thread renews, the others wait."""
        with self._lock:
            if not self.is_token_valid():
                self.update_access_token()

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        """Add ``Authorization: Bearer``, renewing first if the token expired meanwhile."""
        with self._lock:
            self.ensure_token()
            token = self.access_token
        r.headers["Authorization"] = f"Bearer {token}"
        return r

    def update_access_token(self) -> None:
        """Request a new token (paced), or raise an API error naming the token endpoint."""
        with self._lock:
            if self._refused is not None:
                raise FatalAPIError(self._refused)
            self._pacer.wait()
            self.logger.info("Requesting a new access token")
            try:
                token, lifetime = self.request_token(self._session(), self._timeout)
            except FatalAPIError as exc:
                self._refused = str(exc)
                raise
            self.access_token = token
            self.lifetime.start(lifetime)
            if self._renewing_after_401:
                self._unproven = token
                self._renewing_after_401 = False
            self.tokens_issued += 1
        if lifetime is None:
            self.logger.info("Got an access token")
        else:
            self.logger.info("Got an access token valid for %.0f s", lifetime)

    def renew_after_401(self, response: requests.Response) -> bool:
        """A call answered 401: drop its token so the retry gets a new one; False when the
        refused token was itself issued after a 401 and never accepted (stop, not loop)."""
        sent = sent_token(response)
        with self._lock:
            if sent is None or sent != self.access_token:
                return True  # an older token, already replaced (or being replaced): retry
            if sent == self._unproven:
                return False
            self.access_token = None
            self.lifetime.end()
            self._renewing_after_401 = True
        self.logger.info("HTTP 401: requesting a new access token")
        return True

    def token_accepted(self, response: requests.Response) -> None:
        """A call succeeded: its token is proven, a later 401 again deserves one renewal."""
        if self._unproven is None:  # the usual case, without taking the lock
            return
        sent = sent_token(response)
        with self._lock:
            if sent == self._unproven:
                self._unproven = None
