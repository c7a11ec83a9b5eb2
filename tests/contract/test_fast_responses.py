"""The orjson fast path returns exactly what boto3's own parser returns, and the JSON is exact."""

from __future__ import annotations

import json
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import boto3
import orjson
import pytest
from boto3.dynamodb.types import TypeDeserializer

from chalicelib import fast_responses
from chalicelib.http import to_json
from chalicelib.readings import to_public_item
from tests.conftest import Backend, reading

EVERY_TYPE = reading(
    "site_1",
    "2025-02-17T10:00:00Z",
    anomaly=True,
    energy_generated_kwh=Decimal("12345678901234567890.123456789"),
    energy_consumed_kwh=Decimal("-0.000001"),
    temperature_c=Decimal("1E+5"),
    weather_condition='sunny ☀ «quoted» "x"',
    notes=None,
    tags={"b", "a"},
    levels={Decimal("10"), Decimal("-2.5"), Decimal("3")},
    history=[Decimal("1.10"), "two", {"three": [True, None]}],
    meta={"nested": {"deep": Decimal("0.1")}, "empty": {}},
)
WITH_BINARY = reading("site_1", "2025-02-17T10:05:00Z", blob=b"\x00\xffbinary", blobs={b"x", b"y"})


def plain_client(backend: Backend) -> Any:
    """A client like the backend's, without the fast path."""
    return boto3.client("dynamodb", region_name="us-east-1", endpoint_url=backend.client.meta.endpoint_url)


def query(client: Any, backend: Backend, limit: int = 1) -> dict[str, Any]:
    response: dict[str, Any] = client.query(
        TableName=backend.table_name,
        KeyConditionExpression="site_id = :site",
        ExpressionAttributeValues={":site": {"S": "site_1"}},
        ReturnConsumedCapacity="TOTAL",
        Limit=limit,
    )
    response.pop("ResponseMetadata")
    return response


@pytest.mark.parametrize("item", [EVERY_TYPE, WITH_BINARY], ids=["every-type", "binary"])
def test_fast_path_returns_what_botocore_returns(backend: Backend, item: dict[str, Any]):
    backend.put(item)

    fast, plain = query(backend.client, backend), query(plain_client(backend), backend)

    assert fast == plain
    assert [stored["timestamp"] for stored in fast["Items"]] == [item["timestamp"]]


def test_fast_path_returns_what_botocore_returns_for_a_whole_page(backend: Backend):
    backend.put(
        *(
            reading(
                "site_1",
                f"2025-02-{10 + n // 288:02}T{n % 288 // 12:02}:{n % 12 * 5:02}:00Z",
                anomaly=n % 30 == 0,
                energy_generated_kwh=Decimal(n) / 7,
                temperature_c=Decimal(-n) / 3,
                weather_condition=("sunny", "cloudy", "rainy ☂")[n % 3],
            )
            for n in range(1100)
        )
    )

    fast, plain = query(backend.client, backend, limit=1000), query(plain_client(backend), backend, limit=1000)

    assert len(fast["Items"]) == 1000
    assert fast == plain


def test_a_body_orjson_cannot_read_is_left_to_botocore():
    response = {"status_code": 200, "body": b'{"Items": [damaged'}
    customized: dict[str, Any] = {}

    fast_responses._load_body_directly(response, customized)

    assert (response["body"], customized) == (b'{"Items": [damaged', {})


def test_fast_path_keeps_continuation_keys(backend: Backend):
    backend.put(EVERY_TYPE, WITH_BINARY)

    assert (
        query(backend.client, backend)["LastEvaluatedKey"] == query(plain_client(backend), backend)["LastEvaluatedKey"]
    )


def test_fast_path_leaves_errors_to_botocore(backend: Backend):
    with pytest.raises(backend.client.exceptions.ResourceNotFoundException):
        backend.client.query(
            TableName="NoSuchTable",
            KeyConditionExpression="site_id = :site",
            ExpressionAttributeValues={":site": {"S": "site_1"}},
        )


@pytest.mark.parametrize("item", [EVERY_TYPE, WITH_BINARY], ids=["every-type", "binary"])
def test_public_json_equals_the_boto3_deserialised_values(item: dict[str, Any]):
    deserializer = TypeDeserializer()
    expected = {name: deserializer.deserialize(value) for name, value in item.items() if name != "anomaly_at"}

    public = json.loads(to_json(to_public_item(item)), parse_float=Decimal, parse_int=Decimal)

    for name, value in expected.items():
        assert public[name] == _comparable(value), name


def _comparable(value: Any) -> Any:
    """What the deserialised value must look like in JSON: sets sorted, binary as base64."""
    if isinstance(value, set):
        members = [_comparable(member) for member in value]
        return sorted(members)
    if hasattr(value, "value") and isinstance(value.value, bytes):
        import base64  # noqa: PLC0415

        return base64.b64encode(value.value).decode()
    if isinstance(value, dict):
        return {name: _comparable(member) for name, member in value.items()}
    if isinstance(value, list):
        return [_comparable(member) for member in value]
    return value


def test_numbers_keep_their_stored_digits():
    body = to_json(to_public_item(EVERY_TYPE))

    assert '"energy_generated_kwh":12345678901234567890.123456789' in body
    assert '"history":[1.10,"two",{"three":[true,null]}]' in body
    assert '"levels":[-2.5,3,10]' in body


def test_query_bodies_are_loaded_by_orjson_not_botocore(backend: Backend, monkeypatch: pytest.MonkeyPatch):
    backend.put(EVERY_TYPE)
    loaded: list[bytes] = []

    def counting_loads(body: bytes) -> Any:
        loaded.append(body)
        return orjson.loads(body)

    monkeypatch.setattr(fast_responses, "orjson", SimpleNamespace(loads=counting_loads))

    query(backend.client, backend)
    query(plain_client(backend), backend)

    assert len(loaded) == 1
