"""The two ways to authenticate: OAuth2 client credentials, or a token from the Amperity UI.

Both derive from the toolkit's RenewingAuthenticator (singer_rest_toolkit.auth).
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import requests
from singer_sdk.exceptions import RetriableAPIError
from typing_extensions import override

from singer_rest_toolkit.auth import (
    FixedCredentials,
    SessionFactory,
    TokenAuthenticator,
    raise_for_token_response,
)
from singer_rest_toolkit.responses import json_object
from tap_amperity.client import error_message

if TYPE_CHECKING:
    from singer_rest_toolkit.pacing import Pacer
    from tap_amperity.settings import AmperitySettings

DEFAULT_TOKEN_LIFETIME_S = 3600.0
"""Used when the token response has no ``expires_in`` (the documented example is 3600)."""
REFUSED = (HTTPStatus.BAD_REQUEST, HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN)


def _lifetime(expires_in: Any) -> float:
    try:
        value = float(expires_in)
    except (TypeError, ValueError):
        return DEFAULT_TOKEN_LIFETIME_S
    return value if value > 0 else DEFAULT_TOKEN_LIFETIME_S


class ClientCredentialsAuthenticator(TokenAuthenticator):
    """``POST {token_url}`` with the client id and secret in the form body, and the tenant
    in ``X-Amperity-Tenant`` (renewal, pace and thread safety: the toolkit's base)."""

    logger = logging.getLogger("tap-amperity.auth")
    rejection_hint = "a freshly issued token was refused too (check the API key's policies)"

    def __init__(
        self, settings: AmperitySettings, *, pacer: Pacer, session: SessionFactory
    ) -> None:
        super().__init__(pacer=pacer, timeout=settings.request_timeout, session=session)
        self.auth_endpoint = settings.token_url or f"{settings.api_base}/v0/oauth2/token"
        self.oauth_request_body = {
            "grant_type": "client_credentials",
            "client_id": str(settings.client_id),
            "client_secret": str(settings.client_secret),
        }
        self.oauth_headers = {"X-Amperity-Tenant": settings.tenant_id}

    @override
    def request_token(self, session: requests.Session, timeout: float) -> tuple[str, float | None]:
        response = session.post(
            self.auth_endpoint,
            data=self.oauth_request_body,
            headers=self.oauth_headers,
            timeout=timeout,
        )
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
        try:
            data = json_object(response)
            token = data["access_token"]
        except (ValueError, KeyError):
            msg = f"{heading} has no access_token"
            raise RetriableAPIError(msg, response) from None
        if not isinstance(token, str) or not token:
            msg = f"{heading} returned an empty access_token"
            raise RetriableAPIError(msg, response)
        return token, _lifetime(data.get("expires_in"))


UI_REFUSAL_HINT = (
    "the access_token expired or was revoked (or api_version is not accepted): generate a new "
    "token in the Amperity UI (or use client_id and client_secret, which the tap renews by "
    "itself)"
)


AmperityAuthenticator = ClientCredentialsAuthenticator | FixedCredentials
