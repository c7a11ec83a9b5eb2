"""``make run``: local DynamoDB with demo data, then ``chalice local`` on http://127.0.0.1:8000.

Ctrl-C stops everything this command started. Data persists under ``.local/`` between runs.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

from chalicelib.backfill import ScanCheckpoint
from chalicelib.settings import Settings
from scripts import backfill_anomaly_index, seed_demo_data
from scripts.local_dynamodb import REPO_ROOT, LocalDynamoDB, is_serving, local_client

DATA_DIR = REPO_ROOT / ".local" / "dynamodb"
LOG_PATH = REPO_ROOT / ".local" / "dynalite.log"
TABLE = "EnergyMetrics"
DEMO_KEY_PATH = REPO_ROOT / ".local" / "demo-api-key"
DYNAMODB_PORT = 4567


def _stop_on_sigterm(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt  # same clean shutdown as Ctrl-C when a process manager stops us


def main() -> int:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8000)
    arguments = parser.parse_args()
    server = LocalDynamoDB(DYNAMODB_PORT, data_dir=DATA_DIR, log_path=LOG_PATH)
    started_here = False
    if is_serving(server.endpoint_url):
        print(f"Using the DynamoDB server already on {server.endpoint_url}")
    else:
        print(
            f"Starting local DynamoDB (dynalite) on {server.endpoint_url}, data in {DATA_DIR.relative_to(REPO_ROOT)}/"
        )
        server.start()
        started_here = True
    try:
        client = local_client(server.endpoint_url)
        settings = Settings(stage="local", dynamodb_table=TABLE)
        seed_demo_data.seed(client, settings)
        backfill_anomaly_index.run(client, TABLE, ScanCheckpoint(REPO_ROOT / ".local" / "backfill" / f"{TABLE}.json"))
        demo_key = seed_demo_data.issue_demo_key(client, settings)
        DEMO_KEY_PATH.write_text(demo_key + "\n")
        base = f"http://127.0.0.1:{arguments.port}"
        records = f"{base}/records/?site_id=site_2&start_time=2025-02-17&end_time=2025-02-18"
        print(
            f"\nEnergy Metrics API on {base}  (Ctrl-C stops it)\n"
            f"Demo API key (read access to site_1..site_5; also in {DEMO_KEY_PATH.relative_to(REPO_ROOT)}):\n"
            f"  {demo_key}\n"
            f"  curl -H 'Authorization: Bearer {demo_key}' '{records}'\n"
            f"  curl -H 'Authorization: Bearer {demo_key}' '{base}/anomalies/?site_id=site_2'\n"
            "AUTH_ENABLED=false make run serves without keys (local only).\n",
            flush=True,
        )
        chalice = Path(sys.executable).parent / "chalice"
        environment = {**os.environ, "AWS_ENDPOINT_URL_DYNAMODB": server.endpoint_url}
        command = [str(chalice), "local", "--stage", "local", "--host", "127.0.0.1", "--port", str(arguments.port)]
        # Its own process group: chalice's auto-reloader runs the server in a child process,
        # and stopping the group stops both.
        with subprocess.Popen(command, cwd=REPO_ROOT, env=environment, start_new_session=True) as api:
            try:
                return api.wait()
            except KeyboardInterrupt:
                os.killpg(api.pid, signal.SIGTERM)
                api.wait(timeout=10)
                return 0
    except KeyboardInterrupt:
        return 0
    finally:
        if started_here:
            server.stop()
            print("Stopped local DynamoDB.")


if __name__ == "__main__":
    sys.exit(main())
