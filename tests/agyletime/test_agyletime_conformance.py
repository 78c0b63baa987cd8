"""The compiled conformance writes exactly what the SDK's RECURSIVE conformance writes."""

from __future__ import annotations

import copy
import decimal
import logging
import math
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from singer_sdk.helpers._typing import _conform_record_data_types
from singer_sdk.helpers.conform import TypeConformanceLevel

from singer_rest_toolkit.conform import RecordConformer
from tap_agyletime.streams import STREAM_TYPES

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=5),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True).filter(lambda d: not d.is_snan()),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)


def shaped(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values shaped like ``schema`` (with undeclared keys and wrong types mixed in)."""
    if "properties" in schema:
        optional = {k: st.one_of(shaped(v), JSON) for k, v in schema["properties"].items()}
        return st.fixed_dictionaries({}, optional={**optional, "undeclared": JSON})
    if "array" in schema.get("type", ()) and isinstance(schema.get("items"), dict):
        return st.one_of(st.lists(st.one_of(shaped(schema["items"]), JSON), max_size=3), JSON)
    return JSON


def same(a: Any, b: Any) -> bool:
    """Equal values of the same types (NaN equal to NaN)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, float | decimal.Decimal) and math.isnan(a):
        return type(b) is type(a) and math.isnan(b)
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("stream_type", STREAM_TYPES, ids=lambda s: s.name)
def test_compiled_conformance_matches_the_sdk(stream_type, monkeypatch):
    schema = stream_type.schema
    # The dropped keys of each record, as the conformer hands them to the SDK's warning (which
    # the SDK itself logs once per stream and set of keys).
    reported = mock.Mock()
    monkeypatch.setattr("singer_rest_toolkit.conform.warn_unmapped_properties", reported)
    conform = RecordConformer(stream_type.name, schema, logging.getLogger("test"))

    @settings(max_examples=60, deadline=None)
    @given(shaped(schema))
    def check(record):
        expected, expected_unmapped = _conform_record_data_types(
            copy.deepcopy(record), schema, TypeConformanceLevel.RECURSIVE, None
        )
        reported.reset_mock()
        assert same(expected, conform(copy.deepcopy(record)))
        unmapped = list(reported.call_args.args[1]) if reported.called else []
        assert reported.call_count <= 1
        assert unmapped == expected_unmapped

    check()
