"""A minimal tap on the toolkit, for its tests: ``/parents``, ``/parents/{id}/children``, a
date-windowed ``/events?start=&end=`` and a cursor-paged ``/items?limit=&cursor=``, served by
pytest-httpserver."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from contextlib import redirect_stdout
from datetime import datetime
from functools import cached_property
from typing import Any

import requests
from singer_sdk import typing as th
from singer_sdk.pagination import BaseAPIPaginator, SinglePagePaginator
from singer_sdk.streams.rest import HTTPRequest, PageContext

from singer_rest_toolkit import DateWindowStream, RestStream, RestTap
from singer_rest_toolkit.auth import FixedCredentials
from singer_rest_toolkit.dates import parse_instant
from singer_rest_toolkit.pagination import TokenPaginator
from singer_rest_toolkit.responses import json_body
from singer_rest_toolkit.settings import request_settings


class ExampleStream(RestStream[Any]):
    @property
    def url_base(self) -> str:
        return str(self.config["api_url"]).rstrip("/")

    def get_http_request(self, *, page: PageContext[None]) -> HTTPRequest:
        request = super().get_http_request(page=page)
        request.params = self.query_filters(page.stream_context)
        return request

    def get_new_paginator(self) -> BaseAPIPaginator[Any]:
        return SinglePagePaginator()

    def parse_response(self, response: requests.Response) -> Iterable[dict[str, Any]]:
        return list(json_body(response))


class Parents(ExampleStream):
    name = "parents"
    path = "/parents"
    primary_keys = ("id",)
    schema = th.PropertiesList(th.Property("id", th.IntegerType)).to_dict()

    def get_child_context(self, record: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"parent_id": record["id"]}


class Children(ExampleStream):
    name = "children"
    path = "/parents/{parent_id}/children"
    primary_keys = ("parent_id", "id")
    parent_stream_type = Parents
    schema = th.PropertiesList(
        th.Property("parent_id", th.IntegerType), th.Property("id", th.IntegerType)
    ).to_dict()


class Items(ExampleStream):
    """``/items?limit=&cursor=``: ``{"items": [...], "next": cursor or null}``."""

    name = "items"
    path = "/items"
    primary_keys = ("id",)
    schema = th.PropertiesList(th.Property("id", th.IntegerType)).to_dict()

    def get_http_request(self, *, page: PageContext[Any]) -> HTTPRequest:
        request = super().get_http_request(page=page)
        request.params = {self.page_size_param: self.page_size.ask()}
        if page.next_page_token:
            request.params["cursor"] = page.next_page_token
        return request

    def get_new_paginator(self) -> BaseAPIPaginator[Any]:
        return TokenPaginator(self.name, "cursor", lambda response: json_body(response)["next"])

    def page_fill(self, body: Any) -> tuple[int, bool] | None:
        return len(body["items"]), body["next"] is not None

    def parse_response(self, response: requests.Response) -> Iterable[dict[str, Any]]:
        return list(json_body(response)["items"])


class Events(DateWindowStream[Any], ExampleStream):
    name = "events"
    path = "/events"
    primary_keys = ("id",)
    replication_key = "at"
    schema = th.PropertiesList(
        th.Property("id", th.IntegerType), th.Property("at", th.DateTimeType)
    ).to_dict()

    def in_window(self, record: dict[str, Any], start: datetime, end: datetime) -> bool:
        """Only the window's own records, should the API not filter exactly."""
        return start <= parse_instant(record["at"]) < end


class ExampleTap(RestTap):
    name = "tap-example"
    config_jsonschema = th.PropertiesList(
        th.Property("api_url", th.StringType, required=True),
        th.Property("start_date", th.DateTimeType),
        th.Property("lookback_days", th.IntegerType, default=2),
        th.Property("max_parallel_requests", th.IntegerType, default=1),
        th.Property("page_size", th.IntegerType),
        *request_settings(requests_per_second=10, pace="Requests per second"),
    ).to_dict()

    @cached_property
    def authenticator(self) -> FixedCredentials:
        return FixedCredentials({"X-Key": "secret-key"}, "the key was refused")

    def discover_streams(self) -> list[ExampleStream]:
        return [Parents(self), Children(self), Events(self), Items(self)]


def sync(tap: RestTap, streams: Iterable[str]) -> tuple[list[dict[str, Any]], Exception | None]:
    """Sync ``streams`` in process: the Singer messages written, and the error, if any."""
    wanted = set(streams)
    for name, stream in tap.streams.items():
        stream.selected = name in wanted
    buffer = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    error: Exception | None = None
    with redirect_stdout(buffer):
        try:
            tap.sync_all()
        except Exception as exc:
            error = exc
    buffer.flush()
    buffer.seek(0)
    return [json.loads(line) for line in buffer.read().splitlines()], error
