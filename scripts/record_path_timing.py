"""CPU per record of the toolkit's record path, in process, without HTTP.

For each throughput case of scripts/bench.py, the stream's pages are read once from a
sandbox; then the stream is synced in this process many times with ``get_records`` reading
those pages (decoded again by msgspec each time, as the tap does), stdout to /dev/null. The
time to decode alone is measured the same way and subtracted: what is left is the record
path (post_process, conformance, the record loop, the writer). Prints microseconds per
record, best of the repeats (the least disturbed by other processes on the machine).

    .venv/bin/python scripts/record_path_timing.py [--repeats 7] [--records 20000] [STREAM...]
"""

from __future__ import annotations

import argparse
import decimal
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import CASES, RAW_PAGES, UNPACED, tap_config

from api_sandbox.testing import SandboxProcess

TAPS = {
    "amilia": ("tap_amilia.tap", "TapAmilia"),
    "amperity": ("tap_amperity.tap", "TapAmperity"),
    "agyletime": ("tap_agyletime.tap", "TapAgyleTime"),
}
DECODER = msgspec.json.Decoder(float_hook=decimal.Decimal)


def read_pages(vendor: str, base: str, stream: str, records: int) -> list[bytes]:
    """Pages of about ``records`` records in all, each re-encoded as the API's list."""
    pages: list[bytes] = []
    count = 0
    with requests.Session() as session:
        for page in RAW_PAGES[vendor](session, base, stream, 1000):
            pages.append(msgspec.json.encode(page))
            count += len(page)
            if count >= records:
                break
    return pages


def decode_only(pages: list[bytes]) -> float:
    """Seconds to decode the pages and step through their records."""
    started = time.perf_counter()
    for page in pages:
        for _ in DECODER.decode(page):
            pass
    return time.perf_counter() - started


def sync_once(vendor: str, base: str, stream_name: str, pages: list[bytes]) -> tuple[float, int]:
    """Seconds of one in-process sync of ``stream_name`` reading ``pages``, and records."""
    module, cls = TAPS[vendor]
    tap_class = getattr(__import__(module, fromlist=[cls]), cls)
    tap = tap_class(config=tap_config(vendor, base, max_requests_per_second=UNPACED))
    for name, other in tap.streams.items():
        other.selected = name == stream_name  # no child stream (they would request)
    stream = tap.streams[stream_name]
    count = 0

    def records(context: Any) -> Iterator[dict[str, Any]]:
        nonlocal count
        for page in pages:
            items = DECODER.decode(page)
            count += len(items)
            yield from items

    stream.get_records = records
    started = time.perf_counter()
    stream.sync()
    elapsed = time.perf_counter() - started
    tap.progress.stop()
    return elapsed, count


def main() -> int:
    """Print microseconds per record of each case's record path (decode subtracted)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("streams", nargs="*", help="stream names (default: every case)")
    args = parser.parse_args()
    cases = [c for c in CASES if not args.streams or c.stream in args.streams]
    saved = os.dup(1)
    for case in cases:
        # The quick bench's scale: 12,000 to 13,000 records of each small-record stream.
        with SandboxProcess("--memoize-records", scale=case.scale / 5) as sandbox:
            sandbox.configure(rate_limits=dict.fromkeys(TAPS, 0))
            base = sandbox.url(case.vendor)
            pages = read_pages(case.vendor, base, case.stream, args.records)
            syncs, decodes = [], []
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            try:
                for _ in range(args.repeats):
                    seconds, count = sync_once(case.vendor, base, case.stream, pages)
                    syncs.append(seconds)
                    decodes.append(decode_only(pages))
            finally:
                sys.stdout.flush()
                os.dup2(saved, 1)
                os.close(devnull)
            per_record = (min(syncs) - min(decodes)) / count * 1e6
            print(
                f"{case.vendor:10} {case.stream:17} {case.shape:6} {count:6} records "
                f"record path {per_record:5.2f} us/record "
                f"(decode {min(decodes) / count * 1e6:.2f})",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
