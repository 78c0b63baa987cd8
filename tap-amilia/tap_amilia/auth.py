"""The three ways to authorize with Amilia: user JWT, API key/secret pair, pre-minted JWT."""

from __future__ import annotations

import decimal
import logging
import time
from typing import Any, Protocol
from urllib.parse import urlparse

import jwt
import requests
from pyrate_limiter import Limiter
from requests.auth import HTTPBasicAuth
from singer_sdk.authenticators import APIAuthenticatorBase, BearerTokenAuthenticator
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError

logger = logging.getLogger("tap-amilia.auth")

REFRESH_MARGIN_S = 60.0
"""A token this close to its ``exp`` claim is renewed before use (they live a year)."""


class AmiliaAuthenticator(Protocol):
    """What the streams need from any of the three authenticators."""

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        """Add the credentials to a request."""

    def renew_after_401(self) -> bool:
        """A call answered 401: True if a retry may succeed with new credentials."""

    def token_accepted(self) -> None:
        """A call succeeded: a later 401 again deserves one renewal."""


def vendor_message(response: requests.Response) -> str:
    """Amilia's error ``Message`` and ``TransactionId``, else a short excerpt of the body."""
    try:
        body = response.json(parse_float=decimal.Decimal)
    except ValueError:
        text = " ".join((response.text or "").split())
        return text[:200] or response.reason or "(empty body)"
    if not isinstance(body, dict):
        return str(body)[:200]
    message = str(body.get("Message") or body.get("message") or response.reason or "no message")
    transaction = body.get("TransactionId") or body.get("transactionId")
    message = message[:300]
    return f"{message} (TransactionId {transaction})" if transaction else message


class ApiKeyAuthenticator(APIAuthenticatorBase):
    """``X-AMILIA-APIKEY`` / ``X-AMILIA-APISECRET`` on every call (nothing to renew)."""

    def __init__(self, *, api_key: str, api_secret: str) -> None:
        super().__init__()
        self.auth_headers = {"X-AMILIA-APIKEY": api_key, "X-AMILIA-APISECRET": api_secret}

    def renew_after_401(self) -> bool:
        """A refused key pair stays refused."""
        return False

    def token_accepted(self) -> None:
        """Nothing to track."""


class StaticTokenAuthenticator(BearerTokenAuthenticator):
    """A pre-minted JWT sent as Bearer (nothing to renew it with)."""

    def __init__(self, *, token: str) -> None:
        super().__init__(token=token)

    def renew_after_401(self) -> bool:
        """A refused token stays refused."""
        return False

    def token_accepted(self) -> None:
        """Nothing to track."""


def token_from_body(body: Any) -> str | None:
    """``{"Token": "..."}`` as documented, or a bare JSON string as some clients accept."""
    if isinstance(body, dict):
        body = body.get("Token") or body.get("token")
    return body if isinstance(body, str) and body.strip() else None


def token_expiry(token: str) -> float | None:
    """The JWT's ``exp`` claim (epoch seconds), if it has a readable one."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    exp = claims.get("exp")
    return float(exp) if isinstance(exp, int | float) else None


class UserTokenAuthenticator(APIAuthenticatorBase):
    """Username and password exchanged for a JWT by ``GET {api_url}/authenticate`` (Basic).

    One instance per tap, shared by every stream. The token request is paced by the tap's
    limiter; 429/5xx/garbled answers raise errors the calling stream retries, a refused
    login stops the run. After a 401 the token is dropped and fetched again, once.
    """

    def __init__(
        self,
        *,
        authenticate_url: str,
        username: str,
        password: str,
        headers: dict[str, str],
        limiter: Limiter,
        timeout: float,
    ) -> None:
        super().__init__()
        self._url = authenticate_url
        self._credentials = HTTPBasicAuth(username, password)
        self._headers = headers
        self._limiter = limiter
        self._timeout = timeout
        self._session = requests.Session()
        self._token: str | None = None
        self._expires_at: float | None = None
        self._renewed_after_401 = False
        self.tokens_issued = 0

    def authenticate_request(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Add ``Authorization: Bearer``, fetching a token first when there is none."""
        if not self._token_valid():
            self._fetch_token()
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def _token_valid(self) -> bool:
        if self._token is None:
            return False
        return self._expires_at is None or time.time() < self._expires_at - REFRESH_MARGIN_S

    def _fetch_token(self) -> None:
        self._limiter.try_acquire("amilia", blocking=True)
        logger.info("Requesting an Amilia token for the configured username")
        response = self._session.get(
            self._url, auth=self._credentials, headers=self._headers, timeout=self._timeout
        )
        where = f"GET {urlparse(self._url).path}"
        status = response.status_code
        if status == 429 or status >= 500:
            msg = f"authenticate: HTTP {status} from {where}: {vendor_message(response)}"
            raise RetriableAPIError(msg, response)
        if status in (401, 403):
            msg = (
                f"authenticate: Amilia refused the login: HTTP {status} from {where}: "
                f"{vendor_message(response)}. Check username and password."
            )
            raise FatalAPIError(msg)
        if status >= 400:
            msg = f"authenticate: HTTP {status} from {where}: {vendor_message(response)}"
            raise FatalAPIError(msg)
        try:
            token = token_from_body(response.json())
        except ValueError:
            token = None
        if token is None:
            msg = f"authenticate: HTTP {status} from {where} carried no Token"
            raise RetriableAPIError(msg, response)
        self._token = token.strip()
        self._expires_at = token_expiry(self._token)
        self.tokens_issued += 1
        logger.info("Got an Amilia token")

    def renew_after_401(self) -> bool:
        """Drop the token so the retry fetches a new one; False if that was already tried."""
        if self._renewed_after_401:
            return False
        self._renewed_after_401 = True
        self._token = None
        logger.info("Amilia answered 401: requesting a new token")
        return True

    def token_accepted(self) -> None:
        """A call succeeded with the current token."""
        self._renewed_after_401 = False
