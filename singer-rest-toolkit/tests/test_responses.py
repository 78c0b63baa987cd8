"""A page's records left as JSON text until read: the same records, a fraction of the memory."""

from __future__ import annotations

import decimal
import json
import tracemalloc
from typing import Any

import requests

from singer_rest_toolkit.responses import each_record, json_body, take_records


def response_of(content: bytes, encoding: str | None = "utf-8") -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response._content = content
    response.encoding = encoding
    return response


def as_requests_reads(content: bytes, key: str) -> list[Any]:
    """The records of ``key`` as ``response.json(parse_float=Decimal)`` reads them."""
    items = response_of(content).json(parse_float=decimal.Decimal)[key]
    return [item for item in items if isinstance(item, dict)]


PAGE = {
    "Items": [
        {"Id": 1, "Amount": 1.10, "Tags": ["a", "é"], "Owner": {"Id": 7, "Vip": True}},
        "not a record",
        None,
        {"Id": 2, "Amount": 12345678901234567890.5, "Note": "line\nbreak \u2603", "Empty": {}},
        [1, 2],
        {"Id": 3, "Big": 10**30, "Small": -1e-9, "Null": None},
    ],
    "Paging": {"TotalCount": 3, "Next": None},
}


def test_records_left_as_text_are_read_as_a_whole_parse_reads_them() -> None:
    content = json.dumps(PAGE, ensure_ascii=False).encode()
    response = response_of(content)

    body = json_body(response, "Items")

    assert body["Paging"] == {"TotalCount": 3, "Next": None}
    assert len(body["Items"]) == len(PAGE["Items"])  # counted before they are parsed
    records = list(each_record(take_records(response, "Items")))
    assert records == as_requests_reads(content, "Items")
    assert records[0]["Amount"] == decimal.Decimal("1.10")
    assert json_body(response) == {"Paging": {"TotalCount": 3, "Next": None}}


def test_a_bare_array_and_a_key_that_is_no_list_are_read_too() -> None:
    bare = json.dumps(PAGE["Items"]).encode()
    assert list(each_record(json_body(response_of(bare), "Items"))) == [
        item
        for item in response_of(bare).json(parse_float=decimal.Decimal)
        if isinstance(item, dict)
    ]
    for value in (None, {"Id": 1}, "x"):
        response = response_of(json.dumps({"Items": value}).encode())
        assert json_body(response, "Items") == {"Items": value}
        assert list(each_record(take_records(response, "Items"))) == []


def test_a_body_that_is_not_utf8_or_that_msgspec_refuses_ends_as_a_whole_parse_ends() -> None:
    # A byte that is not UTF-8 inside one record, and a NaN: refused or read (as the
    # installed msgspec and requests do) before any record is read, as a whole parse does.
    def outcome(content: bytes, records_key: str | None) -> Any:
        response = response_of(content)
        try:
            json_body(response, records_key)
        except ValueError as exc:
            return type(exc)
        return list(each_record(take_records(response, "Items")))

    for content in (
        b'{"Items": [{"Id": 1}, {"Id": 2, "Name": "caf\xe9"}], "Paging": {}}',
        b'{"Items": [{"Id": 1}, {"Id": 2, "Ratio": NaN}], "Paging": {}}',
    ):
        assert repr(outcome(content, "Items")) == repr(outcome(content, None)), content


def test_a_page_read_one_record_at_a_time_never_holds_its_parsed_records() -> None:
    record = {f"field_{n}": f"value {n} " * 3 for n in range(30)}
    content = json.dumps({"Items": [{"Id": n, **record} for n in range(2_000)]}).encode()

    def peak_while(read: Any) -> int:
        tracemalloc.start()
        try:
            read()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    def whole() -> None:
        for _ in each_record(take_records(response_of(content), "Items")):
            pass

    def outlined() -> None:
        response = response_of(content)
        json_body(response, "Items")
        for _ in each_record(take_records(response, "Items")):
            pass

    parsed_whole, read_as_text = peak_while(whole), peak_while(outlined)
    assert parsed_whole > 2 * len(content)  # the whole page's records, parsed at once
    assert read_as_text < parsed_whole / 4, (read_as_text, parsed_whole)
