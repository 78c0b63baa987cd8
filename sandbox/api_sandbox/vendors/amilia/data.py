"""The Amilia organization the sandbox serves, as plain Python.

Every record is a pure function of ``(seed, scale, today, kind, index)``: full-table
resources are indexed by position (``programs()[i]``), children by their parent's
position, and dated resources (events, registrations, reservations) by ``(day, k)``,
``day`` counted from :data:`EPOCH_DAY` (so a dated record's id and date never depend on
``today``; the program names it embeds do). Nothing is materialised: a listing walks only
the indexes a request asks for, and tests call the same functions to know exactly what the
sandbox holds.

The calendar rolls with ``today``: the programs are twelve seasons (quarters), six before
the quarter holding today, that quarter and five after, and dated resources exist from
the first season's first day to the last season's last day (about 18 months either side
of today, far more than any ``lookahead_days``). Within a quarter everything but the
"has it ended / is it active" flags is the same whatever the day.

Shapes follow ``shared/api-reference/amilia.md``: integer ids, string ids such as
``AC-1234567``, nested ``Owners``/``Contacts``, and .NET datetimes with 7 fractional
digits and an offset (``2025-06-02T18:30:00.0000000-04:00``).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from api_sandbox.data import (
    CITIES,
    iso_7_digits,
    person_name,
    phrase,
    pick,
    rng_for,
    scaled,
)

Record = dict[str, Any]

ORGANIZATION_ID = 8008
ORGANIZATION_SLUG = "forest-explorers"
EPOCH_DAY = date(2000, 1, 1)
"""Day 0 of the day numbers dated records are keyed by (and their ids are built from)."""
SEASON_COUNT = 12
PAST_SEASONS = 6
"""Seasons before the quarter holding today (the rest are that quarter and later ones)."""

SEASONS = {
    "en": ("Winter", "Spring", "Summer", "Fall"),
    "fr": ("Hiver", "Printemps", "Été", "Automne"),
}
CATEGORIES = ((31, "Aquatics"), (32, "Sports"), (33, "Arts"), (34, "Camps"), (35, "Fitness"))
GENDERS = ("NotSpecified", "Male", "Female", "PreferNotToSay")
RELATIONSHIPS = ("Grandmother", "Grandfather", "Neighbour", "Aunt", "Uncle", "Friend")
CONTACT_TYPES = ("EmergencyContact", "AuthorizedPickup")
MEMBERSHIP_TYPES = ("IndividualPerson", "MultiPerson", "Corporate", "Subscription")
REGISTRATION_PREFIXES = ("AC", "AC", "AC", "SUB", "DI", "PL")
RESERVATION_TYPES = (
    ("AC", "Activity"),
    ("AC", "Activity"),
    ("AB", "AdminBooking"),
    ("PL", "PrivateLesson"),
    ("FB", "FacilityBooking"),
    ("RC", "RentalContract"),
    ("CR", "ClientReservation"),
)
OCCURRENCE_STATES = ("Normal", "Normal", "Normal", "Normal", "Cancelled", "Edited")
ATTENDANCE = ((0, "None"), (1, "Present"), (2, "Absent"))


# --- ids: increasing with the index, so "ordered by id" is index order -------------------
def program_id(index: int) -> int:
    """Id of the ``index``-th program."""
    return 20_001 + 7 * index


def activity_id(program_index: int, index: int) -> int:
    """Id of a program's ``index``-th activity (fewer than 100 per program)."""
    return 100_000 + program_index * 100 + index


def occurrence_id(activity: int, index: int) -> int:
    """Id of an activity's ``index``-th occurrence (fewer than 100 per activity)."""
    return activity * 100 + index


def account_id(index: int) -> int:
    """Id of the ``index``-th account."""
    return 300_000 + index


def person_id(account_index: int, member: int) -> int:
    """Id of an account's ``member``-th person (fewer than 10 per account)."""
    return 5_000_000 + account_index * 10 + member


def contact_id(account_index: int, index: int) -> int:
    """Id of an account's ``index``-th contact."""
    return 8_000_000 + account_index * 10 + index


def membership_id(index: int) -> int:
    """Id of the ``index``-th membership."""
    return 4_001 + index


def location_id(index: int) -> int:
    """Id of the ``index``-th location."""
    return 601 + index


def merchandise_id(index: int) -> int:
    """Id of the ``index``-th merchandise item."""
    return 12_001 + index


def multipass_id(index: int) -> int:
    """Id of the ``index``-th multipass."""
    return 1_001 + index


def dated_number(base: int, day: int, k: int) -> int:
    """The numeric id of the ``k``-th dated record of ``day`` (fewer than 10,000 a day)."""
    return base + day * 10_000 + k


# --- .NET-style values ----------------------------------------------------------------------
def utc_offset(day: date) -> str:
    """Eastern time, roughly: -04:00 from March to October, else -05:00."""
    return "-04:00" if 3 <= day.month <= 10 else "-05:00"


def local_datetime(value: datetime) -> str:
    """``2025-06-02T18:30:00.1234560-04:00``: 7 fractional digits and the local offset."""
    return iso_7_digits(value, utc_offset(value.date()))


def end_of_day(day: date) -> str:
    """``2025-06-30T23:59:59.9999999-04:00``, the API's inclusive end of a day."""
    return f"{day.isoformat()}T23:59:59.9999999{utc_offset(day)}"


def start_of_day(day: date) -> str:
    """``2025-06-01T00:00:00-04:00`` (no fraction, as in the docs' program sample)."""
    return f"{day.isoformat()}T00:00:00{utc_offset(day)}"


def money(rng: random.Random, low: int, high: int) -> float:
    """A price with cents."""
    return round(rng.uniform(low, high), 2)


def day_of(index: int) -> date:
    """The calendar date of day ``index``."""
    return EPOCH_DAY + timedelta(days=index)


def day_index(value: date) -> int:
    """The index of a calendar date (may fall outside the data range)."""
    return (value - EPOCH_DAY).days


def quarter_start(value: date, shift: int = 0) -> date:
    """The first day of ``value``'s quarter, moved by ``shift`` quarters."""
    quarters = value.year * 4 + (value.month - 1) // 3 + shift
    return date(quarters // 4, 1 + 3 * (quarters % 4), 1)


def utc_today() -> date:
    """Today's date in UTC by the system clock (the sandbox passes its own clock's)."""
    return datetime.now(UTC).date()


def person_view(
    person: Record,
    *,
    skills: bool = True,
    registrations: bool = True,
    cancelled: bool = True,
    medical: bool = False,
) -> Record:
    """A person as a persons listing answers with its ``show*`` flags: ``Skills``,
    ``Registrations`` (cancelled ones only with ``showCancelledRegistrations``) and
    ``MedicalInformation`` are null unless asked for."""
    kept = [r for r in person["Registrations"] if cancelled or not r["IsCancelled"]]
    return {
        **person,
        "Skills": person["Skills"] if skills else None,
        "Registrations": kept if registrations else None,
        "MedicalInformation": person["MedicalInformation"] if medical else None,
    }


def person_status(person: Record) -> str:
    """``registered`` while a registration stands, ``cancelled`` when all are cancelled."""
    standing = any(not r["IsCancelled"] for r in person["Registrations"])
    return "registered" if standing or not person["Registrations"] else "cancelled"


@dataclass(frozen=True)
class ProgramFlags:
    """What the ``showHidden``/``showArchived`` filters look at."""

    archived: bool
    visible: bool


@dataclass(frozen=True)
class DatedFlags:
    """What the show* filters of a dated record look at."""

    hidden: bool = False
    skipped: bool = False
    cancelled: bool = False
    program_ended: bool = False


class AmiliaData:
    """The ``forest-explorers`` organization (number 8008) for one seed and scale."""

    def __init__(
        self,
        seed: int = 42,
        scale: float = 1.0,
        language: str = "en",
        today: date | None = None,
        *,
        organization: int = ORGANIZATION_ID,
        slug: str = ORGANIZATION_SLUG,
    ) -> None:
        self.organization = organization
        """The organization's number, which its records carry (another tenant: another)."""
        self.slug = slug
        self.seed = seed
        self.scale = scale
        self.language = language if language in SEASONS else "en"
        self.today = today or utc_today()
        self.first_day = quarter_start(self.today, -PAST_SEASONS)
        """First day with dated records: the first season's first day."""
        self.last_day = quarter_start(self.today, SEASON_COUNT - PAST_SEASONS) - timedelta(days=1)
        """Last day with dated records: the last season's last day."""
        self.first_index = day_index(self.first_day)
        self.data_days = (self.last_day - self.first_day).days + 1
        self.program_count = scaled(60, scale)
        self.account_count = scaled(600, scale)
        self.membership_count = scaled(40, scale)
        self.location_count = scaled(40, scale)
        self.events_per_day = 4.0 * scale
        self.registrations_per_day = 6.0 * scale
        self.reservations_per_day = 5.0 * scale
        self.access_scans_per_day = 8.0 * scale
        self.donations_per_day = 3.0 * scale
        self.merchandise_count = scaled(30, scale)
        self.multipass_count = scaled(20, scale, minimum=2)

    def _rng(self, *key: object) -> random.Random:
        return rng_for(self.seed, "amilia", *key)

    # --- programs and activities --------------------------------------------------------------
    def program_flags(self, index: int) -> ProgramFlags:
        """Archived / visible flags of a program."""
        rng = self._rng("program-flags", index)
        return ProgramFlags(archived=rng.random() < 0.15, visible=rng.random() < 0.8)

    def program_dates(self, index: int) -> tuple[date, date]:
        """First and last day of a program: one season each, around today's quarter."""
        season = index % SEASON_COUNT
        start = quarter_start(self.first_day, season)
        return start, quarter_start(self.first_day, season + 1) - timedelta(days=1)

    def day_after_start(self, days: int) -> date:
        """The date ``days`` after the first day with dated records."""
        return self.first_day + timedelta(days=days)

    def program_name(self, index: int) -> str:
        """``Summer 2025 - Swim Junior`` (season names follow the language)."""
        start, _ = self.program_dates(index)
        season = SEASONS[self.language][(start.month - 1) // 3]
        return f"{season} {start.year} - {phrase(self._rng('program-name', index), 2)}"

    def program(self, index: int) -> Record:
        """The ``index``-th program."""
        rng = self._rng("program", index)
        flags = self.program_flags(index)
        start, end = self.program_dates(index)
        pid = program_id(index)
        return {
            "Id": pid,
            "Name": self.program_name(index),
            "Start": start_of_day(start),
            "End": end_of_day(end),
            "Url": f"https://app.amilia.com/store/{self.language}/{self.slug}/shop/programs/{pid}",
            "PictureUrl": f"https://cdn.amilia.com/programs/{pid}.jpg"
            if rng.random() < 0.7
            else None,
            "IsArchived": flags.archived,
            "IsVisible": flags.visible,
            "IsPasswordProtected": rng.random() < 0.1,
        }

    def activity_count(self, program_index: int) -> int:
        """How many activities a program has (2 to 8)."""
        return 2 + self._rng("activity-count", program_index).randrange(7)

    def activity_status(self, program_index: int, index: int) -> str:
        """``Normal``, ``Hidden`` or ``Cancelled``."""
        roll = self._rng("activity-status", program_index, index).random()
        return "Hidden" if roll < 0.1 else "Cancelled" if roll < 0.2 else "Normal"

    def occurrence_count(self, program_index: int, index: int) -> int:
        """How many occurrences an activity has (3 to 12)."""
        return 3 + self._rng("occurrence-count", program_index, index).randrange(10)

    def locate_activity(self, activity: int) -> tuple[int, int] | None:
        """(program index, activity index) of an activity id, or None if there is none."""
        program_index, index = divmod(activity - 100_000, 100)
        if 0 <= program_index < self.program_count and 0 <= index < self.activity_count(
            program_index
        ):
            return program_index, index
        return None

    def activity_summary(self, program_index: int, index: int) -> Record:
        """The activity block events and reservations carry (ids and names of each level)."""
        category, subcategory = self._categories(program_index, index)
        return {
            "Id": activity_id(program_index, index),
            "Name": self.activity_name(program_index, index),
            "ProgramId": program_id(program_index),
            "ProgramName": self.program_name(program_index),
            "CategoryId": category[0],
            "CategoryName": category[1],
            "SubCategoryId": subcategory[0] if subcategory else 0,
            "SubCategoryName": subcategory[1] if subcategory else None,
        }

    def activity_name(self, program_index: int, index: int) -> str:
        """The activity's name."""
        return phrase(self._rng("activity-name", program_index, index), 3)

    def _categories(
        self, program_index: int, index: int
    ) -> tuple[tuple[int, str], tuple[int, str] | None]:
        rng = self._rng("activity-category", program_index, index)
        category = pick(rng, CATEGORIES)
        sub = (category[0] * 10 + rng.randrange(3), f"{category[1]} {rng.randrange(1, 4)}")
        return category, (sub if rng.random() < 0.7 else None)

    def activity_dates(self, program_index: int, index: int) -> tuple[datetime, int]:
        """First occurrence (local time) and the weekly slot length in minutes."""
        start, _ = self.program_dates(program_index)
        rng = self._rng("activity-time", program_index, index)
        first = datetime.combine(
            start + timedelta(days=rng.randrange(14)),
            time(8 + rng.randrange(12), 15 * rng.randrange(4)),
        )
        return first, 45 + 15 * rng.randrange(4)

    def activity(self, program_index: int, index: int) -> Record:
        """A program's ``index``-th activity."""
        rng = self._rng("activity", program_index, index)
        aid = activity_id(program_index, index)
        summary = self.activity_summary(program_index, index)
        first, minutes = self.activity_dates(program_index, index)
        occurrences = self.occurrence_count(program_index, index)
        last = first + timedelta(weeks=occurrences - 1, minutes=minutes)
        max_attendance = 8 + rng.randrange(20)
        reserved = rng.randrange(max_attendance + 1)
        age_min = rng.randrange(3, 40)
        location = self.location_ref(rng.randrange(self.location_count))
        tag = rng.randrange(4)
        tags = [{"Id": 70 + tag, "Name": ("beginner", "advanced", "family", "indoor")[tag]}]
        return {
            "Id": aid,
            "Name": summary["Name"],
            "Status": self.activity_status(program_index, index),
            "Url": f"https://app.amilia.com/store/{self.language}/{self.slug}/shop/activities/{aid}",
            **{k: summary[k] for k in ("ProgramId", "ProgramName", "CategoryId", "CategoryName")},
            "SubCategoryId": summary["SubCategoryId"],
            "SubCategoryName": summary["SubCategoryName"],
            "Tags": tags if rng.random() < 0.6 else [],
            "Keywords": [{"Id": 900 + rng.randrange(20), "Name": phrase(rng, 1)}],
            "Groups": [
                {"Id": aid * 10 + g, "Name": f"Group {g + 1}"} for g in range(rng.randrange(3))
            ],
            "Description": f"<p>{phrase(rng, 8)}</p>",
            "Prerequisite": phrase(rng, 4) if rng.random() < 0.3 else "",
            "Note": "",
            "ThirdPartyUrl": None,
            "AdditionalInformation": phrase(rng, 5) if rng.random() < 0.4 else "",
            "ResponsibleName": " ".join(person_name(rng)) if rng.random() < 0.7 else None,
            "Price": money(rng, 40, 400),
            "DropInPrice": money(rng, 8, 25),
            "DisplayOrder": index,
            "Age": {"Max": age_min + rng.randrange(5, 50), "Min": age_min, "Months": False},
            "AgeSummary": f"{age_min} years and up",
            "MaxAttendance": max_attendance,
            "SpotsRemaining": max_attendance - reserved,
            "SpotsReserved": reserved,
            "NumberOfOccurrences": occurrences,
            "StartDate": local_datetime(first),
            "EndDate": local_datetime(last),
            "ScheduleSummary": f"{first:%A}s {first:%H:%M}",
            "HasSessionEnabled": True,
            "HasDropInEnabled": rng.random() < 0.4,
            "HasWaitListEnabled": rng.random() < 0.3,
            "OrganizationId": self.organization,
            "RegistrationPeriods": None,
            "LocationLabel": "",
            "Forms": [{"Id": 55, "Type": pick(rng, ("Adult", "Children")), "Name": "Registration"}],
            "SecretUrl": f"https://app.amilia.com/store/{self.language}/{self.slug}/shop/activities/{aid}?secret={rng.randrange(10**8):08d}",
            "PictureUrl": None,
            "Schedules": [
                {
                    "StartDate": local_datetime(first),
                    "EndDate": local_datetime(last),
                    "StartTime": f"{first:%H:%M}",
                    "EndTime": f"{first + timedelta(minutes=minutes):%H:%M}",
                    "Locations": [location],
                    # A field the tap does not declare: it must reach the target untouched.
                    "RecurrenceRule": f"FREQ=WEEKLY;COUNT={occurrences}",
                }
            ],
        }

    def occurrence(self, program_index: int, activity_index: int, index: int) -> Record:
        """An activity's ``index``-th occurrence (weekly)."""
        rng = self._rng("occurrence", program_index, activity_index, index)
        aid = activity_id(program_index, activity_index)
        first, minutes = self.activity_dates(program_index, activity_index)
        start = first + timedelta(weeks=index)
        capacity = rng.randrange(0, 6)
        reserved = rng.randrange(capacity + 1)
        return {
            "Id": occurrence_id(aid, index),
            "ActivityId": aid,
            "Start": local_datetime(start),
            "End": local_datetime(start + timedelta(minutes=minutes)),
            "State": pick(rng, OCCURRENCE_STATES),
            "HasDropInEnabled": capacity > 0,
            "DropInMaxAttendance": capacity,
            "DropInSpotsReserved": reserved,
            "DropInSpotsRemaining": capacity - reserved,
            "Location": self.location_ref(rng.randrange(self.location_count)),
        }

    def locate_occurrence(self, occurrence: int) -> tuple[int, int, int] | None:
        """(program index, activity index, occurrence index) of an occurrence id."""
        found = self.locate_activity(occurrence // 100)
        index = occurrence % 100
        if found and index < self.occurrence_count(*found):
            return (*found, index)
        return None

    def _enrolled(self, kind: str, key: tuple[int, ...], low: int, high: int) -> list[int]:
        """Distinct account indexes enrolled in something (their first member takes part)."""
        rng = self._rng(kind, *key)
        count = min(self.account_count, low + rng.randrange(high - low + 1))
        return sorted(rng.sample(range(self.account_count), count))

    def activity_persons(self, program_index: int, index: int) -> list[Record]:
        """Persons of an activity in every status, ordered by id, with every registration
        (cancelled ones too), skills and medical information: see :func:`person_view`."""
        accounts = self._enrolled("activity-persons", (program_index, index), 2, 10)
        return [
            {
                **self.person(a, 0),
                "Registrations": self.person_registrations(a, program_index, (index,)),
            }
            for a in accounts
        ]

    def program_persons(self, program_index: int) -> list[Record]:
        """Persons of a program in every status, ordered by id, with every registration
        (cancelled ones too), skills and medical information: see :func:`person_view`."""
        accounts = self._enrolled("program-persons", (program_index,), 3, 15)
        activities = self.activity_count(program_index)
        persons = []
        for a in accounts:
            rng = self._rng("program-person-activities", program_index, a)
            chosen = sorted(rng.sample(range(activities), min(activities, 1 + rng.randrange(2))))
            registrations = self.person_registrations(a, program_index, tuple(chosen))
            persons.append({**self.person(a, 0), "Registrations": registrations})
        return persons

    def person_registrations(
        self, account_index: int, program_index: int, activities: tuple[int, ...]
    ) -> list[Record]:
        """The registrations of an account's first person in a program's activities; about
        a quarter are cancelled, so some persons have only cancelled ones."""
        person = person_id(account_index, 0)
        registrations = []
        for index in activities:
            summary = self.activity_summary(program_index, index)
            rng = self._rng("person-registration", account_index, program_index, index)
            start, _ = self.program_dates(program_index)
            created = datetime.combine(start - timedelta(days=1 + rng.randrange(30)), time(9))
            group = summary["Id"] * 10
            registrations.append(
                {
                    "ProgramId": summary["ProgramId"],
                    "ProgramName": summary["ProgramName"],
                    "CategoryId": summary["CategoryId"],
                    "CategoryName": summary["CategoryName"],
                    "SubCategoryId": summary["SubCategoryId"],
                    "SubCategoryName": summary["SubCategoryName"],
                    "ActivityId": summary["Id"],
                    "ActivityName": summary["Name"],
                    "GroupId": group,
                    "GroupName": "Group 1",
                    "DateCreated": local_datetime(
                        created + timedelta(seconds=rng.randrange(30000))
                    ),
                    "PersonId": person,
                    "DropInOccurrenceId": None,
                    "DropInDate": None,
                    "IsCancelled": rng.random() < 0.25,
                }
            )
        return registrations

    def medical_information(self, account_index: int, member: int) -> Record:
        """A person's medical file (health data: sent only with ``showMedicalInfo``)."""
        rng = self._rng("medical", account_index, member)
        return {
            "Allergies": pick(rng, ("None", "Peanuts", "Penicillin", "Bee stings")),
            "Medication": pick(rng, (None, "Inhaler", "EpiPen")),
            "HealthInsuranceNumber": f"XXXX {rng.randrange(10**8):08d}",
            "Notes": phrase(rng, 4) if rng.random() < 0.3 else None,
        }

    def occurrence_participants(
        self, program_index: int, activity_index: int, index: int
    ) -> list[Record]:
        """Participants of an occurrence and their attendance, ordered by id."""
        accounts = self._enrolled(
            "occurrence-participants", (program_index, activity_index, index), 1, 8
        )
        aid = activity_id(program_index, activity_index)
        return [self.participant(a, occurrence_id(aid, index), aid * 10) for a in accounts]

    def participant(self, account_index: int, occurrence: int, group: int) -> Record:
        """A person taking part in an occurrence."""
        person = self.person_core(account_index, 0)
        attendance = pick(self._rng("attendance", occurrence, account_index), ATTENDANCE)
        return {
            "Id": person["Id"],
            "AccountId": account_id(account_index),
            "FirstName": person["FirstName"],
            "LastName": person["LastName"],
            "Gender": person["Gender"],
            "DateOfBirth": person["DateOfBirth"],
            "PictureUrl": None,
            "GroupId": group,
            "GroupName": "Group 1",
            "OccurrenceId": occurrence,
            "AttendanceId": attendance[0],
            "OrgId": self.organization,
            "Status": attendance[1],
        }

    # --- accounts, persons and contacts ------------------------------------------------------
    def account_archived(self, index: int) -> bool:
        """True for an archived account (hidden unless ``showArchived``)."""
        return self._rng("account-archived", index).random() < 0.1

    def member_count(self, index: int) -> int:
        """Persons in an account (1 to 4)."""
        return 1 + self._rng("member-count", index).randrange(4)

    def person_core(self, account_index: int, member: int) -> Record:
        """Who a person is: the fields every person model shares."""
        rng = self._rng("person", account_index, member)
        first, last = person_name(self._rng("family", account_index))
        if member:
            first = person_name(rng)[0]
        adult = member < 2
        born = date(1970 + rng.randrange(30), 1 + rng.randrange(12), 1 + rng.randrange(28))
        if not adult:
            born = date(2008 + rng.randrange(14), 1 + rng.randrange(12), 1 + rng.randrange(28))
        email = (
            f"{first}.{last}.{account_index}@example.com".lower().replace(" ", "").replace("'", "")
        )
        return {
            "Id": person_id(account_index, member),
            "FirstName": first,
            "LastName": last,
            "FullName": f"{first} {last}",
            "Gender": pick(rng, GENDERS),
            "DateOfBirth": born.isoformat(),
            "Email": email if adult else None,
            "IsChild": not adult,
        }

    def address(self, rng: random.Random) -> Record:
        """A GeoAddress."""
        return {
            "Address1": f"{rng.randrange(1, 9999)} rue {pick(rng, ('Sainte-Catherine', 'Sherbrooke', 'Saint-Denis', 'Main'))}",
            "Address2": None,
            "City": pick(rng, CITIES),
            "StateProvince": "QC",
            "Country": "Canada",
            "ZipPostalCode": f"H{rng.randrange(10)}A {rng.randrange(10)}B{rng.randrange(10)}",
            "Latitude": round(45.4 + rng.random() / 5, 6),
            "Longitude": round(-73.7 + rng.random() / 5, 6),
        }

    def owner(self, account_index: int, member: int) -> Record:
        """An account owner, with the account's contacts on the first owner."""
        person = self.person_core(account_index, member)
        rng = self._rng("owner", account_index, member)
        return {
            "OrganizationId": self.organization,
            "AccountId": account_id(account_index),
            "AccountOwnerId": person["Id"],
            "AccountOwnerFirstName": person["FirstName"],
            "AccountOwnerLastName": person["LastName"],
            "AccountOwnerFullName": person["FullName"],
            "AccountOwnerEmail": person["Email"],
            "AccountOwnerTelephoneMobile": f"514-555-{rng.randrange(10000):04d}",
            "IsArchived": self.account_archived(account_index),
            "Contacts": self.account_contacts(account_index) if member == 0 else [],
        }

    def person(self, account_index: int, member: int) -> Record:
        """The person model of persons/membership listings."""
        core = self.person_core(account_index, member)
        owner = self.owner(account_index, 0)
        rng = self._rng("person-extra", account_index, member)
        joined = self.day_after_start(rng.randrange(300))
        return {
            **core,
            "Address": self.address(self._rng("address", account_index)),
            "Telephone": owner["AccountOwnerTelephoneMobile"],
            **{k: owner[k] for k in owner if k.startswith("AccountOwner") or k == "AccountId"},
            "OrganizationId": self.organization,
            "IsArchived": owner["IsArchived"],
            "Contacts": [],
            "Skills": [{"Id": 40 + rng.randrange(5), "Name": phrase(rng, 1)}]
            if rng.random() < 0.3
            else [],
            "Registrations": [],
            "MedicalInformation": self.medical_information(account_index, member),
            "JoinDate": joined.isoformat(),
            "PictureUrl": None,
        }

    def account_contact_count(self, index: int) -> int:
        """Contacts of an account (0 to 3)."""
        return self._rng("contact-count", index).randrange(4)

    def account_contacts(self, index: int) -> list[Record]:
        """An account's emergency contacts and authorised pick-ups."""
        contacts = []
        for c in range(self.account_contact_count(index)):
            rng = self._rng("contact", index, c)
            first, last = person_name(rng)
            contacts.append(
                {
                    "Id": contact_id(index, c),
                    "FirstName": first,
                    "LastName": last,
                    "FullName": f"{first} {last}",
                    "Gender": pick(rng, GENDERS),
                    "DateOfBirth": date(
                        1950 + rng.randrange(40), 1 + rng.randrange(12), 1
                    ).isoformat(),
                    "Email": f"contact{contact_id(index, c)}@example.com",
                    "Address": self.address(rng),
                    "Telephone": f"438-555-{rng.randrange(10000):04d}",
                    "TelephoneMobile": None,
                    "TelephoneWork": None,
                    "TelephoneWorkExtension": None,
                    "IsChild": False,
                    "Relationship": pick(rng, RELATIONSHIPS),
                    "Type": pick(rng, CONTACT_TYPES),
                }
            )
        return contacts

    def account(self, index: int) -> Record:
        """The ``index``-th account: owners (with contacts), members, memberships."""
        rng = self._rng("account", index)
        members = self.member_count(index)
        owners = [self.owner(index, 0)]
        if members > 1 and rng.random() < 0.3:
            owners.append(self.owner(index, 1))
        held = []
        if self.membership_count and rng.random() < 0.4:
            m = rng.randrange(self.membership_count)
            effective = self.day_after_start(rng.randrange(self.data_days // 2))
            held.append(
                {
                    "Id": index * 10 + 1,
                    "MembershipId": membership_id(m),
                    "Name": self.membership_name(m),
                    "PersonId": person_id(index, 0),
                    "EffectiveDate": start_of_day(effective),
                    "ExpirationDate": end_of_day(effective + timedelta(days=364)),
                }
            )
        return {
            "Id": account_id(index),
            "Owners": owners,
            "Members": [self.person_core(index, m) for m in range(members)],
            "Corporate": {"Id": 9_000 + index, "Name": f"{phrase(rng, 2)} Inc."}
            if rng.random() < 0.05
            else None,
            "AccountMemberships": held,
        }

    # --- memberships ---------------------------------------------------------------------------
    def membership_flags(self, index: int) -> ProgramFlags:
        """Archived (inactive) / visible flags of a membership."""
        rng = self._rng("membership-flags", index)
        return ProgramFlags(archived=rng.random() < 0.2, visible=rng.random() < 0.85)

    def membership_name(self, index: int) -> str:
        """The membership's name."""
        return f"{phrase(self._rng('membership-name', index), 2)} membership"

    def membership(self, index: int) -> Record:
        """The ``index``-th membership."""
        rng = self._rng("membership", index)
        flags = self.membership_flags(index)
        created = datetime.combine(self.day_after_start(rng.randrange(200)), time(9)) + timedelta(
            seconds=rng.randrange(30000), microseconds=rng.randrange(10**6)
        )
        return {
            "Id": membership_id(index),
            "OrganizationId": self.organization,
            "Name": self.membership_name(index),
            "Description": phrase(rng, 6),
            "Price": money(rng, 20, 300),
            "Position": index + 1,
            "IsArchived": flags.archived,
            "IsVisible": flags.visible,
            "DateCreated": local_datetime(created),
            "MembershipType": pick(rng, MEMBERSHIP_TYPES),
            "LedgerCode": {"Id": 700 + rng.randrange(5), "Name": f"4{rng.randrange(100, 999)}"},
            "Tags": [{"Id": 80, "Name": "annual"}] if rng.random() < 0.5 else [],
        }

    def purchases(self, kind: str, key: tuple[int, ...], account_index: int) -> list[Record]:
        """The purchases of one holder: a first one and, for about a third of holders, a
        renewal a year later (the same person or account twice, told apart by the dates)."""
        rng = self._rng(kind, *key, account_index)
        purchased = datetime.combine(
            self.day_after_start(rng.randrange(max(1, self.data_days - 400))), time(10)
        ) + timedelta(seconds=rng.randrange(30000), microseconds=rng.randrange(10**6))
        times = [purchased]
        if self._rng(f"{kind}-renewal", *key, account_index).random() < 0.35:  # not date-bound
            times.append(purchased + timedelta(days=365, minutes=rng.randrange(600)))
        dates = []
        for moment in times:
            effective = moment.date() + timedelta(days=rng.randrange(10))
            dates.append(
                {
                    "PurchasedDate": local_datetime(moment),
                    "EffectiveDate": start_of_day(effective),
                    "ExpirationDate": end_of_day(effective + timedelta(days=364)),
                }
            )
        return dates

    def membership_persons(self, index: int) -> list[Record]:
        """Holders of a membership, one record per purchase (renewals too), ordered by id:
        purchase and validity dates first, then the person model."""
        accounts = self._enrolled("membership-persons", (index,), 3, 12)
        return [
            {**dates, **self.person(a, 0)}
            for a in accounts
            for dates in self.purchases("membership-holder", (index,), a)
        ]

    def membership_accounts(self, index: int) -> list[Record]:
        """Family accounts holding a membership, one record per purchase, ordered by id:
        the purchase and validity dates, then the account model."""
        accounts = self._enrolled("membership-accounts", (index,), 1, 4)
        return [
            {**dates, **self.account(a)}
            for a in accounts
            for dates in self.purchases("membership-account", (index,), a)
        ]

    # --- locations -----------------------------------------------------------------------------
    def location_ref(self, index: int) -> Record:
        """The short location block other resources embed."""
        return {"Id": location_id(index), "Name": self.location_name(index)}

    def location_name(self, index: int) -> str:
        """``Gym 3``, ``Pool 1``..."""
        rng = self._rng("location-name", index)
        return f"{pick(rng, ('Gym', 'Pool', 'Studio', 'Field', 'Room', 'Arena'))} {index + 1}"

    def location(self, index: int) -> Record:
        """The ``index``-th location; a quarter of them are roots, the rest hang off a root."""
        rng = self._rng("location", index)
        roots = max(1, self.location_count // 4)
        parent = None if index < roots else location_id(rng.randrange(roots))
        return {
            "Id": location_id(index),
            "Name": self.location_name(index),
            "Address": self.address(rng),
            "ParentId": parent,
            "TopParentId": parent,
            "AncestorIds": [] if parent is None else [parent],
        }

    # --- dated resources: day-indexed ------------------------------------------------------------
    def per_day(self, kind: str, day: int, mean: float) -> int:
        """How many ``kind`` records day ``day`` has (``mean`` on average, never more than 9,999)."""
        if not 0 <= day - self.first_index < self.data_days:
            return 0
        whole = int(mean)
        extra = 1 if self._rng(f"{kind}-count", day).random() < mean - whole else 0
        return min(9_999, whole + extra)

    def event_count(self, day: int) -> int:
        """Events on day ``day``."""
        return self.per_day("event", day, self.events_per_day)

    def registration_count(self, day: int) -> int:
        """Registrations created on day ``day``."""
        return self.per_day("registration", day, self.registrations_per_day)

    def reservation_count(self, day: int) -> int:
        """Reservations starting on day ``day``."""
        return self.per_day("reservation", day, self.reservations_per_day)

    def _some_activity(self, rng: random.Random) -> tuple[int, int]:
        program_index = rng.randrange(self.program_count)
        return program_index, rng.randrange(self.activity_count(program_index))

    def event_flags(self, day: int, k: int) -> DatedFlags:
        """Hidden / skipped / cancelled flags of an event."""
        roll = self._rng("event-flags", day, k).random()
        return DatedFlags(
            hidden=roll < 0.05, skipped=0.05 <= roll < 0.1, cancelled=0.1 <= roll < 0.15
        )

    def event(self, day: int, k: int, *, participants: bool = True) -> Record:
        """The ``k``-th event of day ``day``: an activity occurrence in the calendar."""
        rng = self._rng("event", day, k)
        program_index, index = self._some_activity(rng)
        flags = self.event_flags(day, k)
        start = datetime.combine(day_of(day), time(7 + rng.randrange(14), 15 * rng.randrange(4)))
        record: Record = {
            "Id": dated_number(100_000_000, day, k),
            "ActivityId": activity_id(program_index, index),
            "Start": local_datetime(start),
            "End": local_datetime(start + timedelta(minutes=60)),
            "IsHidden": flags.hidden,
            "IsSkipped": flags.skipped,
            "IsCanceled": flags.cancelled,
            "Activity": self.activity_summary(program_index, index),
            "Location": self.location_ref(rng.randrange(self.location_count)),
        }
        if participants:
            accounts = sorted(
                rng.sample(range(self.account_count), min(self.account_count, rng.randrange(6)))
            )
            record["Participants"] = [
                self.participant(a, record["Id"], record["ActivityId"] * 10) for a in accounts
            ]
        return record

    def registration_flags(self, day: int, k: int) -> DatedFlags:
        """Cancelled flag and whether the registration's program has ended."""
        rng = self._rng("registration", day, k)
        program_index, _ = self._some_activity(rng)
        _, last_day = self.program_dates(program_index)
        cancelled = self._rng("registration-cancelled", day, k).random() < 0.1
        return DatedFlags(cancelled=cancelled, program_ended=last_day < self.today)

    def registration(self, day: int, k: int) -> Record:
        """The ``k``-th registration created on day ``day``."""
        rng = self._rng("registration", day, k)
        program_index, index = self._some_activity(rng)
        summary = self.activity_summary(program_index, index)
        prefix = pick(rng, REGISTRATION_PREFIXES)
        account_index = rng.randrange(self.account_count)
        member = rng.randrange(self.member_count(account_index))
        person = self.person_core(account_index, member)
        created = datetime.combine(day_of(day), time(0)) + timedelta(
            seconds=rng.randrange(86_400), microseconds=rng.randrange(10**6)
        )
        group = {"Id": summary["Id"] * 10, "Name": "Group 1"} if rng.random() < 0.5 else None
        drop_in = None
        if prefix == "DI":
            occurrence = occurrence_id(
                summary["Id"], rng.randrange(self.occurrence_count(program_index, index))
            )
            drop_in = {
                "OccurrenceId": occurrence,
                "OccurrenceDate": local_datetime(created + timedelta(days=3)),
            }
        staff_name = person_name(rng)
        return {
            "RegistrationId": f"{prefix}-{dated_number(1_000_000, day, k)}",
            "Program": {"Id": summary["ProgramId"], "Name": summary["ProgramName"]},
            "Activity": {"Id": summary["Id"], "Name": summary["Name"]},
            "Category": {"Id": summary["CategoryId"], "Name": summary["CategoryName"]},
            "SubCategory": {"Id": summary["SubCategoryId"], "Name": summary["SubCategoryName"]}
            if summary["SubCategoryName"]
            else None,
            "Group": group,
            "DropIn": drop_in,
            "DateCreated": local_datetime(created),
            "Person": {
                k2: person[k2] for k2 in ("Id", "FirstName", "LastName", "DateOfBirth", "Gender")
            },
            "AccountOwner": {
                "AccountId": account_id(account_index),
                "AccountOwnerPersonId": person_id(account_index, 0),
            },
            "Staff": {
                "Id": 60_000 + rng.randrange(50),
                "FirstName": staff_name[0],
                "LastName": staff_name[1],
                "State": "Active",
            }
            if rng.random() < 0.3
            else None,
            "IsCancelled": self.registration_flags(day, k).cancelled,
            "InvoiceItem": {"Id": dated_number(2_000_000_000, day, k)},
        }

    def reservation_flags(self, day: int, k: int) -> DatedFlags:
        """Cancelled flag of a reservation."""
        return DatedFlags(cancelled=self._rng("reservation-cancelled", day, k).random() < 0.1)

    def reservation(self, day: int, k: int) -> Record:
        """The ``k``-th facility booking starting on day ``day``."""
        rng = self._rng("reservation", day, k)
        prefix, kind = pick(rng, RESERVATION_TYPES)
        all_day = rng.random() < 0.05
        start = datetime.combine(day_of(day), time(0 if all_day else 6 + rng.randrange(15)))
        end = start + timedelta(hours=24 if all_day else 1 + rng.randrange(3))
        location = self.location_ref(rng.randrange(self.location_count))
        location["Address"] = self.address(self._rng("address-of-location", location["Id"]))
        activity = self.activity_summary(*self._some_activity(rng)) if prefix == "AC" else None
        return {
            "ReservationId": f"{prefix}-{dated_number(5_000_000, day, k)}",
            "Title": activity["Name"] if activity else phrase(rng, 2),
            "Type": kind,
            "Start": local_datetime(start),
            "End": local_datetime(end),
            "AllDay": all_day,
            "IsCancelled": self.reservation_flags(day, k).cancelled,
            "Location": location,
            "BookingType": {"Id": RESERVATION_TYPES.index((prefix, kind)) + 1, "Name": kind},
            "AdminBooking": {"Id": dated_number(7_000_000, day, k), "Note": phrase(rng, 3)}
            if prefix == "AB"
            else None,
            "Activity": activity,
        }

    def access_scan_count(self, day: int) -> int:
        """Access scans on day ``day``."""
        return self.per_day("access-scan", day, self.access_scans_per_day)

    def access_scan(self, day: int, k: int) -> Record:
        """The ``k``-th facility check-in of day ``day`` (``ScanDate`` has no offset)."""
        rng = self._rng("access-scan", day, k)
        account_index = rng.randrange(self.account_count)
        person = self.person_core(account_index, 0)
        program_index, index = self._some_activity(rng)
        summary = self.activity_summary(program_index, index)
        scanned = datetime.combine(day_of(day), time(6)) + timedelta(
            seconds=rng.randrange(15 * 3600), microseconds=rng.randrange(10**6)
        )
        membership = rng.randrange(self.membership_count)
        warning = rng.random() < 0.1
        responsible = person_name(rng)
        return {
            "Id": dated_number(30_000_000, day, k),
            "ConfigurationId": 50 + rng.randrange(3),
            "Status": "Denied" if warning and rng.random() < 0.5 else "Normal",
            "ScanDate": iso_7_digits(scanned),
            "Warning": "MembershipExpired" if warning else "None",
            "WarningMessage": "The membership has expired" if warning else None,
            "AccessControlType": pick(rng, ("Normal", "Membership", "Activity")),
            "ResponsibleGenuinePersonId": 670_000 + rng.randrange(100),
            "ResponsibleName": " ".join(responsible),
            "Note": phrase(rng, 3) if rng.random() < 0.2 else None,
            "PersonId": person["Id"],
            "GenuinePersonId": 9_000_000 + person["Id"] % 1_000_000,
            "MemberNumber": f"P{person['Id']:07d}",
            "PersonName": person["FullName"],
            "Gender": str(person["Gender"])[0],
            "AccountId": account_id(account_index),
            "BalanceAtScan": money(rng, 0, 50) if rng.random() < 0.2 else 0.0,
            "ActivitySegmentId": occurrence_id(summary["Id"], 0),
            "ActivityId": summary["Id"],
            "ActivityName": summary["Name"],
            "SubscriptionState": "Expired" if warning else "Valid",
            "SubscriptionExpiration": None,
            "MembershipId": membership_id(membership),
            "MembershipName": self.membership_name(membership),
            "LocationId": location_id(rng.randrange(self.location_count)),
        }

    def donation_count(self, day: int) -> int:
        """Donations bought on day ``day``."""
        return self.per_day("donation", day, self.donations_per_day)

    def donation(self, day: int, k: int) -> Record:
        """The ``k``-th donation sold on day ``day``."""
        rng = self._rng("donation", day, k)
        account_index = rng.randrange(self.account_count)
        person = self.person_core(account_index, 0)
        purchased = datetime.combine(day_of(day), time(0)) + timedelta(
            seconds=rng.randrange(86_400), microseconds=rng.randrange(10**6)
        )
        campaign = rng.randrange(3)
        return {
            "InvoiceItemId": dated_number(3_000_000_000, day, k),
            "PurchasedDateUtc": local_datetime(purchased),
            "Donation": {
                "Id": 8_800 + campaign,
                "Name": ("Annual fund", "Scholarships", "New pool")[campaign],
            },
            "Person": {
                "Id": person["Id"],
                "FirstName": person["FirstName"],
                "LastName": person["LastName"],
                "FullName": person["FullName"],
                "DateOfBirth": person["DateOfBirth"],
                "Email": person["Email"],
                "Telephone": f"514-555-{rng.randrange(10000):04d}",
                "TelephoneMobile": None,
                "TelephoneWork": None,
            },
        }

    # --- merchandise and multipasses -------------------------------------------------------------
    def merchandise_archived(self, index: int) -> bool:
        """True for an archived item (listed only with ``showArchived``)."""
        return self._rng("merchandise-archived", index).random() < 0.2

    def merchandise(self, index: int) -> Record:
        """The ``index``-th store item."""
        rng = self._rng("merchandise", index)
        mid = merchandise_id(index)
        return {
            "Id": mid,
            "Image": f"https://cdn.amilia.com/merchandise/{mid}.jpg",
            "Name": f"{phrase(rng, 2)} {pick(rng, ('T-shirt', 'Cap', 'Bottle', 'Towel'))}",
            "Description": phrase(rng, 6),
            "Availability": pick(rng, ("Available", "Available", "OutOfStock")),
            "Price": money(rng, 5, 80),
            "Quantity": rng.randrange(200),
            "Visibility": "Hidden" if self.merchandise_archived(index) else "Visible",
            "Taxes": None,
        }

    def multipass_archived(self, index: int) -> bool:
        """True for an archived multipass (listed only with ``showArchived``)."""
        return self._rng("multipass-archived", index).random() < 0.2

    def multipass(self, index: int) -> Record:
        """The ``index``-th multipass (punch card); even-numbered ones are family passes."""
        rng = self._rng("multipass", index)
        program_index, activity = self._some_activity(rng)
        unlimited = rng.random() < 0.2
        archived = self.multipass_archived(index)
        return {
            "Id": multipass_id(index),
            "Name": f"{5 + 5 * rng.randrange(3)}x {phrase(rng, 2)}",
            "Description": phrase(rng, 6),
            "ActivityIds": [activity_id(program_index, activity)],
            "PrivateLessonIds": None,
            "Price": money(rng, 20, 200),
            "Passes": 0 if unlimited else 5 + 5 * rng.randrange(3),
            "HasUnlimitedPasses": unlimited,
            "IsFamilyPass": index % 2 == 0,
            "Status": "Hidden" if archived else "Visible",
            "IsArchived": archived,
            "EffectiveDate": None,
            "ExpirationDate": None,
            "StartTrigger": "OnPurchase",
            "EndTrigger": "AfterPeriod",
            "ValidityPeriod": {"Unit": "Month", "Value": 6},
            "MembershipRequired": None,
            "NumberSold": 10 + rng.randrange(200),
        }

    def _pass_holdings(self, kind: str, index: int, account_index: int) -> list[Record]:
        """A holder's purchases of a multipass with their tokens; a cancelled one is
        listed only with ``showArchived``, flagged here by ``cancelled``."""
        holdings = []
        for n, dates in enumerate(self.purchases(kind, (index,), account_index)):
            rng = self._rng(f"{kind}-tokens", index, account_index, n)
            unlimited = rng.random() < 0.2
            holdings.append(
                {
                    **dates,
                    "TokensLeft": 0 if unlimited else rng.randrange(11),
                    "HasUnlimitedTokens": unlimited,
                    "cancelled": rng.random() < 0.15,
                }
            )
        return holdings

    def multipass_persons(self, index: int) -> list[tuple[bool, Record]]:
        """``(cancelled, record)`` for each purchase of a multipass by a person, ordered by
        id: the purchase, validity dates and tokens, then the person model."""
        accounts = self._enrolled("multipass-persons", (index,), 2, 8)
        return [
            (holding.pop("cancelled"), {**holding, **self.person(a, 0)})
            for a in accounts
            for holding in self._pass_holdings("multipass-person", index, a)
        ]

    def multipass_accounts(self, index: int) -> list[tuple[bool, Record]]:
        """``(cancelled, record)`` for each purchase of a family multipass by an account,
        ordered by id (none for a pass that is not a family pass)."""
        if index % 2:
            return []
        accounts = self._enrolled("multipass-accounts", (index,), 1, 4)
        return [
            (holding.pop("cancelled"), {**holding, **self.account(a)})
            for a in accounts
            for holding in self._pass_holdings("multipass-account", index, a)
        ]

    def waitlist(self, program_index: int, index: int) -> list[Record]:
        """The persons waiting for a place in an activity (none for most), ordered by id."""
        if self._rng("waitlist-size", program_index, index).random() < 0.5:
            return []
        accounts = self._enrolled("waitlist", (program_index, index), 1, 5)
        persons = []
        for a in accounts:
            person = self.person_core(a, 0)
            persons.append(
                {
                    **{k: person[k] for k in ("Id", "FirstName", "LastName", "FullName")},
                    "DateOfBirth": person["DateOfBirth"],
                    "Email": person["Email"],
                    "Telephone": self.owner(a, 0)["AccountOwnerTelephoneMobile"],
                    "TelephoneMobile": None,
                    "TelephoneWork": None,
                }
            )
        return persons

    # --- whole listings, for tests and scripts (lazy) ----------------------------------------
    def day_range(self, first: date, last: date) -> range:
        """Day numbers from ``first`` to ``last`` (inclusive), clipped to the dated data."""
        return range(
            max(self.first_index, day_index(first)),
            min(self.first_index + self.data_days, day_index(last) + 1),
        )

    def programs(self) -> Iterator[Record]:
        """Every program, ordered by id."""
        return (self.program(i) for i in range(self.program_count))

    def activities(self) -> Iterator[Record]:
        """Every activity of every program."""
        for p in range(self.program_count):
            for a in range(self.activity_count(p)):
                yield self.activity(p, a)

    def occurrences(self) -> Iterator[Record]:
        """Every occurrence of every activity."""
        for p in range(self.program_count):
            for a in range(self.activity_count(p)):
                for o in range(self.occurrence_count(p, a)):
                    yield self.occurrence(p, a, o)

    def accounts(self) -> Iterator[Record]:
        """Every account, ordered by id."""
        return (self.account(i) for i in range(self.account_count))

    def memberships(self) -> Iterator[Record]:
        """Every membership, ordered by id."""
        return (self.membership(i) for i in range(self.membership_count))

    def locations(self) -> Iterator[Record]:
        """Every location, ordered by id."""
        return (self.location(i) for i in range(self.location_count))

    def events(self, first: date, last: date) -> Iterator[Record]:
        """Every event from ``first`` to ``last`` (inclusive), with participants."""
        for day in self.day_range(first, last):
            for k in range(self.event_count(day)):
                yield self.event(day, k)

    def registrations(self, first: date, last: date) -> Iterator[Record]:
        """Every registration created from ``first`` to ``last`` (inclusive)."""
        for day in self.day_range(first, last):
            for k in range(self.registration_count(day)):
                yield self.registration(day, k)

    def reservations(self, first: date, last: date) -> Iterator[Record]:
        """Every reservation starting from ``first`` to ``last`` (inclusive)."""
        for day in self.day_range(first, last):
            for k in range(self.reservation_count(day)):
                yield self.reservation(day, k)

    def access_scans(self, first: date, last: date) -> Iterator[Record]:
        """Every access scan from ``first`` to ``last`` (inclusive)."""
        for day in self.day_range(first, last):
            for k in range(self.access_scan_count(day)):
                yield self.access_scan(day, k)

    def donations(self, first: date, last: date) -> Iterator[Record]:
        """Every donation sold from ``first`` to ``last`` (inclusive)."""
        for day in self.day_range(first, last):
            for k in range(self.donation_count(day)):
                yield self.donation(day, k)
