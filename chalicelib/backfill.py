"""Backfill of the sparse anomaly index: give legacy anomalous items their ``anomaly_at``.

An offline job, not a request path, so it is the one place that Scans. It is idempotent
(conditional updates never overwrite), resumable (the scan position is checkpointed after
every page) and safe alongside live traffic (conditions skip items changed meanwhile).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chalicelib.tables import ANOMALY_AT, ANOMALY_FLAG, SITE_ID, TIMESTAMP
from chalicelib.timestamps import format_sortable_instant, parse_stored_instant

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
