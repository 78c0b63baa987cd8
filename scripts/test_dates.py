"""`make test-dates`: the date-sensitive tests with the whole run's clock at fixed instants.

Each instant runs pytest with ``TEST_NOW`` set: tests/conftest.py starts every test at that
instant with time-machine (ticking), which covers the tests and the taps they run in
process, and the sandboxes they start follow it (``--now``, re-synchronised on reset).
``--now``/``NOW`` runs one instant; ``TZ`` (the variable) replaces each instant's zone.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

DATE_TESTS = (
    "tests/sandbox",
    "tests/amilia/test_amilia_state.py",
    "tests/amilia/test_amilia_sync.py",
    "tests/amperity/test_amperity_state.py",
    "tests/amperity/test_amperity_sync.py",
    "tests/agyletime/test_agyletime_state.py",
    "tests/agyletime/test_agyletime_sync.py",
    "tests/test_date_edges.py",
)
"""State, windows, sync completeness, the sandbox's data, and the taps' date edges."""

INSTANTS: tuple[tuple[str, str, str], ...] = (
    ("2027-05-31T23:59:00Z", "UTC", "the last minute of a month, a Monday"),
    ("2027-12-31T23:59:00Z", "UTC", "the last minute of a year"),
    ("2028-02-29T12:00:00Z", "Australia/Sydney", "29 February (23:00 in Sydney)"),
    ("2027-03-14T07:30:00Z", "America/Toronto", "Toronto springs forward, a Sunday"),
    ("2027-04-03T16:30:00Z", "Australia/Sydney", "Sydney falls back (Sunday 02:30 AEST)"),
)


REAL_CLOCK_TESTS = "fails_in_one_line"
"""The bad-bookmark CLI tests run the tap in a subprocess, on the real clock: repeating them
at every instant proves nothing more, so they run at the first instant only."""


def run(now: str, zone: str, pytest_args: list[str], *, everything: bool) -> int:
    """pytest on the date tests with the clock at ``now`` and ``TZ=zone``; its exit code."""
    env = {**os.environ, "TEST_NOW": now, "TZ": zone}
    command = [str(ROOT / ".venv" / "bin" / "pytest"), "-n", "2", "--dist", "loadgroup", "-q"]
    if not everything:
        command += ["-k", f"not {REAL_CLOCK_TESTS}"]
    return subprocess.call([*command, *pytest_args, *DATE_TESTS], cwd=ROOT, env=env)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--now", default="", help="one ISO-8601 instant instead of the list")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments")
    args = parser.parse_args()
    zone_override = os.environ.get("TZ", "")
    if args.now:
        try:
            datetime.fromisoformat(args.now.replace("Z", "+00:00"))
        except ValueError:
            print(f"test-dates: NOW must be an ISO-8601 instant, got {args.now!r}", file=sys.stderr)
            return 2
        instants = [(args.now, zone_override or "UTC", "NOW")]
    else:
        instants = [(now, zone_override or zone, why) for now, zone, why in INSTANTS]
    results: list[tuple[str, str, int, float]] = []
    started = time.monotonic()
    for now, zone, why in instants:
        print(f"\n=== test-dates: {now} TZ={zone}: {why}", flush=True)
        began = time.monotonic()
        code = run(now, zone, args.pytest_args, everything=not results)
        results.append((now, zone, code, time.monotonic() - began))
    print(
        f"\n=== test-dates summary ({time.monotonic() - started:.0f} s, real clock "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC)"
    )
    for now, zone, code, seconds in results:
        print(f"  {'ok  ' if code == 0 else 'FAIL'} {now} TZ={zone} ({seconds:.0f} s)")
    return 0 if all(code == 0 for *_, code, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
