"""GET /anomalies: served by the sparse index, exact ranges and pagination, no-index fallback."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import pytest

from tests.conftest import Backend, reading
from tests.helpers import get, walk


class RecordingClient:
    """Passes calls to a real client; keeps every Query attempted and each one answered."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.attempts: list[dict[str, Any]] = []
        self.queries: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def query(self, **request: Any) -> Any:
        self.attempts.append(request)
        response = self._client.query(**request)
        self.queries.append((request, response))
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def day_with_anomalies(anomalous_hours: tuple[int, ...], indexed: bool = True) -> list[dict[str, Any]]:
    return [
        reading(timestamp=f"2025-02-17T{hour:02d}:00:00Z", anomaly=hour in anomalous_hours, indexed=indexed)
        for hour in range(24)
    ]


def timestamps(response: Any) -> list[str]:
    return [item["timestamp"] for item in response.json_body["items"]]


def test_only_anomalous_readings_are_returned(backend: Backend, api):
    backend.put(*day_with_anomalies((3, 12, 20)))

    response = get(api, "/anomalies", site_id="site_1")

    assert response.status_code == HTTPStatus.OK
    assert timestamps(response) == ["2025-02-17T03:00:00Z", "2025-02-17T12:00:00Z", "2025-02-17T20:00:00Z"]
    assert all(item["anomaly"] is True for item in response.json_body["items"])


def test_index_attribute_is_not_exposed(backend: Backend, api):
    backend.put(*day_with_anomalies((3,)))

    item = get(api, "/anomalies", site_id="site_1").json_body["items"][0]

    assert "anomaly_at" not in item


def test_envelope_has_null_bounds_when_none_given(backend: Backend, api):
    response = get(api, "/anomalies", site_id="site_1")

    assert response.json_body == {
        "site_id": "site_1",
        "start_time": None,
        "end_time": None,
        "items": [],
        "count": 0,
        "next_token": None,
    }


@pytest.mark.parametrize(
    ("bounds", "expected_hours"),
    [
        ({"start_time": "2025-02-17T12:00:00Z"}, [12, 20]),
        ({"end_time": "2025-02-17T12:00:00Z"}, [3, 12]),
        ({"start_time": "2025-02-17T04:00:00+01:00", "end_time": "2025-02-17T19:59:59Z"}, [3, 12]),
        ({"start_time": "2025-02-17", "end_time": "2025-02-17"}, [3, 12, 20]),
    ],
)
def test_time_range_selects_anomalies_inclusively(
    backend: Backend, api, bounds: dict[str, Any], expected_hours: list[int]
):
    backend.put(*day_with_anomalies((3, 12, 20)))

    response = get(api, "/anomalies", site_id="site_1", **bounds)

    assert timestamps(response) == [f"2025-02-17T{hour:02d}:00:00Z" for hour in expected_hours]


def test_index_query_reads_no_normal_readings(backend: Backend, make_api):
    backend.put(*day_with_anomalies((3, 12, 20)))
    recording = RecordingClient(backend.client)
    api = make_api(client=recording)

    get(api, "/anomalies", site_id="site_1")

    assert [request.get("IndexName") for request, _ in recording.queries] == ["anomalies-by-site"]
    assert sum(response["ScannedCount"] for _, response in recording.queries) == 3


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_walk_returns_every_anomaly_once_in_order(backend: Backend, api, order: str):
    anomalous = (1, 2, 5, 8, 9, 13, 17, 22, 23)
    backend.put(*day_with_anomalies(anomalous))

    pages = walk(api, "/anomalies", site_id="site_1", limit=4, order=order)

    expected = [f"2025-02-17T{hour:02d}:00:00Z" for hour in sorted(anomalous, reverse=order == "desc")]
    assert [len(page) for page in pages] == [4, 4, 1]
    assert [item["timestamp"] for page in pages for item in page] == expected


def test_legacy_anomaly_without_index_attribute_is_not_in_the_index(backend: Backend, api):
    backend.put(*day_with_anomalies((3,), indexed=False))

    response = get(api, "/anomalies", site_id="site_1")

    assert response.json_body["count"] == 0


def test_without_the_index_anomalies_come_from_the_site_partition(backend_without_index: Backend, api_without_index):
    backend_without_index.put(*day_with_anomalies((3, 12, 20), indexed=False))

    response = get(api_without_index, "/anomalies", site_id="site_1", start_time="2025-02-17T04:00:00Z")

    assert response.status_code == HTTPStatus.OK
    assert timestamps(response) == ["2025-02-17T12:00:00Z", "2025-02-17T20:00:00Z"]


def test_without_the_index_a_warning_is_logged(backend_without_index: Backend, api_without_index, caplog):
    get(api_without_index, "/anomalies", site_id="site_1")

    assert any(
        record.levelname == "WARNING" and record.getMessage().startswith("Anomaly index unavailable")
        for record in caplog.records
    )


def test_without_the_index_pagination_walks_every_anomaly(backend_without_index: Backend, api_without_index):
    anomalous = (0, 4, 7, 11, 15, 23)
    backend_without_index.put(*day_with_anomalies(anomalous, indexed=False))

    pages = walk(api_without_index, "/anomalies", site_id="site_1", limit=4)

    assert [item["timestamp"] for page in pages for item in page] == [
        f"2025-02-17T{hour:02d}:00:00Z" for hour in anomalous
    ]
