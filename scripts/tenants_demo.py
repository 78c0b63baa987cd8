"""`make tenants-demo`: the sandbox with several tenants per vendor, every tenant partition of
every tap materialized through Dagster side by side, then a table of what each loaded.

Each (tap, tenant) is one Dagster run; the runs start together and Dagster's pools hold each
vendor to its limit. Each tenant loads into a DuckDB file of its own (DuckDB allows one
writing process per file); at the end they are copied into one file, a schema per tenant.
With the PG* variables set, the runs load into PostgreSQL instead (a schema per tenant).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import dagster as dg
import psycopg
import yaml

from api_sandbox.tenants import credential
from api_sandbox.testing import SandboxProcess, SandboxStartError
from singer_orchestration.local import Outcome, materialize_all, merge, set_pool_limits
from singer_orchestration.runs import POSTGRES_VARIABLES
from singer_orchestration.tenants import TenantsFileError, load_tenants, project_taps

ROOT = Path(__file__).resolve().parent.parent
TENANTS_FILE = ROOT / "tenants.yml"
WAREHOUSE_DIR = ROOT / "output" / "tenants"
WAREHOUSE = ROOT / "output" / "tenants.duckdb"
STATE = ROOT / "output" / "tenants-state"
"""The demo's Meltano state: emptied by each demo, so that every demo is a first sync."""
DAGSTER_YAML = ROOT / "orchestration" / "dagster.yaml"
SANDBOX_HOST = "127.0.0.1:8765"
"""The sandbox address tenants.yml names (moved when the sandbox runs elsewhere)."""
POOL_LIMITS = {"amilia": 2, "amperity": 2, "agyletime": 2}
"""Runs of one vendor at once (Amilia: two at 45 calls/s each within its 100/s per IP)."""


def sandbox_secrets(tenants_file: Path) -> dict[str, str]:
    """The sandbox's public fake credentials, in the variables each tenant names."""
    document = yaml.safe_load(tenants_file.read_text(encoding="utf-8"))
    values: dict[str, str] = {}
    for tap, entries in document["tenants"].items():
        for entry in entries:
            for setting, variable in (entry.get("secrets") or {}).items():
                value = credential(tap.removeprefix("tap-"), entry.get("settings") or {}, setting)
                if value is not None:
                    values[variable] = value
    return values


def tenants_file_for(sandbox: SandboxProcess, directory: Path) -> Path:
    """tenants.yml with its sandbox address moved to ``sandbox``'s."""
    text = TENANTS_FILE.read_text(encoding="utf-8")
    moved = directory / "tenants.yml"
    moved.write_text(text.replace(SANDBOX_HOST, f"127.0.0.1:{sandbox.port}"), encoding="utf-8")
    return moved


@contextlib.contextmanager
def sandbox_tenants(port: int, scale: float) -> Iterator[tuple[SandboxProcess, Path]]:
    """The sandbox on ``port`` and tenants.yml moved to it, its credentials in the
    environment variables the file names; SandboxStartError if it cannot start."""
    sandbox = SandboxProcess(scale=scale, port=port).start()
    try:
        with tempfile.TemporaryDirectory() as directory:
            tenants_file = tenants_file_for(sandbox, Path(directory))
            os.environ.update(sandbox_secrets(tenants_file))
            yield sandbox, tenants_file
    finally:
        sandbox.stop()


def dagster_home() -> Path:
    """``DAGSTER_HOME``, else output/dagster, with the project's dagster.yaml if it has none."""
    home = Path(os.environ.get("DAGSTER_HOME") or ROOT / "output" / "dagster")
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copy(DAGSTER_YAML, home / "dagster.yaml")
    return home


def dagster_instance(home: Path, pool_limits: Mapping[str, int]) -> dg.DagsterInstance:
    """A Dagster instance in ``home`` (SQLite unless its dagster.yaml says otherwise), with
    a pool per vendor."""
    instance = dg.DagsterInstance.from_config(str(home))
    set_pool_limits(instance, pool_limits)
    return instance


def print_table(outcomes: list[Outcome], counts: Mapping[str, list[tuple[str, int]]]) -> None:
    """tenant | tap | tables | rows | seconds."""
    rows = [("tenant", "tap", "tables", "rows", "seconds")]
    for outcome in outcomes:
        tables = counts.get(outcome.tenant.load_schema, [])
        rows.append(
            (
                outcome.tenant.slug,
                outcome.tenant.tap,
                str(len(tables)),
                str(sum(n for _, n in tables)),
                f"{float(outcome.metadata.get('duration_s', 0)):.1f}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for number, row in enumerate(rows):
        print(" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if number == 0:
            print("-+-".join("-" * width for width in widths))


def print_cpu(outcomes: list[Outcome]) -> None:
    """CPU seconds (Meltano, tap and loader) per 10,000 records and per 1,000 requests."""
    print()
    for tap in sorted({o.tenant.tap for o in outcomes}):
        runs = [o.metadata for o in outcomes if o.tenant.tap == tap]
        cpu = sum(float(m.get("cpu_s", 0)) for m in runs)
        records = sum(int(m.get("records", 0)) for m in runs)
        requests = sum(int(m.get("requests", 0)) for m in runs)
        print(
            f"{tap}: {records} records, {requests} requests, {cpu:.1f} CPU s: "
            f"{cpu / max(records, 1) * 10_000:.1f} CPU s per 10,000 records, "
            f"{cpu / max(requests, 1) * 1_000:.1f} per 1,000 requests"
        )


def postgres_counts(schemas: Iterable[str]) -> dict[str, list[tuple[str, int]]]:
    """Rows per table of each schema in the PostgreSQL the PG* variables name."""
    counts: dict[str, list[tuple[str, int]]] = {}
    with psycopg.connect(
        os.environ.get("TARGET_POSTGRES_SQLALCHEMY_URL", "").replace("+psycopg", "")
    ) as db:
        for schema in schemas:
            tables = db.execute(
                "select table_name from information_schema.tables where table_schema = %s order by 1",
                [schema],
            ).fetchall()
            for (table,) in tables:
                row = db.execute(f'select count(*) from "{schema}"."{table}"').fetchone()
                counts.setdefault(schema, []).append((table, int(row[0]) if row else 0))
    return counts


def main() -> int:
    """Run every tenant of every tap through Dagster and print what each loaded."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--one-after-another", action="store_true", help="no runs side by side")
    args = parser.parse_args()
    started = time.monotonic()
    print(f"tenants-demo: starting the sandbox on 127.0.0.1:{args.port} (scale {args.scale:g})")
    try:
        with sandbox_tenants(args.port, args.scale) as (_, tenants_file):
            try:
                tenants = load_tenants(tenants_file, project_taps(ROOT / "meltano.yml"))
            except TenantsFileError as exc:
                print(f"tenants-demo: {exc}", file=sys.stderr)
                return 2
            shutil.rmtree(WAREHOUSE_DIR, ignore_errors=True)
            if not os.environ.get("MELTANO_STATE_BACKEND_URI") and not os.environ.get(
                "MELTANO_DATABASE_URI"
            ):
                shutil.rmtree(STATE, ignore_errors=True)
                os.environ["MELTANO_STATE_BACKEND_URI"] = f"file://{STATE}"
            home = dagster_home()
            dagster_instance(home, POOL_LIMITS)
            count = sum(len(entries) for entries in tenants.values())
            mode = "one after another" if args.one_after_another else "side by side"
            print(
                f"tenants-demo: {count} tenant runs through Dagster, {mode} "
                f"(pools {POOL_LIMITS}); Dagster home {home}"
            )
            outcomes = materialize_all(
                tenants_file,
                root=ROOT,
                warehouse_dir=WAREHOUSE_DIR,
                home=home,
                tenants=tenants,
                side_by_side=not args.one_after_another,
            )
    except SandboxStartError as exc:
        print(f"tenants-demo: the sandbox could not start: {exc}", file=sys.stderr)
        return 2
    failed = [o for o in outcomes if not o.success]
    for outcome in failed:
        print(f"tenants-demo: {outcome.tenant.name} failed: {outcome.error}", file=sys.stderr)
    postgres = any(os.environ.get(v) for v in POSTGRES_VARIABLES)
    if postgres:
        counts = postgres_counts(o.tenant.load_schema for o in outcomes)
    else:
        counts = merge(WAREHOUSE_DIR.glob("*.duckdb"), WAREHOUSE)
    print()
    print_table(outcomes, counts)
    print_cpu(outcomes)
    elapsed = time.monotonic() - started
    total = sum(float(o.metadata.get("duration_s", 0)) for o in outcomes)
    print(
        f"\n{len(outcomes)} runs in {elapsed:.1f}s wall time; their own durations add up to {total:.1f}s"
    )
    if failed:
        return 1
    where = (
        "PostgreSQL (the PG* variables), a schema per tenant"
        if postgres
        else WAREHOUSE.relative_to(ROOT)
    )
    print(f"Loaded into {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
