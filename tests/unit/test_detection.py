"""Anomaly detection: the legacy rules, and what the statistical detector adds on the demo data."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.detection import Anomaly, rule_anomalies, severity_for, statistical_anomalies
from chalicelib.rollups import HOUR, bucket_readings, floor_to
from chalicelib.timestamps import parse_stored_instant
from scripts import demo_data


@pytest.mark.parametrize(
    ("metrics", "rule"),
    [
        ({"energy_generated_kwh": Decimal("-0.1")}, "negative_energy"),
        ({"energy_consumed_kwh": Decimal(-1)}, "negative_energy"),
        ({"temperature_c": Decimal("50.1")}, "temperature_out_of_range"),
        ({"temperature_c": Decimal("-20.5")}, "temperature_out_of_range"),
        ({"humidity_percent": Decimal("100.5")}, "humidity_out_of_range"),
        ({"humidity_percent": Decimal(-1)}, "humidity_out_of_range"),
    ],
)
def test_legacy_rules_fire(metrics: dict[str, Decimal], rule: str):
    assert [anomaly.rule for anomaly in rule_anomalies(metrics)] == [rule]


@pytest.mark.parametrize(
    "metrics",
    [
        {"energy_generated_kwh": Decimal(0), "temperature_c": Decimal(50), "humidity_percent": Decimal(100)},
        {"temperature_c": Decimal(-20), "humidity_percent": Decimal(0)},
    ],
)
def test_legacy_rules_are_inclusive_at_their_limits(metrics: dict[str, Decimal]):
    assert rule_anomalies(metrics) == []


@pytest.mark.parametrize(
    ("score", "severity"), [(0, "low"), (49, "low"), (50, "medium"), (70, "high"), (90, "critical")]
)
def test_severity_follows_score(score: int, severity: str):
    assert severity_for(score) == severity


def test_no_history_means_no_statistical_verdict():
    assert (
        statistical_anomalies(datetime(2025, 2, 17, 12, tzinfo=UTC), {"energy_generated_kwh": Decimal(0)}, "sunny", [])
        == []
    )


def demo_verdicts() -> list[tuple[dict[str, Any], list[Anomaly], list[Anomaly]]]:
    """Each demo reading with what the rules and the statistical detector say of it."""
    verdicts = []
    by_site: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in demo_data.demo_readings():
        by_site[item["site_id"]["S"]].append(item)
    for items in by_site.values():
        hourly = bucket_readings(items, HOUR)
        for item in items:
            instant = parse_stored_instant(item["timestamp"]["S"])
            hour = floor_to(instant, HOUR)
            history = [bucket for days in range(1, 15) if (bucket := hourly.get(hour - timedelta(days=days)))]
            metrics = {name: Decimal(value["N"]) for name, value in item.items() if "N" in value}
            weather = item["weather_condition"]["S"]
            verdicts.append((item, rule_anomalies(metrics), statistical_anomalies(instant, metrics, weather, history)))
    return verdicts


def test_on_the_demo_data_the_detector_catches_what_thresholds_miss_without_false_alarms():
    verdicts = demo_verdicts()
    injected = [(rules, stats) for item, rules, stats in verdicts if item["anomaly"]["BOOL"]]
    normal = [(rules, stats) for item, rules, stats in verdicts if not item["anomaly"]["BOOL"]]

    caught_only_statistically = sum(1 for rules, stats in injected if stats and not rules)
    false_alarms = sum(1 for rules, stats in normal if rules or stats)

    assert caught_only_statistically >= 30
    assert false_alarms == 0
