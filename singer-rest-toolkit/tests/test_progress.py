"""Progress in the log: a line every ``progress_interval_seconds`` while a sync runs, then
one that splits its time into waiting for the rate limit, waiting for the API and work."""

from __future__ import annotations

import json
import logging
import re
import time

import pytest
from example_tap import ExampleTap, sync
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

PARENTS = 6
LATENCY_S = 0.25
PER_SECOND = 2
PROGRESS = re.compile(r"^progress: ([\d,]+) records, ([\d,]+) requests, (\d+) s elapsed")
SUMMARY = re.compile(
    r"^time: ([\d.]+) s in all: ([\d.]+) s waiting for the rate limit, ([\d.]+) s "
    r"waiting for the API, ([\d.]+) s working \(([\d,]+) records, ([\d,]+) requests\)"
)


def slow_tree(httpserver: HTTPServer) -> None:
    """``/parents`` and two children per parent, each response ``LATENCY_S`` late."""

    def respond(body: object) -> Response:
        time.sleep(LATENCY_S)
        return Response(json.dumps(body), content_type="application/json")

    def parents(_: Request) -> Response:
        return respond([{"id": n} for n in range(PARENTS)])

    def children(request: Request) -> Response:
        parent = int(request.path.split("/")[2])
        return respond([{"id": parent * 10 + k} for k in range(2)])

    httpserver.expect_request("/parents").respond_with_handler(parents)
    for n in range(PARENTS):
        httpserver.expect_request(f"/parents/{n}/children").respond_with_handler(children)


@pytest.mark.parametrize("workers", [1, 3])
def test_progress_lines_and_a_time_split_that_adds_up(
    httpserver: HTTPServer, caplog: pytest.LogCaptureFixture, workers: int
) -> None:
    slow_tree(httpserver)
    tap = ExampleTap(
        config={
            "api_url": httpserver.url_for(""),
            "max_parallel_requests": workers,
            "max_requests_per_second": PER_SECOND,
            "progress_interval_seconds": 1,
        }
    )
    caplog.set_level(logging.INFO)
    messages, error = sync(tap, ["parents", "children"])
    tap.progress.stop()
    assert error is None, error
    requests = 1 + PARENTS
    records = sum(1 for m in messages if m["type"] == "RECORD")
    assert records == PARENTS * 3
    # 7 requests at 2 per second take at least 3 seconds: at least two progress lines.
    # The tap's logger says whose progress it is, once.
    mine = [r for r in caplog.records if r.name == "tap-example"]
    progress = [PROGRESS.search(r.getMessage()) for r in mine]
    lines = [m for m in progress if m]
    assert len(lines) >= 2, [r.getMessage() for r in caplog.records]
    counts = [int(m.group(2).replace(",", "")) for m in lines]
    assert counts == sorted(counts)
    assert counts[-1] <= requests
    summaries = [m for m in (SUMMARY.search(r.getMessage()) for r in mine) if m]
    assert len(summaries) == 1
    total, pace, api, work = (float(summaries[0].group(n)) for n in range(1, 5))
    assert int(summaries[0].group(5)) == records
    assert int(summaries[0].group(6)) == requests
    assert pace + api + work == pytest.approx(total, abs=0.2)
    # The pace allows 2 requests per second (+ headroom): 7 of them need 3 windows after
    # the first two, more than the server's latency alone would take.
    assert total >= (requests - PER_SECOND) / PER_SECOND
    assert pace > 0.3, "requests waited for the rate limit"
    if workers == 1:  # every response was awaited by the main thread
        assert api >= requests * LATENCY_S * 0.9


def test_the_summary_is_logged_once_and_only_after_requests(
    httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    tap = ExampleTap(config={"api_url": httpserver.url_for("")})
    caplog.set_level(logging.INFO)
    tap.progress.stop()  # nothing was fetched: no summary
    assert not [r for r in caplog.records if SUMMARY.search(r.getMessage())]
