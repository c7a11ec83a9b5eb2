"""Build hourly/daily rollups and the site registry for readings that predate ingest
(``make backfill-rollups``).

Idempotent: every bucket is recomputed whole from the readings, so re-running rewrites the same
values. An offline Scan of the readings table; against AWS, run it with your usual credentials
and without ``--endpoint-url``.
"""

from __future__ import annotations

from tqdm import tqdm

from chalicelib.backfill import backfill_rollups
from chalicelib.rollups import RollupStore
from chalicelib.sites import SiteRegistry
from scripts.local_dynamodb import client_for, operator_arguments


def main() -> None:
    arguments = operator_arguments(__doc__)
    client = client_for(arguments.endpoint_url)
    total = client.describe_table(TableName=arguments.table)["Table"].get("ItemCount") or None
    with tqdm(total=total, unit="item", desc="  building rollups") as progress:
        hours = backfill_rollups(
            client,
            arguments.table,
            RollupStore(client, arguments.rollups_table),
            registry=SiteRegistry(client, arguments.sites_table),
            on_scanned=progress.update,
        )
    print(f"  wrote {hours} hourly buckets and their daily totals; site registry updated")


if __name__ == "__main__":
    main()
