"""Regenerate the settings block of each tap README from `tap-x --about --format=markdown`.

`--check` exits 1 when a README is out of date (the test suite runs the same comparison).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TAPS = ("tap-amilia", "tap-amperity", "tap-agyletime")
START, END = "<!-- about:start -->", "<!-- about:end -->"


def about_markdown(tap: str) -> str:
    """What the tap prints for `--about --format=markdown`."""
    executable = ROOT / ".venv" / "bin" / tap
    result = subprocess.run(
        [str(executable), "--about", "--format=markdown"],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def with_about(readme: str, about: str) -> str:
    """``readme`` with the block between the markers replaced by ``about``."""
    head, start, rest = readme.partition(START)
    _, end, tail = rest.partition(END)
    if not start or not end:
        msg = f"README has no {START} ... {END} block"
        raise ValueError(msg)
    return f"{head}{START}\n{about}\n{END}{tail}"


def main() -> int:
    """Rewrite (or with --check, verify) every tap README."""
    check = "--check" in sys.argv
    stale = []
    for tap in TAPS:
        path = ROOT / tap / "README.md"
        current = path.read_text(encoding="utf-8")
        wanted = with_about(current, about_markdown(tap))
        if wanted != current:
            stale.append(tap)
            if not check:
                path.write_text(wanted, encoding="utf-8")
    if stale:
        print(("out of date: " if check else "updated: ") + ", ".join(stale))
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
