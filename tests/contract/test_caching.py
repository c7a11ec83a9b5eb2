"""ETags and 304s, freshness by window, and the in-process cache of closed windows."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.context import current_context
from tests.conftest import ApiFactory, Backend, reading
from tests.helpers import get

CLOSED: dict[str, Any] = {"site_id": "site_1", "start_time": "2025-02-17", "end_time": "2025-02-17"}
OPEN: dict[str, Any] = {"site_id": "site_1", "start_time": "2025-02-17", "end_time": "2199-12-31"}


def request_facts(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [record.__dict__ for record in caplog.records if record.getMessage() == "request"]


@pytest.fixture
def readings(backend: Backend) -> None:
    backend.put(*(reading("site_1", f"2025-02-17T10:0{minute}:00Z") for minute in range(3)))


def test_closed_window_is_cacheable_for_half_a_token_lifetime(readings: None, api: Client):
    response = get(api, "/records", **CLOSED)

    assert response.status_code == HTTPStatus.OK
    assert response.headers["Cache-Control"] == "private, max-age=1800"
    assert response.headers["ETag"].startswith('W/"')


def test_open_window_is_cacheable_for_seconds(readings: None, api: Client):
    response = get(api, "/records", **OPEN)

    assert response.headers["Cache-Control"] == "private, max-age=10"


def test_matching_if_none_match_is_304_without_body(readings: None, api: Client):
    etag = get(api, "/records", **CLOSED).headers["ETag"]

    response = get(api, "/records", headers={"If-None-Match": f'W/"other", {etag}'}, **CLOSED)

    assert response.status_code == HTTPStatus.NOT_MODIFIED
    assert response.body == b""
    assert response.headers["ETag"] == etag
    assert response.headers["Cache-Control"] == "private, max-age=1800"


def test_stale_if_none_match_gets_the_new_answer(readings: None, api: Client):
    response = get(api, "/records", headers={"If-None-Match": '"not-this-one"'}, **CLOSED)

    assert response.status_code == HTTPStatus.OK
    assert len(response.json_body["items"]) == 3


def test_open_window_etag_changes_when_data_changes(backend: Backend, readings: None, api: Client):
    before = get(api, "/records", **OPEN).headers["ETag"]
    backend.put(reading("site_1", "2025-02-17T11:00:00Z"))

    after = get(api, "/records", **OPEN)

    assert after.headers["ETag"] != before
    assert get(api, "/records", headers={"If-None-Match": before}, **OPEN).status_code == HTTPStatus.OK


def test_repeated_closed_window_is_served_from_memory(readings: None, api: Client, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO)

    first, second = get(api, "/records", **CLOSED), get(api, "/records", **CLOSED)

    facts = request_facts(caplog)
    assert [fact["cache"] for fact in facts] == ["miss", "hit"]
    assert [fact["dynamodb_items_read"] for fact in facts] == [3, 0]
    assert second.body == first.body
    assert facts[1]["items_returned"] == 3


def test_answer_from_memory_is_fresh_only_for_what_is_left_of_its_time(
    readings: None, api: Client, monkeypatch: pytest.MonkeyPatch
):
    get(api, "/records", **CLOSED)
    cache = current_context().response_cache
    assert cache is not None
    monkeypatch.setattr(cache, "_clock", lambda: time.monotonic() + 600)

    response = get(api, "/records", **CLOSED)

    assert response.status_code == HTTPStatus.OK
    assert response.headers["Cache-Control"] == "private, max-age=1200"


def test_not_modified_counts_no_items_returned(readings: None, api: Client, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO)
    etag = get(api, "/records", **CLOSED).headers["ETag"]

    response = get(api, "/records", headers={"If-None-Match": etag}, **CLOSED)

    assert response.status_code == HTTPStatus.NOT_MODIFIED
    assert [fact["items_returned"] for fact in request_facts(caplog)] == [3, 0]


def test_keyed_answers_vary_by_authorization(readings: None, api: Client):
    response = get(api, "/records", **CLOSED)

    assert response.status_code == HTTPStatus.OK
    assert "Authorization" in response.headers["Vary"]


def test_continuation_pages_are_never_answered_from_memory(
    readings: None, api: Client, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO)
    token = get(api, "/records", limit=1, **CLOSED).json_body["next_token"]

    pages = [get(api, "/records", limit=1, next_token=token, **CLOSED) for _ in range(2)]

    assert [page.status_code for page in pages] == [HTTPStatus.OK, HTTPStatus.OK]
    assert [(fact["cache"], fact["dynamodb_items_read"] > 0) for fact in request_facts(caplog)] == [
        ("miss", True),
        (None, True),
        (None, True),
    ]


def test_open_windows_are_never_kept(readings: None, api: Client, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO)

    get(api, "/records", **OPEN)
    get(api, "/records", **OPEN)

    assert [fact.get("cache") for fact in request_facts(caplog)] == [None, None]


def test_ingest_forgets_the_sites_cached_answers(readings: None, api: Client):
    get(api, "/records", **CLOSED)
    body = json.dumps([{"site_id": "site_1", "timestamp": "2025-02-17T12:00:00Z", "energy_generated_kwh": 1}])
    api.http.post("/records", headers={"Content-Type": "application/json"}, body=body.encode())

    response = get(api, "/records", **CLOSED)

    assert len(response.json_body["items"]) == 4


def test_a_failed_ingest_still_forgets_the_sites_cached_answers(
    readings: None, api: Client, monkeypatch: pytest.MonkeyPatch
):
    get(api, "/records", **CLOSED)
    ingest = current_context().ingest
    store_then_fail = ingest.ingest

    def stored_then_failed(*arguments: Any) -> None:
        store_then_fail(*arguments)
        raise RuntimeError("failed after storing")

    monkeypatch.setattr(ingest, "ingest", stored_then_failed)
    body = json.dumps([{"site_id": "site_1", "timestamp": "2025-02-17T12:00:00Z", "energy_generated_kwh": 1}])
    failed = api.http.post("/records", headers={"Content-Type": "application/json"}, body=body.encode())

    response = get(api, "/records", **CLOSED)

    assert failed.status_code == HTTPStatus.INTERNAL_SERVER_ERROR
    assert len(response.json_body["items"]) == 4


def test_cache_can_be_turned_off(readings: None, make_api: ApiFactory, caplog: pytest.LogCaptureFixture):
    api = make_api(response_cache_enabled=False)
    caplog.set_level(logging.INFO)

    get(api, "/records", **CLOSED)
    get(api, "/records", **CLOSED)

    assert [fact["dynamodb_items_read"] for fact in request_facts(caplog)] == [3, 3]


def test_summaries_are_always_open_since_they_name_the_latest_reading(api: Client):
    body = json.dumps([{"site_id": "site_1", "timestamp": "2025-02-17T10:00:00Z", "energy_generated_kwh": 1}])
    api.http.post("/records", headers={"Content-Type": "application/json"}, body=body.encode())

    past = get(api, "/sites/site_1/summary", as_of="2025-02-17T12:00:00Z")

    assert past.status_code == HTTPStatus.OK
    assert past.headers["Cache-Control"] == "private, max-age=10"


def test_answer_holding_a_next_token_is_never_kept_long(readings: None, api: Client, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO)

    pages = [get(api, "/records", limit=1, **CLOSED) for _ in range(2)]

    assert [page.headers["Cache-Control"] for page in pages] == ["private, max-age=10"] * 2
    assert [fact["cache"] for fact in request_facts(caplog)] == ["miss", "miss"]


def start_of_last_hour_plus_a_second() -> str:
    """An instant more than the late-data hour ago (nearly always) whose hour ended only now."""
    this_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return (this_hour - timedelta(minutes=59, seconds=59)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_aggregate_whose_last_bucket_is_still_filling_is_open(api: Client):
    instant = start_of_last_hour_plus_a_second()

    response = get(api, "/records", site_id="site_1", start_time=instant, end_time=instant, resolution="1h")

    assert response.status_code == HTTPStatus.OK
    assert response.headers["Cache-Control"] == "private, max-age=10"


def test_errors_carry_no_etag(api: Client):
    response = get(api, "/records", site_id="site_1")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "ETag" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"
