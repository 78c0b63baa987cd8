"""Dagster definitions: one asset per tap, partitioned by tenant; a history asset per tap for
backfills over days; a daily schedule; a pool per vendor.

Loaded by ``dagster dev -m singer_orchestration.definitions`` (``make orchestrate``) or by a
test. The tenants file is read when the definitions load: a bad entry stops the load with
one line naming it.
"""

# No `from __future__ import annotations`: Dagster reads the parameter annotations of the
# asset functions (context, resources) at definition time.
import os
import shutil
import sys
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext, PipesSubprocessClient

from singer_orchestration.runs import Backfill, MeltanoProject
from singer_orchestration.tenants import Tenant, load_tenants, project_taps

HISTORY_START = "2024-01-01"
"""First day a backfill can ask for (``BACKFILL_FIRST_DAY`` changes it)."""
DAILY_CRON = "0 3 * * *"
"""When the daily schedule runs every tenant (UTC), ``DAILY_SCHEDULE_CRON`` changes it."""


def project_root() -> Path:
    """The Meltano project: ``MELTANO_PROJECT_ROOT``, else the repository this package is in."""
    configured = os.environ.get("MELTANO_PROJECT_ROOT")
    return Path(configured) if configured else Path(__file__).resolve().parents[2]


class MeltanoResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Where the Meltano project is, which environment runs, where DuckDB files go."""

    project_root: str
    warehouse_dir: str
    environment: str = "tenants"

    def project(self) -> MeltanoProject:
        """The project as :mod:`singer_orchestration.runs` plans its runs."""
        return MeltanoProject(Path(self.project_root), Path(self.warehouse_dir), self.environment)


def vendor(tap: str) -> str:
    """``tap-amilia`` -> ``amilia``: the pool of the tap's runs."""
    return tap.removeprefix("tap-")


def materialize_tenant(
    context: dg.AssetExecutionContext,
    meltano: MeltanoResource,
    pipes: dg.PipesSubprocessClient,
    tenant: Tenant,
    backfill: Backfill | None = None,
) -> dg.MaterializeResult[Any]:
    """Run the tenant's `meltano run` through Dagster Pipes (see pipes_run.py)."""
    project = meltano.project()
    loader = project.loader(os.environ)
    extras = {
        "command": project.command(tenant, loader, backfill),
        "tenant": tenant.name,
        "metadata": {
            "tenant": tenant.name,
            "state_id": project.state_id(tenant, loader, backfill),
            "load_schema": tenant.load_schema,
            "loader": loader,
            "warehouse": str(project.warehouse(tenant, backfill))
            if loader == "target-duckdb"
            else "PostgreSQL (PG* variables)",
        },
    }
    env = project.env(tenant, os.environ, backfill)
    try:
        invocation = pipes.run(
            command=[sys.executable, "-m", "singer_orchestration.pipes_run"],
            context=context,
            extras=extras,
            env=env,
            cwd=str(project.root),
        )
    finally:
        shutil.rmtree(env["MELTANO_SYS_DIR_ROOT"], ignore_errors=True)  # the run's own
    return invocation.get_materialize_result()


def tap_asset(tap: str, tenants: Mapping[str, Tenant]) -> dg.AssetsDefinition:
    """The tap's tables for every tenant: one partition per tenant, incremental."""

    @dg.asset(
        name=tap.replace("-", "_"),
        partitions_def=dg.StaticPartitionsDefinition(list(tenants)),
        pool=vendor(tap),
        group_name="taps",
        kinds={"meltano", "singer"},
        description=f"{tap}: every stream of one tenant, from its bookmarks (`meltano run`).",
    )
    def sync(
        context: AssetExecutionContext,
        meltano: MeltanoResource,
        pipes_subprocess_client: PipesSubprocessClient,
    ) -> dg.MaterializeResult[Any]:
        return materialize_tenant(
            context, meltano, pipes_subprocess_client, tenants[context.partition_key]
        )

    return sync


def history_asset(tap: str, tenants: Mapping[str, Tenant], first_day: str) -> dg.AssetsDefinition:
    """The tap's past days per tenant, for backfills: each partition (tenant, day) reads that
    day alone (start_date..end_date) under a state id of its own, so the tenant's daily
    bookmarks stay exactly as they were."""

    @dg.asset(
        name=f"{tap.replace('-', '_')}_history",
        partitions_def=dg.MultiPartitionsDefinition(
            {
                "tenant": dg.StaticPartitionsDefinition(list(tenants)),
                "day": dg.DailyPartitionsDefinition(start_date=first_day),
            }
        ),
        pool=vendor(tap),
        group_name="backfills",
        kinds={"meltano", "singer"},
        description=(
            f"{tap}: one tenant's past day, read with start_date/end_date under a state id of "
            "its own (launch a backfill over tenants and days)."
        ),
    )
    def history(
        context: AssetExecutionContext,
        meltano: MeltanoResource,
        pipes_subprocess_client: PipesSubprocessClient,
    ) -> dg.MaterializeResult[Any]:
        key = context.partition_key
        assert isinstance(key, dg.MultiPartitionKey)
        day = date.fromisoformat(key.keys_by_dimension["day"])
        return materialize_tenant(
            context,
            meltano,
            pipes_subprocess_client,
            tenants[key.keys_by_dimension["tenant"]],
            Backfill(day, day),
        )

    return history


def daily_schedule(tap: str, slugs: list[str], cron: str) -> dg.ScheduleDefinition:
    """Every tenant of ``tap`` once a day: one run per tenant, each from its bookmarks."""
    name = tap.replace("-", "_")
    job = dg.define_asset_job(f"{name}_daily", selection=[name])

    @dg.schedule(name=f"{name}_every_tenant", cron_schedule=cron, job=job, execution_timezone="UTC")
    def every_tenant(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
        day = context.scheduled_execution_time.date().isoformat()
        return [dg.RunRequest(run_key=f"{slug}-{day}", partition_key=slug) for slug in slugs]

    return every_tenant


def build_definitions(
    tenants_file: Path, root: Path, warehouse_dir: Path, environ: Mapping[str, str] | None = None
) -> dg.Definitions:
    """Every asset, the daily schedule and the resources for ``tenants_file``."""
    environ = os.environ if environ is None else environ
    tenants = load_tenants(tenants_file, project_taps(root / "meltano.yml"), environ)
    first_day = environ.get("BACKFILL_FIRST_DAY", HISTORY_START)
    assets: list[Any] = []
    for tap, entries in sorted(tenants.items()):
        by_slug = {tenant.slug: tenant for tenant in entries}
        assets += [tap_asset(tap, by_slug), history_asset(tap, by_slug, first_day)]
    cron = environ.get("DAILY_SCHEDULE_CRON", DAILY_CRON)
    schedules = [
        daily_schedule(tap, [t.slug for t in entries], cron)
        for tap, entries in sorted(tenants.items())
    ]
    return dg.Definitions(
        assets=assets,
        schedules=schedules,
        resources={
            "meltano": MeltanoResource(
                project_root=str(root),
                warehouse_dir=str(warehouse_dir),
                environment=environ.get("MELTANO_ENVIRONMENT", "tenants"),
            ),
            "pipes_subprocess_client": dg.PipesSubprocessClient(),
        },
    )


def default_definitions() -> dg.Definitions:
    """The definitions of ``TENANTS_FILE`` (default: tenants.yml in the project)."""
    root = project_root()
    tenants_file = Path(os.environ.get("TENANTS_FILE") or root / "tenants.yml")
    warehouse = Path(os.environ.get("TENANTS_WAREHOUSE_DIR") or root / "output" / "tenants")
    return build_definitions(tenants_file, root, warehouse)
