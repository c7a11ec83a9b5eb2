"""POST /records: per-item validation, idempotent canonical writes, nothing lost, anomaly detection."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any

import boto3
import pytest

from tests.conftest import Backend
from tests.contract.test_anomalies import RecordingClient
from tests.helpers import PROBLEM_JSON, get

JSON_HEADERS = {"Content-Type": "application/json"}


def post(api, readings: Any, content_type: str = "application/json") -> Any:
    body = readings if isinstance(readings, str | bytes) else json.dumps(readings)
    return api.http.post("/records", body=body, headers={"Content-Type": content_type})


def new_reading(timestamp: str = "2025-02-17T12:00:00Z", **overrides: Any) -> dict[str, Any]:
    return {
        "site_id": "site_1",
        "timestamp": timestamp,
        "energy_generated_kwh": 1.25,
        "energy_consumed_kwh": 0.5,
        "temperature_c": 21.5,
        "humidity_percent": 40,
        "weather_condition": "sunny",
        **overrides,
    }


def stored_day(api) -> list[dict[str, Any]]:
    response = get(api, "/records", site_id="site_1", start_time="2025-02-17", end_time="2025-02-17")
    items: list[dict[str, Any]] = response.json_body["items"]
    return items


def test_valid_batch_is_stored_and_readable(backend: Backend, api):
    response = post(api, [new_reading("2025-02-17T12:00:00Z"), new_reading("2025-02-17T12:05:00Z")])

    assert response.status_code == HTTPStatus.OK
    assert response.json_body == {"received": 2, "stored": 2, "rejected": [], "not_stored": [], "anomalies": 0}
    assert [item["timestamp"] for item in stored_day(api)] == ["2025-02-17T12:00:00Z", "2025-02-17T12:05:00Z"]


def test_numbers_are_stored_exactly(backend: Backend, api):
    post(api, '[{"site_id": "site_1", "timestamp": "2025-02-17T12:00:00Z", "energy_generated_kwh": 0.1}]')

    response = get(api, "/records", site_id="site_1", start_time="2025-02-17", end_time="2025-02-17")

    assert re.search(rb'"energy_generated_kwh":0\.1[,}]', response.body)


def test_ndjson_body_is_accepted(backend: Backend, api):
    body = "\n".join(json.dumps(new_reading(f"2025-02-17T12:0{n}:00Z")) for n in range(3))

    response = post(api, body, "application/x-ndjson")

    assert response.json_body["stored"] == 3


def test_csv_body_is_accepted(backend: Backend, api):
    body = "site_id,timestamp,energy_generated_kwh,temperature_c\nsite_1,2025-02-17T12:00:00Z,2.5,\n"

    response = post(api, body, "text/csv")

    assert response.json_body["stored"] == 1
    assert stored_day(api)[0]["energy_generated_kwh"] == 2.5
    assert "temperature_c" not in stored_day(api)[0]


def test_sending_the_same_batch_twice_stores_each_reading_once(backend: Backend, api):
    batch = [new_reading("2025-02-17T12:00:00Z"), new_reading("2025-02-17T12:05:00Z")]

    post(api, batch)
    post(api, batch)

    assert len(stored_day(api)) == 2


def test_any_iso_form_is_stored_in_the_canonical_form(backend: Backend, api):
    post(api, [new_reading("2025-02-17T13:00:00+01:00"), new_reading("2025-02-17T12:05:00")])

    keys = backend.client.query(
        TableName=backend.table_name,
        KeyConditionExpression="site_id = :s",
        ExpressionAttributeValues={":s": {"S": "site_1"}},
    )["Items"]
    assert [item["timestamp"]["S"] for item in keys] == ["2025-02-17T12:00:00Z", "2025-02-17T12:05:00Z"]


def test_same_instant_in_two_forms_in_one_batch_is_stored_once_last_wins(backend: Backend, api):
    response = post(
        api,
        [
            new_reading("2025-02-17T12:00:00Z", energy_generated_kwh=1),
            new_reading("2025-02-17T12:00:00+00:00", energy_generated_kwh=2),
        ],
    )

    assert response.json_body["stored"] == 1
    assert [item["energy_generated_kwh"] for item in stored_day(api)] == [2]


def test_invalid_readings_are_reported_per_item_while_valid_ones_are_stored(backend: Backend, api):
    response = post(
        api,
        [
            new_reading("2025-02-17T12:00:00Z"),
            new_reading("yesterday"),
            new_reading("2025-02-17T12:10:00Z", humidity_percent="wet", site_id="bad site"),
            "not an object",
        ],
    )

    assert response.status_code == HTTPStatus.OK
    assert response.json_body["stored"] == 1
    rejected = {
        entry["index"]: {error["field"] for error in entry["errors"]} for entry in response.json_body["rejected"]
    }
    assert rejected == {1: {"timestamp"}, 2: {"humidity_percent", "site_id"}, 3: {"reading"}}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temperature_c", 1000),
        ("humidity_percent", -90),
        ("energy_generated_kwh", 1e12),
        ("energy_consumed_kwh", "NaN"),
    ],
)
def test_physically_impossible_values_are_rejected(backend: Backend, api, field: str, value: Any):
    response = post(api, [new_reading(**{field: value})])

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.headers["Content-Type"] == PROBLEM_JSON
    assert response.json_body["rejected"][0]["errors"][0]["field"] == field


def test_extra_numeric_metrics_are_stored(backend: Backend, api):
    post(api, [new_reading(irradiance_w_m2=812.5, inverter_temp_c=41)])

    item = stored_day(api)[0]
    assert (item["irradiance_w_m2"], item["inverter_temp_c"]) == (812.5, 41)


def test_extra_text_attribute_is_rejected(backend: Backend, api):
    response = post(api, [new_reading(inverter_status="ok")])

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert "inverter_status" in response.json_body["rejected"][0]["errors"][0]["message"]


def test_client_sent_anomaly_flag_is_ignored(backend: Backend, api):
    post(api, [new_reading(anomaly=True)])

    assert stored_day(api)[0]["anomaly"] is False


@pytest.mark.parametrize(
    ("body", "content_type", "detail"),
    [
        ("[{", "application/json", "not valid JSON"),
        ("", "application/json", "no readings"),
        ("[]", "application/json", "no readings"),
        ('{"a": 1}\n{oops', "application/x-ndjson", "Line 2 is not valid JSON"),
    ],
)
def test_unreadable_body_is_400(backend: Backend, api, body: str, content_type: str, detail: str):
    response = post(api, body, content_type)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.headers["Content-Type"] == PROBLEM_JSON
    assert detail in response.json_body["detail"]


def test_more_than_a_thousand_readings_is_400(backend: Backend, api):
    response = post(api, [new_reading()] * 1001)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "at most 1000" in response.json_body["detail"]


def test_oversized_body_is_413(backend: Backend, api):
    response = post(api, "[" + " " * (2 * 1024 * 1024) + "]")

    assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE


class NeverProcessing:
    """A DynamoDB that accepts batch writes but never processes them (sustained throttling)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803
        return {"UnprocessedItems": RequestItems}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_readings_never_written_are_listed_with_503(backend: Backend, make_api):
    api = make_api(client=NeverProcessing(backend.client), ingest_budget_seconds=0.5)

    response = post(api, [new_reading("2025-02-17T12:00:00Z"), new_reading("bad")])

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.headers["Retry-After"] == "2"
    assert response.json_body["not_stored"] == [{"index": 0, "site_id": "site_1", "timestamp": "2025-02-17T12:00:00Z"}]
    assert response.json_body["stored"] == 0


def test_rule_anomaly_carries_what_a_person_needs(backend: Backend, api):
    response = post(api, [new_reading(temperature_c=61.5)])

    assert response.json_body["anomalies"] == 1
    item = get(api, "/anomalies", site_id="site_1").json_body["items"][0]
    assert item["anomaly"] is True
    assert item["anomaly_severity"] == "high"
    assert item["anomalies"] == [
        {
            "metric": "temperature_c",
            "value": 61.5,
            "band_low": -20,
            "band_high": 50,
            "score": 78,
            "severity": "high",
            "rule": "temperature_out_of_range",
            "detector_version": "rules-1+robust-z-1",
        }
    ]


class RecordingAlerts:
    def __init__(self) -> None:
        self.published: list[tuple[str, str, list[Any]]] = []

    def publish(self, site_id: str, timestamp: str, anomalies: list[Any]) -> None:
        self.published.append((site_id, timestamp, anomalies))


def test_alert_is_published_at_or_above_the_configured_severity(backend: Backend, make_api):
    alerts = RecordingAlerts()
    api = make_api(alerts=alerts, alert_min_severity="high")

    post(
        api,
        [
            new_reading("2025-02-17T12:00:00Z", temperature_c=61.5),
            new_reading("2025-02-17T12:05:00Z", humidity_percent=101),
        ],
    )

    assert [(site, timestamp) for site, timestamp, _ in alerts.published] == [("site_1", "2025-02-17T12:00:00Z")]


def noon_history(first_day: int, days: int, weather: str = "sunny", generated: float = 10.0) -> list[dict[str, Any]]:
    """Readings every 5 minutes from 11:00 to 12:55 on ``days`` days from 2025-02-``first_day``."""
    first = datetime(2025, 2, first_day, 11, tzinfo=UTC)
    return [
        new_reading(
            (first + timedelta(days=day, minutes=5 * step)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            energy_generated_kwh=round(generated * (1 + 0.02 * ((day + step) % 3 - 1)), 3),
            weather_condition=weather,
        )
        for day in range(days)
        for step in range(24)
    ]


def test_statistical_detector_catches_a_noon_drop_on_a_sunny_day(backend: Backend, api):
    post(api, noon_history(first_day=10, days=7))

    response = post(api, [new_reading("2025-02-17T12:00:00Z", energy_generated_kwh=0.4, weather_condition="sunny")])

    assert response.json_body["anomalies"] == 1
    finding = get(api, "/anomalies", site_id="site_1").json_body["items"][0]["anomalies"][0]
    assert finding["rule"] == "robust_z_same_hour"
    assert finding["metric"] == "energy_generated_kwh"
    assert finding["band_low"] > 0.4
    assert 9.5 < finding["expected"] < 10.5


def test_thresholds_alone_miss_the_noon_drop(backend: Backend, api):
    response = post(api, [new_reading("2025-02-17T12:00:00Z", energy_generated_kwh=0.4, weather_condition="sunny")])

    assert response.json_body["anomalies"] == 0


def test_a_cloudy_noon_is_compared_with_cloudy_days_only(backend: Backend, api):
    post(api, noon_history(first_day=3, days=9, weather="sunny", generated=10.0))
    post(api, noon_history(first_day=12, days=5, weather="cloudy", generated=3.0))

    response = post(api, [new_reading("2025-02-17T12:00:00Z", energy_generated_kwh=3.1, weather_condition="cloudy")])

    assert response.json_body["anomalies"] == 0


def anomalies_of_each_severity(api) -> None:
    post(
        api,
        [
            new_reading("2025-02-17T10:00:00Z", humidity_percent=101),  # medium
            new_reading("2025-02-17T11:00:00Z", temperature_c=61.5),  # high
            new_reading("2025-02-17T12:00:00Z", temperature_c=100),  # critical
            new_reading("2025-02-17T13:00:00Z", energy_generated_kwh=-2),  # high
            new_reading("2025-02-17T14:00:00Z"),  # normal
        ],
    )


def test_min_severity_is_served_by_its_own_sparse_index(backend: Backend, make_api):
    anomalies_of_each_severity(make_api())
    recording = RecordingClient(backend.client)
    api = make_api(client=recording)

    response = get(api, "/anomalies", site_id="site_1", min_severity="high")

    assert [item["timestamp"][11:13] for item in response.json_body["items"]] == ["11", "12", "13"]
    assert [request["IndexName"] for request, _ in recording.queries] == ["anomalies-high-up-by-site"]
    assert sum(answer["ScannedCount"] for _, answer in recording.queries) == 3


def test_metric_filter_returns_only_anomalies_of_that_metric(backend: Backend, api):
    anomalies_of_each_severity(api)

    response = get(api, "/anomalies", site_id="site_1", metric="temperature_c")

    assert [item["timestamp"][11:13] for item in response.json_body["items"]] == ["11", "12"]


def test_min_severity_without_the_indexes_filters_the_partition(backend_without_index: Backend, api_without_index):
    anomalies_of_each_severity(api_without_index)

    response = get(api_without_index, "/anomalies", site_id="site_1", min_severity="critical")

    assert [item["timestamp"][11:13] for item in response.json_body["items"]] == ["12"]


def test_alerts_go_to_sns_as_json_an_on_sns_message_handler_can_read(moto_backend: Backend, make_moto_api):
    sns = boto3.client("sns", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    topic = sns.create_topic(Name="energy-metrics-alerts-dev")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="alerts")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    api = make_moto_api(alert_topic_arn=topic)

    post(api, [new_reading(temperature_c=95)])

    [message] = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    alert = json.loads(message["Body"])
    assert (alert["site_id"], alert["timestamp"], alert["severity"]) == ("site_1", "2025-02-17T12:00:00Z", "critical")
    assert alert["anomalies"][0]["rule"] == "temperature_out_of_range"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"\xff\xfe[{}]", "application/json"),
        ("[" * 50_000 + "]" * 50_000, "application/json"),
        ('[{"site_id": "site_1", "timestamp": "2025-02-17T12:00:00Z", "x": ' + "9" * 5000 + "}]", "application/json"),
        ("site_id,timestamp,note\nsite_1,2025-02-17T12:00:00Z," + "x" * 140_000 + "\n", "text/csv"),
    ],
)
def test_bodies_python_cannot_parse_are_400(backend: Backend, api, body: Any, content_type: str):
    response = post(api, body, content_type)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json_body["type"] == "urn:energy-metrics:problem:invalid-payload"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("timestamp", "0001-01-01T00:00:00Z"),
        ("timestamp", "9999-12-31T23:00:00Z"),
        ("irradiance_w_m2", 1e-200),
        ("energy_generated_kwh", "1E-131"),
        ("energy_consumed_kwh", "1.23456789012345678901234567890123456789"),
    ],
)
def test_values_dynamodb_or_date_arithmetic_cannot_hold_are_rejected(backend: Backend, api, field: str, value: Any):
    response = post(api, [new_reading(**{field: value})])

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json_body["rejected"][0]["index"] == 0
