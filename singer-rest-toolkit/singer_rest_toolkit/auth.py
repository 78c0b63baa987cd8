"""What a stream needs from its tap's authenticator: credentials on each request, and one
protocol for a 401, written once for every vendor whose bearer token is renewed."""

from __future__ import annotations

import abc
import logging
import math
import threading
import time
from collections.abc import Callable, Collection
from typing import ClassVar

import requests
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from typing_extensions import override

from singer_rest_toolkit.pacing import Pacer
from singer_rest_toolkit.responses import request_label

SessionFactory = Callable[[], requests.Session]
"""The calling thread's HTTP session (``RestTap.thread_session``)."""
MAX_RENEWAL_MARGIN_S = 60.0


class RenewingAuthenticator:
    """A tap's authenticator, shared by its streams and threads; a 401 is final unless it
    renews its credentials (:class:`TokenAuthenticator`)."""

    rejection_hint = "the credentials were refused"

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        """Add the credentials."""
        raise NotImplementedError

    def ensure_token(self) -> None:
        """Renew a missing or expiring token before the request waits for its pace."""

    def renew_after_401(self, response: requests.Response) -> bool:
        """A call answered 401: True when a retry may be let through."""
        return False

    def token_accepted(self, response: requests.Response) -> None:
        """A call succeeded with the credentials it carried."""


class FixedCredentials(RenewingAuthenticator):
    """Credentials that cannot be renewed (a key pair, a pre-minted token)."""

    def __init__(
        self, headers: dict[str, str], rejection_hint: str = RenewingAuthenticator.rejection_hint
    ) -> None:
        self._headers = headers
        self.rejection_hint = rejection_hint

    @override
    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers.update(self._headers)
        return r


def raise_for_token_response(
    response: requests.Response,
    *,
    step: str,
    message: str,
    refused: str,
    refusals: Collection[int] = (401, 403),
) -> str:
    """Sort a token request's answer (``message``: the vendor's): 429 and 5xx are retried, a
    refusal stops the run with ``refused`` (what to check), any other 4xx stops it. Returns
    the line's heading, ``step: HTTP 200 from POST /path``, for what is wrong in the body."""
    status = response.status_code
    heading = f"{step}: HTTP {status} from {request_label(response)}"
    if status == 429 or status >= 500:
        raise RetriableAPIError(f"{heading}: {message}", response)
    if status in refusals:
        raise FatalAPIError(f"{heading}: {message}. {refused}")
    if status >= 400:
        raise FatalAPIError(f"{heading}: {message}")
    return heading


def _sent_token(response: requests.Response) -> str | None:
    """The bearer token the request behind ``response`` carried."""
    header = response.request.headers.get("Authorization", "") if response.request else ""
    return header.removeprefix("Bearer ") if header.startswith("Bearer ") else None


class TokenAuthenticator(RenewingAuthenticator, abc.ABC):
    """A bearer token from the vendor's token endpoint (a vendor supplies only
    :meth:`request_token`), renewed a tenth of its lifetime (at most a minute) before it
    expires and once after a 401; token requests are paced like the main API's.

    A lock makes "check, renew, read" one step: threads that find the token expired together
    get one new token. A 401 is judged by the token its request carried: one already replaced
    is retried with the current one, so one renewal serves every thread that saw the 401; a
    token issued after a 401 and refused before any call accepted it means the credentials
    themselves are refused (one token request, then the run stops)."""

    rejection_hint = "a freshly issued token was refused too"
    logger: ClassVar[logging.Logger] = logging.getLogger("singer_rest_toolkit.auth")
    """Where token requests are logged (a vendor names its own)."""

    def __init__(self, *, pacer: Pacer, timeout: float, session: SessionFactory) -> None:
        self._pacer = pacer
        self._timeout = timeout
        self._session = session
        self._lock = threading.RLock()
        self.access_token: str | None = None
        self._renew_at = 0.0
        self._renewing_after_401 = False
        self._unproven: str | None = None  # issued after a 401, not yet accepted by a call
        self._refused: str | None = None  # refused credentials' error: for the whole run

    @abc.abstractmethod
    def request_token(self, session: requests.Session, timeout: float) -> tuple[str, float | None]:
        """(a new token, seconds it lives or None); RetriableAPIError for an answer worth asking
        again, FatalAPIError for refused credentials (:func:`raise_for_token_response`)."""

    def is_token_valid(self) -> bool:
        """True while the token is not yet due for renewal."""
        return self.access_token is not None and time.monotonic() < self._renew_at

    @override
    def ensure_token(self) -> None:
        with self._lock:  # one thread renews, the others wait for its token
            if not self.is_token_valid():
                self.update_access_token()

    @override
    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        with self._lock:
            self.ensure_token()  # the token may have expired since the request was paced
            r.headers["Authorization"] = f"Bearer {self.access_token}"
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
            lives = math.inf if lifetime is None else lifetime
            # Early: no request leaves with a token about to lapse.
            self._renew_at = time.monotonic() + lives - min(MAX_RENEWAL_MARGIN_S, lives / 10)
            if self._renewing_after_401:
                self._unproven = token
                self._renewing_after_401 = False
        valid = "" if lifetime is None else f" valid for {lifetime:.0f} s"
        self.logger.info("Got an access token%s", valid)

    @override
    def renew_after_401(self, response: requests.Response) -> bool:
        """Drop the refused token so the retry gets a new one; False when it was itself issued
        after a 401 and never accepted (stop rather than loop)."""
        sent = _sent_token(response)
        with self._lock:
            if sent is None or sent != self.access_token:
                return True  # an older token, already replaced (or being replaced): retry
            if sent == self._unproven:
                return False
            self.access_token = None
            self._renewing_after_401 = True
        self.logger.info("HTTP 401: requesting a new access token")
        return True

    @override
    def token_accepted(self, response: requests.Response) -> None:
        """Its token is proven: a later 401 again deserves one renewal."""
        if self._unproven is None:  # the usual case, without taking the lock
            return
        sent = _sent_token(response)
        with self._lock:
            if sent == self._unproven:
                self._unproven = None
