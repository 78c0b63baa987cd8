"""Deterministic, lazily generated synthetic data.

Every record is a pure function of ``(seed, kind, index)``, so a dataset of millions of
records costs no memory: a page is generated when it is requested, and tests can
compute the records the sandbox holds without asking it.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar

T = TypeVar("T")

FIRST_NAMES = (
    "Ana",
    "Bruno",
    "Chloé",
    "Dmitri",
    "Emma",
    "Farah",
    "Gabriel",
    "Hana",
    "Ines",
    "Jonas",
    "Kenji",
    "Léa",
    "Mateo",
    "Noor",
    "Olivia",
    "Pierre",
    "Quinn",
    "Rosa",
    "Sami",
    "Tess",
    "Uma",
    "Victor",
    "Wen",
    "Xavier",
    "Yara",
    "Zoé",
)
LAST_NAMES = (
    "Tremblay",
    "Gagnon",
    "Roy",
    "Côté",
    "Bouchard",
    "Smith",
    "Nguyen",
    "Garcia",
    "Müller",
    "Okafor",
    "Kowalski",
    "Haddad",
    "Singh",
    "Kim",
    "Rossi",
    "O'Brien",
    "Dubois",
    "Silva",
)
CITIES = ("Montréal", "Québec", "Toronto", "Ottawa", "Laval", "Gatineau", "Sherbrooke")
WORDS = (
    "aqua",
    "fit",
    "junior",
    "senior",
    "camp",
    "yoga",
    "swim",
    "tennis",
    "soccer",
    "art",
    "music",
    "dance",
    "chess",
    "robotics",
    "pottery",
    "skate",
    "climb",
    "judo",
    "karate",
)

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def rng_for(seed: int, *key: object) -> random.Random:
    """A random generator determined by the seed and the key only (str seeding is stable)."""
    return random.Random(":".join(str(part) for part in (seed, *key)))


def scaled(base: int, scale: float, minimum: int = 1) -> int:
    """``base`` records at scale 1, growing linearly with ``scale``."""
    return max(minimum, round(base * scale))


def pick(rng: random.Random, options: Sequence[T]) -> T:
    """One element of ``options``."""
    return options[rng.randrange(len(options))]


def person_name(rng: random.Random) -> tuple[str, str]:
    """A (first, last) name pair with some non-ASCII characters."""
    return pick(rng, FIRST_NAMES), pick(rng, LAST_NAMES)


def phrase(rng: random.Random, words: int = 3) -> str:
    """A short title-cased phrase."""
    return " ".join(pick(rng, WORDS) for _ in range(words)).title()


def token_chars(rng: random.Random, length: int) -> str:
    """Random letters and digits, as vendors use in opaque ids."""
    alphabet = string.ascii_letters + string.digits
    return "".join(rng.choice(alphabet) for _ in range(length))


def moment(rng: random.Random, days: int = 700) -> datetime:
    """A UTC datetime within ``days`` after 2024-01-01, with microseconds."""
    return EPOCH + timedelta(seconds=rng.randrange(days * 86400), microseconds=rng.randrange(10**6))


def iso_7_digits(value: datetime, offset: str = "") -> str:
    """.NET style ISO datetime with 7 fractional digits, e.g. 2024-05-01T10:00:00.1234560-04:00."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond:06d}0" + offset


def iso_z(value: datetime, millis: bool = True) -> str:
    """ISO-8601 UTC with a Z suffix, e.g. 2007-11-06T16:34:41.000Z."""
    base = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{value.microsecond // 1000:03d}Z" if millis else f"{base}Z"


def generate(count: int, make: Callable[[int], T], start: int = 0) -> Iterator[T]:
    """Lazily yield ``make(i)`` for ``i`` in ``[start, count)``."""
    for index in range(start, count):
        yield make(index)


def page_bounds(total: int, page: int, per_page: int) -> tuple[int, int]:
    """Half-open index range of 1-based ``page`` of ``per_page`` items."""
    start = min(total, max(0, (page - 1) * per_page))
    return start, min(total, start + per_page)
