"""Per-parent streams fetched ahead by a worker pool: the same records, in the same order, as
a sequential run; faults on child routes under concurrency lose nothing; resumable."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from typing import Any

import pytest
from singer_sdk.exceptions import FatalAPIError

from amilia.amilia_support import (
    OPT_IN_STREAMS,
    amilia_stats,
    expected_records,
    key_pair_config,
    keys_of,
    path_hits,
    sandbox_config,
)
from api_sandbox.testing import SandboxProcess
from singer_rest_toolkit.prefetch import Prefetcher
from tap_amilia.tap import TapAmilia

TREES = (
    "programs",
    "activities",
    "activity_occurrences",
    "accounts",
    "account_contacts",
    "memberships",
    "membership_persons",
    *OPT_IN_STREAMS,
)
PER_PARENT = (
    "activity_occurrences",
    "account_contacts",
    "membership_persons",
    *OPT_IN_STREAMS,
)
Message = tuple[str, dict[str, Any]]


def sync_messages(
    config: dict[str, Any], streams: tuple[str, ...], state: dict[str, Any] | None = None
) -> tuple[list[Message], list[dict[str, Any]], Exception | None]:
    """RECORD messages in the order written (stream, record), STATE values, the error."""
    tap = TapAmilia(config=config, state=state or {})
    for name, stream in tap.streams.items():
        stream.selected = name in streams
    buffer = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    error: Exception | None = None
    with redirect_stdout(buffer):
        try:
            tap.sync_all()
        except Exception as exc:
            error = exc
    buffer.flush()
    buffer.seek(0)
    records: list[Message] = []
    states: list[dict[str, Any]] = []
    for line in buffer.read().splitlines():
        message = json.loads(line)
        if message["type"] == "RECORD":
            records.append((message["stream"], message["record"]))
        elif message["type"] == "STATE":
            states.append(message["value"])
    return records, states, error


def fast_config(sandbox: SandboxProcess, **overrides: Any) -> dict[str, Any]:
    """The sandbox config, paced far above the (disabled) sandbox limit to keep tests fast."""
    return sandbox_config(sandbox, max_requests_per_second=2000, **overrides)


def by_stream(messages: list[Message], stream: str) -> list[dict[str, Any]]:
    return [record for name, record in messages if name == stream]


@pytest.fixture(autouse=True)
def no_server_limit(sandbox: SandboxProcess) -> None:
    """Several taps run back to back here, each with its own fresh pace; their requests
    together would exceed the sandbox's per-second window (pacing is tested elsewhere)."""
    sandbox.configure(rate_limits={"amilia": 0})


@pytest.fixture
def fetches(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the streams whose listings the pool fetched ahead."""
    seen: list[str] = []
    submit = Prefetcher.submit

    def counting(self: Prefetcher, name: str, context: Any, *args: Any) -> bool:
        seen.append(name)
        return submit(self, name, context, *args)

    monkeypatch.setattr(Prefetcher, "submit", counting)
    return seen


def test_parallel_and_sequential_runs_write_the_same_records_in_the_same_order(
    sandbox: SandboxProcess, fetches: list[str]
) -> None:
    sequential, seq_states, seq_error = sync_messages(
        fast_config(sandbox, max_parallel_requests=1), TREES
    )
    assert seq_error is None, seq_error
    assert not fetches, "max_parallel_requests=1 must not use the pool"
    parallel, par_states, par_error = sync_messages(
        fast_config(sandbox, max_parallel_requests=16), TREES
    )
    assert par_error is None, par_error
    assert set(PER_PARENT) <= set(fetches), "a per-parent stream was not fetched ahead"
    # Same messages, same interleaving of parents and children, same state.
    assert parallel == sequential
    assert par_states[-1] == seq_states[-1]
    for stream in PER_PARENT:
        got = keys_of(stream, by_stream(parallel, stream))
        assert sorted(got) == sorted(keys_of(stream, expected_records(stream))), stream


def test_a_grandchild_alone_is_fetched_ahead_through_unselected_parents(
    sandbox: SandboxProcess, fetches: list[str]
) -> None:
    streams = ("occurrence_participants",)
    sequential, _, error = sync_messages(fast_config(sandbox, max_parallel_requests=1), streams)
    assert error is None, error
    parallel, _, error = sync_messages(fast_config(sandbox, max_parallel_requests=8), streams)
    assert error is None, error
    assert parallel == sequential
    assert {"activities", "activity_occurrences", "occurrence_participants"} <= set(fetches)


@pytest.mark.parametrize(
    ("route", "fault"),
    [
        (r"/accounts/\d+/contacts$", {"kind": "status", "status": 503, "count": 12, "skip": 5}),
        (r"/accounts/\d+/contacts$", {"kind": "status", "status": 429, "count": 8, "skip": 3}),
        (r"/occurrences$", {"kind": "truncate", "count": 4, "skip": 7}),
        (r"/memberships/\d+/persons", {"kind": "reset", "count": 3, "skip": 2}),
    ],
    ids=["503-burst", "429-burst", "truncated", "reset"],
)
def test_faults_on_child_routes_under_concurrency_lose_nothing(
    sandbox: SandboxProcess, route: str, fault: dict[str, Any]
) -> None:
    config = fast_config(sandbox, max_parallel_requests=1)
    sequential, _, error = sync_messages(config, TREES)
    assert error is None, error
    sandbox.add_fault("amilia", path=route, **fault)
    parallel, _, error = sync_messages({**config, "max_parallel_requests": 16}, TREES)
    assert error is None, error
    assert parallel == sequential


def test_expired_tokens_under_concurrency_are_renewed_once(sandbox: SandboxProcess) -> None:
    config = fast_config(sandbox, max_parallel_requests=1)
    sequential, _, error = sync_messages(config, TREES)
    assert error is None, error
    sandbox.reset()
    # Every token dies mid-run: the requests in flight all get 401 for the same token.
    sandbox.add_fault("amilia", "expire_tokens", path=r"/activities/\d+/occurrences$", skip=20)
    parallel, _, error = sync_messages({**config, "max_parallel_requests": 16}, TREES)
    assert error is None, error
    assert parallel == sequential
    assert amilia_stats(sandbox)["statuses"].get("401", 0) >= 1
    assert path_hits(sandbox, "/authenticate") == 2, "one token renewal, not one per thread"


def test_refused_credentials_on_a_child_route_stop_with_the_usual_error(
    sandbox: SandboxProcess,
) -> None:
    sandbox.add_fault("amilia", "status", path=r"/contacts$", status=401, count=-1, skip=10)
    _, _, error = sync_messages(
        key_pair_config(sandbox, max_parallel_requests=16, max_requests_per_second=2000),
        ("accounts", "account_contacts"),
    )
    assert isinstance(error, FatalAPIError)
    assert str(error).startswith("account_contacts: HTTP 401 from GET /amilia/api/v3/en/org/")
    assert "the credentials were refused" in str(error)


def test_an_interrupted_parallel_run_wrote_a_prefix_and_a_rerun_completes(
    sandbox: SandboxProcess,
) -> None:
    config = fast_config(sandbox, max_parallel_requests=1)
    complete, _, error = sync_messages(config, TREES)
    assert error is None, error
    # A fatal answer on a child route, well into the run.
    sandbox.add_fault("amilia", "status", path=r"/activities/\d+/persons$", status=400, skip=25)
    parallel = {**config, "max_parallel_requests": 16}
    first, states, error = sync_messages(parallel, TREES)
    assert isinstance(error, FatalAPIError)
    assert str(error).startswith("activity_persons: HTTP 400 from GET ")
    assert states, "no STATE before the failure"
    # What was written is exactly what a sequential run writes up to that point.
    assert first == complete[: len(first)]
    assert (
        0 < len(by_stream(first, "activity_persons")) < len(by_stream(complete, "activity_persons"))
    )

    sandbox.clear_faults()
    second, _, error = sync_messages(parallel, TREES, state=states[-1])
    assert error is None, error
    for stream in TREES:
        resumed = keys_of(stream, by_stream(first, stream) + by_stream(second, stream))
        assert set(resumed) == set(keys_of(stream, by_stream(complete, stream))), stream
    assert second == complete, "full-table streams are re-read in full, in the same order"
