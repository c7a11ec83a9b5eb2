"""DynamoDB access for readings: Query requests only, and AWS errors translated at this boundary.

The store speaks DynamoDB's wire types and knows nothing of HTTP; callers get pages of raw
items plus the key to continue from, or a domain error (never a ``ClientError``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import IndexUnavailable, StoreUnavailable
from chalicelib.observability import THROTTLING_CODES
from chalicelib.settings import SERVICE_NAME
from chalicelib.tables import (
    ANOMALY_FLAG,
    ANOMALY_INDEX,
    ANOMALY_METRICS,
    ANOMALY_SEVERITY,
    SITE_ID,
    TIMESTAMP,
    IndexDefinition,
)
from chalicelib.timestamps import TimeRange

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

logger = Logger(service=SERVICE_NAME, child=True)

RawItem = dict[str, Any]

# Error codes meaning "try again later": capacity, AWS-side faults, or a table not ready yet.
_RETRYABLE_CODES = THROTTLING_CODES | frozenset(
    {
        "InternalServerError",
        "ServiceUnavailable",
        "ResourceNotFoundException",
        "ResourceInUseException",
        "TransactionInProgressException",
    }
)


@dataclass(frozen=True)
class SortKeyCondition:
    """Which sort attribute to range over, and the inclusive string bounds (``None`` = open)."""

    attribute: str
    lower: str | None = None
    upper: str | None = None


@dataclass(frozen=True)
class PartitionQuery:
    """One DynamoDB Query over a site's partition, on the table or the anomaly index."""

    site_id: str
    sort_key: SortKeyCondition
    ascending: bool = True
    limit: int = 100
    exclusive_start_key: dict[str, str] | None = None
    projection: tuple[str, ...] | None = None
    index: IndexDefinition | None = None
    only_anomalies: bool = False
    anomaly_metric: str | None = None
    severities: tuple[str, ...] | None = None


@dataclass
class QueryPage:
    items: list[RawItem]
    last_evaluated_key: dict[str, str] | None


class ReadingStore:
    def __init__(self, client: DynamoDBClient, table_name: str, retry_after_seconds: int = 2) -> None:
        self._client = client
        self.table_name = table_name
        self._retry_after_seconds = retry_after_seconds

    def query(self, request: PartitionQuery) -> QueryPage:
        with translate_errors(self._retry_after_seconds, index_query=request.index is not None):
            response = self._client.query(**self._query_arguments(request))
        return QueryPage(
            items=response.get("Items", []),
            last_evaluated_key=_flatten_key(response.get("LastEvaluatedKey")),
        )

    def read_range(
        self,
        site_id: str,
        time_range: TimeRange,
        *,
        consistent: bool = False,
        projection: tuple[str, ...] | None = None,
    ) -> list[RawItem]:
        """Every reading of a site whose instant lies in the range (all DynamoDB pages)."""
        lower, upper = time_range.sort_key_bounds()
        arguments = self._query_arguments(
            PartitionQuery(site_id, SortKeyCondition(TIMESTAMP, lower, upper), limit=1000, projection=projection)
        )
        arguments["ConsistentRead"] = consistent
        items: list[RawItem] = []
        for response in query_pages(self._client, arguments, self._retry_after_seconds):
            items += [
                item
                for item in response.get("Items", [])
                if time_range.holds_stored(item[TIMESTAMP]["S"], if_unparseable=False)
            ]
        return items

    def count(self, request: PartitionQuery) -> int:
        """How many items a Query matches, without returning them."""
        arguments = self._query_arguments(request)
        arguments.pop("Limit")
        arguments["Select"] = "COUNT"
        pages = query_pages(self._client, arguments, self._retry_after_seconds, index_query=request.index is not None)
        return sum(response.get("Count", 0) for response in pages)

    def describe(self) -> dict[str, str]:
        """Table and anomaly-index status, for health checks."""
        with translate_errors(self._retry_after_seconds):
            table = self._client.describe_table(TableName=self.table_name)["Table"]
        indexes = {
            index["IndexName"]: index.get("IndexStatus", "UNKNOWN") for index in table.get("GlobalSecondaryIndexes", [])
        }
        return {
            "table_status": table.get("TableStatus", "UNKNOWN"),
            "anomaly_index_status": indexes.get(ANOMALY_INDEX.name, "MISSING"),
        }

    def _query_arguments(self, request: PartitionQuery) -> dict[str, Any]:
        names = {"#pk": SITE_ID}
        values: dict[str, Any] = {":pk": {"S": request.site_id}}
        condition = "#pk = :pk"
        lower, upper = request.sort_key.lower, request.sort_key.upper
        if lower is not None or upper is not None:
            names["#sk"] = request.sort_key.attribute
        if lower is not None and upper is not None:
            condition += " AND #sk BETWEEN :lower AND :upper"
            values[":lower"], values[":upper"] = {"S": lower}, {"S": upper}
        elif lower is not None:
            condition += " AND #sk >= :lower"
            values[":lower"] = {"S": lower}
        elif upper is not None:
            condition += " AND #sk <= :upper"
            values[":upper"] = {"S": upper}
        arguments: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": condition,
            "ScanIndexForward": request.ascending,
            "Limit": request.limit,
        }
        if request.index is not None:
            arguments["IndexName"] = request.index.name
        filters = _filters(request, names, values)
        if filters:
            arguments["FilterExpression"] = " AND ".join(filters)
        if request.projection is not None:
            key_attributes = (
                (SITE_ID, TIMESTAMP) if request.index is None else (SITE_ID, TIMESTAMP, request.index.sort_key)
            )
            projected = dict.fromkeys((*key_attributes, *request.projection))
            placeholders = []
            for position, name in enumerate(projected):
                names[f"#p{position}"] = name
                placeholders.append(f"#p{position}")
            arguments["ProjectionExpression"] = ", ".join(placeholders)
        if request.exclusive_start_key is not None:
            arguments["ExclusiveStartKey"] = {
                SITE_ID: {"S": request.site_id},
                **{name: {"S": value} for name, value in request.exclusive_start_key.items()},
            }
        arguments["ExpressionAttributeNames"] = names
        arguments["ExpressionAttributeValues"] = values
        return arguments


def query_pages(
    client: Any, arguments: dict[str, Any], retry_after_seconds: int, *, index_query: bool = False
) -> Iterator[dict[str, Any]]:
    """Every response of one Query, following ``LastEvaluatedKey`` to the end."""
    arguments = dict(arguments)
    while True:
        with translate_errors(retry_after_seconds, index_query=index_query):
            response: dict[str, Any] = client.query(**arguments)
        yield response
        if "LastEvaluatedKey" not in response:
            return
        arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def _filters(request: PartitionQuery, names: dict[str, str], values: dict[str, Any]) -> list[str]:
    """Filter conditions; each is used only where no index can answer the question."""
    filters = []
    if request.only_anomalies:
        # Only used when the sparse index is unavailable: reads and discards normal readings.
        names["#anomaly"] = ANOMALY_FLAG
        values[":true"] = {"BOOL": True}
        filters.append("#anomaly = :true")
    if request.severities is not None:
        names["#severity"] = ANOMALY_SEVERITY
        for number, severity in enumerate(request.severities):
            values[f":sev{number}"] = {"S": severity}
        filters.append(f"#severity IN ({', '.join(f':sev{n}' for n in range(len(request.severities)))})")
    if request.anomaly_metric is not None:
        # No index per metric: among anomalies only, keep those that name this metric.
        names["#metrics"] = ANOMALY_METRICS
        values[":metric"] = {"S": request.anomaly_metric}
        filters.append("contains(#metrics, :metric)")
    return filters


def _flatten_key(key: dict[str, Any] | None) -> dict[str, str] | None:
    """A LastEvaluatedKey without the partition: the site always comes from the request."""
    if not key:
        return None
    return {name: value["S"] for name, value in key.items() if name != SITE_ID}


@contextmanager
def translate_errors(retry_after_seconds: int, *, index_query: bool = False) -> Iterator[None]:
    """Turn botocore failures into domain errors; AWS error text never reaches a client."""
    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        message = error.response.get("Error", {}).get("Message", "")
        # AWS says ValidationException (missing or still-backfilling index); moto says ResourceNotFound.
        if index_query and code in ("ValidationException", "ResourceNotFoundException") and "index" in message.lower():
            raise IndexUnavailable(message) from error
        if code in _RETRYABLE_CODES:
            logger.warning("DynamoDB unavailable", extra={"error_code": code})
            raise StoreUnavailable(retry_after_seconds) from error
        raise
    except BotoCoreError as error:
        logger.warning("DynamoDB unreachable", extra={"error_type": type(error).__name__})
        raise StoreUnavailable(retry_after_seconds) from error
