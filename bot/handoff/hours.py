"""Support hours: is a person available now, and if not, when."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.errors import InvalidInputError

_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_RULE = re.compile(r"^\s*(\w{3})(?:-(\w{3}))?\s+(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True)
class SupportHours:
    """Weekly opening windows in one time zone."""

    tz: ZoneInfo
    windows: dict[int, tuple[time, time]]

    @classmethod
    def parse(cls, spec: str, tz: str) -> SupportHours:
        """Parse ``"mon-fri 09:00-18:00; sat 09:00-14:00"``.

        Raises:
            InvalidInputError: The spec or the zone is malformed.
        """
        windows: dict[int, tuple[time, time]] = {}
        for part in filter(None, (p.strip() for p in spec.split(";"))):
            m = _RULE.match(part.lower())
            if not m or m.group(1) not in _DAYS or (m.group(2) and m.group(2) not in _DAYS):
                raise InvalidInputError(f"bad support hours rule {part!r}")
            first = _DAYS.index(m.group(1))
            last = _DAYS.index(m.group(2)) if m.group(2) else first
            start, end = time(int(m.group(3)), int(m.group(4))), time(int(m.group(5)), int(m.group(6)))
            for day in range(first, last + 1):
                windows[day] = (start, end)
        try:
            zone = ZoneInfo(tz)
        except (KeyError, ValueError) as exc:
            raise InvalidInputError(f"unknown time zone {tz!r}") from exc
        return cls(zone, windows)

    def is_open(self, now: datetime) -> bool:
        """True if ``now`` falls in a support window."""
        local = now.astimezone(self.tz)
        window = self.windows.get(local.weekday())
        return bool(window and window[0] <= local.time() < window[1])

    def next_open(self, now: datetime) -> datetime | None:
        """The next opening time after ``now`` (local time), or None if never."""
        local = now.astimezone(self.tz)
        for offset in range(0, 8):
            day = (local + timedelta(days=offset)).date()
            window = self.windows.get(day.weekday())
            if not window:
                continue
            start = datetime.combine(day, window[0], tzinfo=self.tz)
            if start > local:
                return start
        return None
