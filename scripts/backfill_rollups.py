"""Build hourly/daily rollups and the site registry for readings that predate ingest
(``make backfill-rollups``).

Idempotent: every bucket is recomputed whole from the readings, so re-running rewrites the same
values. An offline Scan of the readings table; against AWS, run it with your usual credentials
and without ``--endpoint-url``.
"""

from __future__ import annotations

import argparse

from tqdm import tqdm

from chalicelib.rollups import RollupStore, backfill_rollups
from chalicelib.sites import SiteRegistry
from scripts.local_dynamodb import client_for


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--table", default="EnergyMetrics")
    parser.add_argument("--rollups-table", default="EnergyMetricsRollups")
    parser.add_argument("--sites-table", default="EnergyMetricsSites")
    parser.add_argument("--endpoint-url", default=None, help="e.g. http://127.0.0.1:4567 for the local server")
    arguments = parser.parse_args()
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
