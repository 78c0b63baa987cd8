"""Instants as the APIs write them, and the one clock every date decision reads."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def utc_now() -> datetime:
    """Now, aware UTC (the clock tests move with time-machine)."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime (naive means UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_instant(value: str) -> datetime:
    """An ISO-8601 date or date-time (7 fractional digits and ``Z`` allowed) as aware UTC;
    ValueError for anything else."""
    return as_utc(datetime.fromisoformat(value.strip().replace("Z", "+00:00")))


def is_instant(value: Any) -> bool:
    """True for a datetime or a string :func:`parse_instant` reads."""
    try:
        return isinstance(value, datetime) or bool(parse_instant(value))
    except (TypeError, ValueError, AttributeError):
        return False


def iso_z(value: datetime) -> str:
    """``2026-06-19T04:00:18.764Z``: UTC, millisecond precision."""
    value = as_utc(value)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
