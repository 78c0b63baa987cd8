"""Fixtures for the tap-agyletime tests (helpers live in agyletime_support.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agyletime.agyletime_support import SCALE, SEED
from api_sandbox.testing import SandboxProcess, shared_sandbox
from tap_agyletime.client import AgyleTimeStream


@pytest.fixture
def sandbox() -> Iterator[SandboxProcess]:
    """This worker's sandbox, reset (faults, stats, tokens, settings) around each test."""
    server = shared_sandbox(scale=SCALE, seed=SEED)
    server.reset()
    yield server
    server.reset()
    server.configure(latency_ms=0, rate_limits={"agyletime": 0}, token_ttl_s={"agyletime": 3600})


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Backoff waits of milliseconds (the production base is one second)."""
    monkeypatch.setattr(AgyleTimeStream, "retry_base_delay_s", 0.01)
