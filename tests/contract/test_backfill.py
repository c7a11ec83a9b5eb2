"""The anomaly-index backfill: marks legacy anomalies, idempotent, resumable, and /anomalies sees them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chalicelib.backfill import ScanCheckpoint, backfill_anomaly_index
from scripts import backfill_anomaly_index as backfill_command
from tests.conftest import Backend, reading
from tests.helpers import get


def legacy_day(anomalous_hours: tuple[int, ...]) -> list[dict[str, Any]]:
    return [
        reading(timestamp=f"2025-02-17T{hour:02d}:00:00", anomaly=hour in anomalous_hours, indexed=False)
        for hour in range(24)
    ]


def stored_item(backend: Backend, timestamp: str) -> dict[str, Any]:
    key = {"site_id": {"S": "site_1"}, "timestamp": {"S": timestamp}}
    item: dict[str, Any] = backend.client.get_item(TableName=backend.table_name, Key=key)["Item"]
    return item


def test_legacy_anomalies_get_the_index_attribute(backend: Backend, tmp_path: Path):
    backend.put(*legacy_day((5, 17)))

    report = backfill_anomaly_index(backend.client, backend.table_name, ScanCheckpoint(tmp_path / "cp.json"))

    assert (report.scanned, report.updated, report.finished) == (24, 2, True)
    assert stored_item(backend, "2025-02-17T05:00:00")["anomaly_at"] == {"S": "2025-02-17T05:00:00.000000Z"}
    assert "anomaly_at" not in stored_item(backend, "2025-02-17T06:00:00")


def test_backfilled_anomalies_are_served_from_the_index(backend: Backend, api, tmp_path: Path):
    backend.put(*legacy_day((5, 17)))
    backfill_anomaly_index(backend.client, backend.table_name, ScanCheckpoint(tmp_path / "cp.json"))

    response = get(api, "/anomalies", site_id="site_1")

    assert [item["timestamp"] for item in response.json_body["items"]] == [
        "2025-02-17T05:00:00Z",
        "2025-02-17T17:00:00Z",
    ]


def test_second_run_finds_nothing_to_do(backend: Backend, tmp_path: Path):
    backend.put(*legacy_day((5, 17)))
    checkpoint = ScanCheckpoint(tmp_path / "cp.json")
    backfill_anomaly_index(backend.client, backend.table_name, checkpoint)

    report = backfill_anomaly_index(backend.client, backend.table_name, checkpoint)

    assert (report.updated, report.already_done, report.finished) == (0, 0, True)


def test_interrupted_run_resumes_from_its_checkpoint(backend: Backend, tmp_path: Path):
    backend.put(*legacy_day((1, 9, 20)))
    checkpoint = ScanCheckpoint(tmp_path / "cp.json")

    def interrupt_after_first_page(_: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        backfill_anomaly_index(
            backend.client, backend.table_name, checkpoint, page_size=10, on_scanned=interrupt_after_first_page
        )
    first_run_marked = sum("anomaly_at" in stored_item(backend, f"2025-02-17T{h:02d}:00:00") for h in (1, 9, 20))
    resumed = backfill_anomaly_index(backend.client, backend.table_name, checkpoint, page_size=10)

    assert first_run_marked == 2
    assert checkpoint.load() is None
    assert (resumed.scanned, resumed.updated) == (14, 1)


def test_unparseable_timestamps_are_reported_not_marked(backend: Backend, tmp_path: Path):
    backend.put(reading(timestamp="not-a-time", anomaly=True, indexed=False))

    report = backfill_anomaly_index(backend.client, backend.table_name, ScanCheckpoint(tmp_path / "cp.json"))

    assert report.unparseable == [{"site_id": "site_1", "timestamp": "not-a-time"}]
    assert report.updated == 0


def test_command_reports_what_it_did(backend: Backend, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    backend.put(*legacy_day((5,)))

    backfill_command.run(backend.client, backend.table_name, ScanCheckpoint(tmp_path / "cp.json"))

    assert "scanned 24, marked 1 anomalies, 0 already marked, 0 unparseable timestamps" in capsys.readouterr().out
