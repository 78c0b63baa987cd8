"""`make demo`: sandbox up, `meltano run demo` into DuckDB, sandbox down, then a summary."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from api_sandbox.testing import SandboxProcess, SandboxStartError

ROOT = Path(__file__).resolve().parent.parent
WAREHOUSE = ROOT / "output" / "warehouse.duckdb"
LOG = ROOT / "output" / "demo.log"
TAP_SCHEMAS = ("tap_amilia", "tap_amperity", "tap_agyletime")
PROGRESS_INTERVAL_S = 5
TAP_LINE = re.compile(r"(tap-[a-z]+) (progress|time): (.*?)(?=\s+cmd_type=|\s*$)")
"""A tap's progress line or its closing time split, inside Meltano's log line."""


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


def run_logged(command: list[str], env: dict[str, str]) -> tuple[int, dict[str, str]]:
    """Run ``command`` with its output in :data:`LOG`, echoing each tap's progress lines;
    returns the exit code and each tap's closing time split."""
    splits: dict[str, str] = {}
    with (
        LOG.open("w", encoding="utf-8") as log,
        subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        ) as process,
    ):
        assert process.stdout is not None
        for line in process.stdout:
            log.write(line)
            match = TAP_LINE.search(line)
            if match is None:
                continue
            tap, kind, text = match.groups()
            if kind == "time":
                splits[tap] = text
            else:
                print(f"  {tap}: {text}", flush=True)
        return process.wait(), splits


def table_counts(path: Path) -> dict[str, list[tuple[str, int]]]:
    """Row count of every table, by schema."""
    counts: dict[str, list[tuple[str, int]]] = {}
    with duckdb.connect(str(path), read_only=True) as db:
        tables = db.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in (?, ?, ?) order by 1, 2",
            list(TAP_SCHEMAS),
        ).fetchall()
        for schema, table in tables:
            row = db.execute(f'select count(*) from "{schema}"."{table}"').fetchone()
            counts.setdefault(schema, []).append((table, row[0] if row else 0))
    return counts


def main() -> int:
    """Run the demo job and print what it loaded."""
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
            "demo: meltano --environment=sandbox run demo (tap-amilia, tap-amperity, tap-agyletime"
            f" -> target-duckdb) against {sandbox.base_url}; log: {LOG}"
        )
        returncode, splits = run_logged(
            [str(ROOT / ".venv" / "bin" / "meltano"), "--environment=sandbox", "run", "demo"],
            env={**os.environ, **sandbox_env(sandbox), **progress_env()},
        )
        stats = sandbox.stats()
    finally:
        sandbox.stop()
    elapsed = time.monotonic() - started
    if returncode != 0:
        tail = LOG.read_text(encoding="utf-8").splitlines()[-25:]
        print("\n".join(tail), file=sys.stderr)
        print(
            f"demo: meltano run failed (exit {returncode}); full log in {LOG}",
            file=sys.stderr,
        )
        return returncode
    counts = table_counts(WAREHOUSE)
    print(f"\nLoaded into {WAREHOUSE.relative_to(ROOT)} in {elapsed:.1f}s:")
    for schema in TAP_SCHEMAS:
        tables = counts.get(schema, [])
        total = sum(n for _, n in tables)
        vendor = schema.removeprefix("tap_")
        api = stats.get(vendor, {})
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
        "\nQuery it: .venv/bin/python -c \"import duckdb; print(duckdb.connect('output/warehouse.duckdb')"
        ".sql('show all tables'))\""
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
