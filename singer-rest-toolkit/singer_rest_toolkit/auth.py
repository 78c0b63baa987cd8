"""What a stream needs from its tap's authenticator: credentials on each request, and one
protocol for a 401."""

from __future__ import annotations

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
) -> None:
    """Sort a token request's answer: 429 and 5xx are retried, a refusal (``refusals``)
    stops the run with ``refused`` (what to check), any other 4xx stops it.

    ``step`` names the request in the error line (``authenticate``, ``token request``),
    ``message`` is the vendor's error message from the body.
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
