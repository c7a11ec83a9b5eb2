"""Instant parsing and formatting, including the key-range property every stored form relies on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.timestamps import (
    InvalidInstant,
    TimeRange,
    format_instant,
    format_sortable_instant,
    normalise_stored_timestamp,
    parse_query_bound,
)

instants = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC))


def stored_forms(instant: datetime) -> list[str]:
    """Every way the existing writers have stored an instant."""
    naive = instant.replace(tzinfo=None)
    forms = [
        naive.isoformat(timespec="seconds"),
        naive.isoformat(timespec="seconds") + "Z",
        naive.isoformat(timespec="seconds") + "+00:00",
    ]
    if instant.microsecond:
        forms += [naive.isoformat(), naive.isoformat() + "Z", naive.isoformat() + "+00:00"]
    return forms


@pytest.mark.parametrize(
    ("text", "end_of_range", "expected"),
    [
        ("2025-02-17", False, datetime(2025, 2, 17, tzinfo=UTC)),
        ("2025-02-17", True, datetime(2025, 2, 17, 23, 59, 59, 999999, tzinfo=UTC)),
        ("2025-02-17T08:30:00Z", False, datetime(2025, 2, 17, 8, 30, tzinfo=UTC)),
        ("2025-02-17T08:30:00z", False, datetime(2025, 2, 17, 8, 30, tzinfo=UTC)),
        ("2025-02-17T09:30:00+01:00", False, datetime(2025, 2, 17, 8, 30, tzinfo=UTC)),
        ("2025-02-17T03:30:00-05:00", True, datetime(2025, 2, 17, 8, 30, tzinfo=UTC)),
        ("2025-02-17T08:30", False, datetime(2025, 2, 17, 8, 30, tzinfo=UTC)),
        ("2025-02-17 08:30:00", False, datetime(2025, 2, 17, 8, 30, tzinfo=UTC)),
        ("2025-02-17T08:30:00.25Z", False, datetime(2025, 2, 17, 8, 30, 0, 250000, tzinfo=UTC)),
        ("2025-02-17T09:30:00 01:00", False, datetime(2025, 2, 17, 8, 30, tzinfo=UTC)),
    ],
)
def test_query_bound_forms(text: str, end_of_range: bool, expected: datetime):
    assert parse_query_bound(text, end_of_range=end_of_range) == expected


@pytest.mark.parametrize(
    "text", ["", "today", "2025-02-30", "2025-W07-1", "0001-01-01T00:00:00+01:00", "2025-02-17T08"]
)
def test_unacceptable_query_bounds_raise(text: str):
    with pytest.raises(InvalidInstant):
        parse_query_bound(text, end_of_range=False)


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        (datetime(2025, 2, 17, 8, 30, tzinfo=UTC), "2025-02-17T08:30:00Z"),
        (datetime(2025, 2, 17, 8, 30, 0, 250000, tzinfo=UTC), "2025-02-17T08:30:00.250Z"),
        (datetime(2025, 2, 17, 8, 30, 0, 123456, tzinfo=UTC), "2025-02-17T08:30:00.123456Z"),
        (datetime(2025, 2, 17, 9, 30, tzinfo=timezone(timedelta(hours=1))), "2025-02-17T08:30:00Z"),
    ],
)
def test_format_instant_is_rfc3339_utc(instant: datetime, expected: str):
    assert format_instant(instant) == expected


def test_unparseable_stored_timestamp_passes_through():
    assert normalise_stored_timestamp("legacy-garbage") == "legacy-garbage"


@given(instants, instants)
def test_sortable_form_orders_like_instants(first: datetime, second: datetime):
    assert (format_sortable_instant(first) < format_sortable_instant(second)) == (first < second)


@given(instants, st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3)), st.floats(0, 1))
def test_key_bounds_contain_every_stored_form_of_every_instant_in_range(
    start: datetime, span: timedelta, fraction: float
):
    time_range = TimeRange(start, start + span)
    inside = start + span * fraction
    lower, upper = time_range.sort_key_bounds()
    assert lower is not None
    assert upper is not None
    assert all(lower <= form <= upper for form in stored_forms(inside))


@given(instants, st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=3)))
def test_key_bounds_exclude_forms_of_instants_a_second_or_more_outside(start: datetime, gap: timedelta):
    time_range = TimeRange(start, start + timedelta(minutes=5))
    lower, upper = time_range.sort_key_bounds()
    before = start.replace(microsecond=0) - gap
    after = (start + timedelta(minutes=5)).replace(microsecond=0) + gap
    assert lower is not None
    assert upper is not None
    assert all(form < lower for form in stored_forms(before))
    assert all(form > upper for form in stored_forms(after))


@pytest.mark.parametrize(
    ("stored", "inside"),
    [
        ("2025-02-17T10:00:00Z", False),  # the first second, before its 0.5
        ("2025-02-17T10:00:01Z", True),
        ("2025-02-17T11:59:59Z", True),
        ("2025-02-17T12:00:00Z", True),  # the last second, at or before its 0.25
        ("2025-02-17T12:00:01Z", False),
        ("2025-02-17T09:59:59Z", False),
    ],
)
def test_canonical_seconds_are_decided_exactly_at_fractional_bounds(stored: str, inside: bool):
    time_range = TimeRange(
        datetime(2025, 2, 17, 10, 0, 0, 500000, tzinfo=UTC), datetime(2025, 2, 17, 12, 0, 0, 250000, tzinfo=UTC)
    )

    assert time_range.holds_stored(stored, if_unparseable=True) is inside
    assert time_range.holds_stored(stored, if_unparseable=False) is inside
