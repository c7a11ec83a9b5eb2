"""ETags and 304s, freshness by window, and the in-process cache of closed windows."""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Any

import pytest
from chalice.test import Client

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
    assert response.headers["ETag"].startswith('"')


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


def test_cache_can_be_turned_off(readings: None, make_api: ApiFactory, caplog: pytest.LogCaptureFixture):
    api = make_api(response_cache_enabled=False)
    caplog.set_level(logging.INFO)

    get(api, "/records", **CLOSED)
    get(api, "/records", **CLOSED)

    assert [fact["dynamodb_items_read"] for fact in request_facts(caplog)] == [3, 3]


def test_past_summary_is_closed_and_current_one_open(api: Client):
    body = json.dumps([{"site_id": "site_1", "timestamp": "2025-02-17T10:00:00Z", "energy_generated_kwh": 1}])
    api.http.post("/records", headers={"Content-Type": "application/json"}, body=body.encode())

    past = get(api, "/sites/site_1/summary", as_of="2025-02-17T12:00:00Z")
    now = get(api, "/sites/site_1/summary")

    assert past.headers["Cache-Control"] == "private, max-age=1800"
    assert now.headers["Cache-Control"] == "private, max-age=10"


def test_errors_carry_no_etag(api: Client):
    response = get(api, "/records", site_id="site_1")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "ETag" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"
