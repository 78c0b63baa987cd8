"""Paths and helpers shared by the cross-tap tests (importable: tests/ is on pythonpath)."""

from __future__ import annotations

import io
import json
import subprocess
from collections.abc import Iterable
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from singer_sdk import Tap

from singer_rest_toolkit import RestTap
from singer_rest_toolkit.exchange import UnavailableStreamError

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
TAPS = ("tap-amilia", "tap-amperity", "tap-agyletime")


def about_json(tap: str) -> dict[str, Any]:
    """`tap-x --about --format=json`."""
    result = subprocess.run(
        [str(BIN / tap), "--about", "--format=json"], capture_output=True, text=True, check=True
    )
    about: dict[str, Any] = json.loads(result.stdout)
    return about


@dataclass
class SyncResult:
    """What one in-process sync wrote, and the error it stopped with, if any."""

    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    states: list[dict[str, Any]] = field(default_factory=list)
    error: Exception | None = None

    @property
    def final_state(self) -> dict[str, Any]:
        """The last STATE value."""
        return self.states[-1] if self.states else {}

    def bookmark(self, stream: str) -> datetime:
        """The stream's bookmark in the final state."""
        value = self.final_state["bookmarks"][stream]["replication_key_value"]
        return datetime.fromisoformat(value.replace("Z", "+00:00"))


def sync_output(tap: Tap, streams: Iterable[str]) -> tuple[bytes, Exception | None]:
    """Sync ``streams`` of ``tap`` in this process: the bytes it wrote to stdout, and the
    exception the sync stopped with, if any."""
    wanted = set(streams)
    for name, stream in tap.streams.items():
        stream.selected = name in wanted
    error: Exception | None = None
    output = io.BytesIO()
    buffer = io.TextIOWrapper(output, encoding="utf-8")
    with redirect_stdout(buffer):
        try:
            if isinstance(tap, RestTap):
                tap.run_sync()  # as the CLI does: no fetch ahead outlives the sync
            else:
                tap.sync_all()
        except Exception as exc:
            error = exc
    buffer.flush()
    return output.getvalue(), error


def sync_in_process(tap: Tap, streams: Iterable[str]) -> SyncResult:
    """Sync ``streams`` of ``tap`` in this process; collect RECORD and STATE messages.

    An exception ends the sync and is kept in the result, for the test to inspect; streams
    skipped as unavailable (403/404 to their first request) make the run fail as the CLI does:
    the first one's line is the result's error, once every other stream was synced.
    """
    wanted = set(streams)
    result = SyncResult(records={name: [] for name in wanted})
    output, result.error = sync_output(tap, wanted)
    if result.error is None and isinstance(tap, RestTap) and tap.unavailable_streams():
        result.error = UnavailableStreamError(tap.unavailable_streams()[0])
    for line in output.decode("utf-8").splitlines():
        message = json.loads(line)
        if message["type"] == "RECORD":
            result.records[message["stream"]].append(message["record"])
        elif message["type"] == "STATE":
            result.states.append(message["value"])
    return result
