"""Create the tables and indexes if missing and load the demo readings once (``make seed``).

Sites 1-3 go through the same ingest path as ``POST /records`` (validation, anomaly detection,
rollups, site registry), a day at a time so the detector has history. Sites 4-5 are written
raw, as the legacy pipeline wrote them, then brought up to date by the backfills an operator
would run on the existing table.
"""

from __future__ import annotations

import argparse
from collections import Counter
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from chalicelib.api_keys import ApiKeyStore
from chalicelib.backfill import backfill_rollups
from chalicelib.batch_writes import put_items
from chalicelib.context import build_context
from chalicelib.detection import Anomaly
from chalicelib.ingest import Deadline, ParsedBatch, Reading
from chalicelib.rollups import RollupStore
from chalicelib.settings import Settings
from chalicelib.sites import SiteRegistry
from chalicelib.store import query_pages
from chalicelib.tables import READINGS_TABLE, ensure_service_tables
from scripts import demo_data
from scripts.local_dynamodb import local_client

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

INGEST_BATCH = 1000


class SilentAlerts:
    """History being loaded is not news: no alerts while seeding."""

    def publish(self, site_id: str, timestamp: str, anomalies: list[Anomaly]) -> None:  # noqa: ARG002
        return None


def ensure_tables(client: DynamoDBClient, settings: Settings) -> None:
    for action in ensure_service_tables(
        client, settings.dynamodb_table, settings.rollups_table, settings.sites_table, settings.api_keys_table
    ):
        print(f"  {action}")


def is_seeded(client: DynamoDBClient, table_name: str) -> bool:
    return all(
        "Item"
        in client.get_item(TableName=table_name, Key=demo_data.last_reading_key(site), ProjectionExpression="site_id")
        for site in demo_data.SITES
    )


def seed(client: DynamoDBClient, settings: Settings, *, force: bool = False) -> int:
    """Load the demo data unless it is already there; returns how many readings were written."""
    ensure_tables(client, settings)
    if not force and is_seeded(client, settings.dynamodb_table):
        print(f"  demo data already in {settings.dynamodb_table}: reusing it")
        return 0
    ingest = build_context(settings, client, SilentAlerts()).ingest
    legacy_styles = {site.site_id for site in demo_data.SITES if site.timestamp_style != "canonical"}
    canonical: list[dict[str, Any]] = []
    legacy: list[dict[str, Any]] = []
    for item in demo_data.demo_readings():
        (legacy if item["site_id"]["S"] in legacy_styles else canonical).append(item)
    canonical.sort(key=lambda item: item["timestamp"]["S"])
    written = 0
    rules: Counter[str] = Counter()
    with tqdm(total=len(canonical) + len(legacy), unit="reading", desc="  seeding demo data") as progress:
        for start in range(0, len(canonical), INGEST_BATCH):
            chunk = canonical[start : start + INGEST_BATCH]
            batch = ParsedBatch(readings=[(index, _as_reading(item)) for index, item in enumerate(chunk)])
            result = ingest.ingest(batch, Deadline(3600))
            if result.not_stored:
                raise SystemExit(f"{len(result.not_stored)} demo readings were not stored; run again to retry")
            written += result.stored
            progress.update(len(chunk))
        legacy_result = put_items(client, settings.dynamodb_table, legacy, on_batch_written=progress.update)
    if legacy_result.unwritten:
        raise SystemExit(f"{len(legacy_result.unwritten)} legacy demo readings were not written; run again")
    written += legacy_result.written
    rules.update(_rules_fired(client, settings.dynamodb_table))
    backfill_rollups(
        client,
        settings.dynamodb_table,
        RollupStore(client, settings.rollups_table),
        registry=SiteRegistry(client, settings.sites_table),
    )
    print(
        "  anomalies detected on ingest, by rule: "
        + ", ".join(f"{rule} {count}" for rule, count in sorted(rules.items()))
    )
    return written


def _as_reading(item: dict[str, Any]) -> Reading:
    values: dict[str, Any] = {}
    for name, value in item.items():
        if "N" in value:
            values[name] = Decimal(value["N"])
        elif "S" in value:
            values[name] = value["S"]
    return Reading.model_validate(values)


def _rules_fired(client: DynamoDBClient, table_name: str) -> Counter[str]:
    """Which detector rules flagged the ingested demo readings (read back from the index)."""
    fired: Counter[str] = Counter()
    for site in demo_data.SITES:
        arguments: dict[str, Any] = {
            "TableName": table_name,
            "IndexName": READINGS_TABLE.indexes[0].name,
            "KeyConditionExpression": "site_id = :site",
            "ExpressionAttributeValues": {":site": {"S": site.site_id}},
            "ProjectionExpression": "anomalies",
        }
        for page in query_pages(client, arguments, retry_after_seconds=1):
            for item in page.get("Items", []):
                for anomaly in item.get("anomalies", {}).get("L", []):
                    fired[anomaly["M"]["rule"]["S"]] += 1
    return fired


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint-url", default="http://127.0.0.1:4567")
    parser.add_argument("--force", action="store_true", help="write the demo readings even if present")
    arguments = parser.parse_args()
    seed(local_client(arguments.endpoint_url), Settings(stage="local"), force=arguments.force)


if __name__ == "__main__":
    main()


DEMO_KEY_NAME = "make run demo key"


def issue_demo_key(client: DynamoDBClient, settings: Settings) -> str:
    """A fresh read-only key for the demo sites; earlier demo keys are revoked (their plaintext is gone)."""
    keys = ApiKeyStore(client, settings.api_keys_table)
    for key in keys.list():
        if key.name == DEMO_KEY_NAME and key.revoked_at is None:
            keys.revoke(key.key_id)
    plaintext, _ = keys.create(DEMO_KEY_NAME, {"read"}, {site.site_id for site in demo_data.SITES})
    return plaintext
