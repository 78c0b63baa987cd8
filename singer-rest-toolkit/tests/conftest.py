"""Fixtures shared by the toolkit's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer


@pytest.fixture
def threaded_httpserver() -> Iterator[HTTPServer]:
    """A server answering requests in parallel (the default one answers one at a time)."""
    server = HTTPServer(threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()
