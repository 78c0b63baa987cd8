"""Fixtures for the tap-amperity tests (helpers live in amperity_support.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from amperity.amperity_support import SCALE, SEED
from api_sandbox.testing import SandboxProcess, shared_sandbox
from tap_amperity.client import AmperityStream


def _relax(server: SandboxProcess) -> None:
    server.configure(rate_limits={"amperity": 0}, token_ttl_s={"amperity": 3600})


@pytest.fixture
def sandbox() -> Iterator[SandboxProcess]:
    """This worker's sandbox, reset, without its rate limit (tests that need it set it)."""
    server = shared_sandbox(scale=SCALE, seed=SEED)
    server.reset()
    _relax(server)
    yield server
    server.reset()
    _relax(server)


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Backoff waits of milliseconds (the production base is one second)."""
    monkeypatch.setattr(AmperityStream, "retry_base_delay_s", 0.01)
