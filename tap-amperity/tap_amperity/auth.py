"""The two ways to authenticate: OAuth2 client credentials, or a token from the Amperity UI.

Both implement the toolkit's RenewingAuthenticator protocol (singer_rest_toolkit.auth).
"""

from __future__ import annotations

import logging
import threading
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import requests
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError

from singer_rest_toolkit.auth import TokenLifetime, raise_for_token_response
from singer_rest_toolkit.responses import json_object
from tap_amperity.client import error_message

if TYPE_CHECKING:
    from singer_rest_toolkit import RestTap

logger = logging.getLogger("tap-amperity.auth")

DEFAULT_TOKEN_LIFETIME_S = 3600.0
"""Used when the token response has no ``expires_in`` (the documented example is 3600)."""
REFUSED = (HTTPStatus.BAD_REQUEST, HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN)


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


class ClientCredentialsAuthenticator:
    """``POST {token_url}`` with the client id and secret in the form body.

    One instance per tap, shared by every stream and every worker thread. The token is
    renewed ahead of its expiry (a tenth of its lifetime, at most a minute) and once after a
    401. Token requests wait for the tap's pace like every other call, go out on the calling
    thread's session, and fail as API errors the streams retry (429, 5xx, bad body) or stop
    on (400/401/403: the credentials are wrong).

    Thread safety: a lock makes "check, renew, read" one step, so threads that find the token
    expired together get one new token, not one each. A 401 is judged by the token the
    rejected request carried: a request sent with a token that was already replaced just
    retries with the current one; only the current token is dropped, and a token issued
    after a 401 that is refused before any success means the key itself is refused.
    """

    def __init__(
        self,
        *,
        tap: RestTap,
        auth_endpoint: str,
        client_id: str,
        client_secret: str,
        tenant_id: str,
        timeout: float,
    ) -> None:
        self.auth_endpoint = auth_endpoint
        self.client_id = client_id
        self.client_secret = client_secret
        self.tenant_id = tenant_id
        self.access_token: str | None = None
        self.tokens_issued = 0
        self._tap = tap
        self._timeout = timeout
        self._refused: str | None = None
        self.lifetime = TokenLifetime()
        self._lock = threading.RLock()
        self._renewing_after_401 = False
        self._unproven: str | None = None
        """A token issued after a 401 that no call has accepted yet."""

    @property
    def oauth_request_body(self) -> dict[str, str]:
        """The documented form body."""
        return {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }

    @property
    def oauth_headers(self) -> dict[str, str]:
        """The token endpoint needs the tenant too."""
        return {"X-Amperity-Tenant": self.tenant_id}

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        """Add ``Authorization: Bearer``, renewing the token first if it is (nearly) expired:
        it may have expired while the request waited for its pace."""
        with self._lock:
            if not self.is_token_valid():
                self.update_access_token()
            token = self.access_token
        r.headers["Authorization"] = f"Bearer {token}"
        return r

    def ensure_token(self) -> None:
        """Renew the token now if it is (nearly) expired; one thread renews, others wait."""
        with self._lock:
            if not self.is_token_valid():
                self.update_access_token()

    def is_token_valid(self) -> bool:
        """True while the token has more than its refresh margin left."""
        return self.access_token is not None and self.lifetime.current

    def update_access_token(self) -> None:
        """Request a new token (paced), or raise an API error naming the token endpoint."""
        if self._refused is not None:  # refused credentials stay refused for this run
            raise FatalAPIError(self._refused)
        self._tap.pacer.wait()
        logger.info("Requesting a new Amperity access token")
        response = self._tap.thread_session().post(
            self.auth_endpoint,
            data=self.oauth_request_body,
            headers=self.oauth_headers,
            timeout=self._timeout,
        )
        try:
            heading = raise_for_token_response(
                response,
                step="token request",
                message=error_message(response),
                refused=(
                    "Amperity refused the OAuth client credentials: check client_id, "
                    "client_secret, tenant_id and token_url"
                ),
                refusals=REFUSED,
            )
        except FatalAPIError as exc:
            if response.status_code in REFUSED:
                self._refused = str(exc)  # refused credentials stay refused for this run
            raise
        try:
            data = json_object(response)
            token = data["access_token"]
        except (ValueError, KeyError):
            msg = f"{heading} has no access_token"
            raise RetriableAPIError(msg, response) from None
        if not isinstance(token, str) or not token:
            msg = f"{heading} returned an empty access_token"
            raise RetriableAPIError(msg, response)
        lifetime = _lifetime(data.get("expires_in"))
        self.access_token = token
        self.lifetime.start(lifetime)
        if self._renewing_after_401:
            self._unproven = token
            self._renewing_after_401 = False
        self.tokens_issued += 1
        logger.info("Got an access token valid for %.0f s", lifetime)

    def renew_after_401(self, response: requests.Response) -> bool:
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
            self.lifetime.end()
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


class StaticTokenAuthenticator:
    """``access_token`` from the Amperity UI, sent as Bearer; it cannot be renewed."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        """Add ``Authorization: Bearer``."""
        r.headers["Authorization"] = f"Bearer {self.token}"
        return r

    def ensure_token(self) -> None:
        """Nothing to renew."""

    def renew_after_401(self, response: requests.Response) -> bool:
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
