"""Pre-computed hourly and daily aggregates, kept exactly right by recomputing from raw readings.

After readings are written, every affected hour is recomputed from the raw readings of that
hour (a strongly consistent Query) and stored whole, then every affected UTC day from its
hours. Recomputing instead of adding deltas makes re-ingesting or correcting a reading unable
to double count, and needs no DynamoDB Streams, so it works the same locally and in AWS. A
conditional write keeps a slower, older recomputation from overwriting a newer one.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import TYPE_CHECKING, Any

from chalicelib.batch_writes import put_items
from chalicelib.store import ReadingStore, query_pages, translate_errors
from chalicelib.tables import TIMESTAMP
from chalicelib.timestamps import TimeRange, format_instant, parse_stored_instant

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Sums keep 38 significant digits, DynamoDB's own precision (Python's default context keeps 28).
SUM_CONTEXT = Context(prec=38, rounding=ROUND_HALF_EVEN)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
RESOLUTIONS = {"5m": timedelta(minutes=5), "15m": timedelta(minutes=15), "1h": HOUR, "1d": DAY}
STORED_RESOLUTIONS = ("1h", "1d")
NOT_METRICS = frozenset({"site_id", "timestamp", "anomaly", "anomaly_at", "weather_condition", "ingested_at"})


@dataclass
class MetricAggregate:
    count: int
    total: Decimal
    minimum: Decimal
    maximum: Decimal

    @classmethod
    def of(cls, value: Decimal) -> MetricAggregate:
        return cls(1, value, value, value)

    def merge(self, other: MetricAggregate) -> None:
        self.count += other.count
        self.total = SUM_CONTEXT.add(self.total, other.total)
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)


@dataclass
class Bucket:
    """Aggregates of the readings whose instant lies in ``[start, end)``."""

    start: datetime
    end: datetime
    readings: int = 0
    metrics: dict[str, MetricAggregate] = field(default_factory=dict)
    weather: Counter[str] = field(default_factory=Counter)

    def add_reading(self, item: dict[str, Any]) -> None:
        self.readings += 1
        for name, value in item.items():
            if name in NOT_METRICS or name.startswith("anomaly") or "N" not in value:
                continue
            self._merge_metric(name, MetricAggregate.of(Decimal(value["N"])))
        if "weather_condition" in item and "S" in item["weather_condition"]:
            self.weather[item["weather_condition"]["S"]] += 1

    def add_bucket(self, other: Bucket) -> None:
        self.readings += other.readings
        for name, aggregate in other.metrics.items():
            self._merge_metric(name, MetricAggregate(**vars(aggregate)))
        self.weather.update(other.weather)

    def _merge_metric(self, name: str, aggregate: MetricAggregate) -> None:
        if name in self.metrics:
            self.metrics[name].merge(aggregate)
        else:
            self.metrics[name] = aggregate


def floor_to(instant: datetime, step: timedelta) -> datetime:
    """The UTC-aligned start of the ``step``-long bucket holding ``instant``."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return instant - (instant - epoch) % step


def bucket_readings(items: Iterable[dict[str, Any]], step: timedelta) -> dict[datetime, Bucket]:
    """Group raw readings into UTC-aligned buckets of ``step``."""
    buckets: dict[datetime, Bucket] = {}
    for item in items:
        try:
            instant = parse_stored_instant(item[TIMESTAMP]["S"])
        except (ValueError, OverflowError):
            continue
        start = floor_to(instant, step)
        bucket = buckets.setdefault(start, Bucket(start, start + step))
        bucket.add_reading(item)
    return buckets


def series_key(site_id: str, resolution: str) -> str:
    return f"{site_id}#{resolution}"


def bucket_to_item(site_id: str, resolution: str, bucket: Bucket, computed_at_ns: int) -> dict[str, Any]:
    return {
        "series": {"S": series_key(site_id, resolution)},
        "bucket_start": {"S": format_instant(bucket.start)},
        "bucket_end": {"S": format_instant(bucket.end)},
        "site_id": {"S": site_id},
        "resolution": {"S": resolution},
        "readings": {"N": str(bucket.readings)},
        "metrics": {
            "M": {
                name: {
                    "M": {
                        "count": {"N": str(aggregate.count)},
                        "sum": {"N": str(aggregate.total)},
                        "min": {"N": str(aggregate.minimum)},
                        "max": {"N": str(aggregate.maximum)},
                    }
                }
                for name, aggregate in bucket.metrics.items()
            }
        },
        "weather": {"M": {condition: {"N": str(count)} for condition, count in bucket.weather.items()}},
        "computed_at_ns": {"N": str(computed_at_ns)},
    }


def item_to_bucket(item: dict[str, Any]) -> Bucket:
    metrics = {
        name: MetricAggregate(
            count=int(value["M"]["count"]["N"]),
            total=Decimal(value["M"]["sum"]["N"]),
            minimum=Decimal(value["M"]["min"]["N"]),
            maximum=Decimal(value["M"]["max"]["N"]),
        )
        for name, value in item["metrics"]["M"].items()
    }
    weather = Counter({condition: int(count["N"]) for condition, count in item.get("weather", {"M": {}})["M"].items()})
    return Bucket(
        start=parse_stored_instant(item["bucket_start"]["S"]),
        end=parse_stored_instant(item["bucket_end"]["S"]),
        readings=int(item["readings"]["N"]),
        metrics=metrics,
        weather=weather,
    )


class RollupStore:
    def __init__(self, client: DynamoDBClient, table_name: str, retry_after_seconds: int = 2) -> None:
        self._client = client
        self.table_name = table_name
        self._retry_after_seconds = retry_after_seconds

    def read(
        self, site_id: str, resolution: str, start: datetime, end: datetime, *, consistent: bool = False
    ) -> list[Bucket]:
        """Stored buckets of one series starting in ``[start, end)``, oldest first."""
        buckets: list[Bucket] = []
        arguments: dict[str, Any] = {
            "TableName": self.table_name,
            "ConsistentRead": consistent,
            "KeyConditionExpression": "#series = :series AND #start BETWEEN :low AND :high",
            "ExpressionAttributeNames": {"#series": "series", "#start": "bucket_start"},
            "ExpressionAttributeValues": {
                ":series": {"S": series_key(site_id, resolution)},
                ":low": {"S": format_instant(start)},
                ":high": {"S": format_instant(end - timedelta(microseconds=1))},
            },
        }
        for response in query_pages(self._client, arguments, self._retry_after_seconds):
            buckets += [item_to_bucket(item) for item in response.get("Items", [])]
        return buckets

    def write(self, site_id: str, resolution: str, buckets: Iterable[Bucket], computed_at_ns: int) -> None:
        """Store recomputed buckets unless a newer recomputation already did."""
        for bucket in buckets:
            item = bucket_to_item(site_id, resolution, bucket, computed_at_ns)
            try:
                with translate_errors(self._retry_after_seconds):
                    self._client.put_item(
                        TableName=self.table_name,
                        Item=item,
                        ConditionExpression="attribute_not_exists(#at) OR #at <= :at",
                        ExpressionAttributeNames={"#at": "computed_at_ns"},
                        ExpressionAttributeValues={":at": {"N": str(computed_at_ns)}},
                    )
            except self._client.exceptions.ConditionalCheckFailedException:
                continue  # a later recomputation, which saw at least what we saw, got there first

    def write_unconditionally(self, site_id: str, resolution: str, buckets: Iterable[Bucket]) -> None:
        """Bulk path for backfills, where nothing else is computing the same buckets."""
        computed_at_ns = time.time_ns()
        put_items(
            self._client,
            self.table_name,
            (bucket_to_item(site_id, resolution, bucket, computed_at_ns) for bucket in buckets),
        )


class RollupMaintainer:
    """Recomputes the hours and days touched by newly written readings."""

    def __init__(self, readings: ReadingStore, rollups: RollupStore) -> None:
        self._readings = readings
        self._rollups = rollups

    def refresh(self, touched: Iterable[tuple[str, datetime]]) -> None:
        """``touched``: (site, reading instant) pairs that were just written."""
        hours_by_site_day: dict[tuple[str, datetime], set[datetime]] = {}
        for site_id, instant in touched:
            hours_by_site_day.setdefault((site_id, floor_to(instant, DAY)), set()).add(floor_to(instant, HOUR))
        for (site_id, day), hours in sorted(hours_by_site_day.items()):
            computed_at_ns = time.time_ns()  # taken before reading: what the read is guaranteed to see
            span = TimeRange(min(hours), max(hours) + HOUR - timedelta(microseconds=1))
            raw = self._readings.read_range(site_id, span, consistent=True)
            hourly = bucket_readings(raw, HOUR)
            recomputed = [hourly.get(hour) or Bucket(hour, hour + HOUR) for hour in sorted(hours)]
            self._rollups.write(site_id, "1h", recomputed, computed_at_ns)
            day_bucket = Bucket(day, day + DAY)
            for bucket in self._rollups.read(site_id, "1h", day, day + DAY, consistent=True):
                day_bucket.add_bucket(bucket)
            self._rollups.write(site_id, "1d", [day_bucket], computed_at_ns)
