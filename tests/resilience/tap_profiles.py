"""What the cross-tap resilience tests need to know about each tap.

A profile names the paged stream the fault matrix syncs, the sandbox route its pages come
from, the sandbox config with fast retries, and the primary keys the sandbox holds for that
stream — computed from the sandbox's own data model, never from the tap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from api_sandbox.testing import SandboxProcess

SCALE = 0.05
SEED = 42


@dataclass(frozen=True)
class TapProfile:
    """One tap as the fault matrix sees it."""

    tap: str
    vendor: str
    stream: str
    """A stream with at least three pages at SCALE and the config's page size."""
    route: str
    """Regex matching the request path of that stream's pages (faults hit only these)."""
    config: Callable[[SandboxProcess], dict[str, Any]]
    expected_keys: Callable[[], set[Any]]
    record_key: Callable[[dict[str, Any]], Any]
    uses_tokens: bool
    """True if the tap's auth has a token that can expire or be revoked."""
    crash_streams: dict[str, tuple[tuple[str, ...], Callable[[], set[Any]]]]
    """Streams of the crash/resume test: key columns and the keys the sandbox holds."""
    crash_env: Callable[[SandboxProcess], dict[str, str]]
    """Meltano environment for the crash/resume runs (start date, small pages)."""


def _agyletime() -> TapProfile:
    from agyletime.agyletime_support import days_ago, expected_keys, sandbox_config

    def config(sandbox: SandboxProcess) -> dict[str, Any]:
        return sandbox_config(sandbox, start_date=days_ago(4).isoformat(), page_size=5)

    return TapProfile(
        tap="tap-agyletime",
        vendor="agyletime",
        stream="tasks",
        route=r"/workactivity/tasks$",
        config=config,
        expected_keys=lambda: expected_keys("tasks", days_ago(4)),
        record_key=lambda record: (record["id"], record["createdAt"]),
        uses_tokens=True,
        crash_streams={
            "tasks": (("id", "createdAt"), lambda: expected_keys("tasks", days_ago(10))),
            "users": (("id",), lambda: expected_keys("users", days_ago(10))),
        },
        crash_env=lambda _: {
            "TAP_AGYLETIME_START_DATE": days_ago(10).isoformat(),
            "TAP_AGYLETIME_PAGE_SIZE": "3",
            "TAP_AGYLETIME_MAX_REQUESTS_PER_SECOND": "15",
        },
    )


PROFILE_FACTORIES: dict[str, Callable[[], TapProfile]] = {
    "tap-agyletime": _agyletime,
}


def profile(tap: str) -> TapProfile:
    """The profile of ``tap`` (built lazily: importing one tap's support needs only that tap)."""
    return PROFILE_FACTORIES[tap]()
