"""PostgreSQL for the warehouse tests: where the server is, a fresh database per test, and the
Meltano environment that loads into it with Meltano's system database and state there too.

The server comes from ``TEST_POSTGRES_URL`` (``postgresql://user:password@host:port/db``) or
the standard ``PG*`` variables, by default the local server (127.0.0.1:5432, user postgres).
What the sandbox holds comes from its data model (the tests' ``*_support`` modules), never
from a tap.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from e2e.meltano_support import isolated_env

URL_VARIABLE = "TEST_POSTGRES_URL"
PG_VARIABLES = {
    "PGHOST": "host",
    "PGPORT": "port",
    "PGUSER": "user",
    "PGPASSWORD": "password",
    "PGDATABASE": "dbname",
    "PGSSLMODE": "sslmode",
}
DEFAULTS = {"host": "127.0.0.1", "port": "5432", "user": "postgres", "dbname": "postgres"}
HOW_TO_ENABLE = (
    "start PostgreSQL on 127.0.0.1:5432 (user postgres), or set PGHOST/PGPORT/PGUSER/"
    f"PGPASSWORD or {URL_VARIABLE}=postgresql://user:password@host:port/db"
)
DATABASE_TIMEZONE = "America/St_Johns"
"""Each test database's default TimeZone (UTC-03:30 / -02:30), that of the tests' own
connections: not UTC."""
LOADER_TIMEZONE = "Pacific/Chatham"
"""The TimeZone of the runs' sessions (PGTZ; UTC+13:45 / +12:45): neither UTC nor the
database's, so an instant converted at either zone would show."""
SYSTEM_DB_URI = "postgresql+psycopg://"
"""Meltano's system database: a URL without host or credentials, so libpq reads PG*."""


@dataclass(frozen=True)
class Server:
    """A PostgreSQL server, as libpq connection keywords (password never printed)."""

    params: Mapping[str, str]

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> Server:
        url = environ.get(URL_VARIABLE)
        if url:
            given = {k: str(v) for k, v in conninfo_to_dict(url).items() if v is not None}
        else:
            given = {key: environ[var] for var, key in PG_VARIABLES.items() if environ.get(var)}
        return cls({**DEFAULTS, **given})

    @property
    def where(self) -> str:
        """``user@host:port`` (no password)."""
        return f"{self.params['user']}@{self.params['host']}:{self.params['port']}"

    def connect(self, dbname: str | None = None) -> psycopg.Connection[tuple[Any, ...]]:
        params = {**self.params, "dbname": dbname or self.params["dbname"]}
        return psycopg.connect(**params, connect_timeout=5, autocommit=True)

    def unreachable(self) -> str | None:
        """Why the server cannot be used (one line), or None."""
        try:
            with self.connect() as connection:
                connection.execute("select 1")
        except psycopg.Error as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            return f"PostgreSQL at {self.where} is unreachable ({reason[:200]})"
        return None

    def libpq_env(self, dbname: str) -> dict[str, str]:
        """The PG* variables that point libpq (the loader, Meltano) at ``dbname``."""
        env = {var: self.params[key] for var, key in PG_VARIABLES.items() if key in self.params}
        return {**env, "PGDATABASE": dbname}


class Warehouse:
    """A fresh database on the server, dropped at :meth:`drop`."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.name = f"pgtest_{uuid.uuid4().hex[:12]}"
        with server.connect() as admin:
            admin.execute(sql.SQL("create database {}").format(sql.Identifier(self.name)))
            admin.execute(
                sql.SQL("alter database {} set timezone to {}").format(
                    sql.Identifier(self.name), sql.Literal(DATABASE_TIMEZONE)
                )
            )

    def drop(self) -> None:
        with self.server.connect() as admin:
            admin.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(self.name))
            )

    def rows(
        self, query: str | sql.Composable, params: Iterable[Any] = ()
    ) -> list[tuple[Any, ...]]:
        with self.server.connect(self.name) as connection:
            return connection.execute(query, tuple(params)).fetchall()  # type: ignore[arg-type]

    def columns(self, schema: str) -> dict[str, dict[str, str]]:
        """table -> column -> type name (``udt_name``: timestamp, timestamptz, jsonb, _jsonb...)."""
        tables: dict[str, dict[str, str]] = {}
        for table, column, udt in self.rows(
            "select table_name, column_name, udt_name from information_schema.columns"
            " where table_schema = %s",
            [schema],
        ):
            tables.setdefault(table, {})[column] = udt
        return tables

    def select(self, schema: str, table: str, columns: Iterable[str]) -> list[tuple[Any, ...]]:
        query = sql.SQL("select {} from {}").format(
            sql.SQL(", ").join(sql.Identifier(c) for c in columns), sql.Identifier(schema, table)
        )
        return self.rows(query)

    def state(self, state_id: str) -> dict[str, Any]:
        """Meltano's state of ``state_id`` read with SQL from its system database (this one)."""
        found = self.rows(
            "select partial_state, completed_state from state where state_id = %s", [state_id]
        )
        assert found, f"no state {state_id!r} in the system database"
        partial, completed = (json.loads(v) if v else {} for v in found[0])
        return partial or completed  # type: ignore[no-any-return]


def warehouse_env(tmp_path: Path, warehouse: Warehouse) -> dict[str, str]:
    """Meltano settings of the warehouse setup: target-postgres and Meltano's system database
    (runs and state) on ``warehouse``, through the PG* variables only, in sessions whose
    TimeZone is :data:`LOADER_TIMEZONE`."""
    env = isolated_env(tmp_path)
    for variable in (*PG_VARIABLES, "PGOPTIONS", "TARGET_POSTGRES_SQLALCHEMY_URL"):
        env.pop(variable, None)
    return {
        **env,
        **warehouse.server.libpq_env(warehouse.name),
        "PGTZ": LOADER_TIMEZONE,
        "MELTANO_DATABASE_URI": SYSTEM_DB_URI,
        "MELTANO_STATE_BACKEND_URI": "systemdb",
    }


# --- comparing loaded values with the sandbox's ---------------------------------------------
ISO_FRACTION = re.compile(r"(\.\d{6})\d+")


def stored_instant(value: str) -> datetime:
    """The instant a `timestamp with time zone` column should hold for an ISO-8601 date-time
    of the API, in UTC: its offset applied, its fraction cut (not rounded) to the microseconds
    PostgreSQL keeps; a value without an offset is read as UTC (the loader's rule)."""
    moment = datetime.fromisoformat(ISO_FRACTION.sub(r"\1", value.replace("Z", "+00:00")))
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def normalise(value: Any) -> Any:
    """Key values as comparable Python values: instants in UTC, numbers and dates as text."""
    if isinstance(value, datetime):
        assert value.tzinfo is not None, f"{value}: a date-time column without time zone"
        return value.astimezone(UTC)
    if isinstance(value, str) and "T" in value:
        try:
            return stored_instant(value)
        except ValueError:
            return value
    return str(value)


def key_set(keys: Iterable[Any]) -> set[tuple[Any, ...]]:
    """Keys (scalars or tuples) as normalised tuples."""
    return {tuple(normalise(v) for v in (k if isinstance(k, tuple) else (k,))) for k in keys}


def non_null_types(schema: Mapping[str, Any]) -> set[str]:
    types = schema.get("type", [])
    return {t for t in ([types] if isinstance(types, str) else types) if t != "null"}


def json_kind(schema: Mapping[str, Any]) -> str | None:
    """``date-time``, ``date`` or the one non-null JSON type of a property; None for a union."""
    types = non_null_types(schema)
    if len(types) != 1:
        return None
    kind = types.pop()
    if kind == "string" and schema.get("format") in ("date-time", "date"):
        return str(schema["format"])
    return kind


WAREHOUSE_TYPES = {
    "date-time": "timestamptz",  # the instant, whatever the offset sent or the session's zone
    "date": "date",
    "string": "text",
    "object": "jsonb",  # nested values whole, as sent
    "array": "jsonb",  # likewise: not a typed PostgreSQL array
    "integer": "int8",  # ids up to 2**63 - 1
    "number": "numeric",  # exact decimals, not float8
    "boolean": "bool",
}
"""The column type (udt_name) the warehouse needs for each JSON type."""


def wanted_type(schema: Mapping[str, Any]) -> str | None:
    """The column type a property needs, or None for a union (not predicted here)."""
    kind = json_kind(schema)
    return None if kind is None else WAREHOUSE_TYPES[kind]


def loaded_value(value: Any, schema: Mapping[str, Any]) -> Any:
    """What a column should hold for a sandbox value of the property: the instant (UTC) of a
    date-time, the exact decimal of a number, the JSON value of an object or array."""
    if value is None:
        return None
    kind = json_kind(schema)
    if kind == "date-time":
        return stored_instant(value)
    if kind == "number":
        return Decimal(str(value))
    return json.loads(json.dumps(value))


Records = Callable[[], list[dict[str, Any]]]
