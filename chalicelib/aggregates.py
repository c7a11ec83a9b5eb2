"""Dashboard series: readings aggregated into time buckets in the site's own time zone.

Buckets are half-open ``[bucket_start, bucket_end)``; daily buckets are calendar days of the
requested zone (23 or 25 hours long across daylight-saving changes). Hourly and daily buckets
come from the pre-computed rollups whenever the zone's offsets in the range are whole hours;
5- and 15-minute buckets (and zones such as Asia/Kolkata) are computed from raw readings,
which at those resolutions cost at most three times the items anyway.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.errors import InvalidParameters, ParameterError
from chalicelib.queries import RecordsQuery
from chalicelib.rollups import RESOLUTIONS, Bucket, RollupStore, bucket_readings
from chalicelib.store import ReadingStore
from chalicelib.timestamps import TimeRange, format_instant

READING_INTERVAL = timedelta(minutes=5)
AUTO_CANDIDATES = ("5m", "15m", "1h", "1d")


class AggregateService:
    def __init__(self, readings: ReadingStore, rollups: RollupStore) -> None:
        self._readings = readings
        self._rollups = rollups

    def aggregate(self, query: RecordsQuery) -> dict[str, Any]:
        zone = ZoneInfo(query.tz)
        resolution = resolution_for(query)
        if (estimate := estimated_buckets(query.start_time, query.end_time, resolution)) > query.max_points:
            raise InvalidParameters(
                [
                    ParameterError(
                        "resolution",
                        f"about {estimate} buckets of {resolution} exceed max_points={query.max_points}; "
                        "use a coarser resolution, resolution=auto, or a shorter range",
                    )
                ]
            )
        starts = bucket_starts(query.start_time, query.end_time, resolution, zone)[: query.max_points]
        ends = [*starts[1:], next_start(starts[-1], resolution, zone)] if starts else []
        source = self._source_buckets(query.site_id, resolution, starts, ends)
        buckets = [Bucket(start, end) for start, end in zip(starts, ends, strict=True)]
        _distribute(source, buckets)
        if not query.ascending:
            buckets.reverse()
        items = [_bucket_json(bucket, zone, query.fields) for bucket in buckets]
        return {
            "site_id": query.site_id,
            "start_time": format_instant(query.start_time),
            "end_time": format_instant(query.end_time),
            "resolution": resolution,
            "tz": query.tz,
            "items": items,
            "count": len(items),
            "next_token": None,
        }

    def _source_buckets(
        self, site_id: str, resolution: str, starts: list[datetime], ends: list[datetime]
    ) -> Iterable[Bucket]:
        if not starts:
            return []
        first, last = starts[0], ends[-1]
        whole_hours = all(_on_utc_hour(instant) for instant in (*starts, last))
        if resolution == "1d" and whole_hours and all(_on_utc_day(instant) for instant in (*starts, last)):
            return self._rollups.read(site_id, "1d", first, last)
        if resolution in ("1h", "1d") and whole_hours:
            return self._rollups.read(site_id, "1h", first, last)
        raw = self._readings.read_range(site_id, TimeRange(first, last - timedelta(microseconds=1)))
        return bucket_readings(raw, READING_INTERVAL).values()


def resolution_for(query: RecordsQuery) -> str:
    if query.resolution != "auto":
        return query.resolution
    for candidate in AUTO_CANDIDATES:
        if estimated_buckets(query.start_time, query.end_time, candidate) <= query.max_points:
            return candidate
    return "1d"


def answer_window_end(query: RecordsQuery) -> datetime:
    """Where an aggregated answer's data ends: the end of the bucket holding ``end_time``, up to a
    day after it. Until then its last bucket (today's daily total, say) can still change."""
    zone = ZoneInfo(query.tz)
    resolution = resolution_for(query)
    return next_start(floor_in_zone(query.end_time, resolution, zone), resolution, zone)


def estimated_buckets(start: datetime, end: datetime, resolution: str) -> int:
    """Bucket count by arithmetic (exact but for a daylight-saving hour), before building any."""
    return int((end - start) // RESOLUTIONS[resolution]) + 1


def bucket_starts(start: datetime, end: datetime, resolution: str, zone: ZoneInfo) -> list[datetime]:
    """Starts of the buckets that overlap the inclusive range, aligned in ``zone``."""
    current = floor_in_zone(start, resolution, zone)
    starts = []
    while current <= end:
        starts.append(current)
        current = next_start(current, resolution, zone)
    return starts


def floor_in_zone(instant: datetime, resolution: str, zone: ZoneInfo) -> datetime:
    local = instant.astimezone(zone)
    if resolution == "1d":
        return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
    step = RESOLUTIONS[resolution]
    wall = local.replace(tzinfo=None) - datetime(1970, 1, 1)
    return instant.astimezone(UTC) - (wall % step)


def next_start(start: datetime, resolution: str, zone: ZoneInfo) -> datetime:
    if resolution == "1d":
        local_day = start.astimezone(zone).date() + timedelta(days=1)
        return datetime(local_day.year, local_day.month, local_day.day, tzinfo=zone).astimezone(UTC)
    return start + RESOLUTIONS[resolution]


def _distribute(source: Iterable[Bucket], buckets: list[Bucket]) -> None:
    """Add each finer source bucket into the output bucket that contains it."""
    index = 0
    for part in sorted(source, key=lambda bucket: bucket.start):
        while index < len(buckets) and buckets[index].end <= part.start:
            index += 1
        if index == len(buckets):
            return
        if buckets[index].start <= part.start:
            buckets[index].add_bucket(part)


def _bucket_json(bucket: Bucket, zone: ZoneInfo, fields: tuple[str, ...] | None) -> dict[str, Any]:
    expected = (bucket.end - bucket.start) / READING_INTERVAL
    result: dict[str, Any] = {
        "bucket_start": _format_in_zone(bucket.start, zone),
        "bucket_end": _format_in_zone(bucket.end, zone),
        "count": bucket.readings,
        "coverage": round(min(1.0, bucket.readings / expected), 4),
    }
    for name, aggregate in sorted(bucket.metrics.items()):
        if fields is not None and name not in fields:
            continue
        if name.endswith("_kwh"):
            result[name] = {"sum": aggregate.total, "count": aggregate.count}
        else:
            average = (aggregate.total / aggregate.count).quantize(Decimal("0.000001")).normalize() + 0
            result[name] = {
                "avg": average,
                "min": aggregate.minimum,
                "max": aggregate.maximum,
                "count": aggregate.count,
            }
    return result


def _format_in_zone(instant: datetime, zone: ZoneInfo) -> str:
    if zone.key == "UTC":
        return format_instant(instant)
    return instant.astimezone(zone).isoformat(timespec="seconds")


def _on_utc_hour(instant: datetime) -> bool:
    return instant.minute == 0 and instant.second == 0 and instant.microsecond == 0


def _on_utc_day(instant: datetime) -> bool:
    return _on_utc_hour(instant) and instant.astimezone(UTC).hour == 0
