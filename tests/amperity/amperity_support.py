"""Helpers for the tap-amperity tests: an in-process sync runner and the records the
sandbox holds, computed from its data model (never from the tap)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from api_sandbox.testing import SandboxProcess
from api_sandbox.vendors.amperity import AmperityData
from api_sandbox.vendors.amperity.data import utc_today
from repo_support import SyncResult, sync_in_process
from tap_amperity.tap import TapAmperity

SCALE = 0.05
SEED = 42
DEFAULT_STREAMS = (
    "audit_events",
    "campaigns",
    "segments",
    "workflow_runs",
    "ingest_jobs",
    "profile_indexes",
    "index_profiles",
)
OPT_IN_STREAMS = ("workflow_task_instances",)


def data(today: date | None = None) -> AmperityData:
    """The sandbox tenant as of ``today`` (default: today; its history ends at its midnight)."""
    return AmperityData(SEED, SCALE, today)


def days_ago(days: int) -> datetime:
    """Midnight UTC ``days`` before today."""
    return datetime.combine(utc_today() - timedelta(days=days), time(), tzinfo=UTC)


def sandbox_config(sandbox: SandboxProcess, **overrides: Any) -> dict[str, Any]:
    """Sandbox credentials (docs/CONVENTIONS.md), a start 10 days back, fast pacing."""
    return {
        "tenant_id": "acme-sandbox",
        "api_url": f"{sandbox.url('amperity')}/api",
        "client_id": "sandbox-client-id",
        "client_secret": "sandbox-client-secret",
        "start_date": days_ago(10).isoformat(),
        "page_size": 5,
        "max_requests_per_second": 200,
        "max_retries": 4,
        **overrides,
    }


def run_sync(
    config: dict[str, Any], streams: Iterable[str], state: dict[str, Any] | None = None
) -> SyncResult:
    """Sync ``streams`` in process and collect RECORD and STATE messages."""
    return sync_in_process(TapAmperity(config=config, state=state or {}), streams)


# --- what the sandbox holds -----------------------------------------------------------------
def expected_keys(stream: str, start: datetime | None = None) -> set[Any]:
    """Primary keys of ``stream`` the sandbox holds (dated streams: from ``start`` on)."""
    model = data()
    if stream == "audit_events":
        return {model.audit_event(i)["event_id"] for i in model.audit_event_range(start, None)}
    if stream == "workflow_runs":  # created or ended since start (two listings)
        return {model.workflow_run(i)["id"] for i in model.workflow_runs_active_since(start)}
    if stream == "workflow_task_instances":  # the tasks of each run workflow_runs reads
        return {
            (model.workflow_run(i)["id"], task["id"])
            for i in model.workflow_runs_active_since(start)
            for task in model.workflow_task_instances(i)
        }
    if stream == "ingest_jobs":
        return {model.ingest_job(i)["id"] for i in model.ingest_job_range(start, None)}
    if stream == "campaigns":
        return {c["id"] for c in model.campaigns()}
    if stream == "campaign_drafts":
        return {c["id"] for c in model.campaign_drafts()}
    if stream == "segments":
        return {s["id"] for s in model.segments()}
    if stream == "profile_indexes":
        return {i["id"] for i in model.indexes()}
    if stream == "index_profiles":
        return {
            (p["index_id"], p["id"]) for n in range(model.index_count) for p in model.profiles(n)
        }
    raise KeyError(stream)


def keys_of(stream: str, records: list[dict[str, Any]]) -> list[Any]:
    """Primary keys of synced records, in the shape of :func:`expected_keys`."""
    if stream == "index_profiles":
        return [(r["index_id"], r["id"]) for r in records]
    if stream == "workflow_task_instances":
        return [(r["workflow_run_id"], r["id"]) for r in records]
    if stream == "audit_events":
        return [r["event_id"] for r in records]
    return [r["id"] for r in records]


def assert_complete(stream: str, records: list[dict[str, Any]], start: datetime | None) -> None:
    """Every record the sandbox holds for ``stream`` from ``start``, none twice."""
    keys = keys_of(stream, records)
    assert len(keys) == len(set(keys)), f"{stream}: a record was emitted twice"
    assert set(keys) == expected_keys(stream, start), f"{stream}: records lost or invented"


def amperity_stats(sandbox: SandboxProcess) -> dict[str, Any]:
    """The sandbox's request statistics for Amperity."""
    stats: dict[str, Any] = sandbox.stats()["amperity"]
    return stats


def path_hits(sandbox: SandboxProcess, suffix: str) -> int:
    """Requests the sandbox answered on the route ending with ``suffix``."""
    paths: dict[str, int] = amperity_stats(sandbox)["paths"]
    return sum(n for path, n in paths.items() if path.endswith(suffix))
