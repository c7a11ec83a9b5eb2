"""Instants: parsing what clients send and what legacy writers stored, and the forms we emit.

The table's sort key is an ISO-8601 UTC string written in several forms over the years
(``...Z``, ``...+00:00``, no suffix, with or without a fraction). All of them share the first
19 characters ``YYYY-MM-DDTHH:MM:SS``, and every suffix sorts below ``~``. So a key range of
``[floor-second(start), floor-second(end) + "~"]`` contains every stored form of every instant
in the range; only items within the two boundary seconds need an exact check after reading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import cached_property

ABOVE_ANY_SUFFIX = "~"

_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
# How the service itself stores a whole-second instant; text in this form needs no parsing to be
# shown, and its first 19 characters order exactly as its instant does.
_CANONICAL_SECOND = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}:?\d{2})?")
# A "+" in an unencoded query string arrives as a space: "...T08:00:00 01:00".
_SPACE_FOR_PLUS_OFFSET = re.compile(r"(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:?\d{2})$")

INPUT_FORMAT_HINT = (
    "use an ISO-8601 date (2025-02-17) or date-time (2025-02-17T08:30:00Z or "
    "2025-02-17T09:30:00+01:00; no offset means UTC)"
)


class InvalidInstant(ValueError):
    """Text that is not an instant we accept."""


# Readings and queries live in this span; beyond it date arithmetic (a day's buckets, 14 days of
# history) would leave what datetime can represent, and no meter reports such times anyway.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2199, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


def _within_supported_years(instant: datetime, text: str) -> datetime:
    if not EARLIEST <= instant <= LATEST:
        raise InvalidInstant(f"'{text}' is outside the supported years 1970 to 2199")
    return instant


def parse_stored_instant(text: str) -> datetime:
    """Parse a sort-key value written by any writer; naive values are UTC."""
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_query_bound(text: str, *, end_of_range: bool) -> datetime:
    """Parse a client's ``start_time``/``end_time``; a bare date spans that whole UTC day.

    Both ends are inclusive, so a date-only end means the last microsecond of that day.
    """
    candidate = _SPACE_FOR_PLUS_OFFSET.sub(r"\1+\2", text.strip())
    if _DATE_ONLY.fullmatch(candidate):
        try:
            day = date.fromisoformat(candidate)
        except ValueError:
            raise InvalidInstant(f"'{text}' is not a valid calendar date") from None
        bound = datetime.combine(day, time.max if end_of_range else time.min, tzinfo=UTC)
        return _within_supported_years(bound, text)
    if not _DATE_TIME.fullmatch(candidate):
        raise InvalidInstant(f"'{text}' is not a date or date-time; {INPUT_FORMAT_HINT}")
    return parse_reading_instant(candidate)


def parse_reading_instant(text: str) -> datetime:
    """A reading's timestamp: any ISO-8601 date-time (not a bare date); naive means UTC."""
    candidate = text.strip()
    if not _DATE_TIME.fullmatch(candidate):
        raise InvalidInstant(f"'{text}' is not an ISO-8601 date-time such as 2025-02-17T08:30:00Z")
    try:
        instant = parse_stored_instant(candidate.upper().replace(" ", "T", 1))
    except (ValueError, OverflowError):
        raise InvalidInstant(f"'{text}' is not a valid date-time (check the day, hour and offset)") from None
    return _within_supported_years(instant, text)


def format_instant(instant: datetime) -> str:
    """The one form clients see: RFC 3339 UTC with ``Z``, fraction only when non-zero."""
    naive_utc = _naive_utc(instant)
    if naive_utc.microsecond == 0:
        return naive_utc.isoformat(timespec="seconds") + "Z"
    if naive_utc.microsecond % 1000 == 0:
        return naive_utc.isoformat(timespec="milliseconds") + "Z"
    return naive_utc.isoformat(timespec="microseconds") + "Z"


def format_sortable_instant(instant: datetime) -> str:
    """Fixed-width UTC form whose string order is time order (used for index sort keys)."""
    return _naive_utc(instant).isoformat(timespec="microseconds") + "Z"


def normalise_stored_timestamp(text: str) -> str:
    """Canonical client form of a stored sort-key value; unparseable legacy text passes through."""
    if _CANONICAL_SECOND.fullmatch(text):
        return text
    try:
        return format_instant(parse_stored_instant(text))
    except (ValueError, OverflowError):
        return text


@dataclass(frozen=True)
class TimeRange:
    """An inclusive ``[start, end]`` range of UTC instants; ``None`` leaves that side open."""

    start: datetime | None = None
    end: datetime | None = None

    def contains(self, instant: datetime) -> bool:
        return (self.start is None or self.start <= instant) and (self.end is None or instant <= self.end)

    def holds_stored(self, stored_timestamp: str, *, if_unparseable: bool) -> bool:
        """Exact check of a stored sort-key value; the caller decides what an unparseable one means."""
        if if_unparseable and _CANONICAL_SECOND.fullmatch(stored_timestamp):
            # Strictly between the range's first and last seconds: inside, whatever their fractions
            # (and were it no real date, it would count as inside anyway).
            second = stored_timestamp[:19]
            first, last = self._second_bounds
            if (first is None or first < second) and (last is None or second < last):
                return True
        try:
            return self.contains(parse_stored_instant(stored_timestamp))
        except (ValueError, OverflowError):
            return if_unparseable

    @cached_property
    def _second_bounds(self) -> tuple[str | None, str | None]:
        return (
            None if self.start is None else _second_prefix(self.start),
            None if self.end is None else _second_prefix(self.end),
        )

    def sort_key_bounds(self) -> tuple[str | None, str | None]:
        """Sort-key strings that bracket every stored form of every instant in the range."""
        return (
            None if self.start is None else _second_prefix(self.start),
            None if self.end is None else _second_prefix(self.end) + ABOVE_ANY_SUFFIX,
        )

    def sortable_bounds(self) -> tuple[str | None, str | None]:
        """Exact bounds for attributes written with :func:`format_sortable_instant`."""
        return (
            None if self.start is None else format_sortable_instant(self.start),
            None if self.end is None else format_sortable_instant(self.end),
        )


def _second_prefix(instant: datetime) -> str:
    return _naive_utc(instant).isoformat(timespec="seconds")


def _naive_utc(instant: datetime) -> datetime:
    return instant.astimezone(UTC).replace(tzinfo=None)
