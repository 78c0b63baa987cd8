"""Discovery, --about and config checks."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests
from singer_sdk.exceptions import ConfigValidationError

from amperity.amperity_support import DEFAULT_STREAMS, OPT_IN_STREAMS, data, sandbox_config
from api_sandbox.testing import SandboxProcess
from tap_amperity.streams import ANY_JSON, attribute_type
from tap_amperity.tap import TapAmperity

DOCUMENTED_SETTINGS = {
    "tenant_id",
    "api_url",
    "client_id",
    "client_secret",
    "token_url",
    "access_token",
    "api_version",
    "profile_api_version",
    "start_date",
    "page_size",
    "max_requests_per_second",
    "workflow_lookback_days",
    "include_unstable",
}
KEYS = {
    "audit_events": ["event_id"],
    "campaigns": ["id"],
    "segments": ["id"],
    "workflow_runs": ["id"],
    "workflow_task_instances": ["workflow_run_id", "id"],
    "ingest_jobs": ["id"],
    "profile_indexes": ["id"],
    "index_profiles": ["index_id", "id"],
    "campaign_drafts": ["id"],
}


def catalog(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    entries = TapAmperity(config=config).catalog_dict["streams"]
    return {entry["tap_stream_id"]: entry for entry in entries}


def test_discovery_lists_every_stream_with_keys(sandbox: SandboxProcess) -> None:
    streams = catalog(sandbox_config(sandbox))
    assert set(streams) == {*DEFAULT_STREAMS, *OPT_IN_STREAMS}
    for name, entry in streams.items():
        assert list(entry["key_properties"]) == KEYS[name]
        assert entry["schema"]["additionalProperties"] is True, "unknown fields are kept"
        root = next(m["metadata"] for m in entry["metadata"] if not m["breadcrumb"])
        assert root.get("selected-by-default", False) is (name in DEFAULT_STREAMS), name
    with_drafts = catalog(sandbox_config(sandbox, include_unstable=True))
    assert set(with_drafts) == {*DEFAULT_STREAMS, *OPT_IN_STREAMS, "campaign_drafts"}


def test_discovery_shows_the_attribute_names_of_the_indexes(sandbox: SandboxProcess) -> None:
    page_size = 5
    attributes = catalog(sandbox_config(sandbox, page_size=page_size))["index_profiles"]["schema"][
        "properties"
    ]["attributes"]
    model = data()
    expected = {
        name
        for number in range(model.index_count)
        for position in range(min(page_size, model.profiles_per_index))
        for name, value in model.profile(number, position)["attributes"].items()
        if value is not None
    }
    assert set(attributes["properties"]) == expected
    assert attributes["additionalProperties"] is True


def test_discovery_without_the_profile_api_still_works(sandbox: SandboxProcess) -> None:
    sandbox.add_fault("amperity", "status", path="/api/indexes", status=403, count=-1)
    streams = catalog(sandbox_config(sandbox))
    attributes = streams["index_profiles"]["schema"]["properties"]["attributes"]
    assert attributes.get("properties", {}) == {}
    assert attributes["additionalProperties"] is True


def test_about_documents_every_setting() -> None:
    about = subprocess.run(
        [str(Path(sys.executable).parent / "tap-amperity"), "--about", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
    )
    settings = json.loads(about.stdout)["settings"]["properties"]
    assert set(settings) >= DOCUMENTED_SETTINGS
    for name in DOCUMENTED_SETTINGS:
        assert settings[name].get("description"), f"{name} is undocumented"
    assert settings["client_secret"]["secret"] is True
    assert settings["access_token"]["secret"] is True


def base_config(**overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "tenant_id": "acme",
        "client_id": "id",
        "client_secret": "secret",
    }
    config.update(overrides)
    return {k: v for k, v in config.items() if v is not None}


FUTURE = (datetime.now(UTC) + timedelta(days=3)).isoformat()


@pytest.mark.parametrize(
    ("overrides", "setting"),
    [
        ({"tenant_id": "acme.amperity.com"}, "tenant_id"),
        ({"client_id": None, "client_secret": None}, "access_token"),
        ({"access_token": "t"}, "access_token"),
        ({"client_secret": None}, "client_secret"),
        ({"api_url": "http://acme.amperity.com/api"}, "api_url"),
        ({"api_url": "acme.amperity.com"}, "api_url"),
        ({"token_url": "https://x.example/token?secret=1"}, "token_url"),
        ({"api_version": "v2"}, "api_version"),
        ({"profile_api_version": "latest"}, "profile_api_version"),
        ({"page_size": 0}, "page_size"),
        ({"max_requests_per_second": 0}, "max_requests_per_second"),
        ({"workflow_lookback_days": -1}, "workflow_lookback_days"),
        ({"start_date": FUTURE}, "start_date"),
    ],
)
def test_bad_config_names_the_setting(overrides: dict[str, Any], setting: str) -> None:
    with pytest.raises(ConfigValidationError) as raised:
        TapAmperity(config=base_config(**overrides))
    message = str(raised.value)
    assert setting in message
    assert "\n" not in message
    assert "secret" not in message.replace("client_secret", "") or setting == "client_secret"


def test_cli_exits_non_zero_on_bad_config(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(base_config(page_size=0)))
    run = subprocess.run(
        [str(Path(sys.executable).parent / "tap-amperity"), "--config", str(config), "--discover"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode != 0
    assert "page_size" in run.stderr


def test_default_urls_follow_the_tenant() -> None:
    tap = TapAmperity(config=base_config())
    assert tap.settings.api_base == "https://acme.amperity.com/api"
    authenticator = tap.authenticator
    assert getattr(authenticator, "auth_endpoint", None) == (
        "https://acme.amperity.com/api/v0/oauth2/token"
    )


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([1, 2], {"type": ["integer"]}),
        ([0, Decimal("12.5")], {"type": ["number"]}),
        ([True], {"type": ["boolean"]}),
        (["a"], {"type": ["string"]}),
        ([1, "a"], ANY_JSON.type_dict),
        ([{"nested": 1}], ANY_JSON.type_dict),
        ([[1, 2]], ANY_JSON.type_dict),
    ],
)
def test_a_sampled_attribute_is_typed_to_fit_every_value_seen(
    values: list[Any], expected: dict[str, Any]
) -> None:
    declared = attribute_type({type(value) for value in values}).type_dict
    assert declared == expected
    schema = {"type": "object", "properties": {"value": declared}}
    for value in values:  # every sampled value validates against the declared type
        jsonschema.validate({"value": value}, schema)


def test_deprecation_is_logged_once_per_endpoint_not_per_index(
    sandbox: SandboxProcess, caplog: pytest.LogCaptureFixture
) -> None:
    stream = TapAmperity(config=sandbox_config(sandbox)).streams["index_profiles"]
    for index_id in ("ix-1", "ix-2", "ix-3"):
        response = requests.Response()
        response.status_code = 200
        response.url = f"{sandbox.url('amperity')}/api/indexes/{index_id}/profiles"
        response.headers["Deprecation"] = "true"
        response._content = b'{"data": []}'
        with caplog.at_level(logging.WARNING):
            stream.validate_response(response)
    warnings = [r for r in caplog.records if "is deprecated (Deprecation:" in r.getMessage()]
    assert len(warnings) == 1
    assert "/indexes/{index_id}/profiles" in warnings[0].getMessage()


def test_the_cli_logs_progress_and_where_the_time_went(sandbox: SandboxProcess) -> None:
    from resilience.tap_runner import discovered_catalog, run_tap

    streams = {"audit_events", "campaigns", "segments"}
    # One request at a time: the main thread waits for every response, so the API's share
    # of the split is known.
    config = sandbox_config(
        sandbox, progress_interval_seconds=1, max_requests_per_second=10, max_parallel_requests=1
    )
    discovered_catalog("tap-amperity", json.dumps(config, sort_keys=True))
    sandbox.reset()  # count the sync's requests only, not discovery's
    sandbox.configure(latency_ms=400)
    try:
        run = run_tap("tap-amperity", config, streams)
    finally:
        sandbox.configure(latency_ms=0)
    assert run.returncode == 0, run.last_error_line
    progress = re.findall(
        r"\| tap-amperity +\| progress: ([\d,]+) records, ([\d,]+) requests", run.stderr
    )
    assert len(progress) >= 2, "a line every second of a sync of several seconds"
    summary = re.search(
        r"\| tap-amperity +\| time: ([\d.]+) s in all: ([\d.]+) s waiting for the rate limit, "
        r"([\d.]+) s waiting for the API, ([\d.]+) s working \(([\d,]+) records, ([\d,]+) requests",
        run.stderr,
    )
    assert summary is not None, run.stderr[-2000:]
    total, pace, api, work = (float(summary.group(n)) for n in range(1, 5))
    assert pace + api + work == pytest.approx(total, abs=0.2)
    assert int(summary.group(5).replace(",", "")) == sum(len(r) for r in run.records.values())
    stats = sandbox.stats()["amperity"]
    tokens = sum(n for path, n in stats["paths"].items() if path.endswith("/oauth2/token"))
    requests_made = int(summary.group(6).replace(",", ""))
    assert requests_made == stats["requests"] - tokens
    assert api >= requests_made * 0.4 * 0.9, "every response came 400 ms late"
