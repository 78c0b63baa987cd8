"""The SDK's standard tap tests, run against this worker's sandbox (every stream, drafts too)."""

from __future__ import annotations

from typing import Any

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from amperity.amperity_support import SCALE, SEED, days_ago, sandbox_config
from api_sandbox.testing import shared_sandbox
from tap_amperity.tap import TapAmperity

SANDBOX = shared_sandbox(scale=SCALE, seed=SEED)
SANDBOX.configure(rate_limits={"amperity": 0})
CONFIG = sandbox_config(
    SANDBOX, start_date=days_ago(5).isoformat(), page_size=50, include_unstable=True
)


def catalog_selecting_everything() -> dict[str, Any]:
    """The discovered catalog with every stream selected."""
    catalog: dict[str, Any] = TapAmperity(config=CONFIG).catalog_dict
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            metadata["metadata"]["selected"] = True
    return catalog


TestTapAmperity = get_tap_test_class(
    TapAmperity,
    config=CONFIG,
    catalog=catalog_selecting_everything(),
    suite_config=SuiteConfig(max_records_limit=100),
)
