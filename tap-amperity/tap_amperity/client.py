"""The Amperity base streams: URL, headers, the ``{data, next_token}`` envelope, cursor paging
and the error body. Pace, retries, error lines and conformance are the toolkit's."""

from __future__ import annotations

import abc
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import requests
from singer_sdk.exceptions import RetriableAPIError
from singer_sdk.pagination import BaseAPIPaginator, SinglePagePaginator
from singer_sdk.streams.rest import HTTPRequest, PageContext
from typing_extensions import override

from singer_rest_toolkit import DateWindowStream, RestStream
from singer_rest_toolkit.bookmarks import bookmark_of
from singer_rest_toolkit.dates import iso_z, utc_now
from singer_rest_toolkit.pagination import TokenPaginator
from singer_rest_toolkit.responses import error_message as vendor_error
from singer_rest_toolkit.responses import json_object
from singer_rest_toolkit.stream import StreamHost

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context
    from singer_sdk.singerlib import Catalog

    from tap_amperity.settings import AmperitySettings

AMPERITY_API = "api_version"
PROFILE_API = "profile_api_version"
UNSTABLE_API = "unstable"
PROFILE_API_FAMILY = "profile_api"
"""The Profile API's rate limit is its own (2000 requests/s per tenant, not 10)."""


def next_token(response: requests.Response) -> str | None:
    """The cursor of the next page; None when absent, null or empty (all mean "last page")."""
    token = json_object(response).get("next_token")
    return str(token) if token not in (None, "") else None


def error_message(response: requests.Response) -> str:
    """``message`` plus ``request_id``/``trace_id`` of an error body, else a short excerpt."""
    return vendor_error(response, id_keys=("request_id", "trace_id"))


class DeprecationNotes:
    """``Deprecation``/``Sunset`` headers, warned about once per run and endpoint."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._seen: set[tuple[str, str, str]] = set()

    def note(self, response: requests.Response, endpoint: str) -> None:
        """Warn about ``endpoint`` (``/indexes/{index_id}/profiles``, not each index's path)
        unless these headers were already warned about."""
        deprecation = response.headers.get("Deprecation", "")
        sunset = response.headers.get("Sunset", "")
        key = (endpoint, deprecation, sunset)
        if (not deprecation and not sunset) or key in self._seen:
            return
        self._seen.add(key)
        self._logger.warning(
            "GET %s is deprecated (Deprecation: %s; Sunset: %s): check the Amperity API "
            "changelog and update api_version",
            endpoint,
            deprecation or "-",
            sunset or "-",
        )


class AmperityHost(StreamHost, Protocol):
    """What an Amperity stream needs of its tap."""

    @property
    def settings(self) -> AmperitySettings: ...

    @property
    def deprecations(self) -> DeprecationNotes: ...

    @property
    def input_catalog(self) -> Catalog | None: ...


class AmperityStream(RestStream[str | None], abc.ABC):
    """A GET listing of the Amperity API (or the Profile API) in the ``{data, next_token}``
    envelope."""

    api_version_setting: ClassVar[str] = AMPERITY_API
    """Setting holding this endpoint's ``api-version`` (or ``UNSTABLE_API``)."""
    paged: ClassVar[bool] = True
    """False for listings that take no ``limit``/``next_token`` (ingest jobs)."""
    page_size_param = "limit"
    records_key = "data"
    unavailable_hint = (
        "The API key cannot use this endpoint (or api_url is wrong): deselect the '{name}' stream"
    )

    def __init__(self, tap: AmperityHost) -> None:
        self.amperity_tap = tap
        super().__init__(tap=tap)

    @property
    @override
    def settings(self) -> AmperitySettings:
        return self.amperity_tap.settings

    @property
    @override
    def url_base(self) -> str:
        return self.settings.api_base

    @property
    def api_version(self) -> str:
        """The ``api-version`` this endpoint is called with."""
        if self.api_version_setting == UNSTABLE_API:
            return UNSTABLE_API
        return str(getattr(self.settings, self.api_version_setting))

    @property
    @override
    def http_headers(self) -> dict[str, Any]:
        """``Amperity-Tenant`` and ``api-version`` on every call."""
        return {
            **super().http_headers,
            "Amperity-Tenant": self.settings.tenant_id,
            "api-version": self.api_version,
        }

    @override
    def get_http_request(self, *, page: PageContext[str | None]) -> HTTPRequest:
        """The listing's filters on every page, ``limit`` and the page token (never an empty
        one)."""
        request = super().get_http_request(page=page)
        params = dict(self.query_filters(page.stream_context))
        if self.paged:
            params[self.page_size_param] = self.page_size.ask()
            if page.next_page_token:
                params["next_token"] = page.next_page_token
        request.params = params
        return request

    @override
    def get_new_paginator(self) -> BaseAPIPaginator[Any]:
        """A fresh cursor paginator per listing; one page for unpaged listings."""
        if not self.paged:
            return SinglePagePaginator()
        return TokenPaginator(self.name, "next_token", next_token)

    @override
    def validate_response(self, response: requests.Response) -> None:
        """Any response, error or not, may announce that the endpoint is deprecated."""
        self.amperity_tap.deprecations.note(response, self.path)
        super().validate_response(response)

    @override
    def vendor_message(self, response: requests.Response) -> str:
        return error_message(response)

    @override
    def check_body(self, response: requests.Response, body: Any) -> None:
        """A 2xx body without its ``data`` list is a glitch worth asking again."""
        if not isinstance(body, dict):
            msg = (
                f"{self.name}: HTTP {response.status_code} from {self.request_label(response)} "
                "is not JSON"
            )
            raise RetriableAPIError(msg, response)
        if not isinstance(body.get("data"), list):
            msg = f"{self.name}: the response to {self.request_label(response)} has no data list"
            raise RetriableAPIError(msg, response)

    @override
    def page_fill(self, body: Any) -> tuple[int, bool] | None:
        token = body.get("next_token")
        return len(body["data"]), token not in (None, "")


class ProfileApiStream(AmperityStream, abc.ABC):
    """A listing of the Profile API: its own api-version and its own rate limit."""

    api_version_setting = PROFILE_API
    api_family = PROFILE_API_FAMILY


class AmperityIncrementalStream(AmperityStream, abc.ABC):
    """A listing filtered by one "from" parameter: the bookmark minus a lookback (not before
    start_date), else start_date, else everything."""

    since_param: ClassVar[str]
    until_param: ClassVar[str]
    """The exclusive upper bound of :attr:`since_param`'s field, sent for end_date."""

    def __init__(self, tap: AmperityHost) -> None:
        super().__init__(tap=tap)
        self._since: datetime | None = None

    def lookback(self) -> timedelta:
        """Re-read before the bookmark on every run."""
        return timedelta(0)

    @override
    def fetch_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Read the bookmark once per listing: every page asks from the same instant, and a
        bookmark later than now is warned about once."""
        start_date = self.settings.start_date
        bookmark = bookmark_of(self, context, utc_now())
        since = bookmark - self.lookback() if bookmark is not None else start_date
        if since is not None and start_date is not None:
            since = max(since, start_date)
        self._since = since
        return super().fetch_records(context)

    @override
    def query_filters(self, context: Context | None) -> dict[str, Any]:
        filters = {self.since_param: iso_z(self._since)} if self._since is not None else {}
        if self.settings.end_date is not None:
            filters[self.until_param] = iso_z(self.settings.end_date)
        return filters


class AmperityDateWindowStream(DateWindowStream[str | None], AmperityStream, abc.ABC):
    """A listing read in windows of at most 7 days (``created_from``/``created_to``)."""

    window_size = timedelta(days=7)
    window_params = ("created_from", "created_to")
    rereads: ClassVar[timedelta] = timedelta(0)
    """How far before the bookmark each run starts again."""

    @override
    def lookback(self) -> timedelta:
        return self.rereads

    @override
    def first_run_history(self) -> timedelta:
        """Without a start_date, a first run reads the last 7 days."""
        return timedelta(days=7)
