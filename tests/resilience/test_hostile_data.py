"""Odd but valid JSON through each stream's record parsing: never a crash, never a lost key.

Hypothesis builds pages from each stream's own schema: nulls anywhere outside the primary
key, huge and non-ASCII strings, numbers sent as strings, unknown fields with nested
objects, datetimes with 7 fractional digits and offsets. Each page, in the vendor's envelope
(or the stream's own nesting: Agyle Time's metrics), goes through the tap's parse_response
and post_process (where the taps conform types), the stream's RECORD messages and the tap's
own message writer, exactly as in a sync (only the HTTP round trip is skipped: these bodies
are built, not served). The written line must parse back with every primary key unchanged.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from singer_sdk import Tap
from singer_sdk.streams import RESTStream

from api_sandbox.testing import shared_sandbox
from repo_support import TAPS
from resilience.tap_profiles import profile

KEY_STRINGS = st.text(min_size=1, max_size=40).filter(str.strip)
ODD_TEXT = st.one_of(
    st.text(max_size=30),
    st.text(alphabet="ÅßЖ中文🙂\u200b\u202e\"'\\\n\t", min_size=1, max_size=50),
    st.integers(min_value=5_000, max_value=100_000).map(lambda n: "x" * n),
)


def seven_digit_iso(moment: datetime) -> str:
    """``2024-06-19T08:00:00.1234567-04:00``: .NET's 7 fractional digits, any offset."""
    offset = moment.isoformat()[len(moment.replace(tzinfo=None).isoformat()) :]
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "3" + offset


DATETIMES = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.timezones()
).map(seven_digit_iso)
NESTED = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        ODD_TEXT,
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def types_of(schema: dict[str, Any]) -> set[str]:
    kind = schema.get("type", [])
    return {kind} if isinstance(kind, str) else set(kind)


def value_for(schema: dict[str, Any], *, nullable: bool = True) -> st.SearchStrategy[Any]:
    """Odd values that still fit the vendor's JSON: None, odd strings, numbers as strings."""
    kinds = types_of(schema)
    options: list[st.SearchStrategy[Any]] = []
    if "integer" in kinds:
        options += [st.integers(-(2**53), 2**53), st.integers(0, 10**12).map(str)]
    if "number" in kinds:
        options += [
            st.floats(allow_nan=False, allow_infinity=False),
            st.decimals(places=4).map(str),
        ]
    if "boolean" in kinds:
        options.append(st.booleans())
    if "string" in kinds:
        options.append(DATETIMES if schema.get("format") == "date-time" else ODD_TEXT)
    if "object" in kinds:
        options.append(record_for(schema, keys=(), depth=1))
    if "array" in kinds:
        options.append(st.lists(value_for(schema.get("items", {})), max_size=3))
    if not options:
        options.append(NESTED)
    if nullable:
        options.append(st.none())
    return st.one_of(options)


def key_value(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Primary key values are never null; their type is the schema's."""
    kinds = types_of(schema)
    if "integer" in kinds:
        return st.integers(1, 2**53)
    if schema.get("format") == "date-time":
        return DATETIMES
    if schema.get("format") == "date":
        return st.dates(date(1900, 1, 1), date(2200, 1, 1)).map(date.isoformat)
    return KEY_STRINGS


@st.composite
def _record(
    draw: st.DrawFn, schema: dict[str, Any], keys: tuple[str, ...], depth: int
) -> dict[str, Any]:
    properties: dict[str, Any] = schema.get("properties", {})
    record: dict[str, Any] = {}
    for name, property_schema in properties.items():
        if name in keys:
            record[name] = draw(key_value(property_schema))
        elif depth < 3 and draw(st.booleans()):
            record[name] = draw(value_for(property_schema))
    extra = draw(st.dictionaries(st.text(min_size=1, max_size=12), NESTED, max_size=2))
    return {**{k: v for k, v in extra.items() if k not in properties}, **record}


def record_for(
    schema: dict[str, Any], keys: tuple[str, ...], depth: int = 0
) -> st.SearchStrategy[dict[str, Any]]:
    return _record(schema, keys, depth)


def fake_response(body: dict[str, Any], url: str) -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response.headers["Content-Type"] = "application/json"
    response._content = json.dumps(body, allow_nan=False).encode()
    response.url = url
    response.request = requests.Request("GET", url).prepare()
    return response


def hostile_tap(tap: str) -> Tap:
    """The tap with every stream discovered (optional ones enabled)."""
    tap_profile = profile(tap)
    config = {**tap_profile.config(shared_sandbox()), **tap_profile.hostile_config}
    return tap_profile.tap_class(config=config)


def hostile_cases() -> list[tuple[str, str]]:
    """Every stream of every tap: a new stream is covered without a word here."""
    return [(tap, stream) for tap in TAPS for stream in hostile_tap(tap).streams]


def context_of(stream: RESTStream[Any]) -> dict[str, Any] | None:
    """A context for the stream's path parameters (a child's parent keys), else None."""
    names = re.findall(r"{(\w+)}", stream.path or "")
    return dict.fromkeys(names, 1) if names else None


@pytest.mark.parametrize(("tap", "stream_name"), hostile_cases())
def test_odd_records_parse_without_crash_or_lost_keys(tap: str, stream_name: str) -> None:
    tap_profile = profile(tap)
    instance = hostile_tap(tap)
    stream = instance.streams[stream_name]
    assert isinstance(stream, RESTStream)
    stream.selected = True  # as a catalog that syncs it would (some are off by default)
    keys = tuple(stream.primary_keys or ())
    context = context_of(stream)
    url = stream.get_url(context)
    body = tap_profile.hostile_bodies.get(stream_name, tap_profile.envelope)
    writer = instance.message_writer
    assert isinstance(writer, instance.message_writer_class)

    def written(record: dict[str, Any]) -> list[dict[str, Any]]:
        """The RECORD lines a sync writes for ``record``, parsed back."""
        # The stream's RECORD messages through the tap's writer; format_message returns the
        # writer's reused buffer: decode it now.
        return [
            json.loads(writer.format_message(message))
            for message in stream._generate_record_messages(record)
        ]

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(record_for(stream.schema, keys), min_size=1, max_size=4))
    def check(records: list[dict[str, Any]]) -> None:
        response = fake_response(body(records), url)
        parsed = [stream.post_process(r, context) for r in stream.parse_response(response)]
        parsed = [r for r in parsed if r is not None]
        assert len(parsed) == len(records), "a record was dropped"
        for sent, got in zip(records, parsed, strict=True):
            messages = written(got)
            assert [m["type"] for m in messages] == ["RECORD"], "not one RECORD per record"
            assert messages[0]["stream"] == stream.name
            for key in keys:
                assert key in messages[0]["record"], f"key field {key} was dropped"
                assert messages[0]["record"][key] == sent[key], f"key field {key} changed"

    check()


def untyped_paths(schema: dict[str, Any], path: str = "") -> list[str]:
    """Properties whose schema names no type: the SDK's conformance fails on a list there."""
    found = []
    for name, sub in schema.get("properties", {}).items():
        where = f"{path}.{name}" if path else name
        if not any(k in sub for k in ("type", "anyOf", "oneOf", "allOf")):
            found.append(where)
        found += untyped_paths(sub, where)
        if isinstance(sub.get("items"), dict):
            found += untyped_paths(sub["items"], f"{where}[]")
    return found


@pytest.mark.parametrize("tap", TAPS)
def test_no_stream_schema_has_an_untyped_property(tap: str) -> None:
    tap_profile = profile(tap)
    instance = tap_profile.tap_class(
        config={**tap_profile.config(shared_sandbox()), **tap_profile.hostile_config}
    )
    untyped = {name: untyped_paths(s.schema) for name, s in instance.streams.items()}
    assert not {name: paths for name, paths in untyped.items() if paths}
