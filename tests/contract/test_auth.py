"""API keys on every data route: 401 without a valid key, 403 outside the key's scopes or sites."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any, Literal

import pytest
from chalice.test import Client

from chalicelib.api_keys import ApiKeyStore
from chalicelib.settings import Settings
from tests.conftest import ApiFactory, Backend, reading
from tests.helpers import PROBLEM_JSON, get

RANGE: dict[str, Any] = {"start_time": "2025-02-17", "end_time": "2025-02-18"}
# (method, path, query) per data route, all asking about site_3.
DATA_ROUTES: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/records", {"site_id": "site_3", **RANGE}),
    ("GET", "/records", {"site_id": "site_3", **RANGE, "resolution": "1h"}),
    ("GET", "/anomalies", {"site_id": "site_3"}),
    ("GET", "/sites/site_3/summary", {}),
    ("POST", "/records", {}),
]
ROUTE_IDS = ["records", "records-1h", "anomalies", "summary", "ingest"]
UNAUTHENTICATED = {
    "type": "urn:energy-metrics:problem:unauthenticated",
    "title": "Unauthenticated",
    "status": 401,
    "detail": "Send a valid API key as 'Authorization: Bearer <key>'.",
}


def call(api: Client, method: str, path: str, query: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    if method == "POST":
        return post_readings(api, ("site_3", "2025-02-17T10:00:00Z"), headers=headers)
    return get(api, path, headers=headers, **query)


def post_readings(api: Client, *readings: tuple[str, str], headers: dict[str, str] | None = None) -> Any:
    """POST /records with one reading per (site_id, timestamp)."""
    body = json.dumps([{"site_id": site, "timestamp": at, "energy_generated_kwh": 1} for site, at in readings])
    return api.http.post(
        "/records", headers={"Content-Type": "application/json", **(headers or {})}, body=body.encode()
    )


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def anonymous(make_api: ApiFactory) -> Client:
    return make_api(api_key=None)


@pytest.mark.parametrize(("method", "path", "query"), DATA_ROUTES, ids=ROUTE_IDS)
def test_no_key_is_401_on_every_data_route(anonymous: Client, method: str, path: str, query: dict[str, Any]):
    response = call(anonymous, method, path, query)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.headers["Content-Type"] == PROBLEM_JSON
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="energy-metrics-api"'
    assert response.json_body == UNAUTHENTICATED


def test_listing_sites_without_a_key_is_401(anonymous: Client):
    response = get(anonymous, "/sites")

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json_body == UNAUTHENTICATED


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer emk_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",  # well-formed, unknown
        "Bearer not-a-key",
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "",
    ],
    ids=["unknown", "malformed", "basic", "empty-bearer", "empty"],
)
def test_any_invalid_key_gets_the_same_401(anonymous: Client, authorization: str):
    response = get(anonymous, "/anomalies", headers={"Authorization": authorization}, site_id="site_1")

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json_body == UNAUTHENTICATED


def test_revoked_key_gets_the_same_401_as_an_unknown_one(backend: Backend, anonymous: Client):
    store = ApiKeyStore(backend.client, backend.api_keys_table)
    plaintext, record = store.create("leaked", {"read"}, {"*"})
    assert get(anonymous, "/anomalies", headers=bearer(plaintext), site_id="site_1").status_code == HTTPStatus.OK
    store.revoke(record.key_id)

    response = get(anonymous, "/anomalies", headers=bearer(plaintext), site_id="site_1")

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json_body == UNAUTHENTICATED


def test_key_with_a_wrong_secret_is_401(backend: Backend, anonymous: Client):
    plaintext = backend.create_key("read", "*")
    tampered = plaintext[:-1] + ("A" if plaintext[-1] != "A" else "B")

    response = get(anonymous, "/anomalies", headers=bearer(tampered), site_id="site_1")

    assert response.status_code == HTTPStatus.UNAUTHORIZED


def test_bearer_scheme_is_case_insensitive(backend: Backend, anonymous: Client):
    key = backend.create_key("read", "site_1")

    response = get(anonymous, "/anomalies", headers={"Authorization": f"bearer {key}"}, site_id="site_1")

    assert response.status_code == HTTPStatus.OK


@pytest.mark.parametrize(("method", "path", "query"), DATA_ROUTES, ids=ROUTE_IDS)
def test_key_for_other_sites_is_403_on_every_data_route(
    backend: Backend, anonymous: Client, method: str, path: str, query: dict[str, Any]
):
    key = backend.create_key("read,write", "site_1,site_2")

    response = call(anonymous, method, path, query, headers=bearer(key))

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.headers["Content-Type"] == PROBLEM_JSON
    assert response.json_body["detail"] == "This API key may not access site(s): site_3."


def test_forbidden_ingest_stores_nothing(backend: Backend, anonymous: Client, make_api: ApiFactory):
    key = backend.create_key("write", "site_1")

    response = post_readings(
        anonymous, ("site_1", "2025-02-17T10:00:00Z"), ("site_3", "2025-02-17T10:00:00Z"), headers=bearer(key)
    )

    assert response.status_code == HTTPStatus.FORBIDDEN
    admin = make_api()
    assert get(admin, "/records", site_id="site_1", **RANGE).json_body["count"] == 0


@pytest.fixture
def site_3_token(backend: Backend, make_api: ApiFactory) -> str:
    """A page token an all-sites key got for site_3."""
    backend.put(*(reading("site_3", f"2025-02-17T10:{minute:02d}:00Z") for minute in range(3)))
    token: str = get(make_api(), "/records", site_id="site_3", limit=1, **RANGE).json_body["next_token"]
    return token


def test_page_token_does_not_widen_a_key_to_another_site(backend: Backend, make_api: ApiFactory, site_3_token: str):
    narrow = make_api(api_key=backend.create_key("read", "site_1"))

    response = get(narrow, "/records", site_id="site_3", limit=1, next_token=site_3_token, **RANGE)

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json_body["detail"] == "This API key may not access site(s): site_3."


def test_page_token_of_another_site_cannot_be_replayed_on_an_allowed_one(
    backend: Backend, make_api: ApiFactory, site_3_token: str
):
    narrow = make_api(api_key=backend.create_key("read", "site_1"))

    response = get(narrow, "/records", site_id="site_1", limit=1, next_token=site_3_token, **RANGE)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json_body["title"] == "Invalid page token"


def test_site_list_shows_only_the_keys_sites(backend: Backend, make_api: ApiFactory):
    admin = make_api()
    for site in ("site_1", "site_2", "site_3"):
        ingest(admin, site)
    narrow = make_api(api_key=backend.create_key("read", "site_3,site_1,site_9"))

    response = get(narrow, "/sites")

    assert response.status_code == HTTPStatus.OK
    assert [item["site_id"] for item in response.json_body["items"]] == ["site_1", "site_3"]
    assert response.json_body["next_token"] is None


def test_site_list_of_a_narrow_key_pages(backend: Backend, make_api: ApiFactory):
    admin = make_api()
    for site in ("site_1", "site_2", "site_3"):
        ingest(admin, site)
    narrow = make_api(api_key=backend.create_key("read", "site_1,site_2,site_3"))

    first = get(narrow, "/sites", limit=2).json_body
    second = get(narrow, "/sites", limit=2, next_token=first["next_token"]).json_body

    assert [item["site_id"] for item in first["items"] + second["items"]] == ["site_1", "site_2", "site_3"]
    assert second["next_token"] is None


def ingest(api: Client, site_id: str) -> None:
    response = post_readings(api, (site_id, "2025-02-17T10:00:00Z"))
    assert response.status_code == HTTPStatus.OK, response.json_body


def test_read_key_cannot_write(backend: Backend, make_api: ApiFactory):
    reader = make_api(api_key=backend.create_key("read", "*"))

    response = post_readings(reader, ("site_1", "2025-02-17T10:00:00Z"))

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.headers["Content-Type"] == PROBLEM_JSON
    assert get(make_api(), "/records", site_id="site_1", **RANGE).json_body["count"] == 0


def test_write_key_cannot_read(backend: Backend, make_api: ApiFactory):
    writer = make_api(api_key=backend.create_key("write", "*"))

    response = get(writer, "/anomalies", site_id="site_1")

    assert response.status_code == HTTPStatus.FORBIDDEN


def test_write_key_can_write_its_sites(backend: Backend, make_api: ApiFactory):
    writer = make_api(api_key=backend.create_key("write", "site_1"))

    ingest(writer, "site_1")


@pytest.mark.parametrize("path", ["/", "/health"])
def test_service_routes_need_no_key(anonymous: Client, path: str):
    response = get(anonymous, path)

    assert response.status_code == HTTPStatus.OK
    assert "Cache-Control" not in response.headers


def test_preflight_needs_no_key(anonymous: Client):
    response = anonymous.http.options(
        "/records", headers={"Origin": "https://dashboard.example", "Access-Control-Request-Method": "GET"}
    )

    assert response.status_code == HTTPStatus.NO_CONTENT


def test_keyed_data_is_private_to_the_caller(api: Client):
    response = get(api, "/anomalies", site_id="site_1")

    assert response.status_code == HTTPStatus.OK
    assert response.headers["Cache-Control"] == "private, max-age=10"  # an open window (no end_time)


def test_key_check_failure_is_503_with_retry_after(backend: Backend, anonymous: Client, monkeypatch):
    key = backend.create_key("read", "*")
    monkeypatch.setattr(backend.client, "get_item", _throttled)

    response = get(anonymous, "/anomalies", headers=bearer(key), site_id="site_1")

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.headers["Retry-After"] == "2"
    assert response.json_body["title"] == "Service unavailable"


def _throttled(**_: Any) -> Any:
    from botocore.exceptions import ClientError  # noqa: PLC0415

    raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "GetItem")


def test_auth_can_be_turned_off_locally(make_api: ApiFactory):
    local = make_api(api_key=None, auth_enabled=False)

    response = get(local, "/anomalies", site_id="site_3")

    assert response.status_code == HTTPStatus.OK


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_auth_cannot_be_turned_off_in_aws_stages(stage: Literal["dev", "prod"]):
    with pytest.raises(ValueError, match="AUTH_ENABLED=false is only allowed in the local stage"):
        Settings(stage=stage, auth_enabled=False, page_token_secret_id="x")


# The closing table of issue 4: route x caller -> status. "wrong-site" holds read+write for
# site_1 and site_2 and asks about site_3 like every other caller here.
KEYS = {"wrong-site": ("read,write", "site_1,site_2"), "read": ("read", "site_3"), "write": ("write", "site_3")}
MATRIX_ROUTES = [*DATA_ROUTES, ("GET", "/sites", {}), ("GET", "/", {}), ("GET", "/health", {})]
EXPECTED = {
    # route id:        no key, wrong-site, read, write, admin
    "records": (401, 403, 200, 403, 200),
    "records-1h": (401, 403, 200, 403, 200),
    "anomalies": (401, 403, 200, 403, 200),
    "summary": (401, 403, 200, 403, 200),
    "ingest": (401, 403, 403, 200, 200),
    "sites": (401, 200, 200, 403, 200),
    "index": (200, 200, 200, 200, 200),
    "health": (200, 200, 200, 200, 200),
}


@pytest.mark.parametrize(
    ("route", "expected"),
    [(route, EXPECTED[name]) for route, name in zip(MATRIX_ROUTES, EXPECTED, strict=True)],
    ids=list(EXPECTED),
)
def test_route_by_caller_status_matrix(
    backend: Backend, make_api: ApiFactory, route: tuple[str, str, dict[str, Any]], expected: tuple[int, ...]
):
    admin = make_api()
    ingest(admin, "site_3")
    callers = [
        make_api(api_key=None),
        *(make_api(api_key=backend.create_key(*KEYS[kind])) for kind in ("wrong-site", "read", "write")),
        admin,
    ]

    statuses = tuple(call(caller, *route).status_code for caller in callers)

    assert statuses == expected


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer emk_secret_never_echoed"}, {"Authorization": "Bearer clé-ünïcode"}],
    ids=["no-key", "key", "non-ascii"],
)
def test_unknown_route_is_a_404_problem_that_echoes_nothing(anonymous: Client, headers: dict[str, str]):
    response = anonymous.http.get("/no-such-route", headers=headers)

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.headers["Content-Type"] == PROBLEM_JSON
    assert response.json_body["detail"] == "There is no such route; GET / lists the routes."
    assert b"emk_" not in response.body


def test_gateway_errors_let_scripts_read_retry_after(anonymous: Client):
    response = get(anonymous, "/anomalies", site_id="site_1")

    assert "Retry-After" in response.headers["Access-Control-Expose-Headers"]


def test_ingest_naming_another_site_in_an_invalid_row_is_403(backend: Backend, anonymous: Client):
    key = backend.create_key("write", "site_1")

    response = post_readings(
        anonymous, ("site_1", "2025-02-17T10:00:00Z"), ("site_3", "not a time"), headers=bearer(key)
    )

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json_body["detail"] == "This API key may not access site(s): site_3."
