"""The three ways to authorize with Amilia: user JWT, API key/secret pair, pre-minted JWT."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import jwt
import requests
from requests.auth import HTTPBasicAuth
from singer_sdk.authenticators import APIAuthenticatorBase, BearerTokenAuthenticator
from singer_sdk.exceptions import RetriableAPIError
from typing_extensions import override

from singer_rest_toolkit.auth import RenewingAuthenticator, raise_for_token_response
from singer_rest_toolkit.config import invalid, is_set
from tap_amilia.client import DEFAULT_API_URL, common_headers, vendor_message

logger = logging.getLogger("tap-amilia.auth")

REFUSED = "Amilia refused the login: check username and password"
REFRESH_MARGIN_S = 60.0
"""A token this close to its ``exp`` claim is renewed before use (they live a year)."""


def bearer_of(response: requests.Response) -> str | None:
    """The token a response's request carried (to tell a stale token from the current one)."""
    value = response.request.headers.get("Authorization") if response.request else None
    return value.removeprefix("Bearer ") if value else None


class NothingToRenew:
    """Fixed credentials: nothing to renew, and a refusal is final."""

    rejection_hint = "the credentials were refused"

    def ensure_token(self) -> None:
        """Nothing expires."""

    def renew_after_401(self, response: requests.Response) -> bool:
        """A refused key pair or token stays refused."""
        return False

    def token_accepted(self, response: requests.Response) -> None:
        """Nothing to track."""


class ApiKeyAuthenticator(NothingToRenew, APIAuthenticatorBase):
    """``X-AMILIA-APIKEY`` / ``X-AMILIA-APISECRET`` on every call."""

    def __init__(self, *, api_key: str, api_secret: str) -> None:
        super().__init__()
        self.auth_headers = {"X-AMILIA-APIKEY": api_key, "X-AMILIA-APISECRET": api_secret}


class StaticTokenAuthenticator(NothingToRenew, BearerTokenAuthenticator):
    """A pre-minted JWT sent as Bearer."""

    def __init__(self, *, token: str) -> None:
        super().__init__(token=token)


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

    One instance per tap, shared by every stream and every worker thread. The token request
    is paced with every other call; 429/5xx/garbled answers raise errors the calling stream
    retries, a refused login stops the run. After a 401 the token is dropped and fetched
    again, once: with concurrent requests several calls can be refused the same token at
    once, so only the first of them renews it and the others simply retry with the new one.
    """

    def __init__(
        self,
        *,
        authenticate_url: str,
        username: str,
        password: str,
        headers: dict[str, str],
        pace: Callable[[], None],
        timeout: float,
    ) -> None:
        super().__init__()
        self._url = authenticate_url
        self._credentials = HTTPBasicAuth(username, password)
        self._headers = headers
        self._pace = pace
        self._timeout = timeout
        self._session = requests.Session()
        self._lock = threading.RLock()  # one token request at a time, whatever the thread
        self._token: str | None = None
        self._expires_at: float | None = None
        self._renewed_after_401 = False
        """The current token replaces one refused with a 401 and was not accepted yet."""
        self._refused: set[str] = set()
        """Tokens answered 401 (a late 401 for one of them is not a second refusal)."""
        self.tokens_issued = 0

    rejection_hint = "the credentials were refused"

    def ensure_token(self) -> None:
        """Fetch a token now when there is none or it is about to expire."""
        with self._lock:
            if not self._token_valid():
                self._fetch_token()

    @override
    def authenticate_request(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Add ``Authorization: Bearer``, fetching a token first when there is none."""
        with self._lock:
            self.ensure_token()
            token = self._token
        request.headers["Authorization"] = f"Bearer {token}"
        return request

    def _token_valid(self) -> bool:
        if self._token is None:
            return False
        return self._expires_at is None or time.time() < self._expires_at - REFRESH_MARGIN_S

    def _fetch_token(self) -> None:
        self._pace()
        logger.info("Requesting an Amilia token for the configured username")
        response = self._session.get(
            self._url, auth=self._credentials, headers=self._headers, timeout=self._timeout
        )
        heading = raise_for_token_response(
            response, step="authenticate", message=vendor_message(response), refused=REFUSED
        )
        try:
            token = token_from_body(response.json())
        except ValueError:
            token = None
        if token is None:
            msg = f"{heading} carried no Token"
            raise RetriableAPIError(msg, response)
        self._token = token.strip()
        self._expires_at = token_expiry(self._token)
        self.tokens_issued += 1
        logger.info("Got an Amilia token")

    def renew_after_401(self, response: requests.Response) -> bool:
        """Drop the refused token so the retry fetches a new one; False if that was tried.

        A 401 for a token other than the current one (already replaced by another thread)
        needs no renewal: the retry uses the current token.
        """
        refused = bearer_of(response)
        with self._lock:
            if refused is not None and refused != self._token and refused in self._refused:
                return True  # another call already dropped this token
            if refused is not None and self._token is not None and refused != self._token:
                return True  # the token was replaced meanwhile
            if self._renewed_after_401:
                return False
            if refused is not None:
                self._refused.add(refused)
            self._renewed_after_401 = True
            self._token = None
        logger.info("Amilia answered 401: requesting a new token")
        return True

    def token_accepted(self, response: requests.Response) -> None:
        """A call succeeded with the current token (a stale token's success proves nothing)."""
        used = bearer_of(response)
        if self._renewed_after_401 and (used is None or used == self._token):
            with self._lock:
                if used is None or used == self._token:
                    self._renewed_after_401 = False


AUTH_MODES = (("username", "password"), ("api_key", "api_secret"), ("token",))


def auth_mode(config: Mapping[str, Any]) -> tuple[str, ...]:
    """The one configured auth mode, or ConfigValidationError naming the settings."""
    for mode in AUTH_MODES:
        present = [name for name in mode if is_set(config, name)]
        if present and len(present) < len(mode):
            missing = next(name for name in mode if name not in present)
            raise invalid(f"{missing} is required with {present[0]}")
    chosen = [mode for mode in AUTH_MODES if all(is_set(config, name) for name in mode)]
    if not chosen:
        described = " or ".join(" + ".join(mode) for mode in AUTH_MODES)
        raise invalid(f"no credentials: set exactly one of {described}")
    if len(chosen) > 1:
        names = " and ".join(" + ".join(mode) for mode in chosen)
        raise invalid(f"more than one auth mode is set ({names}): keep exactly one")
    return chosen[0]


def authenticator_for(config: Mapping[str, Any], pace: Callable[[], None]) -> RenewingAuthenticator:
    """The configured auth mode's authenticator; ``pace`` paces token requests."""
    mode = auth_mode(config)
    if mode == ("api_key", "api_secret"):
        return ApiKeyAuthenticator(
            api_key=str(config["api_key"]), api_secret=str(config["api_secret"])
        )
    if mode == ("token",):
        return StaticTokenAuthenticator(token=str(config["token"]).strip())
    api_url = str(config.get("api_url") or DEFAULT_API_URL).rstrip("/")
    return UserTokenAuthenticator(
        authenticate_url=f"{api_url}/authenticate",
        username=str(config["username"]),
        password=str(config["password"]),
        headers=common_headers(config),
        pace=pace,
        timeout=float(config.get("request_timeout", 60)),
    )
