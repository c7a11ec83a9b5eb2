"""GET /sites (the registry kept on ingest) and GET /sites/{site_id}/summary."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any

from tests.conftest import Backend
from tests.contract.test_anomalies import RecordingClient
from tests.helpers import get, walk

JSON_HEADERS = {"Content-Type": "application/json"}


def post(api, readings: list[dict[str, Any]]) -> None:
    response = api.http.post("/records", body=json.dumps(readings), headers=JSON_HEADERS)
    assert response.status_code == HTTPStatus.OK, response.json_body


def hourly(site_id: str, first: datetime, hours: int, generated: float = 2.0, every: int = 1) -> list[dict[str, Any]]:
    return [
        {
            "site_id": site_id,
            "timestamp": (first + timedelta(hours=n * every)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "energy_generated_kwh": generated,
            "energy_consumed_kwh": 1,
            "temperature_c": 20,
        }
        for n in range(hours)
    ]


def test_sites_with_data_are_listed_with_their_reading_span(backend: Backend, api):
    post(
        api,
        hourly("site_b", datetime(2025, 2, 17, tzinfo=UTC), 3) + hourly("site_a", datetime(2025, 2, 10, tzinfo=UTC), 2),
    )

    response = api.http.get("/sites")

    assert response.status_code == HTTPStatus.OK
    assert response.json_body == {
        "items": [
            {
                "site_id": "site_a",
                "first_reading_at": "2025-02-10T00:00:00Z",
                "last_reading_at": "2025-02-10T01:00:00Z",
            },
            {
                "site_id": "site_b",
                "first_reading_at": "2025-02-17T00:00:00Z",
                "last_reading_at": "2025-02-17T02:00:00Z",
            },
        ],
        "count": 2,
        "next_token": None,
    }


def test_later_ingest_widens_the_span(backend: Backend, api):
    post(api, hourly("site_a", datetime(2025, 2, 10, 5, tzinfo=UTC), 1))
    post(
        api,
        hourly("site_a", datetime(2025, 2, 9, tzinfo=UTC), 1) + hourly("site_a", datetime(2025, 2, 11, tzinfo=UTC), 1),
    )

    item = api.http.get("/sites").json_body["items"][0]

    assert (item["first_reading_at"], item["last_reading_at"]) == ("2025-02-09T00:00:00Z", "2025-02-11T00:00:00Z")


def test_sites_are_paginated(backend: Backend, api):
    post(api, [reading for n in range(5) for reading in hourly(f"site_{n}", datetime(2025, 2, 17, tzinfo=UTC), 1)])

    pages = walk(api, "/sites", limit=2)

    assert [[item["site_id"] for item in page] for page in pages] == [
        ["site_0", "site_1"],
        ["site_2", "site_3"],
        ["site_4"],
    ]


def test_listing_sites_is_a_query_not_a_scan(backend: Backend, make_api):
    post(make_api(), hourly("site_a", datetime(2025, 2, 17, tzinfo=UTC), 2))
    recording = RecordingClient(backend.client)

    make_api(client=recording).http.get("/sites")

    assert [request["TableName"] for request, _ in recording.queries] == [backend.sites_table]


def test_summary_shows_what_a_dashboard_header_needs(backend: Backend, api):
    post(api, hourly("site_a", datetime(2025, 2, 1, tzinfo=UTC), 4 * 20, every=6))  # 00, 06, 12, 18 h
    post(api, [{"site_id": "site_a", "timestamp": "2025-02-20T10:30:00Z", "temperature_c": 70}])

    response = get(api, "/sites/site_a/summary", as_of="2025-02-20T12:30:00Z")

    assert response.status_code == HTTPStatus.OK
    body = response.json_body
    assert (body["first_reading_at"], body["last_reading_at"]) == ("2025-02-01T00:00:00Z", "2025-02-20T18:00:00Z")
    assert body["energy"]["today"] == {"generated_kwh": 6, "consumed_kwh": 3}
    assert body["energy"]["last_7_days"] == {"generated_kwh": 56, "consumed_kwh": 28}
    assert body["energy"]["last_30_days"] == {"generated_kwh": 158, "consumed_kwh": 79}
    assert body["latest"]["timestamp"] == "2025-02-20T12:00:00Z"
    assert body["open_anomalies"] == 1


def test_summary_today_follows_the_sites_time_zone(backend: Backend, api):
    post(api, hourly("site_a", datetime(2025, 2, 19, tzinfo=UTC), 48))

    response = get(api, "/sites/site_a/summary", as_of="2025-02-20T12:30:00Z", tz="Asia/Tokyo")

    assert response.json_body["energy"]["today"] == {"generated_kwh": 2 * 13 + 2 * 9, "consumed_kwh": 13 + 9}


def test_summary_of_unknown_site_is_404(backend: Backend, api):
    response = api.http.get("/sites/nowhere/summary")

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.headers["Content-Type"] == "application/problem+json"


def test_summary_with_bad_site_id_is_400(backend: Backend, api):
    response = api.http.get("/sites/bad%20id/summary")

    assert response.status_code == HTTPStatus.BAD_REQUEST


def test_summary_today_starts_at_a_half_hour_local_midnight(backend: Backend, api):
    post(
        api,
        [
            {"site_id": "site_a", "timestamp": "2025-02-17T18:10:00Z", "energy_generated_kwh": 7},
            {"site_id": "site_a", "timestamp": "2025-02-17T18:40:00Z", "energy_generated_kwh": 5},
            {"site_id": "site_a", "timestamp": "2025-02-18T10:00:00Z", "energy_generated_kwh": 1},
        ],
    )

    response = get(api, "/sites/site_a/summary", as_of="2025-02-18T12:00:00Z", tz="Asia/Kolkata")

    assert response.json_body["energy"]["today"]["generated_kwh"] == 6
