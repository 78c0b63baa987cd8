"""What every vendor module provides, and helpers they share."""

from __future__ import annotations

import abc
import asyncio
import secrets
import time
from collections.abc import Callable
from typing import Any, ClassVar, ParamSpec, TypeVar

import orjson
from aiohttp import web

from api_sandbox.settings import SandboxSettings


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON response encoded with orjson (fast enough for benchmark pages)."""
    return web.Response(
        body=orjson.dumps(body), status=status, headers=headers, content_type="application/json"
    )


_P = ParamSpec("_P")
_T = TypeVar("_T")


async def off_the_loop(build: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """Build a page in a worker thread: the event loop keeps taking requests meanwhile, so
    each is counted against the rate limit as it arrives (as an API's front door counts it),
    not late and in a bunch after a large page was built."""
    return await asyncio.to_thread(build, *args, **kwargs)


class TokenStore:
    """Tokens a vendor's auth endpoint issued, with expiry and bulk revocation."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._expiry: dict[str, float] = {}
        self.issued = 0

    def register(self, token: str, ttl_s: float | None = None) -> str:
        """Remember ``token`` as valid for ``ttl_s`` seconds (default: the store's)."""
        self._expiry[token] = time.monotonic() + (self.ttl_s if ttl_s is None else ttl_s)
        self.issued += 1
        return token

    def new_opaque(self) -> str:
        """Issue and remember a random opaque token."""
        return self.register(secrets.token_urlsafe(24))

    def is_valid(self, token: str) -> bool:
        """True if the token was issued here, is unexpired and not revoked."""
        expiry = self._expiry.get(token)
        return expiry is not None and time.monotonic() < expiry

    def revoke_all(self) -> None:
        """Every token issued so far stops working."""
        self._expiry.clear()


def bearer_token(request: web.Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header, if present."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class VendorAPI(abc.ABC):
    """One vendor's API, mounted under ``prefix`` of the sandbox.

    Subclasses add their routes to the vendor's sub-application and say how the vendor
    words an error; the server wraps every route with latency, the rate limit, faults
    and request statistics.
    """

    name: ClassVar[str]
    prefix: ClassVar[str]
    default_rate_limit: ClassVar[float | None] = None
    """Documented requests/second ceiling of the main API; the sandbox answers 429 above it."""
    family_rate_limits: ClassVar[dict[str, float]] = {}
    """Other APIs of the vendor with a documented ceiling of their own (see :meth:`family_of`)."""

    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings

    def family_of(self, path: str) -> str | None:
        """The API family of ``path`` (below the vendor's prefix); None for the main API."""
        return None

    def rate_limit_scope(self, request: web.Request) -> str:
        """What the vendor counts its rate limit per, beside the API family: "" for one
        count per vendor (per client IP: the sandbox has one client)."""
        return ""

    @abc.abstractmethod
    def add_routes(self, app: web.Application) -> None:
        """Register the vendor's routes on its sub-application."""

    @abc.abstractmethod
    def error_response(
        self, request: web.Request, status: int, message: str, headers: dict[str, str] | None = None
    ) -> web.Response:
        """The vendor's error body for ``status``."""

    def rate_limited_response(self, request: web.Request) -> web.Response:
        """What the vendor answers above its rate limit (default: 429, no Retry-After)."""
        return self.error_response(request, 429, "Too Many Requests")

    def revoke_tokens(self) -> None:  # noqa: B027 - optional hook, vendors without tokens skip it
        """Make every issued token invalid (the `expire_tokens` fault)."""

    def reset(self) -> None:  # noqa: B027 - optional hook
        """Forget run-time state (tokens, recorded headers) on `POST /_sandbox/reset`."""
