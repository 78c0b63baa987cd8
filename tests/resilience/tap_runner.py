"""Run a tap's real CLI against the sandbox and read what it wrote."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repo_support import BIN


@dataclass
class TapRun:
    """Exit code, Singer messages and stderr of one tap process."""

    returncode: int
    stdout: str
    stderr: str
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    states: list[dict[str, Any]] = field(default_factory=list)
    timed_out: bool = False

    @property
    def last_error_line(self) -> str:
        """The last non-empty stderr line: where a failing tap states its cause."""
        lines = [line.strip() for line in self.stderr.splitlines() if line.strip()]
        return lines[-1] if lines else ""


@functools.cache
def discovered_catalog(tap: str, config_json: str) -> str:
    """`tap --discover` output (cached per config: discovery never calls the API twice)."""
    with config_file(tap, json.loads(config_json)) as path:
        result = subprocess.run(
            [str(BIN / tap), "--config", str(path), "--discover"],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
    return result.stdout


def select_only(catalog_json: str, streams: set[str]) -> dict[str, Any]:
    """A catalog with exactly ``streams`` selected."""
    catalog: dict[str, Any] = json.loads(catalog_json)
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = entry["tap_stream_id"] in streams
    return catalog


@contextmanager
def config_file(tap: str, config: dict[str, Any]) -> Iterator[Path]:
    """A private temporary config file, removed afterwards."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / f"{tap}-config.json"
        path.write_text(json.dumps(config), encoding="utf-8")
        yield path


def run_tap(
    tap: str,
    config: dict[str, Any],
    streams: set[str],
    *,
    state: dict[str, Any] | None = None,
    timeout_s: float = 120,
    env: dict[str, str] | None = None,
) -> TapRun:
    """Sync ``streams`` with the tap's CLI; a run past ``timeout_s`` is killed and flagged."""
    catalog = select_only(discovered_catalog(tap, json.dumps(config, sort_keys=True)), streams)
    with config_file(tap, config) as config_path:
        catalog_path = config_path.with_name("catalog.json")
        catalog_path.write_text(json.dumps(catalog), encoding="utf-8")
        args = [str(BIN / tap), "--config", str(config_path), "--catalog", str(catalog_path)]
        if state is not None:
            state_path = config_path.with_name("state.json")
            state_path.write_text(json.dumps(state), encoding="utf-8")
            args += ["--state", str(state_path)]
        try:
            result = subprocess.run(
                args,
                capture_output=True,
                text=True,
                timeout=timeout_s,
                check=False,
                env={**os.environ, **(env or {})},
            )
        except subprocess.TimeoutExpired as expired:
            return TapRun(-9, _text(expired.stdout), _text(expired.stderr), timed_out=True)
    run = TapRun(result.returncode, result.stdout, result.stderr)
    for line in result.stdout.splitlines():
        message = json.loads(line)
        if message["type"] == "RECORD":
            run.records.setdefault(message["stream"], []).append(message["record"])
        elif message["type"] == "STATE":
            run.states.append(message["value"])
    return run


def _text(output: bytes | str | None) -> str:
    if isinstance(output, bytes):
        return output.decode("utf-8", "replace")
    return output or ""
