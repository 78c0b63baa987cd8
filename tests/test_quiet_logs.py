"""A default run logs what a person reads: start, progress, warnings, errors and the summary.

The SDK's METRIC lines appear when asked for (the metrics_log_level setting, the DEBUG log
level, ``meltano --log-format=json``, a SINGER_SDK_LOG_CONFIG that sets the singer_sdk.metrics
logger), and other libraries' or the SDK's per-page lines only at DEBUG. Every run here is the
real CLI (or `meltano run`) against the sandbox.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from agyletime import agyletime_support
from amilia import amilia_support
from amperity import amperity_support
from api_sandbox.testing import SandboxProcess
from e2e.meltano_support import isolated_env, meltano, tap_env
from repo_support import ROOT, TAPS
from resilience.tap_runner import discovered_catalog, run_tap

SCALE = 0.05
CONSOLE_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \| (?P<level>[A-Z]+) +\| (?P<logger>\S+) +\| "
    r"(?P<message>.*)$"
)
"""The SDK's console format: time | level | logger | message."""
STREAM_START = re.compile(r"^Beginning sync of '(\w+)' in \w+ mode")
METRIC = re.compile(r"METRIC: (\{.*\})")
CONFIGS: dict[str, Callable[[SandboxProcess], dict[str, Any]]] = {
    "tap-amilia": amilia_support.sandbox_config,
    # At the documented 10 requests/s: a 429 would add its (legitimate) warnings.
    "tap-amperity": lambda sandbox: amperity_support.sandbox_config(
        sandbox, max_requests_per_second=10
    ),
    "tap-agyletime": agyletime_support.sandbox_config,
}
"""Small pages (many requests, many empty date windows), fast pacing."""
VENDORS = {"tap-amilia": "amilia", "tap-amperity": "amperity", "tap-agyletime": "agyletime"}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxProcess]:
    with SandboxProcess(scale=SCALE) as server:
        yield server


def selected_by_default(tap: str, config: dict[str, Any]) -> set[str]:
    """The streams a run without a catalog syncs (the opt-in ones left out)."""
    catalog = json.loads(discovered_catalog(tap, json.dumps(config, sort_keys=True)))
    return {
        entry["tap_stream_id"]
        for entry in catalog["streams"]
        for metadata in entry["metadata"]
        if metadata["breadcrumb"] == [] and metadata["metadata"].get("selected-by-default")
    }


def metric_points(text: str) -> list[dict[str, Any]]:
    """Every METRIC line's point."""
    return [json.loads(found.group(1)) for found in METRIC.finditer(text)]


def records_counted(points: list[dict[str, Any]]) -> Counter[str]:
    """The SDK's record_count metric, summed per stream."""
    counted: Counter[str] = Counter()
    for point in points:
        if point["metric"] == "record_count":
            counted[point["tags"]["stream"]] += int(point["value"])
    return counted


@pytest.mark.parametrize("tap", TAPS)
def test_a_default_run_logs_start_streams_progress_warnings_and_the_summary_only(
    tap: str, sandbox: SandboxProcess
) -> None:
    config = {**CONFIGS[tap](sandbox), "progress_interval_seconds": 1}
    streams = selected_by_default(tap, config)
    sandbox.reset()
    run = run_tap(tap, config, streams)
    assert run.returncode == 0, run.last_error_line
    requests = sandbox.stats()[VENDORS[tap]]["requests"]
    records = Counter({stream: len(rows) for stream, rows in run.records.items()})
    lines = run.stderr.splitlines()
    parsed = [CONSOLE_LINE.match(line) for line in lines]
    assert all(parsed), [line for line, match in zip(lines, parsed, strict=True) if not match]
    entries = [match for match in parsed if match is not None]

    # Only the tap's own loggers speak below WARNING: no METRIC, no pyrate-limiter, no backoff.
    quiet = [e for e in entries if e["level"] in ("DEBUG", "INFO")]
    outsiders = {e["logger"] for e in quiet if e["logger"].split(".")[0] != tap}
    assert not outsiders, outsiders
    assert not metric_points(run.stderr)
    messages = [e["message"] for e in quiet]
    for chatter in ("Skipping parse of env var", "Pagination stopped", "as child stream to"):
        assert not [m for m in messages if chatter in m], chatter

    # One line when each stream begins, not one per parent record or per page.
    started = Counter(m.group(1) for m in map(STREAM_START.match, messages) if m)
    assert set(records) <= set(started), "every stream that wrote records said it began"
    assert max(started.values()) == 1, started

    # One start line, the progress lines name the tap once (it is the logger), one summary.
    mine = [e["message"] for e in quiet if e["logger"] == tap]
    assert len([m for m in mine if m.startswith(f"{tap} v")]) == 1
    progress = [m for m in mine if m.startswith("progress: ")]
    assert not [m for m in mine if tap in m and not m.startswith(f"{tap} v")]
    summaries = [m for m in mine if m.startswith("time: ")]
    assert len(summaries) == 1
    assert len(progress) >= float(summaries[0].split()[1]) - 2, "a line every second"
    assert f"({sum(records.values()):,} records" in summaries[0]

    # The log does not grow with the requests: a few lines a stream, whatever the pages.
    assert len(quiet) <= 4 * len(streams) + len(progress) + 8, (requests, "\n".join(messages))


def agyletime_users(
    sandbox: SandboxProcess, env: dict[str, str] | None = None, **settings: Any
) -> tuple[int, str, Counter[str]]:
    """Sync the users stream; (records, stderr, records the METRIC lines counted)."""
    run = run_tap(
        "tap-agyletime",
        agyletime_support.sandbox_config(sandbox, **settings),
        {"users"},
        env=env,
    )
    assert run.returncode == 0, run.last_error_line
    return len(run.records["users"]), run.stderr, records_counted(metric_points(run.stderr))


def sdk_log_config(tmp_path: Path, *, names_metrics: bool) -> str:
    """The toolkit README's example configuration for SINGER_SDK_LOG_CONFIG (YAML, as the SDK
    reads it), with or without its ``loggers`` entry for the metrics logger."""
    readme = (ROOT / "singer-rest-toolkit" / "README.md").read_text(encoding="utf-8")
    logs = readme.split("\n## Logs\n", 1)[1]
    example = textwrap.dedent(logs.split("```yaml\n", 1)[1].split("```", 1)[0])
    config = yaml.safe_load(example)
    assert config["loggers"] == {"singer_sdk.metrics": {"level": "INFO"}}
    if not names_metrics:
        del config["loggers"]
    path = tmp_path / "logging.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("settings", "env", "shown"),
    [
        ({}, {}, False),
        ({"metrics_log_level": "WARNING"}, {}, False),
        ({"metrics_log_level": "INFO"}, {}, True),
        ({"metrics_log_level": "DEBUG"}, {}, True),
        ({"metrics_log_level": "WARNING"}, {"TAP_AGYLETIME_LOGLEVEL": "DEBUG"}, True),
        ({}, {"MELTANO_CLI_LOG_FORMAT": "json"}, True),
        ({}, {"MELTANO_CLI_LOG_FORMAT": "key_value"}, True),
        ({}, {"MELTANO_CLI_LOG_FORMAT": "colored"}, False),
    ],
    ids=[
        "default",
        "setting-warning",
        "setting-info",
        "setting-debug",
        "debug-log-level",
        "meltano-json-logs",
        "meltano-key-value-logs",
        "meltano-colored-logs",
    ],
)
def test_metric_lines_appear_only_when_asked_for(
    sandbox: SandboxProcess, settings: dict[str, Any], env: dict[str, str], shown: bool
) -> None:
    records, stderr, counted = agyletime_users(sandbox, env=env, **settings)
    if shown:
        assert counted == {"users": records}, "the record_count metric counts every record"
    else:
        assert not metric_points(stderr)


@pytest.mark.parametrize("names_metrics", [True, False])
def test_an_sdk_logging_configuration_that_sets_the_metrics_logger_shows_them(
    sandbox: SandboxProcess, tmp_path: Path, names_metrics: bool
) -> None:
    """What a program that parses them does: its own configuration through the SDK's
    SINGER_SDK_LOG_CONFIG. One that does not name the metrics logger (Meltano's) does not."""
    env = {"SINGER_SDK_LOG_CONFIG": sdk_log_config(tmp_path, names_metrics=names_metrics)}
    records, stderr, counted = agyletime_users(sandbox, env=env)
    assert re.search(r"^tap-agyletime v\S+, Meltano SDK", stderr, re.MULTILINE), (
        "the configuration's format (the message alone) is used"
    )
    if names_metrics:
        assert counted == {"users": records}
        assert re.search(r"^METRIC: ", stderr, re.MULTILINE)
    else:
        assert not metric_points(stderr)


@pytest.mark.parametrize("debug", [False, True])
def test_a_retry_logs_its_warning_and_backoffs_line_only_at_debug(
    sandbox: SandboxProcess, debug: bool
) -> None:
    """Two 429s: two warnings that say what is retried and when, whatever the level;
    backoff's own "Backing off" lines repeat them, so only DEBUG shows them."""
    sandbox.reset()
    sandbox.add_fault("agyletime", "status", path="/organisation/users$", status=429, count=2)
    try:
        env = {"TAP_AGYLETIME_LOGLEVEL": "DEBUG"} if debug else {}
        records, stderr, _ = agyletime_users(sandbox, env=env, metrics_log_level="WARNING")
    finally:
        sandbox.clear_faults()
    assert records > 0
    warnings = [line for line in stderr.splitlines() if "| WARNING " in line]
    assert len([w for w in warnings if "users: HTTP 429" in w and "retrying" in w]) == 2, warnings
    backing_off = [line for line in stderr.splitlines() if "Backing off" in line]
    assert len(backing_off) == (2 if debug else 0), backing_off


def test_the_sdk_metrics_setting_is_refused_when_it_is_not_a_level(
    sandbox: SandboxProcess,
) -> None:
    run = run_tap(
        "tap-agyletime",
        agyletime_support.sandbox_config(sandbox, metrics_log_level="loud"),
        {"users"},
    )
    assert run.returncode != 0
    assert "metrics_log_level" in run.stderr


# --- through `meltano run` ------------------------------------------------------------------


def meltano_agyletime(
    tmp_path: Path, sandbox: SandboxProcess, *options: str, **env: str
) -> tuple[str, Counter[str]]:
    """`meltano [options] run tap-agyletime target-jsonl` in the sandbox environment; its
    log (stderr) and the rows written per stream."""
    run_env = {
        **isolated_env(tmp_path),
        **tap_env("tap-agyletime", sandbox),
        "TAP_AGYLETIME_PROGRESS_INTERVAL_SECONDS": "1",
        **env,
    }
    (tmp_path / "jsonl").mkdir()
    result = meltano(*options, "run", "tap-agyletime", "target-jsonl", env=run_env)
    rows = Counter(
        {
            path.stem: len(path.read_text(encoding="utf-8").splitlines())
            for path in (tmp_path / "jsonl").glob("*.jsonl")
        }
    )
    return result.stderr + result.stdout, rows


@pytest.mark.e2e
@pytest.mark.xdist_group("meltano")
def test_meltano_run_logs_each_line_once_and_no_metrics(
    tmp_path: Path, sandbox: SandboxProcess
) -> None:
    # Paced so that the sync lasts seconds (its date windows are requests), not under one.
    log, rows = meltano_agyletime(tmp_path, sandbox, TAP_AGYLETIME_MAX_REQUESTS_PER_SECOND="8")
    lines = log.splitlines()
    tap_lines = [line for line in lines if "] tap-agyletime " in line]
    assert not [line for line in lines if "METRIC" in line]
    assert len([line for line in lines if "Skipping parse of env var" in line]) <= 1
    progress = [line for line in tap_lines if " progress: " in line]
    assert progress, "progress every second"
    assert all(re.search(r"\] tap-agyletime +progress: [\d,]+ records", p) for p in progress)
    doubled = [line for line in lines if "tap-agyletime tap-agyletime" in line]
    assert len(doubled) == 1, "only the SDK's start line: <tap> <tap> v<version>, Meltano SDK"
    assert "tap-agyletime tap-agyletime v" in doubled[0]
    summary = [line for line in tap_lines if re.search(r"tap-agyletime +time: ", line)]
    assert len(summary) == 1
    assert f"({sum(rows.values()):,} records" in summary[0]
    assert not [line for line in lines if "Initializing default bucket" in line]
    # The log holds Meltano's own dozen lines, then a few per stream and the progress.
    streams = len({m.group(1) for m in re.finditer(r"Beginning sync of '(\w+)'", log)})
    assert len(tap_lines) <= 3 * streams + len(progress) + 6, "\n".join(tap_lines)


@pytest.mark.e2e
@pytest.mark.xdist_group("meltano")
def test_meltano_json_logs_carry_every_metric(tmp_path: Path, sandbox: SandboxProcess) -> None:
    """For machines: under --log-format=json each METRIC point is an event with its
    ``metric_info`` (type, metric, value, tags); the record counts add up to the rows."""
    log, rows = meltano_agyletime(tmp_path, sandbox, "--log-format=json")
    events = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    metrics = [e["metric_info"] for e in events if "metric_info" in e]
    assert {m["metric"] for m in metrics} >= {
        "http_request_duration",
        "http_request_count",
        "record_count",
        "sync_duration",
    }
    assert records_counted(metrics) == +rows
    chatter = [e for e in events if "Pagination stopped" in str(e.get("event"))]
    assert not chatter


@pytest.mark.e2e
@pytest.mark.xdist_group("meltano")
def test_meltano_run_with_an_sdk_logging_configuration_carries_metric_lines(
    tmp_path: Path, sandbox: SandboxProcess
) -> None:
    """An orchestrator that runs `meltano run` with SINGER_SDK_LOG_CONFIG naming the metrics
    logger reads every METRIC line from Meltano's output."""
    config = sdk_log_config(tmp_path, names_metrics=True)
    log, rows = meltano_agyletime(tmp_path, sandbox, SINGER_SDK_LOG_CONFIG=config)
    assert records_counted(metric_points(log)) == +rows
