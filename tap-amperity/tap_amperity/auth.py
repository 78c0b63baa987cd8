"""The two ways to authenticate: OAuth2 client credentials, or a token from the Amperity UI."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

import requests
from singer_sdk.authenticators import BearerTokenAuthenticator, OAuthAuthenticator
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError

from tap_amperity.responses import vendor_message

logger = logging.getLogger("tap-amperity.auth")

DEFAULT_TOKEN_LIFETIME_S = 3600.0
"""Used when the token response has no ``expires_in`` (the documented example is 3600)."""
MAX_REFRESH_MARGIN_S = 60.0


class ClientCredentialsAuthenticator(OAuthAuthenticator):
    """``POST {token_url}`` with the client id and secret in the form body.

    One instance per tap, shared by every stream and every worker thread. The token is
    renewed ahead of its expiry (a tenth of its lifetime, at most a minute) and once after a
    401. Token requests wait for the tap's pace like every other call, and fail as API
    errors the streams retry (429, 5xx, bad body) or stop on (400/401/403: the credentials are
    wrong).

    Thread safety: a lock makes "check, renew, read" one step, so threads that find the token
    expired together get one new token, not one each. A 401 is judged by the token the
    rejected request carried: a request sent with a token that was already replaced just
    retries with the current one; only the current token is dropped, and a token issued
    after a 401 that is refused before any success means the key itself is refused.
    """

    def __init__(
        self,
        *,
        auth_endpoint: str,
        client_id: str,
        client_secret: str,
        tenant_id: str,
        session: Callable[[], requests.Session],
        pace: Callable[[], None],
        timeout: float,
    ) -> None:
        super().__init__(
            auth_endpoint=auth_endpoint,
            client_id=client_id,
            client_secret=client_secret,
            oauth_headers={"X-Amperity-Tenant": tenant_id},
        )
        self._thread_session = (
            session  # the calling thread's session: requests.Session is not shared
        )
        self._pace = pace
        self._refused: str | None = None
        self._timeout = timeout
        self._expires_at: float | None = None
        self._refresh_margin_s = 0.0
        self._lock = threading.RLock()
        self._renewing_after_401 = False
        self._unproven: str | None = None
        """A token issued after a 401 that no call has accepted yet."""
        self.tokens_issued = 0

    @property
    def oauth_request_body(self) -> dict[str, Any]:
        """The documented form body."""
        return {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }

    def ensure_token(self) -> None:
        """Renew the token now if it is (nearly) expired; one thread renews, others wait."""
        with self._lock:
            if not self.is_token_valid():
                self.update_access_token()

    def authenticate_request(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Add ``Authorization: Bearer``, renewing the token first if it is (nearly) expired.

        Not the SDK's version: it writes the token into a shared header dict, which another
        thread may change between the write and the read.
        """
        with self._lock:
            if not self.is_token_valid():
                self.update_access_token()
            token = self.access_token
        request.headers["Authorization"] = f"Bearer {token}"
        return request

    def is_token_valid(self) -> bool:
        """True while the token has more than its refresh margin left."""
        return (
            self.access_token is not None
            and self._expires_at is not None
            and time.monotonic() < self._expires_at - self._refresh_margin_s
        )

    def update_access_token(self) -> None:
        """Request a new token (paced), or raise an API error naming the token endpoint."""
        if self._refused is not None:  # refused credentials stay refused for this run
            raise FatalAPIError(self._refused)
        self._pace()
        logger.info("Requesting a new Amperity access token")
        response = self._thread_session().post(
            self.auth_endpoint,
            data=self.oauth_request_body,
            headers=self._oauth_headers,
            timeout=self._timeout,
        )
        where = f"POST {urlparse(self.auth_endpoint).path}"
        status = response.status_code
        if status == 429 or status >= 500:
            msg = f"token request: HTTP {status} from {where}: {vendor_message(response)}"
            raise RetriableAPIError(msg, response)
        if status in (400, 401, 403):
            msg = (
                f"Amperity refused the OAuth client credentials: HTTP {status} from {where}: "
                f"{vendor_message(response)}. Check client_id, client_secret, tenant_id "
                "and token_url."
            )
            self._refused = msg
            raise FatalAPIError(msg)
        if status >= 400:
            msg = f"token request: HTTP {status} from {where}: {vendor_message(response)}"
            raise FatalAPIError(msg)
        try:
            data = response.json()
            token = data["access_token"]
        except (ValueError, KeyError, TypeError):
            msg = f"token request: HTTP {status} from {where} has no access_token"
            raise RetriableAPIError(msg, response) from None
        if not isinstance(token, str) or not token:
            msg = f"token request: {where} returned an empty access_token"
            raise RetriableAPIError(msg, response)
        lifetime = _lifetime(data.get("expires_in"))
        self.access_token = token
        self.last_refreshed = datetime.now(UTC)
        self.expires_in = int(lifetime)
        self._expires_at = time.monotonic() + lifetime
        self._refresh_margin_s = min(MAX_REFRESH_MARGIN_S, lifetime / 10)
        if self._renewing_after_401:
            self._unproven = token
            self._renewing_after_401 = False
        self.tokens_issued += 1
        logger.info("Got an access token valid for %.0f s", lifetime)

    def forget_rejected_token(self, response: requests.Response) -> bool:
        """A call answered 401: drop its token so the retry gets a new one.

        Returns False when the refused token was itself issued after a 401 and no call has
        accepted it since, so the caller stops instead of looping.
        """
        sent = sent_token(response)
        with self._lock:
            if sent is None or sent != self.access_token:
                return True  # an older token, already replaced (or being replaced): retry
            if sent == self._unproven:
                return False
            self.access_token = None
            self._expires_at = None
            self._renewing_after_401 = True
            return True

    def token_accepted(self, response: requests.Response) -> None:
        """A call succeeded: its token is proven, a later 401 again deserves one renewal."""
        if self._unproven is None:  # the usual case, without taking the lock
            return
        sent = sent_token(response)
        with self._lock:
            if sent == self._unproven:
                self._unproven = None

    @property
    def rejection_hint(self) -> str:
        """What to tell the user when a fresh token is refused."""
        return "a freshly issued token was refused too (check the API key's policies)"


class StaticTokenAuthenticator(BearerTokenAuthenticator):
    """``access_token`` from the Amperity UI, sent as Bearer; it cannot be renewed."""

    def ensure_token(self) -> None:
        """Nothing to renew."""

    def forget_rejected_token(self, response: requests.Response) -> bool:
        """A 401 is final: the tap cannot get a new UI token."""
        return False

    def token_accepted(self, response: requests.Response) -> None:
        """Nothing to reset."""

    @property
    def rejection_hint(self) -> str:
        """What to tell the user on a 401."""
        return (
            "the access_token expired or was revoked (or api_version is not accepted): generate "
            "a new token in the Amperity UI (or use client_id and client_secret, which the tap "
            "renews by itself)"
        )


AmperityAuthenticator = ClientCredentialsAuthenticator | StaticTokenAuthenticator


def sent_token(response: requests.Response) -> str | None:
    """The bearer token the request behind ``response`` carried."""
    request = response.request
    header = request.headers.get("Authorization", "") if request is not None else ""
    return header.removeprefix("Bearer ") if header.startswith("Bearer ") else None


def _lifetime(expires_in: Any) -> float:
    try:
        value = float(expires_in)
    except (TypeError, ValueError):
        return DEFAULT_TOKEN_LIFETIME_S
    return value if value > 0 else DEFAULT_TOKEN_LIFETIME_S
