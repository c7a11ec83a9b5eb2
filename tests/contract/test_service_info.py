"""GET / (no DynamoDB call) and GET /health (DynamoDB answers for the table, or 503)."""

from __future__ import annotations

from http import HTTPStatus

import boto3
from botocore.stub import Stubber

from tests.conftest import Backend
from tests.helpers import PROBLEM_JSON


def test_index_describes_the_service_without_calling_dynamodb(backend: Backend, make_api):
    client = boto3.client("dynamodb", region_name="us-east-1")
    Stubber(client).activate()  # any DynamoDB call would now fail the request
    api = make_api(client=client)

    response = api.http.get("/")

    assert response.status_code == HTTPStatus.OK
    assert response.json_body["service"] == "energy-metrics-api"
    assert response.json_body["stage"] == "local"
    routes = [(endpoint["method"], endpoint["path"]) for endpoint in response.json_body["endpoints"]]
    assert routes == [
        ("GET", "/"),
        ("GET", "/health"),
        ("GET", "/records"),
        ("GET", "/anomalies"),
        ("POST", "/records"),
        ("GET", "/sites"),
        ("GET", "/sites/{site_id}/summary"),
    ]


def test_health_is_ok_when_the_table_answers(backend: Backend, api):
    response = api.http.get("/health")

    assert response.status_code == HTTPStatus.OK
    assert response.json_body == {
        "status": "ok",
        "table": backend.table_name,
        "table_status": "ACTIVE",
        "anomaly_index_status": "ACTIVE",
    }


def test_health_is_503_when_the_table_is_missing(backend: Backend, make_api):
    api = make_api(dynamodb_table="NoSuchTable")

    response = api.http.get("/health")

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.headers["Content-Type"] == PROBLEM_JSON
    assert response.headers["Retry-After"] == "2"
    assert b"NoSuchTable" not in response.body


def test_every_response_carries_security_headers(backend: Backend, api):
    response = api.http.get("/health")

    assert response.headers["Strict-Transport-Security"] == "max-age=63072000; includeSubDomains"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_error_responses_are_not_cached(backend: Backend, api):
    response = api.http.get("/records")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
