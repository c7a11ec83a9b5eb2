"""Ingest a file of readings into the local server (``make ingest FILE=readings.csv``).

The same path as the S3 handler and POST /records: JSON array, NDJSON (.ndjson/.jsonl) or CSV,
validated per reading, anomalies detected, rollups and the site registry updated.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from chalicelib.context import build_context
from chalicelib.file_ingest import content_type_for, ingest_file
from chalicelib.ingest import Deadline, PayloadError, read_records
from chalicelib.settings import Settings
from scripts.local_dynamodb import local_client
from scripts.seed_demo_data import ensure_tables


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", type=Path)
    parser.add_argument("--endpoint-url", default="http://127.0.0.1:4567")
    arguments = parser.parse_args()
    raw = arguments.file.read_bytes()
    settings = Settings(stage="local")
    client = local_client(arguments.endpoint_url)
    ensure_tables(client, settings)
    ingest = build_context(settings, client).ingest
    try:
        total = len(read_records(raw, content_type_for(arguments.file.name)))
        with tqdm(total=total, unit="reading", desc=f"  ingesting {arguments.file.name}") as progress:
            result = ingest_file(ingest, raw, arguments.file.name, Deadline(3600), on_chunk=progress.update)
    except PayloadError as error:
        print(f"  {error.detail}", file=sys.stderr)
        return 2
    print(
        f"  received {result.received}, stored {result.stored}, rejected {len(result.rejected)}, "
        f"not stored {len(result.not_stored)}, anomalies {result.anomalies}"
    )
    for rejection in result.rejected[:20]:
        print(f"    reading {rejection.index}: " + "; ".join(f"{e.parameter}: {e.message}" for e in rejection.errors))
    return 1 if result.not_stored else 0


if __name__ == "__main__":
    sys.exit(main())
