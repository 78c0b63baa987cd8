"""Access key -> bearer JWT, renewed ahead of expiry and once after a 401."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import jwt
import requests
from requests.auth import HTTPBasicAuth
from singer_sdk.authenticators import APIAuthenticatorBase
from singer_sdk.exceptions import RetriableAPIError
from typing_extensions import override

from singer_rest_toolkit.auth import TokenLifetime, raise_for_token_response
from singer_rest_toolkit.pacing import Pacer
from tap_agyletime.client import jsend_message

logger = logging.getLogger("tap-agyletime.auth")
REFUSED = "Agyle Time refused the access key: check access_key_id and access_key_secret"

DEFAULT_TOKEN_LIFETIME_S = 900.0
"""Used when the token response has no ``expiresIn`` and the token carries no ``exp``."""


def token_lifetime(data: dict[str, Any], token: str) -> float:
    """Seconds the token lives: ``data.expiresIn``, else the JWT's ``exp`` claim, else 15 min.

    ``expireIn`` (no "s") is read too: one third-party client maps that spelling.
    """
    expires_in = data.get("expiresIn", data.get("expireIn"))
    try:
        if expires_in is not None and float(expires_in) > 0:
            return float(expires_in)
    except (TypeError, ValueError):
        pass
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return DEFAULT_TOKEN_LIFETIME_S
    exp = claims.get("exp")
    if isinstance(exp, int | float) and exp > time.time():
        return float(exp) - time.time()
    return DEFAULT_TOKEN_LIFETIME_S


def token_data(body: Any) -> dict[str, Any]:
    """The object holding ``accessToken``: JSend ``data`` (documented), else the body itself."""
    data = body.get("data") if isinstance(body, dict) else None
    if isinstance(data, dict):
        return data
    if isinstance(body, dict):
        return body
    msg = "the token response is not a JSON object"
    raise TypeError(msg)


class AgyleTimeAuthenticator(APIAuthenticatorBase):
    """``POST {tenant_url}/authority/token`` with HTTP Basic; the token goes out as Bearer.

    One instance per tap, shared by every stream (the toolkit's RenewingAuthenticator).
    Token requests take a slot of the tap's pace and fail as API errors the streams retry
    (429, 5xx, non-JSON) or stop on (401/403/400: the access key is wrong).
    """

    rejection_hint = "a freshly issued token was refused too"

    @override
    def __init__(
        self,
        *,
        auth_endpoint: str,
        client_id: str,
        client_secret: str,
        pacer: Pacer,
        timeout: float,
        session: Callable[[], requests.Session],
    ) -> None:
        super().__init__()
        self.auth_endpoint = auth_endpoint
        self.client_id = client_id
        self.client_secret = client_secret
        self._pacer = pacer
        self._timeout = timeout
        # A plain session (the tap's): the SDK's OAuth session retries POSTs by itself,
        # outside the pace.
        self._session = session
        self.access_token: str | None = None
        self.lifetime = TokenLifetime()
        self._renewed_after_401 = False
        self.tokens_issued = 0

    def is_token_valid(self) -> bool:
        """True while the token has more than its refresh margin left."""
        return self.access_token is not None and self.lifetime.current

    def ensure_token(self) -> None:
        """Renew a missing or expiring token now, before the request waits for its pace."""
        if not self.is_token_valid():
            self.update_access_token()

    @override
    def authenticate_request(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Add ``Authorization: Bearer`` (renewing first if the token expired meanwhile)."""
        self.ensure_token()
        request.headers["Authorization"] = f"Bearer {self.access_token}"
        return request

    def update_access_token(self) -> None:
        """Request a new token (paced), or raise an API error naming the token endpoint."""
        self._pacer.wait()
        logger.info("Requesting a new Agyle Time access token")
        response = self._session().post(
            self.auth_endpoint,
            auth=HTTPBasicAuth(self.client_id, self.client_secret),
            data={"grant_type": "client_credentials"},
            timeout=self._timeout,
        )
        heading = raise_for_token_response(
            response, step="token request", message=jsend_message(response), refused=REFUSED
        )
        try:
            data = token_data(response.json())
            token = data["accessToken"]
        except (ValueError, KeyError, TypeError):
            msg = f"{heading} is not a JSend token response"
            raise RetriableAPIError(msg, response) from None
        if not isinstance(token, str) or not token:
            msg = f"{heading} returned no data.accessToken"
            raise RetriableAPIError(msg, response)
        lifetime = token_lifetime(data, token)
        self.access_token = token
        self.lifetime.start(lifetime)
        self.tokens_issued += 1
        logger.info("Got an access token valid for %.0f s", lifetime)

    def renew_after_401(self, response: requests.Response) -> bool:
        """A call answered 401: drop the token so the retry gets a new one.

        Returns False when the token was already renewed because of a 401 and the fresh one
        was refused too, so the caller stops instead of looping.
        """
        if self._renewed_after_401:
            return False
        self._renewed_after_401 = True
        self.access_token = None
        self.lifetime.end()
        return True

    def token_accepted(self, response: requests.Response) -> None:
        """A call succeeded: a later 401 again deserves one renewal."""
        self._renewed_after_401 = False
