"""The sandbox's one clock: every date filter, dated data set and token time reads it.

It is the system clock unless started at an explicit instant (``--now`` or
``POST /_sandbox/clock``): then it starts there and ticks with real time, so a test
whose own clock is faked (time-machine) sees the sandbox live on the same calendar.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime


def parse_instant(text: str) -> datetime:
    """An ISO-8601 date-time (``Z`` allowed; naive means UTC) as an aware UTC datetime."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Clock:
    """Real time plus a fixed offset (0 unless :meth:`set` was called)."""

    def __init__(self, now: datetime | None = None) -> None:
        self._offset_s = 0.0
        if now is not None:
            self.set(now)

    def set(self, now: datetime) -> None:
        """From now on the clock reads ``now``, and ticks from there."""
        self._offset_s = now.timestamp() - time.time()

    def time(self) -> float:
        """Seconds since the epoch, as ``time.time()``."""
        return time.time() + self._offset_s

    def now(self) -> datetime:
        """The current instant, aware, in UTC."""
        return datetime.fromtimestamp(self.time(), tz=UTC)

    def today(self) -> date:
        """Today's date in UTC."""
        return self.now().date()

    @property
    def is_real(self) -> bool:
        """True when the clock is the system clock."""
        return self._offset_s == 0.0
