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
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from scripts.bench_child import PAGE, TABLE, WARM_REQUESTS
from scripts.local_dynamodb import REPO_ROOT, LocalDynamoDB, free_port, local_client

SITES = ("site_1", "site_2", "site_3")
READINGS_PER_SITE = 3000
ANOMALY_EVERY = 30
RUNS = 11
START = "2025-01-01T00:00:00Z"
SIDES = ("service", "baseline", "bare", "cached")


BENCH_SECRET_ID = "energy-metrics-api/bench/page-token-secret"  # noqa: S105 - a name, not a secret
BENCH_SECRET = "bench-page-token-secret-bench-page-token-secret"  # noqa: S105 - the bench's throwaway stand-in


class _SecretsManager(BaseHTTPRequestHandler):
    """Secrets Manager's ``GetSecretValue`` for the bench's one secret, so the service's cold
    start fetches its page-token secret the way it does in ``dev`` and ``prod`` (client,
    signed request, parse)."""

    def do_POST(self) -> None:
        asked = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        assert self.headers["X-Amz-Target"] == "secretsmanager.GetSecretValue", self.headers["X-Amz-Target"]
        assert asked["SecretId"] == BENCH_SECRET_ID, asked
        body = json.dumps({"Name": BENCH_SECRET_ID, "SecretString": BENCH_SECRET, "VersionId": "1"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


@contextmanager
def secrets_manager() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SecretsManager)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def _environment(endpoint: str, secrets_endpoint: str) -> dict[str, str]:
    """The ``dev`` stage's environment from ``.chalice/config.json``, pointed at the local
    DynamoDB and the stand-in Secrets Manager, with tracing off."""
    config = json.loads((REPO_ROOT / ".chalice" / "config.json").read_text())
    return {
        **{name: value for name, value in os.environ.items() if name != "PAGE_TOKEN_SECRET"},
        **config["environment_variables"],
        **config["stages"]["dev"]["environment_variables"],
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": secrets_endpoint,
        "PAGE_TOKEN_SECRET_ID": BENCH_SECRET_ID,
        "DYNAMODB_TABLE": TABLE,
        "ROLLUPS_TABLE": f"{TABLE}Rollups",
        "SITES_TABLE": f"{TABLE}Sites",
        "API_KEYS_TABLE": f"{TABLE}ApiKeys",
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


@dataclass(frozen=True)
class Row:
    label: str
    metric: str
    against: str  # the side the ratio is taken against
    target: str
    meets: Callable[[float], bool]  # given the service's median (RSS, items) or the ratio of medians


ROWS = (
    Row("cold start CPU (ms)", "cold_cpu_ms", "bare", "<= 1.2x bare", lambda ratio: ratio <= 1.2),
    Row("cold start wall (ms)", "cold_wall_ms", "bare", "", lambda _: True),
    Row("cold start CPU vs baseline", "cold_cpu_ms", "baseline", "", lambda _: True),
    Row("warm CPU per page (ms)", "warm_cpu_ms", "baseline", "<= 0.35x", lambda ratio: ratio <= 0.35),
    Row("warm wall per page (ms)", "warm_wall_ms", "baseline", "", lambda _: True),
    Row("peak RSS (MB)", "peak_rss_mb", "baseline", "<= 100 MB", lambda value: value <= 100),
    # One peeked item per page (is there a next page?): 1,001 read for 1,000 returned.
    Row("items read / returned", "items_read_per_returned", "baseline", "1.0 (+peek)", lambda value: value <= 1.001),
    Row("  /anomalies", "anomalies_read_per_returned", "baseline", "1.0 (+peek)", lambda value: value <= 1.001),
)
ABSOLUTE_TARGETS = ("peak_rss_mb", "items_read_per_returned", "anomalies_read_per_returned")


def summarise(runs: dict[str, list[dict[str, Any]]]) -> list[str]:
    """The table: medians per side, the ratio of medians, whether the target is met, and the
    spread of the ratio over the runs (each run's processes ran back to back, so a paired ratio
    cancels most of the machine's drift)."""

    def median(side: str, metric: str) -> float:
        values = [run[metric] for run in runs[side] if metric in run]
        return float(statistics.median(values)) if values else float("nan")

    def paired_spread(metric: str, against: str) -> str:
        ratios = [mine[metric] / theirs[metric] for mine, theirs in zip(runs["service"], runs[against], strict=True)]
        return f"{min(ratios):.2f}-{max(ratios):.2f}x"

    lines = [f"{'metric':<31}{'service':>9}{'baseline':>9}{'bare':>9}{'ratio':>8}  {'target':<13}{'':<7}runs"]
    for row in ROWS:
        service, reference = median("service", row.metric), median(row.against, row.metric)
        ratio = service / reference
        verdict = "met" if row.meets(service if row.metric in ABSOLUTE_TARGETS else ratio) else "MISSED"
        lines.append(
            f"{row.label:<31}{service:>9.2f}{median('baseline', row.metric):>9.2f}{median('bare', row.metric):>9.2f}"
            f"{ratio:>7.2f}x  {row.target:<13}{verdict if row.target else '':<7}"
            f"{paired_spread(row.metric, row.against)}"
        )
    cached, baseline = median("cached", "warm_cpu_ms"), median("baseline", "warm_cpu_ms")
    lines.append(
        f"{'warm CPU, in-process cache hit':<31}{cached:>9.2f}{baseline:>9.2f}{'':>9}{cached / baseline:>7.2f}x"
        "  (a closed one-page window, from memory)"
    )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=RUNS)
    arguments = parser.parse_args(argv)
    with LocalDynamoDB(free_port()) as server, secrets_manager() as secrets_endpoint:
        print(f"loading {len(SITES)} sites x {READINGS_PER_SITE} readings into {server.endpoint_url} ...", flush=True)
        load_data(server.endpoint_url)
        environment = _environment(server.endpoint_url, secrets_endpoint)
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
