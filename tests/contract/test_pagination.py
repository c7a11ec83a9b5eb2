"""Pagination: full pages, complete walks in both orders, 1 MB DynamoDB pages, signed tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any

import pytest
from itsdangerous import TimestampSigner

from tests.conftest import Backend, reading
from tests.helpers import PROBLEM_JSON, get, walk

RANGE: dict[str, Any] = {"site_id": "site_1", "start_time": "2025-02-17", "end_time": "2025-02-17"}


def minute_readings(count: int) -> list[dict[str, Any]]:
    first = datetime(2025, 2, 17, tzinfo=UTC)
    return [reading(timestamp=(first + timedelta(minutes=5 * n)).strftime("%Y-%m-%dT%H:%M:%SZ")) for n in range(count)]


def first_page_token(api, **overrides: Any) -> str:
    token: str = get(api, "/records", limit=2, **{**RANGE, **overrides}).json_body["next_token"]
    assert token
    return token


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_walk_yields_every_reading_once_in_order(backend: Backend, api, order: str):
    readings = minute_readings(23)
    backend.put(*readings)
    expected = sorted((item["timestamp"]["S"] for item in readings), reverse=order == "desc")

    pages = walk(api, "/records", limit=5, order=order, **RANGE)

    assert [len(page) for page in pages] == [5, 5, 5, 5, 3]
    assert [item["timestamp"] for page in pages for item in page] == expected


def test_last_page_token_is_null_when_readings_fill_it_exactly(backend: Backend, api):
    backend.put(*minute_readings(10))

    pages = walk(api, "/records", limit=5, **RANGE)

    assert [len(page) for page in pages] == [5, 5]


def test_page_is_full_when_more_readings_remain(backend: Backend, api):
    backend.put(*minute_readings(12))

    response = get(api, "/records", limit=11, **RANGE)

    assert response.json_body["count"] == 11
    assert response.json_body["next_token"] is not None


def test_pages_fill_across_dynamodb_one_megabyte_responses(backend: Backend, api):
    padding = "x" * 40_000  # 60 items of 40 KB: DynamoDB needs 3 responses of <= 1 MB
    first = datetime(2025, 2, 17, tzinfo=UTC)
    backend.put(
        *(
            reading(timestamp=(first + timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M:%SZ"), padding=padding)
            for n in range(60)
        )
    )

    pages = walk(api, "/records", limit=50, fields="energy_generated_kwh", **RANGE)

    assert [len(page) for page in pages] == [50, 10]


def test_readings_of_one_second_keep_instant_order_across_pages(backend: Backend, api):
    backend.put(
        reading(timestamp="2025-02-17T10:00:00.500Z"),
        reading(timestamp="2025-02-17T10:00:00Z"),
        reading(timestamp="2025-02-17T10:00:00.200"),
        reading(timestamp="2025-02-17T10:00:00.700+00:00"),
        reading(timestamp="2025-02-17T10:00:01Z"),
    )

    pages = walk(api, "/records", limit=2, **RANGE)

    assert [[item["timestamp"] for item in page] for page in pages] == [
        ["2025-02-17T10:00:00Z", "2025-02-17T10:00:00.200Z"],
        ["2025-02-17T10:00:00.500Z", "2025-02-17T10:00:00.700Z"],
        ["2025-02-17T10:00:01Z"],
    ]


def test_descending_walk_within_one_second_is_newest_first(backend: Backend, api):
    backend.put(
        reading(timestamp="2025-02-17T10:00:00.500Z"),
        reading(timestamp="2025-02-17T10:00:00Z"),
        reading(timestamp="2025-02-17T10:00:00.200"),
    )

    pages = walk(api, "/records", limit=1, order="desc", **RANGE)

    assert [item["timestamp"] for page in pages for item in page] == [
        "2025-02-17T10:00:00.500Z",
        "2025-02-17T10:00:00.200Z",
        "2025-02-17T10:00:00Z",
    ]


def test_altered_token_is_rejected(backend: Backend, api):
    backend.put(*minute_readings(3))
    token = first_page_token(api)
    altered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")

    response = get(api, "/records", limit=2, next_token=altered, **RANGE)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.headers["Content-Type"] == PROBLEM_JSON
    assert response.json_body["type"] == "urn:energy-metrics:problem:invalid-page-token"


def test_garbage_token_is_rejected(backend: Backend, api):
    response = get(api, "/records", next_token="not-a-token", **RANGE)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "next_token" in response.json_body["detail"]


def test_token_signed_with_another_secret_is_rejected(backend: Backend, make_api):
    backend.put(*minute_readings(3))
    token = first_page_token(make_api(page_token_secret="a" * 40))

    response = get(make_api(page_token_secret="b" * 40), "/records", limit=2, next_token=token, **RANGE)

    assert response.status_code == HTTPStatus.BAD_REQUEST


def test_expired_token_is_rejected(backend: Backend, make_api, monkeypatch: pytest.MonkeyPatch):
    backend.put(*minute_readings(3))
    api = make_api(page_token_ttl_seconds=60)
    token = first_page_token(api)
    issued_at = TimestampSigner.get_timestamp
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda signer: issued_at(signer) + 61)

    response = get(api, "/records", limit=2, next_token=token, **RANGE)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "expired" in response.json_body["detail"]


@pytest.mark.parametrize(
    "changed",
    [
        {"site_id": "site_2"},
        {"end_time": "2025-02-18"},
        {"start_time": "2025-02-16"},
        {"order": "desc"},
        {"limit": 3},
        {"fields": "temperature_c"},
    ],
)
def test_token_reused_with_different_parameters_is_rejected(backend: Backend, api, changed: dict[str, Any]):
    backend.put(*minute_readings(3))
    token = first_page_token(api)

    response = get(api, "/records", **{**RANGE, "limit": 2, **changed, "next_token": token})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "different query" in response.json_body["detail"]


def test_token_accepts_equivalent_spelling_of_the_same_query(backend: Backend, api):
    backend.put(*minute_readings(3))
    token = first_page_token(api)

    response = get(
        api,
        "/records",
        site_id="site_1",
        start_time="2025-02-17T00:00:00Z",
        end_time="2025-02-17T23:59:59.999999Z",
        limit=2,
        next_token=token,
    )

    assert response.status_code == HTTPStatus.OK
    assert [item["timestamp"] for item in response.json_body["items"]] == ["2025-02-17T00:10:00Z"]


def test_records_token_is_rejected_by_anomalies(backend: Backend, api):
    backend.put(*minute_readings(3))
    token = first_page_token(api)

    response = get(api, "/anomalies", limit=2, next_token=token, **RANGE)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json_body["type"] == "urn:energy-metrics:problem:invalid-page-token"
