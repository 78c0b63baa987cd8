"""The SDK's standard tap tests, run against this worker's sandbox (every stream, opt-in too)."""

from __future__ import annotations

from typing import Any

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from agyletime.agyletime_support import SCALE, SEED, days_ago, sandbox_config
from api_sandbox.testing import shared_sandbox
from tap_agyletime.tap import TapAgyleTime

CONFIG = sandbox_config(
    shared_sandbox(scale=SCALE, seed=SEED), start_date=days_ago(3).isoformat(), page_size=50
)


def catalog_selecting_everything() -> dict[str, Any]:
    """The discovered catalog with every stream selected (contacts, interactions included),
    so the suite's schema checks see the opt-in streams' properties as selected too."""
    catalog: dict[str, Any] = TapAgyleTime(config=CONFIG).catalog_dict
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            metadata["metadata"]["selected"] = True
    return catalog


TestTapAgyleTime = get_tap_test_class(
    TapAgyleTime,
    config=CONFIG,
    catalog=catalog_selecting_everything(),
    suite_config=SuiteConfig(max_records_limit=100),
)
