"""The sandbox's calendar rolls with its clock: full schedules on any date, one clock."""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from api_sandbox.testing import SandboxProcess
from api_sandbox.vendors.amilia import AmiliaData

KEYS = {"X-AMILIA-APIKEY": "sandbox-api-key", "X-AMILIA-APISECRET": "sandbox-api-secret"}
LOOKAHEAD_DAYS = 90
"""tap-amilia's default lookahead_days."""
DAYS = [
    date(2026, 11, 29),
    date(2027, 12, 31),
    date(2028, 2, 29),
    date(2031, 7, 15),
    date(2044, 10, 1),
]


@pytest.mark.parametrize("today", DAYS, ids=str)
def test_amilia_has_past_current_and_future_seasons_around_any_today(today: date) -> None:
    data = AmiliaData(42, 1.0, today=today)
    seasons = {data.program_dates(i) for i in range(data.program_count)}
    assert any(end < today for _, end in seasons), "no past season"
    assert any(start <= today <= end for start, end in seasons), "no current season"
    assert any(today < start for start, _ in seasons), "no future season"
    assert data.first_day <= today - timedelta(days=365)
    assert data.last_day >= today + timedelta(days=LOOKAHEAD_DAYS)
    for day in (today - timedelta(days=365), today, today + timedelta(days=LOOKAHEAD_DAYS)):
        assert data.event_count(data.day_range(day, day)[0]) >= 1, day
    week = (today - timedelta(days=7), today)
    assert list(data.registrations(*week)), "no registrations in the last week"
    assert list(data.reservations(today, today + timedelta(days=LOOKAHEAD_DAYS)))


def test_a_dated_record_keeps_its_id_and_time_whatever_today() -> None:
    day = date(2028, 2, 29)
    a = AmiliaData(42, 0.5, today=day - timedelta(days=100))
    b = AmiliaData(42, 0.5, today=day + timedelta(days=100))
    for listing in ("events", "registrations", "reservations"):
        first = [(r.get("Id"), r.get("Start")) for r in getattr(a, listing)(day, day)]
        second = [(r.get("Id"), r.get("Start")) for r in getattr(b, listing)(day, day)]
        assert first == second, listing
    assert list(a.events(day, day)), "no events to compare"


def get(url: str) -> Any:
    request = urllib.request.Request(url, headers=KEYS)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_a_sandbox_started_at_an_instant_serves_that_day_and_ticks() -> None:
    now = datetime(2031, 7, 15, 23, 59, 30, tzinfo=UTC)
    with SandboxProcess("--now", now.isoformat(), scale=0.2) as sandbox:
        clock = sandbox.clock()
        assert now <= clock < now + timedelta(seconds=30)
        model = AmiliaData(42, 0.2, today=now.date())
        # Without from/to, /events is today's schedule: today by the sandbox's clock.
        base = f"{sandbox.url('amilia')}/api/v3/en/org/8008"
        events = get(f"{base}/events?showHidden=true&showSkipped=true&showCanceled=true")
        assert [e["Id"] for e in events["Items"]] == [
            e["Id"] for e in model.events(now.date(), now.date())
        ]
        programs = get(f"{base}/programs?showHidden=true&showArchived=true&perPage=500")
        assert [p["Name"] for p in programs["Items"]] == [p["Name"] for p in model.programs()]
        # The clock can be moved while the sandbox runs (tests re-synchronise it).
        moved = sandbox.set_clock(datetime(2029, 3, 1, tzinfo=UTC))
        assert moved.date() == date(2029, 3, 1)
        later = AmiliaData(42, 0.2, today=date(2029, 3, 1))
        programs = get(f"{base}/programs?showHidden=true&showArchived=true&perPage=500")
        assert [p["Name"] for p in programs["Items"]] == [p["Name"] for p in later.programs()]
