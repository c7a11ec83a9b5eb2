"""Page filling edge cases that HTTP tests reach only slowly: query budget, index fallback switching."""

from __future__ import annotations

from typing import Any

from chalicelib.page_tokens import PageTokenCodec
from chalicelib.queries import AnomaliesQuery, RecordsQuery
from chalicelib.readings import INDEX_RECHECK_SECONDS, ReadingService
from chalicelib.store import ReadingStore
from chalicelib.tables import ensure_table
from chalicelib.timestamps import format_instant, parse_stored_instant
from tests.conftest import Backend, reading
from tests.contract.test_anomalies import RecordingClient

TOKENS = PageTokenCodec("t" * 40, 3600)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def anomalies(service: ReadingService, **parameters: Any) -> Any:
    return service.list_anomalies(AnomaliesQuery(site_id="site_1", **parameters))


def service_over(backend: Backend, client: Any = None, **options: Any) -> ReadingService:
    return ReadingService(ReadingStore(client or backend.client, backend.table_name), TOKENS, **options)


def test_spent_query_budget_returns_a_short_page_that_resumes_correctly(moto_backend_without_index: Backend):
    moto_backend_without_index.put(
        *(reading(timestamp=f"2025-02-17T{hour:02d}:00:00Z", anomaly=hour % 6 == 5) for hour in range(24))
    )
    service = service_over(moto_backend_without_index, max_queries_per_page=1)
    pages: list[list[str]] = []
    token = None

    for _ in range(30):
        page = anomalies(service, limit=3, next_token=token)
        pages.append([item["timestamp"] for item in page.items])
        token = page.next_token
        if token is None:
            break

    assert min(len(page) for page in pages) < 3  # the budget cut some pages short
    assert [timestamp for page in pages for timestamp in page] == [
        "2025-02-17T05:00:00Z",
        "2025-02-17T11:00:00Z",
        "2025-02-17T17:00:00Z",
        "2025-02-17T23:00:00Z",
    ]


def test_token_from_the_fallback_continues_on_the_index_once_it_exists(moto_backend_without_index: Backend):
    backend = moto_backend_without_index
    backend.put(*(reading(timestamp=f"2025-02-17T{hour:02d}:00:00Z", anomaly=True) for hour in range(5)))
    clock = Clock()
    recording = RecordingClient(backend.client)
    service = service_over(backend, recording, clock=clock)
    first = anomalies(service, limit=2)
    ensure_table(backend.client, backend.table_name)
    clock.now = INDEX_RECHECK_SECONDS + 1

    second = anomalies(service, limit=2, next_token=first.next_token)

    assert [item["timestamp"] for item in second.items] == ["2025-02-17T02:00:00Z", "2025-02-17T03:00:00Z"]
    assert recording.queries[-1][0]["IndexName"] == "anomalies-by-site"


def test_missing_index_is_not_retried_on_every_request(moto_backend_without_index: Backend):
    recording = RecordingClient(moto_backend_without_index.client)
    service = service_over(moto_backend_without_index, recording, clock=Clock())

    anomalies(service)
    anomalies(service)

    index_attempts = [request for request in recording.attempts if "IndexName" in request]
    assert len(index_attempts) == 1
    assert len(recording.queries) == 2


def walk_records(service: ReadingService, start_time: str, max_pages: int = 40) -> list[str]:
    """Follow next_token one reading at a time; fails if the walk does not end."""
    seen: list[str] = []
    token = None
    for _ in range(max_pages):
        parameters = {"site_id": "site_1", "start_time": start_time, "end_time": "2025-02-17", "limit": 1}
        page = service.list_records(RecordsQuery.model_validate({**parameters, "next_token": token}))
        seen += [item["timestamp"] for item in page.items]
        token = page.next_token
        if token is None:
            return seen
    raise AssertionError(f"walk did not end after {max_pages} pages")


def test_a_second_holding_many_readings_is_walked_to_the_end(moto_backend: Backend):
    stored = [f"2025-02-17T10:00:00.{n:02d}Z" for n in range(30)] + ["2025-02-17T10:00:01Z"]
    moto_backend.put(*(reading(timestamp=timestamp) for timestamp in stored))

    seen = walk_records(service_over(moto_backend), start_time="2025-02-17")

    assert seen == [format_instant(parse_stored_instant(timestamp)) for timestamp in stored]


def test_walk_progresses_when_a_second_is_full_of_readings_outside_the_range(moto_backend: Backend):
    stored = [f"2025-02-17T10:00:00.{n:03d}Z" for n in range(60)] + ["2025-02-17T10:00:01Z"]
    moto_backend.put(*(reading(timestamp=timestamp) for timestamp in stored))

    seen = walk_records(service_over(moto_backend, max_queries_per_page=2), start_time="2025-02-17T10:00:00.999Z")

    assert seen == ["2025-02-17T10:00:01Z"]
