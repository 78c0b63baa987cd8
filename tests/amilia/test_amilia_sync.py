"""Full syncs against the sandbox: every stream complete, each auth mode, paging, headers."""

from __future__ import annotations

import base64
import json
import urllib.request
from datetime import datetime
from typing import Any

import pytest
from singer_sdk.exceptions import FatalAPIError

from amilia.amilia_support import (
    DEFAULT_STREAMS,
    OPT_IN_STREAMS,
    amilia_stats,
    data,
    expected_keys,
    expected_records,
    key_pair_config,
    keys_of,
    path_hits,
    run_sync,
    sandbox_config,
)
from api_sandbox.testing import SandboxProcess


def sandbox_token(sandbox: SandboxProcess) -> str:
    """A JWT minted by the sandbox's /authenticate, as a user would paste it."""
    basic = base64.b64encode(b"sandbox@example.com:sandbox-password").decode()
    request = urllib.request.Request(
        f"{sandbox.url('amilia')}/api/V3/authenticate", headers={"Authorization": f"Basic {basic}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        token: str = json.loads(response.read())["Token"]
    return token


def assert_complete(result: Any, streams: tuple[str, ...]) -> None:
    assert result.error is None, result.error
    for stream in streams:
        keys = keys_of(stream, result.records[stream])
        assert len(keys) == len(set(keys)), f"{stream}: a record was emitted twice"
        assert set(keys) == expected_keys(stream), stream


def test_default_sync_loads_every_default_stream_completely(sandbox: SandboxProcess) -> None:
    result = run_sync(sandbox_config(sandbox), DEFAULT_STREAMS)
    assert_complete(result, DEFAULT_STREAMS)
    for stream in DEFAULT_STREAMS:
        assert result.records[stream], f"{stream}: the sandbox holds no records to test with"


def test_records_keep_the_api_fields_and_values(sandbox: SandboxProcess) -> None:
    streams = ("accounts", "activities", "registrations", "membership_persons")
    result = run_sync(sandbox_config(sandbox), streams)
    assert result.error is None, result.error
    for stream in streams:
        expected = {json.dumps(r, sort_keys=True) for r in expected_records(stream)}
        got = {json.dumps(r, sort_keys=True) for r in result.records[stream]}
        assert got == expected, stream
    # A field no schema declares (Schedules[].RecurrenceRule) is kept, not dropped.
    assert all("RecurrenceRule" in a["Schedules"][0] for a in result.records["activities"])


def test_opt_in_per_parent_streams_are_complete(sandbox: SandboxProcess) -> None:
    result = run_sync(sandbox_config(sandbox, page_size=50), OPT_IN_STREAMS)
    assert_complete(result, OPT_IN_STREAMS)
    # The parents were read (to find ids) but not emitted.
    assert "activities" not in result.records


def test_child_records_carry_their_parent_id(sandbox: SandboxProcess) -> None:
    result = run_sync(sandbox_config(sandbox), ("account_contacts", "membership_persons"))
    assert result.error is None, result.error
    contact_owner = {
        c["Id"]: a["Id"]
        for i, a in enumerate(data().accounts())
        for c in data().account_contacts(i)
    }
    for contact in result.records["account_contacts"]:
        assert contact["AccountId"] == contact_owner[contact["Id"]]
    assert {p["MembershipId"] for p in result.records["membership_persons"]} <= {
        m["Id"] for m in data().memberships()
    }


def test_datetimes_with_seven_fractional_digits_and_offsets_pass_through(
    sandbox: SandboxProcess,
) -> None:
    result = run_sync(sandbox_config(sandbox), ("registrations",))
    assert result.error is None, result.error
    created = [r["DateCreated"] for r in result.records["registrations"]]
    assert created
    for value in created:
        assert len(value.split(".")[1].split("-")[0]) == 7, value
        assert datetime.fromisoformat(value).utcoffset() is not None


def test_paging_follows_next_to_the_last_page(sandbox: SandboxProcess) -> None:
    result = run_sync(sandbox_config(sandbox, page_size=2), ("programs", "accounts"))
    assert_complete(result, ("programs", "accounts"))
    pages = -(-data().account_count // 2)
    assert path_hits(sandbox, "/accounts") == pages
    assert path_hits(sandbox, "/programs") == -(-data().program_count // 2)


def test_api_key_pair_mode(sandbox: SandboxProcess) -> None:
    result = run_sync(key_pair_config(sandbox), ("programs", "accounts"))
    assert_complete(result, ("programs", "accounts"))
    assert path_hits(sandbox, "/authenticate") == 0


def test_user_mode_authenticates_once(sandbox: SandboxProcess) -> None:
    result = run_sync(sandbox_config(sandbox), ("programs", "locations", "memberships"))
    assert_complete(result, ("programs", "locations", "memberships"))
    assert path_hits(sandbox, "/authenticate") == 1


def test_pre_minted_token_mode(sandbox: SandboxProcess) -> None:
    token = sandbox_token(sandbox)
    config = sandbox_config(sandbox, username=None, password=None, token=token)
    result = run_sync(config, ("programs",))
    assert_complete(result, ("programs",))
    assert path_hits(sandbox, "/authenticate") == 1  # only the one minted above


def test_organization_slug_and_french(sandbox: SandboxProcess) -> None:
    config = sandbox_config(sandbox, organization="forest-explorers", language="fr")
    result = run_sync(config, ("programs",))
    assert result.error is None, result.error
    french = [p["Name"] for p in data("fr").programs()]
    assert [p["Name"] for p in result.records["programs"]] == french


@pytest.mark.parametrize(
    ("overrides", "where"),
    [
        ({"password": "wrong-password"}, "GET /amilia/api/v3/authenticate"),
        ({"username": None, "password": None, "api_key": "k", "api_secret": "s"}, "/programs"),
        ({"username": None, "password": None, "token": "not.a.token"}, "/programs"),
    ],
)
def test_wrong_credentials_stop_with_a_401(
    sandbox: SandboxProcess, overrides: dict[str, Any], where: str
) -> None:
    result = run_sync(sandbox_config(sandbox, **overrides), ("programs",))
    assert isinstance(result.error, FatalAPIError)
    message = str(result.error)
    assert "HTTP 401" in message
    assert where in message
    for secret in ("wrong-password", "not.a.token"):
        assert secret not in message
    assert amilia_stats(sandbox)["statuses"].get("200", 0) == 0


ORIGIN = "x-amilia-origin"


def test_origin_header_is_sent_on_every_call(sandbox: SandboxProcess) -> None:
    origin = "warehouse@example.com"
    result = run_sync(sandbox_config(sandbox, origin=origin), DEFAULT_STREAMS)
    assert_complete(result, DEFAULT_STREAMS)
    for stream in DEFAULT_STREAMS:
        assert result.records[stream], f"{stream}: no request of this stream was checked"
    assert path_hits(sandbox, "/authenticate") == 1
    stats = amilia_stats(sandbox)
    assert stats["headers_missing"][ORIGIN] == 0, "a request went out without X-Amilia-Origin"
    assert stats["headers_seen"][ORIGIN] == [origin]


def test_default_origin_is_tap_amilia(sandbox: SandboxProcess) -> None:
    result = run_sync(sandbox_config(sandbox), ("locations",))
    assert result.error is None, result.error
    stats = amilia_stats(sandbox)
    assert stats["headers_missing"][ORIGIN] == 0
    assert stats["headers_seen"][ORIGIN] == ["tap-amilia"]


def test_the_sandbox_counts_requests_without_origin(sandbox: SandboxProcess) -> None:
    sandbox_token(sandbox)  # a hand-made call, without X-Amilia-Origin
    assert amilia_stats(sandbox)["headers_missing"][ORIGIN] == 1
    result = run_sync(sandbox_config(sandbox), ("programs",))
    assert result.error is None, result.error
    assert amilia_stats(sandbox)["headers_missing"][ORIGIN] == 1  # still only that one
