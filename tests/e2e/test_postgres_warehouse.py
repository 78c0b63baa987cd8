"""Real `meltano run` of each tap into PostgreSQL (MeltanoLabs target-postgres), with Meltano's
system database and state on the same server (``state_backend.uri: systemdb``).

Each test gets a fresh database (created, then dropped) and its own sandbox. Keys and values
expected come from the sandbox's data model, column types from the taps' JSON schemas (see
docs/postgres.md): ``date-time`` is ``timestamp with time zone``
holding the sandbox's instant (offset applied; cut to the microsecond, as PostgreSQL keeps no
7th digit), objects and arrays ``jsonb`` holding the sandbox's values, integers ``bigint``,
numbers ``numeric`` holding the sandbox's decimals exactly. The runs' sessions and the
database are in two different time zones, neither UTC, so no conversion at a session's zone
goes unseen.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import pytest

from api_sandbox.testing import SandboxProcess
from e2e.meltano_support import (
    SANDBOX_ARGS,
    SCALE,
    as_instant,
    meltano,
    plugin_config,
    requested_window_starts,
    tap_env,
)
from e2e.postgres_support import (
    DATABASE_TIMEZONE,
    HOW_TO_ENABLE,
    LOADER_TIMEZONE,
    Records,
    Server,
    Warehouse,
    json_kind,
    key_set,
    loaded_value,
    stored_instant,
    wanted_type,
    warehouse_env,
)
from e2e.test_meltano_run import (
    DATED_ROUTES,
    ROUNDING,
    assert_second_run_rereads_only_the_lookback,
)
from repo_support import BIN, ROOT, TAPS

SERVER = Server.from_environ()
if (_unreachable := SERVER.unreachable()) is not None:
    if os.environ.get("CI"):  # CI has the server: its absence fails the run
        pytest.fail(f"{_unreachable}; CI needs it: {HOW_TO_ENABLE}", pytrace=False)
    pytest.skip(f"{_unreachable}; to run these tests, {HOW_TO_ENABLE}", allow_module_level=True)

# Concurrent `meltano run`s of one plugin in one project share .meltano/run/<plugin>/ and
# delete each other's catalog: every Meltano test runs in the same xdist worker, in turn.
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("meltano")]
CHANGED = "changed by the API"
UNDECLARED_OUTCOMES = {
    "tap-amilia": "reported",  # passed on (its schemas keep extra keys) and named in a warning
    "tap-amperity": "reported",
    "tap-agyletime": "reported",
}
"""What happens to a field the API adds to a stream's records (see docs/postgres.md)."""
EXTRA = "sandbox_extra"


@dataclass(frozen=True)
class TapCase:
    """What the warehouse test needs to know about one tap."""

    env: dict[str, str]
    """Start dates (and look-ahead) the expected keys below assume."""
    key_columns: Callable[[str], tuple[str, ...]]
    expected_keys: Callable[[str], set[Any]]
    changed: tuple[str, str, str]
    """(route regex, stream, declared string field) the sandbox changes before the 2nd run."""
    extra: tuple[str, str]
    """(route regex, stream) whose records the sandbox gives an undeclared field."""
    values: dict[str, Records] = field(default_factory=dict)
    """Streams whose date-time, number, object and array values are compared with the
    sandbox's records."""


def tap_case(tap: str) -> TapCase:
    if tap == "tap-amilia":
        from amilia import amilia_support as amilia

        return TapCase(
            env={
                "TAP_AMILIA_START_DATE": amilia.days_ago(amilia.START_DAYS_AGO).date().isoformat(),
                "TAP_AMILIA_LOOKAHEAD_DAYS": str(amilia.LOOKAHEAD_DAYS),
            },
            key_columns=lambda s: amilia.KEY_FIELDS.get(s, ("Id",)),
            expected_keys=amilia.expected_keys,
            changed=(r"/locations$", "locations", "Name"),
            extra=(r"/accounts$", "accounts"),
            values={
                "programs": lambda: amilia.expected_records("programs"),
                "activities": lambda: amilia.expected_records("activities"),
                "registrations": lambda: amilia.expected_records("registrations"),
                "access_scans": lambda: amilia.expected_records("access_scans"),  # no offset
                "accounts": lambda: amilia.expected_records("accounts"),
            },
        )
    if tap == "tap-amperity":
        from amperity import amperity_support as amperity

        start = amperity.days_ago(10)
        model = amperity.data()
        return TapCase(
            env={"TAP_AMPERITY_START_DATE": start.date().isoformat()},
            key_columns=lambda s: {
                "index_profiles": ("index_id", "id"),
                "audit_events": ("event_id",),
            }.get(s, ("id",)),
            expected_keys=lambda s: amperity.expected_keys(s, start),
            changed=(r"/segments$", "segments", "name"),
            extra=(r"/campaigns$", "campaigns"),
            values={
                "audit_events": lambda: [
                    model.audit_event(i) for i in model.audit_event_range(start, None)
                ],
                "ingest_jobs": lambda: [
                    with_started_at(model.ingest_job(i))
                    for i in model.ingest_job_range(start, None)
                ],
            },
        )
    from agyletime import agyletime_support as agyletime

    start = agyletime.days_ago(10)
    return TapCase(
        # A lookback shorter than the 10 days read, so the 2nd run's re-read is not all of them.
        env={
            "TAP_AGYLETIME_START_DATE": start.date().isoformat(),
            "TAP_AGYLETIME_LOOKBACK_DAYS": "3",
        },
        key_columns=lambda s: agyletime.KEY_FIELDS.get(s, ("id",)),
        expected_keys=lambda s: agyletime.expected_keys(s, start),
        changed=(r"/organisation/business-roles$", "business_roles", "name"),
        extra=(r"/organisation/users$", "users"),
        values={
            "users": lambda: list(agyletime.DATA.users()),
            "business_roles": lambda: list(agyletime.DATA.business_roles()),
        },
    )


def with_started_at(job: dict[str, Any]) -> dict[str, Any]:
    """A sandbox ingest job with the ``started_at`` tap-amperity adds: its tables' earliest."""
    return {**job, "started_at": min((t["started_at"] for t in job["tables"]), key=stored_instant)}


@pytest.fixture
def warehouse() -> Iterator[Warehouse]:
    database = Warehouse(SERVER)
    try:
        yield database
    finally:
        database.drop()


def catalog_schemas(tap: str, env: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Stream -> JSON schema, for every stream selected by default."""
    result = meltano("invoke", tap, "--discover", env=env)
    schemas: dict[str, dict[str, Any]] = {}
    for entry in json.loads(result.stdout)["streams"]:
        root = next(m["metadata"] for m in entry["metadata"] if not m["breadcrumb"])
        if root.get("selected-by-default", False):
            schemas[entry["tap_stream_id"]] = entry["schema"]
    return schemas


def assert_exactly_the_sandbox_keys(
    warehouse: Warehouse, schema: str, case: TapCase, streams: list[str]
) -> None:
    tables = warehouse.columns(schema)
    for stream in streams:
        assert stream in tables, f"{schema}.{stream}: no table"
        loaded = warehouse.select(schema, stream, case.key_columns(stream))
        keys = key_set(loaded)
        assert len(keys) == len(loaded), f"{schema}.{stream}: a primary key is loaded twice"
        want = key_set(case.expected_keys(stream))
        assert want, f"{stream}: the sandbox holds no record at this scale"
        assert keys == want, f"{stream}: {len(want - keys)} missing, {len(keys - want)} unexpected"


def assert_column_types(
    warehouse: Warehouse, schema: str, schemas: dict[str, dict[str, Any]]
) -> dict[str, int]:
    """Every declared property's column has the type its JSON type needs (WAREHOUSE_TYPES).

    Returns how many columns of each JSON kind were checked.
    """
    tables = warehouse.columns(schema)
    wrong: list[str] = []
    seen: dict[str, int] = {}
    for stream, stream_schema in schemas.items():
        for name, prop in stream_schema["properties"].items():
            want, kind = wanted_type(prop), json_kind(prop)
            if want is None or kind is None:
                continue
            seen[kind] = seen.get(kind, 0) + 1
            got = tables[stream].get(name)
            if got != want:
                wrong.append(f"{stream}.{name} ({kind}): {got}, expected {want}")
    assert not wrong, "columns of unexpected type:\n" + "\n".join(wrong)
    return seen


COMPARED_KINDS = ("date-time", "number", "object", "array")


def assert_values_intact(
    warehouse: Warehouse, schema: str, case: TapCase, schemas: dict[str, dict[str, Any]]
) -> dict[str, int]:
    """Date-time, number, object and array columns hold the sandbox's values: the same
    instants (to the microsecond), exact decimals, the same JSON.

    Returns how many values were compared, and how many of those were instants with a 7th
    fractional digit, a non-UTC offset or no offset in the API's text.
    """
    counts = {"values": 0, "seven_digits": 0, "offsets": 0, "no_offset": 0, "json": 0}
    for stream, records in case.values.items():
        props = {
            name: prop
            for name, prop in schemas[stream]["properties"].items()
            if json_kind(prop) in COMPARED_KINDS
        }
        keys = case.key_columns(stream)
        columns = [*keys, *props]
        loaded = {
            tuple(str(v) for v in row[: len(keys)]): row[len(keys) :]
            for row in warehouse.select(schema, stream, columns)
        }
        for record in records():
            row = loaded[tuple(str(record[k]) for k in keys)]
            for (name, prop), got in zip(props.items(), row, strict=True):
                want = loaded_value(record.get(name), prop)
                assert got == want, f"{stream} {record[keys[0]]}.{name}: {got!r} != {want!r}"
                counts["values"] += 1
                counts["json"] += json_kind(prop) in ("object", "array") and want is not None
                text = record.get(name)
                if json_kind(prop) == "date-time" and isinstance(text, str):
                    fraction = text.split(".")[1] if "." in text else ""
                    counts["seven_digits"] += len(fraction) > 7 and fraction[6] != "0"
                    offset = datetime.fromisoformat(text.replace("Z", "+00:00")).utcoffset()
                    counts["offsets"] += offset not in (None, timedelta(0))
                    counts["no_offset"] += offset is None
    assert counts["values"], f"{schema}: no value compared"
    assert counts["json"], f"{schema}: no object or array value compared"
    return counts


@pytest.mark.parametrize("tap", TAPS)
def test_warehouse_load_is_exact_typed_upserted_and_reports_undeclared_fields(
    tap: str, warehouse: Warehouse, tmp_path: Path
) -> None:
    case = tap_case(tap)
    schema = tap.replace("-", "_")
    state_id = f"sandbox:{tap}-to-target-postgres"
    with SandboxProcess(*SANDBOX_ARGS, scale=SCALE) as sandbox:
        env = {**warehouse_env(tmp_path, warehouse), **tap_env(tap, sandbox), **case.env}
        schemas = catalog_schemas(tap, env)
        streams = sorted(schemas)

        meltano("run", tap, "target-postgres", env=env)
        assert_exactly_the_sandbox_keys(warehouse, schema, case, streams)
        kinds = assert_column_types(warehouse, schema, schemas)
        for kind in ("date-time", "object", "array"):
            assert kinds.get(kind), f"{tap}: no {kind} column checked: {kinds}"
        counts = assert_values_intact(warehouse, schema, case, schemas)
        if tap == "tap-amilia":  # .NET instants: 7 fractional digits and an Eastern offset
            assert counts["seven_digits"], f"no 7th fractional digit compared: {counts}"
            assert counts["offsets"], f"no offset instant compared: {counts}"
            assert counts["no_offset"], f"no instant without offset compared: {counts}"
        session_zone = warehouse.rows("show timezone")[0][0]
        assert session_zone == DATABASE_TIMEZONE, "the test database is meant not to be UTC"
        assert env["PGTZ"] == LOADER_TIMEZONE != session_zone, "the runs' zone is another"

        state = json.loads(meltano("state", "get", state_id, env=env).stdout)
        assert state == warehouse.state(state_id), "meltano state get is not the system db's"
        assert not (tmp_path / "state").exists(), "state went to the file backend"
        bookmarks: dict[str, dict[str, Any]] = state["singer_state"]["bookmarks"]
        first_log = sandbox.output()

        route, changed_stream, changed_field = case.changed
        sandbox.add_fault(
            schema.removeprefix("tap_"),
            "set_field",
            path=route,
            count=-1,
            key=changed_field,
            value=CHANGED,
        )
        route, extra_stream = case.extra
        sandbox.add_fault(
            schema.removeprefix("tap_"),
            "set_field",
            path=route,
            count=-1,
            key=EXTRA,
            value="added by the API",
        )
        second = meltano("run", tap, "target-postgres", env=env)

        assert_exactly_the_sandbox_keys(warehouse, schema, case, streams)
        values = {v for (v,) in warehouse.select(schema, changed_stream, [changed_field])}
        assert values == {CHANGED}, f"{changed_stream}.{changed_field} not updated: {values}"
        outcome = undeclared_field_outcome(warehouse, schema, extra_stream, second.stderr)
        if tap in DATED_ROUTES:
            assert_second_run_rereads_only_the_lookback(
                tap,
                bookmarks,
                first_log,
                sandbox.output()[len(first_log) :],
                plugin_config(tap, env),
            )
    assert outcome == UNDECLARED_OUTCOMES[tap], (
        f"{tap}: an undeclared field is now {outcome}, no longer "
        f"{UNDECLARED_OUTCOMES[tap]}: update UNDECLARED_OUTCOMES and docs/postgres.md"
    )
    if outcome == "silently lost":
        pytest.xfail(
            f"{tap} passes the undeclared field {EXTRA!r} through (its schemas allow additional "
            "properties) and target-postgres keeps only the declared columns, without a word"
        )


def undeclared_field_outcome(warehouse: Warehouse, schema: str, stream: str, log: str) -> str:
    """What became of the field the API added: loaded (a column), reported (a warning that
    names it in the run's log) or silently lost."""
    if EXTRA in warehouse.columns(schema)[stream]:
        return "loaded"
    warning = f"Properties ('{EXTRA}',) were present in the '{stream}' stream"
    return "reported" if warning in log else "silently lost"


def tap_process(run: subprocess.Popen[bytes], tap: str) -> psutil.Process | None:
    """The tap's syncing process among the run's descendants (not its discovery)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and run.poll() is None:
        for child in psutil.Process(run.pid).children(recursive=True):
            try:
                cmdline = child.cmdline()
            except psutil.NoSuchProcess:
                continue
            if "--discover" not in cmdline and any(p.endswith(f"/{tap}") for p in cmdline):
                return child
        time.sleep(0.05)
    return None


def registration_requests(sandbox: SandboxProcess) -> int:
    paths: dict[str, int] = sandbox.stats()["amilia"]["paths"]
    return sum(n for path, n in paths.items() if path.endswith("/registrations"))


def test_killed_run_resumes_from_the_state_in_the_system_database(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    """SIGKILL tap-amilia mid-registrations, run again: exactly the sandbox's keys, and the
    resumed run asks the API from the bookmark that the system database holds."""
    from amilia import amilia_support as amilia

    tap, state_id = "tap-amilia", "sandbox:tap-amilia-to-target-postgres"
    start = amilia.days_ago(100).date()
    streams = {"activities": ("Id",), "registrations": ("RegistrationId",)}
    want = {
        "activities": amilia.expected_keys("activities"),
        "registrations": amilia.expected_keys("registrations", start),
    }
    with SandboxProcess(*SANDBOX_ARGS, scale=SCALE, latency_ms=15) as sandbox:
        env = {
            **warehouse_env(tmp_path, warehouse),
            **tap_env(tap, sandbox),
            "TAP_AMILIA_START_DATE": start.isoformat(),
            "TAP_AMILIA_PAGE_SIZE": "1",
            "TAP_AMILIA_MAX_REQUESTS_PER_SECOND": "40",
            # One request at a time: registrations is read in its own turn (not fetched while
            # activities are written), so the kill comes after its bookmarks were saved.
            "TAP_AMILIA_MAX_PARALLEL_REQUESTS": "1",
            "TAP_AMILIA__SELECT": json.dumps([f"{s}.*" for s in streams]),
            "TARGET_POSTGRES_BATCH_SIZE_ROWS": "5",
        }
        kill_at = len(want["registrations"]) * 2 // 3
        with (tmp_path / "killed-run.log").open("ab") as log:
            run = subprocess.Popen(
                [str(BIN / "meltano"), "run", tap, "target-postgres"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        process = tap_process(run, tap)
        assert process is not None, "the tap's sync never started"
        while run.poll() is None and registration_requests(sandbox) < kill_at:
            time.sleep(0.01)
        assert run.poll() is None, "the run ended before the kill"
        process.send_signal(signal.SIGKILL)
        run.wait(timeout=120)
        assert run.returncode != 0, "the killed run reported success"

        state = json.loads(meltano("state", "get", state_id, env=env).stdout)
        assert state == warehouse.state(state_id), "meltano state get is not the system db's"
        bookmark = state["singer_state"]["bookmarks"]["registrations"].get("replication_key_value")
        assert bookmark, f"the kill came before any registrations bookmark was saved: {state}"
        before = sandbox.output()
        meltano("run", tap, "target-postgres", env=env)
        starts = requested_window_starts(sandbox.output()[len(before) :], "/registrations", "from")

    lookback = timedelta(days=int(plugin_config(tap, env)["lookback_days"]))
    resume_from = as_instant(bookmark) - lookback
    assert starts, "the resumed run did not read registrations"
    assert resume_from - ROUNDING <= min(starts) <= resume_from, (
        f"the resumed run read registrations from {min(starts)}, not from the system "
        f"database's bookmark {bookmark} minus the lookback"
    )
    for stream, columns in streams.items():
        loaded = warehouse.select("tap_amilia", stream, columns)
        assert len(loaded) == len(key_set(loaded)), f"{stream}: a key was loaded twice"
        assert key_set(loaded) == key_set(want[stream]), f"{stream}: keys lost or invented"
