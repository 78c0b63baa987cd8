"""How one tenant becomes one `meltano run`, and what its log says about the run.

One plugin per tap in meltano.yml serves every tenant: the tenant's settings and secrets
are the tap's environment variables (``TAP_AMILIA_ORGANIZATION``...; Meltano reads them
before meltano.yml), its rows go to a schema of its own (the extractor's ``load_schema``
extra, ``TAP_AMILIA__LOAD_SCHEMA``) and its state to a state id of its own
(``--state-id-suffix``). So adding a tenant is one entry in the tenants file.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from singer_orchestration.tenants import Tenant

PLUGIN_DIRS = ("extractors", "loaders", "mappers", "utilities")
"""The folders of ``.meltano`` that hold installed plugins."""
EXCEPTION_LINE = re.compile(r"^\s*[\w.]+(Error|Exception): ")
"""The last line of a Python traceback a loader printed."""
POSTGRES_VARIABLES = ("PGHOST", "PGDATABASE", "TARGET_POSTGRES_SQLALCHEMY_URL")
"""Any of them set: load into PostgreSQL (as the README's `meltano run ... target-postgres`)."""


def env_prefix(plugin: str) -> str:
    """``tap-amilia`` -> ``TAP_AMILIA`` (Meltano's setting variables)."""
    return plugin.upper().replace("-", "_")


def meltano_executable() -> str:
    """The `meltano` beside this Python (the workspace's), else the one on PATH."""
    beside = Path(sys.executable).parent / "meltano"
    return str(beside) if beside.exists() else "meltano"


@dataclass(frozen=True)
class Backfill:
    """A past range ``[first, last]`` of days, read under a state id of its own."""

    first: date
    last: date

    @property
    def suffix(self) -> str:
        """What the state id ends with, after the tenant's slug."""
        return f"backfill-{self.first:%Y%m%d}-{self.last:%Y%m%d}"


@dataclass(frozen=True)
class MeltanoProject:
    """Where the Meltano project is and where its runs load."""

    root: Path
    warehouse_dir: Path
    """One DuckDB file per tenant here (DuckDB allows one writing process per file)."""
    environment: str = "tenants"
    meltano: str = field(default_factory=meltano_executable)

    def loader(self, environ: Mapping[str, str]) -> str:
        """target-postgres when the PG variables are set, else target-duckdb."""
        return (
            "target-postgres"
            if any(environ.get(v) for v in POSTGRES_VARIABLES)
            else "target-duckdb"
        )

    def warehouse(self, tenant: Tenant, backfill: Backfill | None = None) -> Path:
        """The tenant's DuckDB file; a backfill writes a file of its own, so that it can run
        beside the tenant's daily run."""
        # Not the schema's name: DuckDB names the file's catalog after it, and a catalog and
        # a schema of one name make every two-part table name ambiguous.
        name = f"{tenant.tap.replace('-', '_')}__{tenant.slug}"
        if backfill is not None:
            name += f"__{backfill.suffix.replace('-', '_')}"
        return self.warehouse_dir / f"{name}.duckdb"

    def sys_dir(self, tenant: Tenant, backfill: Backfill | None = None) -> Path:
        """A new Meltano system directory for one run (``MELTANO_SYS_DIR_ROOT``), whose plugin
        folders link to the project's installed plugins; remove it when the run is over.

        Two `meltano run` of one plugin at once share ``.meltano/run/<plugin>/`` and delete
        each other's config and catalog files (even two runs of one tenant, from a schedule
        and by hand); with a directory each they do not. Its SQLite system database is the
        run's own too (unless ``MELTANO_DATABASE_URI`` names a shared one); the state stays
        in the project's state backend.
        """
        shared = self.root / ".meltano"
        (shared / "tenants").mkdir(parents=True, exist_ok=True)
        prefix = f"{tenant.tap}.{self.state_id_suffix(tenant, backfill)}."
        path = Path(tempfile.mkdtemp(prefix=prefix, dir=shared / "tenants"))
        for name in PLUGIN_DIRS:
            if (shared / name).is_dir():
                (path / name).symlink_to(shared / name, target_is_directory=True)
        return path

    def state_id_suffix(self, tenant: Tenant, backfill: Backfill | None = None) -> str:
        """The tenant's state id suffix; a backfill's never equals the daily one."""
        return f"{tenant.slug}.{backfill.suffix}" if backfill else tenant.slug

    def state_id(self, tenant: Tenant, loader: str, backfill: Backfill | None = None) -> str:
        """The state id Meltano gives the run (``{environment}:{tap}-to-{loader}:{suffix}``)."""
        suffix = self.state_id_suffix(tenant, backfill)
        return f"{self.environment}:{tenant.tap}-to-{loader}:{suffix}"

    def command(self, tenant: Tenant, loader: str, backfill: Backfill | None = None) -> list[str]:
        """The `meltano run` of one tenant; JSON logs, so that metrics keep their tags."""
        command = [self.meltano, "--log-format=json", f"--environment={self.environment}", "run"]
        command += [f"--state-id-suffix={self.state_id_suffix(tenant, backfill)}"]
        if backfill is not None:
            command.append("--full-refresh")  # the backfill's own state is never read
        return [*command, tenant.tap, loader]

    def env(
        self, tenant: Tenant, environ: Mapping[str, str], backfill: Backfill | None = None
    ) -> dict[str, str]:
        """The variables the run needs beyond ``environ``: the tenant's settings and
        secrets, its load schema and warehouse, Meltano's state in PostgreSQL when its
        system database is there, and the SDK's metrics at INFO."""
        prefix = env_prefix(tenant.tap)
        settings: dict[str, Any] = {**tenant.settings, **tenant.secret_values(environ)}
        if backfill is not None:
            settings["start_date"] = backfill.first.isoformat()
            settings["end_date"] = (backfill.last + timedelta(days=1)).isoformat()
        env = {f"{prefix}_{name.upper()}": _text(value) for name, value in settings.items()}
        env[f"{prefix}__LOAD_SCHEMA"] = tenant.load_schema
        env[f"{prefix}_LOGLEVEL"] = "INFO"  # the SDK sets its metrics logger from this
        env["MELTANO_PROJECT_ROOT"] = str(self.root)
        env["MELTANO_SYS_DIR_ROOT"] = str(self.sys_dir(tenant, backfill))
        if self.loader(environ) == "target-duckdb":
            self.warehouse_dir.mkdir(parents=True, exist_ok=True)
            env["TARGET_DUCKDB_FILEPATH"] = str(self.warehouse(tenant, backfill))
        if environ.get("MELTANO_DATABASE_URI") and not environ.get("MELTANO_STATE_BACKEND_URI"):
            env["MELTANO_STATE_BACKEND_URI"] = "systemdb"  # state beside the system database
        return env


def _text(value: Any) -> str:
    """A setting as Meltano reads it from the environment."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value.isoformat() if isinstance(value, date) else str(value)


@dataclass
class RunSummary:
    """What a `meltano run`'s JSON log says: records per stream, requests, 429s, errors."""

    records: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    rate_limited: int = 0
    errors: list[str] = field(default_factory=list)
    """Error lines of the tap and loader (their one-line causes, exception lines)."""

    def read(self, line: str) -> str | None:
        """Take one log line in; returns the text worth showing (None for a metric)."""
        try:
            event = json.loads(line)
        except ValueError:
            return line.rstrip() or None
        if not isinstance(event, dict):
            return line.rstrip() or None
        metric = event.get("metric_info")
        if isinstance(metric, dict):
            self._metric(metric)
            return None
        text = str(event.get("event", "")).rstrip()
        name = str(event.get("name") or event.get("string_id") or "meltano")
        plugin = name != "meltano"
        failing = event.get("level") in ("error", "critical") or EXCEPTION_LINE.match(text)
        if text and plugin and failing:
            self.errors.append(f"{name}: {text.strip()}")
        return f"{name}: {text}" if text else None

    def cause(self) -> str:
        """The line that says why a failed run failed, as far as the log tells."""
        return self.errors[-1] if self.errors else "see the run log"

    def _metric(self, metric: dict[str, Any]) -> None:
        tags = metric.get("tags") or {}
        if metric.get("metric") == "record_count" and tags.get("stream"):
            self.records[str(tags["stream"])] += int(metric.get("value") or 0)
        elif metric.get("metric") == "http_request_duration":
            self.requests += 1  # one timer per request sent, retries included
            if str(tags.get("http_status_code")) == "429":
                self.rate_limited += 1

    def metadata(self, duration_s: float) -> dict[str, Any]:
        """Materialization metadata as Dagster Pipes takes it (counts and names only,
        never a setting's value)."""
        return {
            "records": sum(self.records.values()),
            "streams": {"raw_value": dict(sorted(self.records.items())), "type": "json"},
            "requests": self.requests,
            "rate_limited_429": self.rate_limited,
            "duration_s": round(duration_s, 2),
        }
