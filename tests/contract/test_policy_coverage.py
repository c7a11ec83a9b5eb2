"""Least privilege that still works: every DynamoDB call a function makes is allowed by its policy.

The policies are written by hand-free generation (``scripts/deployment.py``); this test drives
each function through its routes on moto, records each DynamoDB call (operation, table, index),
and checks it against the function's generated prod policy.
"""

from __future__ import annotations

import json
from dataclasses import replace
from fnmatch import fnmatchcase
from typing import Any

import boto3
import pytest

from chalicelib.api_keys import ApiKeyStore
from chalicelib.context import current_context, use_context
from scripts.deployment import policy_document, stage_settings
from tests.conftest import ApiFactory, Backend
from tests.helpers import get

ACCOUNT_ARN = "arn:aws:dynamodb:us-east-1:123456789012"


class DynamoDBCalls:
    """(action, resource ARN) of each call a client makes, with the test's table names mapped
    to the stage's."""

    def __init__(self, client: Any, table_names: dict[str, str]) -> None:
        self.seen: set[tuple[str, str]] = set()
        self._names = table_names
        client.meta.events.register("before-parameter-build.dynamodb.*", self._record)

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        tables = [params["TableName"]] if "TableName" in params else list(params.get("RequestItems", {}))
        for table in tables:
            resource = f"{ACCOUNT_ARN}:table/{self._names[table]}"
            if "IndexName" in params:
                resource += f"/index/{params['IndexName']}"
            self.seen.add((f"dynamodb:{model.name}", resource))


def denied(calls: set[tuple[str, str]], function: str) -> set[tuple[str, str]]:
    statements = policy_document("prod", function)["Statement"]
    return {
        (action, resource)
        for action, resource in calls
        if not any(
            action in statement["Action"] and any(fnmatchcase(resource, allowed) for allowed in statement["Resource"])
            for statement in statements
        )
    }


@pytest.fixture
def stage_names(moto_backend: Backend) -> dict[str, str]:
    settings = stage_settings("prod")
    return {
        moto_backend.table_name: settings.dynamodb_table,
        moto_backend.rollups_table: settings.rollups_table,
        moto_backend.sites_table: settings.sites_table,
        moto_backend.api_keys_table: settings.api_keys_table,
    }


def readings_body() -> bytes:
    readings = [
        {"site_id": "site_1", "timestamp": f"2025-02-17T10:{minute:02d}:00Z", "energy_generated_kwh": 2.5}
        for minute in range(0, 60, 5)
    ]
    readings.append({"site_id": "site_1", "timestamp": "2025-02-17T11:00:00Z", "temperature_c": 90})
    return json.dumps(readings).encode()


def test_api_and_authorizer_calls_are_within_their_policies(
    moto_backend: Backend, make_moto_api: ApiFactory, stage_names: dict[str, str]
):
    api = make_moto_api()
    keys_client = boto3.client("dynamodb", region_name="us-east-1")
    use_context(replace(current_context(), api_keys=ApiKeyStore(keys_client, moto_backend.api_keys_table)))
    data_calls = DynamoDBCalls(moto_backend.client, stage_names)
    key_calls = DynamoDBCalls(keys_client, stage_names)

    responses = [
        api.http.post("/records", headers={"Content-Type": "application/json"}, body=readings_body()),
        get(api, "/records", site_id="site_1", start_time="2025-02-17", end_time="2025-02-17"),
        get(api, "/records", site_id="site_1", start_time="2025-02-17", end_time="2025-02-17", resolution="1h"),
        get(api, "/anomalies", site_id="site_1"),
        get(api, "/anomalies", site_id="site_1", min_severity="high"),
        get(api, "/sites"),
        get(api, "/sites/site_1/summary", as_of="2025-02-17T12:00:00Z"),
        get(api, "/health"),
    ]

    assert [response.status_code for response in responses] == [200] * len(responses)
    assert {action for action, _ in data_calls.seen} >= {"dynamodb:Query", "dynamodb:BatchWriteItem"}
    assert denied(data_calls.seen, "api_handler") == set()
    assert key_calls.seen == {("dynamodb:GetItem", f"{ACCOUNT_ARN}:table/{stage_settings('prod').api_keys_table}")}
    assert denied(key_calls.seen, "api_key_authorizer") == set()


def test_ingest_function_calls_are_within_its_policy(
    moto_backend: Backend, make_moto_api: ApiFactory, stage_names: dict[str, str]
):
    api = make_moto_api()
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="drops")
    s3.put_object(Bucket="drops", Key="drop.json", Body=readings_body())
    calls = DynamoDBCalls(moto_backend.client, stage_names)
    notification = {"Records": [{"s3": {"bucket": {"name": "drops"}, "object": {"key": "drop.json"}}}]}

    api.lambda_.invoke(
        "ingest_s3_file", api.events.generate_sqs_event(message_bodies=[json.dumps(notification)], queue_name="q")
    )

    assert "dynamodb:BatchWriteItem" in {action for action, _ in calls.seen}
    assert denied(calls.seen, "ingest_s3_file") == set()


def test_a_call_outside_the_policy_is_reported():
    calls = {("dynamodb:DeleteTable", f"{ACCOUNT_ARN}:table/EnergyMetrics")}

    assert denied(calls, "api_handler") == calls
