"""Create, list and revoke API keys (``make api-key ARGS="create --name dashboard --scopes read --sites '*'"``).

The plaintext key is printed once, at creation, and never stored. Against AWS, run it with
your usual credentials and without ``--endpoint-url``, and give ``--usage-plan-id`` (the
stack's ``UsagePlanId`` output, or ``USAGE_PLAN_ID``): the key's usage key is then registered
in API Gateway and attached to the plan, which API Gateway requires before it serves the key.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.api_keys import SCOPES, ApiKey, ApiKeyStore
from chalicelib.settings import SERVICE_NAME
from chalicelib.tables import API_KEYS_TABLE, ensure_table
from scripts.local_dynamodb import client_for


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--table", default="EnergyMetricsApiKeys")
    parser.add_argument("--endpoint-url", default=None, help="e.g. http://127.0.0.1:4567 for the local server")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="create a key and print it once")
    create.add_argument("--name", required=True)
    create.add_argument("--scopes", required=True, help=f"comma-separated: {', '.join(SCOPES)}")
    create.add_argument("--sites", required=True, help="comma-separated site ids, or '*' for all")
    create.add_argument("--usage-plan-id", default=os.environ.get("USAGE_PLAN_ID"), help="API Gateway usage plan")
    commands.add_parser("list", help="list keys (never their secrets)")
    revoke = commands.add_parser("revoke", help="revoke a key by its key_id")
    revoke.add_argument("key_id")
    revoke.add_argument("--usage-plan-id", default=os.environ.get("USAGE_PLAN_ID"), help="API Gateway usage plan")
    arguments = parser.parse_args(argv)

    client = client_for(arguments.endpoint_url)
    ensure_table(client, arguments.table, API_KEYS_TABLE)
    store = ApiKeyStore(client, arguments.table)
    if arguments.command == "create":
        try:
            plaintext, record = store.create(arguments.name, _entries(arguments.scopes), _entries(arguments.sites))
        except ValueError as error:
            print(error, file=sys.stderr)
            return 2
        if arguments.usage_plan_id:
            try:
                attach_to_usage_plan(boto3.client("apigateway"), arguments.usage_plan_id, record)
            except (BotoCoreError, ClientError) as error:
                store.revoke(record.key_id)  # API Gateway would refuse it anyway; leave nothing half-made
                print(f"could not attach the key to usage plan {arguments.usage_plan_id}: {error}", file=sys.stderr)
                return 1
        print(json.dumps({**record.to_json(), "api_key": plaintext}, indent=2))
        print("Store the api_key now: it is not shown again.", file=sys.stderr)
        return 0
    if arguments.command == "list":
        print(json.dumps([record.to_json() for record in store.list()], indent=2))
        return 0
    if not store.revoke(arguments.key_id):
        print(f"no key {arguments.key_id}", file=sys.stderr)
        return 1
    if arguments.usage_plan_id:
        detach_from_api_gateway(boto3.client("apigateway"), arguments.key_id)
    print(f"revoked {arguments.key_id}")
    return 0


def _entries(comma_separated: str) -> set[str]:
    """Each comma-separated entry, stripped; empty ones are kept, for ``create`` to refuse."""
    return {entry.strip() for entry in comma_separated.split(",")}


def gateway_key_name(key_id: str) -> str:
    return f"{SERVICE_NAME}-{key_id}"


def attach_to_usage_plan(apigateway: Any, usage_plan_id: str, record: ApiKey) -> None:
    """Register the key's usage key in API Gateway and put it on the plan (its limits apply).

    If the plan refuses it, the new API Gateway key is deleted again before the error propagates.
    """
    created = apigateway.create_api_key(name=gateway_key_name(record.key_id), value=record.usage_key, enabled=True)
    try:
        apigateway.create_usage_plan_key(usagePlanId=usage_plan_id, keyId=created["id"], keyType="API_KEY")
    except Exception:
        apigateway.delete_api_key(apiKey=created["id"])
        raise


def detach_from_api_gateway(apigateway: Any, key_id: str) -> None:
    """Delete the key's API Gateway key too; the authorizer already refuses it, this tidies up."""
    for gateway_key in apigateway.get_api_keys(nameQuery=gateway_key_name(key_id)).get("items", []):
        if gateway_key["name"] == gateway_key_name(key_id):
            apigateway.delete_api_key(apiKey=gateway_key["id"])


if __name__ == "__main__":
    sys.exit(main())
