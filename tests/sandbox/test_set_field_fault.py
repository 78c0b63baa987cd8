"""The ``set_field`` fault: an API that adds a field to its records, or changes one.

Through the server it is exercised end to end by tests/e2e/test_postgres_warehouse.py.
"""

from __future__ import annotations

import json

import pytest

from api_sandbox.faults import Fault, set_field


@pytest.mark.parametrize(
    ("body", "records"),
    [
        ({"Items": [{"Id": 1}, {"Id": 2}], "Paging": {"TotalCount": 2}}, "Items"),  # Amilia
        ({"data": [{"id": "a"}], "next_token": None}, "data"),  # Amperity
        ({"status": "success", "data": [{"id": 7}], "nextPageToken": ""}, "data"),  # Agyle Time
    ],
)
def test_set_field_sets_the_key_in_every_record_of_the_envelope(
    body: dict[str, object], records: str
) -> None:
    before = json.loads(json.dumps(body))
    assert set_field(body, "extra", "x") == len(before[records])  # type: ignore[arg-type]
    assert all(record["extra"] == "x" for record in body[records])  # type: ignore[attr-defined]
    assert {k: v for k, v in body.items() if k != records} == {
        k: v for k, v in before.items() if k != records
    }


def test_set_field_needs_a_key() -> None:
    with pytest.raises(ValueError, match="key="):
        Fault(vendor="amilia", kind="set_field")
    assert Fault.parse("vendor=amilia,kind=set_field,key=Name,value=renamed").value == "renamed"
