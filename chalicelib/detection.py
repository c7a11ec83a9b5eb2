"""Anomaly detection on ingest: the old pipeline's fixed rules plus a robust statistical detector.

The statistical detector compares a reading's energy with the same UTC hour on recent days
(hourly rollups: one mean per day), using the median and the median absolute deviation, which
a few bad days cannot drag the way a mean and standard deviation can. Where enough of those
days had the same weather, only they are used: a cloudy noon is not compared with sunny ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from statistics import median
from typing import Any

from chalicelib.rollups import HOUR, Bucket, floor_to

DETECTOR_VERSION = "rules-1+robust-z-1"
HISTORY_DAYS = 14
MIN_HISTORY_DAYS = 4
Z_THRESHOLD = 4.0
MAD_TO_SIGMA = 1.4826  # makes the MAD estimate the standard deviation of normal data
WITHIN_HOUR_WEIGHT = 0.5
RELATIVE_FLOOR = 0.1
ABSOLUTE_FLOOR = 0.01
STATISTICAL_METRICS = ("energy_generated_kwh", "energy_consumed_kwh")
WEATHER_DEPENDENT = frozenset({"energy_generated_kwh"})
SEVERITIES = ("low", "medium", "high", "critical")


@dataclass(frozen=True)
class Anomaly:
    """One finding about one metric of one reading, with what a person needs to act on it."""

    metric: str
    value: Decimal
    expected: Decimal | None
    band_low: Decimal | None
    band_high: Decimal | None
    score: int
    rule: str

    @property
    def severity(self) -> str:
        return severity_for(self.score)

    def to_attribute(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "metric": {"S": self.metric},
            "value": {"N": str(self.value)},
            "score": {"N": str(self.score)},
            "severity": {"S": self.severity},
            "rule": {"S": self.rule},
            "detector_version": {"S": DETECTOR_VERSION},
        }
        for name, number in (("expected", self.expected), ("band_low", self.band_low), ("band_high", self.band_high)):
            if number is not None:
                fields[name] = {"N": str(_rounded(number))}
        return {"M": fields}


def severity_for(score: int) -> str:
    if score >= 90:
        return "critical"
    if score >= 70:
        return "high"
    if score >= 50:
        return "medium"
    return "low"


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


def rule_anomalies(metrics: dict[str, Decimal]) -> list[Anomaly]:
    """The legacy pipeline's thresholds, kept so nothing it caught is missed."""
    found: list[Anomaly] = []
    for metric in ("energy_generated_kwh", "energy_consumed_kwh"):
        value = metrics.get(metric)
        if value is not None and value < 0:
            found.append(Anomaly(metric, value, Decimal(0), Decimal(0), None, 80, "negative_energy"))
    found += _outside(metrics, "temperature_c", Decimal(-20), Decimal(50), rule="temperature_out_of_range", per_unit=2)
    found += _outside(metrics, "humidity_percent", Decimal(0), Decimal(100), rule="humidity_out_of_range", per_unit=1)
    return found


def _outside(
    metrics: dict[str, Decimal], metric: str, low: Decimal, high: Decimal, *, rule: str, per_unit: int
) -> list[Anomaly]:
    value = metrics.get(metric)
    if value is None or low <= value <= high:
        return []
    excess = (low - value) if value < low else (value - high)
    score = min(100, 55 + int(excess * per_unit))
    return [Anomaly(metric, value, None, low, high, score, rule)]


def statistical_anomalies(
    instant: datetime, metrics: dict[str, Decimal], weather: str | None, history: Sequence[Bucket]
) -> list[Anomaly]:
    """Robust z-score of each energy metric against the same hour on the previous days."""
    hour = floor_to(instant, HOUR)
    same_hour = [bucket for bucket in history if (hour - bucket.start) % timedelta(days=1) == timedelta(0)]
    same_hour = [bucket for bucket in same_hour if timedelta(0) < hour - bucket.start <= timedelta(days=HISTORY_DAYS)]
    same_weather = [bucket for bucket in same_hour if weather is not None and _dominant_weather(bucket) == weather]
    found: list[Anomaly] = []
    for metric in STATISTICAL_METRICS:
        value = metrics.get(metric)
        # Generation depends on the weather: judge it only against days with the same weather.
        history = same_weather if metric in WEATHER_DEPENDENT else same_hour
        means = [
            float(aggregate.total) / aggregate.count
            for bucket in history
            if (aggregate := bucket.metrics.get(metric)) is not None and aggregate.count
        ]
        if value is None or len(means) < MIN_HISTORY_DAYS:
            continue
        center = median(means)
        # Three floors on the spread: day-to-day variation of the hour (MAD), variation inside
        # the hour (a single reading is compared, not an hourly mean), and a relative minimum.
        within_hour = median(
            float(aggregate.maximum - aggregate.minimum)
            for bucket in history
            if (aggregate := bucket.metrics.get(metric)) is not None and aggregate.count
        )
        spread = max(
            MAD_TO_SIGMA * median(abs(mean - center) for mean in means),
            WITHIN_HOUR_WEIGHT * within_hour,
            RELATIVE_FLOOR * abs(center),
            ABSOLUTE_FLOOR,
        )
        z = (float(value) - center) / spread
        if abs(z) >= Z_THRESHOLD:
            found.append(
                Anomaly(
                    metric=metric,
                    value=value,
                    expected=Decimal(repr(center)),
                    band_low=Decimal(repr(center - Z_THRESHOLD * spread)),
                    band_high=Decimal(repr(center + Z_THRESHOLD * spread)),
                    score=min(100, round(abs(z) * 10)),
                    rule="robust_z_same_hour",
                )
            )
    return found


def _dominant_weather(bucket: Bucket) -> str | None:
    return bucket.weather.most_common(1)[0][0] if bucket.weather else None


def _rounded(number: Decimal) -> Decimal:
    return number.quantize(Decimal("0.0001")).normalize() + 0
