"""Start and stop the local DynamoDB-compatible server (dynalite, installed by npm) for dev and tests."""

from __future__ import annotations

import argparse
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

REPO_ROOT = Path(__file__).resolve().parent.parent
DYNALITE = REPO_ROOT / "node_modules" / ".bin" / "dynalite"
LOCAL_REGION = "us-east-1"
_PROBE_CONFIG = Config(connect_timeout=1, read_timeout=2, retries={"max_attempts": 1})


def local_client(endpoint_url: str, *, config: Config | None = None) -> DynamoDBClient:
    """A client for a local server; dummy credentials, since it checks none."""
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint_url,
        region_name=LOCAL_REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - the local server accepts any
        config=config,
    )


def client_for(endpoint_url: str | None) -> DynamoDBClient:
    """Operator commands: the local server when given its URL, else AWS with the usual credentials."""
    return local_client(endpoint_url) if endpoint_url else boto3.client("dynamodb")


def operator_arguments(description: str | None, *, protect_option: bool = False) -> argparse.Namespace:
    """The table names and endpoint every operator command takes."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--table", default="EnergyMetrics")
    parser.add_argument("--rollups-table", default="EnergyMetricsRollups")
    parser.add_argument("--sites-table", default="EnergyMetricsSites")
    parser.add_argument("--api-keys-table", default="EnergyMetricsApiKeys")
    parser.add_argument("--endpoint-url", default=None, help="e.g. http://127.0.0.1:4567 for the local server")
    if protect_option:
        parser.add_argument("--protect", action="store_true", help="turn on PITR and deletion protection (AWS)")
    return parser.parse_args()


def is_serving(endpoint_url: str) -> bool:
    try:
        local_client(endpoint_url, config=_PROBE_CONFIG).list_tables(Limit=1)
    except (BotoCoreError, ClientError):
        return False
    return True


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LocalDynamoDB:
    """A dynalite process on 127.0.0.1; data on disk when ``data_dir`` is given, else in memory."""

    def __init__(self, port: int, data_dir: Path | None = None, log_path: Path | None = None) -> None:
        self.port = port
        self.data_dir = data_dir
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> LocalDynamoDB:
        if not DYNALITE.exists():
            raise RuntimeError(f"{DYNALITE} is missing: run `make install` (it runs `npm ci`).")
        command = [
            str(DYNALITE),
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--createTableMs", "0",
            "--deleteTableMs", "0",
            "--updateTableMs", "0",
        ]  # fmt: skip
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            command += ["--path", str(self.data_dir)]
        output = subprocess.DEVNULL
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            output = self.log_path.open("ab")  # type: ignore[assignment]
        self._process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not is_serving(self.endpoint_url):
            if self._process.poll() is not None:
                raise RuntimeError(f"dynalite exited with code {self._process.returncode} (port {self.port} in use?)")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"dynalite did not answer on {self.endpoint_url} within {timeout:.0f}s")
            time.sleep(0.1)
        return self

    def stop(self) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def __enter__(self) -> LocalDynamoDB:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
