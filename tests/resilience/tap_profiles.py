"""What the cross-tap resilience tests need to know about each tap.

A profile names the paged stream the fault matrix syncs, the sandbox route its pages come
from, the sandbox config, and the primary keys the sandbox holds — computed from the
sandbox's own data model, never from the tap. Profiles are built lazily so that one tap's
tests import only that tap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from singer_sdk import Tap

from api_sandbox.testing import SandboxProcess

SCALE = 0.05
SEED = 42
Keys = Callable[[], set[Any]]


@dataclass(frozen=True)
class TapProfile:
    """One tap as the cross-tap resilience tests see it."""

    tap: str
    tap_class: type[Tap]
    vendor: str
    config: Callable[[SandboxProcess], dict[str, Any]]
    """Sandbox credentials and URLs; pacing at the tap's default (the vendor's limit)."""
    stream: str
    """The fault matrix's stream: at least three pages at SCALE with the config's page size."""
    route: str
    """Regex matching the request path of that stream's pages (faults hit only these)."""
    expected_keys: Keys
    record_key: Callable[[dict[str, Any]], Any]
    uses_tokens: bool
    """True if the tap's auth has a token that can expire or be revoked."""
    crash_streams: dict[str, tuple[tuple[str, ...], Keys]]
    """Streams of the crash/resume test: key columns and the keys the sandbox holds."""
    crash_env: dict[str, str]
    """Meltano environment for the crash/resume runs (start date, small pages)."""
    envelope: Callable[[list[dict[str, Any]]], dict[str, Any]]
    """A last page of the vendor's list envelope around ``records``."""
    hostile_bodies: dict[str, Callable[[list[dict[str, Any]]], dict[str, Any]]] = field(
        default_factory=dict
    )
    """Hostile streams whose body is not ``envelope(records)``: the last page that holds
    ``records`` (built in the shape of the stream's schema) in the vendor's own nesting."""
    hostile_config: dict[str, Any] = field(default_factory=dict)
    """Settings the hostile-data test adds to ``config`` (to enable optional streams)."""
    token_route: str = ""
    """Regex matching the request path of the token request, where the tap makes one."""
    header_credentials: dict[str, Any] = field(default_factory=dict)
    """Settings that replace the token login by credentials sent in headers on every call
    (None: unset), where the tap has such a mode."""


def _amilia() -> TapProfile:
    from amilia.amilia_support import KEY_PAIR, days_ago, expected_keys, sandbox_config
    from tap_amilia.tap import TapAmilia

    def config(sandbox: SandboxProcess) -> dict[str, Any]:
        return sandbox_config(sandbox, max_requests_per_second=100)

    start = days_ago(40)
    return TapProfile(
        tap="tap-amilia",
        tap_class=TapAmilia,
        vendor="amilia",
        config=config,
        stream="accounts",
        route=r"/org/8008/accounts$",
        expected_keys=lambda: expected_keys("accounts"),
        record_key=lambda record: record["Id"],
        uses_tokens=True,
        crash_streams={
            "activities": (("Id",), lambda: expected_keys("activities")),
            "registrations": (
                ("RegistrationId",),
                lambda: expected_keys("registrations", start.date()),
            ),
        },
        crash_env={
            "TAP_AMILIA_START_DATE": start.date().isoformat(),
            "TAP_AMILIA_PAGE_SIZE": "1",
            "TAP_AMILIA_MAX_REQUESTS_PER_SECOND": "20",
        },
        envelope=lambda records: {
            "Items": records,
            "Paging": {"TotalCount": len(records), "Next": ""},
        },
        token_route=r"/authenticate$",
        header_credentials={"username": None, "password": None, **KEY_PAIR},
    )


def _agyletime_page(data: Any, items: int) -> dict[str, Any]:
    """A last page of Agyle Time's JSend envelope around ``data`` (``items`` records)."""
    return {"status": "success", "data": data, "itemsCount": items, "nextPageToken": ""}


def _agyletime_metrics(user_fields: tuple[str, ...]) -> Callable[[list[dict[str, Any]]], Any]:
    """A metrics body, ``data.dates[].users[].channels[]``, holding one row per record.

    ``userId``, ``date`` and ``channel`` go to their levels, ``user_fields`` to the user,
    the rest to the channel (``otherMetrics`` spread into it, as the API sends them).
    """

    def channel(record: dict[str, Any]) -> dict[str, Any]:
        others = record.get("otherMetrics")
        rest = {
            key: value
            for key, value in record.items()
            if key not in {"userId", "date", "channel", "otherMetrics", *user_fields}
        }
        spread = others if isinstance(others, dict) else {}
        return {**spread, **rest, "channel": record["channel"]}

    def body(records: list[dict[str, Any]]) -> dict[str, Any]:
        dates = [
            {
                "date": record["date"],
                "users": [
                    {
                        "id": record["userId"],
                        **{key: record[key] for key in user_fields if key in record},
                        "channels": [channel(record)],
                    }
                ],
            }
            for record in records
        ]
        return _agyletime_page({"dates": dates}, len(records))

    return body


def _agyletime() -> TapProfile:
    from agyletime.agyletime_support import days_ago, expected_keys, sandbox_config
    from tap_agyletime.tap import TapAgyleTime

    def config(sandbox: SandboxProcess) -> dict[str, Any]:
        # Agyle Time documents no rate limit; the tap's default pacing (3/s) is a courtesy.
        return sandbox_config(sandbox, start_date=days_ago(4).isoformat(), page_size=5)

    schedule_user_fields = (
        "email",
        "rosteredStartTime",
        "rosteredEndTime",
        "actualStartTime",
        "actualEndTime",
    )
    return TapProfile(
        tap="tap-agyletime",
        tap_class=TapAgyleTime,
        vendor="agyletime",
        config=config,
        stream="tasks",
        route=r"/workactivity/tasks$",
        expected_keys=lambda: expected_keys("tasks", days_ago(4)),
        record_key=lambda record: (record["id"], record["createdAt"]),
        uses_tokens=True,
        crash_streams={
            "tasks": (("id", "createdAt"), lambda: expected_keys("tasks", days_ago(10))),
            "users": (("id",), lambda: expected_keys("users", days_ago(10))),
        },
        crash_env={
            "TAP_AGYLETIME_START_DATE": days_ago(10).isoformat(),
            "TAP_AGYLETIME_PAGE_SIZE": "3",
            "TAP_AGYLETIME_MAX_REQUESTS_PER_SECOND": "15",
        },
        envelope=lambda records: _agyletime_page(records, len(records)),
        hostile_bodies={
            "agent_metrics": _agyletime_metrics(("firstName", "lastName")),
            "schedule_metrics": _agyletime_metrics(schedule_user_fields),
        },
        token_route=r"/authority/token$",
    )


def _amperity() -> TapProfile:
    from amperity.amperity_support import days_ago, expected_keys, sandbox_config
    from tap_amperity.tap import TapAmperity

    def config(sandbox: SandboxProcess) -> dict[str, Any]:
        return sandbox_config(sandbox, page_size=5, max_requests_per_second=10)

    start = days_ago(10)
    return TapProfile(
        tap="tap-amperity",
        tap_class=TapAmperity,
        vendor="amperity",
        config=config,
        stream="audit_events",
        route=r"/api/audit-events$",
        expected_keys=lambda: expected_keys("audit_events", days_ago(10)),
        record_key=lambda record: record["event_id"],
        uses_tokens=True,
        crash_streams={
            "audit_events": (("event_id",), lambda: expected_keys("audit_events", start)),
            "ingest_jobs": (("id",), lambda: expected_keys("ingest_jobs", start)),
            "index_profiles": (("index_id", "id"), lambda: expected_keys("index_profiles")),
        },
        crash_env={
            "TAP_AMPERITY_START_DATE": start.isoformat(),
            "TAP_AMPERITY_PAGE_SIZE": "2",
        },
        envelope=lambda records: {"data": records, "next_token": None},
        hostile_bodies={
            "workflow_task_instances": lambda records: {"id": "wf-1", "task_instances": records},
        },
        hostile_config={"include_unstable": True},
        token_route=r"/oauth2/token$",
    )


PROFILE_FACTORIES: dict[str, Callable[[], TapProfile]] = {
    "tap-amilia": _amilia,
    "tap-amperity": _amperity,
    "tap-agyletime": _agyletime,
}


def profile(tap: str) -> TapProfile:
    """The profile of ``tap``."""
    return PROFILE_FACTORIES[tap]()
