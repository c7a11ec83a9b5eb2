"""``make bench``: the service's Lambda handler against a naive boto3 handler, in fresh processes.

Starts the local DynamoDB server, loads 3 sites x 3,000 readings, then for each side runs fresh
Python processes that answer API Gateway events for one 1,000-item ``/records`` page:

- cold start: process start to the first answer (CPU and wall);
- warm: median CPU and wall per page over the following requests;
- peak RSS;
- DynamoDB items read (``ScannedCount``) per item returned.

The baseline is what a straightforward implementation does: the boto3 ``Table`` resource, a
pydantic model per item, ``json.dumps``. "bare" is ``import boto3`` + a client + one Query, the
floor a cold start is judged against. Ratios are service / baseline (cold start: / bare). The
in-process cache is off for the warm figures (an identical repeated request would be a hit);
its hit cost is reported on its own line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from scripts.local_dynamodb import REPO_ROOT, LocalDynamoDB, free_port, local_client

SITES = ("site_1", "site_2", "site_3")
READINGS_PER_SITE = 3000
PAGE = 1000
WARM_REQUESTS = 31
RUNS = 3
TABLE = "EnergyMetricsBench"
START = "2025-01-01T00:00:00Z"
QUERY = {"site_id": "site_1", "start_time": "2025-01-01", "end_time": "2025-01-31", "limit": str(PAGE)}
SIDES = ("service", "baseline", "bare")
TARGETS = {"warm_cpu_ms": 0.35, "cold_cpu_ms": 1.2, "peak_rss_mb": None, "items_read_per_returned": None}


def _environment(endpoint: str) -> dict[str, str]:
    return {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        "STAGE": "dev",
        "PAGE_TOKEN_SECRET": "bench-page-token-secret-bench-page-token-secret",
        "DYNAMODB_TABLE": TABLE,
        "ROLLUPS_TABLE": f"{TABLE}Rollups",
        "SITES_TABLE": f"{TABLE}Sites",
        "API_KEYS_TABLE": f"{TABLE}ApiKeys",
        "POWERTOOLS_SERVICE_NAME": "energy-metrics-api",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "EnergyMetricsBench",
        "RESPONSE_CACHE_ENABLED": "false",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def load_data(endpoint: str) -> None:
    """3 sites x 3,000 five-minute readings, written as the ingest path stores them."""
    from datetime import UTC, datetime, timedelta  # noqa: PLC0415

    from chalicelib.batch_writes import put_items  # noqa: PLC0415
    from chalicelib.tables import ensure_service_tables  # noqa: PLC0415

    client = local_client(endpoint)
    ensure_service_tables(client, TABLE, f"{TABLE}Rollups", f"{TABLE}Sites", f"{TABLE}ApiKeys")
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for site in SITES:
        items = [
            {
                "site_id": {"S": site},
                "timestamp": {"S": (start + timedelta(minutes=5 * n)).strftime("%Y-%m-%dT%H:%M:%SZ")},
                "energy_generated_kwh": {"N": str(round(40 + 30 * ((n % 288) / 288), 3))},
                "energy_consumed_kwh": {"N": str(round(15 + (n % 17) / 3, 3))},
                "temperature_c": {"N": str(round(10 + (n % 50) / 7, 2))},
                "humidity_percent": {"N": str(round(40 + (n % 30) / 2, 1))},
                "weather_condition": {"S": ("sunny", "cloudy", "rainy")[n % 3]},
                "anomaly": {"BOOL": False},
                "ingested_at": {"S": "2025-02-01T00:00:00.000000Z"},
            }
            for n in range(READINGS_PER_SITE)
        ]
        result = put_items(client, TABLE, items)
        assert not result.unwritten, "the local server dropped writes"


# --- child processes -------------------------------------------------------------------------


class _LambdaContext:
    function_name = "energy-metrics-api-bench"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:energy-metrics-api-bench"
    aws_request_id = "bench"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 25_000


def api_gateway_event() -> dict[str, Any]:
    """The proxy event API Gateway sends after the authorizer allowed an all-sites read key."""
    return {
        "resource": "/records",
        "path": "/records",
        "httpMethod": "GET",
        "headers": {"Accept": "application/json", "Host": "bench.execute-api.us-east-1.amazonaws.com"},
        "multiValueHeaders": {"Accept": ["application/json"]},
        "queryStringParameters": dict(QUERY),
        "multiValueQueryStringParameters": {name: [value] for name, value in QUERY.items()},
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/records",
            "httpMethod": "GET",
            "path": "/api/records",
            "stage": "api",
            "requestId": "bench-request",
            "identity": {"sourceIp": "127.0.0.1"},
            "authorizer": {"principalId": "bench", "scopes": "read", "sites": '["*"]'},
        },
        "body": None,
        "isBase64Encoded": False,
    }


def _service() -> tuple[Callable[[], str], Callable[[], Any]]:
    from app import app  # noqa: PLC0415 - the import is part of the cold start being measured
    from chalicelib.context import current_context  # noqa: PLC0415

    event, context = api_gateway_event(), _LambdaContext()

    def invoke() -> str:
        response = app(event, context)
        assert response["statusCode"] == 200, response
        body: str = response["body"]
        return body

    def client() -> Any:
        return current_context().store._client

    return invoke, client


def _baseline() -> tuple[Callable[[], str], Callable[[], Any]]:
    import boto3  # noqa: PLC0415
    from boto3.dynamodb.conditions import Key  # noqa: PLC0415
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
    event, context = api_gateway_event(), _LambdaContext()

    def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        parameters = event["queryStringParameters"]
        response = table.query(
            KeyConditionExpression=Key("site_id").eq(parameters["site_id"])
            & Key("timestamp").between(parameters["start_time"], parameters["end_time"] + "T23:59:59Z"),
            Limit=int(parameters["limit"]),
        )
        items = [Reading.model_validate(item).model_dump(mode="json") for item in response["Items"]]
        return {"statusCode": 200, "body": json.dumps({"items": items, "count": len(items)})}

    def invoke() -> str:
        body: str = handler(event, context)["body"]
        return body

    return invoke, lambda: table.meta.client


def _bare() -> tuple[Callable[[], str], Callable[[], Any]]:
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

    return invoke, lambda: client


def child(side: str, spawned_at: float, out: Path) -> None:
    invoke, client_of = {"service": _service, "baseline": _baseline, "bare": _bare}[side]()
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
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["returned"] = returned
    out.write_text(json.dumps(result))


# --- the parent: runs, medians, the table -----------------------------------------------------


def run_side(side: str, environment: dict[str, str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "result.json"
        spawned_at = time.time()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "scripts.bench",
                "--child",
                side,
                "--spawned-at",
                repr(spawned_at),
                "--out",
                str(out),
            ],
            cwd=REPO_ROOT,
            env=environment,
            check=True,
            stdout=subprocess.DEVNULL,  # the service's per-request log lines cost what they cost in Lambda
        )
        result: dict[str, Any] = json.loads(out.read_text())
        return result


def summarise(runs: dict[str, list[dict[str, Any]]]) -> list[str]:
    def median(side: str, metric: str) -> float:
        return float(statistics.median(run[metric] for run in runs[side]))

    def spread(side: str, metric: str) -> str:
        values = [run[metric] for run in runs[side]]
        return f"{min(values):.1f}-{max(values):.1f}"

    lines = [
        f"{'metric':<28}{'service':>10}{'baseline':>10}{'bare':>10}{'ratio':>8}  target   runs (service min-max)",
    ]
    rows = [
        ("cold start CPU (ms)", "cold_cpu_ms", "bare", "<= 1.2x bare"),
        ("cold start wall (ms)", "cold_wall_ms", "bare", ""),
        ("warm CPU per page (ms)", "warm_cpu_ms", "baseline", "<= 0.35x"),
        ("warm wall per page (ms)", "warm_wall_ms", "baseline", ""),
        ("peak RSS (MB)", "peak_rss_mb", "baseline", "<= 100 MB"),
        ("items read / returned", "items_read_per_returned", "baseline", "1.0"),
    ]
    for label, metric, against, target in rows:
        service = median("service", metric)
        baseline = median("baseline", metric) if metric in runs["baseline"][0] else float("nan")
        bare = median("bare", metric) if metric in runs["bare"][0] else float("nan")
        reference = bare if against == "bare" else baseline
        lines.append(
            f"{label:<28}{service:>10.2f}{baseline:>10.2f}{bare:>10.2f}{service / reference:>7.2f}x"
            f"  {target:<8} {spread('service', metric)}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", choices=SIDES)
    parser.add_argument("--spawned-at", type=float)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--runs", type=int, default=RUNS)
    arguments = parser.parse_args(argv)
    if arguments.child:
        child(arguments.child, arguments.spawned_at, arguments.out)
        return 0
    with LocalDynamoDB(free_port()) as server:
        print(f"loading {len(SITES)} sites x {READINGS_PER_SITE} readings into {server.endpoint_url} ...", flush=True)
        load_data(server.endpoint_url)
        environment = _environment(server.endpoint_url)
        runs: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
        for run in range(arguments.runs):
            for side in SIDES:
                runs[side].append(run_side(side, environment))
            print(f"  run {run + 1}/{arguments.runs} done", flush=True)
    for side in SIDES:
        assert all(result["returned"] == PAGE for result in runs[side]), f"{side} did not return {PAGE} items"
    print(
        f"\n/records, {PAGE}-item page, {WARM_REQUESTS} warm requests per process, {arguments.runs} fresh "
        "processes per side (medians)\n"
    )
    print("\n".join(summarise(runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
