"""The sandbox serves several tenants per vendor at once, each addressed the vendor's way:
overlapping record ids, their own sizes and identity, their own credentials."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from api_sandbox.tenants import TENANTS
from api_sandbox.testing import SandboxProcess
from api_sandbox.vendors.agyletime.data import AgyleTimeData
from api_sandbox.vendors.amilia.data import AmiliaData
from api_sandbox.vendors.amperity.data import AmperityData

SCALE = 0.05


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxProcess]:
    with SandboxProcess(scale=SCALE) as server:
        yield server


def test_every_vendor_has_several_tenants_with_distinct_keys_and_credentials() -> None:
    for vendor, tenants in TENANTS.items():
        assert len(tenants) >= 2, vendor
        assert len({t.key for t in tenants}) == len(tenants), vendor
        if vendor != "amilia":  # one Amilia user administers several organizations
            assert len({t.client_id for t in tenants}) == len(tenants), vendor


def amilia_get(sandbox: SandboxProcess, organization: str, path: str) -> Any:
    response = requests.get(
        f"{sandbox.url('amilia')}/api/v3/en/org/{organization}{path}",
        headers={"X-AMILIA-APIKEY": "sandbox-api-key", "X-AMILIA-APISECRET": "sandbox-api-secret"},
        params={"perPage": 2000},
        timeout=10,
    )
    response.raise_for_status()
    return response.json()


def test_amilia_organizations_by_number_or_slug(sandbox: SandboxProcess) -> None:
    default, other = TENANTS["amilia"][:2]
    first = amilia_get(sandbox, default.key, "/memberships")["Items"]
    second = amilia_get(sandbox, other.alias, "/memberships")["Items"]
    model = AmiliaData(42, SCALE * other.share, organization=other.number, slug=other.alias)
    assert len(second) == model.membership_count < len(first)
    assert {m["Id"] for m in second} <= {m["Id"] for m in first}  # the ids overlap
    assert {m["OrganizationId"] for m in first} == {default.number}
    assert {m["OrganizationId"] for m in second} == {other.number}
    missing = requests.get(
        f"{sandbox.url('amilia')}/api/v3/en/org/7777/programs",
        headers={"X-AMILIA-APIKEY": "sandbox-api-key", "X-AMILIA-APISECRET": "sandbox-api-secret"},
        timeout=10,
    )
    assert missing.status_code == 404


def amperity_token(sandbox: SandboxProcess, tenant: str, client_id: str, secret: str) -> Any:
    return requests.post(
        f"{sandbox.url('amperity')}/api/v0/oauth2/token",
        headers={"X-Amperity-Tenant": tenant},
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
        timeout=10,
    )


def amperity_events(sandbox: SandboxProcess, tenant: str, token: str) -> list[dict[str, Any]]:
    response = requests.get(
        f"{sandbox.url('amperity')}/api/audit-events",
        headers={
            "Authorization": f"Bearer {token}",
            "Amperity-Tenant": tenant,
            "api-version": "2024-04-01",
        },
        params={"limit": 1000},
        timeout=10,
    )
    response.raise_for_status()
    events: list[dict[str, Any]] = response.json()["data"]
    return events


def test_amperity_tenants_by_header_each_with_its_own_api_key(sandbox: SandboxProcess) -> None:
    default, other = TENANTS["amperity"][:2]
    tokens = {}
    for tenant in (default, other):
        answer = amperity_token(sandbox, tenant.key, tenant.client_id, tenant.client_secret)
        assert answer.status_code == 200
        tokens[tenant.key] = answer.json()["access_token"]
    foreign = amperity_token(sandbox, other.key, default.client_id, default.client_secret)
    assert foreign.status_code == 403
    first = amperity_events(sandbox, default.key, tokens[default.key])
    second = amperity_events(sandbox, other.key, tokens[other.key])
    model = AmperityData(42, SCALE * other.share, tenant=other.key)
    assert len(second) == model.audit_timeline.count < len(first)
    assert {e["event_id"] for e in second} & {e["event_id"] for e in first}
    assert {e["tenant"] for e in second} == {other.key}
    assert {e["tenant"] for e in first} == {default.key}


def agyletime_token(sandbox: SandboxProcess, host: str, key_id: str, secret: str) -> Any:
    return requests.post(
        f"{sandbox.url('agyletime')}/{host}/api/authority/token", auth=(key_id, secret), timeout=10
    )


def test_agyletime_tenants_by_subdomain_each_with_its_own_access_key(
    sandbox: SandboxProcess,
) -> None:
    default, other = TENANTS["agyletime"][:2]
    answer = agyletime_token(sandbox, f"tenants/{other.key}", other.client_id, other.client_secret)
    assert answer.status_code == 200
    token = answer.json()["data"]["accessToken"]
    wrong = agyletime_token(
        sandbox, f"tenants/{other.key}", default.client_id, default.client_secret
    )
    assert wrong.status_code == 401
    users = requests.get(
        f"{sandbox.url('agyletime')}/regional/organisation/users",
        headers={"Authorization": f"Bearer {token}"},
        params={"pageLimit": 1000},
        timeout=10,
    ).json()["data"]
    model = AgyleTimeData(42, SCALE * other.share, organisation_id=other.number)
    assert len(users) == model.user_count
    assert {u["organisationId"] for u in users} == {other.number}
    assert {u["id"] for u in users} <= {u["id"] for u in AgyleTimeData(42, SCALE).users()}
    # Its token opens its own tenant host, not another tenant's.
    own = requests.get(
        f"{sandbox.url('agyletime')}/tenants/{other.key}/api/schedule/tasks/definitions",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert own.status_code == 200
    foreign = requests.get(
        f"{sandbox.url('agyletime')}/tenant/api/schedule/tasks/definitions",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert foreign.status_code == 401
