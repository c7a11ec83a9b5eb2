"""Offline backfills for readings that predate the service: the anomaly index and the rollups.

Offline jobs, never request paths, so this is the one module that Scans. The anomaly backfill
is idempotent (conditional updates never overwrite), resumable (the scan position is
checkpointed after every page) and safe alongside live traffic (conditions skip items changed
meanwhile); the rollup backfill recomputes whole buckets, so re-running it rewrites the same values.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.rollups import DAY, HOUR, Bucket, RollupStore, bucket_readings, floor_to
from chalicelib.store import ReadingStore
from chalicelib.tables import ANOMALY_AT, ANOMALY_FLAG, SITE_ID, TIMESTAMP
from chalicelib.timestamps import TimeRange, format_sortable_instant, parse_stored_instant

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


@dataclass
class BackfillReport:
    scanned: int = 0
    updated: int = 0
    already_done: int = 0
    unparseable: list[dict[str, str]] = field(default_factory=list)
    finished: bool = False


class ScanCheckpoint:
    """Where the scan stopped, in a small JSON file, so an interrupted run resumes there."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, Any] | None:
        if not self.path.exists():
            return None
        saved: dict[str, Any] = json.loads(self.path.read_text())
        key: dict[str, Any] | None = saved.get("exclusive_start_key")
        return key

    def save(self, key: dict[str, Any] | None) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps({"exclusive_start_key": key}))

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def backfill_anomaly_index(
    client: DynamoDBClient,
    table_name: str,
    checkpoint: ScanCheckpoint,
    *,
    page_size: int = 1000,
    on_scanned: Callable[[int], object] | None = None,
) -> BackfillReport:
    report = BackfillReport()
    start_key = checkpoint.load()
    while True:
        arguments: dict[str, Any] = {
            "TableName": table_name,
            "Limit": page_size,
            "ProjectionExpression": "#site, #ts",
            "FilterExpression": "#flag = :true AND attribute_not_exists(#at)",
            "ExpressionAttributeNames": {"#site": SITE_ID, "#ts": TIMESTAMP, "#flag": ANOMALY_FLAG, "#at": ANOMALY_AT},
            "ExpressionAttributeValues": {":true": {"BOOL": True}},
        }
        if start_key:
            arguments["ExclusiveStartKey"] = start_key
        page = client.scan(**arguments)
        report.scanned += page.get("ScannedCount", 0)
        for item in page.get("Items", []):
            _mark_anomaly(client, table_name, item, report)
        start_key = page.get("LastEvaluatedKey")
        if start_key:
            checkpoint.save(start_key)
        else:
            checkpoint.clear()
            report.finished = True
        if on_scanned is not None:
            on_scanned(page.get("ScannedCount", 0))
        if report.finished:
            return report


def _mark_anomaly(client: DynamoDBClient, table_name: str, key: dict[str, Any], report: BackfillReport) -> None:
    stored = key[TIMESTAMP]["S"]
    try:
        anomaly_at = format_sortable_instant(parse_stored_instant(stored))
    except (ValueError, OverflowError):
        report.unparseable.append({SITE_ID: key[SITE_ID]["S"], TIMESTAMP: stored})
        return
    try:
        client.update_item(
            TableName=table_name,
            Key={SITE_ID: key[SITE_ID], TIMESTAMP: key[TIMESTAMP]},
            UpdateExpression="SET #at = :at",
            ConditionExpression="attribute_exists(#site) AND #flag = :true AND attribute_not_exists(#at)",
            ExpressionAttributeNames={"#at": ANOMALY_AT, "#site": SITE_ID, "#flag": ANOMALY_FLAG},
            ExpressionAttributeValues={":at": {"S": anomaly_at}, ":true": {"BOOL": True}},
        )
        report.updated += 1
    except client.exceptions.ConditionalCheckFailedException:
        report.already_done += 1


def backfill_rollups(
    client: DynamoDBClient,
    readings_table: str,
    rollups: RollupStore,
    *,
    registry: SiteRegistryLike | None = None,
    on_scanned: Callable[[int], object] | None = None,
) -> int:
    """Build hourly and daily rollups for readings that predate ingest (an offline Scan).

    Idempotent: buckets are recomputed whole from the readings, so re-running rewrites the same
    values; the site registry, when given, learns each site's reading span. Returns the number
    of hourly buckets written.
    """
    hourly: dict[tuple[str, datetime], Bucket] = {}
    arguments: dict[str, Any] = {"TableName": readings_table}
    while True:
        page = client.scan(**arguments)
        for site_id, items in _by_site(page.get("Items", [])).items():
            for start, bucket in bucket_readings(items, HOUR).items():
                existing = hourly.setdefault((site_id, start), Bucket(start, start + HOUR))
                existing.add_bucket(bucket)
        if on_scanned is not None:
            on_scanned(page.get("ScannedCount", 0))
        if "LastEvaluatedKey" not in page:
            break
        arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    if registry is not None:
        for site_id in sorted({site for site, _ in hourly}):
            hours = [start for site, start in hourly if site == site_id]
            first, last = _reading_span(client, readings_table, site_id, min(hours), max(hours))
            registry.record(site_id, first, last)
    daily: dict[tuple[str, datetime], Bucket] = {}
    for (site_id, start), bucket in hourly.items():
        day = floor_to(start, DAY)
        daily.setdefault((site_id, day), Bucket(day, day + DAY)).add_bucket(bucket)
    for resolution, buckets in (("1h", hourly), ("1d", daily)):
        for site_id in sorted({site for site, _ in buckets}):
            rollups.write_unconditionally(
                site_id, resolution, (bucket for (site, _), bucket in sorted(buckets.items()) if site == site_id)
            )
    return len(hourly)


class SiteRegistryLike(Protocol):
    def record(self, site_id: str, first: datetime, last: datetime) -> None: ...


def _reading_span(
    client: DynamoDBClient, table_name: str, site_id: str, first_hour: datetime, last_hour: datetime
) -> tuple[datetime, datetime]:
    """Exact first and last reading instants, from the first and last hours that hold any."""
    store = ReadingStore(client, table_name)
    first_items = store.read_range(site_id, TimeRange(first_hour, first_hour + HOUR - timedelta(microseconds=1)))
    last_items = store.read_range(site_id, TimeRange(last_hour, last_hour + HOUR - timedelta(microseconds=1)))
    instants = [parse_stored_instant(item[TIMESTAMP]["S"]) for item in first_items + last_items]
    return min(instants), max(instants)


def _by_site(items: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        grouped.setdefault(item["site_id"]["S"], []).append(item)
    return grouped
