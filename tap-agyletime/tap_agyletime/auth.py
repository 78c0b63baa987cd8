"""Access key -> bearer JWT, renewed ahead of expiry and once after a 401."""

from __future__ import annotations

import logging
import time
from typing import Any

import jwt
import requests
from requests.auth import HTTPBasicAuth
from singer_sdk.exceptions import RetriableAPIError
from typing_extensions import override

from singer_rest_toolkit.auth import SessionFactory, TokenAuthenticator, raise_for_token_response
from singer_rest_toolkit.pacing import Pacer
from tap_agyletime.client import jsend_message

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


class AgyleTimeAuthenticator(TokenAuthenticator):
    """``POST {tenant_url}/authority/token`` with HTTP Basic; the token goes out as Bearer
    (renewal, pace and thread safety: the toolkit's base). A plain session (the tap's): the
    SDK's OAuth session retries POSTs by itself, outside the pace."""

    logger = logging.getLogger("tap-agyletime.auth")

    @override
    def __init__(
        self,
        *,
        auth_endpoint: str,
        client_id: str,
        client_secret: str,
        pacer: Pacer,
        timeout: float,
        session: SessionFactory,
    ) -> None:
        super().__init__(pacer=pacer, timeout=timeout, session=session)
        self.auth_endpoint = auth_endpoint
        self._credentials = HTTPBasicAuth(client_id, client_secret)

    @override
    def request_token(self, session: requests.Session, timeout: float) -> tuple[str, float | None]:
        response = session.post(
            self.auth_endpoint,
            auth=self._credentials,
            data={"grant_type": "client_credentials"},
            timeout=timeout,
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
        return token, token_lifetime(data, token)
