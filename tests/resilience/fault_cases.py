"""The faults of the matrix: what is injected and which outcome each must end in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CELL_TIMEOUT_S = 90
REQUEST_TIMEOUT_S = 2
MAX_RETRIES = 5
"""Tries in all per request (the taps' `max_retries` convention); bursts below stay under it."""
ELSEWHERE = "http://127.0.0.2:9"
"""Another host for cross-host redirects (nothing listens: a tap that followed could not
fail with the refusal's line)."""


@dataclass(frozen=True)
class FaultCase:
    """One column of the matrix: faults to arm on the stream's page route, and the outcome."""

    name: str
    description: str
    faults: tuple[dict[str, Any], ...]
    completes: bool
    """The outcome required: a complete sync, or else a clear failure."""
    either: bool = False
    """True where both outcomes are sound (the tap may re-ask a page or stop on it)."""
    cause: str = ""
    """Regex the failing run's last stderr line must match (besides the stream name)."""
    needs_tokens: bool = False
    config: dict[str, Any] = field(default_factory=dict)


FAULTS = (
    FaultCase(
        "429 burst with Retry-After",
        "3 x 429, Retry-After 0.2 s",
        ({"kind": "status", "status": 429, "count": 3, "retry_after": 0.2},),
        completes=True,
    ),
    FaultCase(
        "429 burst without Retry-After",
        "2 x 429, no Retry-After (exponential backoff with jitter)",
        ({"kind": "status", "status": 429, "count": 2},),
        completes=True,
    ),
    FaultCase(
        "5xx burst within budget",
        "500, 502, 503 once each",
        tuple({"kind": "status", "status": s, "count": 1} for s in (500, 502, 503)),
        completes=True,
    ),
    FaultCase(
        "5xx beyond budget",
        f"503 on every page request (max_retries {MAX_RETRIES})",
        ({"kind": "status", "status": 503, "count": -1},),
        completes=False,
        cause=r"503",
    ),
    FaultCase(
        "slower than request timeout",
        f"one response delayed {REQUEST_TIMEOUT_S + 2} s, request_timeout {REQUEST_TIMEOUT_S} s",
        ({"kind": "slow", "delay_s": REQUEST_TIMEOUT_S + 2, "count": 1},),
        completes=True,
    ),
    FaultCase(
        "trickling body",
        f"one answer sent a byte a second, request_timeout {REQUEST_TIMEOUT_S} s",
        ({"kind": "trickle", "interval_s": 1, "count": 1},),
        completes=True,
    ),
    FaultCase(
        "same-host redirects",
        "301, then 302, 307 and 308, each to the same URL on the same host",
        tuple({"kind": "redirect", "status": s, "count": 1} for s in (301, 302, 307, 308)),
        completes=True,
    ),
    FaultCase(
        "cross-host redirect",
        f"307 to the same path on {ELSEWHERE} (the request carries credentials)",
        ({"kind": "redirect", "status": 307, "target": ELSEWHERE, "count": -1},),
        completes=False,
        cause=r"refused a redirect .* to 127\.0\.0\.2:9: ",
    ),
    FaultCase(
        "connection reset mid-body",
        "headers sent, then the connection is closed",
        ({"kind": "reset", "count": 1},),
        completes=True,
    ),
    FaultCase(
        "truncated JSON body",
        "status 200, body cut in half",
        ({"kind": "truncate", "count": 1},),
        completes=True,
    ),
    FaultCase(
        "HTML error page with 200",
        "status 200, text/html maintenance page",
        ({"kind": "html", "count": 1},),
        completes=True,
    ),
    FaultCase(
        "token expires mid-sync",
        "every issued token invalidated after the first page",
        ({"kind": "expire_tokens", "count": 1},),
        completes=True,
        needs_tokens=True,
    ),
    FaultCase(
        "token revoked mid-sync",
        "401 on every page request, a fresh token refused too",
        ({"kind": "revoke", "count": -1},),
        completes=False,
        cause=r"401",
        needs_tokens=True,
    ),
    FaultCase(
        "page token repeats",
        "the next-page pointer equals the current one (pagination loop)",
        ({"kind": "repeat_page_token", "count": 1},),
        completes=False,
        either=True,
        cause=r"(?i)same|loop|repeat",
    ),
    FaultCase(
        "empty page in the middle",
        "a page with no items that still points to a next page",
        ({"kind": "empty_page", "count": 1},),
        completes=True,
    ),
)
