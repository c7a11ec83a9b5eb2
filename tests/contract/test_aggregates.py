"""GET /records?resolution=…: buckets checked against an independent computation over the same readings."""

from __future__ import annotations

import itertools
import json
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http import HTTPStatus
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from chalicelib.backfill import backfill_rollups
from chalicelib.rollups import RollupStore
from chalicelib.store import ReadingStore
from chalicelib.timestamps import TimeRange
from tests.conftest import Backend, reading
from tests.contract.test_anomalies import RecordingClient
from tests.helpers import get, parameter_errors

FIRST = datetime(2025, 2, 17, tzinfo=UTC)


def generated_readings(first: datetime, hours: int, seed: int = 7) -> list[dict[str, Any]]:
    """5-minute readings with a few gaps, so coverage is not always 1."""
    rng = random.Random(seed)
    readings = []
    for step in range(hours * 12):
        if rng.random() < 0.05:
            continue
        readings.append(
            {
                "site_id": "site_1",
                "timestamp": (first + timedelta(minutes=5 * step)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "energy_generated_kwh": Decimal(rng.randint(0, 5000)) / 1000,
                "energy_consumed_kwh": Decimal(rng.randint(100, 900)) / 1000,
                "temperature_c": Decimal(rng.randint(-50, 300)) / 10,
                "weather_condition": "sunny",
            }
        )
    return readings


def post_all(api, readings: list[dict[str, Any]]) -> None:
    for start in range(0, len(readings), 1000):
        response = api.http.post(
            "/records",
            body=json.dumps(readings[start : start + 1000], default=str),
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == HTTPStatus.OK, response.json_body


def expected_buckets(readings: list[dict[str, Any]], boundaries: list[datetime]) -> list[dict[str, Any]]:
    """The independent computation: plain loops over the readings sent."""
    results = []
    for start, end in itertools.pairwise(boundaries):
        inside = [r for r in readings if start <= datetime.fromisoformat(r["timestamp"]) < end]
        bucket: dict[str, Any] = {
            "count": len(inside),
            "coverage": round(min(1.0, len(inside) / ((end - start) / timedelta(minutes=5))), 4),
        }
        if inside:
            for name in ("energy_generated_kwh", "energy_consumed_kwh"):
                bucket[name] = {"sum": float(sum(r[name] for r in inside)), "count": len(inside)}
            temperatures = [r["temperature_c"] for r in inside]
            bucket["temperature_c"] = {
                "avg": round(float(sum(temperatures) / len(temperatures)), 6),
                "min": float(min(temperatures)),
                "max": float(max(temperatures)),
                "count": len(temperatures),
            }
        results.append(bucket)
    return results


def without_times(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{key: value for key, value in item.items() if not key.startswith("bucket_")} for item in items]


@pytest.fixture
def thirty_hours(backend: Backend, api) -> list[dict[str, Any]]:
    readings = generated_readings(FIRST, hours=30)
    post_all(api, readings)
    return readings


@pytest.fixture
def twelve_hours(backend: Backend, api) -> list[dict[str, Any]]:
    readings = generated_readings(FIRST, hours=12)
    post_all(api, readings)
    return readings


def ten_oclock_hour(api) -> Any:
    """The 1h bucket 2025-02-17T10:00Z of site_1."""
    return get(
        api,
        "/records",
        site_id="site_1",
        start_time="2025-02-17T10:00:00Z",
        end_time="2025-02-17T10:59:59Z",
        resolution="1h",
    )


def hourly_boundaries(first: datetime, hours: int) -> list[datetime]:
    return [first + timedelta(hours=n) for n in range(hours + 1)]


def test_hourly_buckets_match_an_independent_computation(thirty_hours, api):
    response = get(
        api, "/records", site_id="site_1", start_time="2025-02-17", end_time="2025-02-18T05:59:59Z", resolution="1h"
    )

    assert response.status_code == HTTPStatus.OK
    assert response.json_body["resolution"] == "1h"
    assert response.json_body["items"][0]["bucket_start"] == "2025-02-17T00:00:00Z"
    assert response.json_body["items"][0]["bucket_end"] == "2025-02-17T01:00:00Z"
    assert without_times(response.json_body["items"]) == expected_buckets(thirty_hours, hourly_boundaries(FIRST, 30))


def test_fifteen_minute_buckets_match_an_independent_computation(twelve_hours, api):
    response = get(
        api,
        "/records",
        site_id="site_1",
        start_time="2025-02-17T06:00:00Z",
        end_time="2025-02-17T09:59:59Z",
        resolution="15m",
    )

    boundaries = [FIRST + timedelta(hours=6, minutes=15 * n) for n in range(17)]
    assert without_times(response.json_body["items"]) == expected_buckets(twelve_hours, boundaries)


def test_daily_buckets_follow_the_sites_calendar_days(thirty_hours, api):
    zone = ZoneInfo("America/New_York")

    response = get(
        api,
        "/records",
        site_id="site_1",
        start_time="2025-02-17T05:00:00Z",
        end_time="2025-02-18T04:59:59Z",
        resolution="1d",
        tz="America/New_York",
    )

    midnight = datetime(2025, 2, 17, tzinfo=zone)
    boundaries = [midnight.astimezone(UTC), (midnight + timedelta(days=1)).astimezone(UTC)]
    assert [item["bucket_start"] for item in response.json_body["items"]] == ["2025-02-17T00:00:00-05:00"]
    assert without_times(response.json_body["items"]) == expected_buckets(thirty_hours, boundaries)


def test_half_hour_zone_hourly_buckets_match(twelve_hours, api):
    response = get(
        api,
        "/records",
        site_id="site_1",
        start_time="2025-02-17T06:30:00Z",
        end_time="2025-02-17T10:29:59Z",
        resolution="1h",
        tz="Asia/Kolkata",
    )

    boundaries = [FIRST + timedelta(hours=6, minutes=30) + timedelta(hours=n) for n in range(5)]
    assert response.json_body["items"][0]["bucket_start"] == "2025-02-17T12:00:00+05:30"
    assert without_times(response.json_body["items"]) == expected_buckets(twelve_hours, boundaries)


def test_daylight_saving_day_is_23_hours_long(backend: Backend, api):
    readings = generated_readings(datetime(2025, 3, 29, 23, tzinfo=UTC), hours=23, seed=3)
    post_all(api, readings)

    response = get(
        api,
        "/records",
        site_id="site_1",
        start_time="2025-03-30",
        end_time="2025-03-30",
        resolution="1d",
        tz="Europe/Berlin",
    )

    [bucket] = response.json_body["items"][:1]
    assert (bucket["bucket_start"], bucket["bucket_end"]) == ("2025-03-30T00:00:00+01:00", "2025-03-31T00:00:00+02:00")
    assert bucket["coverage"] == round(len(readings) / (23 * 12), 4)


def test_auto_picks_the_finest_resolution_within_max_points(backend: Backend, api):
    response = get(
        api,
        "/records",
        site_id="site_1",
        start_time="2025-02-01",
        end_time="2025-02-07",
        resolution="auto",
        max_points=200,
    )

    assert response.json_body["resolution"] == "1h"
    assert response.json_body["count"] == 168


def test_buckets_without_readings_say_so(backend: Backend, api):
    response = get(
        api,
        "/records",
        site_id="site_1",
        start_time="2025-02-17T00:00:00Z",
        end_time="2025-02-17T00:59:59Z",
        resolution="15m",
    )

    assert response.json_body["items"][0] == {
        "bucket_start": "2025-02-17T00:00:00Z",
        "bucket_end": "2025-02-17T00:15:00Z",
        "count": 0,
        "coverage": 0.0,
    }


def test_reingesting_a_corrected_reading_never_double_counts(backend: Backend, api):
    post_all(api, [{"site_id": "site_1", "timestamp": "2025-02-17T10:05:00Z", "energy_generated_kwh": 1}])
    post_all(api, [{"site_id": "site_1", "timestamp": "2025-02-17T10:05:00Z", "energy_generated_kwh": 3}])

    response = ten_oclock_hour(api)

    assert response.json_body["items"][0]["energy_generated_kwh"] == {"sum": 3, "count": 1}


def test_too_many_buckets_is_a_400_with_advice(backend: Backend, api):
    response = get(api, "/records", site_id="site_1", start_time="2025-01-01", end_time="2025-12-31", resolution="5m")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "resolution=auto" in parameter_errors(response)["resolution"]


@pytest.mark.parametrize(("name", "value"), [("tz", "Mars/Olympus"), ("resolution", "2h"), ("max_points", "0")])
def test_bad_aggregate_parameters_are_400(backend: Backend, api, name: str, value: str):
    params: dict[str, Any] = {
        "site_id": "site_1",
        "start_time": "2025-02-17",
        "end_time": "2025-02-17",
        "resolution": "1h",
    }

    response = get(api, "/records", **{**params, name: value})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert name in parameter_errors(response)


def test_thirty_day_hourly_chart_reads_over_ten_times_fewer_items_than_raw(
    dynalite_backend: Backend, make_dynalite_api
):
    first = datetime(2025, 1, 1, tzinfo=UTC)
    dynalite_backend.put(
        *(reading(timestamp=(first + timedelta(minutes=5 * n)).strftime("%Y-%m-%dT%H:%M:%SZ")) for n in range(30 * 288))
    )
    backfill_rollups(
        dynalite_backend.client,
        dynalite_backend.table_name,
        RollupStore(dynalite_backend.client, dynalite_backend.rollups_table),
    )
    recording = RecordingClient(dynalite_backend.client)
    api = make_dynalite_api(client=recording)
    raw_store = ReadingStore(dynalite_backend.client, dynalite_backend.table_name)

    response = get(api, "/records", site_id="site_1", start_time="2025-01-01", end_time="2025-01-30", resolution="1h")
    rollup_items_read = sum(answer["ScannedCount"] for _, answer in recording.queries)
    raw_items = raw_store.read_range("site_1", TimeRange(first, first + timedelta(days=30) - timedelta(microseconds=1)))

    assert response.json_body["count"] == 720
    assert (len(raw_items), rollup_items_read) == (8640, 720)
    assert len(raw_items) / rollup_items_read >= 10


@pytest.mark.parametrize(
    "params",
    [
        {"start_time": "9999-12-31", "end_time": "9999-12-31", "resolution": "1d"},
        {"start_time": "0001-01-01", "end_time": "0001-01-02", "resolution": "1h", "tz": "America/New_York"},
        {"start_time": "1970-01-01", "end_time": "2199-12-31", "resolution": "auto", "max_points": "5000"},
    ],
)
def test_extreme_ranges_are_400_not_500(backend: Backend, api, params: dict[str, Any]):
    response = get(api, "/records", site_id="site_1", **params)

    assert response.status_code == HTTPStatus.BAD_REQUEST


def test_sums_keep_dynamodb_precision(backend: Backend, api):
    post_all(
        api,
        [
            {
                "site_id": "site_1",
                "timestamp": "2025-02-17T10:00:00Z",
                "energy_generated_kwh": "1000000.123456789012345678901234567",
            },
            {"site_id": "site_1", "timestamp": "2025-02-17T10:05:00Z", "energy_generated_kwh": "0.5"},
        ],
    )

    response = ten_oclock_hour(api)

    assert b'"sum":1000000.623456789012345678901234567' in response.body
