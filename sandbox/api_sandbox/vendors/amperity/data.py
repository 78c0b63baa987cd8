"""The Amperity tenant the sandbox serves, as plain Python.

Every record is a pure function of ``(seed, kind, index)``. Dated kinds (audit events,
workflow runs, ingest jobs) spread :data:`HISTORY_DAYS` days of history that ends at
midnight UTC today, in time order: record ``i`` is later than record ``i - 1``, so a
date filter becomes an index range found by bisection and a page costs only its own
records, whatever the scale. Tests use the same functions to know exactly what the
sandbox holds.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import Any

from api_sandbox.data import iso_z, person_name, phrase, pick, rng_for, scaled, token_chars

Record = dict[str, Any]

TENANT = "acme-sandbox"
TENANT_FAMILY = "acme"
HISTORY_DAYS = 60
EVENT_TYPES = (
    ":amperity.alert.audience/created",
    ":amperity.segment/updated",
    ":amperity.campaign/sent",
    ":amperity.api-key/token-issued",
    ":amperity.user/logged-in",
    ":amperity.courier-group/run",
)
WORKFLOW_TYPES = (
    "campaign.send",
    "courier.group/run",
    "amperity.orchestration.orchestration/run",
    "amperity.stitch/run",
)
WORKFLOW_STATES = ("succeeded", "succeeded", "succeeded", "failed", "canceled", "stopped")
RUNNING_STATE = "started"
"""The state of a run that has not ended by the end of the sandbox's history."""
WORKFLOW_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
"""Workflow runs sit on a timeline from this instant: a run is the same run whatever today is,
so one that is still running today has ended, with its final state, on a later day."""
LONG_RUN_SHARE = 0.05
"""Share of runs that last one to five days (longer than the tap's default lookback)."""
TASK_EXECUTION_TYPES = ("spark-sql", "prodigal", "databricks", "identity", "task-identity")
TASK_DEFINITION_TYPES = ("query", "bridge-sync", "stitch", "campaign-send", "database-refresh")
INGEST_STATES = ("succeeded", "succeeded", "succeeded", "failed", "skipped", "canceled")
SEGMENT_STATUSES = ("active", "active", "inactive", "draft")
TABLE_NAMES = ("Customers", "Orders", "Order_Items", "Loyalty", "Web_Events", "Returns")
USER_AGENTS = ("Mozilla/5.0 (Macintosh)", "python-requests/2.32", "amperity-cli/1.4")
ATTRIBUTES: tuple[tuple[str, str], ...] = (
    ("given_name", "string"),
    ("surname", "string"),
    ("email", "string"),
    ("city", "string"),
    ("lifetime_value", "number"),
    ("order_count", "integer"),
    ("is_loyalty_member", "boolean"),
    ("first_order_date", "date"),
    ("preferred_channel", "string"),
    ("churn_score", "number"),
)
"""Attributes an index may expose (name, JSON type); each index picks a few."""


def utc_today() -> date:
    """Today's date in UTC: the sandbox's history ends at its midnight."""
    return datetime.now(UTC).date()


def _day_stamp(value: datetime) -> str:
    return value.strftime("%Y%m%d")


@dataclass(frozen=True)
class Timeline:
    """``count`` instants over ``days`` days ending at ``end``, increasing with the index."""

    end: datetime
    days: int
    count: int

    @property
    def start(self) -> datetime:
        """The first instant the timeline can hold."""
        return self.end - timedelta(days=self.days)

    def at(self, index: int, fraction: float) -> datetime:
        """Instant of record ``index``; ``fraction`` in [0, 1) places it inside its slot."""
        slot_us = self.days * 86_400_000_000 // self.count
        offset_us = index * slot_us + int(fraction * (slot_us - 1000))
        moment = self.start + timedelta(microseconds=offset_us)
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@dataclass(frozen=True)
class FixedTimeline:
    """Records every ``slot`` from ``epoch`` on, record ``i`` in slot ``i``; the history a
    sandbox serves is the part in ``[start, end)``. Unlike :class:`Timeline`, a record keeps
    its instant (and so its identity) when ``end`` moves to a later day."""

    epoch: datetime
    slot: timedelta
    end: datetime
    days: int

    @property
    def start(self) -> datetime:
        """The first instant of the history served."""
        return self.end - timedelta(days=self.days)

    def at(self, index: int, fraction: float) -> datetime:
        """Instant of record ``index``; ``fraction`` in [0, 1) places it inside its slot."""
        slot_us = self.slot // timedelta(microseconds=1)
        moment = self.epoch + timedelta(
            microseconds=index * slot_us + int(fraction * (slot_us - 1000))
        )
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)

    def slot_of(self, instant: datetime) -> int:
        """The index of the slot holding ``instant``."""
        return (instant - self.epoch) // self.slot


class _Instants:
    """A lazy sequence of the instants of a timeline, for :mod:`bisect`."""

    def __init__(self, count: int, instant: Callable[[int], datetime]) -> None:
        self._count = count
        self._instant = instant

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: int) -> datetime:
        return self._instant(index)


class AmperityData:
    """The sandbox tenant: counts scale with ``scale``; dated history ends at ``today``."""

    def __init__(
        self, seed: int, scale: float, today: date | None = None, *, tenant: str = TENANT
    ) -> None:
        self.tenant = tenant
        """The tenant id its records carry (another tenant: another)."""
        self.tenant_family = TENANT_FAMILY if tenant == TENANT else tenant.split("-", maxsplit=1)[0]
        self.seed = seed
        self.scale = scale
        self.today = today or utc_today()
        end = datetime.combine(self.today, time(), tzinfo=UTC)
        self.audit_timeline = Timeline(end, HISTORY_DAYS, scaled(2000, scale))
        self.workflow_timeline = FixedTimeline(
            WORKFLOW_EPOCH,
            timedelta(days=HISTORY_DAYS) / scaled(1500, scale),
            end,
            HISTORY_DAYS,
        )
        self.ingest_timeline = Timeline(end, HISTORY_DAYS, scaled(600, scale))

    # --- counts ------------------------------------------------------------------------
    @cached_property
    def campaign_count(self) -> int:
        """Campaigns in the tenant."""
        return scaled(150, self.scale)

    @cached_property
    def campaign_draft_count(self) -> int:
        """Campaign drafts (unstable endpoint)."""
        return scaled(40, self.scale)

    @cached_property
    def segment_count(self) -> int:
        """Segments in the tenant."""
        return scaled(120, self.scale)

    @cached_property
    def index_count(self) -> int:
        """Profile API indexes (at least two, so the child stream has several parents)."""
        return scaled(4, self.scale, minimum=2)

    @cached_property
    def profiles_per_index(self) -> int:
        """Profiles in each index."""
        return scaled(250, self.scale)

    # --- full-table kinds --------------------------------------------------------------
    def _campaign(self, kind: str, index: int) -> Record:
        rng = rng_for(self.seed, kind, index)
        record: Record = {"id": f"cc-{token_chars(rng, 9)}", "name": phrase(rng, 3)}
        if rng.random() < 0.8:
            deliver = self.audit_timeline.start + timedelta(minutes=rng.randrange(90 * 24 * 60))
            record["deliver_at"] = iso_z(deliver)
        return record

    def campaign(self, index: int) -> Record:
        """Campaign ``index``: ``id``, ``name`` and (mostly) ``deliver_at``."""
        return self._campaign("campaign", index)

    def campaign_draft(self, index: int) -> Record:
        """Campaign draft ``index`` (same shape as a campaign)."""
        return self._campaign("campaign-draft", index)

    def segment(self, index: int) -> Record:
        """Segment ``index``; ``status`` is absent on some (older API versions omit it)."""
        rng = rng_for(self.seed, "segment", index)
        record: Record = {"id": f"seg-{token_chars(rng, 9)}", "name": phrase(rng, 2)}
        if rng.random() < 0.85:
            record["status"] = pick(rng, SEGMENT_STATUSES)
        return record

    def campaigns(self) -> Iterator[Record]:
        """Every campaign, in API order."""
        return (self.campaign(i) for i in range(self.campaign_count))

    def campaign_drafts(self) -> Iterator[Record]:
        """Every campaign draft, in API order."""
        return (self.campaign_draft(i) for i in range(self.campaign_draft_count))

    def segments(self) -> Iterator[Record]:
        """Every segment, in API order."""
        return (self.segment(i) for i in range(self.segment_count))

    # --- audit events ------------------------------------------------------------------
    def audit_event_time(self, index: int) -> datetime:
        """``happened_at`` of audit event ``index``."""
        return self.audit_timeline.at(index, rng_for(self.seed, "audit-at", index).random())

    def audit_event(self, index: int) -> Record:
        """Audit event ``index``; ``object_name`` is optional, as documented."""
        rng = rng_for(self.seed, "audit", index)
        first, last = person_name(rng)
        record: Record = {
            "event_id": f"ae-{token_chars(rng, 8)}",
            "event_type": pick(rng, EVENT_TYPES),
            "tenant": self.tenant,
            "tenant_family": self.tenant_family,
            "happened_at": iso_z(self.audit_event_time(index)),
            "principal_id": f"user-{token_chars(rng, 10)}",
            "principal_name": f"{first} {last}",
            "principal_email": f"{first.lower()}.{index}@example.com",
            "object_id": f"seg-{token_chars(rng, 9)}",
            "origin_ip": f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
            "user_agent": pick(rng, USER_AGENTS),
            "session_id": f"ses-{token_chars(rng, 12)}",
        }
        if rng.random() < 0.7:
            record["object_name"] = phrase(rng, 2)
        return record

    def audit_event_range(self, start: datetime | None, end: datetime | None) -> range:
        """Indexes of audit events with ``start <= happened_at < end``."""
        return self._range(self.audit_timeline.count, self.audit_event_time, start, end)

    # --- workflow runs -----------------------------------------------------------------
    def workflow_run_time(self, index: int) -> datetime:
        """``created_at`` of workflow run ``index``."""
        return self.workflow_timeline.at(index, rng_for(self.seed, "wf-at", index).random())

    def workflow_run_final(self, index: int) -> Record:
        """Workflow run ``index`` once it has ended, with an ``error`` object when it failed.

        Most runs take seconds to two hours; :data:`LONG_RUN_SHARE` of them one to five days.
        """
        rng = rng_for(self.seed, "workflow", index)
        created = self.workflow_run_time(index)
        state = pick(rng, WORKFLOW_STATES)
        kind = pick(rng, WORKFLOW_TYPES)
        automated = rng.random() < 0.6
        first, last = person_name(rng)
        seconds = rng.randrange(30, 7200)
        if rng.random() < LONG_RUN_SHARE:
            seconds = rng.randrange(86_400, 5 * 86_400)
        record: Record = {
            "id": f"wf-{_day_stamp(created)}-{rng.randrange(10000, 99999)}-{token_chars(rng, 6)}",
            "state": state,
            "type": kind,
            "name": phrase(rng, 2),
            "tenant": self.tenant,
            "created_at": iso_z(created),
            "ended_at": iso_z(created + timedelta(seconds=seconds)),
            "principal_id": "system" if automated else f"user-{token_chars(rng, 10)}",
            "principal_name": "Automated workflow" if automated else f"{first} {last}",
            "launched_version": f"etv-{token_chars(rng, 9)}",
            "current_version": f"etv-{token_chars(rng, 9)}",
            "warn_after_ms": rng.randrange(1, 12) * 600_000,
        }
        if not automated:
            record["principal_email"] = f"{first.lower()}.{last.lower()}@example.com"
        if state == "failed":
            record["error"] = {
                "type": "task-failure",
                "message": f"Task {phrase(rng, 1)} failed",
                "attribution": pick(rng, ("customer", "platform")),
                "data": {"task_count": rng.randrange(1, 9)} if rng.random() < 0.5 else None,
            }
        return record

    def workflow_run_end(self, index: int) -> datetime:
        """When workflow run ``index`` ends (possibly after the end of the history)."""
        return datetime.fromisoformat(self.workflow_run_final(index)["ended_at"])

    def workflow_run(self, index: int) -> Record:
        """Workflow run ``index`` as the API shows it at the end of the history (today's
        midnight): a run that ends later is still ``started``, with no ``ended_at``."""
        record = self.workflow_run_final(index)
        if self.workflow_run_end(index) >= self.workflow_timeline.end:
            record["state"] = RUNNING_STATE
            del record["ended_at"]
            record.pop("error", None)
        return record

    def workflow_run_number(self, run_id: str) -> int | None:
        """The index of the run with id ``run_id`` in the history (its id names its day)."""
        try:
            day = datetime.strptime(run_id.split("-")[1], "%Y%m%d").replace(tzinfo=UTC)
        except (IndexError, ValueError):
            return None
        for index in self.workflow_run_range(day, day + timedelta(days=1)):
            if self.workflow_run_final(index)["id"] == run_id:
                return index
        return None

    def workflow_task_instances(self, index: int) -> list[Record]:
        """The tasks run ``index`` has started by the end of the history, one after another
        over the run's duration; a task not ended by then is ``started``, without
        ``ended_at``. A failed run's last task carries its error."""
        run = self.workflow_run_final(index)
        rng = rng_for(self.seed, "workflow-tasks", index)
        created = datetime.fromisoformat(run["created_at"])
        count = rng.randrange(1, 6)
        step = (datetime.fromisoformat(run["ended_at"]) - created) / count
        tasks: list[Record] = []
        for number in range(count):
            started = created + step * number
            ended = started + step
            task: Record = {
                "id": f"wft-{token_chars(rng, 10)}",
                "state": "succeeded",
                "tenant": self.tenant,
                "created_at": iso_z(started),
                "ended_at": iso_z(ended),
                "state_changed_at": iso_z(ended),
                "execution_type": pick(rng, TASK_EXECUTION_TYPES),
                "label": phrase(rng, 2),
                "run_id": f"wftr-{token_chars(rng, 10)}",
                "task_definition_id": f"wftd-{token_chars(rng, 8)}",
                "task_definition_type": pick(rng, TASK_DEFINITION_TYPES),
                "timeout_ms": rng.randrange(1, 12) * 600_000,
                "workflow_id": run["id"],
            }
            if started >= self.workflow_timeline.end:
                break  # not started yet
            if ended >= self.workflow_timeline.end:
                task["state"] = RUNNING_STATE
                task["state_changed_at"] = task["created_at"]
                del task["ended_at"]
            elif number == count - 1:
                task["state"] = run["state"]
                if "error" in run:
                    task["error"] = run["error"]
            tasks.append(task)
        return tasks

    def workflow_run_range(self, start: datetime | None, end: datetime | None) -> range:
        """Indexes of workflow runs with ``start <= created_at < end`` in the history."""
        timeline = self.workflow_timeline
        low = max(start, timeline.start) if start is not None else timeline.start
        high = min(end, timeline.end) if end is not None else timeline.end
        first = timeline.slot_of(timeline.start)
        count = timeline.slot_of(timeline.end) + 1 - first
        found = self._range(count, lambda k: self.workflow_run_time(first + k), low, high)
        return range(first + found.start, first + found.stop)

    def workflow_runs_active_since(self, since: datetime | None) -> list[int]:
        """Indexes of the runs created, or ended, at or after ``since`` (every run without
        one), in API order: what ``created_from`` and ``ended_from`` return together."""
        created = self.workflow_run_range(since, None)
        if since is None:
            return list(created)
        ended = [
            i
            for i in self.workflow_run_range(None, since)
            if since <= self.workflow_run_end(i) < self.workflow_timeline.end
        ]
        return ended + list(created)

    # --- ingest jobs -------------------------------------------------------------------
    def ingest_job_time(self, index: int) -> datetime:
        """When ingest job ``index`` started (its first table's ``started_at``)."""
        return self.ingest_timeline.at(index, rng_for(self.seed, "isj-at", index).random())

    def ingest_job(self, index: int) -> Record:
        """Ingest job ``index``: one to three tables, each with one or two files."""
        rng = rng_for(self.seed, "ingest", index)
        started = self.ingest_job_time(index)
        stamp = _day_stamp(started)
        job_id = f"isj-{stamp}-{rng.randrange(10000, 99999)}-{token_chars(rng, 6)}"
        tables = []
        for number in range(rng.randrange(1, 4)):
            table_start = started + timedelta(seconds=number * rng.randrange(1, 30))
            read = rng.randrange(100, 50_000)
            errors = rng.randrange(0, 5)
            files = [
                {
                    "file_id": f"cb-{stamp}-{rng.randrange(10000, 99999)}-{token_chars(rng, 5)}"
                    f"/part{part}.avro",
                    "name": f"part{part}.avro",
                    "read": read // 2,
                    "errors": errors if part == 0 else 0,
                }
                for part in range(rng.randrange(1, 3))
            ]
            tables.append(
                {
                    "feed_id": f"df-{token_chars(rng, 8)}",
                    "job_id": job_id,
                    "table_name": pick(rng, TABLE_NAMES),
                    "state": pick(rng, INGEST_STATES),
                    "read": read,
                    "errors": errors,
                    "rejected": rng.randrange(0, 3),
                    "inserted": read - errors,
                    "updated": rng.randrange(0, read // 10 + 1),
                    "started_at": iso_z(table_start),
                    "ended_at": iso_z(table_start + timedelta(seconds=rng.randrange(5, 900))),
                    "files": files,
                }
            )
        workflow = f"wf-{stamp}-{rng.randrange(10000, 99999)}-{token_chars(rng, 6)}"
        return {"id": job_id, "workflow_id": workflow, "tables": tables}

    def ingest_job_range(self, start: datetime | None, end: datetime | None) -> range:
        """Indexes of ingest jobs that started in ``[start, end)``."""
        return self._range(self.ingest_timeline.count, self.ingest_job_time, start, end)

    # --- Profile API -------------------------------------------------------------------
    def index(self, number: int) -> Record:
        """Profile index ``number``."""
        rng = rng_for(self.seed, "index", number)
        created = self.audit_timeline.start + timedelta(hours=rng.randrange(24 * 30))
        return {
            "id": f"idx-{token_chars(rng, 6).lower()}",
            "name": f"{phrase(rng, 2)} Profiles",
            "description": f"Profiles for {phrase(rng, 1).lower()} use cases",
            "created_at": iso_z(created),
            "updated_at": iso_z(created + timedelta(hours=rng.randrange(1, 24 * 20))),
        }

    def indexes(self) -> Iterator[Record]:
        """Every index, in API order."""
        return (self.index(n) for n in range(self.index_count))

    def index_number(self, index_id: str) -> int | None:
        """The number of the index with id ``index_id``, if it exists."""
        for number, index in enumerate(self.indexes()):
            if index["id"] == index_id:
                return number
        return None

    def index_attributes(self, number: int) -> tuple[tuple[str, str], ...]:
        """(name, type) of the attributes index ``number`` exposes (email always)."""
        rng = rng_for(self.seed, "index-attributes", number)
        chosen = rng.sample(range(len(ATTRIBUTES)), rng.randrange(3, 8))
        names = sorted({2, *chosen})
        return tuple(ATTRIBUTES[i] for i in names)

    def profile(self, number: int, position: int) -> Record:
        """Profile ``position`` of index ``number``."""
        rng = rng_for(self.seed, "profile", number, position)
        first, last = person_name(rng)
        values: dict[str, Any] = {
            "given_name": first,
            "surname": last,
            "email": f"{first.lower()}.{last.lower()}.{position}@example.com",
            "city": phrase(rng, 1),
            "lifetime_value": round(rng.uniform(0, 5000), 2),
            "order_count": rng.randrange(0, 60),
            "is_loyalty_member": rng.random() < 0.4,
            "first_order_date": (self.today - timedelta(days=rng.randrange(1, 2000))).isoformat(),
            "preferred_channel": pick(rng, ("email", "sms", "push", "mail")),
            "churn_score": round(rng.random(), 4),
        }
        attributes = {
            name: (values[name] if rng.random() < 0.9 else None)
            for name, _ in self.index_attributes(number)
        }
        return {
            "id": f"cl-{token_chars(rng, 10).lower()}",
            "index_id": self.index(number)["id"],
            "attributes": attributes,
        }

    def profiles(self, number: int) -> Iterator[Record]:
        """Every profile of index ``number``, in API order."""
        return (self.profile(number, p) for p in range(self.profiles_per_index))

    # --- helpers -----------------------------------------------------------------------
    @staticmethod
    def _range(
        count: int,
        instant: Callable[[int], datetime],
        start: datetime | None,
        end: datetime | None,
    ) -> range:
        instants = _Instants(count, instant)
        low = bisect.bisect_left(instants, start) if start is not None else 0
        high = bisect.bisect_left(instants, end) if end is not None else count
        return range(low, max(low, high))
