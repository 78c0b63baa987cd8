"""Running Meltano against a private sandbox, project directory, database, state and outputs.

Each test's Meltano project is its own directory (a copy of meltano.yml whose installed
plugins are the main project's, linked): runs never share ``.meltano/run/<plugin>/`` or
anything else with `make demo` or with another test worker. Environment variables
override meltano.yml, so a test never touches the project's own state or warehouse.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import duckdb

from api_sandbox.testing import SandboxProcess
from repo_support import BIN, ROOT

SCALE = 0.05
SANDBOX_ARGS = ("--access-log",)
"""The sandbox logs every request line, query string included (never headers)."""
REQUEST_LINE = re.compile(r'"GET (?P<target>\S+) HTTP/[0-9.]+"')


FIRST_RUN_DAYS = 30
"""Days before today a test's first run starts its date-ranged streams: more than each tap's
lookback_days (so a second run's re-read is seen to start later), and within the days the
sandbox holds. The sandbox environment itself sets no start_date (each tap's default range)."""


def tap_env(tap: str, sandbox: SandboxProcess) -> dict[str, str]:
    """Environment overrides that point a tap at this test's sandbox, from
    :data:`FIRST_RUN_DAYS` ago.

    Agyle Time documents no rate limit and its tap paces at a conservative 3 requests/s by
    default; the sandbox enforces none, so the tests let it go faster.
    """
    start = (datetime.now(UTC) - timedelta(days=FIRST_RUN_DAYS)).date().isoformat()
    return {
        "tap-amilia": {
            "TAP_AMILIA_API_URL": f"{sandbox.url('amilia')}/api/v3",
            "TAP_AMILIA_START_DATE": start,
        },
        "tap-amperity": {"TAP_AMPERITY_API_URL": f"{sandbox.url('amperity')}/api"},
        "tap-agyletime": {
            "TAP_AGYLETIME_TENANT_URL": f"{sandbox.url('agyletime')}/tenant/api",
            "TAP_AGYLETIME_REGIONAL_URL": f"{sandbox.url('agyletime')}/regional",
            "TAP_AGYLETIME_MAX_REQUESTS_PER_SECOND": "30",
            "TAP_AGYLETIME_START_DATE": start,
        },
    }[tap]


def private_project(tmp_path: Path) -> Path:
    """A Meltano project of its own under ``tmp_path``: meltano.yml copied, the installed
    extractors and loaders (their venvs) linked from the main project's ``.meltano/``.

    Meltano writes a run's files (``.meltano/run/<plugin>/``: config, catalog, state) under
    the project that runs it; the linked plugin directories are only read at run time.
    """
    project = tmp_path / "meltano-project"
    (project / ".meltano").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ROOT / "meltano.yml", project / "meltano.yml")
    for kind in ("extractors", "loaders"):
        link = project / ".meltano" / kind
        if not link.is_symlink():
            link.symlink_to(ROOT / ".meltano" / kind, target_is_directory=True)
    return project


def project_root(env: dict[str, str]) -> Path:
    """The directory of the Meltano project ``env`` runs (see :func:`isolated_env`)."""
    return Path(env.get("MELTANO_PROJECT_ROOT", ROOT))


def isolated_env(tmp_path: Path) -> dict[str, str]:
    """Meltano settings that keep a run's project, database, state and outputs under
    ``tmp_path``."""
    return {
        **os.environ,
        "MELTANO_PROJECT_ROOT": str(private_project(tmp_path)),
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}",
        "MELTANO_STATE_BACKEND_URI": f"file://{tmp_path / 'state'}",
        "TARGET_DUCKDB_FILEPATH": str(tmp_path / "warehouse.duckdb"),
        "TARGET_JSONL_DESTINATION_PATH": str(tmp_path / "jsonl"),
    }


def meltano(
    *args: str, env: dict[str, str], check: bool = True
) -> subprocess.CompletedProcess[str]:
    """``meltano ARGS`` in the test's project; with ``check``, its failure fails the test."""
    result = subprocess.run(
        [str(BIN / "meltano"), *args],
        cwd=project_root(env),
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if check:
        assert result.returncode == 0, f"meltano {' '.join(args)} failed:\n{result.stderr[-4000:]}"
    return result


def plugin_config(plugin: str, env: dict[str, str]) -> dict[str, Any]:
    """The plugin's effective configuration in the sandbox environment (secrets masked)."""
    result = meltano("--environment=sandbox", "config", "print", plugin, "--format=json", env=env)
    config: dict[str, Any] = json.loads(result.stdout)
    return config


def as_instant(value: str) -> datetime:
    """An ISO-8601 date (midnight UTC) or date-time (naive means UTC) as aware UTC."""
    try:
        return datetime.combine(date.fromisoformat(value), datetime.min.time(), tzinfo=UTC)
    except ValueError:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def requested_window_starts(access_log: str, route: str, parameter: str) -> list[datetime]:
    """The ``parameter`` value of every GET of a path ending in ``route`` (any answer), in order.

    ``access_log`` is (part of) the output of a sandbox started with ``--access-log``: what
    the vendor API was asked, seen from the server side.
    """
    starts: list[datetime] = []
    for line in access_log.splitlines():
        match = REQUEST_LINE.search(line)
        if match is None:
            continue
        target = urlsplit(match["target"])
        if not target.path.rstrip("/").endswith(route):
            continue
        starts.extend(as_instant(v) for v in parse_qs(target.query).get(parameter, []))
    return starts


def default_streams(tap: str, env: dict[str, str]) -> dict[str, list[str]]:
    """Stream name -> primary keys, for every stream selected by default."""
    result = subprocess.run(
        [str(BIN / "meltano"), "invoke", tap, "--discover"],
        cwd=project_root(env),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    catalog: dict[str, Any] = json.loads(result.stdout)
    streams: dict[str, list[str]] = {}
    for entry in catalog["streams"]:
        root = next(m["metadata"] for m in entry["metadata"] if not m["breadcrumb"])
        if root.get("selected-by-default", False):
            streams[entry["tap_stream_id"]] = entry.get("key_properties") or root.get(
                "table-key-properties", []
            )
    return streams


def table_stats(
    path: Path, schema: str, keys_by_table: dict[str, list[str]]
) -> dict[str, tuple[int, int]]:
    """table -> (rows, distinct primary keys)."""
    stats: dict[str, tuple[int, int]] = {}
    with duckdb.connect(str(path), read_only=True) as db:
        tables = {
            r[0]
            for r in db.execute(
                "select table_name from information_schema.tables where table_schema = ?", [schema]
            ).fetchall()
        }
        for stream, keys in keys_by_table.items():
            table = stream.lower()
            if table not in tables:
                continue
            key_sql = ", ".join(f'"{k.lower()}"' for k in keys)
            row = db.execute(
                f'select count(*), count(distinct ({key_sql})) from "{schema}"."{table}"'
            ).fetchone()
            assert row is not None
            stats[table] = (row[0], row[1])
    return stats
