"""Settings declared once: the properties every tap shares, and the typed object a tap builds
from its declared schema at start-up. A setting's default is written in its declaration only;
code reads it from the :class:`Settings` object, never from the raw config."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Self

from singer_sdk import typing as th

from singer_rest_toolkit.config import invalid
from singer_rest_toolkit.dates import parse_instant, utc_now
from singer_rest_toolkit.pacing import ApiFamily

REQUEST_MINIMUMS = {
    "max_requests_per_second": 1,
    "request_timeout": 1,
    "max_retries": 1,
    "max_retry_seconds": 1,
    "progress_interval_seconds": 1,
}
HELP = {
    "request_timeout": "Seconds one request may take in all (connecting and the whole answer) before it is retried",
    "max_retries": "Tries per request in all, for 429, 5xx, timeouts and malformed bodies",
    "max_retry_seconds": "Seconds one request may spend retrying in all, from its first failure: a Retry-After longer than what is left stops the run at once, in one line",
    "skip_unavailable_streams": "A stream whose endpoint answers 403/404 to its first request (not available to this account) is skipped: the others are synced, then the run fails naming it. false: stop at once",
    "progress_interval_seconds": "Seconds between progress lines in the log (records, requests, elapsed); the last line splits the sync's time into rate limit, API and work",
    "metrics_log_level": "Level of the SDK's metrics logger: INFO or DEBUG logs its METRIC lines (request durations, request and record counts). They are also logged at the DEBUG log level, under meltano --log-format=json, and when SINGER_SDK_LOG_CONFIG sets the singer_sdk.metrics logger to INFO",
    "end_date": "Latest instant (UTC) the date-ranged and incremental streams read: nothing after it is requested or written and no bookmark passes it (a backfill of a past range); default: none, read up to now",
}
LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


def described(help: Mapping[str, str]) -> Callable[..., th.Property[Any]]:
    """``setting(name, kind, **extra)``: the property ``name`` described by ``help[name]``."""

    def setting(name: str, kind: type[th.JSONTypeHelper[Any]], **extra: Any) -> th.Property[Any]:
        return th.Property(name, kind, description=help[name], **extra)

    return setting


def request_settings(*, requests_per_second: int, pace: str) -> list[th.Property[Any]]:
    """The settings of every tap's requests: the pace (``pace`` says the vendor's limit),
    the timeout and the retry budget."""
    setting = described({**HELP, "max_requests_per_second": pace})
    return [
        setting("max_requests_per_second", th.IntegerType, default=requests_per_second),
        setting("request_timeout", th.IntegerType, default=60),
        setting("max_retries", th.IntegerType, default=8),
        setting("max_retry_seconds", th.IntegerType, default=180),
        setting("skip_unavailable_streams", th.BooleanType, default=True),
        setting("progress_interval_seconds", th.IntegerType, default=30),
        setting("metrics_log_level", th.StringType, default="WARNING", allowed_values=LOG_LEVELS),
    ]


def end_date_setting() -> th.Property[Any]:
    """The ``end_date`` setting every tap declares (backfills of a past range)."""
    return described(HELP)("end_date", th.DateTimeType)


def family_settings(family: ApiFamily, *, pace: str, parallel: str) -> list[th.Property[Any]]:
    """The settings of an API family other than the main one: its pace (``pace`` says the
    documented limit) and its workers for per-parent listings."""
    setting = described({family.rate_setting: pace, family.parallel_setting: parallel})
    return [
        setting(family.rate_setting, th.IntegerType, default=family.requests_per_second),
        setting(family.parallel_setting, th.IntegerType, default=family.parallel_requests),
    ]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Settings:
    """The settings the toolkit reads, typed; a vendor tap subclasses it with its own. A field
    with a default here is one a tap may not declare at all: its value is then fixed."""

    max_requests_per_second: int
    request_timeout: int
    max_retries: int
    max_retry_seconds: int
    skip_unavailable_streams: bool
    progress_interval_seconds: int
    page_size: int | None = None
    """None: the stream's documented maximum, else its tap's trial size (see PageSize)."""
    start_date: datetime | None = None
    end_date: datetime | None = None
    max_parallel_requests: int = 1
    """A tap that does not declare it sends one request at a time."""
    lookback_days: int = 0
    """Days before the bookmark a date-windowed stream re-reads; none where not declared."""
    declared: Mapping[str, Any] = dataclasses.field(default_factory=dict, repr=False)
    """Every declared setting by name, its default applied (those of an API family)."""

    @classmethod
    def from_config(cls, config: Mapping[str, Any], schema: Mapping[str, Any]) -> Self:
        """The settings of ``config``, with the defaults of ``schema`` (a tap's
        ``config_jsonschema``) where a setting is absent or null."""
        declared = {
            name: setting.get("default") if config.get(name) is None else config[name]
            for name, setting in schema.get("properties", {}).items()
        }
        fields = [field.name for field in dataclasses.fields(cls)]
        values = {name: declared[name] for name in fields if name in declared}
        for name in ("start_date", "end_date"):
            if values.get(name):
                try:
                    values[name] = parse_instant(str(values[name]))
                except ValueError:
                    msg = f"{name} must be an ISO-8601 date or date-time: {values[name]!r}"
                    raise invalid(msg) from None
        return cls(**values, declared=declared)  # a field no setting declares: TypeError

    def check_dates(self) -> None:
        """``start_date`` is not in the future, ``end_date`` not before it."""
        start, end, given = self.start_date, self.end_date, self.declared
        if start is not None and start > utc_now():
            raise invalid(f"start_date is in the future: {given['start_date']!r}")
        if start is not None and end is not None and end < start:
            raise invalid(
                f"end_date {given['end_date']!r} is before start_date {given['start_date']!r}"
            )

    def family(self, family: ApiFamily | None) -> tuple[int, int]:
        """(requests per second, workers) of ``family``; None: the main API."""
        if family is None:
            return self.max_requests_per_second, self.max_parallel_requests
        return int(self.declared[family.rate_setting]), int(self.declared[family.parallel_setting])

    def first_page_size(self, documented: int | None, trial: int) -> int:
        """The page size a stream asks for first: the ``page_size`` setting (not above a
        documented maximum), else the largest size documented, else the tap's ``trial``."""
        if self.page_size:
            return min(self.page_size, documented) if documented else self.page_size
        return documented or trial
