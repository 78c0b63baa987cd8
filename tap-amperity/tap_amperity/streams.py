"""Amperity streams: one small class each; schemas inline, shared fragments first."""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cached_property
from itertools import islice
from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk import typing as th
from singer_sdk.exceptions import RetriableAPIError
from typing_extensions import override

from singer_rest_toolkit.dates import iso_z, parse_instant
from singer_rest_toolkit.responses import json_object
from tap_amperity.client import (
    UNSTABLE_API,
    AmperityDateWindowStream,
    AmperityIncrementalStream,
    AmperityStream,
    ProfileApiStream,
)

if TYPE_CHECKING:
    import requests
    from singer_sdk.helpers.types import Context

    from tap_amperity.client import AmperityHost


logger = logging.getLogger("tap-amperity.streams")

# --- shared fragments --------------------------------------------------------------------------
# Any JSON value. Not th.AnyType: the SDK's record conformance fails on a list under an
# empty schema (EmptySchemaTypeError), found by tests/resilience/test_hostile_data.py.
ANY_JSON = th.CustomType({"type": ["object", "array", "string", "number", "boolean", "null"]})
WORKFLOW_ERROR = th.ObjectType(
    th.Property("type", th.StringType),
    th.Property("message", th.StringType),
    th.Property("attribution", th.StringType, description="customer or platform"),
    th.Property("data", ANY_JSON),
)
TASK_INSTANCE_PROPERTIES = (
    th.Property("id", th.StringType, required=True),
    th.Property("state", th.StringType),
    th.Property("tenant", th.StringType),
    th.Property("created_at", th.DateTimeType),
    th.Property("ended_at", th.DateTimeType),
    th.Property("state_changed_at", th.DateTimeType),
    th.Property("execution_type", th.StringType),
    th.Property("label", th.StringType),
    th.Property("run_id", th.StringType),
    th.Property("task_definition_id", th.StringType),
    th.Property("task_definition_type", th.StringType),
    th.Property("timeout_ms", th.NumberType),  # integer now, double in an older spec
    th.Property("workflow_id", th.StringType),
    th.Property("error", WORKFLOW_ERROR),
)
TASK_INSTANCE = th.ObjectType(*TASK_INSTANCE_PROPERTIES)
INGEST_FILE = th.ObjectType(
    th.Property("file_id", th.StringType),
    th.Property("name", th.StringType),
    th.Property("read", th.IntegerType),
    th.Property("errors", th.IntegerType),
)
INGEST_FEED = th.ObjectType(
    th.Property("feed_id", th.StringType),
    th.Property("job_id", th.StringType),
    th.Property("table_name", th.StringType),
    th.Property("state", th.StringType),
    th.Property("read", th.IntegerType),
    th.Property("errors", th.IntegerType),
    th.Property("rejected", th.IntegerType),
    th.Property("inserted", th.IntegerType),
    th.Property("updated", th.IntegerType),
    th.Property("started_at", th.DateTimeType),
    th.Property("ended_at", th.DateTimeType),
    th.Property("files", th.ArrayType(INGEST_FILE)),
)
CAMPAIGN = th.PropertiesList(
    th.Property("id", th.StringType, required=True),
    th.Property("name", th.StringType),
    th.Property("deliver_at", th.DateTimeType, description="When it was or will be delivered"),
    additional_properties=True,
).to_dict()


def ended_since(record: dict[str, Any], since: datetime) -> bool:
    """True unless the run's ``ended_at`` is missing or before ``since`` (an API that ignored
    ``ended_from`` would send those); an ``ended_at`` that is not a date-time is kept."""
    ended = record.get("ended_at")
    if not ended:
        return False
    try:
        return parse_instant(str(ended)) >= since
    except ValueError:
        return True


def schema(*properties: th.Property[Any]) -> dict[str, Any]:
    """A record schema that keeps fields the tap does not declare."""
    return th.PropertiesList(*properties, additional_properties=True).to_dict()


# --- Amperity API (api_version) ----------------------------------------------------------------
class AuditEventsStream(AmperityIncrementalStream):
    """``GET /audit-events``, incremental on ``happened_at`` (``happened_from`` is inclusive)."""

    name = "audit_events"
    path = "/audit-events"
    primary_keys = ("event_id",)
    replication_key = "happened_at"
    since_param = "happened_from"
    until_param = "happened_to"
    max_page_size = 1000  # "Each response may contain up to 1000 audit events"
    schema = schema(
        th.Property("event_id", th.StringType, required=True),
        th.Property("event_type", th.StringType),
        th.Property("tenant", th.StringType),
        th.Property("tenant_family", th.StringType),
        th.Property("happened_at", th.DateTimeType),
        th.Property("principal_id", th.StringType),
        th.Property("principal_name", th.StringType),
        th.Property("principal_email", th.StringType),
        th.Property("object_id", th.StringType),
        th.Property("object_name", th.StringType),
        th.Property("origin_ip", th.StringType),
        th.Property("user_agent", th.StringType),
        th.Property("session_id", th.StringType),
    )


class CampaignsStream(AmperityStream):
    """``GET /campaigns`` (no timestamps to filter on: full table)."""

    name = "campaigns"
    path = "/campaigns"
    primary_keys = ("id",)
    schema = CAMPAIGN


class CampaignDraftsStream(AmperityStream):
    """``GET /campaign-drafts``, only in ``api-version: unstable`` (``include_unstable``)."""

    name = "campaign_drafts"
    path = "/campaign-drafts"
    primary_keys = ("id",)
    schema = CAMPAIGN
    api_version_setting = UNSTABLE_API


class SegmentsStream(AmperityStream):
    """``GET /segments``; ``status`` is missing on older API descriptions, so optional."""

    name = "segments"
    path = "/segments"
    primary_keys = ("id",)
    schema = schema(
        th.Property("id", th.StringType, required=True),
        th.Property("name", th.StringType),
        th.Property("status", th.StringType),
    )


class WorkflowRunsStream(AmperityIncrementalStream):
    """``GET /workflow/runs``: the runs created since the bookmark (``created_from``), then
    the runs that ended since it (``ended_from``), so a run read while still running arrives
    again with its final state however long it ran.

    The bookmark is the latest ``created_at``; both listings start ``workflow_lookback_days``
    before it (not before start_date for ``created_from``). A run in both is written once.
    """

    name = "workflow_runs"
    path = "/workflow/runs"
    primary_keys = ("id",)
    replication_key = "created_at"
    since_param = "created_from"
    until_param = "created_to"
    ended_params: ClassVar[tuple[str, str]] = ("ended_from", "ended_to")
    schema = schema(
        th.Property("id", th.StringType, required=True),
        th.Property("state", th.StringType),
        th.Property("type", th.StringType),
        th.Property("name", th.StringType),
        th.Property("tenant", th.StringType),
        th.Property("created_at", th.DateTimeType),
        th.Property("ended_at", th.DateTimeType),
        th.Property("principal_id", th.StringType),
        th.Property("principal_name", th.StringType),
        th.Property("principal_email", th.StringType),
        th.Property("launched_version", th.StringType),
        th.Property("current_version", th.StringType),
        th.Property("warn_after_ms", th.NumberType),  # integer now, double in an older spec
        th.Property("error", WORKFLOW_ERROR),
        th.Property(
            "task_instances",
            th.ArrayType(TASK_INSTANCE),
            description="Null in listings (see workflow_task_instances)",
        ),
    )

    def __init__(self, tap: AmperityHost) -> None:
        super().__init__(tap=tap)
        self._ended_pass = False

    @override
    def fetch_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """The runs created since the bookmark, then those that ended since, each once."""
        written: set[str] = set()
        for record in super().fetch_records(context):
            written.add(str(record.get("id")))
            yield record
        since = self._since
        if since is None:
            return  # everything was read: nothing can have ended unseen
        self._ended_pass = True
        try:
            for record in self.request_records(context):
                if str(record.get("id")) not in written and ended_since(record, since):
                    yield record
        finally:
            self._ended_pass = False

    @override
    def query_filters(self, context: Context | None) -> dict[str, Any]:
        """``created_from`` (and ``created_to``), or ``ended_from`` (and ``ended_to``) in the
        second listing."""
        filters = super().query_filters(context)
        if self._ended_pass:
            ended = dict(zip(self.ended_params, (self.since_param, self.until_param), strict=True))
            return {name: filters[key] for name, key in ended.items() if key in filters}
        return filters

    @override
    def get_child_context(self, record: dict[str, Any], context: Context | None) -> Context:
        """Only the run's id: the single-run view needs nothing else."""
        return {"workflow_run_id": record["id"]}

    @override
    def lookback(self) -> timedelta:
        return timedelta(days=self.settings.workflow_lookback_days)


class WorkflowTaskInstancesStream(AmperityStream):
    """``GET /workflow/runs/{id}?view=verbose``, once per run ``workflow_runs`` reads: the
    tasks the run started (only the single-run verbose view has them). Opt-in: one request
    per run, at the Amperity API's 10 requests/s."""

    name = "workflow_task_instances"
    path = "/workflow/runs/{workflow_run_id}"
    primary_keys = ("workflow_run_id", "id")
    parent_stream_type = WorkflowRunsStream
    state_partitioning_keys: ClassVar[list[str]] = []  # the parent's bookmark decides
    selected_by_default = False
    paged = False
    schema = schema(
        th.Property("workflow_run_id", th.StringType, required=True),
        *TASK_INSTANCE_PROPERTIES,
    )

    @override
    def query_filters(self, context: Context | None) -> dict[str, Any]:
        return {"view": "verbose"}

    @override
    def check_body(self, response: requests.Response, body: Any) -> None:
        """A 2xx body that is not one run is a glitch worth asking again."""
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            msg = f"{self.name}: the response to {self.request_label(response)} is not a run"
            raise RetriableAPIError(msg, response)

    @override
    def parse_response(self, response: requests.Response) -> Iterable[dict[str, Any]]:
        """The run's ``task_instances`` (absent while it has started none)."""
        tasks = json_object(response).get("task_instances") or []
        return [task for task in tasks if isinstance(task, dict)]


class IngestJobsStream(AmperityDateWindowStream):
    """``GET /ingest/jobs`` in windows of at most 7 days (``created_from``/``created_to``).

    The endpoint takes no ``limit``/``next_token`` (its ``next_token`` is documented as not
    usable), so a window's answer grows with the tenant. Answers are kept near a page's worth
    (``page_size``, at most 500 jobs): after a span that returned more, the next spans are
    shorter in proportion (doubled again after a sparse answer); the crowded answer itself is
    written, not asked for again. The run's first answer goes alone, so the windows fetched
    side by side start at its density, not each with a crowded week. Half-open spans that
    tile the window lose no job and read none twice. The bookmark is the end of the last
    completed 7-day window; each run re-reads one day before it, for jobs that were still
    running.
    """

    name = "ingest_jobs"
    path = "/ingest/jobs"
    primary_keys = ("id",)
    replication_key = "started_at"
    paged = False
    rereads = timedelta(days=1)
    schema = schema(
        th.Property("id", th.StringType, required=True),
        th.Property("workflow_id", th.StringType),
        th.Property(
            "started_at",
            th.DateTimeType,
            description="Earliest tables[].started_at (added by the tap; the API windows on it)",
        ),
        th.Property("tables", th.ArrayType(INGEST_FEED)),
    )

    retention: ClassVar[timedelta] = timedelta(days=7)
    """How long the API keeps ingest job history ("jobs that occurred within the previous 7
    days")."""
    min_span: ClassVar[timedelta] = timedelta(minutes=1)
    """The shortest span a window is split into: more jobs started within it are read whole."""

    max_page_size = 500  # not the API's (it takes none): a job carries its tables, 4x an event

    def __init__(self, tap: AmperityHost) -> None:
        super().__init__(tap=tap)
        self._span = self.window_size
        """The span of the next request: shrunk by a crowded answer, grown by a sparse one."""
        self._answers = itertools.count()
        self._sized = threading.Event()
        """Set once the run's first answer has sized the spans."""

    @override
    def request_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """The jobs of the window of ``context``, in spans of at most a page's worth."""
        if not context or "window_start" not in context:
            return super().request_records(context)
        return self._spans(context)

    def _spans(self, context: Context) -> Iterator[dict[str, Any]]:
        start, end = parse_instant(context["window_start"]), parse_instant(context["window_end"])
        while start < end:
            if next(self._answers) > 0:
                self._sized.wait()
            try:
                stop, jobs = self._answer(context, start, end)
            finally:
                self._sized.set()
            yield from jobs
            start = stop

    def _answer(
        self, context: Context, start: datetime, end: datetime
    ) -> tuple[datetime, list[dict[str, Any]]]:
        """The jobs of the next span from ``start`` (one unparted answer), and where it ends;
        the spans after it are sized by how many jobs it held."""
        stop = min(start + self._span, end)
        span = {**context, "window_start": iso_z(start), "window_end": iso_z(stop)}
        jobs = list(super().request_records(span))
        most = self.page_size.current
        if len(jobs) > most:  # already read whole: the spans after it are shorter instead
            shorter = (stop - start) * most / len(jobs)
            self._span = max(shorter - shorter % timedelta(milliseconds=1), self.min_span)
        elif len(jobs) <= most // 4:
            self._span = min(self._span * 2, self.window_size)
        return stop, jobs

    @override
    def sync_range(
        self, context: Context | None, now: datetime
    ) -> tuple[datetime, datetime, datetime | None]:
        """As every date-windowed stream; warns in one line when what the run must read (from
        the bookmark, or from start_date when that is later or there is none) begins before
        the API's retention, since the jobs before it are gone."""
        start, end, bookmark = super().sync_range(context, now)
        start_date = self.settings.start_date
        origins = [
            (when, name)
            for when, name in ((bookmark, "bookmark"), (start_date, "start_date"))
            if when is not None
        ]
        if origins:
            since, origin = max(origins)
            if now - since > self.retention:
                self.logger.warning(
                    "%s: the %s %s is older than the API's retention of ingest job history "
                    "(about %d days): jobs started before %s may be gone",
                    self.name,
                    origin,
                    since.isoformat(),
                    self.retention.days,
                    (now - self.retention).isoformat(),
                )
        return start, end, bookmark

    @override
    def post_process(
        self, row: dict[str, Any], context: Context | None = None
    ) -> dict[str, Any] | None:
        """Add ``started_at`` unless the API already sends one."""
        if row.get("started_at") is None:
            starts = [
                str(table["started_at"])
                for table in row.get("tables") or []
                if isinstance(table, dict) and table.get("started_at")
            ]
            row["started_at"] = min(starts, key=parse_instant) if starts else None
        return super().post_process(row, context)


# --- Profile API (profile_api_version) ---------------------------------------------------------
class ProfileIndexesStream(ProfileApiStream):
    """``GET /indexes`` (Profile API): full table, the parent of ``index_profiles``."""

    name = "profile_indexes"
    path = "/indexes"
    primary_keys = ("id",)
    schema = schema(
        th.Property("id", th.StringType, required=True),
        th.Property("name", th.StringType),
        th.Property("description", th.StringType),
        th.Property("created_at", th.DateTimeType),
        th.Property("updated_at", th.DateTimeType),
    )

    @override
    def get_child_context(self, record: dict[str, Any], context: Context | None) -> Context:
        """Only the index id: the child's path needs nothing else."""
        return {"index_id": record["id"]}


NUMBERS = frozenset((int, float, Decimal))


def attribute_type(seen: set[type]) -> th.JSONTypeHelper[Any]:
    """The JSON type of an attribute from the Python types of its sampled values: integers
    mixed with decimals are numbers; anything else mixed, or objects and lists, any JSON."""
    if seen == {int}:
        return th.IntegerType()
    if seen <= NUMBERS:
        return th.NumberType()
    if seen == {bool}:
        return th.BooleanType()
    if seen == {str}:
        return th.StringType()
    return ANY_JSON


class IndexProfilesStream(ProfileApiStream):
    """``GET /indexes/{index_id}/profiles`` (Profile API), once per index, full table.

    ``attributes`` is an object whose properties are the attribute names found in a first
    page of each index's profiles at discovery; other keys are kept too.
    """

    name = "index_profiles"
    path = "/indexes/{index_id}/profiles"
    primary_keys = ("index_id", "id")
    parent_stream_type = ProfileIndexesStream
    state_partitioning_keys: ClassVar[list[str]] = []  # full table: no state per index
    sample_indexes: ClassVar[int] = 20
    """Indexes sampled at discovery (an index has at most 30 attributes)."""
    sample_tries: ClassVar[int] = 2
    """Tries per sampling request: discovery falls back to an open object rather than wait."""

    @cached_property
    def _discovered_schema(self) -> dict[str, Any]:
        entry = (
            self.amperity_tap.input_catalog.get_stream(self.name)
            if self.amperity_tap.input_catalog
            else None
        )
        if entry is not None and entry.schema.properties:
            return entry.schema.to_dict()
        return schema(
            th.Property("id", th.StringType, required=True),
            th.Property("index_id", th.StringType, required=True),
            th.Property(
                "attributes",
                th.ObjectType(*self._sample_attributes(), additional_properties=True),
                description="Attributes of the index's query (names found at discovery)",
            ),
        )

    @property
    @override
    def schema(self) -> dict[str, Any]:
        """Declared fields plus the attribute names of a sample of profiles."""
        return self._discovered_schema

    def _sample_attributes(self) -> list[th.Property[Any]]:
        """Attribute names (and JSON types) of a first page of profiles of each index."""
        found: dict[str, set[type]] = {}
        indexes = ProfileIndexesStream(tap=self.amperity_tap)
        indexes.max_tries = self.max_tries = self.sample_tries
        try:
            for number, index in enumerate(indexes.request_records(None)):
                if number >= self.sample_indexes:
                    break
                first_page = islice(
                    self.request_records({"index_id": index["id"]}),
                    self.page_size.current,
                )
                for profile in first_page:
                    for key, value in (profile.get("attributes") or {}).items():
                        if value is not None:
                            found.setdefault(key, set()).add(type(value))
        except Exception as exc:
            logger.warning(
                "index_profiles: could not sample profile attributes (%s); "
                "'attributes' is declared as an open object",
                str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
            )
        finally:
            self.max_tries = None
        return [th.Property(key, attribute_type(seen)) for key, seen in sorted(found.items())]


STREAM_TYPES: tuple[type[AmperityStream], ...] = (
    AuditEventsStream,
    CampaignsStream,
    SegmentsStream,
    WorkflowRunsStream,
    WorkflowTaskInstancesStream,
    IngestJobsStream,
    ProfileIndexesStream,
    IndexProfilesStream,
)
UNSTABLE_STREAM_TYPES: tuple[type[AmperityStream], ...] = (CampaignDraftsStream,)
