"""Small helpers for HTTP-level assertions."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from chalice.test import Client

PROBLEM_JSON = "application/problem+json"


def get(api: Client, path: str, headers: dict[str, str] | None = None, **params: Any) -> Any:
    """GET ``path`` with URL-encoded query parameters, as a browser's fetch would send them."""
    query = urlencode({name: value for name, value in params.items() if value is not None})
    return api.http.get(f"{path}?{query}" if query else path, headers=headers or {})


def walk(api: Client, path: str, **params: Any) -> list[list[dict[str, Any]]]:
    """Follow next_token to the end; returns every page's items."""
    pages = []
    token = None
    while True:
        response = get(api, path, next_token=token, **params)
        assert response.status_code == 200, response.json_body
        pages.append(response.json_body["items"])
        token = response.json_body["next_token"]
        if token is None:
            return pages


def parameter_errors(response: Any) -> dict[str, str]:
    assert response.headers["Content-Type"] == PROBLEM_JSON
    return {error["parameter"]: error["message"] for error in response.json_body["errors"]}
