"""perPage as large as Amilia serves: 5000 is asked for (no maximum is documented); a refused
or capped size falls back by itself, and a sync still returns exactly the sandbox's records,
the per-parent listings (fetched ahead) and page-numbered ``Paging.Next`` URLs included."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from amilia.amilia_support import expected_keys, keys_of, run_sync, sandbox_config
from api_sandbox.testing import SandboxProcess

STREAMS = ("programs", "activities", "activity_occurrences", "accounts")


@pytest.fixture
def limited(sandbox: SandboxProcess, request: pytest.FixtureRequest) -> Iterator[SandboxProcess]:
    maximum, over = request.param
    sandbox.configure(page_limits={"amilia": {"max": maximum, "over": over}})
    yield sandbox
    sandbox.configure(page_limits={"amilia": None})


@pytest.mark.parametrize(
    "limited",
    [pytest.param((4, "cap"), id="capped"), pytest.param((600, "refuse"), id="refused")],
    indirect=True,
)
def test_a_refused_or_capped_per_page_falls_back_and_loses_nothing(
    limited: SandboxProcess, caplog: pytest.LogCaptureFixture
) -> None:
    config = sandbox_config(limited, page_size=None, max_parallel_requests=4, max_retries=1)
    with caplog.at_level(logging.INFO):
        result = run_sync(config, STREAMS)
    assert result.error is None, result.error
    for stream in STREAMS:
        keys = keys_of(stream, result.records[stream])
        assert len(keys) == len(set(keys)), f"{stream}: a record was emitted twice"
        assert set(keys) == expected_keys(stream), stream
    stats = limited.stats()["amilia"]
    settled = [r.getMessage() for r in caplog.records if ": pages of " in r.getMessage()]
    if limited.configure()["page_limits"]["amilia"]["over"] == "cap":
        assert stats["statuses"].get("400", 0) == 0
        assert "accounts: pages of 4 records (the API serves at most 4 of the 5000 asked)" in (
            settled
        )
    else:  # "The value '5000' is not valid for perPage.": 2500, 1250, 625 too, then 312
        assert stats["statuses"]["400"] >= 4 * len(STREAMS)
        assert sorted(settled) == sorted(
            f"{stream}: pages of 312 records (the API refused 5000)" for stream in STREAMS
        )
