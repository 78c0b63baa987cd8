"""index_profiles fetched on a worker pool: the same messages as a sequential run, in the same
order; interrupted runs stop where a sequential run stops and resume; faults lose nothing."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from typing import Any

import pytest
from singer_sdk.exceptions import FatalAPIError

from amperity.amperity_support import SEED, amperity_stats, path_hits, sandbox_config
from api_sandbox.testing import SandboxProcess, shared_sandbox
from api_sandbox.vendors.amperity import AmperityData
from singer_rest_toolkit.exchange import UnavailableStreamError
from singer_rest_toolkit.prefetch import Prefetcher
from tap_amperity.streams import IndexProfilesStream
from tap_amperity.tap import TapAmperity

SCALE = 1.0  # 4 indexes of 250 profiles: 10 pages each at page_size 25
STREAMS = ("profile_indexes", "index_profiles")
TOKEN = "/v0/oauth2/token"
PROFILES = "/profiles"


@dataclass
class Run:
    """The RECORD and STATE messages of one sync, in the order written."""

    messages: list[tuple[str, Any]] = field(default_factory=list)
    error: Exception | None = None

    def records(self, stream: str) -> list[dict[str, Any]]:
        return [m for kind, m in self.messages if kind == stream]

    @property
    def final_state(self) -> dict[str, Any]:
        states = [m for kind, m in self.messages if kind == "STATE"]
        return states[-1] if states else {}


def sync(sandbox: SandboxProcess, parallel: int, state: dict[str, Any] | None = None) -> Run:
    """Sync profile_indexes and index_profiles in process with ``parallel`` requests in flight."""
    config = sandbox_config(sandbox, page_size=25, profile_api_max_parallel_requests=parallel)
    tap = TapAmperity(config=config, state=state or {})
    for name, stream in tap.streams.items():
        stream.selected = name in STREAMS
    run = Run()
    buffer = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    with redirect_stdout(buffer):
        try:
            tap.sync_all()
        except Exception as exc:
            run.error = exc
    if run.error is None and tap.unavailable_streams():  # the CLI then exits 1 naming it
        run.error = UnavailableStreamError(tap.unavailable_streams()[0])
    buffer.flush()
    buffer.seek(0)
    for line in buffer.read().splitlines():
        message = json.loads(line)
        if message["type"] == "RECORD":  # time_extracted differs between runs
            run.messages.append((message["stream"], message["record"]))
        elif message["type"] == "STATE":
            run.messages.append(("STATE", message["value"]))
    return run


def all_profiles() -> set[tuple[str, str]]:
    model = AmperityData(SEED, SCALE)
    return {(p["index_id"], p["id"]) for n in range(model.index_count) for p in model.profiles(n)}


def keys(records: Iterable[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(r["index_id"], r["id"]) for r in records]


def index_path(number: int) -> str:
    """The profiles route of one index (faults on it hit a deterministic page)."""
    return f"/api/indexes/{AmperityData(SEED, SCALE).index(number)['id']}/profiles$"


@pytest.fixture
def sandbox() -> Iterator[SandboxProcess]:
    """A bigger tenant than the other tests', with a little latency so workers overlap."""
    server = shared_sandbox(scale=SCALE, seed=SEED)
    server.reset()
    server.configure(rate_limits={"amperity": 0}, token_ttl_s={"amperity": 3600}, latency_ms=5)
    yield server
    server.reset()
    server.configure(latency_ms=0)


@pytest.fixture
def sequential(sandbox: SandboxProcess) -> Run:
    """A clean sequential run, the reference; the sandbox is reset afterwards."""
    run = sync(sandbox, parallel=1)
    assert run.error is None, run.error
    sandbox.reset()
    return run


# --- same records, same order -----------------------------------------------------------------
def test_a_parallel_run_writes_exactly_the_messages_of_a_sequential_run(
    sandbox: SandboxProcess, sequential: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: set[str] = set()
    request_records = IndexProfilesStream.request_records

    def spy(self: IndexProfilesStream, context: Any) -> Iterable[dict[str, Any]]:
        threads.add(threading.current_thread().name)
        return request_records(self, context)

    monkeypatch.setattr(IndexProfilesStream, "request_records", spy)
    parallel = sync(sandbox, parallel=4)
    assert parallel.error is None, parallel.error
    assert parallel.messages == sequential.messages
    profiles = keys(parallel.records("index_profiles"))
    assert len(profiles) == len(set(profiles)) == len(all_profiles())
    assert set(profiles) == all_profiles()
    # The main thread only samples attribute names at discovery; the listings ran on workers.
    workers = {name for name in threads if name.startswith(f"{TapAmperity.name}-profile_api-fetch")}
    assert len(workers) > 1, "the listings were not spread over the workers"


def test_profile_api_max_parallel_requests_1_reads_inline(
    sandbox: SandboxProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: set[str] = set()
    request_records = IndexProfilesStream.request_records

    def spy(self: IndexProfilesStream, context: Any) -> Iterable[dict[str, Any]]:
        threads.add(threading.current_thread().name)
        return request_records(self, context)

    monkeypatch.setattr(IndexProfilesStream, "request_records", spy)
    run = sync(sandbox, parallel=1)
    assert run.error is None, run.error
    assert threads == {threading.current_thread().name}


# --- interruption and resume ------------------------------------------------------------------
def test_an_interrupted_parallel_run_stops_where_a_sequential_one_does_and_resumes(
    sandbox: SandboxProcess,
) -> None:
    # The third index answers 400 (fatal) from its fourth page on.
    fault = {"path": index_path(2), "status": 400, "skip": 3, "count": -1}
    sandbox.add_fault("amperity", "status", **fault)
    one = sync(sandbox, parallel=1)
    sandbox.reset()
    sandbox.add_fault("amperity", "status", **fault)
    four = sync(sandbox, parallel=4)
    for run in (one, four):
        assert isinstance(run.error, FatalAPIError)
        assert str(run.error).startswith("index_profiles: HTTP 400 from GET ")
    assert four.messages == one.messages, "the parallel run wrote more, less or other records"
    written = set(keys(four.records("index_profiles")))
    assert written
    assert written < all_profiles()

    sandbox.clear_faults()
    resumed = sync(sandbox, parallel=4, state=four.final_state)
    assert resumed.error is None, resumed.error
    assert set(keys(resumed.records("index_profiles"))) == all_profiles()


def test_an_error_reading_ahead_the_parent_comes_after_the_records_before_it(
    sandbox: SandboxProcess,
) -> None:
    # At page_size 25 the index listing is one page: a second page means a new request.
    # Fail the profile listing's very first page instead, and the parent's read-ahead still
    # must not write anything the sequential run would not have.
    fault = {"path": index_path(0), "status": 404, "count": -1}
    sandbox.add_fault("amperity", "status", **fault)
    one = sync(sandbox, parallel=1)
    sandbox.reset()
    sandbox.add_fault("amperity", "status", **fault)
    four = sync(sandbox, parallel=4)
    assert isinstance(four.error, FatalAPIError)
    assert four.messages == one.messages
    assert not four.records("index_profiles")


# --- faults under concurrency -----------------------------------------------------------------
def test_a_503_burst_on_the_profiles_route_loses_nothing(
    sandbox: SandboxProcess, sequential: Run
) -> None:
    sandbox.add_fault("amperity", "status", path=PROFILES, status=503, skip=2, count=6)
    run = sync(sandbox, parallel=4)
    assert run.error is None, run.error
    assert run.messages == sequential.messages
    assert amperity_stats(sandbox)["statuses"]["503"] == 6


def test_tokens_revoked_mid_listing_are_renewed_once_for_every_worker(
    sandbox: SandboxProcess, sequential: Run
) -> None:
    sandbox.add_fault("amperity", "expire_tokens", path=PROFILES, skip=6)
    run = sync(sandbox, parallel=4)
    assert run.error is None, run.error
    assert run.messages == sequential.messages
    assert amperity_stats(sandbox)["statuses"].get("401", 0) >= 1
    assert path_hits(sandbox, TOKEN) == 2, "one token at the start, one renewal for all workers"


def test_a_fresh_token_refused_again_still_stops_under_concurrency(
    sandbox: SandboxProcess,
) -> None:
    tokens = {}
    for parallel in (1, 4):
        sandbox.reset()
        sandbox.add_fault("amperity", "status", path=PROFILES, status=401, count=-1)
        run = sync(sandbox, parallel=parallel)
        assert isinstance(run.error, FatalAPIError)
        message = str(run.error)
        assert message.startswith(
            f"index_profiles: HTTP 401 from GET /amperity{index_path(0)[:-1]}"
        )
        assert "freshly issued token was refused" in message
        assert not run.records("index_profiles")
        tokens[parallel] = path_hits(sandbox, TOKEN)
    # Workers refused together share one renewal: no more tokens than a sequential run.
    assert tokens[4] == tokens[1]


# --- the building blocks (the toolkit's Prefetcher, as the tap uses it) ----------------------
class FakeStream:
    """A child stream whose listing is ``fetch(context)``; ``started`` is set per context when
    a worker begins it (the pool only hands back listings a worker has started)."""

    name = "index_profiles"

    def __init__(self, fetch: Callable[[dict[str, Any]], Iterator[dict[str, Any]]]) -> None:
        self._fetch = fetch
        self.started: dict[int, threading.Event] = {n: threading.Event() for n in range(10)}
        self.fetches: list[int] = []

    def fetch_records(self, context: dict[str, Any]) -> Iterator[dict[str, Any]]:
        self.fetches.append(context["index"])
        self.started[context["index"]].set()
        yield from self._fetch(context)


def test_read_ahead_calls_back_early_and_raises_in_place() -> None:
    seen: list[int] = []

    def source() -> Iterator[int]:
        yield from (1, 2, 3)
        msg = "page 2 failed"
        raise RuntimeError(msg)

    prefetcher = Prefetcher(workers=2, name="test-fetch")
    reader = prefetcher.read_ahead(source(), seen.extend)
    assert next(reader) == 1
    assert seen == [1, 2, 3], "the next items are read (and submitted) before they are used"
    assert [next(reader), next(reader)] == [2, 3]
    with pytest.raises(RuntimeError, match="page 2 failed"):
        next(reader)


def test_prefetcher_skips_listings_the_sdk_did_not_ask_for() -> None:
    def fetch(context: dict[str, Any]) -> Iterator[dict[str, Any]]:
        for n in range(5):
            yield {"index": context["index"], "n": n}

    stream = FakeStream(fetch)
    prefetcher = Prefetcher(workers=2, name="test-fetch")
    try:
        for index in range(4):
            prefetcher.submit(stream.name, {"index": index}, stream.fetch_records, 2)
        assert prefetcher.take(stream.name, {"index": 9}) is None, "unknown: fetched inline"
        assert stream.started[2].wait(5)
        listing = prefetcher.take(stream.name, {"index": 2})  # 0 and 1 skipped (e.g. a map)
        assert listing is not None
        assert [r["n"] for r in listing.records()] == [0, 1, 2, 3, 4]
        assert stream.started[3].wait(5)
        last = prefetcher.take(stream.name, {"index": 3})
        assert last is not None
        assert [r["index"] for r in last.records()] == [3] * 5
    finally:
        prefetcher.discard()
    # The skipped listings are dropped with the sync, and nothing is fetched after it.
    assert prefetcher.take(stream.name, {"index": 0}) is None
    assert sorted(stream.fetches) == [0, 1, 2, 3]


def test_a_worker_error_is_raised_after_the_listings_records() -> None:
    def fetch(context: dict[str, Any]) -> Iterator[dict[str, Any]]:
        yield {"n": 0}
        msg = "boom"
        raise FatalAPIError(msg)

    stream = FakeStream(fetch)
    prefetcher = Prefetcher(workers=2, name="test-fetch")
    try:
        prefetcher.submit(stream.name, {"index": 0}, stream.fetch_records, 1)
        assert stream.started[0].wait(5)
        listing = prefetcher.take(stream.name, {"index": 0})
        assert listing is not None
        records = listing.records()
        assert next(records) == {"n": 0}
        with pytest.raises(FatalAPIError, match="boom"):
            next(records)
    finally:
        prefetcher.discard()
