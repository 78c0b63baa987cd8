"""Helpers for the tap-amilia tests: an in-process sync runner and the records the sandbox
holds, computed from its data model (never from the tap)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from api_sandbox.testing import SandboxProcess
from api_sandbox.vendors.amilia import AmiliaData
from api_sandbox.vendors.amilia.data import person_view
from repo_support import SyncResult, sync_in_process
from tap_amilia.client import AmiliaDateWindowStream
from tap_amilia.streams import STREAM_TYPES
from tap_amilia.tap import TapAmilia

SCALE = 0.05
SEED = 42
USER = {"username": "sandbox@example.com", "password": "sandbox-password"}
KEY_PAIR = {"api_key": "sandbox-api-key", "api_secret": "sandbox-api-secret"}
DEFAULT_STREAMS = tuple(s.name for s in STREAM_TYPES if s.selected_by_default)
OPT_IN_STREAMS = tuple(s.name for s in STREAM_TYPES if not s.selected_by_default)
DATED_STREAMS = tuple(s.name for s in STREAM_TYPES if issubclass(s, AmiliaDateWindowStream))
START_DAYS_AGO = 40
LOOKAHEAD_DAYS = 20
"""lookahead_days of every test config: events and reservations are read this far ahead."""


def utc_today() -> date:
    """Today in UTC by this process's clock (the sandbox follows the same clock)."""
    return datetime.now(UTC).date()


def data(language: str = "en") -> AmiliaData:
    """The organization the sandbox serves today (its calendar rolls with the date)."""
    return AmiliaData(SEED, SCALE, language, today=utc_today())


def days_ago(days: int) -> datetime:
    """Midnight UTC ``days`` before today."""
    return datetime.combine(utc_today() - timedelta(days=days), time(), tzinfo=UTC)


def sandbox_config(sandbox: SandboxProcess, **overrides: Any) -> dict[str, Any]:
    """Sandbox user credentials, a start 40 days back, small pages, fast pacing."""
    config = {
        "organization": "8008",
        "api_url": f"{sandbox.url('amilia')}/api/v3",
        **USER,
        "start_date": days_ago(START_DAYS_AGO).date().isoformat(),
        "lookahead_days": LOOKAHEAD_DAYS,
        "page_size": 3,
        "max_requests_per_second": 90,
        "max_retries": 4,
        **overrides,
    }
    return {k: v for k, v in config.items() if v is not None}


def key_pair_config(sandbox: SandboxProcess, **overrides: Any) -> dict[str, Any]:
    """The API key/secret mode instead of the user."""
    return sandbox_config(sandbox, username=None, password=None, **KEY_PAIR, **overrides)


def run_sync(
    config: dict[str, Any], streams: Iterable[str], state: dict[str, Any] | None = None
) -> SyncResult:
    """Sync ``streams`` in process and collect RECORD and STATE messages."""
    return sync_in_process(TapAmilia(config=config, state=state or {}), streams)


# --- what the sandbox holds -----------------------------------------------------------------
KEY_FIELDS = {
    "account_contacts": ("AccountId", "Id"),
    "membership_persons": ("MembershipId", "Id", "PurchasedDate"),
    "membership_accounts": ("MembershipId", "Id", "PurchasedDate"),
    "multipass_persons": ("MultipassId", "Id", "PurchasedDate"),
    "multipass_accounts": ("MultipassId", "Id", "PurchasedDate"),
    "activity_waitlists": ("ActivityId", "Id"),
    "donations_sold": ("InvoiceItemId",),
    "program_persons": ("ProgramId", "Id"),
    "activity_persons": ("ActivityId", "Id"),
    "occurrence_participants": ("OccurrenceId", "Id"),
    "registrations": ("RegistrationId",),
    "reservations": ("ReservationId",),
}


def keys_of(stream: str, records: Iterable[dict[str, Any]]) -> list[Any]:
    """Primary keys of records, in the shape of :func:`expected_keys`."""
    fields = KEY_FIELDS.get(stream, ("Id",))
    if len(fields) == 1:
        return [r[fields[0]] for r in records]
    return [tuple(r[f] for f in fields) for r in records]


def _activities() -> Iterable[tuple[int, int]]:
    DATA = data()  # noqa: N806
    for p in range(DATA.program_count):
        for a in range(DATA.activity_count(p)):
            yield p, a


def expected_records(
    stream: str, first: date | None = None, last: date | None = None, *, medical: bool = False
) -> list[dict[str, Any]]:
    """Every record of ``stream`` the sandbox holds (dated streams: ``first``..``last``, by
    default start_date to today, or to LOOKAHEAD_DAYS ahead for events and reservations),
    as the tap asks for them: every person, whole, with medical information only if
    ``medical`` (the ``include_medical_info`` setting)."""
    first = first or days_ago(START_DAYS_AGO).date()
    ahead = LOOKAHEAD_DAYS if stream in ("events", "reservations") else 0
    last = last or utc_today() + timedelta(days=ahead)
    DATA = data()  # noqa: N806 - one model for the whole listing
    if stream == "programs":
        return list(DATA.programs())
    if stream == "activities":
        return list(DATA.activities())
    if stream == "activity_occurrences":
        return list(DATA.occurrences())
    if stream == "accounts":
        return list(DATA.accounts())
    if stream == "account_contacts":
        return [
            {**c, "AccountId": a["Id"]}
            for i, a in enumerate(DATA.accounts())
            for c in DATA.account_contacts(i)
        ]
    if stream == "memberships":
        return list(DATA.memberships())
    if stream == "membership_persons":
        return [
            {**person_view(h, medical=medical), "MembershipId": m["Id"]}
            for i, m in enumerate(DATA.memberships())
            for h in DATA.membership_persons(i)
        ]
    if stream == "membership_accounts":
        return [
            {**h, "MembershipId": m["Id"]}
            for i, m in enumerate(DATA.memberships())
            for h in DATA.membership_accounts(i)
        ]
    if stream == "multipasses":
        return [DATA.multipass(i) for i in range(DATA.multipass_count)]
    if stream == "multipass_persons":
        return [
            {**person_view(h, medical=medical), "MultipassId": DATA.multipass(i)["Id"]}
            for i in range(DATA.multipass_count)
            for _, h in DATA.multipass_persons(i)
        ]
    if stream == "multipass_accounts":
        return [
            {**h, "MultipassId": DATA.multipass(i)["Id"]}
            for i in range(DATA.multipass_count)
            for _, h in DATA.multipass_accounts(i)
        ]
    if stream == "merchandise":
        return [DATA.merchandise(i) for i in range(DATA.merchandise_count)]
    if stream == "access_scans":
        return list(DATA.access_scans(first, last))
    if stream == "donations_sold":
        return list(DATA.donations(first, last))
    if stream == "activity_waitlists":
        return [
            {**p, "ActivityId": DATA.activity(pi, ai)["Id"]}
            for pi, ai in _activities()
            for p in DATA.waitlist(pi, ai)
        ]
    if stream == "locations":
        return list(DATA.locations())
    if stream == "events":
        return list(DATA.events(first, last))
    if stream == "registrations":
        return list(DATA.registrations(first, last))
    if stream == "reservations":
        return list(DATA.reservations(first, last))
    if stream == "program_persons":
        return [
            {**person_view(p, medical=medical), "ProgramId": DATA.program(i)["Id"]}
            for i in range(DATA.program_count)
            for p in DATA.program_persons(i)
        ]
    if stream == "activity_persons":
        return [
            {**person_view(p, medical=medical), "ActivityId": DATA.activity(pi, ai)["Id"]}
            for pi, ai in _activities()
            for p in DATA.activity_persons(pi, ai)
        ]
    if stream == "occurrence_participants":
        return [
            person
            for pi, ai in _activities()
            for o in range(DATA.occurrence_count(pi, ai))
            for person in DATA.occurrence_participants(pi, ai, o)
        ]
    raise KeyError(stream)


def expected_keys(stream: str, first: date | None = None, last: date | None = None) -> set[Any]:
    return set(keys_of(stream, expected_records(stream, first, last)))


def amilia_stats(sandbox: SandboxProcess) -> dict[str, Any]:
    stats: dict[str, Any] = sandbox.stats()["amilia"]
    return stats


def path_hits(sandbox: SandboxProcess, suffix: str) -> int:
    """Requests the sandbox answered on the routes ending with ``suffix``."""
    paths: dict[str, int] = amilia_stats(sandbox)["paths"]
    return sum(n for path, n in paths.items() if path.endswith(suffix))
