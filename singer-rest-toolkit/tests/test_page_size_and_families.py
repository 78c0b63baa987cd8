"""Pages as large as the API allows (a refused or capped size falls back, once, with one INFO
line) and API families paced apart, each at its own ceiling."""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any, ClassVar

import pytest
from example_tap import Children, ExampleTap, Parents, sync
from pytest_httpserver import HTTPServer
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError
from werkzeug import Request, Response

from singer_rest_toolkit.pacing import MAIN_API, ApiFamily
from singer_rest_toolkit.settings import family_settings, request_settings

ITEMS = 95


class ItemsServer:
    """``/items`` of :data:`ITEMS` records, at most ``maximum`` a page: a larger ``limit`` is
    refused (a 400 naming ``limit``, with the maximum when ``says_max``) or served capped."""

    def __init__(
        self, httpserver: HTTPServer, maximum: int, over: str, *, says_max: bool = True
    ) -> None:
        self.maximum = maximum
        self.over = over
        self.says_max = says_max
        self.limits: list[int] = []
        httpserver.expect_request("/items").respond_with_handler(self.page)

    def page(self, request: Request) -> Response:
        limit = int(request.args["limit"])
        self.limits.append(limit)
        if limit > self.maximum and self.over == "refuse":
            message = f"limit must be at most {self.maximum}" if self.says_max else "bad limit"
            return Response(json.dumps({"message": message}), status=400)
        served = min(limit, self.maximum)
        start = int(request.args.get("cursor", "0"))
        end = min(ITEMS, start + served)
        body = {
            "items": [{"id": n} for n in range(start, end)],
            "next": str(end) if end < ITEMS else None,
        }
        return Response(json.dumps(body), content_type="application/json")


def sync_items(
    httpserver: HTTPServer, caplog: pytest.LogCaptureFixture, **config: Any
) -> list[int]:
    tap = ExampleTap(
        config={"api_url": httpserver.url_for(""), "max_requests_per_second": 1000, **config}
    )
    with caplog.at_level(logging.INFO):
        messages, error = sync(tap, ["items"])
    assert error is None, error
    return [m["record"]["id"] for m in messages if m["type"] == "RECORD"]


def settled_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "items: pages of" in r.getMessage()]


def test_a_refused_page_size_falls_back_to_the_maximum_the_api_names(
    httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    server = ItemsServer(httpserver, maximum=30, over="refuse")
    assert sync_items(httpserver, caplog, max_retries=3) == list(range(ITEMS))
    assert server.limits == [ExampleTap.default_page_size, 30, 30, 30, 30]
    assert settled_lines(caplog) == ["items: pages of 30 records (the API refused 100)"]


def test_a_refusal_that_names_no_maximum_halves_the_size(
    httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    server = ItemsServer(httpserver, maximum=30, over="refuse", says_max=False)
    # One try per request: refusals are asked again outside the retry budget.
    assert sync_items(httpserver, caplog, max_retries=1) == list(range(ITEMS))
    assert server.limits == [100, 50, 25, 25, 25, 25]
    assert len(settled_lines(caplog)) == 1


def test_a_capped_page_size_is_asked_for_as_served(
    httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    server = ItemsServer(httpserver, maximum=30, over="cap")
    assert sync_items(httpserver, caplog) == list(range(ITEMS))
    assert server.limits == [100, 30, 30, 30]
    assert settled_lines(caplog) == [
        "items: pages of 30 records (the API serves at most 30 of the 100 asked)"
    ]


def test_a_page_size_setting_below_the_maximum_is_kept(
    httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    server = ItemsServer(httpserver, maximum=30, over="refuse")
    assert sync_items(httpserver, caplog, page_size=20) == list(range(ITEMS))
    assert server.limits == [20] * 5


def test_a_refusal_at_one_record_a_page_stops_the_stream(httpserver: HTTPServer) -> None:
    server = ItemsServer(httpserver, maximum=0, over="refuse")
    tap = ExampleTap(config={"api_url": httpserver.url_for(""), "max_retries": 8, "page_size": 1})
    _, error = sync(tap, ["items"])
    assert error is not None
    assert str(error).startswith("items: HTTP 400 from GET /items: ")
    assert "limit must be at most 0" in str(error)
    assert server.limits == [1], "no smaller size to try: not asked again"


# --- API families ----------------------------------------------------------------------------
class BulkChildren(Children):
    api_family = "bulk"


class FamilyTap(ExampleTap):
    """Parents on the main API; their children on a "bulk" API with a ceiling of its own."""

    bulk = ApiFamily(
        1000,
        rate_setting="bulk_max_requests_per_second",
        parallel_requests=4,
        parallel_setting="bulk_max_parallel_requests",
    )
    api_families: ClassVar[dict[str, ApiFamily]] = {"bulk": bulk}
    config_jsonschema = th.PropertiesList(
        th.Property("api_url", th.StringType, required=True),
        *family_settings(bulk, pace="bulk pace", parallel="bulk workers"),
        *request_settings(requests_per_second=10, pace="main pace"),
    ).to_dict()

    def discover_streams(self) -> list[Any]:
        return [Parents(self), BulkChildren(self)]


class TreeArrivals:
    """``/parents`` (``count`` of them) and their one-child listings, stamping each arrival."""

    def __init__(self, httpserver: HTTPServer, count: int) -> None:
        self.arrivals: list[float] = []
        self.threads: set[str] = set()
        self._lock = threading.Lock()
        httpserver.expect_request("/parents").respond_with_json([{"id": n} for n in range(count)])
        for n in range(count):
            httpserver.expect_request(f"/parents/{n}/children").respond_with_handler(self.child)

    def child(self, request: Request) -> Response:
        with self._lock:
            self.arrivals.append(time.monotonic())
        parent = int(request.path.split("/")[2])
        return Response(json.dumps([{"id": parent}]), content_type="application/json")

    def busiest_second(self) -> int:
        stamps = sorted(self.arrivals)
        return max(sum(1 for t in stamps if start <= t < start + 1.0) for start in stamps)


def family_sync(httpserver: HTTPServer, **config: Any) -> tuple[list[Any], FamilyTap]:
    tap = FamilyTap(config={"api_url": httpserver.url_for(""), **config})
    messages, error = sync(tap, ["parents", "children"])
    assert error is None, error
    return [m["record"] for m in messages if m["type"] == "RECORD"], tap


def test_a_family_is_not_paced_by_the_main_api(httpserver: HTTPServer) -> None:
    server = TreeArrivals(httpserver, count=12)
    records, tap = family_sync(httpserver, max_requests_per_second=1)
    assert len(records) == 24
    assert server.busiest_second() > 1, "the children waited for the main API's pace"
    assert tap.scheduler.pool(MAIN_API) is None
    assert tap.scheduler.pool("bulk") is not None


def test_a_family_keeps_to_its_own_setting(httpserver: HTTPServer) -> None:
    server = TreeArrivals(httpserver, count=12)
    records, _ = family_sync(
        httpserver, max_requests_per_second=1000, bulk_max_requests_per_second=5
    )
    assert len(records) == 24
    assert server.busiest_second() <= 5


@pytest.mark.parametrize("setting", ["bulk_max_requests_per_second", "bulk_max_parallel_requests"])
def test_a_family_setting_below_one_is_named(httpserver: HTTPServer, setting: str) -> None:
    with pytest.raises(ConfigValidationError, match=f"^{setting} must be at least 1: 0$"):
        FamilyTap(config={"api_url": httpserver.url_for(""), setting: 0})
