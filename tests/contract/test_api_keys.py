"""API keys: random, shown once, stored only as a hash; verified by id + hash; revocable."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from chalicelib.api_keys import ApiKeyStore
from scripts import api_keys as api_keys_command
from tests.conftest import Backend


@pytest.fixture
def store(backend: Backend) -> ApiKeyStore:
    return ApiKeyStore(backend.client, backend.api_keys_table)


def test_created_key_verifies_with_its_scopes_and_sites(store: ApiKeyStore):
    plaintext, created = store.create("dashboard", {"read"}, {"site_1", "site_2"})

    verified = store.verify(plaintext)

    assert verified == created
    assert verified is not None
    assert (verified.may_see("site_1"), verified.may_see("site_3")) == (True, False)


def test_only_a_hash_of_the_key_is_stored(backend: Backend, store: ApiKeyStore):
    plaintext, created = store.create("dashboard", {"read"}, {"*"})

    item = backend.client.get_item(
        TableName=store.table_name, Key={"registry": {"S": "api-keys"}, "key_id": {"S": created.key_id}}
    )["Item"]

    assert plaintext not in json.dumps(item)
    assert plaintext.removeprefix(f"emk_{created.key_id}_") not in json.dumps(item)
    assert len(item["secret_sha256"]["S"]) == 64


def test_keys_are_random_and_high_entropy(store: ApiKeyStore):
    first, first_record = store.create("a", {"read"}, {"*"})
    second, _ = store.create("b", {"read"}, {"*"})

    assert first != second
    assert len(first.removeprefix(f"emk_{first_record.key_id}_")) == 43  # 32 random bytes, base64url


@pytest.mark.parametrize("attempt", ["", "emk_", "Bearer x", "emk_000000000000_" + "A" * 43])
def test_unknown_or_malformed_keys_do_not_verify(store: ApiKeyStore, attempt: str):
    assert store.verify(attempt) is None


def test_a_key_with_a_guessed_secret_does_not_verify(store: ApiKeyStore):
    plaintext, _ = store.create("dashboard", {"read"}, {"*"})
    guessed = plaintext[:-1] + ("A" if plaintext[-1] != "A" else "B")

    assert store.verify(guessed) is None


def test_revoked_key_stops_verifying(store: ApiKeyStore):
    plaintext, created = store.create("dashboard", {"read"}, {"*"})

    assert store.revoke(created.key_id) is True
    assert store.verify(plaintext) is None
    assert [key.revoked_at is not None for key in store.list()] == [True]


def test_revoking_an_unknown_key_says_so(store: ApiKeyStore):
    assert store.revoke("000000000000") is False


def test_verify_reads_the_key_strongly_consistently(backend: Backend, store: ApiKeyStore):
    plaintext, _ = store.create("dashboard", {"read"}, {"*"})
    get_items: list[dict[str, Any]] = []
    backend.client.meta.events.register(
        "before-parameter-build.dynamodb.GetItem", lambda params, **_: get_items.append(dict(params))
    )

    store.verify(plaintext)

    assert [params.get("ConsistentRead") for params in get_items] == [True]


@pytest.mark.parametrize(
    ("scopes", "sites"),
    [
        (set(), {"*"}),
        ({"superuser"}, {"*"}),
        ({"read"}, set()),
        ({"read", ""}, {"*"}),
        ({" "}, {"*"}),
        ({"read"}, {"site_1", ""}),
        ({"read"}, {"  "}),
        ({"read"}, {"*", "site_1"}),
        ({"read"}, {"site 1"}),
        ({"read"}, {"-site"}),
        ({"read"}, {"s" * 129}),
        ({"read"}, {"site/1"}),
    ],
)
def test_invalid_scopes_or_sites_are_refused(store: ApiKeyStore, scopes: set[str], sites: set[str]):
    with pytest.raises(ValueError, match=r"scopes|sites"):
        store.create("x", scopes, sites)


def test_scopes_and_sites_are_stripped(store: ApiKeyStore):
    plaintext, created = store.create("dashboard", {" read", "admin "}, {" site_1", "site_2 "})

    assert (created.scopes, created.sites) == (frozenset({"read", "admin"}), frozenset({"site_1", "site_2"}))
    assert store.verify(plaintext) == created


def test_command_strips_scopes_and_sites(moto_backend: Backend, capsys: pytest.CaptureFixture[str], monkeypatch):
    monkeypatch.setattr(api_keys_command, "client_for", lambda _endpoint: moto_backend.client)
    table = ["--table", moto_backend.api_keys_table]

    api_keys_command.main([*table, "create", "--name", "dash", "--scopes", "read, admin", "--sites", "site_1, site_2"])

    created = json.loads(capsys.readouterr().out)
    assert (created["scopes"], created["sites"]) == (["admin", "read"], ["site_1", "site_2"])


@pytest.mark.parametrize(("scopes", "sites"), [("read,", "*"), ("read", "site_1,,site_2"), ("read", "*, site_1")])
def test_command_refuses_empty_or_mixed_entries(
    moto_backend: Backend, capsys: pytest.CaptureFixture[str], monkeypatch, scopes: str, sites: str
):
    monkeypatch.setattr(api_keys_command, "client_for", lambda _endpoint: moto_backend.client)
    table = ["--table", moto_backend.api_keys_table]

    status = api_keys_command.main([*table, "create", "--name", "dash", "--scopes", scopes, "--sites", sites])

    assert status == 2
    assert capsys.readouterr().out == ""
    assert ApiKeyStore(moto_backend.client, moto_backend.api_keys_table).list() == []


def test_command_creates_lists_and_revokes(backend: Backend, capsys: pytest.CaptureFixture[str], monkeypatch):
    table = f"{backend.table_name}-cli-keys"
    monkeypatch.setattr(api_keys_command, "client_for", lambda _endpoint: backend.client)

    api_keys_command.main(["--table", table, "create", "--name", "ops", "--scopes", "read,admin", "--sites", "*"])
    created = json.loads(capsys.readouterr().out)
    api_keys_command.main(["--table", table, "revoke", created["key_id"]])
    capsys.readouterr()
    api_keys_command.main(["--table", table, "list"])
    listed = json.loads(capsys.readouterr().out)

    assert created["api_key"].startswith(f"emk_{created['key_id']}_")
    assert [(key["name"], key["scopes"], key["revoked_at"] is not None) for key in listed] == [
        ("ops", ["admin", "read"], True)
    ]
    assert "api_key" not in listed[0]
    if backend.name == "dynalite":
        backend.client.delete_table(TableName=table)


def test_command_attaches_a_new_key_to_the_usage_plan(moto_backend: Backend, capsys, monkeypatch):
    monkeypatch.setattr(api_keys_command, "client_for", lambda _endpoint: moto_backend.client)
    apigateway = boto3.client("apigateway", region_name="us-east-1")
    plan = apigateway.create_usage_plan(name="energy-metrics-api-prod")

    api_keys_command.main(
        [
            "--table",
            moto_backend.api_keys_table,
            "create",
            "--name",
            "dash",
            "--scopes",
            "read",
            "--sites",
            "*",
            "--usage-plan-id",
            plan["id"],
        ]
    )
    created = json.loads(capsys.readouterr().out)

    (attached,) = apigateway.get_usage_plan_keys(usagePlanId=plan["id"])["items"]
    record = ApiKeyStore(moto_backend.client, moto_backend.api_keys_table).verify(created["api_key"])
    assert record is not None
    assert attached["name"] == f"energy-metrics-api-{created['key_id']}"
    assert attached["value"] == record.usage_key


def test_command_revoke_removes_the_gateway_key(moto_backend: Backend, capsys, monkeypatch):
    monkeypatch.setattr(api_keys_command, "client_for", lambda _endpoint: moto_backend.client)
    apigateway = boto3.client("apigateway", region_name="us-east-1")
    plan = apigateway.create_usage_plan(name="energy-metrics-api-prod")
    table = ["--table", moto_backend.api_keys_table]
    api_keys_command.main(
        [*table, "create", "--name", "dash", "--scopes", "read", "--sites", "*", "--usage-plan-id", plan["id"]]
    )
    created = json.loads(capsys.readouterr().out)

    api_keys_command.main([*table, "revoke", created["key_id"], "--usage-plan-id", plan["id"]])

    assert apigateway.get_api_keys()["items"] == []


def test_command_revokes_a_key_it_could_not_attach(moto_backend: Backend, capsys, monkeypatch):
    monkeypatch.setattr(api_keys_command, "client_for", lambda _endpoint: moto_backend.client)
    monkeypatch.setattr(api_keys_command, "attach_to_usage_plan", _no_such_usage_plan)
    table = ["--table", moto_backend.api_keys_table]

    status = api_keys_command.main(
        [*table, "create", "--name", "dash", "--scopes", "read", "--sites", "*", "--usage-plan-id", "missing"]
    )

    assert status == 1
    assert "could not attach the key to usage plan missing" in capsys.readouterr().err
    (record,) = ApiKeyStore(moto_backend.client, moto_backend.api_keys_table).list()
    assert record.revoked_at is not None


def _no_such_usage_plan(*_: object, **__: object) -> None:
    raise ClientError(
        {"Error": {"Code": "NotFoundException", "Message": "Invalid Usage Plan ID"}}, "CreateUsagePlanKey"
    )


def test_attaching_deletes_the_gateway_key_when_the_plan_refuses_it(moto_backend: Backend):
    # moto accepts any usage plan id, so the refusal API Gateway gives an unknown plan is injected.
    apigateway = boto3.client("apigateway", region_name="us-east-1")
    apigateway.meta.events.register("before-call.apigateway.CreateUsagePlanKey", _no_such_usage_plan)
    _, record = ApiKeyStore(moto_backend.client, moto_backend.api_keys_table).create("dash", {"read"}, {"*"})

    with pytest.raises(ClientError, match="Invalid Usage Plan ID"):
        api_keys_command.attach_to_usage_plan(apigateway, "missing", record)

    assert apigateway.get_api_keys()["items"] == []
