"""Files of readings: the S3 handler (old pipeline drops) and the local `make ingest` path."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from chalicelib.context import current_context, s3_client
from chalicelib.file_ingest import FileNotFullyStored, content_type_for, ingest_file, ingest_s3_object, s3_objects_in
from chalicelib.ingest import Deadline
from tests.conftest import Backend
from tests.contract.test_ingest import NeverProcessing
from tests.helpers import get

BUCKET = "energy-metrics-ingest-local"


def readings(count: int, start_minute: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "site_id": "site_1",
            "timestamp": f"2025-02-17T{(start_minute + 5 * n) // 60:02d}:{(start_minute + 5 * n) % 60:02d}:00Z",
            "energy_generated_kwh": 1.5,
        }
        for n in range(count)
    ]


def stored_count(api) -> int:
    count: int = get(
        api, "/records", site_id="site_1", start_time="2025-02-17", end_time="2025-02-17", limit=1000
    ).json_body["count"]
    return count


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("drop.json", "application/json"),
        ("drop.NDJSON", "application/x-ndjson"),
        ("a.jsonl", "application/x-ndjson"),
        ("b.csv", "text/csv"),
    ],
)
def test_file_type_follows_its_name(name: str, content_type: str):
    assert content_type_for(name) == content_type


def test_a_file_larger_than_one_request_is_ingested_in_chunks(backend: Backend, api):
    body = json.dumps([*readings(250), {"site_id": "site_1", "timestamp": "nope"}]).encode()
    chunks: list[int] = []

    result = ingest_file(current_context().ingest, body, "drop.json", Deadline(60), on_chunk=chunks.append)

    assert (result.received, result.stored, [r.index for r in result.rejected]) == (251, 250, [250])
    assert stored_count(api) == 250


def test_s3_drop_is_ingested_through_the_same_path(moto_backend: Backend, make_moto_api):
    api = make_moto_api()
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    csv_body = "site_id,timestamp,energy_generated_kwh,temperature_c\n" + "".join(
        f"site_1,2025-02-17T10:{minute:02d}:00Z,2.5,{70 if minute == 5 else 20}\n" for minute in range(0, 30, 5)
    )
    s3.put_object(Bucket=BUCKET, Key="legacy/2025-02-17 drop.csv", Body=csv_body.encode())
    notification = {"Records": [{"s3": {"bucket": {"name": BUCKET}, "object": {"key": "legacy/2025-02-17+drop.csv"}}}]}
    event = api.events.generate_sqs_event(message_bodies=[json.dumps(notification)], queue_name="ingest")

    api.lambda_.invoke("ingest_s3_file", event)

    assert stored_count(api) == 6
    assert get(api, "/anomalies", site_id="site_1").json_body["count"] == 1


def test_s3_drop_not_fully_stored_fails_so_lambda_retries(moto_backend: Backend, make_moto_api):
    make_moto_api(client=NeverProcessing(moto_backend.client))
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="drop.json", Body=json.dumps(readings(3)).encode())

    with pytest.raises(FileNotFullyStored):
        ingest_dropped_file("drop.json")


def ingest_dropped_file(key: str) -> None:
    """What the S3 handler does, called directly to observe what it raises."""
    ingest_s3_object(current_context().ingest, s3_client(), BUCKET, key, Deadline(0.5))


def test_unreadable_s3_drop_is_logged_not_retried(moto_backend: Backend, make_moto_api, caplog):
    make_moto_api()
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="broken.json", Body=b"[{")

    ingest_dropped_file("broken.json")  # returns normally: a retry could not fix the file

    assert any(record.getMessage() == "S3 file cannot be read as readings" for record in caplog.records)


@pytest.mark.parametrize(
    "body",
    [
        '{"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "energy-metrics-ingest-local"}',
        "not json",
        "[1, 2]",
    ],
)
def test_queue_messages_announcing_no_object_ingest_nothing(body: str):
    assert s3_objects_in(body) == []


def test_queue_message_names_each_announced_object_with_its_key_decoded():
    notification = {
        "Records": [
            {"s3": {"bucket": {"name": "drops"}, "object": {"key": "a/b+c%2Bd.csv"}}},
            {"s3": {"bucket": {"name": "drops"}, "object": {"key": "e.json"}}},
        ]
    }

    assert s3_objects_in(json.dumps(notification)) == [("drops", "a/b c+d.csv"), ("drops", "e.json")]
