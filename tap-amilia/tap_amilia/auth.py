"""The three ways to authorize with Amilia: user JWT, API key/secret pair, pre-minted JWT."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import jwt
import requests
from requests.auth import HTTPBasicAuth
from singer_sdk.exceptions import RetriableAPIError
from typing_extensions import override

from singer_rest_toolkit.auth import (
    FixedCredentials,
    RenewingAuthenticator,
    SessionFactory,
    TokenAuthenticator,
    raise_for_token_response,
)
from singer_rest_toolkit.config import invalid, is_set
from tap_amilia.client import common_headers, vendor_message

if TYPE_CHECKING:
    from singer_rest_toolkit.pacing import Pacer
    from tap_amilia.settings import AmiliaSettings

REFUSED = "Amilia refused the login: check username and password"


def token_from_body(body: Any) -> str | None:
    """``{"Token": "..."}`` as documented, or a bare JSON string as some clients accept."""
    if isinstance(body, dict):
        body = body.get("Token") or body.get("token")
    return body if isinstance(body, str) and body.strip() else None


def token_lifetime(token: str) -> float | None:
    """Seconds until the JWT's ``exp`` claim, if it has a readable one (they live a year)."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    exp = claims.get("exp")
    return float(exp) - time.time() if isinstance(exp, int | float) else None


class UserTokenAuthenticator(TokenAuthenticator):
    """Username and password exchanged for a JWT by ``GET {api_url}/authenticate`` (Basic)."""

    logger = logging.getLogger("tap-amilia.auth")
    rejection_hint = "the credentials were refused"

    def __init__(self, settings: AmiliaSettings, *, pacer: Pacer, session: SessionFactory) -> None:
        super().__init__(pacer=pacer, timeout=settings.request_timeout, session=session)
        self._url = f"{settings.api_url.rstrip('/')}/authenticate"
        self._credentials = HTTPBasicAuth(str(settings.username), str(settings.password))
        self._headers = common_headers(settings)

    @override
    def request_token(self, session: requests.Session, timeout: float) -> tuple[str, float | None]:
        response = session.get(
            self._url, auth=self._credentials, headers=self._headers, timeout=timeout
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
        return token.strip(), token_lifetime(token.strip())


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


def authenticator_for(
    settings: AmiliaSettings, *, pacer: Pacer, session: SessionFactory
) -> RenewingAuthenticator:
    """The configured auth mode's authenticator; token requests wait for ``pacer``."""
    mode = auth_mode(dataclasses.asdict(settings))
    if mode == ("api_key", "api_secret"):
        keys = {
            "X-AMILIA-APIKEY": str(settings.api_key),
            "X-AMILIA-APISECRET": str(settings.api_secret),
        }
        return FixedCredentials(keys)
    if mode == ("token",):
        return FixedCredentials({"Authorization": f"Bearer {str(settings.token).strip()}"})
    return UserTokenAuthenticator(settings, pacer=pacer, session=session)
