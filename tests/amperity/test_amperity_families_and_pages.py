"""Each Amperity API paced at its own documented ceiling (the Amperity API at 10/s, the
Profile API at 2000/s), and pages as large as the API allows, falling back when the sandbox
refuses or caps them, with exactly the sandbox's records either way."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from amperity.amperity_support import (
    amperity_stats,
    assert_complete,
    days_ago,
    expected_keys,
    path_hits,
    run_sync,
    sandbox_config,
)
from api_sandbox.testing import SandboxProcess, shared_sandbox
from api_sandbox.vendors.amperity import AmperityData

SCALE = 1.0  # 4 indexes of 250 profiles
SEED = 42
PROFILE_STREAMS = ("profile_indexes", "index_profiles")


@pytest.fixture
def big_sandbox() -> Iterator[SandboxProcess]:
    """The tenant of test_amperity_parallel, with both documented ceilings on."""
    server = shared_sandbox(scale=SCALE, seed=SEED)
    server.reset()
    yield server
    server.reset()
    server.configure(rate_limits={"amperity": 0, "amperity.profile_api": 2000})


def all_profiles() -> set[tuple[str, str]]:
    model = AmperityData(SEED, SCALE)
    return {(p["index_id"], p["id"]) for n in range(model.index_count) for p in model.profiles(n)}


def test_each_api_is_paced_at_its_own_ceiling_without_a_429(big_sandbox: SandboxProcess) -> None:
    # The Profile API's ceiling lowered to 40/s, so that a short sync exceeds the other's 10/s.
    big_sandbox.configure(rate_limits={"amperity": 10, "amperity.profile_api": 40})
    config = sandbox_config(
        big_sandbox,
        page_size=10,
        max_requests_per_second=10,
        profile_api_max_requests_per_second=40,
    )
    result = run_sync(config, ["segments", "campaigns", *PROFILE_STREAMS])
    assert result.error is None, result.error
    profiles = {(r["index_id"], r["id"]) for r in result.records["index_profiles"]}
    assert profiles == all_profiles()
    families = amperity_stats(big_sandbox)["families"]
    assert families["api"]["rate_limited"] == 0
    assert families["profile_api"]["rate_limited"] == 0
    assert families["profile_api"]["requests"] > 60, "too few requests to test pacing"
    assert families["profile_api"]["peak_per_second"] > 10, "paced at the Amperity API's 10/s"
    assert families["api"]["peak_per_second"] <= 10


def test_a_lower_profile_api_setting_is_kept(big_sandbox: SandboxProcess) -> None:
    big_sandbox.configure(rate_limits={"amperity": 0, "amperity.profile_api": 0})
    config = sandbox_config(big_sandbox, page_size=25, profile_api_max_requests_per_second=8)
    result = run_sync(config, PROFILE_STREAMS)
    assert result.error is None, result.error
    families = amperity_stats(big_sandbox)["families"]
    assert families["profile_api"]["requests"] > 16
    # At most 8 sent a second (plus one: under load a send released late can arrive close to
    # the next one); at the default, 2000/s, all ~40 would arrive within a second.
    assert families["profile_api"]["peak_per_second"] <= 9


@pytest.mark.parametrize("over", ["refuse", "cap"])
def test_a_refused_or_capped_page_size_falls_back_and_loses_nothing(
    sandbox: SandboxProcess, caplog: pytest.LogCaptureFixture, over: str
) -> None:
    sandbox.configure(page_limits={"amperity": {"max": 3, "over": over}})
    config: dict[str, Any] = {**sandbox_config(sandbox), "page_size": None}
    try:
        with caplog.at_level(logging.INFO):
            result = run_sync(config, ["audit_events", "segments"])
    finally:
        sandbox.configure(page_limits={"amperity": None})
    assert result.error is None, result.error
    assert_complete("audit_events", result.records["audit_events"], days_ago(10))
    segments = [r["id"] for r in result.records["segments"]]
    assert len(segments) == len(set(segments))
    assert set(segments) == expected_keys("segments")
    settled = [
        r.getMessage().split(" (")[0]
        for r in caplog.records
        if r.levelno == logging.INFO
        and r.getMessage().startswith(("audit_events:", "segments:"))
        and " pages of " in r.getMessage()
    ]
    # Once per stream (segments may settle first: it is fetched while audit_events is written).
    assert sorted(settled) == ["audit_events: pages of 3 records", "segments: pages of 3 records"]
    statuses = amperity_stats(sandbox)["statuses"]
    # Refused: one 400 per stream at the first size it asks (1000), then pages of 3: the two
    # synced, and the two Profile API streams whose profiles discovery samples.
    assert statuses.get("400", 0) == (4 if over == "refuse" else 0)
    pages = -(-len(result.records["audit_events"]) // 3)
    # Capped, the first page (1000 asked, 3 served) is one of them.
    assert path_hits(sandbox, "/audit-events") == pages + (1 if over == "refuse" else 0)
