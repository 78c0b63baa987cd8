"""SIGTERM and SIGINT stop a sync: exit 143 / 130 within seconds whatever the tap is doing (its
writer blocked on a reader that does not keep up, its workers blocked in requests the API does
not answer), with output a target can trust: every line whole JSON, no record twice, and a last
STATE that covers only records written, so that a run from it completes the sandbox's data.
Each tap through its CLI against the sandbox."""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from api_sandbox.testing import SandboxProcess
from repo_support import BIN, TAPS
from resilience.tap_profiles import SCALE, SEED, TapProfile, profile
from resilience.tap_runner import config_file, discovered_catalog, run_tap, select_only
from resilience.test_crash_resume import normalise

EXIT_CODES = {signal.SIGTERM: 143, signal.SIGINT: 130}
WITHIN_S = 10
"""The process ends this soon after the signal (the taps' own bound is 5 s; this one leaves
room for a loaded machine)."""
SMALL_PIPE = 4096
"""Bytes the stdout pipe holds (the least Linux allows): a block of records fills it."""
F_SETPIPE_SZ = 1031
PAUSE_S = 0.5
"""How long the slow reader stops reading before the signal: the writer blocks meanwhile."""
UNANSWERED_S = 8
"""A request answered this late is still pending when the signal arrives."""
REQUESTS_FIRST = 6
"""Requests the API answers before it stops answering (token and first pages)."""
RUN_TIMEOUT_S = 60


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxProcess]:
    with SandboxProcess(scale=SCALE, seed=SEED) as server:
        yield server


def crash_config(tap_profile: TapProfile, sandbox: SandboxProcess) -> dict[str, Any]:
    """The config of the crash/resume runs (their start date and pace: a sync of seconds),
    with the larger pages of the other resilience tests."""
    prefix = f"{tap_profile.tap.upper().replace('-', '_')}_"
    settings = {
        name.removeprefix(prefix).lower(): int(value) if value.isdigit() else value
        for name, value in tap_profile.crash_env.items()
    }
    config = tap_profile.config(sandbox)
    return {**config, **settings, "page_size": config.get("page_size", settings["page_size"])}


class StoppedRun:
    """One tap process, its stdout read by a thread (slowly when asked), then signalled."""

    def __init__(
        self, tap: str, config: dict[str, Any], streams: set[str], pause_at: bytes | None
    ) -> None:
        catalog = select_only(discovered_catalog(tap, json.dumps(config, sort_keys=True)), streams)
        self._files = config_file(tap, config)
        config_path = self._files.__enter__()
        catalog_path = config_path.with_name("catalog.json")
        catalog_path.write_text(json.dumps(catalog), encoding="utf-8")
        self.stderr_file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        self.process = subprocess.Popen(
            [str(BIN / tap), "--config", str(config_path), "--catalog", str(catalog_path)],
            stdout=subprocess.PIPE,
            stderr=self.stderr_file,
        )
        assert self.process.stdout is not None
        self._fd = self.process.stdout.fileno()
        fcntl.fcntl(self._fd, F_SETPIPE_SZ, SMALL_PIPE)
        self.output = bytearray()
        self.reading = threading.Event()
        self.reading.set()
        self._pause_at = pause_at
        """The reader stops reading once the output holds this (the slow reader): it stops
        itself, so a fast tap cannot write all its output before the test asks it to."""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            self.reading.wait()
            chunk = os.read(self._fd, SMALL_PIPE)
            if not chunk:
                return
            self.output += chunk
            if self._pause_at is not None and self._pause_at in self.output:
                self._pause_at = None
                self.reading.clear()

    def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while not condition():
            assert self.process.poll() is None, f"the tap ended before {what}: {self.stderr()}"
            assert time.monotonic() < deadline, f"no {what} within {RUN_TIMEOUT_S} s"
            time.sleep(0.01)

    def stop(self, signum: signal.Signals) -> float:
        """Send ``signum``, read on, and return the seconds the process took to end."""
        assert self.process.poll() is None, f"the sync ended before the signal: {self.stderr()}"
        sent = time.monotonic()
        self.process.send_signal(signum)
        self.reading.set()
        try:
            self.process.wait(timeout=RUN_TIMEOUT_S)
        finally:
            self.process.kill()
            self._reader.join(RUN_TIMEOUT_S)
            self._files.__exit__(None, None, None)
            self.log = self.stderr()
            self.stderr_file.close()
        return time.monotonic() - sent

    def stderr(self) -> str:
        self.stderr_file.seek(0)
        return self.stderr_file.read().decode("utf-8", "replace")[-4000:]


def messages(output: bytes) -> list[dict[str, Any]]:
    """The Singer messages of ``output``, which must be whole JSON lines, each ended."""
    assert output.endswith(b"\n"), f"a partial last line: {output[-200:]!r}"
    parsed = []
    for number, line in enumerate(output.splitlines(), 1):
        try:
            parsed.append(json.loads(line))
        except ValueError:
            pytest.fail(f"line {number} is not a whole JSON message: {line[:200]!r}")
    return parsed


def record_keys(tap_profile: TapProfile, records: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
    """The primary keys of ``records`` (stream, key values), each once: none may repeat."""
    keys: list[tuple[Any, ...]] = []
    for message in records:
        stream = message["stream"]
        columns = tap_profile.crash_streams[stream][0]
        keys.append((stream, *(normalise(message["record"][c]) for c in columns)))
    repeated = {key for key in keys if keys.count(key) > 1}
    assert not repeated, f"records written twice: {sorted(repeated, key=str)[:5]}"
    return set(keys)


def stopped_and_resumed(
    tap: str,
    signum: signal.Signals,
    sandbox: SandboxProcess,
    block: Callable[[StoppedRun], None],
    pause_at: bytes | None = None,
) -> None:
    """Start a sync, ``block`` it, signal it; check the exit, the output, and that a run from
    its last STATE completes the sandbox's data."""
    tap_profile = profile(tap)
    config = crash_config(tap_profile, sandbox)
    streams = set(tap_profile.crash_streams)
    run = StoppedRun(tap, config, streams, pause_at)
    block(run)
    took = run.stop(signum)
    stderr = run.log
    assert run.process.returncode == EXIT_CODES[signum], stderr
    assert took < WITHIN_S, f"ended {took:.1f} s after the signal"
    assert "Traceback" not in stderr, stderr
    name = signum.name
    assert re.search(rf"stopped by {name} after [\d,]+ records; the last STATE covers", stderr), (
        stderr
    )

    output = messages(bytes(run.output))
    written = record_keys(tap_profile, [m for m in output if m["type"] == "RECORD"])
    states = [m["value"] for m in output if m["type"] == "STATE"]
    assert states, "no STATE written"
    # A stream without a bookmark is read whole again: a run from the STATE resumes the others.
    bookmarked = streams & set(states[-1].get("bookmarks") or {})
    if not bookmarked:
        return
    sandbox.clear_faults()
    resumed = run_tap(tap, config, bookmarked, state=states[-1], timeout_s=RUN_TIMEOUT_S)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    for stream in bookmarked:
        columns, expected = tap_profile.crash_streams[stream]
        got = {key[1:] for key in written if key[0] == stream} | {
            tuple(normalise(record[c]) for c in columns)
            for record in resumed.records.get(stream, [])
        }
        want = {
            tuple(normalise(v) for v in (k if isinstance(k, tuple) else (k,))) for k in expected()
        }
        missing = want - got
        assert not missing, f"{stream}: the last STATE skipped {len(missing)} record(s) not written"


FIRST_RECORD = b'"type":"RECORD"'


def a_slow_reader(run: StoppedRun) -> None:
    """Records arrive, then nobody reads (the reader stops at the first record): the writer
    blocks in a write of its records."""
    run.wait_for(lambda: not run.reading.is_set(), "first record")
    time.sleep(PAUSE_S)


def unanswered_requests(sandbox: SandboxProcess, vendor: str) -> Callable[[StoppedRun], None]:
    """After the first requests, the API answers nothing (for longer than the test runs): the
    workers, or the main thread, wait in a request."""
    sandbox.reset()
    sandbox.add_fault(vendor, "slow", delay_s=UNANSWERED_S, count=-1, skip=REQUESTS_FIRST)

    def block(run: StoppedRun) -> None:
        def hits() -> int:
            faults: list[dict[str, Any]] = sandbox.control("GET", "faults")
            return sum(fault["hits"] for fault in faults)

        run.wait_for(lambda: hits() > 0, "unanswered request")
        time.sleep(PAUSE_S)

    return block


SIGNALS = [signal.SIGTERM, signal.SIGINT]


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: s.name)
@pytest.mark.parametrize("tap", TAPS)
def test_a_stop_while_the_reader_is_slow_ends_with_whole_lines_and_a_true_state(
    tap: str, signum: signal.Signals, sandbox: SandboxProcess
) -> None:
    sandbox.reset()
    stopped_and_resumed(tap, signum, sandbox, a_slow_reader, pause_at=FIRST_RECORD)


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: s.name)
@pytest.mark.parametrize("tap", TAPS)
def test_a_stop_while_requests_go_unanswered_ends_within_seconds(
    tap: str, signum: signal.Signals, sandbox: SandboxProcess
) -> None:
    block = unanswered_requests(sandbox, profile(tap).vendor)
    stopped_and_resumed(tap, signum, sandbox, block)
