"""The planned conformance gives exactly what the SDK's recursive conformance gives."""

from __future__ import annotations

import copy
import decimal
import logging
from typing import Any

import pytest
from singer_sdk.helpers._typing import conform_record_data_types
from singer_sdk.helpers.conform import TypeConformanceLevel

from amilia.amilia_support import (
    DEFAULT_STREAMS,
    OPT_IN_STREAMS,
    expected_records,
    run_sync,
    sandbox_config,
)
from api_sandbox.testing import SandboxProcess
from repo_support import sync_in_process
from singer_rest_toolkit.conform import RecordConformer
from tap_amilia.streams import STREAM_TYPES
from tap_amilia.tap import TapAmilia

SCHEMAS = {stream_type.name: stream_type.schema for stream_type in STREAM_TYPES}
LOGGER = logging.getLogger("test")
ODD_VALUES: list[Any] = [
    None,
    0,
    1,
    True,
    False,
    "false",
    "",
    decimal.Decimal("NaN"),
    float("inf"),
    decimal.Decimal("1.5"),
    [],
    [1, None],
    {},
    {"Unknown": 1},
    [{"Unknown": 1, "Id": 2}],
]


def sdk(stream: str, record: dict[str, Any]) -> dict[str, Any]:
    return conform_record_data_types(
        stream, copy.deepcopy(record), SCHEMAS[stream], TypeConformanceLevel.RECURSIVE, LOGGER
    )


def hostile(record: dict[str, Any], value: Any) -> dict[str, Any]:
    """Every property, nested ones too, replaced by ``value``; plus an unknown one."""

    def swap(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                key: swap(item) if isinstance(item, dict | list) else value
                for key, item in node.items()
            }
        if isinstance(node, list):
            return [swap(item) for item in node]
        return value

    return {**swap(record), "Unknown": value}


@pytest.mark.parametrize("stream", sorted({*DEFAULT_STREAMS, *OPT_IN_STREAMS}))
def test_records_conform_exactly_as_the_sdk_conforms_them(stream: str) -> None:
    conformer = RecordConformer(stream, SCHEMAS[stream], LOGGER)
    records = expected_records(stream)[:50]
    assert records
    for record in records:
        assert conformer(copy.deepcopy(record)) == sdk(stream, record)
        for value in ODD_VALUES:
            odd = hostile(record, value)
            got, want = conformer(copy.deepcopy(odd)), sdk(stream, odd)
            assert repr(got) == repr(want), (stream, value)


def test_a_deselected_property_is_left_out_and_the_rest_is_unchanged(
    sandbox: SandboxProcess,
) -> None:
    # With every property selected the tap skips the SDK's per-property pruning walk; with
    # one deselected it must still prune, as the SDK does, and change nothing else.
    config = sandbox_config(sandbox, page_size=1000)
    full = run_sync(config, ["programs"])
    catalog = TapAmilia(config=config).catalog_dict
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = entry["tap_stream_id"] == "programs"
            if metadata["breadcrumb"] == ["properties", "Name"]:
                metadata["metadata"]["selected"] = False
    pruned = sync_in_process(TapAmilia(config=config, catalog=catalog), ["programs"])
    assert full.error is None
    assert pruned.error is None
    assert full.records["programs"]
    assert all("Name" in record for record in full.records["programs"])
    assert pruned.records["programs"] == [
        {key: value for key, value in record.items() if key != "Name"}
        for record in full.records["programs"]
    ]
