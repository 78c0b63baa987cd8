"""The planned conformance gives exactly what the SDK's recursive conformance gives."""

from __future__ import annotations

import copy
import decimal
import logging
from typing import Any

import pytest
from singer_sdk.helpers._typing import conform_record_data_types
from singer_sdk.helpers.conform import TypeConformanceLevel

from amilia.amilia_support import DEFAULT_STREAMS, OPT_IN_STREAMS, expected_records
from tap_amilia.conform import RecordConformer
from tap_amilia.streams import STREAM_TYPES

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
