"""The one definition of every DynamoDB table and index, used by local setup, tests and deploys.

The readings table is the existing ``EnergyMetrics`` layout, unchanged. Anomalies are served
from a *sparse* global secondary index: only anomalous items carry ``anomaly_at``, so the
index holds nothing else and a Query on it reads no item it would throw away.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

SITE_ID = "site_id"
TIMESTAMP = "timestamp"
ANOMALY_FLAG = "anomaly"
ANOMALY_AT = "anomaly_at"
ANOMALY_SEVERITY = "anomaly_severity"
ANOMALY_METRICS = "anomaly_metrics"


@dataclass(frozen=True)
class IndexDefinition:
    name: str
    partition_key: str
    sort_key: str

    def key_schema(self) -> list[dict[str, str]]:
        return [
            {"AttributeName": self.partition_key, "KeyType": "HASH"},
            {"AttributeName": self.sort_key, "KeyType": "RANGE"},
        ]

    def create_request(self, provisioned: bool) -> dict[str, Any]:
        """The GSI block for CreateTable/UpdateTable; throughput only on provisioned tables."""
        request: dict[str, Any] = {
            "IndexName": self.name,
            "KeySchema": self.key_schema(),
            "Projection": {"ProjectionType": "ALL"},
        }
        if provisioned:
            request["ProvisionedThroughput"] = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        return request


@dataclass(frozen=True)
class TableDefinition:
    partition_key: str
    sort_key: str
    indexes: tuple[IndexDefinition, ...]

    def attribute_definitions(self) -> list[dict[str, str]]:
        names = [self.partition_key, self.sort_key]
        for index in self.indexes:
            names += [index.partition_key, index.sort_key]
        return [{"AttributeName": name, "AttributeType": "S"} for name in dict.fromkeys(names)]

    def create_table_request(self, table_name: str) -> dict[str, Any]:
        request: dict[str, Any] = {
            "TableName": table_name,
            "KeySchema": [
                {"AttributeName": self.partition_key, "KeyType": "HASH"},
                {"AttributeName": self.sort_key, "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": self.attribute_definitions(),
            "BillingMode": "PAY_PER_REQUEST",
        }
        if self.indexes:
            request["GlobalSecondaryIndexes"] = [index.create_request(provisioned=False) for index in self.indexes]
        return request


ANOMALY_INDEX = IndexDefinition(name="anomalies-by-site", partition_key=SITE_ID, sort_key=ANOMALY_AT)
# One more sparse index per severity threshold: ``anomaly_at_high_up`` exists only on anomalies
# of severity high or critical, so ``min_severity=high`` is a Query that reads nothing it drops.
SEVERITY_LEVELS = ("low", "medium", "high", "critical")
SEVERITY_INDEXES = {
    severity: IndexDefinition(
        name=f"anomalies-{severity}-up-by-site", partition_key=SITE_ID, sort_key=f"{ANOMALY_AT}_{severity}_up"
    )
    for severity in SEVERITY_LEVELS[1:]
}
READINGS_TABLE = TableDefinition(
    partition_key=SITE_ID, sort_key=TIMESTAMP, indexes=(ANOMALY_INDEX, *SEVERITY_INDEXES.values())
)


def anomaly_index_for(min_severity: str | None) -> IndexDefinition:
    """The smallest sparse index holding every anomaly at or above ``min_severity``."""
    return SEVERITY_INDEXES.get(min_severity or "low", ANOMALY_INDEX)


# Hourly and daily aggregates: one partition per site and resolution ("site_1#1h"), sorted by bucket.
ROLLUPS_TABLE = TableDefinition(partition_key="series", sort_key="bucket_start", indexes=())
# The site registry: one partition ("sites") sorted by site id, so listing sites is a Query.
SITES_TABLE = TableDefinition(partition_key="registry", sort_key=SITE_ID, indexes=())
# API keys: one partition ("api-keys") sorted by the key's public id; only hashes are stored.
API_KEYS_TABLE = TableDefinition(partition_key="registry", sort_key="key_id", indexes=())


def ensure_table(
    client: DynamoDBClient,
    table_name: str,
    definition: TableDefinition = READINGS_TABLE,
    *,
    with_indexes: bool = True,
    wait_seconds: float = 60.0,
) -> list[str]:
    """Create the table, or add the indexes an existing table lacks; returns what was done.

    Safe to run against a production table: it never changes keys or existing indexes.
    """
    actions: list[str] = []
    try:
        description = client.describe_table(TableName=table_name)["Table"]
    except client.exceptions.ResourceNotFoundException:
        request = definition.create_table_request(table_name)
        if not with_indexes:
            request.pop("GlobalSecondaryIndexes", None)
            request["AttributeDefinitions"] = [
                attribute
                for attribute in request["AttributeDefinitions"]
                if attribute["AttributeName"] in (definition.partition_key, definition.sort_key)
            ]
        client.create_table(**request)
        actions.append(f"created table {table_name}")
        _wait_until_active(client, table_name, wait_seconds)
        return actions
    if not with_indexes:
        return actions
    existing = {index["IndexName"] for index in description.get("GlobalSecondaryIndexes", [])}
    provisioned = description.get("BillingModeSummary", {}).get("BillingMode") != "PAY_PER_REQUEST"
    for index in definition.indexes:
        if index.name in existing:
            continue
        client.update_table(
            TableName=table_name,
            AttributeDefinitions=definition.attribute_definitions(),  # type: ignore[arg-type]
            GlobalSecondaryIndexUpdates=[{"Create": index.create_request(provisioned)}],  # type: ignore[typeddict-item]
        )
        actions.append(f"started building index {index.name} on {table_name}")
    return actions


def ensure_service_tables(client: DynamoDBClient, readings: str, rollups: str, sites: str, api_keys: str) -> list[str]:
    """Every table the service uses, with its indexes; what was created or started."""
    actions: list[str] = []
    for table_name, definition in (
        (readings, READINGS_TABLE),
        (rollups, ROLLUPS_TABLE),
        (sites, SITES_TABLE),
        (api_keys, API_KEYS_TABLE),
    ):
        actions += ensure_table(client, table_name, definition)
    return actions


def protect_table(client: DynamoDBClient, table_name: str) -> list[str]:
    """Point-in-time recovery and deletion protection on a table the stack does not own (the
    prototype's ``EnergyMetrics``, or tables ``make tables`` made), as the template gives its own."""
    client.update_continuous_backups(
        TableName=table_name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
    if not client.describe_table(TableName=table_name)["Table"].get("DeletionProtectionEnabled"):
        client.update_table(TableName=table_name, DeletionProtectionEnabled=True)
    return [f"point-in-time recovery and deletion protection on for {table_name}"]


def _wait_until_active(client: DynamoDBClient, table_name: str, wait_seconds: float) -> None:
    deadline = time.monotonic() + wait_seconds
    while client.describe_table(TableName=table_name)["Table"]["TableStatus"] != "ACTIVE":
        if time.monotonic() > deadline:
            raise TimeoutError(f"table {table_name} did not become ACTIVE in {wait_seconds:.0f}s")
        time.sleep(0.2)
