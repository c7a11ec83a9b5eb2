"""CORS: per-stage allow-lists, several origins, preflight under the same routes as GET."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import pytest

from tests.conftest import Backend
from tests.helpers import PROBLEM_JSON, get

DASHBOARD = "https://dashboard.example.com"
ADMIN = "https://admin.example.com"
ALLOW_LIST = f"{DASHBOARD},{ADMIN}"
PARAMS: dict[str, Any] = {"site_id": "site_1", "start_time": "2025-02-17", "end_time": "2025-02-17"}


def preflight(api, path: str, origin: str | None) -> Any:
    headers = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}
    if origin is not None:
        headers["Origin"] = origin
    return api.http.request("OPTIONS", path, headers=headers)


def test_any_origin_stage_answers_with_wildcard(backend: Backend, api):
    response = get(api, "/records", headers={"Origin": "http://localhost:5173"}, **PARAMS)

    assert response.status_code == HTTPStatus.OK
    assert response.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize("origin", [DASHBOARD, ADMIN])
def test_each_listed_origin_is_echoed_with_vary(backend: Backend, make_api, origin: str):
    api = make_api(cors_allowed_origins=ALLOW_LIST)

    response = get(api, "/records", headers={"Origin": origin}, **PARAMS)

    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert "Origin" in response.headers["Vary"].split(", ")
    assert "Retry-After" in response.headers["Access-Control-Expose-Headers"]


def test_unlisted_origin_gets_no_allow_origin(backend: Backend, make_api):
    api = make_api(cors_allowed_origins=ALLOW_LIST)

    response = get(api, "/records", headers={"Origin": "https://evil.example.net"}, **PARAMS)

    assert response.status_code == HTTPStatus.OK
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Origin" in response.headers["Vary"].split(", ")


def test_error_responses_carry_cors_headers(backend: Backend, make_api):
    api = make_api(cors_allowed_origins=ALLOW_LIST)

    response = get(api, "/records", headers={"Origin": DASHBOARD}, site_id="site_1")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.headers["Access-Control-Allow-Origin"] == DASHBOARD


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/records", "GET, OPTIONS, POST"),
        ("/records/", "GET, OPTIONS, POST"),
        ("/anomalies", "GET, OPTIONS"),
        ("/anomalies/", "GET, OPTIONS"),
        ("/health", "GET, OPTIONS"),
        ("/", "GET, OPTIONS"),
    ],
)
def test_preflight_from_listed_origin_allows_the_paths_methods(backend: Backend, make_api, path: str, methods: str):
    api = make_api(cors_allowed_origins=ALLOW_LIST)

    response = preflight(api, path, ADMIN)

    assert response.status_code == HTTPStatus.NO_CONTENT
    assert response.headers["Access-Control-Allow-Origin"] == ADMIN
    assert response.headers["Access-Control-Allow-Methods"] == methods
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
    assert response.headers["Access-Control-Max-Age"] == "600"
    assert response.headers["Vary"] == "Origin"


def test_preflight_from_unlisted_origin_is_refused(backend: Backend, make_api):
    api = make_api(cors_allowed_origins=ALLOW_LIST)

    response = preflight(api, "/records", "https://evil.example.net")

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.headers["Content-Type"] == PROBLEM_JSON
    assert "Access-Control-Allow-Origin" not in response.headers


def test_options_without_origin_lists_allowed_methods(backend: Backend, api):
    response = preflight(api, "/records", None)

    assert response.status_code == HTTPStatus.NO_CONTENT
    assert response.headers["Allow"] == "GET, OPTIONS, POST"
