"""Fixtures of the end-to-end tests: a private sandbox and Meltano environment per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from api_sandbox.testing import SandboxProcess
from e2e.meltano_support import SANDBOX_ARGS, SCALE, isolated_env


@pytest.fixture
def sandbox() -> Iterator[SandboxProcess]:
    with SandboxProcess(*SANDBOX_ARGS, scale=SCALE) as server:
        yield server


@pytest.fixture
def meltano_env(tmp_path: Path) -> dict[str, str]:
    return isolated_env(tmp_path)
