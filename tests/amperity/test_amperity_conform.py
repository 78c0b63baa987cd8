"""The conformance the tap uses (the toolkit's RecordConformer, compiled once per schema) gives
exactly the SDK's RECURSIVE result on the tap's schemas."""

from __future__ import annotations

import decimal
import io
import json
import logging
from contextlib import redirect_stdout
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from singer_sdk.helpers._typing import conform_record_data_types
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.typing import BooleanType, IntegerType, ObjectType, PropertiesList, Property

from amperity.amperity_support import sandbox_config
from api_sandbox.testing import SandboxProcess
from resilience.test_hostile_data import record_for
from singer_rest_toolkit.conform import RecordConformer
from tap_amperity.tap import TapAmperity

LOGGER = logging.getLogger("conform-test")
STREAMS = (
    "audit_events",
    "campaigns",
    "segments",
    "workflow_runs",
    "ingest_jobs",
    "profile_indexes",
    "index_profiles",
)


def as_api_sends(record: dict[str, Any]) -> dict[str, Any]:
    """Through JSON and back, numbers with a fraction as Decimal (as the tap parses pages)."""
    parsed: dict[str, Any] = json.loads(json.dumps(record), parse_float=decimal.Decimal)
    return parsed


@pytest.mark.parametrize("stream_name", STREAMS)
def test_conformer_matches_the_sdk_on_odd_records(
    sandbox: SandboxProcess, stream_name: str
) -> None:
    tap = TapAmperity(config=sandbox_config(sandbox, include_unstable=True))
    schema = tap.streams[stream_name].schema
    conformer = RecordConformer(stream_name, schema, LOGGER)

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(record_for(schema, ()))
    def check(record: dict[str, Any]) -> None:
        record = as_api_sends(record)
        expected = conform_record_data_types(
            stream_name, record, schema, TypeConformanceLevel.RECURSIVE, LOGGER
        )
        assert conformer(record) == expected

    check()


def test_conformer_matches_the_sdk_on_booleans_nan_and_undeclared_nested_keys() -> None:
    schema = PropertiesList(
        Property("flag", BooleanType),
        Property("count", IntegerType),
        Property(
            "attributes",
            ObjectType(Property("opt_in", BooleanType), Property("n", IntegerType)),
        ),
        additional_properties=True,
    ).to_dict()
    records = [
        {"flag": 0, "count": float("nan"), "extra": {"a": [1]}},
        {"flag": "no", "attributes": {"opt_in": 1, "n": float("inf"), "new": "dropped"}},
        {"flag": None, "attributes": {"opt_in": None, "n": decimal.Decimal("1.5")}},
        {"attributes": [1, 2], "count": {"not": "an int"}},
    ]
    conformer = RecordConformer("s", schema, LOGGER)
    for record in records:
        expected = conform_record_data_types(
            "s", record, schema, TypeConformanceLevel.RECURSIVE, LOGGER
        )
        assert conformer(record) == expected


def test_a_deselected_property_is_still_left_out(sandbox: SandboxProcess) -> None:
    # With every property selected the tap skips the SDK's per-property pruning walk;
    # with one deselected it must still prune, as the SDK does.
    config = sandbox_config(sandbox)
    catalog = TapAmperity(config=config).catalog_dict
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = entry["tap_stream_id"] == "segments"
            if metadata["breadcrumb"] == ["properties", "name"]:
                metadata["metadata"]["selected"] = False
    tap = TapAmperity(config=config, catalog=catalog)
    buffer = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    with redirect_stdout(buffer):
        tap.sync_all()
    buffer.flush()
    buffer.seek(0)
    records = [
        message["record"]
        for message in map(json.loads, buffer.read().splitlines())
        if message["type"] == "RECORD"
    ]
    assert records
    assert all("name" not in record and "id" in record for record in records)
