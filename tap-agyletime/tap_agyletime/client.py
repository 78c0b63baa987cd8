"""The base streams: the two hosts, the JSend envelope, ``nextPageToken`` paging, date windows."""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import requests
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.streams.rest import HTTPRequest, PageContext
from typing_extensions import override

from singer_rest_toolkit import DateWindowStream, RestStream
from singer_rest_toolkit.dates import parse_instant
from singer_rest_toolkit.pagination import TokenPaginator
from singer_rest_toolkit.responses import error_message, json_object
from singer_rest_toolkit.stream import StreamHost

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


TENANT = "tenant"
REGIONAL = "regional"


@dataclass(frozen=True)
class ApiUrls:
    """Base URLs of the two hosts, without a trailing slash."""

    tenant: str
    regional: str

    @property
    def token(self) -> str:
        """The token endpoint (tenant host)."""
        return f"{self.tenant}/authority/token"


def api_urls(config: Mapping[str, Any]) -> ApiUrls:
    """``tenant_url``/``regional_url``, or the production hosts of subdomain and region."""
    tenant = config.get("tenant_url") or f"https://{config.get('subdomain')}.cloud.agyletime.io/api"
    regional = (
        config.get("regional_url") or f"https://api-{config.get('region')}.cloud.agyletime.io"
    )
    return ApiUrls(tenant.rstrip("/"), regional.rstrip("/"))


def jsend_message(response: requests.Response) -> str:
    """The error's ``message`` and ``code`` from a JSend error body, else a short excerpt."""
    return error_message(response, id_keys=("code",))


def next_page_token(body: dict[str, Any]) -> str | None:
    """``nextPageToken`` at the top level (documented) or inside an object ``data``."""
    token = body.get("nextPageToken")
    data = body.get("data")
    if token is None and isinstance(data, dict):
        token = data.get("nextPageToken")
    return str(token) if token not in (None, "") else None


def record_list(data: Any, key: str | None = None) -> list[dict[str, Any]]:
    """The records of ``data``: a list, or the one list inside an object (or ``data[key]``).

    ``data`` null or an empty object is an empty page. Raises ValueError for any other
    shape, so a changed API fails loudly, not silently.
    """
    if data is None or data == {}:
        return []
    if isinstance(data, dict):
        if key is not None and isinstance(data.get(key), list):
            data = data[key]
        else:
            lists = [value for value in data.values() if isinstance(value, list)]
            if len(lists) != 1:
                msg = f"data is an object without one record list (keys: {sorted(data)[:10]})"
                raise ValueError(msg)
            data = lists[0]
    if not isinstance(data, list):
        msg = f"data is a {type(data).__name__}, expected a list of records"
        raise ValueError(msg)
    return [item for item in data if isinstance(item, dict)]


class AgyleTimeHost(StreamHost, Protocol):
    """What an Agyle Time stream needs of its tap."""

    @property
    def urls(self) -> ApiUrls: ...


class AgyleTimeStream(RestStream[str | None], abc.ABC):
    """A GET listing on the tenant or the regional host, in the JSend envelope."""

    host: ClassVar[str] = TENANT
    """``TENANT`` (``{tenant_url}``, paths start after ``/api``) or ``REGIONAL``."""
    page_size_param = "pageLimit"
    data_records_key: ClassVar[str | None] = None
    """Key of the record list when ``data`` is an object (else: its only list)."""
    unavailable_hint = (
        "This tenant cannot use this endpoint (or tenant_url/regional_url is wrong): "
        "deselect the '{name}' stream"
    )

    @override
    def __init__(self, tap: AgyleTimeHost) -> None:
        self.agyletime_tap = tap  # its URLs, read when first needed
        super().__init__(tap)

    # --- request ----------------------------------------------------------------------------
    @property
    @override
    def url_base(self) -> str:
        """The tenant URL (with ``/api``) or the regional URL."""
        urls = self.agyletime_tap.urls
        return urls.tenant if self.host == TENANT else urls.regional

    @override
    def get_http_request(self, *, page: PageContext[str | None]) -> HTTPRequest:
        """The listing's filters (on every page), ``pageLimit`` and the page token."""
        request = super().get_http_request(page=page)
        request.params = {
            **self.query_filters(page.stream_context),
            self.page_size_param: self.page_size.ask(),
            "nextPageToken": page.next_page_token,
        }
        return request

    @override
    def get_new_paginator(self) -> TokenPaginator:
        """A fresh ``nextPageToken`` paginator per listing (and per date window)."""
        return TokenPaginator(
            self.name, "nextPageToken", lambda response: next_page_token(json_object(response))
        )

    # --- responses ----------------------------------------------------------------------------
    @override
    def request_label(self, response: requests.Response) -> str:
        """``GET /path``; a token request retried by a stream is "the token endpoint"."""
        if response.request is not None and response.request.method == "POST":
            return "the token endpoint"
        return super().request_label(response)

    @override
    def vendor_message(self, response: requests.Response) -> str:
        """JSend ``message`` and ``code``."""
        return jsend_message(response)

    @override
    def check_body(self, response: requests.Response, body: Any) -> None:
        """A JSend ``error``/``fail`` status stops; a body without ``data`` is asked again."""
        where = self.request_label(response)
        if not isinstance(body, dict):
            msg = f"{self.name}: HTTP {response.status_code} from {where} is not JSON"
            raise RetriableAPIError(msg, response)
        if body.get("status") in ("error", "fail"):
            raise FatalAPIError(self.error_line(response))
        if "data" not in body:
            msg = f"{self.name}: the response to {where} has no data"
            raise RetriableAPIError(msg, response)

    @override
    def page_fill(self, body: Any) -> tuple[int, bool] | None:
        """``itemsCount`` when sent, else the length of a ``data`` list; unknown for an object
        (metrics: ``pageLimit`` counts user-days, not the rows they hold)."""
        count = body.get("itemsCount")
        data = body.get("data")
        if not isinstance(count, int):
            if not isinstance(data, list):
                return None
            count = len(data)
        return count, next_page_token(body) is not None

    @override
    def parse_response(self, response: requests.Response) -> Iterable[dict[str, Any]]:
        """The records of ``data`` (a list, or an object holding one)."""
        try:
            return record_list(json_object(response)["data"], self.data_records_key)
        except ValueError as exc:
            msg = f"{self.name}: unexpected response to {self.request_label(response)}: {exc}"
            raise FatalAPIError(msg) from None


class AgyleTimeDateWindowStream(DateWindowStream[str | None], AgyleTimeStream, abc.ABC):
    """A date-ranged listing read in windows of up to 92 days (see DateWindowStream)."""

    window_params = ("startTime", "endTime")
    window_size = timedelta(days=92)

    def record_time(self, record: dict[str, Any]) -> datetime | None:
        """When a record falls, to keep only the window's own records (see README)."""
        value = record.get(self.replication_key or "")
        try:
            return parse_instant(value) if isinstance(value, str) and value else None
        except ValueError:
            return None

    @override
    def in_window(self, record: dict[str, Any], start: datetime, end: datetime) -> bool:
        """Only the window's records, in case the API ignores the end filter."""
        moment = self.record_time(record)
        return moment is None or start <= moment < end


class MetricsStream(AgyleTimeDateWindowStream, abc.ABC):
    """Per-day metrics: ``data.dates[].users[].channels[]`` flattened to one row per channel."""

    align_to_days = True
    replication_key = "date"
    primary_keys = ("userId", "date", "channel")
    window_size = timedelta(days=7)
    """One response holds every user x day of its window: a week keeps it (and memory) small."""

    @override
    def query_filters(self, context: Context | None) -> dict[str, Any]:
        """The window plus the grouping the nesting relies on."""
        return {**super().query_filters(context), "userGrouping": "true", "dateGrouping": "true"}

    @override
    def record_time(self, record: dict[str, Any]) -> datetime | None:
        """Midnight UTC of the row's date."""
        value = record.get("date")
        try:
            day = date.fromisoformat(str(value)[:10])
        except ValueError:
            return None
        return datetime.combine(day, time(), tzinfo=UTC)

    @override
    def parse_response(self, response: requests.Response) -> Iterable[dict[str, Any]]:
        """One row per (date, user, channel); ``data`` may also be the list of dates."""
        data = json_object(response)["data"]
        dates = data.get("dates") if isinstance(data, dict) else data
        if dates is None and (data is None or not any(v is not None for v in data.values())):
            return  # a window without activity: data null, {} or {"dates": null}
        if not isinstance(dates, list):
            msg = f"{self.name}: unexpected response to {self.request_label(response)}: no dates"
            raise FatalAPIError(msg)
        for entry in dates:
            for user in entry.get("users") or []:
                for channel in user.get("channels") or []:
                    yield self.metric_row(str(entry.get("date")), user, channel)

    @abc.abstractmethod
    def metric_row(self, day: str, user: dict[str, Any], channel: dict[str, Any]) -> dict[str, Any]:
        """The row of one user's channel on ``day``."""
