"""Fixtures for the tap-amilia tests (helpers live in amilia_support.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from amilia.amilia_support import SCALE, SEED
from api_sandbox.testing import SandboxProcess, shared_sandbox
from tap_amilia.client import AmiliaStream


@pytest.fixture
def sandbox() -> Iterator[SandboxProcess]:
    """This worker's sandbox, reset (faults, stats, tokens, settings) around each test."""
    server = shared_sandbox(scale=SCALE, seed=SEED)
    server.reset()
    yield server
    server.reset()
    server.configure(latency_ms=0, rate_limits={"amilia": 100}, token_ttl_s={"amilia": 31536000})


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Backoff waits of milliseconds (the production base is one second)."""
    monkeypatch.setattr(AmiliaStream, "retry_base_delay_s", 0.01)
