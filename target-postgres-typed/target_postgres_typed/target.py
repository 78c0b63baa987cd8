"""MeltanoLabs' target-postgres (0.8), changed in its type mapping only.

- ``date-time`` becomes ``timestamp with time zone``: the column holds the instant, so neither
  the offset the API sent nor the loader's session TimeZone can shift it (0.8 makes it a
  ``timestamp`` without time zone, into which PostgreSQL converts an instant at the session's
  TimeZone).
- Arrays become ``jsonb``, like objects (0.8 makes typed PostgreSQL arrays: ``text[]``,
  ``bigint[]``, ``jsonb[]``).
- A ``date-time`` value without an offset (not RFC 3339, but some APIs send them) is read as
  UTC, the Singer convention, instead of at the session's TimeZone.

Everything else (connection settings, upserts, COPY, schema evolution) is the loader's own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from singer_sdk.sql.connector import JSONSchemaToSQL
from sqlalchemy.dialects.postgresql import JSONB, TIMESTAMP
from target_postgres.connector import PostgresConnector
from target_postgres.sinks import PostgresSink
from target_postgres.target import TargetPostgres
from typing_extensions import override


def timestamptz(_schema: dict[str, Any]) -> TIMESTAMP:
    """The column type of a ``date-time`` property: ``timestamp with time zone``."""
    return TIMESTAMP(timezone=True)


class TypedPostgresConnector(PostgresConnector):  # type: ignore[misc]
    """The loader's connector with two type handlers replaced."""

    @override
    @cached_property
    def jsonschema_to_sql(self) -> JSONSchemaToSQL:
        # The loader's mapping, then only date-time and array re-registered (last one wins).
        to_sql: JSONSchemaToSQL = super().jsonschema_to_sql
        to_sql.register_format_handler("date-time", timestamptz)
        to_sql.register_type_handler("array", JSONB)
        return to_sql


class TypedPostgresSink(PostgresSink):  # type: ignore[misc]
    """The loader's sink, on the connector above, reading offset-less date-times as UTC."""

    connector_class = TypedPostgresConnector

    @override
    def preprocess_record(self, record: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
        # The SDK has parsed the date-times by now, so the only datetimes in the record are those;
        # a naive one would be cast to timestamptz at the session's TimeZone: make it UTC first.
        for name, value in record.items():
            if isinstance(value, datetime) and value.tzinfo is None:
                record[name] = value.replace(tzinfo=UTC)
        result: dict[str, Any] = super().preprocess_record(record, context)
        return result


class TargetPostgresTyped(TargetPostgres):  # type: ignore[misc]
    """target-postgres, on the sink above; settings, name and environment variables unchanged."""

    package_name = "target-postgres-typed"
    default_sink_class = TypedPostgresSink
