"""The next top-level streams fetched while the first is written: the same messages as a
sequential run, each stream's error in its own turn, and a listing larger than its memory
budget fetched to the end without waiting for its reader."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from example_tap import Events, ExampleTap, Items, sync
from pytest_httpserver import HTTPServer
from singer_sdk import typing as th
from singer_sdk.streams.rest import HTTPRequest, PageContext
from werkzeug import Request, Response

from singer_rest_toolkit.dates import iso_z, parse_instant
from singer_rest_toolkit.prefetch import Prefetcher

STREAMS = ("parents", "children", "events", "fixtures", "notes", "items")
PAGES = 3
PER_PAGE = 5


class Notes(Items):
    """``/notes?since=``: a cursor-paged incremental listing, filtered by its bookmark."""

    name = "notes"
    path = "/notes"
    replication_key = "at"
    schema = th.PropertiesList(
        th.Property("id", th.IntegerType), th.Property("at", th.DateTimeType)
    ).to_dict()

    def get_http_request(self, *, page: PageContext[Any]) -> HTTPRequest:
        request = super().get_http_request(page=page)
        since = self.get_starting_replication_key_value(page.stream_context)
        if since:
            request.params["since"] = since
        return request


class Fixtures(Events):
    """``/fixtures``: a second date-windowed stream, synced second (after ``events``)."""

    name = "fixtures"
    path = "/fixtures"


class TapWithNotes(ExampleTap):
    def discover_streams(self) -> list[Any]:
        streams: list[Any] = super().discover_streams()
        return [*streams[:3], Fixtures(self), Notes(self), *streams[3:]]


class SyncServer:
    """Every stream of the example tap plus ``/notes``. ``/events`` (the first stream the SDK
    syncs: it syncs by name) answers once a later stream was asked, or after ``wait_s``
    (when set); ``failing`` answers ``status`` for that path."""

    def __init__(
        self,
        httpserver: HTTPServer,
        *,
        wait_s: float = 0.0,
        failing: str | None = None,
        status: int = 500,
        page_s: float = 0.0,
    ) -> None:
        self.paths: list[str] = []
        self.since: list[str | None] = []
        self.later_stream_asked = threading.Event()
        self.later_stream_asked_before_events: list[bool] = []
        self.wait_s = wait_s
        self.failing = failing
        self.status = status
        self.page_s = page_s
        """How late each page of ``/notes`` and ``/items`` is answered."""
        self.pages_in_flight = 0
        self.pages_in_flight_at_fixtures: list[int] = []
        self._lock = threading.Lock()
        httpserver.expect_request("/parents").respond_with_handler(self.parents)
        for n in range(6):
            httpserver.expect_request(f"/parents/{n}/children").respond_with_handler(self.children)
        for path in ("/events", "/fixtures"):
            httpserver.expect_request(path).respond_with_handler(self.events)
        for path in ("/notes", "/items"):
            httpserver.expect_request(path).respond_with_handler(self.cursor_pages)

    def _log(self, request: Request) -> Response | None:
        with self._lock:
            self.paths.append(request.path)
        if request.path != "/events":
            self.later_stream_asked.set()
        if request.path == self.failing:
            return Response(json.dumps({"error": "down"}), status=self.status)
        return None

    def parents(self, request: Request) -> Response:
        return self._log(request) or _json([{"id": n} for n in range(6)])

    def children(self, request: Request) -> Response:
        parent = int(request.path.split("/")[2])
        return self._log(request) or _json([{"id": parent * 10 + k} for k in range(parent % 3)])

    def events(self, request: Request) -> Response:
        if request.path == "/fixtures":
            self.pages_in_flight_at_fixtures.append(self.pages_in_flight)
        if self.wait_s and request.path == "/events":
            self.later_stream_asked_before_events.append(self.later_stream_asked.wait(self.wait_s))
        start, end = parse_instant(request.args["start"]), parse_instant(request.args["end"])
        day = datetime.combine(start.date(), datetime.min.time(), tzinfo=UTC)
        found = []
        while day < end:
            moment = day + timedelta(hours=12)
            if start <= moment < end:
                found.append({"id": int(moment.timestamp()), "at": moment.isoformat()})
            day += timedelta(days=1)
        return self._log(request) or _json(found)

    def cursor_pages(self, request: Request) -> Response:
        with self._lock:
            self.pages_in_flight += 1
        time.sleep(self.page_s)
        with self._lock:
            self.pages_in_flight -= 1
        if request.path == "/notes":
            self.since.append(request.args.get("since"))
        page = int(request.args.get("cursor", 0))
        items = [{"id": page * PER_PAGE + k} for k in range(PER_PAGE)]
        if request.path == "/notes":
            for item in items:
                item["at"] = NOTES_BOOKMARK
        body = {"items": items, "next": str(page + 1) if page + 1 < PAGES else None}
        return self._log(request) or _json(body)


def _json(body: Any) -> Response:
    return Response(json.dumps(body), content_type="application/json")


START = (datetime.now(UTC) - timedelta(days=20)).replace(microsecond=0)
"""start_date of every run and the events' bookmark."""
NOTES_BOOKMARK = (START + timedelta(days=5)).isoformat()
"""Later than start_date: the notes are asked for from it."""


def run(
    httpserver: HTTPServer, workers: int, **server: Any
) -> tuple[SyncServer, TapWithNotes, list[dict[str, Any]], Exception | None]:
    """Sync every stream from a state with bookmarks: RECORD and STATE messages, a windowed
    stream's bookmark that follows now (the last window's end) read as ``NOW``."""
    handler = SyncServer(httpserver, **server)
    tap = TapWithNotes(
        config={
            "api_url": httpserver.url_for(""),
            "start_date": iso_z(START),
            "lookback_days": 0,
            "max_parallel_requests": workers,
            "max_requests_per_second": 1000,
            "max_retries": 1,
        },
        state={
            "bookmarks": {
                "events": {"replication_key": "at", "replication_key_value": START.isoformat()},
                "fixtures": {"replication_key": "at", "replication_key_value": START.isoformat()},
                "notes": {"replication_key": "at", "replication_key_value": NOTES_BOOKMARK},
            }
        },
    )
    messages, error = sync(tap, STREAMS)
    written = []
    for message in messages:
        if message["type"] == "RECORD":
            message.pop("time_extracted", None)
            written.append(message)
        elif message["type"] == "STATE":
            for name in ("events", "fixtures"):
                bookmark = message["value"].get("bookmarks", {}).get(name, {})
                value = bookmark.get("replication_key_value")
                if value and parse_instant(value) > datetime.now(UTC) - timedelta(minutes=5):
                    bookmark["replication_key_value"] = "NOW"
            written.append(message)
    httpserver.clear()
    return handler, tap, written, error


def test_later_streams_are_fetched_while_the_first_is_written(
    threaded_httpserver: HTTPServer,
) -> None:
    sequential_server, _, sequential, error = run(threaded_httpserver, workers=1)
    assert error is None, error
    ahead_server, _, ahead, error = run(threaded_httpserver, workers=4, wait_s=5.0)
    assert error is None, error
    assert all(ahead_server.later_stream_asked_before_events), "no later stream asked early"
    assert ahead == sequential, "the same records and STATEs, in the same order"
    events = [n for n, path in enumerate(sequential_server.paths) if path == "/events"]
    assert events == list(range(len(events))), "one after another: the first stream first"
    assert ahead_server.since == sequential_server.since == [NOTES_BOOKMARK] * PAGES
    notes = [m["record"]["id"] for m in ahead if m["type"] == "RECORD" and m["stream"] == "notes"]
    assert notes == list(range(PAGES * PER_PAGE))


def test_windows_no_worker_began_are_fetched_in_their_stream_s_turn(
    threaded_httpserver: HTTPServer,
) -> None:
    # Two workers, both on the slow chains of notes and items when fixtures' turn comes (its
    # windows were queued after every chain): its windows are fetched then, once each.
    sequential_server, _, sequential, error = run(threaded_httpserver, workers=1, page_s=0.3)
    assert error is None, error
    ahead_server, _, ahead, error = run(threaded_httpserver, workers=2, page_s=0.3)
    assert error is None, error
    assert ahead == sequential
    assert ahead_server.paths.count("/fixtures") == sequential_server.paths.count("/fixtures")
    assert all(ahead_server.pages_in_flight_at_fixtures), "they waited for the chains to end"


def test_a_later_stream_fails_in_its_own_turn(threaded_httpserver: HTTPServer) -> None:
    _, _, sequential, sequential_error = run(threaded_httpserver, workers=1, failing="/notes")
    _, _, ahead, ahead_error = run(threaded_httpserver, workers=4, failing="/notes")
    assert sequential_error is not None
    assert ahead_error is not None
    assert str(ahead_error) == str(sequential_error)
    assert "notes: HTTP 500 from GET /notes" in str(ahead_error)
    assert ahead == sequential, "every stream before it written, as one after another writes"
    assert {m["stream"] for m in ahead if m["type"] == "RECORD"} == {"events", "fixtures", "items"}


def test_a_later_stream_not_available_is_skipped_in_its_own_turn(
    threaded_httpserver: HTTPServer,
) -> None:
    runs = [
        run(threaded_httpserver, workers=workers, failing="/notes", status=404)
        for workers in (1, 4)
    ]
    (_, sequential_tap, sequential, error), (_, ahead_tap, ahead, ahead_error) = runs
    assert error is None, error
    assert ahead_error is None, ahead_error
    assert ahead == sequential
    assert ahead_tap.unavailable_streams() == sequential_tap.unavailable_streams()
    [line] = ahead_tap.unavailable_streams()
    assert line.startswith("notes: HTTP 404 from GET /notes")


class Exact:
    """One listing of ``size`` records whose amounts are Decimals with trailing zeros."""

    name = "exact"

    def __init__(self, size: int) -> None:
        self.size = size

    def fetch_records(self, context: Any) -> Iterable[dict[str, Any]]:
        return ({"i": i, "amount": Decimal(f"{i}.10")} for i in range(self.size))


def test_a_listing_beyond_its_memory_budget_waits_on_disk_not_for_its_reader() -> None:
    size = 20_000
    pool = Prefetcher(workers=1, name="test", in_flight=2_000)
    try:
        assert pool.submit("exact", None, Exact(size).fetch_records, 1_000)
        listing = pool.take("exact", None)
        assert listing is not None
        assert listing.future is not None
        listing.future.result(timeout=30)  # fetched to the end before anything was read
        records = list(listing.records())
    finally:
        pool.discard()
    assert records == [{"i": i, "amount": Decimal(f"{i}.10")} for i in range(size)]
    assert str(records[-1]["amount"]).endswith(".10"), "Decimals come back exact"
