"""Run-time settings of one sandbox server."""

from __future__ import annotations

from dataclasses import dataclass, field

from api_sandbox.clock import Clock


@dataclass
class SandboxSettings:
    """What the sandbox serves and how hostile it is.

    ``rate_limits`` maps a vendor name to requests per second on a strict 1-second
    sliding window; a vendor missing from it uses its documented default, and a
    value of 0 switches its limit off.
    """

    seed: int = 42
    scale: float = 1.0
    latency_ms: float = 0.0
    rate_limits: dict[str, float] = field(default_factory=dict)
    token_ttl_s: dict[str, float] = field(default_factory=dict)
    access_log: bool = False
    memoize_records: bool = False
    """Keep every generated record in memory (benchmarks: time the client, not the generator)."""
    clock: Clock = field(default_factory=Clock)
    """The one clock of the server: dated data, date filters and token times read it."""

    def rate_limit_for(self, vendor: str, default: float | None) -> float | None:
        """Requests per second enforced for ``vendor`` (None: unlimited)."""
        value = self.rate_limits.get(vendor, default)
        return value if value else None

    def token_ttl_for(self, vendor: str, default: float) -> float:
        """Lifetime in seconds of tokens the vendor's auth endpoint issues."""
        return self.token_ttl_s.get(vendor, default)
