"""Run-time settings of one sandbox server."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from api_sandbox.clock import Clock

PageSizeAnswer = Literal["cap", "refuse"]
PAGE_SIZE_ANSWERS: tuple[PageSizeAnswer, ...] = ("cap", "refuse")


class PageSizeRefusedError(Exception):
    """A page size above the maximum, refused: each vendor words its own 400."""

    def __init__(self, param: str, asked: int, maximum: int) -> None:
        super().__init__(f"{param} {asked} is above {maximum}")
        self.param = param
        self.asked = asked
        self.maximum = maximum


@dataclass(frozen=True)
class PageLimit:
    """The largest page a vendor serves, and what it does with a larger ``limit``: serve
    only ``maximum`` records (``cap``, silently) or answer 400 naming the parameter."""

    maximum: int
    over: PageSizeAnswer = "cap"

    @classmethod
    def from_dict(cls, value: dict[str, object]) -> PageLimit:
        """``{"max": N, "over": "cap"|"refuse"}``; ValueError otherwise."""
        maximum = value.get("max")
        over = value.get("over", "cap")
        if not isinstance(maximum, int) or maximum < 1 or over not in PAGE_SIZE_ANSWERS:
            msg = f"expected {{'max': positive integer, 'over': 'cap' or 'refuse'}}: {value!r}"
            raise ValueError(msg)
        return cls(maximum, "refuse" if over == "refuse" else "cap")


@dataclass
class SandboxSettings:
    """What the sandbox serves and how hostile it is.

    ``rate_limits`` maps a vendor name (its main API) or ``vendor.family`` (another API of
    the vendor with a limit of its own, e.g. ``amperity.profile_api``) to requests per second
    on a strict 1-second sliding window; one missing from it uses its documented default, and
    a value of 0 switches its limit off. ``page_limits`` maps a vendor name to the largest
    page it serves and how it answers a larger one (default: its documented behaviour).
    """

    seed: int = 42
    scale: float = 1.0
    latency_ms: float = 0.0
    rate_limits: dict[str, float] = field(default_factory=dict)
    token_ttl_s: dict[str, float] = field(default_factory=dict)
    page_limits: dict[str, PageLimit] = field(default_factory=dict)
    access_log: bool = False
    memoize_records: bool = False
    """Keep every generated record in memory (benchmarks: time the client, not the generator)."""
    clock: Clock = field(default_factory=Clock)
    """The one clock of the server: dated data, date filters and token times read it."""

    def rate_limit_for(self, limited: str, default: float | None) -> float | None:
        """Requests per second enforced for ``limited``, a vendor or ``vendor.family``
        (None: unlimited)."""
        value = self.rate_limits.get(limited, default)
        return value if value else None

    def page_size_for(self, vendor: str, param: str, asked: int, default_max: int) -> int:
        """The records a page of ``asked`` holds at ``vendor``: at most its maximum (its
        setting, else ``default_max``, capped silently); PageSizeRefusedError when refused."""
        limit = self.page_limits.get(vendor, PageLimit(default_max))
        if asked <= limit.maximum:
            return asked
        if limit.over == "refuse":
            raise PageSizeRefusedError(param, asked, limit.maximum)
        return limit.maximum

    def token_ttl_for(self, vendor: str, default: float) -> float:
        """Lifetime in seconds of tokens the vendor's auth endpoint issues."""
        return self.token_ttl_s.get(vendor, default)
