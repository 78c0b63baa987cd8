"""Start a sandbox in a child process for tests and benchmarks, and drive it over HTTP."""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

FOLLOW_CLOCK_ENV = "API_SANDBOX_FOLLOW_CLOCK"
"""When set (non-empty), sandboxes started here keep the caller's clock: a test process
whose clock is faked (time-machine) starts each sandbox with ``--now`` at its own
``datetime.now()`` and re-synchronises it on :meth:`SandboxProcess.reset`."""


def follows_caller_clock() -> bool:
    """True when sandboxes must run on this process's (possibly faked) clock."""
    return bool(os.environ.get(FOLLOW_CLOCK_ENV))


class SandboxStartError(RuntimeError):
    """The sandbox process exited before it was ready (e.g. its port is taken)."""

    def __init__(self, last_lines: list[str]) -> None:
        super().__init__(" ".join(last_lines))


class SandboxProcess:
    """A sandbox server in a child process on a free loopback port.

    >>> with SandboxProcess(scale=0.1) as sandbox:
    ...     sandbox.url("amilia")  # 'http://127.0.0.1:PORT/amilia'
    """

    def __init__(
        self, *args: str, scale: float = 1.0, seed: int = 42, latency_ms: float = 0.0, port: int = 0
    ) -> None:
        self.extra_args = list(args)
        self.follows_clock = follows_caller_clock() and "--now" not in self.extra_args
        """Runs on this process's clock (an explicit ``--now`` in ``args`` wins)."""
        self.requested_port = port
        self.scale = scale
        self.seed = seed
        self.latency_ms = latency_ms
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def url(self, vendor_prefix: str) -> str:
        """The base URL of a vendor prefix, e.g. ``url("amilia")``."""
        return f"{self.base_url}/{vendor_prefix.strip('/')}"

    def start(self, timeout_s: float = 20.0) -> SandboxProcess:
        """Start the server and wait until it answers its health check."""
        with tempfile.TemporaryDirectory() as tmp:
            port_file = Path(tmp) / "port"
            command = [
                sys.executable,
                "-m",
                "api_sandbox",
                "--port",
                str(self.requested_port),
                "--port-file",
                str(port_file),
                "--scale",
                str(self.scale),
                "--seed",
                str(self.seed),
                "--latency-ms",
                str(self.latency_ms),
                *self.extra_args,
            ]
            if self.follows_clock:
                command += ["--now", datetime.now(UTC).isoformat()]
            self._process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
                command, stdout=self._log, stderr=subprocess.STDOUT, env={**os.environ}
            )
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    raise SandboxStartError(
                        self.output().strip().splitlines()[-1:] or ["no output"]
                    )
                if port_file.exists() and port_file.read_text():
                    self.port = int(port_file.read_text())
                    try:
                        self.control("GET", "health")
                        return self
                    except OSError:
                        pass
                time.sleep(0.05)
        self.stop()
        msg = f"sandbox did not start within {timeout_s}s: {self.output()}"
        raise RuntimeError(msg)

    def stop(self) -> None:
        """Stop the server."""
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def output(self) -> str:
        """What the server printed so far."""
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")

    def control(self, method: str, route: str, body: Any = None) -> Any:
        """Call a ``/_sandbox/<route>`` control endpoint and return its JSON."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - loopback only
            f"{self.base_url}/_sandbox/{route}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return json.loads(response.read() or b"null")

    def add_fault(self, vendor: str, kind: str, **fields: Any) -> dict[str, Any]:
        """Arm a fault (see :mod:`api_sandbox.faults`)."""
        result: dict[str, Any] = self.control(
            "POST", "faults", {"vendor": vendor, "kind": kind, **fields}
        )
        return result

    def clear_faults(self) -> None:
        """Disarm every fault."""
        self.control("DELETE", "faults")

    def stats(self) -> dict[str, Any]:
        """Per-vendor request statistics."""
        result: dict[str, Any] = self.control("GET", "stats")
        return result

    def reset(self) -> None:
        """Clear faults, statistics and issued tokens (and keep the caller's clock)."""
        self.control("POST", "reset")
        if self.follows_clock:
            self.set_clock(datetime.now(UTC))

    def set_clock(self, now: datetime) -> datetime:
        """Set the sandbox's clock to ``now`` (it ticks from there); returns its reading."""
        answer: dict[str, Any] = self.control("POST", "clock", {"now": now.isoformat()})
        return datetime.fromisoformat(answer["now"])

    def clock(self) -> datetime:
        """The sandbox's clock."""
        answer: dict[str, Any] = self.control("GET", "clock")
        return datetime.fromisoformat(answer["now"])

    def configure(self, **settings: Any) -> dict[str, Any]:
        """Change latency_ms, rate_limits or token_ttl_s while running."""
        result: dict[str, Any] = self.control("POST", "config", settings)
        return result

    def __enter__(self) -> SandboxProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        self._log.close()


@dataclass(frozen=True)
class Received:
    """One request a :class:`RequestRecorder` received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class RequestRecorder:
    """Another host for redirect faults: a server on a second loopback address (127.0.0.2:
    another origin than the sandbox's 127.0.0.1) that answers ``200 {}`` to anything and
    records what it received, so a test can prove that no credential reached it.

    >>> with RequestRecorder() as recorder:
    ...     recorder.base_url  # 'http://127.0.0.2:PORT'
    """

    def __init__(self, host: str = "127.0.0.2") -> None:
        self.received: list[Received] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                received.append(Received(self.command, self.path, dict(self.headers), body))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            do_GET = do_POST = do_PUT = do_DELETE = _record  # noqa: N815 - http.server's names

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> RequestRecorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


_SHARED: dict[tuple[str, ...], SandboxProcess] = {}


def shared_sandbox(*args: str, scale: float = 0.05, seed: int = 42) -> SandboxProcess:
    """One sandbox per (args, scale, seed) for the whole test process, stopped at exit.

    Module-level test classes (``get_tap_test_class``) need a URL at import time, before
    fixtures exist; this starts the server on first use and reuses it afterwards.
    """
    key = (*args, str(scale), str(seed))
    if key not in _SHARED:
        sandbox = SandboxProcess(*args, scale=scale, seed=seed).start()
        atexit.register(sandbox.stop)
        _SHARED[key] = sandbox
    return _SHARED[key]
