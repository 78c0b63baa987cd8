"""Every tenant on this machine, side by side, without a Dagster daemon: one Dagster run per
(tap, tenant), each in a process of its own (Dagster's in-process execution is not
thread-safe), all against one Dagster instance whose pools hold each vendor to its limit.

`make tenants-demo` and the tests use it; a deployment uses the schedule and backfills.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb

from singer_orchestration.definitions import build_definitions
from singer_orchestration.tenants import Tenant, load_tenants, project_taps


@dataclass
class Outcome:
    """One tenant's run: what Dagster recorded for it."""

    tenant: Tenant
    success: bool
    metadata: dict[str, Any]
    error: str = ""


def materialize_tenant(
    tenants_file: Path,
    *,
    root: Path,
    warehouse_dir: Path,
    home: Path,
    tap: str,
    slug: str,
    day: str | None = None,
) -> Outcome:
    """One Dagster run: the ``slug`` partition of ``tap``'s asset, in this process (Dagster's
    in-process execution is not thread-safe: each run has a process of its own)."""
    defs = build_definitions(tenants_file, root, warehouse_dir)
    name = tap.replace("-", "_")
    asset = defs.get_assets_def(f"{name}_history" if day else name)
    tenant = next(
        t
        for t in load_tenants(tenants_file, project_taps(root / "meltano.yml"))[tap]
        if t.slug == slug
    )
    result = dg.materialize(
        [asset],
        partition_key=str(dg.MultiPartitionKey({"tenant": slug, "day": day})) if day else slug,
        instance=dg.DagsterInstance.from_config(str(home)),
        resources=defs.resources or {},
        raise_on_error=False,
        tags={"tenant": tenant.name},
    )
    metadata = {
        key: value.value
        for materialization in result.asset_materializations_for_node(asset.op.name)
        for key, value in materialization.metadata.items()
    }
    return Outcome(tenant, result.success, metadata, "" if result.success else failure_line(result))


def materialize_all(
    tenants_file: Path,
    *,
    root: Path,
    warehouse_dir: Path,
    home: Path,
    tenants: Mapping[str, list[Tenant]],
    side_by_side: bool = True,
    days: Iterable[str] = (),
) -> list[Outcome]:
    """One Dagster run per (tap, tenant), all started at once (or one after another); the
    vendors' pools in ``home`` decide how many of a vendor's runs work at once. With
    ``days``, one run per (tap, tenant, day) of the history assets: a backfill."""
    backfill: list[str | None] = list(days)
    runs = [
        (tenant.tap, tenant.slug, day)
        for entries in tenants.values()
        for tenant in entries
        for day in (backfill or [None])
    ]
    workers = len(runs) if side_by_side else 1
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = [
            pool.submit(
                materialize_tenant,
                tenants_file,
                root=root,
                warehouse_dir=warehouse_dir,
                home=home,
                tap=tap,
                slug=slug,
                day=day,
            )
            for tap, slug, day in runs
        ]
        return [future.result() for future in futures]


def failure_line(result: dg.ExecuteInProcessResult) -> str:
    """The first line of the step failure's message."""
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data.error is not None:
            return event.step_failure_data.error.message.strip().splitlines()[0]
    return "the run failed"


def merge(files: Iterable[Path], target: Path) -> dict[str, list[tuple[str, int]]]:
    """Copy every tenant's schema from its DuckDB file into ``target``; rows per table."""
    target.unlink(missing_ok=True)
    counts: dict[str, list[tuple[str, int]]] = {}
    with duckdb.connect(str(target)) as db:
        for number, path in enumerate(sorted(files)):
            alias = f"tenant_{number}"
            db.execute(f"attach '{path}' as {alias} (read_only)")
            tables = db.execute(
                "select table_schema, table_name from information_schema.tables "
                "where table_catalog = ? order by 1, 2",
                [alias],
            ).fetchall()
            for schema, table in tables:
                db.execute(f'create schema if not exists "{schema}"')
                db.execute(
                    f'create table "{schema}"."{table}" as '  # noqa: S608 - names from the catalog
                    f'select * from {alias}."{schema}"."{table}"'
                )
                row = db.execute(f'select count(*) from "{schema}"."{table}"').fetchone()  # noqa: S608
                counts.setdefault(schema, []).append((table, row[0] if row else 0))
            db.execute(f"detach {alias}")
    return counts


def set_pool_limits(instance: dg.DagsterInstance, limits: Mapping[str, int]) -> None:
    """Each vendor's pool limit (runs of its taps working at once)."""
    for pool, limit in limits.items():
        instance.event_log_storage.set_concurrency_slots(pool, limit)
