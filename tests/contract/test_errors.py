"""Bad input is a clear 400 problem; DynamoDB faults are a 503 with Retry-After; nothing leaks."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError
from botocore.stub import Stubber

from tests.conftest import Backend
from tests.helpers import PROBLEM_JSON, get, parameter_errors

VALID: dict[str, Any] = {"site_id": "site_1", "start_time": "2025-02-17", "end_time": "2025-02-18"}


def without(name: str) -> dict[str, Any]:
    return {key: value for key, value in VALID.items() if key != name}


def test_problem_body_follows_rfc_9457(backend: Backend, api):
    response = get(api, "/records", **without("site_id"))

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.headers["Content-Type"] == PROBLEM_JSON
    assert response.json_body == {
        "type": "urn:energy-metrics:problem:invalid-parameters",
        "title": "Invalid request parameters",
        "status": 400,
        "detail": "Fix these parameters and retry: site_id.",
        "errors": [{"parameter": "site_id", "message": "site_id is required"}],
    }


@pytest.mark.parametrize("missing", ["start_time", "end_time"])
def test_records_require_both_bounds(backend: Backend, api, missing: str):
    response = get(api, "/records", **without(missing))

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert parameter_errors(response) == {missing: f"{missing} is required"}


@pytest.mark.parametrize(
    "value", ["yesterday", "2025-13-01", "2025-02-30", "2025-02-17T25:00:00Z", "17/02/2025", "1739750400"]
)
def test_malformed_time_is_rejected_with_the_accepted_forms(backend: Backend, api, value: str):
    response = get(api, "/records", **{**VALID, "start_time": value})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert value in parameter_errors(response)["start_time"]


def test_start_after_end_is_rejected(backend: Backend, api):
    response = get(api, "/records", site_id="site_1", start_time="2025-02-18", end_time="2025-02-17")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert parameter_errors(response) == {
        "start_time": "start_time (2025-02-18T00:00:00Z) is after end_time (2025-02-17T23:59:59.999999Z)"
    }


@pytest.mark.parametrize("limit", ["0", "1001", "-5", "ten", "2.5", "", "5.0", "1_0", " 5"])
def test_limit_out_of_range_is_rejected(backend: Backend, api, limit: str):
    response = get(api, "/records", limit=limit, **VALID)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert parameter_errors(response) == {"limit": "limit must be a whole number from 1 to 1000"}


def test_unknown_parameter_is_rejected(backend: Backend, api):
    response = get(api, "/records", site="site_1", **VALID)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert parameter_errors(response)["site"].startswith("unknown parameter; allowed parameters are: site_id,")


def test_repeated_parameter_is_rejected(backend: Backend, api):
    response = api.http.get("/records?site_id=site_1&site_id=site_2&start_time=2025-02-17&end_time=2025-02-18")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert parameter_errors(response) == {"site_id": "site_id was given 2 times; give it once"}


@pytest.mark.parametrize("site_id", ["", "site 1", "../../etc/passwd", "x" * 129, "site_1'; DROP", "-leading-dash"])
def test_absurd_site_id_is_rejected(backend: Backend, api, site_id: str):
    response = get(api, "/records", **{**VALID, "site_id": site_id})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "site_id must be 1-128 characters" in parameter_errors(response)["site_id"]


def test_unknown_order_is_rejected(backend: Backend, api):
    response = get(api, "/records", order="newest", **VALID)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert parameter_errors(response) == {"order": "order must be 'asc' or 'desc'"}


@pytest.mark.parametrize("fields", ["temperature_c,,humidity_percent", "temperature c", "#hash"])
def test_malformed_fields_are_rejected(backend: Backend, api, fields: str):
    response = get(api, "/records", fields=fields, **VALID)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "fields" in parameter_errors(response)


def test_every_bad_parameter_is_reported_at_once(backend: Backend, api):
    response = get(api, "/records", site_id="bad id", start_time="soon", end_time="2025-02-18", limit="0")

    assert set(parameter_errors(response)) == {"site_id", "start_time", "limit"}


def test_wrong_method_is_a_problem_response(backend: Backend, api):
    response = api.http.request("DELETE", "/records", headers={})

    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response.headers["Content-Type"] == PROBLEM_JSON
    assert response.json_body["status"] == 405


def stubbed_client(error_code: str, status: int = 400) -> Any:
    client = boto3.client("dynamodb", region_name="us-east-1")
    stubber = Stubber(client)
    stubber.add_client_error(
        "query", service_error_code=error_code, service_message="AWS internal text", http_status_code=status
    )
    stubber.activate()
    return client


@pytest.mark.parametrize(
    ("error_code", "status"),
    [
        ("ProvisionedThroughputExceededException", 400),
        ("ThrottlingException", 400),
        ("RequestLimitExceeded", 400),
        ("InternalServerError", 500),
        ("ResourceNotFoundException", 400),
    ],
)
def test_dynamodb_fault_is_503_with_retry_after(backend: Backend, make_api, error_code: str, status: int):
    api = make_api(client=stubbed_client(error_code, status), retry_after_seconds=3)

    response = get(api, "/records", **VALID)

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.headers["Retry-After"] == "3"
    assert response.headers["Content-Type"] == PROBLEM_JSON
    assert b"AWS internal text" not in response.body


class _UnreachableDynamoDB:
    def __init__(self, error: Exception) -> None:
        self._error = error

    def query(self, **_: Any) -> Any:
        raise self._error


@pytest.mark.parametrize(
    "error",
    [EndpointConnectionError(endpoint_url="https://dynamodb"), ReadTimeoutError(endpoint_url="https://dynamodb")],
)
def test_unreachable_dynamodb_is_503(backend: Backend, make_api, error: Exception):
    api = make_api(client=_UnreachableDynamoDB(error))

    response = get(api, "/anomalies", site_id="site_1")

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.headers["Retry-After"] == "2"


def test_unexpected_dynamodb_error_is_a_bare_500(backend: Backend, make_api):
    api = make_api(client=stubbed_client("ValidationException"))

    response = get(api, "/records", **VALID)

    assert response.status_code == HTTPStatus.INTERNAL_SERVER_ERROR
    assert response.headers["Content-Type"] == PROBLEM_JSON
    assert b"AWS internal text" not in response.body
    assert b"Traceback" not in response.body
