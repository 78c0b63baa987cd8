"""Helpers for the tap-agyletime tests: an in-process sync runner and the records the
sandbox holds, computed from its data model (never from the tap)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta
from typing import Any

from api_sandbox.testing import SandboxProcess
from api_sandbox.vendors.agyletime import AgyleTimeData
from api_sandbox.vendors.agyletime.data import utc_today
from repo_support import SyncResult, sync_in_process
from tap_agyletime.tap import TapAgyleTime

SCALE = 0.05
SEED = 42
DATA = AgyleTimeData(SEED, SCALE)
DEFAULT_STREAMS = (
    "users",
    "business_roles",
    "system_roles",
    "workstreams",
    "published_shifts",
    "agent_metrics",
    "schedule_metrics",
    "tasks",
    "task_definitions",
)


def sandbox_config(sandbox: SandboxProcess, **overrides: Any) -> dict[str, Any]:
    """Sandbox credentials and URLs, a start 10 days back, fast pacing."""
    base = sandbox.url("agyletime")
    return {
        "subdomain": "acme",
        "region": "eu",
        "access_key_id": "sandbox-access-key-id",
        "access_key_secret": "sandbox-access-key-secret",
        "tenant_url": f"{base}/tenant/api",
        "regional_url": f"{base}/regional",
        "start_date": days_ago(10).isoformat(),
        "page_size": 7,
        "max_requests_per_second": 200,
        "max_retries": 4,
        **overrides,
    }


def days_ago(days: int) -> datetime:
    """Midnight UTC ``days`` before today."""
    return datetime.combine(utc_today() - timedelta(days=days), time(), tzinfo=UTC)


def run_sync(
    config: dict[str, Any], streams: Iterable[str], state: dict[str, Any] | None = None
) -> SyncResult:
    """Sync ``streams`` in process and collect RECORD and STATE messages."""
    return sync_in_process(TapAgyleTime(config=config, state=state or {}), streams)


# --- what the sandbox holds -----------------------------------------------------------------
FAR = datetime(2100, 1, 1, tzinfo=UTC)


def expected_keys(stream: str, start: datetime, end: datetime = FAR) -> set[Any]:
    """Primary keys of ``stream`` the sandbox holds from ``start`` (dated streams) on."""
    today = utc_today()
    if stream == "users":
        return {u["id"] for u in DATA.users()}
    if stream == "business_roles":
        return {r["id"] for r in DATA.business_roles()}
    if stream == "system_roles":
        return {r["id"] for r in DATA.system_roles()}
    if stream == "workstreams":
        return {w["identifier"] for w in DATA.workstreams()}
    if stream == "task_definitions":
        return {d["id"] for d in DATA.task_definitions()}
    if stream == "tasks":
        return {(t["id"], t["createdAt"]) for _, t in DATA.tasks_between(start, end, today)}
    if stream == "published_shifts":
        return {s["uid"] for _, s in DATA.shifts_between(start, end, today)}
    if stream == "contacts":
        return {c["identifier"] for _, c in DATA.contacts_between(start, end, today)}
    if stream == "interactions":
        return {i["identifier"] for _, i in DATA.interactions_between(start, end, today)}
    if stream in ("agent_metrics", "schedule_metrics"):
        return {
            (1000 + index, day.isoformat(), channel)
            for _, (day, index) in DATA.metric_user_days(start, end, today)
            for channel in DATA.user_channels(index)
        }
    raise KeyError(stream)


KEY_FIELDS = {
    "tasks": ("id", "createdAt"),
    "agent_metrics": ("userId", "date", "channel"),
    "schedule_metrics": ("userId", "date", "channel"),
    "workstreams": ("identifier",),
    "contacts": ("identifier",),
    "interactions": ("identifier",),
    "published_shifts": ("uid",),
}


def keys_of(stream: str, records: list[dict[str, Any]]) -> list[Any]:
    """Primary keys of synced records, in the shape of :func:`expected_keys`."""
    fields = KEY_FIELDS.get(stream, ("id",))
    if len(fields) == 1:
        return [r[fields[0]] for r in records]
    return [tuple(r[f] for f in fields) for r in records]


def agyletime_stats(sandbox: SandboxProcess) -> dict[str, Any]:
    """The sandbox's request statistics for Agyle Time."""
    stats: dict[str, Any] = sandbox.stats()["agyletime"]
    return stats


def path_hits(sandbox: SandboxProcess, suffix: str) -> int:
    """Requests the sandbox answered on the route ending with ``suffix``."""
    paths: dict[str, int] = agyletime_stats(sandbox)["paths"]
    return sum(n for path, n in paths.items() if path.endswith(suffix))
