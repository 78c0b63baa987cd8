"""`make demo`: sandbox up, the three taps into DuckDB side by side, sandbox down, a summary.

Each tap runs in its own `meltano run tap-x target-duckdb-x` at once: DuckDB allows one
writing process per file, so each loads its own file (output/<vendor>.duckdb; see meltano.yml).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import duckdb

from api_sandbox.testing import SandboxProcess, SandboxStartError

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "output"
LOG = OUTPUT / "demo.log"
TAP_SCHEMAS = ("tap_amilia", "tap_amperity", "tap_agyletime")
MELTANO = ROOT / ".venv" / "bin" / "meltano"
PROGRESS_INTERVAL_S = 5
TAP_LINE = re.compile(r"(tap-[a-z]+)\s+(?:tap-[a-z]+ )?(progress|time): (.*?)(?=\s+cmd_type=|\s*$)")
"""A tap's progress line or its closing time split, inside Meltano's log line (which names
the plugin, padded, before the tap's message; the message may name the tap again)."""


def sandbox_env(sandbox: SandboxProcess) -> dict[str, str]:
    """Point every tap at the running sandbox, whatever port it was started on.

    meltano.yml's `sandbox` environment names the default port (8765); these variables
    override it (Meltano reads TAP_<NAME>_<SETTING> before meltano.yml).
    """
    return {
        "TAP_AMILIA_API_URL": f"{sandbox.url('amilia')}/api/v3",
        "TAP_AMPERITY_API_URL": f"{sandbox.url('amperity')}/api",
        "TAP_AGYLETIME_TENANT_URL": f"{sandbox.url('agyletime')}/tenant/api",
        "TAP_AGYLETIME_REGIONAL_URL": f"{sandbox.url('agyletime')}/regional",
    }


def progress_env() -> dict[str, str]:
    """Every tap logs its progress every :data:`PROGRESS_INTERVAL_S` seconds."""
    return {
        f"{schema.upper()}_PROGRESS_INTERVAL_SECONDS": str(PROGRESS_INTERVAL_S)
        for schema in TAP_SCHEMAS
    }


def warehouse(schema: str) -> Path:
    """The DuckDB file a tap loads in the demo (meltano.yml's target-duckdb-<vendor>)."""
    return OUTPUT / f"{schema.removeprefix('tap_')}.duckdb"


def command(schema: str) -> list[str]:
    """`meltano run` of one tap into its own DuckDB loader, in the sandbox environment."""
    vendor = schema.removeprefix("tap_")
    return [
        str(MELTANO),
        "--environment=sandbox",
        "run",
        f"tap-{vendor}",
        f"target-duckdb-{vendor}",
    ]


def follow(stream: IO[str], log: IO[str], lock: threading.Lock, splits: dict[str, str]) -> None:
    """Copy one run's output into :data:`LOG`, echoing its tap's progress lines and keeping
    its closing time split."""
    for line in stream:
        with lock:
            log.write(line)
            match = TAP_LINE.search(line)
            if match is None:
                continue
            tap, kind, text = match.groups()
            if kind == "time":
                splits[tap] = text
            else:
                print(f"  {tap}: {text}", flush=True)


def run_side_by_side(env: dict[str, str]) -> tuple[dict[str, int], dict[str, str]]:
    """Run every tap at once with the output in :data:`LOG`; returns each tap's exit code and
    closing time split."""
    splits: dict[str, str] = {}
    lock = threading.Lock()
    with LOG.open("w", encoding="utf-8") as log:
        processes = {
            schema: subprocess.Popen(
                command(schema),
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env=env,
            )
            for schema in TAP_SCHEMAS
        }
        readers = []
        for process in processes.values():
            assert process.stdout is not None
            reader = threading.Thread(target=follow, args=(process.stdout, log, lock, splits))
            reader.start()
            readers.append(reader)
        codes = {schema: process.wait() for schema, process in processes.items()}
        for reader in readers:
            reader.join()
    return codes, splits


def table_counts(path: Path, schema: str) -> list[tuple[str, int]]:
    """Row count of every table of ``schema`` in the DuckDB file ``path``."""
    counts: list[tuple[str, int]] = []
    with duckdb.connect(str(path), read_only=True) as db:
        tables = db.execute(
            "select table_name from information_schema.tables where table_schema = ? order by 1",
            [schema],
        ).fetchall()
        for (table,) in tables:
            row = db.execute(f'select count(*) from "{schema}"."{table}"').fetchone()
            counts.append((table, row[0] if row else 0))
    return counts


def main() -> int:
    """Run the three taps into DuckDB against a sandbox of their own and print what they loaded."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    LOG.parent.mkdir(exist_ok=True)
    started = time.monotonic()
    print(f"demo: starting the sandbox on 127.0.0.1:{args.port} (scale {args.scale:g})")
    sandbox = SandboxProcess(scale=args.scale, port=args.port)
    try:
        sandbox.start()
    except SandboxStartError as exc:
        print(f"demo: the sandbox could not start: {exc}", file=sys.stderr)
        return 2
    try:
        print(
            "demo: meltano --environment=sandbox run tap-<vendor> target-duckdb-<vendor>, the three"
            f" taps side by side, against {sandbox.base_url}; log: {LOG.relative_to(ROOT)}"
        )
        codes, splits = run_side_by_side({**os.environ, **sandbox_env(sandbox), **progress_env()})
        stats = sandbox.stats()
    finally:
        sandbox.stop()
    elapsed = time.monotonic() - started
    if failed := [schema.replace("_", "-") for schema, code in codes.items() if code != 0]:
        tail = LOG.read_text(encoding="utf-8").splitlines()[-25:]
        print("\n".join(tail), file=sys.stderr)
        print(f"demo: {', '.join(failed)} failed; full log in {LOG}", file=sys.stderr)
        return max(codes.values())
    print(f"\nLoaded in {elapsed:.1f}s, each tap into output/<vendor>.duckdb:")
    for schema in TAP_SCHEMAS:
        tables = table_counts(warehouse(schema), schema)
        total = sum(n for _, n in tables)
        api = stats.get(schema.removeprefix("tap_"), {})
        print(
            f"  {schema}: {len(tables)} tables, {total} rows "
            f"({api.get('requests', 0)} API requests, {api.get('rate_limited', 0)} rate-limited)"
        )
        for table, rows in tables:
            print(f"    {table:<28} {rows:>8}")
        tap = schema.replace("_", "-")
        if tap in splits:
            print(f"    time: {splits[tap]}")
    print(
        "\nQuery it: .venv/bin/python -c \"import duckdb; print(duckdb.connect('output/amilia.duckdb')"
        ".sql('select count(*) from tap_amilia.events'))\""
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
