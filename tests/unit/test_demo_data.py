"""Demo data is realistic enough for the README examples, and seeding is idempotent."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from chalicelib.settings import Settings
from chalicelib.timestamps import parse_stored_instant
from scripts import demo_data, seed_demo_data
from tests.conftest import Backend
from tests.helpers import get


@pytest.fixture(scope="module")
def readings() -> list[dict[str, Any]]:
    return list(demo_data.demo_readings())


def test_five_sites_of_fourteen_days_at_five_minutes(readings: list[dict[str, Any]]):
    per_site = Counter(item["site_id"]["S"] for item in readings)

    assert per_site == {f"site_{n}": 14 * 288 for n in range(1, 6)}


def test_readings_cover_the_readme_dates(readings: list[dict[str, Any]]):
    instants = [parse_stored_instant(item["timestamp"]["S"]) for item in readings]

    assert min(instants).isoformat() == "2025-02-10T00:00:00+00:00"
    assert max(instants).isoformat() == "2025-02-23T23:55:00+00:00"


def test_about_one_percent_are_anomalies(readings: list[dict[str, Any]]):
    share = sum(item["anomaly"]["BOOL"] for item in readings) / len(readings)

    assert 0.005 < share < 0.015


def test_solar_generation_follows_the_sun(readings: list[dict[str, Any]]):
    normal = [item for item in readings if not item["anomaly"]["BOOL"]]
    night = [float(item["energy_generated_kwh"]["N"]) for item in normal if item["timestamp"]["S"][11:13] == "02"]
    noon = [float(item["energy_generated_kwh"]["N"]) for item in normal if item["timestamp"]["S"][11:13] == "12"]

    assert max(night) == 0
    assert min(noon) > 0


def test_generation_is_deterministic():
    assert list(demo_data.demo_readings())[:50] == list(demo_data.demo_readings())[:50]


def test_seeding_twice_writes_once(backend: Backend, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(demo_data, "READINGS_PER_SITE", 12)
    monkeypatch.setattr(demo_data, "TOTAL_READINGS", 60)

    settings = Settings(
        stage="local",
        dynamodb_table=backend.table_name,
        rollups_table=backend.rollups_table,
        sites_table=backend.sites_table,
    )

    first = seed_demo_data.seed(backend.client, settings)
    second = seed_demo_data.seed(backend.client, settings)

    assert (first, second) == (60, 0)


def test_seeding_registers_every_site_and_builds_rollups(backend: Backend, make_api, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(demo_data, "READINGS_PER_SITE", 24)
    api = make_api()
    settings = Settings(
        stage="local",
        dynamodb_table=backend.table_name,
        rollups_table=backend.rollups_table,
        sites_table=backend.sites_table,
    )

    seed_demo_data.seed(backend.client, settings)

    assert [item["site_id"] for item in api.http.get("/sites").json_body["items"]] == [
        s.site_id for s in demo_data.SITES
    ]
    hourly = get(
        api, "/records", site_id="site_5", start_time="2025-02-10", end_time="2025-02-10T01:59:59Z", resolution="1h"
    )
    assert [bucket["count"] for bucket in hourly.json_body["items"]] == [12, 12]
