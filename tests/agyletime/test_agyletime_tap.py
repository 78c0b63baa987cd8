"""The CLI surface (discover, about, bad config) and the small pure helpers."""

from __future__ import annotations

import base64
import json
import subprocess
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from pytest_httpserver import HTTPServer
from singer_sdk.exceptions import ConfigValidationError, RetriableAPIError

from repo_support import BIN
from singer_rest_toolkit.exchange import MAX_RETRY_AFTER_S, retry_after_seconds
from singer_rest_toolkit.pacing import Pacer
from tap_agyletime.auth import DEFAULT_TOKEN_LIFETIME_S, AgyleTimeAuthenticator, token_lifetime
from tap_agyletime.tap import TapAgyleTime, api_urls

STREAMS = {
    "users": ["id"],
    "business_roles": ["id"],
    "system_roles": ["id"],
    "workstreams": ["identifier"],
    "contacts": ["identifier"],
    "interactions": ["identifier"],
    "published_shifts": ["uid"],
    "agent_metrics": ["userId", "date", "channel"],
    "schedule_metrics": ["userId", "date", "channel"],
    "tasks": ["id", "createdAt"],
    "task_definitions": ["id"],
}
SETTINGS = (
    "subdomain",
    "region",
    "access_key_id",
    "access_key_secret",
    "tenant_url",
    "regional_url",
    "start_date",
    "lookback_days",
    "page_size",
    "max_requests_per_second",
    "request_timeout",
    "max_retries",
)
GOOD = {
    "subdomain": "acme",
    "region": "eu",
    "access_key_id": "id",
    "access_key_secret": "secret",
}


def tap_cli(
    *args: str, config: dict[str, Any] | None = None, tmp_path: Path | None = None
) -> subprocess.CompletedProcess[str]:
    command = [str(BIN / "tap-agyletime"), *args]
    if config is not None:
        assert tmp_path is not None
        path = tmp_path / "config.json"
        path.write_text(json.dumps(config), encoding="utf-8")
        command += ["--config", str(path)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_discover_lists_every_stream_with_keys_and_replication() -> None:
    result = tap_cli("--discover")
    assert result.returncode == 0, result.stderr
    catalog = json.loads(result.stdout)
    found = {}
    for entry in catalog["streams"]:
        root = next(m["metadata"] for m in entry["metadata"] if not m["breadcrumb"])
        found[entry["tap_stream_id"]] = (entry["key_properties"], root)
    assert {name: keys for name, (keys, _) in found.items()} == STREAMS
    defaults = {name for name, (_, root) in found.items() if root["selected-by-default"]}
    assert defaults == set(STREAMS) - {"contacts", "interactions"}
    dated = {name: root.get("valid-replication-keys") for name, (_, root) in found.items()}
    assert dated["tasks"] == ["startTime"]
    assert dated["agent_metrics"] == ["date"]
    assert dated["users"] is None


def test_about_documents_every_setting() -> None:
    result = tap_cli("--about", "--format=json")
    assert result.returncode == 0, result.stderr
    properties = json.loads(result.stdout)["settings"]["properties"]
    for name in SETTINGS:
        assert properties[name].get("description"), name
    assert properties["access_key_secret"]["secret"] is True
    assert not properties["access_key_id"].get("secret")
    assert properties["region"]["enum"] == ["eu", "us", "au"]


@pytest.mark.parametrize(
    ("overrides", "setting"),
    [
        ({"subdomain": "acme.cloud"}, "subdomain"),
        ({"region": None}, "region"),
        ({"tenant_url": "http://acme.example.com/api"}, "tenant_url"),
        ({"regional_url": "api-eu.cloud.agyletime.io"}, "regional_url"),
        ({"tenant_url": "https://acme.cloud.agyletime.io/api?key=1"}, "tenant_url"),
        ({"page_size": 0}, "page_size"),
        ({"lookback_days": -1}, "lookback_days"),
        ({"max_requests_per_second": 0}, "max_requests_per_second"),
        ({"max_retries": 0}, "max_retries"),
        ({"start_date": (datetime.now(UTC) + timedelta(days=3)).isoformat()}, "start_date"),
        ({"access_key_secret": "  "}, "access_key_secret"),
    ],
)
def test_bad_settings_raise_one_line_naming_the_setting(
    overrides: dict[str, Any], setting: str
) -> None:
    config = {k: v for k, v in {**GOOD, **overrides}.items() if v is not None}
    with pytest.raises(ConfigValidationError) as caught:
        TapAgyleTime(config=config)
    message = str(caught.value)
    assert message.startswith(setting)
    assert "\n" not in message
    assert caught.value.errors == [message]


def test_localhost_http_urls_and_region_free_regional_url_are_accepted() -> None:
    config = {**GOOD, "tenant_url": "http://127.0.0.1:1/api/", "regional_url": "http://localhost:1"}
    del config["region"]
    tap = TapAgyleTime(config=config)
    assert tap.urls.tenant == "http://127.0.0.1:1/api"
    assert tap.urls.token == "http://127.0.0.1:1/api/authority/token"


def test_default_hosts_follow_subdomain_and_region() -> None:
    urls = api_urls({"subdomain": "acme", "region": "au"})
    assert urls.tenant == "https://acme.cloud.agyletime.io/api"
    assert urls.regional == "https://api-au.cloud.agyletime.io"


def test_cli_exits_non_zero_on_bad_config(tmp_path: Path) -> None:
    result = tap_cli(config={**GOOD, "region": "mars"}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "config['region']" in result.stderr or "region" in result.stderr
    result = tap_cli(config={**GOOD, "page_size": 0}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "page_size must be at least 1" in result.stderr


# --- token lifetime -------------------------------------------------------------------------
def test_token_lifetime_prefers_expires_in() -> None:
    token = jwt.encode({"exp": int(time.time()) + 50}, "k" * 32, algorithm="HS256")
    assert token_lifetime({"expiresIn": 120}, token) == 120


def test_token_lifetime_falls_back_to_the_jwt_exp_claim() -> None:
    token = jwt.encode({"exp": int(time.time()) + 50}, "k" * 32, algorithm="HS256")
    assert 45 <= token_lifetime({}, token) <= 50
    assert 45 <= token_lifetime({"expiresIn": "soon"}, token) <= 50


def test_token_lifetime_defaults_for_opaque_tokens() -> None:
    assert token_lifetime({}, "opaque-token") == DEFAULT_TOKEN_LIFETIME_S


# --- Retry-After ----------------------------------------------------------------------------
def error_with(headers: dict[str, str]) -> RetriableAPIError:
    response = requests.Response()
    response.status_code = 429
    response.headers.update(headers)
    return RetriableAPIError("429", response)


def test_retry_after_seconds_and_http_dates() -> None:
    assert retry_after_seconds(error_with({"Retry-After": "2.5"})) == 2.5
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= (retry_after_seconds(error_with({"Retry-After": when})) or 0) <= 30
    assert retry_after_seconds(error_with({"Retry-After": "86400"})) == MAX_RETRY_AFTER_S
    assert retry_after_seconds(error_with({})) is None
    assert retry_after_seconds(requests.ConnectionError()) is None


def test_token_lifetime_reads_the_expire_in_spelling() -> None:
    assert token_lifetime({"expireIn": 90}, "opaque-token") == 90


# --- token responses the sandbox does not send (uncertain shapes, see docs/tolerance.md) -------
def authenticator_for(httpserver: HTTPServer) -> AgyleTimeAuthenticator:
    return AgyleTimeAuthenticator(
        auth_endpoint=httpserver.url_for("/api/authority/token"),
        client_id="key-id",
        client_secret="key-secret",
        pacer=Pacer(100, headroom_ms=30),
        timeout=5,
        session=requests.Session,
    )


@pytest.mark.parametrize(
    "body",
    [
        {"status": "success", "data": {"accessToken": "tok-1", "expiresIn": 600}},
        {"accessToken": "tok-1", "expiresIn": 600},  # no JSend envelope
    ],
)
def test_token_is_read_from_jsend_data_or_a_bare_body(
    httpserver: HTTPServer, body: dict[str, Any]
) -> None:
    basic = "Basic " + base64.b64encode(b"key-id:key-secret").decode()
    httpserver.expect_request(
        "/api/authority/token",
        method="POST",
        headers={"Authorization": basic},
        data="grant_type=client_credentials",
    ).respond_with_json(body)
    authenticator = authenticator_for(httpserver)
    authenticator.update_access_token()
    assert authenticator.access_token == "tok-1"
    assert authenticator.is_token_valid()


def test_a_token_response_without_a_token_is_retried_not_trusted(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/authority/token").respond_with_json(
        {"status": "success", "data": {"tokenType": "Bearer"}}
    )
    with pytest.raises(RetriableAPIError, match="not a JSend token response"):
        authenticator_for(httpserver).update_access_token()


# --- metrics bodies -----------------------------------------------------------------------------
def metrics_response(body: dict[str, Any]) -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response.url = "https://acme.cloud.agyletime.io/api/schedule/metrics?startTime=x"
    response._content = json.dumps(body).encode()
    return response


@pytest.mark.parametrize("stream", ["agent_metrics", "schedule_metrics"])
@pytest.mark.parametrize(
    "data", [None, {}, {"dates": None}, {"dates": []}], ids=["null", "{}", "dates null", "[]"]
)
def test_a_metrics_window_without_activity_is_an_empty_page(stream: str, data: Any) -> None:
    tap = TapAgyleTime(config=GOOD)
    rows = list(tap.streams[stream].parse_response(metrics_response({"data": data})))
    assert rows == []


def test_metrics_keys_the_tap_does_not_declare_are_kept_not_dropped() -> None:
    tap = TapAgyleTime(config=GOOD)
    user = {"id": 7, "firstName": "A", "lastName": "B", "email": "a@example.com", "team": {"id": 1}}
    channel = {"channel": "voice", "totalHandleTime": 5, "label": "x", "breakdown": {"q1": 2}}
    body = {"data": {"dates": [{"date": "2026-11-20", "users": [{**user, "channels": [channel]}]}]}}
    [agent] = tap.streams["agent_metrics"].parse_response(metrics_response(body))
    assert agent["otherMetrics"] == {"label": "x", "breakdown": {"q1": 2}}
    assert agent["otherUserFields"] == {"email": "a@example.com", "team": {"id": 1}}
    schedule_channel = {"channel": "voice", "rostered": {}, "actual": {}, "note": "n"}
    body["data"]["dates"][0]["users"][0]["channels"] = [schedule_channel]
    [schedule] = tap.streams["schedule_metrics"].parse_response(metrics_response(body))
    assert schedule["otherChannelFields"] == {"note": "n"}
    assert schedule["otherUserFields"] == {"firstName": "A", "lastName": "B", "team": {"id": 1}}
    for stream, row in (("agent_metrics", agent), ("schedule_metrics", schedule)):
        declared = set(tap.streams[stream].schema["properties"])
        assert set(row) <= declared, f"{stream}: keys outside the schema"


def test_every_stream_keeps_the_fields_it_does_not_declare() -> None:
    tap = TapAgyleTime(config=GOOD)
    for name, stream in tap.streams.items():
        assert stream.schema.get("additionalProperties") is True, name


def test_metrics_declare_every_metric_the_public_references_name() -> None:
    tap = TapAgyleTime(config=GOOD)
    agent = tap.streams["agent_metrics"].schema["properties"]
    metrics = set(agent) - {"userId", "date", "channel", "firstName", "lastName"}
    assert len(metrics - {"otherMetrics", "otherUserFields", "totalEmailHandleTime"}) == 89
    actual = tap.streams["schedule_metrics"].schema["properties"]["actual"]["properties"]
    assert len(actual) == 34
    assert len(tap.streams["schedule_metrics"].schema["properties"]["rostered"]["properties"]) == 16
