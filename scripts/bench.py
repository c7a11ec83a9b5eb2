"""``make bench``: the service's Lambda handler against a naive boto3 handler, in fresh processes.

Starts the local DynamoDB server, loads 3 sites x 3,000 readings, then for each side runs fresh
Python processes that answer API Gateway events for one 1,000-item ``/records`` page:

- cold start: process start to the first answer (CPU and wall);
- warm: median CPU and wall per page over the following requests;
- peak RSS;
- DynamoDB items read (``ScannedCount``) per item returned, for that page and for one
  ``/anomalies`` walk over the same site and month.

The baseline is what a straightforward implementation does: the boto3 ``Table`` resource, a
pydantic model per item, ``json.dumps``; for anomalies, a Query of the readings filtered on
``anomaly = true`` (what the prototype's data model offers). "bare" is ``import boto3`` + a client + one Query, the
floor a cold start is judged against. Ratios are service / baseline (cold start: / bare). The
in-process cache is off for the warm figures (an identical repeated request would be a hit);
its hit cost is reported on its own line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from scripts.bench_child import PAGE, TABLE, WARM_REQUESTS
from scripts.local_dynamodb import REPO_ROOT, LocalDynamoDB, free_port, local_client

SITES = ("site_1", "site_2", "site_3")
READINGS_PER_SITE = 3000
ANOMALY_EVERY = 30
RUNS = 5
START = "2025-01-01T00:00:00Z"
SIDES = ("service", "baseline", "bare", "cached")
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
    """3 sites x 3,000 five-minute readings, written as the ingest path stores them; one in
    ``ANOMALY_EVERY`` is an anomaly (so ``/anomalies`` has something to find)."""
    from datetime import UTC, datetime, timedelta  # noqa: PLC0415
    from decimal import Decimal  # noqa: PLC0415

    from chalicelib.batch_writes import put_items  # noqa: PLC0415
    from chalicelib.detection import Anomaly  # noqa: PLC0415
    from chalicelib.ingest import mark_anomalous  # noqa: PLC0415
    from chalicelib.tables import ensure_service_tables  # noqa: PLC0415

    client = local_client(endpoint)
    ensure_service_tables(client, TABLE, f"{TABLE}Rollups", f"{TABLE}Sites", f"{TABLE}ApiKeys")
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for site in SITES:
        items = []
        for n in range(READINGS_PER_SITE):
            instant = start + timedelta(minutes=5 * n)
            generated = Decimal(str(round(40 + 30 * ((n % 288) / 288), 3)))
            item = {
                "site_id": {"S": site},
                "timestamp": {"S": instant.strftime("%Y-%m-%dT%H:%M:%SZ")},
                "energy_generated_kwh": {"N": str(generated)},
                "energy_consumed_kwh": {"N": str(round(15 + (n % 17) / 3, 3))},
                "temperature_c": {"N": str(round(10 + (n % 50) / 7, 2))},
                "humidity_percent": {"N": str(round(40 + (n % 30) / 2, 1))},
                "weather_condition": {"S": ("sunny", "cloudy", "rainy")[n % 3]},
                "anomaly": {"BOOL": False},
                "ingested_at": {"S": "2025-02-01T00:00:00.000000Z"},
            }
            if n % ANOMALY_EVERY == 0:
                score = 40 + (n // ANOMALY_EVERY) % 60
                finding = Anomaly("energy_generated_kwh", generated, None, None, None, score, "bench")
                mark_anomalous(item, instant, [finding])
            items.append(item)
        result = put_items(client, TABLE, items)
        assert not result.unwritten, "the local server dropped writes"


# --- the parent: runs, medians, the table -----------------------------------------------------


def run_side(side: str, environment: dict[str, str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "result.json"
        spawned_at = time.time()
        subprocess.run(
            [sys.executable, "-m", "scripts.bench_child", side, repr(spawned_at), str(out)],
            cwd=REPO_ROOT,
            env={**environment, "RESPONSE_CACHE_ENABLED": "true"} if side == "cached" else environment,
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
        ("  /anomalies", "anomalies_read_per_returned", "baseline", "1.0"),
    ]
    cached = median("cached", "warm_cpu_ms")
    rows_after = [
        f"{'warm CPU, in-process cache hit':<28}{cached:>10.2f}{median('baseline', 'warm_cpu_ms'):>10.2f}{'':>10}"
        f"{cached / median('baseline', 'warm_cpu_ms'):>7.2f}x  (closed window served from memory)"
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
    return lines + rows_after


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=RUNS)
    arguments = parser.parse_args(argv)
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
