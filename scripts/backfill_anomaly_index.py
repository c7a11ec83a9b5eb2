"""Give legacy anomalous readings their ``anomaly_at`` index attribute (``make backfill``).

Idempotent and resumable: re-run it after an interruption and it continues from its
checkpoint; re-run it after it finished and it finds nothing left to do. Against AWS, run it
with your usual credentials and without ``--endpoint-url``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from chalicelib.backfill import BackfillReport, ScanCheckpoint, backfill_anomaly_index
from scripts.local_dynamodb import client_for

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

DEFAULT_CHECKPOINT_DIR = Path(".local") / "backfill"


def run(client: DynamoDBClient, table_name: str, checkpoint: ScanCheckpoint, *, quiet: bool = False) -> BackfillReport:
    total = client.describe_table(TableName=table_name)["Table"].get("ItemCount")
    if checkpoint.load() is not None and not quiet:
        print(f"  resuming from checkpoint {checkpoint.path}")
    with tqdm(total=total or None, unit="item", desc="  backfilling anomaly index", disable=quiet) as progress:
        report = backfill_anomaly_index(client, table_name, checkpoint, on_scanned=progress.update)
    if not quiet:
        print(
            f"  scanned {report.scanned}, marked {report.updated} anomalies, "
            f"{report.already_done} already marked, {len(report.unparseable)} unparseable timestamps"
        )
        for key in report.unparseable[:20]:
            print(f"    cannot parse timestamp: {key}")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--table", default="EnergyMetrics")
    parser.add_argument("--endpoint-url", default=None, help="e.g. http://127.0.0.1:4567 for the local server")
    parser.add_argument(
        "--checkpoint", type=Path, default=None, help="checkpoint file (default .local/backfill/TABLE.json)"
    )
    parser.add_argument("--restart", action="store_true", help="ignore any checkpoint and scan from the start")
    arguments = parser.parse_args()
    client = client_for(arguments.endpoint_url)
    checkpoint = ScanCheckpoint(arguments.checkpoint or DEFAULT_CHECKPOINT_DIR / f"{arguments.table}.json")
    if arguments.restart:
        checkpoint.clear()
    run(client, arguments.table, checkpoint)


if __name__ == "__main__":
    main()
