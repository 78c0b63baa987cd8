"""index_profiles records/s at 200 ms per response, both Amperity rate limits on (issue 15).

``.venv/bin/python scripts/measure_index_profiles.py SCALE [setting=value ...]``: a sandbox at
SCALE (4 indexes of 250 profiles per unit) with memoized records, one untimed warm-up sync,
then profile_indexes + index_profiles through the tap's CLI. Records/s is index_profiles'
record_count over profile_indexes' sync_duration (the SDK's METRIC lines; the parent's timer
spans its children), so interpreter start-up and imports are not counted.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import TapRunner, metric_sum, run_child, tap_config

from api_sandbox.testing import SandboxProcess

STREAMS = ("profile_indexes", "index_profiles")


def main(argv: list[str]) -> None:
    """Print one line: records, requests, records/s and the sandbox's 429s per API family."""
    scale = float(argv[0])
    overrides: dict[str, Any] = {}
    for item in argv[1:]:
        key, _, value = item.partition("=")
        overrides[key] = int(value) if value.isdigit() else value
    with (
        tempfile.TemporaryDirectory() as tmp,
        SandboxProcess("--memoize-records", scale=scale, latency_ms=200) as sandbox,
    ):
        runner = TapRunner("amperity", Path(tmp))
        config = tap_config("amperity", sandbox.url("amperity"), **overrides)
        config_path = runner._write("config", config)
        command = [runner.executable, "--config", config_path]
        command += ["--catalog", runner.catalog(config_path, STREAMS)]
        run_child(command, 900)  # warm-up: the sandbox then serves memoized records
        sandbox.reset()
        run, _, stderr = run_child(command, 900)
        stats = sandbox.stats()["amperity"]
    records = metric_sum(stderr, "record_count", "index_profiles")
    seconds = metric_sum(stderr, "sync_duration", "profile_indexes")
    requests = metric_sum(stderr, "http_request_count", "index_profiles")
    rate = records / seconds if seconds else 0.0
    print(
        f"scale {scale:g}: ok={run.ok} index_profiles {records:.0f} records in {requests:.0f} "
        f"requests, {seconds:.2f} s -> {rate:.0f} records/s; 429s by API family: "
        + ", ".join(f"{name} {f['rate_limited']}" for name, f in stats["families"].items())
    )


if __name__ == "__main__":
    main(sys.argv[1:])
