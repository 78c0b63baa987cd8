"""``python -m api_sandbox``: start the sandbox on a local port."""

from __future__ import annotations

import argparse
import errno
import logging
import math
import socket
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import NoReturn

from aiohttp import web

from api_sandbox.app import Sandbox
from api_sandbox.clock import Clock, parse_instant
from api_sandbox.faults import Fault
from api_sandbox.settings import SandboxSettings
from api_sandbox.vendors import VENDOR_CLASSES

VENDOR_NAMES: tuple[str, ...] = tuple(cls.name for cls in VENDOR_CLASSES)
LIMITED_NAMES: tuple[str, ...] = VENDOR_NAMES + tuple(
    f"{cls.name}.{family}" for cls in VENDOR_CLASSES for family in cls.family_rate_limits
)
"""What a rate limit may name: a vendor (its main API), or ``vendor.family``."""
MAX_PORT = 65535


class OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line naming the option (no usage block), exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _number(text: str) -> float:
    """A finite float (``nan`` and ``inf`` are refused)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        msg = f"expected a finite number, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_PORT:
        msg = f"expected a whole number from 0 to {MAX_PORT} (0 picks a free port), got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _positive(text: str) -> float:
    value = _number(text)
    if value <= 0:
        msg = f"expected a number greater than 0, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _non_negative(text: str) -> float:
    value = _number(text)
    if value < 0:
        msg = f"expected a number of 0 or more, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _vendor_value(
    text: str, check: Callable[[str], float], names: tuple[str, ...] = VENDOR_NAMES
) -> tuple[str, float]:
    vendor, sep, value = text.partition("=")
    vendor = vendor.strip()
    if not sep:
        msg = f"expected VENDOR=NUMBER, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    if vendor not in names:
        msg = f"unknown vendor {vendor!r} in {text!r}; expected one of {', '.join(names)}"
        raise argparse.ArgumentTypeError(msg)
    try:
        return vendor, check(value.strip())
    except argparse.ArgumentTypeError as exc:
        msg = f"{vendor}: {exc}"
        raise argparse.ArgumentTypeError(msg) from exc


def _vendor_rate(text: str) -> tuple[str, float]:
    """``VENDOR=RPS`` or ``VENDOR.FAMILY=RPS``: 0 or more requests per second (0 switches
    the limit off)."""
    return _vendor_value(text, _non_negative, LIMITED_NAMES)


def _vendor_ttl(text: str) -> tuple[str, float]:
    """``VENDOR=SECONDS``: a token lifetime greater than 0."""
    return _vendor_value(text, _positive)


def _fault(text: str) -> Fault:
    try:
        return Fault.parse(text)
    except (ValueError, TypeError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _instant(text: str) -> datetime:
    try:
        return parse_instant(text)
    except ValueError:
        msg = f"expected an ISO-8601 date-time such as 2028-02-29T23:59:00Z, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None


def parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    p = OneLineParser(
        prog="api-sandbox",
        description="Local stand-ins for the Amilia, Amperity and Agyle Time APIs.",
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    p.add_argument(
        "--port", type=_port, default=8765, help="TCP port (default 8765; 0 picks a free one)"
    )
    p.add_argument("--seed", type=int, default=42, help="seed of the synthetic data (default 42)")
    p.add_argument(
        "--scale",
        type=_positive,
        default=1.0,
        help="data volume multiplier: 0.01 is a handful of records, 1000 is millions (default 1)",
    )
    p.add_argument(
        "--latency-ms",
        type=_non_negative,
        default=0.0,
        help="delay in milliseconds added to every response (0 or more)",
    )
    p.add_argument(
        "--rate-limit",
        type=_vendor_rate,
        action="append",
        default=[],
        metavar="VENDOR[.FAMILY]=RPS",
        help="requests/second ceiling for a vendor's main API, or one of its other API "
        "families (amperity.profile_api), 0 = off; defaults to each one's documented limit",
    )
    p.add_argument(
        "--token-ttl",
        type=_vendor_ttl,
        action="append",
        default=[],
        metavar="VENDOR=SECONDS",
        help="lifetime (greater than 0) of tokens a vendor's auth endpoint issues",
    )
    p.add_argument(
        "--fault",
        type=_fault,
        action="append",
        default=[],
        metavar="SPEC",
        help="arm a fault at start, e.g. vendor=amilia,kind=status,status=429,count=3,retry_after=1",
    )
    p.add_argument(
        "--memoize-records",
        action="store_true",
        help="keep generated records in memory, so repeated reads cost only serialization "
        "(for benchmarks: `make bench` times the client, not the data generator)",
    )
    p.add_argument(
        "--now",
        type=_instant,
        metavar="ISO-INSTANT",
        help="start the sandbox's clock at this instant (it ticks from there); dated data, "
        "date filters and tokens follow it (default: the system clock)",
    )
    p.add_argument("--port-file", help="write the bound port to this file once listening")
    p.add_argument(
        "--access-log", action="store_true", help="log each request line (never headers)"
    )
    return p


SWITCH_INTERVAL_S = 0.001
"""How long a thread building a page may hold the GIL while the event loop waits for it.

Python's default (5 ms) is paid at every socket call the loop makes while page threads are
busy: on a loaded machine the loop then stamped arrivals 100-340 ms late, into the next
rate-limit window (a real API's front door counts a request when it arrives). At 1 ms the
loop's longest stall in ``make demo`` fell from 0.34 s to under 0.05 s."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sandbox until interrupted."""
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s api-sandbox %(message)s")
    settings = SandboxSettings(
        seed=args.seed,
        scale=args.scale,
        latency_ms=args.latency_ms,
        rate_limits=dict(args.rate_limit),
        token_ttl_s=dict(args.token_ttl),
        access_log=args.access_log,
        memoize_records=args.memoize_records,
        clock=Clock(args.now),
    )
    sandbox = Sandbox(settings)
    for fault in args.fault:
        sandbox.faults.add(fault)
    try:
        sock = socket.create_server((args.host, args.port), reuse_port=False)
    except OSError as exc:
        reason = (
            "is already in use"
            if exc.errno == errno.EADDRINUSE
            else f"cannot be opened ({exc.strerror})"
        )
        print(
            f"api-sandbox: port {args.port} on {args.host} {reason}; choose another with --port",
            file=sys.stderr,
        )
        return 2
    port = sock.getsockname()[1]
    if args.port_file:
        with open(args.port_file, "w", encoding="utf-8") as handle:
            handle.write(str(port))
    names = ", ".join(f"{v.name} at http://{args.host}:{port}{v.prefix}" for v in sandbox.vendors)
    logging.getLogger("api_sandbox").info(
        "serving %s (seed %s, scale %s, clock %s)",
        names,
        args.seed,
        args.scale,
        "system" if args.now is None else f"from {args.now.isoformat()}",
    )
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    web.run_app(
        sandbox.build(),
        sock=sock,
        print=None,
        access_log=logging.getLogger("aiohttp.access") if args.access_log else None,
        handle_signals=True,
    )
    return 0
