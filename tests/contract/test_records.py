"""GET /records: exact time ranges, every stored form, exact numbers, fields, order, routes."""

from __future__ import annotations

from decimal import Decimal
from http import HTTPStatus
from typing import Any

import pytest

from tests.conftest import Backend, reading
from tests.helpers import get

DAY: dict[str, Any] = {"site_id": "site_1", "start_time": "2025-02-17", "end_time": "2025-02-17"}


def timestamps(response: object) -> list[str]:
    return [item["timestamp"] for item in response.json_body["items"]]  # type: ignore[attr-defined]


def test_date_only_end_time_covers_whole_day(backend: Backend, api):
    backend.put(
        reading(timestamp="2025-02-17T00:00:00Z"),
        reading(timestamp="2025-02-17T23:59:59Z"),
        reading(timestamp="2025-02-17T23:59:59.999Z"),
        reading(timestamp="2025-02-18T00:00:00Z"),
    )

    response = get(api, "/records", **DAY)

    assert response.status_code == HTTPStatus.OK
    assert timestamps(response) == ["2025-02-17T00:00:00Z", "2025-02-17T23:59:59Z", "2025-02-17T23:59:59.999Z"]


def test_envelope_reports_normalised_utc_bounds(backend: Backend, api):
    response = get(api, "/records", site_id="site_1", start_time="2025-02-17T09:30:00+01:00", end_time="2025-02-18")

    assert response.status_code == HTTPStatus.OK
    assert response.headers["Content-Type"] == "application/json"
    assert response.json_body == {
        "site_id": "site_1",
        "start_time": "2025-02-17T08:30:00Z",
        "end_time": "2025-02-18T23:59:59.999999Z",
        "items": [],
        "count": 0,
        "next_token": None,
    }


def test_offset_bounds_select_the_same_instants_as_utc(backend: Backend, api):
    backend.put(*(reading(timestamp=f"2025-02-17T{hour:02d}:00:00Z") for hour in range(6, 12)))

    response = get(
        api, "/records", site_id="site_1", start_time="2025-02-17T09:00:00+02:00", end_time="2025-02-17T05:00:00-05:00"
    )

    assert timestamps(response) == [
        "2025-02-17T07:00:00Z",
        "2025-02-17T08:00:00Z",
        "2025-02-17T09:00:00Z",
        "2025-02-17T10:00:00Z",
    ]


def test_unencoded_plus_in_offset_is_understood(backend: Backend, api):
    backend.put(reading(timestamp="2025-02-17T07:00:00Z"))

    response = api.http.get(
        "/records?site_id=site_1&start_time=2025-02-17T08:00:00+01:00&end_time=2025-02-17T08:00:00+01:00"
    )

    assert response.status_code == HTTPStatus.OK
    assert timestamps(response) == ["2025-02-17T07:00:00Z"]


def test_naive_bounds_mean_utc(backend: Backend, api):
    backend.put(reading(timestamp="2025-02-17T10:00:00Z"))

    response = get(api, "/records", site_id="site_1", start_time="2025-02-17T10:00:00", end_time="2025-02-17T10:00:00")

    assert timestamps(response) == ["2025-02-17T10:00:00Z"]


def test_boundary_instants_are_inclusive_and_neighbours_excluded(backend: Backend, api):
    backend.put(
        reading(timestamp="2025-02-17T09:59:59.999999Z"),
        reading(timestamp="2025-02-17T10:00:00Z"),
        reading(timestamp="2025-02-17T10:00:00.500Z"),
        reading(timestamp="2025-02-17T11:00:00Z"),
        reading(timestamp="2025-02-17T11:00:00.000001Z"),
    )

    response = get(
        api, "/records", site_id="site_1", start_time="2025-02-17T10:00:00Z", end_time="2025-02-17T11:00:00Z"
    )

    assert timestamps(response) == ["2025-02-17T10:00:00Z", "2025-02-17T10:00:00.500Z", "2025-02-17T11:00:00Z"]


@pytest.mark.parametrize(
    ("stored", "returned"),
    [
        ("2025-02-17T10:00:00Z", "2025-02-17T10:00:00Z"),
        ("2025-02-17T10:00:00+00:00", "2025-02-17T10:00:00Z"),
        ("2025-02-17T10:00:00", "2025-02-17T10:00:00Z"),
        ("2025-02-17T10:00:00.250", "2025-02-17T10:00:00.250Z"),
        ("2025-02-17T10:00:00.250Z", "2025-02-17T10:00:00.250Z"),
        ("2025-02-17T10:00:00.123456+00:00", "2025-02-17T10:00:00.123456Z"),
        ("2025-02-17T10:00:00.000Z", "2025-02-17T10:00:00Z"),
    ],
)
def test_every_stored_timestamp_form_is_found_and_normalised(backend: Backend, api, stored: str, returned: str):
    backend.put(reading(timestamp=stored))

    response = get(
        api, "/records", site_id="site_1", start_time="2025-02-17T10:00:00Z", end_time="2025-02-17T10:00:01Z"
    )

    assert response.status_code == HTTPStatus.OK
    assert timestamps(response) == [returned]


def test_stored_forms_outside_the_range_are_excluded(backend: Backend, api):
    backend.put(
        reading(timestamp="2025-02-17T09:59:59.900"),
        reading(timestamp="2025-02-17T10:00:01.100+00:00"),
        reading(timestamp="2025-02-17T10:00:00.500"),
    )

    response = get(
        api, "/records", site_id="site_1", start_time="2025-02-17T10:00:00Z", end_time="2025-02-17T10:00:01Z"
    )

    assert timestamps(response) == ["2025-02-17T10:00:00.500Z"]


def test_numbers_keep_their_stored_digits(backend: Backend, api):
    backend.put(
        reading(
            energy_generated_kwh=Decimal("0.1"),
            energy_consumed_kwh=Decimal(42),
            temperature_c=Decimal("-3.25"),
            humidity_percent=Decimal("12345678901234567890.123456789"),
        )
    )

    response = get(api, "/records", **DAY)

    assert b'"energy_generated_kwh":0.1,' in response.body
    assert b'"energy_consumed_kwh":42,' in response.body
    assert b'"temperature_c":-3.25,' in response.body
    assert b'"humidity_percent":12345678901234567890.123456789,' in response.body


def test_every_stored_attribute_is_returned(backend: Backend, api):
    backend.put(reading(inverter_status="ok", panel_count=Decimal(24), tags={"roof", "east"}))

    item = get(api, "/records", **DAY).json_body["items"][0]

    assert item == {
        "site_id": "site_1",
        "timestamp": "2025-02-17T12:00:00Z",
        "energy_generated_kwh": 1.5,
        "energy_consumed_kwh": 0.75,
        "temperature_c": 21.5,
        "humidity_percent": 40,
        "weather_condition": "sunny",
        "anomaly": False,
        "inverter_status": "ok",
        "panel_count": 24,
        "tags": ["east", "roof"],
    }


def test_binary_and_set_attributes_become_plain_json(backend: Backend, api):
    backend.put(reading(raw_frame=b"\x00\x01\xff", phase_voltages={Decimal("230.1"), Decimal(229)}))

    item = get(api, "/records", **DAY).json_body["items"][0]

    assert item["raw_frame"] == "AAH/"
    assert item["phase_voltages"] == [229, 230.1]


def test_binary_set_attribute_becomes_sorted_base64_strings(backend: Backend, api):
    backend.put(reading(frames={b"\x02", b"\x01"}))

    item = get(api, "/records", **DAY).json_body["items"][0]

    assert item["frames"] == ["AQ==", "Ag=="]


def test_fields_returns_only_those_attributes_and_the_keys(backend: Backend, api):
    backend.put(reading())

    response = get(api, "/records", fields="temperature_c,weather_condition", **DAY)

    assert response.json_body["items"] == [
        {"site_id": "site_1", "timestamp": "2025-02-17T12:00:00Z", "temperature_c": 21.5, "weather_condition": "sunny"}
    ]


def test_desc_order_returns_newest_first(backend: Backend, api):
    backend.put(*(reading(timestamp=f"2025-02-17T0{hour}:00:00Z") for hour in range(3)))

    response = get(api, "/records", order="desc", **DAY)

    assert timestamps(response) == ["2025-02-17T02:00:00Z", "2025-02-17T01:00:00Z", "2025-02-17T00:00:00Z"]


def test_other_sites_readings_are_not_returned(backend: Backend, api):
    backend.put(reading(site_id="site_1"), reading(site_id="site_10"), reading(site_id="site_2"))

    response = get(api, "/records", **DAY)

    assert [item["site_id"] for item in response.json_body["items"]] == ["site_1"]


def test_trailing_slash_route_is_served(backend: Backend, api):
    backend.put(reading())

    response = get(api, "/records/", **DAY)

    assert response.status_code == HTTPStatus.OK
    assert response.json_body["count"] == 1


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/octet-stream"]
)
def test_get_with_any_content_type_is_served(backend: Backend, api, content_type: str):
    backend.put(reading())

    response = get(api, "/records", headers={"Content-Type": content_type}, **DAY)

    assert response.status_code == HTTPStatus.OK
    assert response.json_body["count"] == 1
