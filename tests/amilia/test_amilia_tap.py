"""The CLI surface (discover, about, bad config) and what only a fake server can say."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from singer_sdk.exceptions import ConfigValidationError

from amilia.amilia_support import DEFAULT_STREAMS, OPT_IN_STREAMS, run_sync
from repo_support import BIN
from singer_rest_toolkit.windows import windows
from tap_amilia.auth import token_from_body
from tap_amilia.client import AmiliaDateWindowStream, same_site
from tap_amilia.tap import TapAmilia

STREAMS = {
    "programs": (["Id"], None),
    "activities": (["Id"], None),
    "activity_occurrences": (["Id"], None),
    "accounts": (["Id"], None),
    "account_contacts": (["AccountId", "Id"], None),
    "memberships": (["Id"], None),
    "membership_persons": (["MembershipId", "Id", "PurchasedDate"], None),
    "membership_accounts": (["MembershipId", "Id", "PurchasedDate"], None),
    "multipasses": (["Id"], None),
    "multipass_persons": (["MultipassId", "Id", "PurchasedDate"], None),
    "multipass_accounts": (["MultipassId", "Id", "PurchasedDate"], None),
    "merchandise": (["Id"], None),
    "locations": (["Id"], None),
    "events": (["Id"], "Start"),
    "registrations": (["RegistrationId"], "DateCreated"),
    "reservations": (["ReservationId"], "Start"),
    "access_scans": (["Id"], "ScanDate"),
    "donations_sold": (["InvoiceItemId"], "PurchasedDateUtc"),
    "program_persons": (["ProgramId", "Id"], None),
    "activity_persons": (["ActivityId", "Id"], None),
    "occurrence_participants": (["OccurrenceId", "Id"], None),
    "activity_waitlists": (["ActivityId", "Id"], None),
}
OPT_IN = {"program_persons", "activity_persons", "occurrence_participants", "activity_waitlists"}
SETTINGS = (
    "organization",
    "username",
    "password",
    "api_key",
    "api_secret",
    "token",
    "api_url",
    "language",
    "origin",
    "start_date",
    "lookback_days",
    "lookahead_days",
    "page_size",
    "include_medical_info",
    "max_requests_per_second",
    "request_timeout",
    "max_retries",
)
GOOD = {"organization": "8008", "username": "u@example.com", "password": "p"}


def tap_cli(*args: str, config: dict[str, Any], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return subprocess.run(
        [str(BIN / "tap-amilia"), "--config", str(path), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_discover_lists_every_stream_with_keys(tmp_path: Path) -> None:
    result = tap_cli("--discover", config=GOOD, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    catalog = json.loads(result.stdout)
    found = {}
    for entry in catalog["streams"]:
        root = next(m["metadata"] for m in entry["metadata"] if not m["breadcrumb"])
        found[entry["tap_stream_id"]] = entry
        keys, replication_key = STREAMS[entry["tap_stream_id"]]
        assert root["table-key-properties"] == keys
        assert entry.get("replication_key") == replication_key
        assert root.get("selected-by-default") is (entry["tap_stream_id"] in DEFAULT_STREAMS)
        assert entry["schema"]["additionalProperties"] is True
        for key in keys:
            assert key in entry["schema"]["properties"]
    assert set(found) == set(STREAMS) == {*DEFAULT_STREAMS, *OPT_IN_STREAMS}
    assert set(OPT_IN_STREAMS) == OPT_IN
    assert "p" not in json.dumps(catalog).split('"')  # the password value is nowhere


def test_nested_objects_are_typed() -> None:
    tap = TapAmilia(config=GOOD)
    accounts = tap.streams["accounts"].schema["properties"]
    owner = accounts["Owners"]["items"]
    assert "AccountOwnerEmail" in owner["properties"]
    assert "Relationship" in owner["properties"]["Contacts"]["items"]["properties"]
    events = tap.streams["events"].schema["properties"]
    assert "AttendanceId" in events["Participants"]["items"]["properties"]
    assert events["Start"]["format"] == "date-time"


def test_about_markdown_documents_every_setting(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(BIN / "tap-amilia"), "--about", "--format=markdown"],
        capture_output=True,
        text=True,
        check=True,
    )
    for name in SETTINGS:
        assert f"| {name} " in result.stdout, name


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"username": None, "password": None}, "no credentials"),
        ({"api_key": "k", "api_secret": "s"}, "more than one auth mode"),
        ({"token": "t"}, "more than one auth mode"),
        ({"password": None}, "password is required with username"),
        ({"username": None, "password": None, "api_key": "k"}, "api_secret is required"),
        ({"organization": "forest explorers"}, "organization must be"),
        ({"api_url": "http://app.amilia.com/api/v3"}, "api_url must be an https:// URL"),
        ({"api_url": "app.amilia.com/api/v3"}, "api_url must be an absolute"),
        ({"language": "de"}, "language"),
        ({"page_size": 0}, "page_size must be at least 1"),
        ({"lookback_days": -1}, "lookback_days must be at least 0"),
        ({"lookahead_days": -1}, "lookahead_days must be at least 0"),
        ({"max_requests_per_second": 0}, "max_requests_per_second"),
        ({"start_date": "2999-01-01"}, "start_date is in the future"),
        ({"origin": ""}, "origin must not be empty"),
    ],
)
def test_bad_config_names_the_setting(overrides: dict[str, Any], fragment: str) -> None:
    config = {k: v for k, v in {**GOOD, **overrides}.items() if v is not None}
    with pytest.raises(ConfigValidationError) as raised:
        TapAmilia(config=config)
    assert fragment in str(raised.value) + " ".join(raised.value.errors)


def test_bad_config_exits_non_zero_with_one_line(tmp_path: Path) -> None:
    config = {**GOOD, "api_key": "k", "api_secret": "secret-value"}
    result = tap_cli(config=config, tmp_path=tmp_path)  # a sync: discovery skips the checks
    assert result.returncode != 0
    assert "more than one auth mode" in result.stderr
    assert "secret-value" not in result.stderr + result.stdout


def test_token_body_as_object_or_bare_string() -> None:
    assert token_from_body({"Token": "abc"}) == "abc"
    assert token_from_body("abc") == "abc"
    assert token_from_body({"Token": ""}) is None
    assert token_from_body(["abc"]) is None


def test_day_windows_are_inclusive_and_do_not_overlap() -> None:
    events = TapAmilia(config=GOOD).streams["events"]
    assert isinstance(events, AmiliaDateWindowStream)
    first = datetime(2025, 1, 1, tzinfo=UTC)
    last = datetime(2025, 1, 10, 15, 30, tzinfo=UTC)
    days = [
        events.window_filters(start, end) for start, end in windows(first, last, timedelta(days=4))
    ]
    assert days == [
        {"from": "2025-01-01", "to": "2025-01-04"},
        {"from": "2025-01-05", "to": "2025-01-08"},
        {"from": "2025-01-09", "to": "2025-01-10"},
    ]
    assert list(windows(last, first, timedelta(days=4))) == []


# --- shapes only a fake server can produce (the sandbox follows the documented ones) -----------
def test_bare_arrays_and_a_bare_string_token_are_accepted(httpserver: HTTPServer) -> None:
    base = "/api/v3"
    httpserver.expect_request(f"{base}/authenticate").respond_with_json("bare-token")
    httpserver.expect_request(
        f"{base}/en/org/8008/locations", headers={"Authorization": "Bearer bare-token"}
    ).respond_with_json([{"Id": 1, "Name": "Gym"}, {"Id": 2, "Name": "Pool", "Extra": {"a": 1}}])
    config = {**GOOD, "api_url": httpserver.url_for(base)}
    result = run_sync(config, ["locations"])
    assert result.error is None, result.error
    assert [r["Id"] for r in result.records["locations"]] == [1, 2]
    assert result.records["locations"][1]["Extra"] == {"a": 1}


def test_null_next_ends_paging_and_a_foreign_next_is_refused(httpserver: HTTPServer) -> None:
    base = "/api/v3"
    headers = {"X-AMILIA-APIKEY": "k", "X-AMILIA-APISECRET": "s", "X-Amilia-Origin": "tap-amilia"}
    httpserver.expect_request(f"{base}/en/org/8008/programs", headers=headers).respond_with_json(
        {"Items": [{"Id": 7}], "Paging": {"TotalCount": 1, "Next": None}}
    )
    httpserver.expect_request(f"{base}/en/org/8008/locations").respond_with_json(
        {"Items": [{"Id": 1}], "Paging": {"TotalCount": 2, "Next": "https://evil.example/x?page=2"}}
    )
    config = {"organization": "8008", "api_key": "k", "api_secret": "s"}
    config["api_url"] = httpserver.url_for(base)
    result = run_sync(config, ["programs"])
    assert result.error is None, result.error
    assert [r["Id"] for r in result.records["programs"]] == [7]
    refused = run_sync(config, ["locations"])
    assert refused.error is not None
    assert "another host" in str(refused.error)


@pytest.mark.parametrize(
    ("next_host", "api_host", "followed"),
    [
        ("app.amilia.com", "app.amilia.com", True),
        ("www.amilia.com", "app.amilia.com", True),  # both documented API hosts
        ("WWW.Amilia.com", "app.amilia.com", True),
        ("amilia.com.evil.example", "app.amilia.com", False),
        ("evilamilia.com", "app.amilia.com", False),
        ("127.0.0.2", "127.0.0.1", False),
        ("localhost", "127.0.0.1", False),
    ],
)
def test_paging_next_is_followed_only_within_the_api_domain(
    next_host: str, api_host: str, followed: bool
) -> None:
    assert same_site(next_host, api_host) is followed
