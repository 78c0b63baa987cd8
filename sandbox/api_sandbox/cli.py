"""``python -m api_sandbox``: start the sandbox on a local port."""

from __future__ import annotations

import argparse
import errno
import logging
import socket
import sys
from collections.abc import Sequence

from aiohttp import web

from api_sandbox.app import Sandbox
from api_sandbox.faults import Fault
from api_sandbox.settings import SandboxSettings


def _vendor_float(text: str) -> tuple[str, float]:
    vendor, sep, value = text.partition("=")
    if not sep:
        msg = f"expected VENDOR=NUMBER, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    try:
        return vendor.strip(), float(value)
    except ValueError as exc:
        msg = f"expected VENDOR=NUMBER, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from exc


def _fault(text: str) -> Fault:
    try:
        return Fault.parse(text)
    except (ValueError, TypeError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    p = argparse.ArgumentParser(
        prog="api-sandbox",
        description="Local stand-ins for the Amilia, Amperity and Agyle Time APIs.",
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    p.add_argument(
        "--port", type=int, default=8765, help="TCP port (default 8765; 0 picks a free one)"
    )
    p.add_argument("--seed", type=int, default=42, help="seed of the synthetic data (default 42)")
    p.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="data volume multiplier: 0.01 is a handful of records, 1000 is millions (default 1)",
    )
    p.add_argument("--latency-ms", type=float, default=0.0, help="delay added to every response")
    p.add_argument(
        "--rate-limit",
        type=_vendor_float,
        action="append",
        default=[],
        metavar="VENDOR=RPS",
        help="requests/second ceiling for a vendor (0 = off); defaults to each vendor's documented limit",
    )
    p.add_argument(
        "--token-ttl",
        type=_vendor_float,
        action="append",
        default=[],
        metavar="VENDOR=SECONDS",
        help="lifetime of tokens a vendor's auth endpoint issues",
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
    p.add_argument("--port-file", help="write the bound port to this file once listening")
    p.add_argument(
        "--access-log", action="store_true", help="log each request line (never headers)"
    )
    return p


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
        "serving %s (seed %s, scale %s)", names, args.seed, args.scale
    )
    web.run_app(
        sandbox.build(),
        sock=sock,
        print=None,
        access_log=logging.getLogger("aiohttp.access") if args.access_log else None,
        handle_signals=True,
    )
    return 0
