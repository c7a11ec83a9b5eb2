"""One structured log line and one EMF metrics document per request; throttles and cold starts."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from chalice.test import Client

from chalicelib import observability
from chalicelib.settings import SERVICE_NAME
from scripts.local_dynamodb import REPO_ROOT
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


class _Body:
    def __init__(self, content: bytes) -> None:
        self.content = content

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.content


class Throttler:
    """Answers the next ``remaining`` Query attempts with DynamoDB's throttling error, on the wire,
    so botocore parses and retries them as it would in AWS."""

    def __init__(self) -> None:
        self.remaining = 0
        self.answered = 0

    def __call__(self, request: Any, **_: Any) -> AWSResponse | None:
        if self.remaining == 0:
            return None
        self.remaining -= 1
        self.answered += 1
        body = json.dumps({"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException", "message": "slow"})
        headers = HTTPHeaders()
        headers["x-amzn-ErrorType"] = "ThrottlingException"
        return AWSResponse(request.url, 400, headers, _Body(body.encode()))


@pytest.fixture
def throttler(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> Iterator[Throttler]:
    throttle = Throttler()
    monkeypatch.setattr(time, "sleep", lambda _seconds: None)  # botocore's back-off between attempts
    backend.client.meta.events.register_first("before-send.dynamodb.Query", throttle, "test-throttle")
    yield throttle
    backend.client.meta.events.unregister("before-send.dynamodb.Query", unique_id="test-throttle")


def test_a_throttle_that_a_retry_absorbed_is_still_counted(
    api: Client, throttler: Throttler, caplog: pytest.LogCaptureFixture
):
    throttler.remaining = 1
    caplog.set_level(logging.INFO)

    response = get(api, "/records", site_id="site_1", **RANGE)

    assert response.status_code == HTTPStatus.OK
    (line,) = request_lines(caplog)
    assert (line.__dict__["throttles"], line.__dict__["status"]) == (1, 200)


def test_throttling_past_the_retries_is_counted_per_attempt_and_answered_503(
    api: Client, throttler: Throttler, caplog: pytest.LogCaptureFixture
):
    throttler.remaining = 1000
    caplog.set_level(logging.INFO)

    response = get(api, "/records", site_id="site_1", **RANGE)

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.headers["Retry-After"]
    (line,) = request_lines(caplog)
    assert throttler.answered > 1
    assert (line.__dict__["throttles"], line.__dict__["status"]) == (throttler.answered, 503)


def test_only_the_first_request_of_a_container_is_a_cold_start():
    first_container = observability._ColdStart()

    assert [first_container.take() for _ in range(3)] == [True, False, False]


def test_no_tracer_without_active_tracing(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("AWS_XRAY_DAEMON_ADDRESS", raising=False)

    assert observability._LazyTracer().get() is None


@pytest.fixture
def xray_daemon() -> Iterator[socket.socket]:
    """A UDP socket standing in for the X-Ray daemon: what it receives is what X-Ray would get."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as daemon:
        daemon.bind(("127.0.0.1", 0))
        daemon.settimeout(0.5)
        yield daemon


def traced_request(daemon: socket.socket) -> tuple[int, list[dict[str, Any]]]:
    """Run one ``/records`` request in a process traced as Lambda traces it; its status and the
    (sub)segments the daemon received."""
    host, port = daemon.getsockname()
    environment = {
        **{name: value for name, value in os.environ.items() if not name.startswith("PYTEST")},
        "LAMBDA_TASK_ROOT": str(REPO_ROOT),
        "AWS_XRAY_DAEMON_ADDRESS": f"{host}:{port}",
        "_X_AMZN_TRACE_ID": f"Root={TRACE_ROOT};Parent=53995c3f42cd8ad8;Sampled=1",
        "POWERTOOLS_TRACE_DISABLED": "false",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    probe = subprocess.run(
        [sys.executable, "-m", "tests.tracing_probe"],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    status = json.loads(probe.stdout.strip().splitlines()[-1])["status"]
    documents = []
    with contextlib.suppress(TimeoutError):
        while True:
            header, _, body = daemon.recv(65_536).decode().partition("\n")
            assert json.loads(header) == {"format": "json", "version": 1}
            documents.append(json.loads(body))
    return status, documents


TRACE_ROOT = "1-5759e988-bd862e3fe1be46a994272793"


def test_a_traced_request_is_a_subsegment_with_its_dynamodb_calls_inside(xray_daemon: socket.socket):
    status, documents = traced_request(xray_daemon)

    (request,) = [document for document in documents if document["name"] == "## GET /records"]
    queries = [document for document in documents if document.get("aws", {}).get("operation") == "Query"]
    assert status == HTTPStatus.OK
    assert request["trace_id"] == TRACE_ROOT
    assert request["annotations"] == {"route": "/records", "site_id": "site_1"}
    assert queries
    assert {query["name"] for query in queries} == {"dynamodb"}
    assert {query["parent_id"] for query in queries} == {request["id"]}


@pytest.fixture
def printed(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """What every log handler of the service (and the root logger) prints, pytest's own aside."""
    out = io.StringIO()
    manager = logging.Logger.manager.loggerDict
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in manager if name.startswith(SERVICE_NAME))]
    for handler in {handler for logger in loggers for handler in logger.handlers}:
        if isinstance(handler, logging.StreamHandler) and not type(handler).__module__.startswith("_pytest"):
            monkeypatch.setattr(handler, "stream", out)
    return out


def test_a_request_prints_exactly_one_log_line(api: Client, printed: io.StringIO):
    get(api, "/health")

    lines = [line for line in printed.getvalue().splitlines() if line.strip()]
    assert [json.loads(line)["message"] for line in lines] == ["request"]


def test_a_fault_while_finishing_an_answer_still_lets_the_browser_read_it(
    make_api: ApiFactory, monkeypatch: pytest.MonkeyPatch
):
    def broken(*_: Any) -> None:
        raise RuntimeError("boom")

    api = make_api(cors_allowed_origins="https://dashboard.example.com")
    monkeypatch.setattr("app.with_etag", broken)

    response = get(api, "/records", headers={"Origin": "https://dashboard.example.com"}, site_id="site_1", **RANGE)

    assert response.status_code == HTTPStatus.INTERNAL_SERVER_ERROR
    assert response.headers["Access-Control-Allow-Origin"] == "https://dashboard.example.com"


def test_a_fault_while_finishing_an_answer_is_a_logged_500_problem(
    api: Client, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
):
    def broken(*_: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("app.with_etag", broken)
    caplog.set_level(logging.INFO)

    response = get(api, "/records", site_id="site_1", **RANGE)

    assert response.status_code == HTTPStatus.INTERNAL_SERVER_ERROR
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert b"boom" not in response.body
    assert [line.__dict__["status"] for line in request_lines(caplog)] == [500]


def test_every_response_names_its_request_id(api: Client, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO)

    response = get(api, "/records", site_id="site_1")

    (line,) = request_lines(caplog)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.headers["X-Request-Id"] == line.__dict__["request_id"]
    assert response.headers["X-Request-Id"]


def test_a_callers_own_request_id_is_logged_beside_ours(api: Client, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO)

    response = get(api, "/health", headers={"X-Request-Id": "dashboard-42" + "x" * 500})

    (line,) = request_lines(caplog)
    assert response.status_code == HTTPStatus.OK
    assert line.__dict__["client_request_id"] == ("dashboard-42" + "x" * 500)[:128]
    assert response.headers["X-Request-Id"] != line.__dict__["client_request_id"]


def test_api_gateways_request_id_is_logged_for_correlation(api: Client, caplog: pytest.LogCaptureFixture):
    """API Gateway's id is the one in its own errors and access logs (``x-amzn-RequestId``)."""
    caplog.set_level(logging.INFO)

    response = get(api, "/health")

    (line,) = request_lines(caplog)
    assert response.status_code == HTTPStatus.OK
    assert line.__dict__["api_request_id"]
