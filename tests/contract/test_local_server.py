"""The API as ``chalice local`` serves it, over real HTTP sockets, on the local DynamoDB server."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

import pytest
from chalice.config import Config
from chalice.local import LocalDevServer

from app import app
from chalicelib.context import build_context, use_context
from chalicelib.settings import Settings
from chalicelib.tables import READINGS_TABLE, ensure_table
from scripts.local_dynamodb import LocalDynamoDB, free_port, local_client
from tests.conftest import Backend, reading


@pytest.fixture
def dynalite_backend(local_dynamodb: LocalDynamoDB) -> Iterator[Backend]:
    backend = Backend("dynalite", local_client(local_dynamodb.endpoint_url), "EnergyMetrics-http")
    tables = ((backend.table_name, READINGS_TABLE), *backend.service_tables)
    for table, definition in tables:
        ensure_table(backend.client, table, definition)
    yield backend
    for table, _ in tables:
        backend.client.delete_table(TableName=table)


@pytest.fixture
def site_2_key(dynalite_backend: Backend) -> dict[str, str]:
    return {"Authorization": f"Bearer {dynalite_backend.create_key('read', 'site_2')}"}


@pytest.fixture
def base_url(dynalite_backend: Backend) -> Iterator[str]:
    settings = Settings(
        stage="local",
        dynamodb_table=dynalite_backend.table_name,
        rollups_table=dynalite_backend.rollups_table,
        sites_table=dynalite_backend.sites_table,
        api_keys_table=dynalite_backend.api_keys_table,
        cors_allowed_origins="https://a.example",
    )
    use_context(build_context(settings, dynalite_backend.client))
    port = free_port()
    server = LocalDevServer(app, Config.create(chalice_stage="local"), "127.0.0.1", port)
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    thread.join(timeout=5)
    use_context(None)


def fetch(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
            return response.status, dict(response.headers), json.loads(body) if body else None
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"null")


def test_readme_records_example_over_http(dynalite_backend: Backend, base_url: str, site_2_key: dict[str, str]):
    dynalite_backend.put(reading(site_id="site_2", timestamp="2025-02-18T23:55:00Z"))

    status, headers, body = fetch(
        f"{base_url}/records/?site_id=site_2&start_time=2025-02-17&end_time=2025-02-18", headers=site_2_key
    )

    assert status == HTTPStatus.OK
    assert headers["Content-Type"] == "application/json"
    assert [item["timestamp"] for item in body["items"]] == ["2025-02-18T23:55:00Z"]


def test_preflight_over_http(base_url: str):
    status, headers, _ = fetch(
        f"{base_url}/anomalies/",
        method="OPTIONS",
        headers={"Origin": "https://a.example", "Access-Control-Request-Method": "GET"},
    )

    assert status == HTTPStatus.NO_CONTENT
    assert headers["Access-Control-Allow-Origin"] == "https://a.example"
    assert headers["Access-Control-Allow-Methods"] == "GET, OPTIONS"


def test_bad_request_over_http_is_problem_json(base_url: str, site_2_key: dict[str, str]):
    status, headers, body = fetch(
        f"{base_url}/records?site_id=site_2&start_time=2025-02-18&end_time=2025-02-17", headers=site_2_key
    )

    assert status == HTTPStatus.BAD_REQUEST
    assert headers["Content-Type"] == "application/problem+json"
    assert body["errors"][0]["parameter"] == "start_time"


def test_missing_key_over_http_is_401_problem_json(base_url: str):
    status, headers, body = fetch(f"{base_url}/records?site_id=site_2", headers={"Origin": "https://b.example"})

    assert status == HTTPStatus.UNAUTHORIZED
    assert headers["Content-Type"] == "application/problem+json"
    assert headers["WWW-Authenticate"].startswith("Bearer")
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert body["title"] == "Unauthenticated"


def test_key_for_another_site_over_http_is_403(base_url: str, site_2_key: dict[str, str]):
    status, headers, body = fetch(f"{base_url}/anomalies?site_id=site_3", headers=site_2_key)

    assert status == HTTPStatus.FORBIDDEN
    assert headers["Content-Type"] == "application/problem+json"
    assert body["detail"] == "This API key may not access site(s): site_3."
