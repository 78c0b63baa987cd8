"""What a stream needs from its tap's authenticator: credentials on each request, and one
protocol for a 401."""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Protocol
from urllib.parse import urlsplit

import requests
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError


class RenewingAuthenticator(Protocol):
    """An authenticator shared by every stream and worker thread of a tap."""

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        """Add the credentials to a request about to be sent (after the pace)."""

    def ensure_token(self) -> None:
        """Renew an expiring token now, before the request waits for its pace (a token
        request takes a pace slot of its own)."""

    def renew_after_401(self, response: requests.Response) -> bool:
        """After a 401: True if a retry may succeed (the rejected token was dropped and will
        be renewed), False if the credentials themselves were refused."""

    def token_accepted(self, response: requests.Response) -> None:
        """A request succeeded: a later 401 is worth one renewal again."""

    @property
    def rejection_hint(self) -> str:
        """What the user should check when the credentials are refused."""


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

    def start(self, lifetime_s: float) -> None:
        """A token valid for ``lifetime_s`` seconds was issued now."""
        self._renew_at = time.monotonic() + lifetime_s - min(self._max_margin_s, lifetime_s / 10)

    def end(self) -> None:
        """The token was dropped."""
        self._renew_at = None

    @property
    def current(self) -> bool:
        """True while a token was issued and is not yet due for renewal."""
        return self._renew_at is not None and time.monotonic() < self._renew_at
