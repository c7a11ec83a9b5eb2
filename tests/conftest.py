"""Shared fixtures: fake AWS credentials, DynamoDB backends (moto and local dynalite), the API client."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import boto3
import pytest
from boto3.dynamodb.types import TypeSerializer
from chalice.test import Client, TestHTTPClient
from moto import mock_aws

from chalicelib.api_keys import ApiKeyStore
from chalicelib.batch_writes import put_items
from chalicelib.context import AppContext, build_context, use_context
from chalicelib.fast_responses import parse_with_orjson
from chalicelib.observability import count_dynamodb_usage
from chalicelib.settings import Settings
from chalicelib.tables import ANOMALY_AT, API_KEYS_TABLE, ROLLUPS_TABLE, SITES_TABLE, ensure_table
from chalicelib.timestamps import format_sortable_instant, parse_stored_instant
from scripts.local_dynamodb import LocalDynamoDB, free_port, local_client

FAKE_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "STAGE": "local",
    "POWERTOOLS_SERVICE_NAME": "energy-metrics-api",
}
for _name, _value in FAKE_AWS_ENVIRONMENT.items():
    os.environ[_name] = _value  # before anything builds a boto3 client
for _name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE", "PAGE_TOKEN_SECRET"):
    os.environ.pop(_name, None)

from app import app  # noqa: E402 - the app reads its settings at import

BACKENDS = ("moto", "dynalite")
_serializer = TypeSerializer()


def reading(
    site_id: str = "site_1",
    timestamp: str = "2025-02-17T12:00:00Z",
    *,
    anomaly: bool = False,
    indexed: bool = True,
    **attributes: Any,
) -> dict[str, Any]:
    """A low-level item as the existing writers store it; anomalies carry ``anomaly_at`` unless ``indexed=False``."""
    values: dict[str, Any] = {
        "energy_generated_kwh": Decimal("1.5"),
        "energy_consumed_kwh": Decimal("0.75"),
        "temperature_c": Decimal("21.5"),
        "humidity_percent": Decimal(40),
        "weather_condition": "sunny",
        **attributes,
    }
    item = {name: _serializer.serialize(value) for name, value in values.items()}
    item |= {"site_id": {"S": site_id}, "timestamp": {"S": timestamp}, "anomaly": {"BOOL": anomaly}}
    if anomaly and indexed:
        item[ANOMALY_AT] = {"S": format_sortable_instant(parse_stored_instant(timestamp))}
    return item


@dataclass
class Backend:
    """One DynamoDB implementation with a fresh table for the test."""

    name: str
    client: Any
    table_name: str

    @property
    def rollups_table(self) -> str:
        return f"{self.table_name}-rollups"

    @property
    def sites_table(self) -> str:
        return f"{self.table_name}-sites"

    @property
    def api_keys_table(self) -> str:
        return f"{self.table_name}-keys"

    @property
    def service_tables(self) -> tuple[tuple[str, Any], ...]:
        return (
            (self.rollups_table, ROLLUPS_TABLE),
            (self.sites_table, SITES_TABLE),
            (self.api_keys_table, API_KEYS_TABLE),
        )

    def create_key(self, scopes: str = "read", sites: str = "*") -> str:
        plaintext, _ = ApiKeyStore(self.client, self.api_keys_table).create(
            f"test {scopes} {sites}", set(scopes.split(",")), set(sites.split(","))
        )
        return plaintext

    def put(self, *items: dict[str, Any]) -> None:
        result = put_items(self.client, self.table_name, items)
        assert not result.unwritten


@pytest.fixture(scope="session")
def local_dynamodb() -> Iterator[LocalDynamoDB]:
    with LocalDynamoDB(free_port()) as server:
        yield server


def _open_backend(request: pytest.FixtureRequest, name: str, with_indexes: bool) -> Iterator[Backend]:
    table_name = f"EnergyMetrics-{uuid.uuid4().hex[:12]}"
    if name == "moto":
        with mock_aws():
            backend = Backend(name, boto3.client("dynamodb", region_name="us-east-1"), table_name)
            _create_tables(backend, with_indexes)
            yield backend
        return
    server: LocalDynamoDB = request.getfixturevalue("local_dynamodb")
    backend = Backend(name, local_client(server.endpoint_url), table_name)
    _create_tables(backend, with_indexes)
    try:
        yield backend
    finally:
        for table in (table_name, *(service_table for service_table, _ in backend.service_tables)):
            backend.client.delete_table(TableName=table)


def _create_tables(backend: Backend, with_indexes: bool) -> None:
    count_dynamodb_usage(parse_with_orjson(backend.client))  # as the service's own client does
    ensure_table(backend.client, backend.table_name, with_indexes=with_indexes)
    for table, definition in backend.service_tables:
        ensure_table(backend.client, table, definition)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """A table with its anomaly index, on moto and on the local DynamoDB server in turn."""
    yield from _open_backend(request, request.param, with_indexes=True)


@pytest.fixture(params=BACKENDS)
def backend_without_index(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """A legacy table: no anomaly index yet."""
    yield from _open_backend(request, request.param, with_indexes=False)


@pytest.fixture
def moto_backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    yield from _open_backend(request, "moto", with_indexes=True)


@pytest.fixture
def moto_backend_without_index(request: pytest.FixtureRequest) -> Iterator[Backend]:
    yield from _open_backend(request, "moto", with_indexes=False)


ApiFactory = Callable[..., Client]
ADMIN_KEY = "admin"


class KeyedHTTPClient(TestHTTPClient):
    """Sends an API key with every request unless the test sets ``Authorization`` itself."""

    def __init__(self, app: Any, config: Any, api_key: str | None) -> None:
        super().__init__(app, config)
        self.api_key = api_key

    def request(self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b"") -> Any:
        key = {} if self.api_key is None else {"Authorization": f"Bearer {self.api_key}"}
        return super().request(method, path, headers={**key, **(headers or {})}, body=body)


class KeyedClient(Client):
    """``chalice.test.Client`` calling as one API key (an all-sites admin key unless told otherwise)."""

    def __init__(self, app: Any, api_key: str | None) -> None:
        super().__init__(app, stage_name="local")
        self.api_key = api_key

    @property
    def http(self) -> TestHTTPClient:
        if self._http_client is None:
            self._http_client = KeyedHTTPClient(self._app, self._chalice_config, self.api_key)
        return self._http_client


def _api_factory(backend: Backend) -> Iterator[ApiFactory]:
    clients: list[Client] = []

    admin_key = backend.create_key("read,write,admin", "*")

    def make(*, client: Any = None, api_key: str | None = ADMIN_KEY, **settings: Any) -> Client:
        """``api_key``: the all-sites admin key by default, ``None`` for no key, or a key's plaintext."""
        alerts = settings.pop("alerts", None)
        config = Settings(
            **{
                "stage": "local",
                "dynamodb_table": backend.table_name,
                "rollups_table": backend.rollups_table,
                "sites_table": backend.sites_table,
                "api_keys_table": backend.api_keys_table,
                **settings,
            }
        )
        context: AppContext = build_context(config, client or backend.client, alerts)
        # A test's faulty DynamoDB client is for the data path; the key check stays on the real one.
        use_context(replace(context, api_keys=ApiKeyStore(backend.client, backend.api_keys_table)))
        test_client = KeyedClient(app, admin_key if api_key == ADMIN_KEY else api_key)
        clients.append(test_client)
        return test_client

    yield make
    use_context(None)


@pytest.fixture
def make_api(backend: Backend) -> Iterator[ApiFactory]:
    """Build the API over ``backend`` with settings overridden per test."""
    yield from _api_factory(backend)


@pytest.fixture
def make_moto_api(moto_backend: Backend) -> Iterator[ApiFactory]:
    """Like ``make_api``, for what only moto can fake (S3, SNS, Secrets Manager)."""
    yield from _api_factory(moto_backend)


@pytest.fixture
def dynalite_backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    yield from _open_backend(request, "dynalite", with_indexes=True)


@pytest.fixture
def make_dynalite_api(dynalite_backend: Backend) -> Iterator[ApiFactory]:
    """Like ``make_api``, on the local server only: for data sets too large for moto's speed."""
    yield from _api_factory(dynalite_backend)


@pytest.fixture
def api(make_api: ApiFactory) -> Client:
    return make_api()


@pytest.fixture
def api_without_index(backend_without_index: Backend) -> Iterator[Client]:
    for make in _api_factory(backend_without_index):
        yield make()
