"""One measured process of ``make bench`` (see ``scripts/bench.py``).

Imports nothing at module level beyond the standard library, so that what a side imports is
what its cold start pays for.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

PAGE = 1000
WARM_REQUESTS = 31
TABLE = "EnergyMetricsBench"
QUERY = {"site_id": "site_1", "start_time": "2025-01-01", "end_time": "2025-01-31", "limit": str(PAGE)}
# Exactly one page (readings 1..1000 of the month): no next_token, so the in-process cache may keep it.
ONE_PAGE_QUERY = {**QUERY, "start_time": "2025-01-01T00:00:00Z", "end_time": "2025-01-04T11:15:00Z"}


class Side(NamedTuple):
    """What a bench side does: answer the ``/records`` page (its JSON body), find the
    ``/anomalies`` of the same site and month (how many), and expose its DynamoDB client."""

    records: Callable[[], str]
    anomalies: Callable[[], int] | None
    client: Callable[[], Any]


class LambdaContext:
    function_name = "energy-metrics-api-bench"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:energy-metrics-api-bench"
    aws_request_id = "bench"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 25_000


def api_gateway_event(path: str = "/records", query: dict[str, str] = QUERY) -> dict[str, Any]:
    """The proxy event API Gateway sends after the authorizer allowed an all-sites read key."""
    return {
        "resource": path,
        "path": path,
        "httpMethod": "GET",
        "headers": {"Accept": "application/json", "Host": "bench.execute-api.us-east-1.amazonaws.com"},
        "multiValueHeaders": {"Accept": ["application/json"]},
        "queryStringParameters": dict(query),
        "multiValueQueryStringParameters": {name: [value] for name, value in query.items()},
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": "GET",
            "path": f"/api{path}",
            "stage": "api",
            "requestId": "bench-request",
            "identity": {"sourceIp": "127.0.0.1"},
            "authorizer": {"principalId": "bench", "scopes": "read", "sites": '["*"]'},
        },
        "body": None,
        "isBase64Encoded": False,
    }


def _service(query: dict[str, str] = QUERY) -> Side:
    from app import app  # noqa: PLC0415 - the import is part of the cold start being measured
    from chalicelib.context import current_context  # noqa: PLC0415

    event, context = api_gateway_event(query=query), LambdaContext()

    def invoke() -> str:
        response = app(event, context)
        assert response["statusCode"] == 200, response
        body: str = response["body"]
        return body

    def anomalies() -> int:
        response = app(api_gateway_event("/anomalies"), context)
        assert response["statusCode"] == 200, response
        page = json.loads(response["body"])
        assert page["next_token"] is None, "one page holds the month's anomalies"
        return len(page["items"])

    def client() -> Any:
        return current_context().store._client

    return Side(invoke, anomalies, client)


def _baseline() -> Side:
    import boto3  # noqa: PLC0415
    from boto3.dynamodb.conditions import Attr, Key  # noqa: PLC0415
    from pydantic import BaseModel  # noqa: PLC0415

    class Reading(BaseModel):
        site_id: str
        timestamp: str
        energy_generated_kwh: Decimal | None = None
        energy_consumed_kwh: Decimal | None = None
        temperature_c: Decimal | None = None
        humidity_percent: Decimal | None = None
        weather_condition: str | None = None
        anomaly: bool = False

    table = boto3.resource("dynamodb").Table(TABLE)
    event, context = api_gateway_event(), LambdaContext()

    def key_range(parameters: dict[str, str]) -> Any:
        return Key("site_id").eq(parameters["site_id"]) & Key("timestamp").between(
            parameters["start_time"], parameters["end_time"] + "T23:59:59Z"
        )

    def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        parameters = event["queryStringParameters"]
        response = table.query(KeyConditionExpression=key_range(parameters), Limit=int(parameters["limit"]))
        items = [Reading.model_validate(item).model_dump(mode="json") for item in response["Items"]]
        return {"statusCode": 200, "body": json.dumps({"items": items, "count": len(items)})}

    def invoke() -> str:
        body: str = handler(event, context)["body"]
        return body

    def anomalies() -> int:
        found, start_key = 0, None
        while True:
            extra: dict[str, Any] = {"ExclusiveStartKey": start_key} if start_key else {}
            response = table.query(
                KeyConditionExpression=key_range(QUERY), FilterExpression=Attr("anomaly").eq(True), **extra
            )
            found += len(response["Items"])
            start_key = response.get("LastEvaluatedKey")
            if not start_key:
                return found

    return Side(invoke, anomalies, lambda: table.meta.client)


def _bare() -> Side:
    import boto3  # noqa: PLC0415

    client = boto3.client("dynamodb")

    def invoke() -> str:
        response = client.query(
            TableName=TABLE,
            KeyConditionExpression="site_id = :site",
            ExpressionAttributeValues={":site": {"S": QUERY["site_id"]}},
            Limit=PAGE,
        )
        return json.dumps({"items": [None] * len(response["Items"])})

    return Side(invoke, None, lambda: client)


def peak_rss_mb() -> float:
    """This process's own resident-set high-water mark. ``getrusage``'s ``ru_maxrss`` is no use
    here: Linux carries the parent's peak across fork and exec, so every child would report at
    least the bench parent's size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def child(side: str, spawned_at: float, out: Path) -> None:
    sides: dict[str, Callable[[], Side]] = {
        "service": _service,
        "cached": lambda: _service(ONE_PAGE_QUERY),
        "baseline": _baseline,
        "bare": _bare,
    }
    invoke, anomalies, client_of = sides[side]()
    first_body = invoke()
    cold_cpu, cold_wall = time.process_time(), time.time() - spawned_at
    returned = len(json.loads(first_body)["items"])
    result: dict[str, Any] = {"cold_cpu_ms": cold_cpu * 1000, "cold_wall_ms": cold_wall * 1000}
    if side != "bare":
        scanned: list[int] = []
        client_of().meta.events.register(
            "after-call.dynamodb.Query", lambda parsed, **_: scanned.append(parsed.get("ScannedCount", 0))
        )
        cpu, wall, bodies = [], [], []
        for _ in range(WARM_REQUESTS):
            cpu_start, wall_start = time.process_time(), time.perf_counter()
            bodies.append(invoke())
            cpu.append((time.process_time() - cpu_start) * 1000)
            wall.append((time.perf_counter() - wall_start) * 1000)
        total_returned = sum(len(json.loads(body)["items"]) for body in bodies)
        result |= {
            "warm_cpu_ms": statistics.median(cpu),
            "warm_wall_ms": statistics.median(wall),
            "items_read_per_returned": sum(scanned) / total_returned,
        }
    if anomalies is not None:
        scanned.clear()
        found = anomalies()
        assert found > 0, "the bench data holds anomalies"
        result["anomalies_read_per_returned"] = sum(scanned) / found
    result["peak_rss_mb"] = peak_rss_mb()
    result["returned"] = returned
    out.write_text(json.dumps(result))


if __name__ == "__main__":
    child(sys.argv[1], float(sys.argv[2]), Path(sys.argv[3]))
