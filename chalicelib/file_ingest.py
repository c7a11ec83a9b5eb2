"""Files of readings (the old pipeline's S3 drops, or a local file): the same path as POST /records.

A file may hold any number of readings; it is validated and ingested 1,000 at a time, and the
report counts for the whole file, with rejected readings named by their place in the file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger

from chalicelib.ingest import (
    MAX_READINGS_PER_REQUEST,
    Deadline,
    IngestResult,
    IngestService,
    PayloadError,
    read_records,
    validate_records,
)
from chalicelib.settings import SERVICE_NAME

logger = Logger(service=SERVICE_NAME, child=True)
CONTENT_TYPES = {".csv": "text/csv", ".ndjson": "application/x-ndjson", ".jsonl": "application/x-ndjson"}


def content_type_for(name: str) -> str:
    """Files are typed by their name: ``.csv``, ``.ndjson``/``.jsonl``, anything else JSON."""
    lowered = name.lower()
    for suffix, content_type in CONTENT_TYPES.items():
        if lowered.endswith(suffix):
            return content_type
    return "application/json"


def ingest_file(
    ingest: IngestService,
    raw: bytes,
    name: str,
    deadline: Deadline,
    on_chunk: Callable[[int], object] | None = None,
) -> IngestResult:
    records: list[Any] = read_records(raw, content_type_for(name))
    if not records:
        raise PayloadError(f"{name} holds no readings.")
    total = IngestResult(received=0, stored=0, rejected=[], not_stored=[])
    for start in range(0, len(records), MAX_READINGS_PER_REQUEST):
        chunk = records[start : start + MAX_READINGS_PER_REQUEST]
        result = ingest.ingest(validate_records(chunk, first_index=start), deadline)
        total.received += result.received
        total.stored += result.stored
        total.anomalies += result.anomalies
        total.rejected += result.rejected
        total.not_stored += result.not_stored
        if on_chunk is not None:
            on_chunk(len(chunk))
    return total


def s3_objects_in(message_body: str) -> list[tuple[str, str]]:
    """(bucket, key) of each object an S3 notification on the queue announces.

    S3's own "s3:TestEvent" (sent when the notification is configured) announces nothing, and
    keys arrive URL-encoded ("legacy/2025-02-17+drop.csv").
    """
    try:
        notification = json.loads(message_body)
    except ValueError:
        logger.error("Queue message is not an S3 notification", extra={"body": message_body[:200]})
        return []
    records = notification.get("Records", []) if isinstance(notification, dict) else []
    return [
        (record["s3"]["bucket"]["name"], unquote_plus(record["s3"]["object"]["key"]))
        for record in records
        if isinstance(record, dict) and "s3" in record
    ]


class FileNotFullyStored(Exception):
    """Raised so the queue redelivers the file's notification; re-ingesting a whole file is idempotent."""


def ingest_s3_object(ingest: IngestService, s3_client: Any, bucket: str, key: str, deadline: Deadline) -> IngestResult:
    """Ingest one dropped file; a malformed file is logged (a retry cannot fix it), a partial
    store raises so the event is retried."""
    body = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
    try:
        result = ingest_file(ingest, body, key, deadline)
    except PayloadError as error:
        logger.error("S3 file cannot be read as readings", extra={"bucket": bucket, "key": key, "reason": error.detail})
        return IngestResult(received=0, stored=0, rejected=[], not_stored=[])
    logger.info(
        "S3 file ingested",
        extra={
            "bucket": bucket,
            "key": key,
            "received": result.received,
            "stored": result.stored,
            "rejected": len(result.rejected),
            "anomalies": result.anomalies,
            "first_rejections": [rejection.to_json() for rejection in result.rejected[:10]],
        },
    )
    if result.not_stored:
        raise FileNotFullyStored(f"{len(result.not_stored)} readings of s3://{bucket}/{key} were not stored")
    return result
