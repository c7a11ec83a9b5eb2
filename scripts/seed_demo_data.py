"""Create the table and index if missing and load the demo readings once (``make seed``)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from tqdm import tqdm

from chalicelib.batch_writes import put_items
from chalicelib.tables import ensure_table
from scripts import demo_data
from scripts.local_dynamodb import local_client

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def is_seeded(client: DynamoDBClient, table_name: str) -> bool:
    return all(
        "Item"
        in client.get_item(TableName=table_name, Key=demo_data.last_reading_key(site), ProjectionExpression="site_id")
        for site in demo_data.SITES
    )


def seed(client: DynamoDBClient, table_name: str, *, force: bool = False) -> int:
    """Load the demo data unless it is already there; returns how many readings were written."""
    for action in ensure_table(client, table_name):
        print(f"  {action}")
    if not force and is_seeded(client, table_name):
        print(f"  demo data already in {table_name}: reusing it")
        return 0
    with tqdm(total=demo_data.TOTAL_READINGS, unit="reading", desc="  seeding demo data") as progress:
        result = put_items(client, table_name, demo_data.demo_readings(), on_batch_written=progress.update)
    if result.unwritten:
        raise SystemExit(f"{len(result.unwritten)} demo readings could not be written; run again to retry")
    return result.written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint-url", default="http://127.0.0.1:4567")
    parser.add_argument("--table", default="EnergyMetrics")
    parser.add_argument("--force", action="store_true", help="write the demo readings even if present")
    arguments = parser.parse_args()
    seed(local_client(arguments.endpoint_url), arguments.table, force=arguments.force)


if __name__ == "__main__":
    main()
