"""The authorizer's answer to API Gateway: policy per scope, context for routes, usage-plan key."""

from __future__ import annotations

from typing import Any

import pytest
from chalice.app import AuthRequest

from app import PERMISSIONS
from chalicelib.access import Caller, Unauthenticated, Unauthorized, authorize, bearer_key
from chalicelib.api_keys import ApiKeyStore
from tests.conftest import Backend

ARN_PREFIX = "arn:aws:execute-api:eu-west-1:123456789012:abc123/api"


def request_with(token: str) -> AuthRequest:
    return AuthRequest("TOKEN", token, f"{ARN_PREFIX}/GET/records")


def allowed_resources(answer: dict[str, Any]) -> list[str]:
    return [
        resource.removeprefix(ARN_PREFIX + "/")
        for statement in answer["policyDocument"]["Statement"]
        if statement["Effect"] == "Allow"
        for resource in statement["Resource"]
    ]


@pytest.fixture
def store(moto_backend: Backend) -> ApiKeyStore:
    return ApiKeyStore(moto_backend.client, moto_backend.api_keys_table)


def test_read_key_is_allowed_exactly_the_read_routes(store: ApiKeyStore):
    plaintext, _ = store.create("dash", {"read"}, {"site_1"})

    answer = authorize(request_with(f"Bearer {plaintext}"), store, PERMISSIONS)

    assert sorted(allowed_resources(answer)) == [
        "GET/anomalies",
        "GET/anomalies/",
        "GET/records",
        "GET/records/",
        "GET/sites",
        "GET/sites/",
        "GET/sites/*/summary",
        "GET/sites/*/summary/",
    ]


def test_write_key_is_allowed_only_ingest(store: ApiKeyStore):
    plaintext, _ = store.create("logger", {"write"}, {"site_1"})

    answer = authorize(request_with(f"Bearer {plaintext}"), store, PERMISSIONS)

    assert sorted(allowed_resources(answer)) == ["POST/records", "POST/records/"]


def test_admin_key_is_allowed_every_keyed_route(store: ApiKeyStore):
    plaintext, _ = store.create("ops", {"admin"}, {"*"})

    answer = authorize(request_with(f"Bearer {plaintext}"), store, PERMISSIONS)

    assert len(allowed_resources(answer)) == 2 * len(PERMISSIONS)


def test_answer_carries_principal_context_and_usage_key(store: ApiKeyStore):
    plaintext, record = store.create("dash", {"read"}, {"site_2", "site:1"})

    answer = authorize(request_with(f"Bearer {plaintext}"), store, PERMISSIONS)

    assert answer["principalId"] == record.key_id
    assert answer["context"] == {"scopes": "read", "sites": '["site:1", "site_2"]'}
    assert answer["usageIdentifierKey"] == record.usage_key
    assert len(record.usage_key or "") >= 20  # API Gateway's minimum API key length


@pytest.mark.parametrize("token", ["", "Bearer ", "Token abc", "Bearer emk_0_0"])
def test_unusable_tokens_raise_what_api_gateway_turns_into_401(store: ApiKeyStore, token: str):
    with pytest.raises(Unauthorized, match=r"^Unauthorized$"):
        authorize(request_with(token), store, PERMISSIONS)


def test_context_round_trips_to_the_same_caller():
    caller = Caller("k1", frozenset({"read", "write"}), frozenset({"a", "b c"}))

    context = {**caller.authorizer_context(), "principalId": "k1"}

    assert Caller.from_authorizer_context(context) == caller


@pytest.mark.parametrize("context", [None, {}, {"principalId": "x"}])
def test_route_without_authorizer_context_is_unauthenticated(context: dict[str, str] | None):
    with pytest.raises(Unauthenticated):
        Caller.from_authorizer_context(context)


@pytest.mark.parametrize(
    ("header", "key"),
    [("Bearer abc", "abc"), ("bearer  abc ", "abc"), ("BEARER abc", "abc"), ("Bearer a b", None), (None, None)],
)
def test_bearer_key_parsing(header: str | None, key: str | None):
    assert bearer_key(header) == key
