"""The Amilia sandbox keeps the documented contract (so a lenient tap would fail against it)."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from amilia.amilia_support import data
from api_sandbox.testing import SandboxProcess

KEYS = {"X-AMILIA-APIKEY": "sandbox-api-key", "X-AMILIA-APISECRET": "sandbox-api-secret"}


def get(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> tuple[int, Any]:
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def org(sandbox: SandboxProcess, path: str) -> str:
    return f"{sandbox.url('amilia')}/api/v3/en/org/8008{path}"


def test_envelope_with_total_count_and_absolute_next_urls(sandbox: SandboxProcess) -> None:
    url = org(sandbox, "/accounts?perPage=4&showArchived=true")
    ids = []
    pages = 0
    while url:
        status, body = get(url, KEYS)
        assert status == 200
        assert set(body) == {"Items", "Paging"}
        assert body["Paging"]["TotalCount"] == data().account_count
        ids += [a["Id"] for a in body["Items"]]
        url = body["Paging"]["Next"]
        assert url == "" or url.startswith("http://127.0.0.1:")
        assert url == "" or "showArchived=true" in url
        pages += 1
    assert ids == [a["Id"] for a in data().accounts()]
    assert pages == -(-data().account_count // 4)


def test_show_flags_filter_like_the_api(sandbox: SandboxProcess) -> None:
    _, everything = get(org(sandbox, "/programs?showHidden=true&showArchived=true"), KEYS)
    _, default = get(org(sandbox, "/programs"), KEYS)
    assert everything["Paging"]["TotalCount"] == data().program_count
    assert default["Paging"]["TotalCount"] <= data().program_count
    assert all(p["IsVisible"] and not p["IsArchived"] for p in default["Items"])


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-AMILIA-APIKEY": "sandbox-api-key", "X-AMILIA-APISECRET": "wrong"},
        {"Authorization": "Bearer not-issued"},
    ],
)
def test_wrong_or_missing_credentials_are_a_401_with_a_transaction_id(
    sandbox: SandboxProcess, headers: dict[str, str]
) -> None:
    status, body = get(org(sandbox, "/locations"), headers)
    assert status == 401
    assert body["TransactionId"]


def test_authenticate_is_a_get_with_basic_auth(sandbox: SandboxProcess) -> None:
    url = f"{sandbox.url('amilia')}/api/V3/authenticate"
    good = base64.b64encode(b"sandbox@example.com:sandbox-password").decode()
    bad = base64.b64encode(b"sandbox@example.com:nope").decode()
    status, body = get(url, {"Authorization": f"Basic {good}"})
    assert status == 200
    token = body["Token"]
    assert get(url, {"Authorization": f"Basic {bad}"})[0] == 401
    assert get(url, {"Authorization": f"Basic {good}"}, method="POST")[0] == 405
    assert get(org(sandbox, "/locations"), {"Authorization": f"Bearer {token}"})[0] == 200
    sandbox.add_fault("amilia", "expire_tokens")
    assert get(org(sandbox, "/locations"), {"Authorization": f"Bearer {token}"})[0] == 401


def test_above_the_rate_limit_the_answer_is_429(sandbox: SandboxProcess) -> None:
    sandbox.configure(rate_limits={"amilia": 3})
    statuses = [get(org(sandbox, "/locations"), KEYS)[0] for _ in range(6)]
    assert 429 in statuses
    assert statuses[0] == 200


def test_account_contacts_is_a_bare_array_and_unknown_ids_are_404(
    sandbox: SandboxProcess,
) -> None:
    status, body = get(org(sandbox, "/accounts/300000/contacts"), KEYS)
    assert status == 200
    assert body == data().account_contacts(0)
    assert get(org(sandbox, "/accounts/1/contacts"), KEYS)[0] == 404
    assert get(org(sandbox, "/programs/1/activities"), KEYS)[0] == 404
