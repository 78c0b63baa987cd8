"""Per-parent listings fetched ahead: the same messages as a sequential run, an error where a
sequential run meets it, and a listing no worker started is fetched by the main thread."""

from __future__ import annotations

import gc
import json
import time
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from example_tap import ExampleTap, sync
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from singer_rest_toolkit import prefetch
from singer_rest_toolkit.prefetch import Prefetcher, before_request
from singer_rest_toolkit.responses import json_body

PARENTS = 40
PAGE = 2_000
LONG = 3 * PAGE


class TreeServer:
    """``/parents`` and ``/parents/{id}/children`` (``id % 4`` children each); the children
    of ``failing`` answer 404."""

    def __init__(self, httpserver: HTTPServer, failing: int | None = None) -> None:
        self.failing = failing
        httpserver.expect_request("/parents").respond_with_json([{"id": n} for n in range(PARENTS)])
        for n in range(PARENTS):
            httpserver.expect_request(f"/parents/{n}/children").respond_with_handler(self.children)

    def children(self, request: Request) -> Response:
        parent = int(request.path.split("/")[2])
        if parent == self.failing:
            return Response(json.dumps({"error": "gone"}), status=404)
        body = [{"id": parent * 10 + k} for k in range(parent % 4)]
        return Response(json.dumps(body), content_type="application/json")


def run(httpserver: HTTPServer, workers: int) -> tuple[list[dict[str, Any]], Exception | None]:
    tap = ExampleTap(
        config={
            "api_url": httpserver.url_for(""),
            "max_parallel_requests": workers,
            "max_requests_per_second": 1000,
            "max_retries": 1,
        }
    )
    messages, error = sync(tap, ["parents", "children"])
    for message in messages:
        message.pop("time_extracted", None)
    return [m for m in messages if m["type"] in ("RECORD", "STATE")], error


def test_a_parallel_run_writes_what_a_sequential_run_writes(httpserver: HTTPServer) -> None:
    TreeServer(httpserver)
    sequential, error = run(httpserver, workers=1)
    assert error is None, error
    parallel, error = run(httpserver, workers=6)
    assert error is None, error
    assert parallel == sequential
    children = [
        m["record"] for m in parallel if m["type"] == "RECORD" and m["stream"] == "children"
    ]
    expected = [{"parent_id": p, "id": p * 10 + k} for p in range(PARENTS) for k in range(p % 4)]
    assert children == expected


def test_a_failed_listing_stops_the_run_after_the_same_records(httpserver: HTTPServer) -> None:
    TreeServer(httpserver, failing=23)
    sequential, seq_error = run(httpserver, workers=1)
    parallel, par_error = run(httpserver, workers=6)
    assert seq_error is not None
    assert par_error is not None
    assert str(par_error) == str(seq_error)
    assert "children: HTTP 404 from GET /parents/23/children" in str(par_error)
    assert parallel == sequential


class Long:
    """A stream whose listing for ``{"n": 1}`` holds three pages, more than a listing may
    keep unread on disk (``spill_limit``), and one record for any other context."""

    name = "long"

    def __init__(self) -> None:
        self.fetched: list[Any] = []

    def fetch_records(self, context: Any) -> Iterator[dict[str, Any]]:
        self.fetched.append(context)
        size = LONG if context["n"] == 1 else 1
        for i in range(size):
            if i % PAGE == 0:
                before_request()  # as the exchange does before each page's request
            yield {"n": context["n"], "i": i}


@pytest.fixture
def spill_limit(monkeypatch: pytest.MonkeyPatch) -> int:
    """A listing's worker waits for its reader once one page of ``Long`` waits on disk."""
    monkeypatch.setattr(prefetch, "SPILL_BYTES", 1)
    return 1


@pytest.fixture
def prefetcher(spill_limit: int) -> Iterator[Prefetcher]:
    pool = Prefetcher(workers=1, name="test")
    yield pool
    pool.discard()


def test_a_listing_no_worker_can_start_is_fetched_by_the_caller(prefetcher: Prefetcher) -> None:
    stream = Long()
    assert prefetcher.submit("long", {"n": 1}, stream.fetch_records, PAGE)
    assert prefetcher.submit("long", {"n": 2}, stream.fetch_records, PAGE)
    # The one worker fills listing 1's queue and waits: listing 2 would never start.
    assert prefetcher.take("long", {"n": 2}) is None, "handed back, to be fetched inline"
    first = prefetcher.take("long", {"n": 1})
    assert first is not None
    assert [r["i"] for r in first.records()] == list(range(LONG))
    assert stream.fetched == [{"n": 1}], "the listing handed back was never fetched by the pool"


def test_a_listing_waits_for_a_free_worker(prefetcher: Prefetcher) -> None:
    stream = Long()
    assert prefetcher.submit("long", {"n": 2}, stream.fetch_records, PAGE)
    assert prefetcher.submit("long", {"n": 3}, stream.fetch_records, PAGE)
    for n in (2, 3):
        listing = prefetcher.take("long", {"n": n})
        assert listing is not None, "a free worker fetches it: the caller waits"
        assert list(listing.records()) == [{"n": n, "i": 0}]
    assert stream.fetched == [{"n": 2}, {"n": 3}]


def test_read_ahead_submits_ahead_and_raises_in_order(prefetcher: Prefetcher) -> None:
    submitted: list[int] = []

    def source() -> Iterator[dict[str, Any]]:
        yield from ({"n": n} for n in range(5))
        raise ValueError("page 2 failed")

    read = prefetcher.read_ahead(source(), lambda batch: submitted.extend(r["n"] for r in batch))
    assert next(read) == {"n": 0}
    assert submitted == [0, 1][: prefetcher.ahead], "records are submitted as they are read"
    rest = []
    with pytest.raises(ValueError, match="page 2 failed"):
        rest.extend(r["n"] for r in read)
    assert rest == [1, 2, 3, 4], "the error comes after every record read before it"
    assert submitted == [0, 1, 2, 3, 4]


def test_a_child_stream_unavailable_from_its_first_request_is_skipped(
    httpserver: HTTPServer,
) -> None:
    TreeServer(httpserver, failing=0)  # the first child listing answers 404
    tap = ExampleTap(
        config={
            "api_url": httpserver.url_for(""),
            "max_parallel_requests": 4,
            "max_requests_per_second": 1000,
            "max_retries": 1,
        }
    )
    messages, error = sync(tap, ["parents", "children"])
    assert error is None, error
    parents = [m for m in messages if m["type"] == "RECORD" and m["stream"] == "parents"]
    assert len(parents) == PARENTS, "the parent stream goes on"
    assert not [m for m in messages if m["type"] == "RECORD" and m["stream"] == "children"]
    [line] = tap.unavailable_streams()
    assert line.startswith("children: HTTP 404 from GET /parents/0/children")


def test_a_404_after_an_answer_is_an_error_not_an_unavailable_stream(
    httpserver: HTTPServer,
) -> None:
    TreeServer(httpserver, failing=7)
    _, error = run(httpserver, workers=1)
    assert error is not None
    assert "children: HTTP 404 from GET /parents/7/children" in str(error)


class Paged:
    """A listing of ``pages`` pages from ``/pages/{n}``, each requested as the exchange does
    (the pool's gate first, then the body parsed once): the pages a worker fetched."""

    name = "paged"

    def __init__(self, httpserver: HTTPServer, pages: int) -> None:
        self.url = httpserver.url_for("/pages")
        self.pages = pages
        self.requested = 0

    def fetch_records(self, context: Any) -> Iterator[dict[str, Any]]:
        with requests.Session() as session:
            for n in range(self.pages):
                before_request()
                self.requested += 1
                yield from json_body(session.get(f"{self.url}/{n}", timeout=10))


def test_a_listing_read_later_waits_on_disk_with_no_more_than_the_budget_in_flight(
    httpserver: HTTPServer,
) -> None:
    page = [{"id": k, "pad": "x" * 1_000} for k in range(100)]
    body = json.dumps(page)
    pages = 8
    for n in range(pages):
        httpserver.expect_request(f"/pages/{n}").respond_with_data(
            body, content_type="application/json"
        )
    stream = Paged(httpserver, pages)
    pool = Prefetcher(workers=2, name="test", in_flight=2 * len(body))
    try:
        assert pool.submit("paged", None, stream.fetch_records, len(page))
        listing = pool.take("paged", None)
        assert listing is not None
        assert listing.future is not None
        listing.future.result(timeout=30)  # every page fetched before anything was read
        assert stream.requested == pages
        assert pool.budget.held == 0, "a page on disk holds nothing of the budget"
        assert max(pool.budget.pages.values()) >= len(body), "each request reserved a page"
        records = list(listing.records())
    finally:
        pool.discard()
    assert records == page * pages, "every page, in order, once read"
    assert pool.budget.held == 0


def test_a_listing_nobody_took_stops_fetching_when_dropped(prefetcher: Prefetcher) -> None:
    stream = Long()
    assert prefetcher.submit("long", {"n": 1}, stream.fetch_records, PAGE)
    deadline = time.monotonic() + 10
    while prefetcher.budget.stuck == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert prefetcher.budget.stuck == 1, "its first page on disk, it waits for a reader"
    prefetcher.discard()  # e.g. a stream map dropped the stream: no reader will come
    assert stream.fetched == [{"n": 1}]
    assert prefetcher.budget.held == 0


class Tracked(dict[str, int]):
    """A record that can be referenced weakly (a dict cannot)."""


def test_a_worker_holds_no_earlier_page_while_it_fetches_the_next() -> None:
    """Once a page waits on disk, its records are the worker's no more: a worker that kept
    the last page while fetching the next would hold two pages of a large tenant."""
    earlier: list[weakref.ref[Tracked]] = []
    alive: list[int] = []

    def fetch_records(_context: Any) -> Iterator[dict[str, Any]]:
        for n in range(3):
            before_request()
            gc.collect()
            alive.append(sum(ref() is not None for ref in earlier))
            page = [Tracked(id=n * 10 + k) for k in range(10)]
            earlier.extend(weakref.ref(record) for record in page)
            yield from page
            del page

    pool = Prefetcher(workers=1, name="test")
    try:
        assert pool.submit("tracked", None, fetch_records, 10)
        listing = pool.take("tracked", None)
        assert listing is not None
        records = list(listing.records())
    finally:
        pool.discard()
    assert records == [{"id": n} for n in range(30)]
    # At most the one record the worker's loop variable still names.
    assert max(alive) <= 1, f"records of earlier pages alive at each request: {alive}"
