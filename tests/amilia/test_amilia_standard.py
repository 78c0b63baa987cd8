"""The SDK's standard tap tests, run against this worker's sandbox (every stream, opt-in too)."""

from __future__ import annotations

from typing import Any

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from amilia.amilia_support import SCALE, SEED, days_ago, sandbox_config
from api_sandbox.testing import shared_sandbox
from tap_amilia.tap import TapAmilia

CONFIG = sandbox_config(
    # A sandbox of its own: its rate window is this suite's alone, whatever the worker's
    # other tests left fetching (the standard tests check shapes, not the data model's keys).
    shared_sandbox(scale=SCALE, seed=SEED + 1),
    start_date=days_ago(30).isoformat(),
    page_size=50,
)


def catalog_selecting_everything() -> dict[str, Any]:
    """The discovered catalog with every stream selected (the opt-in ones included)."""
    catalog: dict[str, Any] = TapAmilia(config=CONFIG).catalog_dict
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            metadata["metadata"]["selected"] = True
    return catalog


TestTapAmilia = get_tap_test_class(
    TapAmilia,
    config=CONFIG,
    catalog=catalog_selecting_everything(),
    suite_config=SuiteConfig(max_records_limit=100),
)
