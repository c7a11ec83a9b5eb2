"""The single table definition: creating tables, adding a missing index, and idempotence."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib.tables import READINGS_TABLE, ensure_table, protect_table

ALL_INDEXES = [index.name for index in READINGS_TABLE.indexes]


@pytest.fixture
def client() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("dynamodb", region_name="us-east-1")


def index_names(client: Any, table: str) -> list[str]:
    description = client.describe_table(TableName=table)["Table"]
    return [index["IndexName"] for index in description.get("GlobalSecondaryIndexes", [])]


def test_create_request_keeps_the_existing_key_schema():
    request = READINGS_TABLE.create_table_request("EnergyMetrics")

    assert request["KeySchema"] == [
        {"AttributeName": "site_id", "KeyType": "HASH"},
        {"AttributeName": "timestamp", "KeyType": "RANGE"},
    ]
    assert request["GlobalSecondaryIndexes"][0]["KeySchema"] == [
        {"AttributeName": "site_id", "KeyType": "HASH"},
        {"AttributeName": "anomaly_at", "KeyType": "RANGE"},
    ]


def test_missing_table_is_created_with_the_anomaly_indexes(client: Any):
    actions = ensure_table(client, "EnergyMetrics")

    assert actions == ["created table EnergyMetrics"]
    assert index_names(client, "EnergyMetrics") == ALL_INDEXES


def test_existing_table_without_index_gets_it_added(client: Any):
    ensure_table(client, "EnergyMetrics", with_indexes=False)

    actions = ensure_table(client, "EnergyMetrics")

    assert actions == [f"started building index {name} on EnergyMetrics" for name in ALL_INDEXES]
    assert index_names(client, "EnergyMetrics") == ALL_INDEXES


def test_provisioned_table_gets_index_throughput(client: Any):
    client.create_table(
        TableName="Provisioned",
        KeySchema=[{"AttributeName": "site_id", "KeyType": "HASH"}, {"AttributeName": "timestamp", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "site_id", "AttributeType": "S"},
            {"AttributeName": "timestamp", "AttributeType": "S"},
        ],
        ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
    )

    ensure_table(client, "Provisioned")

    index = client.describe_table(TableName="Provisioned")["Table"]["GlobalSecondaryIndexes"][0]
    assert index["ProvisionedThroughput"]["ReadCapacityUnits"] == 5


def test_second_run_changes_nothing(client: Any):
    ensure_table(client, "EnergyMetrics")

    assert ensure_table(client, "EnergyMetrics") == []


def test_protect_table_turns_on_recovery_and_deletion_protection(client: Any):
    ensure_table(client, "EnergyMetrics")

    protect_table(client, "EnergyMetrics")
    protect_table(client, "EnergyMetrics")  # a second run is harmless

    backups = client.describe_continuous_backups(TableName="EnergyMetrics")["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    assert client.describe_table(TableName="EnergyMetrics")["Table"]["DeletionProtectionEnabled"] is True
