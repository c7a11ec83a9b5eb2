"""One structured log line and one EMF metrics document per request; throttles and cold starts."""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Any

import pytest
from botocore.exceptions import ClientError
from chalice.test import Client

from chalicelib import observability
from tests.conftest import ApiFactory, Backend, reading
from tests.helpers import get

RANGE: dict[str, Any] = {"start_time": "2025-02-17", "end_time": "2025-02-17"}


def request_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.getMessage() == "request"]


def emf_documents(output: str) -> list[dict[str, Any]]:
    documents = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return [document for document in documents if "_aws" in document]


@pytest.fixture
def emitted_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    """EMF output is off in the local stage (it would flood `make run`); these tests turn it on."""
    from aws_lambda_powertools.metrics.provider.cloudwatch_emf import cloudwatch  # noqa: PLC0415

    monkeypatch.setattr(cloudwatch, "is_metrics_disabled", lambda: False)


def test_each_request_logs_one_line_with_its_facts(backend: Backend, api: Client, caplog: pytest.LogCaptureFixture):
    backend.put(*(reading("site_1", f"2025-02-17T10:0{minute}:00Z") for minute in range(3)))
    caplog.set_level(logging.INFO)

    response = get(api, "/records", site_id="site_1", **RANGE)

    assert response.status_code == HTTPStatus.OK
    (line,) = request_lines(caplog)
    facts = line.__dict__
    assert (facts["route"], facts["method"], facts["site_id"], facts["status"]) == ("/records", "GET", "site_1", 200)
    assert facts["items_returned"] == 3
    assert facts["dynamodb_items_read"] == 3
    assert facts["consumed_capacity"] > 0
    assert facts["latency_ms"] > 0
    assert facts["request_id"]
    assert isinstance(facts["cold_start"], bool)


def test_failed_requests_are_logged_too(api: Client, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO)

    response = get(api, "/records", site_id="site_1")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    (line,) = request_lines(caplog)
    assert line.__dict__["status"] == 400
    assert line.__dict__["items_returned"] is None


def test_each_request_emits_one_emf_document_by_route(
    backend: Backend, api: Client, emitted_metrics: None, capsys: pytest.CaptureFixture[str]
):
    backend.put(reading("site_1", "2025-02-17T10:00:00Z"))
    capsys.readouterr()

    get(api, "/records", site_id="site_1", **RANGE)

    (document,) = emf_documents(capsys.readouterr().out)
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    names = {metric["Name"] for metric in directive["Metrics"]}
    assert directive["Namespace"] == "EnergyMetrics"
    assert ["route", "service"] in [sorted(dimensions) for dimensions in directive["Dimensions"]]
    assert document["route"] == "GET /records"
    assert {"Latency", "ItemsReturned", "DynamoDBItemsRead", "ConsumedCapacity", "Status4xx", "Status5xx"} <= names
    assert (document["ItemsReturned"], document["Status4xx"], document["Status5xx"]) == ([1.0], [0.0], [0.0])


def test_client_errors_count_as_4xx(api: Client, emitted_metrics: None, capsys: pytest.CaptureFixture[str]):
    capsys.readouterr()

    get(api, "/anomalies", site_id="bad site")

    (document,) = emf_documents(capsys.readouterr().out)
    assert (document["Status4xx"], document["Status5xx"]) == ([1.0], [0.0])


def test_throttling_is_counted_and_answered_503(
    backend: Backend, make_api: ApiFactory, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
):
    api = make_api()
    monkeypatch.setattr(backend.client, "query", _throttled)
    caplog.set_level(logging.INFO)

    response = get(api, "/records", site_id="site_1", **RANGE)

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    (line,) = request_lines(caplog)
    assert (line.__dict__["throttles"], line.__dict__["status"]) == (1, 503)


def _throttled(**_: Any) -> Any:
    raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "Query")


def test_only_the_first_request_of_a_container_is_a_cold_start():
    first_container = observability._ColdStart()

    assert [first_container.take() for _ in range(3)] == [True, False, False]


def test_no_tracer_without_active_tracing(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("AWS_XRAY_DAEMON_ADDRESS", raising=False)

    assert observability._LazyTracer().get() is None


def test_tracer_when_the_function_runs_with_active_tracing(monkeypatch: pytest.MonkeyPatch):
    from aws_lambda_powertools import Tracer  # noqa: PLC0415

    monkeypatch.setenv("AWS_XRAY_DAEMON_ADDRESS", "127.0.0.1:2000")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "false")

    assert isinstance(observability._LazyTracer().get(), Tracer)


def test_chalice_itself_logs_nothing(api: Client, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)

    get(api, "/health")

    assert [record.getMessage() for record in caplog.records if record.name.startswith("energy-metrics-api.app")] == []
    assert len(request_lines(caplog)) == 1
