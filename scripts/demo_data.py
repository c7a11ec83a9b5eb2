"""Deterministic, realistic demo readings: 5 sites x 14 days x 5-minute intervals.

Generation follows a daily solar curve scaled by the day's weather; consumption has a base
load with morning and evening peaks; about 1 % of readings are anomalies (sensor spikes,
generation dropouts, meter glitches). Sites 4 and 5 are written the way the legacy pipeline
wrote them (``+00:00`` and naive timestamps, anomalies flagged only by the boolean), so the
anomaly-index backfill and timestamp normalisation have real work to show.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from chalicelib.tables import ANOMALY_AT, ANOMALY_FLAG, SITE_ID, TIMESTAMP
from chalicelib.timestamps import format_sortable_instant

FIRST_DAY = datetime(2025, 2, 10, tzinfo=UTC)
DAYS = 14
INTERVAL = timedelta(minutes=5)
READINGS_PER_SITE = DAYS * 24 * 12
ANOMALY_RATE = 0.01
RANDOM_SEED = 20250210

# Daily weather and how much of the clear-sky solar output it lets through.
WEATHER = {"sunny": 1.0, "partly_cloudy": 0.7, "cloudy": 0.35, "rainy": 0.15}


@dataclass(frozen=True)
class DemoSite:
    site_id: str
    solar_capacity_kw: float
    base_load_kw: float
    climate_offset_c: float
    timestamp_style: str  # "canonical", "offset" or "naive"


SITES = (
    DemoSite("site_1", 50.0, 18.0, 0.0, "canonical"),
    DemoSite("site_2", 120.0, 45.0, 3.0, "canonical"),
    DemoSite("site_3", 8.0, 2.5, -4.0, "canonical"),
    DemoSite("site_4", 250.0, 90.0, 6.0, "offset"),
    DemoSite("site_5", 30.0, 12.0, -1.0, "naive"),
)
TOTAL_READINGS = len(SITES) * READINGS_PER_SITE


def stored_timestamp(instant: datetime, style: str) -> str:
    if style == "offset":
        return instant.isoformat(timespec="seconds")
    if style == "naive":
        return instant.replace(tzinfo=None).isoformat(timespec="seconds")
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def last_reading_key(site: DemoSite) -> dict[str, Any]:
    """Key of a site's final demo reading: present only once seeding finished."""
    last = FIRST_DAY + INTERVAL * (READINGS_PER_SITE - 1)
    return {SITE_ID: {"S": site.site_id}, TIMESTAMP: {"S": stored_timestamp(last, site.timestamp_style)}}


def demo_readings() -> Iterator[dict[str, Any]]:
    """Low-level DynamoDB items, the same on every run."""
    rng = random.Random(RANDOM_SEED)
    for site in SITES:
        daily_weather = [rng.choices(list(WEATHER), weights=[4, 3, 2, 1])[0] for _ in range(DAYS)]
        for step in range(READINGS_PER_SITE):
            instant = FIRST_DAY + INTERVAL * step
            yield _reading(rng, site, instant, daily_weather[step // (24 * 12)])


def _reading(rng: random.Random, site: DemoSite, instant: datetime, weather: str) -> dict[str, Any]:
    hour = instant.hour + instant.minute / 60
    hours_per_interval = INTERVAL.total_seconds() / 3600
    sun = max(0.0, math.sin(math.pi * (hour - 6.5) / 11.0)) ** 1.3
    generated = site.solar_capacity_kw * sun * WEATHER[weather] * rng.uniform(0.9, 1.05) * hours_per_interval
    peaks = 0.35 * math.exp(-((hour - 8) ** 2) / 2) + 0.5 * math.exp(-((hour - 19) ** 2) / 3)
    consumed = site.base_load_kw * (0.7 + peaks) * rng.uniform(0.92, 1.08) * hours_per_interval
    temperature = site.climate_offset_c + 6 + 5 * math.sin(math.pi * (hour - 9) / 12) + rng.gauss(0, 0.4)
    if weather == "rainy":
        temperature -= 2
    humidity = min(100.0, max(5.0, 70 - 2.2 * (temperature - site.climate_offset_c) + rng.gauss(0, 3)))
    anomaly = rng.random() < ANOMALY_RATE
    if anomaly:
        fault = rng.choice(("temperature_spike", "generation_dropout", "consumption_surge", "negative_meter"))
        if fault == "temperature_spike":
            temperature = rng.uniform(55, 85)
        elif fault == "generation_dropout":
            generated = 0.0
        elif fault == "consumption_surge":
            consumed *= rng.uniform(4, 8)
        else:
            generated = -rng.uniform(0.1, 2.0)
    item: dict[str, Any] = {
        SITE_ID: {"S": site.site_id},
        TIMESTAMP: {"S": stored_timestamp(instant, site.timestamp_style)},
        "energy_generated_kwh": _number(generated, 3),
        "energy_consumed_kwh": _number(consumed, 3),
        "temperature_c": _number(temperature, 1),
        "humidity_percent": _number(humidity, 1),
        "weather_condition": {"S": weather},
        ANOMALY_FLAG: {"BOOL": anomaly},
    }
    if anomaly and site.timestamp_style == "canonical":
        item[ANOMALY_AT] = {"S": format_sortable_instant(instant)}
    return item


def _number(value: float, places: int) -> dict[str, str]:
    """A DynamoDB number with ``places`` decimals at most, written without exponent or ``-0``."""
    rounded = Decimal(repr(value)).quantize(Decimal(1).scaleb(-places))
    return {"N": format(rounded.normalize() + 0, "f")}
