"""Paths and helpers shared by the cross-tap tests (importable: tests/ is on pythonpath)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

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
