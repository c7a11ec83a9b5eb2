"""API keys: random, shown once, stored only as a hash, with scopes and the sites they may see.

A key reads ``emk_<key_id>_<secret>``: the public ``key_id`` finds the record with one GetItem,
and only the SHA-256 of the whole key is stored (a 256-bit random secret needs no slow hash).
Keys live in one registry partition, so listing them is a Query, as for sites.

Each key also gets a ``usage_key``: the value of the API Gateway API key that meters it in the
usage plan. The authorizer hands it to API Gateway, so clients only ever send ``Authorization``;
it is not a credential (the API takes usage keys from the authorizer, never from a header).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from chalicelib.queries import SITE_ID_PATTERN
from chalicelib.store import query_pages, translate_errors
from chalicelib.timestamps import format_instant

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

Scope = Literal["read", "write", "admin"]
SCOPES: tuple[Scope, ...] = ("read", "write", "admin")
ALL_SITES = "*"
REGISTRY_PARTITION = "api-keys"
_KEY_FORMAT = re.compile(r"emk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    name: str
    scopes: frozenset[str]
    sites: frozenset[str]  # {"*"} means every site
    created_at: str
    revoked_at: str | None = None
    usage_key: str | None = None

    def may_see(self, site_id: str) -> bool:
        return ALL_SITES in self.sites or site_id in self.sites

    def to_json(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "name": self.name,
            "scopes": sorted(self.scopes),
            "sites": sorted(self.sites),
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
        }


def _digest(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


class ApiKeyStore:
    def __init__(self, client: DynamoDBClient, table_name: str, retry_after_seconds: int = 2) -> None:
        self._client = client
        self.table_name = table_name
        self._retry_after_seconds = retry_after_seconds

    def create(self, name: str, scopes: set[str], sites: set[str]) -> tuple[str, ApiKey]:
        """A new key: the plaintext is returned here once and never stored."""
        scopes = _checked_scopes(scopes)
        sites = _checked_sites(sites)
        key_id = secrets.token_hex(6)
        usage_key = secrets.token_urlsafe(24)
        plaintext = f"emk_{key_id}_{secrets.token_urlsafe(32)}"
        record = ApiKey(
            key_id,
            name,
            frozenset(scopes),
            frozenset(sites),
            format_instant(datetime.now(UTC)),
            usage_key=usage_key,
        )
        with translate_errors(self._retry_after_seconds):
            self._client.put_item(
                TableName=self.table_name,
                Item={
                    **self._key(key_id),
                    "secret_sha256": {"S": _digest(plaintext)},
                    "name": {"S": name},
                    "scopes": {"SS": sorted(scopes)},
                    "sites": {"SS": sorted(sites)},
                    "created_at": {"S": record.created_at},
                    "usage_key": {"S": usage_key},
                },
                ConditionExpression="attribute_not_exists(key_id)",
            )
        return plaintext, record

    def verify(self, plaintext: str) -> ApiKey | None:
        """The key's record if the plaintext is a live key; ``None`` says nothing about why."""
        match = _KEY_FORMAT.fullmatch(plaintext)
        if match is None:
            return None
        with translate_errors(self._retry_after_seconds):
            # Strongly consistent, so a revocation applies as soon as the authorizer's cache expires.
            item = self._client.get_item(
                TableName=self.table_name, Key=self._key(match.group(1)), ConsistentRead=True
            ).get("Item")
        if item is None or not hmac.compare_digest(item["secret_sha256"]["S"], _digest(plaintext)):
            return None
        record = _record(item)
        return None if record.revoked_at is not None else record

    def list(self) -> list[ApiKey]:
        arguments: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "#registry = :registry",
            "ExpressionAttributeNames": {"#registry": "registry"},
            "ExpressionAttributeValues": {":registry": {"S": REGISTRY_PARTITION}},
        }
        return [
            _record(item)
            for page in query_pages(self._client, arguments, self._retry_after_seconds)
            for item in page.get("Items", [])
        ]

    def revoke(self, key_id: str) -> bool:
        """Mark a key revoked; ``False`` if there is no such key (revoking twice keeps the first time)."""
        try:
            with translate_errors(self._retry_after_seconds):
                self._client.update_item(
                    TableName=self.table_name,
                    Key=self._key(key_id),
                    UpdateExpression="SET revoked_at = if_not_exists(revoked_at, :now)",
                    ConditionExpression="attribute_exists(key_id)",
                    ExpressionAttributeValues={":now": {"S": format_instant(datetime.now(UTC))}},
                )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    @staticmethod
    def _key(key_id: str) -> dict[str, Any]:
        return {"registry": {"S": REGISTRY_PARTITION}, "key_id": {"S": key_id}}


def _checked_scopes(scopes: set[str]) -> set[str]:
    stripped = {scope.strip() for scope in scopes}
    if not stripped or "" in stripped or not stripped <= set(SCOPES):
        raise ValueError(f"scopes must be a non-empty subset of {', '.join(SCOPES)}, with no empty entries")
    return stripped


def _checked_sites(sites: set[str]) -> set[str]:
    stripped = {site.strip() for site in sites}
    if not stripped or "" in stripped:
        raise ValueError("sites must name at least one site, or '*' for all, with no empty entries")
    if ALL_SITES in stripped and len(stripped) > 1:
        raise ValueError("sites must be either '*' alone or named sites, not both")
    invalid = sorted(site for site in stripped - {ALL_SITES} if re.fullmatch(SITE_ID_PATTERN, site) is None)
    if invalid:
        raise ValueError(f"sites are not valid site ids: {', '.join(invalid)}")
    return stripped


def _record(item: dict[str, Any]) -> ApiKey:
    return ApiKey(
        key_id=item["key_id"]["S"],
        name=item["name"]["S"],
        scopes=frozenset(item["scopes"]["SS"]),
        sites=frozenset(item["sites"]["SS"]),
        created_at=item["created_at"]["S"],
        revoked_at=item.get("revoked_at", {}).get("S"),
        usage_key=item.get("usage_key", {}).get("S"),
    )
