"""Create the readings table and its anomaly index where missing (``make tables``).

Safe against an existing production table: it only ever adds a missing index, never changes
keys or data. Against AWS, run it with your usual credentials and without ``--endpoint-url``.
"""

from __future__ import annotations

import argparse

from chalicelib.tables import ensure_service_tables
from scripts.local_dynamodb import client_for


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--table", default="EnergyMetrics")
    parser.add_argument("--rollups-table", default="EnergyMetricsRollups")
    parser.add_argument("--sites-table", default="EnergyMetricsSites")
    parser.add_argument("--endpoint-url", default=None, help="e.g. http://127.0.0.1:4567 for the local server")
    arguments = parser.parse_args()
    client = client_for(arguments.endpoint_url)
    actions = ensure_service_tables(client, arguments.table, arguments.rollups_table, arguments.sites_table)
    print("\n".join(actions) if actions else "every table and index already exists; nothing to do")


if __name__ == "__main__":
    main()
